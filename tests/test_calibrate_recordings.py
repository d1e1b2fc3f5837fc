"""Calibration with two models, ``calibrate --from`` take checks, and the records of a run
(``--save-utterances`` index lines, ``predict --profile`` columns), on corpus files.

Each test names the defect it guards against; every one failed on the code before its fix.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from ser_live.audiofile import load_audio, write_wav
from ser_live.cli import main
from ser_live.profile import load_profile, profile_path

from .test_calibrate import CODES, _csv, _take, _takes_wav, profiles  # noqa: F401 (fixture)

#: RAVDESS emotion codes of the 7-class model's labels (strong intensity where it exists).
CODES7 = {**CODES, "fearful": "06-02", "disgust": "07-02", "surprised": "08-02"}


def _take7(ravdess: Path, actor: int, label: str) -> Path:
    return ravdess / f"Actor_{actor:02d}" / f"03-01-{CODES7[label]}-01-01-{actor:02d}.flac"


def _default_csv(ravdess: Path, tmp_path: Path, actor: int = 9) -> Path:
    return _csv(tmp_path / f"takes{actor}.csv", [(str(_take(ravdess, actor, lab)), lab) for lab in CODES])


def _seven_csv(ravdess: Path, tmp_path: Path, actor: int = 10) -> Path:
    return _csv(tmp_path / "seven.csv", [(str(_take7(ravdess, actor, lab)), lab) for lab in CODES7])


def _suggested(err: str) -> list[str]:
    """The arguments of the ``ser-live calibrate ...`` command a refusal suggests."""
    m = re.search(r"`(ser-live calibrate [^`]*)`", err)
    assert m, err
    return shlex.split(m.group(1))[1:]


# ---------------------------------------------------------------------------- 1. index = --jsonl
def test_index_lines_have_the_keys_and_values_of_the_jsonl_lines(ravdess_root, tmp_path, profiles, capsys):
    """Item 1: an index line lacked ``uncertain`` (and ``profile``, and with --partial ``final``)."""
    assert main(["calibrate", "--profile", "ida", "--from", str(_default_csv(ravdess_root, tmp_path))]) == 0
    wav = _takes_wav(ravdess_root, tmp_path, short_first=False)
    out, saved = tmp_path / "out.jsonl", tmp_path / "rec"
    # a rule that is not the default, so that "uncertain" must come from the run's rule
    code = main(["--input", str(wav), "--speed", "0", "--plain", "--profile", "ida", "--partial",
                 "--uncertain-below", "0.7", "--jsonl", str(out), "--save-utterances", str(saved)])
    assert code == 0, capsys.readouterr().err
    finals = {r["index"]: r for r in map(json.loads, out.read_text().splitlines()) if r["final"]}
    index = [json.loads(line) for line in (saved / "index.jsonl").read_text().splitlines()]
    assert len(index) == len(finals) >= 4
    for line in index:
        assert line.pop("wav").endswith(".wav") and line.pop("source") == wav.name
        assert line == finals[line["index"]]
    assert {r["profile"] for r in index} == {"ida"}


# ---------------------------------------------------------------------------- 2. predict --profile CSV
def test_predict_with_a_profile_writes_a_profile_column(ravdess_root, tmp_path, profiles, capsys):
    """Item 2: ``predict --profile NAME --output p.csv`` had no ``profile`` column."""
    from ser_live.model import EmotionModel

    assert main(["calibrate", "--profile", "ida", "--from", str(_default_csv(ravdess_root, tmp_path))]) == 0
    files = [str(_take(ravdess_root, 9, lab, 2)) for lab in ("sad", "angry")]
    labels = EmotionModel.load().labels
    columns = ["path", "label", "confidence", *(f"prob_{lab}" for lab in labels), "arousal", "valence",
               "uncertain", "profile", "error"]
    assert main(["predict", "--profile", "ida", *files, "--output", str(tmp_path / "p.csv")]) == 0
    with open(tmp_path / "p.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == columns and [r[columns.index("profile")] for r in rows[1:]] == ["ida", "ida"]
    assert main(["predict", "--profile", "ida", *files, "--output", str(tmp_path / "p.jsonl")]) == 0
    first = json.loads((tmp_path / "p.jsonl").read_text().splitlines()[0])
    assert [k for k in first if k in columns] == [c for c in columns if not c.startswith("prob_")]  # same order
    pq = pytest.importorskip("pyarrow.parquet")
    assert main(["predict", "--profile", "ida", *files, "--output", str(tmp_path / "p.parquet")]) == 0
    table = pq.read_table(tmp_path / "p.parquet")
    assert table.schema.names == columns and table.column("profile").to_pylist() == ["ida", "ida"]


# ---------------------------------------------------------------------------- 3. two models
def test_a_profile_for_another_model_says_how_to_use_it_and_how_not_to_overwrite_it(ravdess_root, tmp_path,
                                                                                      profiles, capsys):
    """Item 3: the "use it with" hint left out ``--model 7class`` and did not quote a name with a
    space; the refusal suggested overwriting the 7-class profile; "replacing" came after the
    takes."""
    name = "anna bob"
    assert main(["calibrate", "--profile", name, "--model", "7class", "--from",
                 str(_seven_csv(ravdess_root, tmp_path))]) == 0
    hint = capsys.readouterr().out.splitlines()[-1]
    assert hint == "use it with: ser-live --profile 'anna bob' --model 7class", hint
    wav = str(_take(ravdess_root, 10, "sad", 2))
    assert main([*shlex.split(hint.split(": ", 1)[1])[1:], "--input", wav, "--speed", "0", "--plain"]) == 0
    capsys.readouterr()

    # the default model refuses it and suggests a profile file of its own
    assert main(["--profile", name, "--input", wav, "--speed", "0", "--plain"]) == 2
    args = _suggested(capsys.readouterr().err)
    assert args[args.index("--model") + 1] == "default"
    other = args[args.index("--profile") + 1]
    assert profile_path(other) != profile_path(name) and not profile_path(other).exists()

    # calibrating over it warns before the first take (this run ends early: nothing replaced)
    takes = _takes_wav(ravdess_root, tmp_path, short_first=False)
    assert main(["calibrate", "--profile", name, "--per-class", "2", "--input", str(takes), "--speed", "0",
                 "--plain"]) == 2
    err = capsys.readouterr().err
    assert f"{profile_path(name)}" in err and "ser-7class" in err and "replace" in err, err
    assert load_profile(profile_path(name)).model_name == "ser-7class"


def test_a_profile_path_is_suggested_as_a_path_and_tilde_is_home(ravdess_root, tmp_path, home_and_work, profiles,
                                                                 capsys):
    """Item 3: for ``--profile ./rel.npz`` the refusal suggested the bare name ``rel`` (another
    file, in the profiles folder); ``--profile ~/prof`` was written to ``./~/prof``."""
    home, cwd = home_and_work
    seven = _seven_csv(ravdess_root, tmp_path)
    assert main(["calibrate", "--profile", "./rel.npz", "--model", "7class", "--from", str(seven)]) == 0
    hint = shlex.split(capsys.readouterr().out.splitlines()[-1].split(": ", 1)[1])
    assert hint[-2:] == ["--model", "7class"] and profile_path(hint[2]).resolve() == cwd / "rel.npz", hint
    wav = str(_take(ravdess_root, 10, "sad", 2))
    assert main(["predict", "--profile", "./rel.npz", wav]) == 2
    args = _suggested(capsys.readouterr().err)
    other = profile_path(args[args.index("--profile") + 1])
    assert other.resolve().parent == cwd and other.name != "rel.npz"

    assert main(["calibrate", "--profile", "~/prof.npz", "--from", str(_default_csv(ravdess_root, tmp_path))]) == 0
    assert (home / "prof.npz").is_file() and not (cwd / "~").exists()
    assert main(["predict", "--profile", "~/prof.npz", wav]) == 0


# ---------------------------------------------------------------------------- 4. --from take checks
def test_from_csv_applies_the_guided_take_checks(ravdess_root, tmp_path, profiles, capsys):
    """Item 4: a clipped take was used; a 0.3 s take and a very quiet one were only "no
    speech detected" (and stopped the run)."""
    rows = [(str(_take(ravdess_root, 11, lab, s)), lab) for lab in CODES for s in (1, 2)]
    y = load_audio(_take(ravdess_root, 11, "happy", 1, 2))
    mid = len(y) // 2
    bad = {
        "clipped.wav": (np.clip(y * 30, -1, 1), "happy", "clipped ("),
        "short.wav": (y[mid - 2400:mid + 2400], "sad", "too short ("),
        "quiet.wav": (y * 10 ** (-45 / 20), "angry", "too quiet ("),
    }
    for fname, (x, lab, _) in bad.items():
        rows.append((str(write_wav(tmp_path / fname, x)), lab))
    assert main(["calibrate", "--profile", "jo", "--from", str(_csv(tmp_path / "t.csv", rows))]) == 0
    out = capsys.readouterr().out
    for fname, (_, lab, reason) in bad.items():
        assert re.search(rf"take \d+/11 \({lab}, [\d.]+ s\) left out: {re.escape(reason)}", out), (fname, out)
    assert load_profile(profiles / "jo.npz").counts == {lab: 2 for lab in CODES}

    # a label left with no good take: the usual "too few" refusal, naming the take left out
    rows = [r for r in rows[:8] if r[1] != "happy"] + [(str(tmp_path / "clipped.wav"), "happy")]
    assert main(["calibrate", "--profile", "kay", "--from", str(_csv(tmp_path / "u.csv", rows))]) == 2
    err = capsys.readouterr().err
    assert "clipped.wav (clipped (" in err and "short: happy (0)" in err and "nothing written" in err, err
    assert not (profiles / "kay.npz").exists()


# ---------------------------------------------------------------------------- 5. recordings folder
def test_a_torn_index_line_is_ended_before_the_next_run_appends(ravdess_root, tmp_path, capsys):
    """Item 5: the next run's first line was glued onto a torn last line."""
    saved = tmp_path / "rec"
    saved.mkdir()
    whole, torn = '{"index": 0, "label": "sad"}\n', '{"index": 1, "label": "ha'
    (saved / "index.jsonl").write_text(whole + torn)
    wav = _takes_wav(ravdess_root, tmp_path, short_first=False)
    assert main(["--input", str(wav), "--speed", "0", "--plain", "--save-utterances", str(saved)]) == 0
    err = capsys.readouterr().err
    lines = (saved / "index.jsonl").read_text().splitlines()
    assert lines[:2] == [whole.strip(), torn]
    new = [json.loads(line) for line in lines[2:]]
    assert len(new) == len(list(saved.glob("*.wav"))) >= 4
    assert err.count("partial line") == 1 and str(saved / "index.jsonl") in err, err


def test_save_utterances_into_a_file_is_a_usage_error(ravdess_root, tmp_path, capsys):
    """Item 5: ``--save-utterances afile`` said only "afile: File exists", exit 1."""
    afile = tmp_path / "afile"
    afile.write_text("mine\n")
    wav = str(_take(ravdess_root, 9, "sad"))
    assert main(["--input", wav, "--speed", "0", "--plain", "--save-utterances", str(afile)]) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and "folder" in err, err
    assert afile.read_text() == "mine\n"


# ---------------------------------------------------------------------------- 6. heard as
def test_calibration_says_how_the_model_heard_each_take(ravdess_root, tmp_path, profiles, capsys):
    """Item 6: each accepted take says what the model heard (no profile), and the end says how
    many takes read as their labels with the profile and without it."""
    wav = _takes_wav(ravdess_root, tmp_path, short_first=False)
    for argv in (["--per-class", "1", "--input", str(wav), "--speed", "0", "--plain"],
                 ["--from", str(_default_csv(ravdess_root, tmp_path, actor=8))]):
        assert main(["calibrate", "--profile", "lu", *argv]) == 0
        out = capsys.readouterr().out
        heard = re.findall(r"take \d/4 \((\w+), [\d.]+ s\) accepted: heard as (\w+) (0\.\d\d|1\.00)", out)
        assert [lab for lab, _, _ in heard] == list(CODES) and all(h in CODES for _, h, _ in heard), out
        m = re.search(r"(\d) of 4 takes read as their labels with the profile, (\d) without it "
                      r"\(on the takes themselves, not a held-out score\)", out)
        assert m, out
        assert int(m.group(2)) == sum(lab == h for lab, h, _ in heard)

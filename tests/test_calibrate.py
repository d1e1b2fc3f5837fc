"""``ser-live calibrate`` and ``--profile`` through the command line (issue 11), on corpus files.

The microphone run (takes answered by utterances played into a PulseAudio null sink) is in
``tests/test_calibrate_microphone.py``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_live.audiofile import write_wav
from ser_live.cli import main
from ser_live.model import EmotionModel
from ser_live.profile import load_profile

REPO_ROOT = Path(__file__).resolve().parents[1]
#: RAVDESS emotion codes of the default model's labels (strong intensity where it exists).
CODES = {"neutral": "01-01", "happy": "03-02", "sad": "04-02", "angry": "05-02"}


def _take(ravdess: Path, actor: int, label: str, statement: int = 1, rep: int = 1) -> Path:
    return ravdess / f"Actor_{actor:02d}" / f"03-01-{CODES[label]}-{statement:02d}-{rep:02d}-{actor:02d}.flac"


def _csv(path: Path, rows: list[tuple[str, str]], header: str = "path,label", bom: bool = False) -> Path:
    text = header + "\n" + "".join(f"{p},{lab}\n" for p, lab in rows)
    path.write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    return path


@pytest.fixture()
def profiles(tmp_path, monkeypatch) -> Path:
    """Bare profile names go to a temporary folder."""
    folder = tmp_path / "profiles"
    monkeypatch.setenv("SER_LIVE_PROFILES", str(folder))
    return folder


def test_from_csv_writes_a_profile_that_predict_uses(ravdess_root, tmp_path, profiles, capsys):
    """Two takes per label of one actor (relative paths, a BOM) make a profile under the bare
    name; `predict --profile` then adds the profile to each record and changes the
    probabilities."""
    actor = ravdess_root / "Actor_05"
    rows = [(f"../{_take(ravdess_root, 5, lab, s).relative_to(ravdess_root)}", lab)
            for lab in CODES for s in (1, 2)]
    (tmp_path / "lists").mkdir()
    csv_path = _csv(tmp_path / "lists" / "takes.csv", rows, bom=True)
    # relative to the CSV's folder: lists/../Actor_05/... -> make that folder point at RAVDESS
    os.symlink(actor, tmp_path / "Actor_05")
    assert main(["calibrate", "--profile", "eve", "--from", str(csv_path)]) == 0
    out = capsys.readouterr().out
    path = profiles / "eve.npz"
    assert f"written to {path}" in out and "8 utterances" in out
    prof = load_profile(path, model=EmotionModel.load())
    assert prof.counts == {lab: 2 for lab in CODES} and prof.name == "eve"

    test_file = str(_take(ravdess_root, 5, "angry", 2, 2))
    assert main(["predict", test_file]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(["predict", "--profile", "eve", test_file]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["profile"] == "eve" and "profile" not in plain
    assert rec["probabilities"] != plain["probabilities"]


@pytest.mark.parametrize(
    "kind, match",
    [
        ("missing", r"1 missing file\(s\): nope\.flac"),
        ("unknown", r"1 unknown label\(s\): 'furious' \(line 6\)"),
        ("too few", r"every label needs at least 1; short: sad \(0\)"),
        ("header", r"the header must be `path,label`, got file,emotion"),
        ("empty", r"no rows after the header"),
        ("no speech", r"1 take\(s\) left out: silence\.wav \(too quiet \(-120 dBFS.*; short: sad \(0\)"),
    ],
)
def test_bad_csv_is_refused_with_exit_2_and_nothing_written(ravdess_root, tmp_path, profiles, capsys, kind, match):
    rows = [(str(_take(ravdess_root, 6, lab)), lab) for lab in CODES]
    header = "path,label"
    if kind == "missing":
        rows[1] = ("nope.flac", "happy")
    elif kind == "unknown":
        rows.append((str(_take(ravdess_root, 6, "angry", 2)), "furious"))
    elif kind == "too few":
        rows = [r for r in rows if r[1] != "sad"]
    elif kind == "header":
        header = "file,emotion"
    elif kind == "empty":
        rows = []
    elif kind == "no speech":
        # the only sad take is silent: left out as a guided take would be, and then sad has none
        write_wav(tmp_path / "silence.wav", np.zeros(32000, np.int16), sample_rate_hz=16000)
        rows = [r for r in rows if r[1] != "sad"] + [(str(tmp_path / "silence.wav"), "sad")]
    csv_path = _csv(tmp_path / "takes.csv", rows, header=header)
    assert main(["calibrate", "--profile", "bad", "--from", str(csv_path)]) == 2
    err = capsys.readouterr().err
    assert "nothing written" in err or kind in ("header", "empty"), err
    import re

    assert re.search(match, err), err
    assert not profiles.exists() or not any(profiles.iterdir())


def test_profile_for_another_model_exits_2_naming_both(ravdess_root, tmp_path, profiles, capsys):
    rows = [(str(_take(ravdess_root, 7, lab)), lab) for lab in CODES]
    assert main(["calibrate", "--profile", "fay", "--from", str(_csv(tmp_path / "t.csv", rows))]) == 0
    capsys.readouterr()
    f = str(_take(ravdess_root, 7, "angry", 2))
    assert main(["predict", "--profile", "fay", "--model", "7class", f]) == 2
    err = capsys.readouterr().err
    assert "made for model 'ser-default'" in err and "not for 'ser-7class'" in err
    # a profile of its own for the other model, never over this one
    assert "ser-live calibrate --profile fay-7class --model 7class" in err and "NAME" not in err
    assert main(["--profile", "fay", "--model", "7class", "--input", f, "--speed", "0", "--plain"]) == 2
    assert main(["predict", "--profile", "nobody", f]) == 2
    assert "not found" in capsys.readouterr().err


def _takes_wav(ravdess_root: Path, tmp_path: Path, *, short_first: bool) -> Path:
    """Takes of actor 08 in prompt order (neutral, happy, sad, angry) with 1.5 s pauses,
    optionally after a 0.6 s piece of speech (a take too short to keep)."""
    from train.sessions import build_session, corpus_utterances

    takes = list(corpus_utterances([_take(ravdess_root, 8, lab) for lab in CODES], trim=False))
    short = [takes[1][20000:29600]] if short_first else []
    sess = build_session(short + takes, pauses_s=(1.5,), tail_s=1.5)
    return write_wav(tmp_path / "takes.wav", sess.samples, sample_rate_hz=16000)


def test_guided_calibration_from_a_replayed_recording_rejects_a_short_take(ravdess_root, tmp_path, profiles, capsys):
    """`calibrate --input` runs the takes through the live segmenter: the short piece is
    rejected with its reason and the prompt asked again; the four real takes fill the four
    prompts; the profile is then used by `ser-live --profile` on the same recording."""
    wav = _takes_wav(ravdess_root, tmp_path, short_first=True)
    code = main(["calibrate", "--profile", "gus", "--per-class", "1", "--input", str(wav), "--speed", "0"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("prompt 1/4 [neutral]: ")
    assert any("take rejected: too short" in ln and "prompt 1/4 [neutral]" in ln for ln in lines), out
    accepted = [ln for ln in lines if " accepted" in ln]
    assert [ln.split("(")[1].split(",")[0] for ln in accepted] == list(CODES)
    assert load_profile(profiles / "gus.npz").counts == {lab: 1 for lab in CODES}

    assert main(["--profile", "gus", "--input", str(wav), "--speed", "0", "--jsonl", "-"]) == 0
    cap = capsys.readouterr()
    records = [json.loads(ln) for ln in cap.out.splitlines()]
    assert len(records) >= 4 and all(r["profile"] == "gus" for r in records)
    assert "profile              gus (4 utt.)" in cap.err


def test_live_calibration_keeps_the_features_the_worker_extracted(ravdess_root, tmp_path, monkeypatch):
    """The library workflow (ser_live.calibrate.LiveCalibration) builds the profile from the
    features the recogniser's worker extracted for each take: every take's audio goes through
    the extractor once, and the kept row is that extraction."""
    from ser_live.audio import FileSource
    from ser_live.calibrate import LiveCalibration
    from ser_live.vad import VadConfig

    wav = _takes_wav(ravdess_root, tmp_path, short_first=False)
    model = EmotionModel.load()
    extract = model.extractor.extract
    seen: list[np.ndarray] = []
    monkeypatch.setattr(model.extractor, "extract", lambda y: seen.append(y) or extract(y))
    cal = LiveCalibration(model, FileSource(wav, speed=0), per_class=1, vad_config=VadConfig(),
                          source_name=wav.name, profile_path=tmp_path / "kim.npz")
    takes = []
    judge = cal.take
    monkeypatch.setattr(cal, "take", lambda r: (takes.append(r), judge(r)))
    cal.recognizer.start()
    try:
        cal.run(lambda event: None)
    finally:
        cal.recognizer.stop()
    assert cal.complete and len(takes) == len(cal.features) == len(CODES)
    for r, x in zip(takes, cal.features):
        assert sum(y is r.utterance.samples for y in seen) == 1
        np.testing.assert_array_equal(x, extract(r.utterance.samples))
    assert cal.profile(name="kim").counts == {lab: 1 for lab in CODES}


def test_a_recording_that_ends_too_early_writes_nothing(ravdess_root, tmp_path, profiles, capsys):
    wav = _takes_wav(ravdess_root, tmp_path, short_first=False)
    assert main(["calibrate", "--profile", "hal", "--per-class", "2", "--input", str(wav), "--speed", "0"]) == 2
    assert "ended after 4 of 8 takes" in capsys.readouterr().err
    assert not (profiles / "hal.npz").exists()


def test_calibrating_from_narrowband_audio_warns_of_it_once(ravdess_root, tmp_path, profiles, capsys):
    """`calibrate --input` of 8 kHz audio (a telephone recording) warns once, as `predict` and
    `--input` do, that its upper bands are empty; the same takes at 16 kHz do not."""
    import soxr

    wav = _takes_wav(ravdess_root, tmp_path, short_first=False)
    y, sr = sf.read(wav, dtype="float32")
    phone = tmp_path / "phone.wav"
    sf.write(phone, soxr.resample(y, sr, 8000), 8000)
    for path, warnings in ((phone, 1), (wav, 0)):
        main(["calibrate", "--profile", "hal", "--per-class", "2", "--input", str(path), "--speed", "0"])
        err = capsys.readouterr().err
        assert err.count("recorded at 8000 Hz") == warnings and "ended after 4 of 8 takes" in err, err


def test_ctrl_c_ends_calibration_within_2_s_and_writes_no_profile(ravdess_root, tmp_path):
    """SIGINT during a real-time replay (takes still to come): exit 130 within 2 s, no file."""
    wav = _takes_wav(ravdess_root, tmp_path, short_first=False)
    env = dict(os.environ, SER_LIVE_PROFILES=str(tmp_path / "profiles"), PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ser_live", "calibrate", "--profile", "ivy", "--per-class", "2", "--input", str(wav)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    first = proc.stdout.readline()  # the first prompt: the recogniser is running
    assert first.startswith("prompt 1/8"), (first, proc.stderr.read() if proc.poll() is not None else "")
    time.sleep(1.0)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 130, err
    assert elapsed < 2.0, elapsed
    assert "no profile written" in err
    assert not (tmp_path / "profiles").exists() or not any((tmp_path / "profiles").iterdir())


def test_screens_name_the_profile_and_show_the_prompt_and_progress():
    """The listening dashboard's header names the profile and its utterances; the calibration
    screen shows the emotion and sentence to say, the progress and a rejected take's reason."""
    from rich.console import Console

    from ser_live.calibration_view import CalibrationState, render_calibration
    from ser_live.dashboard import DashboardState, render_dashboard

    def text(renderable) -> str:
        console = Console(width=110, record=True, file=open(os.devnull, "w"))
        console.print(renderable)
        return console.export_text()

    labels = list(CODES)
    state = DashboardState(labels=labels, model_name="ser-default", source_name="mic", profile="anna (12 utt.)")
    assert "profile anna (12 utt.)" in text(render_dashboard(state))
    assert "profile" not in text(render_dashboard(DashboardState(labels=labels, model_name="m", source_name="mic")))

    cal = CalibrationState([(lab, "The door to the garden is open.") for lab in labels],
                           model_name="ser-default", source_name="mic", profile_path="/p/anna.npz")
    cal.accept(2.0)
    cal.accept(2.1)
    cal.accept(1.9)
    cal.reject("too quiet (-65 dBFS < -60 dBFS): speak up or move closer to the microphone")
    screen = text(render_calibration(cal))
    assert "Take 4 of 4: say, in an ANGRY voice:" in screen
    assert "“The door to the garden is open.”" in screen
    assert "3/4  (1 rejected)" in screen and "take rejected: too quiet (-65 dBFS" in screen


def test_guided_calibrate_without_a_microphone_points_to_from_csv(profiles, capsys, monkeypatch):
    import ser_live.audio as audio_mod

    monkeypatch.setattr(audio_mod, "list_input_devices", lambda: [])
    assert main(["calibrate", "--profile", "gus"]) == 6
    err = capsys.readouterr().err
    assert "no input device" in err and "ser-live calibrate --profile gus --from takes.csv" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not profiles.exists() or not any(profiles.iterdir())


def test_a_muted_input_is_said_while_a_prompt_waits(ravdess_root, tmp_path, profiles, capsys):
    """A muted microphone delivers exact zeros: calibration waited at its prompt and said
    nothing (``ser-live --plain`` says it on a ``!`` line; calibrate's screen showed only a
    flat level). Replayed here as 5 s of zeros before the takes: a ``!`` line says the input
    went silent (exact zeros, "muted microphone?") before the first take and another that it
    came back; the takes then complete the profile as before."""
    takes = sf.read(_takes_wav(ravdess_root, tmp_path, short_first=False), dtype="int16")[0]
    wav = write_wav(tmp_path / "muted.wav", np.concatenate([np.zeros(5 * 16000, np.int16), takes]),
                    sample_rate_hz=16000)
    code = main(["calibrate", "--profile", "mia", "--per-class", "1", "--input", str(wav), "--speed", "2", "--plain"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    first_take = next(i for i, ln in enumerate(lines) if ln.startswith("take "))
    events = [ln for ln in lines if ln.startswith("! ")]
    assert len(events) == 2, out
    assert "input silent" in events[0] and "exact zeros (muted microphone?)" in events[0], out
    assert "input back" in events[1], out
    assert lines.index(events[0]) < lines.index(events[1]) < first_take, out
    assert sum(" accepted" in ln for ln in lines) == 4 and (profiles / "mia.npz").exists()


@pytest.mark.parametrize("width", [40, 60, 80])
def test_calibration_screen_keeps_its_progress_and_level_texts_on_a_narrow_terminal(width):
    """The progress and level rows' bars give way on a narrow terminal, never their texts: at
    60 columns the fixed 30-cell bars cut "(1 rejected)" to "(1 rejecte…" and the VAD state
    off; at 40 the row names went too ("… ░░░ 3/4  (1 r…")."""
    from rich.console import Console

    from ser_live.calibration_view import CalibrationState, render_calibration
    from ser_live.types import RecognizerStatus

    cal = CalibrationState([(lab, "The door to the garden is open.") for lab in CODES],
                           model_name="ser-default", source_name="mic", profile_path="/p/anna.npz")
    for d in (2.0, 2.1, 1.9):
        cal.accept(d)
    cal.reject("too short")
    cal.set_status(RecognizerStatus(level_dbfs=-23.4, vad_state="speech"))
    console = Console(width=width, record=True, file=open(os.devnull, "w"), color_system=None)
    console.print(render_calibration(cal))
    screen = console.export_text()
    assert all(len(line) <= width for line in screen.splitlines()), screen
    assert re.search(r"│ progress [█░▏▎▍▌▋▊▉]{2,30} 3/4  \(1 rejected\)", screen), screen
    assert re.search(r"│ level +[█░▏▎▍▌▋▊▉]{2,30} +-23\.4 dBFS  VAD speech", screen), screen


def test_the_commands_printed_for_a_profile_named_with_a_leading_dash_run(ravdess_root, tmp_path, profiles, capsys):
    """``calibrate --profile=-anna`` (a name starting with ``-``) closed with ``use it with:
    ser-live --profile -anna``, which argparse refuses (``--profile: expected one argument``);
    so did the "not found; make one with" hint. Each printed command now runs as printed."""
    import shlex

    rows = [(str(_take(ravdess_root, 6, lab)), lab) for lab in CODES]
    csv_path = _csv(tmp_path / "takes.csv", rows)
    assert main(["predict", "--profile=-anna", str(rows[0][0])]) == 2
    hint = capsys.readouterr().err.split("make one with `")[1].split("`")[0]
    argv = shlex.split(hint)
    assert argv[:2] == ["ser-live", "calibrate"], hint
    assert main([*argv[1:], "--from", str(csv_path)]) == 0, capsys.readouterr().err
    use = capsys.readouterr().out.split("use it with: ")[1].strip()
    assert main(["predict", *shlex.split(use)[1:], str(rows[3][0])]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["profile"] == "-anna"
    assert (profiles / "-anna.npz").is_file()


def test_a_calibration_row_naming_a_folder_or_a_fifo_is_not_called_missing(ravdess_root, tmp_path, profiles, capsys):
    """A row naming a folder (``takes/angry`` instead of a file in it) or a FIFO was refused as
    ``1 missing file(s): takes/angry``, though the path is there: the user looks and finds it.
    The refusal now says they are not regular files; nothing is written, exit 2 as before."""
    rows = [(str(_take(ravdess_root, 6, lab)), lab) for lab in CODES]
    (tmp_path / "takes" / "angry").mkdir(parents=True)
    os.mkfifo(tmp_path / "pipe.wav")
    rows += [("takes/angry", "angry"), ("pipe.wav", "sad"), ("gone.wav", "sad")]
    assert main(["calibrate", "--profile", "anna", "--from", str(_csv(tmp_path / "takes.csv", rows))]) == 2
    err = capsys.readouterr().err
    assert "1 missing file(s): gone.wav" in err, err
    assert "2 path(s) that are not regular files (a folder, a FIFO, a device): takes/angry, pipe.wav" in err, err
    assert "nothing written" in err and not list(profiles.iterdir())


def test_calibrate_never_replaces_a_file_that_is_not_a_profile(ravdess_root, tmp_path, profiles, capsys):
    """``calibrate --profile ./takes.csv --from takes.csv`` (a slip of tab completion) replaced
    the user's list with the profile, after saying "a profile exists at ./takes.csv: this
    calibration will replace it"; a recording named as ``--profile`` went the same way. A file
    that is not a profile (and not a ``.npz``) is refused now, exit 2, before any take, left as
    it was; an earlier profile, even under another suffix, is still replaced."""
    import shutil

    rows = [(str(_take(ravdess_root, 6, lab)), lab) for lab in CODES]
    csv_path = _csv(tmp_path / "takes.csv", rows)
    listed = csv_path.read_bytes()
    assert main(["calibrate", "--profile", str(csv_path), "--from", str(csv_path)]) == 2
    err = capsys.readouterr().err
    assert f"cannot save the profile to {csv_path}: it exists and is not a ser-live profile" in err, err
    assert csv_path.read_bytes() == listed
    wav = shutil.copyfile(_take(ravdess_root, 6, "angry"), tmp_path / "talk.flac")
    audio = wav.read_bytes()
    assert main(["calibrate", "--profile", str(wav), "--input", str(wav), "--speed", "0", "--plain"]) == 2
    assert "is not a ser-live profile" in capsys.readouterr().err and wav.read_bytes() == audio
    mine = tmp_path / "anna.profile"  # a profile of one's own naming is replaced, said as before
    assert main(["calibrate", "--profile", str(mine), "--from", str(csv_path)]) == 0
    assert main(["calibrate", "--profile", str(mine), "--from", str(csv_path)]) == 0
    assert f"a profile exists at {mine} (made for model" in capsys.readouterr().err


def test_a_profile_serves_its_model_loaded_from_the_skops_file_or_its_arrays(ravdess_root, tmp_path, profiles,
                                                                             capsys):
    """A model is one ``.skops`` and the ``.npz`` of arrays exported from it (loaded in its
    place when it matches). A profile made with the default (``ser-default.skops``, its arrays
    loaded) was refused for ``--model ser-default.npz``, the same model, as "made for model
    'ser-default' ..., not for 'ser-default'": the fingerprint was the SHA-256 of whichever
    file was named. An arrays file is now known by the ``.skops`` it was exported from (its
    header's ``source_sha256``), so either way of naming the model takes the profile, and a
    profile made with the arrays file serves the ``.skops`` too."""
    from ser_live.model import MODELS_DIR

    rows = [(str(_take(ravdess_root, 6, lab)), lab) for lab in CODES]
    csv_path = _csv(tmp_path / "takes.csv", rows)
    test_file = str(_take(ravdess_root, 6, "angry", 2))
    skops, arrays = MODELS_DIR / "ser-default.skops", MODELS_DIR / "ser-default.npz"
    for made_with in (skops, arrays):
        assert main(["calibrate", "--profile", "anna", "--model", str(made_with), "--from", str(csv_path)]) == 0
        capsys.readouterr()
        for used_with in (skops, arrays, "default"):
            assert main(["predict", "--model", str(used_with), "--profile", "anna", test_file]) == 0, \
                capsys.readouterr().err
            assert json.loads(capsys.readouterr().out)["profile"] == "anna"


def test_a_takes_list_written_with_a_tilde_is_read_from_the_home_folder(ravdess_root, home_and_work, profiles,
                                                                        capsys):
    """``calibrate --from=~/takes.csv`` (the shell leaves a ``~`` after ``=`` as it is, and a
    quoted ``"~/takes.csv"`` too) looked for ``./~/takes.csv`` and was refused, though the list
    was in the home folder. The value is expanded as ``--profile``'s is."""
    home, work = home_and_work
    _csv(home / "takes.csv", [(str(_take(ravdess_root, 6, lab)), lab) for lab in CODES])
    assert main(["calibrate", "--profile", "anna", "--from=~/takes.csv"]) == 0, capsys.readouterr().err
    assert main(["calibrate", "--profile", "bea", "--from", "~/takes.csv"]) == 0, capsys.readouterr().err
    assert (profiles / "anna.npz").is_file() and (profiles / "bea.npz").is_file()

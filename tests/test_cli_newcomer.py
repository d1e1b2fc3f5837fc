"""What a newcomer meets first in ``ser-live`` (the newcomer audit): a missing Dask extra, a
file where the command goes, a mistyped option, ``listen`` in the usage, a path after
``--dask``, ``--speakers`` without ``--segments``, a model card passed as a model, the VAD
options' placeholders, a CSV list of paths without ``--dask``, the message of a result stream
that fails, and ``uncertain`` on ``predict`` records as on live ones.

Runs call :func:`ser_live.cli.main` in-process on real RAVDESS speech with the small test
model of ``test_pipeline``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from ser_live.audiofile import load_audio, write_wav
from ser_live.errors import ModelError

from .test_cli import _json_lines, run
from .test_pipeline import SESSION_FILES, model, session, test_model_path  # noqa: F401 (fixtures)


@pytest.fixture
def wav(ravdess_root: Path) -> Path:
    """One RAVDESS utterance (angry, strong)."""
    path = ravdess_root / SESSION_FILES[0]
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path


# ---------------------------------------------------------------------------- 1. the dask extra
def test_dask_without_the_extra_is_one_usage_line_naming_it(capsys, monkeypatch, wav, test_model_path):
    """`predict --dask` without dask installed: exit 2 and one line with the pip command (as
    .parquet without pyarrow), no traceback; the library raises DaskUnavailableError, an
    ImportError that `python -m train features --dask` can show."""
    monkeypatch.setitem(sys.modules, "dask", None)  # import dask -> ImportError, as when it is not installed
    monkeypatch.setitem(sys.modules, "distributed", None)
    rc, out, err = run(capsys, "predict", wav, "--dask", "--model", test_model_path)
    assert rc == 2 and out == ""
    assert err.strip().splitlines() == [err.strip()] and "pip install 'ser-live[dask]'" in err, err
    from ser_live.batch import DaskUnavailableError, dask_starmap

    with pytest.raises(DaskUnavailableError, match=r"pip install 'ser-live\[dask\]'") as info:
        list(dask_starmap(len, [("ab",)]))
    assert isinstance(info.value, ImportError) and info.value.exit_code == 2


def test_parquet_with_a_pyarrow_that_cannot_be_imported_is_one_usage_line(capsys, monkeypatch, wav, test_model_path, tmp_path):
    """pyarrow 26 installs on NumPy 1 (it declares no numpy requirement) and then refuses to
    import: `predict --output x.parquet` exits 2 with its reason, not a traceback (exit 1)."""
    import importlib.abc
    import importlib.util

    class BrokenPyarrow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path=None, target=None):
            return importlib.util.spec_from_loader(name, self) if name.split(".")[0] == "pyarrow" else None

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            raise ImportError("pyarrow requires NumPy 2.0 or newer, found 1.26.4")

    for name in [m for m in sys.modules if m.split(".")[0] == "pyarrow"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [BrokenPyarrow(), *sys.meta_path])
    out_path = tmp_path / "scores.parquet"
    rc, out, err = run(capsys, "predict", wav, "--model", test_model_path, "--output", out_path)
    assert rc == 2 and out == "" and not out_path.exists()
    assert err.strip() == ("ser-live: error: .parquet output needs pyarrow, which is installed but cannot be "
                           "imported: pyarrow requires NumPy 2.0 or newer, found 1.26.4"), err


# ---------------------------------------------------------------------------- 2. usage errors that help
def test_a_file_where_the_command_goes_names_the_commands_that_take_it(capsys, wav, ravdess_root):
    for value in ("talk.wav", str(wav)):
        rc, _, err = run(capsys, value)
        assert rc == 2 and "invalid choice" not in err, err
        assert f"to classify a file: ser-live predict {value}" in err
        assert f"to replay it as a microphone: ser-live --input {value}" in err
    folder = ravdess_root / "Actor_01"
    rc, _, err = run(capsys, "--plain", folder)
    assert rc == 2 and f"ser-live predict {folder}" in err and "--input" not in err.splitlines()[-1], err
    rc, _, err = run(capsys, "lisen")
    assert rc == 2 and "invalid choice: 'lisen'" in err and "did you mean listen?" in err, err


def test_an_unknown_option_is_named_with_the_closest_one(capsys, wav):
    rc, _, err = run(capsys, "--inptu", "talk.wav")
    assert rc == 2 and "unrecognized arguments: --inptu (did you mean --input?)" in err, err
    assert "talk.wav" not in err.splitlines()[-1]  # the option is the error, not the file after it
    rc, _, err = run(capsys, "predict", wav, "--segmnts")
    assert rc == 2 and "unrecognized arguments: --segmnts (did you mean --segments?)" in err, err
    rc, _, err = run(capsys, "--no-such-option")
    assert rc == 2 and "unrecognized arguments: --no-such-option" in err and "did you mean" not in err, err


def test_listen_is_in_the_usage_and_works_after_options(capsys, wav, test_model_path):
    """The usage line lists `listen` (the help says `ser-live listen ...` works), and it
    does, also after top-level options, with the same results as without it."""
    rc, out, _ = run(capsys, "--help")
    assert rc == 0 and "{listen,devices,predict,calibrate}" in out
    rc, out, _ = run(capsys, "listen", "--help")
    assert rc == 0 and "usage: ser-live listen" in out and "--input FILE" in out
    runs = []
    for argv in (["--speed", "0", "--input", wav], ["--speed", "0", "listen", "--input", wav],
                 ["listen", "--input", wav, "--speed", "0"]):
        rc, out, err = run(capsys, *argv, "--jsonl", "-", "--model", test_model_path)
        assert rc == 0, (argv, err)
        runs.append([{k: v for k, v in r.items() if k not in ("processing_ms", "end_of_speech_ms", "wall_time")}
                     for r in _json_lines(out)])
    assert len(runs[0]) == 1 and runs[0] == runs[1] == runs[2]


def test_chunk_files_without_dask_is_a_usage_error(capsys, ravdess_root, test_model_path):
    """``predict FILES --chunk-files 5`` (no --dask) was silently ignored: the option only
    sizes a Dask run's tasks. It is now a usage error naming --dask, before anything is
    classified."""
    wav = str(ravdess_root / "Actor_01" / "03-01-01-01-01-01-01.flac")
    rc, out, err = run(capsys, "predict", wav, "--chunk-files", "5", "--model", test_model_path)
    assert rc == 2 and "--chunk-files sizes the tasks of a Dask run: add --dask" in err and out == "", err
    rc, out, err = run(capsys, "predict", wav, "--model", test_model_path)
    assert rc == 0 and _json_lines(out)[0]["label"], err


# ---------------------------------------------------------------------------- 3. a path after --dask
def test_a_path_after_dask_is_an_input_and_an_address_stays_an_address(capsys, ravdess_root, tmp_path,
                                                                       test_model_path):
    pytest.importorskip("distributed", reason="the dask extra is not installed (pip install -e '.[dask]')")
    folder = str(ravdess_root / "Actor_01")
    # parsed with the folder as the input: the run gets as far as checking --chunk-files
    rc, out, err = run(capsys, "predict", "--dask", folder, "--chunk-files", "0", "--model", test_model_path)
    assert rc == 2 and "--chunk-files: chunk_files must be > 0" in err and "required" not in err, err
    from ser_live.cli import build_parser
    from ser_live.cli.predict import split_dask_input

    named_like_an_address = tmp_path / "host:8786"
    named_like_an_address.write_bytes((ravdess_root / SESSION_FILES[0]).read_bytes())
    parser = build_parser()
    for argv, dask, paths in (
        (["predict", "--dask", folder], "", [folder]),
        (["predict", "--dask", folder, "x.wav"], "", [folder, "x.wav"]),
        (["predict", "--dask", "tcp://127.0.0.1:8786", folder], "tcp://127.0.0.1:8786", [folder]),
        (["predict", "--dask", "127.0.0.1:8786", folder], "127.0.0.1:8786", [folder]),
        (["predict", folder, "--dask"], "", [folder]),
        (["predict", "--dask", str(named_like_an_address)], "", [str(named_like_an_address)]),
    ):
        args = parser.parse_args(split_dask_input(argv))
        assert (args.dask, args.paths) == (dask, paths), argv


# ---------------------------------------------------------------------------- 4. --speakers
def test_speakers_without_segments_is_a_usage_error(capsys, wav, test_model_path):
    rc, out, err = run(capsys, "predict", wav, "--speakers", "2", "--model", test_model_path)
    assert rc == 2 and out == "" and "--speakers 2 needs --segments" in err, err


# ---------------------------------------------------------------------------- 5. a model card as --model
def test_a_markdown_file_as_model_suggests_only_a_model_that_exists(tmp_path, test_model_path):
    from ser_live.model import EmotionModel

    readme = tmp_path / "README.md"
    readme.write_text("# notes\n")
    with pytest.raises(ModelError) as info:
        EmotionModel.load(readme)
    msg = str(info.value)
    assert "README.skops" not in msg and "not a model file" in msg and ".skops" in msg and ".npz" in msg
    from ser_live.model import shipped_model_names

    assert all(name in msg for name in shipped_model_names())
    shutil.copy(test_model_path, tmp_path / "mine.skops")
    (tmp_path / "mine.md").write_text("# model card\n")
    with pytest.raises(ModelError, match="model card, not a model: pass .*mine.skops"):
        EmotionModel.load(tmp_path / "mine.md")
    (tmp_path / "arrays.npz").write_bytes(b"")  # only an arrays file beside the recipe
    (tmp_path / "arrays.toml").write_text("base = 'default'\n")
    with pytest.raises(ModelError, match="training recipe, not a model: pass .*arrays.npz"):
        EmotionModel.load(tmp_path / "arrays.toml")


# ---------------------------------------------------------------------------- 6. VAD placeholders
def test_vad_options_have_short_placeholders(capsys):
    for argv in (["--help"], ["predict", "--help"]):
        rc, out, _ = run(capsys, *argv)
        assert rc == 0 and "VAD_" not in out
        for opt in ("--noise-percentile PCT", "--gate-margin-db DB", "--min-speech-dbfs DBFS",
                    "--vad-target-dbfs DBFS", "--max-vad-gain-db DB"):
            assert opt in out, (argv, opt)


# ---------------------------------------------------------------------------- 7. a CSV list without --dask
def test_predict_reads_a_csv_list_of_paths_without_dask(capsys, ravdess_root, test_model_path, tmp_path):
    files = [ravdess_root / rel for rel in SESSION_FILES[:2]]
    write_wav(tmp_path / "near.wav", load_audio(files[1]))  # relative to the CSV's folder
    listing = tmp_path / "list.csv"
    listing.write_text(f"path\n{files[0]}\nnear.wav\n", encoding="utf-8-sig")
    rc, out, err = run(capsys, "predict", listing, "--model", test_model_path)
    assert rc == 0, err
    got = _json_lines(out)
    assert [r["path"] for r in got] == [str(files[0]), str(tmp_path / "near.wav")]
    rc, out, err = run(capsys, "predict", files[0], tmp_path / "near.wav", "--model", test_model_path)
    assert rc == 0, err
    assert [r["probabilities"] for r in _json_lines(out)] == [r["probabilities"] for r in got]
    listing.write_text(f"session,path\ns1,{files[0]}\ns2\n")
    rc, out, err = run(capsys, "predict", listing, "--model", test_model_path)
    assert rc == 2 and out == "", err
    assert err.strip() == f"ser-live: error: CSV of paths {listing}, line 3: no path in column 2 (a short row)"


def test_a_csv_of_paths_that_lists_no_file_is_an_error_record_as_an_empty_folder(capsys, ravdess_root,
                                                                                   test_model_path, tmp_path):
    """A CSV of paths with no rows (empty, or a header alone: an export gone wrong) was
    silently nothing: ``done: 0 files``, exit 0. It is now what an empty folder is: an error
    record naming the CSV, exit 3, the other inputs classified."""
    wav = ravdess_root / SESSION_FILES[0]
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    (tmp_path / "header.csv").write_text("path\n", encoding="utf-8")
    for listing in ("empty.csv", "header.csv"):
        rc, out, err = run(capsys, "predict", tmp_path / listing, wav, "--model", test_model_path)
        got = _json_lines(out)
        assert rc == 3, err
        assert [r["path"] for r in got] == [str(tmp_path / listing), str(wav)]
        assert got[0]["label"] is None and "lists no files" in got[0]["error"], got[0]
        assert got[1]["label"] and got[1]["error"] is None
        assert "lists no files" in err


def test_segments_of_a_clip_too_short_for_an_utterance_say_so_not_silent(capsys, wav, test_model_path, tmp_path):
    """``predict --segments`` on a quarter second of speech said "no speech detected
    (silent or noise-only)", which sends a user looking for a muted recording. The message
    now names the shortest utterance and ``--min-utterance-s``, which does find it."""
    y = load_audio(wav)
    loud = int(np.argmax(np.abs(y)))
    clip = write_wav(tmp_path / "clip.wav", y[max(0, loud - 2000) : loud + 2000])  # 0.25 s of speech
    rc, out, err = run(capsys, "predict", clip, "--segments", "--model", test_model_path)
    assert rc == 4, err
    [rec] = _json_lines(out)
    assert rec["label"] is None and "silent or noise-only" not in rec["error"], rec
    assert "at least 0.5 s: silent, noise-only or too short" in rec["error"] and "--min-utterance-s" in rec["error"]
    rc, out, err = run(capsys, "predict", clip, "--segments", "--min-utterance-s", "0.1", "--model", test_model_path)
    assert rc == 0, err
    assert [r["error"] for r in _json_lines(out)] == [None] and _json_lines(out)[0]["label"]


# ---------------------------------------------------------------------------- 8. a result stream that fails
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_failed_result_stream_mentions_recordings_only_when_saving(capsys, wav, test_model_path, tmp_path):
    base = ["--input", wav, "--speed", "0", "--jsonl", "/dev/full", "--model", test_model_path]
    rc, _, err = run(capsys, *base)
    assert rc == 1 and "cannot write the results to /dev/full" in err, err
    assert "recordings" not in err
    rc, _, err = run(capsys, *base, "--save-utterances", tmp_path / "saved")
    assert rc == 1 and "(recordings are still saved)" in err, err
    assert len(list((tmp_path / "saved").glob("*.wav"))) == 1


# ---------------------------------------------------------------------------- 10. uncertain
def test_predict_records_carry_uncertain_as_live_lines_do(capsys, session, wav, model, test_model_path):
    """`predict` records carry "uncertain" by the rule live uses (the same options, the same
    value for the same utterance: `predict --segments` equals `--input FILE`); a failed
    file's record has it null, so every record has the same keys."""
    from ser_live.offline import Predictor
    from ser_live.types import UncertaintyRule

    path, _, _ = session
    rc, out, err = run(capsys, "--input", path, "--speed", "0", "--jsonl", "-", "--model", test_model_path)
    assert rc == 0, err
    live = _json_lines(out)
    rc, out, err = run(capsys, "predict", path, "--segments", "--model", test_model_path)
    assert rc == 0, err
    offline = _json_lines(out)
    assert len(offline) == len(live) == len(SESSION_FILES)
    assert [(r["label"], r["uncertain"]) for r in offline] == [(r["label"], r["uncertain"]) for r in live]
    rule = UncertaintyRule.for_labels(len(model.labels))
    rc, out, err = run(capsys, "predict", wav, path.parent / "missing.wav", "--model", test_model_path)
    good, bad = _json_lines(out)
    assert good["uncertain"] is rule.applies(Predictor(model).process_file(wav))
    assert bad["uncertain"] is None and list(good) == list(bad) and list(good)[-2:] == ["uncertain", "error"]
    for argv in (["predict", wav, "--uncertain-margin", "1"], ["--uncertain-margin", "1", "predict", wav]):
        rc, out, err = run(capsys, *argv, "--model", test_model_path)  # top - second <= 1: always uncertain
        assert rc == 0 and _json_lines(out)[0]["uncertain"] is True, (argv, err)

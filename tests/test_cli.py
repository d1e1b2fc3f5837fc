"""The ``ser-live`` command: listen on a replayed file (--plain, --jsonl, dashboard,
--save-utterances, interrupted), predict (whole file, --segments, folders, csv), devices,
the demo fallback without a microphone, bad input files and exit codes.

Most runs call :func:`ser_live.cli.main` in-process; the interrupt test runs the real
program in a subprocess and sends it SIGINT. The model is the small test model of
``test_pipeline`` (trained on RAVDESS with the current extractor).
"""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_live import __version__
from ser_live.audiofile import SAMPLE_RATE_HZ, load_audio, to_int16, write_wav
from ser_live.cli import DEMO_WAV, EXIT_INTERRUPTED, main
from ser_live.errors import AudioFileError, DeviceError, ModelError, NoSpeechError, PortAudioMissingError

from .test_pipeline import SESSION_FILES, model, session, test_model_path  # noqa: F401 (fixtures)

SR = SAMPLE_RATE_HZ
JSONL_KEYS = {"index", "start_s", "end_s", "duration_s", "label", "confidence", "probabilities", "arousal", "valence",
              "rolling", "rolling_arousal", "rolling_valence", "processing_ms", "end_of_speech_ms",
              "kind", "wall_time"}  # every listen record: its kind, and when it was written (wall clock)
REPO_ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """main(argv) in-process: (exit status, stdout, stderr)."""
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------------------- basics
def test_version(capsys):
    rc, out, _ = run(capsys, "--version")
    assert rc == 0 and out.strip() == f"ser-live {__version__}"


def test_help_explains_options_with_examples(capsys):
    rc, out, _ = run(capsys, "--help")
    assert rc == 0
    for opt in ("--input", "--device", "--speed", "--model", "--plain", "--jsonl", "--save-utterances",
                "--half-life-s", "--duration-s", "--hangover-ms", "--aggressiveness", "--max-utterance-s",
                "--version", "devices", "predict", "examples:", "exit codes"):
        assert opt in out, opt
    rc, out, _ = run(capsys, "predict", "--help")
    assert rc == 0 and "--segments" in out and "--format" in out and "examples:" in out


def test_python_m_ser_live_runs_the_cli():
    res = subprocess.run([sys.executable, "-m", "ser_live", "--version"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and __version__ in res.stdout


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--speed", "-1"], "must be >= 0"),
        (["--max-utterance-s", "0.1"], "max_utterance_s"),
        (["--input", "x.wav", "--device", "1"], "either --input FILE or --device"),
        (["--no-such-option"], "unrecognized arguments"),
    ],
)
def test_usage_errors_exit_2(capsys, argv, message):
    rc, _, err = run(capsys, *argv)
    assert rc == 2 and message in err


def test_model_errors_exit_with_model_error_code(capsys, session, tmp_path):
    path, _, _ = session
    rc, _, err = run(capsys, "--input", path, "--model", tmp_path / "missing.skops")
    assert rc == ModelError.exit_code and "not found" in err
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a model")
    rc, _, err = run(capsys, "predict", path, "--model", junk)
    assert rc == ModelError.exit_code and "junk.skops" in err


# ---------------------------------------------------------------------------- listen: outputs
def test_jsonl_stdout_has_exactly_the_ten_keys_and_summary_goes_to_stderr(capsys, session, test_model_path):
    path, _, _ = session
    rc, out, err = run(capsys, "--input", path, "--speed", "0", "--jsonl", "-", "--model", test_model_path)
    assert rc == 0, err
    records = _json_lines(out)  # stdout holds JSON lines only
    assert len(records) == len(SESSION_FILES)
    for i, r in enumerate(records):
        assert set(r) == JSONL_KEYS | {"uncertain"} and isinstance(r["uncertain"], bool)
        assert r["index"] == i and r["label"] in r["probabilities"] and set(r["rolling"]) == set(r["probabilities"])
        assert r["end_s"] > r["start_s"] and r["duration_s"] == pytest.approx(r["end_s"] - r["start_s"], abs=2e-3)
        assert r["processing_ms"] > 0 and r["end_of_speech_ms"] >= r["processing_ms"]
    assert "ser-live summary" in err
    for line in ("processing", "end of speech"):
        (row,) = [x for x in err.splitlines() if x.strip().startswith(line)]
        assert "p50" in row and "p95" in row and "max" in row
    assert f"utterances           {len(SESSION_FILES)}" in err
    assert "audio dropped" in err


def test_plain_lines_automatic_without_a_terminal_and_jsonl_file(capsys, session, test_model_path, tmp_path):
    path, _, _ = session
    jsonl = tmp_path / "out" / "live.jsonl"
    rc, out, err = run(capsys, "--input", path, "--speed", "0", "--jsonl", jsonl, "--model", test_model_path)
    assert rc == 0, err
    lines = out.splitlines()  # stdout is not a terminal here: plain lines
    records = _json_lines(jsonl.read_text())
    assert len(lines) == len(records) == len(SESSION_FILES)
    for line, r in zip(lines, records):
        assert ("uncertain" if r["uncertain"] else r["label"]) in line and f"#{r['index']}" in line
    # --plain with --jsonl -: JSON on stdout, plain lines on stderr.
    rc, out, err = run(capsys, "--input", path, "--speed", "0", "--jsonl", "-", "--plain", "--model", test_model_path)
    assert rc == 0
    assert [r["label"] for r in _json_lines(out)] == [r["label"] for r in records]
    assert sum(1 for x in err.splitlines() if x.startswith("#")) == len(records)


def test_uncertain_means_one_thing_in_jsonl_plain_and_summary(capsys, session, test_model_path):
    """--uncertain-below 0.6 (margin off): an utterance under 0.6 is "uncertain": true on its
    JSON line (every line has the key), "uncertain" and no label or confidence on its --plain
    line, and counted on the summary's own "uncertain" line, not under its label."""
    path, _, _ = session
    rc, out, err = run(capsys, "--input", path, "--speed", "0", "--jsonl", "-", "--plain", "--uncertain-below",
                       "0.6", "--uncertain-margin", "0", "--model", test_model_path)
    assert rc == 0, err
    records = _json_lines(out)
    assert all(r["uncertain"] == (r["confidence"] < 0.6) for r in records)
    n_unc = sum(r["uncertain"] for r in records)
    assert 0 < n_unc < len(records), [r["confidence"] for r in records]  # both kinds in this session
    plain = [x for x in err.splitlines() if x.startswith("#")]
    for line, r in zip(plain, records, strict=True):
        fields = line.split("]", 1)[1].split()
        if r["uncertain"]:
            assert fields[:2] == ["uncertain", "-"], line
        else:
            assert fields[:2] == [r["label"], f"{r['confidence']:.2f}"], line
    (unc_row,) = [x for x in err.splitlines() if x.strip().startswith("uncertain ")]
    assert unc_row.split() == ["uncertain", str(n_unc)]
    (labels_row,) = [x for x in err.splitlines() if x.strip().startswith("labels ")]
    counted = {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", labels_row.split(None, 1)[1])}
    certain = [r["label"] for r in records if not r["uncertain"]]
    assert counted == {lab: certain.count(lab) for lab in set(certain)}


def test_dashboard_on_a_terminal(monkeypatch, session, test_model_path, model):
    class FakeTTY(io.StringIO):
        def isatty(self) -> bool:
            return True

    path, _, _ = session
    fake = FakeTTY()
    monkeypatch.setattr(sys, "stdout", fake)
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("LINES", "40")
    rc = main(["--input", str(path), "--speed", "0", "--model", str(test_model_path)])
    assert rc == 0
    screen = fake.getvalue()
    assert "\x1b[" in screen  # drawn with terminal control codes, not plain lines
    assert not any(line.startswith("#0 ") for line in screen.splitlines())
    assert sum(lab in screen for lab in model.labels) >= 3


def test_duration_limit_stops_early(capsys, session, test_model_path):
    path, x, spans = session
    limit_s = (spans[1][0] + spans[1][1]) / 2 / SR  # in the middle of file 2
    rc, out, err = run(capsys, "--input", path, "--speed", "0", "--duration-s", f"{limit_s:.2f}", "--jsonl", "-",
                       "--model", test_model_path)
    assert rc == 0, err
    records = _json_lines(out)
    assert len(records) == 2  # file 1, and file 2 up to the limit (flushed)
    assert records[-1]["end_s"] <= float(f"{limit_s:.2f}") + 0.03  # the frame under way at the limit
    assert "audio heard          " + f"{float(f'{limit_s:.2f}'):.1f} s" in err


def test_half_life_option_changes_the_rolling_estimate(capsys, session, test_model_path):
    path, _, _ = session
    outs = []
    for h in ("0.1", "1000"):
        rc, out, _ = run(capsys, "--input", path, "--speed", "0", "--jsonl", "-", "--half-life-s", h,
                         "--model", test_model_path)
        assert rc == 0
        outs.append(_json_lines(out))
    short, long = outs
    assert [r["probabilities"] for r in short] == [r["probabilities"] for r in long]
    # A 0.1 s half-life forgets everything but the latest utterance.
    assert short[-1]["rolling"] == pytest.approx(short[-1]["probabilities"], abs=2e-3)
    assert long[-1]["rolling"] != pytest.approx(long[-1]["probabilities"], abs=2e-3)


def test_shared_options_work_before_or_after_predict(capsys, session, test_model_path):
    path, _, _ = session
    results = []
    for argv in (["--model", test_model_path, "--max-utterance-s", "1.5", "predict", path, "--segments"],
                 ["predict", path, "--segments", "--model", test_model_path, "--max-utterance-s", "1.5"]):
        rc, out, err = run(capsys, *argv)
        assert rc == 0, err
        results.append(_json_lines(out))
    assert results[0] == results[1] and len(results[0]) > len(SESSION_FILES)  # 1.5 s cuts applied
    rc, out, err = run(capsys, "predict", path, "--segments", "--model", test_model_path)
    assert len(_json_lines(out)) == len(SESSION_FILES)  # defaults still apply


def test_default_model_comes_from_ser_live_model_env(capsys, monkeypatch, session, test_model_path):
    path, _, _ = session
    monkeypatch.setenv("SER_LIVE_MODEL", str(test_model_path))
    rc, out, err = run(capsys, "predict", path, "--segments")
    assert rc == 0, err
    assert len(_json_lines(out)) == len(SESSION_FILES)


# ---------------------------------------------------------------------------- save + interrupt
@pytest.mark.slow
def test_save_utterances_survives_an_interrupt(session, test_model_path, tmp_path):
    """SIGINT to `ser-live --input session.wav --speed 1 --save-utterances DIR --plain`
    after the first utterance: every classified utterance is saved (WAV equal to the input
    span) with its index line, and the summary is printed. The session is played three
    times over (about 55 s), so that on a loaded machine, where the first utterance is saved
    late, the SIGINT still comes while the replay runs."""
    _, once, _ = session
    x = np.concatenate([once] * 3)
    path = write_wav(tmp_path / "session-x3.wav", x)
    out_dir = tmp_path / "saved"
    log = tmp_path / "stderr.log"
    cmd = [sys.executable, "-m", "ser_live", "--input", str(path), "--speed", "1",
           "--save-utterances", str(out_dir), "--plain", "--model", str(test_model_path)]
    index = out_dir / "index.jsonl"
    with open(log, "wb") as err_file:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while not (index.exists() and index.read_text().count("\n") >= 1):
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "no utterance saved within 120 s"
                time.sleep(0.05)
            time.sleep(2.0)  # into the next file's speech (not asserted: any moment must work)
            proc.send_signal(signal.SIGINT)
            stdout, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    err = log.read_text()
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "ser-live summary" in err
    lines = _json_lines(index.read_text())
    wavs = sorted(out_dir.glob("utt-*.wav"))
    assert 1 <= len(lines) == len(wavs) < 3 * len(SESSION_FILES)
    assert len([x for x in stdout.decode().splitlines() if x.startswith("#")]) == len(lines)
    for line, wav in zip(lines, wavs):
        assert line["wav"] == wav.name and set(line) == JSONL_KEYS | {"uncertain", "wav", "source"}  # the --jsonl keys
        y = to_int16(load_audio(wav))
        start = round(line["start_s"] * SR)
        np.testing.assert_array_equal(y, x[start : start + len(y)])
        assert len(y) == round(line["duration_s"] * SR)


# ---------------------------------------------------------------------------- predict
def test_predict_whole_files_folders_and_csv(capsys, ravdess_root, test_model_path, model, tmp_path):
    from ser_live.offline import Predictor

    files = [ravdess_root / rel for rel in SESSION_FILES[:2]]
    folder = tmp_path / "clips"
    (folder / "sub").mkdir(parents=True)
    for i, f in enumerate(files):
        write_wav(folder / ("sub" if i else "") / f"clip{i}.wav", load_audio(f))
    (folder / "notes.txt").write_text("not audio")
    rc, out, err = run(capsys, "predict", *files, folder, "--model", test_model_path)
    assert rc == 0, err
    records = _json_lines(out)
    assert len(records) == 4
    for r in records:
        assert set(r) == {"path", "label", "confidence", "probabilities", "arousal", "valence", "uncertain", "error"}
        assert r["error"] is None and -1 <= r["arousal"] <= 1 and -1 <= r["valence"] <= 1
        assert list(r["probabilities"]) == model.labels
        assert r["confidence"] == max(r["probabilities"].values())
    pred = Predictor(model).process_file(files[0])
    assert records[0]["path"] == str(files[0]) and records[0]["label"] == pred.label
    assert records[0]["confidence"] == round(pred.confidence, 4)
    # The same audio written as WAV gives the same record.
    assert records[2]["path"].endswith("clip0.wav") and records[2]["probabilities"] == records[0]["probabilities"]

    out_csv = tmp_path / "preds.csv"  # the suffix picks the format
    rc, out, err = run(capsys, "predict", *files, "--output", out_csv, "--model", test_model_path)
    assert rc == 0 and out == ""
    rows = out_csv.read_text().splitlines()
    assert rows[0] == "path,label,confidence," + ",".join(f"prob_{lab}" for lab in model.labels) + ",arousal,valence,uncertain,error"
    assert len(rows) == 3 and rows[1].startswith(f"{files[0]},{records[0]['label']},")

    rc, out, _ = run(capsys, "predict", files[0], "--segments", "--format", "csv", "--model", test_model_path)
    assert rc == 0 and out.splitlines()[0].startswith("path,start_s,end_s,label,confidence,prob_")


def test_predict_output_suffix_picks_the_format(capsys, ravdess_root, test_model_path, model, tmp_path):
    """--output's suffix picks the format (.csv, .jsonl, .parquet); a contradicting --format or an
    unknown suffix is a usage error before anything is scored; a bad file is an error row in CSV."""
    good = ravdess_root / SESSION_FILES[0]
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    rc, _, err = run(capsys, "predict", good, bad, "--output", tmp_path / "p.csv", "--model", test_model_path)
    assert rc == AudioFileError.exit_code, err
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0].split(",") == ["path", "label", "confidence", *(f"prob_{lab}" for lab in model.labels), "arousal",
                                  "valence", "uncertain", "error"]
    assert rows[1].startswith(f"{good},") and rows[1].endswith(",")  # an empty error
    assert rows[2].startswith(f"{bad},,,") and "cannot read as audio" in rows[2]
    rc, out, err = run(capsys, "predict", good, "--output", tmp_path / "p.jsonl", "--model", test_model_path)
    assert rc == 0 and out == ""
    assert json.loads((tmp_path / "p.jsonl").read_text())["path"] == str(good)
    for argv, needle in ((["--format", "csv", "--output", tmp_path / "x.jsonl"], "contradicts"),
                         (["--format", "jsonl", "--output", tmp_path / "x.csv"], "contradicts"),
                         (["--output", tmp_path / "x.json"], ".jsonl"),
                         (["--output", tmp_path / "x.txt"], ".csv")):
        rc, out, err = run(capsys, "predict", good, *argv, "--model", test_model_path)
        assert rc == 2 and needle in err, (argv, err)
        assert not Path(argv[-1]).exists()
    rc, out, _ = run(capsys, "predict", good, "--format", "csv", "--output", tmp_path / "y.csv", "--model",
                     test_model_path)
    assert rc == 0 and (tmp_path / "y.csv").read_text().startswith("path,label,")
    pq = pytest.importorskip("pyarrow.parquet")
    rc, _, err = run(capsys, "predict", good, bad, "--output", tmp_path / "p.parquet", "--model", test_model_path)
    assert rc == AudioFileError.exit_code, err
    table = pq.read_table(tmp_path / "p.parquet").to_pylist()
    assert [r["path"] for r in table] == [str(good), str(bad)] and table[1]["error"] and table[1]["label"] is None


def test_predict_paths_written_with_a_tilde_are_in_the_home_folder(capsys, ravdess_root, test_model_path, model,
                                                                    home_and_work):
    """``--output=~/p.csv`` and ``--sessions=~/s.csv`` (a ``~`` the shell leaves, after ``=``
    or quoted) named a folder literally called ``~`` in the working folder: the output went
    there, the sessions list was "not found". Both are expanded now, as ``--jsonl``'s are."""
    home, work = home_and_work
    good = ravdess_root / SESSION_FILES[0]
    (home / "s.csv").write_text(f"path,session\n{good},a\n")
    rc, out, err = run(capsys, "predict", good, "--output=~/p.csv", "--sessions", "~/s.csv", "--model", test_model_path)
    assert rc == 0, err
    assert not (work / "~").exists()
    assert (home / "p.csv").read_text().splitlines()[1].startswith(f"{good},")


def test_predict_refuses_long_files_without_segments(capsys, ravdess_root, test_model_path, tmp_path):
    y = load_audio(ravdess_root / SESSION_FILES[0])
    long = write_wav(tmp_path / "long.wav", np.concatenate([np.zeros(61 * SR, np.float32), y]))
    rc, out, err = run(capsys, "predict", long, "--model", test_model_path)
    assert rc == AudioFileError.exit_code
    assert "long.wav" in err and "--segments" in err
    (rec,) = _json_lines(out)
    assert rec["label"] is None and "--segments" in rec["error"]
    rc, out, err = run(capsys, "predict", long, "--segments", "--model", test_model_path)
    assert rc == 0 and len(_json_lines(out)) == 1


# ---------------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def inputs(tmp_path_factory, ravdess_root, data_root) -> dict[str, Path]:
    """Bad and unusual input files (real speech where there is speech)."""
    d = tmp_path_factory.mktemp("inputs")
    y = load_audio(ravdess_root / SESSION_FILES[0])
    files = {"missing": d / "missing.wav"}
    files["unreadable"] = d / "unreadable.wav"
    files["unreadable"].write_text("this is not audio\n" * 100)
    files["zero_bytes"] = d / "zero_bytes.wav"
    files["zero_bytes"].write_bytes(b"")
    files["empty"] = d / "empty.wav"
    sf.write(str(files["empty"]), np.zeros(0, np.int16), SR, subtype="PCM_16")
    files["silent"] = write_wav(d / "silent.wav", np.zeros(3 * SR, np.int16))
    import soxr

    files["8khz"] = d / "8khz.wav"
    sf.write(str(files["8khz"]), soxr.resample(y, SR, 8000, quality="HQ"), 8000, subtype="PCM_16")
    files["mono"] = write_wav(d / "mono.wav", y)
    files["stereo"] = d / "stereo.wav"
    x = to_int16(y)
    sf.write(str(files["stereo"]), np.column_stack([x, x]), SR, subtype="PCM_16")
    original = data_root / "samples" / "ravdess-48k" / "03-01-05-02-01-01-01.wav"
    if original.exists():
        files["48k_stereo"] = original
    return files


ERRORS = {  # name -> (exit code, text in the message)
    "missing": (AudioFileError.exit_code, "no such file"),
    "unreadable": (AudioFileError.exit_code, "cannot read as audio"),
    "zero_bytes": (AudioFileError.exit_code, "empty file (0 bytes)"),
    "empty": (AudioFileError.exit_code, "no audio samples"),
    "silent": (NoSpeechError.exit_code, "no speech detected"),
}
GOOD = ("8khz", "stereo", "48k_stereo")


@pytest.mark.parametrize("name", [*ERRORS, *GOOD])
def test_bad_or_unusual_input_in_predict(capsys, inputs, name, test_model_path, model):
    if name not in inputs:
        pytest.skip(f"{name} sample not found under the corpora folder")
    path = inputs[name]
    for extra in ([], ["--segments"]):
        rc, out, err = run(capsys, "predict", path, *extra, "--model", test_model_path)
        if name in ERRORS:
            code, text = ERRORS[name]
            assert rc == code, (extra, err)
            assert text in err and path.name in err and "Traceback" not in err
            (rec,) = _json_lines(out)  # the failed file is a record with its error, never dropped
            assert rec["path"] == str(path) and rec["label"] is None and text in rec["error"]
        else:
            assert rc == 0, err
            records = _json_lines(out)
            assert len(records) == 1 and records[0]["label"] in model.labels
            assert sum(records[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
            if name == "stereo":  # both channels equal: exactly the mono result
                rc, mono_out, _ = run(capsys, "predict", inputs["mono"], *extra, "--model", test_model_path)
                mono = _json_lines(mono_out)[0]
                assert {k: v for k, v in mono.items() if k != "path"} == {
                    k: v for k, v in records[0].items() if k != "path"}


@pytest.mark.parametrize("name", [*ERRORS, *GOOD])
def test_bad_or_unusual_input_in_listen(capsys, inputs, name, test_model_path, model):
    if name not in inputs:
        pytest.skip(f"{name} sample not found under the corpora folder")
    path = inputs[name]
    rc, out, err = run(capsys, "--input", path, "--speed", "0", "--jsonl", "-", "--model", test_model_path)
    if name in ERRORS:
        code, text = ERRORS[name]
        assert rc == code and out == "", err
        assert text in err and path.name in err and "Traceback" not in err
    else:
        assert rc == 0, err
        records = _json_lines(out)
        assert len(records) == 1 and records[0]["label"] in model.labels
        if name == "stereo":
            rc, mono_out, _ = run(capsys, "--input", inputs["mono"], "--speed", "0", "--jsonl", "-",
                                  "--model", test_model_path)
            mono = _json_lines(mono_out)[0]
            for k in ("start_s", "end_s", "label", "confidence", "probabilities"):
                assert mono[k] == records[0][k]


def test_predict_goes_on_after_a_bad_file(capsys, inputs, ravdess_root, test_model_path):
    good = ravdess_root / SESSION_FILES[0]
    rc, out, err = run(capsys, "predict", inputs["unreadable"], good, inputs["silent"], "--model", test_model_path)
    assert rc == AudioFileError.exit_code  # a bad file (3) before no speech (4), whatever the order
    records = _json_lines(out)
    assert [r["path"] for r in records] == [str(inputs["unreadable"]), str(good), str(inputs["silent"])]
    assert [r["error"] is None for r in records] == [False, True, False]
    assert {frozenset(r) for r in records} == {frozenset(records[1])}  # one set of keys for every record
    assert "unreadable.wav" in err and "no speech detected" in err
    rc, _, _ = run(capsys, "predict", inputs["silent"], good, inputs["unreadable"], "--model", test_model_path)
    assert rc == AudioFileError.exit_code
    rc, _, err = run(capsys, "predict", inputs["unreadable"].parent / "nothing-here", "--model", test_model_path)
    assert rc == AudioFileError.exit_code and "no such file" in err
    empty_dir = inputs["unreadable"].parent / "empty_dir"
    empty_dir.mkdir(exist_ok=True)
    rc, _, err = run(capsys, "predict", empty_dir, "--model", test_model_path)
    assert rc == AudioFileError.exit_code and "holds no" in err


# ---------------------------------------------------------------------------- devices, fallback
def test_devices_lists_inputs_or_says_why_not(capsys):
    rc, out, err = run(capsys, "devices")
    if rc == PortAudioMissingError.exit_code:
        assert "apt-get install libportaudio2" in err
        return
    if "no input devices found" in err:
        assert rc == DeviceError.exit_code
    else:
        assert rc == 0 and "default input device" in out, err


def test_devices_without_any_input_device_exits_6(capsys, monkeypatch):
    import ser_live.audio as audio_mod

    monkeypatch.setattr(audio_mod, "list_input_devices", lambda: [])
    rc, out, err = run(capsys, "devices")
    assert rc == DeviceError.exit_code == 6 and out == ""
    assert "no input devices found" in err and "--input FILE" in err


def test_no_input_device_replays_the_demo(capsys, monkeypatch, test_model_path):
    import ser_live.audio as audio_mod

    monkeypatch.setattr(audio_mod, "list_input_devices", lambda: [])
    rc, out, err = run(capsys, "--speed", "0", "--plain", "--model", test_model_path)
    assert rc == 0, err
    assert "no input device found" in err and "ser_live/data/demo.wav" in err and "--input FILE" in err
    demo = json.loads(DEMO_WAV.with_suffix(".json").read_text())
    assert len([x for x in out.splitlines() if x.startswith("#")]) == len(demo["utterances"])
    assert "ser-live summary" in err

    rc, out, err = run(capsys, "--no-demo-fallback", "--plain", "--model", test_model_path)
    assert rc == DeviceError.exit_code and "no input device found" in err and "--input" in err


def test_missing_portaudio_says_what_to_install_and_replays_the_demo(capsys, monkeypatch, test_model_path):
    import ser_live.audio as audio_mod

    def missing():
        raise PortAudioMissingError("the PortAudio library is missing; install it with `sudo apt-get install libportaudio2`")

    monkeypatch.setattr(audio_mod, "list_input_devices", missing)
    rc, out, err = run(capsys, "--speed", "0", "--plain", "--duration-s", "4", "--model", test_model_path)
    assert rc == 0, err
    assert "apt-get install libportaudio2" in err and "demo.wav" in err


def test_explicit_missing_device_is_an_error(capsys, test_model_path):
    rc, out, err = run(capsys, "--device", "no-such-device-ser-live-test", "--plain", "--model", test_model_path)
    assert rc in (DeviceError.exit_code, PortAudioMissingError.exit_code)
    assert out == "" and "demo" not in err
    if rc == DeviceError.exit_code:
        assert "ser-live devices" in err and "--input FILE" in err


def test_record_helpers_profile_and_exit_status():
    """The helpers both predict paths share: profile before error on every record (an error
    record keeps its exit status), and one exit status for a set of failures in any order."""
    from ser_live.records import error_record, failure_exit_code, with_profile

    rec = with_profile({"path": "a.wav", "label": "sad", "error": None}, "anna")
    assert list(rec) == ["path", "label", "profile", "error"] and rec["profile"] == "anna"
    bad = with_profile(error_record("b.wav", NoSpeechError("b.wav: no speech detected")), "anna")
    assert list(bad)[-2:] == ["profile", "error"] and bad.exit_code == NoSpeechError.exit_code
    assert with_profile(rec, None) is rec
    assert failure_exit_code([]) == 0
    assert failure_exit_code([4, 3]) == failure_exit_code([3, 4]) == 3
    assert failure_exit_code([1, 4]) == 4 and failure_exit_code([1]) == 1


def test_block_length_changes_no_result_and_is_validated(capsys, session, test_model_path):
    """``--block-ms`` only changes how the samples arrive: a replay in 10 ms and in 100 ms
    blocks gives the same utterances and probabilities (the segmenter reads whole frames
    whatever the blocks); a block outside 10-100 ms is a usage error."""
    path, _, _ = session
    got = []
    for ms in ("10", "100"):
        rc, out, err = run(capsys, "--input", path, "--speed", "0", "--block-ms", ms, "--jsonl", "-",
                           "--model", test_model_path)
        assert rc == 0, err
        got.append([{k: v for k, v in r.items() if k not in ("processing_ms", "end_of_speech_ms", "wall_time")}
                    for r in _json_lines(out)])
    assert len(got[0]) >= 2 and got[0] == got[1]
    rc, _, err = run(capsys, "--input", path, "--block-ms", "5")
    assert rc == 2 and "--block-ms: must be 10-100 ms, got 5" in err


def test_pyflakes_finds_nothing_in_the_runtime_and_training_packages():
    """pyflakes over every module of ``ser_live/`` and ``train/``: an unused import or an
    undefined name is a slip (``ser_live/cli/predict.py`` once imported ``Path``, ``TextIO``
    and ``log`` unused; ``calibrate.py``, ``train/card.py`` and ``train/recipe_spec.py`` each
    kept one import they no longer used). Two kinds of warning are deliberate and skipped: a
    line marked ``noqa`` (an import made for its side effect or to probe an optional extra)
    and a package ``__init__``'s re-exports; ``ser_live.profile.__all__`` names the two
    functions its module ``__getattr__`` imports lazily."""
    api = pytest.importorskip("pyflakes.api")
    reporter_mod = pytest.importorskip("pyflakes.reporter")

    class Collect(reporter_mod.Reporter):
        def __init__(self):
            super().__init__(io.StringIO(), io.StringIO())
            self.found = []

        def flake(self, message):
            self.found.append(message)

    lazy = {("profile.py", "fit_score_affine"), ("profile.py", "Recalibrated")}
    problems = []
    for package in ("ser_live", "train"):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            collect = Collect()
            api.checkPath(str(path), collect)
            lines = path.read_text(encoding="utf-8").splitlines()
            assert collect._stderr.getvalue() == "", collect._stderr.getvalue()
            for m in collect.found:
                text = m.message % m.message_args
                if "noqa" in lines[m.lineno - 1]:
                    continue
                if path.name == "__init__.py" and "imported but unused" in text:
                    continue
                if "undefined name" in text and (path.name, m.message_args[0]) in lazy:
                    continue
                problems.append(f"{path.relative_to(REPO_ROOT)}:{m.lineno}: {text}")
    assert problems == [], "\n".join(problems)

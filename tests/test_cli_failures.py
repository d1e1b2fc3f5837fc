"""``ser-live`` in a hostile environment (issue 8, item 7), through the real program on real
corpus speech: SIGHUP, a FIFO as ``--input``, a float WAV holding NaN, result outputs that
cannot be written (``--jsonl /dev/full``, stdout closed by the reader), a double Ctrl-C, and
the ``--speed`` warning with the demo replay.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

from ser_live.audiofile import SAMPLE_RATE_HZ, load_audio, write_wav

from .test_capture import _ser_live_cmd

#: RAVDESS utterances (strong intensity, several actors) joined into a session.
_FILES = [
    f"Actor_{a:02d}/03-01-{e:02d}-02-0{s}-01-{a:02d}.flac"
    for a in (1, 2, 3, 4, 5, 6)
    for e, s in ((5, 1), (4, 2), (3, 1), (6, 2))
]
#: Pause between the session's utterances (s): longer than the VAD hangover.
GAP_S = 1.0


@pytest.fixture(scope="module")
def session_wav(ravdess_root: Path, tmp_path_factory: pytest.TempPathFactory, corpus_session) -> Path:
    """24 RAVDESS utterances with 1 s pauses (about 110 s), 16 kHz int16 WAV."""
    built = corpus_session(ravdess_root, _FILES, gap_s=GAP_S, tail_s=GAP_S)
    return write_wav(tmp_path_factory.mktemp("session") / "session.wav", built.samples)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PULSE_SERVER", None)
    return env


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    kw.setdefault("timeout", 300)
    return subprocess.run([*_ser_live_cmd(), *args], env=_env(), capture_output=True, text=True, **kw)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _strip(record: dict) -> dict:
    """A recordings-index line without its file keys."""
    return {k: v for k, v in record.items() if k not in ("wav", "source")}


def _wait_for_lines(path: Path, n: int, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else proc.returncode
        time.sleep(0.05)
    raise AssertionError(f"{path} did not get {n} lines in {timeout_s} s")


def _signal_mid_run(args: list[str], out: Path | None = None, *, after_lines: int = 0,
                    signals: list[tuple[int, float]], ready: Callable[[subprocess.Popen], None] | None = None,
                    ) -> tuple[int, str]:
    """Run ser-live with ``args``; once ``out`` has ``after_lines`` lines (or ``ready(proc)``
    returns), send each signal after its delay (s). Returns the exit status and stderr."""
    proc = subprocess.Popen(
        [*_ser_live_cmd(), *args], env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        if ready is not None:
            ready(proc)
        else:
            _wait_for_lines(out, after_lines, proc)
        for signum, delay_s in signals:
            time.sleep(delay_s)
            proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


def _first_line_then_closed(args: list[str]) -> tuple[str, int, str]:
    """Run ser-live with ``args``, read the first line of its stdout, then close it (what
    ``| head -1`` does). Returns that line, the exit status and stderr."""
    proc = subprocess.Popen([*_ser_live_cmd(), *args], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return first, proc.returncode, err


@pytest.mark.slow
def test_sighup_stops_like_sigterm(session_wav: Path, tmp_path: Path) -> None:
    """SIGHUP (terminal closed) mid-utterance: summary, exit 130, utterance in progress kept."""
    saved, out = tmp_path / "saved", tmp_path / "out.jsonl"
    # Utterance 2 is speech from 5.8 to 8.3 s: SIGHUP about 1.7 s into it.
    rc, err = _signal_mid_run(
        ["--input", str(session_wav), "--plain", "--jsonl", str(out), "--save-utterances", str(saved)],
        out, after_lines=1, signals=[(signal.SIGHUP, 3.5)],
    )
    assert rc == 130, f"exit {rc}:\n{err}"
    assert "ser-live summary" in err, err
    records = _jsonl(out)  # the index lines carry the same keys, "uncertain" too
    assert len(records) == 2, (records, err)  # utterance 2 was cut by SIGHUP, yet classified
    index = _jsonl(saved / "index.jsonl")
    assert [_strip(r) for r in index] == records
    assert len(list(saved.glob("*.wav"))) == 2


@pytest.mark.slow
def test_sighup_is_ignored_under_nohup(session_wav: Path, tmp_path: Path) -> None:
    """Started with SIGHUP ignored (``nohup ser-live ... &``, then the terminal closes): the
    SIGHUP changes nothing, the run goes on to its end (it used to stop, exit 130)."""
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        [*_ser_live_cmd(), "--input", str(session_wav), "--speed", "4", "--duration-s", "24", "--plain",
         "--jsonl", str(out)],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),  # what nohup does
    )
    try:
        _wait_for_lines(out, 1, proc)
        proc.send_signal(signal.SIGHUP)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{err}"
    assert "interrupted" not in err, err
    records = _jsonl(out)
    assert len(records) >= 4, (records, err)  # 24 s of the session: about 5 utterances
    assert records[-1]["end_s"] > 18, records[-1]


@pytest.mark.slow
def test_ctrl_c_ends_a_run_whose_stdout_reader_stopped_reading(session_wav: Path, tmp_path: Path) -> None:
    """``--jsonl -`` into a pipe whose reader stopped reading (full pipe): a Ctrl-C still ends
    the run within 2 s, with the summary, every utterance saved and the failure said (exit 1,
    results not written). It used to wait in the blocked write for ever, each signal held."""
    import fcntl
    import termios
    from array import array

    saved = tmp_path / "saved"
    r, w = os.pipe()
    fcntl.fcntl(w, getattr(fcntl, "F_SETPIPE_SZ", 1031), 4096)  # the smallest pipe: a few lines fill it
    proc = subprocess.Popen(
        [*_ser_live_cmd(), "--input", str(session_wav), "--speed", "0", "--jsonl", "-", "--save-utterances", str(saved)],
        env=_env(), stdout=w, stderr=subprocess.PIPE, text=True,
    )
    os.close(w)
    try:
        deadline = time.monotonic() + 120
        held = array("i", [0])
        while time.monotonic() < deadline:  # until the pipe is all but full and nothing is read
            fcntl.ioctl(r, termios.FIONREAD, held)
            if held[0] >= 4096 - 1500:
                break
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.1)
        time.sleep(1.0)  # the next line is waiting in write()
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("ser-live did not end within 10 s of Ctrl-C while its stdout reader did not read")
        elapsed_s = time.monotonic() - t0
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(r)
    assert elapsed_s < 2.0, (elapsed_s, err)
    assert proc.returncode == 1, f"exit {proc.returncode}:\n{err}"
    assert "cannot write the results to stdout (its reader took nothing" in err, err
    assert "ser-live summary" in err, err
    n_saved = int(err.split("utterances saved")[1].split()[0])
    assert n_saved >= 5 and len(_jsonl(saved / "index.jsonl")) == n_saved == len(list(saved.glob("*.wav"))), err


@pytest.mark.slow
def test_closing_the_terminal_under_the_dashboard_ends_like_sighup(session_wav: Path, tmp_path: Path) -> None:
    """The dashboard's terminal closed (its window shut: SIGHUP, then every write to it fails
    with EIO): the run ends as SIGHUP says, exit 130, the --jsonl summary record written, every
    utterance in --jsonl and the recordings. Taking the dashboard down on the dead terminal
    used to raise out of the exit path: "error: [Errno 5] Input/output error", exit 1, no
    summary."""
    import pty
    import select

    out, saved, err_path = tmp_path / "out.jsonl", tmp_path / "saved", tmp_path / "stderr.txt"
    cmd = [*_ser_live_cmd(), "--input", str(session_wav), "--jsonl", str(out), "--jsonl-summary",
           "--save-utterances", str(saved)]
    env = {**_env(), "TERM": "xterm-256color"}
    pid, master = pty.fork()  # the child's controlling terminal: closing it sends SIGHUP
    if pid == 0:  # pragma: no cover - the child
        try:
            fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 2)
            os.execvpe(cmd[0], cmd, env)
        finally:
            os._exit(127)
    status = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (out.exists() and out.read_text().count("\n") >= 2):
            if select.select([master], [], [], 0.1)[0]:
                os.read(master, 65536)  # the dashboard's frames
        assert out.exists() and out.read_text().count("\n") >= 2, err_path.read_text()
        os.close(master)  # the terminal goes away
        master = -1
        deadline = time.monotonic() + 30
        while status is None and time.monotonic() < deadline:
            done, status_raw = os.waitpid(pid, os.WNOHANG)
            status = os.waitstatus_to_exitcode(status_raw) if done else None
            time.sleep(0.05)
    finally:
        if master >= 0:
            os.close(master)
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    err = err_path.read_text()
    assert status == 130, f"exit {status}:\n{err}"
    assert "Input/output error" not in err, err
    records = _jsonl(out)
    assert records[-1]["kind"] == "summary" and records[-1]["exit_status"] == 130, records[-1]
    utterances = [r for r in records if r["kind"] == "utterance"]
    assert [_strip(r) for r in _jsonl(saved / "index.jsonl")] == utterances, err


def test_fifo_input_is_refused_not_hung(tmp_path: Path) -> None:
    """A FIFO as --input: exit 3 at once with a message (it would be opened twice)."""
    fifo = tmp_path / "audio.fifo"
    os.mkfifo(fifo)
    res = _run(["--input", str(fifo), "--plain"], timeout=60)
    assert res.returncode == 3, res.stderr
    assert "FIFO" in res.stderr and "regular files" in res.stderr, res.stderr


def test_nan_in_a_float_wav_is_one_error_for_predict_and_replay(ravdess_root: Path, tmp_path: Path) -> None:
    """NaN samples: `predict` and `--input` both refuse the file, exit 3, the same message."""
    y = load_audio(ravdess_root / _FILES[0])
    y[20000] = np.nan
    wav = tmp_path / "nan.wav"
    sf.write(wav, y, SAMPLE_RATE_HZ, subtype="FLOAT")
    pred = _run(["predict", str(wav)])
    replay = _run(["--input", str(wav), "--speed", "0", "--plain"])
    needle = "holds non-finite samples (NaN or infinity), the first at 1.250 s"
    assert pred.returncode == 3 and needle in pred.stderr, pred.stderr
    assert replay.returncode == 3 and needle in replay.stderr, replay.stderr


@pytest.mark.slow
def test_jsonl_to_a_full_device_keeps_recording(session_wav: Path, tmp_path: Path) -> None:
    """--jsonl /dev/full: the write error once, every utterance still saved, summary, exit 1."""
    ref = _run(["--input", str(session_wav), "--speed", "0", "--jsonl", "-"])
    assert ref.returncode == 0, ref.stderr
    n = len([line for line in ref.stdout.splitlines() if line.startswith("{")])
    assert n >= 20, ref.stdout
    saved = tmp_path / "saved"
    res = _run(["--input", str(session_wav), "--speed", "0", "--jsonl", "/dev/full",
                "--save-utterances", str(saved)])
    assert res.returncode == 1, res.stderr
    assert res.stderr.count("cannot write the results to /dev/full") == 1, res.stderr
    assert "ser-live summary" in res.stderr and f"utterances           {n}" in res.stderr, res.stderr
    assert len(list(saved.glob("*.wav"))) == n == len(_jsonl(saved / "index.jsonl"))


@pytest.mark.slow
def test_stdout_closed_by_the_reader_keeps_recording(session_wav: Path, tmp_path: Path) -> None:
    """`ser-live ... | head -1`: the write error once, recording goes on, summary, exit 1."""
    saved = tmp_path / "saved"
    first, rc, err = _first_line_then_closed(
        ["--input", str(session_wav), "--speed", "0", "--plain", "--save-utterances", str(saved)])
    assert first.startswith("#0"), first
    assert rc == 1, f"exit {rc}:\n{err}"
    assert err.count("cannot write the results to stdout") == 1, err
    assert "Traceback" not in err and "ser-live summary" in err, err
    n_saved = len(list(saved.glob("*.wav")))
    assert n_saved >= 20 and f"utterances           {n_saved}" in err, (n_saved, err)


@pytest.mark.slow
@pytest.mark.parametrize("delays_s", [(0.0, 0.3), (0.0, 0.05, 0.002)], ids=["twice", "three-times"])
def test_double_ctrl_c_emits_every_saved_utterance(session_wav: Path, tmp_path: Path,
                                                   delays_s: tuple[float, ...]) -> None:
    """Two (or three) SIGINTs while the queued utterances are being classified: the --jsonl
    output holds exactly the utterances in the recordings index. (A third one once could
    land while quit() waited for the utterance being saved, and the drain missed it.)"""
    saved, out = tmp_path / "saved", tmp_path / "out.jsonl"
    rc, err = _signal_mid_run(
        ["--input", str(session_wav), "--speed", "0", "--plain", "--jsonl", str(out),
         "--save-utterances", str(saved)],
        out, after_lines=2, signals=[(signal.SIGINT, d) for d in delays_s],
    )
    # Never -SIGINT: a second Ctrl-C that lands after the summary is ignored (it once
    # killed the process by SIGINT as it returned from main()).
    assert rc == 130, f"exit {rc}:\n{err}"
    assert "ser-live summary" in err, err
    index = _jsonl(saved / "index.jsonl")
    records = _jsonl(out)  # the index lines carry the same keys, "uncertain" too
    assert len(index) >= 2, err
    assert [_strip(r) for r in index] == records, (len(index), len(records), err)
    assert sorted(p.name for p in saved.glob("*.wav")) == sorted(r["wav"] for r in index)


def test_speed_with_the_demo_replay_is_not_called_ignored(tmp_path: Path) -> None:
    """No microphone: the demo replay uses --speed, so no warning says it is ignored."""
    res = _run(["--speed", "0", "--demo-fallback", "--jsonl", "-"],
               cwd=tmp_path)
    assert "replaying the bundled demo recording" in res.stderr, res.stderr
    assert res.returncode == 0, res.stderr
    assert "--speed" not in res.stderr, res.stderr


def _wait_for_file(pattern: str, folder: Path, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    """Wait until a file matching ``pattern`` exists in ``folder`` (the process still running)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(folder.glob(pattern)):
            return
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else proc.returncode
        time.sleep(0.02)
    raise AssertionError(f"no {pattern} in {folder} after {timeout_s} s")


@pytest.mark.slow
def test_sigterm_while_predict_scores_ends_like_ctrl_c(session_wav: Path, tmp_path: Path) -> None:
    """SIGTERM once `predict` is scoring (its output's temporary file exists): exit 130 with
    "interrupted", the output a complete file of whole records, no temporary file left, no
    traceback (it used to die by the signal, exit 143, its records stranded in the
    temporary file)."""
    long = tmp_path / "long.wav"
    write_wav(long, np.tile(load_audio(session_wav, sample_rate_hz=SAMPLE_RATE_HZ), 8))
    out = tmp_path / "out" / "records.jsonl"
    out.parent.mkdir()
    rc, err = _signal_mid_run(["predict", str(long), "--segments", "--output", str(out)],
                              ready=lambda proc: _wait_for_file(".records.jsonl.*.tmp", out.parent, proc),
                              signals=[(signal.SIGTERM, 0.5)])
    assert rc == 130, f"exit {rc}:\n{err}"
    assert "interrupted" in err and "Traceback" not in err, err
    records = _jsonl(out)  # every line a whole record
    assert all(r["path"] == str(long) and r["label"] for r in records), records[:3]
    assert f"{len(records)} records written to {out}" in err, err
    assert not list(out.parent.glob("*.tmp"))


def test_ctrl_c_while_the_program_starts_is_exit_130_without_a_traceback(session_wav: Path) -> None:
    """Ctrl-C while `ser-live` is still importing its modules (or, on a fast machine, loading
    the model or scoring: the run is long enough that it never ends first): one line, exit 130."""
    proc = subprocess.Popen([*_ser_live_cmd(), "predict", str(session_wav), "--segments"], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(0.15)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, f"exit {proc.returncode}:\n{err}"
    assert "interrupted" in err and "Traceback" not in err, err


#: A child that imports the package as the program named in argv[0] does, then is sent SIGNAL
#: while its "modules" still import (the moment before ser_live.entry's handling is in place).
_SIGNAL_AT_IMPORT = """
import os, signal, sys, time
sys.path.insert(0, {root!r})
sys.argv[0] = {argv0!r}
import ser_live
os.kill(os.getpid(), signal.{signal})
time.sleep(2)
print("survived", flush=True)
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_while_the_program_first_imports_is_one_line_and_exit_130(sig: str) -> None:
    """A Ctrl-C (or SIGTERM) in the program's first ~0.1 s, while the package and the entry
    point import and before ``ser_live.entry`` handles signals: one line and exit 130, never
    Python's KeyboardInterrupt traceback and death by SIGINT (the microphone sweep of
    ``benchmarks/interrupts`` hit that in 2 and 3 runs of 300). Only the program: a script
    that imports ser_live keeps Python's own handling (next test)."""
    from .test_capture import REPO_ROOT

    code = _SIGNAL_AT_IMPORT.format(root=str(REPO_ROOT), argv0="/usr/local/bin/ser-live", signal=sig)
    res = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60)
    assert res.returncode == 130, f"exit {res.returncode}:\n{res.stderr}"
    assert res.stderr == "ser-live: interrupted\n" and "survived" not in res.stdout, res.stderr


def test_a_script_that_imports_ser_live_keeps_pythons_own_ctrl_c() -> None:
    """The start-up handler is the program's only: a script importing the package and then
    sent Ctrl-C gets Python's KeyboardInterrupt as ever; and one started with SIGINT ignored
    (a background job) still ignores it as the program (it survives the signal)."""
    from .test_capture import REPO_ROOT

    code = _SIGNAL_AT_IMPORT.format(root=str(REPO_ROOT), argv0="analyse_calls.py", signal="SIGINT")
    res = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60)
    assert "KeyboardInterrupt" in res.stderr and "ser-live: interrupted" not in res.stderr, res.stderr
    assert res.returncode != 0 and "survived" not in res.stdout

    code = _SIGNAL_AT_IMPORT.format(root=str(REPO_ROOT), argv0="/usr/local/bin/ser-live", signal="SIGINT")
    res = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert res.returncode == 0 and "survived" in res.stdout, res.stderr


def test_predict_to_a_closed_stdout_says_so_and_exits_1(tmp_path: Path, data_root: Path) -> None:
    """`ser-live predict DIR | head -1`: the write error once on stderr, exit 1 (the README's
    exit table), not a silent 0."""
    folder = tmp_path / "clips"
    folder.mkdir()
    for f in sorted((data_root / "emodb" / "wav").glob("*.flac"))[:60]:
        (folder / f.name).symlink_to(f)
    first, rc, err = _first_line_then_closed(["predict", str(folder)])
    assert json.loads(first)["label"], first
    assert rc == 1, f"exit {rc}:\n{err}"
    assert err.count("cannot write the results to stdout") == 1 and "Traceback" not in err, err


def test_predict_started_with_stdout_closed_says_so_before_classifying(tmp_path: Path, emodb_root: Path) -> None:
    """`ser-live predict FILES >&-` (stdout closed when the program starts: Python's
    sys.stdout is None) ended with an AttributeError traceback after the first file was
    classified. Now: a message naming --output, exit 1 (the README's exit table), nothing
    classified; with --output the same files are classified and written."""
    files = [str(f) for f in sorted((emodb_root / "wav").glob("*.flac"))[:3]]
    def run(args: list[str]) -> subprocess.CompletedProcess:  # fd 1 closed in the child before it starts
        return subprocess.run([*_ser_live_cmd(), *args], env=_env(), stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: os.close(1), timeout=300)

    res = run(["predict", *files])
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr and "stdout is closed" in res.stderr and "--output" in res.stderr, res.stderr
    assert "done:" not in res.stderr, res.stderr  # refused before any file was classified
    out = tmp_path / "out.jsonl"
    res = run(["predict", *files, "--output", str(out)])
    assert res.returncode == 0, res.stderr
    assert [r["path"] for r in _jsonl(out)] == files and all(r["label"] for r in _jsonl(out))


def test_listening_started_with_stdout_closed_says_so_unless_a_file_keeps_the_results(tmp_path: Path) -> None:
    """`ser-live --input F --jsonl - >&-` ended with an AttributeError traceback at the first
    result, and `--plain >&-` dropped every result without a word and exited 0. Now both are
    refused with a message naming --jsonl FILE, exit 1, before anything is heard; with --jsonl
    FILE the run goes on (it ended in a traceback too) and the file gets every result."""
    from ser_live.cli.options import DEMO_WAV

    def run(args: list[str]) -> subprocess.CompletedProcess:  # fd 1 closed in the child before it starts
        return subprocess.run([*_ser_live_cmd(), "--input", str(DEMO_WAV), "--speed", "0", *args], env=_env(),
                              stderr=subprocess.PIPE, text=True, preexec_fn=lambda: os.close(1), timeout=300)

    for args in (["--jsonl", "-"], ["--plain"]):
        res = run(args)
        assert res.returncode == 1, (args, res.stderr)
        assert "Traceback" not in res.stderr and "stdout is closed" in res.stderr, res.stderr
        assert "--jsonl FILE" in res.stderr and "summary" not in res.stderr, res.stderr  # nothing was heard
    out = tmp_path / "out.jsonl"
    res = run(["--jsonl", str(out)])
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    lines = [r for r in _jsonl(out) if r.get("kind", "utterance") == "utterance"]
    assert lines and all(r["label"] for r in lines), res.stderr


def test_listening_options_before_another_command_are_a_usage_error(tmp_path: Path, capsys) -> None:
    """`ser-live --jsonl F calibrate ...` parsed --jsonl at the top level (listening's) and
    then ignored it: no file, no word. `ser-live --save-utterances calibrate` read the command
    as the folder and listened. Both are now usage errors (exit 2) naming what to do, before
    anything runs; options shared with the commands (--model, -v) still come before them."""
    from ser_live.cli import main
    from ser_live.cli.options import DEMO_WAV

    out = tmp_path / "x.jsonl"
    code = main(["--jsonl", str(out), "--partial", "calibrate", "--input", str(DEMO_WAV), "--speed", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "--jsonl, --partial: options of listening" in err and "ser-live calibrate --help" in err, err
    assert not out.exists()
    code = main(["--plain", "predict", str(DEMO_WAV)])
    cap = capsys.readouterr()
    assert code == 2 and "--plain: an option of listening" in cap.err and cap.out == "", cap.err
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        code = main(["--save-utterances", "calibrate"])
    finally:
        os.chdir(old)
    err = capsys.readouterr().err
    assert code == 2 and "--save-utterances took 'calibrate' as its folder" in err, err
    assert list(tmp_path.iterdir()) == []
    code = main(["-v", "--model", "default", "predict", str(DEMO_WAV)])
    cap = capsys.readouterr()
    assert code == 0 and json.loads(cap.out)["label"], cap.err
    from ser_live.cli import _stray_listen_options, build_parser

    parser = build_parser()  # the shared options stay harmless before `devices` (an alias with --model)
    assert _stray_listen_options(parser.parse_args(["--model", "7class", "-v", "devices"]), parser) is None
    assert "--plain" in _stray_listen_options(parser.parse_args(["--plain", "devices"]), parser)


def test_an_import_broken_by_ctrl_c_is_exit_130_too(monkeypatch, capsys) -> None:
    """A Ctrl-C that cuts a third-party module's import short can leave that module failing
    with another error on its way out (webrtcvad's ``except PackageNotFoundError`` after its
    interrupted ``from importlib.metadata import ...``: NameError, seen in CI): still one line
    and exit 130. The same error without a Ctrl-C behind it is a bug and propagates."""
    import ser_live.cli
    from ser_live import entry

    def import_cut_by_ctrl_c() -> int:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise NameError("name 'PackageNotFoundError' is not defined")

    monkeypatch.setattr(entry, "stop_signals_as_interrupt_from_now", lambda: None)  # this process's own
    monkeypatch.setattr(ser_live.cli, "main", import_cut_by_ctrl_c)
    assert entry.main() == 130
    assert capsys.readouterr().err == "ser-live: interrupted\n"

    def plain_bug() -> int:
        raise NameError("a bug")

    monkeypatch.setattr(ser_live.cli, "main", plain_bug)
    with pytest.raises(NameError, match="a bug"):
        entry.main()


def test_a_ctrl_c_an_import_replaced_with_its_own_error_is_exit_130(monkeypatch, capsys) -> None:
    """A Ctrl-C that cuts NumPy's C extension short while ``ser-live`` imports its modules
    comes out as NumPy's ImportError "PyCapsule_Import could not import module "datetime""
    with no trace of the interrupt (seen with `python -m ser_live` and Ctrl-C 0.07 s after
    start: exit 1 and NumPy's advice on a broken installation). It is still one line and exit
    130. The same import error with no Ctrl-C behind it propagates."""
    import types

    from ser_live import entry

    class _ImportCutShort(types.ModuleType):
        """``ser_live.cli`` whose ``from ... import main`` runs into a Ctrl-C, then raises
        the error NumPy's import raises in its place, outside the handling of it."""

        def __init__(self, *, ctrl_c: bool) -> None:
            super().__init__("ser_live.cli")
            self.ctrl_c = ctrl_c

        def __getattr__(self, name: str):
            if self.ctrl_c:
                try:
                    os.kill(os.getpid(), signal.SIGINT)
                    time.sleep(1.0)  # the handler runs here
                except KeyboardInterrupt:
                    pass
            raise ImportError('PyCapsule_Import could not import module "datetime"')

    monkeypatch.setattr(entry, "stop_signals_as_interrupt_from_now", lambda: None)  # this process's own
    old = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's, as in a terminal
    try:
        monkeypatch.setitem(sys.modules, "ser_live.cli", _ImportCutShort(ctrl_c=True))
        assert entry.main() == 130
        assert capsys.readouterr().err == "ser-live: interrupted\n"
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
        monkeypatch.setitem(sys.modules, "ser_live.cli", _ImportCutShort(ctrl_c=False))
        with pytest.raises(ImportError, match="PyCapsule_Import"):
            entry.main()
    finally:
        signal.signal(signal.SIGINT, old)


def test_an_empty_input_path_is_a_usage_error_not_the_current_folder(tmp_path: Path, emodb_root: Path) -> None:
    """`ser-live predict "$FILE"` with FILE unset passes "", which Python reads as the folder
    the command runs in: it classified every audio file under it (4,263 files from /tmp, seen
    while checking an install). Now: a usage error saying so, nothing classified; '.' still
    walks the current folder."""
    (tmp_path / "a.flac").symlink_to(sorted((emodb_root / "wav").glob("*.flac"))[0])
    res = subprocess.run([*_ser_live_cmd(), "predict", ""], env=_env(), capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert res.returncode == 2 and "empty" in res.stderr and res.stdout == "", (res.returncode, res.stderr)
    res = subprocess.run([*_ser_live_cmd(), "predict", "."], env=_env(), capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert res.returncode == 0 and json.loads(res.stdout.splitlines()[0])["label"], res.stderr

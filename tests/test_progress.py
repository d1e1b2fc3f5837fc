"""Progress of long runs (issue 24): ``ser-live predict`` and ``python -m train`` show a rich
progress bar on stderr when it is a terminal (a pty here), nothing on a pipe, and
``predict`` always closes with a summary line (files, failed, files/s).

The programs run as subprocesses, as a user runs them; ``SER_LIVE_PROGRESS_AFTER_S=0``
shows the bar from the first file so that a short run of a few real RAVDESS files suffices.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
       "SER_LIVE_PROGRESS_AFTER_S": "0", "COLUMNS": "100", "TERM": "xterm-256color"}
ENV.pop("SER_LIVE_MODEL", None)
BAR = "━"  # rich's bar


def _run_with_stderr_on(cmd: list[str], *, tty: bool) -> tuple[int, str, str]:
    """Run ``cmd``: stdout a pipe, stderr a pty (``tty``) or a pipe; (status, stdout, stderr)."""
    if not tty:
        res = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        return res.returncode, res.stdout, res.stderr
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the slave side is closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        out, _ = proc.communicate(timeout=300)
        reader.join(timeout=10)
    finally:
        os.close(master)
    return proc.returncode, out.decode(), b"".join(chunks).decode(errors="replace")


@pytest.fixture(scope="module")
def some_files(ravdess_root) -> list[str]:
    files = sorted((ravdess_root / "Actor_01").glob("*.flac"))[:12]
    if len(files) < 12:
        pytest.skip("RAVDESS Actor_01 not found")
    return [str(f) for f in files]


@pytest.mark.parametrize("tty", [True, False], ids=["tty", "pipe"])
def test_predict_progress_on_a_terminal_only_and_a_summary_always(some_files, tmp_path, tty):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    cmd = [sys.executable, "-m", "ser_live", "predict", *some_files, str(bad), "--output", str(tmp_path / "p.csv")]
    rc, out, err = _run_with_stderr_on(cmd, tty=tty)
    assert rc == 3, err  # the bad file
    assert out == ""
    assert re.search(r"done: 13 files \(1 failed\) in [\d.]+ s, [\d.]+ files/s -> ", err), err
    if tty:
        assert BAR in err and "classifying" in err and "files/s" in err, err
    else:
        assert BAR not in err and "classifying" not in err and "\x1b[" not in err, err


def test_one_long_call_shows_how_far_into_it_the_run_is(some_files, tmp_path):
    """One long file with ``--segments`` (a recorded call): the bar names the file and the
    time reached in it, since the file count moves only when the file is done (before: "0/1"
    for as long as the file took)."""
    import numpy as np
    import soundfile as sf

    from ser_live.audiofile import SAMPLE_RATE_HZ, decode_audio

    gap = np.zeros(SAMPLE_RATE_HZ // 2, dtype=np.int16)
    call = np.concatenate([part for f in some_files for part in (decode_audio(f), gap)])  # ~45 s, 12 turns
    path = tmp_path / "call.wav"
    sf.write(path, call, SAMPLE_RATE_HZ, subtype="PCM_16")
    cmd = [sys.executable, "-m", "ser_live", "predict", str(path), "--segments", "--output", str(tmp_path / "c.csv")]
    rc, _, err = _run_with_stderr_on(cmd, tty=True)
    assert rc == 0, err
    times = [int(m) * 60 + int(s) for m, s in re.findall(r"classifying call\.wav at (\d+):(\d\d)", err)]
    assert times and 0 < max(times) <= len(call) / SAMPLE_RATE_HZ, err


@pytest.mark.parametrize("tty", [True, False], ids=["tty", "pipe"])
def test_train_features_progress_on_a_terminal_only(tty, emodb_root):
    cmd = [sys.executable, "-m", "train", "-j", "1", "features", "--corpus", "emodb", "--no-cache"]
    rc, out, err = _run_with_stderr_on(cmd + ["--limit", "6"], tty=tty)
    assert rc == 0, err
    assert "files/s" in out
    assert re.search(r"6 files \(0 failed\) in [\d.]+ s, [\d.]+ files/s", err), err
    if tty:
        assert BAR in err and "emodb" in err, err
    else:
        assert BAR not in err and "\x1b[" not in err, err

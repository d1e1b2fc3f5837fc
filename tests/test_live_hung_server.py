"""A hung audio server when ``ser-live`` starts: it must neither hang nor ignore Ctrl-C.

PortAudio's initialisation (``import sounddevice``) and the opening of a device ask the audio
server and wait for its answer for ever, inside C code where the main thread never sees a
Ctrl-C; sounddevice also points fd 2 at /dev/null meanwhile. The server here is this module's
own PulseAudio daemon (``tests/pulse.py``), stopped with SIGSTOP by its PID (a hung server:
its socket accepts, nothing answers) and continued afterwards.
"""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from .pulse import PulseNullSink, missing_requirements
from .test_capture import _require_cli
from .test_capture_failures import _Run


@pytest.fixture(scope="module")
def hung_server() -> Iterator[PulseNullSink]:
    """A null-sink daemon of this module's own, stopped (SIGSTOP) for each test's run."""
    missing = missing_requirements()
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="serlive-pulse-hung-") as tmp:
        with PulseNullSink(runtime_dir=Path(tmp), set_process_env=False) as pulse:
            _require_cli(dict(pulse.env))
            yield pulse


def _run_with_server_stopped(pulse: PulseNullSink, args: list[str]) -> _Run:
    os.kill(pulse.daemon_pid, signal.SIGSTOP)
    return _Run(["--plain", *args], dict(pulse.env))


@pytest.mark.microphone
def test_a_hung_audio_server_at_start_ends_with_exit_6_and_says_so(hung_server: PulseNullSink) -> None:
    """Warned after 2 s, given up after --no-audio-timeout-s: exit 6 naming the server."""
    run = _run_with_server_stopped(hung_server, ["--no-audio-timeout-s", "3"])
    try:
        rc = run.wait(timeout_s=60)
    finally:
        run.kill()
        os.kill(hung_server.daemon_pid, signal.SIGCONT)
    out = run.text()
    assert rc == 6, f"exit {rc}:\n{out}"
    assert "has not answered for 2 s" in out, out
    assert "error: the audio system did not answer within 3 s" in out and "audio server" in out, out
    assert "Traceback" not in out and "replaying the bundled demo" not in out, out


@pytest.mark.microphone
def test_ctrl_c_while_the_audio_server_hangs_at_start_is_exit_130(hung_server: PulseNullSink) -> None:
    """A Ctrl-C while PortAudio waits for a hung server ends the run (before: ignored)."""
    run = _run_with_server_stopped(hung_server, ["--device", hung_server.device_name])
    try:
        run.wait_for_line("the audio system has not answered", timeout_s=60)
        run.proc.send_signal(signal.SIGINT)
        rc = run.wait(timeout_s=30)
    finally:
        run.kill()
        os.kill(hung_server.daemon_pid, signal.SIGCONT)
    out = run.text()
    assert rc == 130, f"exit {rc}:\n{out}"
    assert "Traceback" not in out, out

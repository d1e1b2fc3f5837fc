"""A hung audio server when ``ser-live`` starts: it must neither hang nor ignore Ctrl-C.

PortAudio's initialisation (``import sounddevice``) and the opening of a device ask the audio
server and wait for its answer for ever, inside C code where the main thread never sees a
Ctrl-C; sounddevice also points fd 2 at /dev/null meanwhile. The server here is this module's
own PulseAudio daemon (``tests/pulse.py``), stopped with SIGSTOP by its PID (a hung server:
its socket accepts, nothing answers) and continued afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
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


@contextlib.contextmanager
def _run_with_server_stopped(pulse: PulseNullSink, args: list[str]) -> Iterator[_Run]:
    """``ser-live --plain ARGS`` started while the server is stopped; killed if still
    running at the end, and the server continued."""
    os.kill(pulse.daemon_pid, signal.SIGSTOP)
    run = _Run(["--plain", *args], dict(pulse.env))
    try:
        yield run
    finally:
        run.kill()
        os.kill(pulse.daemon_pid, signal.SIGCONT)


@pytest.mark.microphone
def test_a_hung_audio_server_at_start_ends_with_exit_6_and_says_so(hung_server: PulseNullSink) -> None:
    """Warned after 2 s, given up after --no-audio-timeout-s: exit 6 naming the server."""
    with _run_with_server_stopped(hung_server, ["--no-audio-timeout-s", "3"]) as run:
        rc = run.wait(timeout_s=60)
    out = run.text()
    assert rc == 6, f"exit {rc}:\n{out}"
    assert "has not answered for 2 s" in out, out
    assert "error: the audio system did not answer within 3 s" in out and "audio server" in out, out
    assert "Traceback" not in out and "replaying the bundled demo" not in out, out


@pytest.mark.microphone
def test_ctrl_c_while_the_audio_server_hangs_at_start_is_exit_130(hung_server: PulseNullSink) -> None:
    """A Ctrl-C while PortAudio waits for a hung server ends the run (before: ignored); the
    initialisation, still waiting, is left behind after PORTAUDIO_SETTLE_S (and said so at
    ``-v``)."""
    with _run_with_server_stopped(hung_server, ["-v", "--device", hung_server.device_name]) as run:
        run.wait_for_line("the audio system has not answered", timeout_s=60)
        run.proc.send_signal(signal.SIGINT)
        rc = run.wait(timeout_s=30)
    out = run.text()
    assert rc == 130, f"exit {rc}:\n{out}"
    assert "Traceback" not in out, out
    assert "leaving with PortAudio calls still under way after" in out and "ser-live-portaudio-init" in out, out


@pytest.mark.microphone
def test_ctrl_c_while_portaudio_initialises_waits_for_it_before_leaving(hung_server: PulseNullSink) -> None:
    """A Ctrl-C while PortAudio initialises ends the run, but the process leaves (``os._exit``)
    only once ``Pa_Initialize`` has returned: one that dies inside it can leave JACK's metadata
    database locked, and every later PortAudio program of the user hangs on it
    (:func:`ser_live.audio.settle_portaudio_calls`). Here the server answers again 0.3 s after
    the Ctrl-C, so the initialisation returns within the program's wait."""
    with _run_with_server_stopped(hung_server, ["-v", "--device", hung_server.device_name]) as run:
        run.wait_for_line("the audio system has not answered", timeout_s=60)
        run.proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        os.kill(hung_server.daemon_pid, signal.SIGCONT)
        rc = run.wait(timeout_s=30)
    out = run.text()
    assert rc == 130, f"exit {rc}:\n{out}"
    assert "Traceback" not in out, out
    assert "PortAudio's call under way returned after" in out, out
    assert "still under way" not in out, out


@pytest.mark.microphone
def test_a_slow_server_that_answers_at_last_keeps_alsas_chatter_off_the_terminal(hung_server: PulseNullSink) -> None:
    """The server answers only after the 2 s warning: the run goes on and ends as asked, the
    warning is seen, and what ALSA and JACK print during the rest of PortAudio's
    initialisation is not (sounddevice points fd 2 at /dev/null then; the warning used to
    point it back, and a screenful of "ALSA lib ..." lines followed it)."""
    with _run_with_server_stopped(hung_server, ["--duration-s", "2", "--device", hung_server.device_name]) as run:
        run.wait_for_line("the audio system has not answered", timeout_s=60)
        os.kill(hung_server.daemon_pid, signal.SIGCONT)
        rc = run.wait(timeout_s=60)
    out = run.text()
    assert rc == 0, f"exit {rc}:\n{out}"
    assert "has not answered for 2 s" in out and "ser-live summary" in out, out
    assert "ALSA lib" not in out and "jack server" not in out.lower(), out


def test_settle_portaudio_calls_waits_for_a_call_and_names_one_that_does_not_return() -> None:
    """The wait behind the two tests above, on calls of known length: one that returns within
    the time is waited for; one that does not is named, after at most the time given."""
    import threading
    import time as _time

    from ser_live import audio

    done = threading.Event()
    audio._call_on_thread(lambda: _time.sleep(0.2), name="test-quick-call")
    assert audio.portaudio_call_under_way()
    assert audio.settle_portaudio_calls(at_most_s=10.0) == []
    assert not audio.portaudio_call_under_way()

    audio._call_on_thread(lambda: done.wait(30), name="test-stuck-call")
    try:
        t0 = _time.monotonic()
        assert audio.settle_portaudio_calls(at_most_s=0.3) == ["test-stuck-call"]
        assert _time.monotonic() - t0 < 5.0
        assert audio.portaudio_call_under_way()
    finally:
        done.set()
    assert audio.settle_portaudio_calls(at_most_s=10.0) == []


#: Run in a child process (a hang before the fix must fail the test, not block pytest): open
#: the device while the server answers, say so, wait for a line on stdin (the test stops the
#: server meanwhile), open it again and print what happened.
_OPEN_TWICE = """
import sys
sys.path.insert(0, {root!r})
from ser_live.audio import MicrophoneSource
MicrophoneSource(device={device!r})
print("opened", flush=True)
sys.stdin.readline()
try:
    MicrophoneSource(device={device!r}, no_audio_timeout_s=2)
    print("opened again")
except Exception as exc:
    print(type(exc).__name__, exc)
"""


@pytest.mark.microphone
def test_a_server_that_hangs_after_the_device_list_gives_a_device_error(hung_server: PulseNullSink) -> None:
    """PortAudio initialised while the server answered, then the server hangs: opening the
    device (its settings check waits for the server) ends in AudioSystemHungError after
    ``no_audio_timeout_s`` (before: it waited for ever)."""
    from .test_capture import REPO_ROOT

    code = _OPEN_TWICE.format(root=str(REPO_ROOT), device=hung_server.device_name)
    proc = subprocess.Popen([sys.executable, "-c", code], env=dict(hung_server.env), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout.readline().strip() == "opened"
        os.kill(hung_server.daemon_pid, signal.SIGSTOP)
        try:
            out, _ = proc.communicate("\n", timeout=60)
        finally:
            os.kill(hung_server.daemon_pid, signal.SIGCONT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "AudioSystemHungError the audio system did not answer within 2 s while opening input device" in out, out

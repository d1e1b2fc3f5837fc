"""The capture path when the microphone fails: a suspended source, a dying audio server.

Runs the real ``ser-live`` program on the PulseAudio null-sink microphone of ``tests/pulse.py``
(DESIGN.md, "Testing the capture path"):

* a suspended source (``pactl suspend-source``) delivers no samples: ser-live warns within
  ~2 s, ends with exit 6 after ``--no-audio-timeout-s``, honours ``--duration-s`` by the wall
  clock, and a Ctrl-C (SIGINT) ends it within 2 s although PortAudio's ``Pa_StopStream``
  would block;
* the audio server killed (by PID: a daemon this test started) mid-utterance: exit 6 naming
  the cause, the utterance in progress saved and emitted, the summary printed, no raw
  PortAudio assertion lines on stderr;
* the run stopped (Ctrl-Z) for longer than the no-audio timeout, then continued: it goes on.

``.ci/run`` fails when any of these is skipped (``REQUIRED_TESTS``): rename them in both places.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from ser_live.audiofile import SAMPLE_RATE_HZ, write_wav

from .pulse import PulseNullSink, clear_stuck_jack_db, pulse_null_sink  # noqa: F401  (pytest fixture)
from .test_capture import _require_cli, _ser_live_cmd, _speech_int16

#: A long RAVDESS utterance (about 4 s), to kill the server in its middle.
LONG_UTTERANCE = ("Actor_01/03-01-05-02-01-01-01.flac",)


class _Run:
    """A ``ser-live`` process whose stderr lines are collected with their arrival times."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [*_ser_live_cmd(), *args], env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.lines: list[tuple[float, str]] = []
        self.stdout = b""
        self._lock = threading.Lock()
        self._err_thread = threading.Thread(target=self._read_err, daemon=True)
        self._out_thread = threading.Thread(target=self._read_out, daemon=True)
        self._err_thread.start()
        self._out_thread.start()

    def _read_err(self) -> None:
        for raw in self.proc.stderr:
            with self._lock:
                self.lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))

    def _read_out(self) -> None:
        self.stdout = self.proc.stdout.read()

    def text(self) -> str:
        with self._lock:
            return "\n".join(line for _t, line in self.lines)

    def wait_for_line(self, needle: str, *, timeout_s: float) -> float:
        """Monotonic time at which a stderr line containing ``needle`` arrived."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                for t, line in self.lines:
                    if needle in line:
                        return t
            time.sleep(0.02)
        raise AssertionError(f"no stderr line with {needle!r} within {timeout_s} s:\n{self.text()}")

    def wait(self, timeout_s: float) -> int:
        try:
            rc = self.proc.wait(timeout=timeout_s)
        finally:
            self.kill()
        self._err_thread.join(5)
        self._out_thread.join(5)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _start_listening(pulse: PulseNullSink, args: list[str]) -> _Run:
    env = dict(pulse.env)
    _require_cli(env)
    run = _Run(["--plain", "--device", pulse.device_name, *args], env)
    try:
        pulse.wait_for_recorder(timeout_s=120.0, proc=run.proc)
    except Exception as exc:
        run.kill()
        raise AssertionError(f"{exc}:\n{run.text()}") from exc
    return run


def _suspend(pulse: PulseNullSink, on: bool) -> None:
    subprocess.run(
        ["pactl", "suspend-source", pulse.source_name, "1" if on else "0"],
        env=pulse.env, check=True, capture_output=True, timeout=10,
    )


@pytest.fixture
def suspended_mic(pulse_null_sink: PulseNullSink):  # noqa: F811
    """The module's microphone, suspended by the test through ``suspend()``; resumed after."""
    yield lambda: _suspend(pulse_null_sink, True)
    _suspend(pulse_null_sink, False)


@pytest.mark.microphone
def test_suspended_microphone_warns_then_ends_with_exit_6(
    pulse_null_sink: PulseNullSink, suspended_mic  # noqa: F811
) -> None:
    """No samples: a warning within ~2 s, then exit 6 naming the cause after the timeout."""
    run = _start_listening(pulse_null_sink, ["--no-audio-timeout-s", "4"])
    try:
        time.sleep(0.5)
        t_suspend = time.monotonic()
        suspended_mic()
        t_warn = run.wait_for_line("no audio from input device", timeout_s=10)
        rc = run.wait(timeout_s=30)
        t_end = time.monotonic()
    finally:
        run.kill()
    out = run.text()
    print(f"warning {t_warn - t_suspend:.2f} s after the suspend, exit {t_end - t_suspend:.2f} s after it")
    assert 1.5 <= t_warn - t_suspend <= 3.5, out
    assert rc == 6, f"exit {rc}:\n{out}"
    assert "error: input device" in out and "no audio for" in out, out
    assert "ser-live summary" in out, out
    assert 3.5 <= t_end - t_suspend <= 9.0, out


@pytest.mark.microphone
def test_sigint_ends_a_suspended_microphone_run_promptly(
    pulse_null_sink: PulseNullSink, suspended_mic  # noqa: F811
) -> None:
    """Ctrl-C while PortAudio gets nothing (Pa_StopStream would block): ends, exit 130."""
    run = _start_listening(pulse_null_sink, [])
    try:
        suspended_mic()
        run.wait_for_line("no audio from input device", timeout_s=10)
        t_sig = time.monotonic()
        run.proc.send_signal(signal.SIGINT)
        rc = run.wait(timeout_s=30)
        elapsed_s = time.monotonic() - t_sig
    finally:
        run.kill()
    out = run.text()
    print(f"SIGINT to exit: {elapsed_s:.2f} s")
    assert rc == 130, f"exit {rc}:\n{out}"
    assert elapsed_s < 5.0, f"{elapsed_s:.1f} s from SIGINT to exit:\n{out}"
    assert "ser-live summary" in out, out


@pytest.mark.microphone
def test_duration_is_honoured_by_wall_clock_when_no_audio_comes(
    pulse_null_sink: PulseNullSink, suspended_mic  # noqa: F811
) -> None:
    """``--duration-s 3`` with a suspended source ends after ~4 s of wall clock, exit 6."""
    run = _start_listening(pulse_null_sink, ["--duration-s", "3"])
    try:
        suspended_mic()
        rc = run.wait(timeout_s=30)
        elapsed_s = time.monotonic() - run.t0
    finally:
        run.kill()
    out = run.text()
    assert rc == 6, f"exit {rc}:\n{out}"
    assert "--duration-s 3 s passed on the wall clock" in out, out
    assert elapsed_s < 25, out  # start-up (model load) included; the default timeout is 10 s


@pytest.mark.microphone
def test_calibrate_takes_its_own_no_audio_timeout_on_a_suspended_microphone(
    pulse_null_sink: PulseNullSink, suspended_mic, tmp_path: Path  # noqa: F811
) -> None:
    """``ser-live calibrate`` listens to the microphone with the same no-audio timeout as
    ``ser-live``, but ``calibrate --no-audio-timeout-s`` was refused (exit 2, unrecognised:
    it was only taken before the command) and ``calibrate --help`` did not name it. Given
    after the command, a suspended microphone now ends the calibration after that time: exit
    6 naming the timeout, no profile written."""
    profile = tmp_path / "anna.npz"
    run = _Run(["calibrate", "--profile", str(profile), "--plain", "--device", pulse_null_sink.device_name,
                "--no-audio-timeout-s", "3"], dict(pulse_null_sink.env))
    try:
        pulse_null_sink.wait_for_recorder(timeout_s=120.0, proc=run.proc)
        suspended_mic()
        rc = run.wait(timeout_s=60)
    finally:
        run.kill()
    out = run.text()
    assert rc == 6, f"exit {rc}:\n{out}"
    assert "no-audio timeout 3 s" in out, out
    assert not profile.exists()


@pytest.mark.microphone
@pytest.mark.slow
def test_audio_server_killed_mid_utterance(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Killing the (test's own) PulseAudio daemon mid-utterance: exit 6 with the cause, the
    utterance in progress saved and written to --jsonl, the summary printed, no raw
    PortAudio assertion lines."""
    from .pulse import missing_requirements

    if missing_requirements():
        pytest.skip(f"needs {', '.join(missing_requirements())}")
    (speech,) = _speech_int16(request, tmp_path, LONG_UTTERANCE)
    wav = write_wav(tmp_path / "long.wav", np.concatenate([speech, speech]), sample_rate_hz=SAMPLE_RATE_HZ)
    saved, jsonl = tmp_path / "saved", tmp_path / "out.jsonl"
    # A daemon of its own (the module's one serves the other tests), killed by its PID.
    with tempfile.TemporaryDirectory(prefix="serlive-pulse-kill-") as tmp:
        with PulseNullSink(runtime_dir=Path(tmp), set_process_env=False) as pulse:
            run = _start_listening(pulse, ["--save-utterances", str(saved), "--jsonl", str(jsonl)])
            try:
                time.sleep(0.5)
                player = pulse.play_async(wav)
                time.sleep(2.5)  # into the first utterance
                assert player.poll() is None, "paplay ended before the kill"
                t_kill = time.monotonic()
                os.kill(pulse.daemon_pid, signal.SIGKILL)
                rc = run.wait(timeout_s=30)
                elapsed_s = time.monotonic() - t_kill
            finally:
                run.kill()
    out = run.text()
    print(f"server killed -> exit {rc} after {elapsed_s:.2f} s")
    assert rc == 6, f"exit {rc}:\n{out}"
    assert "ended by itself" in out and "audio server" in out, out
    assert "ser-live summary" in out, out
    assert "Expression '" not in out, out
    assert elapsed_s < 5.0, out
    records = [r for line in jsonl.read_text().splitlines() if (r := json.loads(line))["kind"] == "utterance"]
    wavs = sorted(saved.glob("*.wav"))
    index = [json.loads(line) for line in (saved / "index.jsonl").read_text().splitlines()]
    assert len(records) == len(wavs) == len(index) == 1, (records, wavs, out)
    # The utterance was cut by the kill: it ends within the played speech (about 2.5 s in).
    assert 1.0 <= records[0]["end_s"] - records[0]["start_s"] <= 4.0, records


@pytest.mark.microphone
@pytest.mark.slow
def test_a_run_stopped_with_ctrl_z_past_the_timeout_goes_on_after_fg(pulse_null_sink: PulseNullSink) -> None:  # noqa: F811
    """Stopped for longer than --no-audio-timeout-s, as Ctrl-Z stops it, then ``fg``
    (SIGCONT): the microphone is fine, so the run goes on (before: exit 6, "no audio for 8 s",
    at once). Stopped with SIGSTOP, not Ctrl-Z's SIGTSTP: the kernel discards SIGTSTP for a
    process of an orphaned process group (a CI job's), which then never stops."""
    run = _start_listening(pulse_null_sink, ["--no-audio-timeout-s", "2", "-v"])
    try:
        run.proc.send_signal(signal.SIGSTOP)
        time.sleep(8)  # stopped for four times the timeout, longer than the audio server buffers
        run.proc.send_signal(signal.SIGCONT)
        # the watchdog's first round after fg sees the gap and restarts the no-audio count
        # (before: it ended the run with exit 6 in that round)
        run.wait_for_line("the process did not run for", timeout_s=30)
        alive = run.proc.poll() is None
        run.proc.send_signal(signal.SIGINT)
        rc = run.wait(timeout_s=30)
    finally:
        run.kill()
    out = run.text()
    assert alive and rc == 130, f"exit {rc}:\n{out}"
    assert "no audio for" not in out, out


@pytest.mark.microphone
def test_a_short_warning_time_does_not_disable_the_no_audio_timeout(
    pulse_null_sink: PulseNullSink, suspended_mic  # noqa: F811
) -> None:
    """``no_audio_warn_s`` below the watchdog's 0.1 s round: a suspended microphone still ends
    the capture after ``no_audio_timeout_s`` (before: every round looked like the process had
    been stopped, the no-audio count restarted each time and the run listened for ever)."""
    from ser_live.ringbuffer import RingBuffer

    from ser_live.audio import MicrophoneSource
    from ser_live.errors import CaptureError

    src = MicrophoneSource(device=pulse_null_sink.device_name, no_audio_timeout_s=1.0, no_audio_warn_s=0.05)
    src.start(RingBuffer(SAMPLE_RATE_HZ * 5))
    suspended_mic()
    try:
        deadline = time.monotonic() + 20
        while src.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        src.stop()
    assert isinstance(src.error, CaptureError) and "no audio for" in str(src.error), src.error


@pytest.mark.microphone
@pytest.mark.parametrize("hangs", [False, True], ids=["closes", "close-hangs"])
def test_a_stream_portaudio_will_not_close_is_left_after_a_second(
    pulse_null_sink: PulseNullSink, hangs: bool  # noqa: F811
) -> None:
    """``MicrophoneSource.stop()`` returns within about ``STREAM_CLOSE_TIMEOUT_S`` whatever
    PortAudio does, and says (``abandoned``) whether it left the stream to its closing
    thread: here the real stream, held 3 s in its stop as a hung server would hold
    ``Pa_StopStream``. A stream that closes is not left."""
    from ser_live.audio import STREAM_CLOSE_TIMEOUT_S, MicrophoneSource
    from ser_live.ringbuffer import RingBuffer

    src = MicrophoneSource(device=pulse_null_sink.device_name)
    src.start(RingBuffer(SAMPLE_RATE_HZ * 5))
    time.sleep(0.3)
    real = src._stream
    released = threading.Event()

    class HeldStream:  # the real stream, whose stop (or abort) PortAudio holds
        def _held(self, name: str) -> None:
            if hangs:
                released.wait(3.0)
            getattr(real, name)()

        def stop(self) -> None:
            self._held("stop")

        def abort(self) -> None:
            self._held("abort")

        def close(self) -> None:
            real.close()

    src._stream = HeldStream()
    t0 = time.monotonic()
    src.stop()
    took_s = time.monotonic() - t0
    released.set()
    assert src.abandoned is hangs
    assert src.finished.is_set()
    assert took_s < STREAM_CLOSE_TIMEOUT_S + 0.5 if hangs else took_s < STREAM_CLOSE_TIMEOUT_S, took_s
    if hangs:
        time.sleep(0.5)  # the closing thread finishes with the real stream


@pytest.mark.microphone
def test_giving_up_on_a_slow_audio_server_exits_6_not_by_a_crash(pulse_null_sink: PulseNullSink) -> None:  # noqa: F811
    """An audio server slower to answer than ``--no-audio-timeout-s`` (here the live one and a
    timeout shorter than PortAudio's initialisation): exit 6 with the reason. The process
    used to exit while PortAudio was still initialising on its thread, and the C libraries'
    exit handlers crashed it (SIGSEGV, exit 139) after the message."""
    env = dict(pulse_null_sink.env)
    _require_cli(env)
    for _ in range(3):
        res = subprocess.run(
            [*_ser_live_cmd(), "--plain", "--device", pulse_null_sink.device_name, "--no-audio-timeout-s", "0.02",
             "--duration-s", "1"],
            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        )
        if res.returncode == 0 and "did not answer" not in res.stderr:
            pytest.skip("PortAudio initialised within 0.02 s here: nothing was given up on")
        assert res.returncode == 6, f"exit {res.returncode}:\n{res.stderr}"
        assert "the audio system did not answer within 0.02 s" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr, res.stderr


@pytest.mark.microphone
@pytest.mark.slow
def test_ctrl_c_while_the_microphone_is_set_up_never_crashes(pulse_null_sink: PulseNullSink) -> None:  # noqa: F811
    """Ctrl-C at a sweep of moments during start-up (model load, PortAudio initialising, the
    device opening, listening): always exit 130, never SIGSEGV. A Ctrl-C that came while
    PortAudio was being set up used to crash the process at exit, after "interrupted"."""
    import signal as _signal

    env = dict(pulse_null_sink.env)
    _require_cli(env)
    crashes = []
    for i in range(30):
        delay_s = 0.15 + 0.015 * i
        proc = subprocess.Popen([*_ser_live_cmd(stacks_on_sigusr1=True), "--plain", "--device",
                                 pulse_null_sink.device_name],
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(delay_s)
        proc.send_signal(_signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            # A Ctrl-C in this window is, rarely, not seen at all (a known defect, left open:
            # seen once in CI, 0.435 s after the start; not an audio library taking SIGINT,
            # strace shows only Python's handler installed); the run goes on, and a second
            # one ends it. What this test holds is that no stop crashes. Every thread's stack
            # first (faulthandler, on SIGUSR1), in a warning of the test run's summary: where
            # such a run is is what its cause needs.
            proc.send_signal(_signal.SIGUSR1)
            time.sleep(1.0)
            proc.send_signal(_signal.SIGINT)
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            warnings.warn(f"a Ctrl-C {delay_s:.3f} s after the start was not seen within 10 s; the run's "
                          f"stacks then, and what it wrote:\n{err.decode(errors='replace')[-6000:]}")
        if proc.returncode != 130:
            crashes.append((round(delay_s, 3), proc.returncode, err.decode(errors="replace")[-300:]))
    # a run stopped inside Pa_Initialize may leave JACK's metadata database locked, and every
    # later PortAudio start of this user hang on it: not this test's question, cleared here
    clear_stuck_jack_db()
    assert not crashes, crashes

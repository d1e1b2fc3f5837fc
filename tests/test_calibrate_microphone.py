"""``ser-live calibrate`` on a real (PulseAudio null-sink) microphone, prompts answered by
played corpus utterances; then ``ser-live --profile`` on the same microphone uses the profile.

``.ci/run`` fails when this test is skipped or does not run (``REQUIRED_TESTS``); rename it
in both places.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from ser_live.audiofile import write_wav

from .pulse import PulseNullSink, pulse_null_sink  # noqa: F401  (pytest fixture)
from .test_capture import _ser_live_cmd, _speech_int16

#: One RAVDESS take per label of the default model, in its label (= prompt) order.
TAKES = (
    "Actor_09/03-01-01-01-01-01-09.flac",  # neutral
    "Actor_09/03-01-03-02-01-01-09.flac",  # happy
    "Actor_09/03-01-04-02-01-01-09.flac",  # sad
    "Actor_09/03-01-05-02-01-01-09.flac",  # angry
)
LABELS = ("neutral", "happy", "sad", "angry")


def _lines(stream) -> "queue.Queue[str]":
    """A queue filled with the stream's lines by a reader thread (None at the end)."""
    q: queue.Queue = queue.Queue()

    def read() -> None:
        for line in stream:
            q.put(line.rstrip("\n"))
        q.put(None)

    threading.Thread(target=read, daemon=True).start()
    return q


def _wait_for(q: "queue.Queue[str]", seen: list[str], pattern: str, timeout_s: float) -> str | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = q.get(timeout=0.1)
        except queue.Empty:
            continue
        if line is None:
            return None
        seen.append(line)
        if pattern in line:
            return line
    return None


@pytest.mark.microphone
@pytest.mark.slow
def test_calibrate_on_the_microphone_then_listen_with_the_profile(
    pulse_null_sink: PulseNullSink, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    env = dict(pulse_null_sink.env, SER_LIVE_PROFILES=str(tmp_path / "profiles"))
    cmd = _ser_live_cmd()
    takes = [write_wav(tmp_path / f"take{i}.wav", u) for i, u in enumerate(_speech_int16(request, tmp_path, TAKES))]
    err_path = tmp_path / "calibrate.err"

    # 1. calibrate: one take per label, each played when its prompt is shown
    with open(err_path, "w") as err_file:
        proc = subprocess.Popen(
            [*cmd, "calibrate", "--profile", "mic-user", "--per-class", "1", "--device", pulse_null_sink.device_name],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err_file, text=True,
        )
        seen: list[str] = []
        try:
            q = _lines(proc.stdout)
            assert _wait_for(q, seen, "prompt 1/4 [neutral]", 120.0), (seen, err_path.read_text())
            pulse_null_sink.wait_for_recorder(timeout_s=60.0, proc=proc)
            time.sleep(0.5)
            for i, (take, label) in enumerate(zip(takes, LABELS)):
                for attempt in range(3):  # a rejected take is asked again: play it again
                    pulse_null_sink.play(take)
                    line = _wait_for(q, seen, "take ", 20.0)
                    assert line is not None, (seen, err_path.read_text())
                    if f"take {i + 1}/4 ({label}," in line and "accepted" in line:
                        break
                else:
                    raise AssertionError(f"take {i + 1} ({label}) never accepted: {seen}")
            assert _wait_for(q, seen, "written to", 60.0), (seen, err_path.read_text())
            rc = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert rc == 0, (seen, err_path.read_text())
    profile = tmp_path / "profiles" / "mic-user.npz"
    assert profile.is_file(), seen
    assert [ln for ln in seen if "accepted" in ln][-1].startswith("take 4/4 (angry,"), seen

    # 2. listen with the profile on the same microphone
    jsonl = tmp_path / "live.jsonl"
    log_path = tmp_path / "listen.log"
    session = np.concatenate([np.concatenate([u, np.zeros(19200, np.int16)]) for u in
                              _speech_int16(request, tmp_path, TAKES[1:])])
    session_wav = write_wav(tmp_path / "session.wav", session)
    rc, out = pulse_null_sink.listen_while_playing(
        [*cmd, "--profile", "mic-user", "--plain", "--jsonl", str(jsonl), "--device", pulse_null_sink.device_name],
        wav=session_wav, jsonl=jsonl, n_lines=3, log_path=log_path, env=env,
    )
    assert rc in (0, 130), out
    records = [r for line in jsonl.read_text().splitlines() if (r := json.loads(line))["kind"] == "utterance"]
    assert len(records) == 3, out
    assert all(r["profile"] == "mic-user" for r in records), records
    assert "and profile mic-user (4 utt.)" in out and "profile              mic-user (4 utt.)" in out, out

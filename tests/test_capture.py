"""The real capture path: PortAudio reading a (PulseAudio null-sink) microphone.

Speech is played into a PulseAudio null sink whose monitor is the default source (see
``tests/pulse.py`` and DESIGN.md, "Testing the capture path"); what PortAudio delivers must
be the played samples, bit for bit, at some offset. Then the real ``ser-live`` program
listens to that microphone while a multi-utterance session is played, and must cut, save and
label the same utterances as when it reads the session file.

``.ci/run`` fails when any test of this module is skipped or does not run: the test ids are
listed there (``REQUIRED_TESTS``); rename them in both places.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.signal

from ser_live.audiofile import SAMPLE_RATE_HZ, load_audio, to_int16, write_wav

from .pulse import PulseNullSink, pulse_null_sink  # noqa: F401  (pytest fixture)

REPO_ROOT = Path(__file__).resolve().parents[1]

#: RAVDESS utterances played into the microphone (strong intensity: clear-cut emotions),
#: several actors and both genders (odd actor numbers are male).
SESSION_FILES = (
    "Actor_01/03-01-05-02-01-01-01.flac",  # angry, male
    "Actor_04/03-01-04-02-02-01-04.flac",  # sad, female
    "Actor_07/03-01-03-02-01-02-07.flac",  # happy, male
)
#: Silence between the utterances of the played session (s): longer than the VAD hangover.
GAP_S = 1.2


# ---------------------------------------------------------------------------- helpers
def _speech_int16(request: pytest.FixtureRequest, tmp_dir: Path, relpaths: tuple[str, ...]) -> list[np.ndarray]:
    """Real speech, int16 16 kHz mono: RAVDESS files, or espeak-ng where the corpora are absent.

    The capture path must be tested on every machine (CI fails if it is skipped), so a
    machine without the corpora falls back to synthesised speech.
    """
    try:
        ravdess = request.getfixturevalue("ravdess_root")
    except pytest.skip.Exception:
        ravdess = None
    if ravdess is not None and all((Path(ravdess) / r).exists() for r in relpaths):
        return [to_int16(load_audio(Path(ravdess) / r)) for r in relpaths]
    if shutil.which("espeak-ng") is None:
        pytest.skip("neither the RAVDESS corpus nor espeak-ng (apt-get install -y espeak-ng)")
    texts = ["Kids are talking by the door.", "Dogs are sitting by the door.", "Where is the train station?"]
    out = []
    for i, text in enumerate(texts[: len(relpaths)]):
        wav = tmp_dir / f"espeak_{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, capture_output=True)
        out.append(to_int16(load_audio(wav)))
    return out


def _find_exact(haystack: np.ndarray, needle: np.ndarray) -> tuple[int, int]:
    """Offset of ``needle`` in ``haystack`` by cross-correlation, and the number of samples
    that differ there (0 when ``needle`` occurs exactly).

    Parameters
    ----------
    haystack, needle : np.ndarray, int16, shape (n,) and (m,), m <= n
    """
    assert len(needle) <= len(haystack), (len(needle), len(haystack))
    corr = scipy.signal.correlate(
        haystack.astype(np.float64), needle.astype(np.float64), mode="valid", method="fft"
    )
    offset = int(np.argmax(corr))
    n_diff = int(np.count_nonzero(haystack[offset : offset + len(needle)] != needle))
    return offset, n_diff


class _Recorder:
    """Collects int16 blocks from a sounddevice callback, with status flags."""

    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []
        self.statuses: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, indata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        with self.lock:
            self.blocks.append(indata[:, 0].copy())
            if status:
                self.statuses.append(str(status))

    def n_samples(self) -> int:
        with self.lock:
            return sum(len(b) for b in self.blocks)

    def samples(self) -> np.ndarray:
        with self.lock:
            return np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.int16)


# ---------------------------------------------------------------------------- step 1
@pytest.mark.microphone
def test_list_input_devices_lists_the_microphone(pulse_null_sink: PulseNullSink) -> None:
    """``list_input_devices`` (what ``ser-live devices`` prints) finds the null-sink
    microphone with its channels, rate and host API, and marks exactly one input default."""
    from ser_live.audio import list_input_devices

    devices = list_input_devices()
    by_name = {d["name"]: d for d in devices}
    assert pulse_null_sink.device_name in by_name, devices
    mic = by_name[pulse_null_sink.device_name]
    assert mic["max_input_channels"] >= 1 and mic["default_samplerate"] > 0 and mic["hostapi"], mic
    assert sum(d["is_default"] for d in devices) == 1, devices


@pytest.mark.microphone
def test_microphone_delivers_played_speech_bit_exact(
    pulse_null_sink: PulseNullSink, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """sounddevice on the default input device records a played utterance sample for sample."""
    import sounddevice as sd

    devices = sd.query_devices()
    inputs = [d["name"] for d in devices if d["max_input_channels"] > 0]
    assert inputs, f"PortAudio lists no input device:\n{devices}"
    assert pulse_null_sink.device_name in inputs, inputs
    default_in = sd.query_devices(kind="input")
    assert default_in["max_input_channels"] > 0

    (played,) = _speech_int16(request, tmp_path, SESSION_FILES[:1])
    assert np.abs(played).max() > 3000, "the test utterance must be loud speech"
    wav = write_wav(tmp_path / "utterance.wav", played, sample_rate_hz=SAMPLE_RATE_HZ)

    rec = _Recorder()
    with sd.InputStream(
        samplerate=SAMPLE_RATE_HZ, channels=1, dtype="int16", device=None, callback=rec
    ):
        deadline = time.monotonic() + 10.0
        while rec.n_samples() < SAMPLE_RATE_HZ // 5:  # the stream is live: 200 ms arrived
            assert time.monotonic() < deadline, "the input stream delivered no audio in 10 s"
            time.sleep(0.02)
        pulse_null_sink.play(wav)
        # paplay returns once its stream is drained into the sink; the monitor lags by the
        # sink latency (< 100 ms) plus PortAudio's buffer. Wait for the tail to arrive.
        target = rec.n_samples() + SAMPLE_RATE_HZ // 2
        deadline = time.monotonic() + 10.0
        while rec.n_samples() < target:
            assert time.monotonic() < deadline, "the input stream stalled after playback"
            time.sleep(0.02)
    recorded = rec.samples()

    assert not any("overflow" in s for s in rec.statuses), rec.statuses
    assert len(recorded) > len(played), (len(recorded), len(played))
    offset, n_diff = _find_exact(recorded, played)
    segment = recorded[offset : offset + len(played)]
    assert n_diff == 0, (
        f"recorded audio differs from the played utterance at {n_diff} of {len(played)} samples "
        f"(offset {offset}, max |diff| "
        f"{int(np.abs(segment.astype(np.int32) - played).max())}); statuses {rec.statuses}"
    )
    # Around the utterance, the keep-alive stream's digital silence.
    assert not recorded[:offset].any() and not recorded[offset + len(played) :].any()


# ---------------------------------------------------------------------------- step 2
def _ser_live_cmd(*, stacks_on_sigusr1: bool = False) -> list[str]:
    """The ``ser-live`` program of this checkout (``python -m ser_live`` with the checkout
    first on the path), whatever the working directory and whatever copy of ser-live the
    environment's ``ser-live`` script would import (an editable install of another tree).
    With ``stacks_on_sigusr1`` the process writes every thread's Python stack to stderr on
    SIGUSR1 and goes on (:func:`faulthandler.register`), for a run that seems stuck."""
    hook = "import faulthandler, signal; faulthandler.register(signal.SIGUSR1, all_threads=True); " \
        if stacks_on_sigusr1 else ""
    code = (f"{hook}import runpy, sys; sys.path.insert(0, {str(REPO_ROOT)!r}); sys.argv[0] = 'ser-live'; "
            "runpy.run_module('ser_live', run_name='__main__', alter_sys=True)")
    return [sys.executable, "-c", code]


def _require_cli(env: dict[str, str]) -> None:
    if not (REPO_ROOT / "ser_live" / "cli" / "__init__.py").exists():
        pytest.skip("ser_live/cli/ does not exist yet (the ser-live program is not built)")
    res = subprocess.run([*_ser_live_cmd(), "--help"], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"ser-live --help failed:\n{res.stdout}\n{res.stderr}"


def _read_jsonl(path: Path) -> list[dict]:
    """The utterance records of a ``--jsonl`` file (not its stream events: input silent, ...)."""
    return [r for line in path.read_text().splitlines() if line.strip() and (r := json.loads(line))["kind"] == "utterance"]


@pytest.mark.microphone
@pytest.mark.slow
def test_ser_live_listens_to_microphone_like_it_reads_the_file(
    pulse_null_sink: PulseNullSink, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """``ser-live`` on the microphone cuts, saves and labels a played session as from the file."""
    env = dict(pulse_null_sink.env)
    _require_cli(env)
    cmd = _ser_live_cmd()

    # `ser-live devices` lists the null-sink microphone.
    res = subprocess.run([*cmd, "devices"], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert pulse_null_sink.device_name in res.stdout, res.stdout

    # The session: utterances joined by GAP_S of digital silence.
    utterances = _speech_int16(request, tmp_path, SESSION_FILES)
    gap = np.zeros(int(GAP_S * SAMPLE_RATE_HZ), np.int16)
    parts: list[np.ndarray] = []
    for u in utterances:
        parts += [u, gap]
    session = np.concatenate(parts)
    session_wav = write_wav(tmp_path / "session.wav", session)

    # Live: ser-live listens to the microphone while the session is played into the sink.
    live_jsonl = tmp_path / "live.jsonl"
    saved_dir = tmp_path / "saved"
    log_path = tmp_path / "ser-live.log"
    # Wait until every utterance has its JSON line (the final gap closes the last).
    rc, out = pulse_null_sink.listen_while_playing(
        [*cmd, "--plain", "--jsonl", str(live_jsonl), "--save-utterances", str(saved_dir),
         "--device", pulse_null_sink.device_name],
        wav=session_wav, jsonl=live_jsonl, n_lines=len(utterances), log_path=log_path, env=env,
    )
    assert rc in (0, 130), f"ser-live exited {rc} on SIGINT:\n{out}"
    live = _read_jsonl(live_jsonl)
    assert len(live) == len(utterances), f"{len(live)} utterances cut, not {len(utterances)}:\n{out}"

    # Saved utterance WAVs are the played audio, sample for sample, at some offset.
    saved = sorted(saved_dir.glob("*.wav"))
    assert len(saved) == len(utterances), [p.name for p in saved]
    pad = np.zeros(3 * SAMPLE_RATE_HZ, np.int16)
    stream_like = np.concatenate([pad, session, pad])  # the keep-alive's silence around it
    spans = []  # (start, end) of each saved WAV in the session's samples
    for path in saved:
        u = to_int16(load_audio(path))
        assert len(u) < len(stream_like)
        offset, n_diff = _find_exact(stream_like, u)
        assert n_diff == 0, f"{path.name}: {n_diff} of {len(u)} samples differ from the played audio"
        spans.append((offset - len(pad), offset - len(pad) + len(u)))
    spans.sort()
    # ... one per played utterance, in order: saved WAV k holds utterance k's middle.
    starts = np.cumsum([0] + [len(u) + len(gap) for u in utterances[:-1]])
    for k, (start, end) in enumerate(spans):
        mid = int(starts[k]) + len(utterances[k]) // 2
        assert start <= mid < end, (k, spans, mid)

    # Labels equal those of the same session read from the file. Align the file to the
    # live stream (same leading silence, to the nearest sample the JSON gives) so the VAD
    # frames fall alike.
    stream_offset = int(round(live[0]["start_s"] * SAMPLE_RATE_HZ)) - spans[0][0]
    aligned = np.concatenate([np.zeros(max(stream_offset, 0), np.int16), session])
    aligned_wav = write_wav(tmp_path / "session_aligned.wav", aligned)
    res = subprocess.run(
        [*cmd, "--input", str(aligned_wav), "--speed", "0", "--jsonl", "-"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stderr
    from_file = [json.loads(line) for line in res.stdout.splitlines() if line.strip().startswith("{")]
    assert [r["label"] for r in live] == [r["label"] for r in from_file], (live, from_file)
    for a, b in zip(live, from_file):
        assert abs(a["start_s"] - b["start_s"]) <= 0.03 and abs(a["end_s"] - b["end_s"]) <= 0.03, (a, b)

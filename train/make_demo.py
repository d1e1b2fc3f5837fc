"""Build the bundled demo session ``ser_live/data/demo.wav`` from RAVDESS.

``python -m train.make_demo [--data-root DIR] [--out-dir DIR]``

The demo is what ``ser-live`` replays when no microphone exists: eight RAVDESS speech
utterances, two of each of the shipped model's four classes (neutral, happy, sad, angry),
by eight actors (four male, four female), joined by 1.1 s of digital silence, 16 kHz mono
16-bit PCM, at most 32 s. Every RAVDESS actor is a training speaker of the shipped models
(all four bundled corpora are their training data, and no corpus the licence lets us bundle
is held out), so the demo shows the pipeline working, not what a new voice gets: that is the
``loco`` score in the README. The file list is fixed, so the output
is the same on every run (byte for byte, given the same corpus files).

Method
------
1. Each file is read as float32 mono at 16 kHz (:func:`ser_live.audiofile.load_audio`).
2. Its leading and trailing silence is trimmed by frame energy: RMS in 20 ms frames
   (hop 10 ms); frames within ``TRIM_TOP_DB`` (40 dB) of the loudest frame count as active;
   the span from the first to the last active frame is kept, widened by ``MARGIN_S``
   (0.15 s) on each side so word onsets and releases are not cut. RAVDESS files open with
   about a second of room tone, which this removes. (The same rule as ``librosa.effects.trim``
   with ``top_db=40``, written out so the margins are explicit.)
3. A 10 ms raised-cosine fade in and out avoids clicks against the digital silence.
4. The session is ``LEAD_S`` of silence, then each utterance followed by ``GAP_S`` of
   silence (longer than any VAD hangover, so each utterance is cut on its own).

Writes ``demo.wav``, ``demo.json`` (one entry per utterance: file, emotion, actor, gender,
start_s, end_s in the demo, and the kept span of the source) and ``ATTRIBUTION.md``.

References
----------
Livingstone SR, Russo FA (2018) The Ryerson Audio-Visual Database of Emotional Speech and
Song (RAVDESS). PLoS ONE 13(5): e0196391. https://doi.org/10.1371/journal.pone.0196391
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser_live.audiofile import SAMPLE_RATE_HZ, load_audio, write_wav

from .corpora import RAVDESS_EMOTIONS

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT_DIR = REPO_ROOT / "ser_live" / "data"

#: The demo's utterances, in playing order: two of each of the shipped model's four classes
#: (the labels of ``ser-default``; RAVDESS's other emotions are not among them), strong
#: intensity where there is one, eight different actors, each class by a man and a woman.
DEMO_FILES: tuple[str, ...] = (
    "Actor_02/03-01-01-01-01-01-02.flac",  # neutral, female
    "Actor_03/03-01-03-02-01-01-03.flac",  # happy, male
    "Actor_08/03-01-04-02-02-01-08.flac",  # sad, female
    "Actor_05/03-01-05-02-01-01-05.flac",  # angry, male
    "Actor_11/03-01-04-02-01-01-11.flac",  # sad, male
    "Actor_12/03-01-03-02-02-01-12.flac",  # happy, female
    "Actor_16/03-01-05-02-02-01-16.flac",  # angry, female
    "Actor_09/03-01-01-01-02-01-09.flac",  # neutral, male
)

FRAME_S = 0.020
HOP_S = 0.010
TRIM_TOP_DB = 40.0
MARGIN_S = 0.15
FADE_S = 0.010
LEAD_S = 0.5
GAP_S = 1.1
MAX_DURATION_S = 32.0


@dataclass
class DemoPart:
    """One utterance of the demo: where it came from and where it sits (seconds)."""

    file: str
    emotion: str
    actor: int
    gender: str
    statement: str
    start_s: float
    end_s: float
    source_start_s: float
    source_end_s: float


def trim_span(y: np.ndarray, *, sample_rate_hz: int, top_db: float = TRIM_TOP_DB,
              margin_s: float = MARGIN_S) -> tuple[int, int]:
    """Sample span of ``y`` without its leading and trailing silence.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
        Audio in [-1, 1].
    sample_rate_hz : int
        Sample rate of ``y`` (Hz).
    top_db : float
        Frames more than this many dB below the loudest frame's RMS are silence.
    margin_s : float
        Kept on each side of the active span (seconds), within the signal.

    Returns
    -------
    (start, end) : tuple of int
        ``y[start:end]`` is the kept part.

    References
    ----------
    The same energy rule as ``librosa.effects.trim`` (``top_db``, RMS frames).
    """
    frame = int(round(FRAME_S * sample_rate_hz))
    hop = int(round(HOP_S * sample_rate_hz))
    if len(y) < frame:
        return 0, len(y)
    n_frames = 1 + (len(y) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n_frames)[:, None]
    rms = np.sqrt(np.mean(np.square(y[idx].astype(np.float64)), axis=1))
    db = 20.0 * np.log10(np.maximum(rms, 1e-10))
    active = np.flatnonzero(db > db.max() - top_db)
    margin = int(round(margin_s * sample_rate_hz))
    start = max(0, int(active[0]) * hop - margin)
    end = min(len(y), int(active[-1]) * hop + frame + margin)
    return start, end


def _fade(y: np.ndarray, *, sample_rate_hz: int) -> np.ndarray:
    n = int(round(FADE_S * sample_rate_hz))
    ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)
    y = y.copy()
    y[:n] *= ramp
    y[-n:] *= ramp[::-1]
    return y


def build_demo(ravdess_root: Path) -> tuple[np.ndarray, list[DemoPart]]:
    """Assemble the demo session from :data:`DEMO_FILES`.

    Parameters
    ----------
    ravdess_root : Path
        The RAVDESS folder (``Actor_NN/*.flac``).

    Returns
    -------
    session : np.ndarray, float32, shape (n_samples,)
        16 kHz mono audio in [-1, 1].
    parts : list of DemoPart
        One per utterance, in order.

    Raises
    ------
    ser_live.errors.AudioFileError
        A listed file is missing or unreadable.
    ValueError
        The session would be longer than :data:`MAX_DURATION_S`.
    """
    sr = SAMPLE_RATE_HZ
    pieces: list[np.ndarray] = [np.zeros(int(round(LEAD_S * sr)), np.float32)]
    gap = np.zeros(int(round(GAP_S * sr)), np.float32)
    parts: list[DemoPart] = []
    pos = len(pieces[0])
    for rel in DEMO_FILES:
        fields = Path(rel).stem.split("-")
        emotion = RAVDESS_EMOTIONS[fields[2]]
        actor = int(fields[6])
        y = load_audio(ravdess_root / rel, sample_rate_hz=sr)
        start, end = trim_span(y, sample_rate_hz=sr)
        cut = _fade(y[start:end], sample_rate_hz=sr)
        parts.append(
            DemoPart(
                file=f"ravdess/{rel}",
                emotion=emotion,
                actor=actor,
                gender="male" if actor % 2 else "female",
                statement="Kids are talking by the door" if fields[4] == "01"
                else "Dogs are sitting by the door",
                start_s=round(pos / sr, 3),
                end_s=round((pos + len(cut)) / sr, 3),
                source_start_s=round(start / sr, 3),
                source_end_s=round(end / sr, 3),
            )
        )
        pieces += [cut, gap]
        pos += len(cut) + len(gap)
    session = np.concatenate(pieces)
    duration_s = len(session) / sr
    if duration_s > MAX_DURATION_S:
        raise ValueError(f"demo would last {duration_s:.1f} s > {MAX_DURATION_S} s")
    return session, parts


def attribution_markdown(parts: list[DemoPart], *, duration_s: float) -> str:
    """The text of ``ATTRIBUTION.md`` for the demo's parts."""
    rows = "\n".join(
        f"| {i + 1} | `{p.file}` | {p.emotion} | {p.actor:02d} ({p.gender}) | "
        f"{p.start_s:.3f} | {p.end_s:.3f} | {p.source_start_s:.3f}-{p.source_end_s:.3f} |"
        for i, p in enumerate(parts)
    )
    return f"""# Bundled data: attribution

## `demo.wav` (with `demo.json`)

The demo session `ser-live` replays when no microphone is available: {len(parts)} speech
utterances from RAVDESS, 16 kHz mono 16-bit PCM, {duration_s:.1f} s. Made by
`python -m train.make_demo` from the project's 16 kHz FLAC copy of the corpus; each file's
leading and trailing silence was trimmed by frame energy (40 dB below the loudest 20 ms
frame, 0.15 s margin), faded in and out over 10 ms, and the utterances joined by
{GAP_S:.1f} s of digital silence after {LEAD_S:.1f} s of lead-in. The samples are otherwise
unchanged.

Two utterances of each of the shipped model's four classes (neutral, happy, sad, angry).
These RAVDESS actors are **training speakers** of the shipped models: the demo shows the
pipeline at work, not the accuracy on a voice the model has never heard (see the README).

| # | RAVDESS file | emotion | actor | start_s | end_s | kept span of the source (s) |
|---|---|---|---|---|---|---|
{rows}

Times are seconds in `demo.wav`; `demo.json` lists the same.

**Source:** Livingstone SR, Russo FA (2018) The Ryerson Audio-Visual Database of Emotional
Speech and Song (RAVDESS): A dynamic, multimodal set of facial and vocal expressions in
North American English. PLoS ONE 13(5): e0196391.
https://doi.org/10.1371/journal.pone.0196391 (data: https://doi.org/10.5281/zenodo.1188976)

**Licence:** Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International
(CC BY-NC-SA 4.0), https://creativecommons.org/licenses/by-nc-sa/4.0/. `demo.wav` is an
adaptation (cut and joined) of the files above and is shared under the same licence; it may
not be used commercially. The rest of ser-live is under its own licence (see the project's
README).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.make_demo", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data-root", type=Path, default=None,
                        help="folder holding ravdess/ (default: $SER_LIVE_DATA or ../shared/data)")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR,
                        help=f"where to write demo.wav, demo.json, ATTRIBUTION.md (default {DEFAULT_OUT_DIR})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if args.data_root is not None:
        ravdess_root = args.data_root / "ravdess"
    else:
        from train.corpora import corpus_path

        ravdess_root = corpus_path("ravdess")
    session, parts = build_demo(ravdess_root)
    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    duration_s = len(session) / SAMPLE_RATE_HZ
    write_wav(out_dir / "demo.wav", session, sample_rate_hz=SAMPLE_RATE_HZ)
    meta = {
        "sample_rate_hz": SAMPLE_RATE_HZ,
        "duration_s": round(duration_s, 3),
        "source": "RAVDESS (Livingstone & Russo 2018), CC BY-NC-SA 4.0",
        "made_by": "python -m train.make_demo",
        "utterances": [p.__dict__ for p in parts],
    }
    (out_dir / "demo.json").write_text(json.dumps(meta, indent=2) + "\n")
    (out_dir / "ATTRIBUTION.md").write_text(attribution_markdown(parts, duration_s=duration_s))
    log.info("wrote %s (%.1f s, %d utterances), demo.json, ATTRIBUTION.md",
             out_dir / "demo.wav", duration_s, len(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())

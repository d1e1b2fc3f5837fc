"""Segmenter boundaries the other VAD tests let move (found by a mutation audit): an utterance
whose speech is exactly ``min_utterance_s`` long is kept, on real speech (RAVDESS)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser_live.audiofile import decode_audio
from ser_live.vad import Segmenter, VadConfig

FILE = "Actor_01/03-01-01-01-01-01-01.flac"  # neutral, "Kids are talking by the door"


def _cut(y: np.ndarray, cfg: VadConfig) -> tuple[list, list[int], Segmenter]:
    """Feed ``y`` (int16) frame by frame; the utterances, each onset seen, the segmenter."""
    seg = Segmenter(cfg)
    fl = seg.frame_length
    out, onsets = [], []
    for i in range(0, len(y) - fl + 1, fl):
        out += seg.process_frame(y[i : i + fl], i)
        if seg.onset_sample is not None and (not onsets or onsets[-1] != seg.onset_sample):
            onsets.append(seg.onset_sample)
    out += seg.flush()
    return out, onsets, seg


def test_speech_exactly_min_utterance_s_long_is_kept(ravdess_root: Path):
    """``min_utterance_s`` is the shortest speech kept ("shorter bursts are dropped"): a
    sentence whose first-to-last voiced span equals it is kept, one sample more drops it."""
    path = ravdess_root / FILE
    if not path.exists():
        pytest.skip(f"{path} not found")
    y = decode_audio(path)
    (u,), (onset,), _ = _cut(y, VadConfig(min_utterance_s=0.0))
    span_s = (u.last_voiced_sample - onset) / 16000  # a whole number of 30 ms frames
    assert 1.0 < span_s < 3.0

    kept, _, seg = _cut(y, VadConfig(min_utterance_s=span_s))
    assert [(k.start_sample, k.end_sample) for k in kept] == [(u.start_sample, u.end_sample)]
    assert seg.dropped_short == 0

    dropped, _, seg = _cut(y, VadConfig(min_utterance_s=span_s + 1 / 16000))
    assert dropped == [] and seg.dropped_short == 1


def test_speech_level_is_the_loud_frame_level_of_all_the_utterance_s_voiced_frames(ravdess_root: Path):
    """``speech_level_dbfs`` (the dashboard's "too quiet" and SNR read it) is the 90th
    percentile of the levels of every frame the gated VAD called voiced from the onset to the
    end of the utterance: the frames that started speech count too."""
    from ser_live.levels import loud_frame_level

    path = ravdess_root / "Actor_02/03-01-03-01-02-01-02.flac"  # happy, "Dogs are sitting by the door"
    if not path.exists():
        pytest.skip(f"{path} not found")
    y = decode_audio(path)
    seg = Segmenter(VadConfig())
    fl = seg.frame_length
    frames, out, onset = [], [], None  # (start, voiced, level dBFS) per frame
    for i in range(0, len(y) - fl + 1, fl):
        before = seg.n_voiced_frames
        out += seg.process_frame(y[i : i + fl], i)
        frames.append((i, seg.n_voiced_frames > before, seg.level_dbfs))
        onset = seg.onset_sample if onset is None else onset
    out += seg.flush()
    (u,) = out
    assert onset is not None and u.start_sample < onset
    voiced = [lv for s, v, lv in frames if v and onset <= s < u.end_sample]
    assert len(voiced) > 20
    assert seg.speech_level_dbfs == loud_frame_level(np.array(voiced))
    # the level of the onset frames matters here: without them the value moves
    assert loud_frame_level(np.array(voiced)) != loud_frame_level(np.array(voiced[5:]))

"""RingBuffer at an overrun that falls exactly on a frame boundary (found by a mutation
audit), with real speech (RAVDESS) as the stream: the frames stored before the gap all reach
the segmenter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser_live.audiofile import decode_audio
from ser_live.ringbuffer import RingBuffer

FL = 480  # 30 ms at 16 kHz


def test_frames_stored_whole_before_a_gap_are_read_not_discarded(ravdess_root: Path):
    """A consumer that fell behind, a ring of exactly two frames, a capture callback of 20 ms
    blocks: the two frames stored before the overrun come out unchanged and none is discarded,
    also when the capture has resumed (its samples stored after the gap) before the consumer
    reads the frame that ends at the gap; the stream then resumes at its true index."""
    path = ravdess_root / "Actor_01/03-01-05-02-01-01-01.flac"
    if not path.exists():
        pytest.skip(f"{path} not found")
    y = decode_audio(path)[16000:32000]  # one second of speech
    ring = RingBuffer(2 * FL)
    for s in range(0, 1600, 320):  # 5 blocks of 20 ms: 960 stored, 640 dropped
        ring.write(y[s : s + 320])
    assert ring.stored_samples == 2 * FL and ring.overrun_samples == 640 and ring.overrun_events == 1
    start, x = ring.read(FL, timeout_s=0)
    assert start == 0
    np.testing.assert_array_equal(x, y[:FL])
    assert ring.write(y[1600:1920]) == 320  # capture resumes into the freed space
    start, x = ring.read(FL, timeout_s=0)  # the frame that ends exactly at the gap
    assert start == FL
    np.testing.assert_array_equal(x, y[FL : 2 * FL])
    assert ring.discarded_samples == 0
    ring.write(y[1920:2240])
    start, x = ring.read(FL, timeout_s=0)
    assert start == 1600 and ring.last_skipped_samples == 640 and ring.skipped_samples == 640
    np.testing.assert_array_equal(x, y[1600:2080])


def test_skipped_samples_add_up_over_two_overruns(ravdess_root: Path):
    """``skipped_samples`` counts every jump "so far", not the last one."""
    path = ravdess_root / "Actor_01/03-01-05-02-01-01-01.flac"
    if not path.exists():
        pytest.skip(f"{path} not found")
    y = decode_audio(path)[16000:32000]
    ring = RingBuffer(FL)
    pos, jumps = 0, []
    for dropped in (320, 640):
        ring.write(y[pos : pos + FL + dropped])  # one frame stored, the rest dropped
        start, _ = ring.read(FL, timeout_s=0)
        jumps.append(ring.last_skipped_samples)
        pos += FL + dropped
    ring.write(y[pos : pos + FL])
    start, x = ring.read(FL, timeout_s=0)
    assert start == pos and jumps == [0, 320] and ring.last_skipped_samples == 640
    assert ring.skipped_samples == ring.overrun_samples == 960 and ring.overrun_events == 2
    np.testing.assert_array_equal(x, y[pos : pos + FL])

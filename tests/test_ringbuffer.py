"""RingBuffer: order, stream indices, overrun policy (drop the newest, keep stream time),
a producer that never waits on a stalled consumer, end of stream, arrival stamps."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ser_live.ringbuffer import RingBuffer

SR = 16000


def ramp(start: int, n: int) -> np.ndarray:
    """Samples whose values encode their stream index (mod 30011, a prime)."""
    return (np.arange(start, start + n, dtype=np.int64) % 30011).astype(np.int16)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        RingBuffer(0)
    ring = RingBuffer(100)
    with pytest.raises(ValueError):
        ring.read(101, timeout_s=0)
    with pytest.raises(ValueError):
        ring.wait_for_room(101, timeout_s=0)


def test_frames_come_out_in_order_across_wraparound():
    ring = RingBuffer(1000, sample_rate_hz=SR)
    written = 0
    read_next = 0
    # Blocks of 320 (20 ms), frames of 480 (30 ms): neither divides the capacity.
    for _ in range(50):
        ring.write(ramp(written, 320))
        written += 320
        while ring.available >= 480:
            start, x = ring.read(480, timeout_s=0)
            assert start == read_next
            assert x.dtype == np.int16 and x.shape == (480,)
            np.testing.assert_array_equal(x, ramp(start, 480))
            read_next += 480
    assert ring.overrun_samples == 0 and ring.overrun_events == 0
    assert ring.written_samples == written == ring.stored_samples
    assert ring.skipped_samples == 0 and ring.last_skipped_samples == 0


def test_full_buffer_drops_new_samples_and_keeps_stream_time():
    ring = RingBuffer(1000, sample_rate_hz=SR)
    assert ring.write(ramp(0, 700)) == 700
    assert ring.write(ramp(700, 500)) == 300  # 200 dropped
    assert ring.write(ramp(1200, 100)) == 0  # 100 more dropped, same gap
    assert ring.overrun_samples == 300
    assert ring.overrun_events == 1
    assert ring.overrun_s == pytest.approx(300 / SR)
    assert ring.written_samples == 1300  # the stream clock counts dropped samples
    # The consumer first gets everything stored before the gap, unchanged.
    start, x = ring.read(1000, timeout_s=0)
    assert start == 0
    np.testing.assert_array_equal(x, ramp(0, 1000))
    # After the gap, the next samples carry their true stream index.
    ring.write(ramp(1300, 480))
    start, x = ring.read(480, timeout_s=0)
    assert start == 1300
    assert ring.last_skipped_samples == 300
    np.testing.assert_array_equal(x, ramp(1300, 480))
    assert ring.skipped_samples == 300


def test_read_never_straddles_a_gap():
    ring = RingBuffer(1000, sample_rate_hz=SR)
    ring.write(ramp(0, 1000))
    ring.write(ramp(1000, 50))  # dropped: gap after stored sample 999
    assert ring.read(480, timeout_s=0)[0] == 0
    assert ring.read(480, timeout_s=0)[0] == 480
    ring.write(ramp(1050, 600))
    # 40 samples (960..999) are left before the gap: too few for a frame, discarded.
    start, x = ring.read(480, timeout_s=0)
    assert start == 1050
    np.testing.assert_array_equal(x, ramp(1050, 480))
    assert ring.discarded_samples == 40
    assert ring.last_skipped_samples == 50 + 40
    assert ring.skipped_samples == 90


def test_stalled_consumer_never_blocks_the_producer():
    capacity = 2 * SR
    block = 320
    ring = RingBuffer(capacity, sample_rate_hz=SR)
    first_frame = threading.Event()
    release = threading.Event()
    received: list[tuple[int, np.ndarray]] = []

    def consumer():
        got = ring.read(480, timeout_s=5)
        received.append(got)
        first_frame.set()
        release.wait(10)  # the stall: the segmenter is busy elsewhere
        while True:
            got = ring.read(480, timeout_s=5)
            if got is None:
                return
            received.append(got)

    t = threading.Thread(target=consumer, daemon=True)
    t.start()
    ring.write(ramp(0, 480))
    assert first_frame.wait(5)

    # During the stall the producer writes 10x the capacity; every call must return
    # without the consumer ever moving (it is parked on `release`).
    n_blocks = 10 * capacity // block
    stored = []

    def producer():
        for i in range(n_blocks):
            stored.append(ring.write(ramp(480 + i * block, block)))

    p = threading.Thread(target=producer, daemon=True)
    p.start()
    p.join(10)
    assert not p.is_alive(), "write() waited for the stalled consumer"
    assert not release.is_set()
    during = n_blocks * block
    assert sum(stored) == capacity
    assert ring.overrun_samples == during - capacity
    assert ring.overrun_s == pytest.approx((during - capacity) / SR)
    assert ring.overrun_events == 1

    # The stall ends: the consumer drains what was stored, then more audio arrives.
    release.set()
    for _ in range(1000):
        if ring.available < 480:
            break
        threading.Event().wait(0.005)
    assert ring.available < 480
    after_start = 480 + during
    assert ring.write(ramp(after_start, 4800)) == 4800
    ring.close()
    t.join(10)
    assert not t.is_alive()

    starts = [s for s, _ in received]
    for s, x in received:
        np.testing.assert_array_equal(x, ramp(s, len(x)))
    # Stored samples before the gap come out in order, whole frames only ...
    n_before = capacity // 480
    assert starts[: 1 + n_before] == [480 * k for k in range(1 + n_before)]
    # ... then the audio written after the stall, at its true stream index.
    assert starts[1 + n_before :] == [after_start + 480 * k for k in range(10)]
    assert ring.discarded_samples == capacity - 480 * n_before
    assert ring.eof


def test_consumer_wakes_when_data_arrives():
    ring = RingBuffer(SR, sample_rate_hz=SR)
    out = []
    t = threading.Thread(target=lambda: out.append(ring.read(480, timeout_s=10)), daemon=True)
    t.start()
    for k in range(3):
        ring.write(ramp(160 * k, 160))
    t.join(10)
    assert not t.is_alive()
    start, x = out[0]
    assert start == 0
    np.testing.assert_array_equal(x, ramp(0, 480))


def test_read_times_out_with_none_while_the_stream_is_open():
    ring = RingBuffer(SR)
    ring.write(ramp(0, 100))
    assert ring.read(480, timeout_s=0.01) is None
    assert not ring.eof
    assert ring.available == 100


def test_close_drains_whole_frames_then_ends():
    ring = RingBuffer(SR)
    ring.write(ramp(0, 1000))
    ring.close()
    assert ring.read(480, timeout_s=0)[0] == 0
    assert ring.read(480, timeout_s=0)[0] == 480
    assert ring.read(480, timeout_s=0) is None  # 40-sample tail discarded
    assert ring.eof
    assert ring.discarded_samples == 40
    # A late write (a callback still running at shutdown) is ignored, not an error.
    assert ring.write(ramp(1000, 10)) == 0
    assert ring.written_samples == 1000 and ring.overrun_samples == 0
    assert ring.read(480, timeout_s=0) is None


def test_read_available_stops_at_gap():
    ring = RingBuffer(100)
    assert ring.read_available() is None
    ring.write(ramp(0, 100))
    ring.write(ramp(100, 10))  # dropped
    start, x = ring.read_available(max_samples=60)
    assert start == 0 and len(x) == 60
    start, x = ring.read_available()
    assert start == 60 and len(x) == 40
    ring.write(ramp(110, 5))
    start, x = ring.read_available()
    assert start == 110
    np.testing.assert_array_equal(x, ramp(110, 5))


def test_wait_for_room():
    ring = RingBuffer(1000)
    ring.write(ramp(0, 900))
    assert ring.wait_for_room(100, timeout_s=0)
    assert not ring.wait_for_room(101, timeout_s=0.01)
    t = threading.Thread(target=lambda: ring.read(480, timeout_s=5), daemon=True)
    t.start()
    assert ring.wait_for_room(500, timeout_s=10)
    t.join(5)


def test_arrival_time_of_gives_the_write_that_held_the_sample():
    ring = RingBuffer(10_000, stamp_log_size=16)
    ring.write(ramp(0, 100), arrival_time=10.0)
    ring.write(ramp(100, 50), arrival_time=11.0)
    ring.write(ramp(150, 1), arrival_time=12.0)
    assert ring.arrival_time_of(0) == 10.0
    assert ring.arrival_time_of(99) == 10.0
    assert ring.arrival_time_of(100) == 11.0
    assert ring.arrival_time_of(149) == 11.0
    assert ring.arrival_time_of(150) == 12.0
    with pytest.raises(ValueError):
        ring.arrival_time_of(151)
    # Dropped samples were stamped too (the stream clock covers them).
    small = RingBuffer(10, stamp_log_size=16)
    small.write(ramp(0, 30), arrival_time=5.0)
    assert small.arrival_time_of(29) == 5.0


def test_arrival_time_beyond_the_log_is_extrapolated():
    ring = RingBuffer(100_000, sample_rate_hz=SR, stamp_log_size=16)
    for k in range(40):
        ring.write(ramp(160 * k, 160), arrival_time=100.0 + 0.01 * k)
    # Recent samples are exact.
    assert ring.arrival_time_of(160 * 39) == pytest.approx(100.39)
    assert ring.arrival_time_of(160 * 33 + 5) == pytest.approx(100.33)
    # Sample 0 is forgotten: estimated at the nominal rate (0.01 s per 160 samples).
    assert ring.arrival_time_of(159) == pytest.approx(100.0, abs=1e-9)

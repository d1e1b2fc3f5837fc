"""Segmenter on real speech (RAVDESS): utterance count and boundaries, pre-roll and hangover,
max-length cuts without lost samples, minimum length, silence, gaps, speech_span, CLI options."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pytest
import webrtcvad

from ser_live.vad import (
    LEVEL_FLOOR_DBFS,
    Segmenter,
    VadConfig,
    add_vad_arguments,
    segment_signal,
    speech_span,
    vad_config_from_args,
)

SR = 16000
FL = 480  # 30 ms at 16 kHz

SESSION_FILES = [
    "Actor_01/03-01-01-01-01-01-01.flac",
    "Actor_01/03-01-05-02-01-01-01.flac",
    "Actor_02/03-01-03-01-02-01-02.flac",
    "Actor_02/03-01-04-02-02-02-02.flac",
]


@pytest.fixture(scope="module")
def session(ravdess_root: Path, corpus_session) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """4 RAVDESS files joined by 1 s of digital silence; returns (int16 audio, file spans)."""
    built = corpus_session(ravdess_root, SESSION_FILES, gap_s=1.0)
    return built.samples, built.spans


def vad_flags(x: np.ndarray, *, aggressiveness: int = 2) -> np.ndarray:
    """Independent per-frame WebRTC decisions, frame k = samples [k*FL, (k+1)*FL)."""
    v = webrtcvad.Vad(aggressiveness)
    return np.array(
        [v.is_speech(x[i : i + FL].tobytes(), SR) for i in range(0, len(x) - FL + 1, FL)]
    )


# ---------------------------------------------------------------------- configuration
def test_default_config_is_valid_and_rejects_bad_values():
    VadConfig().validate()
    with pytest.raises(ValueError, match="aggressiveness"):
        VadConfig(aggressiveness=4).validate()
    with pytest.raises(ValueError, match="frame_ms must be 10, 20 or 30"):
        VadConfig(frame_ms=25).validate()
    with pytest.raises(ValueError, match="start_ratio"):
        VadConfig(start_ratio=0.0).validate()
    with pytest.raises(ValueError, match="hangover_ms"):
        VadConfig(hangover_ms=0).validate()
    with pytest.raises(ValueError, match="max_utterance_s"):
        VadConfig(max_utterance_s=0.4).validate()
    with pytest.raises(ValueError):
        Segmenter(VadConfig(aggressiveness=-1))
    with pytest.raises(ValueError, match="sample_rate_hz"):
        Segmenter(sample_rate_hz=44100)


def test_every_field_is_a_cli_option_with_units_and_defaults():
    parser = argparse.ArgumentParser()
    add_vad_arguments(parser)
    assert vad_config_from_args(parser.parse_args([])) == VadConfig()
    args = parser.parse_args(
        ["--hangover-ms", "600", "--aggressiveness", "3", "--min-utterance-s", "0.3",
         "--max-utterance-s", "12", "--start-ratio", "0.8", "--frame-ms", "20"]
    )
    cfg = vad_config_from_args(args)
    assert (cfg.hangover_ms, cfg.aggressiveness, cfg.min_utterance_s) == (600, 3, 0.3)
    assert (cfg.max_utterance_s, cfg.start_ratio, cfg.frame_ms) == (12.0, 0.8, 20)
    with pytest.raises(ValueError, match="start_ratio"):
        vad_config_from_args(parser.parse_args(["--start-ratio", "1.5"]))
    with pytest.raises(SystemExit):
        parser.parse_args(["--aggressiveness", "7"])
    text = parser.format_help()
    for name in ("--preroll-ms", "--start-window-ms", "--end-ratio", "--hangover-ms"):
        assert name in text
    assert "(default: 400)" in text and "(default: 0.5)" in text


# ---------------------------------------------------------------------- real speech
def test_session_of_four_files_gives_four_utterances_in_their_files(session):
    x, spans = session
    # The rules checked against the VAD's own decisions at the input's level: no VAD input
    # gain (RAVDESS speaks below vad_target_dbfs; the gain is tested below).
    cfg = VadConfig(max_vad_gain_db=0.0)
    utts = segment_signal(x, config=cfg)
    assert len(utts) == len(spans)
    flags = vad_flags(x)
    preroll = cfg.preroll_ms // cfg.frame_ms * FL
    hang_kept = math.ceil(cfg.end_ratio * round(cfg.hangover_ms / cfg.frame_ms)) * FL
    for k, (u, (a, b)) in enumerate(zip(utts, spans)):
        assert u.index == k
        assert a - preroll <= u.start_sample and u.end_sample <= b + hang_kept
        assert u.start_sample < u.last_voiced_sample <= u.end_sample
        assert u.samples.dtype == np.int16
        np.testing.assert_array_equal(u.samples, x[u.start_sample : u.end_sample])
        assert not u.cut_at_max
        assert u.sample_rate_hz == SR
        # Pre-roll: the frame after it is voiced, the pre-roll itself is not (quiet studio).
        onset = (u.start_sample + preroll) // FL
        assert flags[onset] and not flags[u.start_sample // FL : onset].any()
        # Hangover: the clean silence after the last voiced frame ends it after 12 frames
        # (ceil(0.9 * 13)), all kept.
        assert flags[u.last_voiced_sample // FL - 1]
        assert u.end_sample - u.last_voiced_sample == hang_kept
        assert u.closed_time > 0 and u.last_voiced_time > 0


def test_end_ratio_one_keeps_exactly_the_hangover(session):
    x, spans = session
    a, b = spans[0]
    cfg = VadConfig(end_ratio=1.0, hangover_ms=300)
    (u,) = segment_signal(x[a:b], config=cfg)
    assert u.end_sample - u.last_voiced_sample == 10 * FL


def test_continuous_speech_is_cut_at_max_length_without_losing_samples(session, ravdess_root):
    x, spans = session
    # Speech without pauses: each file's voiced part, joined end to end (about 8 s). The parts
    # are found without the level gate so the signal is fixed: its speech ends between two
    # 2 s cuts (with the gate's trim it ends within a hangover of the fourth cut, and the
    # empty tail after it is dropped, which this test is not about).
    cfg0 = VadConfig(gate_margin_db=-200.0, min_speech_dbfs=-200.0)
    pieces = []
    for a, b in spans:
        (u,) = segment_signal(x[a:b], config=cfg0)
        onset = u.start_sample + cfg0.preroll_ms // cfg0.frame_ms * FL
        pieces.append(x[a + onset : a + u.last_voiced_sample])
    speech = np.concatenate([np.zeros(SR, np.int16), *pieces, np.zeros(SR, np.int16)])
    cfg = VadConfig(max_utterance_s=2.0, hangover_ms=1000, min_utterance_s=0.3)
    utts = segment_signal(speech, config=cfg)
    max_len = int(2.0 * SR) // FL * FL
    assert len(utts) >= 3
    for prev, nxt in zip(utts, utts[1:]):
        assert nxt.start_sample == prev.end_sample  # consecutive, no gap, no overlap
    assert all(u.cut_at_max and len(u.samples) == max_len for u in utts[:-1])
    assert not utts[-1].cut_at_max and len(utts[-1].samples) <= max_len
    joined = np.concatenate([u.samples for u in utts])
    np.testing.assert_array_equal(joined, speech[utts[0].start_sample : utts[-1].end_sample])
    assert [u.index for u in utts] == list(range(len(utts)))
    # Without the cap the same speech is one utterance spanning all the segments.
    whole = segment_signal(speech, config=VadConfig(max_utterance_s=60, hangover_ms=1000))
    assert len(whole) == 1
    assert whole[0].start_sample == utts[0].start_sample
    assert whole[0].end_sample == utts[-1].end_sample


def test_a_max_length_that_cannot_hold_the_min_length_is_refused(session, tmp_path):
    """--max-utterance-s 0.5 with the default --min-utterance-s 0.5 passed validation, but a
    cut falls on the last whole 30 ms frame (0.48 s), so every segment of continuous speech
    was dropped as too short: nothing was ever classified and a replay of speech ended "no
    speech detected" (exit 4). It is refused now, naming the shortest that holds it; that
    one (0.51 s) cuts the same speech into utterances."""
    from ser_live.audiofile import write_wav
    from ser_live.cli import main

    x, spans = session
    cfg0 = VadConfig(gate_margin_db=-200.0, min_speech_dbfs=-200.0)
    pieces = []
    for a, b in spans:  # each file's voiced part, joined end to end: speech without pauses
        (u,) = segment_signal(x[a:b], config=cfg0)
        pieces.append(x[a + u.start_sample + cfg0.preroll_ms // cfg0.frame_ms * FL : a + u.last_voiced_sample])
    speech = np.concatenate([np.zeros(SR // 2, np.int16), *pieces, np.zeros(SR, np.int16)])
    with pytest.raises(ValueError, match=r"holds 0\.48 s; at least 0\.51"):
        VadConfig(max_utterance_s=0.5).validate()
    VadConfig(max_utterance_s=0.5, frame_ms=10).validate()  # 50 whole 10 ms frames: 0.5 s
    VadConfig(max_utterance_s=0.5, min_utterance_s=0.48).validate()
    utts = segment_signal(speech, config=VadConfig(max_utterance_s=0.51))
    assert len(utts) >= 4 and all(len(u.samples) <= int(0.51 * SR) for u in utts)
    wav = write_wav(tmp_path / "speech.wav", speech)
    assert main(["--input", str(wav), "--speed", "0", "--plain", "--max-utterance-s", "0.5"]) == 2
    assert main(["--input", str(wav), "--speed", "0", "--plain", "--max-utterance-s", "0.51"]) == 0


def test_short_burst_is_dropped_and_counted(session):
    x, spans = session
    a, b = spans[1]
    (u,) = segment_signal(x[a:b])
    mid = a + (u.start_sample + u.last_voiced_sample) // 2
    burst = x[mid : mid + int(0.2 * SR)]
    assert vad_flags(burst).sum() >= 4  # real voiced speech, not silence
    signal = np.concatenate([np.zeros(SR, np.int16), burst, np.zeros(SR, np.int16)])

    seg = Segmenter(VadConfig(min_utterance_s=0.5))
    out = []
    for i in range(0, len(signal) - FL + 1, FL):
        out += seg.process_frame(signal[i : i + FL], i)
        assert seg.state in ("silence", "speech")
    out += seg.flush()
    assert out == []
    assert seg.dropped_short == 1 and seg.n_utterances == 0
    assert seg.n_voiced_frames >= 4

    kept = segment_signal(signal, config=VadConfig(min_utterance_s=0.1))
    assert len(kept) == 1
    assert kept[0].start_sample <= SR <= kept[0].last_voiced_sample


def test_silence_yields_nothing():
    zeros = np.zeros(3 * SR, dtype=np.int16)
    seg = Segmenter()
    out = []
    for i in range(0, len(zeros) - FL + 1, FL):
        out += seg.process_frame(zeros[i : i + FL], i)
        assert seg.state == "silence"
        assert seg.level_dbfs == LEVEL_FLOOR_DBFS
    out += seg.flush()
    assert out == [] and seg.dropped_short == 0 and seg.n_voiced_frames == 0
    assert seg.n_frames == len(zeros) // FL
    assert segment_signal(zeros.astype(np.float32)) == []
    assert speech_span(zeros) is None


def test_state_and_level_follow_the_speech(session):
    x, spans = session
    a, b = spans[0]
    seg = Segmenter()
    states, levels = [], []
    for i in range(a, b - FL + 1, FL):
        seg.process_frame(x[i : i + FL], i - a)
        states.append(seg.state)
        levels.append(seg.level_dbfs)
    assert states[0] == "silence" and "speech" in states and states[-1] == "silence"
    speaking = [lv for s, lv in zip(states, levels) if s == "speech"]
    assert max(speaking) > -50.0
    assert levels[0] < -80.0
    # An exact check of the level formula on a full-scale square wave (0 dBFS).
    square = np.where(np.arange(FL) % 2 == 0, 32767, -32767).astype(np.int16)
    seg.process_frame(square, b - a)
    assert seg.level_dbfs == pytest.approx(0.0, abs=0.01)


def test_float_and_int16_input_give_the_same_cut(session):
    x, spans = session
    a, b = spans[2]
    y = x[a:b].astype(np.float32) / 32768.0
    u_f = segment_signal(y)
    u_i = segment_signal(x[a:b])
    assert [(u.start_sample, u.end_sample) for u in u_f] == [(u.start_sample, u.end_sample) for u in u_i]
    with pytest.raises(ValueError):
        segment_signal(np.zeros((100, 2), np.float32))


def test_gap_ends_the_utterance_and_preroll_never_crosses_it(session):
    x, spans = session
    a, b = spans[0]
    (ref,) = segment_signal(x)[:1]
    # Drop 0.6 s of frames in the middle of the first utterance, as an overrun would.
    gap_from = (ref.start_sample + ref.last_voiced_sample) // 2 // FL * FL
    gap_to = gap_from + 20 * FL
    seg = Segmenter(VadConfig(min_utterance_s=0.2))
    out = []
    for i in range(0, b - FL + 1, FL):
        if gap_from <= i < gap_to:
            continue
        out += seg.process_frame(x[i : i + FL], i)
    out += seg.flush()
    assert seg.n_gaps == 1 and seg.gap_samples == gap_to - gap_from
    assert out[0].start_sample == ref.start_sample
    assert out[0].end_sample == gap_from  # closed at the last sample received
    np.testing.assert_array_equal(out[0].samples, x[ref.start_sample : gap_from])
    for u in out[1:]:
        assert u.start_sample >= gap_to
        np.testing.assert_array_equal(u.samples, x[u.start_sample : u.end_sample])


def test_frames_must_be_whole_int16_and_in_order():
    seg = Segmenter()
    with pytest.raises(ValueError):
        seg.process_frame(np.zeros(FL, np.float32), 0)
    with pytest.raises(ValueError):
        seg.process_frame(np.zeros(FL - 1, np.int16), 0)
    seg.process_frame(np.zeros(FL, np.int16), 960)
    with pytest.raises(ValueError):
        seg.process_frame(np.zeros(FL, np.int16), 0)


def test_speech_span_ignores_max_length(session):
    x, spans = session
    a, b = spans[3]
    no_gain = VadConfig(max_vad_gain_db=0.0)  # speech_span runs without the VAD input gain
    (u,) = segment_signal(x[a:b], config=no_gain)
    assert speech_span(x[a:b]) == (u.start_sample, u.end_sample)
    short_max = VadConfig(max_utterance_s=1.0, max_vad_gain_db=0.0)
    assert len(segment_signal(x[a:b], config=short_max)) >= 2
    assert speech_span(x[a:b], config=short_max) == (u.start_sample, u.end_sample)
    # Over the whole session: from the first file's speech to the last file's.
    first, *_, last = segment_signal(x, config=no_gain)
    assert speech_span(x) == (first.start_sample, last.end_sample)


def test_8khz_audio_is_cut_like_16khz(session):
    soxr = pytest.importorskip("soxr")  # what librosa.resample(res_type="soxr_hq") runs
    x, spans = session
    a, b = spans[1]
    y16 = x[a:b].astype(np.float32) / 32768.0
    y8 = soxr.resample(y16, SR, 8000, quality="HQ")
    (u16,) = segment_signal(y16)
    (u8,) = segment_signal(y8, sample_rate_hz=8000)
    assert u8.sample_rate_hz == 8000 and len(u8.samples) == u8.end_sample - u8.start_sample
    assert u8.start_s == pytest.approx(u16.start_s, abs=0.09)
    assert u8.end_s == pytest.approx(u16.end_s, abs=0.09)


# ---------------------------------------------------------------------- VAD input gain
def test_vad_gain_leaves_loud_speech_alone(session):
    """Speech above vad_target_dbfs gets no gain: the cut equals the cut without it."""
    x, _ = session
    loud = np.clip(x.astype(np.float64) * 4.0, -32768, 32767).astype(np.int16)  # +12 dB
    seg = Segmenter(VadConfig())
    utts = []
    for i in range(0, len(loud) - FL + 1, FL):
        utts += seg.process_frame(loud[i : i + FL], i)
    utts += seg.flush()
    off = segment_signal(loud, config=VadConfig(max_vad_gain_db=0.0))
    assert seg.vad_gain_db == 0.0
    assert [(u.start_sample, u.end_sample) for u in utts] == [(u.start_sample, u.end_sample) for u in off]


def test_vad_gain_lets_quiet_speech_cut_like_loud_speech(session):
    """The same session 20 dB quieter: with the gain its utterances keep their length; the
    VAD alone at the lower level shortens them (soft first and last frames lost)."""
    x, spans = session
    loud = segment_signal(x, config=VadConfig(max_vad_gain_db=0.0))
    quiet = (x.astype(np.float64) / 10.0).round().astype(np.int16)
    seg = Segmenter(VadConfig())
    gained = []
    for i in range(0, len(quiet) - FL + 1, FL):
        gained += seg.process_frame(quiet[i : i + FL], i)
    gained += seg.flush()
    plain = segment_signal(quiet, config=VadConfig(max_vad_gain_db=0.0))
    assert len(loud) == len(gained) == len(spans)
    assert 0.0 < seg.vad_gain_db <= VadConfig().max_vad_gain_db
    dur = lambda us: sum(u.last_voiced_sample - u.start_sample for u in us)  # noqa: E731
    assert dur(plain) < dur(gained)
    # levels, the floor and the samples are the input's, not the VAD's amplified copy
    for u in gained:
        np.testing.assert_array_equal(u.samples, quiet[u.start_sample : u.end_sample])
    assert seg.speech_level_dbfs < -40.0


def test_speech_span_and_cache_keys_ignore_the_vad_gain(session):
    from ser_live.vad import TRIM_IGNORED_FIELDS, trim_settings

    x, _ = session
    quiet = (x.astype(np.float64) / 10.0).round().astype(np.int16)
    assert speech_span(quiet) == speech_span(quiet, config=VadConfig(max_vad_gain_db=0.0))
    keys = trim_settings(VadConfig())
    assert not set(TRIM_IGNORED_FIELDS) & set(keys) and "hangover_ms" in keys
    with pytest.raises(ValueError, match="max_vad_gain_db"):
        VadConfig(max_vad_gain_db=-1.0).validate()
    with pytest.raises(ValueError, match="vad_target_dbfs"):
        VadConfig(vad_target_dbfs=math.nan).validate()


@pytest.mark.parametrize("cfg", [
    VadConfig(),
    VadConfig(end_ratio=1.0),
    VadConfig(end_ratio=0.7, hangover_ms=210, start_ratio=0.4),
    VadConfig(max_utterance_s=1.0, aggressiveness=3),
    VadConfig(end_ratio=0.5, min_utterance_s=0.0),
], ids=["default", "end-ratio-1", "short-hangover", "max-length-cuts", "end-ratio-half"])
def test_frames_before_close_is_a_lower_bound(session, cfg):
    """No frame within the bound closes an utterance, on speech, pauses and a noise floor
    that makes the VAD flicker; and the bound lets the live loop wait for several frames
    most of the time (iter_utterances' frames_per_wake)."""
    x, _ = session
    rng = np.random.default_rng(0)
    noisy = np.clip(x + rng.normal(0, 32768 * 10 ** (-45 / 20), len(x)), -32768, 32767).astype(np.int16)
    for sig in (x, noisy):
        seg = Segmenter(cfg)
        bounds, closes = [], []
        for i, s in enumerate(range(0, len(sig) - FL + 1, FL)):
            bounds.append(seg.frames_before_close())
            if seg.process_frame(sig[s:s + FL].copy(), s):
                closes.append(i)
        assert len(closes) >= 3, closes
        for i, b in enumerate(bounds):
            assert not any(i <= c < i + b for c in closes), (i, b, closes)
        assert np.mean(np.array(bounds) >= 3) > 0.6, np.bincount(np.minimum(bounds, 20))

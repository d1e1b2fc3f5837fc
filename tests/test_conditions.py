"""The ``room`` condition set (train/conditions.py) on real corpus audio: seeded and
reproducible, SNRs and RT60s as stated, babble only from speakers outside the test fold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from train.augment import Augmentation, apply_augmentation, rir_bank
from train.conditions import (
    NOISE_TYPES, ROOM_RT60S_S, ROOM_SNRS_DB, Condition, babble_noise, babble_pool, colored_noise, room_conditions,
    stratified_subset,
)

SR = 16000
RAVDESS_FILE = "Actor_03/03-01-05-01-01-01-03.flac"  # angry, 4.0 s with ~0.8 s silent lead


@pytest.fixture(scope="module")
def speech(ravdess_root: Path) -> np.ndarray:
    from ser_live.audiofile import load_audio

    p = ravdess_root / RAVDESS_FILE
    if not p.exists():
        pytest.skip(f"{p} not found")
    return load_audio(p)


@pytest.fixture(scope="module")
def pool(emodb_root: Path) -> tuple[str, ...]:
    files = sorted(str(p) for p in (emodb_root / "wav").glob("*.flac"))[:40]
    if len(files) < 8:
        pytest.skip("EmoDB files not found")
    return tuple(files)


def _level_db(x: np.ndarray) -> float:
    """90th percentile of 25 ms frame RMS (dB), computed here independently of the library."""
    n = len(x) // 400
    rms = np.sqrt((x[: n * 400].astype(np.float64).reshape(n, 400) ** 2).mean(axis=1))
    return 20 * np.log10(np.percentile(rms, 90))


def test_room_set_has_every_noise_snr_and_room():
    names = [c.name for c in room_conditions(seed=0, babble=("x",) * 6)]
    assert names[0] == "clean"
    assert len(names) == 1 + len(NOISE_TYPES) * len(ROOM_SNRS_DB) + len(ROOM_RT60S_S) == 15
    assert {"pink-10dB", "babble-5dB", "white-20dB", "reverb-0.3s", "reverb-0.6s"} <= set(names)


@pytest.mark.parametrize("name", ["white-10dB", "pink-5dB", "brown-20dB", "babble-10dB", "reverb-0.6s"])
def test_same_seed_same_degraded_audio_other_seed_other_audio(speech, pool, name):
    a = {c.name: c for c in room_conditions(seed=1, babble=pool)}[name]
    b = {c.name: c for c in room_conditions(seed=2, babble=pool)}[name]
    y1 = a.apply(speech, seed_key="f.flac")
    y2 = a.apply(speech, seed_key="f.flac")
    assert y1.dtype == np.float32 and y1.shape == speech.shape
    assert np.array_equal(y1, y2)
    assert not np.allclose(y1, speech, atol=1e-4)  # it did degrade
    assert not np.array_equal(y1, b.apply(speech, seed_key="f.flac"))  # the seed matters
    assert not np.array_equal(y1, a.apply(speech, seed_key="g.flac"))  # and so does the file


@pytest.mark.parametrize("noise", NOISE_TYPES)
@pytest.mark.parametrize("snr_db", ROOM_SNRS_DB)
def test_snr_of_the_mix_measured_back_within_half_a_db(speech, pool, noise, snr_db):
    cond = Condition("x", noise=noise, snr_db=snr_db, babble=pool if noise == "babble" else ())
    mix = cond.apply(speech, seed_key="snr")
    added = mix.astype(np.float64) - speech
    measured = _level_db(speech) - 10 * np.log10(np.mean(added**2))
    assert abs(measured - snr_db) < 0.5, (noise, snr_db, measured)


@pytest.mark.parametrize("noise", ["white", "pink", "brown", "babble"])
def test_training_noise_augmentation_adds_its_noise_at_its_snr(speech, noise):
    """Training copies use the same mixer; white noise is the default (and its cache key)."""
    aug = Augmentation(snr_db=10.0, noise=noise)
    y = apply_augmentation(speech, aug, seed_key="k")
    added = y.astype(np.float64) - speech
    assert abs(_level_db(speech) - 10 * np.log10(np.mean(added**2)) - 10.0) < 0.2
    assert np.array_equal(y, aug.apply(speech, seed_key="k"))
    assert ("noise" in aug.key()) == (noise != "white")
    with pytest.raises(ValueError, match="noise"):
        Augmentation(snr_db=10.0, noise="purple")


def test_self_babble_is_the_utterance_reversed_and_overlapped(speech):
    """Training babble holds only the utterance itself: 4-6 time-reversed copies, shifted."""
    from train.augment import SELF_BABBLE_TALKERS, self_babble, speech_rms

    b = self_babble(speech, rng=np.random.default_rng(0))
    assert b.shape == speech.shape and np.isfinite(b).all()
    # each talker at unit speech level: the sum's level lies between one talker's and all of
    # theirs added coherently
    lo, hi = SELF_BABBLE_TALKERS
    assert 1.0 < speech_rms(b) < hi
    # it is built from the reversed utterance: it correlates with that at some circular lag,
    # far more than with the forward utterance
    rev = speech[::-1].astype(np.float64)
    xc_rev = np.abs(np.fft.irfft(np.fft.rfft(b) * np.conj(np.fft.rfft(rev)), n=b.size)).max()
    xc_fwd = np.abs(np.fft.irfft(np.fft.rfft(b) * np.conj(np.fft.rfft(speech.astype(np.float64))), n=b.size)).max()
    assert xc_rev > 3 * xc_fwd
    assert not self_babble(np.zeros(800, np.float32), rng=np.random.default_rng(0)).any()


@pytest.mark.parametrize(("kind", "slope_db_per_octave"), [("white", 0.0), ("pink", -3.0), ("brown", -6.0)])
def test_colored_noise_spectrum_falls_as_stated(kind, slope_db_per_octave):
    from scipy.signal import welch

    x = colored_noise(kind, 10 * SR, seed=0, floor_hz=20.0)
    assert abs(np.sqrt(np.mean(x.astype(np.float64) ** 2)) - 1.0) < 1e-3
    f, p = welch(x, fs=SR, nperseg=4096)
    band = (f >= 100) & (f <= 6000)
    slope = np.polyfit(np.log2(f[band]), 10 * np.log10(p[band]), 1)[0]
    assert abs(slope - slope_db_per_octave) < 0.5, slope


def _rt60_schroeder_s(h: np.ndarray) -> float:
    """T20 (-5 to -25 dB of the Schroeder backward integral) extrapolated to 60 dB."""
    edc = np.cumsum(h[::-1].astype(np.float64) ** 2)[::-1]
    edc_db = 10 * np.log10(edc / edc[0] + 1e-30)
    i5, i25 = np.argmax(edc_db <= -5), np.argmax(edc_db <= -25)
    t = np.arange(i5, i25) / SR
    slope = np.polyfit(t, edc_db[i5:i25], 1)[0]  # dB/s
    return -60.0 / slope


@pytest.mark.parametrize("rt60_s", ROOM_RT60S_S)
def test_rir_bank_rt60_within_tolerance(rt60_s):
    measured = np.array([_rt60_schroeder_s(h) for h in rir_bank(rt60_s)])
    assert abs(np.median(measured) - rt60_s) < 0.15 * rt60_s, measured
    assert np.all(np.abs(measured - rt60_s) < 0.35 * rt60_s), measured


def test_reverberant_condition_convolves_with_a_room_of_its_rt60(speech):
    """A room prolongs the utterance's end by its decay: the energy 100-400 ms after the last
    frame within 20 dB of the loudest, relative to the speech before it, rises with RT60."""
    n = len(speech) // 400
    db = 20 * np.log10(np.sqrt((speech[: n * 400].astype(np.float64).reshape(n, 400) ** 2).mean(axis=1)) + 1e-12)
    end = (int(np.max(np.nonzero(db > db.max() - 20)[0])) + 1) * 400

    def tail_db(y: np.ndarray) -> float:
        y = y.astype(np.float64)
        return 10 * np.log10(np.mean(y[end + 1600 : end + 6400] ** 2) / np.mean(y[:end] ** 2))

    clean = tail_db(speech)
    rooms = {rt: tail_db(Condition("r", rt60_s=rt).apply(speech, seed_key="rt")) for rt in ROOM_RT60S_S}
    assert rooms[0.3] > clean + 1.5 and rooms[0.6] > rooms[0.3] + 3.0, (clean, rooms)


def test_babble_never_contains_a_test_speaker(data_root):
    from train.corpora import speaker_group
    from train.protocols import make_folds

    fs = make_folds("loco")
    groups = fs.groups
    by_path = {r.path: speaker_group(r.speaker) for r in fs.records}
    for fold in fs.folds:
        test_groups = set(groups[fold.test_idx])
        pool = babble_pool(fs.records, sorted(test_groups), seed=0)
        assert len(pool) == 64
        assert not {by_path[p] for p in pool} & test_groups, fold.name
    # within one corpus: leave-one-speaker-out, pooled from the other speakers (and corpora)
    fs = make_folds("emotiontts_kor-loso")
    for fold in fs.folds:
        test_groups = set(fs.groups[fold.test_idx])
        pool = babble_pool(fs.records, sorted(test_groups), seed=0)
        assert not {speaker_group(r.speaker) for r in fs.records if r.path in set(pool)} & test_groups


def test_babble_only_reads_the_pool(pool, monkeypatch):
    import ser_live.audiofile as af

    read: list[str] = []
    real = af.load_audio

    def spy(path, *a, **k):
        read.append(str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(af, "load_audio", spy)
    b = babble_noise(3 * SR, pool[:10], rng=np.random.default_rng(0))
    assert 4 <= len(read) <= 6 and set(read) <= set(pool[:10]) and len(set(read)) == len(read)
    assert b.shape == (3 * SR,) and np.isfinite(b).all() and np.std(b) > 0
    with pytest.raises(ValueError, match="pool"):
        Condition("b", noise="babble", snr_db=10.0).apply(np.zeros(SR, np.float32))


def test_subset_is_stratified_seeded_and_spread_over_speakers():
    y = np.repeat(np.arange(4), 60)
    groups = np.array([f"s{i % 6}" for i in range(240)], dtype=object)
    idx = np.arange(240)
    a = stratified_subset(y, groups, idx, per_class=12, seed=0)
    assert np.array_equal(a, stratified_subset(y, groups, idx, per_class=12, seed=0))
    assert not np.array_equal(a, stratified_subset(y, groups, idx, per_class=12, seed=1))
    assert np.bincount(y[a]).tolist() == [12, 12, 12, 12]
    for c in range(4):  # 12 per class over 6 speakers: 2 each
        assert set(np.unique(groups[a][y[a] == c], return_counts=True)[1]) == {2}
    assert np.array_equal(stratified_subset(y, groups, idx, per_class=0, seed=0), idx)

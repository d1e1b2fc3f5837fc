"""Personal profiles (issue 11): built from calibration utterances, tied to their model, saved
without code, and better than no profile on speakers the model never heard.

The model of the improvement test is trained in the test on a ``loco`` fold (RAVDESS + 200
TESS files, never EmoDB; ``tests/test_sessions.py``); the ten EmoDB speakers are the users.
Scores are logged: ``python -m pytest tests/test_profile.py -o log_cli=true --log-cli-level=INFO``.
"""

from __future__ import annotations

import re

import json
import logging
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from ser_live.model import EmotionModel
from ser_live.profile import (
    PROFILE_FORMAT_VERSION,
    Profile,
    ProfiledModel,
    ProfileError,
    TakeCheck,
    build_profile,
    calibration_prompts,
    fit_score_affine,
    load_profile,
    model_fingerprint,
    profile_path,
    profiles_dir,
)

from .test_sessions import CORE, emodb_core, norm_model, norm_path  # noqa: F401 (fixtures)

log = logging.getLogger(__name__)

#: Calibration utterances per class in the improvement test (the default of `calibrate`).
K = 3


@pytest.fixture(scope="module")
def emodb_features(emodb_core) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Features and label indices (into CORE) of each EmoDB speaker's core utterances."""
    from train.extract import extract_features

    out = {}
    for spk, recs in emodb_core.items():
        X, rep = extract_features([r.path for r in recs], n_jobs=1, progress=False)
        assert not rep.failures, rep
        out[spk] = (X, np.array([CORE.index(r.label) for r in recs]))
    return out


def _split(y: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """k calibration rows per class (fewer where a class has <= k), the rest test."""
    cal = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        cal += idx[: min(k, len(idx) - 1)].tolist()
    test = np.setdiff1d(np.arange(len(y)), cal)
    return np.array(cal), rng.permutation(test)


def _live_predictions(model: EmotionModel, X: np.ndarray) -> np.ndarray:
    """Label indices of rows classified as one live session (the recogniser's order of calls)."""
    state = model.new_session()
    out = []
    for x in X:
        state.update(x)
        out.append(int(np.argmax(model.predict_proba(x[None, :], session=state)[0])))
    return np.array(out)


# ---------------------------------------------------------------------------- improvement
def test_a_profile_improves_recognition_of_unseen_speakers(norm_model, emodb_features):
    """On every EmoDB speaker (a corpus the model never saw), 3 calibration utterances per
    class, the rest test: UA with the profile beats the same live session without it, on
    average by several points, and on most speakers."""
    rng = np.random.default_rng(0)
    base_ua, prof_ua = [], []
    for spk, (X, y) in emodb_features.items():
        cal, test = _split(y, K, rng)
        prof = build_profile(norm_model, X[cal], y[cal], name=spk)
        pm = prof.apply(norm_model)
        base_ua.append(100 * balanced_accuracy_score(y[test], _live_predictions(norm_model, X[test])))
        prof_ua.append(100 * balanced_accuracy_score(y[test], _live_predictions(pm, X[test])))
    base_ua, prof_ua = np.array(base_ua), np.array(prof_ua)
    log.info("EmoDB speakers: UA without profile %.1f, with profile (k=%d) %.1f; per speaker %s -> %s",
             base_ua.mean(), K, prof_ua.mean(), base_ua.round(0), prof_ua.round(0))
    assert prof_ua.mean() >= base_ua.mean() + 3.0, (base_ua, prof_ua)
    assert np.sum(prof_ua > base_ua) > np.sum(prof_ua < base_ua), (base_ua, prof_ua)


def test_recalibration_moves_probability_towards_the_calibration_labels():
    """The affine recalibration alone: log-probabilities biased towards class 0 are pulled
    back so that the calibration labels become the argmax; with reg -> inf it stays the
    identity."""
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(3), 4)
    S = np.log(np.full((12, 3), 0.1))
    S[np.arange(12), y] = np.log(0.3)
    S[:, 0] += 1.5  # the model prefers class 0 for this speaker
    S += 0.05 * rng.standard_normal(S.shape)
    assert np.mean(np.argmax(S, axis=1) == y) < 0.5
    W, b = fit_score_affine(S, y, reg=0.3)
    assert np.mean(np.argmax(S @ W.T + b, axis=1) == y) == 1.0
    W_inf, b_inf = fit_score_affine(S, y, reg=1e6)
    np.testing.assert_allclose(W_inf, np.eye(3), atol=1e-3)
    np.testing.assert_allclose(b_inf, 0, atol=1e-3)


# ---------------------------------------------------------------------------- files and models
@pytest.fixture(scope="module")
def anna(norm_model, emodb_features) -> Profile:
    X, y = emodb_features["03"] if "03" in emodb_features else next(iter(emodb_features.values()))
    cal, _ = _split(y, K, np.random.default_rng(0))
    return build_profile(norm_model, X[cal], y[cal], name="anna")


def test_save_load_round_trip_gives_the_same_predictions(norm_model, anna, emodb_features, tmp_path):
    X, _ = next(iter(emodb_features.values()))
    path = anna.save(tmp_path / "anna.npz")
    back = load_profile(path, model=norm_model)
    assert back.name == "anna" and back.counts == anna.counts and back.n_utterances == anna.n_utterances
    a, b = anna.apply(norm_model), back.apply(norm_model)
    np.testing.assert_allclose(a.predict_proba(X[:5]), b.predict_proba(X[:5]), rtol=1e-12)
    # and the profile changes what the model says
    assert not np.allclose(a.predict_proba(X[:5]), norm_model.predict_proba(X[:5]), atol=1e-3)
    assert isinstance(a, ProfiledModel) and a.labels == norm_model.labels


def test_the_evaluation_live_session_is_the_recognisers_live_session(norm_model, anna, emodb_features):
    """``online=True`` (what ``train personal`` scores) gives, row for row, what the live
    recogniser's calls give, with and without a profile (one path: ser_live/estimator.py)."""
    X, _ = next(iter(emodb_features.values()))
    for model in (norm_model, anna.apply(norm_model)):
        state = model.new_session()
        live = []
        for x in X:
            state.update(x)
            live.append(model.predict_proba(x[None, :], session=state)[0])
        # (float32 rows scored in one batch or one by one: BLAS rounding, ~1e-6)
        np.testing.assert_allclose(model.predict_proba(X, online=True), np.array(live), atol=1e-5)
    # the profiled model object is a recalibration wrapper of the same estimator
    assert anna.apply(norm_model).estimator.estimator.classifier is norm_model.estimator.classifier


def test_profile_is_refused_for_another_model(anna, tmp_path):
    """A profile made for one model is refused, with both models named, for the shipped 7-class
    model and for the shipped default one."""
    path = anna.save(tmp_path / "anna.npz")
    for name in ("ser-7class", "ser-default"):
        other = EmotionModel.load(Path(__file__).resolve().parents[1] / "models" / f"{name}.skops")
        with pytest.raises(ProfileError, match=rf"made for model 'loco-norm'.*not for '{name}'"):
            load_profile(path, model=other)
        with pytest.raises(ProfileError):
            anna.apply(other)
    with pytest.raises(ProfileError, match=r"calibrate --profile \S*/anna-default\.npz --model default`"):
        load_profile(path, model=other)  # a shipped model: its short name; a file beside this one
    with pytest.raises(ProfileError, match=r"calibrate --profile anna-default --model default`"):
        anna.apply(other)  # no file: a bare name of its own
    # a model of one's own (named after its file, not shipped): the path that loads it
    own = EmotionModel.load(Path(__file__).resolve().parents[1] / "models" / "ser-7class.skops", arrays=False)
    own.name = "my-own"
    own_path = own.save(tmp_path / "my-own.skops")
    with pytest.raises(ProfileError, match=re.escape(f"calibrate --profile {tmp_path}/anna-my-own.npz --model {own_path}`")):
        load_profile(path, model=EmotionModel.load(own_path))


def test_fingerprint_is_the_model_file(norm_path, tmp_path):
    a, b = EmotionModel.load(norm_path), EmotionModel.load(norm_path)
    assert model_fingerprint(a) == model_fingerprint(b)
    copy = tmp_path / "copy.skops"
    copy.write_bytes(Path(norm_path).read_bytes())
    assert model_fingerprint(EmotionModel.load(copy)) == model_fingerprint(a)
    resaved = EmotionModel.load(norm_path)
    resaved.name = "renamed"
    assert model_fingerprint(EmotionModel.load(resaved.save(tmp_path / "renamed.skops"))) != model_fingerprint(a)


class _Boom:
    """Unpickling this writes a marker file: proof that code from the file ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path(self.marker).write_text, ("code from the profile ran",))


def test_a_crafted_profile_cannot_run_code(anna, norm_model, tmp_path):
    """An .npz whose arrays hold a pickled object, and a plain pickle named .npz, are refused
    as profiles and nothing in them runs."""
    marker = tmp_path / "ran.txt"
    good = anna.save(tmp_path / "good.npz")
    crafted = tmp_path / "crafted.npz"
    with np.load(good, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    obj = np.empty(1, dtype=object)
    obj[0] = _Boom(str(marker))
    arrays["W"] = obj
    np.savez(crafted, **arrays)
    with zipfile.ZipFile(crafted) as zf:  # the object array is really in there, pickled
        assert b"write_text" in zf.read("W.npy")
    with pytest.raises(ProfileError, match="not a readable ser-live profile"):
        load_profile(crafted, model=norm_model)
    pickled = tmp_path / "pickled.npz"
    pickled.write_bytes(pickle.dumps(_Boom(str(marker))))
    with pytest.raises(ProfileError, match="not a readable ser-live profile"):
        load_profile(pickled)
    assert not marker.exists()


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda a, m: a.update(W=np.full((3, 3), 1.0)), "adaptation shape"),
        (lambda a, m: a.update(prior_var=-a["prior_var"]), "non-positive variance"),
        (lambda a, m: a.update(prior_mean=np.where(np.arange(a["prior_mean"].size) == 7, np.nan, a["prior_mean"])),
         "non-finite"),
        (lambda a, m: m.update(format_version=99), "profile format 99"),
        (lambda a, m: m.pop("labels"), "corrupt profile metadata"),
    ],
)
def test_malformed_profiles_are_refused_with_the_reason(anna, tmp_path, change, match):
    good = anna.save(tmp_path / "good.npz")
    with np.load(good, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    change(arrays, meta)
    arrays["meta"] = np.array(json.dumps(meta))
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ProfileError, match=match):
        load_profile(bad)


def test_too_few_calibration_utterances_are_refused(norm_model, emodb_features):
    X, y = next(iter(emodb_features.values()))
    keep = y != CORE.index("sad")
    with pytest.raises(ProfileError, match=r"every label needs at least 1; short: sad \(0\)"):
        build_profile(norm_model, X[keep], y[keep])


def test_bare_names_live_in_the_user_data_folder(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.delenv("SER_LIVE_PROFILES", raising=False)
    assert profile_path("anna") == Path(platformdirs.user_data_dir("ser-live", appauthor=False)) / "profiles" / "anna.npz"
    assert profile_path("anna.npz") == Path("anna.npz")
    assert profile_path("./anna") == Path("anna")
    assert profile_path(str(tmp_path / "x")) == tmp_path / "x"
    monkeypatch.setenv("SER_LIVE_PROFILES", str(tmp_path))
    assert profile_path("anna") == tmp_path / "anna.npz"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # a path's ~ is the home folder, as in a shell
    assert profile_path("~/anna.npz") == tmp_path / "home" / "anna.npz" and profile_path("~x") == tmp_path / "~x.npz"


def test_a_profiles_folder_set_with_a_tilde_is_in_the_home_folder(monkeypatch, tmp_path):
    """``SER_LIVE_PROFILES="~/p"`` (the shell leaves a quoted ``~`` as it is) put bare names
    in ``./~/p`` of whatever folder the command ran in, so a profile saved in one folder was
    not found from another. The ``~`` is expanded as ``--profile``'s is."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SER_LIVE_PROFILES", "~/p")
    assert profiles_dir() == tmp_path / "home" / "p"
    assert profile_path("anna") == tmp_path / "home" / "p" / "anna.npz"


def test_prompts_say_the_same_sentences_in_every_emotion():
    prompts = calibration_prompts(CORE, per_class=3)
    assert [lab for lab, _ in prompts] == [lab for lab in CORE for _ in range(3)]
    by_label = {lab: [s for l2, s in prompts if l2 == lab] for lab in CORE}
    assert len(set(map(tuple, by_label.values()))) == 1 and len(set(by_label["angry"])) == 3
    with pytest.raises(ValueError):
        calibration_prompts(CORE, per_class=0)


# ---------------------------------------------------------------------------- takes
def test_take_check_rejects_short_quiet_clipped_and_noise_takes(emodb_root):
    """Real speech passes; the same speech cut short, attenuated by 50 dB, amplified into
    clipping, and white noise are each rejected with their reason."""
    from ser_live.audiofile import decode_audio
    from ser_live.vad import speech_span

    y = decode_audio(emodb_root / "wav" / "03a01Wa.flac")
    a, b = speech_span(y)
    speech = y[a:b]
    check = TakeCheck()
    assert check.reason(speech) is None
    assert check.reason(speech[:9000]).startswith("too short")
    assert check.reason((speech.astype(np.float64) * 10 ** (-50 / 20)).astype(np.int16)).startswith("too quiet")
    assert check.reason(np.clip(speech.astype(np.int32) * 20, -32768, 32767).astype(np.int16)).startswith("clipped")
    noise = (0.3 * 32767 * np.random.default_rng(0).standard_normal(len(speech))).clip(-32768, 32767)
    assert check.reason(noise.astype(np.int16)).startswith("not speech")


def test_personal_protocol_splits_every_speaker_once_for_all_k():
    """The calibration pool per class is min(5, n_c - 1) utterances (at least one left to
    test), the test utterances are the rest, disjoint from the pool, and a speaker with a
    class of fewer than 2 utterances is left out."""
    from types import SimpleNamespace

    from train.personal import POOL_PER_CLASS, _splits

    counts = {"a": [8, 4, 8, 8], "b": [1, 6, 6, 6]}  # speaker -> utterances per class
    y, groups = [], []
    for spk, per_class in counts.items():
        for c, n in enumerate(per_class):
            y += [c] * n
            groups += [spk] * n
    fs = SimpleNamespace(y=np.array(y), groups=np.array(groups, dtype=object))
    fold = SimpleNamespace(name="corpus", test_idx=np.arange(len(y)))
    splits, skipped = _splits(fs, fold, np.arange(4), np.random.default_rng(0))
    assert skipped == ["b"] and [s.speaker for s in splits] == ["a"]
    (sp,) = splits
    assert {c: len(p) for c, p in sp.pool.items()} == {0: POOL_PER_CLASS, 1: 3, 2: POOL_PER_CLASS, 3: POOL_PER_CLASS}
    pool = np.concatenate(list(sp.pool.values()))
    assert not set(pool) & set(sp.test)
    assert sorted(np.concatenate([pool, sp.test]).tolist()) == np.flatnonzero(fs.groups == "a").tolist()
    assert sorted(np.bincount(fs.y[sp.test]).tolist()) == [1, 3, 3, 3]


def test_a_profile_from_a_newer_ser_live_says_to_upgrade_not_to_remake_it(anna, tmp_path):
    """A profile written by a newer ser-live (a higher format version) was refused with "make
    it again with `ser-live calibrate`": remaking it under its name replaces the newer
    profile, when upgrading ser-live would read it. The refusal says which applies."""
    good = anna.save(tmp_path / "good.npz")
    with np.load(good, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    for version, newer in ((PROFILE_FORMAT_VERSION + 1, True), (0, False)):
        meta = dict(json.loads(str(arrays["meta"])), format_version=version)
        bad = tmp_path / f"v{version}.npz"
        np.savez(bad, **{**arrays, "meta": np.array(json.dumps(meta))})
        with pytest.raises(ProfileError, match=f"profile format {version}") as info:
            load_profile(bad)
        said = str(info.value)
        assert ("newer ser-live" in said and "upgrade" in said and "make it again" not in said) == newer, said
        assert ("make it again" in said) != newer, said

"""The model object as numpy arrays (issue 23, ``ser_live/fastpath.py``): the compiled chain and
its ``.npz`` give the scikit-learn chain's probabilities to 1e-9 for every model in ``models/``
on EmoDB utterances (clean and in pink noise at 10 dB SNR), offline, per session, simulated
live and live, with a profile; the ``.npz`` loads without scikit-learn or skops and is refused
when it is broken or stale."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ser_live.errors import ModelError
from ser_live.fastpath import CompiledEstimator, read_npz, save_npz
from ser_live.model import MODELS_DIR, EmotionModel, export_arrays

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(MODELS_DIR.glob("*.skops"))


def _python(code: str) -> subprocess.CompletedProcess:
    """``code`` run by a fresh interpreter on this checkout (output captured as text)."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def emodb_rows(emodb_root: Path):
    """24 EmoDB utterances (6 speakers, 4 each) and 6 of them mixed with pink noise at 10 dB
    SNR (the noise branch's side of the cut): paths, speakers, and a function giving their
    features for a feature configuration."""
    from train.augment import Augmentation
    from train.extract import extract_features

    by_speaker: dict[str, list[Path]] = {}
    for p in sorted((emodb_root / "wav").glob("*.flac")):
        by_speaker.setdefault(p.name[:2], []).append(p)
    paths = [str(p) for spk in sorted(by_speaker)[:6] for p in by_speaker[spk][:4]]
    speakers = np.array([Path(p).name[:2] for p in paths] + [f"{Path(p).name[:2]}#noise" for p in paths[::4]])
    cache: dict = {}

    def features(cfg) -> np.ndarray:
        key = repr(cfg)
        if key not in cache:
            clean, rep = extract_features(paths, config=cfg, n_jobs=1, progress=False)
            noisy, rep_n = extract_features(paths[::4], config=cfg, augmentation=Augmentation(snr_db=10.0, noise="pink"),
                                            n_jobs=1, progress=False)
            assert not rep.failures and not rep_n.failures
            cache[key] = np.vstack([clean, noisy]).astype(np.float32)
        return cache[key]

    return speakers, features


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_arrays_give_the_scikit_learn_probabilities(path, emodb_rows, tmp_path):
    speakers, features = emodb_rows
    ref = EmotionModel.load(path, arrays=False)  # the scikit-learn objects
    fast = EmotionModel.load(export_arrays(ref, tmp_path / f"{path.stem}.npz"))
    assert isinstance(fast.estimator, CompiledEstimator) and fast.labels == ref.labels
    X = features(ref.feature_config)
    est = ref.estimator
    if est.noise_route is not None:  # both heads speak: the noisy copies go to the branch
        noisy = est.noisy_rows(X)
        assert noisy[24:].all() and not noisy[:24].all(), noisy
        assert np.array_equal(fast.noise_branch_rows(X), noisy)
    sessions = [{}, {"groups": speakers}, {"groups": speakers, "online": True}, {"groups": speakers, "online": 7}]
    for kw in sessions:
        want = est.reference_proba(X, **kw)
        assert np.abs(fast.predict_proba(X, **kw) - want).max() <= 1e-9, kw
        assert np.abs(ref.predict_proba(X, **kw) - want).max() <= 1e-9, kw
        assert np.array_equal(fast.estimator.predict(X, **kw), est.predict(X, **kw))
        assert np.abs(fast.estimator.decision_function(X, **kw) - est.decision_function(X, **kw)).max() <= 1e-9
    # live: one session's running statistics, utterance by utterance
    if est.normalizer is not None:
        s_ref, s_fast = _ReferenceSession(ref), fast.new_session()
        for x in X[:8]:
            s_fast.update(x)
            assert np.abs(fast.predict_proba(x[None], session=s_fast) - s_ref.proba(x)).max() <= 1e-9
    # a profile: the person's prior in the normaliser and a recalibration
    from ser_live.estimator import Recalibrated

    rng = np.random.default_rng(0)
    c = len(ref.labels)
    W, b = np.eye(c) + 0.3 * rng.standard_normal((c, c)), 0.5 * rng.standard_normal(c)
    mean, var = X[:5].mean(axis=0).astype(np.float64), X[:5].var(axis=0).astype(np.float64) + 1e-3
    prof_ref = Recalibrated.frozen(est.with_prior(mean, var), W, b)
    prof_fast = fast.estimator.with_prior(mean, var).recalibrated(W, b)
    for kw in sessions[:2]:
        want = prof_ref.reference_proba(X, **kw)
        assert np.abs(prof_fast.predict_proba(X, **kw) - want).max() <= 1e-9
        assert np.abs(prof_ref.compile().predict_proba(X, **kw) - want).max() <= 1e-9
    # a recalibrated chain saves and loads as arrays too
    save_npz(tmp_path / "prof.npz", fast.header(), prof_fast)
    header, arrays = read_npz(tmp_path / "prof.npz", error=ModelError)
    again = CompiledEstimator.from_arrays(header["estimator"], arrays, n_features=X.shape[1])
    assert np.array_equal(again.predict_proba(X), prof_fast.predict_proba(X))


class _ReferenceSession:
    """A live session scored by the scikit-learn chain."""

    def __init__(self, model: EmotionModel) -> None:
        self.model, self.state = model, model.estimator.normalizer.new_session()

    def proba(self, x: np.ndarray) -> np.ndarray:
        self.state.update(x)
        return self.model.estimator.reference_proba(x[None], online=self.state)


def test_shipped_arrays_are_current_and_load_without_scikit_learn():
    """Each shipped ``.skops`` has its ``.npz`` exported from it; ``ser-live`` loads that and
    scores with numpy alone (no scikit-learn, skops or pandas imported)."""
    import hashlib

    for path in SHIPPED:
        npz = path.with_suffix(".npz")
        assert npz.is_file(), f"{npz} missing: run `python -m train export {path}`"
        header, _ = read_npz(npz, error=ModelError)
        assert header["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), \
            f"{npz} was exported from another {path.name}: run `python -m train export {path}`"
    code = (
        "import sys, numpy as np\n"
        "from ser_live.model import EmotionModel\n"
        f"m = EmotionModel.load({str(SHIPPED[0])!r})\n"
        "p = m.predict_proba(np.zeros((1, m.extractor.n_features), np.float32))\n"
        "assert type(m.estimator).__name__ == 'CompiledEstimator', type(m.estimator)\n"
        "print(sorted(k for k in ('sklearn', 'skops', 'pandas') if k in sys.modules))\n"
    )
    out = _python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


def _rewrite(src: Path, dst: Path, **changes) -> Path:
    """A copy of an arrays file with arrays replaced (None: removed)."""
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    with open(dst, "wb") as f:
        np.savez(f, **arrays)
    return dst


def test_broken_or_stale_arrays_are_refused(tmp_path):
    src = MODELS_DIR / "ser-default.npz"
    if not src.is_file():
        pytest.skip("models/ser-default.npz not exported")
    with np.load(src, allow_pickle=False) as z:
        coef = z["main.coef"]
    bad_coef = coef.copy()
    bad_coef[0, 0, 0] = np.inf
    cases = {
        "non-finite": ({"main.coef": bad_coef}, "non-finite"),
        "shape": ({"main.coef": coef[:, :, :-3]}, "column subset|reads|coef"),
        "missing": ({"main.intercept": None}, "missing"),
        "extra": ({"evil": np.zeros(3)}, "unknown arrays"),
        "header": ({"header": np.zeros(4, np.uint8)}, "corrupt model arrays file"),
        "object": ({"main.beta": np.array([object()], dtype=object)}, "not a ser-live model arrays file"),
        # loaded, and every probability turned upside down: the least likely class first
        "negative temperature": ({"main.beta": -np.ones(1)}, "inverse temperatures"),
    }
    for name, (changes, message) in cases.items():
        if name == "object":  # np.savez pickles object arrays; the loader must refuse them
            dst = tmp_path / "object.npz"
            with np.load(src, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            arrays.update(changes)
            with open(dst, "wb") as f:
                np.savez(f, **arrays)
        else:
            dst = _rewrite(src, tmp_path / f"{name}.npz", **changes)
        with pytest.raises(ModelError, match=message):
            EmotionModel.load(dst)
    # not a zip at all
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a"):
        EmotionModel.load(tmp_path / "junk.npz")
    assert zipfile.is_zipfile(src)
    # stale: arrays exported from another .skops are passed over for the .skops beside them
    skops = tmp_path / "m.skops"
    shutil.copy(MODELS_DIR / "ser-default.skops", skops)
    shutil.copy(MODELS_DIR / "ser-noisy.npz", tmp_path / "m.npz")
    m = EmotionModel.load(skops)
    assert type(m.estimator).__name__ == "EmotionEstimator"
    export_arrays(skops)
    assert type(EmotionModel.load(skops).estimator).__name__ == "CompiledEstimator"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_the_model_extractor_computes_only_what_the_model_reads(path, data_root):
    """The columns a model reads are bit-identical to the full extraction's on corpus files
    of three corpora (studio, acted, noisy-free and near-silent edges alike); the others are
    0 and the descriptor groups no kept column reads are not computed."""
    from ser_live.audiofile import load_audio
    from ser_live.features import FeatureExtractor
    from ser_live.features.framewise import OPTIONAL_DESCRIPTORS
    from train.extract import prepare_utterance

    model = EmotionModel.load(path)
    cols = model.compiled.read_columns()
    full = FeatureExtractor(model.feature_config)
    if cols is None:
        # a model that reads every column: each group a subset extractor could skip moves
        # its output on a corpus file, so none can be left out
        assert model.extractor.columns is None
        y = prepare_utterance(load_audio(str(sorted((data_root / "emodb" / "wav").glob("*.flac"))[0])))
        x = model.extractor.extract(y)
        assert np.array_equal(x, full.extract(y))
        base = model.predict_proba(x[None])[0]
        groups = full.groups()
        for group in OPTIONAL_DESCRIPTORS:
            zeroed = x.copy()
            zeroed[np.concatenate([groups[g] for g in (group, f"{group}_d", f"{group}_voiced") if g in groups])] = 0
            assert np.abs(model.predict_proba(zeroed[None])[0] - base).max() > 1e-3, group
        return
    assert np.array_equal(model.extractor.columns, cols) and cols.size < full.n_features
    files = [*sorted((data_root / "emodb" / "wav").glob("*.flac"))[::60],
             *sorted((data_root / "ravdess").glob("Actor_0[1-3]/*.flac"))[::40],
             *sorted((data_root / "tess").glob("*/*.flac"))[::400]]
    assert len(files) >= 15
    rest = np.setdiff1d(np.arange(full.n_features), cols)
    for f in files:
        y = prepare_utterance(load_audio(str(f)))
        want, got = full.extract(y), model.extractor.extract(y)
        assert np.array_equal(got[cols], want[cols]), f
        assert not got[rest].any()
    # the whole utterance, untrimmed, and a short one: the same
    y = load_audio(str(files[0]))
    for part in (y, y[:2000]):
        assert np.array_equal(model.extractor.extract(part)[cols], full.extract(part)[cols])
    # groups nobody reads are not computed
    groups, plan = full.groups(), model.extractor._subset
    for group in ("chroma", "spectral", "contrast"):
        if not any(np.isin(groups[g], cols).any() for g in (group, f"{group}_d", f"{group}_voiced")):
            assert group not in plan.sources, group
    assert np.isin(cols, plan.positions).all() and plan.positions.size < full.n_features


def test_the_extractor_ffts_are_scipys_to_the_bit(data_root):
    """The extractor calls SciPy's pocketfft extension without importing ``scipy.fft``
    (``ser_live/features/framewise.py``): the same values as ``scipy.fft`` on real frames."""
    import scipy.fft

    from ser_live.audiofile import load_audio
    from ser_live.features import framewise

    assert framewise._POCKETFFT is not None  # the direct path is the one taken
    y = load_audio(str(sorted((data_root / "emodb" / "wav").glob("*.flac"))[0]))
    for n_t in (1, 5, 64, 150):
        frames = np.zeros((n_t, 1024), dtype=np.float32)
        frames[:, :400] = np.lib.stride_tricks.sliding_window_view(y, 400)[::160][:n_t] * np.hanning(400)
        spec = framewise._rfft(frames)
        assert spec.dtype == np.complex64 and np.array_equal(spec, scipy.fft.rfft(frames, axis=1))
        power = (spec.real * spec.real + spec.imag * spec.imag).astype(np.complex64)
        ac = framewise._irfft(power, 1024)
        assert ac.dtype == np.float32 and np.array_equal(ac, scipy.fft.irfft(power, n=1024, axis=1))


@pytest.mark.parametrize("first", ["ser_live.features", "scipy.fft"])
def test_scipy_fft_and_the_extractor_share_one_pocketfft_and_the_process_exits_cleanly(first):
    """The extractor's pocketfft extension is the one ``scipy.fft`` uses, whichever is imported
    first: with a second copy under another name, a process that also imported ``scipy.fft``
    (librosa, ``scipy.signal``, skops, the user's code) aborted at exit with "free(): invalid
    pointer" (status 134) on SciPy 1.10-1.15."""
    second = "scipy.fft" if first == "ser_live.features" else "ser_live.features"
    code = (
        f"import sys, {first}, {second}\n"
        "from ser_live.features import framewise\n"
        "assert framewise._POCKETFFT is not None\n"
        "assert sys.modules['scipy.fft._pocketfft.pypocketfft'] is framewise._POCKETFFT, 'two copies'\n"
    )
    out = _python(code)
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])


def test_a_profile_applies_to_the_arrays_alike_and_without_scikit_learn(emodb_rows, tmp_path):
    """A person's profile on the model loaded from arrays scores as on the model loaded from
    skops (1e-9), and applying it imports no scikit-learn."""
    from ser_live.profile import build_profile, load_profile

    speakers, features = emodb_rows
    path = SHIPPED[0]
    ref, fast = EmotionModel.load(path, arrays=False), EmotionModel.load(path)
    X = features(ref.feature_config)
    y = np.arange(12) % len(ref.labels)
    prof = build_profile(fast, X[:12], y, name="anna")
    assert np.array_equal(prof.W, build_profile(ref, X[:12], y, name="anna").W)
    saved = prof.save(tmp_path / "anna.npz")
    P_ref = prof.apply(ref).predict_proba(X[12:], groups=speakers[12:])
    P_fast = prof.apply(fast).predict_proba(X[12:], groups=speakers[12:])
    assert np.abs(P_fast - P_ref).max() <= 1e-9
    code = (
        "import sys, numpy as np\n"
        "from ser_live.model import EmotionModel\n"
        "from ser_live.profile import load_profile\n"
        f"m = EmotionModel.load({str(path)!r})\n"
        f"pm = load_profile({str(saved)!r}, model=m).apply(m)\n"
        "pm.predict_proba(np.zeros((1, m.extractor.n_features), np.float32))\n"
        "print(sorted(k for k in ('sklearn', 'skops', 'pandas') if k in sys.modules))\n"
    )
    out = _python(code)
    assert out.returncode == 0 and out.stdout.strip() == "[]", (out.stdout, out.stderr[-2000:])
    assert load_profile(saved, model=fast).name == "anna"


def _shrink_in_full(norm, n, mean, var):
    """NormalizerArrays.shrink as it was written before its products were kept: every step on
    every call."""
    w = float(norm.prior_weight)
    if norm.session_cap is not None:
        n = np.minimum(n, float(norm.session_cap))
    c = norm.columns_
    total = np.maximum(n + w, 1e-12)
    mu = (n * mean[..., c] + w * norm.prior_mean_[c]) / total
    v = (n * var[..., c] + w * norm.prior_var_[c]) / total
    empty = (n + w) <= 0
    if np.any(empty):
        mu = np.where(empty, norm.prior_mean_[c], mu)
        v = np.where(empty, norm.prior_var_[c], v)
    return mu, np.maximum(v, 1e-8)


def _apply_in_full(norm, X, mu, var):
    """NormalizerArrays.apply as it was written before: gather, copy and scatter always."""
    c = norm.columns_
    z = X[..., c] - mu
    if norm.scale:
        z = z / np.sqrt(var)
    if norm.mode == "append":
        return np.concatenate([X, z], axis=-1).astype(np.float32)
    out = X.copy()
    out[..., c] = z
    return out.astype(np.float32)


def _same_array(a, b):
    """The same shape, dtype, memory order and bits."""
    return a.shape == b.shape and a.dtype == b.dtype and a.strides == b.strides and \
        np.array_equal(np.ascontiguousarray(a).view(np.uint8), np.ascontiguousarray(b).view(np.uint8))


def test_the_normaliser_shortcuts_give_the_full_arithmetic_to_the_bit():
    """Rows each their own session (the shared terms computed once), a live session's rows
    checked at once and gathered before their conversion, and shrink and apply without the
    gathers of all columns: the bits and the memory order of the arithmetic written out in
    full, for every setting (column subsets, caps below and above one utterance, no prior
    weight, append mode, no scaling) and rows holding zeros of both signs."""
    from ser_live.fastpath import NormalizerArrays

    rng = np.random.default_rng(5)
    for trial in range(120):
        d = int(rng.integers(1, 30))
        cols = np.arange(d) if trial % 2 else np.sort(rng.choice(d, int(rng.integers(0, d + 1)), replace=False))
        cap = [None, 0.5, 1.0, 4.0][trial % 4]
        norm = NormalizerArrays(rng.standard_normal(d), rng.random(d) + 0.01, cols.astype(np.int64),
                                float(rng.choice([0.0, 2.5, 3.0])), cap, bool(trial % 3), "append" if trial % 5 == 0 else "replace")
        X = (rng.standard_normal((int(rng.integers(1, 9)), d)) * 10).astype(np.float32)
        X[rng.random(X.shape) < 0.1] = 0.0
        X[rng.random(X.shape) < 0.1] = -0.0
        if trial % 2:  # (as rows gathered by columns are)
            X = np.asfortranarray(X)
        X64 = np.asarray(X, dtype=np.float64)
        codes = np.arange(X.shape[0])  # each row its own session, as transform without groups wrote it
        mu, var = _shrink_in_full(norm, np.ones(X.shape[0])[:, None], X64, np.zeros_like(X64))
        assert _same_array(norm.transform(X), _apply_in_full(norm, X64, mu[codes], var[codes])), trial
        state = norm.new_session()
        for x in X:
            state.update(x)
        n = float(state.n_utterances)
        mean, var = state._mean, state._m2 / n
        for args in ((n, mean, var), (np.ones((X.shape[0], 1)), X64, X64 * X64)):  # a session's; rows'
            assert all(_same_array(a, b) for a, b in zip(norm.shrink(*args), _shrink_in_full(norm, *args))), trial
        want = _apply_in_full(norm, X64, *_shrink_in_full(norm, n, mean, var))
        assert _same_array(state.transform_read(X), want), trial
        if norm.mode == "replace":
            read = np.sort(rng.choice(d, int(rng.integers(1, d + 1)), replace=False)).astype(np.int64)
            sub = norm.restricted(read)
            want = _apply_in_full(sub, X64[:, read], *_shrink_in_full(sub, n, mean[read], var[read]))
            assert _same_array(state.transform_read(X, read), want), trial

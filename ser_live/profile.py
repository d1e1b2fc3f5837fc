"""Personal profiles: a user's voice statistics and a small adaptation of the classifier.

A *profile* is made from a few labelled utterances of one person (``ser-live calibrate``:
the same neutral sentences said in each of the model's emotions). It holds

1. the person's **session statistics**: mean and variance of each feature over the
   calibration utterances. They are balanced across emotions by construction, so they
   describe the speaker, microphone and room better than the running statistics of a live
   session (which rest on few utterances at first, and on one emotion when the session stays
   in it). With a profile the session normaliser's prior is replaced by the *person prior*
   (see :func:`person_prior`): the calibration statistics shrunk towards the training prior
   with ``prior_weight`` pseudo-utterances. A live session then starts from the person prior
   and its running statistics are shrunk towards it as usual (:mod:`ser_live.normalize`);
2. an **adaptation of the classifier** to the person's labelled utterances, local to the
   model (the user has no training data): a per-class affine recalibration of the model's
   log-probabilities ``s`` (shape ``(n_labels,)``)::

       s' = W @ s + b,   p' = softmax(s')

   fitted on the calibration utterances by multinomial logistic loss, with an L2 penalty
   ``reg * (||W - I||^2 + ||b||^2)`` that keeps it near the identity (``adaptation="bias"``
   fits ``b`` only, with ``W = I``; ``"none"`` keeps the model's probabilities). This is
   Platt/temperature-style recalibration [1]_ with a prior on the parameters, made per
   person.

Which combination is the default (:class:`ProfileConfig`) was chosen on the ``personal``
evaluation protocol (``python -m train evaluate --protocol personal``, ``train/personal.py``):
for every speaker of a corpus held out from training, calibration utterances and test
utterances are disjoint, so the adaptation is never fitted on what it is scored on.

Files
-----
A profile is one ``.npz`` file (NumPy's zip of ``.npy`` arrays) read with
``np.load(allow_pickle=False)``: plain numeric arrays and one JSON text array, nothing that
can run code when loaded. It is tied to the model it was made for by
:func:`model_fingerprint` (SHA-256 of the model file); loading it for another model raises
:class:`ProfileError` naming both. :func:`profile_path` maps a bare name (``anna``) to the
user data folder (``platformdirs.user_data_dir("ser-live")/profiles/anna.npz``).

References
----------
.. [1] J. Platt, "Probabilistic outputs for support vector machines and comparisons to
   regularized likelihood methods", Advances in Large Margin Classifiers, 1999; C. Guo et
   al., "On calibration of modern neural networks", ICML 2017 (temperature scaling).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import os
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SerLiveError
from .model import EmotionModel
from .normalize import SessionNormalizer, SessionState

__all__ = [
    "PROFILE_FORMAT_VERSION",
    "ADAPTATIONS",
    "Profile",
    "ProfileConfig",
    "ProfileError",
    "ProfiledModel",
    "build_profile",
    "load_profile",
    "model_fingerprint",
    "person_prior",
    "profile_path",
    "profiles_dir",
]

log = logging.getLogger(__name__)

#: Version of the profile file layout; another version is refused with a message.
PROFILE_FORMAT_VERSION = 1
#: Classifier adaptations :class:`ProfileConfig` knows.
ADAPTATIONS: tuple[str, ...] = ("none", "bias", "affine")
#: Suffix of profile files.
PROFILE_SUFFIX = ".npz"
_VAR_FLOOR = 1e-8
_LOG_FLOOR = 1e-12


class ProfileError(SerLiveError, ValueError):
    """A profile that cannot be made or used: unreadable or malformed file, another format
    version, made for another model, too few calibration utterances, or a bad calibration
    list. Exit status 2 (a usage error: the user chose the wrong profile or input)."""

    exit_code = 2


@dataclass(frozen=True)
class ProfileConfig:
    """How a profile is built from calibration utterances.

    Attributes
    ----------
    prior_weight : float, default 2.0
        Pseudo-utterances of the training prior in the person prior (:func:`person_prior`);
        0 uses the calibration statistics alone.
    adaptation : {"none", "bias", "affine"}, default "affine"
        The classifier adaptation (module doc).
    reg : float, default 0.3
        L2 penalty towards the identity, per calibration utterance (the loss is averaged over
        utterances, so a larger calibration set moves further from the identity).
    min_per_label : int, default 1
        Calibration utterances every label needs at least.

    Notes
    -----
    The defaults were chosen on the ``personal`` protocol (``train/personal.py``; the
    report ``reports/personal-ser-default.md`` lists every variant tried).
    """

    prior_weight: float = 2.0
    adaptation: str = "affine"
    reg: float = 0.3
    min_per_label: int = 1

    def validate(self) -> "ProfileConfig":
        """Return self; ValueError for an unknown adaptation or a negative weight."""
        if self.adaptation not in ADAPTATIONS:
            raise ValueError(f"adaptation must be one of {ADAPTATIONS}, got {self.adaptation!r}")
        if not (self.prior_weight >= 0 and self.reg >= 0):
            raise ValueError("prior_weight and reg must be >= 0")
        if int(self.min_per_label) < 1:
            raise ValueError("min_per_label must be >= 1")
        return self


# ---------------------------------------------------------------------- fingerprint, paths
def model_fingerprint(model: EmotionModel) -> str:
    """SHA-256 (hex) identifying a model: of its file when it was loaded from one, else of
    its labels, feature configuration and session prior (a model built in memory).

    Parameters
    ----------
    model : EmotionModel

    Returns
    -------
    str
        64 hex digits (file) or ``"mem:"`` and 64 hex digits (in memory).
    """
    path = getattr(model, "path", None)
    h = hashlib.sha256()
    if path is not None and Path(path).is_file():
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    h.update(json.dumps({"labels": model.labels, "features": model.feature_config.to_dict()}, sort_keys=True).encode())
    if model.normalizer is not None:
        h.update(np.ascontiguousarray(model.normalizer.prior_mean_).tobytes())
        h.update(np.ascontiguousarray(model.normalizer.prior_var_).tobytes())
    h.update(str(id(model.estimator)).encode())  # another fit in memory is another model
    return "mem:" + h.hexdigest()


def profiles_dir() -> Path:
    """Where bare profile names live: ``platformdirs.user_data_dir("ser-live")/profiles``
    (e.g. ``~/.local/share/ser-live/profiles`` on Linux); ``$SER_LIVE_PROFILES`` overrides."""
    env = os.environ.get("SER_LIVE_PROFILES")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("ser-live", appauthor=False)) / "profiles"


def profile_path(value: str | Path) -> Path:
    """``--profile`` value to a file: a bare name (no folder, no suffix) is
    ``profiles_dir()/NAME.npz``; anything else is the path as given.

    Parameters
    ----------
    value : str or Path

    Returns
    -------
    Path
    """
    p = Path(value)
    if len(p.parts) == 1 and not p.suffix and "/" not in str(value) and os.sep not in str(value):
        return profiles_dir() / f"{p.name}{PROFILE_SUFFIX}"
    return p


# ---------------------------------------------------------------------- statistics
def person_prior(
    normalizer: SessionNormalizer, X: np.ndarray, *, prior_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of calibration utterances shrunk towards the training prior.

    ``mu_p = (n * m + w * mu0) / (n + w)`` and ``var_p = (n * v + w * var0) / (n + w)`` with
    ``n`` the calibration utterances, ``m``, ``v`` their mean and (biased) variance, ``w =
    prior_weight`` and ``mu0``, ``var0`` the normaliser's training prior (the formula of
    :mod:`ser_live.normalize` with no cap). Only the normaliser's ``columns_`` change.

    Parameters
    ----------
    normalizer : SessionNormalizer
        Fitted.
    X : np.ndarray, float, shape (n, n_features)
    prior_weight : float

    Returns
    -------
    (np.ndarray, np.ndarray)
        Both float64, shape (n_features,): the person prior's mean and variance (floored
        at 1e-8).
    """
    X = np.asarray(X, dtype=np.float64)
    n, w = float(X.shape[0]), float(prior_weight)
    mean, var = X.mean(axis=0), X.var(axis=0)
    mu = normalizer.prior_mean_.copy()
    v = normalizer.prior_var_.copy()
    c = normalizer.columns_
    mu[c] = (n * mean[c] + w * mu[c]) / (n + w)
    v[c] = (n * var[c] + w * v[c]) / (n + w)
    return mu, np.maximum(v, _VAR_FLOOR)


def _with_prior(normalizer: SessionNormalizer, mean: np.ndarray, var: np.ndarray) -> SessionNormalizer:
    """A copy of a fitted normaliser whose prior is (mean, var)."""
    out = copy.copy(normalizer)
    out.prior_mean_ = np.asarray(mean, dtype=np.float64)
    out.prior_var_ = np.asarray(var, dtype=np.float64)
    return out


# ---------------------------------------------------------------------- adaptation
def _softmax(S: np.ndarray) -> np.ndarray:
    S = S - S.max(axis=1, keepdims=True)
    E = np.exp(S)
    return E / E.sum(axis=1, keepdims=True)


def fit_score_affine(
    S: np.ndarray, y: np.ndarray, *, reg: float, full: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``softmax(S @ W.T + b)`` to labels, penalised towards ``W = I``, ``b = 0``.

    Minimises ``mean_i CE(softmax(W s_i + b), y_i) + reg * (||W - I||_F^2 + ||b||^2)``
    with L-BFGS (the loss is convex in ``W`` and ``b``).

    Parameters
    ----------
    S : np.ndarray, float, shape (n, n_labels)
        Log-probabilities of the calibration utterances.
    y : np.ndarray, int, shape (n,)
        Label indices.
    reg : float
        Penalty weight (>= 0).
    full : bool, default True
        Fit ``W`` too; False fits ``b`` only (``W = I``).

    Returns
    -------
    (W, b) : (np.ndarray, np.ndarray)
        float64, shapes (n_labels, n_labels) and (n_labels,).
    """
    from scipy.optimize import minimize

    S = np.asarray(S, dtype=np.float64)
    n, c = S.shape
    Y = np.zeros((n, c))
    Y[np.arange(n), np.asarray(y, dtype=int)] = 1.0
    eye = np.eye(c)

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if full:
            return theta[: c * c].reshape(c, c), theta[c * c :]
        return eye, theta

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        W, b = unpack(theta)
        Z = S @ W.T + b
        P = _softmax(Z)
        ce = -np.sum(Y * np.log(np.maximum(P, _LOG_FLOOR))) / n
        G = (P - Y) / n  # dCE/dZ
        gb = G.sum(axis=0) + 2 * reg * b
        val = ce + reg * float(b @ b)
        if not full:
            return val, gb
        gW = G.T @ S + 2 * reg * (W - eye)
        val += reg * float(np.sum((W - eye) ** 2))
        return val, np.concatenate([gW.ravel(), gb])

    theta0 = np.concatenate([eye.ravel(), np.zeros(c)]) if full else np.zeros(c)
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return unpack(res.x)


def adapt_log_proba(S: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``softmax(S @ W.T + b)``: adapted probabilities, shape (n, n_labels), float64."""
    return _softmax(np.asarray(S, dtype=np.float64) @ W.T + b)


# ---------------------------------------------------------------------- the profile
@dataclass
class Profile:
    """A person's profile for one model (build with :func:`build_profile`).

    Attributes
    ----------
    name : str
        Shown by the dashboard (the file stem by default).
    model_fingerprint : str
        :func:`model_fingerprint` of the model it was made for.
    model_name : str
    labels : list of str
        The model's labels, in its order.
    counts : dict of str to int
        Calibration utterances per label.
    prior_mean, prior_var : np.ndarray, float64, shape (n_features,)
        The person prior (:func:`person_prior`; the training prior when the model has no
        session normaliser).
    W : np.ndarray, float64, shape (n_labels, n_labels)
    b : np.ndarray, float64, shape (n_labels,)
        The classifier adaptation (identity and zeros for ``"none"``).
    config : ProfileConfig
    created : str
        ISO time of creation (information only).
    """

    name: str
    model_fingerprint: str
    model_name: str
    labels: list[str]
    counts: dict[str, int]
    prior_mean: np.ndarray
    prior_var: np.ndarray
    W: np.ndarray
    b: np.ndarray
    config: ProfileConfig = field(default_factory=ProfileConfig)
    created: str = ""

    @property
    def n_utterances(self) -> int:
        """Calibration utterances the profile rests on."""
        return int(sum(self.counts.values()))

    # ------------------------------------------------------------------ use
    def check_model(self, model: EmotionModel) -> None:
        """Raise :class:`ProfileError` unless ``model`` is the model this profile was made for."""
        fp = model_fingerprint(model)
        if fp != self.model_fingerprint or list(model.labels) != list(self.labels):
            raise ProfileError(
                f"profile {self.name!r} was made for model {self.model_name!r} "
                f"({', '.join(self.labels)}; fingerprint {self.model_fingerprint[:12]}), not for "
                f"{model.name!r} ({', '.join(model.labels)}; fingerprint {fp[:12]}); run "
                f"`ser-live calibrate --profile NAME --model {model.name.removeprefix('ser-')}` to make one for it"
            )

    def apply(self, model: EmotionModel) -> "ProfiledModel":
        """The model with this profile: person prior in its normaliser, adapted probabilities.

        Raises
        ------
        ProfileError
            Another model (:meth:`check_model`).
        """
        self.check_model(model)
        return ProfiledModel(model, self)

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write the profile as one ``.npz`` (atomically: a temporary file renamed).

        Parameters
        ----------
        path : str or Path
            The file (folders created); see :func:`profile_path` for bare names.

        Returns
        -------
        Path
        """
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": PROFILE_FORMAT_VERSION,
            "name": self.name,
            "model_fingerprint": self.model_fingerprint,
            "model_name": self.model_name,
            "labels": list(self.labels),
            "counts": {k: int(v) for k, v in self.counts.items()},
            "config": asdict(self.config),
            "created": self.created,
        }
        buf = io.BytesIO()
        np.savez(
            buf,
            meta=np.array(json.dumps(meta)),
            prior_mean=self.prior_mean.astype(np.float64),
            prior_var=self.prior_var.astype(np.float64),
            W=self.W.astype(np.float64),
            b=self.b.astype(np.float64),
        )
        tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
        try:
            tmp.write_bytes(buf.getvalue())
            os.replace(tmp, p)
        finally:
            tmp.unlink(missing_ok=True)
        return p


_ARRAYS = ("meta", "prior_mean", "prior_var", "W", "b")


def load_profile(path: str | Path, *, model: EmotionModel | None = None) -> Profile:
    """Read and validate a profile file; with ``model``, check it was made for that model.

    Nothing in the file can run code: ``np.load(..., allow_pickle=False)`` refuses object
    arrays, and only the named numeric arrays and the JSON text are read.

    Parameters
    ----------
    path : str or Path
        A profile file (see :func:`profile_path` for bare names).
    model : EmotionModel, optional

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        Missing or unreadable file, not a profile (e.g. a pickle, an object array), another
        format version, missing or malformed fields, arrays of the wrong shape or with
        non-finite values, or (``model``) made for another model.
    """
    p = Path(path)
    if not p.is_file():
        raise ProfileError(f"profile {p} not found; make one with `ser-live calibrate --profile {p}`")
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in _ARRAYS if k not in z.files]
            if missing:
                raise ProfileError(f"{p}: not a ser-live profile (missing {', '.join(missing)})")
            arrays = {k: z[k] for k in _ARRAYS}
    except ProfileError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ProfileError(f"{p}: not a readable ser-live profile ({type(exc).__name__}: {exc})") from exc
    try:
        meta = json.loads(str(arrays["meta"].item()))
        if not isinstance(meta, dict):
            raise TypeError("meta is not an object")
    except (ValueError, TypeError) as exc:
        raise ProfileError(f"{p}: corrupt profile metadata ({exc})") from exc
    if meta.get("format_version") != PROFILE_FORMAT_VERSION:
        raise ProfileError(
            f"{p}: profile format {meta.get('format_version')!r}, this ser-live reads format "
            f"{PROFILE_FORMAT_VERSION}; make it again with `ser-live calibrate`"
        )
    try:
        labels = list(meta["labels"])
        counts = {str(k): int(v) for k, v in dict(meta["counts"]).items()}
        cfg = ProfileConfig(**dict(meta["config"])).validate()
        fingerprint, model_name, name = str(meta["model_fingerprint"]), str(meta["model_name"]), str(meta["name"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"{p}: corrupt profile metadata ({type(exc).__name__}: {exc})") from exc
    c = len(labels)
    mean, var, W, b = (arrays[k] for k in ("prior_mean", "prior_var", "W", "b"))
    problems = []
    if not (c >= 2 and all(isinstance(v, str) for v in labels)):
        problems.append("labels")
    if set(counts) != set(labels) or min(counts.values(), default=0) < 1:
        problems.append("counts")
    if mean.ndim != 1 or var.shape != mean.shape or mean.dtype.kind != "f" or var.dtype.kind != "f":
        problems.append("statistics shape")
    if W.shape != (c, c) or b.shape != (c,) or W.dtype.kind != "f" or b.dtype.kind != "f":
        problems.append("adaptation shape")
    if not problems and not all(np.isfinite(a).all() for a in (mean, var, W, b)):
        problems.append("non-finite values")
    if not problems and var.min() <= 0:
        problems.append("non-positive variance")
    if problems:
        raise ProfileError(f"{p}: corrupt profile ({', '.join(problems)})")
    prof = Profile(
        name=name, model_fingerprint=fingerprint, model_name=model_name, labels=labels, counts=counts,
        prior_mean=mean.astype(np.float64), prior_var=var.astype(np.float64), W=W.astype(np.float64),
        b=b.astype(np.float64), config=cfg, created=str(meta.get("created", "")),
    )
    if model is not None:
        prof.check_model(model)
        if model.normalizer is not None and mean.shape != (model.normalizer.n_features_in_,):
            raise ProfileError(f"{p}: statistics of {mean.shape[0]} features, the model has {model.normalizer.n_features_in_}")
    return prof


class ProfiledModel(EmotionModel):
    """An :class:`EmotionModel` with a :class:`Profile` applied (see :meth:`Profile.apply`).

    Its session normaliser has the person prior; :meth:`predict_proba` returns the adapted
    probabilities. Everything else (labels, extractor, name) is the base model's, so the
    live recogniser and ``ser-live predict`` use it unchanged.

    Attributes
    ----------
    base : EmotionModel
    profile : Profile
    """

    def __init__(self, base: EmotionModel, profile: Profile) -> None:
        norm = base.normalizer
        if norm is not None:
            norm = _with_prior(norm, profile.prior_mean, profile.prior_var)
        super().__init__(
            base.estimator, base.labels, base.feature_config, name=base.name, metadata=base.metadata,
            normalizer=norm,
        )
        if "extractor" in base.__dict__:  # share a built extractor (cached_property)
            self.__dict__["extractor"] = base.__dict__["extractor"]
        self.base = base
        self.profile = profile
        self.path = getattr(base, "path", None)

    def predict_proba(
        self, X: np.ndarray, *, session: SessionState | None = None, groups: np.ndarray | None = None
    ) -> np.ndarray:
        """As :meth:`EmotionModel.predict_proba`, then the profile's adaptation.

        Returns
        -------
        np.ndarray, float64, shape (n_utterances, len(labels))
        """
        proba = super().predict_proba(X, session=session, groups=groups)
        return adapt_log_proba(np.log(np.maximum(proba, _LOG_FLOOR)), self.profile.W, self.profile.b)


def build_profile(
    model: EmotionModel,
    X: np.ndarray,
    y: np.ndarray,
    *,
    name: str = "profile",
    config: ProfileConfig | None = None,
) -> Profile:
    """Build a profile from calibration utterances' features.

    Parameters
    ----------
    model : EmotionModel
        The model the profile is for (not changed).
    X : np.ndarray, float, shape (n, n_features)
        Features of the calibration utterances (:meth:`FeatureExtractor.extract` rows).
    y : np.ndarray, int, shape (n,)
        Index into ``model.labels`` of each utterance.
    name : str
    config : ProfileConfig, optional

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        Fewer than ``config.min_per_label`` utterances for some label (named), label indices
        out of range, or features of the wrong shape or not finite.
    """
    import datetime

    cfg = (config or ProfileConfig()).validate()
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=int)
    c = len(model.labels)
    if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[1] != model.extractor.n_features:
        raise ProfileError(f"calibration features of shape {X.shape} for {y.shape[0]} labels; the model takes "
                           f"{model.extractor.n_features} features per utterance")
    if y.size and (y.min() < 0 or y.max() >= c):
        raise ProfileError(f"label indices must lie in 0..{c - 1}")
    if not np.isfinite(X).all():
        raise ProfileError("calibration features hold NaN or infinite values")
    counts = np.bincount(y, minlength=c)
    short = [f"{lab} ({n})" for lab, n in zip(model.labels, counts) if n < cfg.min_per_label]
    if short:
        raise ProfileError(
            f"too few calibration utterances: every label needs at least {cfg.min_per_label}; short: {', '.join(short)}"
        )
    if model.normalizer is not None:
        mean, var = person_prior(model.normalizer, X, prior_weight=cfg.prior_weight)
    else:
        mean, var = X.mean(axis=0), np.maximum(X.var(axis=0), _VAR_FLOOR)
    W, b = np.eye(c), np.zeros(c)
    prof = Profile(
        name=name, model_fingerprint=model_fingerprint(model), model_name=model.name, labels=list(model.labels),
        counts={lab: int(n) for lab, n in zip(model.labels, counts)}, prior_mean=mean, prior_var=var, W=W, b=b,
        config=cfg, created=datetime.datetime.now().isoformat(timespec="seconds"),
    )
    if cfg.adaptation != "none":
        # the calibration utterances as the live path sees them: person prior, each utterance
        # normalised with the prior alone (groups=None: its own values weighted as one)
        S = np.log(np.maximum(ProfiledModel(model, prof).predict_proba(X), _LOG_FLOOR))
        prof.W, prof.b = fit_score_affine(S, y, reg=cfg.reg, full=cfg.adaptation == "affine")
    return prof

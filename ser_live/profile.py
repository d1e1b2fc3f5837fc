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
   person. The profile is applied as a :class:`ser_live.estimator.Recalibrated` wrapper of
   the model object (:class:`ProfiledModel`), so it goes through the same path as every
   prediction.

Which combination is the default (:class:`ProfileConfig`) was chosen on the ``personal``
evaluation protocol (``python -m train evaluate --protocol personal``, ``train/personal.py``):
for every speaker of a corpus held out from training, calibration utterances and test
utterances are disjoint, so the adaptation is never fitted on what it is scored on. There,
with 3 utterances per class, UA rose from 56.1 % (no profile, online session statistics) to
68.8 % for the shipped ser-default (``reports/personal-ser-default.md``, 7 December, with its
faint-floor copies); the person prior alone (w = 2) gave 59.2 %, the recalibration alone (training
prior) 64.1 %.

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

import hashlib
import io
import json
import logging
import os
import shlex
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import SerLiveError
from .fastpath import adapt_log_proba  # noqa: F401 (re-exported)
from .fsutil import expand_home, write_atomic
from .levels import MAX_CLIPPED_FRACTION, clipped_fraction
from .model import EmotionModel, shipped_model_names
from .safezip import PROFILE_LIMITS, PROFILE_META_MAX_CHARS, PROFILE_META_MAX_DEPTH, check_archive, loads_bounded, printable

if TYPE_CHECKING:
    from .normalize import SessionNormalizer


def __getattr__(name: str) -> Any:
    """``Recalibrated`` and ``fit_score_affine`` (re-exported from :mod:`ser_live.estimator`),
    imported when first used: applying a profile to a model of arrays needs no scikit-learn."""
    if name in ("Recalibrated", "fit_score_affine"):
        from . import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

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
    "profile_argument",
    "profile_command",
    "profile_path",
    "profiles_dir",
    "read_calibration_csv",
    "TakeCheck",
    "adapt_log_proba",
    "fit_score_affine",
    "calibration_prompts",
    "SENTENCES_FILE",
]

log = logging.getLogger(__name__)

#: Version of the profile file layout; another version is refused with a message.
PROFILE_FORMAT_VERSION = 1
#: Classifier adaptations :class:`ProfileConfig` knows.
ADAPTATIONS: tuple[str, ...] = ("none", "bias", "affine")
#: Suffix of profile files.
PROFILE_SUFFIX = ".npz"
_VAR_FLOOR = 1e-8


class ProfileError(SerLiveError, ValueError):
    """A profile that cannot be made or used: unreadable or malformed file, another format
    version, made for another model, too few calibration utterances, or a bad calibration
    list. Exit status 2 (a usage error: the user chose the wrong profile or input)."""

    exit_code = 2


def _model_argument(model: EmotionModel) -> str:
    """What ``--model`` takes to load ``model`` again: a shipped model's short name
    (``7class``), else the file it was loaded from (a model of one's own, whose name is
    its file's stem and would not be found among the shipped ones)."""
    short = model.name.removeprefix("ser-")
    path = getattr(model, "path", None)
    if short in shipped_model_names() or path is None:
        return short
    return str(path)


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
    reg : float, default 0.1
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
    reg: float = 0.1
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
    its labels, feature configuration and session prior (a model built in memory). A model
    loaded from the ``.npz`` of arrays exported from a ``.skops`` file is that ``.skops``
    file's model: its fingerprint is the one its header names (``source_sha256``), so a
    profile serves the model however it is named (``--model M.skops`` loads the arrays beside
    it anyway).

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
        source = _exported_from(Path(path))
        if source is not None:
            return source
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


def _exported_from(path: Path) -> str | None:
    """The SHA-256 of the ``.skops`` file an arrays file (:func:`~ser_live.model.export_arrays`)
    was exported from, as its header names it; None for any other file."""
    import re

    from .arrays_file import read_npz
    from .model import _zip_kind

    if _zip_kind(path) != "arrays":
        return None
    try:
        header, _ = read_npz(path, error=ValueError)
    except ValueError:
        return None
    source = header.get("source_sha256")
    return source if isinstance(source, str) and re.fullmatch(r"[0-9a-f]{64}", source) else None


def profiles_dir() -> Path:
    """Where bare profile names live: ``platformdirs.user_data_dir("ser-live")/profiles``
    (e.g. ``~/.local/share/ser-live/profiles`` on Linux); ``$SER_LIVE_PROFILES`` overrides,
    a leading ``~`` in it expanded to the home folder (a shell leaves the one of
    ``SER_LIVE_PROFILES="~/p"`` as it is)."""
    env = os.environ.get("SER_LIVE_PROFILES")
    if env:
        return Path(expand_home(env))
    import platformdirs

    return Path(platformdirs.user_data_dir("ser-live", appauthor=False)) / "profiles"


def profile_path(value: str | Path) -> Path:
    """``--profile`` value to a file: a bare name (no folder separator, not ending in
    ``.npz``) is ``profiles_dir()/NAME.npz``, dots included (``anna.v2`` is the name
    ``anna.v2``, file ``anna.v2.npz``); anything else is the path as given (``./anna.v2``
    for a file of that name in the working folder), with a leading ``~`` or ``~user``
    expanded to the home folder (:func:`~ser_live.fsutil.expand_home`), as a shell would.

    Parameters
    ----------
    value : str or Path

    Returns
    -------
    Path

    Raises
    ------
    ProfileError
        An empty (or blank) value, or one holding a NUL byte (exit status 2).
    """
    text = str(value)
    if not text.strip():
        raise ProfileError("--profile needs a profile name or a .npz path, got an empty value")
    if "\x00" in text:
        raise ProfileError(f"--profile {text!r}: a name or path cannot hold a NUL byte")
    p = Path(text)
    bare = len(p.parts) == 1 and "/" not in text and os.sep not in text and text not in (".", "..")
    if bare and p.suffix.lower() != PROFILE_SUFFIX:
        return profiles_dir() / f"{p.name}{PROFILE_SUFFIX}"
    return p if bare else Path(expand_home(text))


def profile_argument(path: str | Path) -> str:
    """What ``--profile`` takes to name the profile file ``path`` again (the inverse of
    :func:`profile_path`): its bare name when it lies in :func:`profiles_dir`, else the path,
    with ``./`` before a file of the working folder that would otherwise read as a bare name.

    Parameters
    ----------
    path : str or Path
        A profile file, as :func:`profile_path` gives it.

    Returns
    -------
    str
        Unquoted; :func:`profile_command` quotes it for the shell.
    """
    p = Path(path)
    if p.suffix == PROFILE_SUFFIX and profile_path(p.stem) == p:
        return p.stem
    text = str(p)
    if not p.is_absolute() and len(p.parts) == 1:
        text = os.path.join(os.curdir, text)
    return text


def profile_command(path: str | Path, *, model: str | None = None, calibrate: bool = False,
                    extra: tuple[str, ...] = ()) -> str:
    """A ``ser-live`` command line for the profile at ``path``, each argument quoted for a
    POSIX shell (:func:`shlex.quote`): ``ser-live [calibrate] --profile NAME [--model M]
    [extra...]``.

    Parameters
    ----------
    path : str or Path
        The profile file (named by :func:`profile_argument`).
    model : str, optional
        ``--model``'s value (a shipped model's short name or a model file); None leaves it out.
    calibrate : bool, default False
        The ``calibrate`` command (makes the profile) instead of listening with it.
    extra : tuple of str
        Further arguments, appended.

    Returns
    -------
    str
        A value that starts with ``-`` is written ``--profile=VALUE`` (argparse would read
        ``--profile -anna`` as an option with no value).
    """
    value = profile_argument(path)
    profile = [f"--profile={value}"] if value.startswith("-") else ["--profile", value]
    args = ["ser-live", *(["calibrate"] if calibrate else []), *profile]
    if model is not None:
        args += ["--model", model]
    return shlex.join([*args, *extra])


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
    def check_model(self, model: EmotionModel, *, path: str | Path | None = None) -> None:
        """Raise :class:`ProfileError` unless ``model`` is the model this profile was made for.

        Parameters
        ----------
        model : EmotionModel
        path : str or Path, optional
            The profile's file. The refusal suggests making a profile for ``model`` in a file
            of its own beside it (``anna.npz`` -> ``anna-default.npz``), never over this one;
            without ``path``, under the bare name ``<name>-<model>``.

        Raises
        ------
        ProfileError
            Another model (other fingerprint or labels); the message names both models and
            the ``ser-live calibrate`` command (shell-quoted) for ``model``.
        """
        fp = model_fingerprint(model)
        if fp != self.model_fingerprint or list(model.labels) != list(self.labels):
            short = model.name.removeprefix("ser-")
            p = Path(path) if path is not None else profiles_dir() / f"{self.name}{PROFILE_SUFFIX}"
            own = p.with_name(f"{p.stem}-{short}{p.suffix or PROFILE_SUFFIX}")
            raise ProfileError(
                f"profile {self.name!r} was made for model {self.model_name!r} "
                f"({', '.join(self.labels)}; fingerprint {self.model_fingerprint[:12]}), not for "
                f"{model.name!r} ({', '.join(model.labels)}; fingerprint {fp[:12]}); a profile serves one "
                f"model: make one for {model.name!r} under a name of its own (keeping this one) with "
                f"`{profile_command(own, model=_model_argument(model), calibrate=True)}`"
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
        """Write the profile as one ``.npz``, atomically (:func:`ser_live.fsutil.write_atomic`:
        a temporary file of an unguessable name created with ``O_EXCL | O_NOFOLLOW``,
        fsynced, renamed over ``path``), so a planted symlink is never written through and a
        failed save leaves an earlier profile as it was.

        Parameters
        ----------
        path : str or Path
            The file (folders created); see :func:`profile_path` for bare names.

        Returns
        -------
        Path

        Raises
        ------
        OSError
            The folder cannot be created or written, or the disk is full.
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
        write_atomic(p, buf.getvalue())
        return p


_ARRAYS = ("meta", "prior_mean", "prior_var", "W", "b")


def load_profile(path: str | Path, *, model: EmotionModel | None = None) -> Profile:
    """Read and validate a profile file; with ``model``, check it was made for that model.

    Nothing in the file can run code: ``np.load(..., allow_pickle=False)`` refuses object
    arrays, and only the named numeric arrays and the JSON text are read. Nothing is
    inflated before the zip directory and array headers are checked against
    :data:`~ser_live.safezip.PROFILE_LIMITS` (a "zip bomb" is refused at once), and the
    metadata JSON is bounded in length and nesting (:func:`~ser_live.safezip.loads_bounded`).
    The names read from the file (profile, model, labels) have terminal escape sequences
    and control characters removed (:func:`~ser_live.safezip.printable`).

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
        Missing or unreadable file, a folder or another non-regular file, members that
        inflate beyond the limits, not a profile (e.g. a pickle, an object array), another
        format version, missing or malformed fields (metadata nested too deep, counts that
        are not positive integers, ``NaN``/``Infinity``), empty statistics, arrays of the
        wrong shape or with non-finite values, or (``model``) made for another model.
    """
    p = Path(path)
    try:
        is_dir, exists, is_file = p.is_dir(), p.exists(), p.is_file()
    except OSError as exc:  # e.g. a name too long for the file system
        raise ProfileError(f"profile {p}: {exc.strerror or exc}; give another profile name or path") from exc
    if is_dir:
        raise ProfileError(f"profile {p} is a folder, not a profile file; give a .npz file or a bare profile name")
    if not exists:
        what = None if model is None or _model_argument(model) == "default" else _model_argument(model)
        raise ProfileError(f"profile {p} not found; make one with `{profile_command(p, model=what, calibrate=True)}`")
    if not is_file:
        raise ProfileError(f"profile {p} is not a regular file (a FIFO or device?); give a .npz file")
    check_archive(p, PROFILE_LIMITS, error=ProfileError, what="readable ser-live profile")
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
        meta = loads_bounded(str(arrays["meta"].item()), max_bytes=PROFILE_META_MAX_CHARS,
                             max_depth=PROFILE_META_MAX_DEPTH, what="the metadata")
        if not isinstance(meta, dict):
            raise TypeError("meta is not an object")
    except (ValueError, TypeError) as exc:
        raise ProfileError(f"{p}: corrupt profile metadata ({exc})") from exc
    version = meta.get("format_version")
    if version != PROFILE_FORMAT_VERSION:
        newer = isinstance(version, int) and not isinstance(version, bool) and version > PROFILE_FORMAT_VERSION
        advice = ("a newer ser-live made it: upgrade ser-live to use it (making it again here would replace it)"
                  if newer else "make it again with `ser-live calibrate`")
        raise ProfileError(f"{p}: profile format {version!r}, this ser-live reads format {PROFILE_FORMAT_VERSION}; "
                           f"{advice}")
    try:
        labels = [printable(v) if isinstance(v, str) else v for v in list(meta["labels"])]
        counts = {printable(k): v for k, v in dict(meta["counts"]).items()}
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in counts.values()):
            raise ValueError("the counts are not whole numbers")
        cfg = ProfileConfig(**dict(meta["config"])).validate()
        fingerprint = str(meta["model_fingerprint"])
        model_name, name = printable(meta["model_name"]), printable(meta["name"])
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
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
    elif mean.size == 0:
        problems.append("empty statistics")
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
        b=b.astype(np.float64), config=cfg, created=printable(meta.get("created", "")),
    )
    if model is not None:
        prof.check_model(model, path=p)
        if model.normalizer is not None and mean.shape != (model.normalizer.n_features_in_,):
            raise ProfileError(f"{p}: statistics of {mean.shape[0]} features, the model has {model.normalizer.n_features_in_}")
    return prof


class ProfiledModel(EmotionModel):
    """An :class:`EmotionModel` with a :class:`Profile` applied (see :meth:`Profile.apply`).

    Its model object is a :class:`~ser_live.estimator.Recalibrated` wrapper (the profile's
    ``W``, ``b``) of the base model's object with the person prior in its normaliser
    (:meth:`~ser_live.estimator.EmotionEstimator.with_prior`); predictions go through it as
    through any model's. Everything else (labels, extractor, name) is the base model's, so
    the live recogniser and ``ser-live predict`` use it unchanged.

    Attributes
    ----------
    base : EmotionModel
    profile : Profile
    """

    def __init__(self, base: EmotionModel, profile: Profile) -> None:
        if hasattr(base.estimator, "recalibrated"):  # a model object of arrays (ser_live/fastpath.py)
            est = base.estimator.with_prior(profile.prior_mean, profile.prior_var).recalibrated(profile.W, profile.b)
        else:
            from .estimator import Recalibrated

            est = Recalibrated.frozen(base.estimator.with_prior(profile.prior_mean, profile.prior_var), profile.W, profile.b)
        super().__init__(est, base.labels, base.feature_config, name=base.name, metadata=base.metadata)
        if "extractor" in base.__dict__:  # share a built extractor (cached_property)
            self.__dict__["extractor"] = base.__dict__["extractor"]
        self.base = base
        self.profile = profile
        self.path = getattr(base, "path", None)


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
    short = too_few("calibration utterances", model.labels, counts=counts.tolist(), need=cfg.min_per_label)
    if short:
        raise ProfileError(short)
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
        from .estimator import Recalibrated

        rc = Recalibrated(model.estimator.with_prior(mean, var), reg=cfg.reg, full=cfg.adaptation == "affine")
        rc.fit(X.astype(np.float32), y)
        prof.W, prof.b = rc.W_, rc.b_
    return prof


# ---------------------------------------------------------------------- calibration takes
@dataclass(frozen=True)
class TakeCheck:
    """When a calibration take is good enough to learn from.

    Attributes
    ----------
    min_speech_s : float, default 0.8
        Shortest voiced span (s): first to last frame the VAD calls voiced.
    min_level_dbfs : float, default -60.0
        Quietest RMS level of the voiced frames (dB re int16 full scale).
    max_clipped_fraction : float, default 0.001
        Most samples at int16 full scale (the input is clipping above about 0.1 %).
    min_voiced_fraction : float, default 0.3
        Fewest frames of the take the VAD calls voiced (below: noise, a cough, not speech).
    min_periodic_fraction : float, default 0.2
        Fewest voiced frames with a pitch: normalised autocorrelation above 0.5 at a lag of
        60-400 Hz (the WebRTC VAD also calls steady noise voiced; speech has vowels).
    """

    min_speech_s: float = 0.8
    min_level_dbfs: float = -60.0
    max_clipped_fraction: float = MAX_CLIPPED_FRACTION
    min_voiced_fraction: float = 0.3
    min_periodic_fraction: float = 0.2

    def reason(self, samples: np.ndarray, *, aggressiveness: int = 2, frame_ms: int = 30,
               sample_rate_hz: int = 16000) -> str | None:
        """Why a take is rejected, or None when it is good.

        Parameters
        ----------
        samples : np.ndarray, int16, shape (n_samples,)
            One utterance as the segmenter cut it (pre-roll and hangover included).
        aggressiveness, frame_ms, sample_rate_hz
            The WebRTC VAD's mode, frame length (ms) and the sample rate (Hz): the live
            segmenter's (:class:`~ser_live.vad.VadConfig`).

        Returns
        -------
        str or None
            A reason a user can act on (e.g. ``"too quiet (-56 dBFS < -50 dBFS): speak up
            or move closer to the microphone"``).
        """
        import webrtcvad

        x = np.asarray(samples)
        if x.dtype != np.int16:
            from .audiofile import to_int16

            x = to_int16(x.astype(np.float32))
        fl = sample_rate_hz * frame_ms // 1000
        n_frames = len(x) // fl
        if n_frames == 0:
            return "too short (no complete frame)"
        vad = webrtcvad.Vad(int(aggressiveness))
        frames = x[: n_frames * fl].reshape(n_frames, fl)
        voiced = np.array([vad.is_speech(f.tobytes(), sample_rate_hz) for f in frames])
        clipped = clipped_fraction(x)
        if clipped > self.max_clipped_fraction:
            return (f"clipped ({100 * clipped:.1f} % of samples at full scale): speak softer or turn the "
                    "microphone gain down")
        quiet = self._quiet(frames[voiced] if voiced.any() else frames)
        if voiced.mean() < self.min_voiced_fraction:
            if quiet:
                return quiet
            return f"not speech ({100 * voiced.mean():.0f} % of frames voiced): say the sentence aloud"
        if _periodic_fraction(frames[voiced], sample_rate_hz) < self.min_periodic_fraction:
            return "not speech (no pitch in the voiced frames: noise?): say the sentence aloud"
        idx = np.flatnonzero(voiced)
        span_s = (idx[-1] - idx[0] + 1) * frame_ms / 1000.0
        if span_s < self.min_speech_s:
            return f"too short ({span_s:.1f} s of speech < {self.min_speech_s:g} s): say the whole sentence"
        return quiet

    def _quiet(self, frames: np.ndarray) -> str | None:
        v = frames.astype(np.float64) / 32768.0
        level = 10 * np.log10(max(float(np.mean(v**2)), 1e-12))
        if level < self.min_level_dbfs:
            return (f"too quiet ({level:.0f} dBFS < {self.min_level_dbfs:g} dBFS): speak up or move closer "
                    "to the microphone")
        return None


def _periodic_fraction(frames: np.ndarray, sample_rate_hz: int) -> float:
    """Fraction of frames (shape (n, frame_length), int16) whose normalised autocorrelation
    peaks above 0.5 at a lag of 60-400 Hz."""
    if len(frames) == 0:
        return 0.0
    x = frames.astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    n = x.shape[1]
    spec = np.fft.rfft(x, 2 * n, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :n]
    lo, hi = sample_rate_hz // 400, min(sample_rate_hz // 60, n - 1)
    # unbiased normalisation: the overlap shrinks with the lag
    r = ac[:, lo:hi] / np.maximum(ac[:, :1], 1e-9) * (n / (n - np.arange(lo, hi)))
    return float(np.mean(r.max(axis=1) > 0.5))


def read_calibration_csv(path: str | Path, labels: list[str], *, min_per_label: int = 1) -> list[tuple[Path, str]]:
    """Read a calibration list: CSV with header ``path,label``, one labelled recording per row.

    Relative paths are relative to the CSV's folder. Every problem is found before anything
    is read or written, and the first few of each kind are named. A row repeating an
    earlier one (the same file, after resolving, with the same label) is dropped with a
    logged warning, so no recording counts twice.

    Parameters
    ----------
    path : str or Path
        The CSV (UTF-8, a BOM allowed); extra columns are ignored, blank lines skipped.
    labels : list of str
        The model's labels: every row's label must be one of them.
    min_per_label : int, default 1
        Rows every label needs at least.

    Returns
    -------
    list of (Path, str)
        Resolved audio path and label, in file order.

    Raises
    ------
    ProfileError
        Unreadable file, no ``path`` and ``label`` columns, no rows, empty cells, a NUL byte
        in a path, missing audio files, paths that are not regular files, unknown labels, one file given two labels, or a
        label with fewer than ``min_per_label`` rows.
    """
    import csv

    p = Path(path)
    try:
        with open(p, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            rows = [r for r in reader if any((v or "").strip() for v in r.values() if isinstance(v, str))]
            fields = [h.strip() for h in (reader.fieldnames or [])]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ProfileError(f"calibration list {p}: cannot read it ({exc})") from exc
    if "path" not in fields or "label" not in fields:
        raise ProfileError(f"calibration list {p}: the header must be `path,label`, got {','.join(fields) or '(empty)'}")
    if not rows:
        raise ProfileError(f"calibration list {p}: no rows after the header `path,label`")
    base = p.resolve().parent
    out: list[tuple[Path, str]] = []
    empty, missing, special, unknown, nul, twice = [], [], [], [], [], []
    seen: dict[Path, tuple[str, int]] = {}
    for line, row in enumerate(rows, start=2):
        raw, lab = (row.get("path") or "").strip(), (row.get("label") or "").strip()
        if not raw or not lab:
            empty.append(f"line {line}")
            continue
        if "\x00" in raw:
            nul.append(f"line {line}")
            continue
        f = (base / raw).resolve()
        if f in seen:
            first_label, first_line = seen[f]
            if first_label == lab:
                log.warning("calibration list %s, line %d: %s repeats line %d; counted once", p, line, raw, first_line)
            else:
                twice.append(f"{raw} ({first_label!r} on line {first_line}, {lab!r} on line {line})")
            continue
        seen[f] = (lab, line)
        if not f.exists():
            missing.append(raw)
        elif not f.is_file():
            special.append(raw)
        if lab not in labels:
            unknown.append(f"{lab!r} (line {line})")
        out.append((f, lab))
    problems = []
    if empty:
        problems.append(f"{len(empty)} row(s) with an empty path or label: {_name_some(empty)}")
    if nul:
        problems.append(f"{len(nul)} path(s) holding a NUL byte: {_name_some(nul)}")
    if twice:
        problems.append(f"{len(twice)} file(s) given two labels: {_name_some(twice)}")
    if missing:
        problems.append(f"{len(missing)} missing file(s): {_name_some(missing)}")
    if special:
        problems.append(f"{len(special)} path(s) that are not regular files (a folder, a FIFO, a device): "
                        f"{_name_some(special)}")
    if unknown:
        problems.append(f"{len(unknown)} unknown label(s): {_name_some(unknown)} (the model's labels: {', '.join(labels)})")
    short = too_few("recordings", labels, counts=[sum(1 for _, l in out if l == lab) for lab in labels],
                    need=min_per_label)
    if short:
        problems.append(short)
    if problems:
        raise ProfileError(f"calibration list {p}: " + "; ".join(problems) + "; nothing written")
    return out


def too_few(what: str, labels: "list[str]", *, counts: "list[int]", need: int) -> str | None:
    """The refusal's clause for labels with fewer than ``need`` utterances, e.g. ``"too few
    takes: every label needs at least 2; short: sad (1)"``, or None when every label has
    enough. ``counts[i]`` is the number of ``labels[i]``; ``what`` names the utterances
    (``"takes"``, ``"recordings"``, ``"calibration utterances"``). The one wording of
    calibrate, ``calibrate --from`` and :func:`build_profile`."""
    short = [f"{lab} ({n})" for lab, n in zip(labels, counts) if n < need]
    return f"too few {what}: every label needs at least {need}; short: {', '.join(short)}" if short else None


def _name_some(items: list[str], n: int = 3) -> str:
    more = len(items) - n
    return ", ".join(items[:n]) + (f" (and {more} more)" if more > 0 else "")


#: The shipped neutral sentences (one per line, ``#`` comments).
SENTENCES_FILE: Path = Path(__file__).resolve().parent / "data" / "calibration_sentences.txt"


def calibration_prompts(labels: list[str], *, per_class: int, sentences_file: str | Path | None = None
                        ) -> list[tuple[str, str]]:
    """What ``ser-live calibrate`` asks for: ``per_class`` takes of each label, label by
    label, the ``j``-th take of every label with the same ``j``-th sentence (so the words
    are the same in every emotion).

    Parameters
    ----------
    labels : list of str
        The model's labels, in its order.
    per_class : int
        Takes per label (>= 1).
    sentences_file : str or Path, optional
        Default :data:`SENTENCES_FILE`.

    Returns
    -------
    list of (str, str)
        ``(label, sentence)``, ``len(labels) * per_class`` of them.

    Raises
    ------
    ValueError
        ``per_class < 1`` or a sentences file with no sentence.
    """
    if int(per_class) < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    text = Path(sentences_file or SENTENCES_FILE).read_text(encoding="utf-8")
    sentences = [s.strip() for s in text.splitlines() if s.strip() and not s.lstrip().startswith("#")]
    if not sentences:
        raise ValueError(f"{sentences_file or SENTENCES_FILE}: no sentence")
    return [(lab, sentences[j % len(sentences)]) for lab in labels for j in range(int(per_class))]

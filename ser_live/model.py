"""``EmotionModel``: the fitted model object (:class:`~ser_live.estimator.EmotionEstimator`)
with its labels, feature configuration and training metadata, saved and loaded as one file.

Files are written with skops [1]_, which rebuilds scikit-learn objects without unpickling.
skops can still import and call any type a file names, so :meth:`EmotionModel.load` first
lists every type in the file (:func:`model_file_types`) and refuses the file, naming the
types, unless all of them are in :data:`TRUSTED_TYPES`: exactly the types the project's own
training recipes write. A model records the :class:`~ser_live.features.FeatureConfig` it was
trained on, the number and a hash of its feature names, and the library versions; a file made
with another extractor, or by an incompatible version of ser-live, is refused with a message
saying what to do.

Where the shipped models come from
----------------------------------
Training writes to the top-level ``models/`` folder of the repository. ``pyproject.toml`` maps
that folder to the package ``ser_live.models`` (setuptools ``package-dir``, package data
``*.skops``, ``*.md``, ``*.toml``), so an editable install, a ``pip install .`` and a wheel all
carry the same files, found with :mod:`importlib.resources` (:data:`MODELS_DIR`). Running from
a source tree that is not installed falls back to ``<repo>/models``. ``$SER_LIVE_MODELS`` (a
folder) and ``$SER_LIVE_MODEL`` (one file) override both.

References
----------
.. [1] skops, "Secure persistence", https://skops.readthedocs.io/en/stable/persistence.html
"""

from __future__ import annotations

import hashlib
import importlib.abc
import logging
import os
import sys
import zipfile
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__
from .errors import ModelError
from .fastpath import CompiledEstimator, SessionState, read_npz, save_npz
from .forksafe import fork_guard
from .features import FeatureConfig, FeatureExtractor
from .safezip import check_model_arrays, printable
from .types import Prediction

if TYPE_CHECKING:  # scikit-learn and skops are imported only to fit, save or load a .skops
    from .normalize import SessionNormalizer
    from .route import NoiseRoute

__all__ = [
    "MODEL_FORMAT_VERSION",
    "TRUSTED_TYPES",
    "EmotionModel",
    "default_model_path",
    "model_file_types",
    "shipped_model_names",
    "resolve_model_path",
    "MODELS_DIR",
    "export_arrays",
    "require_model",
]

log = logging.getLogger(__name__)


class _SkipTorchArrayApi(importlib.abc.MetaPathFinder):
    """Refuses one import: scikit-learn's array-API adapter for PyTorch (see
    :func:`import_skops_io`)."""

    NAME = "sklearn.externals.array_api_compat.torch"

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname == self.NAME:
            raise ImportError(f"{self.NAME} skipped while importing skops.io")
        return None


def import_skops_io() -> Any:
    """``skops.io``, imported without dragging PyTorch in.

    Importing ``skops.io`` lists every scikit-learn estimator
    (``sklearn.utils.all_estimators``), and the package walk behind it imports every
    subpackage of scikit-learn, including ``sklearn.externals.array_api_compat.torch``,
    which imports PyTorch when it is installed: seconds of start-up (measured 6-7 s against
    2.7 s on this project's loaded 2-core machine with the ``deep`` extra installed) for a
    module ser-live never uses. While ``skops.io`` is first imported that one subpackage is
    refused (the walk skips packages that fail to import); nothing is refused afterwards,
    and if PyTorch is already imported nothing is refused at all.

    Returns
    -------
    module
        ``skops.io``.
    """
    if "skops.io" in sys.modules or "torch" in sys.modules:
        import skops.io

        return skops.io
    guard = _SkipTorchArrayApi()
    sys.meta_path.insert(0, guard)
    try:
        import skops.io
    finally:
        sys.meta_path.remove(guard)
    return skops.io

#: Version of the on-disk layout; a file with another layout is refused with a "retrain"
#: message. 2: the payload's ``estimator`` is one :class:`~ser_live.estimator.EmotionEstimator`
#: (normaliser, classifier and noise route inside it); format 1 kept them as three entries.
MODEL_FORMAT_VERSION: int = 2

#: Keys of the payload dict of a format-2 model file.
_REQUIRED_KEYS: tuple[str, ...] = (
    "labels",
    "feature_config",
    "n_features",
    "feature_names_sha1",
    "estimator",
)

#: Every type (``module.QualName``, as skops names it) a ser-live model file may contain; a
#: file naming any other type is refused before anything in it is built. This is exactly
#: what ``train/classifiers.py:fit_default_svm`` writes (``StandardScaler`` ->
#: ``CalibratedClassifierCV(LinearSVC | SVC, method="temperature")``, or the bare SVM with
#: ``calibrate=False``) inside the payload dict of :meth:`EmotionModel.save`, plus the
#: logistic regression of the test suite's small models; the test
#: ``tests/test_model_security.py`` pins it against the shipped models and those recipes.
#: To let a new recipe save a new type: add its name here (one line; the name is what
#: ``model_file_types(path)`` reports for a file saved by the recipe) and rerun that test.
#: Never add a prefix, a module, or anything that is callable with file data (``builtins.exec``,
#: ``builtins.getattr``, ``os.system``, ...).
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # the payload dict, its JSON-able values, arrays and numpy scalars
        "builtins.dict",
        "builtins.list",
        "builtins.str",
        "builtins.tuple",
        "numpy.ndarray",
        "numpy.float64",
        # the default recipe (train/classifiers.py)
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.svm._classes.LinearSVC",
        "sklearn.svm._classes.SVC",
        "sklearn.calibration.CalibratedClassifierCV",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._TemperatureScaling",
        # the small test models (tests/test_pipeline.py, tests/test_model.py): scaler +
        # logistic regression, also the "logistic regression" of `python -m train compare`
        "sklearn.linear_model._logistic.LogisticRegression",
        # the model object (ser_live/estimator.py) holding everything below
        "ser_live.estimator.EmotionEstimator",
        # session normalisation (ser_live/normalize.py), the model object's first step
        "ser_live.normalize.SessionNormalizer",
        # the feature subset of a recipe with [features] include/exclude (ser_live/columns.py)
        "ser_live.columns.FeatureSubset",
        # the noise branch of a recipe with [noise_branch] (ser_live/route.py): the main and
        # the branch pipeline (types above), a column index and a threshold
        "ser_live.route.NoiseRoute",
    }
)


def _shipped_models_dir() -> Path:
    """``ser_live.models`` (the top-level ``models/`` once installed), else ``<repo>/models``."""
    try:
        from importlib.resources import files

        folder = files("ser_live.models")
    except (ImportError, TypeError):
        return Path(__file__).resolve().parent.parent / "models"
    return Path(str(folder))


#: Where shipped models live: ``$SER_LIVE_MODELS`` if set, else the ``ser_live.models``
#: package data (see the module docstring), else ``models/`` at the root of a source tree.
MODELS_DIR: Path = Path(os.environ.get("SER_LIVE_MODELS") or _shipped_models_dir())

DEFAULT_MODEL_NAME = "ser-default.skops"


def default_model_path() -> Path:
    """The shipped default model: ``$SER_LIVE_MODEL`` if set, else ``models/ser-default.skops``.

    Returns
    -------
    Path
        The path (it may not exist; :meth:`EmotionModel.load` says what to do then).
    """
    env = os.environ.get("SER_LIVE_MODEL")
    return Path(env) if env else MODELS_DIR / DEFAULT_MODEL_NAME


def shipped_model_names() -> list[str]:
    """The short names of the shipped models, as ``--model NAME`` takes them.

    Returns
    -------
    list of str
        ``NAME`` of every ``ser-NAME.skops`` in :data:`MODELS_DIR`, sorted (e.g.
        ``["7class", "default", "noisy"]``); empty when there is none.
    """
    return sorted(f.stem.removeprefix("ser-") for f in MODELS_DIR.glob("ser-*.skops"))


def resolve_model_path(value: str | Path) -> Path:
    """A model file path, or a shipped model's short name, as a path: what
    :meth:`EmotionModel.load` and ``--model`` take.

    A value that names an existing file (or folder), or holds a path separator or a suffix,
    is a path (loading reports it if missing). Otherwise ``NAME`` (or the model's full name
    ``ser-NAME``, as its card and the dashboard give it) means ``<models dir>/ser-NAME.skops``
    (:data:`MODELS_DIR`; ``default`` is ``ser-default.skops``, whatever ``$SER_LIVE_MODEL``
    says).

    Parameters
    ----------
    value : str or Path
        A model file (``.skops`` or ``.npz``), a short name (``"7class"``) or a shipped
        model's full name (``"ser-7class"``).

    Returns
    -------
    Path
        The file to load (not checked to exist when ``value`` is a path).

    Raises
    ------
    ModelError
        A short name with no such shipped model; the message lists the shipped names.
    """
    p = Path(value)
    if p.exists() or p.suffix or len(p.parts) > 1:
        return p
    named = MODELS_DIR / f"ser-{p}.skops"
    if named.exists():
        return named
    full = MODELS_DIR / f"{p}.skops"  # the model's own name, as its card and the dashboard give it
    if str(p).startswith("ser-") and full.exists():
        return full
    raise ModelError(
        f"no model named {str(value)!r} (no {named.name} in {MODELS_DIR}); shipped: "
        f"{', '.join(shipped_model_names()) or 'none'}; or pass a model file path"
    )


def _not_a_model_text(p: Path) -> str:
    """Why ``p`` (a ``.md`` or ``.toml``) is not loaded, and what to pass: the model beside it
    when there is one (a model card or recipe written with it), else what a model is."""
    beside = next((m for m in (p.with_suffix(".skops"), p.with_suffix(".npz")) if m.is_file()), None)
    if beside is not None:
        what = "training recipe" if p.suffix == ".toml" else "model card"
        return f"{p} is a model's {what}, not a model: pass {beside}"
    names = ", ".join(shipped_model_names()) or "none"
    return (f"{p} is not a model file: pass a model file (.skops, or the .npz exported from one) "
            f"or a shipped model's name ({names})")


def model_file_types(path: str | Path) -> set[str]:
    """Every type a skops model file names, read from its schema without building anything.

    The union of every node's ``module.class`` in ``schema.json`` (including the containers
    and arrays skops trusts by default) and of what ``skops.io.get_untrusted_types`` reports
    (which also names the functions of function, method and operator nodes).

    Parameters
    ----------
    path : str or Path
        A skops file.

    Returns
    -------
    set of str
        Fully-qualified type names, e.g. ``"sklearn.svm._classes.LinearSVC"``.

    Raises
    ------
    ModelError
        Not a zip archive with a readable skops schema, or one beyond the limits of
        :data:`ser_live.safezip.MODEL_LIMITS` (checked on the zip directory before anything
        is inflated) or with a schema nested deeper than ``SCHEMA_MAX_DEPTH``.
    """
    from .safezip import MODEL_LIMITS, SCHEMA_MAX_BYTES, SCHEMA_MAX_DEPTH, check_archive, loads_bounded

    p = Path(path)
    check_archive(p, MODEL_LIMITS, error=ModelError, what="ser-live model file")  # bounded before inflating
    sio = import_skops_io()
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "__loader__" in node:
                found.add(f"{node.get('__module__', '?')}.{node.get('__class__', '?')}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    try:
        with zipfile.ZipFile(p) as zf:
            walk(loads_bounded(zf.read("schema.json"), max_bytes=SCHEMA_MAX_BYTES, max_depth=SCHEMA_MAX_DEPTH,
                               what="schema.json"))
        found.update(sio.get_untrusted_types(file=p))
    except Exception as exc:  # zip, JSON and skops schema errors alike: not our file
        raise ModelError(f"{p}: not a ser-live model file ({type(exc).__name__}: {exc})") from exc
    return found


def _names_hash(names: list[str]) -> str:
    return hashlib.sha1("\n".join(names).encode()).hexdigest()[:16]


class EmotionModel:
    """A classifier of utterances into emotion labels: feature configuration, labels, metadata
    and the one fitted model object every prediction goes through.

    Parameters
    ----------
    estimator : EmotionEstimator or Recalibrated or sklearn classifier
        The model object (:mod:`ser_live.estimator`). A plain fitted classifier (its
        ``classes_`` integer indices into ``labels``) is composed into an
        :class:`EmotionEstimator` with ``normalizer`` and ``noise_route``.
    labels : list of str
        Label names; ``labels[i]`` is class ``i``.
    feature_config : FeatureConfig
        The extractor configuration the estimator was trained on.
    name : str, optional
        Short name shown by the dashboard (e.g. ``"ser-default"``).
    metadata : dict, optional
        JSON-able training facts: corpora, protocol scores, command, versions.
    normalizer : SessionNormalizer, optional
        Only with a plain classifier: the session normaliser to compose before it.
    noise_route : NoiseRoute, optional
        Only with a plain classifier: a noise route whose ``branch`` is fitted (and whose
        ``estimator``, when None, becomes the plain classifier).

    Attributes
    ----------
    extractor : FeatureExtractor
        The extractor for ``feature_config``, computing the columns the model reads (built
        on first use).

    Raises
    ------
    ValueError
        ``normalizer`` or ``noise_route`` given beside a model object (an
        ``EmotionEstimator`` or compiled chain), which holds its own.

    Notes
    -----
    Thread-safe once loaded: one model may serve any number of threads and recognisers at
    once, each call giving, to the bit, what it gives alone (a live session's state is the
    caller's :class:`~ser_live.fastpath.SessionState`, not the model's). It pickles, for
    process pools of any start method. See ``docs/concurrency.md``.
    """

    def __init__(
        self,
        estimator: Any,
        labels: list[str],
        feature_config: FeatureConfig,
        *,
        name: str = "model",
        metadata: dict | None = None,
        normalizer: SessionNormalizer | None = None,
        noise_route: NoiseRoute | None = None,
    ) -> None:
        self.labels = list(labels)
        if isinstance(estimator, CompiledEstimator):
            if normalizer is not None or noise_route is not None:
                    raise ValueError("normalizer and noise_route go inside the model object, not beside it")
        elif not _is_model_object(estimator):
            from .estimator import EmotionEstimator

            classifier = estimator
            if noise_route is not None:
                if noise_route.estimator is None:
                    noise_route.estimator = estimator
                classifier = noise_route
            estimator = EmotionEstimator(normalizer, classifier, n_labels=len(self.labels))
        elif normalizer is not None or noise_route is not None:
            raise ValueError("normalizer and noise_route go inside the EmotionEstimator, not beside it")
        self.estimator = estimator
        self.feature_config = feature_config
        self.name = name
        self.metadata = dict(metadata or {})

    @property
    def normalizer(self) -> Any:
        """The model object's session normaliser (None: features are used as they are): a
        :class:`~ser_live.normalize.SessionNormalizer`, or its arrays
        (:class:`~ser_live.fastpath.NormalizerArrays`) in a model loaded from arrays."""
        return self.estimator.normalizer

    @property
    def noise_route(self) -> Any:
        """The model object's noise route (None: no noise branch): a
        :class:`~ser_live.route.NoiseRoute`, or :class:`~ser_live.fastpath.RouteArrays`."""
        return self.estimator.noise_route

    @cached_property
    def compiled(self) -> CompiledEstimator | None:
        """The model object as arrays, what :meth:`predict_proba` scores with: the estimator
        itself when loaded from a ``.npz``, else compiled once from it; None for a classifier
        without an array form (scored by its scikit-learn chain)."""
        if isinstance(self.estimator, CompiledEstimator):
            return self.estimator
        try:
            return self.estimator.compile()
        except NotImplementedError:
            return None

    # ------------------------------------------------------------------ inference
    @cached_property
    def extractor(self) -> FeatureExtractor:
        """The extractor of ``feature_config`` computing only the columns the model reads
        (:meth:`~ser_live.fastpath.CompiledEstimator.read_columns`; the others are 0), or
        every column when the model reads them all or has no array form."""
        cols = None if self.compiled is None else self.compiled.read_columns()
        return FeatureExtractor(self.feature_config, columns=cols)

    def extractor_with(self, columns: Any) -> FeatureExtractor:
        """The extractor of :attr:`extractor` that also computes ``columns`` (e.g. a speaker
        embedding's, :mod:`ser_live.speakers`); the model's own columns stay bit-identical.

        Parameters
        ----------
        columns : np.ndarray, int, shape (k,), or None
            Extra column indices of the feature layout; None or empty: :attr:`extractor`.

        Returns
        -------
        FeatureExtractor

        Raises
        ------
        ValueError
            A column outside the layout.
        """
        read = None if self.compiled is None else self.compiled.read_columns()
        if read is None or columns is None or len(columns) == 0:
            return self.extractor
        return FeatureExtractor(self.feature_config, columns=np.union1d(read, np.asarray(columns, dtype=np.int64)))

    def new_session(self) -> SessionState | None:
        """Running statistics for one live session (None when the model has no normaliser).

        Per utterance: ``state.update(x)``, then ``predict_features(x, session=state)``.
        """
        return self.estimator.new_session()

    def predict_proba(
        self, X: np.ndarray, *, session: SessionState | None = None, groups: np.ndarray | None = None,
        online: Any = None, route_db: np.ndarray | None = None,
    ) -> np.ndarray:
        """Class probabilities, from the model object (:meth:`EmotionEstimator.predict_proba`).

        Parameters
        ----------
        X : np.ndarray, float32, shape (n_utterances, n_features)
        session : SessionState, optional
            Live session (:meth:`new_session`): each row is normalised with its running
            statistics (the caller updates them). Not with ``groups``. Same as
            ``online=session``.
        groups : np.ndarray, shape (n_utterances,), optional
            Offline sessions: rows of one session are normalised with all of that session's
            rows. Without ``session``, ``online`` and ``groups`` each row is its own session.
        online : True or int, optional
            Simulated live sessions per group (see :meth:`EmotionEstimator.normalize`).
        route_db : np.ndarray, float, shape (n_utterances,), optional
            Per row the SNR (dB) the noise route decides by instead of the row's own column
            (NaN: its own), e.g. :class:`~ser_live.offline.SpeechStretch`'s.

        Returns
        -------
        np.ndarray, float64, shape (n_utterances, len(labels))
            Rows sum to 1; column ``i`` is ``labels[i]``. Rows the noise route sends to the
            noise branch (:meth:`noise_branch_rows`) are the branch's probabilities.

        Raises
        ------
        ModelError
            Another number of features than the extractor gives.
        ValueError
            ``session`` and ``groups`` (or ``online``) together.
        """
        X = np.atleast_2d(np.asarray(X, dtype=np.float32))
        if X.shape[1] != self.extractor.n_features:
            raise ModelError(
                f"model {self.name!r} expects {self.extractor.n_features} features, got {X.shape[1]}"
            )
        if session is not None:
            if online is not None:
                raise ValueError("give a live session or online=, not both")
            online = session
        scorer = self.compiled if self.compiled is not None else self.estimator
        with fork_guard():  # OpenBLAS products: no fork meanwhile (ser_live.forksafe)
            return scorer.predict_proba(X, groups=groups, online=online, route_db=route_db)

    def noise_branch_rows(self, X: np.ndarray, route_db: np.ndarray | None = None) -> np.ndarray:
        """Which utterances the noise branch classifies.

        Parameters
        ----------
        X : np.ndarray, float32, shape (n_utterances, n_features)
            Extractor output (before normalisation).
        route_db : np.ndarray, float, shape (n_utterances,), optional
            As :meth:`predict_proba`.

        Returns
        -------
        np.ndarray, bool, shape (n_utterances,)
            All False for a model without a noise branch.
        """
        X = np.atleast_2d(np.asarray(X))
        rows = self.estimator.noisy_rows(X, route_db)
        return np.zeros(X.shape[0], dtype=bool) if rows is None else rows

    def predict_features(self, features: np.ndarray, *, session: SessionState | None = None,
                         route_db: float | None = None) -> Prediction:
        """Prediction for one feature vector, float32 or float64, shape (n_features,) (the
        extractor's output), optionally normalised with a live session's running statistics
        (see :meth:`new_session`); ``route_db`` (dB, None: the vector's own column) the SNR the
        noise route decides by. Raises ValueError for an array that is not one vector (rows
        of vectors go to :meth:`predict_proba`) and :class:`~ser_live.errors.ModelError` for
        another number of features (as :meth:`predict_proba`)."""
        features = np.asarray(features)
        if features.ndim != 1:  # (1, n) used to pass as a 3-D array: "expects n features, got 1"
            raise ValueError(f"predict_features takes one feature vector of shape (n_features,), got shape "
                             f"{features.shape}; for rows of vectors use predict_proba")
        X = features[None, :]
        r = None if route_db is None else np.array([route_db], dtype=np.float64)
        return self.prediction_from_proba(
            self.predict_proba(X, session=session, route_db=r)[0], noise_branch=self.noise_branch_flags(X, r)[0]
        )

    def noise_branch_flags(self, X: np.ndarray, route_db: np.ndarray | None = None) -> list[bool | None]:
        """Per utterance, what :attr:`Prediction.noise_branch` says: whether the noise
        branch classified it (:meth:`noise_branch_rows`), None for every row of a model
        without one.

        Parameters
        ----------
        X : np.ndarray, float32, shape (n_utterances, n_features)
        route_db : np.ndarray, float, shape (n_utterances,), optional
            As :meth:`predict_proba`.

        Returns
        -------
        list of bool or None, length n_utterances
        """
        X = np.atleast_2d(np.asarray(X))
        rows = self.estimator.noisy_rows(X, route_db)
        if rows is None:
            return [None] * X.shape[0]
        return [bool(v) for v in rows]

    def prediction_from_proba(self, p: np.ndarray, *, noise_branch: bool | None = None) -> Prediction:
        """The :class:`~ser_live.types.Prediction` of one row of :meth:`predict_proba`.

        Parameters
        ----------
        p : np.ndarray, float64, shape (len(labels),)
            Class probabilities, column ``i`` is ``labels[i]``.
        noise_branch : bool or None
            Whether the noise branch gave them (:meth:`noise_branch_flags`).

        Returns
        -------
        Prediction
            The most probable label, its probability, and every label's probability.
        """
        i = int(np.argmax(p))
        return Prediction(
            label=self.labels[i],
            confidence=float(p[i]),
            probabilities={lab: float(v) for lab, v in zip(self.labels, p)},
            noise_branch=noise_branch,
        )

    def predict_signal(self, y: np.ndarray, *, sample_rate_hz: float | None = None) -> Prediction:
        """Prediction for one utterance of audio, whatever it holds.

        No voice activity detection: the whole of ``y`` is classified, digital silence or
        noise too (zeros get a confident label that means nothing), and it always returns a
        prediction (a model is warmed up with it). To classify a recording, use
        :meth:`Predictor.process_signal <ser_live.offline.Predictor.process_signal>`: it
        trims ``y`` to its speech as training files are trimmed and raises
        :class:`~ser_live.errors.NoSpeechError` where the VAD finds none, as
        ``ser-live predict`` does (exit status 4).

        Parameters
        ----------
        y : array-like, float in [-1, 1] or int16, shape (n_samples,)
            Mono audio (:func:`~ser_live.vad.check_signal`).
        sample_rate_hz : float, optional
            Sample rate of ``y`` (Hz); default ``feature_config.sample_rate_hz`` (16000).
            ``y`` is converted as a file's samples are (:func:`~ser_live.vad.resample_signal`:
            another rate resampled; float clipped at full scale and rounded to int16).

        Returns
        -------
        Prediction

        Raises
        ------
        ValueError
            Audio :func:`~ser_live.vad.check_signal` refuses (not mono, NaN, a float peak
            above :data:`~ser_live.vad.MAX_FLOAT_PEAK`, 2.0, ...), ``sample_rate_hz`` not
            positive, or audio shorter than the extractor's minimum (see
            :meth:`FeatureExtractor.extract`).
        """
        from .vad import resample_signal

        rate = self.feature_config.sample_rate_hz
        y = resample_signal(y, sample_rate_hz=rate if sample_rate_hz is None else sample_rate_hz, target_hz=rate)
        return self.predict_features(self.extractor.extract(y))

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the model as one skops file (parent folders created); the model's ``path``
        becomes it (:func:`export_arrays` then writes the arrays beside it). The file is
        written whole to a temporary file and renamed over ``path``
        (:func:`ser_live.fsutil.atomic_writer`), so a full disk or an interrupt leaves an
        earlier model at ``path`` as it was.

        Returns
        -------
        Path

        Raises
        ------
        OSError
            The folder cannot be made or the file written (``path`` then unchanged).
        """
        import sklearn

        from .fsutil import atomic_writer

        sio = import_skops_io()
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        payload = {**self.header(), "sklearn_version": sklearn.__version__, "estimator": self.estimator}
        with atomic_writer(p) as f:
            sio.dump(payload, f)
        self.path = p
        return p

    def header(self) -> dict:
        """The JSON-able facts saved with the model: format version, versions, name, labels,
        feature configuration, feature layout (count and hash of the names), metadata."""
        names = self.extractor.feature_names()
        return {
            "format_version": MODEL_FORMAT_VERSION,
            "ser_live_version": __version__,
            "numpy_version": np.__version__,
            "name": self.name,
            "labels": list(self.labels),
            "feature_config": self.feature_config.to_dict(),
            "n_features": len(names),
            "feature_names_sha1": _names_hash(names),
            "metadata": _jsonable(self.metadata),
        }

    @classmethod
    def load(cls, path: str | Path | None = None, *, arrays: bool = True) -> "EmotionModel":
        """Load a model file safely and check it matches this version's feature extractor.

        A ``.skops`` file with a ``.npz`` beside it exported from that very file (the
        header's ``source_sha256``; :func:`export_arrays`) loads from the ``.npz``: numpy
        only, no scikit-learn or skops import; one exported from another file, or damaged,
        is passed over with a warning and the ``.skops`` loads. A ``.npz`` path loads as
        such. Which of the two a file is, is read from its zip members when its suffix is
        another (a renamed file, ``M.NPZ``, none): an arrays file under any name loads as
        arrays, a skops file named ``.npz`` as a skops file (its types checked all the same).
        Errors about a model named by ``$SER_LIVE_MODEL`` (``path`` None) say so.

        Parameters
        ----------
        path : str or Path, optional
            Model file, or a shipped model's short name (:func:`shipped_model_names`, e.g.
            ``"7class"``; :func:`resolve_model_path`); default :func:`default_model_path`.
        arrays : bool, default True
            False: a ``.skops`` loads from itself even with arrays beside it (to reach the
            scikit-learn objects, e.g. to refit or inspect them).

        Returns
        -------
        EmotionModel
            Its ``estimator`` an :class:`~ser_live.estimator.EmotionEstimator` (from skops) or
            a :class:`~ser_live.fastpath.CompiledEstimator` (from arrays).

        Raises
        ------
        ModelError
            Missing or unreadable file, a folder, a FIFO or device, or no shipped model of that
            name; a model card or
            recipe (``.md``, ``.toml``) given for the model (the message names the model
            beside it, if any); a type outside
            :data:`TRUSTED_TYPES` (the file could run code; the message names the types, and
            nothing from the file is built); an
            arrays file beyond its limits, with a missing, misshapen or non-finite array;
            another file-format version; required keys missing; labels that are not distinct
            printable names, or metadata that is not a dict; a feature configuration or
            feature layout this version of the extractor does not produce.
        """
        from_env = path is None and bool(os.environ.get("SER_LIVE_MODEL"))
        try:
            p = resolve_model_path(path) if path is not None else default_model_path()
            return cls._load_path(p, arrays=arrays)
        except ModelError as exc:
            if from_env:  # say where the path came from: nothing on the command line named it
                raise ModelError(f"{exc} (the model named by $SER_LIVE_MODEL; unset it for the shipped one)") from exc
            raise

    @classmethod
    def _load_path(cls, p: Path, *, arrays: bool) -> "EmotionModel":
        """:meth:`load` of the file ``p``."""
        if not p.exists():
            raise ModelError(
                f"model file {p} not found; pass a model file or a shipped model's name "
                f"({', '.join(shipped_model_names()) or 'none'}), or train one with `python -m train fit`"
            )
        if p.suffix in (".toml", ".md"):  # the recipe or the model card written beside a model
            raise ModelError(_not_a_model_text(p))
        if not p.is_file():  # reading a FIFO blocks for ever, /dev/zero never ends
            what = "a folder" if p.is_dir() else "not a regular file (a FIFO or device?)"
            raise ModelError(f"model {p} is {what}; pass a model file (.skops, or the .npz exported from one) "
                             f"or a shipped model's name ({', '.join(shipped_model_names()) or 'none'})")
        kind = _zip_kind(p)  # by content, not only by suffix: a renamed file, "M.NPZ", no suffix
        if kind == "arrays" or (p.suffix.lower() == ".npz" and kind != "skops"):
            return cls._load_npz(p, source=None)
        if kind == "skops" and p.suffix.lower() == ".npz":  # a .skops renamed: checked as every .skops is
            return cls._load_skops(p)
        npz = p.with_suffix(".npz")
        if arrays and npz.is_file():
            try:
                return cls._load_npz(npz, source=p)
            except ModelError as exc:  # a damaged arrays file beside it: as one made from another model
                log.warning("%s cannot be used (%s); loading %s (re-export the arrays with "
                            "`python -m train export %s`)", npz, exc, p, p)
        return cls._load_skops(p)

    @classmethod
    def _load_npz(cls, p: Path, *, source: Path | None) -> "EmotionModel":
        """From an arrays file; with ``source`` (the ``.skops`` beside it), from the skops
        file instead when the arrays were not exported from it."""
        header, arrays = read_npz(p, error=ModelError)
        if source is not None and header.get("source_sha256") != _file_sha256(source):
            log.warning("%s was not exported from %s (re-export with `python -m train export %s`); "
                        "loading the skops file", p, source, source)
            return cls._load_skops(source)
        labels, cfg = _check_header(p, header, required=("estimator",))
        try:
            est = CompiledEstimator.from_arrays(header["estimator"], arrays, n_features=int(header["n_features"]))
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise ModelError(f"{p}: corrupt model arrays file ({type(exc).__name__}: {exc})") from exc
        if est.n_labels != len(labels):
            raise ModelError(f"{p}: corrupt model arrays file: {est.n_labels} classes for {len(labels)} labels")
        if est.route is not None:
            names = FeatureExtractor(cfg).feature_names()
            if names[est.route.column] != est.route.column_name:
                raise ModelError(f"{p}: corrupt model arrays file: the noise route's column is not {est.route.column_name}")
        return cls._checked(est, labels, cfg, header, source or p)

    @classmethod
    def _checked(cls, estimator: Any, labels: list[str], cfg: FeatureConfig, header: dict, p: Path) -> "EmotionModel":
        name = header.get("name")  # shown on the terminal: escape sequences and control characters removed
        name = printable(name) if isinstance(name, str) and printable(name) else p.stem
        model = cls(estimator, labels, cfg, name=name, metadata=header.get("metadata", {}))
        model.path = p
        check_model_arrays(model)  # finite numbers, array shapes that fit (ser_live/safezip.py)
        return model

    @classmethod
    def _load_skops(cls, p: Path) -> "EmotionModel":
        """From a skops file (the training artefact)."""
        from .estimator import EmotionEstimator
        from .normalize import SessionNormalizer

        sio = import_skops_io()
        types = model_file_types(p)
        refused = sorted(types - TRUSTED_TYPES)
        if refused:
            raise ModelError(
                f"{p}: refusing to load a model file holding types ser-live does not trust: "
                f"{', '.join(refused)} (loading them could run code from the file; only "
                "ser_live.model.TRUSTED_TYPES are loaded)"
            )
        try:
            payload = sio.load(p, trusted=sorted(types))
        except Exception as exc:
            raise ModelError(f"{p}: cannot load model ({type(exc).__name__}: {exc})") from exc
        labels, cfg = _check_header(p, payload, required=_REQUIRED_KEYS)
        estimator = payload["estimator"]
        if not (isinstance(estimator, EmotionEstimator) and hasattr(estimator.classifier, "classes_")
                and hasattr(estimator.main_classifier, "predict_proba")):
            raise ModelError(f"{p}: corrupt model file: 'estimator' is not a fitted ser-live model object")
        if estimator.normalizer is not None and not isinstance(estimator.normalizer, SessionNormalizer):
            raise ModelError(f"{p}: corrupt model file: the model object's normaliser is not a SessionNormalizer")
        names = FeatureExtractor(cfg).feature_names()
        route = estimator.noise_route
        if route is not None:
            cut = getattr(route, "threshold_db_", None)
            ok = (
                isinstance(route.column, int) and 0 <= route.column < len(names)
                and names[route.column] == route.column_name
                and isinstance(cut, float) and np.isfinite(cut)
                and hasattr(route.branch, "predict_proba") and hasattr(route.branch, "classes_")
            )
            if not ok:
                raise ModelError(f"{p}: corrupt model file: 'noise_route' is not a fitted noise branch on this extractor's columns")
        import sklearn

        if payload.get("sklearn_version") != sklearn.__version__:
            log.warning(
                "%s was saved with scikit-learn %s, running %s", p, payload.get("sklearn_version"), sklearn.__version__
            )
        return cls._checked(estimator, labels, cfg, payload, p)


def require_model(model: Any, *, where: str) -> Any:
    """``model`` itself, unless it is a model's name or path (or None), which ``where`` (e.g.
    ``"Recognizer"``) cannot use: a :class:`TypeError` then says to load it, at the call
    that made the mistake rather than at the first utterance.

    Parameters
    ----------
    model : EmotionModel (or what stands for one)
        What the caller was given; anything but a str, a path or None is returned unchecked.
    where : str
        The call that takes it, named in the message.

    Returns
    -------
    object
        ``model``.

    Raises
    ------
    TypeError
        ``model`` is a str, a path or None.
    """
    if model is None or isinstance(model, (str, os.PathLike)):
        load = "EmotionModel.load()" if model is None else f"EmotionModel.load({str(model)!r})"
        raise TypeError(f"{where} takes a loaded model, got {model!r}: pass {load} "
                        "(from ser_live import EmotionModel)")
    return model


def _check_header(p: Path, header: Any, *, required: tuple[str, ...]) -> tuple[list[str], FeatureConfig]:
    """The labels and feature configuration of a model file's header (skops payload or
    arrays header), checked against this version's extractor.

    Raises
    ------
    ModelError
        Not a model header, another format version, missing keys, bad labels (not a list of
        names, a name twice, control characters or terminal escapes in one), metadata that is
        not a dict, another feature configuration or layout.
    """
    if not isinstance(header, dict) or "format_version" not in header:
        raise ModelError(f"{p}: not a ser-live model file (no format_version)")
    if header["format_version"] != MODEL_FORMAT_VERSION:
        raise ModelError(
            f"{p}: model file format {header['format_version']!r} but this ser-live reads format "
            f"{MODEL_FORMAT_VERSION}; retrain with `python -m train fit` or use a matching ser-live"
        )
    missing = [k for k in ("labels", "feature_config", "n_features", "feature_names_sha1", *required) if k not in header]
    if missing:
        raise ModelError(
            f"{p}: incomplete model file, missing {', '.join(dict.fromkeys(missing))}; "
            "retrain with `python -m train fit` or restore the file"
        )
    labels = header["labels"]
    if not (isinstance(labels, list) and labels and all(isinstance(v, str) and v for v in labels)):
        raise ModelError(f"{p}: corrupt model file: 'labels' is not a list of label names")
    if len(set(labels)) != len(labels):  # one label's probability would hide another's
        twice = sorted({printable(v) for v in labels if labels.count(v) > 1})
        raise ModelError(f"{p}: corrupt model file: 'labels' names {', '.join(twice)} more than once")
    odd = [v for v in labels if printable(v) != v]  # printed on the terminal as they are
    if odd:
        raise ModelError(f"{p}: corrupt model file: label {printable(odd[0])!r} holds control characters "
                         "or terminal escape sequences, or is longer than 200 characters")
    if not isinstance(header.get("metadata", {}), dict):
        raise ModelError(f"{p}: corrupt model file: 'metadata' is a {type(header['metadata']).__name__}, not a dict")
    try:
        cfg = FeatureConfig.from_dict(header["feature_config"])
        names = FeatureExtractor(cfg).feature_names()  # checked values; its own checks (n_fft vs pitch lags) too
    except (TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise ModelError(
            f"{p}: made with another feature extractor ({exc}); retrain with `python -m train fit`"
        ) from exc
    if len(names) != header["n_features"] or _names_hash(names) != header["feature_names_sha1"]:
        raise ModelError(
            f"{p}: made with ser-live {header.get('ser_live_version')} whose feature extractor "
            + (f"gave {header['n_features']} features; this version gives {len(names)}"
               if len(names) != header["n_features"] else
               f"gave the same number of features ({len(names)}) under other names or in another order")
            + " for the same configuration. Retrain with `python -m train fit` (or install the matching ser-live)."
        )
    return labels, cfg


def _zip_kind(path: Path) -> str | None:
    """What a model file is by its zip members, whatever its suffix: ``"arrays"`` (a
    ``header.npy`` and no ``schema.json``: :func:`export_arrays`' file), ``"skops"`` (a
    ``schema.json`` and no ``header.npy``), else None (neither, both, not a zip, unreadable).
    Only the zip's directory is read; nothing is inflated."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError):
        return None
    arrays, skops = "header.npy" in names, "schema.json" in names
    return "arrays" if arrays and not skops else "skops" if skops and not arrays else None


def _file_sha256(path: Path) -> str:
    """SHA-256 of a model file (hex); the file is bounded (:data:`ser_live.safezip.MODEL_LIMITS`)
    before it is read whole."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _is_model_object(obj: Any) -> bool:
    """An :class:`~ser_live.estimator.EmotionEstimator` or ``Recalibrated`` (only possible
    once that module is imported: it is not imported to check)."""
    mod = sys.modules.get("ser_live.estimator")
    return mod is not None and isinstance(obj, (mod.EmotionEstimator, mod.Recalibrated))


def export_arrays(model: "EmotionModel | str | Path", path: str | Path | None = None) -> Path:
    """Write a model's compiled chain as one ``.npz`` (:func:`ser_live.fastpath.save_npz`):
    the arrays the runtime scores with, and a JSON header (:meth:`EmotionModel.header`, plus
    the SHA-256 of the ``.skops`` it was exported from, so a refitted ``.skops`` is never
    scored with stale arrays).

    Parameters
    ----------
    model : EmotionModel, str or Path
        A model, or the path of a ``.skops`` file (loaded from the skops file itself).
    path : str or Path, optional
        Output; default: the model's file with the suffix ``.npz``.

    Returns
    -------
    Path

    Raises
    ------
    ModelError
        A model whose classifier has no array form (a kernel SVM...), no ``path`` for an
        in-memory model, or a ``model`` path that is an arrays file itself, or not a
        loadable ``.skops`` (as :meth:`EmotionModel.load`).
    """
    if not isinstance(model, EmotionModel):
        if _zip_kind(Path(model)) == "arrays":  # an arrays file by its content, whatever its name
            raise ModelError(f"{model} is a model's arrays file already: export writes one from the .skops "
                             "model file it comes from; pass that file")
        model = EmotionModel._load_skops(Path(model))
    src = getattr(model, "path", None)
    if path is None:
        if src is None:
            raise ModelError("export_arrays: give the output path of an in-memory model")
        path = Path(src).with_suffix(".npz")
    try:
        compiled = model.estimator if isinstance(model.estimator, CompiledEstimator) else model.estimator.compile()
    except NotImplementedError as exc:
        raise ModelError(f"model {model.name!r} cannot be exported as arrays ({exc})") from exc
    header = model.header()
    if src is not None and Path(src).suffix == ".skops" and Path(src).is_file():
        header["source_sha256"] = _file_sha256(Path(src))
    return save_npz(path, header, compiled)


def _jsonable(obj: Any) -> Any:
    """Plain builtins only (skops stores those without trust questions)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj

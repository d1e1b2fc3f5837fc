"""The training recipe as one file: ``train/recipes/<model>.toml``, read by ``fit``,
``evaluate`` and the model card.

A recipe holds the corpora, the label set (and how other labels map into it), the feature
subset, the session normaliser's parameters, the augmentations, the classifier grid and the
calibration. :class:`RecipeClassifier` is the recipe as a scikit-learn estimator: every
step (normaliser prior, scaler, setting chosen by speaker-grouped CV, temperature) is fitted
on the data given to :meth:`RecipeClassifier.fit` only, so a protocol fold fits it on its
training speakers.

Example recipe (``train/recipes/ser-default.toml``)::

    name = "ser-default"
    corpora = ["ravdess", "tess", "emodb", "emotiontts_kor"]
    labels = ["neutral", "happy", "sad", "angry"]
    [label_map]                 # training labels mapped before ``labels`` filters
    [features]
    include = []                # feature-name prefixes kept (empty: all)
    exclude = []
    voice_quality = false       # true: extract the eGeMAPS-like ``voice`` group too
    [normalizer]
    enabled = true
    prior_weight = 10.0         # utterances
    session_cap = 10.0          # the most utterances a session's own statistics count as
    scale = true
    mode = "replace"            # or "append"
    absolute = []               # feature-name prefixes kept absolute (not normalised)
    [[augmentations]]
    rt60_s = 0.5
    [noise_branch]              # optional: a second SVM for utterances heard in noise
    column = "rms_db_p5_95"     # the feature read as the utterance's SNR (dB)
    [[noise_branch.augmentations]]
    snr_db = 10.0               # its training copies (besides the clean rows)
    [classifier]
    grid = ["linear C=1e-4", "linear C=1e-3"]
    inner_splits = 3
    inner_cv = "speaker"        # or "corpus": leave-one-corpus-out inner CV
    speaker_balance = false     # true: every training speaker weighs the same
    [calibration]
    method = "temperature"
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline

from ser_live.columns import FeatureSubset
from ser_live.features import FeatureConfig
from ser_live.normalize import SessionNormalizer
from ser_live.route import DEFAULT_SNR_COLUMN, NoiseRoute, fit_threshold, snr_threshold

from .augment import Augmentation

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Recipe", "NormalizerSpec", "NoiseBranchSpec", "load_recipe", "display_path", "RecipeClassifier", "RECIPES_DIR", "select_columns"]

log = logging.getLogger(__name__)

#: Where the shipped models' recipes live.
RECIPES_DIR = Path(__file__).resolve().parent / "recipes"


@dataclass(frozen=True)
class NormalizerSpec:
    """Session normaliser settings (see :class:`ser_live.normalize.SessionNormalizer`).

    Attributes
    ----------
    enabled : bool
    prior_weight : float
        Pseudo-utterances the training prior counts as.
    session_cap : float or None
        The most utterances a session's own statistics count as (None: no cap).
    scale : bool
        Divide by the shrunk standard deviation (else only centre).
    mode : str
        ``"replace"`` or ``"append"``.
    absolute : tuple of str
        Feature-name prefixes kept absolute (not normalised), e.g. ``("rms_db", "f0")``.
    """

    enabled: bool = False
    prior_weight: float = 10.0
    session_cap: float | None = None
    scale: bool = True
    mode: str = "replace"
    absolute: tuple[str, ...] = ()


@dataclass(frozen=True)
class NoiseBranchSpec:
    """A noise branch (:class:`ser_live.route.NoiseRoute`): a second classifier, trained on
    the clean rows plus noise-mixed copies, for utterances whose SNR column is low.

    Attributes
    ----------
    augmentations : tuple of Augmentation
        The noise copies the branch is trained on (the main classifier never sees them).
    column : str
        Feature name read as the utterance's SNR in dB (default
        :data:`ser_live.route.DEFAULT_SNR_COLUMN`). The cut is fitted on the training rows
        (:func:`ser_live.route.fit_threshold`).
    """

    augmentations: tuple[Augmentation, ...] = ()
    column: str = DEFAULT_SNR_COLUMN
    #: Issue 20: route below this SNR (dB; :func:`ser_live.route.snr_threshold`) instead of
    #: at the widest clean/copies gap (:func:`ser_live.route.fit_threshold`); None keeps the gap.
    cut_snr_db: float | None = None


@dataclass(frozen=True)
class Recipe:
    """One shipped model's training recipe (a TOML file; see the module docstring).

    Attributes
    ----------
    name : str
    description : str
    corpora : tuple of str
    labels : tuple of str
        Classes the model is trained on (and outputs).
    label_map : dict of str to str
        Training-label mapping applied first (e.g. ``{"calm": "neutral"}``).
    include, exclude : tuple of str
        Feature-name prefixes kept / dropped (empty ``include``: all).
    voice_quality : bool
        Extract the ``voice`` group too (``FeatureConfig(voice_quality=True)``: eGeMAPS-like
        loudness, spectral balance and voice quality); the model then asks the live
        extractor for it.
    normalizer : NormalizerSpec
    augmentations : tuple of Augmentation
        Copies every classifier of the model is trained on.
    noise_branch : NoiseBranchSpec or None
        A second classifier for noisy utterances (None: one classifier).
    grid : tuple of str
        SVM settings the speaker-grouped inner CV chooses among (:func:`svm_from_name`).
    inner_splits : int
    inner_cv : str
        ``"speaker"``: the grid setting is chosen by ``inner_splits``-fold CV grouped by
        speaker; ``"corpus"``: by leave-one-corpus-out CV over the training corpora (the
        cross-corpus question ``loco`` asks, asked inside the training data; corpus = the
        speaker id's prefix before the first ``-``).
    speaker_balance : bool
        Weight rows so every training speaker weighs the same in the SVM (TESS's two
        speakers have 800 utterances each, a Korean speaker 20).
    calibration : str
        ``"temperature"`` (probabilities of the shipped model) or ``"none"``.
    path : str
        The file it was read from ("" when built in code).
    """

    name: str
    corpora: tuple[str, ...]
    labels: tuple[str, ...]
    description: str = ""
    label_map: dict[str, str] = field(default_factory=dict)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    voice_quality: bool = False
    normalizer: NormalizerSpec = NormalizerSpec()
    augmentations: tuple[Augmentation, ...] = ()
    noise_branch: NoiseBranchSpec | None = None
    grid: tuple[str, ...] = ("linear C=1e-4", "linear C=1e-3", "rbf C=30 gamma=0.1/n")
    inner_splits: int = 3
    inner_cv: str = "speaker"
    speaker_balance: bool = False
    calibration: str = "temperature"
    path: str = ""

    def feature_config(self) -> FeatureConfig:
        """The extractor configuration the recipe's features come from."""
        return FeatureConfig(voice_quality=self.voice_quality)

    @property
    def all_augmentations(self) -> tuple[Augmentation, ...]:
        """Every augmented copy training needs, in the order :meth:`RecipeClassifier.fit`
        takes them: :attr:`augmentations`, then the noise branch's."""
        return self.augmentations + (self.noise_branch.augmentations if self.noise_branch else ())

    def summary(self) -> str:
        """One paragraph describing the recipe (for cards and reports)."""
        norm = self.normalizer
        parts = [
            f"corpora {', '.join(self.corpora)}",
            f"labels {', '.join(self.labels)}"
            + (f" (training labels mapped: {', '.join(f'{k}->{v}' for k, v in self.label_map.items())})" if self.label_map else ""),
            ("features: all" if not (self.include or self.exclude) else
             f"features: include {list(self.include) or 'all'}, exclude {list(self.exclude)}")
            + (" (with the voice group)" if self.voice_quality else ""),
            (
                f"session normaliser: prior weight {norm.prior_weight:g} utterances, "
                + (f"session weight capped at {norm.session_cap:g} utterances, " if norm.session_cap is not None else "")
                + 
                f"{'standardise' if norm.scale else 'centre'}, mode {norm.mode}"
                + (f", absolute {list(norm.absolute)}" if norm.absolute else "")
            )
            if norm.enabled
            else "no session normaliser",
            "augmentations: " + ("; ".join(str(a) for a in self.augmentations) or "none"),
            *(
                [f"noise branch: a second SVM trained with {'; '.join(str(a) for a in self.noise_branch.augmentations)}, "
                 f"used for utterances whose {self.noise_branch.column} is below a cut fitted on the training rows"]
                if self.noise_branch else []
            ),
            f"SVM grid {list(self.grid)} chosen by "
            + ("leave-one-corpus-out CV on the training corpora" if self.inner_cv == "corpus" else f"{self.inner_splits}-fold speaker-grouped CV")
            + (", every speaker weighing the same" if self.speaker_balance else ""),
            f"calibration {self.calibration}",
        ]
        return "; ".join(parts) + "."


_KNOWN_KEYS = {
    "name", "description", "corpora", "labels", "label_map", "features", "normalizer",
    "augmentations", "noise_branch", "classifier", "calibration",
}


def load_recipe(path: str | Path) -> Recipe:
    """Read a recipe TOML file.

    Parameters
    ----------
    path : str or Path
        A ``.toml`` file, or a bare name looked up in :data:`RECIPES_DIR`
        (``"ser-default"`` -> ``train/recipes/ser-default.toml``).

    Returns
    -------
    Recipe

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Unknown keys, missing ``name``/``corpora``/``labels``, a bad augmentation table.
    """
    p = Path(path)
    if not p.exists() and p.suffix != ".toml":
        p = RECIPES_DIR / f"{path}.toml"
    if not p.is_file():
        raise FileNotFoundError(f"recipe {path} not found (looked at {p}); recipes: {sorted(x.stem for x in RECIPES_DIR.glob('*.toml'))}")
    d = tomllib.loads(p.read_text(encoding="utf-8"))
    unknown = sorted(set(d) - _KNOWN_KEYS)
    if unknown:
        raise ValueError(f"{p}: unknown keys {unknown}; known: {sorted(_KNOWN_KEYS)}")
    missing = [k for k in ("name", "corpora", "labels") if k not in d]
    if missing:
        raise ValueError(f"{p}: missing {missing}")
    feats = d.get("features", {})
    norm = d.get("normalizer", {})
    clf = d.get("classifier", {})
    cal = d.get("calibration", {})
    try:
        augs = tuple(Augmentation.from_dict(a) for a in d.get("augmentations", []))
        branch = None
        if "noise_branch" in d:
            nb = dict(d["noise_branch"])
            unknown_nb = sorted(set(nb) - {"augmentations", "column", "cut_snr_db"})
            if unknown_nb:
                raise ValueError(f"unknown keys {unknown_nb} in [noise_branch]; known: augmentations, column, cut_snr_db")
            branch = NoiseBranchSpec(
                augmentations=tuple(Augmentation.from_dict(a) for a in nb.get("augmentations", [])),
                column=str(nb.get("column", DEFAULT_SNR_COLUMN)),
                cut_snr_db=None if nb.get("cut_snr_db") is None else float(nb["cut_snr_db"]),
            )
            if not branch.augmentations:
                raise ValueError("[noise_branch] needs at least one [[noise_branch.augmentations]] table")
        spec = NormalizerSpec(
            enabled=bool(norm.get("enabled", False)),
            prior_weight=float(norm.get("prior_weight", 10.0)),
            session_cap=None if norm.get("session_cap") is None else float(norm["session_cap"]),
            scale=bool(norm.get("scale", True)),
            mode=str(norm.get("mode", "replace")),
            absolute=tuple(norm.get("absolute", ())),
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{p}: {exc}") from exc
    return Recipe(
        name=str(d["name"]),
        description=str(d.get("description", "")),
        corpora=tuple(d["corpora"]),
        labels=tuple(d["labels"]),
        label_map=dict(d.get("label_map", {})),
        include=tuple(feats.get("include", ())),
        exclude=tuple(feats.get("exclude", ())),
        voice_quality=bool(feats.get("voice_quality", False)),
        normalizer=spec,
        augmentations=augs,
        noise_branch=branch,
        grid=tuple(clf.get("grid", Recipe.grid)),
        inner_splits=int(clf.get("inner_splits", 3)),
        speaker_balance=bool(clf.get("speaker_balance", False)),
        inner_cv=str(clf.get("inner_cv", "speaker")),
        calibration=str(cal.get("method", "temperature")),
        path=str(p),
    )


def display_path(path: str | Path) -> str:
    """A path as reports show it: relative to the repository when it lies inside it (so a
    report does not name the folder or worktree it was run from), else as given.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    str
        E.g. ``"train/recipes/ser-default.toml"``; ``""`` for ``""``.
    """
    if not str(path):
        return ""
    p = Path(path).resolve()
    root = RECIPES_DIR.parent.parent
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def select_columns(names: list[str], include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> np.ndarray:
    """Indices of the feature names that start with an ``include`` prefix (all when empty) and
    with no ``exclude`` prefix.

    Parameters
    ----------
    names : list of str
        :meth:`ser_live.features.FeatureExtractor.feature_names`.
    include, exclude : tuple of str
        Name prefixes, or regular expressions when they start with ``^``.

    Returns
    -------
    np.ndarray, int64, shape (k,)

    Raises
    ------
    ValueError
        No column left.
    """

    def hit(n: str, pats: tuple[str, ...]) -> bool:
        return any(re.match(p, n) if p.startswith("^") else n.startswith(p) for p in pats)

    idx = [i for i, n in enumerate(names) if (not include or hit(n, include)) and not hit(n, exclude)]
    if not idx:
        raise ValueError(f"no feature column left by include={include} exclude={exclude}")
    return np.array(idx, dtype=np.int64)


class RecipeClassifier(ClassifierMixin, BaseEstimator):
    """A recipe as a scikit-learn classifier: session normaliser -> feature subset ->
    standard scaler -> SVM chosen by speaker-grouped CV -> temperature scaling.

    Parameters
    ----------
    recipe : Recipe
    feature_names : list of str
        Names of the input columns (:meth:`FeatureExtractor.feature_names`).
    n_jobs : int, default 2
    calibrate : bool, optional
        Override the recipe's calibration (False: faster evaluation; the argmax is the same,
        since temperature scaling never moves it).

    Attributes
    ----------
    normalizer_ : SessionNormalizer or None
    pipeline_ : sklearn.pipeline.Pipeline
        ``[select] -> scaler -> svm``, on the normaliser's output.
    chosen_ : str
        The grid setting the inner CV chose.
    classes_ : np.ndarray
    route_ : NoiseRoute or None
        The noise branch (a recipe with ``[noise_branch]``), else None.
    route_stats_ : dict
        With a noise branch: ``column``, ``cut_db``, ``svm`` (the branch's grid setting), the
        5th/95th percentiles (dB) of the column over the clean training rows
        (``clean_db_p5_p95``) and over the noise copies (``noisy_db_p5_p95``), and the percent
        of each on the wrong side of the cut.
    """

    def __init__(self, recipe: Recipe, feature_names: list[str], *, n_jobs: int = 2, calibrate: bool | None = None) -> None:
        self.recipe = recipe
        self.feature_names = feature_names
        self.n_jobs = n_jobs
        self.calibrate = calibrate

    def make_normalizer(self) -> SessionNormalizer | None:
        """The recipe's (unfitted) session normaliser, or None."""
        spec = self.recipe.normalizer
        if not spec.enabled:
            return None
        cols = None
        if spec.absolute:
            absolute = set(select_columns(self.feature_names, spec.absolute).tolist())
            cols = np.array([i for i in range(len(self.feature_names)) if i not in absolute], dtype=np.int64)
        return SessionNormalizer(
            prior_weight=spec.prior_weight, session_cap=spec.session_cap, scale=spec.scale, columns=cols, mode=spec.mode
        )

    def _output_columns(self, norm: SessionNormalizer | None) -> np.ndarray | None:
        """Columns of the normaliser's output the recipe keeps (None: all)."""
        r = self.recipe
        if not (r.include or r.exclude):
            return None
        keep = select_columns(self.feature_names, r.include, r.exclude)
        if norm is None or norm.mode != "append":
            return keep
        pos = {c: j for j, c in enumerate(norm.columns_.tolist())}
        extra = [len(self.feature_names) + pos[c] for c in keep.tolist() if c in pos]
        return np.concatenate([keep, np.array(extra, dtype=np.int64)])

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        groups: np.ndarray,
        augmented: list[np.ndarray] | tuple = (),
    ) -> "RecipeClassifier":
        """Fit every step on these rows only.

        Parameters
        ----------
        X : np.ndarray, float32, shape (n, n_features)
            Original training utterances.
        y : np.ndarray, int, shape (n,)
        groups : np.ndarray, shape (n,)
            Speaker (split group) of each row: the normaliser's sessions and the inner CV's
            groups.
        augmented : list of np.ndarray, each shape (n, n_features)
            Augmented copies of ``X`` (row-aligned), one per entry of
            :attr:`Recipe.all_augmentations`, in that order; each copy of a speaker is
            normalised as its own session (another room/microphone). The recipe's own
            augmentations train every classifier; the noise branch's train only the branch.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            ``augmented`` of another length than :attr:`Recipe.all_augmentations`; an
            unknown ``inner_cv``; a noise-branch column the features do not have.
        """
        r = self.recipe
        augmented = [np.asarray(a) for a in augmented]
        if len(augmented) != len(r.all_augmentations):
            raise ValueError(f"recipe {r.name} needs {len(r.all_augmentations)} augmented copies, got {len(augmented)}")
        if r.noise_branch is not None and r.noise_branch.column not in self.feature_names:
            raise ValueError(f"noise branch column {r.noise_branch.column!r} is not a feature name")
        n_shared = len(r.augmentations)
        groups = np.asarray(groups, dtype=object)
        Xs = [np.asarray(X)] + augmented[:n_shared]
        gs = [groups] + [np.array([f"{g}#aug{k}" for g in groups], dtype=object) for k in range(1, len(Xs))]
        Xt, gt = np.vstack(Xs), np.concatenate(gs)
        yt = np.concatenate([np.asarray(y)] * len(Xs))
        norm = self.make_normalizer()
        if norm is not None:
            Xt = norm.fit_transform(Xt, groups=gt)
        cols = self._output_columns(norm)
        pipe, sel = self._fit_svm(Xt, yt, groups, len(Xs), cols)
        self.route_ = None
        if r.noise_branch is not None:
            Xn = augmented[n_shared:]
            gn = [np.array([f"{g}#noise{k}" for g in groups], dtype=object) for k in range(1, len(Xn) + 1)]
            Zn = [a if norm is None else norm.transform(a, groups=g) for a, g in zip(Xn, gn)]
            Zt = np.vstack([Xt, *Zn])
            yn = np.concatenate([yt] + [np.asarray(y)] * len(Xn))
            branch, sel_n = self._fit_svm(Zt, yn, groups, len(Xs) + len(Xn), cols)
            col = self.feature_names.index(r.noise_branch.column)
            clean_db = np.concatenate([a[:, col] for a in Xs])
            noisy_db = np.concatenate([a[:, col] for a in Xn])
            cut = _route_cut(r.noise_branch, clean_db, noisy_db)
            self.route_ = NoiseRoute(col, r.noise_branch.column, cut, branch)
            self.route_stats_ = {
                "column": r.noise_branch.column,
                "cut_db": round(cut, 2),
                "svm": sel_n.best,
                "clean_db_p5_p95": [round(float(v), 1) for v in np.percentile(clean_db, [5, 95])],
                "noisy_db_p5_p95": [round(float(v), 1) for v in np.percentile(noisy_db, [5, 95])],
                "clean_below_cut_pct": round(100 * float(np.mean(clean_db < cut)), 2),
                "noisy_above_cut_pct": round(100 * float(np.mean(noisy_db >= cut)), 2),
            }
            log.info("noise branch: %s, routed below %s = %.1f dB", sel_n.best, r.noise_branch.column, cut)
        self.normalizer_ = norm
        self.pipeline_ = pipe
        self.selection_ = sel
        self.chosen_ = sel.best
        self.classes_ = pipe.classes_
        return self

    def _fit_svm(self, Xt: np.ndarray, yt: np.ndarray, groups: np.ndarray, n_copies: int,
                 cols: np.ndarray | None) -> tuple[Pipeline, Any]:
        """``[select] -> scaler -> svm`` on normalised rows: ``n_copies`` row-aligned copies
        of the ``len(groups)`` original rows, the originals first; the grid setting is scored
        on the originals only."""
        from .classifiers import fit_default_svm

        select_rows = np.zeros(len(yt), dtype=bool)
        select_rows[: len(groups)] = True
        calibrate = (self.recipe.calibration != "none") if self.calibrate is None else self.calibrate
        weight = None
        if self.recipe.speaker_balance:
            _, inv, counts = np.unique(groups.astype(str), return_inverse=True, return_counts=True)
            w = 1.0 / counts[inv.ravel()]
            weight = np.concatenate([w / w.mean()] * n_copies)
        cv_groups = groups
        n_splits = self.recipe.inner_splits
        if self.recipe.inner_cv == "corpus":
            cv_groups = np.array([str(s).split("-", 1)[0] for s in groups], dtype=object)
            n_splits = len(set(cv_groups.tolist()))
        elif self.recipe.inner_cv != "speaker":
            raise ValueError(f"inner_cv must be 'speaker' or 'corpus', got {self.recipe.inner_cv!r}")
        pipe, sel = fit_default_svm(
            Xt if cols is None else Xt[:, cols],
            yt,
            np.concatenate([cv_groups] * n_copies),
            candidates=self.recipe.grid,
            n_splits=n_splits,
            calibrate=calibrate,
            n_jobs=self.n_jobs,
            select_rows=select_rows,
            sample_weight=weight,
        )
        if cols is not None:
            pipe = Pipeline([("select", FeatureSubset(cols).fit(Xt[:1])), *pipe.steps])
        return pipe, sel

    # ------------------------------------------------------------------ inference
    def normalize(self, X: np.ndarray, *, groups: np.ndarray | None = None, online_seed: int | None = None) -> np.ndarray:
        """The normaliser's output for test rows.

        Parameters
        ----------
        X : np.ndarray, shape (n, n_features)
        groups : np.ndarray, shape (n,), optional
            Session of each row (None: each row its own session).
        online_seed : int, optional
            Score as a live user gets it: within each group, rows in a random order (seeded),
            each normalised by the running statistics of the rows so far (itself included).

        Returns
        -------
        np.ndarray, float32, shape (n, n_features_out)
        """
        if self.normalizer_ is None:
            return np.asarray(X, dtype=np.float32)
        if online_seed is None or groups is None:
            return self.normalizer_.transform(X, groups=groups)
        return online_transform(self.normalizer_, X, np.asarray(groups), seed=online_seed)

    def decision_function(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        """Decision values, shape (n, n_classes) (keywords as :meth:`normalize`); rows the
        noise route sends to the noise branch get the branch's values."""
        Z = self.normalize(X, **kw)
        dec = _decision(self.pipeline_, Z)
        if self.route_ is not None:
            noisy = self.route_.noisy(X)
            if noisy.any():
                dec[noisy] = _decision(self.route_.estimator, Z[noisy])
        return dec

    def noise_branch_pct(self, X: np.ndarray) -> float | None:
        """Percent of the rows of ``X`` (raw features, shape (n, n_features)) the noise branch
        classifies; None without a noise branch."""
        if self.route_ is None or len(X) == 0:
            return None
        return round(100 * float(np.mean(self.route_.noisy(X))), 2)

    def predict(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        """Class indices, shape (n,) (keywords as :meth:`normalize`)."""
        return self.classes_[np.argmax(self.decision_function(X, **kw), axis=1)]


def _route_cut(spec: NoiseBranchSpec, clean_db: np.ndarray, noisy_db: np.ndarray) -> float:
    """The noise route's cut (dB, column units): at ``spec.cut_snr_db``
    (:func:`ser_live.route.snr_threshold`, each copy's mixing SNR from its augmentation), or
    at the widest gap between the clean rows and the copies (:func:`ser_live.route.fit_threshold`)
    when it is None. ``noisy_db`` holds the copies of :attr:`NoiseBranchSpec.augmentations`
    stacked in that order, each as long as ``len(noisy_db) // len(spec.augmentations)``.

    Raises
    ------
    ValueError
        ``cut_snr_db`` set while a branch augmentation has no ``snr_db``.
    """
    if spec.cut_snr_db is None:
        return fit_threshold(clean_db, noisy_db)
    if any(a.snr_db is None for a in spec.augmentations):
        raise ValueError("[noise_branch] cut_snr_db needs an snr_db in every noise-branch augmentation")
    n = len(noisy_db) // len(spec.augmentations)
    mixed = np.repeat([float(a.snr_db) for a in spec.augmentations], n)
    return snr_threshold(noisy_db, mixed, cut_snr_db=spec.cut_snr_db)


def _decision(pipe: Any, Z: np.ndarray) -> np.ndarray:
    """A fitted pipeline's decision values (log-probabilities when it has none)."""
    final = pipe.steps[-1][1]
    if hasattr(final, "decision_function") or not hasattr(pipe, "predict_proba"):
        try:
            return np.asarray(pipe.decision_function(Z), dtype=np.float64)
        except AttributeError:
            pass
    return np.log(np.maximum(pipe.predict_proba(Z), 1e-12))


def online_transform(norm: SessionNormalizer, X: np.ndarray, groups: np.ndarray, *, seed: int) -> np.ndarray:
    """Normalise rows as a live session would: per group, in a seeded random order, each row
    with the running statistics of the rows before it and itself.

    Parameters
    ----------
    norm : SessionNormalizer
        Fitted.
    X : np.ndarray, shape (n, n_features)
    groups : np.ndarray, shape (n,)
    seed : int

    Returns
    -------
    np.ndarray, float32, shape (n, n_features_out)
        In the input row order.
    """
    rng = np.random.default_rng(seed)
    out = np.zeros((X.shape[0], norm.n_features_out), dtype=np.float32)
    for g in sorted(set(groups.tolist()), key=str):
        idx = np.flatnonzero(groups == g)
        state = norm.new_session()
        for i in rng.permutation(idx):
            state.update(X[i])
            out[i] = state.transform(X[i])
    return out

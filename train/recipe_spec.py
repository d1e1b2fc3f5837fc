"""Training recipes as data: the TOML file read into :class:`Recipe` and its parts.

A recipe file states its settings in tables (see :mod:`train.recipe` for a whole one)::

    name = "ser-default"
    corpora = ["ravdess", "tess", "emodb", "emotiontts_kor"]
    labels = ["neutral", "happy", "sad", "angry"]
    [label_map]            # training label -> label, applied before ``labels`` filters
    [features]             # include, exclude, voice_quality, pause_gate, edge_trim, shape_voiced, hop_length
    [normalizer]           # the fields of NormalizerSpec
    [[augmentations]]      # one table per copy (train.augment.Augmentation's fields)
    [noise_branch]         # column, [[noise_branch.augmentations]]
    [classifier]           # grid, inner_splits, inner_cv, speaker_balance, corpus_balance
    [calibration]          # method

Every default is the dataclass field's default (stated once, here); a key the dataclasses
do not know is an error naming the key and the file.

An experiment states only its change::

    base = "ser-default"   # a recipe name in train/recipes/ ("experiments/norm-w10"), or a path
    name = "norm-w3"
    [normalizer]
    prior_weight = 3.0

The base is read first (it may have a base of its own), then the file's tables are merged
into it key by key; a value that is not a table (a number, a string, an array, an array of
tables such as ``augmentations``) replaces the base's. ``"none"`` clears an optional
setting: ``noise_branch = "none"`` drops the base's noise branch, ``session_cap = "none"``
its cap. The command line adds overrides in the same terms
(``python -m train evaluate --set normalizer.prior_weight=3``), applied last.
"""

from __future__ import annotations

import enum
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ser_live.features import FeatureConfig
from ser_live.route import DEFAULT_SNR_COLUMN

from .augment import Augmentation

__all__ = [
    "Recipe", "NormalizerSpec", "NoiseBranchSpec", "NormalizerMode", "InnerCV", "Calibration",
    "load_recipe", "parse_override", "display_path", "select_columns", "RECIPES_DIR", "recipe_names",
]

#: Where the shipped models' recipes live (experiments in its ``experiments/`` folder).
RECIPES_DIR = Path(__file__).resolve().parent / "recipes"

#: The value that clears an optional setting (``noise_branch``, ``session_cap``).
NONE = "none"


class NormalizerMode(str, enum.Enum):
    """How the session normaliser's output meets the model (:class:`ser_live.normalize.SessionNormalizer`)."""

    REPLACE = "replace"  #: normalised columns replace the raw ones
    APPEND = "append"  #: normalised columns are appended to the raw ones


class InnerCV(str, enum.Enum):
    """The folds the SVM setting is chosen among the grid and the temperature fitted on."""

    SPEAKER = "speaker"  #: ``inner_splits``-fold CV grouped by speaker
    CORPUS = "corpus"  #: leave-one-corpus-out CV over the training corpora


#: How cards, reports and ``fit`` name each :class:`InnerCV`'s folds.
CV_FOLDS_TEXT: dict[str, str] = {InnerCV.SPEAKER.value: "speaker-grouped", InnerCV.CORPUS.value: "leave-one-corpus-out"}


class Calibration(str, enum.Enum):
    """How the SVM's decision values become probabilities."""

    TEMPERATURE = "temperature"  #: temperature scaling (the shipped models' probabilities)
    NONE = "none"  #: none


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
        A :class:`NormalizerMode` value: ``"replace"`` or ``"append"``.
    absolute : tuple of str
        Feature-name prefixes kept absolute (not normalised), e.g. ``("rms_db", "f0")``.
    start_copies : int
        Extra copies of each training utterance for the main classifier, normalised as a
        live session's first utterances are: each copy cuts every speaker's utterances into
        seeded random sessions of ``start_length`` and normalises each session utterance by
        utterance with its running statistics (:func:`ser_live.fastpath.online_transform`).
        0: none (the classifier sees settled sessions only).
    start_length : int
        Utterances per simulated session of ``start_copies``.
    """

    enabled: bool = False
    prior_weight: float = 10.0
    session_cap: float | None = None
    scale: bool = True
    mode: str = NormalizerMode.REPLACE.value
    absolute: tuple[str, ...] = ()
    start_copies: int = 0
    start_length: int = 5


@dataclass(frozen=True)
class NoiseBranchSpec:
    """A noise branch (:class:`ser_live.route.NoiseRoute`): a second classifier, trained on
    the clean rows plus noise-mixed copies, for utterances whose SNR column is low.

    Attributes
    ----------
    augmentations : tuple of Augmentation
        The noise copies the branch is trained on (the main classifier never sees them); at
        least one.
    column : str
        Feature name read as the utterance's SNR in dB (default
        :data:`ser_live.route.DEFAULT_SNR_COLUMN`). The cut is fitted on the training rows
        (:func:`ser_live.route.fit_threshold`).
    """

    augmentations: tuple[Augmentation, ...] = ()
    column: str = DEFAULT_SNR_COLUMN


@dataclass(frozen=True)
class Recipe:
    """One model's training recipe (a TOML file; see the module docstring).

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
    pause_gate : bool
        Zero the blocks of each utterance that hold only its floor before extraction
        (``FeatureConfig(pause_gate=True)``, :mod:`ser_live.features.gating`).
    edge_trim : bool
        Keep only each utterance's span between its first and last active frame, plus 0.1 s
        (``FeatureConfig(edge_trim=True)``, :func:`ser_live.features.gating.active_span`).
    shape_voiced : bool
        Pool the spectral-shape contours and their deltas over voiced frames only
        (``FeatureConfig(shape_voiced=True)``).
    hop_length : int
        Hop between analysis frames (samples at 16 kHz; default 160, 10 ms), the
        extractor's ``FeatureConfig.hop_length``.
    normalizer : NormalizerSpec
    augmentations : tuple of Augmentation
        Copies every classifier of the model is trained on.
    noise_branch : NoiseBranchSpec or None
        A second classifier for noisy utterances (None: one classifier).
    grid : tuple of str
        SVM settings the speaker-grouped inner CV chooses among (:func:`svm_from_name`).
    inner_splits : int
    inner_cv : str
        An :class:`InnerCV` value. ``"speaker"``: the grid setting is chosen by
        ``inner_splits``-fold CV grouped by speaker; ``"corpus"``: by leave-one-corpus-out CV
        over the training corpora (the cross-corpus question ``loco`` asks, asked inside the
        training data; corpus of a speaker group by :func:`train.recipe.corpus_of_groups`),
        falling back to the speaker folds when a corpus cannot be left out
        (:func:`train.recipe.corpus_folds_unusable`: one training corpus, or a class only
        that corpus holds). The folds choose the grid setting and fit the temperature.
    speaker_balance : bool
        Weight rows so every training speaker weighs the same in the SVM (TESS's two
        speakers have 800 utterances each, a Korean speaker 20).
    corpus_balance : bool
        Weight rows so every training corpus weighs the same in the SVM (ASED has 1,960
        core-class utterances, EmoDB 339); not with ``speaker_balance``.
    calibration : str
        A :class:`Calibration` value: ``"temperature"`` (probabilities of the shipped model)
        or ``"none"``.
    path : str
        The file it was read from ("" when built in code).
    overrides : tuple of str
        Command-line overrides applied after the file (``"normalizer.prior_weight=3"``).
    """

    name: str
    corpora: tuple[str, ...]
    labels: tuple[str, ...]
    description: str = ""
    label_map: dict[str, str] = field(default_factory=dict)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    voice_quality: bool = False
    pause_gate: bool = False
    edge_trim: bool = False
    shape_voiced: bool = False
    hop_length: int = FeatureConfig.hop_length
    normalizer: NormalizerSpec = NormalizerSpec()
    augmentations: tuple[Augmentation, ...] = ()
    noise_branch: NoiseBranchSpec | None = None
    grid: tuple[str, ...] = ("linear C=1e-4", "linear C=1e-3", "rbf C=30 gamma=0.1/n")
    inner_splits: int = 3
    inner_cv: str = InnerCV.SPEAKER.value
    speaker_balance: bool = False
    corpus_balance: bool = False
    calibration: str = Calibration.TEMPERATURE.value
    path: str = ""
    overrides: tuple[str, ...] = ()

    def feature_config(self) -> FeatureConfig:
        """The extractor configuration the recipe's features come from."""
        return FeatureConfig(voice_quality=self.voice_quality, pause_gate=self.pause_gate, edge_trim=self.edge_trim,
                             shape_voiced=self.shape_voiced, hop_length=self.hop_length)

    @property
    def all_augmentations(self) -> tuple[Augmentation, ...]:
        """Every augmented copy training needs, in the order :meth:`RecipeClassifier.fit`
        takes them: :attr:`augmentations`, then the noise branch's."""
        return self.augmentations + (self.noise_branch.augmentations if self.noise_branch else ())

    def settings_record(self) -> dict[str, Any]:
        """Every setting the recipe trains and measures by, as JSON reads it back: its fields
        without ``name``, ``description``, ``path`` and ``overrides``, the base chain and
        ``--set`` overrides already applied. Reports record it (``recipe_settings``), so a
        report can be told to measure a recipe of another name with the same settings
        (``train/card.py``, ``_room_report``) even after a base it inherits from has changed.

        Returns
        -------
        dict
            JSON-able (tuples as lists, enums as their values).
        """
        import json
        from dataclasses import asdict

        d = asdict(self)
        for k in ("name", "description", "path", "overrides"):
            d.pop(k, None)
        for k in _RECORDED_WHEN_SET:  # added after reports began recording: at their default,
            if d.get(k) is False:    # left out, so those reports still match the recipes
                d.pop(k)
        return json.loads(json.dumps(d, default=str))

    def summary(self) -> str:
        """One paragraph describing the recipe (for cards and reports)."""
        norm = self.normalizer
        parts = [
            f"corpora {', '.join(self.corpora)}",
            f"labels {', '.join(self.labels)}"
            + (f" (training labels mapped: {', '.join(f'{k}->{v}' for k, v in self.label_map.items())})" if self.label_map else ""),
            ("features: all" if not (self.include or self.exclude) else
             f"features: include {list(self.include) or 'all'}, exclude {list(self.exclude)}")
            + (" (with the voice group)" if self.voice_quality else "")
            + (" (pauses gated to silence)" if self.pause_gate else "")
            + (" (edges trimmed to the active frames)" if self.edge_trim else "")
            + (" (spectral shape over voiced frames)" if self.shape_voiced else "")
            + (f" (hop {self.hop_length} samples)" if self.hop_length != FeatureConfig.hop_length else ""),
            (
                f"session normaliser: prior weight {norm.prior_weight:g} utterances, "
                + (f"session weight capped at {norm.session_cap:g} utterances, " if norm.session_cap is not None else "")
                + f"{'standardise' if norm.scale else 'centre'}, mode {norm.mode}"
                + (f", absolute {list(norm.absolute)}" if norm.absolute else "")
                + (f", {norm.start_copies} session-start copies (sessions of {norm.start_length})"
                   if norm.start_copies else "")
            )
            if norm.enabled
            else "no session normaliser",
            "augmentations: " + ("; ".join(str(a) for a in self.augmentations) or "none"),
            *(
                [f"noise branch: a second SVM trained with {'; '.join(str(a) for a in self.noise_branch.augmentations)}, "
                 f"used for utterances whose {self.noise_branch.column} is below a cut fitted on the training rows"]
                if self.noise_branch else []
            ),
            f"SVM grid {list(self.grid)} chosen (and the temperature fitted) by "
            + (f"{CV_FOLDS_TEXT['corpus']} CV on the training corpora ({CV_FOLDS_TEXT['speaker']} where a corpus "
               "cannot be left out)" if self.inner_cv == InnerCV.CORPUS else f"{self.inner_splits}-fold {CV_FOLDS_TEXT['speaker']} CV")
            + (", every speaker weighing the same" if self.speaker_balance else "")
            + (", every corpus weighing the same" if self.corpus_balance else ""),
            f"calibration {self.calibration}",
            *([f"command-line overrides {', '.join(self.overrides)}"] if self.overrides else []),
        ]
        return "; ".join(parts) + "."


#: Recipe fields a settings record (:meth:`Recipe.settings_record`) holds only when true: the
#: reports recorded before they existed (``recipe_settings``) lack them.
_RECORDED_WHEN_SET: tuple[str, ...] = ("corpus_balance", "shape_voiced")


# --- TOML layout -> dataclass fields -----------------------------------------------------

#: Top-level keys holding one Recipe field each (same name).
_TOP_FIELDS = ("name", "description", "corpora", "labels", "label_map", "augmentations")
#: Tables whose keys are Recipe fields (TOML key -> field name).
_FLAT_TABLES: dict[str, dict[str, str]] = {
    "features": {"include": "include", "exclude": "exclude", "voice_quality": "voice_quality", "pause_gate": "pause_gate",
                 "edge_trim": "edge_trim", "shape_voiced": "shape_voiced", "hop_length": "hop_length"},
    "classifier": {"grid": "grid", "inner_splits": "inner_splits", "inner_cv": "inner_cv", "speaker_balance": "speaker_balance",
                   "corpus_balance": "corpus_balance"},
    "calibration": {"method": "calibration"},
}
#: Tables read into a dataclass of their own (TOML key = field name).
_SPEC_TABLES: dict[str, type] = {"normalizer": NormalizerSpec, "noise_branch": NoiseBranchSpec}
#: Closed choices: field name -> the enum of its values.
_CHOICES: dict[str, type[enum.Enum]] = {"mode": NormalizerMode, "inner_cv": InnerCV, "calibration": Calibration}
#: Every key a recipe file may hold at the top.
KNOWN_KEYS: tuple[str, ...] = ("base", *_TOP_FIELDS, *_FLAT_TABLES, *_SPEC_TABLES)
_REQUIRED = ("name", "corpora", "labels")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, globalns=globals())


def _convert(value: Any, hint: Any, name: str) -> Any:
    """``value`` (as TOML gives it) checked against the field type ``hint``; ``ValueError``
    naming ``name`` when it does not fit."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value == NONE:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        return _convert(value, hint, name)
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {value!r}")
        choice = _CHOICES.get(name.rsplit(".", 1)[-1])
        if choice is not None and value not in {c.value for c in choice}:
            raise ValueError(f"{name} must be one of {[c.value for c in choice]}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise ValueError(f"{name} must be an array, got {value!r}")
        if args[0] is Augmentation:
            bad = [a for a in value if not isinstance(a, dict)]
            if bad:
                raise ValueError(f"{name} must be an array of tables, got {bad[0]!r}")
            return tuple(Augmentation.from_dict(a) for a in value)
        return tuple(_convert(v, args[0], f"{name}[]") for v in value)
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ValueError(f"{name} must be a table of strings, got {value!r}")
        return dict(value)
    raise TypeError(f"no TOML conversion for {name}: {hint}")  # pragma: no cover - a new field type


def _unknown(table: dict, known: typing.Iterable[str], where: str) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ValueError(f"unknown keys {unknown} in {where}; known: {sorted(known)}")


def _spec(cls: type, table: Any, where: str) -> Any:
    if not isinstance(table, dict):
        raise ValueError(f"[{where}] must be a table, got {table!r}")
    _unknown(table, [f.name for f in fields(cls)], f"[{where}]")
    hints = _hints(cls)
    return cls(**{k: _convert(v, hints[k], f"{where}.{k}") for k, v in table.items()})


def recipe_from_dict(d: dict[str, Any], *, path: str = "", overrides: tuple[str, ...] = ()) -> Recipe:
    """Build a :class:`Recipe` from a recipe's TOML tables (``base`` already resolved).

    Parameters
    ----------
    d : dict
        As :func:`tomllib.loads` gives a recipe file (without ``base``).
    path : str, optional
        Stored in :attr:`Recipe.path`.
    overrides : tuple of str, optional
        Stored in :attr:`Recipe.overrides`.

    Returns
    -------
    Recipe

    Raises
    ------
    ValueError
        An unknown key (named with its table), a missing ``name``/``corpora``/``labels``, a
        value of the wrong type or outside its closed choice, a bad augmentation table, a
        ``[noise_branch]`` without augmentations; a value training cannot use (an empty
        ``corpora``, fewer than two ``labels``, ``classifier.inner_splits`` < 2, a negative
        ``normalizer.prior_weight``, both ``classifier.speaker_balance`` and
        ``classifier.corpus_balance``).
    """
    _unknown(d, [k for k in KNOWN_KEYS if k != "base"], "the top level")
    missing = [k for k in _REQUIRED if k not in d]
    if missing:
        raise ValueError(f"missing {missing}")
    hints = _hints(Recipe)
    kw: dict[str, Any] = {k: _convert(d[k], hints[k], k) for k in _TOP_FIELDS if k in d}
    for table, keys in _FLAT_TABLES.items():
        t = d.get(table, {})
        if not isinstance(t, dict):
            raise ValueError(f"[{table}] must be a table, got {t!r}")
        _unknown(t, keys, f"[{table}]")
        kw.update({keys[k]: _convert(v, hints[keys[k]], f"{table}.{k}") for k, v in t.items()})
    if "normalizer" in d:
        kw["normalizer"] = _spec(NormalizerSpec, d["normalizer"], "normalizer")
    if d.get("noise_branch", NONE) != NONE:
        kw["noise_branch"] = branch = _spec(NoiseBranchSpec, d["noise_branch"], "noise_branch")
        if not branch.augmentations:
            raise ValueError("[noise_branch] needs at least one [[noise_branch.augmentations]] table")
    recipe = Recipe(**kw, path=path, overrides=overrides)
    _check_values(recipe)
    return recipe


def _check_values(recipe: "Recipe") -> None:
    """Values a recipe's types allow but training cannot use, refused before any corpus is
    read (they used to surface as scikit-learn errors after the extraction)."""
    if not recipe.corpora:
        raise ValueError("corpora is empty: name at least one corpus (e.g. corpora = [\"ravdess\"])")
    if len(recipe.labels) < 2:
        raise ValueError(f"labels must name at least two emotions, got {list(recipe.labels)}")
    if recipe.speaker_balance and recipe.corpus_balance:
        raise ValueError("classifier.speaker_balance and classifier.corpus_balance are both true: choose one "
                         "(every training speaker weighing the same, or every training corpus)")
    if recipe.inner_splits < 2:
        raise ValueError(f"classifier.inner_splits must be at least 2 (folds of the inner CV), got {recipe.inner_splits}")
    win = FeatureConfig.win_length
    if not 1 <= recipe.hop_length <= win:
        raise ValueError(f"features.hop_length must be 1 to {win} samples (the analysis window's length: a longer "
                         f"hop skips audio), got {recipe.hop_length}")
    norm = recipe.normalizer
    if norm is not None and norm.prior_weight < 0:
        raise ValueError(f"normalizer.prior_weight must be >= 0 (utterances the prior counts as), got {norm.prior_weight}")
    if norm is not None and (norm.start_copies < 0 or norm.start_length < 1):
        raise ValueError("normalizer.start_copies must be >= 0 and normalizer.start_length >= 1 (utterances per "
                         f"simulated session), got {norm.start_copies} and {norm.start_length}")


def _merge(base: dict, over: dict) -> dict:
    """``over`` merged into ``base``: tables key by key (recursively), anything else replaced."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _check_keys(d: dict[str, Any]) -> None:
    """``ValueError`` naming the first key of one file that no table knows."""
    _unknown(d, KNOWN_KEYS, "the top level")
    for table, keys in _FLAT_TABLES.items():
        if isinstance(d.get(table), dict):
            _unknown(d[table], keys, f"[{table}]")
    for table, cls in _SPEC_TABLES.items():
        if isinstance(d.get(table), dict):
            _unknown(d[table], [f.name for f in fields(cls)], f"[{table}]")


def _resolve(name: str | Path, *, relative_to: Path | None = None) -> Path:
    """The file a recipe reference names: an existing path (relative to ``relative_to`` for
    a ``base`` inside a file, else to the working folder), else a name in :data:`RECIPES_DIR`
    (``"ser-default"``, ``"experiments/norm-w10"``)."""
    p = Path(name)
    for cand in ([relative_to / p] if relative_to is not None and not p.is_absolute() else []) + [p]:
        if cand.is_file():
            return cand
    named = RECIPES_DIR / (str(name) if str(name).endswith(".toml") else f"{name}.toml")
    if named.is_file():
        return named
    raise FileNotFoundError(f"recipe {name} not found (looked at {p} and {named}); recipes: {recipe_names()}")


def _own_corpus_from(corpus: Any, folder: Path) -> Any:
    """A recipe file's corpus: a relative path of one's own (``"./mycalls"``,
    :func:`train.corpora.is_corpus_path`) made absolute from the file's ``folder``, so the
    recipe reads the same data from any working folder; names and absolute paths as given."""
    from .corpora import is_corpus_path

    if not isinstance(corpus, str) or not is_corpus_path(corpus):
        return corpus
    path = Path(corpus.strip()).expanduser()
    return str(path if path.is_absolute() else (folder / path).absolute())


def recipe_names() -> list[str]:
    """The names a recipe in :data:`RECIPES_DIR` is loaded by (:func:`load_recipe`).

    Returns
    -------
    list of str
        The shipped recipes (``"ser-default"``), then the experiments
        (``"experiments/norm-w10"``), each group sorted.
    """
    paths = sorted(RECIPES_DIR.rglob("*.toml"), key=lambda x: (len(x.relative_to(RECIPES_DIR).parts), x))
    return [x.relative_to(RECIPES_DIR).with_suffix("").as_posix() for x in paths]


def _read_tables(p: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A recipe file's tables with its ``base`` chain merged in (base first)."""
    if p.resolve() in chain:
        raise ValueError(f"{p}: base cycle {' -> '.join(str(c) for c in (*chain, p.resolve()))}")
    try:
        d = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{p}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{p}: not a recipe (a TOML text file; this one is not UTF-8 text: {exc.reason})") from exc
    return _tables_at(d, p, chain)


def _tables_at(d: dict[str, Any], p: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The tables ``d`` of a recipe file read as if it were the file ``p`` (its relative
    ``base`` and corpus paths taken from ``p``'s folder), its ``base`` chain merged in."""
    try:
        _check_keys(d)
    except ValueError as exc:
        raise ValueError(f"{p}: {exc}") from exc
    if isinstance(d.get("corpora"), list):  # a folder of one's own, relative to this file (as `base` is)
        d["corpora"] = [_own_corpus_from(c, p.parent) for c in d["corpora"]]
    if "base" not in d:
        return d
    base = d.pop("base")
    if not isinstance(base, str):
        raise ValueError(f"{p}: base must be a recipe name or path (a string), got {base!r}")
    try:
        base_path = _resolve(base, relative_to=p.parent)
    except FileNotFoundError as exc:
        raise ValueError(f"{p}: base {base!r}: {exc}") from exc
    return _merge(_read_tables(base_path, (*chain, p.resolve())), d)


def recipe_copy_text(path: str | Path, folder: str | Path) -> str:
    """The text of a copy of the recipe file ``path`` that reads the same from ``folder``
    (what ``fit`` writes next to a model).

    The file's own text when it reads the same there (no ``base`` or corpus given by a
    path relative to its folder, or the same files from ``folder``): comments kept.
    Otherwise the recipe as read, its ``base`` chain merged and its corpora of one's own
    absolute, as TOML, under a comment naming the file it came from; a copy of the text alone
    would name a base or a folder that is not beside the model.

    Parameters
    ----------
    path : str or Path
        A recipe file.
    folder : str or Path
        Where the copy will lie.

    Returns
    -------
    str
        TOML text that :func:`load_recipe` reads, from ``folder``, as it reads ``path``.

    Raises
    ------
    ValueError
        ``path`` is not a valid recipe (as :func:`load_recipe`).
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    here = _read_tables(p)
    try:
        there = _tables_at(tomllib.loads(text), Path(folder).absolute() / p.name)
    except (ValueError, FileNotFoundError):
        there = None
    if there == here:
        return text
    import tomli_w  # the train extra's TOML writer (tomllib only reads)

    merged = tomli_w.dumps(here)
    if tomllib.loads(merged) != here:  # not expected: every recipe value has a TOML form
        raise ValueError(f"{p}: the recipe as read has no TOML form that reads back the same")
    return (f"# The recipe {display_path(p)} as read by `python -m train`: its base chain merged and its\n"
            "# corpora of one's own made absolute (the file names others relative to its own folder).\n"
            + merged)


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """Parse one command-line override ``section.key=value``.

    Parameters
    ----------
    text : str
        ``"normalizer.prior_weight=3"``, ``'features.exclude=["mel"]'``,
        ``"noise_branch=none"``. The value is read as a TOML value; a bare word that is not
        one (``append``) is taken as a string.

    Returns
    -------
    keys : tuple of str
        The dotted path (``("normalizer", "prior_weight")``).
    value : object
        The parsed value.

    Raises
    ------
    ValueError
        No ``=``, an empty or malformed key, an unparsable value.
    """
    key, sep, raw = text.partition("=")
    keys = tuple(k.strip() for k in key.split("."))
    if not sep or not all(re.fullmatch(r"[A-Za-z0-9_-]+", k) for k in keys):
        raise ValueError(f"--set {text!r}: expected section.key=value (e.g. normalizer.prior_weight=3)")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", raw):
            raise ValueError(f"--set {text!r}: {raw!r} is not a TOML value (quote strings, e.g. '\"append\"')") from None
        value = raw
    return keys, value


def load_recipe(path: str | Path, *, overrides: typing.Sequence[str] = ()) -> Recipe:
    """Read a recipe TOML file, its ``base`` chain and command-line overrides.

    Parameters
    ----------
    path : str or Path
        A ``.toml`` file, or a name in :data:`RECIPES_DIR` (``"ser-default"`` ->
        ``train/recipes/ser-default.toml``; ``"experiments/norm-w10"``).
    overrides : sequence of str, optional
        ``section.key=value`` strings (:func:`parse_override`) applied after the file, in
        order (``python -m train ... --set``).

    Returns
    -------
    Recipe
        :attr:`Recipe.path` is the file read (not its base).

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Invalid TOML, or a file that is not UTF-8 text; an unknown key (named with the
        file); a missing ``name``, ``corpora`` or ``labels``; a bad value
        (:func:`recipe_from_dict`); a ``base`` that is not found or forms a cycle; a bad
        override (named).
    """
    p = Path(path)
    if not p.exists() and p.suffix != ".toml":
        p = RECIPES_DIR / f"{path}.toml"
    if not p.is_file():
        raise FileNotFoundError(f"recipe {path} not found (looked at {p}); recipes: {recipe_names()}")
    d = _read_tables(p)
    for text in overrides:
        keys, value = parse_override(text)
        if keys[0] not in KNOWN_KEYS or keys[0] == "base":
            raise ValueError(f"--set {text!r}: unknown key {keys[0]!r}; known: {sorted(k for k in KNOWN_KEYS if k != 'base')}")
        table = d
        for k in keys[:-1]:
            sub = table.get(k)
            table[k] = sub = dict(sub) if isinstance(sub, dict) else {}
            table = sub
        table[keys[-1]] = value
    try:
        return recipe_from_dict(d, path=str(p), overrides=tuple(overrides))
    except ValueError as exc:
        where = f"{p} with --set {', '.join(overrides)}" if overrides else str(p)
        raise ValueError(f"{where}: {exc}") from exc


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

"""openSMILE peers for ``python -m train compare``: the eGeMAPSv02 and ComParE_2016 functionals
scored with the same session normaliser and classifier choices as a training recipe.

The peers read the same corpus records as our extractor and go through the same trimming
(:func:`train.extract.prepare_utterance`, the live VAD segmenter's speech span), then
openSMILE's functionals instead of :class:`ser_live.features.FeatureExtractor`; their rows are
cached by :func:`train.extract.extract_features` under the feature sets ``"egemaps"`` and
``"compare2016"``. They are scored by :class:`train.recipe.RecipeClassifier` with the recipe's
normaliser and SVM grid on all their columns (no feature subset, no noise branch: the recipe's
column names and SNR column are ours), so the row differs from the recipe's own row only in
the features.

Only ``train`` uses this module (the ``peers`` extra: ``pip install 'ser-live[peers]'``);
``ser_live`` never imports :mod:`opensmile`.

References
----------
.. [1] F. Eyben et al., "The Geneva Minimalistic Acoustic Parameter Set (GeMAPS) for voice
   research and affective computing", IEEE Trans. Affective Computing 7(2), 2016 (eGeMAPS:
   88 functionals).
.. [2] B. Schuller et al., "The INTERSPEECH 2016 Computational Paralinguistics Challenge:
   Deception, Sincerity & Native Language", Interspeech 2016 (ComParE_2016: 6373 functionals).
.. [3] F. Eyben, M. Woellmer, B. Schuller, "openSMILE: the Munich versatile and fast
   open-source audio feature extractor", ACM Multimedia 2010.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import replace
from typing import Any

import numpy as np

__all__ = ["PEER_SETS", "opensmile_missing", "peer_feature_names", "peer_features", "peer_n_features", "peer_recipe", "run_peer"]

log = logging.getLogger(__name__)

#: Feature-set name -> (openSMILE ``FeatureSet`` member, number of functionals).
PEER_SETS: dict[str, tuple[str, int]] = {
    "egemaps": ("eGeMAPSv02", 88),
    "compare2016": ("ComParE_2016", 6373),
}


def _import_opensmile() -> Any:
    try:
        import opensmile
    except ImportError as exc:  # a clear message, not a traceback
        raise ValueError("the openSMILE peer rows need the opensmile package: pip install 'ser-live[peers]'") from exc
    return opensmile


def opensmile_missing() -> str | None:
    """Why the openSMILE peer rows cannot run in this environment, found before any work.

    Returns
    -------
    str or None
        ``"the openSMILE peer rows need the opensmile package: pip install 'ser-live[peers]'"``
        when :mod:`opensmile` cannot be imported (the ``peers`` extra is not installed); None
        when it can.
    """
    try:
        _import_opensmile()
    except ValueError as exc:
        return str(exc)
    return None


def _check(feature_set: str) -> None:
    if feature_set not in PEER_SETS:
        raise ValueError(f"unknown openSMILE feature set {feature_set!r}; choose from {sorted(PEER_SETS)}")


@functools.lru_cache(maxsize=None)
def _smile(feature_set: str) -> Any:
    """One ``opensmile.Smile`` per feature set and process (building it parses the config)."""
    _check(feature_set)
    opensmile = _import_opensmile()
    return opensmile.Smile(
        feature_set=getattr(opensmile.FeatureSet, PEER_SETS[feature_set][0]),
        feature_level=opensmile.FeatureLevel.Functionals,
    )


def peer_feature_names(feature_set: str) -> list[str]:
    """openSMILE's column names of a peer feature set, in output order.

    Parameters
    ----------
    feature_set : str
        ``"egemaps"`` or ``"compare2016"`` (:data:`PEER_SETS`).

    Returns
    -------
    list of str
        88 or 6373 names (e.g. ``"F0semitoneFrom27.5Hz_sma3nz_amean"``).

    Raises
    ------
    ValueError
        Unknown feature set, or :mod:`opensmile` not installed.
    """
    return list(_smile(feature_set).feature_names)


def peer_n_features(feature_set: str) -> int:
    """Number of functionals of a peer feature set (88 or 6373); no openSMILE needed.

    Raises
    ------
    ValueError
        Unknown feature set.
    """
    _check(feature_set)
    return PEER_SETS[feature_set][1]


def peer_features(y: np.ndarray, *, feature_set: str, sample_rate_hz: int = 16000) -> np.ndarray:
    """openSMILE functionals of one (already trimmed) utterance.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
        Mono audio in [-1, 1].
    feature_set : str
        ``"egemaps"`` or ``"compare2016"``.
    sample_rate_hz : int, default 16000

    Returns
    -------
    np.ndarray, float32, shape (n_features,)
        88 (eGeMAPSv02) or 6373 (ComParE_2016) values.

    Raises
    ------
    ValueError
        Unknown feature set, :mod:`opensmile` missing, or an output of the wrong width.
    """
    df = _smile(feature_set).process_signal(np.asarray(y, dtype=np.float32), sample_rate_hz)
    v = np.asarray(df.to_numpy(), dtype=np.float32).ravel()
    if v.size != peer_n_features(feature_set):
        raise ValueError(f"openSMILE {feature_set} gave {v.size} values, expected {peer_n_features(feature_set)}")
    return v


def peer_recipe(recipe: Any, feature_set: str) -> Any:
    """The recipe's settings for a peer's columns: its normaliser, augmentations, SVM grid and
    inner CV; no feature subset (the recipe's prefixes name our columns) and no noise branch
    (its SNR column is ours, and its noise copies would need peer extraction too).

    Parameters
    ----------
    recipe : train.recipe.Recipe
    feature_set : str

    Returns
    -------
    train.recipe.Recipe
        Named ``"opensmile-<feature_set>+<recipe name>"``.
    """
    _check(feature_set)
    return replace(
        recipe, name=f"opensmile-{feature_set}+{recipe.name}", include=(), exclude=(), voice_quality=False, noise_branch=None,
        augmentations=(),
    )


def run_peer(
    protocol: str,
    recipe: Any,
    feature_set: str,
    *,
    n_jobs: int = 2,
    seed: int = 0,
    progress: bool = True,
    data: Any = None,
    train_corpora: tuple[str, ...] | None = None,
    exclude: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Score a peer feature set on a protocol with a recipe's normaliser and classifier.

    Every step is fitted inside the training folds (:func:`train.engine.fit_fold`) and test
    utterances are scored as :func:`train.evaluate.run_recipe` scores them (argmax over the
    protocol's scored classes, one result per session mode).

    Parameters
    ----------
    protocol : str
    recipe : train.recipe.Recipe
        Its labels, label map, normaliser and grid are used (:func:`peer_recipe`).
    feature_set : str
        ``"egemaps"`` or ``"compare2016"``.
    n_jobs, seed, progress : see :func:`train.evaluate.run_recipe`
    data : optional
        Precomputed :func:`train.evaluate.load_protocol_features` output for this feature set.
    train_corpora : tuple of str, optional
        Train only on records of these corpora (test folds unchanged); None: the recipe's
        corpora, as :func:`train.engine.training_rows` keeps them for the recipe itself.
    exclude : tuple of str, optional
        Name prefixes (regular expressions when they start with ``^``) of the peer's columns to
        leave out, e.g. ``("F1", "F2", "F3")`` for eGeMAPS's formants: which groups matter.

    Returns
    -------
    dict of str to train.evaluate.EvaluationResult
        Keyed by session mode (``"speaker"``, ``"online"``, ``"first-5"``, ``"utterance"``, ``"one-emotion"``,
        or ``"none"`` without a normaliser).

    Raises
    ------
    ValueError
        Unknown feature set, :mod:`opensmile` missing, failed extraction.
    """
    from .engine import check_features, evaluate_folds, mode_results, session_modes
    from .evaluate import load_protocol_features
    from .recipe import RecipeClassifier, display_path

    t0 = time.perf_counter()
    peer = peer_recipe(recipe, feature_set)
    fs, X, _ = data or load_protocol_features(
        protocol, recipe=feature_set, labels=recipe.labels, label_map=recipe.label_map, n_jobs=n_jobs, progress=progress
    )
    check_features(fs, X)
    names = peer_feature_names(feature_set)
    if exclude:
        from .recipe import select_columns

        keep = select_columns(names, (), tuple(exclude))
        X, names = X[:, keep], [names[i] for i in keep]
        peer = replace(peer, name=f"{peer.name}-no-" + "-".join(p.strip("^") for p in exclude))
    base = RecipeClassifier(peer, names, n_jobs=n_jobs, calibrate=None)
    corpora = recipe.corpora if train_corpora is None else train_corpora
    scorers, _ = evaluate_folds(fs, X, [], base, modes=session_modes(peer), seed=seed, corpora=corpora, progress=progress,
                                name=f"{feature_set} {protocol}")
    summary = (
        f"openSMILE {PEER_SETS[feature_set][0]} functionals ({peer_n_features(feature_set)}), "
        f"trimmed as live audio{f', without the columns {list(exclude)} ({len(names)} kept)' if exclude else ''}; "
        f"the settings of recipe {recipe.name}: {peer.summary()}"
    )
    return mode_results(
        scorers, fs, classifier=peer.name, augmented=False, t0=t0, seed=seed,
        head={"recipe": peer.name, "recipe_path": display_path(recipe.path), "feature_set": feature_set, "recipe_summary": summary},
        tail={"train_corpora": list(corpora)},
    )

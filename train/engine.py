"""The evaluation engine: one fold loop, one scoring of the session modes.

A protocol (:class:`train.protocols.FoldSet`) splits the records into folds. For every fold
the engine fits a clone of the classifier on the fold's training rows
(:func:`training_rows`, plus their augmented copies) and scores the held-out rows in each
session mode (:data:`SESSION_MODES`), restricted to the protocol's scored classes
(:func:`scored_argmax`), and with the model object's probabilities over those classes
(:func:`scored_proba`, once per fold and mode, for the ROC curves and the derived arousal /
valence of :mod:`train.roc`; the argmax, hence the UA, stays the decision values').
:func:`train.evaluate.run_recipe` (a recipe), :func:`train.peers.run_peer`
(openSMILE features with a recipe's settings), :func:`train.conditions.run_room` (degraded
test audio, one condition at a time), :func:`train.personal.run_personal` (calibration k) and
:mod:`train.ablation` (training corpora left out, through ``run_recipe``) all fit through
:func:`fit_fold`; all but ``personal`` score through :func:`score_session_modes` (``personal``
scores each held-out speaker as one live session of the model object with its profile, the
shipped model's own path). ``run_recipe`` and ``run_peer`` run the whole loop on the clean
test rows (:func:`evaluate_folds`) and give :class:`train.results.EvaluationResult` per
session mode; ``run_room`` runs it with the room conditions as the test sets
(:func:`evaluate_test_sets`).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from sklearn.base import clone

from .provenance import corpus_manifest
from .results import EvaluationResult, Scorer

__all__ = [
    "FIRST_ORDERS", "FIRST_UTTERANCES", "SESSION_MODES", "check_features", "evaluate_folds", "evaluate_test_sets", "fit_fold", "mode_results", "score_session_modes",
    "score_label_indices", "scored_argmax", "scored_proba", "session_kwargs", "session_modes", "session_start", "training_rows",
]

log = logging.getLogger(__name__)

#: How test utterances are grouped into sessions when a recipe has a session normaliser.
SESSION_MODES: dict[str, str] = {
    "speaker": "offline: each test speaker is one session, normalised with all of its utterances",
    "online": (
        "live: each test speaker's utterances in a seeded random order, each normalised with the "
        "running statistics of the utterances so far (itself included) shrunk to the prior"
    ),
    "first-5": (
        "live, a session's start: each test speaker's first 5 utterances in 10 seeded random orders, each "
        "order a new session normalised online as in 'online' (the utterances a live user sees before the "
        "session's statistics settle)"
    ),
    "utterance": "no session: each utterance normalised alone (n = 1, i.e. mostly the prior)",
    "one-emotion": (
        "stress test: each test speaker's utterances of ONE emotion form a session (an angry caller), "
        "normalised with all of that session's utterances; a normaliser that turns such a session into "
        "'neutral' scores low here"
    ),
}


#: ``"first-5"``: how many utterances of a session's start are scored, in how many orders.
FIRST_UTTERANCES = 5
FIRST_ORDERS = 10


def session_start(groups: np.ndarray, *, seed: int, k: int = FIRST_UTTERANCES,
                  orders: int = FIRST_ORDERS) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the ``"first-5"`` mode: each group's first ``k`` rows in ``orders`` random
    orders, each order a session of its own.

    Parameters
    ----------
    groups : np.ndarray, shape (n,)
        Speaker of each row.
    seed : int
        Seeds ``np.random.default_rng`` (one generator; orders, then groups in sorted order).
    k, orders : int
        Utterances per session start (fewer when a group has fewer rows) and orders per group.

    Returns
    -------
    rows : np.ndarray, int64, shape (m,)
        Positions into ``groups``, each session's rows in the order heard.
    sessions : np.ndarray, object, shape (m,)
        ``"<group>#<order>"``: the session of each of ``rows`` (for ``online=True``).

    Raises
    ------
    ValueError
        ``k`` or ``orders`` below 1.
    """
    if k < 1 or orders < 1:
        raise ValueError(f"k and orders must be >= 1, got {k} and {orders}")
    groups = np.asarray(groups)
    members = [(g, np.flatnonzero(groups == g)) for g in sorted(set(groups.tolist()), key=str)]
    rng = np.random.default_rng(seed)
    rows: list[np.ndarray] = []
    sessions: list[str] = []
    for r in range(orders):
        for g, idx in members:
            take = rng.permutation(idx)[:k]
            rows.append(take)
            sessions += [f"{g}#{r}"] * take.size
    return np.concatenate(rows).astype(np.int64), np.array(sessions, dtype=object)


def session_modes(recipe: Any) -> list[str]:
    """The session modes a recipe is scored in: every one of :data:`SESSION_MODES` with a
    session normaliser, else ``["none"]``."""
    return list(SESSION_MODES) if recipe.normalizer.enabled else ["none"]


def session_kwargs(mode: str, *, groups: np.ndarray, y: np.ndarray, seed: int) -> dict[str, Any]:
    """The ``decision_function`` keywords that make a session mode.

    Parameters
    ----------
    mode : str
        One of :data:`SESSION_MODES`, or ``"none"``.
    groups : np.ndarray, object, shape (n_test,)
        The test utterances' speakers.
    y : np.ndarray, int64, shape (n_test,)
        Their classes (the ``"one-emotion"`` sessions are speaker x class).
    seed : int
        Seeds the ``"online"`` order.

    Returns
    -------
    dict
        ``groups`` (sessions) and ``online`` (seed) as the model object's
        :meth:`~ser_live.estimator.EmotionEstimator.decision_function` takes them.
    """
    if mode in ("speaker", "online"):
        kw: dict[str, Any] = {"groups": groups}
        if mode == "online":
            kw["online"] = seed  # the model object's seeded per-session live order
        return kw
    if mode == "one-emotion":
        return {"groups": np.array([f"{g}|{c}" for g, c in zip(groups, y)], dtype=object)}
    return {}


def check_features(fs: Any, X: np.ndarray) -> None:
    """Raise ``ValueError`` naming files whose feature row is not finite (failed extraction).

    Parameters
    ----------
    fs : FoldSet
    X : np.ndarray, float32, shape (n_records, n_features)
    """
    bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
    if bad.size:
        ex = ", ".join(fs.records[i].path for i in bad[:3])
        raise ValueError(f"feature extraction failed for {bad.size} files (e.g. {ex}); see the log")


def training_rows(fs: Any, fold: Any, corpora: Sequence[str] | None) -> np.ndarray:
    """The rows a fold trains on: its training rows, on a corpus-level protocol only those of
    the recipe's training corpora.

    ``loco`` (and ``personal``, which uses its folds) holds out every corpus of the protocol
    in turn and tests on it, but trains only on the corpora the recipe names (``corpora`` in
    its TOML): a corpus the recipe leaves out of training is still a held-out test corpus,
    never a training one, so ``train evaluate`` scores exactly what ``train fit`` would build
    without the held-out corpus. Within-corpus protocols (``ravdess-6fold``, ``*-loso``,
    ``cross:``) name their corpora themselves and are unchanged.

    Parameters
    ----------
    fs : FoldSet
    fold : Fold
    corpora : sequence of str or None
        The recipe's training corpora (names, or paths of corpora of one's own:
        :func:`train.corpora.corpus_name`); None keeps every training row.

    Returns
    -------
    np.ndarray, int64, shape (n_train,)
        Indices into ``fs.records``.

    Raises
    ------
    ValueError
        No training row is left (the recipe names none of the protocol's other corpora).
    """
    tr = fold.train_idx
    corpus_level = fs.protocol in ("loco", "personal") or fs.protocol.startswith("loco:")
    if corpora is None or not corpus_level:
        return tr
    from .corpora import corpus_name  # a path of one's own names the corpus its records carry

    tr = tr[np.isin(fs.corpora[tr], [corpus_name(c) for c in corpora])]
    if tr.size == 0:
        raise ValueError(
            f"{fs.protocol}: fold {fold.name} has no training rows from the recipe's corpora ({', '.join(corpora)})"
        )
    return tr


def fit_fold(
    base: Any, fs: Any, X: np.ndarray, X_aug: Sequence[np.ndarray], fold: Any, *, corpora: Sequence[str] | None = None
) -> Any:
    """A clone of ``base`` fitted on one fold's training rows (and their augmented copies).

    Parameters
    ----------
    base : RecipeClassifier
    fs : FoldSet
    X : np.ndarray, float32, shape (n_records, n_features)
    X_aug : list of np.ndarray, each shaped as ``X``
    fold : Fold
    corpora : sequence of str, optional
        The training corpora (:func:`training_rows`); default the recipe's.

    Returns
    -------
    RecipeClassifier
    """
    tr = training_rows(fs, fold, base.recipe.corpora if corpora is None else corpora)
    return clone(base).fit(X[tr], fs.y[tr], groups=fs.groups[tr], augmented=[Xa[tr] for Xa in X_aug])


def scored_argmax(est: Any, fs: Any, X_te: np.ndarray, te: np.ndarray, **kw: Any) -> tuple[np.ndarray, np.ndarray]:
    """Predictions restricted to the protocol's scored classes, and the true classes.

    Parameters
    ----------
    est : RecipeClassifier
        Fitted.
    fs : FoldSet
    X_te : np.ndarray, float32, shape (n_test, n_features)
        Features of the records ``te`` (clean or degraded).
    te : np.ndarray, int64, shape (n_test,)
        Record indices.
    **kw
        Passed to ``est.decision_function`` (``groups``, ``online``: the model object's
        :meth:`~ser_live.estimator.EmotionEstimator.decision_function`).

    Returns
    -------
    pred, true : np.ndarray, int64, shape (n_test,)
        Indices into ``fs.score_labels``: the argmax of the decision values over those
        classes only (the same subset for every test speaker).
    """
    score_idx = score_label_indices(fs)
    to_score = np.full(len(fs.labels), -1)
    to_score[score_idx] = np.arange(len(score_idx))
    cols = np.array([list(est.classes_).index(c) for c in score_idx])
    dec = est.decision_function(X_te, **kw)
    return np.argmax(dec[:, cols], axis=1), to_score[fs.y[te]]


def scored_proba(est: Any, fs: Any, X_te: np.ndarray, **kw: Any) -> np.ndarray | None:
    """The model object's probabilities over the protocol's scored classes, renormalised
    (as :func:`scored_argmax` restricts its argmax), for the ROC curves (:mod:`train.roc`).

    The argmax stays :func:`scored_argmax`'s (the decision values): the probabilities'
    argmax is the same label mathematically for a temperature-calibrated SVM, but can
    differ in a floating-point tie, and the reports' UA must not move.

    Parameters
    ----------
    est : RecipeClassifier
        Fitted.
    fs : FoldSet
    X_te : np.ndarray, float32, shape (n_test, n_features)
    **kw
        ``groups``, ``online``, as :func:`scored_argmax`.

    Returns
    -------
    np.ndarray, float64, shape (n_test, n_score_labels), or None
        Rows sum to 1; None when the classifier gives no probabilities (an uncalibrated
        SVM).
    """
    from .roc import renormalised

    try:
        P = est.predict_proba(X_te, **kw)
    except (AttributeError, NotImplementedError):
        return None
    return renormalised(np.asarray(P)[:, score_label_indices(fs)])


def score_label_indices(fs: Any) -> np.ndarray:
    """Label indices (into ``fs.labels``) of the protocol's scored classes, in
    ``fs.score_labels`` order: int64, shape (n_score_labels,)."""
    return np.array([fs.labels.index(c) for c in fs.score_labels], dtype=np.int64)


def score_session_modes(
    est: Any, fs: Any, X_te: np.ndarray, te: np.ndarray, *, modes: Sequence[str], seed: int = 0, proba: bool = False
) -> dict[str, tuple[np.ndarray, ...]]:
    """Score a fold's test rows in each session mode: the one scoring of every fold loop.

    Parameters
    ----------
    est : RecipeClassifier
        Fitted on the fold's training rows.
    fs : FoldSet
    X_te : np.ndarray, float32, shape (n_test, n_features)
        Features of the records ``te`` (clean or degraded).
    te : np.ndarray, int64, shape (n_test,)
        Record indices.
    modes : sequence of str
        Session modes (:data:`SESSION_MODES` keys, or ``"none"``).
    seed : int, default 0
        Seeds the ``"online"`` order and the ``"first-5"`` orders (:func:`session_start`).
    proba : bool, default False
        Also give the probabilities (:func:`scored_proba`, computed once per mode with the
        same session keywords).

    Returns
    -------
    dict of str to tuple
        Per mode, :func:`scored_argmax`'s ``(pred, true)``; with ``proba``,
        ``(pred, true, probabilities or None)``. ``"first-5"`` scores its own rows (each
        speaker's session starts, :func:`session_start`), not ``te`` once each.
    """
    groups, y = fs.groups[te], fs.y[te]
    out: dict[str, tuple[np.ndarray, ...]] = {}
    for m in modes:
        if m == "first-5":  # the session starts, replayed row by row as live sessions
            rows, sessions = session_start(groups, seed=seed)
            X_m, te_m, kw = X_te[rows], te[rows], {"groups": sessions, "online": True}
        else:
            X_m, te_m, kw = X_te, te, session_kwargs(m, groups=groups, y=y, seed=seed)
        out[m] = scored_argmax(est, fs, X_m, te_m, **kw)
        if proba:
            out[m] = (*out[m], scored_proba(est, fs, X_m, **kw))
    return out


def evaluate_test_sets(
    fs: Any,
    X: np.ndarray,
    X_aug: Sequence[np.ndarray],
    base: Any,
    *,
    test_sets: Callable[[Any], Iterable[tuple[str, np.ndarray, np.ndarray]]],
    modes: Sequence[str],
    seed: int = 0,
    corpora: Sequence[str] | None = None,
    progress: bool = True,
    name: str = "",
) -> tuple[dict[str, dict[str, Scorer]], dict[str, dict[str, dict[str, Any]]]]:
    """The fold loop: fit every fold once (:func:`fit_fold`), score each of its test sets
    (the clean test rows, or the same utterances in each room condition) in every session
    mode (:func:`score_session_modes`).

    Parameters
    ----------
    fs : FoldSet
    X : np.ndarray, float32, shape (n_records, n_features)
    X_aug : list of np.ndarray, each shaped as ``X``
        Augmented copies (training rows only are used).
    base : RecipeClassifier
        Unfitted; cloned per fold.
    test_sets : callable
        ``test_sets(fold) -> iterable of (set name, te, X_te)``: record indices
        (int64, shape (n_test,)) and their features (float32, shape (n_test, n_features));
        called after the fold is fitted, consumed one set at a time (a set's features may be
        extracted when it comes).
    modes : sequence of str
    seed : int, default 0
    corpora : sequence of str, optional
        Training corpora (default the recipe's; :func:`training_rows`).
    progress : bool, default True
        A transient progress bar of the folds on stderr.
    name : str
        Shown in the log lines and the progress bar.

    Returns
    -------
    scorers : dict of str to dict of str to Scorer
        Per test set, per mode, the folds' predictions.
    branch : dict of str to dict of str to dict
        Per test set, per fold, the noise branch's statistics (``route_stats_`` and
        ``test_routed_pct``, the share of the set's utterances it classified, percent);
        empty without a noise branch.
    """
    from rich.progress import Progress

    scorers: dict[str, dict[str, Scorer]] = {}
    branch: dict[str, dict[str, dict[str, Any]]] = {}
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"{name or fs.protocol}: folds", total=len(fs.folds))
        for fold in fs.folds:
            est = fit_fold(base, fs, X, X_aug, fold, corpora=corpora)
            for set_name, te, X_te in test_sets(fold):
                if est.route_ is not None:
                    branch.setdefault(set_name, {})[fold.name] = {**est.route_stats_, "test_routed_pct": est.noise_branch_pct(X_te)}
                by_mode = scorers.setdefault(set_name, {m: Scorer(list(fs.score_labels)) for m in modes})
                for m, (pred, yt, P) in score_session_modes(est, fs, X_te, te, modes=modes, seed=seed, proba=True).items():
                    sc = by_mode[m].add(fold.name, yt, pred, est.chosen_, proba=P)
                    log.info("%s %s %s[%s]: UA %.1f %%", name or fs.protocol, fold.name, f"{set_name} " if set_name != "clean" else "", m, sc.ua_pct)
            bar.advance(task)
    return scorers, branch


def evaluate_folds(
    fs: Any,
    X: np.ndarray,
    X_aug: Sequence[np.ndarray],
    base: Any,
    *,
    modes: Sequence[str],
    seed: int = 0,
    corpora: Sequence[str] | None = None,
    progress: bool = True,
    name: str = "",
) -> tuple[dict[str, Scorer], dict[str, dict[str, Any]]]:
    """:func:`evaluate_test_sets` on the protocol's clean test rows.

    Parameters
    ----------
    fs, X, X_aug, base, modes, seed, corpora, progress, name
        As :func:`evaluate_test_sets`.

    Returns
    -------
    scorers : dict of str to Scorer
        Per mode, the folds' predictions.
    branch : dict of str to dict
        Per fold, the noise branch's statistics; empty without a noise branch.
    """
    scorers, branch = evaluate_test_sets(
        fs, X, X_aug, base, test_sets=lambda fold: [("clean", fold.test_idx, X[fold.test_idx])], modes=modes, seed=seed,
        corpora=corpora, progress=progress, name=name,
    )
    return scorers.get("clean", {m: Scorer(list(fs.score_labels)) for m in modes}), branch.get("clean", {})


def mode_results(
    scorers: Mapping[str, Scorer],
    fs: Any,
    *,
    classifier: str,
    augmented: bool,
    t0: float,
    seed: int,
    head: Mapping[str, Any],
    tail: Mapping[str, Any],
) -> dict[str, EvaluationResult]:
    """One :class:`~train.results.EvaluationResult` per session mode of a fold loop.

    Parameters
    ----------
    scorers : dict of str to Scorer
        :func:`evaluate_folds`' output.
    fs : FoldSet
    classifier : str
    augmented : bool
    t0 : float
        ``time.perf_counter()`` at the start of the run.
    seed : int
        The ``"online"`` seed (``extra["online_seed"]``).
    head, tail : mapping
        ``extra`` entries before and after the session-mode ones.

    Returns
    -------
    dict of str to EvaluationResult
        Keyed by session mode; ``extra["corpus_files"]`` is :func:`train.provenance.corpus_manifest`
        of the protocol's records (file counts and content checksums per corpus).

    Raises
    ------
    OSError
        A record's file cannot be read (for its checksum).
    """
    seconds = time.perf_counter() - t0
    manifest = corpus_manifest(fs.records)
    out = {}
    for m, scorer in scorers.items():
        extra = {
            "dropped": dict(fs.dropped), "n_records": len(fs.records), "corpus_files": manifest, **head,
            "session_mode": m, "session_mode_doc": SESSION_MODES.get(m, "no session normaliser"),
            "trained_labels": list(fs.labels), "online_seed": seed, **tail,
        }
        out[m] = scorer.result(protocol=fs.protocol, classifier=classifier, augmented=augmented, seconds=seconds, extra=extra)
    return out

"""Session revision: a live session's first utterances re-scored as its statistics settle.

A live utterance is normalised with the session statistics of the utterances heard so far
(:class:`~ser_live.normalize.SessionState`). The first few rest on one to a handful of
utterances, shrunk towards the training prior, and they score worse than the same speech
scored offline with all of its session (issue 20: on an EmoDB ``loco`` fold model, pooled over
12 levels and floors, 42 % of a session's first 5 utterances right live against 63 % offline
on the same audio, then 70 % against 71 %).

:class:`SessionReviser` keeps the feature row of each of the first ``until`` utterances of a
session; each time another utterance joins the session, it re-scores the earlier ones with
the statistics as they are now (one re-normalisation and one pass of the linear classifier
through the same model object: no audio, no extraction) and returns a :class:`Revision`: the
new predictions of the earlier utterances and the rolling estimate recomputed with them. Once
the session holds ``until`` utterances the rows are dropped and nothing more is revised; the
last revision scores the first ``until - 1`` utterances with the statistics of ``until``.

What an utterance's result said when it was shown ("at the moment") is never changed: the
:class:`~ser_live.types.Result` and its ``--jsonl`` line keep it, and ``Result.rolling`` stays
the rolling estimate of the results as shown (identical to ``predict --segments``). A
revision is extra: :attr:`Result.revision <ser_live.types.Result.revision>`, the dashboard's
timeline and rolling estimate, and with ``ser-live --revisions`` a ``{"kind": "revision"}``
JSON line after the utterance's own (:meth:`Revision.to_json`).

With speaker turns (``--speakers`` 2 or more) every speaker's session is revised on its own,
one :class:`SessionReviser` per speaker: a revision then names its speaker, re-scores that
speaker's earlier utterances only, and its rolling estimate is that speaker's. An utterance
the run's re-clustering moves to another speaker moves its row along
(:meth:`SessionReviser.give`, :meth:`SessionReviser.take`) as its features move sessions
(:meth:`SpeakerSessions.follow <ser_live.speakers.SpeakerSessions.follow>`): the new speaker's
next revision re-scores it in its new session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .affect import affect_record
from .rolling import DEFAULT_HALF_LIFE_S, RollingEstimate
from .types import Prediction, Result, UncertaintyRule

__all__ = ["Revision", "SessionReviser", "RevisedTally", "REVISE_UTTERANCES"]

#: Default ``until`` of :class:`SessionReviser`: the session size at which revision stops.
#: Scoring the clean files of EmoDB speakers in-process with the EmoDB fold model, revising
#: up to 5 utterances recovered part of the first utterances' loss and up to 15-20 all of
#: it; on the harness's sessions (``python -m benchmarks.live_offline``) a window of 60 gave
#: the same UA as 20 (docs/experiments.md, "Session revision").
REVISE_UTTERANCES: int = 20


@dataclass
class Revision:
    """The earlier utterances of a live session, re-scored when another one joined it.

    Attributes
    ----------
    index : int
        The utterance (:attr:`Utterance.index <ser_live.types.Utterance.index>`) whose
        arrival triggered the revision.
    session_utterances : int
        Utterances the session statistics now rest on (``index``'s included).
    predictions : dict of int to Prediction
        Utterance index -> its new prediction, for every earlier utterance of the session
        (in order of arrival).
    rolling : dict of str to float
        The rolling estimate (:class:`~ser_live.rolling.RollingEstimate`, the run's
        half-life) of the session's utterances with the revised predictions and the new
        utterance's own; label -> probability.
    speaker : str or None
        With speaker turns, the speaker whose session this is (``rolling`` is then that
        speaker's rolling estimate, not the run's); None for the run's one session.
    """

    index: int
    session_utterances: int
    predictions: dict[int, Prediction] = field(default_factory=dict)
    rolling: dict[str, float] = field(default_factory=dict)
    speaker: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``--revisions`` JSON line: ``kind`` (``"revision"``), ``index``,
        ``session_utterances``, ``speaker`` (with speaker turns only), ``results`` (one per revised utterance: ``index``, ``label``,
        ``confidence``, ``probabilities``, ``arousal``, ``valence``, plus ``noise_branch`` when
        not None; floats rounded as in :meth:`Result.to_json <ser_live.types.Result.to_json>`),
        ``rolling``, ``rolling_arousal`` and ``rolling_valence`` (arousal and valence read off
        the revised probabilities, :mod:`ser_live.affect`).

        Returns
        -------
        dict
        """
        results = []
        for i, p in self.predictions.items():
            r: dict[str, Any] = {"index": int(i), "label": p.label, "confidence": round(float(p.confidence), 4),
                                 "probabilities": {k: round(float(v), 4) for k, v in p.probabilities.items()},
                                 **affect_record(p.probabilities)}
            if p.noise_branch is not None:
                r["noise_branch"] = bool(p.noise_branch)
            results.append(r)
        head: dict[str, Any] = {"kind": "revision", "index": int(self.index),
                                "session_utterances": int(self.session_utterances)}
        if self.speaker is not None:
            head["speaker"] = self.speaker
        return {**head, "results": results, "rolling": {k: round(float(v), 4) for k, v in self.rolling.items()},
                **affect_record(self.rolling, prefix="rolling_")}


class SessionReviser:
    """Re-scores a live session's first utterances as its statistics settle (module doc).

    Parameters
    ----------
    model : EmotionModel
        The run's model (its ``predict_proba(X, session=...)``, ``noise_branch_flags`` and
        ``prediction_from_proba``).
    until : int, default :data:`REVISE_UTTERANCES`
        Revise while the session holds at most this many utterances; 0 or 1: never.
    half_life_s : float, default 20.0
        Half-life of the revised rolling estimate (the run's).
    speaker : str, optional
        With speaker turns: the speaker whose session this reviser follows (one reviser per
        speaker); given to each :class:`Revision`.

    Raises
    ------
    ValueError
        Negative ``until`` or a half-life that is not positive.
    """

    def __init__(self, model: Any, *, until: int = REVISE_UTTERANCES, half_life_s: float = DEFAULT_HALF_LIFE_S,
                 speaker: str | None = None) -> None:
        if int(until) < 0:
            raise ValueError(f"until must be >= 0 utterances, got {until}")
        if not half_life_s > 0:
            raise ValueError(f"half_life_s must be positive, got {half_life_s}")
        self.model = model
        self.until = int(until)
        self.half_life_s = float(half_life_s)
        self.speaker = speaker
        self._rows: list[np.ndarray] = []
        self._route_db: list[float] = []  # Result.route_db per row, NaN: its own column
        self._utts: list[tuple[int, float, float]] = []  # (index, duration_s, end_s)
        self.closed = self.until < 2

    def add(self, result: Result, session: Any) -> Revision | None:
        """Join a final result of the session; re-score the earlier ones.

        Parameters
        ----------
        result : Result
            A final result with its ``features`` (float, shape (n_features,)), just
            classified with ``session`` (its features already added to it).
        session : SessionState or None
            The session's running statistics after this utterance.

        Returns
        -------
        Revision or None
            None for the session's first utterance, once the session holds more than
            ``until`` utterances, without a session or features, or when the session's count
            does not follow the utterances seen here (an utterance was missed: revision
            stops rather than mix sessions).
        """
        if self.closed or session is None or result.features is None or not result.final:
            return None
        n = int(session.n_utterances)
        if n != len(self._rows) + 1 or n > self.until:
            self._close()
            return None
        self._rows.append(np.asarray(result.features, dtype=np.float32))
        self._route_db.append(np.nan if result.route_db is None else float(result.route_db))
        self._utts.append((result.utterance.index, result.utterance.duration_s, result.utterance.end_s))
        if n < 2:
            return None
        X = np.stack(self._rows[:-1])
        route_db = np.array(self._route_db[:-1], dtype=np.float64)  # each routed as it was live
        P = self.model.predict_proba(X, session=session, route_db=route_db)
        flags = self.model.noise_branch_flags(X, route_db)
        preds = [self.model.prediction_from_proba(P[i], noise_branch=flags[i]) for i in range(X.shape[0])]
        rolling = RollingEstimate(list(self.model.labels), half_life_s=self.half_life_s)
        for (_, d, e), p in zip(self._utts, preds + [result.prediction]):
            rolling.update(p.probabilities, duration_s=d, confidence=p.confidence, end_s=e)
        rev = Revision(index=result.utterance.index, session_utterances=n,
                       predictions={u[0]: p for u, p in zip(self._utts, preds)}, rolling=dict(rolling.estimate),
                       speaker=self.speaker)
        if n >= self.until:
            self._close()
        return rev

    def give(self, index: int) -> tuple[np.ndarray, float, tuple[int, float, float]] | None:
        """Take utterance ``index`` out of this session's revision (with speaker turns, when
        the re-clustering moves it to another speaker: :meth:`SpeakerSessions.follow
        <ser_live.speakers.SpeakerSessions.follow>`), for the other speaker's :meth:`take`.

        Returns
        -------
        (np.ndarray, float, (int, float, float)) or None
            Its feature row (float32, shape (n_features,)), route level (dB, NaN: none) and
            ``(index, duration_s, end_s)``; None once closed or when it is not held here.
        """
        for k, utt in enumerate(self._utts):
            if utt[0] == int(index):
                return self._rows.pop(k), self._route_db.pop(k), self._utts.pop(k)
        return None

    def take(self, held: tuple[np.ndarray, float, tuple[int, float, float]]) -> None:
        """Add an utterance another speaker's revision gave (:meth:`give`), in order of
        arrival; its session took its features already. The next :meth:`add` re-scores it
        with the others. Ignored once closed.

        Parameters
        ----------
        held : (np.ndarray, float, (int, float, float))
            As :meth:`give` returns.
        """
        if self.closed:
            return
        row, route_db, utt = held
        k = sum(1 for u in self._utts if u[0] < utt[0])
        self._rows.insert(k, row)
        self._route_db.insert(k, route_db)
        self._utts.insert(k, utt)

    def _close(self) -> None:
        self.closed = True
        self._rows, self._utts, self._route_db = [], [], []


class RevisedTally:
    """What a run's results end at once session revision re-scored them: each final
    utterance's label (or ``"uncertain"``) and the run's rolling estimate as the dashboard's
    timeline and rolling panel show them last, for the exit summary (which also gives the
    labels as they were shown at the moment, as ``--plain`` and ``--jsonl`` printed them).

    Parameters
    ----------
    uncertainty : UncertaintyRule, optional
        The run's rule: an utterance it applies to counts as ``"uncertain"``, not under its
        label (as the dashboard shows it); None: every utterance under its label.

    Attributes
    ----------
    rolling : dict of str to float
        The run's rolling estimate as last shown: the last result's, or the last revision's
        of the run's one session when that result revised (a speaker's revision revises
        only that speaker's estimate, so not this one).
    """

    def __init__(self, uncertainty: UncertaintyRule | None = None) -> None:
        self.uncertainty = uncertainty
        self.rolling: dict[str, float] = {}
        self._labels: dict[int, str] = {}  # utterance index -> label or "uncertain", as revised

    def _label(self, prediction: Prediction) -> str:
        return "uncertain" if self.uncertainty is not None and self.uncertainty.applies(prediction) else prediction.label

    def add(self, result: Result) -> None:
        """Take one result (provisional ones are ignored) and the revision it carries.

        Parameters
        ----------
        result : Result
        """
        if not result.final:
            return
        self._labels[result.utterance.index] = self._label(result.prediction)
        if result.rolling:
            self.rolling = dict(result.rolling)
        rev = result.revision
        if rev is not None:
            for index, prediction in rev.predictions.items():
                if index in self._labels:
                    self._labels[index] = self._label(prediction)
            if rev.speaker is None and rev.rolling:
                self.rolling = dict(rev.rolling)

    def label_counts(self) -> dict[str, int]:
        """Utterances per revised label, ``"uncertain"`` counted apart (a key only when some
        are); most frequent first, then by name.

        Returns
        -------
        dict of str to int
        """
        counts: dict[str, int] = {}
        for label in self._labels.values():
            counts[label] = counts.get(label, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

"""Speaker turns, online: which voice of the run spoke each utterance.

A run of ``ser-live`` (a call, a meeting) may hold more than one voice. The session
normaliser (:mod:`ser_live.normalize`) standardises each utterance with its *session's*
statistics; a session is one speaker through one microphone, so two voices normalised as one
blur each other. :class:`SpeakerSessions` gives every speaker of the run a session of its own:

1. each utterance's **speaker embedding** is computed from features the extractor already
   computed (:class:`SpeakerEmbedding`: a linear projection of level-independent pooled
   columns, no second pass over the audio, no download, no neural network);
2. :class:`SpeakerAssigner` puts it with the nearest speaker heard so far (a running
   centroid with its spread, a standardised distance), or opens a new speaker when none is
   near enough, at most ``max_speakers``;
3. the utterance is normalised with its speaker's :class:`~ser_live.normalize.SessionState`
   and classified (:func:`ser_live.offline.classify_turn`).

Speakers are labelled ``"A"``, ``"B"``, ... in order of first appearance. ``max_speakers=1``
is one session for the run, exactly the behaviour without speaker turns.

The embedding
-------------
``ser_live/data/speaker_embedding.json`` holds the columns, their centring and scaling and a
projection to ``n_dims`` dimensions: linear discriminant analysis (LDA) of speaker identity,
i.e. the directions that maximise between-speaker variance over pooled within-speaker
variance, the within-speaker variance including every emotion a speaker acted (so the
directions that emotion moves are down-weighted). Within-speaker covariance is shrunk
towards a scaled identity (Ledoit-Wolf style, fixed weight). In the projected space the
within-speaker covariance of the fitting speakers is the identity, so the standardised
distance below is about 1 for a speaker's own utterances. Candidate columns are the
``_mean``, ``_std`` and ``_p50`` statistics and the ``f0_*`` columns of every framewise
descriptor that does not scale with the input level (MFCC 1-19, spectral shape, contrast,
F0, voicing, HNR, chroma; not ``rms``, ``loudness``, ``mel`` bands or ``mfcc0``), present in
every shipped model. It is fitted on RAVDESS, TESS, ASED and emotiontts_kor only, never on
EmoDB or es_uem, on which ``python -m benchmarks.conversations`` measures it. The file and
the command that wrote it: ``python -m benchmarks.conversations embed``.

References
----------
Fisher, R. A. (1936). The use of multiple measurements in taxonomic problems. *Annals of
Eugenics* 7(2), 179-188 (linear discriminant analysis).
Welford, B. P. (1962). Note on a method for calculating corrected sums of squares and
products. *Technometrics* 4(3), 419-420 (the running centroid and spread).
"""

from __future__ import annotations

import json
import logging
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = [
    "AUTO_MAX_SPEAKERS",
    "DEFAULT_THRESHOLD",
    "EMBEDDING_PATH",
    "SpeakerAssigner",
    "SpeakerEmbedding",
    "SpeakerRolling",
    "SpeakerSessions",
    "parse_speakers",
    "speaker_label",
]

log = logging.getLogger(__name__)

#: The shipped speaker embedding.
EMBEDDING_PATH: Path = Path(__file__).parent / "data" / "speaker_embedding.json"
#: Most speakers ``--speakers auto`` opens in one run (the default is ``--speakers 1``: no
#: attribution, see the README, "Two voices on one line").
AUTO_MAX_SPEAKERS: int = 4
#: Largest ``--speakers N``: speaker labels are single letters.
MAX_SPEAKERS: int = len(string.ascii_uppercase)
#: Standardised distance (mean over embedding dimensions of squared distance over the
#: speaker's spread, see :meth:`SpeakerAssigner.distances`) above which an utterance opens
#: a new speaker: a compromise between opening the second voice early and keeping one
#: voice one speaker, measured with ``python -m benchmarks.conversations``.
DEFAULT_THRESHOLD: float = 3.0


def speaker_label(index: int) -> str:
    """The label of the ``index``-th speaker of a run (0-based): ``"A"``, ``"B"``, ...

    Raises
    ------
    ValueError
        ``index`` outside 0 .. 25.
    """
    if not 0 <= index < MAX_SPEAKERS:
        raise ValueError(f"speaker index must be in 0..{MAX_SPEAKERS - 1}, got {index}")
    return string.ascii_uppercase[index]


def parse_speakers(value: str | int) -> int:
    """``--speakers``: ``"auto"`` (:data:`AUTO_MAX_SPEAKERS`) or a count 1..26.

    Returns
    -------
    int
        The most speakers a run may open.

    Raises
    ------
    ValueError
        Anything else (one line, for argparse).
    """
    if isinstance(value, str) and value.strip().lower() == "auto":
        return AUTO_MAX_SPEAKERS
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"--speakers takes 'auto' or a number of speakers 1..{MAX_SPEAKERS}, got {value!r}") from None
    if not 1 <= n <= MAX_SPEAKERS:
        raise ValueError(f"--speakers takes 'auto' or a number of speakers 1..{MAX_SPEAKERS}, got {value!r}")
    return n


@dataclass(frozen=True)
class SpeakerEmbedding:
    """A linear speaker embedding of pooled feature columns.

    ``z = ((x[columns] - center) / scale) @ projection``.

    Attributes
    ----------
    columns : tuple of str
        Feature names (:meth:`FeatureExtractor.feature_names`) the embedding reads.
    center, scale : np.ndarray, float64, shape (n_columns,)
        Centring and scaling of those columns (the fitting data's mean and standard deviation).
    projection : np.ndarray, float64, shape (n_columns, n_dims)
        LDA directions, scaled so that the fitting speakers' within-speaker covariance of
        ``z`` is the identity.
    metadata : dict
        How it was fitted (corpora, shrinkage, command).
    """

    columns: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    projection: np.ndarray
    metadata: dict

    @property
    def n_dims(self) -> int:
        """Dimensions of the embedding."""
        return int(self.projection.shape[1])

    @classmethod
    def load(cls, path: str | Path | None = None) -> "SpeakerEmbedding":
        """Read an embedding file (JSON; default :data:`EMBEDDING_PATH`, cached).

        Raises
        ------
        OSError, ValueError
            Unreadable file or inconsistent shapes.
        """
        return _load_embedding(str(path or EMBEDDING_PATH))

    def save(self, path: str | Path) -> Path:
        """Write the embedding as JSON (floats to 7 significant digits)."""
        path = Path(path)
        payload = {
            "columns": list(self.columns),
            "center": [float(f"{v:.7g}") for v in self.center],
            "scale": [float(f"{v:.7g}") for v in self.scale],
            "projection": [[float(f"{v:.7g}") for v in row] for row in self.projection],
            "metadata": self.metadata,
        }
        path.write_text(json.dumps(payload, separators=(",", ":")) + "\n", encoding="utf-8")
        return path

    def column_indices(self, feature_names: Sequence[str]) -> np.ndarray:
        """Positions of :attr:`columns` in a model's feature vector.

        Parameters
        ----------
        feature_names : sequence of str
            The model's :meth:`FeatureExtractor.feature_names`.

        Returns
        -------
        np.ndarray, int64, shape (n_columns,)

        Raises
        ------
        ValueError
            The model lacks some of the columns (named).
        """
        where = {n: i for i, n in enumerate(feature_names)}
        missing = [c for c in self.columns if c not in where]
        if missing:
            raise ValueError(f"the model's features lack {len(missing)} column(s) of the speaker embedding "
                             f"(e.g. {', '.join(missing[:3])}); use --speakers 1")
        return np.array([where[c] for c in self.columns], dtype=np.int64)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Embed the embedding's columns of one utterance.

        Parameters
        ----------
        values : np.ndarray, float, shape (n_columns,)
            ``x[column_indices(...)]``; a non-finite value counts as the centre (it moves
            nothing).

        Returns
        -------
        np.ndarray, float64, shape (n_dims,)
        """
        v = (np.asarray(values, dtype=np.float64) - self.center) / self.scale
        v[~np.isfinite(v)] = 0.0
        return v @ self.projection


@lru_cache(maxsize=4)
def _load_embedding(path: str) -> SpeakerEmbedding:
    payload = json.loads(Path(path).read_text(encoding="utf-8"))
    emb = SpeakerEmbedding(
        columns=tuple(payload["columns"]),
        center=np.asarray(payload["center"], dtype=np.float64),
        scale=np.asarray(payload["scale"], dtype=np.float64),
        projection=np.asarray(payload["projection"], dtype=np.float64),
        metadata=dict(payload.get("metadata", {})),
    )
    n = len(emb.columns)
    if emb.center.shape != (n,) or emb.scale.shape != (n,) or emb.projection.ndim != 2 or emb.projection.shape[0] != n:
        raise ValueError(f"{path}: inconsistent speaker embedding ({n} columns)")
    return emb


class SpeakerAssigner:
    """Online speaker attribution: nearest running centroid, a new speaker beyond a threshold.

    For each utterance's embedding ``z`` (shape ``(n_dims,)``) and each speaker ``k`` heard
    so far (``n_k`` utterances, running mean ``m_k``), the standardised distance is

        d_k = mean_j (z_j - m_kj)**2 / (v_kj * (1 + 1 / n_k)),

    the squared distance over the spread expected for one of ``k``'s utterances: ``v_k``,
    the speaker's variance per dimension, widened by the uncertainty of a mean of ``n_k``
    utterances. By default ``v_k = 1``, the pooled within-speaker variance of the embedding
    (the identity by construction): a running per-speaker variance (Welford), shrunk towards 1
    with ``prior_weight`` utterances' weight, ``v_kj = (n_k * s2_kj + w) / (n_k + w)``, is
    available but lets a speaker whose spread grew absorb the other voice (seen on the
    harness). ``d`` is about 1 for an utterance of ``k``. The utterance goes to the nearest
    speaker; when that distance exceeds ``threshold`` and fewer than ``max_speakers`` are
    open, it opens a new one.

    Parameters
    ----------
    feature_names : sequence of str
        The model's feature names (to find the embedding's columns).
    max_speakers : int, default 4
        Most speakers to open (1: every utterance is ``"A"``; no embedding is computed).
    threshold : float, default :data:`DEFAULT_THRESHOLD`
        Standardised distance above which a new speaker is opened.
    prior_weight : float, optional
        Utterances' weight of the prior within-speaker variance when each speaker's own
        spread is tracked; None (default): the pooled within-speaker variance, 1.
    embedding : SpeakerEmbedding, optional
        Default: the shipped one (:meth:`SpeakerEmbedding.load`).

    Attributes
    ----------
    counts_ : list of int
        Utterances of each speaker so far, in label order.
    columns_ : np.ndarray, int64, shape (n_columns,), or None
        Positions of the embedding's columns in the model's feature vector (None with
        ``max_speakers=1``): what the extractor must compute besides the model's own.

    Raises
    ------
    ValueError
        ``max_speakers`` outside 1..26, a threshold not positive, or (``max_speakers > 1``)
        a model whose features lack the embedding's columns.
    """

    def __init__(
        self,
        feature_names: Sequence[str],
        *,
        max_speakers: int = AUTO_MAX_SPEAKERS,
        threshold: float = DEFAULT_THRESHOLD,
        prior_weight: float | None = None,
        embedding: SpeakerEmbedding | None = None,
    ) -> None:
        if not 1 <= int(max_speakers) <= MAX_SPEAKERS:
            raise ValueError(f"max_speakers must be in 1..{MAX_SPEAKERS}, got {max_speakers}")
        if not threshold > 0 or not (prior_weight is None or prior_weight > 0):
            raise ValueError(f"threshold and prior_weight must be positive, got {threshold}, {prior_weight}")
        self.max_speakers = int(max_speakers)
        self.threshold = float(threshold)
        self.prior_weight = None if prior_weight is None else float(prior_weight)
        self.embedding = None
        self.columns_ = None
        if self.max_speakers > 1:
            self.embedding = embedding or SpeakerEmbedding.load()
            self.columns_ = self.embedding.column_indices(list(feature_names))
        self.counts_: list[int] = []
        self._means: list[np.ndarray] = []
        self._m2: list[np.ndarray] = []

    @property
    def n_speakers(self) -> int:
        """Speakers opened so far."""
        return len(self.counts_)

    @property
    def labels(self) -> list[str]:
        """Labels of the speakers opened so far, in order of first appearance."""
        return [speaker_label(i) for i in range(self.n_speakers)]

    def embed(self, features: np.ndarray) -> np.ndarray:
        """The speaker embedding of one utterance's features.

        Parameters
        ----------
        features : np.ndarray, float, shape (n_features,)
            The extractor's raw (un-normalised) feature vector.

        Returns
        -------
        np.ndarray, float64, shape (n_dims,)
        """
        if self.embedding is None:
            raise ValueError("max_speakers=1 computes no embedding")
        return self.embedding.transform(np.asarray(features)[self.columns_])

    def distances(self, z: np.ndarray) -> np.ndarray:
        """Standardised distance of an embedding to every open speaker (formula above).

        Parameters
        ----------
        z : np.ndarray, float64, shape (n_dims,)

        Returns
        -------
        np.ndarray, float64, shape (n_speakers,)
        """
        out = np.empty(self.n_speakers)
        w = self.prior_weight
        for k, (n, m, m2) in enumerate(zip(self.counts_, self._means, self._m2)):
            v = 1.0 if w is None else (m2 + w) / (n + w)
            out[k] = float(np.mean((z - m) ** 2 / (v * (1.0 + 1.0 / n))))
        return out

    def assign(self, features: np.ndarray) -> str:
        """Attribute one utterance to a speaker and add it to that speaker's statistics.

        Parameters
        ----------
        features : np.ndarray, float, shape (n_features,)
            The extractor's raw feature vector.

        Returns
        -------
        str
            The speaker's label (``"A"``, ``"B"``, ...).
        """
        if self.max_speakers == 1:
            if not self.counts_:
                self.counts_.append(0)
            self.counts_[0] += 1
            return "A"
        z = self.embed(features)
        k = None
        if self.counts_:
            d = self.distances(z)
            k = int(np.argmin(d))
            if d[k] > self.threshold and self.n_speakers < self.max_speakers:
                k = None
        if k is None:
            self.counts_.append(1)
            self._means.append(z.copy())
            self._m2.append(np.zeros_like(z))
            return speaker_label(self.n_speakers - 1)
        self.counts_[k] += 1
        delta = z - self._means[k]
        self._means[k] = self._means[k] + delta / self.counts_[k]
        self._m2[k] = self._m2[k] + delta * (z - self._means[k])
        return speaker_label(k)


class SpeakerSessions:
    """A run's speakers, each with its own session statistics.

    Parameters
    ----------
    model : EmotionModel
        Gives the feature names and :meth:`~ser_live.model.EmotionModel.new_session`.
    max_speakers : int, default 4
        As :class:`SpeakerAssigner` (1: one session for the run, today's behaviour).
    session_norm : bool, default True
        False: every utterance is its own session (no session state), speakers are still
        attributed.
    **assigner : Any
        ``threshold``, ``prior_weight``, ``embedding`` of :class:`SpeakerAssigner`.

    Attributes
    ----------
    assigner : SpeakerAssigner
    sessions : dict of str to SessionState or None
        Each speaker's session statistics (None without normalisation).
    """

    def __init__(self, model: Any, *, max_speakers: int = AUTO_MAX_SPEAKERS, session_norm: bool = True,
                 **assigner: Any) -> None:
        self.model = model
        self.session_norm = bool(session_norm)
        self.assigner = SpeakerAssigner(model.extractor.feature_names(), max_speakers=max_speakers, **assigner)
        # the model's extractor computes only the columns the model reads: add the embedding's
        self.extractor = model.extractor_with(self.assigner.columns_)
        self.sessions: dict[str, Any] = {}

    def assign(self, features: np.ndarray) -> tuple[str, Any]:
        """Attribute an utterance; return its speaker and that speaker's session state.

        Parameters
        ----------
        features : np.ndarray, float, shape (n_features,)

        Returns
        -------
        (str, SessionState or None)
            The state is not updated here (the caller adds the utterance to it).
        """
        label = self.assigner.assign(features)
        if label not in self.sessions:
            self.sessions[label] = self.model.new_session() if self.session_norm else None
        return label, self.sessions[label]


class SpeakerRolling:
    """One rolling estimate per speaker (:class:`~ser_live.rolling.RollingEstimate` of that
    speaker's utterances only), beside the run's.

    Parameters
    ----------
    labels : list of str
        The model's labels.
    half_life_s : float
        Half-life (stream seconds) of every speaker's estimate.

    Attributes
    ----------
    estimates : dict of str to RollingEstimate
        By speaker label.
    """

    def __init__(self, labels: Sequence[str], *, half_life_s: float) -> None:
        self.labels = list(labels)
        self.half_life_s = float(half_life_s)
        self.estimates: dict[str, Any] = {}

    def update(self, result: Any) -> dict[str, float]:
        """Add a final result to its speaker's estimate (``result.speaker``).

        Returns
        -------
        dict of str to float
            That speaker's estimate after it (label -> probability).
        """
        from .rolling import RollingEstimate

        est = self.estimates.get(result.speaker)
        if est is None:
            est = self.estimates[result.speaker] = RollingEstimate(self.labels, half_life_s=self.half_life_s)
        return dict(est.update(result))

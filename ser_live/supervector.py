"""A speaker embedding of an utterance's voiced frames: GMM-UBM mean supervector, projected.

What ``--speakers N`` (the count of voices known) reads to tell the run's voices apart
(:class:`ser_live.speakers.SpeakerAssigner`). The pooled columns of the light embedding
(:class:`ser_live.speakers.SpeakerEmbedding`) average an utterance's frames into a few
statistics; a supervector keeps where in the MFCC space each voice's frames fall:

1. **frames**: MFCC 1-19 of the utterance's voiced frames (f0 > 0), the framewise MFCCs the
   feature extractor computes anyway (:meth:`ser_live.features.FeatureExtractor.extract_with_frames`);
   all frames when fewer than :data:`MIN_VOICED_FRAMES` are voiced;
2. **supervector**: the means of a diagonal Gaussian mixture (the universal background model,
   UBM, ``n_components`` x 19) MAP-adapted to those frames with relevance factor ``r``,
   ``m_k = (F_k + r mu_k) / (N_k + r)`` (``N_k``, ``F_k`` the frames' zeroth- and first-order
   statistics under the UBM's posteriors), minus the UBM's means, each component scaled by
   ``sqrt(w_k) / sigma_k`` and stacked (``n_components * 19`` values);
3. **projection**: one affine map to ``n_dims`` values, ``z = sv @ projection + offset``, in
   which the fit (``python -m benchmarks.conversations embed --supervector``, in
   :mod:`benchmarks.speaker_encoders`) folded the supervector's standardisation, the
   projection of the fitting speakers' ten leading emotion directions out of it (nuisance
   attribute projection, NAP, with the acted emotion as the nuisance) and a linear
   discriminant analysis of speaker identity.

Everything is fitted on the live cuts of RAVDESS, TESS, ASED and emotiontts_kor (the light
embedding's fitting corpora), never on EmoDB or es_uem, on which ``python -m
benchmarks.conversations`` measures it. The file is JSON (numbers and names only: it cannot
run code). Cost: one (n_frames, 19) x (19, n_components) product and a (n_components * 19,
n_dims) one per utterance, about 0.1 ms (``python -m benchmarks.speaker_encoders``).

References
----------
Reynolds, D. A., Quatieri, T. F., & Dunn, R. B. (2000). Speaker verification using adapted
Gaussian mixture models. *Digital Signal Processing* 10(1-3), 19-41 (UBM, MAP adaptation of
the means, relevance factor).
Campbell, W. M., Sturim, D. E., & Reynolds, D. A. (2006). Support vector machines using GMM
supervectors for speaker verification. *IEEE Signal Processing Letters* 13(5), 308-311 (the
``sqrt(w_k) / sigma_k`` scaling).
Solomonoff, A., Campbell, W. M., & Boardman, I. (2005). Advances in channel compensation for
SVM speaker recognition. *Proc. ICASSP*, I-629-632 (nuisance attribute projection).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["MIN_VOICED_FRAMES", "SUPERVECTOR_PATH", "SupervectorEmbedding"]

#: The shipped supervector embedding (written by ``python -m benchmarks.conversations embed
#: --supervector --out ser_live/data/speaker_supervector.json``).
SUPERVECTOR_PATH: Path = Path(__file__).parent / "data" / "speaker_supervector.json"
#: Fewest voiced frames an utterance's supervector is taken over; below it, all its frames.
MIN_VOICED_FRAMES: int = 5
#: The MFCC coefficients read (1-19: the level, coefficient 0, left out).
MFCC_ROWS: slice = slice(1, 20)
#: Version of the file's layout (key ``format``).
FORMAT: int = 1


class SupervectorEmbedding:
    """A GMM-UBM mean supervector speaker embedding (module doc).

    Parameters
    ----------
    weights : np.ndarray, float64, shape (n_components,)
        UBM component weights (sum 1).
    means, variances : np.ndarray, float64, shape (n_components, 19)
        UBM component means and diagonal variances (MFCC units, variances > 0).
    relevance : float
        MAP relevance factor ``r`` (> 0).
    projection : np.ndarray, float64, shape (n_components * 19, n_dims)
    offset : np.ndarray, float64, shape (n_dims,)
    metadata : dict, optional
        How it was fitted (corpora, settings, command).

    Raises
    ------
    ValueError
        Inconsistent shapes, non-finite values, weights or variances not positive.
    """

    def __init__(self, weights: np.ndarray, means: np.ndarray, variances: np.ndarray, relevance: float,
                 projection: np.ndarray, offset: np.ndarray, metadata: dict | None = None) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.means = np.asarray(means, dtype=np.float64)
        self.variances = np.asarray(variances, dtype=np.float64)
        self.relevance = float(relevance)
        self.projection = np.asarray(projection, dtype=np.float64)
        self.offset = np.asarray(offset, dtype=np.float64)
        self.metadata = dict(metadata or {})
        c, d = self.means.shape if self.means.ndim == 2 else (0, 0)
        arrays = (self.weights, self.means, self.variances, self.projection, self.offset)
        if (c == 0 or d != MFCC_ROWS.stop - MFCC_ROWS.start or self.weights.shape != (c,)
                or self.variances.shape != (c, d) or self.projection.ndim != 2
                or self.projection.shape[0] != c * d or self.offset.shape != (self.projection.shape[1],)):
            raise ValueError(f"inconsistent supervector embedding: weights {self.weights.shape}, means "
                             f"{self.means.shape}, variances {self.variances.shape}, projection "
                             f"{self.projection.shape}, offset {self.offset.shape}")
        if not all(np.isfinite(a).all() for a in arrays) or not np.isfinite(self.relevance):
            raise ValueError("supervector embedding holds non-finite values")
        if (self.weights <= 0).any() or (self.variances <= 0).any() or not self.relevance > 0:
            raise ValueError("supervector embedding: weights, variances and relevance must be positive")
        # per-component constants every utterance reads, formed once
        prec = 1.0 / self.variances
        self._prec_t = prec.T.copy()  # (19, C)
        self._mu_prec_t = (self.means * prec).T.copy()  # (19, C)
        self._const = (np.log(self.weights) - 0.5 * np.log(self.variances).sum(1)
                       - 0.5 * (self.means ** 2 * prec).sum(1))
        self._scale = np.sqrt(self.weights)[:, None] / np.sqrt(self.variances)

    @property
    def n_dims(self) -> int:
        """Dimensions of the embedding."""
        return int(self.projection.shape[1])

    @property
    def n_components(self) -> int:
        """Components of the UBM."""
        return int(self.weights.shape[0])

    def column_indices(self, feature_names: Sequence[str]) -> np.ndarray:
        """The feature columns the embedding needs computed besides a model's own: none (it
        reads the framewise MFCCs every extraction computes), once the model's features
        show MFCCs up to coefficient 19 (the same interface as
        :meth:`ser_live.speakers.SpeakerEmbedding.column_indices`).

        Parameters
        ----------
        feature_names : sequence of str
            The model's :meth:`FeatureExtractor.feature_names`.

        Returns
        -------
        np.ndarray, int64, shape (0,)

        Raises
        ------
        ValueError
            The model's extraction has fewer than 20 MFCCs.
        """
        if not any(n.startswith(f"mfcc{MFCC_ROWS.stop - 1}_") for n in feature_names):
            raise ValueError(f"the model's features have fewer than {MFCC_ROWS.stop} MFCCs, which the "
                             "supervector speaker embedding reads; use --speakers 1")
        return np.empty(0, dtype=np.int64)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "SupervectorEmbedding":
        """Read a supervector embedding file (JSON; default :data:`SUPERVECTOR_PATH`, cached).

        Raises
        ------
        OSError
            Unreadable file.
        ValueError
            Not JSON, another ``format``, missing keys or inconsistent shapes.
        """
        return _load(str(path or SUPERVECTOR_PATH))

    def save(self, path: str | Path) -> Path:
        """Write the embedding as JSON (floats to 9 significant digits).

        Returns
        -------
        Path
        """
        def nums(a: np.ndarray) -> list:
            return np.vectorize(lambda v: float(f"{v:.9g}"), otypes=[float])(a).tolist()

        payload = {"format": FORMAT, "relevance": self.relevance, "weights": nums(self.weights),
                   "means": nums(self.means), "variances": nums(self.variances),
                   "projection": nums(self.projection), "offset": nums(self.offset), "metadata": self.metadata}
        path = Path(path)
        path.write_text(json.dumps(payload, separators=(",", ":")) + "\n", encoding="utf-8")
        return path

    @staticmethod
    def frames(mfcc: np.ndarray, voiced: np.ndarray) -> np.ndarray:
        """The frames an utterance's supervector is taken over.

        Parameters
        ----------
        mfcc : np.ndarray, float, shape (n_mfcc >= 20, n_frames)
            Framewise MFCCs (:meth:`~ser_live.features.FeatureExtractor.extract_with_frames`).
        voiced : np.ndarray, bool, shape (n_frames,)
            Frames with an f0.

        Returns
        -------
        np.ndarray, float64, shape (n_kept, 19)
            MFCC 1-19 of the voiced frames; of every frame when fewer than
            :data:`MIN_VOICED_FRAMES` are voiced.

        Raises
        ------
        ValueError
            Fewer than 20 MFCC rows, or ``voiced`` not one flag per frame.
        """
        mfcc = np.asarray(mfcc)
        voiced = np.asarray(voiced, dtype=bool)
        if mfcc.ndim != 2 or mfcc.shape[0] < MFCC_ROWS.stop or voiced.shape != (mfcc.shape[1],):
            raise ValueError(f"need MFCCs of shape (>= {MFCC_ROWS.stop}, n_frames) and one voicing flag per "
                             f"frame, got {mfcc.shape} and {voiced.shape}")
        M = np.asarray(mfcc[MFCC_ROWS], dtype=np.float64).T
        return M[voiced] if voiced.sum() >= MIN_VOICED_FRAMES else M

    def supervector(self, X: np.ndarray) -> np.ndarray:
        """The MAP-adapted, scaled mean supervector of one utterance's frames (module doc, step 2).

        Parameters
        ----------
        X : np.ndarray, float, shape (n_frames, 19)
            :meth:`frames`; no frames gives the UBM's own means (all zeros).

        Returns
        -------
        np.ndarray, float64, shape (n_components * 19,)
        """
        X = np.asarray(X, dtype=np.float64)
        if not len(X):
            return np.zeros(self.means.size)
        L = -0.5 * (X ** 2) @ self._prec_t + X @ self._mu_prec_t + self._const
        P = np.exp(L - L.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        N, F = P.sum(0), P.T @ X
        m = (F + self.relevance * self.means) / (N[:, None] + self.relevance)
        return ((m - self.means) * self._scale).ravel()

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The embedding of one utterance's frames.

        Parameters
        ----------
        X : np.ndarray, float, shape (n_frames, 19)
            :meth:`frames` of the utterance.

        Returns
        -------
        np.ndarray, float64, shape (n_dims,)
        """
        return self.supervector(X) @ self.projection + self.offset


@lru_cache(maxsize=4)
def _load(path: str) -> SupervectorEmbedding:
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a supervector embedding file ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        got = payload.get("format") if isinstance(payload, dict) else None
        raise ValueError(f"{path}: supervector embedding format {got!r}, this ser-live reads {FORMAT}")
    try:
        return SupervectorEmbedding(payload["weights"], payload["means"], payload["variances"], payload["relevance"],
                                    payload["projection"], payload["offset"], payload.get("metadata"))
    except KeyError as exc:
        raise ValueError(f"{path}: supervector embedding lacks {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc

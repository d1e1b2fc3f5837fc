"""Speaker encoders compared on the conversations harness's cuts (issue 25).

Is it the encoder or the clustering that keeps same-gender attribution low? Every encoder
here gets the same utterances (the harness's conversations, :mod:`benchmarks.conversations`:
same speakers, pairs, turns and seeds, cut by the live segmenter) and the same clustering
(the whole conversation split in two at the end, what ``--speakers 2`` revises towards), so
the table compares what the encoders hear, not how they are used online:

* ``light``: the shipped light embedding (``ser_live/data/speaker_embedding_light.json``,
  what ``--speakers N`` uses), 2-means from the first principal component
  (:func:`ser_live.speakers._two_means`);
* ``full``: the full embedding (``ser_live/data/speaker_embedding.json``, ``--speakers auto``),
  the same clustering;
* ``mfcc-glr``: each utterance as one full-covariance Gaussian of its framewise MFCCs 1-19
  (librosa, 25 ms window, 10 ms hop, frames within 30 dB of the loudest), compared by the
  generalised likelihood ratio of the classic diarization literature (Gish, Siu and Rohlicek,
  ICASSP 1991; the distance under Chen and Gopalakrishnan's BIC, 1998) per frame, split in two
  by spectral clustering (:func:`spectral_two`; average linkage, tried too, isolated single
  utterances);
* ``sv``: a GMM-UBM mean supervector of each cut's voiced frames (MFCC 1-19 of the model's own
  framewise extraction), with nuisance attribute projection of the emotions and an LDA of
  speaker identity, all fitted on the live cuts of the light embedding's fitting corpora
  (:class:`SupervectorEncoder`, :func:`fit_supervector_encoder`): the shipped one
  (``ser_live/data/speaker_supervector.json``, what ``--speakers N`` uses), or with ``--fit-sv``
  one fitted afresh; the same 2-means as ``light``; its CPU column is the embedding's own step,
  without the framewise analysis (the live extraction computes those frames anyway and hands
  them over: :meth:`~ser_live.features.FeatureExtractor.extract_with_frames`);
* ``ge2e``: a neural speaker encoder trained for speaker verification, Resemblyzer's GE2E
  (Wan et al., ICASSP 2018; ``pip install torch`` then ``pip install --no-deps resemblyzer``:
  its ``webrtcvad`` dependency would replace the module of ser-live's ``webrtcvad-wheels``
  with one that imports setuptools' ``pkg_resources``, and without setuptools ser-live's VAD
  stops importing; not one of our extras: a comparison only, never on the live path),
  L2-normalised, the same 2-means as ``light``.

Run: ``python -m benchmarks.speaker_encoders --pairs 100`` (every pair of EmoDB and es_uem;
a few minutes, most of it the GE2E encoder's ~35 ms per utterance).

``--emotion-centred`` adds, for each encoder that gives an embedding (``light``, ``full``,
``ge2e``), the same split after each emotion's mean embedding within the conversation is
taken from its utterances (:func:`centre_by`, with the *true* emotion of every cut): a
diagnostic of how much of what splits a pair is the acted emotion rather than the voice. It
is an oracle, not a method: live, the emotions are what is being estimated, and in a real
conversation (one caller angry throughout, the agent calm) taking out each emotion's mean
would take the difference between the voices with it.

``--arousal DIR`` asks how much of that is arousal alone, and what the emotion model's own
estimate of it recovers. ``DIR`` holds the corpora's ``loco`` fold models (``DIR/<corpus>.skops``,
as :mod:`benchmarks.conversations` takes them), which extract the cuts and give each cut's
arousal (:func:`ser_live.affect.affect_scores`, the conversation as one offline session: both
voices, no attribution needed). Three more columns per embedding encoder:

* ``<encoder> arousal-centred``: the true arousal class's (high, low) mean taken out, an oracle
  as the emotion-centred column is;
* ``<encoder> arousal projected``: the embeddings' least-squares fit on the estimated arousal
  taken out (:func:`project_out`), a method, but one that also takes out whatever part of the
  voices' difference the estimate follows;
* ``<encoder> arousal offset``: the embeddings as each speaker's centroid plus an arousal offset
  shared by both speakers, fitted by rounds of 2-means and ridge regression on the
  within-speaker residuals (:func:`shared_offset_split`), which keeps a pair where one voice
  is aroused throughout apart.

``--one-aroused`` builds each pair's conversation from the first speaker's high-arousal
utterances and the second's low-arousal ones only (8 and 8 of the 16): a call where one voice
is agitated throughout and the other calm, where arousal tells the voices apart and taking it
out takes the difference between them with it.
"""
from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ser_live.supervector import SupervectorEmbedding

from .common import run_table_bench, table_parser
from .conversations import (DEFAULT_CORPORA, attribution_accuracy, conversation_segments, corpus_speakers,
                            interleave, pairs_of, progress, true_arousal)

#: Encoders the table can hold, in its order.
ENCODERS = ("light", "full", "mfcc-glr", "sv", "ge2e")
#: The columns ``--arousal`` adds per embedding encoder (module doc).
AROUSAL_COLUMNS = ("arousal-centred", "arousal projected", "arousal offset")
#: Framewise MFCC settings of ``mfcc-glr`` (16 kHz): coefficients kept (c0 dropped), window
#: and hop (samples), mel bands, and the level range of the frames kept (dB below the loudest).
MFCC_N, MFCC_WIN, MFCC_HOP, MFCC_MELS, MFCC_RANGE_DB = 20, 400, 160, 40, 30.0


def mfcc_gaussian(samples: np.ndarray) -> np.ndarray:
    """Framewise MFCCs 1-19 of an utterance's loud frames (see :data:`MFCC_N` etc.).

    Parameters
    ----------
    samples : np.ndarray, int16, shape (n_samples,)
        16 kHz.

    Returns
    -------
    np.ndarray, float64, shape (n_frames, 19)
    """
    import librosa

    y = samples.astype(np.float32) / 32768.0
    M = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=MFCC_N, n_fft=512, hop_length=MFCC_HOP, win_length=MFCC_WIN,
                             n_mels=MFCC_MELS)
    rms = librosa.feature.rms(y=y, frame_length=MFCC_WIN, hop_length=MFCC_HOP)[0][: M.shape[1]]
    db = 20.0 * np.log10(rms + 1e-9)
    return M[1:, db > db.max() - MFCC_RANGE_DB].T.astype(np.float64)


def glr_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Generalised likelihood ratio per frame of two frame sets under one full-covariance
    Gaussian against one each (Gish et al. 1991): ``(n log|S| - na log|Sa| - nb log|Sb|) /
    (2 n)``, covariances with 1e-3 added on the diagonal.

    Parameters
    ----------
    a, b : np.ndarray, float64, shapes (na, d), (nb, d)

    Returns
    -------
    float
        >= 0 up to the diagonal loading; larger is more likely two speakers.
    """
    def logdet(X: np.ndarray) -> float:
        return float(np.linalg.slogdet(np.cov(X.T) + 1e-3 * np.eye(X.shape[1]))[1])

    n = len(a) + len(b)
    return (n * logdet(np.vstack([a, b])) - len(a) * logdet(a) - len(b) * logdet(b)) / (2.0 * n)


def spectral_two(D: np.ndarray) -> np.ndarray:
    """Two clusters of a distance matrix by spectral clustering (Ng, Jordan and Weiss, NIPS
    2001): affinity ``exp(-D / median(D))``, symmetric normalisation, the two leading
    eigenvectors' rows normalised to unit length, then :func:`two_means`.

    Parameters
    ----------
    D : np.ndarray, float64, shape (n, n)
        Symmetric, zero diagonal, n >= 3.

    Returns
    -------
    np.ndarray, int, shape (n,)
        0 or 1.
    """
    off = D[~np.eye(len(D), dtype=bool)]
    A = np.exp(-D / max(float(np.median(off)), 1e-12))
    np.fill_diagonal(A, 0.0)
    d = A.sum(1)
    V = np.linalg.eigh(A / np.sqrt(np.outer(d, d)))[1][:, -2:]
    return two_means(V / np.linalg.norm(V, axis=1, keepdims=True))


def two_means(Z: np.ndarray) -> np.ndarray:
    """The known-count clustering's two-way split of embeddings (:func:`ser_live.speakers._two_means`):
    int (n,), 0 or 1 (all 0 when one side would be empty)."""
    from ser_live.speakers import _two_means

    g = _two_means(np.asarray(Z, dtype=np.float64))
    return np.zeros(len(Z), dtype=int) if g is None else g.astype(int)


def centre_by(Z: np.ndarray, groups: Sequence[Any]) -> np.ndarray:
    """Rows of ``Z`` (float, (n, d)) minus the mean of the rows of their group
    (:func:`ser_live.speakers.group_means_out` of hashable groups).

    Parameters
    ----------
    Z : np.ndarray, float, shape (n, d)
    groups : sequence, length n
        Any hashable per row (here the true emotion of each cut; None is a group too).

    Returns
    -------
    np.ndarray, float64, shape (n, d)
        Each group's rows with zero mean.

    Raises
    ------
    ValueError
        ``groups`` not of length n.
    """
    from ser_live.speakers import group_means_out

    if len(groups) != len(Z):
        raise ValueError(f"{len(groups)} groups for {len(Z)} rows")
    return group_means_out(Z, np.unique([str(g) for g in groups], return_inverse=True)[1])


def project_out(Z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Rows of ``Z`` minus their least-squares fit on ``a`` (both centred over the rows).

    Parameters
    ----------
    Z : np.ndarray, float, shape (n, d)
    a : np.ndarray, float, shape (n,) or (n, k)
        Per row the regressors, e.g. the estimated arousal in [-1, 1].

    Returns
    -------
    np.ndarray, float64, shape (n, d)
        ``Z - mean(Z) - A @ B``, ``A`` the centred regressors, ``B`` the least-squares
        coefficients (:func:`numpy.linalg.lstsq`).
    """
    A = np.asarray(a, dtype=np.float64).reshape(len(Z), -1)
    A = A - A.mean(0)
    R = np.asarray(Z, dtype=np.float64) - np.mean(Z, axis=0)
    return R - A @ np.linalg.lstsq(A, R, rcond=None)[0]


def shared_offset_split(Z: np.ndarray, a: np.ndarray, *, ridge: float = 1.0, rounds: int = 8) -> np.ndarray:
    """Two speakers, each a centroid, plus one offset per unit of ``a`` shared by both:
    ``z_i = c_{g(i)} + a_i b + e_i``. From :func:`two_means` of ``Z``, rounds of: ``b`` the
    ridge regression of the residuals from the current split's centroids on the centred
    ``a`` (the emotion-aware clustering's :func:`ser_live.speakers._emotion_offsets`, with
    ``a`` as its one column of posteriors), then :func:`two_means` of ``Z - a b``; until the
    split stops moving or after ``rounds``.

    Parameters
    ----------
    Z : np.ndarray, float, shape (n, d)
    a : np.ndarray, float, shape (n,)
    ridge : float, default 1.0
        Shrinkage of ``b`` towards 0: added to the centred ``a``'s sum of squares.
    rounds : int, default 8

    Returns
    -------
    np.ndarray, int, shape (n,)
        0 or 1 per row.
    """
    from ser_live.speakers import _emotion_offsets

    Z = np.asarray(Z, dtype=np.float64)
    A = np.asarray(a, dtype=np.float64).reshape(len(Z), 1)
    A = A - A.mean(0)
    lab = two_means(Z)
    for _ in range(rounds):
        b = _emotion_offsets(Z, A, lab, int(lab.max()) + 1, ridge)[0]  # two_means gives all 0 or both sides
        new = two_means(Z - A @ b)
        if (new == lab).all():
            break
        lab = new
    return lab


def cut_labels(played: Sequence[int], labels: Sequence[str], n_cuts: int) -> list[str | None]:
    """The true label of each cut: that of the first played file whose longest-overlapping
    cut it is (``played``, as :func:`benchmarks.conversations.conversation_segments` gives
    it); None for a cut no played file maps to."""
    out: list[str | None] = [None] * n_cuts
    for j, u in enumerate(played):
        if u >= 0 and out[u] is None:
            out[u] = labels[j]
    return out


class SupervectorEncoder:
    """The fit of :class:`ser_live.supervector.SupervectorEmbedding`: GMM-UBM mean supervector,
    nuisance attribute projection (NAP) of the emotions, LDA of speaker identity.

    * UBM: a diagonal Gaussian mixture of ``n_components`` on MFCC 1-19 of voiced frames
      (:meth:`SupervectorEmbedding.frames <ser_live.supervector.SupervectorEmbedding.frames>`),
      fitted on at most ``n_frames`` frames of the fitting cuts (scikit-learn's
      :class:`~sklearn.mixture.GaussianMixture`).
    * Supervector: each component's mean MAP-adapted to the cut with relevance factor
      ``relevance`` (Reynolds, Quatieri and Dunn, "Speaker verification using adapted
      Gaussian mixture models", Digital Signal Processing 10, 2000), minus the UBM's, scaled by
      ``sqrt(w_k) / sigma_k`` (Campbell, Sturim and Reynolds, "Support vector machines using
      GMM supervectors for speaker verification", IEEE SPL 13(5), 2006): ``n_components * 19``
      values.
    * NAP: the ``nap_rank`` leading directions of the fitting speakers' per-emotion mean
      supervectors minus each speaker's mean (standardised) are projected out (Solomonoff,
      Campbell and Boardman, "Advances in channel compensation for SVM speaker recognition",
      ICASSP 2005, with the emotion as the nuisance).
    * LDA: :func:`benchmarks.conversations.fit_embedding` on the projected supervectors,
      ``n_dims`` directions, ``shrinkage``.

    Standardisation, NAP and LDA are linear, so the fit folds them into the embedding's one
    affine map (``projection``, ``offset``).

    The defaults were chosen without EmoDB or es_uem: each fitting corpus (RAVDESS, ASED,
    Korean) held out in turn with everything fitted on the others, pseudo-conversations of its
    speakers split in two, best on same- plus mixed-gender pairs over 150 settings (a scratch
    search, docs/speakers.md).

    Parameters
    ----------
    n_components, relevance, nap_rank, n_dims, shrinkage, n_frames, seed
        As above; ``seed`` seeds the frame sample and the mixture's initialisation.
    """

    def __init__(self, *, n_components: int = 32, relevance: float = 1.0, nap_rank: int = 10, n_dims: int = 32,
                 shrinkage: float = 0.5, n_frames: int = 300_000, seed: int = 0) -> None:
        self.n_components, self.relevance, self.nap_rank = n_components, relevance, nap_rank
        self.n_dims, self.shrinkage, self.n_frames, self.seed = n_dims, shrinkage, n_frames, seed

    def settings(self) -> dict[str, Any]:
        """The fit's settings (for the embedding's metadata)."""
        return {"n_components": self.n_components, "relevance": self.relevance, "nap_rank": self.nap_rank,
                "n_dims": self.n_dims, "shrinkage": self.shrinkage, "n_frames": self.n_frames, "seed": self.seed}

    def fit(self, frames: Sequence[np.ndarray], speakers: Sequence[str], emotions: Sequence[str], *,
            metadata: dict | None = None) -> SupervectorEmbedding:
        """Fit the UBM, the NAP and the LDA.

        Parameters
        ----------
        frames : sequence of np.ndarray, float, shape (n_frames_i, 19)
            Per fitting cut, :meth:`SupervectorEmbedding.frames
            <ser_live.supervector.SupervectorEmbedding.frames>`.
        speakers, emotions : sequence of str, one per cut
        metadata : dict, optional
            Stored in the embedding, beside :meth:`settings`.

        Returns
        -------
        SupervectorEmbedding
        """
        from sklearn.mixture import GaussianMixture

        from .conversations import fit_embedding

        rng = np.random.default_rng(self.seed)
        X = np.vstack(frames)
        X = X[rng.permutation(len(X))[: self.n_frames]]
        g = GaussianMixture(self.n_components, covariance_type="diag", max_iter=100, random_state=self.seed,
                            reg_covar=1e-3).fit(X)
        k, d = g.means_.shape
        ubm = SupervectorEmbedding(g.weights_, g.means_, g.covariances_, self.relevance,
                                   np.zeros((k * d, 1)), np.zeros(1))
        SV = np.stack([ubm.supervector(f) for f in frames])
        spk, emo = np.asarray(speakers), np.asarray(emotions)
        c1, s1 = SV.mean(0), SV.std(0) + 1e-9
        Z = (SV - c1) / s1
        cells = [Z[(spk == s) & (emo == e)].mean(0) - Z[spk == s].mean(0)
                 for s in np.unique(spk) for e in np.unique(emo[spk == s])]
        nap = np.linalg.svd(np.array(cells), full_matrices=False)[2][: self.nap_rank].T
        c2, s2, V = fit_embedding(Z - (Z @ nap) @ nap.T, spk, n_dims=self.n_dims, shrinkage=self.shrinkage)
        # z = (((SV - c1) / s1 (I - N N')) - c2) / s2 @ V, folded into SV @ projection + offset
        A = V / s2[:, None]
        A = A - nap @ (nap.T @ A)
        meta = {"settings": self.settings(), "speakers": int(len(np.unique(spk))), "cuts": int(len(SV)),
                **(metadata or {})}
        return SupervectorEmbedding(g.weights_, g.means_, g.covariances_, self.relevance, A / s1[:, None],
                                    -(c1 / s1) @ A - (c2 / s2) @ V, meta)


def cut_frames(extractor: Any, samples: np.ndarray) -> np.ndarray:
    """The frames a cut's supervector is taken over, from ``extractor``'s framewise analysis
    (the same MFCCs and voicing as :meth:`~ser_live.features.FeatureExtractor.extract_with_frames`,
    the live path's): float64, shape (n_frames, 19)."""
    fw = extractor.framewise(samples)
    return SupervectorEmbedding.frames(fw["mfcc"], fw["pitch"][0] > 0)


def fit_supervector_encoder(model: Any, *, corpora: Sequence[str] | None = None, **kw: Any) -> SupervectorEmbedding:
    """:class:`SupervectorEncoder` fitted on the fitting corpora's live cuts, as the light
    embedding's are cut (:func:`benchmarks.conversations.fitting_sessions`,
    :func:`~benchmarks.conversations.live_utterance_cuts`), with the model's framewise
    extraction.

    Parameters
    ----------
    model : EmotionModel
        Its extractor gives the frames.
    corpora : sequence of str, optional
        Default :data:`benchmarks.conversations.EMBED_CORPORA` (never the held-out ones).
    **kw
        :class:`SupervectorEncoder`'s settings.

    Returns
    -------
    SupervectorEmbedding
    """
    from .conversations import EMBED_CORPORA, fitting_sessions, live_utterance_cuts

    corpora = list(corpora or EMBED_CORPORA)
    frames, spk, emo = [], [], []
    for corpus in corpora:
        for s, chunk, seed in fitting_sessions(corpus):
            for r, u in zip(chunk, live_utterance_cuts([r.path for r in chunk], seed=seed)):
                if u is not None:
                    frames.append(cut_frames(model.extractor, u.samples))
                    spk.append(f"{corpus}:{s}")
                    emo.append(r.label)
    return SupervectorEncoder(**kw).fit(frames, spk, emo, metadata={
        "corpora": corpora, "cut": "live segmenter cuts of one-speaker sessions (benchmarks.conversations.fitting_sessions)",
        "command": "python -m benchmarks.conversations embed --supervector"})


def ge2e_encoder() -> Callable[[np.ndarray], np.ndarray]:
    """Resemblyzer's GE2E voice encoder on the CPU, one thread: int16 samples -> float (256,).

    Raises
    ------
    ImportError
        Resemblyzer is not installed (with what to run).
    """
    try:
        from resemblyzer import VoiceEncoder
    except ImportError as exc:
        raise ImportError("the ge2e row needs Resemblyzer and PyTorch: pip install torch, then "
                          "pip install --no-deps resemblyzer (its webrtcvad dependency would replace "
                          "ser-live's VAD module); or leave ge2e out of --encoders") from exc
    import torch

    torch.set_num_threads(1)
    enc = VoiceEncoder("cpu", verbose=False)
    return lambda s: np.asarray(enc.embed_utterance(s.astype(np.float32) / 32768.0), dtype=np.float64)


def run(corpora: Sequence[str], *, n_pairs: int, encoders: Sequence[str], n_utterances: int = 16,
        seed: int = 0, emotion_centred: bool = False, arousal_models: str | Path | None = None,
        one_aroused: bool = False, fit_sv: bool = False) -> dict[str, Any]:
    """Attribution (%) of each encoder's end-of-conversation two-way clustering, per corpus
    and pair kind, on the conversations :func:`benchmarks.conversations.attribution_only`
    builds; the encoders' thread CPU per utterance.

    With ``emotion_centred``, also each embedding encoder's split after :func:`centre_by`
    the cuts' true emotions (column ``"<encoder> emotion-centred"``; see the module doc).
    With ``arousal_models`` (a folder of fold models ``<corpus>.skops``), also the three
    arousal columns of the module doc; the corpus's fold model then extracts. With
    ``one_aroused``, each pair's first speaker says only its high-arousal utterances and the
    second only its low-arousal ones. ``sv`` is the shipped supervector embedding
    (``ser_live/data/speaker_supervector.json``), or with ``fit_sv`` one fitted afresh
    (:func:`fit_supervector_encoder`, the shipped one's settings; a minute or two).

    Raises
    ------
    FileNotFoundError
        A fold model missing from ``arousal_models``.
    ser_live.model.ModelError
        A fold model that extracts other features than the shipped model.

    Returns
    -------
    dict
        ``rows``: ``{"corpus", "kind", "n", "<column>": mean %, ...}``; ``columns``: the
        columns in order; ``cpu_ms``: per encoder p50 / p95 ms per utterance.
    """
    from ser_live.affect import affect_scores
    from ser_live.model import EmotionModel, ModelError
    from ser_live.speakers import EMBEDDING_PATH, LIGHT_EMBEDDING_PATH, SpeakerEmbedding

    model = EmotionModel.load()
    names = model.extractor.feature_names()
    embeddings = {k: SpeakerEmbedding.load(p) for k, p in (("light", LIGHT_EMBEDDING_PATH), ("full", EMBEDDING_PATH))}
    columns = {k: e.column_indices(names) for k, e in embeddings.items()}
    ge2e = ge2e_encoder() if "ge2e" in encoders else None
    sv = None
    if "sv" in encoders:
        sv = fit_supervector_encoder(model) if fit_sv else SupervectorEmbedding.load()
    cpu: dict[str, list[float]] = {e: [] for e in encoders}
    extra = (["emotion-centred"] if emotion_centred else []) + (list(AROUSAL_COLUMNS) if arousal_models else [])
    columns_out = [c for e in encoders for c in ([e] + ([f"{e} {x}" for x in extra] if e != "mfcc-glr" else []))]
    rows = []
    for corpus in corpora:
        fold = None
        if arousal_models:
            path = Path(arousal_models) / f"{corpus}.skops"
            if not path.exists():
                raise FileNotFoundError(f"{path} missing: fit it with `python -m train fit --exclude-corpus {corpus} "
                                        f"--out {path}`")
            fold = EmotionModel.load(path)
            if fold.extractor.feature_names() != names:
                raise ModelError(f"{path} extracts other features than the shipped model; refit it with the shipped recipe")
        spk = corpus_speakers(corpus, n_utterances=n_utterances, seed=seed)
        for kind, pairs in pairs_of(spk, n_pairs=n_pairs, seed=seed).items():
            acc: dict[str, list[float]] = {c: [] for c in columns_out}
            for i, (a, b) in enumerate(pairs):
                items_a, items_b = spk[a]["items"], spk[b]["items"]
                if one_aroused:
                    items_a = [it for it in items_a if true_arousal(it[1]) == "high"]
                    items_b = [it for it in items_b if true_arousal(it[1]) == "low"]
                order = interleave(items_a, items_b, seed=seed * 1000 + i)
                who = [(a, b)[w] for w, _ in order]
                utts: list = []
                feats, played = conversation_segments(fold or model, [it[0] for _, it in order], seed=seed * 1000 + i,
                                                      utterances=utts)
                emo = cut_labels(played, [it[1] for _, it in order], len(feats))
                arousal = None
                if fold is not None:
                    P = fold.predict_proba(np.asarray(feats, dtype=np.float32), groups=np.zeros(len(feats), dtype=int))
                    arousal = affect_scores(fold.labels, P)["arousal"]
                    aro_true = [true_arousal(e) if e is not None else None for e in emo]
                # the frames the live extraction computes anyway (not timed: it does not return them today)
                sv_frames = [cut_frames((fold or model).extractor, u.samples) for u in utts] if sv else []
                for enc in encoders:
                    t0 = time.thread_time()
                    Z = None
                    if enc in embeddings:
                        e, idx = embeddings[enc], columns[enc]
                        Z = np.stack([e.transform(x[idx]) for x in feats])
                        lab = two_means(Z)
                    elif enc == "sv":
                        Z = np.stack([sv.transform(f) for f in sv_frames])
                        lab = two_means(Z)
                    elif enc == "mfcc-glr":
                        F = [mfcc_gaussian(u.samples) for u in utts]
                        D = np.zeros((len(F), len(F)))
                        for p, q in itertools.combinations(range(len(F)), 2):
                            D[p, q] = D[q, p] = glr_distance(F[p], F[q])
                        lab = spectral_two(D)
                    else:
                        R = np.stack([ge2e(u.samples) for u in utts])
                        Z = R / np.linalg.norm(R, axis=1, keepdims=True)
                        lab = two_means(Z)
                    cpu[enc].append((time.thread_time() - t0) / max(len(utts), 1))
                    acc[enc].append(attribution_accuracy(who, [int(lab[j]) if j >= 0 else None for j in played]))
                    if Z is None:
                        continue
                    splits = {"emotion-centred": (lambda: two_means(centre_by(Z, emo))) if emotion_centred else None}
                    if arousal is not None:
                        splits.update({"arousal-centred": lambda: two_means(centre_by(Z, aro_true)),
                                       "arousal projected": lambda: two_means(project_out(Z, arousal)),
                                       "arousal offset": lambda: shared_offset_split(Z, arousal)})
                    for name, split in splits.items():
                        if split is not None:
                            lab = split()
                            acc[f"{enc} {name}"].append(
                                attribution_accuracy(who, [int(lab[j]) if j >= 0 else None for j in played]))
                progress(f"{corpus} {kind} {a}+{b}: " + ", ".join(f"{c} {acc[c][-1]:.1f}" for c in columns_out))
            rows.append({"corpus": corpus, "kind": kind, "n": len(pairs),
                         **{c: float(np.mean(v)) for c, v in acc.items()}})
    return {"rows": rows, "encoders": list(encoders), "columns": columns_out,
            "cpu_ms": {e: [float(np.percentile(v, 50) * 1e3), float(np.percentile(v, 95) * 1e3)]
                       for e, v in cpu.items() if v},
            "command": "python -m benchmarks.speaker_encoders " + " ".join(sys.argv[1:])}


def markdown(res: dict[str, Any]) -> list[str]:
    """:func:`run`'s result as a Markdown table."""
    cols = res.get("columns", res["encoders"])
    lines = ["| corpus | pairs | " + " | ".join(cols) + " |", "|" + "---|" * (2 + len(cols))]
    for r in res["rows"]:
        lines.append(f"| {r['corpus']} | {r['kind']} x{r['n']} | " + " | ".join(f"{r[c]:.1f}" for c in cols) + " |")
    lines.append("| thread CPU per utterance, p50 / p95 ms | | "
                 + " | ".join("{:.2f} / {:.2f}".format(*res["cpu_ms"][c]) if c in res["cpu_ms"] else ""
                              for c in cols) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.speaker_encoders [options]``: prints the table (and writes
    ``--json``); returns the exit status (0, 2 an unknown corpus, a --json that cannot be
    written, Resemblyzer missing for ge2e or an ``--arousal`` fold model missing or of other
    features, 3 a corpus not found)."""
    p = table_parser("python -m benchmarks.speaker_encoders", __doc__.split("\n")[0], DEFAULT_CORPORA)
    p.add_argument("--pairs", type=int, default=4, help="pairs per kind per corpus (100: every pair)")
    p.add_argument("--encoders", nargs="+", default=list(ENCODERS), choices=ENCODERS)
    p.add_argument("--emotion-centred", action="store_true",
                   help="also each embedding's split with every true emotion's mean within the conversation "
                        "taken out (an oracle diagnostic: how much of the split is the acted emotion)")
    p.add_argument("--arousal", metavar="DIR", default=None,
                   help="also each embedding's split with arousal taken out: the true arousal's means (oracle), the "
                        "estimated arousal's fit, a shared arousal offset; DIR holds the corpora's loco fold models "
                        "(DIR/<corpus>.skops), which extract and estimate")
    p.add_argument("--one-aroused", action="store_true",
                   help="each pair's first voice says only its high-arousal utterances, the second only its low-arousal ones")
    p.add_argument("--fit-sv", action="store_true",
                   help="fit the sv encoder afresh (the shipped settings, a minute or two) instead of loading the "
                        "shipped ser_live/data/speaker_supervector.json")
    args = p.parse_args(argv)
    from ser_live.model import ModelError

    return run_table_bench(args.corpora, args.json, lambda: run(
        args.corpora, n_pairs=args.pairs, encoders=args.encoders, seed=args.seed, emotion_centred=args.emotion_centred,
        arousal_models=args.arousal, one_aroused=args.one_aroused, fit_sv=args.fit_sv),
        markdown, errors=(ImportError, FileNotFoundError, ModelError))

if __name__ == "__main__":
    raise SystemExit(main())

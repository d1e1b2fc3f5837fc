"""``python -m benchmarks.conversations``: two voices on one line (issue 25).

Two-speaker conversations of held-out corpus speakers, replayed through the live recogniser,
score three things:

* **speaker attribution**: the share of played utterances whose live result carries the
  speaker label that the best one-to-one mapping of assigned labels to true speakers gives
  (a played utterance with no result counts as wrong);
* **live 4-class UA** with speaker turns (``--speakers``, default 2: the conversation's two
  voices, as a user who knows the line holds two would set it), beside the same
  conversation replayed without them (one session for the run, today's behaviour before
  issue 25) and **offline per-speaker sessions**: ``ser-live predict FILES --sessions S.csv``
  with the true speakers as sessions, run in process
  (:meth:`ser_live.offline.Predictor.process_files` with ``sessions=``); and, to tell what
  attribution costs from what the conversation's audio and the segmenter's cuts cost, the
  live results' own features re-scored with the true speakers as offline sessions
  (:func:`true_session_results`: perfect attribution on the same audio and cuts), and
  with the speakers the assigner ends the run with as sessions
  (:func:`revised_session_results`: its attribution, settled statistics); and each played
  utterance's span of the conversation's audio classified as ``predict`` classifies a file,
  the true speakers as sessions (:func:`played_spans_offline`: the conversation's audio
  without the segmenter's cuts);
* **one-speaker share**: a session of one speaker alone, replayed with ``--speakers auto``
  (the count not given: one voice must stay one); the share of its utterances given its most
  frequent speaker label (target >= 95 %).

How a conversation is built: for each held-out corpus (default EmoDB and es_uem) a ``loco``
fold model (``python -m train fit --exclude-corpus C --out DIR/C.skops``, fitted first with
``--fit``) has never heard its speakers. Each speaker gives 16 utterances of the four core
classes (as balanced over classes as the speaker's files allow, seeded); the two speakers
alternate in turns of 1 to 4 utterances (uniform, seeded; who starts is seeded too). Files
are trimmed to their speech span, each brought to a loud-frame level of -26 dBFS, joined
with 1 s pauses over white noise at -60 dBFS RMS under the whole conversation
(:func:`train.sessions.build_session`), written to a WAV and replayed through
:class:`~ser_live.pipeline.Recognizer` from a :class:`~ser_live.audio.FileSource` at speed 0
(as fast as it goes; the same code as ``ser-live --input F --speed 0``). Pairs are mixed-
or same-gender where the corpus gives genders (EmoDB); es_uem gives none ("unknown"), and
its ``Test1``/``Test2`` folders, which may repeat other speakers, are left out.

Live results are mapped to played utterances by time
(:func:`benchmarks.live_offline.match_results`); a played utterance's live label is the
argmax over the core classes of its results' probabilities weighted by overlap, and its
speaker is that of its longest-overlapping result. UA is over all played utterances of a
corpus and pair kind (balanced accuracy, %).

Attribution is reported at the moment (the ``speaker`` of each live result) and revised
(the assigner's re-clustered labels at the end of the run,
:attr:`ser_live.speakers.SpeakerAssigner.revised_`).

``python -m benchmarks.conversations attribution`` measures speaker attribution alone in
seconds: the same conversations and one-speaker sessions, cut by the live segmenter and
extracted, the assigner run over the utterances; no replay, no emotion model
(:func:`attribution_only`).

``python -m benchmarks.conversations embed`` fits the shipped speaker embedding
(``ser_live/data/speaker_embedding.json``, :mod:`ser_live.speakers`) on corpora that the
harness does not use (default RAVDESS, TESS, ASED, emotiontts_kor), their files joined and
cut as the live path sees them, and calibrates the assigner's split threshold on them.

No target is enforced; issue 25's acceptance is printed beside the figures: attribution
>= 90 % mixed-gender and >= 80 % same-gender, live UA within 3 points of the per-speaker
offline sessions, one-speaker share >= 95 %. The CI version is ``tests/test_speakers.py``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ser_live.labels import CORE_LABELS as _CORE_LABELS

NAME = "conversations"
#: The four core classes scored.
CORE = tuple(sorted(_CORE_LABELS))
#: Held-out corpora by default (EmoDB gives genders; es_uem is a codec channel).
DEFAULT_CORPORA = ("emodb", "es_uem")
#: Corpora the speaker embedding is fitted on (never a harness corpus).
EMBED_CORPORA = ("ravdess", "tess", "ased", "emotiontts_kor")
#: Level and floor of a conversation (dBFS) and the pause between utterances (s).
LEVEL_DBFS, FLOOR_DBFS, PAUSE_S = -26.0, -60.0, 1.0
#: Speakers left out: folders that may repeat other speakers (shared data README).
_SKIP_SPEAKERS = re.compile(r"Test\d")

log = logging.getLogger(__name__)


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ speakers
def corpus_speakers(corpus: str, *, n_utterances: int, seed: int = 0,
                    data_root: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Speakers of a corpus with at least ``n_utterances`` files of the core classes.

    Parameters
    ----------
    corpus : str
    n_utterances : int
        Files taken per speaker, round-robin over the core classes (seeded order in each).
    seed : int, default 0
    data_root : str or Path, optional

    Returns
    -------
    dict
        Speaker id -> ``{"gender": "f" | "m" | None, "items": [(path, label), ...]}``,
        the items shuffled (seeded).
    """
    from train.corpora import default_data_root, read_corpus

    root = Path(data_root) if data_root else default_data_root()
    recs = [r for r in read_corpus(corpus, root / corpus, check_audio=False).records if r.label in CORE]
    by: dict[str, list] = {}
    for r in sorted(recs, key=lambda r: r.path):
        if not _SKIP_SPEAKERS.search(r.speaker):
            by.setdefault(r.speaker, []).append(r)
    out = {}
    for i, (spk, rs) in enumerate(sorted(by.items())):
        if len(rs) < n_utterances:
            continue
        rng = np.random.default_rng([seed, i])
        per = {lab: [r for r in rs if r.label == lab] for lab in CORE}
        for lab in per:
            per[lab] = [per[lab][j] for j in rng.permutation(len(per[lab]))]
        items = []
        for k in itertools.count():
            for lab in CORE:
                if k < len(per[lab]) and len(items) < n_utterances:
                    items.append((per[lab][k].path, lab))
            if len(items) >= n_utterances:
                break
        items = [items[j] for j in rng.permutation(len(items))]
        out[spk] = {"gender": rs[0].gender, "items": items}
    return out


def pairs_of(speakers: dict[str, dict[str, Any]], *, n_pairs: int, seed: int = 0) -> dict[str, list[tuple[str, str]]]:
    """Up to ``n_pairs`` speaker pairs of each kind: ``"mixed"``, ``"same"`` gender, or
    ``"unknown"`` (a gender missing), chosen at random (seeded) among all pairs.

    Returns
    -------
    dict of str to list of (str, str)
    """
    kinds: dict[str, list[tuple[str, str]]] = {}
    for a, b in itertools.combinations(sorted(speakers), 2):
        ga, gb = speakers[a]["gender"], speakers[b]["gender"]
        kind = "unknown" if ga is None or gb is None else ("same" if ga == gb else "mixed")
        kinds.setdefault(kind, []).append((a, b))
    rng = np.random.default_rng(seed)
    return {k: [v[i] for i in sorted(rng.permutation(len(v))[:n_pairs])] for k, v in sorted(kinds.items())}


def interleave(a: Sequence[Any], b: Sequence[Any], *, seed: int = 0, max_turn: int = 4) -> list[tuple[int, Any]]:
    """Two speakers' utterances in turns of 1..``max_turn`` (uniform, seeded; who starts is
    seeded): ``[(0 or 1, item), ...]``, every item once, each speaker's order kept."""
    rng = np.random.default_rng(seed)
    queues = [list(a), list(b)]
    who = int(rng.integers(2))
    out: list[tuple[int, Any]] = []
    while queues[0] or queues[1]:
        if not queues[who]:
            who = 1 - who
        for _ in range(int(rng.integers(1, max_turn + 1))):
            if queues[who]:
                out.append((who, queues[who].pop(0)))
        who = 1 - who
    return out


def loud_dbfs(y: np.ndarray) -> float:
    """Loud-frame level (dBFS) of float32 audio in [-1, 1], shape (n,): the 90th percentile of
    its 30 ms frame RMS levels (:func:`ser_live.levels.loud_frame_level`, the level the
    conversation harness sets)."""
    from ser_live.levels import frame_rms, loud_frame_level, rms_dbfs

    return float(rms_dbfs(loud_frame_level(frame_rms(np.asarray(y, dtype=np.float64), frame_length=480))))


def build_conversation(paths: Sequence[str], *, seed: int = 0, level_dbfs: float = LEVEL_DBFS,
                       floor_dbfs: float = FLOOR_DBFS, pause_s: float = PAUSE_S,
                       speakers: Sequence[str] | None = None):
    """The audio of a conversation: trimmed files at ``level_dbfs`` (loud-frame level) with
    ``pause_s`` pauses over white noise at ``floor_dbfs`` RMS.

    Parameters
    ----------
    paths : sequence of str
        The files, in the order played.
    seed : int, default 0
        Of the floor's noise.
    level_dbfs, floor_dbfs : float
        dBFS.
    pause_s : float
        Seconds.
    speakers : sequence of str, optional
        Each file's speaker: each speaker's files are scaled by one gain, the one that puts
        the median of their loud-frame levels at ``level_dbfs`` (``--level speaker``: a voice
        at one distance from the microphone, louder when agitated, as the audio-cost bench's
        "speaker level"). None (the harness's default, ``--level utterance``): each file is
        levelled on its own.

    Returns
    -------
    train.sessions.Session
        int16 samples and the played spans (samples).
    """
    from train.sessions import build_session, corpus_utterances

    from .live_offline import floor_noise

    utts = list(corpus_utterances(list(paths)))
    each = level_dbfs
    if speakers is not None:
        loud = [loud_dbfs(u) for u in utts]
        gain = {w: level_dbfs - float(np.median([d for d, v in zip(loud, speakers) if v == w])) for w in set(speakers)}
        utts = [(u * 10.0 ** (gain[w] / 20.0)).astype(np.float32) for u, w in zip(utts, speakers)]
        each = None
    n = sum(len(u) for u in utts) + int((len(utts) + 3) * pause_s * 16000)
    return build_session(utts, pauses_s=(pause_s,), tail_s=1.5, utterance_dbfs=each,
                         noise=floor_noise("white", n, seed=seed), noise_dbfs=floor_dbfs)


def replay(samples: np.ndarray, model: Any, *, speakers: int | str | None, workdir: Path,
           revised: list | None = None) -> list[Any]:
    """Replay int16 samples through :class:`~ser_live.pipeline.Recognizer` (FileSource, speed
    0); the final results in order. With a list as ``revised`` (and speaker turns), it is
    extended with the assigner's revised speaker of every attributed utterance, in order
    (:attr:`ser_live.speakers.SpeakerAssigner.revised_`)."""
    from ser_live.audio import FileSource
    from ser_live.audiofile import write_wav
    from ser_live.pipeline import Recognizer

    wav = write_wav(workdir / "conversation.wav", samples)
    rec = Recognizer(FileSource(wav, speed=0), model, speakers=speakers)
    with rec:
        results = [r for r in rec if r.final]
    if rec.error is not None:
        raise rec.error
    if revised is not None and rec.speaker_sessions is not None:
        revised.extend(rec.speaker_sessions.assigner.revised_)
    return results


def revised_results(results: Sequence[Any]) -> list[Any]:
    """The results with each prediction as the last session revision that re-scored it left
    it (:mod:`ser_live.revision`; with speaker turns, each speaker's revisions); results never
    revised are as shown. Same order, copies."""
    from dataclasses import replace

    preds = {r.utterance.index: r.prediction for r in results}
    for r in results:
        if r.revision is not None:
            preds.update(r.revision.predictions)
    return [replace(r, prediction=preds[r.utterance.index]) for r in results]


def attribution_hits(true: Sequence[Any], assigned: Sequence[Any]) -> np.ndarray:
    """Which items' assigned label maps to their true speaker under the best one-to-one
    mapping of assigned labels to true speakers (None assigned is wrong; of equally good
    mappings, the first in the order of :func:`itertools.permutations` over the sorted labels).

    Parameters
    ----------
    true, assigned : sequence
        True speaker and assigned label per item.

    Returns
    -------
    np.ndarray, bool, shape (n_items,)
    """
    ts = sorted(set(true), key=str)
    ps = sorted({p for p in assigned if p is not None}, key=str)
    best = np.zeros(len(true), dtype=bool)
    for perm in itertools.permutations(ps + [None] * len(ts), len(ts)):
        hit = np.array([p is not None and perm[ts.index(t)] == p for t, p in zip(true, assigned)], dtype=bool)
        if hit.sum() > best.sum():
            best = hit
    return best


def attribution_accuracy(true: Sequence[Any], assigned: Sequence[Any]) -> float:
    """Share (%) of items whose assigned label maps to their true speaker under the best
    one-to-one mapping of assigned labels to true speakers: the share of
    :func:`attribution_hits` (same parameters), in percent; NaN for no items."""
    if not len(true):
        return float("nan")
    return 100.0 * float(attribution_hits(true, assigned).mean())


def by_quarter_pct(hits: Sequence[np.ndarray]) -> list[float]:
    """Attribution (%) in each quarter of the conversations, in the order played: each
    conversation's items split into four runs as equal as :func:`numpy.array_split` makes
    them, each quarter's hits pooled over the conversations.

    Parameters
    ----------
    hits : sequence of np.ndarray, bool, shape (n_items,)
        Per conversation, :func:`attribution_hits`.

    Returns
    -------
    list of float
        Four percentages, first quarter first; NaN for a quarter with no items (every
        conversation shorter than 4 items).
    """
    parts = [np.array_split(np.asarray(h, dtype=bool), 4) for h in hits]
    pooled = [np.concatenate([p[q] for p in parts]) if parts else np.zeros(0, dtype=bool) for q in range(4)]
    return [100.0 * float(q.mean()) if q.size else float("nan") for q in pooled]


def _assigned(spans_s: Sequence[tuple[float, float]], results: Sequence[Any]) -> list[list[tuple[int, float]]]:
    """Per played utterance, the live results mapped to it by time: ``(result index, overlap
    s)`` (:func:`benchmarks.live_offline.match_results` on the results' spans)."""
    from .live_offline import match_results

    recs = [{"start_s": r.utterance.start_s, "end_s": r.utterance.end_s} for r in results]
    return match_results(spans_s, recs)["assigned"]


def _played(spans_s: Sequence[tuple[float, float]], results: Sequence[Any],
            speakers: Sequence[str] | None = None) -> list[tuple[str | None, str | None, str | None]]:
    """Per played utterance: (live core label, speaker, live arousal class) from the results
    mapped to it (``speakers``: one label per result instead of the results' own). The arousal
    class is ``"high"``/``"low"`` by the sign of the overlap-weighted mean of the results'
    :attr:`~ser_live.types.Prediction.arousal` (None without results or arousal)."""
    out = []
    for hits in _assigned(spans_s, results):
        if not hits:
            out.append((None, None, None))
            continue
        p = {c: sum(ov * results[i].prediction.probabilities.get(c, 0.0) for i, ov in hits) for c in CORE}
        i = max(hits, key=lambda h: h[1])[0]
        aro = [(ov, results[j].prediction.arousal) for j, ov in hits]
        aro_class = (None if any(a is None for _, a in aro)
                     else arousal_class(sum(ov * a for ov, a in aro) / max(sum(ov for ov, _ in aro), 1e-12)))
        out.append((max(CORE, key=p.get), results[i].speaker if speakers is None else speakers[i], aro_class))
    return out


def true_arousal(label: str) -> str:
    """``"high"`` or ``"low"``: the arousal class of a core label (:data:`ser_live.affect.AROUSAL`).

    Raises
    ------
    KeyError
        A label without a high or low arousal position.
    """
    from ser_live.affect import AROUSAL

    return {1: "high", -1: "low"}[AROUSAL[label]]


def one_aroused(a: Sequence[tuple[str, str]], b: Sequence[tuple[str, str]]) -> tuple[list, list]:
    """A call with an agitated caller and a calm agent: the high-arousal items of ``a`` (angry,
    happy) and the low-arousal items of ``b`` (neutral, sad), each in its order.

    Taking the arousal out of the embeddings takes these two voices with it, since here the
    arousal follows the voices (docs/speakers.md, "How much of it is arousal"); the
    attribution harness's ``--one-aroused`` conversations check that a clustering keeps them
    apart.

    Parameters
    ----------
    a, b : sequence of (str, str)
        ``(path, core label)`` items of the two speakers.

    Returns
    -------
    (list, list)
        ``a``'s high-arousal items, ``b``'s low-arousal items.
    """
    return ([it for it in a if true_arousal(it[1]) == "high"],
            [it for it in b if true_arousal(it[1]) == "low"])


def arousal_class(value: float | None) -> str | None:
    """``"high"`` for arousal > 0, ``"low"`` otherwise (None stays None): the two-class
    decision scored as arousal UA, as in the evaluation reports (:mod:`train.roc`)."""
    return None if value is None else ("high" if value > 0 else "low")


def ua_pct(y_true: Sequence[str], y_pred: Sequence[str | None]) -> float:
    """Balanced accuracy (%) over the true classes present; None is wrong."""
    from .live_offline import balanced_accuracy_pct

    return balanced_accuracy_pct(y_true, y_pred)


# ------------------------------------------------------------------------------ harness
@dataclass
class Settings:
    """What the harness runs.

    Attributes
    ----------
    corpora : tuple of str
    models_dir : str
        Where ``<corpus>.skops`` fold models are (fitted there with ``fit``).
    n_utterances : int
        Per speaker, per conversation.
    n_pairs : int
        Pairs per kind per corpus.
    speakers : int or "auto"
        ``--speakers`` of the live conversations (one-speaker sessions always run ``auto``).
    seed : int
    fit : bool
        Fit missing fold models first.
    one_speaker : int
        One-speaker sessions per corpus (the first speakers of the pairs).
    model : str or None
        One model for every corpus instead of fold models (e.g. the shipped one, whose
        training corpora include the harness's: then UA is not a held-out score).
    level : {"utterance", "speaker"}
        How the conversation's files are levelled to :data:`LEVEL_DBFS`: each on its own
        (the default), or one gain per speaker (:func:`build_conversation`).
    """

    corpora: tuple[str, ...] = DEFAULT_CORPORA
    models_dir: str = str(Path(__file__).resolve().parents[1] / "bench-results" / "conversations-models")
    n_utterances: int = 16
    n_pairs: int = 4
    speakers: int | str = 2
    seed: int = 0
    fit: bool = False
    one_speaker: int = 6
    model: str | None = None
    level: str = "utterance"


def fold_model_path(corpus: str, settings: Settings) -> Path:
    """The corpus's fold model (``models_dir/<corpus>.skops``), fitted when asked."""
    import subprocess

    if settings.model:
        return Path(settings.model)
    path = Path(settings.models_dir) / f"{corpus}.skops"
    if not path.exists():
        if not settings.fit:
            raise FileNotFoundError(f"{path} missing: fit it with `python -m train fit --exclude-corpus {corpus} "
                                    f"--out {path}` or pass --fit")
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "train", "fit", "--exclude-corpus", corpus, "--out", str(path)],
                       check=True)
    return path


def run_pair(model: Any, spk: dict[str, dict[str, Any]], a: str, b: str, *, settings: Settings, seed: int,
             workdir: Path) -> dict[str, Any]:
    """One conversation of speakers ``a`` and ``b``: live with and without speaker turns,
    offline per-speaker sessions."""
    from ser_live.offline import Predictor

    order = interleave(spk[a]["items"], spk[b]["items"], seed=seed)
    who = [(a, b)[w] for w, _ in order]
    paths = [it[0] for _, it in order]
    labels = [it[1] for _, it in order]
    sess = build_conversation(paths, seed=seed, speakers=who if settings.level == "speaker" else None)
    spans_s = [(s / 16000, e / 16000) for s, e in sess.spans]
    t0 = time.perf_counter()
    rev: list[str] = []
    live = replay(sess.samples, model, speakers=settings.speakers, workdir=workdir, revised=rev)
    turns = _played(spans_s, live)
    t_turns = time.perf_counter() - t0
    revised = [t[1] for t in _played(spans_s, live, rev)] if len(rev) == len(live) else [None] * len(who)
    turns_rev = _played(spans_s, revised_results(live))
    cut_sessions = _played(spans_s, true_session_results(model, spans_s, live, who))
    rescored = revised_session_results(model, live, rev)  # [] when rev is not one label per result
    cut_revised = _played(spans_s, rescored) if rescored else []
    one_live = replay(sess.samples, model, speakers=None, workdir=workdir)
    one, one_rev = _played(spans_s, one_live), _played(spans_s, revised_results(one_live))
    offline = dict(Predictor(model).process_files(paths, sessions={p: w for p, w in zip(paths, who)}))
    off = [max(CORE, key=offline[p].probabilities.get) for p in paths]
    spans_off = played_spans_offline(model, sess, who, workdir=workdir)
    return {
        "pair": [a, b], "true": labels, "speaker": who,
        "true_arousal": [true_arousal(lab) for lab in labels],
        "live_turns_arousal": [t[2] for t in turns], "live_one_session_arousal": [t[2] for t in one],
        "offline_arousal": [arousal_class(offline[p].arousal) for p in paths],
        "live_turns": [t[0] for t in turns], "assigned": [t[1] for t in turns],
        "live_one_session": [t[0] for t in one], "offline": off,
        "live_turns_revised": [t[0] for t in turns_rev], "live_one_session_revised": [t[0] for t in one_rev],
        "live_cuts_true_sessions": [t[0] for t in cut_sessions],
        "played_spans_true_sessions": spans_off,
        # absent when nothing was re-scored (revised labels not one per result)
        **({"live_cuts_revised_sessions": [t[0] for t in cut_revised]} if cut_revised else {}),
        "attribution_pct": attribution_accuracy(who, [t[1] for t in turns]),
        "revised": revised, "attribution_revised_pct": attribution_accuracy(who, revised),
        "n_speakers_opened": len({t[1] for t in turns if t[1] is not None}),
        "replay_s": t_turns,
    }


def played_spans_offline(model: Any, sess: Any, who: Sequence[str], *, workdir: Path) -> list[str | None]:
    """Each played utterance's span of the conversation's audio (the file trimmed, levelled,
    over the noise floor: exactly what was played, without the segmenter's cut) classified as
    ``ser-live predict`` classifies a file (:meth:`ser_live.offline.Predictor.process_files`),
    the true speakers as sessions. Against the offline sessions of the original files it
    measures what the conversation's audio costs; against the live cuts with the true speakers
    as sessions (:func:`true_session_results`), what the segmenter's cuts cost.

    Parameters
    ----------
    model : EmotionModel
    sess : train.sessions.Session
        The conversation (:func:`build_conversation`): int16 ``samples``, played ``spans``.
    who : sequence of str
        True speaker of each played utterance.
    workdir : Path
        Where the spans are written as WAVs (overwritten by the next conversation).

    Returns
    -------
    list of str or None
        The predicted core label of each played utterance, in order; None for a span
        ``predict`` refuses (e.g. no speech found in it: it counts as wrong, as a played
        utterance with no live result does).
    """
    from ser_live.audiofile import write_wav
    from ser_live.offline import Predictor

    paths = [str(write_wav(workdir / "spans" / f"{j:03d}.wav", sess.samples[a:b]))
             for j, (a, b) in enumerate(sess.spans)]
    got = dict(Predictor(model).process_files(paths, sessions={p: w for p, w in zip(paths, who)}, errors="return"))
    return [None if isinstance(got[p], Exception) else max(CORE, key=got[p].probabilities.get) for p in paths]


def sessions_rescored(model: Any, results: Sequence[Any], groups: Sequence[Any]) -> list[Any]:
    """The live results re-scored with the given grouping as settled offline sessions: each
    result's feature row (as the live worker extracted it from the segmenter's cut) normalised
    with all the rows of its group, routed as it was live
    (:attr:`~ser_live.types.Result.route_db`). What :func:`true_session_results` and
    :func:`revised_session_results` share.

    Parameters
    ----------
    model : EmotionModel
    results : sequence of Result
        Final live results, each with its ``features`` (float, shape (n_features,)).
    groups : sequence
        One session name per result.

    Returns
    -------
    list of Result
        Copies with the re-scored predictions (empty when there are no results or a result
        has no features).

    Raises
    ------
    ValueError
        ``groups`` not one per result.
    """
    from dataclasses import replace

    if not results or any(r.features is None for r in results):
        return []
    if len(groups) != len(results):
        raise ValueError(f"{len(groups)} groups for {len(results)} results")
    X = np.stack([np.asarray(r.features, dtype=np.float32) for r in results])
    route_db = np.array([np.nan if r.route_db is None else float(r.route_db) for r in results])
    P = model.predict_proba(X, groups=np.asarray([str(g) for g in groups]), route_db=route_db)
    flags = model.noise_branch_flags(X, route_db)
    return [replace(r, prediction=model.prediction_from_proba(P[k], noise_branch=flags[k]))
            for k, r in enumerate(results)]


def true_session_results(model: Any, spans_s: Sequence[tuple[float, float]], results: Sequence[Any],
                         who: Sequence[str]) -> list[Any]:
    """The live results re-scored with the true speakers as offline sessions
    (:func:`sessions_rescored`), each result's true speaker being that of the played
    utterance it overlaps most (:func:`benchmarks.live_offline.match_results`). What live
    would score with perfect speaker attribution and settled session statistics, on the same
    audio and cuts: the harness's ceiling for speaker turns, beside the offline sessions of
    the clean files.

    Parameters
    ----------
    model : EmotionModel
    spans_s : sequence of (float, float)
        Played utterances' (start, end), seconds.
    results : sequence of Result
        Final live results, each with its ``features`` (float, shape (n_features,)).
    who : sequence of str
        True speaker of each played utterance.

    Returns
    -------
    list of Result
        Copies with the re-scored predictions (empty when a result has no features).
    """
    # each result's played utterance as _played maps it; a result overlapping none (never
    # scored) is a session of its own, so it moves no speaker's statistics
    speakers = [f"unplayed-{k}" for k in range(len(results))]
    for j, hits in enumerate(_assigned(spans_s, results)):
        for k, _ in hits:
            speakers[k] = who[j]
    return sessions_rescored(model, results, speakers)


def revised_session_results(model: Any, results: Sequence[Any], revised: Sequence[str | None]) -> list[Any]:
    """The live results re-scored with the assigner's *revised* speakers as settled offline
    sessions (:func:`sessions_rescored`): the attribution the run ends with, but every
    speaker's statistics over all of its utterances, none running. Against
    :func:`true_session_results` (the same with the true speakers) it isolates what the
    attribution's errors cost; against the live results as revised (:func:`revised_results`),
    what the online statistics and the labels at the moment cost.

    Parameters
    ----------
    model : EmotionModel
    results : sequence of Result
        Final live results with their ``features``, in order.
    revised : sequence of str or None
        Each result's revised speaker (:attr:`ser_live.speakers.SpeakerAssigner.revised_`,
        one per result); None (not attributed) is a session of its own.

    Returns
    -------
    list of Result
        Copies with the re-scored predictions; empty when ``revised`` is not one per result
        or a result has no features.
    """
    if len(revised) != len(results):
        return []
    return sessions_rescored(model, results, [f"unattributed-{k}" if s is None else f"speaker-{s}"
                                              for k, s in enumerate(revised)])


def run_one_speaker(model: Any, items: Sequence[tuple[str, str]], *, settings: Settings, seed: int,
                    workdir: Path) -> dict[str, Any]:
    """A session of one speaker alone with speaker turns (``--speakers auto``): the majority
    label's share, at the moment and revised."""
    paths = [p for p, _ in items]
    sess = build_conversation(paths, seed=seed, speakers=["a"] * len(paths) if settings.level == "speaker" else None)
    spans_s = [(s / 16000, e / 16000) for s, e in sess.spans]
    rev: list[str] = []
    live = replay(sess.samples, model, speakers="auto", workdir=workdir, revised=rev)
    got = [t[1] for t in _played(spans_s, live)]
    revised = [t[1] for t in _played(spans_s, live, rev)] if len(rev) == len(live) else [None] * len(got)
    return {"share_pct": majority_share_pct(got), "labels": got, "revised_share_pct": majority_share_pct(revised)}


def majority_share_pct(labels: Sequence[str | None]) -> float:
    """Share (%) of items given the most frequent label (None counts as another label)."""
    counts = {k: list(labels).count(k) for k in set(labels) if k is not None}
    return 100.0 * max(counts.values()) / len(labels) if counts else 0.0


def run_harness(settings: Settings, *, data_root: str | Path | None = None) -> dict[str, Any]:
    """Every corpus, pair kind and one-speaker session; see the module docstring.

    Returns
    -------
    dict
        ``settings``, ``corpora`` (per corpus: ``model``, ``pairs`` by kind (per pair the
        per-utterance records), ``one_speaker``) and ``summary`` rows.
    """
    from ser_live.model import EmotionModel

    out: dict[str, Any] = {"settings": settings.__dict__, "corpora": {}}
    with tempfile.TemporaryDirectory(prefix="ser-conv-") as tmp:
        workdir = Path(tmp)
        for corpus in settings.corpora:
            path = fold_model_path(corpus, settings)
            model = EmotionModel.load(path)
            spk = corpus_speakers(corpus, n_utterances=settings.n_utterances, seed=settings.seed, data_root=data_root)
            kinds = pairs_of(spk, n_pairs=settings.n_pairs, seed=settings.seed)
            res: dict[str, Any] = {"model": str(path), "pairs": {}, "one_speaker": []}
            for kind, pairs in kinds.items():
                for i, (a, b) in enumerate(pairs):
                    progress(f"{corpus} {kind} {a}+{b}")
                    res["pairs"].setdefault(kind, []).append(
                        run_pair(model, spk, a, b, settings=settings, seed=settings.seed * 1000 + i, workdir=workdir))
            for i, s in enumerate(sorted(spk)[: settings.one_speaker]):
                progress(f"{corpus} one speaker {s}")
                res["one_speaker"].append({"speaker": s, **run_one_speaker(
                    model, spk[s]["items"], settings=settings, seed=settings.seed * 1000 + 500 + i, workdir=workdir)})
            out["corpora"][corpus] = res
    out["table"] = table_rows(out)
    return out


def table_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per corpus and pair kind: attribution, speakers opened, UA live with turns,
    live one session, offline per-speaker sessions; one-speaker share per corpus."""
    rows = []
    for corpus, c in res["corpora"].items():
        shares = [o["share_pct"] for o in c["one_speaker"]]
        for kind, pairs in c["pairs"].items():
            cat = lambda k: [x for p in pairs for x in p[k]]  # noqa: E731
            rows.append({
                "corpus": corpus, "kind": kind, "pairs": len(pairs),
                "attribution_pct": float(np.mean([p["attribution_pct"] for p in pairs])),
                "min_attribution_pct": float(np.min([p["attribution_pct"] for p in pairs])),
                "attribution_revised_pct": float(np.mean([p.get("attribution_revised_pct", np.nan) for p in pairs])),
                "speakers_opened": float(np.mean([p["n_speakers_opened"] for p in pairs])),
                "ua_live_turns": ua_pct(cat("true"), cat("live_turns")),
                "ua_live_one_session": ua_pct(cat("true"), cat("live_one_session")),
                "ua_live_turns_revised": ua_pct(cat("true"), cat("live_turns_revised")),
                "ua_live_one_session_revised": ua_pct(cat("true"), cat("live_one_session_revised")),
                "ua_offline_sessions": ua_pct(cat("true"), cat("offline")),
                "ua_live_cuts_true_sessions": (ua_pct(cat("true"), cat("live_cuts_true_sessions"))
                                               if all("live_cuts_true_sessions" in p for p in pairs) else float("nan")),
                "ua_live_cuts_revised_sessions": (ua_pct(cat("true"), cat("live_cuts_revised_sessions"))
                                                  if all("live_cuts_revised_sessions" in p for p in pairs)
                                                  else float("nan")),
                "ua_played_spans_true_sessions": (ua_pct(cat("true"), cat("played_spans_true_sessions"))
                                                  if all("played_spans_true_sessions" in p for p in pairs)
                                                  else float("nan")),
                "arousal_ua_live_turns": ua_pct(cat("true_arousal"), cat("live_turns_arousal")),
                "arousal_ua_live_one_session": ua_pct(cat("true_arousal"), cat("live_one_session_arousal")),
                "arousal_ua_offline_sessions": ua_pct(cat("true_arousal"), cat("offline_arousal")),
                "one_speaker_share_pct": float(np.mean(shares)) if shares else float("nan"),
                "one_speaker_min_pct": float(np.min(shares)) if shares else float("nan"),
            })
    return rows


def markdown(res: dict[str, Any]) -> list[str]:
    """The summary as a Markdown table, with issue 25's acceptance."""
    head = ("| corpus | pairs | attribution % (min) | revised % | speakers opened | UA live, turns (revised) "
            "| UA live, one session (revised) | UA live cuts, revised speakers as sessions "
            "| UA live cuts, true speakers as sessions | UA played spans, true speakers as sessions "
            "| UA offline, per-speaker sessions "
            "| arousal UA live, turns / one session / offline | one-speaker share % (min), --speakers auto |")
    lines = [head, "|" + "---|" * 13]
    for r in res["table"]:
        aro = " / ".join(f"{r.get(k, float('nan')):.1f}" for k in
                         ("arousal_ua_live_turns", "arousal_ua_live_one_session", "arousal_ua_offline_sessions"))
        lines.append(
            f"| {r['corpus']} | {r['kind']} x{r['pairs']} | {r['attribution_pct']:.1f} ({r['min_attribution_pct']:.1f}) "
            f"| {r['attribution_revised_pct']:.1f} | {r['speakers_opened']:.2f} "
            f"| {r['ua_live_turns']:.1f} ({r.get('ua_live_turns_revised', float('nan')):.1f}) "
            f"| {r['ua_live_one_session']:.1f} ({r.get('ua_live_one_session_revised', float('nan')):.1f}) "
            f"| {r.get('ua_live_cuts_revised_sessions', float('nan')):.1f} "
            f"| {r.get('ua_live_cuts_true_sessions', float('nan')):.1f} "
            f"| {r.get('ua_played_spans_true_sessions', float('nan')):.1f} "
            f"| {r['ua_offline_sessions']:.1f} | {aro} | {r['one_speaker_share_pct']:.1f} ({r['one_speaker_min_pct']:.1f}) |")
    lines.append("")
    lines.append("Acceptance (issue 25): attribution >= 90 % mixed-gender, >= 80 % same-gender; live UA with turns "
                 "within 3 points of offline per-speaker sessions; one-speaker share >= 95 %.")
    lines.append("'UA live cuts, true speakers as sessions': the live results' features re-scored with each true "
                 "speaker's rows as one offline session (perfect attribution, settled statistics, the same audio "
                 "and cuts as live).")
    lines.append("'UA played spans, true speakers as sessions': each played utterance's span of the conversation's "
                 "audio (trimmed, levelled, over the floor, without the segmenter's cut) classified as predict "
                 "classifies a file, the true speakers as sessions: against the offline files, what the "
                 "conversation's audio costs; against the live cuts, what the segmenter's cuts cost.")
    lines.append("'UA live cuts, revised speakers as sessions': the same with the speakers the assigner ends the run "
                 "with (its attribution, settled statistics): against the true speakers, what attribution errors "
                 "cost; against 'turns (revised)', what the running statistics cost.")
    return lines


def summary_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Headline rows for ``python -m benchmarks``: attribution per pair kind, live with turns
    minus offline UA, one-speaker share, against issue 25's acceptance."""
    rows = []
    target = {"mixed": 90.0, "same": 80.0}
    for r in res["table"]:
        t = target.get(r["kind"], 80.0)
        rows.append({"metric": f"{r['corpus']} {r['kind']} pairs: speaker attribution", "value": r["attribution_pct"],
                     "unit": "%", "target": f">= {t:g}", "met": bool(r["attribution_pct"] >= t)})
        gap = r["ua_live_turns"] - r["ua_offline_sessions"]
        rows.append({"metric": f"{r['corpus']} {r['kind']} pairs: live UA with turns - offline per-speaker UA",
                     "value": gap, "unit": "points", "target": ">= -3", "met": bool(gap >= -3.0)})
        gap_rev = r.get("ua_live_turns_revised", float("nan")) - r["ua_offline_sessions"]
        rows.append({"metric": f"{r['corpus']} {r['kind']} pairs: the same, live revised (per-speaker session revision)",
                     "value": gap_rev, "unit": "points", "target": ">= -3", "met": bool(gap_rev >= -3.0)})
    for corpus, c in res["corpora"].items():
        shares = [o["share_pct"] for o in c["one_speaker"]]
        if shares:
            rows.append({"metric": f"{corpus} one speaker: share of its majority label", "value": float(np.mean(shares)),
                         "unit": "%", "target": ">= 95", "met": bool(np.mean(shares) >= 95.0)})
    return rows


def run(ctx: Any) -> dict[str, Any]:
    """The section as ``python -m benchmarks --only conversations`` runs it (``--quick``: one
    pair per kind, two one-speaker sessions); fold models are fitted when missing. Takes the
    :class:`benchmarks.common.BenchContext` and returns :func:`run_harness`'s result dict."""
    from .common import is_quick

    s = Settings(fit=True, **(dict(n_pairs=1, one_speaker=2) if is_quick(ctx) else {}))
    return run_harness(s, data_root=ctx.corpora.root)


# ------------------------------------------------------------------------------ embedding
#: Speaker columns of the embedding: per-utterance means over voiced frames of MFCC 1-19
#: (not c0, the level) and spectral shape and voice quality, F0 percentiles (semitones),
#: median HNR, jitter and shimmer. Level-free (no rms, loudness, mel or band energies) and
#: computed where the voice is (voiced frames), not where pauses and noise are.
_EMBED_COLUMNS = (
    r"mfcc([1-9]|1[0-9])_voiced_mean", r"f0_st_p(10|25|50|75|90)",
    r"(centroid|bandwidth|rolloff\d+|slope|flatness|entropy|contrast\S+)_voiced_mean",
    r"(alpha_ratio_db|hammarberg_db|slope0_500_db_per_khz|slope500_1500_db_per_khz|h1_h2_db)_voiced_mean",
    r"hnr_db_p50", r"jitter_rel_mean", r"shimmer_db_mean",
)
#: Utterances per one-speaker session of the threshold's calibration (as the harness's).
_CALIBRATION_UTTERANCES = 16


def embedding_candidates(feature_names: Sequence[str], common: Sequence[str] | None = None) -> list[str]:
    """Columns of the speaker embedding (:data:`_EMBED_COLUMNS`) among ``feature_names``,
    present in ``common`` too, in ``feature_names`` order."""
    keep = set(common) if common is not None else None
    pats = [re.compile(p) for p in _EMBED_COLUMNS]
    return [n for n in feature_names if any(p.fullmatch(n) for p in pats) and (keep is None or n in keep)]


def fit_embedding(X: np.ndarray, speakers: np.ndarray, *, n_dims: int = 8, shrinkage: float = 0.1):
    """LDA of speaker identity (see :mod:`ser_live.speakers`).

    Parameters
    ----------
    X : np.ndarray, float, shape (n_utterances, n_columns)
        Raw feature columns, finite.
    speakers : np.ndarray, shape (n_utterances,)
    n_dims : int, default 8
    shrinkage : float, default 0.1
        Weight of the scaled identity in the within-speaker covariance.

    Returns
    -------
    (center, scale, projection)
        Shapes (n_columns,), (n_columns,), (n_columns, n_dims). Each LDA direction ``j``
        (within-speaker variance 1 on the fitting data, between-speaker variance
        ``lambda_j``) is scaled by ``sqrt(lambda_j / (1 + lambda_j))``, so that directions
        that tell speakers apart weigh more than those that barely do.
    """
    import scipy.linalg

    center = X.mean(0)
    scale = X.std(0) + 1e-9
    Z = (X - center) / scale
    spk = np.unique(speakers)
    means = np.array([Z[speakers == s].mean(0) for s in spk])
    R = np.vstack([Z[speakers == s] - Z[speakers == s].mean(0) for s in spk])
    Sw = R.T @ R / len(R)
    Sw = (1 - shrinkage) * Sw + shrinkage * np.eye(len(Sw)) * np.trace(Sw) / len(Sw)
    Sb = np.cov(means.T)
    lam, V = scipy.linalg.eigh(Sb, Sw)
    lam, V = np.clip(lam[::-1][:n_dims], 0, None), V[:, ::-1][:, :n_dims]
    return center, scale, V * np.sqrt(lam / (1 + lam))


def live_utterance_cuts(paths: Sequence[str], *, seed: int = 0) -> list[Any]:
    """Files as the live path hears them in a conversation: the files joined as the harness
    joins them (:func:`build_conversation`: levelled, pauses over a noise floor), cut by the
    live segmenter; per file its longest-overlapping utterance.

    Returns
    -------
    list of ser_live.vad.Utterance or None
        One per path, in order (its int16 16 kHz ``samples``); None where no utterance
        overlaps the file.
    """
    from ser_live.vad import VadConfig, segment_signal

    sess = build_conversation(list(paths), seed=seed)
    utts = segment_signal(sess.samples, config=VadConfig(), sample_rate_hz=16000)
    out = []
    for a, b in sess.spans:
        ov = [min(b / 16000, u.end_s) - max(a / 16000, u.start_s) for u in utts]
        out.append(utts[int(np.argmax(ov))] if ov and max(ov) > 0 else None)
    return out


def live_utterance_features(model: Any, paths: Sequence[str], *, seed: int = 0) -> np.ndarray:
    """Features of files as the live path sees them in a conversation (:func:`live_utterance_cuts`),
    each cut extracted with the model's extractor.

    Returns
    -------
    np.ndarray, float64, shape (len(paths), n_features)
        NaN rows where no utterance overlaps a file or the extractor refused it.
    """
    out = np.full((len(paths), model.extractor.n_features), np.nan)
    for i, u in enumerate(live_utterance_cuts(paths, seed=seed)):
        if u is not None:
            try:
                out[i] = model.extractor.extract(u.samples)
            except ValueError:
                pass
    return out


def fitting_sessions(corpus: str) -> Iterator[tuple[str, list[Any], int]]:
    """A fitting corpus's files of the core classes as one-speaker sessions of
    :data:`_CALIBRATION_UTTERANCES` files (each speaker's files in path order), with the seed
    each session's conversation is built with (:func:`live_utterance_cuts`).

    Yields
    ------
    (speaker, records, seed)
        ``records``: :class:`train.corpora` records (``path``, ``label``), at most
        :data:`_CALIBRATION_UTTERANCES`.
    """
    from train.corpora import read_corpus

    recs = [r for r in read_corpus(corpus, check_audio=False).records if r.label in CORE]
    by: dict[str, list[Any]] = {}
    for r in sorted(recs, key=lambda r: r.path):
        by.setdefault(r.speaker, []).append(r)
    for si, (s, rs) in enumerate(sorted(by.items())):
        for c0 in range(0, len(rs), _CALIBRATION_UTTERANCES):
            yield s, rs[c0:c0 + _CALIBRATION_UTTERANCES], si * 100 + c0
        progress(f"{corpus} {s}")


def _corpus_live_rows(model: Any, corpus: str, idx: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """A fitting corpus's sessions (:func:`fitting_sessions`) through
    :func:`live_utterance_features`: the embedding's columns and the speakers."""
    rows, spk = [], []
    for s, chunk, seed in fitting_sessions(corpus):
        rows.append(live_utterance_features(model, [r.path for r in chunk], seed=seed)[:, idx])
        spk += [s] * len(chunk)
    return np.vstack(rows), np.array(spk)


#: One-speaker share (%) the calibrated split threshold keeps on the fitting corpora (issue
#: 25 asks >= 95 on held-out speakers; the margin is for voices less like the fitting ones).
_CALIBRATION_SHARE = 97.0


def calibrate_threshold(per_corpus: dict[str, tuple[np.ndarray, np.ndarray]], columns: Sequence[str], *,
                        n_dims: int, shrinkage: float, target_share: float = _CALIBRATION_SHARE,
                        grid: Sequence[float] = tuple(range(6, 41, 2)), repeats: int = 3,
                        seed: int = 0) -> dict[str, Any]:
    """The split threshold of :class:`ser_live.speakers.SpeakerAssigner`, calibrated on the
    fitting corpora only: each corpus embedded by an embedding fitted on the others; for
    each of its speakers, ``repeats`` one-speaker sessions of
    :data:`_CALIBRATION_UTTERANCES` random utterances attributed online (``--speakers
    auto``); the smallest threshold of ``grid`` whose mean share of the sessions' majority
    label is at least ``target_share`` (a lower threshold opens a second voice sooner).

    Parameters
    ----------
    per_corpus : dict of str to (np.ndarray, np.ndarray)
        Per corpus the ``columns`` of its utterances, shape (n, len(columns)), and their speakers.

    Returns
    -------
    dict
        ``threshold``, ``target_share``, ``sessions`` and the share at every threshold tried.
    """
    from ser_live.speakers import AUTO_MAX_SPEAKERS, SpeakerAssigner, SpeakerEmbedding

    rng = np.random.default_rng(seed)
    sessions: list[tuple[Any, np.ndarray]] = []
    for held, (Xh, sh) in per_corpus.items():
        others = [c for c in per_corpus if c != held]
        center, scale, proj = fit_embedding(np.vstack([per_corpus[c][0] for c in others]),
                                            np.concatenate([per_corpus[c][1] for c in others]),
                                            n_dims=n_dims, shrinkage=shrinkage)
        emb = SpeakerEmbedding(tuple(columns), center, scale, proj, {})
        for s in np.unique(sh):
            idx = np.flatnonzero(sh == s)
            if len(idx) >= _CALIBRATION_UTTERANCES:
                sessions += [(emb, Xh[rng.permutation(idx)[:_CALIBRATION_UTTERANCES]]) for _ in range(repeats)]
    shares = {}
    for t in grid:
        got = []
        for emb, X in sessions:
            a = SpeakerAssigner(list(columns), max_speakers=AUTO_MAX_SPEAKERS, threshold=float(t), embedding=emb)
            got.append(majority_share_pct([a.assign(x) for x in X]))
        shares[float(t)] = round(float(np.mean(got)), 2)
    ok = [t for t in grid if shares[float(t)] >= target_share]
    return {"threshold": float(min(ok) if ok else max(grid)), "target_share": target_share, "sessions": len(sessions),
            "share_by_threshold": shares}


def embed_main(args: argparse.Namespace) -> int:
    """``embed``: fit the speaker embedding on ``--corpora`` (their utterances as the live
    path cuts them from a conversation) and calibrate the split threshold; write both."""
    from ser_live.model import EmotionModel
    from ser_live.speakers import EMBEDDING_PATH, SpeakerEmbedding

    model = EmotionModel.load(args.model)
    if args.supervector:
        return _embed_supervector(model, args)
    names = model.extractor.feature_names()
    def computed(m: Any) -> set[str]:
        every = m.extractor.feature_names()
        return set(every) if m.extractor.columns is None else {every[i] for i in m.extractor.columns}

    common = computed(model) if args.computed_only else set(names)
    for other in args.also_models:
        other_model = EmotionModel.load(other)
        common &= computed(other_model) if args.computed_only else set(other_model.extractor.feature_names())
    cols = [c for c in embedding_candidates(names, sorted(common)) if not c.startswith(tuple(args.drop))]
    idx = [names.index(c) for c in cols]
    per_corpus = {}
    for corpus in args.corpora:
        X, spk = _corpus_live_rows(model, corpus, idx)
        ok = np.isfinite(X).all(1)
        per_corpus[corpus] = (X[ok], spk[ok])
    X = np.vstack([v[0] for v in per_corpus.values()])
    spk_a = np.concatenate([v[1] for v in per_corpus.values()])
    center, scale, proj = fit_embedding(X, spk_a, n_dims=args.dims, shrinkage=args.shrinkage)
    cal = calibrate_threshold(per_corpus, cols, n_dims=args.dims, shrinkage=args.shrinkage)
    meta = {"fitted_on": list(args.corpora), "utterances": int(len(X)), "speakers": int(len(np.unique(spk_a))),
            "n_dims": args.dims, "shrinkage": args.shrinkage, "classes": list(CORE),
            "channel": (f"files joined as the harness joins them ({LEVEL_DBFS:g} dBFS, {PAUSE_S:g} s pauses over "
                        f"white noise at {FLOOR_DBFS:g} dBFS), cut by the live segmenter"),
            "weighting": "LDA directions scaled by sqrt(lambda / (1 + lambda))",
            "split_threshold": cal,
            "command": "python -m benchmarks.conversations embed " + " ".join(sys.argv[2:])}
    out = SpeakerEmbedding(tuple(cols), center, scale, proj, meta).save(args.out or EMBEDDING_PATH)
    print(f"{out}: {len(cols)} columns -> {args.dims} dims, {meta['utterances']} utterances of {meta['speakers']} "
          f"speakers; split threshold {cal['threshold']:g} (one-speaker share >= {cal['target_share']:g} % on "
          f"{cal['sessions']} sessions of the fitting corpora, each embedded by the others)")
    return 0


def _embed_supervector(model: Any, args: argparse.Namespace) -> int:
    """``embed --supervector``: fit the supervector embedding of ``--speakers N``
    (:mod:`ser_live.supervector`) on ``--corpora``' live cuts
    (:func:`benchmarks.speaker_encoders.fit_supervector_encoder`) and write it."""
    from ser_live.supervector import SUPERVECTOR_PATH

    from .speaker_encoders import fit_supervector_encoder

    t0 = time.perf_counter()
    emb = fit_supervector_encoder(model, corpora=args.corpora)
    emb.metadata["command"] = "python -m benchmarks.conversations embed " + " ".join(sys.argv[2:])
    out = emb.save(args.out or SUPERVECTOR_PATH)
    print(f"{out}: {emb.n_components} components x 19 MFCCs -> {emb.n_dims} dims, {emb.metadata['cuts']} cuts of "
          f"{emb.metadata['speakers']} speakers of {', '.join(args.corpora)} ({time.perf_counter() - t0:.0f} s)")
    return 0


# ------------------------------------------------------------------------------ attribution alone
def conversation_segments(model: Any, paths: Sequence[str], *, seed: int = 0, utterances: list | None = None,
                          frames: list | None = None) -> tuple[list[np.ndarray], list[int]]:
    """The live segmenter's utterances of a conversation of ``paths`` (as :func:`run_pair`
    builds it), each extracted as the live worker extracts it.

    Parameters
    ----------
    model : EmotionModel
    paths : sequence of str
    seed : int, default 0
    utterances : list, optional
        Extended with the :class:`~ser_live.vad.Utterance` of each returned feature vector
        (its int16 ``samples``), in order.
    frames : list, optional
        Extended with each returned utterance's framewise MFCCs and voicing from the same
        analysis (:meth:`~ser_live.features.FeatureExtractor.extract_with_frames`, what the
        worker hands the supervector speaker embedding), in order.

    Returns
    -------
    (features, played)
        One raw feature vector per utterance the worker would attribute (those the
        extractor refuses, or with non-finite values, are dropped as the worker drops
        them), in order; per played file the index of its longest-overlapping utterance
        (-1: none).
    """
    from ser_live.vad import VadConfig, segment_signal

    sess = build_conversation(list(paths), seed=seed)
    feats, spans = [], []
    for u in segment_signal(sess.samples, config=VadConfig(), sample_rate_hz=16000):
        try:
            if frames is None:
                x = model.extractor.extract(u.samples)
            else:
                x, mfcc, voiced = model.extractor.extract_with_frames(u.samples)
        except ValueError:
            continue
        if np.isfinite(x).all():
            feats.append(x)
            spans.append((u.start_s, u.end_s))
            if utterances is not None:
                utterances.append(u)
            if frames is not None:
                frames.append((mfcc, voiced))
    played = []
    for a, b in sess.spans:
        ov = [min(b / 16000, e) - max(a / 16000, s) for s, e in spans]
        played.append(int(np.argmax(ov)) if ov and max(ov) > 0 else -1)
    return feats, played


def attribution_only(settings: Settings, *, assigner: dict[str, Any] | None = None,
                     data_root: str | Path | None = None, aroused: bool = False) -> dict[str, Any]:
    """Speaker attribution alone, fast: the harness's conversations and one-speaker sessions
    (same speakers, pairs, turns and seeds as :func:`run_harness`), cut by the live segmenter
    and extracted, then :class:`ser_live.speakers.SpeakerAssigner` over the utterances in
    order; no replay through the recogniser. Attribution at the moment (what
    :meth:`~ser_live.speakers.SpeakerAssigner.assign` returned) and revised
    (:attr:`~ser_live.speakers.SpeakerAssigner.revised_` at the end).

    With a known count and the clustering's shared offsets on (by default the arousal
    offset; ``assigner["arousal_ridge"]`` None and no ``emotion_ridge`` turn them off), each
    utterance is also classified as the worker classifies it
    (:func:`ser_live.offline.classify_turn_features`: its speaker's session, the prediction
    reported back, then the sessions follow the re-clustering,
    :meth:`~ser_live.speakers.SpeakerSessions.follow`), with the corpus's fold model (:func:`fold_model_path`), which also
    extracts; otherwise no emotion model runs and ``settings.model`` (default the shipped
    one) extracts. ``assigner["embedding"]`` replaces the mode's shipped embedding.

    With ``aroused`` each pair's first voice says only its high-arousal utterances and the
    second only its low-arousal ones (:func:`one_aroused`; with the harness's 16 utterances
    round-robin over the four classes, 8 each).

    Returns
    -------
    dict
        ``rows``: per corpus and kind ``attribution_pct``, ``attribution_revised_pct``,
        ``speakers_opened``, ``n``, and both attributions per quarter of the conversations
        (``attribution_by_quarter_pct``, ``attribution_revised_by_quarter_pct``:
        :func:`by_quarter_pct`); per corpus ``one_speaker_share_pct`` (and revised, min).
    """
    from ser_live.model import EmotionModel
    from ser_live.offline import classify_turn_features
    from ser_live.speakers import AROUSAL_RIDGE, SpeakerAssigner, SpeakerSessions, shared_offsets, speaker_mode

    kw = {"emotion_ridge": None, **(assigner or {})}
    n_conv, known_conv = speaker_mode(settings.speakers)
    # the shared offsets read each utterance's prediction
    classify = shared_offsets(known_conv and n_conv > 1, emotion_ridge=kw["emotion_ridge"],
                              arousal_ridge=kw.get("arousal_ridge", AROUSAL_RIDGE)) is not None

    shared = None if classify else (EmotionModel.load(settings.model) if settings.model else EmotionModel.load())

    def attribute(model: Any, feats: list[np.ndarray], frames: list, speakers: int | str) -> tuple[list[str], list[str]]:
        n, known = speaker_mode(speakers)
        # the mode's shipped embedding unless one is given; auto's split test keeps its own
        own = {k: v for k, v in kw.items() if k != "embedding" or known}
        if classify and known:
            sessions = SpeakerSessions(model, max_speakers=n, known=True, **own)
            now = []
            for j, (x, f) in enumerate(zip(feats, frames)):  # as the live worker: attribute, classify, follow
                _, _, x, who = classify_turn_features(model, np.asarray(x, dtype=np.float32), sessions, frames=f)
                sessions.follow(j, who, x)
                now.append(who)
            return now, sessions.assigner.revised_
        a = SpeakerAssigner(model.extractor.feature_names(), max_speakers=n, known=known, **own)
        now = [a.assign(x, f) for x, f in zip(feats, frames)]
        return now, a.revised_ if n > 1 else now

    rows = []
    for corpus in settings.corpora:
        model = shared or EmotionModel.load(fold_model_path(corpus, settings))
        spk = corpus_speakers(corpus, n_utterances=settings.n_utterances, seed=settings.seed, data_root=data_root)
        for kind, pairs in pairs_of(spk, n_pairs=settings.n_pairs, seed=settings.seed).items():
            opened, hits_now, hits_rev = [], [], []
            for i, (a, b) in enumerate(pairs):
                items = (spk[a]["items"], spk[b]["items"])
                order = interleave(*(one_aroused(*items) if aroused else items), seed=settings.seed * 1000 + i)
                who = [(a, b)[w] for w, _ in order]
                frames: list = []
                feats, played = conversation_segments(model, [it[0] for _, it in order], seed=settings.seed * 1000 + i,
                                                      frames=frames)
                now, revised = attribute(model, feats, frames, settings.speakers)
                hits_now.append(attribution_hits(who, [now[j] if j >= 0 else None for j in played]))
                hits_rev.append(attribution_hits(who, [revised[j] if j >= 0 else None for j in played]))
                opened.append(len({now[j] for j in played if j >= 0}))
                progress(f"{corpus} {kind} {a}+{b}: {100 * hits_now[-1].mean():.1f} % at the moment, "
                         f"{100 * hits_rev[-1].mean():.1f} % revised")
            acc = [100.0 * float(h.mean()) for h in hits_now]
            rev = [100.0 * float(h.mean()) for h in hits_rev]
            rows.append({"corpus": corpus, "kind": kind, "n": len(pairs), "attribution_pct": float(np.mean(acc)),
                         "min_attribution_pct": float(np.min(acc)), "attribution_revised_pct": float(np.mean(rev)),
                         "speakers_opened": float(np.mean(opened)),
                         "attribution_by_quarter_pct": by_quarter_pct(hits_now),
                         "attribution_revised_by_quarter_pct": by_quarter_pct(hits_rev)})
        shares, shares_rev = [], []
        for i, s in enumerate(sorted(spk)[: settings.one_speaker]):
            frames = []
            feats, played = conversation_segments(model, [p for p, _ in spk[s]["items"]],
                                                  seed=settings.seed * 1000 + 500 + i, frames=frames)
            now, revised = attribute(model, feats, frames, "auto")
            shares.append(majority_share_pct([now[j] if j >= 0 else None for j in played]))
            shares_rev.append(majority_share_pct([revised[j] if j >= 0 else None for j in played]))
        rows.append({"corpus": corpus, "kind": "one speaker", "n": len(shares),
                     "one_speaker_share_pct": float(np.mean(shares)) if shares else float("nan"),
                     "one_speaker_min_pct": float(np.min(shares)) if shares else float("nan"),
                     "one_speaker_revised_pct": float(np.mean(shares_rev)) if shares else float("nan")})
    return {"settings": settings.__dict__, "assigner": assigner or {}, "rows": rows}


def attribution_markdown(res: dict[str, Any]) -> list[str]:
    """:func:`attribution_only` as a Markdown table."""
    lines = ["| corpus | pairs / sessions | attribution % at the moment (min) | revised % | speakers opened "
             "| one speaker (--speakers auto): share of its label % (min), revised |", "|" + "---|" * 6]
    for r in res["rows"]:
        if r["kind"] == "one speaker":
            if not r["n"]:  # --one-speaker 0
                continue
            lines.append(f"| {r['corpus']} | one speaker x{r['n']} | | | | {r['one_speaker_share_pct']:.1f} "
                         f"({r['one_speaker_min_pct']:.1f}), {r['one_speaker_revised_pct']:.1f} |")
        else:
            lines.append(f"| {r['corpus']} | {r['kind']} x{r['n']} | {r['attribution_pct']:.1f} "
                         f"({r['min_attribution_pct']:.1f}) | {r['attribution_revised_pct']:.1f} "
                         f"| {r['speakers_opened']:.2f} | |")
    return lines


def quarters_markdown(res: dict[str, Any]) -> list[str]:
    """:func:`attribution_only`'s attribution per quarter of the conversations as a Markdown
    table (``--by-quarter``): where in a conversation the labels at the moment go wrong."""
    lines = ["| corpus | pairs | at the moment %, quarters 1 / 2 / 3 / 4 | revised %, quarters 1 / 2 / 3 / 4 |",
             "|" + "---|" * 4]
    for r in res["rows"]:
        if "attribution_by_quarter_pct" in r:
            lines.append(f"| {r['corpus']} | {r['kind']} x{r['n']} | "
                         + " / ".join(f"{v:.1f}" for v in r["attribution_by_quarter_pct"]) + " | "
                         + " / ".join(f"{v:.1f}" for v in r["attribution_revised_by_quarter_pct"]) + " |")
    return lines


def attribution_main(args: argparse.Namespace) -> int:
    """``attribution``: :func:`attribution_only` with the harness's options."""
    from ser_live.speakers import parse_speakers

    s = Settings(corpora=tuple(args.corpora), n_utterances=args.utterances, n_pairs=args.pairs,
                 speakers=parse_speakers(args.speakers), seed=args.seed, one_speaker=args.one_speaker, model=args.model,
                 models_dir=args.models_dir, fit=args.fit)
    kw: dict[str, Any] = {} if args.threshold is None else {"threshold": args.threshold}
    kw["emotion_ridge"], kw["arousal_ridge"] = args.emotion_ridge, args.arousal_ridge
    if args.seedings is not None:
        kw["seedings"] = args.seedings
    if args.embedding:
        from ser_live.speakers import load_embedding

        kw["embedding"] = load_embedding(args.embedding)
    try:
        res = attribution_only(s, assigner=kw, aroused=args.one_aroused)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(attribution_markdown(res)))
    if args.by_quarter:
        print()
        print("\n".join(quarters_markdown(res)))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=str) + "\n", encoding="utf-8")
    return 0


# ------------------------------------------------------------------------------ CLI
def ridge_option(value: str) -> float | None:
    """An ``--emotion-ridge`` / ``--arousal-ridge`` value: a positive number, or ``off`` (None).

    Raises
    ------
    argparse.ArgumentTypeError
        Anything else (argparse then exits with status 2 and says so).
    """
    if value == "off":
        return None
    try:
        ridge = float(value)
    except ValueError:
        ridge = float("nan")
    if not ridge > 0:
        raise argparse.ArgumentTypeError(f"a positive number or off, got {value!r}")
    return ridge


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.conversations", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command")
    e = sub.add_parser("embed", help="fit the shipped speaker embedding")
    e.add_argument("--corpora", nargs="+", default=list(EMBED_CORPORA))
    e.add_argument("--model", default=None, help="model whose feature names are used (default the shipped one)")
    e.add_argument("--also-models", nargs="*", default=["models/ser-7class.skops"],
                   help="keep only columns these models have too")
    e.add_argument("--computed-only", action="store_true",
                   help="only columns these models' extractors compute anyway (no wider extraction with --speakers)")
    e.add_argument("--drop", nargs="+", default=[], metavar="PREFIX",
                   help="leave out the candidate columns whose names start so (e.g. contrast: a group "
                        "only the embedding makes the extractor compute)")
    e.add_argument("--dims", type=int, default=8)
    e.add_argument("--shrinkage", type=float, default=0.1)
    e.add_argument("--supervector", action="store_true",
                   help="fit the supervector embedding of --speakers N (ser_live/data/speaker_supervector.json) "
                        "instead of the pooled-column LDA")
    e.add_argument("--out", default=None)
    a = sub.add_parser("attribution", help="speaker attribution alone, fast (no replay)")
    a.add_argument("--corpora", nargs="+", default=list(DEFAULT_CORPORA))
    a.add_argument("--model", default=None, help="model whose extractor is used (default the shipped one)")
    a.add_argument("--pairs", type=int, default=Settings.n_pairs, help="pairs per kind per corpus")
    a.add_argument("--utterances", type=int, default=Settings.n_utterances, help="per speaker")
    a.add_argument("--one-speaker", type=int, default=Settings.one_speaker, help="one-speaker sessions per corpus")
    a.add_argument("--speakers", default="2",
                   help="--speakers of the conversations (default 2; one-speaker sessions always run auto)")
    a.add_argument("--threshold", type=float, default=None, help="split threshold (default the embedding's)")
    a.add_argument("--embedding", default=None,
                   help="speaker embedding file of --speakers N, a supervector or a pooled-column one "
                        "(default the shipped supervector; e.g. ser_live/data/speaker_embedding_light.json, the "
                        "embedding --speakers N read before the supervector)")
    a.add_argument("--models-dir", default=Settings.models_dir,
                   help="fold models <corpus>.skops whose predictions the shared offsets of --speakers N read "
                        "(fitted there with --fit)")
    a.add_argument("--fit", action="store_true", help="fit missing fold models first")
    a.add_argument("--arousal-ridge", type=ridge_option, default="1.0", metavar="LAMBDA|off",
                   help="ridge weight of --speakers N's shared arousal offset (default ser_live.speakers.AROUSAL_RIDGE "
                        "= 1, as --speakers N runs); off: plain k-means, no emotion model")
    a.add_argument("--emotion-ridge", type=ridge_option, default="off", metavar="LAMBDA|off",
                   help="the emotion-aware clustering instead of the arousal offset, an experiment "
                        "(ser_live.speakers.EMOTION_RIDGE = 4 is its weight); off (default)")
    a.add_argument("--seedings", type=int, default=None, metavar="N",
                   help="random k-means++ seedings --speakers N's clustering tries after each utterance besides "
                        "the previous clustering (default ser_live.speakers.SEEDINGS, as --speakers N runs; 0: the "
                        "previous clustering and the principal-component split, as before the seedings)")
    a.add_argument("--by-quarter", action="store_true",
                   help="also attribution in each quarter of the conversations, at the moment and revised")
    a.add_argument("--one-aroused", action="store_true",
                   help="each pair's first voice says only its high-arousal utterances (angry, happy), the second "
                        "only its low-arousal ones: an agitated caller and a calm agent")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--json", default=None)
    p.add_argument("--corpora", nargs="+", default=list(DEFAULT_CORPORA))
    p.add_argument("--models-dir", default=Settings.models_dir)
    p.add_argument("--model", default=None, help="one model for every corpus instead of fold models")
    p.add_argument("--fit", action="store_true", help="fit missing fold models first")
    p.add_argument("--pairs", type=int, default=Settings.n_pairs, help="pairs per kind per corpus")
    p.add_argument("--utterances", type=int, default=Settings.n_utterances, help="per speaker")
    p.add_argument("--one-speaker", type=int, default=Settings.one_speaker, help="one-speaker sessions per corpus")
    p.add_argument("--speakers", default="2",
                   help="--speakers of the live conversations (default 2; one-speaker sessions always run auto)")
    p.add_argument("--level", choices=("utterance", "speaker"), default=Settings.level,
                   help="level each file to -26 dBFS on its own (default), or each speaker's files by one gain "
                        "(their loudness differences kept, as at a real microphone)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the full result here")
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.conversations [options] [embed|attribution]``; returns the exit
    status (0, 2 bad options, an unknown corpus, a --json that cannot be written or a fold model
    missing, 3 a corpus not found)."""
    from ser_live.speakers import parse_speakers

    from .common import corpora_problem, output_file_problem

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # an unknown or missing corpus: one line, not a traceback or advice to fit a model without it
    problem = corpora_problem(args.corpora)
    if problem:
        print(problem[1], file=sys.stderr)
        return problem[0]
    json_problem = output_file_problem(args.json) if getattr(args, "json", None) else None
    if json_problem:  # found now, not after the run (its full result would be lost)
        print(f"error: {json_problem}; pass --json FILE in a folder you can write to", file=sys.stderr)
        return 2
    if args.command == "embed":
        return embed_main(args)
    if args.command == "attribution":
        return attribution_main(args)
    try:
        n_spk = parse_speakers(args.speakers)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    s = Settings(corpora=tuple(args.corpora), models_dir=args.models_dir, n_utterances=args.utterances,
                 n_pairs=args.pairs, speakers=n_spk, seed=args.seed, fit=args.fit, one_speaker=args.one_speaker,
                 model=args.model, level=args.level)
    try:
        res = run_harness(s)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(markdown(res)))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

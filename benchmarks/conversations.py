"""``python -m benchmarks.conversations``: two voices on one line (issue 25).

Two-speaker conversations of held-out corpus speakers, replayed through the live recogniser,
score three things:

* **speaker attribution**: the share of played utterances whose live result carries the
  speaker label that the best one-to-one mapping of assigned labels to true speakers gives
  (a played utterance with no result counts as wrong);
* **live 4-class UA** with speaker turns (``--speakers``, default auto), beside the same
  conversation replayed without them (one session for the run, today's behaviour before
  issue 25) and **offline per-speaker sessions**: ``ser-live predict FILES --sessions S.csv``
  with the true speakers as sessions, run in process
  (:meth:`ser_live.offline.Predictor.process_files` with ``sessions=``);
* **one-speaker share**: a session of one speaker alone, replayed with speaker turns; the
  share of its utterances given its most frequent speaker label (target >= 95 %).

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

``python -m benchmarks.conversations embed`` fits the shipped speaker embedding
(``ser_live/data/speaker_embedding.json``, :mod:`ser_live.speakers`) on corpora that the
harness does not use (default RAVDESS, TESS, ASED, emotiontts_kor).

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
from typing import Any, Sequence

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


def build_conversation(paths: Sequence[str], *, seed: int = 0, level_dbfs: float = LEVEL_DBFS,
                       floor_dbfs: float = FLOOR_DBFS, pause_s: float = PAUSE_S):
    """The audio of a conversation: trimmed files at ``level_dbfs`` (loud-frame level) with
    ``pause_s`` pauses over white noise at ``floor_dbfs`` RMS.

    Returns
    -------
    train.sessions.Session
        int16 samples and the played spans (samples).
    """
    from train.sessions import build_session, corpus_utterances

    from .live_offline import floor_noise

    utts = list(corpus_utterances(list(paths)))
    n = sum(len(u) for u in utts) + int((len(utts) + 3) * pause_s * 16000)
    return build_session(utts, pauses_s=(pause_s,), tail_s=1.5, utterance_dbfs=level_dbfs,
                         noise=floor_noise("white", n, seed=seed), noise_dbfs=floor_dbfs)


def replay(samples: np.ndarray, model: Any, *, speakers: int | None, workdir: Path) -> list[Any]:
    """Replay int16 samples through :class:`~ser_live.pipeline.Recognizer` (FileSource, speed
    0); the final results in order."""
    from ser_live.audio import FileSource
    from ser_live.audiofile import write_wav
    from ser_live.pipeline import Recognizer

    wav = write_wav(workdir / "conversation.wav", samples)
    rec = Recognizer(FileSource(wav, speed=0), model, speakers=speakers)
    with rec:
        results = [r for r in rec if r.final]
    if rec.error is not None:
        raise rec.error
    return results


def attribution_accuracy(true: Sequence[Any], assigned: Sequence[Any]) -> float:
    """Share (%) of items whose assigned label maps to their true speaker under the best
    one-to-one mapping of assigned labels to true speakers (None assigned is wrong).

    Parameters
    ----------
    true, assigned : sequence
        True speaker and assigned label per item.

    Returns
    -------
    float
        Percent; NaN for no items.
    """
    if not len(true):
        return float("nan")
    ts = sorted(set(true), key=str)
    ps = sorted({p for p in assigned if p is not None}, key=str)
    best = 0
    for perm in itertools.permutations(ps + [None] * len(ts), len(ts)):
        hit = sum(1 for t, p in zip(true, assigned) if p is not None and perm[ts.index(t)] == p)
        best = max(best, hit)
    return 100.0 * best / len(true)


def _played(spans_s: Sequence[tuple[float, float]], results: Sequence[Any]) -> list[tuple[str | None, str | None]]:
    """Per played utterance: (live core label, speaker) from the results mapped to it."""
    from .live_offline import match_results

    recs = [{"start_s": r.utterance.start_s, "end_s": r.utterance.end_s} for r in results]
    m = match_results(spans_s, recs)
    out = []
    for hits in m["assigned"]:
        if not hits:
            out.append((None, None))
            continue
        p = {c: sum(ov * results[i].prediction.probabilities.get(c, 0.0) for i, ov in hits) for c in CORE}
        out.append((max(CORE, key=p.get), results[max(hits, key=lambda h: h[1])[0]].speaker))
    return out


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
    speakers : int
        ``--speakers`` of the live runs (auto: 4).
    seed : int
    fit : bool
        Fit missing fold models first.
    one_speaker : int
        One-speaker sessions per corpus (the first speakers of the pairs).
    model : str or None
        One model for every corpus instead of fold models (e.g. the shipped one, whose
        training corpora include the harness's: then UA is not a held-out score).
    """

    corpora: tuple[str, ...] = DEFAULT_CORPORA
    models_dir: str = str(Path(__file__).resolve().parents[1] / "bench-results" / "conversations-models")
    n_utterances: int = 16
    n_pairs: int = 4
    speakers: int = 4
    seed: int = 0
    fit: bool = False
    one_speaker: int = 6
    model: str | None = None


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
    sess = build_conversation(paths, seed=seed)
    spans_s = [(s / 16000, e / 16000) for s, e in sess.spans]
    t0 = time.perf_counter()
    turns = _played(spans_s, replay(sess.samples, model, speakers=settings.speakers, workdir=workdir))
    t_turns = time.perf_counter() - t0
    one = _played(spans_s, replay(sess.samples, model, speakers=None, workdir=workdir))
    offline = dict(Predictor(model).process_files(paths, sessions={p: w for p, w in zip(paths, who)}))
    off = [max(CORE, key=offline[p].probabilities.get) for p in paths]
    return {
        "pair": [a, b], "true": labels, "speaker": who,
        "live_turns": [t[0] for t in turns], "assigned": [t[1] for t in turns],
        "live_one_session": [t[0] for t in one], "offline": off,
        "attribution_pct": attribution_accuracy(who, [t[1] for t in turns]),
        "n_speakers_opened": len({t[1] for t in turns if t[1] is not None}),
        "replay_s": t_turns,
    }


def run_one_speaker(model: Any, items: Sequence[tuple[str, str]], *, settings: Settings, seed: int,
                    workdir: Path) -> dict[str, Any]:
    """A session of one speaker alone with speaker turns: the majority label's share."""
    paths = [p for p, _ in items]
    sess = build_conversation(paths, seed=seed)
    spans_s = [(s / 16000, e / 16000) for s, e in sess.spans]
    got = [t[1] for t in _played(spans_s, replay(sess.samples, model, speakers=settings.speakers, workdir=workdir))]
    counts = {k: got.count(k) for k in set(got) if k is not None}
    share = 100.0 * max(counts.values()) / len(got) if counts else 0.0
    return {"share_pct": share, "labels": got}


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
                "speakers_opened": float(np.mean([p["n_speakers_opened"] for p in pairs])),
                "ua_live_turns": ua_pct(cat("true"), cat("live_turns")),
                "ua_live_one_session": ua_pct(cat("true"), cat("live_one_session")),
                "ua_offline_sessions": ua_pct(cat("true"), cat("offline")),
                "one_speaker_share_pct": float(np.mean(shares)) if shares else float("nan"),
                "one_speaker_min_pct": float(np.min(shares)) if shares else float("nan"),
            })
    return rows


def markdown(res: dict[str, Any]) -> list[str]:
    """The summary as a Markdown table, with issue 25's acceptance."""
    head = ("| corpus | pairs | attribution % (min) | speakers opened | UA live, turns | UA live, one session "
            "| UA offline, per-speaker sessions | one-speaker share % (min) |")
    lines = [head, "|" + "---|" * 8]
    for r in res["table"]:
        lines.append(
            f"| {r['corpus']} | {r['kind']} x{r['pairs']} | {r['attribution_pct']:.1f} ({r['min_attribution_pct']:.1f}) "
            f"| {r['speakers_opened']:.2f} | {r['ua_live_turns']:.1f} | {r['ua_live_one_session']:.1f} "
            f"| {r['ua_offline_sessions']:.1f} | {r['one_speaker_share_pct']:.1f} ({r['one_speaker_min_pct']:.1f}) |")
    lines.append("")
    lines.append("Acceptance (issue 25): attribution >= 90 % mixed-gender, >= 80 % same-gender; live UA with turns "
                 "within 3 points of offline per-speaker sessions; one-speaker share >= 95 %.")
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
#: Descriptors whose pooled values scale with the input level: not speaker identity.
_LEVEL_COLUMNS = re.compile(r"^(rms|loudness|loud_|mel\d|mfcc0_)")


def embedding_candidates(feature_names: Sequence[str], common: Sequence[str] | None = None) -> list[str]:
    """Candidate columns of the speaker embedding: ``_mean``, ``_std``, ``_p50`` statistics
    and ``f0_*`` columns of level-independent descriptors, present in ``common`` too."""
    keep = set(common) if common is not None else None
    return [n for n in feature_names
            if not _LEVEL_COLUMNS.match(n) and (n.endswith(("_mean", "_std", "_p50")) or n.startswith("f0_"))
            and (keep is None or n in keep)]


def fit_embedding(X: np.ndarray, speakers: np.ndarray, *, n_dims: int = 16, shrinkage: float = 0.1):
    """LDA of speaker identity (see :mod:`ser_live.speakers`).

    Parameters
    ----------
    X : np.ndarray, float, shape (n_utterances, n_columns)
        Raw feature columns, finite.
    speakers : np.ndarray, shape (n_utterances,)
    n_dims : int, default 16
    shrinkage : float, default 0.1
        Weight of the scaled identity in the within-speaker covariance.

    Returns
    -------
    (center, scale, projection)
        Shapes (n_columns,), (n_columns,), (n_columns, n_dims): the within-speaker
        covariance of the projection is the identity.
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
    _, V = scipy.linalg.eigh(Sb, Sw)
    return center, scale, V[:, ::-1][:, :n_dims]


def embed_main(args: argparse.Namespace) -> int:
    """``embed``: fit the speaker embedding on ``--corpora`` and write it."""
    from ser_live.model import EmotionModel
    from ser_live.speakers import EMBEDDING_PATH, SpeakerEmbedding
    from train.corpora import read_corpus
    from train.extract import extract_features

    model = EmotionModel.load(args.model)
    names = model.extractor.feature_names()
    common = set(names)
    for other in args.also_models:
        common &= set(EmotionModel.load(other).extractor.feature_names())
    cols = embedding_candidates(names, sorted(common))
    idx = [names.index(c) for c in cols]
    rows, spk = [], []
    for corpus in args.corpora:
        recs = [r for r in read_corpus(corpus, check_audio=False).records if r.label in CORE]
        X, _ = extract_features([r.path for r in recs], config=model.feature_config, n_jobs=1, progress=False)
        rows.append(X[:, idx])
        spk += [r.speaker for r in recs]
    X = np.vstack(rows).astype(np.float64)
    spk_a = np.array(spk)
    ok = np.isfinite(X).all(1)
    center, scale, proj = fit_embedding(X[ok], spk_a[ok], n_dims=args.dims, shrinkage=args.shrinkage)
    meta = {"fitted_on": list(args.corpora), "utterances": int(ok.sum()), "speakers": int(len(np.unique(spk_a[ok]))),
            "n_dims": args.dims, "shrinkage": args.shrinkage, "classes": list(CORE),
            "command": "python -m benchmarks.conversations embed " + " ".join(sys.argv[2:])}
    out = SpeakerEmbedding(tuple(cols), center, scale, proj, meta).save(args.out or EMBEDDING_PATH)
    print(f"{out}: {len(cols)} columns -> {args.dims} dims, {meta['utterances']} utterances of {meta['speakers']} speakers")
    return 0


# ------------------------------------------------------------------------------ CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.conversations", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command")
    e = sub.add_parser("embed", help="fit the shipped speaker embedding")
    e.add_argument("--corpora", nargs="+", default=list(EMBED_CORPORA))
    e.add_argument("--model", default=None, help="model whose feature names are used (default the shipped one)")
    e.add_argument("--also-models", nargs="*", default=["models/ser-7class.skops"],
                   help="keep only columns these models have too")
    e.add_argument("--dims", type=int, default=16)
    e.add_argument("--shrinkage", type=float, default=0.1)
    e.add_argument("--out", default=None)
    p.add_argument("--corpora", nargs="+", default=list(DEFAULT_CORPORA))
    p.add_argument("--models-dir", default=Settings.models_dir)
    p.add_argument("--model", default=None, help="one model for every corpus instead of fold models")
    p.add_argument("--fit", action="store_true", help="fit missing fold models first")
    p.add_argument("--pairs", type=int, default=Settings.n_pairs, help="pairs per kind per corpus")
    p.add_argument("--utterances", type=int, default=Settings.n_utterances, help="per speaker")
    p.add_argument("--one-speaker", type=int, default=Settings.one_speaker, help="one-speaker sessions per corpus")
    p.add_argument("--speakers", default="auto", help="--speakers of the live runs (default auto)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the full result here")
    return p


def main(argv: list[str] | None = None) -> int:
    from ser_live.speakers import parse_speakers

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.command == "embed":
        return embed_main(args)
    try:
        n_spk = parse_speakers(args.speakers)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    s = Settings(corpora=tuple(args.corpora), models_dir=args.models_dir, n_utterances=args.utterances,
                 n_pairs=args.pairs, speakers=n_spk, seed=args.seed, fit=args.fit, one_speaker=args.one_speaker,
                 model=args.model)
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

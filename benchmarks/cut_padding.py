"""What the floor around a live cut costs: the segmenter's cuts as they are against the same cuts
trimmed to their active frames (issue 25's live-vs-offline gap).

``python -m benchmarks.conversations`` shows that on EmoDB the segmenter's cuts, not the
conversation's audio or the speaker attribution, hold most of the gap between live UA and the
offline per-speaker sessions: each played utterance's span of the conversation's audio scores
5-7 points above the live cut that holds it. A live cut holds the span plus the segmenter's
pre-roll and hangover, i.e. a few hundred ms of the noise floor alone on each side, where a
training file holds the same margins of its own studio background. This bench asks how much of the gap that padding is:
every conversation of the harness (same speakers, pairs, turns and seeds) is cut by the live
segmenter (:func:`benchmarks.conversations.conversation_segments`), and each cut is classified
as it is and trimmed to its active frames (:func:`ser_live.features.gating.active_span`:
frames more than ``above_db`` above the cut's own floor, plus ``margin_s`` on each side), the true speakers as sessions
(settled statistics: perfect attribution), with the corpus's ``loco`` fold model. A played
utterance's label is that of its longest-overlapping cut.

It is a diagnostic: the cuts are trimmed here, the fold models' training files are not. The
experiment recipe ``train/recipes/experiments/edge-trim.toml`` trims every utterance alike,
in training, ``predict`` and live (``FeatureConfig.edge_trim``).

Run: ``python -m benchmarks.cut_padding --models-dir DIR --pairs 100`` (DIR as
``benchmarks.conversations`` takes it: ``DIR/<corpus>.skops``).
"""
from __future__ import annotations

import sys
from typing import Any, Sequence

import numpy as np

from ser_live.features.gating import active_span

from .common import run_table_bench, table_parser
from .conversations import (DEFAULT_CORPORA, Settings, conversation_segments, corpus_speakers, fold_model_path,
                            interleave, pairs_of, progress, ua_pct)

def run(settings: Settings, *, trims: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """UA (%) of the played utterances from the cuts as they are and from each trim
    ``(above_db, margin_s)``, per corpus and pair kind (module doc).

    Raises
    ------
    FileNotFoundError
        A fold model missing from ``settings.models_dir``.

    Returns
    -------
    dict
        ``rows``: ``{"corpus", "kind", "n", "as cut": UA, "<trim>": UA, "kept <trim>": share of
        the cuts' samples kept}``; ``columns``.
    """
    from ser_live.model import EmotionModel

    names = [f"trimmed {a:g} dB, {m:g} s" for a, m in trims]
    rows = []
    for corpus in settings.corpora:
        model = EmotionModel.load(fold_model_path(corpus, settings))
        spk = corpus_speakers(corpus, n_utterances=settings.n_utterances, seed=settings.seed)
        for kind, pairs in pairs_of(spk, n_pairs=settings.n_pairs, seed=settings.seed).items():
            truth: list[str] = []
            got: dict[str, list] = {c: [] for c in ["as cut", *names]}
            kept: dict[str, list[float]] = {c: [] for c in names}
            for i, (a, b) in enumerate(pairs):
                order = interleave(spk[a]["items"], spk[b]["items"], seed=settings.seed * 1000 + i)
                who = [(a, b)[w] for w, _ in order]
                utts: list = []
                feats, played = conversation_segments(model, [it[0] for _, it in order],
                                                      seed=settings.seed * 1000 + i, utterances=utts)
                owner = [f"unplayed-{k}" for k in range(len(feats))]  # a cut no played file maps to: its own session
                for j, u in enumerate(played):
                    if u >= 0 and owner[u].startswith("unplayed"):
                        owner[u] = who[j]
                variants = {"as cut": np.asarray(feats, dtype=np.float32)}
                for name, (above, margin) in zip(names, trims):
                    spans = [active_span(u.samples, above_db=above, margin_s=margin) for u in utts]
                    variants[name] = np.stack([model.extractor.extract(u.samples[s:e]) for u, (s, e) in zip(utts, spans)])
                    kept[name] += [(e - s) / len(u.samples) for u, (s, e) in zip(utts, spans)]
                for name, X in variants.items():
                    P = model.predict_proba(X, groups=np.asarray(owner))
                    labels = [model.labels[k] for k in P.argmax(1)]
                    got[name] += [labels[u] if u >= 0 else None for u in played]
                truth += [it[1] for _, it in order]
                progress(f"{corpus} {kind} {a}+{b}")
            rows.append({"corpus": corpus, "kind": kind, "n": len(pairs),
                         **{c: ua_pct(truth, v) for c, v in got.items()},
                         **{f"kept {c}": float(np.mean(v)) for c, v in kept.items()}})
    return {"rows": rows, "columns": ["as cut", *names],
            "command": "python -m benchmarks.cut_padding " + " ".join(sys.argv[1:])}


def markdown(res: dict[str, Any]) -> list[str]:
    """:func:`run`'s result as a Markdown table."""
    trims = res["columns"][1:]
    lines = ["| corpus | pairs | UA, cuts as they are | " + " | ".join(f"UA, {c} (share kept)" for c in trims) + " |",
             "|" + "---|" * (3 + len(trims))]
    for r in res["rows"]:
        lines.append(f"| {r['corpus']} | {r['kind']} x{r['n']} | {r['as cut']:.1f} | "
                     + " | ".join(f"{r[c]:.1f} ({r['kept ' + c]:.2f})" for c in trims) + " |")
    lines += ["", "UA over the played utterances, each classified from its longest-overlapping cut, the true "
              "speakers as settled sessions, with the corpus's loco fold model."]
    return lines


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.cut_padding [options]``: prints the table (and writes ``--json``);
    returns the exit status (0; 2 a fold model missing or a --json that cannot be written; 3 a
    corpus not found)."""
    p = table_parser("python -m benchmarks.cut_padding", __doc__.split("\n")[0], DEFAULT_CORPORA,
                     models_dir=Settings.models_dir)
    p.add_argument("--pairs", type=int, default=4, help="pairs per kind per corpus (100: every pair)")
    p.add_argument("--trim", nargs=2, type=float, action="append", metavar=("ABOVE_DB", "MARGIN_S"),
                   help="a trim to compare (repeatable); default 10 dB with 0.1 s and 0.2 s margins")
    args = p.parse_args(argv)
    s = Settings(corpora=tuple(args.corpora), n_pairs=args.pairs, seed=args.seed, models_dir=args.models_dir)
    trims = [tuple(t) for t in args.trim] if args.trim else [(10.0, 0.1), (10.0, 0.2)]
    return run_table_bench(args.corpora, args.json, lambda: run(s, trims=trims), markdown)

if __name__ == "__main__":
    raise SystemExit(main())

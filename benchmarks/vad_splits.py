"""``python -m benchmarks.vad_splits``: how the live segmenter cuts the live-vs-offline harness's
sessions, without a model or a replay.

Builds the same sessions as :mod:`benchmarks.live_offline` (held-out corpus speakers, 1 s pauses,
each session scaled to a speech level over a noise floor), cuts each with
:func:`ser_live.vad.segment_signal` (the :class:`~ser_live.vad.Segmenter` that live runs frame by
frame) and matches the cuts to the played sentences with the harness's own
:func:`~benchmarks.live_offline.match_results`. Prints per condition: sentences played, cuts,
sentences split into two or more cuts, missed, merged, spurious cuts, and the share of sentences
that got exactly one cut, and the pauses (s, from a cut's last voiced sample to the next cut's
first sample) between two cuts of one sentence and between cuts of consecutive sentences: a
rule on the pause can rejoin split sentences only where the two do not overlap. Seconds per
condition, so VAD settings (every ``ser-live`` VAD
option, e.g. ``--hangover-ms 600``) can be compared before a replay that takes minutes.

With ``--model M.skops`` (a ``loco`` fold model that never saw the corpus) it also scores the
split sentences two ways, in-process: by their cuts (each cut classified, its probabilities
weighted by its overlap with the sentence, as the harness reads a live result) and whole (the
sentence cut from the session with the harness's padding, trimmed as ``ser-live predict``
trims, as the harness's "offline heard"), each with the session's statistics over all of its
cuts (respectively its sentences), the offline stand-in for a revised live session. Split
sentences are counted apart by whether every pause between their cuts is at most
:data:`ser_live.offline.JOIN_PAUSE_S` (the noise route's stretch joins them) or not: share right
by cuts / whole, in %.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
import time
from typing import Any

import numpy as np

from benchmarks.common import corpora_problem
from benchmarks.live_offline import (
    Condition, _parse_floor, floor_argument, floor_seed, heard_cuts, match_results, speaker_session, speaker_sets,
)
from ser_live.vad import VadConfig, add_vad_arguments, segment_signal, vad_config_from_args

SAMPLE_RATE = 16000


def _split_scores(model: Any, session: Any, utterances: list, assigned: list, labels: list[str],
                  acc: dict[str, list[int]]) -> None:
    """Score one session's split sentences by cuts and whole (see the module docstring) and add
    ``[n, right by cuts, right whole]`` to ``acc["joined"]`` or ``acc["apart"]``."""
    from ser_live.offline import JOIN_PAUSE_S
    from ser_live.vad import speech_span

    fx = model.extractor
    Xc = np.stack([fx.extract(u.samples) for u in utterances])
    heard = []
    for seg in heard_cuts(session):
        span = speech_span(seg)
        heard.append(fx.extract(seg if span is None else seg[span[0]:span[1]]))
    Pc = model.predict_proba(Xc, groups=np.zeros(len(Xc)))
    Ph = model.predict_proba(np.stack(heard), groups=np.zeros(len(heard)))
    for j, found in enumerate(assigned):
        if len(found) < 2:
            continue
        idx = sorted(i for i, _ in found)
        w = np.array([ov for _, ov in sorted(found)], dtype=np.float64)
        by_cuts = int(np.argmax(w @ Pc[idx]))
        pauses = [(utterances[k + 1].start_sample - utterances[k].last_voiced_sample) / SAMPLE_RATE
                  for k in idx[:-1]]
        row = acc["joined" if max(pauses) <= JOIN_PAUSE_S else "apart"]
        truth = model.labels.index(labels[j])
        row[0] += 1
        row[1] += by_cuts == truth
        row[2] += int(np.argmax(Ph[j])) == truth


def count_cuts(corpus: str, *, levels: list[float], floors: list[str], speakers: int, per_class: int,
               config: VadConfig, model: Any = None, seed: int = 0) -> list[dict[str, Any]]:
    """Cut every session of ``corpus`` at each level and floor; one row per condition.

    Returns:
        dicts with ``condition`` (str), ``played``, ``cuts``, ``split``, ``missed``, ``merged``,
        ``spurious`` (int counts), ``one_per_pct`` (float, % of played sentences with exactly
        one cut), ``pause_split_s`` and ``pause_next_s`` (float arrays, s: from each cut's last
        voiced sample to the next cut's first sample, when both cuts belong to one sentence, and
        when they belong to consecutive sentences); with ``model`` (an
        :class:`~ser_live.model.EmotionModel`), ``split_scores``: ``{"joined": [n, right by
        cuts, right whole], "apart": [...]}`` over the split sentences (module docstring).
    seed : int, default 0
        Seed of the sentences drawn and of the floor noise, as ``benchmarks.live_offline
        --seed`` (the noise also by the condition's position, so the same levels and floors
        give the harness's sessions).
    """
    sets = speaker_sets(corpus, per_class=per_class, speakers=speakers, seed=seed)
    rows = []
    for ci, (level, floor) in enumerate((lv, fl) for lv in levels for fl in floors):
        cond = Condition(level, _parse_floor(floor))
        played = cuts = split = missed = merged = spurious = 0
        pause_split: list[float] = []
        pause_next: list[float] = []
        scores: dict[str, list[int]] = {"joined": [0, 0, 0], "apart": [0, 0, 0]}
        for items in sets.values():
            # the floor noise seeded as benchmarks.live_offline seeds it (by condition position)
            session = speaker_session([path for path, _ in items], cond, seed=floor_seed(seed, ci))
            utterances = segment_signal(session.samples, config=config)
            results = [{"start_s": u.start_sample / SAMPLE_RATE, "end_s": u.end_sample / SAMPLE_RATE}
                       for u in utterances]
            matched = match_results([(s / SAMPLE_RATE, e / SAMPLE_RATE) for s, e in session.spans], results)
            per_sentence = [len(found) for found in matched["assigned"]]
            played += len(per_sentence)
            cuts += len(results)
            split += sum(n >= 2 for n in per_sentence)
            missed += sum(n == 0 for n in per_sentence)
            merged += matched["merged"]
            spurious += matched["spurious"]
            owner = {i: j for j, found in enumerate(matched["assigned"]) for i, _ in found}
            for i in range(len(utterances) - 1):
                if i in owner and i + 1 in owner and owner[i + 1] - owner[i] in (0, 1):
                    pause = (utterances[i + 1].start_sample - utterances[i].last_voiced_sample) / SAMPLE_RATE
                    (pause_split if owner[i + 1] == owner[i] else pause_next).append(pause)
            if model is not None:
                _split_scores(model, session, utterances, matched["assigned"], [lab for _, lab in items], scores)
        rows.append({"condition": cond.name, "played": played, "cuts": cuts, "split": split,
                     "missed": missed, "merged": merged, "spurious": spurious,
                     "one_per_pct": 100.0 * (played - split - missed) / max(played, 1),
                     "pause_split_s": np.array(pause_split), "pause_next_s": np.array(pause_next),
                     **({"split_scores": scores} if model is not None else {})})
    return rows


def _pauses(row: dict[str, Any]) -> str:
    """The pause columns of one printed row ("-" where there is no pause of a kind)."""
    split, nxt = row["pause_split_s"], row["pause_next_s"]
    left = f"{np.percentile(split, 50):.2f}/{np.percentile(split, 90):.2f}" if split.size else "-"
    if not nxt.size:
        return f"{left}, -"
    p10 = np.percentile(nxt, 10)
    over = f"{100.0 * np.mean(split >= p10):.0f}%" if split.size else "-"
    return f"{left}, {p10:.2f}/{np.percentile(nxt, 50):.2f}, {over}"


def pool_rows(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The rows of several :func:`count_cuts` runs (other seeds, same conditions) as one:
    counts and split scores summed, pauses joined, the one-cut share recomputed."""
    out = []
    for same in zip(*runs):
        row = dict(same[0])
        for key in ("played", "cuts", "split", "missed", "merged", "spurious"):
            row[key] = sum(r[key] for r in same)
        for key in ("pause_split_s", "pause_next_s"):
            row[key] = np.concatenate([r[key] for r in same])
        if "split_scores" in row:
            row["split_scores"] = {k: [sum(r["split_scores"][k][i] for r in same) for i in range(3)]
                                   for k in ("joined", "apart")}
        row["one_per_pct"] = 100.0 * (row["played"] - row["split"] - row["missed"]) / max(row["played"], 1)
        out.append(row)
    return out


def _scores(row: list[int]) -> str:
    """``n: by cuts / whole`` (% right) of one group of split sentences."""
    n, cuts, whole = row
    return f"{n}: {100.0 * cuts / n:.1f}/{100.0 * whole / n:.1f}" if n else "0: -"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks.vad_splits``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.vad_splits", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="emodb", help="held-out corpus whose speakers make the sessions")
    parser.add_argument("--speakers", type=int, default=10, help="at most this many speakers (default 10)")
    parser.add_argument("--per-class", type=int, default=5, help="sentences per class and speaker (default 5)")
    parser.add_argument("--levels", type=float, nargs="+", default=[-20.0, -30.0, -40.0], metavar="DBFS")
    parser.add_argument("--floors", nargs="+", type=floor_argument,
                        default=["silence", "pink:-60", "white:-50", "fan:-45"], metavar="FLOOR",
                        help="'silence' or NOISE:DBFS with NOISE white, pink or fan")
    parser.add_argument("--seed", type=int, nargs="+", default=[0], metavar="SEED",
                        help="seed of the sentences and the floor noise (default 0); several: their sessions pooled")
    parser.add_argument("--model", metavar="M.skops",
                        help="a loco fold model without the corpus: also score the split sentences by cuts and whole")
    add_vad_arguments(parser)  # the VAD options of ser-live, e.g. --hangover-ms 600 --max-vad-gain-db 0
    return parser


def main(argv: list[str] | None = None) -> int:
    """Print one line per condition; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = vad_config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    problem = corpora_problem([args.corpus])  # an unknown or missing corpus: one line, not a traceback
    if problem:
        print(problem[1], file=sys.stderr)
        return problem[0]
    default = asdict(VadConfig())
    changed = [f"{name}={value}" for name, value in asdict(config).items() if value != default[name]]
    start = time.perf_counter()
    model = None
    if args.model:
        from ser_live.model import EmotionModel

        model = EmotionModel.load(args.model)
    rows = pool_rows([count_cuts(args.corpus, levels=args.levels, floors=args.floors, speakers=args.speakers,
                                 per_class=args.per_class, config=config, model=model, seed=seed)
                      for seed in args.seed])
    print(f"{args.corpus}: {args.speakers} speakers at most, {args.per_class} per class, seeds "
          f"{' '.join(map(str, args.seed))}; VAD changes: "
          f"{' '.join(changed) or 'none'}")
    print(f"{'condition':24s} {'played':>6s} {'cuts':>5s} {'split':>5s} {'missed':>6s} {'merged':>6s} "
          f"{'spurious':>8s} {'one cut':>7s}  pause s: split p50/p90, next sentence p10/p50, split >= next p10"
          + ("; split sentences n: % right by cuts / whole, pauses <= join / longer" if model is not None else ""))
    for row in rows:
        line = (f"{row['condition']:24s} {row['played']:6d} {row['cuts']:5d} {row['split']:5d} {row['missed']:6d} "
                f"{row['merged']:6d} {row['spurious']:8d} {row['one_per_pct']:6.1f}%  {_pauses(row)}")
        if "split_scores" in row:
            line += "; " + " / ".join(_scores(row["split_scores"][k]) for k in ("joined", "apart"))
        print(line)
    if model is not None:
        total = {k: [sum(r["split_scores"][k][i] for r in rows) for i in range(3)] for k in ("joined", "apart")}
        print(f"{'all conditions':24s} split sentences n: % right by cuts / whole, pauses <= join / longer: "
              + " / ".join(_scores(total[k]) for k in ("joined", "apart")))
    print(f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

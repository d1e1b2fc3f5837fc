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
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
import time
from typing import Any

import numpy as np

from benchmarks.live_offline import Condition, _parse_floor, match_results, speaker_session, speaker_sets
from ser_live.vad import VadConfig, add_vad_arguments, segment_signal, vad_config_from_args

SAMPLE_RATE = 16000


def count_cuts(corpus: str, *, levels: list[float], floors: list[str], speakers: int, per_class: int,
               config: VadConfig) -> list[dict[str, Any]]:
    """Cut every session of ``corpus`` at each level and floor; one row per condition.

    Returns:
        dicts with ``condition`` (str), ``played``, ``cuts``, ``split``, ``missed``, ``merged``,
        ``spurious`` (int counts), ``one_per_pct`` (float, % of played sentences with exactly
        one cut), ``pause_split_s`` and ``pause_next_s`` (float arrays, s: from each cut's last
        voiced sample to the next cut's first sample, when both cuts belong to one sentence, and
        when they belong to consecutive sentences).
    """
    sets = speaker_sets(corpus, per_class=per_class, speakers=speakers)
    rows = []
    for level in levels:
        for floor in floors:
            cond = Condition(level, _parse_floor(floor))
            played = cuts = split = missed = merged = spurious = 0
            pause_split: list[float] = []
            pause_next: list[float] = []
            for items in sets.values():
                session = speaker_session([path for path, _ in items], cond)
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
            rows.append({"condition": cond.name, "played": played, "cuts": cuts, "split": split,
                         "missed": missed, "merged": merged, "spurious": spurious,
                         "one_per_pct": 100.0 * (played - split - missed) / max(played, 1),
                         "pause_split_s": np.array(pause_split), "pause_next_s": np.array(pause_next)})
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


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks.vad_splits``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.vad_splits", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="emodb", help="held-out corpus whose speakers make the sessions")
    parser.add_argument("--speakers", type=int, default=10, help="at most this many speakers (default 10)")
    parser.add_argument("--per-class", type=int, default=5, help="sentences per class and speaker (default 5)")
    parser.add_argument("--levels", type=float, nargs="+", default=[-20.0, -30.0, -40.0], metavar="DBFS")
    parser.add_argument("--floors", nargs="+", default=["silence", "pink:-60", "white:-50", "fan:-45"],
                        metavar="FLOOR", help="'silence' or NOISE:DBFS with NOISE white, pink or fan")
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
    default = asdict(VadConfig())
    changed = [f"{name}={value}" for name, value in asdict(config).items() if value != default[name]]
    start = time.perf_counter()
    rows = count_cuts(args.corpus, levels=args.levels, floors=args.floors, speakers=args.speakers,
                      per_class=args.per_class, config=config)
    print(f"{args.corpus}: {args.speakers} speakers at most, {args.per_class} per class; VAD changes: "
          f"{' '.join(changed) or 'none'}")
    print(f"{'condition':24s} {'played':>6s} {'cuts':>5s} {'split':>5s} {'missed':>6s} {'merged':>6s} "
          f"{'spurious':>8s} {'one cut':>7s}  pause s: split p50/p90, next sentence p10/p50, split >= next p10")
    for row in rows:
        print(f"{row['condition']:24s} {row['played']:6d} {row['cuts']:5d} {row['split']:5d} {row['missed']:6d} "
              f"{row['merged']:6d} {row['spurious']:8d} {row['one_per_pct']:6.1f}%  {_pauses(row)}")
    print(f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the conversation's audio costs a held-out voice, one ingredient at a time (issue 25's
live-vs-offline gap).

``python -m benchmarks.conversations`` plays each held-out speaker's files into a conversation:
every file trimmed to its speech, levelled to -26 dBFS (loud-frame level, each utterance on its
own), with pauses over a white floor at -60 dBFS. Its "played spans" column scores each played
utterance's span of that audio as ``predict`` scores a file, against the clean files
(``--sessions``). This bench takes the same speakers and files (:func:`corpus_speakers`, the
harness's seed) and adds the conversation's ingredients one at a time, each utterance written
as its own WAV file with half a second of pause on each side and classified by ``predict`` with
the true speakers as sessions (settled statistics), by the corpus's ``loco`` fold model:

1. ``files``: the corpus files as they are (the harness's offline column);
2. ``trimmed``: each file's speech span (:func:`train.sessions.corpus_utterances`, the trim
   the harness applies) between pauses of digital silence, at its recorded level;
3. ``speaker level``: as 2, each speaker's utterances scaled by one gain that puts their median
   loud-frame level at ``--level-dbfs`` (the speaker's loudness between emotions kept);
4. ``speaker level + floor``: as 3, over the floor (``--floor``, ``--floor-dbfs`` RMS) under
   the pauses and the speech alike;
5. ``each utterance levelled + floor``: each utterance levelled on its own to ``--level-dbfs``,
   over the floor: the conversation harness's audio.

Run: ``python -m benchmarks.audio_cost --models-dir DIR`` (DIR as ``benchmarks.conversations``
takes it: ``DIR/<corpus>.skops``; about 10 s per corpus).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .common import run_table_bench, table_parser
from .conversations import (
    DEFAULT_CORPORA, FLOOR_DBFS, LEVEL_DBFS, Settings, corpus_speakers, fold_model_path, loud_dbfs, progress, ua_pct,
)

#: The variants, in the order they add an ingredient (module doc).
VARIANTS = ("files", "trimmed", "speaker level", "speaker level + floor", "each utterance levelled + floor")
#: Pause written before and after each utterance (s).
PAD_S = 0.5


def placed(y: np.ndarray, *, gain_db: float, floor: np.ndarray | None, floor_dbfs: float) -> np.ndarray:
    """``y`` (float32, shape (n,)) scaled by ``gain_db`` between :data:`PAD_S` pauses, plus
    ``floor`` (unit-RMS noise of at least the padded length) at ``floor_dbfs`` RMS when given;
    int16, shape (n + 2 * pad,)."""
    from ser_live.audiofile import to_int16

    pad = np.zeros(int(PAD_S * 16000), dtype=np.float64)
    s = np.concatenate([pad, np.asarray(y, dtype=np.float64) * 10.0 ** (gain_db / 20.0), pad])
    if floor is not None:
        s = s + floor[: len(s)] * 10.0 ** (floor_dbfs / 20.0)
    return to_int16(s.astype(np.float32))


def run(settings: Settings, *, level_dbfs: float = LEVEL_DBFS, floor: str = "white",
        floor_dbfs: float = FLOOR_DBFS, speakers: int | None = None) -> dict[str, Any]:
    """UA (%) of each corpus's harness utterances in every variant (module doc).

    Parameters
    ----------
    settings : Settings
        ``corpora``, ``n_utterances``, ``seed``, ``models_dir`` as the harness reads them.
    level_dbfs, floor_dbfs : float
        Speech loud-frame level and floor RMS level (dBFS).
    floor : {"white", "pink", "fan"}
        The floor's noise (:func:`benchmarks.live_offline.floor_noise`).
    speakers : int, optional
        The first so many speakers of each corpus only (a quick run).

    Returns
    -------
    dict
        ``rows``: ``{"corpus", "speakers", "utterances", <variant>: UA}``; ``variants``;
        ``failed``: per corpus and variant the utterances ``predict`` refused (scored wrong).

    Raises
    ------
    FileNotFoundError
        A fold model missing from ``settings.models_dir``.
    """
    from ser_live.audiofile import write_wav
    from ser_live.model import EmotionModel
    from ser_live.offline import Predictor
    from train.sessions import corpus_utterances

    from .live_offline import floor_noise

    rows, failed = [], {}
    for corpus in settings.corpora:
        predictor = Predictor(EmotionModel.load(fold_model_path(corpus, settings)))
        spk = corpus_speakers(corpus, n_utterances=settings.n_utterances, seed=settings.seed)
        names = sorted(spk)[:speakers] if speakers else sorted(spk)
        paths: dict[str, list[str]] = {v: [] for v in VARIANTS}
        truth, owner = [], []
        with tempfile.TemporaryDirectory(prefix="audio-cost-") as tmp:
            for si, s in enumerate(names):
                items = spk[s]["items"]
                utts = list(corpus_utterances([p for p, _ in items]))
                g_spk = level_dbfs - float(np.median([loud_dbfs(u) for u in utts]))
                for k, ((p, lab), u) in enumerate(zip(items, utts)):
                    rng_seed = settings.seed * 100000 + si * 1000 + k
                    noise = floor_noise(floor, len(u) + 2 * int(PAD_S * 16000), seed=rng_seed)
                    audio = {
                        "trimmed": placed(u, gain_db=0.0, floor=None, floor_dbfs=floor_dbfs),
                        "speaker level": placed(u, gain_db=g_spk, floor=None, floor_dbfs=floor_dbfs),
                        "speaker level + floor": placed(u, gain_db=g_spk, floor=noise, floor_dbfs=floor_dbfs),
                        "each utterance levelled + floor": placed(u, gain_db=level_dbfs - loud_dbfs(u), floor=noise,
                                                                  floor_dbfs=floor_dbfs),
                    }
                    paths["files"].append(str(p))
                    for v, y in audio.items():
                        out = Path(tmp) / f"{v.replace(' ', '_').replace('+', 'and')}-{si}-{k}.wav"
                        write_wav(out, y)
                        paths[v].append(str(out))
                    truth.append(lab)
                    owner.append(s)
                progress(f"{corpus} {s}: {len(items)} utterances")
            labels: dict[str, list[str | None]] = {}
            for v in VARIANTS:
                sessions = dict(zip(paths[v], owner))
                got = [r if not isinstance(r, Exception) else None
                       for _, r in predictor.process_files(paths[v], sessions=sessions, errors="return")]
                failed[f"{corpus} {v}"] = sum(r is None for r in got)
                labels[v] = [r.label if r is not None else None for r in got]
        rows.append({"corpus": corpus, "speakers": len(names), "utterances": len(truth),
                     **{v: ua_pct(truth, labels[v]) for v in VARIANTS}})
    return {"rows": rows, "variants": list(VARIANTS), "failed": failed,
            "level_dbfs": level_dbfs, "floor": floor, "floor_dbfs": floor_dbfs,
            "command": "python -m benchmarks.audio_cost " + " ".join(sys.argv[1:])}


def markdown(res: dict[str, Any]) -> list[str]:
    """:func:`run`'s result as a Markdown table."""
    vs = res["variants"]
    lines = ["| corpus | speakers (utterances) | " + " | ".join(vs) + " |", "|" + "---|" * (2 + len(vs))]
    for r in res["rows"]:
        lines.append(f"| {r['corpus']} | {r['speakers']} ({r['utterances']}) | "
                     + " | ".join(f"{r[v]:.1f}" for v in vs) + " |")
    bad = {k: n for k, n in res["failed"].items() if n}
    lines += ["", f"UA (%), the true speakers as sessions, the corpus's loco fold model; speech at "
              f"{res['level_dbfs']:g} dBFS, floor {res['floor']} at {res['floor_dbfs']:g} dBFS."
              + (f" Refused by predict (scored wrong): {bad}." if bad else "")]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.audio_cost [options]``: prints the table (and writes ``--json``);
    returns the exit status (0; 2 a fold model missing or a --json that cannot be written; 3 a
    corpus not found)."""
    p = table_parser("python -m benchmarks.audio_cost", __doc__.split("\n")[0], DEFAULT_CORPORA,
                     models_dir=Settings.models_dir)
    p.add_argument("--level-dbfs", type=float, default=LEVEL_DBFS, help="speech loud-frame level (default %(default)s)")
    p.add_argument("--floor", choices=("white", "pink", "fan"), default="white", help="the floor's noise")
    p.add_argument("--floor-dbfs", type=float, default=FLOOR_DBFS, help="floor RMS level (default %(default)s)")
    p.add_argument("--speakers", type=int, default=None, help="the first N speakers of each corpus only")
    args = p.parse_args(argv)
    s = Settings(corpora=tuple(args.corpora), seed=args.seed, models_dir=args.models_dir)
    return run_table_bench(args.corpora, args.json, lambda: run(
        s, level_dbfs=args.level_dbfs, floor=args.floor, floor_dbfs=args.floor_dbfs, speakers=args.speakers), markdown)

if __name__ == "__main__":
    raise SystemExit(main())

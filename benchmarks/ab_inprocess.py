"""``python -m benchmarks.ab_inprocess OTHER``: this checkout's ``ser_live`` against another
checkout's (e.g. main's), imported side by side in one process, on the same utterances.

On a shared machine the other jobs move wall-clock and even thread-CPU times of two runs
made a minute apart more than a change of a few percent does; here both packages process
each utterance in turn (alternating which goes first), so both see the same load. The other
checkout's ``ser_live`` package is copied to a temporary folder as ``ser_live_other`` (the
package imports itself relatively) and both load the same model file.

Per 4 s utterance of RAVDESS and EmoDB speech (cropped or joined, as the ``processing``
section makes them), thread CPU time (``time.thread_time``, ms) of:

- ``extract``: the model's extractor (the columns the model reads);
- ``classify``: ``predict_features`` of those features, each utterance its own session;
- ``live``: what the live worker does per utterance with a session: ``session.update``,
  ``predict_features(session=...)``, and the session revision's re-scoring of the session's
  earlier utterances (up to :data:`ser_live.revision.REVISE_UTTERANCES`, here all utterances
  of the run so far up to that many);
- ``total``: extract + classify.

Reports min / p50 / p95 of each and the median of the per-utterance ratio this / other, and
checks on every utterance that the features (the columns the model reads) are bit-identical
and the probabilities (own session, live session, revision) identical; exit status 1 when
they are not.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ser_live.types import latency_stats

from .common import REPO_ROOT, SR, corpus_utterances, float_above, int_at_least, load_corpora, to_int16

#: Name the other checkout's package is imported under.
OTHER = "ser_live_other"


def _import_other(checkout: Path, workdir: Path):
    """The other checkout's ``ser_live`` imported as :data:`OTHER` (a copy in ``workdir``)."""
    src = checkout / "ser_live"
    if not (src / "__init__.py").is_file():
        raise SystemExit(f"{checkout} has no ser_live package")
    shutil.copytree(src, workdir / OTHER, ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(workdir))
    return importlib.import_module(OTHER)


def _utterances(n: int, seed: int, duration_s: float) -> list[np.ndarray]:
    """``n`` int16 utterances of ``duration_s`` of RAVDESS and EmoDB speech, alternating."""
    corpora = load_corpora()
    rng = np.random.default_rng(seed)
    rav = [corpora.ravdess[i].path for i in rng.choice(len(corpora.ravdess), n, replace=False)]
    emo = [corpora.emodb[i].path for i in rng.choice(len(corpora.emodb), n, replace=False)]
    segs = [s for pair in zip(corpus_utterances(rav), corpus_utterances(emo)) for s in pair]
    need = int(round(duration_s * SR))
    out, cur = [], 0
    for _ in range(n):
        parts, have = [], 0
        while have < need:
            parts.append(segs[cur % len(segs)])
            have += len(parts[-1])
            cur += 1
        out.append(to_int16(np.concatenate(parts)[:need]))
    return out


def _stats(v: list[float]) -> str:
    lat = latency_stats(v)  # the project's one p50/p95
    return f"{min(v):6.3f} / {lat['p50']:6.3f} / {lat['p95']:6.3f}"


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.ab_inprocess OTHER [options]``: prints the A/B table; returns 0
    (options out of range are usage errors, ``SystemExit(2)``)."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ab_inprocess", description=__doc__.split("\n\n")[0])
    ap.add_argument("other", type=Path, help="the other checkout (e.g. /work/main)")
    ap.add_argument("--model", type=Path, default=REPO_ROOT / "models" / "ser-default.npz")
    # at least one each, a length above 0: else an IndexError, a ValueError of min() or of concatenate
    ap.add_argument("--utterances", type=int_at_least(1), default=40)
    ap.add_argument("--rounds", type=int_at_least(1), default=6)
    ap.add_argument("--duration", type=float_above(0), default=4.0, help="utterance length (s)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import ser_live
    from ser_live.runtime import tune_process

    tune_process()
    with tempfile.TemporaryDirectory() as tmp:
        other = _import_other(args.other.resolve(), Path(tmp))
        mods = {"this": importlib.import_module("ser_live.model"), "other": importlib.import_module(f"{OTHER}.model")}
        rev = {"this": importlib.import_module("ser_live.revision"),
               "other": importlib.import_module(f"{OTHER}.revision")}
        models = {k: m.EmotionModel.load(args.model) for k, m in mods.items()}
        print(f"this:  {Path(ser_live.__file__).parent}\nother: {args.other} (as {OTHER}, from {other.__file__})")
        print(f"model: {args.model}; {args.utterances} utterances of {args.duration:g} s x {args.rounds} rounds")
        utts = _utterances(args.utterances, args.seed, args.duration)
        for m in models.values():  # warm-up, as the Recognizer does
            m.predict_features(m.extractor.extract(utts[0]))
        until = rev["this"].REVISE_UTTERANCES
        keys = ("extract", "classify", "live", "total")
        t: dict[str, dict[str, list[float]]] = {k: {x: [] for x in keys} for k in models}
        same = True
        tt = time.thread_time
        for r in range(args.rounds):
            sessions = {k: m.new_session() for k, m in models.items()}
            seen: dict[str, list[np.ndarray]] = {k: [] for k in models}
            for i, y in enumerate(utts):
                order = ("this", "other") if (i + r) % 2 == 0 else ("other", "this")
                got = {}
                for k in order:
                    m, s = models[k], sessions[k]
                    c0 = tt()
                    x = m.extractor.extract(y)
                    c1 = tt()
                    p = m.predict_features(x)
                    c2 = tt()
                    s.update(x)
                    q = m.predict_features(x, session=s)
                    seen[k].append(x)
                    prev = seen[k][-until:-1]
                    P = m.predict_proba(np.stack(prev), session=s) if prev else np.zeros((0, len(m.labels)))
                    c3 = tt()
                    t[k]["extract"].append((c1 - c0) * 1e3)
                    t[k]["classify"].append((c2 - c1) * 1e3)
                    t[k]["live"].append((c3 - c2) * 1e3)
                    t[k]["total"].append((c2 - c0) * 1e3)
                    got[k] = (x, p, q, P)
                cols = models["this"].extractor.columns
                xa, xb = got["this"][0], got["other"][0]
                if cols is not None:
                    xa, xb = xa[cols], xb[cols]
                if not (np.array_equal(xa.view(np.uint32), xb.view(np.uint32))
                        and got["this"][1].probabilities == got["other"][1].probabilities
                        and got["this"][2].probabilities == got["other"][2].probabilities
                        and np.array_equal(got["this"][3], got["other"][3])):
                    same = False
        print("\nthread CPU per utterance, ms: min / p50 / p95; ratio = median of this/other per utterance")
        print(f"{'':10s} {'other':>26s} {'this':>26s}  ratio")
        for x in keys:
            ratio = np.median(np.asarray(t["this"][x]) / np.maximum(np.asarray(t["other"][x]), 1e-9))
            print(f"{x:10s} {_stats(t['other'][x]):>26s} {_stats(t['this'][x]):>26s}  {ratio:.3f}")
        print(f"\nfeatures (model's columns) bit-identical and probabilities identical: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

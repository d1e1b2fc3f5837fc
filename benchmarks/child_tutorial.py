"""``python -m benchmarks.child_tutorial MODEL.joblib UTTERANCES.npz REPEATS``: time the
tutorial recipe in a fresh interpreter (default BLAS threads and allocator, as a tutorial
script runs). Prints one JSON line: milliseconds per utterance, keyed by duration.

Run by :mod:`benchmarks.processing`; imports nothing of ``ser_live``.
"""

from __future__ import annotations

import json
import sys
import time

import joblib
import numpy as np

from train.tutorial import tutorial_features


def main(argv: list[str]) -> int:
    est = joblib.load(argv[0])
    data = np.load(argv[1])
    repeats = int(argv[2])
    keys = sorted(data.files, key=float)
    scale = np.float32(32768.0)
    est.predict_proba(tutorial_features(data[keys[0]][0].astype(np.float32) / scale)[None])  # warm-up
    out: dict[str, list[float]] = {k: [] for k in keys}
    for _ in range(repeats):
        for k in keys:
            for x in data[k]:
                y = x.astype(np.float32) / scale
                t0 = time.perf_counter()
                est.predict_proba(tutorial_features(y)[None])
                out[k].append((time.perf_counter() - t0) * 1e3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

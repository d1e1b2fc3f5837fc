"""``python -m benchmarks.child_startup MODEL_CLASS MODEL_PATH MODULE...``: a warm start-up of
the listening path, step by step. Prints one JSON line: ``t`` (step name, ``time.time()``
when it ended) and the heavy modules that got imported (scikit-learn, skops and
``scipy.fft`` among them: the listening path of a model with its ``.npz`` imports none).

Run by :mod:`benchmarks.startup`, which gives the module names and the model class
(``module:attribute``), so this file names no ``ser_live`` module itself.
"""

from __future__ import annotations

import time

t = [("interpreter", time.time())]

import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402


def main(argv: list[str]) -> int:
    model_class, model_path, *modules = argv
    import numpy

    t.append(("numpy", time.time()))
    for name in modules:  # the listening path imports what it needs (no scipy.fft, sklearn, skops)
        importlib.import_module(name)
    t.append(("ser_live modules", time.time()))
    mod, attr = model_class.split(":")
    model = getattr(importlib.import_module(mod), attr).load(model_path or None)
    t.append(("model load", time.time()))
    model.extractor.warmup()
    model.predict_signal(numpy.zeros(16000, numpy.float32))
    t.append(("warm-up", time.time()))
    heavy = sorted(k for k in ("sklearn", "skops", "scipy.fft", "scipy.stats", "librosa", "numba", "pandas",
                               "matplotlib", "torch") if k in sys.modules)
    print(json.dumps({"t": t, "heavy_modules": heavy}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

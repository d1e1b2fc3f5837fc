"""ser-live's benchmarks: speed, memory and scale, measured on real speech.

Outside the runtime package (as scikit-learn's ``asv_benchmarks/``): run from a source
checkout with the ``bench`` extra (``pip install -e '.[bench]'``)::

    python -m benchmarks [--quick] [--only SECTION ...]

Sections, one module each: :mod:`~benchmarks.processing`, :mod:`~benchmarks.listening`
(``listen``), :mod:`~benchmarks.startup`, :mod:`~benchmarks.throughput`,
:mod:`~benchmarks.soak`; shared parts in :mod:`~benchmarks.common`. JSON and Markdown
reports go to ``bench-results/``.
"""

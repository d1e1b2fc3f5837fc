"""The training and evaluation workspace of ser-live (``python -m train``; not installed with
the runtime)."""

from pathlib import Path

#: The repository's root folder, the one ``train/`` lies in: where reports, recipes and the
#: shipped models are read and written.
REPO = Path(__file__).resolve().parent.parent

#: Where evaluation reports are written and model cards read them from (``reports/``).
REPORTS = REPO / "reports"

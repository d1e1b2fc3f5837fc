"""The runtime package stands alone: importing every ``ser_live`` module imports nothing from
``train/`` or ``benchmarks/`` (issue 9), and the benchmark is not part of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# ser_live.__main__ is the program itself (it runs the CLI when imported), so it is not imported.
_PROBE = """
import json, pkgutil, sys
import ser_live
names = [m.name for m in pkgutil.walk_packages(ser_live.__path__, "ser_live.") if m.name != "ser_live.__main__"]
for n in names:
    __import__(n)
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("train", "benchmarks"))
print(json.dumps({"imported": names, "leaked": leaked}))
"""


def test_importing_every_ser_live_module_imports_no_train_or_benchmarks_module():
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, cwd=REPO_ROOT,
                         timeout=300, check=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"ser_live.cli", "ser_live.model", "ser_live.features", "ser_live.pipeline"} <= set(info["imported"])
    assert info["leaked"] == []


def test_the_benchmark_is_not_in_the_runtime_package():
    assert not (REPO_ROOT / "ser_live" / "bench.py").exists()
    assert (REPO_ROOT / "benchmarks" / "__main__.py").exists()


def test_loading_a_model_does_not_import_pytorch():
    """skops.io's estimator walk would import PyTorch through scikit-learn's array-API
    adapter whenever it is installed (the ``deep`` extra): seconds of start-up for nothing."""
    import importlib.util

    import pytest

    if importlib.util.find_spec("torch") is None:
        pytest.skip("PyTorch is not installed here: nothing could import it")
    probe = ("import sys; from ser_live.model import EmotionModel; m = EmotionModel.load(); "
             "m.predict_signal(__import__('numpy').full(16000, 0.01, 'float32')); "
             "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT,
                         timeout=300, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr


#: Shared vocabulary (issue 9 item 5) -> a regular expression matching a definition of it.
#: Each must be defined exactly once in the tree (tests included).
_SHARED_DEFINITIONS: dict[str, str] = {
    "canonical labels": r"^\s*_?CANONICAL_LABELS\b[^=\n]*=",
    "core labels": r"^\s*_?CORE_LABELS\b[^=\n]*=",
    "label synonyms": r"^\s*_?(LABEL_SYNONYMS|ALIASES)\b[^=\n]*=",
    "canonical_label": r"^\s*def canonical_label\b",
    "RAVDESS emotion codes": r"[\"']0?8[\"']\s*:\s*[\"']surprised[\"']",
    "data root": r"^(?!\s*assert).*[\"']shared[\"']\s*/\s*[\"']data[\"']",
    "latency stats": r"^\s*def latency_stats\b|[\"']p95[\"']:\s*(round\()?float\(np\.percentile",
    "JSON line": r"^\s*def json_line\(record\b|json\.dumps\([\w.]+(\([^()]*\))?\)\s*\+\s*[\"']\\n",
    "session builder": r"^\s*def (build_session|_session)\b",
    "arousal table": r"^\s*_?AROUSAL\b[^=\n]*=",
    "arousal positions": r"[\"']neutral[\"']\s*:\s*-1\b",  # a copy of the table under another name
    "valence table": r"^\s*_?VALENCE\b[^=\n]*=",
    "valence positions": r"[\"']happy[\"']\s*:\s*1\s*,\s*[\"']calm[\"']\s*:\s*1\b",
    "arousal/valence from probabilities": r"^\s*def affect_scores\b",
}


def _definitions(pattern: str) -> list[str]:
    import re

    rx = re.compile(pattern, re.M)
    hits = []
    for folder in ("ser_live", "train", "benchmarks", "tests"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            if path.name == "test_layout.py":
                continue
            text = path.read_text(encoding="utf-8")
            hits += [f"{path.relative_to(REPO_ROOT)}:{text.count(chr(10), 0, m.start()) + 1}" for m in rx.finditer(text)]
    return hits


def test_shared_vocabulary_has_one_definition_each():
    """Labels, the RAVDESS code table, the data root, latency percentiles, JSON lines, the
    session builder and the arousal/valence mapping (ser_live/affect.py, issue 25) are each
    defined once; a second copy drifts (issue 9 item 5)."""
    found = {name: _definitions(rx) for name, rx in _SHARED_DEFINITIONS.items()}
    assert all(found.values()), {k: v for k, v in found.items() if not v}  # the patterns still match
    assert {k: v for k, v in found.items() if len(v) > 1} == {}


def test_the_dashboard_keeps_the_recognisers_status_record_not_a_copy_of_its_fields():
    """One status record (issue 9 item 5): the dashboard holds a RecognizerStatus and reads
    its fields from it, rather than a parallel set of attributes."""
    from dataclasses import fields

    from ser_live.dashboard import DashboardState
    from ser_live.types import RecognizerStatus

    state = DashboardState(labels=["angry", "sad"], model_name="m", source_name="s")
    state.set_status(RecognizerStatus(level_dbfs=-20.0, stream_s=3.0), alert="x")
    names = {f.name for f in fields(RecognizerStatus)}
    assert names.isdisjoint(vars(state)), sorted(names & set(vars(state)))
    assert state.status.level_dbfs == state.level_dbfs == -20.0 and state.stream_s == 3.0


#: The one-path rule (issue 19): what turns features into probabilities is applied only inside
#: the model object. Per rule: a regex over the source of ``ser_live/`` and ``train/``, and
#: the files allowed to match it (the model object, its compiled arrays form
#: ``ser_live/fastpath.py``, and the module defining the thing).
_ONE_PATH_RULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "session normaliser transform": (
        r"\b\w*(norm|normalizer|state|session)\w*\.transform\(|\bonline_transform\(",
        ("ser_live/estimator.py", "ser_live/normalize.py", "ser_live/fastpath.py"),
    ),
    "noise route routing": (r"\.noisy\(", ("ser_live/estimator.py", "ser_live/route.py", "ser_live/fastpath.py")),
    "profile recalibration": (r"\b(adapt_log_proba|fit_score_affine)\(", ("ser_live/estimator.py", "ser_live/fastpath.py")),
}


def _one_path_matches(root: Path) -> dict[str, list[str]]:
    """Per rule, every ``path:line`` of ``root/ser_live`` and ``root/train`` matching it (code
    only: comments and docstring prose lines starting with a word are skipped)."""
    import re

    found: dict[str, list[str]] = {rule: [] for rule in _ONE_PATH_RULES}
    for path in sorted([*(root / "ser_live").rglob("*.py"), *(root / "train").rglob("*.py")]):
        rel = path.relative_to(root).as_posix()
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if not code.strip() or "``" in code or ":meth:" in code or ":func:" in code:
                continue
            for rule, (pattern, _allowed) in _ONE_PATH_RULES.items():
                if re.search(pattern, code):
                    found[rule].append(f"{rel}:{n}")
    return found


def test_one_path_rule_the_model_object_alone_normalises_routes_and_recalibrates():
    found = _one_path_matches(REPO_ROOT)
    for rule, (_pattern, allowed) in _ONE_PATH_RULES.items():
        outside = [hit for hit in found[rule] if hit.split(":")[0] not in allowed]
        assert outside == [], f"{rule} applied outside the model object (ser_live/fastpath.py): {outside}"
        # the pattern finds the model object's own calls, so it would find a copy elsewhere too
        assert any(hit.startswith("ser_live/fastpath.py:") for hit in found[rule]), rule

"""The README's Architecture section names every runtime module, and nothing that is gone."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _architecture_section() -> str:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Architecture\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_architecture_section_lists_exactly_the_runtime_modules():
    named = set(re.findall(r"`ser_live/(\w+)(?:\.py|/)`", _architecture_section()))  # modules and packages
    present = {p.stem for p in (REPO_ROOT / "ser_live").glob("*.py") if not p.stem.startswith("__")}
    present |= {p.parent.name for p in (REPO_ROOT / "ser_live").glob("*/__init__.py")}
    assert present - named == set(), f"modules missing from README's Architecture: {sorted(present - named)}"
    assert named - present == set(), f"README's Architecture names modules that do not exist: {sorted(named - present)}"

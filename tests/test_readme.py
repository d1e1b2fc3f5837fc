"""The architecture notes (docs/architecture.md, linked from the README) name every runtime
module, and nothing that is gone; the README's exit-code table is the error table."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _architecture_section() -> str:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/architecture.md)" in readme, "the README links the architecture notes"
    return (REPO_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_architecture_section_lists_exactly_the_runtime_modules():
    named = set(re.findall(r"`ser_live/((?:\w+/)?\w+)\.py`", _architecture_section()))
    named |= {f"{pkg}/__init__" for pkg in re.findall(r"`ser_live/(\w+)/__init__\.py`", _architecture_section())}
    root = REPO_ROOT / "ser_live"
    present = {p.relative_to(root).with_suffix("").as_posix() for p in [*root.glob("*.py"), *root.glob("*/*.py")]
               if p.stem != "__main__" and (p.stem != "__init__" or p.parent != root)}
    # a package named as a whole (`ser_live/features/`) stands for every module in it
    for pkg in re.findall(r"`ser_live/(\w+)/`", _architecture_section()):
        present = {m for m in present if not m.startswith(pkg + "/")} | {pkg + "/"}
        named.add(pkg + "/")
    assert present - named == set(), f"modules missing from docs/architecture.md: {sorted(present - named)}"
    assert named - present == set(), f"docs/architecture.md names modules that do not exist: {sorted(named - present)}"


def test_exit_codes_in_readme_and_help_are_the_error_table():
    """README's exit-code table and `ser-live --help` are the table in ser_live/errors.py."""
    from ser_live.cli import main
    from ser_live.errors import EXIT_CODES, exit_codes_help, exit_codes_markdown

    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert exit_codes_markdown() in text
    rows = re.findall(r"^\| (\d+) \|", text[text.index("| exit | meaning |"):].split("\n\n")[0], re.M)
    assert [int(r) for r in rows] == [int(c) for c in EXIT_CODES] and 8 in {int(r) for r in rows}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--help"]) == 0
    assert exit_codes_help() in out.getvalue()
    for code, (short, _) in EXIT_CODES.items():
        assert f"  {int(code):<4d} {short}" in out.getvalue()


def test_the_first_screen_says_what_a_new_voice_gets_and_what_the_bundled_data_is():
    """Issue 24: within the first screen (40 lines) the honest new-voice number (the committed
    `loco` report's mean UA, with its command and chance level) and the caveat that the bundled
    corpora and the demo are training data; the user guide up to the Python API in ~250 lines."""
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    screen = " ".join(lines[:40])
    (number,) = re.findall(r"\*\*On a voice it has never heard:\*\* ([\d.]+) %", screen)
    report = (REPO_ROOT / "reports" / "loco-ser-default-speaker.md").read_text(encoding="utf-8")
    assert number == re.search(r"\*\*UA ([\d.]+) ±", report).group(1)
    assert "python -m train evaluate --protocol loco" in screen and "chance is 25 %" in screen
    assert "training data" in screen and "demo" in screen
    python_api = next(i for i, line in enumerate(lines) if line == "## Use it from Python")
    assert python_api <= 260, python_api

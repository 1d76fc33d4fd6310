"""Closing checks that can fail: no always-true assert, and every notebook that judges a method
hands its promises to ``checks.verify`` (rules written as functions of the recorded numbers, in
helpers, fed a broken record by a unit test).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# Notebooks that train or fit a method and judge it: their checks must be able to fail on a broken
# record, so they go through checks.verify. The others (tour, data, dashboard) check data and files.
JUDGE_METHODS = ("03", "04", "05", "06", "08", "09", "11", "12", "13")


def _checks_code(nb: nbformat.NotebookNode) -> str:
    """The code cells after the notebook's "## Checks" heading, up to the next heading."""
    out, inside = [], False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heading = re.search(r"^##\s+(.*)$", cell.source, flags=re.M)
            if heading:
                inside = heading.group(1).strip().lower().startswith("checks")
        elif inside:
            out.append(cell.source)
    return "\n".join(out)


def constant_asserts(code: str) -> list[str]:
    """Asserts whose test is a constant, or compares two equal expressions (always true)."""
    tree = ast.parse(code)
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        test = node.test
        if isinstance(test, ast.Constant):
            bad.append(ast.unparse(node))
        elif isinstance(test, ast.Compare) and len(test.comparators) == 1:
            if ast.dump(test.left) == ast.dump(test.comparators[0]):
                bad.append(ast.unparse(node))
    return bad


def test_the_constant_assert_scan_finds_planted_ones():
    assert constant_asserts("assert True\nassert x == x\nassert f(a) == f(a)") == [
        "assert True",
        "assert x == x",
        "assert f(a) == f(a)",
    ]
    assert not constant_asserts("assert x == y\nassert ours > floor")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_checks_use_helpers_checks_and_no_constant_asserts(path):
    code = _checks_code(nbformat.read(path, as_version=4))
    if not code.strip():
        pytest.skip(f"{path.name} has no Checks section")
    clean = "\n".join(ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!")))
    assert path.stem[:2] not in JUDGE_METHODS or "checks.verify(" in clean, (
        f"{path.name}: the Checks section should hand its promises to helpers.core.checks.verify (rules "
        "in a helpers function that a test feeds a broken record)"
    )
    assert not constant_asserts(clean), (
        f"{path.name}: always-true asserts {constant_asserts(clean)}"
    )

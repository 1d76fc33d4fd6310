"""Every committed notebook follows the standard cell order (docs/ARCHITECTURE.md) and carries no outputs."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; strip them (nbstripout)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_standard_cells(path):
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    first = cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), (
        "first cell must be the title"
    )
    assert "Learning goals" in first.source, "title cell must list learning goals"
    assert "run time" in first.source.lower(), "title cell must give the expected run time"
    sources = [c.source for c in cells]
    assert any("eosr:setup" in s for s in sources), "missing the Colab setup cell"
    params = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell must carry the papermill 'parameters' tag"
    assert_plain_parameters(path.name, params[0].source)
    after = cells[cells.index(params[0]) + 1]
    assert "PROFILE = config.get_profile(PROFILE)" in after.source, (
        "the cell after the parameters derives the settings: PROFILE = config.get_profile(PROFILE)"
    )
    md_titles = [
        c.source.splitlines()[0].lower() for c in cells if c.cell_type == "markdown" and c.source
    ]
    assert any(t.startswith("## checks") for t in md_titles), "missing a '## Checks' section"
    assert any(t.startswith("## results record") for t in md_titles), "missing '## Results record'"
    checks_at = next(
        i
        for i, c in enumerate(cells)
        if c.cell_type == "markdown" and c.source.lower().startswith("## checks")
    )
    assert any(
        "assert " in c.source or "checks.verify(" in c.source  # verify raises when a check fails
        for c in cells[checks_at:]
        if c.cell_type == "code"
    ), "checks must assert"
    assert "results.record(" in cells[-1].source or any(
        "results.record(" in c.source for c in cells[checks_at:]
    ), "the notebook must end with a results record"
    assert any("exercise" in c.source.lower() for c in cells if c.cell_type == "markdown"), (
        "missing exercises"
    )


def assert_plain_parameters(name: str, source: str) -> None:
    """Only ``NAME = <literal>`` statements, so that papermill's injected values reach every
    setting (settings derived inside the parameters cell would keep the defaults)."""
    for node in ast.parse(source).body:
        assert isinstance(node, ast.Assign), f"{name}: parameters cell holds {ast.dump(node)[:60]}"
        try:
            ast.literal_eval(node.value)
        except ValueError:
            raise AssertionError(
                f"{name}: parameter {ast.unparse(node)!r} is not a plain value; derive it in the "
                "cell after the parameters"
            ) from None


def test_plain_parameters_check_fails_on_a_derived_setting():
    assert_plain_parameters("ok", 'PROFILE = None\nSEED = 0\nBANDS = ("B04", "B03")')
    with pytest.raises(AssertionError, match="not a plain value"):
        assert_plain_parameters("bad", 'S = config.settings("03_unet_landcover", PROFILE)')


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_profile_parameter_reaches_the_settings(path, monkeypatch):
    """``papermill -p PROFILE smoke`` without EOSR_PROFILE: papermill injects its cell after the
    parameters cell; the settings cell after that must then use smoke settings."""
    import os
    import time

    from papermill.execute import prepare_notebook_metadata
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    from helpers.core import bands, config, labels
    from helpers.data import datasets
    from helpers.training.recipes import gan as gan_recipe

    monkeypatch.delenv("EOSR_PROFILE", raising=False)
    nb = prepare_notebook_metadata(load_notebook_node(str(path)), str(path), "")
    nb = parameterize_notebook(nb, {"PROFILE": "smoke"})  # as papermill.execute_notebook does
    at = next(
        i for i, c in enumerate(nb.cells) if "injected-parameters" in c.metadata.get("tags", [])
    )
    names = {"os": os, "time": time, "config": config, "labels": labels, "datasets": datasets}
    names["bands"] = bands
    names["gan_recipe"] = gan_recipe  # 05's settings cell: the softmax image's seeds
    for cell in nb.cells[at - 1 : at + 2]:  # parameters, injected, settings
        exec(cell.source, names)  # noqa: S102 - the notebook's own first cells
    assert names["PROFILE"] == "smoke"
    table = names.get("S", names.get("SETTINGS"))
    if table is not None:
        assert table == config.settings(path.stem, "smoke")
    else:
        assert path.stem.split("_", 1)[1] in ("setup_and_tour",)


def _published_strings() -> set[str]:
    """Every published value as the source documents print it (38.12, 15.656, ...)."""
    from helpers.records import report

    out = set()
    for row in report.PUBLISHED.values():
        for name, value in row.metrics.items():
            out.add(f"{value:.3f}" if name == "psnr" else f"{100 * value:.2f}")
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_text_retypes_no_published_number_run_time_or_source_file(path):
    """Published numbers come from helpers.records.report.PUBLISHED, run times from the README's table,
    and the source documents are named by title (never by file or as 'seed')."""
    import re

    nb = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    retyped = sorted(v for v in _published_strings() if v in markdown or v in code)
    assert not retyped, (
        f"{path.name} retypes published numbers {retyped}; use helpers.records.report"
    )
    run_time = nb.cells[0].source.lower().split("expected run time", 1)[1].split("\n## ", 1)[0]
    assert "readme" in run_time and not re.search(r"\d+\s*(s|min|minutes?)\b", run_time), (
        f"{path.name}: the expected run time must point to the README's measured table"
    )
    text = markdown + code
    assert not re.search(r"seeds?/|\b\d{3}_[0-9a-f]{16}\.txt|\bseed (document|file|slide)", text)
    assert not re.search(r"\b(the|a) seed('s)?\b(?! \d)(?!s? =)", markdown.lower()), (
        f"{path.name}: call the source documents by title (HR-MARS, PANDA-FINE, DeepLight)"
    )


MAX_CELL_LINES = 30  # a code cell a student reads in one glance; longer: move the loop into helpers


def long_cells(nb: nbformat.NotebookNode, limit: int = MAX_CELL_LINES) -> list[tuple[int, int]]:
    """``(cell index, lines)`` of every code cell longer than ``limit`` lines."""
    return [
        (i, len(c.source.splitlines()))
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and len(c.source.splitlines()) > limit
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_code_cell_is_longer_than_30_lines(path):
    """Notebooks keep explanation and calls; loops and repeated chains live in helpers."""
    found = long_cells(nbformat.read(path, as_version=4))
    assert not found, (
        f"{path.name}: code cells (index, lines) {found} exceed {MAX_CELL_LINES} lines; move the "
        "loop or repeated chain into a helpers function and call it"
    )


def test_long_cell_check_counts_lines_of_code_cells_only():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("\n".join(["text"] * 50)),
        nbformat.v4.new_code_cell("\n".join(["x = 1"] * 30)),
        nbformat.v4.new_code_cell("\n".join(["x = 1"] * 31)),
    ]
    assert long_cells(nb) == [(2, 31)]


def _split_module(chain: str, modules: dict[str, str]) -> tuple[str, str]:
    """``data.scene.Scene`` -> (``data.scene``, ``Scene``): the longest module, then its attribute."""
    parts = chain.split(".")
    for i in range(len(parts) - 1, 0, -1):
        if ".".join(parts[:i]) in modules:
            return ".".join(parts[:i]), parts[i]
    return parts[0], parts[1]


def stale_helpers_names(text: str) -> list[str]:
    """Backticked ``module.name`` references to helpers that do not exist (renamed or moved)."""
    import importlib
    import re

    src = Path(__file__).resolve().parents[1] / "src" / "helpers"
    modules = {}
    for path in src.rglob("*.py"):
        parts = path.relative_to(src).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        if parts:
            modules[".".join(parts)] = "helpers." + ".".join(parts)
            modules.setdefault(parts[-1], "helpers." + ".".join(parts))
    stale = []
    for mod, attr in (
        _split_module(c, modules) for c in re.findall(r"`(?:helpers\.)?([a-z_]\w*(?:\.\w+)+)", text)
    ):
        if mod not in modules or attr in {"jsonl", "json", "md", "html", "tif", "py", "yaml"}:
            continue
        name = modules[mod]
        folder = src.joinpath(*name.split(".")[1:])
        submodule = (folder / f"{attr}.py").exists() or (folder / attr).is_dir()
        if not submodule and not hasattr(importlib.import_module(name), attr):
            stale.append(f"{mod}.{attr}")
    return stale


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_names_helpers_that_exist(path):
    """A refactor that renames a helper updates the notebook text that explains it."""
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    stale = stale_helpers_names(text)
    assert not stale, f"{path.name}: the text names helpers that do not exist: {stale}"


def test_stale_name_check_finds_a_moved_helper():
    assert stale_helpers_names("`dashboard.box_window` and `helpers.models.unet`") == []
    assert stale_helpers_names("see `widgets.box_window` and `results.jsonl`") == [
        "widgets.box_window"
    ]

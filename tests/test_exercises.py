"""The exercises' answers page: every exercise of every notebook has an entry, the page is what
tools/exercise_outcomes.py renders from docs/exercises.json, and every variant can be built."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import exercise_outcomes as eo  # noqa: E402
import exercise_specs  # noqa: E402


@pytest.fixture(scope="module")
def found() -> dict[str, tuple[str, str]]:
    return eo.all_exercises()


@pytest.fixture(scope="module")
def data() -> dict:
    return json.loads(eo.JSON_PATH.read_text())


def test_every_notebook_exercise_is_on_the_page(found, data) -> None:
    page = eo.PAGE_PATH.read_text()
    assert len(found) >= 60, "the exercise lists were not found in the notebooks"
    assert eo.problems(found, data, page) == []


def test_every_exercise_has_a_spec(found) -> None:
    assert sorted(set(found) - set(exercise_specs.SPECS)) == []
    assert sorted(set(exercise_specs.SPECS) - set(found)) == []


def test_a_missing_entry_or_a_stale_page_is_reported(found, data) -> None:
    page = eo.PAGE_PATH.read_text()
    key = next(iter(found))
    broken = copy.deepcopy(data)
    del broken["exercises"][key]
    assert any(key in p and "no entry" in p for p in eo.problems(found, broken, page))
    assert any(
        "not what `render`" in p for p in eo.problems(found, data, page + "\nedited by hand")
    )
    unmeasured = copy.deepcopy(data)
    entry = next(e for e in unmeasured["exercises"].values() if e["kind"] == "variant")
    entry["measurements"]["x"] = {"values": {"iou": 0.5}}  # no profile, commit, machine, command
    assert any("lacks" in p for p in eo.problems(found, unmeasured, eo.render(unmeasured)))


def test_measured_values_are_rendered_beside_their_baseline(data) -> None:
    measured = [
        (k, v, m) for k, e in data["exercises"].items() for v, m in e["measurements"].items()
    ]
    page = eo.render(data)
    for key, _, m in measured:
        assert m["command"] in page and m["commit"] in page, key
        for name, value in m["values"].items():
            if isinstance(value, float):
                assert name in page, (key, name)


def test_every_variant_notebook_can_be_built(tmp_path) -> None:
    for key, spec in exercise_specs.SPECS.items():
        src = next((ROOT / "notebooks").glob(f"{key[:2]}_*.ipynb"))
        for letter, variant in spec.get("variants", {}).items():
            out = tmp_path / f"{key}{letter}" / "out.ipynb"
            out.parent.mkdir()
            built = nbformat.read(
                eo.variant_notebook(src, variant, spec["values"], out), as_version=4
            )
            sources = [c.source for c in built.cells]
            if variant.get("snippet"):
                at = sources.index(variant["snippet"].strip())
                marker = variant.get("after")
                assert marker is None or marker in sources[at - 1], (key, letter)
            assert eo.VALUES_FILE in sources[-1]


def test_a_snippet_marker_that_no_cell_holds_is_an_error(tmp_path) -> None:
    src = next((ROOT / "notebooks").glob("06_*.ipynb"))
    with pytest.raises(SystemExit, match="no code cell contains"):
        eo.variant_notebook(
            src, {"snippet": "x = 1", "after": "no such line"}, {}, tmp_path / "o.ipynb"
        )


def test_exercise_lists_are_parsed_with_their_continuation_lines(tmp_path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "## Exercises\n\n1. First,\n   continued.\n2. Second.\n\n## Checks"
        )
    ]
    path = tmp_path / "99_x.ipynb"
    nbformat.write(nb, path)
    assert eo.exercises_in(path) == [(1, "First, continued."), (2, "Second.")]


@pytest.mark.parametrize(
    "names, seeds",
    [
        ({"SEED": 0, "SEEDS": None, "SEED_LIST": [0, 1, 2]}, [0, 1, 2]),  # notebook 09's way
        ({"SEED": 0, "SEEDS": [0, 1, 2, 3]}, [0, 1, 2, 3]),  # notebook 05's way
        ({"SEED": 4}, [4]),  # one seed
    ],
)
def test_the_seeds_a_run_trained_are_read_from_the_kernel(tmp_path, names, seeds) -> None:
    """The variant notebook's last cell records the seeds the run trained (the page says how many)."""
    src = Path(__file__).resolve().parents[1] / "notebooks" / "09_ntl_ablation.ipynb"
    path = eo.variant_notebook(src, {}, {}, tmp_path / "out.ipynb")
    exec(nbformat.read(path, as_version=4).cells[-1].source, dict(names))
    assert json.loads((tmp_path / eo.SEEDS_FILE).read_text()) == seeds


def test_code_hash_ignores_layout_and_comments_but_not_code() -> None:
    """A re-formatted notebook (``make format``) keeps its measurements; changed code does not."""

    def notebook(*cells: str) -> str:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell("# text")]
        nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
        return nbformat.writes(nb)

    base = eo.code_sha(notebook("x = f(1, 2)", "%matplotlib inline"))
    assert base == eo.code_sha(
        notebook("x = f(\n    1,\n    2,\n)  # a comment", "%matplotlib inline")
    )
    assert base != eo.code_sha(notebook("x = f(1, 3)", "%matplotlib inline"))
    assert base != eo.code_sha(notebook("x = f(1, 2)", "%matplotlib widget"))  # a magic: its text
    assert base != eo.code_sha(notebook("x = f(1, 2)"))


def test_repeats_show_each_seeds_change_and_flag_a_flip() -> None:
    """A variant measured again at other seeds (``run --repeat``) shows, for the results the first
    seed moved most, every seed's change beside its own baseline, their mean and a sign flip."""
    first = {
        "values": {"macro IoU": {"label SR": 0.55, "naive": 0.50}},
        "seeds": [0],
        "repeats": {
            "1": {
                "values": {"macro IoU": {"label SR": 0.40, "naive": 0.52}},
                "baseline_values": {"macro IoU": {"label SR": 0.45, "naive": 0.50}},
                "commit": "abc1234",
                "command": "run 04.3a --seed 1 --repeat",
            },
            "2": {
                "values": {"macro IoU": {"label SR": 0.60, "naive": 0.51}},
                "baseline_values": {"macro IoU": {"label SR": 0.50, "naive": 0.50}},
                "commit": "abc1234",
                "command": "run 04.3a --seed 2 --repeat",
            },
        },
    }
    base = {"macro IoU": {"label SR": 0.35, "naive": 0.50}}
    text = eo.repeat_text(first, base)
    assert "macro IoU: label SR +0.2 (seed 0), -0.05 (seed 1), +0.1 (seed 2)" in text
    assert "mean +0.0833: the sign flips between seeds" in text
    assert "macro IoU: naive +0 (seed 0), +0.02 (seed 1), +0.01 (seed 2), mean +0.01." in text
    assert "--seed 2 --repeat" in text
    assert eo.seed_changes({"a": 1.0, "b": "x"}, {"a": 0.5}) == {"a": 0.5}

"""`make reproduce` end to end on the smallest notebook: new folder per run, executed notebook,
results.jsonl and report.html; a failing notebook is reported, not hidden."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from helpers.apps import cli
from helpers.records import reproduce, results


@pytest.fixture
def runs(monkeypatch, tmp_path):
    monkeypatch.setenv("EOSR_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("EOSR_RUN_DIR", raising=False)
    yield tmp_path / "runs"


def test_two_reproductions_leave_two_complete_run_folders(runs, monkeypatch):
    first = reproduce.reproduce(profile="smoke", notebooks=["00"])
    monkeypatch.delenv("EOSR_RUN_DIR", raising=False)
    second = reproduce.reproduce(profile="smoke", notebooks=["00"])
    assert first != second and first.parent == second.parent == runs
    for run in (first, second):
        executed = nbformat.read(run / "notebooks" / "00_setup_and_tour.ipynb", as_version=4)
        assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code")
        records = results.load(run)
        assert records and records[0]["notebook"] == "00_setup_and_tour"
        assert records[0]["profile"] == "smoke" and records[0]["dataset"] == "sample scene"
        log = results.load_notebook_log(run)
        assert [r["status"] for r in log] == ["ok"]
        assert "00_setup_and_tour" in (run / "report.html").read_text()


def test_a_failing_notebook_is_logged_and_fails_the_command(runs, monkeypatch, tmp_path):
    bad = nbformat.v4.new_notebook()
    bad.cells = [nbformat.v4.new_code_cell('raise RuntimeError("broken on purpose")')]
    bad.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    bad.metadata["language_info"] = {"name": "python"}
    nb_dir = tmp_path / "kit" / "notebooks"
    nb_dir.mkdir(parents=True)
    nbformat.write(bad, nb_dir / "99_broken.ipynb")
    monkeypatch.setattr(results.config, "repo_root", lambda: tmp_path / "kit")
    code = cli.main(["reproduce", "--profile", "smoke"])
    assert code == 1
    run = next(runs.iterdir())
    log = results.load_notebook_log(run)
    assert log[0]["status"] == "failed" and "broken on purpose" in log[0]["error"]
    assert "broken on purpose" in (run / "report.html").read_text()
    assert (
        json.loads((run / results.NOTEBOOK_LOG).read_text().splitlines()[0])["notebook"]
        == "99_broken"
    )


def test_the_dashboard_runs_after_every_other_notebook():
    from helpers.records import reproduce

    order = [p.stem for p in reproduce.notebook_paths()]
    assert order[-1] == "10_results_dashboard"
    assert order[:-1] == sorted(order[:-1])
    names = [Path(n) for n in ("11_b.ipynb", "10_results_dashboard.ipynb", "02_a.ipynb")]
    assert [p.name for p in reproduce.run_order(names)][-1] == "10_results_dashboard.ipynb"

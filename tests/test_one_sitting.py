"""Notebooks run one at a time (each kernel in its own run folder) still see each other: the newest
finished result per notebook and method of a profile, and each map from the run that made it."""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from helpers.core import config
from helpers.records import execute, results
from helpers.views import dashboard


def _write(run, *records):
    run.mkdir(parents=True, exist_ok=True)
    with open(run / "results.jsonl", "a", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")


def _rec(notebook, method, time, profile="smoke", iou=0.5):
    return {"notebook": notebook, "method": method, "time": time, "profile": profile,
            "metrics": {"iou": iou}}  # fmt: skip


def test_latest_records_pick_the_newest_per_notebook_and_method(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("EOSR_RUNS", str(runs))
    monkeypatch.delenv("EOSR_RUN_DIR", raising=False)
    _write(runs / "a", _rec("03_unet_landcover", "U-Net", "2026-12-01T10:00:00", iou=0.1))
    _write(runs / "b", _rec("09_ntl_ablation", "baseline", "2026-12-01T10:05:00"))
    _write(runs / "c", _rec("03_unet_landcover", "U-Net", "2026-12-01T11:00:00", iou=0.8))
    _write(runs / "d", _rec("03_unet_landcover", "U-Net", "2026-12-01T12:00:00", "teaching"))
    _write(runs / "e", _rec("10_results_dashboard", "results dashboard", "2026-12-01T13:00:00"))
    got = results.latest_records("smoke", exclude=[dashboard.DASHBOARD_NOTEBOOK])
    assert [(r["notebook"], r["metrics"]["iou"]) for r in got] == [
        ("03_unet_landcover", 0.8),
        ("09_ntl_ablation", 0.5),
    ]
    assert got[0]["run"] == str((runs / "c").resolve())
    assert results.latest_records("full") == []


def test_a_half_written_line_in_another_run_is_left_out_with_a_warning(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("EOSR_RUNS", str(runs))
    monkeypatch.delenv("EOSR_RUN_DIR", raising=False)
    _write(runs / "a", _rec("03_unet_landcover", "U-Net", "2026-12-01T10:00:00", iou=0.7))
    (runs / "b").mkdir()
    (runs / "b" / "results.jsonl").write_text('{"notebook": "08_ntl_su')  # killed mid-write
    with pytest.warns(UserWarning, match=r"b.results\.jsonl, line 1"):
        got = results.latest_records("smoke")
    assert [(r["notebook"], r["metrics"]["iou"]) for r in got] == [("03_unet_landcover", 0.7)]


def test_maps_come_from_the_run_of_the_newest_maker(tmp_path):
    old, new, current = tmp_path / "old", tmp_path / "new", tmp_path / "current"
    for run in (old, new):
        (run / "predictions").mkdir(parents=True)
        (run / "predictions" / "landcover_fine.tif").write_bytes(b"")
    current.mkdir()
    records = [
        {**_rec("03_unet_landcover", "U-Net", "2026-12-01T10:00:00"), "run": str(old)},
        {**_rec("03_unet_landcover", "U-Net", "2026-12-01T11:00:00"), "run": str(new)},
    ]
    found = dashboard.prediction_sources(records, current)
    assert found == {"landcover_fine.tif": new / "predictions"}
    (current / "predictions").mkdir()
    (current / "predictions" / "landcover_fine.tif").write_bytes(b"")
    assert dashboard.prediction_sources(records, current)["landcover_fine.tif"] == (
        current / "predictions"
    )


@pytest.mark.slow
def test_00_03_10_one_by_one_show_03_in_the_dashboard(tmp_path, monkeypatch):
    """Each notebook its own papermill call and run folder (no EOSR_RUN_DIR), smoke profile:
    notebook 10 shows notebook 03's U-Net record and its fine land-cover map."""
    monkeypatch.setenv("EOSR_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("EOSR_RUN_DIR", raising=False)
    monkeypatch.delenv("EOSR_PROFILE", raising=False)  # the profile comes from the parameter
    notebooks = config.repo_root() / "notebooks"
    for stem in ("00_setup_and_tour", "03_unet_landcover", "10_results_dashboard"):
        execute.execute_notebook(
            notebooks / f"{stem}.ipynb", tmp_path / f"{stem}.ipynb", {"PROFILE": "smoke"}
        )
    assert "EOSR_RUN_DIR" not in os.environ
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 3, runs  # one folder per notebook, as for a student
    dash = [r for run in runs for r in results.load(run) if r["notebook"] == "10_results_dashboard"]
    assert len(dash) == 1 and dash[0]["profile"] == "smoke"
    assert dash[0]["metrics"]["prediction_layers"] >= 1, dash[0]
    shown = results.latest_records("smoke", exclude=[dashboard.DASHBOARD_NOTEBOOK])
    unet = [r for r in shown if r["notebook"] == "03_unet_landcover" and "U-Net" in r["method"]]
    assert unet and unet[0]["run"] in dash[0]["notes"]
    executed = nbformat.read(tmp_path / "10_results_dashboard.ipynb", as_version=4)
    text = json.dumps([c.get("outputs", []) for c in executed.cells])
    assert (
        "landcover_fine.tif" in text and "Fine land cover (prediction, 03_unet_landcover)" in text
    )
    assert unet[0]["run"] in text  # the run folder it came from is named
    assert f"{unet[0]['metrics']['iou']:.4f}" in text  # 03's IoU in the comparison table

from __future__ import annotations

import json

import numpy as np

from helpers.records import reproduce, results, runs


def test_record_appends_json_lines(monkeypatch, tmp_path):
    monkeypatch.setenv("EOSR_RUN_DIR", str(tmp_path))
    results.record(
        "03_unet",
        "U-Net",
        {"iou": np.float32(0.5)},
        profile="smoke",
        seconds=1.234,
        published={"metrics": {"iou": 0.3812}, "seed": "002", "table": "HR-MARS"},
    )
    results.record("03_unet", "U-Net 2", {"iou": 0.6}, profile="smoke")
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    for key in [
        "notebook",
        "method",
        "dataset",
        "profile",
        "device",
        "seconds",
        "metrics",
        "published",
    ]:
        assert key in first
    assert (
        first["dataset"] == "sample scene"
        and first["metrics"]["iou"] == 0.5
        and first["seconds"] == 1.23
    )
    df = results.table(tmp_path)
    assert list(df["method"]) == ["U-Net", "U-Net 2"] and df["published iou"].iloc[0] == 0.3812


def test_new_run_dirs_are_never_reused(tmp_path):
    a = runs.new_run_dir("smoke", root=tmp_path)
    b = runs.new_run_dir("smoke", root=tmp_path)
    assert a != b and a.exists() and b.exists() and a.name.endswith("smoke")


def test_notebook_paths_in_order():
    paths = [p for p in reproduce.notebook_paths() if p.stem not in reproduce.RUN_LAST]
    assert [p.stem[:2] for p in paths] == sorted(p.stem[:2] for p in paths)
    assert reproduce.notebook_paths(["00"])[0].stem == "00_setup_and_tour"

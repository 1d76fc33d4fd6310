from __future__ import annotations

import json

import pytest

from helpers import bench, results


def test_repeat_reports_min_median_max():
    calls = []
    t = bench.repeat(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(calls) == 5
    assert t["min"] <= t["median"] <= t["max"]


def test_rate_inverts_times():
    r = bench._rate({"min": 1.0, "median": 2.0, "max": 4.0}, 8)
    assert r == {"max": 8.0, "median": 4.0, "min": 2.0}


def test_notebook_times_are_the_newest_per_notebook_and_profile(monkeypatch, tmp_path):
    monkeypatch.setenv("EOSR_RUNS", str(tmp_path))
    logs = {
        "20260101-000000-smoke": [("03_unet", 50.0), ("04_lsr", 70.0)],
        "20260102-000000-smoke": [("03_unet", 40.0)],  # a later partial run (one notebook)
        "20260103-000000-teaching": [("03_unet", 90.0)],
    }
    for name, recs in logs.items():
        (tmp_path / name).mkdir()
        lines = [
            json.dumps({"notebook": nb, "status": "ok", "seconds": s, "error": "", "output": ""})
            for nb, s in recs
        ]
        (tmp_path / name / results.NOTEBOOK_LOG).write_text("\n".join(lines) + "\n")
    got = {r["case"]: (r["median"], r["run"]) for r in bench.bench_notebooks()}
    assert got == {
        "03_unet [smoke]": (40.0, "20260102-000000-smoke"),
        "04_lsr [smoke]": (70.0, "20260101-000000-smoke"),
        "03_unet [teaching]": (90.0, "20260103-000000-teaching"),
    }


def test_table_has_every_row_and_column():
    text = bench.format_table(
        [
            {"group": "g", "case": "a", "unit": "s", "median": 1.5, "x": 3},
            {"group": "g", "case": "b", "unit": "s", "median": 12345.0},
        ]
    )
    lines = text.splitlines()
    assert len(lines) == 4 and "| x |" in lines[0] and "12,345" in lines[3]


def test_unknown_group_is_refused():
    with pytest.raises(SystemExit, match="unknown benchmark group"):
        bench.main(profile="smoke", only=["nope"])

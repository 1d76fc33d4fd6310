"""Records, run folders, fetch and prediction outputs under faults (issue 34, second round): each
test fails on the kit's behaviour at the issue's filing.

A record appended after a line without a newline survives; JSON that is not a record is left out
with a warning naming the file and line (report and latest-records lookup never crash); outputs
never replace their own inputs; temporary files and folders honour the user's umask and are
cleaned after SIGTERM or by the next run; unknown notebooks and ``../`` file names are refused
before anything is created.
"""

from __future__ import annotations

import json
import warnings

import pytest

from helpers import report, results


@pytest.fixture
def run_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("EOSR_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("EOSR_RUN_DIR", str(tmp_path / "runs" / "current"))
    monkeypatch.setenv("EOSR_PROFILE", "smoke")
    return tmp_path / "runs"


# ---- records ----


def test_a_record_after_a_line_without_newline_is_kept(run_folders):
    run = run_folders / "current"
    results.record("00_setup_and_tour", "first", {"x": 1.0})
    with open(run / "results.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"notebook": "03_unet", "metr')  # a writer killed mid-line, no newline
    results.record("00_setup_and_tour", "second", {"x": 2.0})
    with pytest.warns(UserWarning, match=r"results\.jsonl, line 2"):
        kept = results.load(run, skip_broken=True)
    assert [r["method"] for r in kept] == ["first", "second"]


NOT_RECORDS = ["[1, 2]", "null", '"text"', '{"time": "t", "metrics": "0.5"}', '{"time": 5}']


@pytest.mark.parametrize("line", NOT_RECORDS)
def test_json_that_is_not_a_record_is_named_not_fatal(run_folders, line):
    run = run_folders / "current"
    results.record("03_unet_landcover", "U-Net", {"iou": 0.5})
    with open(run / "results.jsonl", "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    with pytest.raises(results.ResultsError, match=r"results\.jsonl, line 2: .*Delete that line"):
        results.load(run)
    with pytest.warns(UserWarning, match=r"results\.jsonl, line 2"):
        assert [r["method"] for r in results.load(run, skip_broken=True)] == ["U-Net"]
    with pytest.warns(UserWarning, match=r"results\.jsonl, line 2"):
        assert [r["method"] for r in results.latest_records("smoke")] == ["U-Net"]
    page = report.write(run).read_text(encoding="utf-8")
    assert "line 2" in page and "U-Net" in page


def test_a_record_without_time_is_left_out_of_the_latest_with_a_warning(run_folders):
    run = run_folders / "current"
    results.record("03_unet_landcover", "U-Net", {"iou": 0.5})
    rec = {"notebook": "03_unet_landcover", "method": "old", "profile": "smoke", "metrics": {}}
    results.append_line(run / "results.jsonl", json.dumps(rec))
    with pytest.warns(UserWarning, match=r"results\.jsonl, line 2: a record without a time"):
        got = results.latest_records("smoke")
    assert [r["method"] for r in got] == ["U-Net"]


def test_a_notebook_log_line_that_is_not_an_object_is_left_out(run_folders):
    run = run_folders / "current"
    run.mkdir(parents=True)
    (run / results.NOTEBOOK_LOG).write_text('[1]\n{"notebook": "00", "status": "ok"}\n')
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert [e["notebook"] for e in results.load_notebook_log(run)] == ["00"]
        assert "00" in report.notebooks_html(run)

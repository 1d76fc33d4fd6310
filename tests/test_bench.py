from __future__ import annotations

import json

import pytest
import torch

from helpers.apps import bench
from helpers.records import report, results


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


def test_bench_writes_the_readme_run_time_table_between_its_markers(monkeypatch, tmp_path):
    runs = tmp_path / "runs"
    monkeypatch.setenv("EOSR_RUNS", str(runs))
    monkeypatch.setenv("EOSR_RUN_DIR", str(tmp_path / "out"))
    for name, recs in {
        "20260101-000000-smoke": [("03_unet", 12.0, "ok")],
        "20260102-000000-teaching": [("03_unet", 95.4, "ok"), ("08_ntl", 250.0, "failed")],
    }.items():
        (runs / name).mkdir(parents=True)
        lines = [
            json.dumps({"notebook": nb, "status": st, "seconds": s, "error": "", "output": ""})
            for nb, s, st in recs
        ]
        (runs / name / results.NOTEBOOK_LOG).write_text("\n".join(lines) + "\n")
    readme = tmp_path / "README.md"
    before, after = "# Kit\n\nintro\n\n", "\n\n## Next\n\nkept\n"
    readme.write_text(f"{before}{bench.README_START}\nold table\n{bench.README_END}{after}")
    assert bench.main(profile="smoke", only=["notebooks"], readme=readme) == 0
    text = readme.read_text()
    assert text.startswith(before + bench.README_START) and text.endswith(bench.README_END + after)
    assert "old table" not in text
    assert "| notebook | smoke | teaching |" in text
    assert "| 03_unet | 12 s | 95 s |" in text and "| 08_ntl | – | 250 s (failed) |" in text
    first = text
    assert bench.main(profile="smoke", only=["notebooks"], readme=readme) == 0
    assert readme.read_text() == first  # same runs, same table
    plain = tmp_path / "OTHER.md"
    plain.write_text("no markers here\n")
    assert bench.main(profile="smoke", only=["notebooks"], readme=plain) == 0
    assert plain.read_text() == "no markers here\n"  # nothing a user wrote is overwritten


def test_bench_writes_the_readme_results_table_from_the_newest_teaching_run(monkeypatch, tmp_path):
    runs = tmp_path / "runs"
    monkeypatch.setenv("EOSR_RUNS", str(runs))
    monkeypatch.setenv("EOSR_RUN_DIR", str(tmp_path / "out"))
    pub = report.published_for("U-Net")
    for name, iou in {"20260101-000000-teaching": 0.5, "20260102-000000-teaching": 0.72}.items():
        (runs / name).mkdir(parents=True)
        log = {"notebook": "03_unet_landcover", "status": "ok", "seconds": 60.0}
        (runs / name / results.NOTEBOOK_LOG).write_text(json.dumps(log) + "\n")
        rec = {
            "notebook": "03_unet_landcover",
            "method": "U-Net (S2 RGB+NIR)",
            "dataset": "sample scene",
            "profile": "teaching",
            "metrics": {"iou": iou, "f1": 0.8},
            "published": pub,
        }
        (runs / name / "results.jsonl").write_text(json.dumps(rec) + "\n")
    (runs / "20260103-000000-smoke").mkdir()  # a newer smoke run does not count
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{bench.RESULTS_START}\nold\n{bench.RESULTS_END}\nend\n")
    assert bench.main(profile="smoke", only=["notebooks"], readme=readme) == 0
    text = readme.read_text()
    assert "old" not in text and text.endswith(f"{bench.RESULTS_END}\nend\n")
    assert "`20260102-000000-teaching`" in text and "all ok" in text
    row = next(line for line in text.splitlines() if "U-Net (S2 RGB+NIR)" in line)
    assert "iou 38.12 %" in row and "iou 72.00 %" in row and "sample scene" in row
    assert "50.00 %" not in text  # only the newest run's records
    # a newer run of fewer notebooks (one notebook re-timed) leaves the whole run's table
    (runs / "20260101-000000-teaching" / results.NOTEBOOK_LOG).write_text(
        json.dumps({"notebook": "00_setup_and_tour", "status": "ok", "seconds": 5.0})
        + "\n"
        + json.dumps({"notebook": "03_unet_landcover", "status": "ok", "seconds": 60.0})
        + "\n"
    )
    assert bench.main(profile="smoke", only=["notebooks"], readme=readme) == 0
    text = readme.read_text()
    assert "`20260101-000000-teaching`" in text and "iou 50.00 %" in text


def test_readme_results_block_carries_the_three_orderings_only_when_notebook_13_recorded():
    """The README's three-orderings table is computed from the run's records (never pasted): absent
    without notebook 13, and ranked from the records when it is there."""
    from helpers.training import real_landcover as rl

    assert bench.three_orderings([]) == ""
    order = ["U-Net", "Bag of colors (test)", "pix2pix", "cGAN low->high", "Label super-resolution"]
    recs = [{"notebook": rl.NOTEBOOK, "dataset": rl.DATASET, "method": row, "hr_mars_row": row,
             "metrics": {"iou": 0.5 - 0.05 * i}} for i, row in enumerate(order)]  # fmt: skip
    text = bench.three_orderings(recs)
    assert "| U-Net |" in text and "50.0 % (rank 1)" in text
    assert "Label super-resolution" in text and "30.0 % (rank 5)" in text
    assert "real scene" in text and "Kendall tau" in text


def test_training_runs_take_turns_and_the_warm_up_round_is_not_counted():
    order = []
    runs = {name: (lambda name=name: order.append(name)) for name in ("fed", "files", "resident")}
    t, cpu = bench._interleaved(runs, repeats=3)
    assert order == ["fed", "files", "resident"] * 4  # one warm-up round + 3
    assert set(t) == set(cpu) == set(runs)
    assert all(set(v) == {"min", "median", "max"} for v in t.values())


def test_training_steps_keep_one_stream_between_repeats():
    """A repeat continues the feed where the last one stopped (a DataLoader is not restarted)."""
    seen = []
    run = bench._steps(seen.append, iter(range(100)), 3, torch.device("cpu"))
    run()
    run()
    assert seen == [0, 1, 2, 3, 4, 5]


def test_training_cases_feed_as_the_notebooks_recipes_do():
    """The "fed" path of each row is its notebook's: 03 and 08 in-memory crops through a
    DataLoader, 04 and 05 crops resident on the device; "files" reads the layout per step."""
    from torch.utils.data import DataLoader

    from helpers.core import config
    from helpers.data import crops, datasets
    from helpers.training.recipes import label_sr

    cpu = torch.device("cpu")
    cases = {c.name: c for c in bench.training_cases("smoke")}
    assert list(cases) == ["U-Net (03)", "U-Net label SR (04)", "pix2pix G (05)", "NTL SR (08)"]
    for name in ("U-Net (03)", "NTL SR (08)"):
        feed = cases[name].feed(cpu)
        assert isinstance(feed, DataLoader) and isinstance(feed.dataset, crops.Crops), name
    for name in ("U-Net label SR (04)", "pix2pix G (05)"):
        assert isinstance(cases[name].feed(cpu), crops.ResidentBatches), name
    for case in cases.values():
        files = case.files(cpu)
        assert isinstance(files.dataset, (datasets.DFC2020, datasets.NTL)), case.name
    s = config.settings("04_label_super_resolution", "smoke")
    recipe = label_sr.batches(crops.load(files_of(cases), label_sr.KEYS), s, 0, cpu)
    ours, theirs = next(iter(cases["U-Net label SR (04)"].feed(cpu))), next(iter(recipe))
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)  # the recipe's own batches


def files_of(cases):
    """The DFC2020 training patches behind the land-cover rows (read whole, no crop)."""
    from helpers.core import bands
    from helpers.data import datasets

    root = cases["U-Net (03)"].files(torch.device("cpu")).dataset.root
    return datasets.DFC2020(root, split="validation", s2_bands=bands.s2_set("RGB_NIR"))


def test_training_rows_report_the_ratios_of_each_feed(monkeypatch):
    """The row of a tiny model: fed, resident and file-reader rates and their ratios (no timed
    assert: only that each is there and positive)."""
    data = [{"image": torch.randn(2, 8, 8), "mask": torch.zeros(8, 8, dtype=torch.long)}] * 4

    def feed(device):
        return torch.utils.data.DataLoader(data, batch_size=2)

    case = bench.TrainingCase(
        "tiny", lambda: torch.nn.Conv2d(2, 8, 1), feed, feed, bench._mask_loss
    )
    monkeypatch.setattr(bench, "training_cases", lambda profile: [case])
    (row,) = bench.bench_training("smoke", repeats=2, steps=3)
    assert row["case"].startswith("tiny [")
    for key in ("median", "device-resident samples/s", "fed / resident", "file reader / resident",
                "fed / resident (CPU time)", "fed / resident (best round)", "pixels/s",
                "feed ms/batch", "resident / (resident + feed)"):  # fmt: skip
        assert row[key] > 0, key


def test_an_empty_feed_is_refused_not_looped_over():
    with pytest.raises(ValueError, match="gives no batch"):
        next(iter(bench._cycle([])))

"""Expected ranges: measured, well-formed, and compared with a run as the notebooks print it."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.core import config
from helpers.records import expected

ROOT = Path(__file__).resolve().parents[1]


def test_ranges_are_well_formed_and_name_real_notebooks():
    notebooks = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    for profile, table in expected.RANGES.items():
        assert profile in config.PROFILE_NAMES and profile in expected.MEASURED
        for notebook, results in table.items():
            assert notebook in notebooks, notebook
            for name, bounds in results.items():
                assert bounds[0] < bounds[1] and len(bounds) in (2, 3), (profile, notebook, name)


def test_compare_says_inside_below_above_and_unmeasured():
    low, high = expected.RANGES["teaching"]["03_unet_landcover"]["U-Net macro IoU"][:2]
    mid = round((low + high) / 2, 3)
    lines = expected.compare(
        "03_unet_landcover",
        {"U-Net macro IoU": mid, "coarse labels as the map, macro IoU": 0.2, "other": 1.0},
        "teaching",
    )
    assert lines[0].startswith("Expected range vs your run (teaching profile;")
    assert f"U-Net macro IoU: expected {low:g} to {high:g}, your run {mid:g} (inside;" in lines[1]
    assert "(BELOW;" in lines[2]
    assert "no measured range" in lines[3]
    assert expected.verdict(2.0, 0.0, 1.0) == "ABOVE"
    assert "no measured range" in expected.compare("03_unet_landcover", {"x": 1.0}, "full")[1]


def _rec(run, notebook, method, profile="teaching", capped=False, **metrics):
    return {
        "run": run,
        "notebook": notebook,
        "method": method,
        "profile": profile,
        "capped": capped,
        "metrics": metrics,
    }


def _records():
    out = []
    for run, iou, full, bicubic in (
        ("A", 0.80, 34.0, 31.0),
        ("B", 0.82, 34.6, 31.2),
        ("E", 0.81, 34.3, 31.1),
    ):
        out += [
            _rec(
                run, "03_unet_landcover", "U-Net (S2 B04,B03,B02)", iou=iou, coarse_labels_iou=0.55
            ),
            _rec(run, "08_ntl_super_resolution", "bicubic (inter-calibrated)", psnr=bicubic),
            _rec(run, "08_ntl_super_resolution", "MMNTLSR full model", psnr=full),
        ]
    out.append(_rec("C", "03_unet_landcover", "U-Net (S2 B04)", capped=True, iou=0.1))
    out.append(_rec("D", "03_unet_landcover", "U-Net (S2 B04)", profile="smoke", iou=0.2))
    return out


def test_every_range_says_where_its_value_is_recorded():
    for table in expected.RANGES.values():
        for notebook, found in table.items():
            assert set(found) <= set(expected.SOURCES.get(notebook, {})), notebook


def test_values_from_records_one_per_run_capped_and_other_profiles_left_out():
    values = expected.values_from_records(_records(), "teaching")
    assert values["03_unet_landcover"]["U-Net macro IoU"] == [0.80, 0.82, 0.81]
    assert values["03_unet_landcover"]["coarse labels as the map, macro IoU"] == [0.55] * 3
    gains = values["08_ntl_super_resolution"]["full model - bicubic (dB)"]
    assert gains == pytest.approx([3.0, 3.4, 3.2])  # a difference within each run
    assert "NTL only - bicubic (dB)" not in values["08_ntl_super_resolution"]  # not recorded
    assert expected.values_from_records(_records(), "smoke")["03_unet_landcover"] == {
        "U-Net macro IoU": [0.2]
    }


def test_fit_is_mean_plus_minus_k_std_with_a_floor_width_and_needs_three_values():
    fitted = expected.fit_from_records(_records(), "teaching")
    # mean 0.81, std 0.01: 3 std = 0.03 = the floor width
    assert fitted["03_unet_landcover"]["U-Net macro IoU"] == (0.78, 0.84, 3)
    # mean 34.3, std 0.3: 3 std = 0.9 dB > the 0.5 dB floor
    assert fitted["08_ntl_super_resolution"]["full model PSNR (dB)"] == (33.4, 35.2, 3)
    assert expected.fit_range([0.99, 0.99, 0.99], "x, macro IoU") == (0.96, 1.0, 3)
    assert expected.fit_range([0.5, 0.6, 0.7], "x", k=1.0) == (0.5, 0.7, 3)
    with pytest.raises(ValueError, match="at least 3"):
        expected.fit_range([0.5, 0.6], "x")
    two_runs = [r for r in _records() if r["run"] != "E"]
    assert "03_unet_landcover" not in expected.fit_from_records(two_runs, "teaching")


def test_per_seed_values_count_as_samples():
    rec = _rec("A", "05_cgan_pix2pix", "cGAN (3 seeds)", iou=0.5)
    rec["per_seed"] = [{"iou": 0.4}, {"iou": 0.5}, {"iou": 0.6}]
    values = expected.values_from_records([rec], "teaching")
    assert values["05_cgan_pix2pix"]["cGAN macro IoU"] == [0.4, 0.5, 0.6]
    assert expected.fit_from_records([rec], "teaching")["05_cgan_pix2pix"]["cGAN macro IoU"][2] == 3


def test_only_ranges_from_three_values_are_asserted(monkeypatch):
    from helpers.core import checks

    monkeypatch.setitem(
        expected.RANGES,
        "teaching",
        {"03_unet_landcover": {"U-Net macro IoU": (0.7, 0.8, 3), "other": (0.1, 0.2)}},
    )
    broken = expected.checks_for(
        "03_unet_landcover", {"U-Net macro IoU": 0.12, "other": 0.9}, "teaching"
    )
    assert [c.name for c in broken] == ["expected range: U-Net macro IoU"]  # 'other': one run only
    with pytest.raises(AssertionError, match="U-Net macro IoU"):
        checks.verify(broken, "teaching")
    with pytest.warns(UserWarning):
        checks.verify(
            expected.checks_for("03_unet_landcover", {"U-Net macro IoU": 0.1}, "teaching"), "smoke"
        )
    good = expected.checks_for("03_unet_landcover", {"U-Net macro IoU": 0.75}, "teaching")
    assert checks.verify(good, "teaching")[0].passed


def test_fit_expected_tool_writes_the_profile_and_keeps_the_rest(tmp_path, capsys):
    import json
    import shutil
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import fit_expected

    runs = []
    for run in ("A", "B", "E"):
        folder = tmp_path / f"20261202-08000{len(runs)}-teaching"
        folder.mkdir()
        (folder / "notebooks.jsonl").write_text("{}\n")
        lines = [json.dumps(r) for r in _records() if r["run"] == run]
        (folder / "results.jsonl").write_text("\n".join(lines) + "\n")
        runs.append(folder)
    assert fit_expected.reproduce_runs("teaching", tmp_path) == runs
    target = tmp_path / "expected.py"
    shutil.copy(ROOT / "src" / "helpers" / "records" / "expected.py", target)
    args = [*map(str, runs), "--profile", "teaching", "--write", "--target", str(target)]
    old = expected.RANGES["teaching"]
    assert fit_expected.main(args) == 0
    out = capsys.readouterr().out
    low, high = old["03_unet_landcover"]["U-Net macro IoU"][:2]
    n = expected.samples(old["03_unet_landcover"]["U-Net macro IoU"])
    assert (
        f"U-Net macro IoU: old {low:g}..{high:g} (n={n}); measured 0.800, 0.820, 0.810 -> " in out
    )
    assert "0.78..0.84 (n=3, CHANGED)" in out
    low, high = old["11_real_scene"][
        "sample-scene U-Net on real data, gain vs majority (mean of seeds)"
    ][:2]
    assert (
        f"gain vs majority (mean of seeds): old {low:g}..{high:g} (n=1); no record -> kept" in out
    )
    scope: dict = {"__name__": "helpers.records.expected_copy", "__package__": "helpers.records"}
    exec(compile(target.read_text(), str(target), "exec"), scope)  # noqa: S102 - our own file
    teaching = scope["RANGES"]["teaching"]
    assert teaching["03_unet_landcover"]["U-Net macro IoU"] == (0.78, 0.84, 3)
    assert teaching["11_real_scene"][
        "sample-scene U-Net on real data, gain vs majority (mean of seeds)"
    ][:2] == (low, high)
    assert teaching["05_cgan_pix2pix"] == expected.RANGES["teaching"]["05_cgan_pix2pix"]
    assert scope["RANGES"]["smoke"] == expected.RANGES["smoke"]
    assert "3 run(s) of `make reproduce`" in scope["MEASURED"]["teaching"]
    assert scope["MEASURED"]["smoke"] == expected.MEASURED["smoke"]

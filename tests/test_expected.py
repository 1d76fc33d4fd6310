"""Expected ranges: measured, well-formed, and compared with a run as the notebooks print it."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import config, expected

ROOT = Path(__file__).resolve().parents[1]


def test_ranges_are_well_formed_and_name_real_notebooks():
    notebooks = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    for profile, table in expected.RANGES.items():
        assert profile in config.PROFILE_NAMES and profile in expected.MEASURED
        for notebook, results in table.items():
            assert notebook in notebooks, notebook
            for name, (low, high) in results.items():
                assert low < high, (profile, notebook, name)


def test_compare_says_inside_below_above_and_unmeasured():
    low, high = expected.RANGES["teaching"]["03_unet_landcover"]["U-Net macro IoU"]
    mid = round((low + high) / 2, 3)
    lines = expected.compare(
        "03_unet_landcover",
        {"U-Net macro IoU": mid, "coarse labels as the map, macro IoU": 0.2, "other": 1.0},
        "teaching",
    )
    assert lines[0].startswith("Expected range vs your run (teaching profile;")
    assert f"U-Net macro IoU: expected {low:g} to {high:g}, your run {mid:g} (inside)" in lines[1]
    assert lines[2].endswith("(BELOW)")
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
    for run, iou, full, bicubic in (("A", 0.80, 34.0, 31.0), ("B", 0.82, 34.6, 31.2)):
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
    assert values["03_unet_landcover"]["U-Net macro IoU"] == [0.80, 0.82]
    assert values["03_unet_landcover"]["coarse labels as the map, macro IoU"] == [0.55, 0.55]
    gains = values["08_ntl_super_resolution"]["full model - bicubic (dB)"]
    assert gains == pytest.approx([3.0, 3.4])  # a difference within each run
    assert "NTL only - bicubic (dB)" not in values["08_ntl_super_resolution"]  # not recorded
    assert expected.values_from_records(_records(), "smoke")["03_unet_landcover"] == {
        "U-Net macro IoU": [0.2]
    }


def test_fit_widens_the_measured_span_and_rounds_outwards():
    fitted = expected.fit_from_records(_records(), "teaching")
    assert fitted["03_unet_landcover"]["U-Net macro IoU"] == (0.75, 0.87)
    assert fitted["08_ntl_super_resolution"]["full model PSNR (dB)"] == (33.0, 35.6)
    assert fitted["08_ntl_super_resolution"]["full model - bicubic (dB)"] == (2.0, 4.4)
    assert expected.fit_range([0.99], "x, macro IoU") == (0.94, 1.0)  # a fraction stays <= 1
    assert expected.fit_range([0.02], "x", {"fraction": 0.1, "dB": 1}) == (0.0, 0.12)
    with pytest.raises(ValueError, match="no measured values"):
        expected.fit_range([], "x")


def test_fit_expected_tool_writes_the_profile_and_keeps_the_rest(tmp_path, capsys):
    import json
    import shutil
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import fit_expected

    runs = []
    for run in ("A", "B"):
        folder = tmp_path / f"20261202-08000{len(runs)}-teaching"
        folder.mkdir()
        (folder / "notebooks.jsonl").write_text("{}\n")
        lines = [json.dumps(r) for r in _records() if r["run"] == run]
        (folder / "results.jsonl").write_text("\n".join(lines) + "\n")
        runs.append(folder)
    assert fit_expected.reproduce_runs("teaching", tmp_path) == runs
    target = tmp_path / "expected.py"
    shutil.copy(ROOT / "src" / "helpers" / "expected.py", target)
    args = [*map(str, runs), "--profile", "teaching", "--write", "--target", str(target)]
    old = expected.RANGES["teaching"]
    assert fit_expected.main(args) == 0
    out = capsys.readouterr().out
    low, high = old["03_unet_landcover"]["U-Net macro IoU"]
    assert f"U-Net macro IoU: old {low:g}..{high:g}; measured 0.800, 0.820 -> 0.75..0.87" in out
    low, high = old["08_ntl_super_resolution"]["NTL only - bicubic (dB)"]
    assert f"NTL only - bicubic (dB): old {low:g}..{high:g}; no record -> kept" in out
    scope: dict = {}
    exec(compile(target.read_text(), str(target), "exec"), scope)  # noqa: S102 - our own file
    teaching = scope["RANGES"]["teaching"]
    assert teaching["03_unet_landcover"]["U-Net macro IoU"] == (0.75, 0.87)
    assert teaching["08_ntl_super_resolution"]["NTL only - bicubic (dB)"] == (low, high)  # kept
    assert teaching["05_cgan_pix2pix"] == expected.RANGES["teaching"]["05_cgan_pix2pix"]
    assert scope["RANGES"]["smoke"] == expected.RANGES["smoke"]
    assert "2 run(s) of `make reproduce`" in scope["MEASURED"]["teaching"]
    assert scope["MEASURED"]["smoke"] == expected.MEASURED["smoke"]

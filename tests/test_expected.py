"""Expected ranges: measured, well-formed, and compared with a run as the notebooks print it."""

from __future__ import annotations

from pathlib import Path

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
    lines = expected.compare(
        "03_unet_landcover",
        {"U-Net macro IoU": 0.80, "coarse labels as the map, macro IoU": 0.2, "other": 1.0},
        "teaching",
    )
    assert lines[0].startswith("Expected range vs your run (teaching profile;")
    assert "U-Net macro IoU: expected 0.75 to 0.85, your run 0.8 (inside)" in lines[1]
    assert lines[2].endswith("(BELOW)")
    assert "no measured range" in lines[3]
    assert expected.verdict(2.0, 0.0, 1.0) == "ABOVE"
    assert "no measured range" in expected.compare("03_unet_landcover", {"x": 1.0}, "full")[1]

"""helpers.layouts: the one definition of the data layouts' names, which readers and writers share."""

from __future__ import annotations

import pytest

from helpers import bands, datasets, earthengine, layouts, ntl
from helpers.models import ntl_sr


def test_patch_names_round_trip_through_the_reader():
    path = layouts.patch_path("/data/SEN12MS", "ROIs1158_spring", "12", 30, "lc")
    assert path.as_posix() == "/data/SEN12MS/ROIs1158_spring/lc_12/ROIs1158_spring_lc_12_p30.tif"
    assert datasets.parse_id(path.name) == ("ROIs1158_spring", "12", 30)
    patch = datasets.Patch("ROIs0000_test", "0", 7, layouts.Path("/d"))
    assert patch.id == layouts.patch_id("ROIs0000_test", "0", 7) == "ROIs0000_test_s2_0_p7"
    assert patch.path("dfc") == layouts.patch_path("/d", "ROIs0000_test", "0", 7, "dfc")


def test_split_folders_and_rules():
    assert [layouts.dfc2020_roi(s) for s in layouts.DFC2020_SPLITS] == [
        "ROIs0000_validation",
        "ROIs0000_test",
    ]
    with pytest.raises(ValueError, match="split"):
        layouts.dfc2020_roi("train")
    splits = [layouts.ntl_split(i, 20) for i in range(20)]
    assert splits == ["train"] * 14 + ["val"] * 3 + ["test"] * 3
    assert layouts.ntl_path("/n", "val", "dmo", "a1").as_posix() == "/n/val/dmo/a1.tif"


def test_names_are_defined_once():
    """Readers, writers and the model share the layout's objects instead of keeping copies."""
    assert datasets.NTL_LAYERS is layouts.NTL_LAYERS and datasets.SEASONS is layouts.SEASONS
    assert tuple(ntl.LAYOUT_FOLDERS) == tuple(layouts.NTL_LAYERS)
    assert earthengine.SCENE_FILES is layouts.SCENE_FILES
    assert earthengine.write_ntl_layout is layouts.write_ntl_layout
    assert ntl.DN_MAX is bands.DN_MAX and ntl_sr.DN_MAX is bands.DN_MAX
    assert set(layouts.SCENE_OF_NTL_LAYER) == set(layouts.NTL_LAYERS)
    assert set(layouts.SCENE_OF_NTL_LAYER.values()) <= set(layouts.SCENE_FILES)

"""helpers.data.layouts: the one definition of the data layouts' names, which readers and writers share."""

from __future__ import annotations

import pytest

from helpers.core import bands
from helpers.data import datasets, layouts, ntl
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
    assert datasets.ntl.NTL_LAYERS is layouts.NTL_LAYERS
    assert datasets.sen12ms.SEASONS is layouts.SEASONS
    assert ntl.DN_MAX is bands.DN_MAX and ntl_sr.DN_MAX is bands.DN_MAX
    assert set(layouts.SCENE_OF_NTL_LAYER) == set(layouts.NTL_LAYERS)
    assert set(layouts.SCENE_OF_NTL_LAYER.values()) <= set(layouts.SCENE_FILES)


def _raster(data, res=10.0, tags=None):
    from affine import Affine

    from helpers.io import rasters

    return rasters.Raster(
        data, "EPSG:32633", Affine(res, 0, 500000.0, 0, -res, 5300000.0), tags=tags or {}
    )


def test_patch_writer_numbers_rows_first_and_keeps_tags(tmp_path):
    import numpy as np

    from helpers.io import rasters

    data = np.arange(2 * 8 * 12, dtype=np.uint16).reshape(2, 8, 12)
    layers = {"s2": _raster(data, tags={"EOSR_LAYER": "s2"}), "dfc": _raster(data[:1])}
    n = layouts.write_patch_layout(layers, tmp_path, "ROIs0000_test", "0", patch=4, first=5)
    assert n == 6  # 2 rows x 3 columns of 4 px
    second = rasters.read(layouts.patch_path(tmp_path, "ROIs0000_test", "0", 6, "s2"))
    assert (second.data == data[:, 0:4, 4:8]).all()  # p6 = row 0, column 1
    assert second.tags["EOSR_LAYER"] == "s2"
    assert second.transform.c == 500000.0 + 4 * 10.0


def test_ntl_patch_schemes_name_and_split_once(tmp_path):
    import numpy as np

    hr = np.ones((1, 16, 16), np.float32)
    high = {k: _raster(hr, 30.0) for k in ("hr_ntl", "dmo", "dem", "isp")}
    low = _raster(np.ones((1, 4, 4), np.float32), 120.0)
    sample = layouts.write_ntl_patches(high, low, tmp_path / "s", patch=4, ratio=4, scheme="sample")
    lr = sorted(p.relative_to(tmp_path / "s").as_posix() for p in sample if "lr_ntl" in p.parts)
    assert len(lr) == 16 and sum(p.startswith("test/") for p in lr) == 4  # stratified blocks
    splits = [layouts.ntl_split_columns(c, 4) for c in range(4)]
    assert splits == ["train", "train", "val", "test"]
    ee = layouts.write_ntl_patches(high, low, tmp_path / "e", patch=4, ratio=4)
    assert {p.stem for p in ee} >= {"ee000_000", "ee003_003"}
    with pytest.raises(ValueError, match="scheme"):
        layouts.ntl_patch_id(0, 0, "other")


def test_sample_scene_writes_through_layouts():
    """The generator keeps no file naming of its own : names come from layouts."""
    import inspect

    from helpers.data import synthetic

    assert tuple(synthetic.SEN12MS_ROIS.values()) == layouts.SEASONS
    source = inspect.getsource(synthetic)
    for pattern in ("_p{", '"ROIs', "pid = f", 'f"{mod}_'):
        assert pattern not in source, pattern
    assert "layouts.write_patch_layout" in source and "layouts.write_ntl_patches" in source

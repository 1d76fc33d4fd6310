"""The readers check each file's header once and then only read pixels (goal: readers within
90 % of a bare rasterio read). Counted, not timed: per sample one rasterio.open per file it needs,
no grid re-check, no path building, no NaN mask on clean data; a changed file is checked again."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin

from helpers.data import datasets as ds
from helpers.data.datasets import base
from helpers.data.datasets import ntl as dntl
from helpers.data.normalise import DatasetError
from helpers.io import rasters
from tests.fakes import ntl_patch as write_ntl
from tests.fakes import sen12ms_patch as write_patch


@pytest.fixture
def counted(monkeypatch):
    """Counts of rasterio.open (by file name) and of the checks and path builders a sample may
    not repeat once its files were checked."""
    calls: collections.Counter = collections.Counter()
    real_open = rasterio.open

    def spy_open(path, *args, **kwargs):
        calls["open"] += 1
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", spy_open)
    names = ("check_same_grid", "check_same_bounds", "check_pair", "bad_pixels", "header")
    names += ("ntl_path", "patch_path")
    spied = [(m, n) for m in (base, dntl) for n in names if hasattr(m, n)]
    for module, name in [*spied, (rasters, "_info")]:
        real = getattr(module, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    return calls


def test_ntl_sample_opens_each_file_once_and_checks_nothing_again(tmp_path, counted):
    root = tmp_path / "NTL"
    write_ntl(root, ident="a")
    write_ntl(root, ident="b")
    data = ds.NTL(root, crop=16)
    first = [data[i] for i in range(len(data))]  # checks every file's header here
    assert counted["check_same_grid"] == 2 * 3 and counted["check_same_bounds"] == 2
    counted.clear()
    for epoch in range(3):
        data.set_epoch(epoch)
        for i in range(len(data)):
            data[i]
    assert counted == {"open": 3 * 2 * 5}  # one open per layer file per sample, nothing else
    data.set_epoch(0)
    for a, i in zip(first, range(len(data)), strict=True):  # the kept checks change no pixel
        b = data[i]
        assert all(torch.equal(a[k], b[k]) for k in ("low_res", "high_res", "dmo", "dem", "isp"))


def test_ntl_changed_file_is_checked_again(tmp_path):
    root = tmp_path / "NTL"
    paths = write_ntl(root)
    data = ds.NTL(root)
    assert data[0]["ratio"] == 8
    dmo = rasters.read(paths["dmo"])  # same dataset object: the kept check must not hide this
    rasters.write(paths["dmo"], dmo.data, dmo.crs, from_origin(400030.0, 3500000.0, 30.0, 30.0))
    with pytest.raises(rasters.RasterError, match=r"dmo/a\.tif are not on the same grid"):
        data[0]
    write_ntl(root)
    rasters.write(paths["dem"], np.zeros((2, 32, 32), np.float32), dmo.crs, dmo.transform)
    with pytest.raises(rasters.RasterError, match=r"dem/a\.tif: has 2 band\(s\), expected 1"):
        data[0]
    write_ntl(root)
    hr = rasters.read(paths["hr_ntl"])
    hr.data[0, 3, 3] = np.nan
    rasters.write(paths["hr_ntl"], hr.data, hr.crs, hr.transform)
    with pytest.raises(DatasetError, match=r"hr_ntl/a\.tif: 1 NaN/nodata/inf"):
        data[0]


@pytest.mark.parametrize("kind", ["SEN12MS", "DFC2020"])
def test_patch_sample_opens_each_file_once_and_checks_grids_once(tmp_path, counted, kind):
    root = tmp_path / kind
    if kind == "SEN12MS":
        for p in (1, 2):
            write_patch(root, "ROIs1158_spring", "1", p)
        data, files = ds.SEN12MS(root, crop=16, augment=True), 2  # s2, lc
    else:
        for p in (1, 2):
            write_patch(root, "ROIs0000_test", "0", p, crs=None, dfc=True)
        data, files = ds.DFC2020(root, crop=16), 3  # s2, dfc (mask), lc (coarse)
    for i in range(len(data)):
        data[i]
    assert counted["check_pair"] == 2 * (files - 1)
    counted.clear()
    for epoch in range(3):
        data.set_epoch(epoch)
        for i in range(len(data)):
            data[i]
    assert counted == {"open": 3 * 2 * files}


def test_patch_changed_file_is_checked_again(tmp_path):
    root = tmp_path / "SEN12MS"
    paths = write_patch(root, "ROIs1158_spring", "1", 1)
    data = ds.SEN12MS(root)
    data[0]
    lc = rasters.read(paths["lc"])
    rasters.write(paths["lc"], lc.data, lc.crs, from_origin(500010.0, 5300000.0, 10.0, 10.0))
    with pytest.raises(rasters.RasterError, match="not on the same grid"):
        data[0]


def test_kept_checks_stay_bounded():
    cache: dict[int, str] = {}
    for key in range(5):
        base.keep(cache, key, str(key), limit=3)
    assert cache == {2: "2", 3: "3", 4: "4"}  # the oldest forgotten, never more than the limit
    base.keep(cache, 3, "again", limit=3)
    assert cache == {2: "2", 3: "again", 4: "4"}  # a re-check replaces, forgets nothing

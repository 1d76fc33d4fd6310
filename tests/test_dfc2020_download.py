"""DFC2020 as `eosr fetch dfc2020` downloads it: the Copernicus-Bench zip layout, built here small."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from helpers.data import datasets, manifest
from helpers.data.layouts import COBENCH_DIR
from helpers.data.normalise import DatasetError
from helpers.io import rasters


def _cobench_zip(tmp_path):
    """dfc2020.zip with dfc2020_s1s2/{s1,s2,dfc}/ROIs0000_*_{mod}_0_p*.tif and dfc-{split}-new.csv
    (layout of torchgeo's CopernicusBenchDFC2020S2 and its test fixture; no CRS, as the real files)."""
    top = tmp_path / "build" / COBENCH_DIR
    patches = {
        "train": "ROIs0000_validation_dfc_0_p3.tif",
        "val": "ROIs0000_validation_dfc_0_p7.tif",
        "test": "ROIs0000_test_dfc_0_p609.tif",
    }
    rng = np.random.default_rng(0)
    for split, name in patches.items():
        dfc = np.tile(np.arange(11, dtype=np.uint16), (32, 3))[:, :32]  # 0 (background) .. 10
        rasters.write(top / "dfc" / name, dfc, None, None)
        s2 = rng.integers(0, 10000, (13, 32, 32)).astype(np.uint16)
        rasters.write(top / "s2" / name.replace("dfc", "s2"), s2, None, None)
        s1 = rng.uniform(-25, 0, (2, 32, 32)).astype(np.float32)
        rasters.write(top / "s1" / name.replace("dfc", "s1"), s1, None, None)
        (top / f"dfc-{split}-new.csv").write_text(name + "\n")
    archive = tmp_path / "dfc2020.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(top.rglob("*")):
            zf.write(path, path.relative_to(top.parent).as_posix())
    return archive


def test_reader_handles_the_downloaded_layout(tmp_path):
    archive = _cobench_zip(tmp_path)
    dest = tmp_path / "data" / "dfc2020"
    manifest.unpack_zip(archive, dest)
    test = datasets.DFC2020(
        dest, split="test", s2_bands=("B04", "B03", "B02", "B08"), s1_bands=("VV",)
    )
    assert len(test) == 1 and test.ids() == ["ROIs0000_test_s2_0_p609"]
    sample = test[0]
    assert sample["image"].shape == (5, 32, 32) and "coarse" not in sample
    mask = sample["mask"].numpy()[0, :11]
    # DFC 0..10 -> dfc8 index: background, savanna and snow/ice are ignored
    assert mask.tolist() == [255, 0, 1, 255, 2, 3, 4, 5, 255, 6, 7]
    train = datasets.DFC2020(dest, split="train")
    val = datasets.DFC2020(dest / COBENCH_DIR, split="validation")
    assert train.ids() == ["ROIs0000_validation_s2_0_p3"] and val.ids() == [
        "ROIs0000_validation_s2_0_p7"
    ]
    with pytest.raises(DatasetError, match="no lc"):
        datasets.DFC2020(dest, split="test", label="igbp")
    (dest / COBENCH_DIR / "s2" / "ROIs0000_test_s2_0_p609.tif").unlink()
    with pytest.raises(DatasetError, match="missing, the s2 partner|ROIs0000_test_s2_0_p609"):
        datasets.DFC2020(dest, split="test")


def test_manifest_unpacks_into_the_layout_and_refuses_zip_slip(tmp_path):
    entry = manifest.get("dfc2020")
    assert entry["unpack"] == COBENCH_DIR
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../outside.txt", "x")
    with pytest.raises(manifest.ChecksumError, match="outside"):
        manifest.unpack_zip(evil, tmp_path / "dest")
    assert not (tmp_path / "outside.txt").exists()

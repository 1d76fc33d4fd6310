"""The kit's data layouts, defined once: folder names, file naming, split rules and writers.

- SEN12MS: ``ROIs1158_spring/{s1,s2,lc}_{scene}/ROIs1158_spring_{s1,s2,lc}_{scene}_p{patch}.tif``
- DFC2020: ``DFC2020/ROIs0000_{validation,test}/{s1,s2,lc,dfc}_0/ROIs0000_{split}_{mod}_0_p{n}.tif``
- NTL: ``NTL/{train,val,test}/{lr_ntl,hr_ntl,dmo,dem,isp}/{id}.tif``
- ``scene/``: whole rasters of one region (:data:`SCENE_FILES`)

The readers (:mod:`helpers.datasets`) and the writers (Earth Engine exports here; the sample scene
in :mod:`helpers.synthetic`) take their names from this module.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from affine import Affine

from . import rasters

# ---- SEN12MS and DFC2020 ----

SEASONS = ("ROIs1158_spring", "ROIs1868_summer", "ROIs1970_fall", "ROIs2017_winter")
LC_LAYERS = ("igbp", "lccs_lc", "lccs_lu", "lccs_sh")  # band order of the SEN12MS lc files
MODALITIES = ("s1", "s2", "lc", "dfc")
DFC2020_FOLDER = "DFC2020"
DFC2020_SPLITS = ("validation", "test")
PATCH_NAME = re.compile(
    r"(?P<roi>ROIs\d{4}_[A-Za-z]+)_(?P<mod>s1|s2|lc|dfc)_(?P<scene>\d+)_p(?P<patch>\d+)"
)


def patch_id(roi: str, scene: str, patch: int) -> str:
    """The official id of a patch: its S2 file name without ``.tif``."""
    return f"{roi}_s2_{scene}_p{patch}"


def patch_path(root: str | os.PathLike, roi: str, scene: str, patch: int, mod: str) -> Path:
    """``root/<roi>/<mod>_<scene>/<roi>_<mod>_<scene>_p<patch>.tif`` (SEN12MS and DFC2020)."""
    return Path(root) / roi / f"{mod}_{scene}" / f"{roi}_{mod}_{scene}_p{patch}.tif"


def dfc2020_roi(split: str) -> str:
    """The ROI folder of a DFC2020 split: ``ROIs0000_validation`` or ``ROIs0000_test``."""
    if split not in DFC2020_SPLITS:
        raise ValueError(f"split must be one of {DFC2020_SPLITS}, not {split!r}.")
    return f"ROIs0000_{split}"


# ---- night lights ----

NTL_FOLDER = "NTL"
NTL_SPLITS = ("train", "val", "test")
NTL_LAYERS = {"lr_ntl": 1, "hr_ntl": 1, "dmo": 7, "dem": 1, "isp": 1}  # folder: band count
NTL_SAMPLE_KEYS = {  # folder -> key of a helpers.datasets.NTL sample
    "lr_ntl": "low_res",
    "hr_ntl": "high_res",
    "dmo": "dmo",
    "dem": "dem",
    "isp": "isp",
}


def ntl_path(root: str | os.PathLike, split: str, layer: str, ident: str) -> Path:
    """``root/<split>/<layer>/<id>.tif`` of the NTL layout."""
    return Path(root) / split / layer / f"{ident}.tif"


def ntl_split(index: int, count: int) -> str:
    """Spatial-block split of the ``index``-th patch (ordered by column, then row): 70/15/15 %."""
    if count < 3:
        return "train"
    n_test = max(1, round(0.15 * count))
    n_val = max(1, round(0.15 * count))
    if index >= count - n_test:
        return "test"
    if index >= count - n_test - n_val:
        return "val"
    return "train"


# ---- scene/ ----

SCENE_FILES = ("s2", "lc", "dfc", "dem", "ntl_hr", "ntl_lr", "dmo", "ntl_dem", "isp")
SCENE_OF_NTL_LAYER = {  # NTL layout folder -> file in scene/
    "lr_ntl": "ntl_lr",
    "hr_ntl": "ntl_hr",
    "dmo": "dmo",
    "dem": "ntl_dem",
    "isp": "isp",
}


# ---- writers (cut scene/ into the patch layouts) ----


def _patch_starts(n: int, patch: int) -> list[int]:
    return list(range(0, n - patch + 1, patch))


def write_dfc2020_layout(
    scene: str | os.PathLike, root: str | os.PathLike, split: str = "test", patch: int = 256
) -> list[Path]:
    """Cut ``scene/{s2,lc,dfc}.tif`` into the DFC2020 layout (``ROIs0000_<split>/<mod>_0/..._p<n>.tif``)."""
    scene = Path(scene)
    layers = {mod: rasters.read(scene / f"{mod}.tif") for mod in ("s2", "lc", "dfc")}
    base = layers["s2"]
    for mod in ("lc", "dfc"):
        rasters.check_same_grid(base, layers[mod])
    h, w = base.shape
    if h < patch or w < patch:
        raise ValueError(
            f"{scene / 's2.tif'}: {h}x{w} px is smaller than one {patch} px patch; "
            f"enlarge the AOI to at least {patch * base.resolution[0] / 1000:.2f} km a side."
        )
    written, number = [], 0
    for r in _patch_starts(h, patch):
        for c in _patch_starts(w, patch):
            number += 1
            for mod, raster in layers.items():
                transform = raster.transform * _translation(c, r)
                path = patch_path(Path(root) / DFC2020_FOLDER, dfc2020_roi(split), "0", number, mod)
                data = raster.data[:, r : r + patch, c : c + patch]
                written.append(
                    rasters.write(
                        path,
                        data,
                        raster.crs,
                        transform,
                        nodata=raster.nodata,
                        descriptions=[d or "" for d in raster.descriptions],
                    )
                )
    return written


def _translation(col: int, row: int) -> Any:
    return Affine.translation(col, row)


def write_ntl_layout(
    scene: str | os.PathLike, root: str | os.PathLike, patch: int = 64, ratio: int = 8
) -> list[Path]:
    """Cut the lights side of ``scene/`` into ``NTL/{split}/{lr_ntl,hr_ntl,dmo,dem,isp}/{id}.tif``."""
    scene, out_root = Path(scene), Path(root) / NTL_FOLDER
    if patch % ratio:
        raise ValueError(f"patch ({patch}) must be a multiple of the ratio ({ratio}).")
    layers = {
        layer: rasters.read(scene / f"{SCENE_OF_NTL_LAYER[layer]}.tif")
        for layer in NTL_LAYERS
        if layer != "lr_ntl"
    }
    low = rasters.read(scene / f"{SCENE_OF_NTL_LAYER['lr_ntl']}.tif")
    for mod in ("dmo", "dem", "isp"):
        rasters.check_same_grid(layers["hr_ntl"], layers[mod])
    rasters.check_same_bounds(layers["hr_ntl"], low)
    h, w = layers["hr_ntl"].shape
    cells = [(r, c) for c in _patch_starts(w, patch) for r in _patch_starts(h, patch)]
    if not cells:
        raise ValueError(
            f"{scene / 'ntl_hr.tif'}: {h}x{w} px is smaller than one {patch} px patch; enlarge the AOI."
        )
    written = []
    for i, (r, c) in enumerate(cells):
        split, pid = ntl_split(i, len(cells)), f"ee{r // patch:03d}_{c // patch:03d}"
        for mod, raster in layers.items():
            data = raster.data[:, r : r + patch, c : c + patch]
            written.append(
                rasters.write(
                    ntl_path(out_root, split, mod, pid),
                    data,
                    raster.crs,
                    raster.transform * _translation(c, r),
                    nodata=raster.nodata,
                    descriptions=[d or "" for d in raster.descriptions],
                )
            )
        lr, lc, lp = r // ratio, c // ratio, patch // ratio
        written.append(
            rasters.write(
                ntl_path(out_root, split, "lr_ntl", pid),
                low.data[:, lr : lr + lp, lc : lc + lp],
                low.crs,
                low.transform * _translation(lc, lr),
                nodata=low.nodata,
                descriptions=[d or "" for d in low.descriptions],
            )
        )
    return written


# ---- DFC2020 as downloaded (Copernicus-Bench zip) ----

COBENCH_DIR = "dfc2020_s1s2"  # the folder inside the Copernicus-Bench dfc2020.zip
COBENCH_SPLITS = {"train": "train", "val": "val", "validation": "val", "test": "test"}


def cobench_root(root: str | os.PathLike) -> Path | None:
    """The Copernicus-Bench DFC2020 folder (``{s1,s2,dfc}/`` + ``dfc-{split}-new.csv``) at or
    under ``root``, or None. Layout as in torchgeo's ``CopernicusBenchDFC2020S2`` (file names as
    in the original, e.g. ``dfc/ROIs0000_test_dfc_0_p609.tif``; split CSVs without a header)."""
    root = Path(root).expanduser()
    for folder in (root, root / COBENCH_DIR, root / "dfc2020" / COBENCH_DIR):
        if (folder / "dfc").is_dir() and any(folder.glob("dfc-*-new.csv")):
            return folder
    return None

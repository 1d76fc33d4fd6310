"""The kit's data layouts, defined once: folder names, file naming, split rules and writers.

- SEN12MS: ``ROIs1158_spring/{s1,s2,lc}_{scene}/ROIs1158_spring_{s1,s2,lc}_{scene}_p{patch}.tif``
- DFC2020: ``DFC2020/ROIs0000_{validation,test}/{s1,s2,lc,dfc}_0/ROIs0000_{split}_{mod}_0_p{n}.tif``
- NTL: ``NTL/{train,val,test}/{lr_ntl,hr_ntl,dmo,dem,isp}/{id}.tif``
- ``scene/``: whole rasters of one region (:data:`SCENE_FILES`)

The readers (:mod:`helpers.data.datasets`) and the writers (Earth Engine exports here; the sample scene
in :mod:`helpers.data.synthetic`) take their names from this module.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from affine import Affine

from ..io import rasters

# ---- SEN12MS and DFC2020 ----

SEN12MS_FOLDER = "SEN12MS"
SCENE_FOLDER = "scene"
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
NTL_SAMPLE_KEYS = {  # folder -> key of a helpers.data.datasets.NTL sample
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


def ntl_split_columns(col: int, n_cols: int) -> str:
    """Column blocks, train = left half, val = third quarter, test = last quarter (test never touches
    train): the sample scene's split up to scene 2.1, whose test quarter held far less light than
    the scene (the sample now uses :func:`ntl_split_stratified`)."""
    return "train" if col < n_cols // 2 else ("val" if col < (3 * n_cols) // 4 else "test")


# How each writer names an NTL patch (row, column in patches) and splits the grid.
NTL_SCHEMES = {
    "earthengine": "ee{row:03d}_{col:03d}",  # exports: 70/15/15 in column-major order
    "sample": "r{row:02d}c{col:02d}",  # the sample scene: stratified blocks (ntl_split_stratified)
}

# Strata of the sample scene's stratified block split (fine radiance, nW/cm2/sr; a fine pixel is
# "saturated" when its coarse pixel reads the 6-bit ceiling) and the blocks' shares per split.
NTL_LIT, NTL_BRIGHT, NTL_DN_MAX = 1.0, 20.0, 63
NTL_STRATA = ("lit", "bright", "saturated")
NTL_TEST_SHARE, NTL_VAL_SHARE = 0.25, 0.15
# default "sample" blocks: a 4 x 4 grid (16 blocks: 4 test, 2 val, 10 train)
NTL_BLOCKS_PER_SIDE = 4


def ntl_strata_counts(radiance: Any, dn: Any, ratio: int) -> dict[str, int]:
    """Fine pixels of one block: all, lit (> 1), bright (> 20 nW/cm2/sr), saturated (coarse DN 63)."""
    import numpy as np

    rad, low = np.asarray(radiance, np.float64).squeeze(), np.asarray(dn).squeeze()
    return {
        "pixels": int(rad.size),
        "lit": int((rad > NTL_LIT).sum()),
        "bright": int((rad > NTL_BRIGHT).sum()),
        "saturated": int((low >= NTL_DN_MAX).sum()) * ratio * ratio,
    }


def _share_error(counts: list[dict[str, int]], chosen: tuple[int, ...], scene: dict) -> float:
    """How far the chosen blocks' shares of the strata are from the scene's (sum of |log ratio|)."""
    import math

    pixels = sum(counts[i]["pixels"] for i in chosen)
    err = 0.0
    for key in NTL_STRATA:
        want = (scene[key] + 0.5) / scene["pixels"]
        got = (sum(counts[i][key] for i in chosen) + 0.5) / pixels
        err += abs(math.log(got / want))
    return err


def _best_blocks(counts: list[dict[str, int]], pool: list[int], k: int, scene: dict) -> list[int]:
    """The ``k`` blocks of ``pool`` whose strata shares come closest to the scene's (exhaustive up
    to 50,000 combinations, else the best of 50,000 seeded draws: deterministic either way)."""
    import itertools
    import math

    import numpy as np

    if math.comb(len(pool), k) <= 50_000:
        combos = itertools.combinations(pool, k)
    else:
        rng = np.random.default_rng(0)
        combos = (tuple(sorted(rng.choice(pool, k, replace=False))) for _ in range(50_000))
    return list(min(combos, key=lambda c: _share_error(counts, c, scene)))


def ntl_split_stratified(
    counts: list[dict[str, int]],
    test_share: float = NTL_TEST_SHARE,
    val_share: float = NTL_VAL_SHARE,
) -> list[str]:
    """Split of each block (``counts`` from :func:`ntl_strata_counts`): the test blocks, then the
    validation blocks, are the sets whose lit, bright and saturated shares come closest to the
    whole scene's; the rest train. With fewer than 3 blocks everything trains."""
    n = len(counts)
    if n < 3:
        return ["train"] * n
    scene = {k: sum(c[k] for c in counts) for k in ("pixels", *NTL_STRATA)}
    n_test, n_val = max(1, round(test_share * n)), max(1, round(val_share * n))
    test = _best_blocks(counts, list(range(n)), n_test, scene)
    rest = [i for i in range(n) if i not in test]
    val = _best_blocks(counts, rest, n_val, scene)
    return ["test" if i in test else "val" if i in val else "train" for i in range(n)]


def ntl_patch_id(row: int, col: int, scheme: str = "earthengine") -> str:
    """The id (file stem) of the NTL patch in patch row ``row``, column ``col``."""
    if scheme not in NTL_SCHEMES:
        raise ValueError(f"scheme must be one of {list(NTL_SCHEMES)}, not {scheme!r}.")
    return NTL_SCHEMES[scheme].format(row=row, col=col)


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


def write_patch_layout(
    layers: dict[str, rasters.Raster],
    root: str | os.PathLike,
    roi: str,
    scene: str = "0",
    patch: int = 256,
    first: int = 1,
) -> int:
    """Cut co-registered ``{modality: Raster}`` into the SEN12MS / DFC2020 layout under ``root``
    (patches numbered row by row from ``first``; each file keeps its raster's tags); returns the
    number of patches. Used by the sample scene and :func:`write_dfc2020_layout`."""
    base = next(iter(layers.values()))
    h, w = base.shape
    number = first - 1
    for r in _patch_starts(h, patch):
        for c in _patch_starts(w, patch):
            number += 1
            for mod, raster in layers.items():
                _write_window(patch_path(root, roi, scene, number, mod), raster, r, c, patch, patch)
    return number - first + 1


def _write_window(path: Path, raster: rasters.Raster, row: int, col: int, h: int, w: int) -> Path:
    """One window of ``raster`` as its own georeferenced file (tags and nodata kept)."""
    return rasters.write(
        path,
        raster.data[:, row : row + h, col : col + w],
        raster.crs,
        raster.transform * _translation(col, row),
        nodata=raster.nodata,
        descriptions=[d or "" for d in raster.descriptions],
        tags=raster.tags or None,
    )


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
    for raster in layers.values():
        raster.tags = {}  # exports carry what Earth Engine wrote, not the scene's tags
    roi, out = dfc2020_roi(split), Path(root) / DFC2020_FOLDER
    count = write_patch_layout(layers, out, roi, "0", patch)
    return [patch_path(out, roi, "0", n, mod) for n in range(1, count + 1) for mod in layers]


def _translation(col: int, row: int) -> Any:
    return Affine.translation(col, row)


def write_ntl_patches(
    high: dict[str, rasters.Raster],
    low: rasters.Raster,
    root: str | os.PathLike,
    patch: int,
    ratio: int,
    scheme: str = "earthengine",
    block: int | None = None,
) -> list[Path]:
    """Cut the fine layers ``{layer: Raster}`` (``hr_ntl``, ``dmo``, ``dem``, ``isp``) and the coarse
    ``low`` (``lr_ntl``) into ``root/{split}/{layer}/{id}.tif``; ids and splits follow ``scheme``
    (:data:`NTL_SCHEMES`; "sample": blocks of ``block`` x ``block`` patches, by default a grid of
    :data:`NTL_BLOCKS_PER_SIDE` blocks a side, split by :func:`ntl_split_stratified`). Returns the
    paths written."""
    if patch % ratio:
        raise ValueError(f"patch ({patch}) must be a multiple of the ratio ({ratio}).")
    h, w = high["hr_ntl"].shape
    rows, cols = _patch_starts(h, patch), _patch_starts(w, patch)
    if scheme == "sample":  # row by row, split by stratified blocks
        cells = [(r, c) for r in rows for c in cols]
        block = block or max(1, min(len(rows), len(cols)) // NTL_BLOCKS_PER_SIDE)
        split_of = _stratified_cells(high["hr_ntl"], low, cells, patch * block, ratio)
    else:  # column by column, 70/15/15
        cells = [(r, c) for c in cols for r in rows]
        split_of = [ntl_split(i, len(cells)) for i in range(len(cells))]
    written, lp = [], patch // ratio
    for (r, c), split in zip(cells, split_of):
        pid = ntl_patch_id(r // patch, c // patch, scheme)
        for layer, raster in high.items():
            written.append(
                _write_window(ntl_path(root, split, layer, pid), raster, r, c, patch, patch)
            )
        lr_path = ntl_path(root, split, "lr_ntl", pid)
        written.append(_write_window(lr_path, low, r // ratio, c // ratio, lp, lp))
    return written


def _stratified_cells(
    hr: rasters.Raster, low: rasters.Raster, cells: list[tuple[int, int]], side: int, ratio: int
) -> list[str]:
    """The split of each patch ``(row, col)``: that of its ``side`` px block (stratified)."""
    keys = sorted({(r // side, c // side) for r, c in cells})
    lo = side // ratio
    counts = [
        ntl_strata_counts(
            hr.data[0, br * side : (br + 1) * side, bc * side : (bc + 1) * side],
            low.data[0, br * lo : (br + 1) * lo, bc * lo : (bc + 1) * lo],
            ratio,
        )
        for br, bc in keys
    ]
    split = dict(zip(keys, ntl_split_stratified(counts)))
    return [split[(r // side, c // side)] for r, c in cells]


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
    if h < patch or w < patch:
        raise ValueError(
            f"{scene / 'ntl_hr.tif'}: {h}x{w} px is smaller than one {patch} px patch; enlarge the AOI."
        )
    for raster in (*layers.values(), low):
        raster.tags = {}
    return write_ntl_patches(layers, low, out_root, patch, ratio, scheme="earthengine")


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

"""Fake files for tests: one writer per layout (SEN12MS, DFC2020, NTL, ``scene/`` GeoTIFFs).

Every test that needs files in one of the kit's layouts writes them through these functions, so a
layout change is made here once. Values are small and known (each S2 band identifiable by value,
NTL low-res DN counting up), so a test can check what a reader returns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.crs import CRS
from rasterio.transform import from_origin

from helpers.core.bands import S2_BANDS
from helpers.data.layouts import ntl_path, patch_path
from helpers.io import rasters

UTM = CRS.from_epsg(32632)
GEO = CRS.from_epsg(4326)
SIZE = 32


def patch_transform(crs: Any, size: int = SIZE, res: float = 10.0) -> Any:
    """A 10 m UTM transform, or a ~10 m geographic one (``crs`` WGS 84)."""
    if crs == GEO:
        return from_origin(11.0, 48.0, 0.0001, 0.0001)
    return from_origin(500000.0, 5300000.0, res, res)


def sen12ms_patch(
    root: Path,
    roi: str,
    scene: str,
    patch: int,
    crs: Any = UTM,
    size: int = SIZE,
    dfc: bool = False,
    seed: int = 0,
) -> dict[str, Path]:
    """One S1/S2/LC (and DFC, without geolocation) patch in the official SEN12MS/DFC2020 naming
    under ``root``; returns ``{modality: path}``. S2 band b holds ``1000 * (b + 1) // 2`` plus a
    column gradient; B12 is 12000 (above the clip)."""
    rng = np.random.default_rng(seed + patch)
    tr = patch_transform(crs, size)
    s2 = np.zeros((13, size, size), np.uint16)
    for b in range(13):
        s2[b] = 1000 * (b + 1) // 2 + np.arange(size)[None, :]
    s2[12] = 12000
    s1 = np.stack([np.full((size, size), -10.0), np.full((size, size), -30.0)]).astype(np.float32)
    igbp = rng.choice([1, 6, 10, 12, 13, 17], size=(size, size)).astype(np.uint16)
    lc = np.stack([igbp, np.full_like(igbp, 11), np.full_like(igbp, 10), np.full_like(igbp, 3)])
    paths = {}
    for mod, data in (("s2", s2), ("s1", s1), ("lc", lc)):
        paths[mod] = rasters.write(patch_path(root, roi, scene, patch, mod), data, crs, tr)
    if dfc:
        fine = rng.choice([1, 2, 4, 5, 6, 7, 9, 10], size=(size, size)).astype(np.uint16)
        path = patch_path(root, roi, scene, patch, "dfc")
        paths["dfc"] = rasters.write(path, fine, None, from_origin(0, size, 1, 1))
    return paths


def sen12ms(root: Path, patches: tuple[int, ...] = (202, 203, 204), size: int = SIZE) -> Path:
    """A SEN12MS folder: summer patches ``patches`` (UTM) and one spring patch on a geographic
    CRS; returns ``root``."""
    for p in patches:
        sen12ms_patch(root, "ROIs1868_summer", "146", p, size=size)
    sen12ms_patch(root, "ROIs1158_spring", "1", 30, crs=GEO, size=size)
    return root


def dfc2020(root: Path, patches: tuple[int, ...] = (1, 2, 3), size: int = SIZE) -> Path:
    """A DFC2020 folder: ``validation`` and ``test`` patches without geolocation; returns ``root``."""
    for p in patches:
        for split in ("test", "validation"):
            sen12ms_patch(root, f"ROIs0000_{split}", "0", p, crs=None, dfc=True, size=size)
    return root


def ntl_patch(
    root: Path,
    split: str = "train",
    ident: str = "a",
    size: int = 32,
    ratio: int = 8,
    crs: Any = UTM,
    layers: dict[str, np.ndarray] | None = None,
    origin: tuple[float, float] = (400000.0, 3500000.0),
    res: float = 30.0,
) -> dict[str, Path]:
    """One patch of the NTL layout ``{split}/{lr_ntl,hr_ntl,dmo,dem,isp}/{ident}.tif``; returns
    ``{layer: path}``. Defaults: random radiance and reflectance, DEM 120 m, random 0/1 ``isp``,
    low-res DN counting up from 0; ``layers`` replaces any of them (arrays ``(bands, h, w)``)."""
    hr_tr = from_origin(*origin, res, res)
    lr_tr = from_origin(*origin, res * ratio, res * ratio)
    rng = np.random.default_rng(0)
    side = size // ratio
    data = {
        "hr_ntl": (rng.random((1, size, size)) * 50).astype(np.float32),
        "dmo": rng.random((7, size, size)).astype(np.float32),
        "dem": np.full((1, size, size), 120.0, np.float32),
        "isp": (rng.random((1, size, size)) > 0.5).astype(np.uint8),
        "lr_ntl": np.arange(side * side, dtype=np.uint8).reshape(1, side, side),
    }
    data.update(layers or {})
    return {
        k: rasters.write(ntl_path(root, split, k, ident), v, crs, lr_tr if k == "lr_ntl" else hr_tr)
        for k, v in data.items()
    }


def scene_folder(
    folder: Path,
    size: int = 48,
    crs: Any = UTM,
    origin: tuple[float, float] = (500_000.0, 5_000_000.0),
    bands: tuple[str, ...] = S2_BANDS,
    seed: int = 0,
) -> Path:
    """A ``scene/`` folder of whole rasters: ``s2`` (``bands`` named), ``dfc`` (west half forest,
    east half water), ``lc`` (IGBP water in the last columns), ``dem`` on a 10 m grid of ``size`` px;
    ``ntl_hr`` (30 m), ``ntl_lr`` (240 m), ``dmo``, ``ntl_dem``, ``isp`` (30 m). Returns ``folder``."""
    rng = np.random.default_rng(seed)
    t10, t30, t240 = (from_origin(*origin, r, r) for r in (10, 30, 240))
    s2 = rng.integers(0, 3000, (len(bands), size, size), dtype=np.uint16)
    rasters.write(folder / "s2.tif", s2, crs, t10, descriptions=list(bands))
    dfc = np.ones((size, size), np.uint16)
    dfc[:, size // 2 :] = 10
    rasters.write(folder / "dfc.tif", dfc, crs, t10)
    lc = np.full((4, size, size), 1, np.uint16)
    lc[0, :, size - size // 6 :] = 17
    rasters.write(folder / "lc.tif", lc, crs, t10)
    rasters.write(folder / "dem.tif", np.full((1, size, size), 250.0, np.float32), crs, t10)
    hr = size // 3
    rasters.write(folder / "ntl_hr.tif", rng.random((1, hr, hr), dtype=np.float32) * 50, crs, t30)
    low = rng.integers(0, 64, (1, max(1, hr // 8), max(1, hr // 8)), dtype=np.uint8)
    rasters.write(folder / "ntl_lr.tif", low, crs, t240)
    rasters.write(folder / "dmo.tif", rng.random((7, hr, hr)).astype(np.float32) * 0.3, crs, t30)
    rasters.write(folder / "ntl_dem.tif", np.full((1, hr, hr), 300.0, np.float32), crs, t30)
    rasters.write(folder / "isp.tif", (rng.random((1, hr, hr)) > 0.7).astype(np.uint8), crs, t30)
    return folder


def ntl_scene(folder: Path, side: int, rows: int | None = None, seed: int = 0) -> dict[str, Any]:
    """The night-light rasters of a ``scene/`` folder on a 30 m grid of ``rows`` x ``side`` px:
    ``ntl_lr.tif`` (DN, 8x coarser), ``dmo.tif`` (7 smooth bands), ``ntl_dem.tif``; returns their
    paths under ``low_res``, ``dmo``, ``dem`` and the arrays under ``arrays``."""
    rows = rows or side
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:side] / side
    dmo = (
        0.1 + 0.05 * np.sin(6 * xx) * np.cos(4 * yy) + 0.01 * rng.random((7, rows, side))
    ).astype(np.float32)
    dem = (300 + 200 * xx + 50 * rng.random((rows, side))).astype(np.float32)
    low = rng.integers(0, 64, (rows // 8, side // 8)).astype(np.uint8)
    crs, hr_tr = "EPSG:32633", from_origin(500000, 4000000, 30, 30)
    lr_tr = from_origin(500000, 4000000, 240, 240)
    return {
        "low_res": rasters.write(folder / "ntl_lr.tif", low, crs, lr_tr),
        "dmo": rasters.write(folder / "dmo.tif", dmo, crs, hr_tr),
        "dem": rasters.write(folder / "ntl_dem.tif", dem, crs, hr_tr),
        "arrays": (low, dmo, dem),
    }


def real_scene(
    folder: Path, height: int, width: int, poison_east: bool = False, seed: int = 0
) -> Path:
    """A real-scene folder as ``realdata`` builds it: ``s2.tif`` (13 bands uint16 L1C DN, band
    names), ``labels.tif`` (classes 1..5 in rows, in both halves) and ``classes.json``; the east
    half's DN are absurd (65000) when ``poison_east``. Returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    s2 = rng.integers(200, 3000, size=(13, height, width)).astype(np.uint16)
    if poison_east:
        s2[:, :, width // 2 :] = 65000
    lab = np.tile(np.arange(height)[:, None] % 5 + 1, (1, width)).astype(np.uint8)
    transform = from_origin(300000, 5800000, 10, 10)
    rasters.write(folder / "s2.tif", s2, "EPSG:32633", transform)
    rasters.write(folder / "labels.tif", lab, "EPSG:32633", transform)
    names = ["forest", "water", "grass", "farmland", "residential"]
    classes = [{"value": i + 1, "name": n} for i, n in enumerate(names)]
    (folder / "classes.json").write_text(json.dumps(classes))
    return folder

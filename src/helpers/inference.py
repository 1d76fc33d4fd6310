"""Inference on whole scenes, tile by tile with blended overlaps: land cover (:func:`predict_scene`)
and night lights (:func:`predict_ntl`, streamed window by window to a GeoTIFF).

Models know tensors; this module knows rasters: it cuts scenes into tiles
(:func:`helpers.rasters.tile_grid`), runs the model on each and blends the overlaps.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch
import torch.nn.functional as F
from rasterio.windows import Window
from tqdm.auto import tqdm

from . import rasters
from .models import ntl_sr
from .rasters import RasterError, blend_window, grid_of, read, tile_grid

# ---- land cover: a whole scene in memory ----


def predict_scene(
    model: Any,
    image: Any,
    tile: int = 256,
    overlap: int = 32,
    device: Any = None,
    batch_size: int = 4,
    output: str = "labels",
    multiple: int | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Predict a whole raster ``(C, H, W)`` tile by tile, blending overlaps (``rasters.assemble``).

    Class probabilities are blended, then ``"labels"`` gives the argmax ``(H, W)`` (uint8) and
    ``"probs"`` the ``(classes, H, W)`` probabilities. Tiles are padded (reflect) up to a
    multiple of ``multiple`` (default ``model.size_multiple`` if the model has one) and cropped back.
    """
    if output not in ("labels", "probs"):
        raise ValueError(f"output must be 'labels' or 'probs', got {output!r}")
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim != 3:
        raise ValueError(f"image must be (bands, height, width), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(
            "image holds NaN/inf; fill nodata first (e.g. np.nan_to_num) before predicting"
        )
    device = torch.device(device) if device is not None else next(model.parameters()).device
    multiple = multiple or int(getattr(model, "size_multiple", 1))
    _, height, width = arr.shape
    grid = rasters.tile_grid(height, width, tile, overlap)
    model.eval()
    pieces = []
    for start in tqdm(range(0, len(grid), batch_size), desc="tiles", disable=not progress):
        group = grid[start : start + batch_size]  # all tiles of a grid share one size
        t0 = group[0]
        x = torch.from_numpy(
            np.stack([arr[:, t.row : t.row + t.height, t.col : t.col + t.width] for t in group])
        )
        ph, pw = (-t0.height) % multiple, (-t0.width) % multiple
        if ph or pw:
            mode = "reflect" if min(t0.height, t0.width) > max(ph, pw) else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        with torch.no_grad():
            probs = (
                model(x.to(device)).float().softmax(1)[:, :, : t0.height, : t0.width].cpu().numpy()
            )
        pieces.extend(zip(group, probs))
    blended = rasters.assemble(pieces, height, width, overlap)
    if output == "probs":
        return blended
    return blended.argmax(0).astype(np.uint8)


# ---- adversarial loop (pix2pix, notebook 05) ----
# pix2pix training (Isola et al. 2017, and the HR-MARS seed's cGAN): for every batch, first D is
# trained on the real pair (condition, target) with label 1 and on the generated pair with label
# 0; then D is frozen and G is trained to make D answer 1 on its pair, plus lambda_L1 * L1 to the
# target. Adam(2e-4, beta1 0.5) for both, as in the paper.


# ---- night lights: streamed to a GeoTIFF ----


class _Source:
    """Windowed reads (bands, rows, cols) from a GeoTIFF path or an in-memory array."""

    def __init__(self, src: Any, name: str, bands: int) -> None:
        self.name, self.path, self.array = name, None, None
        if isinstance(src, (str, os.PathLike)):
            self.path = Path(src)
            _, _, self.shape = grid_of(self.path)

            with rasterio.open(self.path) as ds:
                if ds.count != bands:
                    raise RasterError(
                        f"{self.path}: {name} has {ds.count} band(s), expected {bands}; use the {name} file of the scene."
                    )
        else:
            arr = np.asarray(src)
            self.array = arr[None] if arr.ndim == 2 else arr
            if self.array.shape[0] != bands:
                raise ValueError(
                    f"{name}: array has {self.array.shape[0]} band(s), expected {bands}."
                )
            self.shape = tuple(self.array.shape[-2:])

    def read(self, row: int, col: int, height: int, width: int) -> np.ndarray:
        if self.array is not None:
            return np.asarray(
                self.array[:, row : row + height, col : col + width], dtype=np.float32
            )
        data = read(self.path, window=Window(col, row, width, height)).data.astype(np.float32)
        if not np.isfinite(data).all():
            raise RasterError(
                f"{self.path}: NaN/inf in window rows {row}:{row + height}, cols {col}:{col + width}; fill or mask nodata first."
            )
        return data


@torch.no_grad()
def predict_ntl(
    model: ntl_sr.MMNTLSR,
    low_res: Any,
    dmo: Any,
    dem: Any,
    tile: int = 128,
    overlap: int = 32,
    out_path: str | os.PathLike | None = None,
    like: Any = None,
    device: Any = None,
    progress: bool = True,
) -> Path | np.ndarray:
    """Super-resolve a scene tile by tile (memory bounded by the tile, not the scene).

    Inputs are GeoTIFF paths or arrays in physical units (LR DN, DMO reflectance, DEM metres).
    Tiles of ``tile`` HR pixels overlap by ``overlap`` and are blended with
    :func:`helpers.rasters.blend_window`. With ``out_path`` the weighted sum and weight are
    accumulated window by window in a temporary uncompressed GeoTIFF, then normalised window by
    window into ``out_path`` (georeferenced like ``like`` or the DMO file); without it, an array
    is returned (for scenes that fit in memory).
    """
    r = model.config.ratio
    lo, dm, de = _Source(low_res, "low_res", 1), _Source(dmo, "dmo", 7), _Source(dem, "dem", 1)
    height, width = dm.shape
    if de.shape != dm.shape:
        raise RasterError(
            f"dem {de.shape} and dmo {dm.shape} must share the HR grid; resample one onto the other."
        )
    if lo.shape != (height // r, width // r) or height % r or width % r:
        raise RasterError(
            f"low_res {lo.shape} must be the HR grid {dm.shape} divided by the ratio {r}."
        )
    if tile % r or overlap % r or tile <= overlap:
        raise ValueError(
            f"tile ({tile}) and overlap ({overlap}) must be multiples of {r}, tile > overlap."
        )
    device = device or next(model.parameters()).device
    model.eval()
    tiles = tile_grid(height, width, tile, overlap)
    sink = (
        _ArraySink(height, width)
        if out_path is None
        else _FileSink(out_path, height, width, like or dm.path)
    )
    try:
        for t in tqdm(tiles, desc="tiles", disable=not progress, leave=False):
            pred = ntl_sr.predict(
                model,
                lo.read(t.row // r, t.col // r, t.height // r, t.width // r),
                dm.read(t.row, t.col, t.height, t.width),
                de.read(t.row, t.col, t.height, t.width),
                device,
            )
            sink.add(t.row, t.col, pred, blend_window(t.height, t.width, overlap))
        return sink.finish(tile)
    finally:
        sink.close()


class _ArraySink:
    """Accumulate blended tiles in memory (the one-shot-sized fallback)."""

    def __init__(self, height: int, width: int) -> None:
        self.total = np.zeros((height, width), np.float64)
        self.weight = np.zeros((height, width), np.float64)

    def add(self, row: int, col: int, pred: np.ndarray, wgt: np.ndarray) -> None:
        h, w = pred.shape
        self.total[row : row + h, col : col + w] += pred * wgt
        self.weight[row : row + h, col : col + w] += wgt

    def finish(self, tile: int) -> np.ndarray:
        return (self.total / np.maximum(self.weight, 1e-12)).astype(np.float32)

    def close(self) -> None:
        pass


class _FileSink:
    """Accumulate blended tiles in a temporary 2-band GeoTIFF (sum, weight), then normalise."""

    def __init__(self, out_path: Any, height: int, width: int, like: Any) -> None:
        self.out = Path(out_path)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if like is None:
            raise ValueError(
                "out_path needs a georeference: pass like=<HR GeoTIFF> when inputs are arrays."
            )
        crs, transform, shape = grid_of(like)
        if shape != (height, width):
            raise ValueError(f"like {like} has shape {shape}, the scene {(height, width)}.")
        self.profile = {
            "driver": "GTiff",
            "height": height,
            "width": width,
            "crs": crs,
            "transform": transform,
        }
        fd, self.tmp = tempfile.mkstemp(
            suffix=".tif", dir=self.out.parent, prefix=f".{self.out.stem}.acc."
        )
        os.close(fd)
        self.acc = rasterio.open(
            self.tmp, "w+", count=2, dtype="float32", tiled=False, **self.profile
        )

    def add(self, row: int, col: int, pred: np.ndarray, wgt: np.ndarray) -> None:
        win = Window(col, row, pred.shape[1], pred.shape[0])
        cur = self.acc.read(window=win)
        cur[0] += pred * wgt
        cur[1] += wgt
        self.acc.write(cur, window=win)

    def finish(self, tile: int) -> Path:
        h, w = self.profile["height"], self.profile["width"]
        tmp_out = self.out.with_name(f".{self.out.stem}.part.tif")
        blocks = (
            {"tiled": True, "blockxsize": 256, "blockysize": 256}
            if h % 256 == 0 and w % 256 == 0
            else {}
        )
        with rasterio.open(
            tmp_out, "w", count=1, dtype="float32", compress="deflate", **blocks, **self.profile
        ) as dst:
            dst.set_band_description(1, "ntl_radiance_sr")
            dst.update_tags(units="nW/cm2/sr", source="helpers.inference.predict_ntl")
            for row in range(0, h, tile):
                for col in range(0, w, tile):
                    win = Window(col, row, min(tile, w - col), min(tile, h - row))
                    cur = self.acc.read(window=win)
                    dst.write(
                        (cur[0] / np.maximum(cur[1], 1e-12))[None].astype(np.float32), window=win
                    )
        os.replace(tmp_out, self.out)
        return self.out

    def close(self) -> None:
        self.acc.close()
        if os.path.exists(self.tmp):
            os.remove(self.tmp)

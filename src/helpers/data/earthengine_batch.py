"""Earth Engine batch exports for areas too large to fetch interactively, and their tiles read back.

Interactive requests (:func:`helpers.data.earthengine.export`) hold a whole scene in memory and count
against the interactive quota. For large areas Earth Engine runs export *tasks* instead, writing
GeoTIFFs to Cloud Storage or Drive. This module:

1. cuts the kit's grid into tiles (:func:`plan_tiles`) and builds, per tile, the keyword arguments
   of ``ee.batch.Export.image.toCloudStorage`` / ``toDrive`` (:func:`export_params`): ``crs``,
   ``crsTransform`` = the tile's affine (row-major ``[xScale, xShearing, xTranslation, yShearing,
   yScale, yTranslation]``, as Earth Engine's guide "Exporting Images" describes) and a two-number
   ``dimensions`` "WIDTHxHEIGHT", so each task writes exactly the tile's pixels on the kit's grid
   (the earthengine-api turns crs + crsTransform + dimensions without region/scale into that exact
   rectangle), and ``fileDimensions`` covering the tile so each task writes one file;
2. starts the tasks (:func:`start_exports`, or build them yourself from :func:`export_requests`);
   Earth Engine runs about 2 batch tasks at once per project by default (page "Earth Engine
   quotas"), so large exports queue;
3. once the files are downloaded into one folder, :func:`assemble` checks each tile's georeference
   against the plan and writes ``scene/<name>.tif`` window by window (never the whole scene in
   memory), applying the spec's ``postprocess``; :func:`scene_from_tiles` does every modality and
   cuts the kit's DFC2020 and NTL layouts with :mod:`helpers.data.layouts`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io import rasters
from . import layouts
from .earthengine_specs import Grid, Spec, nested_grids

SHARD = 256  # Earth Engine's default shardSize; fileDimensions must be a multiple of it
DESTINATIONS = ("cloud", "drive")


@dataclass(frozen=True)
class ExportTile:
    """One export task: modality ``name``, tile ``(row, col)`` (pixels) and its sub-grid."""

    name: str
    row: int
    col: int
    grid: Grid

    @property
    def file_stem(self) -> str:
        """The exported file's name without ``.tif``: ``<name>_r<row>_c<col>``."""
        return f"{self.name}_r{self.row:06d}_c{self.col:06d}"


def plan_tiles(grid: Grid, name: str, tile: int = 4096) -> list[ExportTile]:
    """Tiles of ``tile`` px covering ``grid`` exactly; edge tiles are smaller."""
    if tile <= 0:
        raise ValueError(f"tile {tile}: choose a positive size in pixels (e.g. 4096).")
    height, width = grid.shape
    return [
        ExportTile(name, r, c, grid.window(r, c, min(tile, height - r), min(tile, width - c)))
        for r in range(0, height, tile)
        for c in range(0, width, tile)
    ]


def export_params(
    tile: ExportTile,
    destination: str = "cloud",
    bucket: str | None = None,
    folder: str | None = None,
    prefix: str = "eosr",
    max_pixels: int = 10**10,
) -> dict[str, Any]:
    """Keyword arguments (without ``image``) of ``Export.image.toCloudStorage`` (``bucket``) or
    ``toDrive`` (``folder``) that write exactly ``tile``'s pixels on the kit's grid."""
    if destination not in DESTINATIONS:
        raise ValueError(f"destination must be one of {DESTINATIONS}, not {destination!r}.")
    if destination == "cloud" and not bucket:
        raise ValueError("a Cloud Storage export needs bucket='my-bucket'.")
    h, w = tile.grid.shape
    params: dict[str, Any] = {
        "description": f"{prefix}_{tile.file_stem}"[:100],
        "fileNamePrefix": f"{prefix}/{tile.file_stem}"
        if destination == "cloud"
        else tile.file_stem,
        "crs": tile.grid.crs,
        "crsTransform": [float(v) for v in tile.grid.transform],
        "dimensions": f"{w}x{h}",
        "fileDimensions": [math.ceil(w / SHARD) * SHARD, math.ceil(h / SHARD) * SHARD],
        "fileFormat": "GeoTIFF",
        "maxPixels": int(max_pixels),
    }
    if destination == "cloud":
        params["bucket"] = bucket
    elif folder:
        params["folder"] = folder
    return params


def export_requests(
    bbox: Sequence[float],
    requests: dict[str, tuple[Spec, float]],
    tile: int = 4096,
    **params: Any,
) -> list[tuple[Spec, ExportTile, dict[str, Any]]]:
    """``(spec, tile, export kwargs)`` for every tile of every modality on the nested grids of
    ``bbox`` (the same grids as the interactive :func:`helpers.data.earthengine.export_scene`)."""
    grids = nested_grids(bbox, sorted({scale for _, scale in requests.values()}))
    return [
        (spec, t, export_params(t, **params))
        for name, (spec, scale) in requests.items()
        for t in plan_tiles(grids[scale], name, tile)
    ]


def start_exports(
    ee: Any, planned: list[tuple[Spec, ExportTile, dict[str, Any]]], destination: str = "cloud"
) -> list[Any]:
    """Create and start one Earth Engine task per planned tile; returns the tasks (poll
    ``task.status()``). ``ee`` is the initialised ``earthengine-api`` module."""
    make = ee.batch.Export.image.toCloudStorage
    if destination == "drive":
        make = ee.batch.Export.image.toDrive
    tasks = []
    for spec, tile, params in planned:
        task = make(image=spec.ee_image(ee, tile.grid).select(list(spec.bands)), **params)
        task.start()
        tasks.append(task)
    return tasks


# ---- reading the exported tiles back ----


class ExportTilesError(rasters.RasterError):
    """Exported tiles that cannot be assembled; the message names the file and the fix."""


def _check_tile(path: Path, tile: ExportTile, bands: int) -> None:
    """The tile file must exist and sit exactly on its planned grid with ``bands`` bands."""
    if not path.exists():
        raise ExportTilesError(
            f"{path}: missing. Wait until the export task {tile.file_stem!r} has finished, then "
            "download every tile of the export into this folder (gsutil -m cp / Drive download)."
        )
    from rasterio.crs import CRS

    head = rasters.info(path)
    crs_ok = head.crs is not None and head.crs == CRS.from_user_input(tile.grid.crs)
    transform_ok = np.allclose(tuple(head.transform)[:6], tile.grid.transform, atol=1e-6)
    if not (crs_ok and transform_ok and head.shape == tuple(tile.grid.shape)):
        raise ExportTilesError(
            f"{path}: on grid {head.crs} {tuple(head.transform)[:6]} {head.shape}, expected "
            f"{tile.grid.crs} {tile.grid.transform} {tile.grid.shape}. It belongs to another "
            "export (other AOI or tile size): export again with the same bbox and tile."
        )
    if head.count != bands:
        raise ExportTilesError(
            f"{path}: {head.count} band(s), expected {bands}. Export with the spec's bands."
        )


def assemble(
    spec: Spec, tiles: list[ExportTile], folder: str | os.PathLike, out: str | os.PathLike
) -> Path:
    """Write ``out`` (the whole grid of ``tiles``) from the exported files in ``folder``, tile by
    tile: every tile checked first, the spec's ``postprocess`` applied per tile, written atomically."""
    import rasterio

    folder, out = Path(folder), Path(out)
    paths = [folder / f"{t.file_stem}.tif" for t in tiles]
    for path, tile in zip(paths, tiles, strict=True):
        _check_tile(path, tile, len(spec.bands))
    full = _union(tiles)
    first = spec.postprocess(rasters.read(paths[0]).data)
    profile = {
        "driver": "GTiff",
        "height": full.shape[0],
        "width": full.shape[1],
        "count": first.shape[0],
        "dtype": first.dtype.name,
        "crs": full.crs,
        "transform": full.affine,
        "compress": "deflate",
        "tiled": True,
        "blockxsize": SHARD,
        "blockysize": SHARD,
        "nodata": spec.nodata(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    with rasterio.open(tmp, "w", **profile) as dst:
        for path, tile in zip(paths, tiles, strict=True):
            data = spec.postprocess(rasters.read(path).data)
            window = rasterio.windows.Window(
                tile.col - tiles[0].col, tile.row - tiles[0].row, *tile.grid.shape[::-1]
            )
            dst.write(data, window=window)
        for i, text in enumerate(spec.out_bands, start=1):
            dst.set_band_description(i, text)
        dst.update_tags(source="Google Earth Engine (batch export)", dataset=spec.dataset)
    os.replace(tmp, out)
    return out


def _union(tiles: list[ExportTile]) -> Grid:
    """The grid covered by a full set of tiles (the first tile is the top-left one)."""
    first = tiles[0]
    height = max(t.row + t.grid.shape[0] for t in tiles) - first.row
    width = max(t.col + t.grid.shape[1] for t in tiles) - first.col
    return Grid(first.grid.crs, first.grid.transform, (height, width))


def scene_from_tiles(
    folder: str | os.PathLike,
    root: str | os.PathLike,
    bbox: Sequence[float],
    requests: dict[str, tuple[Spec, float]],
    tile: int = 4096,
    patch: int = 256,
    ntl_patch: int = 64,
    ratio: int = 8,
) -> dict[str, Path]:
    """Assemble every modality's exported tiles into ``root/scene/<name>.tif`` and cut the kit's
    DFC2020 and NTL layouts from them (:mod:`helpers.data.layouts`); returns the scene files."""
    planned = export_requests(bbox, requests, tile, destination="drive")
    files = {}
    for name, (spec, _) in requests.items():
        tiles = [t for s, t, _ in planned if t.name == name and s is spec]
        files[name] = assemble(spec, tiles, folder, Path(root) / "scene" / f"{name}.tif")
    layouts.write_dfc2020_layout(Path(root) / "scene", root, split="test", patch=patch)
    layouts.write_ntl_layout(Path(root) / "scene", root, patch=ntl_patch, ratio=ratio)
    return files

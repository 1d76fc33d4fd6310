"""The grid side of :mod:`helpers.data.datasets.scene`: the target grid, reading a file onto it, and splits.

- **The target grid** (:func:`finest_grid`): when ``grid=`` is not given, the file with the finest
  pixel size *in metres* (the x pixel size; degrees are converted at the file's centre latitude,
  other linear units by their factor), so a 10 m UTM band and a 0.0005 degree (~35 m) EPSG:4326
  band give the 10 m UTM grid, not the one whose number is smaller.
- **Reading** (:func:`read_on_grid`): one open per file; a file already on the grid is read as is,
  any other through ``rasterio.vrt.WarpedVRT``, whose alpha band says which pixels the file covers.
- **Splits** (:class:`Region`): a half, ``"all"`` or seeded blocks, held as a few rectangles of
  cells rather than one boolean per pixel, so a declared 20000 x 20000 raster costs kilobytes until
  a window of it is asked for (:meth:`Region.window`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .normalise import DatasetError

HALVES = ("west", "east", "north", "south")
EARTH_RADIUS_M = 6371008.8  # mean Earth radius (IUGG), for degrees -> metres


class SceneError(DatasetError):
    """A scene input that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class Grid:
    """A target grid: CRS, affine transform and ``(height, width)``."""

    crs: Any
    transform: Any
    shape: tuple[int, int]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in the grid's CRS."""
        from rasterio.transform import array_bounds

        west, south, east, north = array_bounds(*self.shape, self.transform)
        return west, south, east, north


def _resampling(name: str) -> Any:
    from rasterio.enums import Resampling

    try:
        return Resampling[name]
    except KeyError as err:
        raise SceneError(
            f"unknown resampling {name!r}; use e.g. 'nearest', 'bilinear', 'cubic', 'average'."
        ) from err


def open_raster(path: Path) -> Any:
    """``rasterio.open(path)``; a missing, corrupt or non-raster file raises :class:`SceneError`."""
    import rasterio

    if not path.exists():
        raise SceneError(f"{path}: file not found. Check the path.")
    if path.is_dir():
        raise SceneError(f"{path}: is a folder, not a raster file. Pass the file inside it.")
    try:
        return rasterio.open(os.fspath(path))
    except Exception as err:  # rasterio raises several kinds for a broken file
        raise SceneError(
            f"{path}: cannot be opened as a raster ({err}). The file is probably corrupt or not a "
            "raster: download or export it again."
        ) from err


def format_bounds(bounds: Sequence[float], crs: Any) -> str:
    """Bounds to print: 6 decimals on a geographic CRS (degrees), whole units otherwise."""
    geographic = crs is not None and getattr(crs, "is_geographic", False)
    return "(" + ", ".join(f"{v:.6f}" if geographic else f"{v:.0f}" for v in bounds) + ")"


def check_overlap(path: Path, crs: Any, bounds: Sequence[float], grid: Grid) -> None:
    """Refuse a file without CRS or one that does not overlap ``grid`` (bounds in the message)."""
    from rasterio.warp import transform_bounds

    if crs is None:
        raise SceneError(
            f"{path}: has no CRS, so it cannot be placed on the scene's grid. Set its CRS (e.g. "
            "`gdal_edit.py -a_srs EPSG:32633`) or export it again with georeference."
        )
    west, south, east, north = transform_bounds(crs, grid.crs, *bounds)
    gw, gs, ge, gn = grid.bounds
    if west >= ge or east <= gw or south >= gn or north <= gs:
        raise SceneError(
            f"{path}: does not overlap the scene's grid (its bounds in {grid.crs}: "
            f"{format_bounds((west, south, east, north), grid.crs)}, grid: "
            f"{format_bounds(grid.bounds, grid.crs)}). Check that the file belongs to this scene "
            "and that its CRS is right."
        )


def pixel_metres(crs: Any, transform: Any, bounds: Sequence[float]) -> float:
    """The x pixel size in metres (degrees converted at the centre latitude of ``bounds``)."""
    size = abs(transform.a)
    if crs.is_geographic:
        lat = math.radians((bounds[1] + bounds[3]) / 2)
        return size * math.pi / 180 * EARTH_RADIUS_M * max(math.cos(lat), 1e-6)
    try:
        return size * crs.linear_units_factor[1]
    except Exception:  # a CRS without linear units (e.g. engineering): take the number as metres
        return size


def finest_grid(paths: Sequence[Path]) -> Grid:
    """The grid of the file with the finest pixel size in metres (the first of equals)."""
    best = None
    for path in paths:
        with open_raster(path) as src:
            if src.crs is None:
                check_overlap(path, None, src.bounds, Grid(None, None, (0, 0)))
            cell = pixel_metres(src.crs, src.transform, src.bounds)
            if best is None or cell < best[0]:
                best = (cell, Grid(src.crs, src.transform, (src.height, src.width)))
    assert best is not None
    return best[1]


def read_on_grid(
    path: Path,
    grid: Grid,
    bands: Sequence[int] | None = None,
    resampling: str = "nearest",
    window: Any = None,
    checked: bool = False,
    coverage: bool = False,
) -> Any:
    """Bands of ``path`` on ``grid`` (``(bands, h, w)``; a window of it), reprojected if needed.

    ``checked=True`` skips the overlap check (the caller made it once for this file).
    ``coverage=True`` returns ``(data, covered)``: ``covered`` is a boolean ``(h, w)`` map of the
    pixels the file covers (from the warper's alpha band), or None when it covers them all."""
    from rasterio.vrt import WarpedVRT

    with open_raster(path) as src:
        if not checked:
            check_overlap(path, src.crs, src.bounds, grid)
        indexes = list(bands) if bands else list(range(1, src.count + 1))
        same = (
            src.crs == grid.crs
            and (src.height, src.width) == grid.shape
            and src.transform.almost_equals(grid.transform, precision=1e-6)
        )
        if same:
            data = src.read(indexes, window=window)
            return (data, None) if coverage else data
        with WarpedVRT(
            src,
            crs=grid.crs,
            transform=grid.transform,
            width=grid.shape[1],
            height=grid.shape[0],
            resampling=_resampling(resampling),
            add_alpha=coverage,
        ) as vrt:
            data = vrt.read(indexes, window=window)
            if not coverage:
                return data
            covered = vrt.read(vrt.count, window=window) > 0
            return data, (None if covered.all() else covered)


# ---- splits ----


def positive_int(value: Any, name: str, where: str = "") -> int:
    """``value`` as an int >= 1; anything else raises naming ``name`` (after ``where``)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise SceneError(f"{where}{name} must be a whole number of pixels >= 1, not {value!r}.")
    return int(value)


@dataclass(frozen=True)
class Region:
    """The pixels of a split: cells between ``rows`` x ``cols`` edges (px), ``cells[i, j]`` in."""

    shape: tuple[int, int]
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    cells: np.ndarray

    @classmethod
    def make(
        cls,
        shape: tuple[int, int],
        split: str,
        block: int = 256,
        test_fraction: float = 0.25,
        seed: int = 0,
        where: str = "",
    ) -> Region:
        """The region of ``split`` (a half, ``"all"`` or ``"blocks:train|test"``) on ``shape``;
        ``where`` (e.g. ``"<file>: "``) starts every refusal."""
        h, w = (int(v) for v in shape)
        halves = {
            "all": ((0, h), (0, w), [[True]]),
            "west": ((0, h), (0, w // 2, w), [[True, False]]),
            "east": ((0, h), (0, w // 2, w), [[False, True]]),
            "north": ((0, h // 2, h), (0, w), [[True], [False]]),
            "south": ((0, h // 2, h), (0, w), [[False], [True]]),
        }
        if split in halves:
            rows, cols, cells = halves[split]
            return cls((h, w), rows, cols, np.array(cells, bool))
        if split not in ("blocks:train", "blocks:test"):
            raise SceneError(
                f"{where}unknown split {split!r}; use 'all', one of {list(HALVES)}, 'blocks:train' or "
                "'blocks:test'."
            )
        block = positive_int(block, "block", where)
        if not isinstance(test_fraction, (int, float)) or not 0 <= test_fraction <= 1:
            raise SceneError(
                f"{where}test_fraction must be a number in 0..1, not {test_fraction!r}."
            )
        nr, nc = -(-h // block), -(-w // block)
        rng = np.random.default_rng(seed)
        n_test = max(1, round(test_fraction * nr * nc))
        test = np.zeros(nr * nc, bool)
        test[rng.permutation(nr * nc)[:n_test]] = True
        cells = test.reshape(nr, nc) if split == "blocks:test" else ~test.reshape(nr, nc)
        rows = tuple(min(k * block, h) for k in range(nr + 1))
        cols = tuple(min(k * block, w) for k in range(nc + 1))
        return cls((h, w), rows, cols, cells)

    def window(self, r: int, c: int, h: int, w: int) -> np.ndarray:
        """Boolean ``(h, w)``: which pixels of the window at ``(r, c)`` are in the split."""
        tall = np.diff(np.clip(self.rows, r, r + h))  # pixels of each cell row in the window
        wide = np.diff(np.clip(self.cols, c, c + w))
        return np.repeat(np.repeat(self.cells, tall, axis=0), wide, axis=1)

    def bbox(self) -> tuple[int, int, int, int] | None:
        """``(r0, r1, c0, c1)`` of the split's pixels (end exclusive), None when it has none."""
        tall = np.diff(self.rows) > 0
        wide = np.diff(self.cols) > 0
        used = self.cells & tall[:, None] & wide[None, :]
        if not used.any():
            return None
        ri, ci = np.nonzero(used.any(1))[0], np.nonzero(used.any(0))[0]
        return self.rows[ri[0]], self.rows[ri[-1] + 1], self.cols[ci[0]], self.cols[ci[-1] + 1]

    def count(self) -> int:
        """How many pixels the split holds."""
        tall, wide = np.diff(self.rows), np.diff(self.cols)
        return int((self.cells * tall[:, None] * wide[None, :]).sum())


def split_mask(
    shape: tuple[int, int], split: str, block: int = 256, test_fraction: float = 0.25, seed: int = 0
) -> np.ndarray:
    """Boolean ``(H, W)``: the pixels of ``split`` (a half, ``"all"`` or ``"blocks:train|test"``)."""
    h, w = shape
    return Region.make(shape, split, block, test_fraction, seed).window(0, 0, h, w)

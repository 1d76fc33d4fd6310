"""GeoTIFF reading and writing that keeps the georeference, plus grid checks (tiles and windows:
:mod:`helpers.data.windows`).

Every reader in the kit goes through :func:`read` (or :func:`read_array`, pixels only, for samples
whose headers were checked), so a corrupt, missing or mis-shaped file gives one kind of error
(:class:`RasterError`) that names the file and says how to fix it.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core import locks


class RasterError(ValueError):
    """A raster that cannot be used as it is; the message names the file and the fix."""


@dataclass
class Raster:
    """Pixels ``(bands, height, width)`` with the georeference they came with."""

    data: np.ndarray
    crs: Any
    transform: Any
    nodata: float | None = None
    descriptions: tuple[str | None, ...] = ()
    path: Path | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return int(self.data.shape[-2]), int(self.data.shape[-1])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in CRS units."""
        from rasterio.transform import array_bounds

        h, w = self.shape
        west, south, east, north = array_bounds(h, w, self.transform)
        return west, south, east, north

    @property
    def resolution(self) -> tuple[float, float]:
        """Pixel size ``(x, y)`` in CRS units (both positive)."""
        return abs(self.transform.a), abs(self.transform.e)


def read(
    path: str | os.PathLike,
    bands: Sequence[int] | None = None,
    window: Any | None = None,
    expect_bands: int | None = None,
    masked_nodata: bool = False,
) -> Raster:
    """Read a GeoTIFF (all bands or 1-based ``bands``, optionally a ``rasterio.windows.Window``).

    ``expect_bands`` checks the band count; ``masked_nodata`` turns nodata into NaN (float result).
    """
    import rasterio
    from rasterio.errors import RasterioIOError

    path = Path(path)
    try:
        with rasterio.open(os.fspath(path)) as src:  # a str opens faster than a Path
            check_count(path, src.count, expect_bands)
            indexes = list(bands) if bands is not None else list(range(1, src.count + 1))
            bad = [b for b in indexes if b < 1 or b > src.count]
            if bad:
                raise RasterError(f"{path}: band(s) {bad} do not exist (the file has {src.count}).")
            data = src.read(indexes, window=window)
            transform = src.window_transform(window) if window is not None else src.transform
            descriptions = tuple(src.descriptions[i - 1] for i in indexes)
            raster = Raster(data, src.crs, transform, src.nodata, descriptions, path, src.tags())
    except RasterError:
        raise
    except (RasterioIOError, OSError) as err:
        raise _unreadable(path, err) from err
    if masked_nodata and raster.nodata is not None:
        data = raster.data.astype(np.float32)
        data[raster.data == raster.nodata] = np.nan
        raster.data = data
    return raster


def check_count(path: str | os.PathLike, count: int, expect_bands: int | None) -> None:
    """Raise :class:`RasterError` naming the file unless it has ``expect_bands`` bands (None: any)."""
    if expect_bands is not None and count != expect_bands:
        raise RasterError(
            f"{path}: has {count} band(s), expected {expect_bands}. "
            "Use the file from the right folder or re-export it with all bands."
        )


def _unreadable(path: Path, err: Exception) -> RasterError:
    """The error for a file rasterio could not open or read: missing, else corrupt (checked only
    on failure: one stat less per read)."""
    if not path.exists():
        return RasterError(
            f"{path}: file not found. Check the path, or create the sample scene with `eosr sample`."
        )
    return RasterError(
        f"{path}: cannot be read as a GeoTIFF ({err}). The file is probably corrupt or "
        "truncated: delete it and download or export it again."
    )


def read_array(
    path: Path,
    bands: Sequence[int] | None = None,
    window: Any | None = None,
    expect_bands: int | None = None,
    out_dtype: Any | None = None,
) -> np.ndarray:
    """Pixels only, ``(bands, h, w)``: one open and one read, no georeference, tags or names.

    Why: per-sample loops whose files' headers (grid, bands, nodata) were checked when the
    dataset met them; the band count is still compared (free on an open file). ``out_dtype``
    converts while reading (no second copy). Errors as :func:`read`.
    """
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(path) as src:
            check_count(path, src.count, expect_bands)
            return src.read(bands, window=window, out_dtype=out_dtype)
    except RasterError:
        raise
    except (RasterioIOError, OSError) as err:
        raise _unreadable(Path(path), err) from err


def write(
    path: str | os.PathLike,
    data: np.ndarray,
    crs: Any,
    transform: Any,
    nodata: float | None = None,
    descriptions: Sequence[str] | None = None,
    tags: dict[str, str] | None = None,
    overwrite: bool = True,
) -> Path:
    """Write ``(bands, h, w)`` or ``(h, w)`` as a compressed, tiled GeoTIFF, atomically.

    The file appears complete or not at all: it is written to a temporary name and renamed.
    """
    import rasterio

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: exists; pass overwrite=True or choose a new name.")
    arr = np.asarray(data)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise RasterError(f"{path}: data must be (bands, h, w) or (h, w), got shape {arr.shape}.")
    count, height, width = arr.shape
    profile = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": count,
        "dtype": arr.dtype.name,
        "crs": crs,
        "transform": transform,
        "compress": "deflate",
    }
    if height % 256 == 0 and width % 256 == 0:  # internal tiles speed up windowed reads
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    if nodata is not None:
        profile["nodata"] = nodata
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".tif", dir=path.parent, prefix=f".{path.stem}.")
    os.close(fd)
    try:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(arr)
            for i, text in enumerate(descriptions or [], start=1):
                dst.set_band_description(i, text)
            if tags:
                dst.update_tags(**tags)
        locks.honour_umask(tmp)  # mkstemp made it 0600: a shared data folder stays readable
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def write_like(path: str | os.PathLike, data: np.ndarray, like: Raster, **kwargs: Any) -> Path:
    """Write ``data`` on the grid (CRS, transform) of ``like``."""
    return write(path, data, like.crs, like.transform, **kwargs)


@dataclass(frozen=True)
class FileInfo:
    """A GeoTIFF's header: grid, band count, band descriptions, nodata and dtype (no pixels)."""

    path: Path
    crs: Any
    transform: Any
    shape: tuple[int, int]
    count: int
    descriptions: tuple[str | None, ...]
    nodata: float | None
    dtype: str

    def stub(self) -> Raster:
        """A pixel-less :class:`Raster` carrying the grid, for :func:`check_same_grid`."""
        return Raster(
            np.empty((0, *self.shape), np.uint8), self.crs, self.transform, path=self.path
        )


def info(path: str | os.PathLike) -> FileInfo:
    """The header of a GeoTIFF, opened once per file version (path, size, mtime) and then cached.

    Why: readers check grids and band names on every sample; re-opening each file for that cost
    more than reading its pixels. A rewritten file has a new size/mtime and is opened again.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        raise RasterError(f"{path}: file not found.") from None
    return _info(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8192)
def _info(path: str, size: int, mtime_ns: int) -> FileInfo:
    import rasterio

    try:
        with rasterio.open(path) as src:
            return FileInfo(
                Path(path),
                src.crs,
                src.transform,
                (src.height, src.width),
                src.count,
                tuple(src.descriptions),
                src.nodata,
                src.dtypes[0],
            )
    except Exception as err:  # rasterio raises several kinds for a broken file
        raise RasterError(
            f"{path}: cannot be read as a GeoTIFF ({err}). The file is probably corrupt or "
            "truncated: delete it and download or export it again."
        ) from err


def grid_of(path_or_raster: str | os.PathLike | Raster) -> tuple[Any, Any, tuple[int, int]]:
    """``(crs, transform, (height, width))`` of a file or a :class:`Raster`, without reading pixels
    (a file's header is cached, see :func:`info`)."""
    if isinstance(path_or_raster, Raster):
        return path_or_raster.crs, path_or_raster.transform, path_or_raster.shape
    head = info(path_or_raster)
    return head.crs, head.transform, head.shape


def check_same_grid(
    a: str | os.PathLike | Raster, b: str | os.PathLike | Raster, tolerance: float = 1e-6
) -> None:
    """Raise :class:`RasterError` naming both files unless they share CRS, transform and shape."""
    crs_a, tr_a, shape_a = grid_of(a)
    crs_b, tr_b, shape_b = grid_of(b)
    name_a = _name(a)
    name_b = _name(b)
    problems = []
    if crs_a != crs_b:
        problems.append(f"CRS {crs_a} vs {crs_b}")
    if not np.allclose(tuple(tr_a)[:6], tuple(tr_b)[:6], atol=tolerance * max(1.0, abs(tr_a.a))):
        problems.append(f"transform {tuple(tr_a)[:6]} vs {tuple(tr_b)[:6]}")
    if shape_a != shape_b:
        problems.append(f"shape {shape_a} vs {shape_b}")
    if problems:
        raise RasterError(
            f"{name_a} and {name_b} are not on the same grid: {'; '.join(problems)}. "
            "Reproject one onto the other (e.g. rasterio.warp.reproject) or re-export both "
            "with the same CRS, scale and region."
        )


def check_same_bounds(
    a: str | os.PathLike | Raster, b: str | os.PathLike | Raster, tolerance_px: float = 0.5
) -> None:
    """Raise unless two rasters (possibly of different resolution) cover the same bounds and CRS."""
    from rasterio.transform import array_bounds

    crs_a, tr_a, (ha, wa) = grid_of(a)
    crs_b, tr_b, (hb, wb) = grid_of(b)
    if crs_a != crs_b:
        raise RasterError(f"{_name(a)} and {_name(b)}: CRS {crs_a} vs {crs_b}; reproject one.")
    ba = np.array(array_bounds(ha, wa, tr_a))
    bb = np.array(array_bounds(hb, wb, tr_b))
    tol = tolerance_px * max(abs(tr_a.a), abs(tr_b.a))
    if np.any(np.abs(ba - bb) > tol):
        raise RasterError(
            f"{_name(a)} and {_name(b)} cover different areas: bounds {ba.round(2).tolist()} vs "
            f"{bb.round(2).tolist()}. Export both for the same region."
        )


def _name(x: Any) -> str:
    if isinstance(x, Raster):
        return str(x.path) if x.path else "<in-memory raster>"
    return str(x)


def utm_crs_for(lon: float, lat: float) -> Any:
    """The WGS 84 / UTM zone CRS that contains a point (what SEN12MS and Earth Engine exports use)."""
    from rasterio.crs import CRS

    zone = int((lon + 180) // 6) + 1
    epsg = (32600 if lat >= 0 else 32700) + zone
    return CRS.from_epsg(epsg)

"""Whole-scene inference: one streaming, windowed engine with blended overlaps.

:func:`run_tiles` walks the tile grid (:func:`helpers.data.windows.tile_grid`) one row of tiles at a
time, blends every tile's prediction into float32 accumulators that hold one row of tiles
(``tile`` x scene width, never the scene), and hands each finished block of rows to an output: an
array in memory (:class:`ArrayOutput`) or a tiled, compressed GeoTIFF written window by window
(:class:`GeoTiffOutput`). Inputs are read window by window too (:class:`Windows`: a GeoTIFF or an
array). Land cover (:func:`predict_scene`) and night lights (:func:`predict_ntl`) are thin callers.

Models know tensors; this module knows rasters.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch
import torch.nn.functional as F
from rasterio.windows import Window
from tqdm.auto import tqdm

from ..core import labels, locks
from ..core.bands import S2_BANDS
from ..data.normalise import band_indexes, normalise_s2
from ..data.windows import Tile, blend_window, tile_grid
from ..io.rasters import RasterError, grid_of, read
from ..models import ntl_sr

BLOCK = 256  # GeoTIFF block side; rows are written in whole blocks (compressed blocks stay whole)


class Windows:
    """Windowed float32 reads ``(bands, rows, cols)`` from a GeoTIFF path or an in-memory array.

    ``indexes``: 1-based bands of the file to read (default all); ``bands``: how many the caller
    expects (checked, the error names the file); ``prepare``: applied to every window read (e.g.
    ``normalise.normalise_s2``). Non-finite values raise an error that names the window.
    """

    def __init__(
        self,
        src: Any,
        name: str = "image",
        bands: int | None = None,
        indexes: Sequence[int] | None = None,
        prepare: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.name, self.path, self.array, self.prepare = name, None, None, prepare
        self.indexes = list(indexes) if indexes is not None else None
        if isinstance(src, (str, os.PathLike)):
            self.path = Path(src)
            _, _, self.shape = grid_of(self.path)
            with rasterio.open(self.path) as ds:
                count = len(self.indexes) if self.indexes else ds.count
            if bands is not None and count != bands:
                raise RasterError(
                    f"{self.path}: {name} has {count} band(s), expected {bands}; "
                    f"use the {name} file of the scene."
                )
        else:
            arr = np.asarray(src)
            self.array = arr[None] if arr.ndim == 2 else arr
            if self.array.ndim != 3:
                raise ValueError(f"{name} must be (bands, height, width), got {arr.shape}")
            if self.indexes:
                self.array = self.array[[i - 1 for i in self.indexes]]
            if bands is not None and self.array.shape[0] != bands:
                raise ValueError(
                    f"{name}: array has {self.array.shape[0]} band(s), expected {bands}."
                )
            self.shape = tuple(self.array.shape[-2:])

    def read(self, row: int, col: int, height: int, width: int) -> np.ndarray:
        """One window, float32, ``prepare`` applied; NaN/inf is an error naming the window."""
        if self.array is not None:
            data = np.asarray(self.array[:, row : row + height, col : col + width], np.float32)
        else:
            window = Window(col, row, width, height)
            data = read(self.path, bands=self.indexes, window=window).data.astype(np.float32)
        if self.prepare is not None:
            data = np.asarray(self.prepare(data), np.float32)
        if not np.isfinite(data).all():
            where = self.path or f"the {self.name} array"
            raise RasterError(
                f"{where}: NaN/inf in window rows {row}:{row + height}, cols {col}:{col + width}; "
                "fill or mask nodata first (e.g. np.nan_to_num)."
            )
        return data


# ---- outputs: where finished rows go ----


class ArrayOutput:
    """Finished rows into an array ``(count, H, W)`` (``squeeze``: ``(H, W)`` for one band)."""

    def __init__(
        self,
        height: int,
        width: int,
        dtype: Any = np.float32,
        finish: Callable[[np.ndarray], np.ndarray] | None = None,
        squeeze: bool = False,
    ) -> None:
        self.shape, self.dtype, self.array = (height, width), dtype, None
        self.convert, self.squeeze = finish or (lambda x: x), squeeze

    def write(self, row: int, block: np.ndarray) -> None:
        """Store blended rows ``block (channels, n, W)`` starting at ``row``."""
        data = self.convert(block)
        if self.array is None:  # the band count is known from the first rows
            self.array = np.zeros((data.shape[0], *self.shape), self.dtype)
        self.array[:, row : row + data.shape[1]] = data

    def finish(self) -> np.ndarray:
        """The whole result."""
        return self.array[0] if self.squeeze else self.array

    def close(self) -> None:
        """Nothing to release."""


class GeoTiffOutput:
    """Finished rows straight into a tiled, deflate-compressed GeoTIFF on the grid of ``like``.

    Rows are buffered until a whole block row (:data:`BLOCK`) is complete, then written; the file
    is written under a temporary name and renamed when complete (never half a file). ``inputs``:
    the files read to make it; ``path`` must not be one of them (an output never replaces its
    input). A temporary file left by a killed process is removed by the next write beside it.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        like: Any,
        shape: tuple[int, int],
        dtype: Any,
        finish: Callable[[np.ndarray], np.ndarray] | None = None,
        nodata: float | None = None,
        descriptions: Sequence[str] = (),
        tags: dict[str, str] | None = None,
        inputs: Sequence[Any] = (),
    ) -> None:
        locks.refuse_overwrite(path, [*inputs, like], "Choose another out_path for the result.")
        if like is None:
            raise ValueError(
                "out_path needs a georeference: pass like=<GeoTIFF or Raster on the output grid>."
            )
        crs, transform, (self.height, self.width) = grid_of(like)
        if (self.height, self.width) != tuple(shape):
            raise ValueError(
                f"like {like} has shape {(self.height, self.width)}, the scene {shape}."
            )
        self.path, self.convert = Path(path), finish or (lambda x: x)
        self.profile = {
            "driver": "GTiff",
            "height": self.height,
            "width": self.width,
            "dtype": np.dtype(dtype).name,
            "crs": crs,
            "transform": transform,
            "compress": "deflate",
            "tiled": True,
            "blockxsize": BLOCK,
            "blockysize": BLOCK,
            **({"nodata": nodata} if nodata is not None else {}),
        }
        self.descriptions, self.tags = list(descriptions), tags or {}
        self.dst: Any = None
        self.tmp = ""
        self.pending: list[np.ndarray] = []
        self.row = 0  # first row not yet written

    def _open(self, count: int) -> None:
        """Open the temporary file once the band count is known (from the first rows); a folder
        that cannot be written is named (the real target, not the temporary file) with the fix."""
        prefix = f".{self.path.stem}."
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            locks.remove_orphans(self.path.parent, prefix)  # left by a killed run
            self.tmp = str(self.path.parent / (locks.temp_name(prefix) + ".tif"))
            self.dst = rasterio.open(self.tmp, "w", count=count, **self.profile)
        except OSError as err:
            raise OSError(
                err.errno,
                f"{self.path}: cannot write the map ({getattr(err, 'strerror', None) or err}). "
                "Make the folder writable, free disk space or choose another out_path.",
            ) from err
        for i, text in enumerate(self.descriptions, start=1):
            self.dst.set_band_description(i, text)
        if self.tags:
            self.dst.update_tags(**self.tags)

    def write(self, row: int, block: np.ndarray) -> None:
        """Buffer blended rows; write every complete block row."""
        data = self.convert(block)
        if self.dst is None:
            self._open(data.shape[0])
        self.pending.append(data)
        rows = sum(p.shape[1] for p in self.pending)
        end = self.row + rows
        if rows >= BLOCK or end >= self.height:
            data = np.concatenate(self.pending, axis=1)
            n = rows if end >= self.height else (rows // BLOCK) * BLOCK
            self.dst.write(data[:, :n], window=Window(0, self.row, self.width, n))
            self.pending = [data[:, n:].copy()] if n < rows else []  # not a view of data
            self.row += n

    def finish(self) -> Path:
        """Close the file and move it into place."""
        self.dst.close()
        os.replace(self.tmp, self.path)
        return self.path

    def close(self) -> None:
        """Release the file; remove the temporary one if it was not finished."""
        if self.dst is not None and not self.dst.closed:
            self.dst.close()
        if self.tmp and os.path.exists(self.tmp):
            os.remove(self.tmp)


# ---- the engine ----


def run_tiles(
    predict: Callable[[list[Tile]], Sequence[np.ndarray]],
    height: int,
    width: int,
    tile: int,
    overlap: int,
    output: ArrayOutput | GeoTiffOutput,
    batch_size: int = 1,
    progress: bool = True,
    desc: str = "tiles",
) -> Any:
    """Predict a scene tile by tile and blend overlaps (:func:`helpers.data.windows.blend_window`).

    ``predict(tiles)`` returns one float32 ``(channels, h, w)`` array per tile. Accumulators
    (float32, sized by the first prediction) hold one row of tiles; rows that no later tile touches are divided by their weight
    and handed to ``output``. Returns ``output.finish()``. SIGTERM (with its default action) ends
    it through ``SystemExit``, so a GeoTIFF output leaves no temporary file.
    """
    grid = tile_grid(height, width, tile, overlap)
    acc = weight = np.zeros(0, np.float32)
    top = 0  # scene row of the accumulators' first row
    bar = tqdm(total=len(grid), desc=desc, disable=not progress, leave=False)
    with locks.sigterm_as_exit():  # SIGTERM: the temporary map is removed on the way out
        try:
            for row, tiles in groupby(grid, key=lambda t: t.row):
                if row > top:  # rows above this row of tiles are final
                    _flush(acc, weight, row - top, top, output)
                    top = row
                tiles = list(tiles)
                for start in range(0, len(tiles), batch_size):
                    batch = tiles[start : start + batch_size]
                    for t, pred in zip(batch, predict(batch)):
                        if not acc.size:  # one row of tiles, as many channels as the model gives
                            acc = np.zeros((pred.shape[0], min(tile, height), width), np.float32)
                            weight = np.zeros(acc.shape[1:], np.float32)
                        w = blend_window(t.height, t.width, overlap)
                        r, c = t.row - top, t.col
                        acc[:, r : r + t.height, c : c + t.width] += pred * w
                        weight[r : r + t.height, c : c + t.width] += w
                    bar.update(len(batch))
            _flush(acc, weight, height - top, top, output)
            return output.finish()
        finally:
            bar.close()
            output.close()


def _flush(
    acc: np.ndarray, weight: np.ndarray, n: int, top: int, output: ArrayOutput | GeoTiffOutput
) -> None:
    """Hand the first ``n`` accumulated rows (blended) to the output and shift the rest up."""
    output.write(top, acc[:, :n] / np.maximum(weight[:n], 1e-12))
    acc[:, : acc.shape[1] - n] = acc[:, n:].copy()
    acc[:, acc.shape[1] - n :] = 0
    weight[: weight.shape[0] - n] = weight[n:].copy()
    weight[weight.shape[0] - n :] = 0


# ---- land cover ----


def predict_scene(
    model: torch.nn.Module,
    image: np.ndarray | Windows,
    tile: int = 256,
    overlap: int = 32,
    device: Any = None,
    batch_size: int = 4,
    output: str = "labels",
    multiple: int | None = None,
    progress: bool = True,
    *,
    out_path: str | os.PathLike | None = None,
    like: Any = None,
    label_values: Callable[[np.ndarray], np.ndarray] | None = None,
    nodata: float | None = None,
    descriptions: Sequence[str] = (),
    tags: dict[str, str] | None = None,
) -> np.ndarray | Path:
    """Predict a whole scene ``(C, H, W)`` (an array or :class:`Windows` over a GeoTIFF) tile by
    tile; class probabilities are blended, then ``"labels"`` gives the argmax ``(H, W)`` (uint8)
    and ``"probs"`` the ``(classes, H, W)`` probabilities.

    Tiles are padded (reflect) up to a multiple of ``multiple`` (default ``model.size_multiple``)
    and cropped back. With ``out_path`` the result goes straight into a compressed GeoTIFF on the
    grid of ``like`` (memory: one row of tiles), else it is returned as an array.
    ``label_values`` maps the argmax (training index) to the values written, e.g.
    ``labels.from_train_index``.
    """
    if output not in ("labels", "probs"):
        raise ValueError(f"output must be 'labels' or 'probs', got {output!r}")
    if isinstance(image, Windows):
        source = image
    else:
        arr = np.asarray(image, dtype=np.float32)
        if arr.ndim != 3:
            raise ValueError(f"image must be (bands, height, width), got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(
                "image holds NaN/inf; fill nodata first (e.g. np.nan_to_num) before predicting"
            )
        source = Windows(arr)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    multiple = multiple or int(getattr(model, "size_multiple", 1))
    model.eval()

    def predict(tiles: list[Tile]) -> np.ndarray:
        t0 = tiles[0]  # all tiles of a grid share one size
        x = torch.from_numpy(
            np.stack([source.read(t.row, t.col, t.height, t.width) for t in tiles])
        )
        ph, pw = (-t0.height) % multiple, (-t0.width) % multiple
        if ph or pw:
            mode = "reflect" if min(t0.height, t0.width) > max(ph, pw) else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        with torch.no_grad():
            out = model(x.to(device)).float().softmax(1)
        return out[:, :, : t0.height, : t0.width].cpu().numpy()

    height, width = source.shape
    sink = _landcover_output(
        output,
        height,
        width,
        out_path,
        like,
        label_values,
        nodata,
        descriptions,
        tags,
        [source.path],
    )
    return run_tiles(predict, height, width, tile, overlap, sink, batch_size, progress, "tiles")


def _landcover_output(
    output: str,
    height: int,
    width: int,
    out_path: str | os.PathLike | None,
    like: Any,
    label_values: Callable[[np.ndarray], np.ndarray] | None,
    nodata: float | None,
    descriptions: Sequence[str],
    tags: dict[str, str] | None,
    inputs: Sequence[Any] = (),
) -> ArrayOutput | GeoTiffOutput:
    """Where :func:`predict_scene` puts its rows: probabilities or labels, array or GeoTIFF."""
    if output == "probs":
        dtype, finish = np.float32, None
    else:
        values = label_values or (lambda x: x)
        dtype = np.uint8

        def finish(p: np.ndarray) -> np.ndarray:
            return np.asarray(values(p.argmax(0)), np.uint8)[None]

    if out_path is None:
        return ArrayOutput(height, width, dtype, finish, squeeze=output == "labels")
    return GeoTiffOutput(
        out_path, like, (height, width), dtype, finish, nodata, descriptions, tags, inputs
    )


def landcover_map(
    model: torch.nn.Module,
    s2_path: str | os.PathLike,
    bands: Sequence[str],
    out_path: str | os.PathLike,
    tile: int = 256,
    overlap: int = 32,
    device: Any = None,
    description: str = "DFC2020 class",
    tags: dict[str, str] | None = None,
    progress: bool = True,
) -> Path:
    """A land-cover map of a whole Sentinel-2 GeoTIFF, streamed into ``out_path``: bands picked
    by name, normalised like the datasets (``normalise.normalise_s2``) window by window, predicted
    with :func:`predict_scene`, written as DFC values 1..10 (uint8, nodata 0) on the S2 grid."""
    with rasterio.open(s2_path) as ds:
        descriptions = ds.descriptions
    index = band_indexes(bands, S2_BANDS, descriptions)
    source = Windows(s2_path, "s2", bands=len(bands), indexes=index, prepare=normalise_s2)
    return predict_scene(
        model,
        source,
        tile=tile,
        overlap=overlap,
        device=device,
        progress=progress,
        out_path=out_path,
        like=s2_path,
        label_values=labels.from_train_index,
        nodata=0,
        descriptions=[description],
        tags=tags,
    )


# ---- night lights ----


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
    """Super-resolve a scene tile by tile with :func:`run_tiles` (memory: one row of tiles).

    Inputs are GeoTIFF paths or arrays in physical units (LR DN, DMO reflectance, DEM metres).
    Tiles of ``tile`` HR pixels overlap by ``overlap``. With ``out_path`` the radiance goes into a
    compressed GeoTIFF georeferenced like ``like`` (default: the DMO file); without it, an array
    ``(H, W)`` is returned.
    """
    r = model.config.ratio
    lo, dm = Windows(low_res, "low_res", 1), Windows(dmo, "dmo", 7)
    de = Windows(dem, "dem", 1)
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

    def predict(tiles: list[Tile]) -> list[np.ndarray]:
        return [
            ntl_sr.predict(
                model,
                lo.read(t.row // r, t.col // r, t.height // r, t.width // r),
                dm.read(t.row, t.col, t.height, t.width),
                de.read(t.row, t.col, t.height, t.width),
                device,
            )[None]
            for t in tiles
        ]

    if out_path is None:
        sink: ArrayOutput | GeoTiffOutput = ArrayOutput(height, width, squeeze=True)
    else:
        sink = GeoTiffOutput(
            out_path,
            like or dm.path,
            (height, width),
            np.float32,
            descriptions=["ntl_radiance_sr"],
            tags={"units": "nW/cm2/sr", "source": "helpers.training.inference.predict_ntl"},
            inputs=[lo.path, dm.path, de.path],
        )
    return run_tiles(predict, height, width, tile, overlap, sink, 1, progress, "tiles")

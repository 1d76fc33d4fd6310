"""A reader for any co-registered scene: your own image files and labels, no glue code.

``Scene(image, labels, classes=..., split="west", crop=64, samples=256)`` is a torch Dataset giving
the same sample dicts as :mod:`helpers.datasets` (``{"image", "mask", "id", "path"}``), so
``train.fit``, ``train.predict*`` and ``metrics.*`` work unchanged:

- **image**: one multi-band raster or a list of single-band rasters (GeoTIFF, JP2, anything rasterio
  opens), possibly on different grids (e.g. Sentinel-2 10/20/60 m). Every band is resampled onto one
  target grid (default: the finest file's grid) through ``rasterio.vrt.WarpedVRT`` (``resampling``,
  default bilinear). Band names come from the files' band descriptions, else, for a single-band
  file, from the last ``_`` part of its name (``T33UUU_20170216T102101_B8A.jp2`` -> ``B8A``), else
  from ``band_names``; ``bands`` chooses and orders them by name.
- **labels**: a raster on any grid/CRS, reprojected onto the target grid with **nearest neighbour**
  (class codes must never be averaged), or polygons (GeoPackage / GeoJSON, attribute
  ``label_field``) rasterised onto it (pixel centres inside a polygon; larger polygons first, so a
  small polygon inside a larger one keeps its own class).
- **classes**: a table mapping raw codes (numbers or strings such as OSM ``fclass``) to training
  indices 0..K-1 (:class:`ClassTable`); ``ignore_codes`` and unlabelled pixels become 255. A code
  in neither raises, unless ``unlisted="ignore"``.
- **split**: ``"all"``, a named half (``"west"``, ``"east"``, ``"north"``, ``"south"``) or blocks
  (``"blocks:train"`` / ``"blocks:test"``: squares of ``block`` px, a seeded ``test_fraction`` of
  them held out). Never random pixels: a training crop lies wholly inside its split, and pixels of
  the other split are 255 in every mask, so train and test share no pixel.
- **crop** (training): ``samples`` random windows of side ``crop`` per epoch (at least
  ``min_labelled`` labelled pixels each, rot90/flip with ``augment``); **crop=None** (evaluation): a
  grid of ``tile`` x ``tile`` windows covering the split (``tile`` shrinks to fit a small split), each
  pixel scored once.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from .datasets import IGNORE, DatasetError, _augment, normalise_s2
from .rasters import grid_of

HALVES = ("west", "east", "north", "south")
_BAND_TOKEN = re.compile(r"^(B\d{1,2}A?|[A-Z]{1,3}\d{0,2}A?)$")


class SceneError(DatasetError):
    """A scene input that cannot be used; the message names the file and the fix."""


# ---- the class table ----


@dataclass(frozen=True)
class ClassTable:
    """Class names in training order and the raw codes of each (index i <- ``codes[i]``)."""

    names: tuple[str, ...]
    codes: tuple[tuple[Any, ...], ...]
    ignore_codes: tuple[Any, ...] = (0,)

    @classmethod
    def make(
        cls, classes: Any, ignore_codes: Sequence[Any] = (0,), key: str = "value"
    ) -> ClassTable:
        """From ``{name: code or [codes]}``, a :class:`ClassTable`, or a ``classes.json`` file /
        list of ``{"name", key: code or [codes]}`` (``key``: which field holds the raw codes)."""
        if isinstance(classes, ClassTable):
            return classes
        source = None
        if isinstance(classes, (str, os.PathLike)):
            source = Path(classes)
            if not source.exists():
                raise SceneError(f"{source}: class table not found. Check the path.")
            classes = json.loads(source.read_text(encoding="utf-8"))
        if isinstance(classes, Mapping):
            items = list(classes.items())
        else:
            try:
                items = [(c["name"], c[key]) for c in classes]
            except (KeyError, TypeError) as err:
                raise SceneError(
                    f"{source or 'classes'}: each class needs 'name' and {key!r} ({err}). Pass "
                    "{name: code or [codes]} or a list of {'name': ..., 'value': ...}."
                ) from err
        names = tuple(str(n) for n, _ in items)
        codes = tuple(tuple(c) if isinstance(c, (list, tuple)) else (c,) for _, c in items)
        flat = [c for cs in codes for c in cs]
        if len(set(flat)) != len(flat) or len(set(names)) != len(names):
            raise SceneError(f"{source or 'classes'}: a name or raw code appears twice.")
        if len(names) > 254:
            raise SceneError("at most 254 classes (255 is the ignore index).")
        return cls(names, codes, tuple(ignore_codes))

    def index_of(self) -> dict[Any, int]:
        """Raw code -> training index, ignore codes -> 255."""
        out = {c: IGNORE for c in self.ignore_codes}
        out.update({c: i for i, cs in enumerate(self.codes) for c in cs})
        return out

    def map(self, raw: np.ndarray, path: Path, unlisted: str = "raise") -> np.ndarray:
        """Raw codes (integers) -> uint8 training indices; unknown codes raise or become 255."""
        lookup = self.index_of()
        values = np.unique(raw)
        unknown = [v.item() for v in values if v.item() not in lookup]
        if unknown and unlisted == "raise":
            raise SceneError(
                f"{path}: label code(s) {unknown[:10]} are not in the class table "
                f"{dict(zip(self.names, self.codes, strict=True))} nor in ignore_codes "
                f"{list(self.ignore_codes)}. Add them to classes or ignore_codes, or pass "
                "unlisted='ignore' to treat every unlisted code as ignore."
            )
        out = np.full(raw.shape, IGNORE, np.uint8)
        for v in values:
            out[raw == v] = lookup.get(v.item(), IGNORE)
        return out


# ---- grids and reading through WarpedVRT ----


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


def _open(path: Path) -> Any:
    import rasterio

    if not path.exists():
        raise SceneError(f"{path}: file not found. Check the path.")
    try:
        return rasterio.open(os.fspath(path))
    except Exception as err:  # rasterio raises several kinds for a broken file
        raise SceneError(
            f"{path}: cannot be opened as a raster ({err}). The file is probably corrupt or not a "
            "raster: download or export it again."
        ) from err


def _check_overlap(path: Path, crs: Any, bounds: Sequence[float], grid: Grid) -> None:
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
            f"{(round(west), round(south), round(east), round(north))}, grid: "
            f"{tuple(round(v) for v in grid.bounds)}). Check that the file belongs to this scene "
            "and that its CRS is right."
        )


def read_on_grid(
    path: Path,
    grid: Grid,
    bands: Sequence[int] | None = None,
    resampling: str = "nearest",
    window: Any = None,
    checked: bool = False,
) -> np.ndarray:
    """Bands of ``path`` on ``grid`` (``(bands, h, w)``; a window of it), reprojected if needed.

    ``checked=True`` skips the overlap check (the caller made it once for this file)."""
    from rasterio.vrt import WarpedVRT

    with _open(path) as src:
        if not checked:
            _check_overlap(path, src.crs, src.bounds, grid)
        indexes = list(bands) if bands else list(range(1, src.count + 1))
        same = (
            src.crs == grid.crs
            and (src.height, src.width) == grid.shape
            and src.transform.almost_equals(grid.transform, precision=1e-6)
        )
        if same:
            return src.read(indexes, window=window)
        with WarpedVRT(
            src,
            crs=grid.crs,
            transform=grid.transform,
            width=grid.shape[1],
            height=grid.shape[0],
            resampling=_resampling(resampling),
        ) as vrt:
            return vrt.read(indexes, window=window)


def _band_names(path: Path, count: int, descriptions: Sequence[str | None]) -> list[str | None]:
    if descriptions and all(descriptions):
        return list(descriptions)
    token = path.stem.rsplit("_", 1)[-1].upper()
    if count == 1 and _BAND_TOKEN.match(token):
        return [token]
    return [None] * count


# ---- the dataset ----


class Scene(Dataset):
    """One co-registered scene as samples ``{"image", "mask", "id", "path"}`` (see the module)."""

    def __init__(
        self,
        image: str | os.PathLike | Sequence[str | os.PathLike],
        labels: str | os.PathLike | None = None,
        bands: Sequence[str] | None = None,
        classes: Any = None,
        ignore_codes: Sequence[Any] = (0,),
        unlisted: str = "raise",
        split: str = "all",
        crop: int | None = None,
        samples: int | None = None,
        tile: int = 256,
        augment: bool = False,
        seed: int = 0,
        *,
        band_names: Sequence[str] | None = None,
        grid: str | os.PathLike | None = None,
        resampling: str = "bilinear",
        normalise: Any = "s2",
        label_field: str | None = None,
        label_layer: str | None = None,
        class_key: str = "value",
        block: int = 256,
        test_fraction: float = 0.25,
        min_labelled: int = 1,
    ) -> None:
        paths = [Path(image)] if isinstance(image, (str, os.PathLike)) else [Path(p) for p in image]
        if not paths:
            raise SceneError("image: give one raster or a list of single-band rasters.")
        if unlisted not in ("raise", "ignore"):
            raise SceneError(f"unlisted must be 'raise' or 'ignore', not {unlisted!r}.")
        self.paths, self.resampling, self.seed, self.epoch = paths, resampling, seed, 0
        self.crop, self.tile, self.augment, self.min_labelled = crop, tile, augment, min_labelled
        self.normalise = normalise_s2 if normalise == "s2" else normalise
        self.grid = self._grid(grid)
        self.sources = self._band_sources(band_names)
        self.bands = self._choose(bands)
        self.split = split
        self.region = split_mask(self.grid.shape, split, block, test_fraction, seed)
        self.label_path = Path(labels) if labels is not None else None
        self.classes = None
        self.labels = None
        if labels is not None:
            if classes is None:
                raise SceneError(
                    f"{labels}: labels given without a class table. Pass classes={{name: code}} "
                    "or classes='classes.json'."
                )
            self.classes = ClassTable.make(classes, ignore_codes, class_key)
            self.labels = self._read_labels(label_field, label_layer, unlisted)
            self.labels[~self.region] = IGNORE
            if not (self.labels != IGNORE).any():
                raise SceneError(
                    f"{self.label_path}: no labelled pixel in split {split!r}. Check that the "
                    "labels cover this part of the scene, choose another split, or widen the "
                    "class table."
                )
        self._image: np.ndarray | None = None
        self._integrals: tuple[np.ndarray, np.ndarray | None] | None = None
        self.windows = self._grid_windows() if crop is None else []
        self.samples = samples if samples is not None else max(1, len(self._grid_windows(crop)))

    # ---- set-up ----

    def _grid(self, grid: str | os.PathLike | None) -> Grid:
        if grid is not None:
            crs, transform, shape = grid_of(Path(grid))
            return Grid(crs, transform, shape)
        best = None
        for path in self.paths:
            with _open(path) as src:
                if src.crs is None:
                    _check_overlap(path, None, src.bounds, Grid(None, None, (0, 0)))
                cell = abs(src.transform.a)
                if best is None or cell < best[0]:
                    best = (cell, Grid(src.crs, src.transform, (src.height, src.width)))
        return best[1]

    def _band_sources(self, band_names: Sequence[str] | None) -> list[tuple[str, Path, int]]:
        """``(name, file, 1-based band)`` for every band of every image file, in file order."""
        out: list[tuple[str, Path, int]] = []
        for path in self.paths:
            with _open(path) as src:
                _check_overlap(path, src.crs, src.bounds, self.grid)
                names = _band_names(path, src.count, src.descriptions)
                out += [(n, path, i + 1) for i, n in enumerate(names)]
        if band_names is not None:
            if len(band_names) != len(out):
                raise SceneError(
                    f"band_names has {len(band_names)} names but the image file(s) "
                    f"{[str(p) for p in self.paths]} hold {len(out)} bands. Give one name per band."
                )
            out = [(n, p, i) for n, (_, p, i) in zip(band_names, out, strict=True)]
        unnamed = [str(p) for n, p, _ in out if n is None]
        if unnamed:
            raise SceneError(
                f"{unnamed[0]}: its bands have no descriptions and its name does not end in a band "
                "name. Pass band_names=[...] (one per band, in file order)."
            )
        names = [n for n, _, _ in out]
        if len(set(names)) != len(names):
            raise SceneError(f"band names {names} repeat; pass band_names=[...] to rename them.")
        return out

    def _choose(self, bands: Sequence[str] | None) -> tuple[str, ...]:
        names = [n for n, _, _ in self.sources]
        if bands is None:
            return tuple(names)
        unknown = [b for b in bands if b not in names]
        if unknown:
            raise SceneError(
                f"{self.paths[0]}: unknown band name(s) {unknown}; the scene's bands are {names}. "
                "Choose from them (names come from the files' band descriptions or file names)."
            )
        return tuple(bands)

    def _read_labels(self, field: str | None, layer: str | None, unlisted: str) -> np.ndarray:
        path = self.label_path
        assert path is not None and self.classes is not None
        if path.suffix.lower() in (".gpkg", ".geojson", ".json"):
            return self._rasterise(path, field, layer, unlisted)
        with _open(path) as src:
            if src.count != 1:
                raise SceneError(f"{path}: has {src.count} bands; a label raster has one.")
            nodata = src.nodata
        raw = read_on_grid(path, self.grid, [1], "nearest")[0]
        table = self.classes
        if nodata is not None and nodata not in table.ignore_codes:
            table = ClassTable(table.names, table.codes, (*table.ignore_codes, int(nodata)))
        return table.map(raw, path, unlisted)

    def _rasterise(
        self, path: Path, field: str | None, layer: str | None, unlisted: str
    ) -> np.ndarray:
        from rasterio.features import rasterize
        from rasterio.warp import transform_geom

        from . import vectors

        if field is None:
            raise SceneError(
                f"{path}: polygons need label_field=<attribute holding the class codes>."
            )
        feats = vectors.read(path, field, layer)
        lookup = self.classes.index_of()
        unknown = sorted({str(v) for v in feats.values if v not in lookup})
        if unknown and unlisted == "raise":
            raise SceneError(
                f"{path}: {field} value(s) {unknown[:10]} are not in the class table "
                f"{list(self.classes.names)} nor in ignore_codes. Add them, or pass "
                "unlisted='ignore' to leave those polygons out."
            )
        if feats.crs is None:
            raise SceneError(f"{path}: the layer has no CRS; set one and save it again.")
        shapes = []
        for geom, value in zip(feats.geometries, feats.values, strict=True):
            index = lookup.get(value, IGNORE)
            if index == IGNORE:
                continue
            if feats.crs != self.grid.crs:
                geom = transform_geom(feats.crs, self.grid.crs, geom)
            shapes.append((vectors.polygon_area(geom), geom, index + 1))
        if not shapes:
            raise SceneError(
                f"{path}: no polygon of a listed class; check classes and label_field."
            )
        shapes.sort(key=lambda s: -s[0])
        burnt = rasterize(
            [(g, v) for _, g, v in shapes],
            out_shape=self.grid.shape,
            transform=self.grid.transform,
            fill=0,
            dtype="uint8",
        )
        return np.where(burnt > 0, burnt - 1, IGNORE).astype(np.uint8)

    def _grid_windows(self, side: int | None = None) -> list[tuple[int, int, int, int]]:
        """Non-overlapping-in-effect ``(row, col, side, side)`` windows covering the split."""
        rows, cols = np.nonzero(self.region)
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        if side is None:  # evaluation tiles shrink to the split (a multiple of 32 px when possible)
            extent = min(r1 - r0, c1 - c0)
            side = min(self.tile, extent // 32 * 32 or extent)
            self.tile = side
        if side > r1 - r0 or side > c1 - c0:
            raise SceneError(
                f"{self.paths[0]}: tile/crop {side} is larger than split {self.split!r} "
                f"({r1 - r0}x{c1 - c0} px); choose a smaller tile or crop."
            )
        starts_r = sorted({min(r, r1 - side) for r in range(r0, r1, side)})
        starts_c = sorted({min(c, c1 - side) for c in range(c0, c1, side)})
        return [
            (r, c, side, side)
            for r in starts_r
            for c in starts_c
            if self.region[r : r + side, c : c + side].any()
        ]

    # ---- reading ----

    def _read(self, window: Any = None) -> np.ndarray:
        """The chosen bands (a window), one open per file: its overlap was checked in __init__."""
        where = [next((p, i) for n, p, i in self.sources if n == name) for name in self.bands]
        by_file: dict[Path, list[int]] = {}
        for path, index in where:
            by_file.setdefault(path, []).append(index)
        read = {
            path: dict(
                zip(
                    idx,
                    read_on_grid(path, self.grid, idx, self.resampling, window, True),
                    strict=True,
                )
            )
            for path, idx in by_file.items()
        }
        data = np.stack([read[path][index] for path, index in where])
        if self.normalise is not None:
            data = self.normalise(data)
        return data.astype(np.float32)

    def image(self) -> np.ndarray:
        """The whole scene ``(bands, H, W)`` on the grid, normalised (read once, then kept)."""
        if self._image is None:
            self._image = self._read()
        return self._image

    def mask(self) -> np.ndarray:
        """Training indices ``(H, W)`` (uint8), 255 where unlabelled or outside the split."""
        if self.labels is None:
            raise SceneError("this scene has no labels; pass labels=... and classes=....")
        return self.labels

    def window_for(self, index: int) -> tuple[int, int, int, int]:
        """``(row, col, height, width)`` of sample ``index`` (random crop or grid tile)."""
        if self.crop is None:
            return self.windows[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        h, w = self.grid.shape
        c = self.crop
        if self._integrals is None:
            labelled = _integral(self.labels != IGNORE) if self.labels is not None else None
            self._integrals = (_integral(self.region), labelled)
        inside, labelled = self._integrals
        best = None
        for _ in range(200):
            r, q = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
            if _box(inside, r, q, c) < c * c:
                continue
            best = (r, q, c, c)
            if labelled is None or _box(labelled, r, q, c) >= self.min_labelled:
                return best
        if best is None:
            raise SceneError(
                f"{self.paths[0]}: no crop of {c} px fits inside split {self.split!r}; choose a "
                "smaller crop or larger blocks."
            )
        return best

    def set_epoch(self, epoch: int) -> None:
        """New random crops for a new epoch (deterministic given the seed)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.samples if self.crop is not None else len(self.windows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch
        from rasterio.windows import Window

        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        r, c, h, w = self.window_for(index)
        if self._image is not None:
            image = self._image[:, r : r + h, c : c + w]
        else:
            image = self._read(Window(c, r, w, h))
        arrays = {"image": image}
        if self.labels is not None:
            mask = self.labels[r : r + h, c : c + w].astype(np.int64)
            if self.crop is None:  # grid tiles shifted to fit overlap: score each pixel once
                mask = mask.copy()
                mask[_seen(self.windows, index, r, c, h, w)] = IGNORE
            arrays["mask"] = mask
        if self.augment:
            arrays = _augment(arrays, np.random.default_rng([self.seed, self.epoch, index, 1]))
        sample: dict[str, Any] = {
            k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()
        }
        sample.update(id=f"{self.paths[0].stem}_r{r}_c{c}", path=str(self.paths[0]))
        return sample

    def load(self) -> Scene:
        """Read the whole image into memory once (fast crops for small scenes); returns self."""
        self.image()
        return self

    def __repr__(self) -> str:
        n = len(self.classes.names) if self.classes else 0
        return (
            f"Scene({len(self)} samples, bands={list(self.bands)}, grid {self.grid.shape} "
            f"{self.grid.crs}, split={self.split!r}, crop={self.crop}, classes={n})"
        )


# ---- splits ----


def split_mask(
    shape: tuple[int, int], split: str, block: int = 256, test_fraction: float = 0.25, seed: int = 0
) -> np.ndarray:
    """Boolean ``(H, W)``: the pixels of ``split`` (a half, ``"all"`` or ``"blocks:train|test"``)."""
    h, w = shape
    out = np.zeros(shape, bool)
    if split == "all":
        out[:] = True
    elif split == "west":
        out[:, : w // 2] = True
    elif split == "east":
        out[:, w // 2 :] = True
    elif split == "north":
        out[: h // 2] = True
    elif split == "south":
        out[h // 2 :] = True
    elif split in ("blocks:train", "blocks:test"):
        nr, nc = -(-h // block), -(-w // block)
        rng = np.random.default_rng(seed)
        n_test = max(1, round(test_fraction * nr * nc))
        test = np.zeros(nr * nc, bool)
        test[rng.permutation(nr * nc)[:n_test]] = True
        blocks = test.reshape(nr, nc) if split == "blocks:test" else ~test.reshape(nr, nc)
        out = np.kron(blocks, np.ones((block, block), bool))[:h, :w]
    else:
        raise SceneError(
            f"unknown split {split!r}; use 'all', one of {list(HALVES)}, 'blocks:train' or "
            "'blocks:test'."
        )
    return out


def _integral(mask: np.ndarray) -> np.ndarray:
    out = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), np.int64)
    out[1:, 1:] = mask.astype(np.int64).cumsum(0).cumsum(1)
    return out


def _box(integral: np.ndarray, r: int, c: int, side: int) -> int:
    """Sum of the mask in the ``side`` x ``side`` window at ``(r, c)``."""
    i = integral
    return int(i[r + side, c + side] - i[r, c + side] - i[r + side, c] + i[r, c])


def _seen(
    windows: list[tuple[int, int, int, int]], index: int, r: int, c: int, h: int, w: int
) -> np.ndarray:
    """Pixels of window ``index`` already covered by an earlier grid window."""
    seen = np.zeros((h, w), bool)
    for r2, c2, h2, w2 in windows[:index]:
        top, left = max(r, r2), max(c, c2)
        bottom, right = min(r + h, r2 + h2), min(c + w, c2 + w2)
        if top < bottom and left < right:
            seen[top - r : bottom - r, left - c : right - c] = True
    return seen

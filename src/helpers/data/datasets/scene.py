"""A reader for any co-registered scene: your own image files and labels, no glue code.

``Scene(image, labels, classes=..., split="west", crop=64, samples=256)`` is a torch Dataset giving
the same sample dicts as :mod:`helpers.data.datasets` (``{"image", "mask", "id", "path"}``), so
``train.fit``, ``train.predict*`` and ``metrics.*`` work unchanged:

- **image**: one multi-band raster or a list of single-band rasters (GeoTIFF, JP2, anything rasterio
  opens), possibly on different grids (e.g. Sentinel-2 10/20/60 m). Every band is resampled onto one
  target grid (default: the grid of the file with the finest pixel size in metres, see
  :mod:`helpers.data.scene_grid`) through ``rasterio.vrt.WarpedVRT`` (``resampling``, default
  bilinear). NaN, inf, nodata and pixels a file does not cover are bad pixels: ``nan_policy``
  ``"raise"`` (default) names the file, ``"zero"`` sets them to 0 and 255 in the sample's mask.
  Band names come from the files' band descriptions, else, for a single-band file, from the last
  ``_`` part of its name (``T33UUU_20170216T102101_B8A.jp2`` -> ``B8A``), else from
  ``band_names``; ``bands`` chooses and orders them by name.
- **labels**: a raster on any grid/CRS, reprojected onto the target grid with **nearest neighbour**
  (class codes must never be averaged; its nodata, NaN included, is 255; a nodata value that is
  also a class code is refused), or polygons (GeoPackage / GeoJSON, attribute
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

from ...io.rasters import grid_of
from .. import windows
from ..normalise import check_s2_dn, normalise_s2
from ..scene_grid import (
    HALVES,
    Grid,
    Region,
    SceneError,
    check_overlap,
    finest_grid,
    open_raster,
    positive_int,
    read_on_grid,
    split_mask,
)
from .base import IGNORE, bad_pixels

__all__ = ["HALVES", "ClassTable", "Grid", "Scene", "SceneError", "read_on_grid", "split_mask"]
_BAND_TOKEN = re.compile(r"^(B\d{1,2}A?|[A-Z]{1,3}\d{0,2}A?)$")


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
            classes = _read_class_file(source)
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
        _check_codes(source or "classes", names, codes, tuple(ignore_codes))
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

    def map(
        self, raw: np.ndarray, path: Path, unlisted: str = "raise", skip: np.ndarray | None = None
    ) -> np.ndarray:
        """Raw codes (integers) -> uint8 training indices; unknown codes raise or become 255.

        ``skip`` (boolean, like ``raw``): pixels that are 255 whatever their value (nodata)."""
        lookup = self.index_of()
        if raw.dtype.kind == "u" and raw.dtype.itemsize <= 2:  # a lookup table: no sort, one pass
            return self._map_table(raw, path, unlisted, skip)
        values = np.unique(raw if skip is None else raw[~skip])
        unknown = [v.item() for v in values if v.item() not in lookup]
        if unknown and unlisted == "raise":
            raise SceneError(_unknown_message(self, path, unknown))
        out = np.full(raw.shape, IGNORE, np.uint8)
        for v in values:
            out[raw == v] = lookup.get(v.item(), IGNORE)
        if skip is not None:
            out[skip] = IGNORE
        return out

    def _map_table(
        self, raw: np.ndarray, path: Path, unlisted: str, skip: np.ndarray | None
    ) -> np.ndarray:
        """:meth:`map` for uint8/uint16 codes through a 256/65536-entry table (254: unknown)."""
        lut = np.full(1 << (8 * raw.dtype.itemsize), _UNKNOWN, np.uint8)
        for code, index in self.index_of().items():
            if isinstance(code, (int, float, np.number)) and float(code).is_integer():
                if 0 <= code < lut.size:
                    lut[int(code)] = index
        out = lut[raw]
        if skip is not None:
            out[skip] = IGNORE
        odd = out == _UNKNOWN
        if odd.any():
            unknown = np.unique(raw[odd]).tolist()
            if unlisted == "raise":
                raise SceneError(_unknown_message(self, path, unknown))
            out[odd] = IGNORE
        return out


_UNKNOWN = 254  # a code in no table while mapping (training indices stop at 253)


def _unknown_message(table: ClassTable, path: Path, unknown: list[Any]) -> str:
    """One line: the label codes of ``path`` that are in no table, and the fix."""
    return (
        f"{path}: label code(s) {unknown[:10]} are not in the class table "
        f"{dict(zip(table.names, table.codes, strict=True))} nor in ignore_codes "
        f"{list(table.ignore_codes)}. Add them to classes or ignore_codes, or pass "
        "unlisted='ignore' to treat every unlisted code as ignore."
    )


def _read_class_file(source: Path) -> Any:
    """The parsed ``classes.json``; a missing, folder or non-JSON file raises naming it."""
    if not source.exists():
        raise SceneError(f"{source}: class table not found. Check the path.")
    if source.is_dir():
        raise SceneError(
            f"{source}: is a folder; pass the class table file inside it (e.g. classes.json)."
        )
    try:
        return json.loads(source.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise SceneError(
            f"{source}: not a JSON class table ({err}). Write it as "
            '[{"name": ..., "value": code}, ...] or {"name": code}.'
        ) from err


def _check_codes(
    source: Any, names: tuple[str, ...], codes: tuple[tuple[Any, ...], ...], ignore: tuple[Any, ...]
) -> None:
    """Refuse unhashable codes and codes listed both as a class and in ``ignore_codes``."""
    try:
        both = {c: n for n, cs in zip(names, codes, strict=True) for c in cs if c in set(ignore)}
    except TypeError as err:
        raise SceneError(
            f"{source}: class codes must be numbers or strings ({err}); use a list of codes for "
            "a class with several."
        ) from err
    if both:
        raise SceneError(
            f"{source}: code(s) {sorted(both, key=str)} are both a class "
            f"({sorted(set(both.values()))}) and in ignore_codes {list(ignore)}; a code is either "
            "trained or ignored: remove it from the class table or from ignore_codes."
        )


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
        nan_policy: str = "raise",
    ) -> None:
        paths = [Path(image)] if isinstance(image, (str, os.PathLike)) else [Path(p) for p in image]
        if not paths:
            raise SceneError("image: give one raster or a list of single-band rasters.")
        if unlisted not in ("raise", "ignore"):
            raise SceneError(f"unlisted must be 'raise' or 'ignore', not {unlisted!r}.")
        if nan_policy not in ("raise", "zero"):
            raise SceneError(f"nan_policy must be 'raise' or 'zero', not {nan_policy!r}.")
        self.paths, self.resampling, self.seed, self.epoch = paths, resampling, seed, 0
        self.crop, self.tile, self.augment, self.min_labelled = crop, tile, augment, min_labelled
        self.nan_policy = nan_policy
        self.normalise = normalise_s2 if normalise == "s2" else normalise
        self.grid = Grid(*grid_of(Path(grid))) if grid is not None else finest_grid(paths)
        self.nodata: dict[Path, float | None] = {}
        self.sources = self._band_sources(band_names)
        self.bands = self._choose(bands)
        self.split = split
        self._region = Region.make(
            self.grid.shape, split, block, test_fraction, seed, f"{paths[0]}: "
        )
        if self._region.bbox() is None:
            raise SceneError(
                f"{paths[0]}: split {split!r} holds no pixel of the {self.grid.shape} grid. "
                "Choose another split, a smaller block or a test_fraction below 1."
            )
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
        self._image: np.ndarray | None = None
        self._bad: np.ndarray | None = None
        self.windows = self._grid_windows() if crop is None else []
        self.samples = samples if samples is not None else max(1, len(self._grid_windows(crop)))

    @property
    def region(self) -> np.ndarray:
        """Boolean ``(H, W)``: the split's pixels (built on request; the reader keeps cells)."""
        return self._region.window(0, 0, *self.grid.shape)

    # ---- set-up ----

    def _band_sources(self, band_names: Sequence[str] | None) -> list[tuple[str, Path, int]]:
        """``(name, file, 1-based band)`` for every band of every image file, in file order."""
        out: list[tuple[str, Path, int]] = []
        for path in self.paths:
            with open_raster(path) as src:
                check_overlap(path, src.crs, src.bounds, self.grid)
                names = _band_names(path, src.count, src.descriptions)
                out += [(n, path, i + 1) for i, n in enumerate(names)]
                self.nodata[path] = src.nodata
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
            raise SceneError(
                f"{self.paths[0]}: band names {names} repeat; pass band_names=[...] to rename them."
            )
        return out

    def _choose(self, bands: Sequence[str] | None) -> tuple[str, ...]:
        names = [n for n, _, _ in self.sources]
        if bands is None:
            return tuple(names)
        if isinstance(bands, str) or not len(bands):
            raise SceneError(
                f"{self.paths[0]}: bands={bands!r} chooses no band; pass a list of names from "
                f"{names}, or bands=None for all of them."
            )
        unknown = [b for b in bands if b not in names]
        if unknown:
            raise SceneError(
                f"{self.paths[0]}: unknown band name(s) {unknown}; the scene's bands are {names}. "
                "Choose from them (names come from the files' band descriptions or file names)."
            )
        return tuple(bands)

    def _read_labels(self, field: str | None, layer: str | None, unlisted: str) -> np.ndarray:
        """Training indices on the grid, 255 outside the split, read in strips of rows."""
        from rasterio.windows import Window

        path = self.label_path
        assert path is not None and self.classes is not None
        h, w = self.grid.shape
        step = max(1, _STRIP_PIXELS // w)  # a grid up to _STRIP_PIXELS is read in one piece
        if path.suffix.lower() in (".gpkg", ".geojson", ".json"):
            out = self._rasterise(path, field, layer, unlisted)
        else:
            with open_raster(path) as src:
                if src.count != 1:
                    raise SceneError(f"{path}: has {src.count} bands; a label raster has one.")
                nodata = src.nodata
            table = _label_table(self.classes, nodata, path)
            out = np.empty((h, w), np.uint8)
            for r in range(0, h, step):
                n = min(step, h - r)
                window = None if n == h else Window(0, r, w, n)
                raw = read_on_grid(path, self.grid, [1], "nearest", window, checked=r > 0)[0]
                out[r : r + n] = table.map(raw, path, unlisted, _label_nodata(raw, nodata))
        labelled = False
        for r in range(0, h, step):
            n = min(step, h - r)
            part = out[r : r + n]
            part[~self._region.window(r, 0, n, w)] = IGNORE
            labelled = labelled or bool((part != IGNORE).any())
        if not labelled:
            raise SceneError(
                f"{path}: no labelled pixel in split {self.split!r}. Check that the "
                "labels cover this part of the scene, choose another split, or widen the "
                "class table."
            )
        return out

    def _rasterise(
        self, path: Path, field: str | None, layer: str | None, unlisted: str
    ) -> np.ndarray:
        from rasterio.features import rasterize
        from rasterio.warp import transform_geom

        from .. import vectors

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
        burnt -= 1  # in place: 0 (no polygon) wraps to 255, the ignore index
        return burnt

    def _grid_windows(self, side: int | None = None) -> list[tuple[int, int, int, int]]:
        """Non-overlapping-in-effect ``(row, col, side, side)`` windows covering the split."""
        box = self._region.bbox()
        assert box is not None  # refused in __init__
        r0, r1, c0, c1 = box
        if side is None:  # evaluation tiles shrink to the split (a multiple of 32 px when possible)
            extent = min(r1 - r0, c1 - c0)
            side = min(
                positive_int(self.tile, "tile", f"{self.paths[0]}: "), extent // 32 * 32 or extent
            )
            self.tile = side
        side = positive_int(side, "crop", f"{self.paths[0]}: ")
        if side > r1 - r0 or side > c1 - c0:
            raise SceneError(
                f"{self.paths[0]}: tile/crop {side} is larger than split {self.split!r} "
                f"({r1 - r0}x{c1 - c0} px); choose a smaller tile or crop."
            )
        starts_r = [r0 + r for r in windows.grid_starts(r1 - r0, side, side)]
        starts_c = [c0 + c for c in windows.grid_starts(c1 - c0, side, side)]
        return [
            (r, c, side, side)
            for r in starts_r
            for c in starts_c
            if self._region.window(r, c, side, side).any()
        ]

    # ---- reading ----

    def _read(self, window: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The chosen bands (a window) and the bad-pixel map (None: none), one open per file."""
        where = [next((p, i) for n, p, i in self.sources if n == name) for name in self.bands]
        by_file: dict[Path, list[int]] = {}
        for path, index in where:
            by_file.setdefault(path, []).append(index)
        read, bad = {}, None
        for path, idx in by_file.items():
            data, covered = read_on_grid(
                path, self.grid, idx, self.resampling, window, True, coverage=True
            )
            here = _bad_map(data, self.nodata.get(path), covered)
            if here is not None and self.nan_policy == "raise":
                raise SceneError(_bad_message(path, data, self.nodata.get(path), covered, window))
            if here is not None:
                data = np.where(here, 0, data)
                bad = here if bad is None else bad | here
            if self.normalise is normalise_s2:
                check_s2_dn(data, str(path))  # names the file, not "S2 array"
            read[path] = dict(zip(idx, data, strict=True))
        data = np.stack([read[path][index] for path, index in where])
        if self.normalise is normalise_s2:
            data = normalise_s2(data, str(self.paths[0]))
        elif self.normalise is not None:
            data = self.normalise(data)
        data = data.astype(np.float32)
        if bad is not None:
            data[:, bad] = 0.0
        return data, bad

    def image(self) -> np.ndarray:
        """The whole scene ``(bands, H, W)`` on the grid, normalised (read once, then kept)."""
        if self._image is None:
            self._image, self._bad = self._read()
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
        rng = windows.rng(self.seed, self.epoch, index)
        c = self.crop
        best = None
        for _ in range(200):
            r, q = windows.random_window(self.grid.shape, c, rng, where=self.paths[0])
            if not self._region.window(r, q, c, c).all():
                continue
            best = (r, q, c, c)
            if self.labels is None:
                return best
            if int((self.labels[r : r + c, q : q + c] != IGNORE).sum()) >= self.min_labelled:
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
            bad = None if self._bad is None else self._bad[r : r + h, c : c + w]
        else:
            image, bad = self._read(Window(c, r, w, h))
        arrays = {"image": image}
        if self.labels is not None:
            mask = self.labels[r : r + h, c : c + w].astype(np.int64)
            if self.crop is None:  # grid tiles shifted to fit overlap: score each pixel once
                mask[_seen(self.windows, index, r, c, h, w)] = IGNORE
            if bad is not None:  # nan_policy="zero": bad pixels are neither trained nor scored
                mask[bad] = IGNORE
            arrays["mask"] = mask
        if self.augment:
            arrays = windows.augment(arrays, windows.rng(self.seed, self.epoch, index, 1))
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


# ---- bad pixels and label nodata ----

_STRIP_PIXELS = 1 << 24  # labels are read in strips of about this many pixels (16 MiB as uint8)


def _bad_map(data: np.ndarray, nodata: float | None, covered: np.ndarray | None) -> Any:
    """Boolean ``(h, w)``: NaN/inf/nodata in any band (:func:`.base.bad_pixels`, as every reader
    finds them) or not covered by the file; None if none."""
    bad = bad_pixels(data, nodata)
    if covered is not None:
        bad |= ~covered
    return bad if bad.any() else None


def _bad_message(
    path: Path, data: np.ndarray, nodata: float | None, covered: np.ndarray | None, window: Any
) -> str:
    """One line: how many pixels of ``path`` are bad and outside it, where, and the fix."""
    outside = 0 if covered is None else int((~covered).sum())
    inside = _bad_map(data, nodata, None)
    n_bad = (
        0 if inside is None else int((inside & (covered if covered is not None else True)).sum())
    )
    where = (
        "the whole grid"
        if window is None
        else f"window (row {window.row_off}, col {window.col_off}, {window.height}x{window.width})"
    )
    return (
        f"{path}: {n_bad} NaN/inf/nodata ({nodata}) pixel(s) and {outside} pixel(s) outside the "
        f"file's coverage in {where} of the scene's grid. Fix or crop the file (or pass grid= / "
        "another split), or pass nan_policy='zero' to set them to 0 and leave them out of the masks."
    )


def _label_nodata(raw: np.ndarray, nodata: float | None) -> np.ndarray | None:
    """Boolean map of a label raster's nodata pixels, and NaN (never a class code) in a float
    raster whatever its nodata; None when there are none."""
    skip = np.isnan(raw) if raw.dtype.kind == "f" else None
    if nodata is not None and not np.isnan(nodata):
        skip = raw == nodata if skip is None else skip | (raw == nodata)
    return skip if skip is not None and skip.any() else None


def _label_table(table: ClassTable, nodata: float | None, path: Path) -> ClassTable:
    """The class table for a label raster: its nodata must not be a class code (refused)."""
    if nodata is None or np.isnan(nodata):
        return table
    trained = {c: n for n, cs in zip(table.names, table.codes, strict=True) for c in cs}
    if nodata in trained:
        raise SceneError(
            f"{path}: its nodata value {nodata:g} is also the code of class "
            f"{trained[nodata]!r}, so those pixels cannot be told apart. Fix the file's nodata "
            "(e.g. `gdal_edit.py -unsetnodata` or -a_nodata <unused code>) or change the class table."
        )
    return table


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

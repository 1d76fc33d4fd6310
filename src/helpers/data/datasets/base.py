"""The shared base of the layout readers: finding patches, split lists, bad pixels, kept header
checks, and the reader of the SEN12MS/DFC2020 patch layout that both subclass.

Bands are chosen by name, never by index (torchgeo's SEN12MS "s2-reduced" set picks B10 where B11
was meant, an index slip). Images are normalised as in the DFC2020 baseline: S2 clip [0, 10000] /
10000, S1 clip [-25, 0] / 25 + 1. Random crops (:mod:`helpers.data.windows`) read only their window from
disk. Every bad input (missing root or partner file, corrupt file, wrong band count, mismatched
grids, unknown labels, NaN/nodata) raises :class:`DatasetError` naming the file and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from ...core.bands import S1_BANDS, S2_BANDS
from ...io.rasters import FileInfo, RasterError, check_same_grid, info, read_array
from .. import windows
from ..layouts import LC_LAYERS, patch_id, patch_path
from ..layouts import PATCH_NAME as _NAME
from ..normalise import DatasetError, band_indexes, normalise_s1, normalise_s2, to_scheme

SCHEMES = (*LC_LAYERS, "dfc", "dfc8")
IGNORE = 255
_NAN_HINT = (
    "Real SEN12MS has such a patch (ROIs1868_summer s2_146 p202). Pass nan_policy='zero' to set "
    "those pixels to 0 after normalisation, or leave the patch out with files=[...]."
)


# ---- finding patches ----


@dataclass(frozen=True)
class Patch:
    """One patch of the SEN12MS/DFC2020 layout: where it is and the path of each modality."""

    roi: str
    scene: str
    patch: int
    root: Path
    flat: bool = False  # Copernicus-Bench DFC2020: {s1,s2,dfc}/<name>.tif, no ROI folders

    @property
    def id(self) -> str:
        """The official name of the S2 file without ``.tif`` (e.g. ``ROIs1158_spring_s2_1_p30``)."""
        return patch_id(self.roi, self.scene, self.patch)

    def path(self, mod: str) -> Path:
        """Path of modality ``mod`` (``s1``, ``s2``, ``lc`` or ``dfc``) in the official naming."""
        if self.flat:
            return self.root / mod / f"{self.roi}_{mod}_{self.scene}_p{self.patch}.tif"
        return patch_path(self.root, self.roi, self.scene, self.patch, mod)


def parse_id(name: str) -> tuple[str, str, int]:
    """``(roi, scene, patch)`` from any official file name or id (any modality, with or without .tif)."""
    m = _NAME.search(Path(str(name).strip()).name)
    if not m:
        raise DatasetError(
            f"{name!r} is not a SEN12MS/DFC2020 patch name; expected e.g. "
            "'ROIs1158_spring_s2_1_p30' or 'ROIs0000_test_s2_0_p12.tif'."
        )
    return m["roi"], m["scene"], int(m["patch"])


def find_patches(root: str | os.PathLike, rois: Sequence[str] | None = None) -> list[Patch]:
    """All patches with an S2 file under ``root`` (optionally only some ROI folders), sorted."""
    root = Path(root)
    out = []
    for folder in sorted(p for p in root.glob("ROIs*") if p.is_dir()):
        if rois is not None and folder.name not in rois:
            continue
        for f in folder.glob("s2_*/*_s2_*_p*.tif"):
            try:
                roi, scene, patch = parse_id(f.name)
            except DatasetError:
                continue
            out.append(Patch(roi, scene, patch, root))
    return sorted(
        out, key=lambda p: (p.roi, int(p.scene) if p.scene.isdigit() else p.scene, p.patch)
    )


def read_id_list(files: str | os.PathLike | Sequence[str]) -> list[str]:
    """Ids from a list or a text file (one per line; blank lines and ``#`` comments skipped).

    An empty list is refused: it would otherwise read as "no files matched" far from its cause.
    """
    if isinstance(files, (str, os.PathLike)) and Path(files).suffix in (".txt", ".csv", ".lst"):
        path = Path(files)
        if not path.exists():
            raise DatasetError(
                f"{path}: split list not found. Check the path or pass a list of ids."
            )
        lines = path.read_text(encoding="utf-8").splitlines()
        ids = [
            x.split(",")[0].strip() for x in lines if x.strip() and not x.lstrip().startswith("#")
        ]
        if not ids:
            raise DatasetError(
                f"{path}: the split list holds no ids (empty, or only comments). Write one id per "
                "line, or pass files=None to use every patch."
            )
        return ids
    if isinstance(files, str):
        return [files]
    ids = [str(x) for x in files]
    if not ids:
        raise DatasetError(
            "files=[] is an empty split list: give at least one id, or files=None to use every patch."
        )
    return ids


def check_root(root: str | os.PathLike, what: str, sub: str) -> Path:
    """The dataset root (accepting its parent folder that holds ``sub``), or a clear error."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(
            f"{root}: {what} folder not found. Run `eosr sample` (the sample scene) or point to the "
            f"{what} folder (the one that holds the ROIs* folders)."
        )
    if not any(root.glob("ROIs*")) and (root / sub).is_dir():
        root = root / sub
    return root


def bad_pixels(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """Boolean map (h, w): any band NaN, +-inf or equal to the file's nodata value."""
    bad = (
        ~np.isfinite(data).all(axis=0)
        if data.dtype.kind == "f"
        else np.zeros(data.shape[-2:], bool)
    )
    if nodata is not None and not np.isnan(nodata):
        bad |= (data == nodata).any(axis=0)
    return bad


def crop_window(
    shape: tuple[int, int], crop: int | None, rng: np.random.Generator, path: Path, align: int = 1
) -> Any:
    """A random ``rasterio`` window of side ``crop`` (:func:`helpers.data.windows.random_window`), or
    None without a crop."""
    if crop is None:
        return None
    from rasterio.windows import Window

    row, col = windows.random_window(shape, crop, rng, align, path)
    return Window(col, row, crop, crop)


# ---- the SEN12MS/DFC2020 patch layout ----


class PatchDataset(Dataset):
    """Shared reader of the SEN12MS/DFC2020 layouts (see :class:`SEN12MS`, :class:`DFC2020`)."""

    what = "SEN12MS"
    label_source: dict[str, str] = {}
    crs_required = True  # SEN12MS files are all georeferenced; DFC2020 files may lack a CRS

    def __init__(
        self,
        root: str | os.PathLike,
        rois: Sequence[str] | None,
        s2_bands: Sequence[str],
        s1_bands: Sequence[str],
        label: str,
        crop: int | None,
        augment: bool,
        files: Any,
        seed: int,
        nan_policy: str,
        sub: str,
    ) -> None:
        if label not in SCHEMES:
            raise DatasetError(f"Unknown label scheme {label!r}; choose from {list(SCHEMES)}.")
        if nan_policy not in ("raise", "zero"):
            raise DatasetError(f"nan_policy must be 'raise' or 'zero', not {nan_policy!r}.")
        band_indexes(s2_bands, S2_BANDS)
        band_indexes(s1_bands, S1_BANDS)
        if not s2_bands and not s1_bands:
            raise DatasetError("Choose at least one band (s2_bands or s1_bands).")
        self.root = check_root(root, self.what, sub)
        self.s2_bands, self.s1_bands = tuple(s2_bands), tuple(s1_bands)
        self.bands = self.s2_bands + self.s1_bands
        self.label, self.crop, self.augment = label, crop, augment
        self.seed, self.nan_policy, self.epoch = seed, nan_policy, 0
        self.patches = self._select(rois, files)
        self._mods = self._needed()  # modalities each sample reads (fixed: checked once here)
        self._grids: dict[int, tuple[tuple, dict[str, Path], dict[str, FileInfo]]] = {}
        self._check_partners()

    def _select(self, rois: Sequence[str] | None, files: Any) -> list[Patch]:
        found = find_patches(self.root, rois)
        if files is not None:
            wanted = [parse_id(x) for x in read_id_list(files)]
            index = {(p.roi, p.scene, p.patch): p for p in found}
            missing = [w for w in wanted if w not in index]
            if missing:
                names = [f"{r}_s2_{s}_p{p}" for r, s, p in missing[:5]]
                raise DatasetError(
                    f"{self.root}: {len(missing)} id(s) of the split list have no S2 file here, e.g. "
                    f"{names}. Check the list matches this folder (and the seasons/split chosen)."
                )
            found = [index[w] for w in wanted]
        if not found:
            raise DatasetError(
                f"{self.root}: no files matched {self._pattern()}. Run `eosr sample` or point to the "
                f"{self.what} folder (the one that holds the ROIs* folders)."
            )
        return found

    def _pattern(self) -> str:
        return "ROIs*/s2_*/ROIs*_s2_*_p*.tif"

    def _needed(self) -> list[str]:
        mods = ["s2"] if self.s2_bands else []
        if self.s1_bands:
            mods.append("s1")
        return mods + sorted(set(self._label_files()))

    def _label_files(self) -> list[str]:
        return ["lc"]

    def _check_partners(self) -> None:
        for mod in self._mods:
            missing = [p.path(mod) for p in self.patches if not p.path(mod).exists()]
            if missing:
                partner = next(p for p in self.patches if not p.path(mod).exists())
                raise DatasetError(
                    f"{missing[0]}: missing, the {mod} partner of {partner.path('s2')} "
                    f"({len(missing)} {mod} file(s) missing in all). Download and unpack the {mod} part "
                    f"(e.g. {partner.roi}_{mod}.tar.gz) next to the s2_* folders, or leave those ids "
                    "out with files=[...]."
                )

    def __len__(self) -> int:
        return len(self.patches)

    def set_epoch(self, epoch: int) -> None:
        """Change the random crops/flips for a new epoch (still deterministic given the seed)."""
        self.epoch = int(epoch)

    def ids(self) -> list[str]:
        """Ids of the patches, in order (the official S2 file names without ``.tif``)."""
        return [p.id for p in self.patches]

    def _read_image(self, patch: Patch, window: Any, meta: dict[str, FileInfo]) -> np.ndarray:
        parts = []
        for mod, names, all_names, count, norm in (
            ("s2", self.s2_bands, S2_BANDS, 13, normalise_s2),
            ("s1", self.s1_bands, S1_BANDS, 2, normalise_s1),
        ):
            if not names:
                continue
            path, head = meta[mod].path, meta[mod]
            bands = band_indexes(names, all_names, head.descriptions)
            raw = read_array(path, bands, window=window, expect_bands=count)
            maybe_bad = raw.dtype.kind == "f" or head.nodata is not None  # else none can be
            bad = bad_pixels(raw, head.nodata) if maybe_bad else None
            any_bad = bad is not None and bool(bad.any())
            if any_bad and self.nan_policy == "raise":
                raise DatasetError(
                    f"{path}: {int(bad.sum())} NaN/nodata/inf pixel(s) in the {mod.upper()} bands. "
                    + _NAN_HINT
                )
            raw = np.where(bad, 0, raw) if any_bad else raw
            data = norm(raw, str(path)) if mod == "s2" else norm(raw)
            if any_bad:
                data[:, bad] = 0.0
            parts.append(data)
        return np.concatenate(parts, axis=0)

    def _read_label(self, scheme: str, window: Any, meta: dict[str, FileInfo]) -> np.ndarray:
        source = "dfc" if scheme in ("dfc", "dfc8") and "dfc" in self._label_files() else None
        if source == "dfc":
            path = meta["dfc"].path
            raw = read_array(path, window=window, expect_bands=1)[0]
        else:
            path = meta["lc"].path
            layer = "igbp" if scheme in ("dfc", "dfc8") else scheme
            raw = read_array(path, [LC_LAYERS.index(layer) + 1], window=window, expect_bands=4)[0]
            source = layer
        return to_scheme(raw, scheme, source, path)

    def _check_grids(self, index: int) -> dict[str, FileInfo]:
        """The headers of patch ``index``'s files, their grids matched (shape only where a CRS is
        missing): checked once, again only when a file changed (size or modification time)."""
        kept, patch = self._grids.get(index), self.patches[index]
        paths = kept[1] if kept else {mod: patch.path(mod) for mod in self._mods}
        version = tuple(stamp(path) for path in paths.values())
        if kept is None or kept[0] != version:
            kept = keep(self._grids, index, (version, paths, self._check_headers(patch, paths)))
        return kept[2]

    def _check_headers(self, patch: Patch, paths: dict[str, Path]) -> dict[str, FileInfo]:
        meta = {mod: header(path) for mod, path in paths.items()}
        if self.crs_required:
            for m in meta.values():
                if m.crs is None:
                    raise DatasetError(
                        f"{m.path}: no CRS (not georeferenced), so it cannot be checked against "
                        f"{patch.path('s2')}. Re-export it with its CRS and transform, or leave the "
                        "patch out with files=[...]."
                    )
        first, *others = meta.values()
        for other in others:
            check_pair(first, other)
        return meta

    def _sample(self, index: int) -> dict[str, Any]:
        patch = self.patches[index]
        meta = self._check_grids(index)
        rng = windows.rng(self.seed, self.epoch, index, index_first=True)
        first = next(iter(meta.values()))
        window = crop_window(first.shape, self.crop, rng, first.path)
        arrays = {
            "image": self._read_image(patch, window, meta),
            "mask": self._read_label(self.label, window, meta),
        }
        arrays.update(self._extra(window, meta))
        if self.augment:
            arrays = windows.augment(arrays, rng)
        return {**arrays, "id": patch.id, "path": str(meta["s2" if self.s2_bands else "s1"].path)}

    def _extra(self, window: Any, meta: dict[str, FileInfo]) -> dict[str, np.ndarray]:
        return {}

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} patches")
        sample = self._sample(index)
        return {
            k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in sample.items()
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self)} patches from {self.root}, bands={list(self.bands)}, "
            f"label={self.label!r}, crop={self.crop}, augment={self.augment})"
        )


def header(path: Path) -> FileInfo:
    """The header of ``path`` (opened once per file version, see :func:`helpers.io.rasters.info`)."""
    try:
        return info(path)
    except RasterError as err:
        if not path.exists():
            raise DatasetError(
                f"{path}: file not found (it was there when the dataset was built)."
            ) from None
        raise DatasetError(str(err)) from None


def stamp(path: Path) -> tuple[int, int]:
    """``(size, mtime)`` of a file: a check made on it stays valid while this is unchanged."""
    try:
        st = path.stat()
    except OSError:
        raise DatasetError(
            f"{path}: file not found (it was there when the dataset was built)."
        ) from None
    return st.st_size, st.st_mtime_ns


def keep(cache: dict[int, Any], key: int, value: Any, limit: int = 8192) -> Any:
    """``cache[key] = value``, forgetting the oldest entry past ``limit`` (as :func:`rasters.info`
    does): a reader's kept checks stay bounded on 100,000s of samples."""
    if key not in cache and len(cache) >= limit:
        cache.pop(next(iter(cache)))
    cache[key] = value
    return value


def check_pair(a: FileInfo, b: FileInfo) -> None:
    """Same grid (CRS, transform, shape); files without a CRS (DFC2020 may lack geolocation) can
    only be checked for shape."""
    if a.crs is not None and b.crs is not None:
        check_same_grid(a.stub(), b.stub(), tolerance=1e-3)
    elif a.shape != b.shape:
        raise DatasetError(
            f"{a.path} and {b.path} are not on the same grid: shape {a.shape} vs {b.shape}. Use the "
            "partner files of the same patch, or re-export them with the same size."
        )

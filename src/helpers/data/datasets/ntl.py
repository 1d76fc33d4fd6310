"""The NTL layout ``{split}/{lr_ntl,hr_ntl,dmo,dem,isp}/{id}.tif`` (docs/CONTRACTS.md): the kit's one
reader of it, as samples in physical units (:class:`NTL`) and as georeferenced rasters
(:meth:`NTL.rasters`, what notebook 07 shows)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from ...io.rasters import check_count, check_same_bounds, check_same_grid, grid_of, read_array
from .. import windows
from ..layouts import NTL_LAYERS, ntl_path
from ..normalise import DatasetError, check_ntl_range
from .base import bad_pixels, crop_window, header, keep, read_id_list, stamp


class NTL(Dataset):
    """DeepLightMD-like night-light patches in physical units (float32):
    ``{"low_res" (1,h,w) DN, "high_res" (1,rh,rw), "dmo" (7,rh,rw), "dem", "isp", "id", "ratio"}``.

    ``crop`` is in high-res pixels and must be a multiple of the ratio (inferred from the shapes).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        crop: int | None = None,
        augment: bool = False,
        seed: int = 0,
        files: Any = None,
        nan_policy: str = "raise",
    ) -> None:
        root = Path(root).expanduser()
        if not root.is_dir():
            raise DatasetError(
                f"{root}: NTL folder not found. Run `eosr sample` (the sample scene) or point to a "
                "folder with {train,val,test}/{lr_ntl,hr_ntl,dmo,dem,isp}/<id>.tif."
            )
        if not (root / split).is_dir() and (root / "NTL" / split).is_dir():
            root = root / "NTL"
        if nan_policy not in ("raise", "zero"):
            raise DatasetError(f"nan_policy must be 'raise' or 'zero', not {nan_policy!r}.")
        self.root, self.split, self.crop, self.augment = root, split, crop, augment
        self.seed, self.nan_policy, self.epoch = seed, nan_policy, 0
        self._heads: dict[int, tuple[tuple, tuple[int, tuple[int, int], dict[str, Any]]]] = {}
        hr_dir = root / split / "hr_ntl"
        ids = sorted(p.stem for p in hr_dir.glob("*.tif"))
        if files is not None:
            wanted = [Path(x).stem for x in read_id_list(files)]
            absent = [x for x in wanted if x not in set(ids)]
            if absent:
                raise DatasetError(
                    f"{hr_dir}: no hr_ntl file for id(s) {absent[:5]}; check the split list."
                )
            ids = wanted
        if not ids:
            raise DatasetError(
                f"{hr_dir}: no files matched *.tif. Run `eosr sample` or point to the NTL folder "
                "(holding train/val/test)."
            )
        self.ids_ = ids
        self._paths = [{k: self._path(k, i) for k in NTL_LAYERS} for i in ids]  # built once
        for layer in NTL_LAYERS:
            missing = [p[layer] for p in self._paths if not p[layer].exists()]
            if missing:
                raise DatasetError(
                    f"{missing[0]}: missing ({len(missing)} {layer} file(s) in all). Export the {layer} "
                    "layer for these ids into the same split folder, or leave them out with files=[...]."
                )

    def _path(self, layer: str, ident: str) -> Path:
        return ntl_path(self.root, self.split, layer, ident)

    def __len__(self) -> int:
        return len(self.ids_)

    def set_epoch(self, epoch: int) -> None:
        """Change the random crops/flips for a new epoch (still deterministic given the seed)."""
        self.epoch = int(epoch)

    def ids(self) -> list[str]:
        """Patch ids in order."""
        return list(self.ids_)

    def ratio(self, index: int = 0) -> int:
        """The high-res / low-res scale factor of one sample, checked (grid, bounds, integer ratio,
        band counts); kept per sample until one of its files changes (size or modification time)."""
        return self._checked(index)[0]

    def _checked(self, index: int) -> tuple[int, tuple[int, int], dict[str, Any]]:
        """``(ratio, high-res shape, {layer: nodata value, or False where no pixel can be bad})``
        of sample ``index``: its files' headers checked once, again only when a file changed."""
        paths = self._paths[index]
        version = tuple(stamp(path) for path in paths.values())
        kept = self._heads.get(index)
        if kept is None or kept[0] != version:
            ratio, heads = self._check_ratio(paths), {k: header(p) for k, p in paths.items()}
            for layer, count in NTL_LAYERS.items():
                check_count(paths[layer], heads[layer].count, count)
            nodata = {  # per layer: False where no pixel can be bad (integers, no nodata value)
                k: h.nodata if np.dtype(h.dtype).kind == "f" or h.nodata is not None else False
                for k, h in heads.items()
            }
            kept = keep(self._heads, index, (version, (ratio, heads["hr_ntl"].shape, nodata)))
        return kept[1]

    def _check_ratio(self, paths: dict[str, Path]) -> int:
        hr = paths["hr_ntl"]
        for layer in ("dmo", "dem", "isp"):
            check_same_grid(hr, paths[layer], tolerance=1e-3)
        low = paths["lr_ntl"]
        check_same_bounds(hr, low)
        (hh, hw), (lh, lw) = grid_of(hr)[2], grid_of(low)[2]
        if hh % lh or hw % lw or hh // lh != hw // lw:
            raise DatasetError(
                f"{low}: shape {lh}x{lw} is not the high-res shape {hh}x{hw} divided by one integer "
                "ratio. Export the low-res layer on a grid exactly r times coarser over the same bounds."
            )
        return hh // lh

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} patches")
        ident, paths = self.ids_[index], self._paths[index]
        ratio, hr_shape, nodata = self._checked(index)
        rng = windows.rng(self.seed, self.epoch, index, index_first=True)
        if self.crop is not None and self.crop % ratio:
            raise DatasetError(
                f"crop {self.crop} must be a multiple of the ratio {ratio} ({ident})."
            )
        hr_win = crop_window(hr_shape, self.crop, rng, paths["hr_ntl"], align=ratio)
        lr_win = None
        if hr_win is not None:
            from rasterio.windows import Window

            side = self.crop // ratio
            lr_win = Window(hr_win.col_off // ratio, hr_win.row_off // ratio, side, side)
        arrays = {}
        for layer, count in NTL_LAYERS.items():
            path = paths[layer]
            window = lr_win if layer == "lr_ntl" else hr_win
            data = read_array(path, window=window, expect_bands=count, out_dtype=np.float32)
            if nodata[layer] is not False:
                self._bad_to_zero(data, nodata[layer], path)
            check_ntl_range(layer, data, path)
            arrays[layer] = data
        if self.augment:
            arrays = windows.augment(arrays, rng)
        names = {"lr_ntl": "low_res", "hr_ntl": "high_res"}  # dmo, dem, isp keep their names
        sample: dict[str, Any] = {names.get(k, k): torch.from_numpy(v) for k, v in arrays.items()}
        sample.update(id=ident, ratio=ratio)
        return sample

    def rasters(self, index: int) -> dict[str, Any]:
        """Sample ``index`` as georeferenced :class:`helpers.io.rasters.Raster` per layer (the files
        as written, no unit checks or crops), after the same grid, bounds and band checks."""
        from ...io.rasters import read

        self._checked(index)
        return {k: read(p, expect_bands=NTL_LAYERS[k]) for k, p in self._paths[index].items()}

    def _bad_to_zero(self, data: np.ndarray, nodata: float | None, path: Path) -> None:
        """NaN/inf/nodata pixels: refused (``nan_policy='raise'``) or set to 0 in place."""
        if nodata is None and np.isfinite(data.sum()):  # one pass, no mask, when all is well
            return
        bad = bad_pixels(data, nodata)
        if bad.any():
            if self.nan_policy == "raise":
                raise DatasetError(
                    f"{path}: {int(bad.sum())} NaN/nodata/inf pixel(s). Fill them before export, "
                    "or pass nan_policy='zero' to set them to 0."
                )
            data[:, bad] = 0.0

    def __repr__(self) -> str:
        return f"NTL({len(self)} patches from {self.root / self.split}, crop={self.crop}, augment={self.augment})"

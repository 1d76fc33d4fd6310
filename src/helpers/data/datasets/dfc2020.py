"""The DFC2020 layout: the original ``ROIs0000_{validation,test}/{s1,s2,lc,dfc}_0/`` and the
Copernicus-Bench zip ``dfc2020_s1s2/{s1,s2,dfc}/`` with its split lists (docs/CONTRACTS.md)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...io.rasters import FileInfo, read_array
from ..layouts import COBENCH_SPLITS, cobench_root, dfc2020_roi
from ..normalise import DatasetError, to_scheme
from .base import Patch, PatchDataset, parse_id, read_id_list


class DFC2020(PatchDataset):
    """DFC2020 patches: ``{"image", "mask", "coarse", "id", "path"}``.

    ``mask`` is the fine ``dfc`` label in ``label`` scheme (default ``"dfc8"``: 0..7, 255 ignore;
    ``"igbp"``/``"lccs_*"`` read the lc file instead); ``coarse`` is the MODIS IGBP layer mapped to DFC,
    in the same scheme when ``label`` is ``"dfc"``, else the 0..7 index. The files may lack a CRS.

    Two layouts: the original ``ROIs0000_{validation,test}/{s1,s2,lc,dfc}_0/`` (splits
    ``"validation"``, ``"test"``) and the Copernicus-Bench zip that ``eosr fetch dfc2020`` downloads,
    ``dfc2020_s1s2/{s1,s2,dfc}/`` with ``dfc-{train,val,test}-new.csv`` (splits ``"train"``,
    ``"val"`` (alias ``"validation"``), ``"test"``). That zip holds no MODIS lc layer, so its
    samples have no ``"coarse"`` key and only the ``"dfc"``/``"dfc8"`` label schemes.
    """

    what = "DFC2020"
    crs_required = False

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "test",
        s2_bands: Sequence[str] = ("B04", "B03", "B02", "B08"),
        s1_bands: Sequence[str] = (),
        crop: int | None = None,
        augment: bool = False,
        files: Any = None,
        seed: int = 0,
        label: str = "dfc8",
        nan_policy: str = "raise",
    ) -> None:
        flat = cobench_root(root)
        self.flat = flat is not None
        if self.flat:
            if split not in COBENCH_SPLITS:
                raise DatasetError(
                    f"{flat}: the Copernicus-Bench layout has splits 'train', 'val' and 'test', "
                    f"not {split!r}."
                )
            split = COBENCH_SPLITS[split]
            if label not in ("dfc", "dfc8") and not (flat / "lc").is_dir():
                raise DatasetError(
                    f"{flat}: the Copernicus-Bench layout has no lc (MODIS) layer, so label "
                    f"{label!r} cannot be read; use label='dfc8' or 'dfc'."
                )
            root = flat
        elif split not in ("validation", "test"):
            raise DatasetError(f"split must be 'validation' or 'test', not {split!r}.")
        self.split = split
        super().__init__(
            root,
            [f"ROIs0000_{split}" if self.flat else dfc2020_roi(split)],  # flat: the CSV selects
            s2_bands,
            s1_bands,
            label,
            crop,
            augment,
            files,
            seed,
            nan_policy,
            "DFC2020",
        )

    def _pattern(self) -> str:
        if self.flat:
            return f"dfc-{self.split}-new.csv"
        roi = dfc2020_roi(self.split)
        return f"{roi}/s2_0/{roi}_s2_0_p*.tif"

    def _select(self, rois: Sequence[str] | None, files: Any) -> list[Patch]:
        if not self.flat:
            return super()._select(rois, files)
        listed = self.root / f"dfc-{self.split}-new.csv"
        names = read_id_list(files if files is not None else listed)
        if not names:
            raise DatasetError(f"{listed}: lists no patch. Unpack dfc2020.zip again.")
        return [Patch(*parse_id(name), self.root, flat=True) for name in names]

    def _label_files(self) -> list[str]:
        if self.flat and not (self.root / "lc").is_dir():
            return ["dfc"]
        return ["lc", "dfc"]

    def _extra(self, window: Any, meta: dict[str, FileInfo]) -> dict[str, np.ndarray]:
        if "lc" not in self._label_files():
            return {}
        coarse_scheme = "dfc" if self.label == "dfc" else "dfc8"
        path = meta["lc"].path
        raw = read_array(path, [1], window=window, expect_bands=4)[0]
        return {"coarse": to_scheme(raw, coarse_scheme, "igbp", path)}

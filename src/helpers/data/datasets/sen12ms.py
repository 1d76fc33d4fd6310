"""The SEN12MS layout: ``ROIs1158_spring/{s1,s2,lc}_{scene}/ROIs1158_spring_{s1,s2,lc}_{scene}_p{patch}.tif``
(docs/CONTRACTS.md; names from :mod:`helpers.data.layouts`), read as S1/S2/LC triplets."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..layouts import SEASONS
from ..normalise import DatasetError
from .base import PatchDataset


class SEN12MS(PatchDataset):
    """SEN12MS S1/S2/LC triplets as samples ``{"image", "mask", "id", "path"}``.

    ``image`` float32 (C, H, W): the S2 bands then the S1 bands, by name and normalised;
    ``mask`` int64 (H, W) in ``label`` scheme (``"dfc8"``: 0..7, 255 = ignore). ``seasons``:
    e.g. ``["summer"]`` or ``["ROIs1868_summer"]`` (default all found). ``files``: ids or a text file.
    """

    what = "SEN12MS"

    def __init__(
        self,
        root: str | os.PathLike,
        seasons: Sequence[str] | None = None,
        s2_bands: Sequence[str] = ("B04", "B03", "B02", "B08"),
        s1_bands: Sequence[str] = (),
        label: str = "dfc8",
        crop: int | None = None,
        augment: bool = False,
        files: Any = None,
        seed: int = 0,
        nan_policy: str = "raise",
    ) -> None:
        rois = None if seasons is None else [_season_folder(s) for s in seasons]
        super().__init__(
            root, rois, s2_bands, s1_bands, label, crop, augment, files, seed, nan_policy, "SEN12MS"
        )


def _season_folder(season: str) -> str:
    for name in SEASONS:
        if season in (name, name.split("_", 1)[1]):
            return name
    raise DatasetError(
        f"Unknown season {season!r}; choose from {list(SEASONS)} or their short names."
    )

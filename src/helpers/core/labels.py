"""Land-cover label schemes (IGBP, LCCS, DFC2020), the mappings between them, colours and legends.

Value tables follow the HR-MARS slides, which copy the SEN12MS paper (Schmitt et
al. 2019, arXiv:1906.07789) and the DFC2020 paper (Schmitt et al. 2020, arXiv:2002.08254). Where
the HR-MARS table is garbled, the SEN12MS / MODIS MCD12Q1 LCCS scheme is used and a comment says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

IGNORE_INDEX = 255
SCHEMES = ("igbp", "lccs_lc", "lccs_lu", "lccs_sh", "dfc", "dfc8")

# ---- IGBP (MODIS MCD12Q1 LC_Type1), values 1..17 ----
IGBP: dict[int, str] = {
    1: "Evergreen Needleleaf Forests",
    2: "Evergreen Broadleaf Forests",
    3: "Deciduous Needleleaf Forests",
    4: "Deciduous Broadleaf Forests",
    5: "Mixed Forests",
    6: "Closed Shrublands",
    7: "Open Shrublands",
    8: "Woody Savannas",
    9: "Savannas",
    10: "Grasslands",
    11: "Permanent Wetlands",
    12: "Croplands",
    13: "Urban and Built-Up Lands",
    14: "Cropland/Natural Vegetation Mosaics",
    15: "Permanent Snow and Ice",
    16: "Barren",
    17: "Water Bodies",
}

# ---- LCCS layers (MODIS LC_Prop1..3 as used by SEN12MS) ----
# HR-MARS lists "11 12" on the Evergreen Needleleaf row and nothing on Evergreen Broadleaf: a
# shifted cell; SEN12MS gives 11 = Evergreen Needleleaf, 12 = Evergreen Broadleaf.
LCCS_LC: dict[int, str] = {
    1: "Barren",
    2: "Permanent Snow and Ice",
    3: "Water Bodies",
    11: "Evergreen Needleleaf Forests",
    12: "Evergreen Broadleaf Forests",
    13: "Deciduous Needleleaf Forests",
    14: "Deciduous Broadleaf Forests",
    15: "Mixed Broadleaf/Needleleaf Forests",
    16: "Mixed Broadleaf Evergreen/Deciduous Forests",
    21: "Open Forests",
    22: "Sparse Forests",
    31: "Dense Herbaceous",
    32: "Sparse Herbaceous",
    41: "Closed (Dense) Shrublands",
    42: "Shrubland/Grassland Mosaics",
    43: "Open (Sparse) Shrublands",
}
# HR-MARS lists Tundra with LU value 33 (and SH 51); the MCD12Q1 user guide's LC_Prop2 table (not
# reachable offline to confirm) is usually quoted without it. Kept as HR-MARS has it.
LCCS_LU: dict[int, str] = {
    1: "Barren",
    2: "Permanent Snow and Ice",
    3: "Water Bodies",
    9: "Urban and Built-Up Lands",
    10: "Dense Forests",
    20: "Open Forests",
    25: "Forest/Cropland Mosaics",
    30: "Natural Herbaceous",
    33: "Tundra",
    35: "Natural Herbaceous/Croplands Mosaics",
    36: "Herbaceous Croplands",
    40: "Shrublands",
}
# HR-MARS puts SH 30 on the "Grasslands" row; the SH layer calls it Grasslands as well.
LCCS_SH: dict[int, str] = {
    1: "Barren",
    2: "Permanent Snow and Ice",
    3: "Water Bodies",
    10: "Dense Forests",
    20: "Open Forests",
    27: "Woody Wetlands",
    30: "Grasslands",
    40: "Shrublands",
    50: "Herbaceous Wetlands",
    51: "Tundra",
}

# ---- DFC2020 simplified IGBP, values 1..10 ----
DFC: dict[int, str] = {
    1: "Forest",
    2: "Shrubland",
    3: "Savanna",
    4: "Grassland",
    5: "Wetlands",
    6: "Croplands",
    7: "Urban/Built-up",
    8: "Snow/Ice",
    9: "Barren",
    10: "Water",
}
# Savanna (3) and Snow/Ice (8) are absent from the DFC2020 evaluation data: 8 classes remain.
DFC8: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10)

# IGBP -> DFC, indexed by IGBP value 0..17 (the DFC2020 baseline's mapping). HR-MARS's
# table is garbled on the Woody Savannas row ("2 6"); here it maps to Savanna (3) as in the baseline.
IGBP_TO_DFC = np.array([0, 1, 1, 1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 6, 8, 9, 10], dtype=np.uint8)

_DFC_TO_TRAIN = np.full(256, IGNORE_INDEX, dtype=np.uint8)
for _i, _v in enumerate(DFC8):
    _DFC_TO_TRAIN[_v] = _i

# ---- colours ----
# MODIS IGBP palette as used by the Earth Engine catalogue; DFC2020 reuses the IGBP colours
# (the DFC2020 baseline's palette).
_IGBP_COLORS = {
    1: "#05450a", 2: "#086a10", 3: "#54a708", 4: "#78d203", 5: "#009900", 6: "#c6b044",
    7: "#dcd159", 8: "#dade48", 9: "#fbff13", 10: "#b6ff05", 11: "#27ff87", 12: "#c24f44",
    13: "#a5a5a5", 14: "#ff6d4c", 15: "#69fff8", 16: "#f9ffa4", 17: "#1c0dff",
}  # fmt: skip
_DFC_COLORS = {
    1: "#009900", 2: "#c6b044", 3: "#fbff13", 4: "#b6ff05", 5: "#27ff87", 6: "#c24f44",
    7: "#a5a5a5", 8: "#69fff8", 9: "#f9ffa4", 10: "#1c0dff",
}  # fmt: skip
# LCCS has no single conventional palette: colours follow the IGBP colour of the closest class.
_LCCS_LC_COLORS = {
    1: "#f9ffa4", 2: "#69fff8", 3: "#1c0dff", 11: "#05450a", 12: "#086a10", 13: "#54a708",
    14: "#78d203", 15: "#009900", 16: "#33b200", 21: "#4f9b3a", 22: "#8fbf5a", 31: "#b6ff05",
    32: "#dcf07a", 41: "#c6b044", 42: "#d8c77a", 43: "#dcd159",
}  # fmt: skip
_LCCS_LU_COLORS = {
    1: "#f9ffa4", 2: "#69fff8", 3: "#1c0dff", 9: "#a5a5a5", 10: "#05450a", 20: "#4f9b3a",
    25: "#a0883a", 30: "#b6ff05", 33: "#b7c9c0", 35: "#e0a060", 36: "#c24f44", 40: "#c6b044",
}  # fmt: skip
_LCCS_SH_COLORS = {
    1: "#f9ffa4", 2: "#69fff8", 3: "#1c0dff", 10: "#05450a", 20: "#4f9b3a", 27: "#2e8b6e",
    30: "#b6ff05", 40: "#c6b044", 50: "#27ff87", 51: "#b7c9c0",
}  # fmt: skip

_TABLES: dict[str, tuple[dict[int, str], dict[int, str]]] = {
    "igbp": (IGBP, _IGBP_COLORS),
    "lccs_lc": (LCCS_LC, _LCCS_LC_COLORS),
    "lccs_lu": (LCCS_LU, _LCCS_LU_COLORS),
    "lccs_sh": (LCCS_SH, _LCCS_SH_COLORS),
    "dfc": (DFC, _DFC_COLORS),
    "dfc8": (
        {i: DFC[v] for i, v in enumerate(DFC8)},
        {i: _DFC_COLORS[v] for i, v in enumerate(DFC8)},
    ),
}


def _table(scheme: str) -> tuple[dict[int, str], dict[int, str]]:
    key = scheme.lower()
    if key not in _TABLES:
        raise ValueError(f"Unknown label scheme {scheme!r}; choose one of {', '.join(SCHEMES)}.")
    return _TABLES[key]


def class_names(scheme: str) -> dict[int, str]:
    """``{value: name}`` of a scheme (``"dfc8"`` is the 0-based training index of the 8 classes)."""
    return dict(_table(scheme)[0])


def class_values(scheme: str) -> tuple[int, ...]:
    """The valid values of a scheme, ascending."""
    return tuple(sorted(_table(scheme)[0]))


def validate(
    arr: np.ndarray, scheme: str, path: str | Path | None = None, allow: Iterable[int] = (0,)
) -> None:
    """Raise ``ValueError`` naming the file and the unknown values if ``arr`` holds any.

    ``allow`` lists extra values accepted as "no data" (0 by default; 255 is always ignore for dfc8).
    """
    values = np.unique(np.asarray(arr))
    known = set(class_values(scheme)) | set(int(a) for a in allow)
    if scheme.lower() == "dfc8":
        known.add(IGNORE_INDEX)
    unknown = [v.item() for v in values if (float(v) != int(v)) or int(v) not in known]
    if unknown:
        where = f"{path}: " if path is not None else ""
        shown = ", ".join(str(u) for u in unknown[:20]) + (" ..." if len(unknown) > 20 else "")
        raise ValueError(
            f"{where}holds label value(s) {shown} that are not in the {scheme!r} scheme "
            f"(valid: {', '.join(map(str, class_values(scheme)))}). Check that the file is a "
            f"{scheme} label layer (right band, right folder) and was not resampled with "
            "interpolation (use nearest neighbour)."
        )


def igbp_to_dfc(igbp: np.ndarray) -> np.ndarray:
    """Map IGBP values (0..17) to DFC2020 values (0..10); 0 stays 0 (no data)."""
    arr = np.asarray(igbp)
    if arr.size and (arr.min() < 0 or arr.max() > 17):
        validate(arr, "igbp")
    return IGBP_TO_DFC[arr.astype(np.int64)]


def to_train_index(dfc: np.ndarray) -> np.ndarray:
    """DFC values 1..10 -> training index 0..7 (uint8); savanna, snow/ice and 0 -> 255 (ignore)."""
    arr = np.asarray(dfc)
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        validate(arr, "dfc")
    return _DFC_TO_TRAIN[arr.astype(np.int64)]


def from_train_index(index: np.ndarray) -> np.ndarray:
    """Training index 0..7 -> DFC values (uint16); 255 (ignore) -> 0."""
    lut = np.zeros(256, dtype=np.uint16)
    lut[: len(DFC8)] = DFC8
    arr = np.asarray(index).astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise ValueError(
            f"training indices must be 0..{len(DFC8) - 1} or 255, got {arr.min()}..{arr.max()}"
        )
    return lut[arr]


def colormap(scheme: str) -> tuple[Any, Any]:
    """``(ListedColormap, BoundaryNorm)`` that draws every value of the scheme in its colour."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    _, colors = _table(scheme)
    values = sorted(colors)
    cmap = ListedColormap([colors[v] for v in values], name=scheme).with_extremes(
        bad=(0.0, 0.0, 0.0, 0.0), under="#000000", over="#ffffff"
    )
    bounds = (
        [values[0] - 0.5]
        + [(a + b) / 2 for a, b in zip(values[:-1], values[1:])]
        + [values[-1] + 0.5]
    )
    return cmap, BoundaryNorm(bounds, cmap.N)


def color_of(scheme: str, value: int) -> str:
    """Hex colour of one class value."""
    return _table(scheme)[1][int(value)]


def add_legend(ax: Any, scheme: str, present: Iterable[int] | None = None, **kwargs: Any) -> Any:
    """Add a legend of the scheme's classes (only those in ``present`` if given) beside ``ax``."""
    from matplotlib.patches import Patch

    names, colors = _table(scheme)
    values = sorted(names)
    if present is not None:
        keep = {int(v) for v in np.asarray(list(present)).ravel()}
        values = [v for v in values if v in keep]
    handles = [Patch(facecolor=colors[v], edgecolor="0.3", label=f"{v} {names[v]}") for v in values]
    opts = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "fontsize": 8, "frameon": False}
    opts.update(kwargs)
    return ax.legend(handles=handles, **opts)

"""Matplotlib figures shared by the notebooks: RGB composites, label maps with legends, error maps."""

from __future__ import annotations

from typing import Any

import numpy as np


def stretch(image: np.ndarray, low: float = 2, high: float = 98) -> np.ndarray:
    """Percentile stretch of ``(bands, h, w)`` or ``(h, w)`` to [0, 1], per band, NaN-safe."""
    arr = np.asarray(image, dtype=np.float32)
    squeeze = arr.ndim == 2
    if squeeze:
        arr = arr[None]
    out = np.empty_like(arr)
    for i, band in enumerate(arr):
        lo, hi = np.nanpercentile(band, [low, high]) if np.isfinite(band).any() else (0.0, 1.0)
        out[i] = np.clip((band - lo) / max(hi - lo, 1e-6), 0, 1)
    out = np.nan_to_num(out)
    return out[0] if squeeze else out


def rgb(image: np.ndarray, bands: tuple[int, int, int] = (0, 1, 2)) -> np.ndarray:
    """An ``(h, w, 3)`` stretched composite from three band indices of ``(bands, h, w)``."""
    return np.moveaxis(stretch(np.asarray(image)[list(bands)]), 0, -1)


def show_labels(ax: Any, labels: np.ndarray, scheme: str = "dfc", title: str = "", legend: bool = False) -> Any:
    """Draw a label map with the scheme's colours (see ``helpers.labels``); optional legend."""
    from . import labels as lab

    cmap, norm = lab.colormap(scheme)
    im = ax.imshow(labels, cmap=cmap, norm=norm, interpolation="nearest")
    ax.set_title(title)
    ax.set_axis_off()
    if legend:
        lab.add_legend(ax, scheme, present=np.unique(labels))
    return im

# ---- land cover (notebooks 02-06) ----

# ---- night lights (notebooks 07-09) ----

"""Band selection, normalisation and value checks where image data enter the kit.

Bands are chosen by name, never by index. Images are normalised as in the DFC2020 baseline: S2 clip
[0, 10000] / 10000, S1 clip [-25, 0] / 25 + 1. The checks refuse data on the wrong scale (float
reflectance where DN are expected and the reverse, DMSP DN outside 0..63, a non-binary mask) with a
:class:`DatasetError` that names the source and the fix. Label layers are checked and
converted between schemes (:func:`to_scheme`). The readers (:mod:`helpers.data.datasets`,
:mod:`helpers.data.datasets.scene`) and inference import these from here; so do notebooks.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..core.bands import S2_BANDS
from ..io.rasters import RasterError

# Band combinations shown by the browsers; all by name.
BAND_COMBOS = {
    "true colour (B04, B03, B02)": ("B04", "B03", "B02"),
    "false colour (B08, B04, B03)": ("B08", "B04", "B03"),
    "SWIR (B12, B08, B04)": ("B12", "B08", "B04"),
    "S1 (VV, VH, VV/VH)": ("VV", "VH"),
}


class DatasetError(RasterError):
    """A dataset folder or file that cannot be used; the message names the file and the fix."""


# ---- bands and normalisation ----


def band_indexes(
    names: Sequence[str],
    all_names: Sequence[str] = S2_BANDS,
    descriptions: Sequence[str | None] = (),
) -> list[int]:
    """1-based band numbers of ``names`` in a file whose bands are ``all_names`` (by name).

    When the file carries band descriptions that name every band, they decide the order.
    """
    order = list(all_names)
    if descriptions and all(descriptions) and sorted(descriptions) == sorted(all_names):
        order = list(descriptions)
    unknown = [n for n in names if n not in order]
    if unknown:
        raise DatasetError(f"Unknown band name(s) {unknown}; choose from {list(all_names)}.")
    return [order.index(n) + 1 for n in names]


def check_s2_dn(x: np.ndarray, source: str = "S2 array") -> None:
    """Refuse S2 that is not digital numbers 0..10000: uint8 quick-looks and float reflectance 0..1.

    Why: dividing reflectance by 10000 again gives ~1e-4 inputs and a one-class map, silently.
    """
    x = np.asarray(x)
    if x.dtype == np.uint8:
        raise DatasetError(
            f"{source}: Sentinel-2 as uint8 (an 8-bit quick-look?); the kit expects digital numbers "
            "0..10000 (reflectance x 10000, uint16). Export the uint16 bands instead."
        )
    if x.dtype.kind == "f" and x.size:
        finite = x[np.isfinite(x)]
        if finite.size and 0 < float(np.abs(finite).max()) <= 1.5:
            raise DatasetError(
                f"{source}: Sentinel-2 values look like reflectance 0..1 (max "
                f"{float(finite.max()):.3g}); the kit expects digital numbers 0..10000. "
                "Multiply by 10000 first (or export DN, uint16)."
            )


def check_reflectance(x: np.ndarray, source: str = "reflectance array") -> None:
    """Refuse digital numbers (e.g. 0..10000 or Landsat's scaled integers) where reflectance 0..1
    is expected: the model's scaling assumes reflectance."""
    x = np.asarray(x)
    top = float(np.max(x)) if x.size else -np.inf
    if not np.isfinite(top) and x.dtype.kind == "f":  # NaN or inf present: largest finite value
        top = float(np.max(x, where=np.isfinite(x), initial=-np.inf))
    if top > 2.0:
        raise DatasetError(
            f"{source}: values up to {top:.6g} look like digital numbers, not "
            "surface reflectance 0..1. Apply the product's scale factor and offset first "
            "(Landsat 8 C2 L2: DN x 0.0000275 - 0.2; Sentinel-2: DN / 10000)."
        )


def normalise_s2(x: np.ndarray, source: str = "S2 array") -> np.ndarray:
    """DFC2020 baseline: S2 digital numbers clipped to [0, 10000] and divided by 10000 -> [0, 1].

    Float reflectance 0..1 and uint8 are refused (:func:`check_s2_dn`), naming ``source``.
    """
    check_s2_dn(x, source)
    out = np.array(x, dtype=np.float32)  # one float32 copy, then clipped and scaled in place
    np.clip(out, 0, 10000, out=out)
    return np.divide(out, np.float32(10000.0), out=out)


def normalise_s1(x: np.ndarray) -> np.ndarray:
    """DFC2020 baseline: S1 backscatter in dB clipped to [-25, 0], then /25 + 1 -> [0, 1]."""
    return (np.clip(np.asarray(x, dtype=np.float32), -25, 0) / 25.0 + 1.0).astype(np.float32)


def check_ntl_range(layer: str, data: np.ndarray, path: Path) -> None:
    """Value checks where NTL layers enter: DMSP DN 0..63, isp 0/1, dmo reflectance (not DN)."""
    if layer == "lr_ntl" and data.size and (data.min() < 0 or data.max() > 63):
        raise DatasetError(
            f"{path}: DN from {data.min():g} to {data.max():g}, outside DMSP's 0..63. The low-res layer "
            "must be DMSP-like digital numbers: convert radiance with helpers.data.ntl.simulate_dmsp, or "
            "clip/rescale the DN to 0..63."
        )
    if layer == "isp" and data.size and ((data != 0) & (data != 1)).any():
        odd = np.setdiff1d(np.unique(data), [0.0, 1.0])
        if odd.size:
            raise DatasetError(
                f"{path}: impervious-surface mask holds {odd[:5].tolist()}, expected only 0 and 1. "
                "Threshold the fraction (e.g. isp = fraction >= 0.5) and write uint8 0/1."
            )
    if layer == "dmo":
        check_reflectance(data, str(path))


# ---- label schemes: checked and converted where label layers enter ----


@functools.cache
def _valid_values(scheme: str) -> frozenset[int]:
    """Label values a file may hold for a raw scheme (0 = no data is always allowed)."""
    from ..core import labels

    names = labels.class_names(scheme)
    values = set(names) if isinstance(names, dict) else set(range(1, len(names) + 1))
    return frozenset(values | {0})


_CONVERSIONS = {("igbp", "dfc"), ("igbp", "dfc8"), ("dfc", "dfc8")}


def _convert(raw: np.ndarray, scheme: str, source: str) -> np.ndarray:
    """Valid ``source`` labels -> ``scheme`` (int64)."""
    from ..core import labels

    if scheme == source:
        return raw.astype(np.int64)
    if source == "igbp":
        dfc = np.asarray(labels.IGBP_TO_DFC, dtype=np.int64)[raw.astype(np.int64)]
        return dfc if scheme == "dfc" else labels.to_train_index(dfc).astype(np.int64)
    return labels.to_train_index(raw).astype(np.int64)


@functools.cache
def _lookup(source: str, scheme: str, nbytes: int) -> tuple[np.ndarray, np.ndarray]:
    """For every raw value of an ``nbytes``-byte unsigned type: whether ``source`` allows it, and
    its value in ``scheme`` (one table look-up per pixel instead of sorting and chained maps)."""
    valid = np.zeros(2 ** (8 * nbytes), bool)
    valid[[v for v in _valid_values(source) if v < valid.size]] = True
    table = np.zeros(valid.size, np.int64)
    table[valid] = _convert(np.flatnonzero(valid), scheme, source)
    return valid, table


def to_scheme(raw: np.ndarray, scheme: str, source: str, path: Path) -> np.ndarray:
    """Convert a raw label layer to ``scheme``; ``source`` says what ``raw`` holds (a lc layer name or
    ``"dfc"``). Values outside the source scheme raise naming ``path``."""
    raw = np.asarray(raw)
    if scheme != source and (source, scheme) not in _CONVERSIONS:
        raise DatasetError(f"Cannot make scheme {scheme!r} from {source!r} labels ({path}).")
    if raw.dtype.kind == "u" and raw.dtype.itemsize <= 2:
        valid, table = _lookup(source, scheme, raw.dtype.itemsize)
        if np.take(valid, raw).all():
            return np.take(table, raw)
    bad = sorted(set(np.unique(raw).tolist()) - _valid_values(source))
    if bad:
        raise DatasetError(
            f"{path}: label values {bad[:10]} are not in the {source!r} scheme. Check that the file is "
            "the right layer (lc bands are IGBP, LCCS_LC, LCCS_LU, LCCS_SH; dfc holds 1..10) or "
            "re-export it."
        )
    return _convert(raw, scheme, source)

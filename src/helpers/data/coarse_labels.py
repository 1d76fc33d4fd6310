"""Coarse labels derived from fine labels the way a coarse land-cover product looks.

A coarse product (a 30 m national map, 500 m MODIS land cover) gives one class per cell, and a
label super-resolution method needs more: each cell's class fractions and how much of it was
known. ``aggregate`` computes, for any integer ``factor`` (3: 30 m from 10 m, 50: 500 m from
10 m), per cell the class fractions over labelled pixels, the majority class and the share of
labelled pixels; a cell with fewer known pixels than ``min_known`` becomes ``nodata`` (255).
Ties go to the lower class index (``argmax``), the same rule everywhere, so results do not
depend on pixel order.

``degrade`` optionally turns the clean majority map into a simulated national product: each
cell keeps its class with probability ``1 - flip``; a flipped cell takes a class from its own
row of a confusion matrix (the classes a real product confuses it with, e.g. grassland <->
cropland), or, without one, any other class present. The draw uses its own seeded
``numpy.random.Generator``, so the same seed gives the same product and nothing else's random
stream is touched. ``national_product`` chains them into the sample scene's 30 m layer: majority
per cell, cells on class boundaries sometimes taking their runner-up class, then thematic flips
along a confusion matrix. ``upsample`` puts a coarse map back on the fine grid (nearest, each cell
repeated ``factor`` x ``factor``), which is what a "coarse labels as the map" floor scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NODATA = 255


@dataclass(frozen=True)
class CoarseLabels:
    """One coarse product: ``labels`` (h, w) uint8, ``fractions`` (C, h, w) float32 over labelled
    pixels (zeros where none), ``known`` (h, w) float32 share of labelled pixels, ``factor``."""

    labels: np.ndarray
    fractions: np.ndarray
    known: np.ndarray
    factor: int

    def on_fine_grid(self, shape: tuple[int, int] | None = None) -> np.ndarray:
        """The coarse labels repeated onto the fine grid (cropped or 255-padded to ``shape``)."""
        return upsample(self.labels, self.factor, shape)


def _check(fine: np.ndarray, factor: int, num_classes: int, nodata: int) -> np.ndarray:
    """Validate the inputs of ``aggregate``; return the labels as int64."""
    a = np.asarray(fine)
    if a.ndim != 2:
        raise ValueError(f"coarse_labels: fine labels must be 2-D (h, w), got shape {a.shape}")
    if not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"coarse_labels: factor must be a positive integer, got {factor!r}")
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"coarse_labels: fine labels must be integers, got {a.dtype}")
    a = a.astype(np.int64)
    bad = (a != nodata) & ((a < 0) | (a >= num_classes))
    if bad.any():
        raise ValueError(
            f"coarse_labels: labels outside 0..{num_classes - 1} (and not nodata {nodata}): "
            f"{np.unique(a[bad])[:5].tolist()}; remap them first or raise num_classes"
        )
    return a


def aggregate(
    fine: np.ndarray,
    factor: int,
    num_classes: int,
    min_known: float = 0.5,
    nodata: int = NODATA,
) -> CoarseLabels:
    """Per ``factor`` x ``factor`` cell: class fractions over labelled pixels, majority class, known
    share; cells with known share < ``min_known`` -> ``nodata``. A ragged edge (shape not a
    multiple of ``factor``) forms smaller cells, as a product's last row and column do."""
    a = _check(fine, factor, num_classes, nodata)
    h, w = a.shape
    ch, cw = -(-h // factor), -(-w // factor)
    rows = np.arange(h) // factor
    cols = np.arange(w) // factor
    cell = (rows[:, None] * cw + cols[None, :]).ravel()
    lab = a.ravel()
    ok = lab != nodata
    counts = np.bincount(cell[ok] * num_classes + lab[ok], minlength=ch * cw * num_classes).reshape(
        ch, cw, num_classes
    )
    size = np.bincount(cell, minlength=ch * cw).reshape(ch, cw).astype(np.float64)
    known_n = counts.sum(-1).astype(np.float64)
    known = known_n / size
    fractions = counts / np.maximum(known_n, 1.0)[..., None]
    labels = counts.argmax(-1).astype(np.uint8)
    labels[(known_n == 0) | (known < min_known)] = nodata
    return CoarseLabels(
        labels=labels,
        fractions=np.moveaxis(fractions, -1, 0).astype(np.float32),
        known=known.astype(np.float32),
        factor=int(factor),
    )


def upsample(coarse: np.ndarray, factor: int, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Nearest-neighbour copy of a coarse (h, w) map onto the fine grid, cropped or padded with
    255 to ``shape`` (default: ``factor`` times the coarse shape)."""
    c = np.asarray(coarse)
    up = np.repeat(np.repeat(c, factor, axis=0), factor, axis=1)
    if shape is None:
        return up
    out = np.full(shape, NODATA, dtype=up.dtype)
    hh, ww = min(shape[0], up.shape[0]), min(shape[1], up.shape[1])
    out[:hh, :ww] = up[:hh, :ww]
    return out


def degrade(
    labels: np.ndarray,
    num_classes: int,
    flip: float,
    seed: int | np.random.SeedSequence,
    confusion: np.ndarray | None = None,
    nodata: int = NODATA,
) -> np.ndarray:
    """A simulated national product: each labelled cell flipped with probability ``flip`` to a
    class drawn from ``confusion[its class]`` (rows need not sum to 1; the diagonal is ignored), or
    to a uniformly chosen other class without a matrix. Seeded, with its own generator."""
    if not 0.0 <= flip <= 1.0:
        raise ValueError(f"coarse_labels.degrade: flip must be in [0, 1], got {flip}")
    c = np.asarray(labels)
    if confusion is None:
        confusion = np.ones((num_classes, num_classes))
    m = np.asarray(confusion, dtype=np.float64).copy()
    if m.shape != (num_classes, num_classes) or (m < 0).any():
        raise ValueError(
            f"coarse_labels.degrade: confusion must be a non-negative ({num_classes}, "
            f"{num_classes}) matrix, got shape {m.shape}"
        )
    np.fill_diagonal(m, 0.0)
    rowsum = m.sum(1, keepdims=True)
    # A class with no confusion row stays itself (nothing to flip to).
    m = np.where(rowsum > 0, m / np.where(rowsum > 0, rowsum, 1.0), np.eye(num_classes))
    rng = np.random.default_rng(seed)
    u_flip = rng.random(c.shape)
    u_pick = rng.random(c.shape)
    out = c.copy()
    sel = (c != nodata) & (u_flip < flip)
    if sel.any():
        cdf = np.cumsum(m, axis=1)
        cdf[:, -1] = 1.0  # rounding never leaves a draw past the last class
        rows = cdf[c[sel].astype(np.int64)]
        pick = (u_pick[sel][:, None] >= rows).sum(1)
        out[sel] = np.minimum(pick, num_classes - 1).astype(out.dtype)
    return out


def confusion_from_pairs(
    num_classes: int, pairs: dict[int, list[int]], weight: float = 1.0
) -> np.ndarray:
    """A confusion matrix with ``weight`` on each listed pair (``{class: [classes it is confused
    with]}``), symmetric, so a product's typical mix-ups can be stated as a short dict."""
    m = np.zeros((num_classes, num_classes))
    for a, bs in pairs.items():
        for b in bs:
            m[a, b] = m[b, a] = weight
    return m


# Thematic confusions of a simulated 30 m national product, in DFC2020 codes (1 forest, 2 shrubland,
# 4 grassland, 5 wetland, 6 cropland, 7 urban, 9 barren, 10 water): neighbours in a vegetation
# gradient, wet grass and open water, sealed and bare ground. A chosen setting, fitted to no product.
DFC_CONFUSION_PAIRS: dict[int, list[int]] = {1: [2], 2: [4], 4: [6, 5, 9], 5: [10], 7: [9, 6]}


def national_product(
    fine: np.ndarray,
    factor: int,
    num_classes: int,
    seed: int | list[int],
    boundary: float = 0.5,
    flip: float = 0.08,
    pairs: dict[int, list[int]] | None = None,
    min_known: float = 0.5,
) -> CoarseLabels:
    """A simulated national product from fine labels: per-cell majority (:func:`aggregate`); a
    mixed cell takes its runner-up class with probability ``boundary x (1 - majority share)``
    (boundary pixels are where products err most); then ``flip`` of the cells change along the
    confusion ``pairs`` (default :data:`DFC_CONFUSION_PAIRS`, DFC codes). Own seeded generator."""
    agg = aggregate(fine, factor, num_classes, min_known)
    first, second = np.random.SeedSequence(seed).spawn(2)
    order = np.argsort(-agg.fractions, axis=0, kind="stable")
    top = np.take_along_axis(agg.fractions, order[:1], 0)[0]
    runner = order[1].astype(np.uint8)
    has_runner = np.take_along_axis(agg.fractions, order[1:2], 0)[0] > 0
    swap = np.random.default_rng(first).random(top.shape) < boundary * (1.0 - top)
    labels = agg.labels.copy()
    sel = swap & has_runner & (labels != NODATA)
    labels[sel] = runner[sel]
    conf = confusion_from_pairs(num_classes, DFC_CONFUSION_PAIRS if pairs is None else pairs)
    labels = degrade(labels, num_classes, flip, second, confusion=conf)
    return CoarseLabels(labels, agg.fractions, agg.known, agg.factor)

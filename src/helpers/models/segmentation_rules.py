"""The closing checks of the land-cover notebooks on the sample scene (02 coarse-vs-fine agreement,
03 U-Net, 06 bag of colors), as rules over each notebook's flat record, so that a test can feed them
a broken run.

Each rules function takes the dict of numbers the notebook records (macro IoU, accuracy, the best
floor from :mod:`helpers.models.floors`, ...) and returns :class:`helpers.core.checks.Check` objects; the
notebook hands them to :func:`helpers.core.checks.verify`. A method is judged by its distance above the
best floor (class-prior or uniform random guess, majority class, coarse labels as the map), never
by a number that a trivial answer also reaches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..core import checks

METRIC_KEYS = ("iou", "f1", "precision", "recall", "accuracy")


def _in_unit_interval(summary: Mapping[str, float]) -> checks.Check:
    """Every recorded metric is a finite number in [0, 1]."""
    values = {k: summary.get(k, float("nan")) for k in METRIC_KEYS}
    ok = all(
        isinstance(v, int | float) and math.isfinite(v) and 0 <= v <= 1 for v in values.values()
    )
    return checks.holds("the metrics lie in [0, 1]", ok, str(values))


def _loss_fell(first: float, last: float) -> checks.Check:
    """The training loss of the last epoch is below the first epoch's (a learned check)."""
    ok = math.isfinite(first) and math.isfinite(last) and last < first
    return checks.Check("training loss fell", ok, f"{first:.4g} -> {last:.4g}", learned=True)


def _over_floors(method: str, summary: Mapping[str, float]) -> list[checks.Check]:
    """``method`` beats the best floor in macro IoU and the majority class in accuracy."""
    return [
        checks.above(
            f"{method} macro IoU over the best floor",
            summary["iou"],
            summary["best_floor_iou"],
            summary["best_floor_name"],
        ),
        checks.above(
            f"{method} accuracy over the majority class",
            summary["accuracy"],
            summary["majority_accuracy"],
            "majority class",
        ),
    ]


def unet_rules(summary: Mapping[str, float]) -> list[checks.Check]:
    """Notebook 03: the U-Net beats the best floor (macro IoU) and the majority class (accuracy),
    its training loss fell, every test pixel was scored and the tiled map agrees with the patches.

    Keys: ``iou``, ``f1``, ``precision``, ``recall``, ``accuracy``, ``best_floor_name``,
    ``best_floor_iou``, ``majority_accuracy``, ``first_loss``, ``last_loss``, ``scored_pixels``,
    ``labelled_pixels``, ``tiled_iou``; optional ``target_iou`` (a profile's promised level).
    """
    out = [
        _in_unit_interval(summary),
        checks.holds(
            "every labelled test pixel is scored",
            summary["scored_pixels"] == summary["labelled_pixels"] > 0,
            f"{summary['scored_pixels']:.0f} of {summary['labelled_pixels']:.0f}",
        ),
        *_over_floors("U-Net", summary),
        _loss_fell(summary["first_loss"], summary["last_loss"]),
        checks.within(
            "tiled whole-region map agrees with the patches (macro IoU)",
            summary["tiled_iou"],
            summary["iou"] - 0.1,
            summary["iou"] + 0.1,
            learned=False,
        ),
    ]
    if summary.get("target_iou") is not None:
        out.append(checks.at_least("U-Net macro IoU target", summary["iou"], summary["target_iou"]))
    return out


def bag_of_colors_rules(summary: Mapping[str, float]) -> list[checks.Check]:
    """Notebook 06: the bag-of-colors classifier beats the best floor (macro IoU) and the majority
    class (accuracy) on the test patches; its metrics are finite and in [0, 1].

    Keys: ``iou``, ``f1``, ``precision``, ``recall``, ``accuracy``, ``best_floor_name``,
    ``best_floor_iou``, ``majority_accuracy``.
    """
    return [_in_unit_interval(summary), *_over_floors("bag of colors", summary)]


def chance_agreement(matrix: np.ndarray) -> float:
    """Agreement two maps would reach by chance with the same class shares as ``matrix`` (rows:
    one map's classes, columns: the other's): ``sum_k row_k * col_k / total**2`` (Cohen 1960)."""
    m = np.asarray(matrix, dtype=float)
    total = m.sum()
    if total <= 0:
        raise ValueError("an empty agreement matrix has no chance agreement")
    return float((m.sum(1) * m.sum(0)).sum() / total**2)


def agreement_rules(summary: Mapping[str, float]) -> list[checks.Check]:
    """Notebook 02: the coarse-vs-fine agreement is a fraction, above what two maps with the same
    class shares reach by chance, and below 1 (the coarse labels are not the fine ones).

    Keys: ``overall_agreement``, ``chance_agreement``.
    """
    overall, chance = summary["overall_agreement"], summary["chance_agreement"]
    finite = all(isinstance(v, int | float) and math.isfinite(v) for v in (overall, chance))
    return [
        checks.holds(
            "agreement above chance (same class shares)",
            finite and chance < overall,
            f"{overall:.4g} vs chance {chance:.4g}",
        ),
        checks.holds("agreement below 1", finite and 0 <= overall < 1, f"{overall:.4g}"),
    ]

"""Closing-check rules of notebooks 04 (label super-resolution) and 05 (cGAN / pix2pix).

Each rules function takes the flat ``{name: number}`` summary a notebook records and returns the
:class:`helpers.core.checks.Check` list its checks cell hands to :func:`helpers.core.checks.verify`, so a
test can feed it a broken record (an untrained or constant model) and see it fail. The summary
keys are the module's constants below; a missing key is a failed check, never a skipped one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..core import checks

# Floor names (helpers.models.floors.landcover_floors) as they appear in the summaries, macro IoU.
PRIOR = "class-prior random guess"
MAJORITY = "majority class"
COARSE = "coarse labels as the map"
FLOORS = (PRIOR, MAJORITY, COARSE)

# notebook 04: models trained on coarse labels (and the supervised upper reference)
NAIVE = "naive U-Net"
LABEL_SR = "label SR"
SUPERVISED = "supervised U-Net"

# notebook 05: means over the seeds
CGAN = "cGAN"
P2P = "pix2pix (tanh)"
P2P_SOFTMAX = "pix2pix (softmax image)"
UNET03 = "notebook 03 U-Net"  # absent (NaN) when notebook 03 has not run for this profile
P2P_GAP = 0.10  # target: pix2pix (tanh, as published) within this macro IoU of notebook 03's U-Net
CGAN_TOLERANCE = 0.02  # the cGAN may end this far below its coarse input (seed-to-seed spread)
MARGIN = 0.05  # a learned map must beat the best image-free floor by this macro IoU


def iou_key(name: str) -> str:
    """The summary key of a method's or floor's macro IoU."""
    return f"{name} macro IoU"


def _get(summary: Mapping[str, float], name: str) -> float:
    """A method's macro IoU from the summary (NaN when missing, so its check fails)."""
    value = summary.get(iou_key(name), float("nan"))
    return float(value) if value is not None else float("nan")


def best_chance_floor(summary: Mapping[str, float]) -> tuple[str, float]:
    """The stronger of the two floors that need no coarse map (class-prior guess, majority)."""
    pairs = [(n, _get(summary, n)) for n in (PRIOR, MAJORITY)]
    finite = [p for p in pairs if math.isfinite(p[1])]
    return max(finite, key=lambda p: p[1]) if finite else (PRIOR, float("nan"))


def label_sr_name(name: str, ratio: str = "") -> str:
    """A method's or floor's name for one coarse-label ratio of notebook 04 (e.g. ``"naive U-Net
    (x3)"``); the bare name when ``ratio`` is empty (one ratio only)."""
    return f"{name} ({ratio})" if ratio else name


def _ratio_summary(summary: Mapping[str, float], ratio: str) -> dict[str, float]:
    """The keys of one ratio with the ratio dropped, so the single-ratio rules read them."""
    names = (*FLOORS, NAIVE, LABEL_SR, SUPERVISED)
    return {iou_key(n): _get(summary, label_sr_name(n, ratio)) for n in names}


def label_sr_rules(
    summary: Mapping[str, float],
    ratios: Mapping[str, int] | None = None,
    beat_coarse_from: int = 10,
) -> list[checks.Check]:
    """Notebook 04's asserted checks, per coarse-label ratio (``{"x3": 3, "x50": 50}``; ``None``:
    one ratio, bare keys): the naive U-Net and label SR beat the best image-free floor by
    :data:`MARGIN`; the supervised U-Net beats the coarse labels as the map where the ratio is at
    least ``beat_coarse_from`` (a 500 m map; a good 30 m product may be better than a sample-trained
    10 m U-Net, so there it is only held above the floor)."""
    out: list[checks.Check] = []
    for ratio, factor in (ratios or {"": beat_coarse_from}).items():
        one = _ratio_summary(summary, ratio)
        floor_name, floor = best_chance_floor(one)
        tag = f" ({ratio})" if ratio else ""
        for name in (NAIVE, LABEL_SR):
            out.append(
                checks.above(
                    f"{name} above the best chance floor{tag}",
                    _get(one, name),
                    floor,
                    floor_name,
                    MARGIN,
                )
            )
        if factor >= beat_coarse_from:
            out.append(
                checks.above(
                    f"{SUPERVISED} above {COARSE}{tag}",
                    _get(one, SUPERVISED),
                    _get(one, COARSE),
                    COARSE,
                )
            )
        else:
            out.append(
                checks.above(
                    f"{SUPERVISED} above the best chance floor{tag}",
                    _get(one, SUPERVISED),
                    floor,
                    floor_name,
                    MARGIN,
                )
            )
    return out


def label_sr_targets(
    summary: Mapping[str, float], ratios: Mapping[str, int] | None = None
) -> list[checks.Check]:
    """Notebook 04's targets, reported (met or not) rather than asserted, per ratio: the naive
    U-Net reaches the coarse labels it learned from."""
    out = []
    for ratio in ratios or {"": 0}:
        one = _ratio_summary(summary, ratio)
        tag = f" ({ratio})" if ratio else ""
        out.append(
            checks.at_least(
                f"target: {NAIVE} >= {COARSE}{tag}", _get(one, NAIVE), _get(one, COARSE)
            )
        )
    return out


def gan_rules(summary: Mapping[str, float]) -> list[checks.Check]:
    """Notebook 05's asserted checks (means over seeds): the cGAN keeps its coarse input (at most
    :data:`CGAN_TOLERANCE` below it; the paper's generator fell far below), and both pix2pix
    outputs beat the best image-free floor by :data:`MARGIN`."""
    floor_name, floor = best_chance_floor(summary)
    coarse = _get(summary, COARSE)
    return [
        checks.at_least(
            f"{CGAN} keeps its coarse input (>= {COARSE} - {CGAN_TOLERANCE})",
            _get(summary, CGAN),
            coarse - CGAN_TOLERANCE,
        ),
        checks.above(
            f"{P2P} above the best chance floor", _get(summary, P2P), floor, floor_name, MARGIN
        ),
        checks.above(
            f"{P2P_SOFTMAX} above the best chance floor",
            _get(summary, P2P_SOFTMAX),
            floor,
            floor_name,
            MARGIN,
        ),
    ]


def gan_targets(summary: Mapping[str, float]) -> list[checks.Check]:
    """Notebook 05's targets, reported (met or not) rather than asserted: the cGAN at least its
    coarse input, pix2pix (tanh) within :data:`P2P_GAP` of notebook 03's U-Net (when 03 ran)."""
    out = [
        checks.at_least(
            f"target: {CGAN} >= its coarse input", _get(summary, CGAN), _get(summary, COARSE)
        )
    ]
    unet = _get(summary, UNET03)
    if math.isfinite(unet):
        out.append(
            checks.at_least(
                f"target: {P2P} within {P2P_GAP} of {UNET03}", _get(summary, P2P), unet - P2P_GAP
            )
        )
    return out


def report_targets(targets: list[checks.Check]) -> str:
    """One markdown line per target: met or not, with the numbers (never raises)."""
    return "\n".join(
        f"- {'met' if c.passed else '**not met**'}: {c.name}: {c.detail}" for c in targets
    )

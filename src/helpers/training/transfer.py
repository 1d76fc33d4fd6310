"""Does a model trained on the sample scene carry over to real data? Notebook 03's U-Net, trained
on the sample scene with one seed at a time, applied to a real scene and scored there (notebook 11).

Nothing here is chosen on the real scene: the settings are notebook 03's profile settings, the
weights are those after the last planned epoch (no best-epoch pick), and the seeds are fixed by the
caller before anything is scored, so the spread over seeds is an honest error bar.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from ..core import bands, checks, config, labels
from ..data import datasets, synthetic
from ..models import metrics
from ..models.unet import UNet
from . import inference, seeds
from .recipes import landcover

NOTEBOOK = "03_unet_landcover"  # whose settings and data are used
BANDS = bands.RGB_NIR  # notebook 03's bands: RGB + NIR, by name


def train_sample_unet(
    profile: str,
    seed: int,
    device: Any = None,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = False,
    epochs: int | None = None,
    data: str | os.PathLike | None = None,
) -> tuple[UNet, Any]:
    """Notebook 03's U-Net (its recipe, ``recipes.landcover.unet``) trained on the sample scene's
    DFC2020 training region with ``seed`` (its profile's crops, width, depth and learning rate;
    the last epoch's weights); returns ``(model, history)``. ``epochs``: notebook 03's when
    ``None`` (notebook 11 trains fewer to stay within its time); ``checkpoint``: where training
    writes (default a temporary folder); ``data``: the data folder the caller resolved (default
    ``EOSR_DATA``)."""
    s = config.settings(NOTEBOOK, profile)
    if epochs is not None:
        s["epochs"] = int(epochs)
    paths = synthetic.ensure_sample(profile, verbose=False, data=data)
    patches = datasets.DFC2020(paths.dfc2020, split="validation", s2_bands=BANDS)
    meta = {"notebook": NOTEBOOK, "profile": profile, "bands": list(BANDS), "width": s["width"],
            "depth": s["depth"], "num_classes": len(labels.DFC8), "seed": seed,
            "scene": synthetic.scene_id(paths.root)}  # fmt: skip
    return landcover.unet(
        patches, s, seed, num_classes=len(labels.DFC8), device=device, checkpoint=checkpoint,
        progress=progress, meta=meta,
    )  # fmt: skip


def predict_real(
    model: torch.nn.Module,
    image: np.ndarray,
    bands: tuple[str, ...] | list[str],
    lookup: np.ndarray,
    tile: int = 256,
    device: Any = None,
) -> np.ndarray:
    """The model's map of a real scene ``image`` ``(C, H, W)`` (reflectance, bands named by
    ``bands``), its DFC8 classes turned into the scene's class indices by ``lookup``
    (``realdata.dfc8_lookup``; 255 where no class corresponds)."""
    x = image[[list(bands).index(b) for b in BANDS]]
    dfc8 = inference.predict_scene(
        model, x, tile=tile, overlap=tile // 8, device=device, progress=False
    )
    return lookup[dfc8]


# The floors a transferred map is judged against (helpers.models.floors names), and their short keys.
FLOOR_KEYS = {"class-prior random guess": "prior", "majority class": "majority"}
METRICS = ("iou", "accuracy")


def gains(summary: dict[str, float], floor_rows: dict[str, dict[str, float]]) -> dict[str, float]:
    """``{"<metric>_gain_vs_<floor>": value - floor}`` for macro IoU and accuracy over the
    class-prior random guess and the majority class (``floor_rows``: ``floors.summary_rows``)."""
    return {
        f"{m}_gain_vs_{key}": float(summary[m]) - float(floor_rows[name][m])
        for name, key in FLOOR_KEYS.items()
        for m in METRICS
    }


def seed_table(runs: dict[int, dict[str, float]]) -> dict[str, float]:
    """Over seeds: mean, standard deviation (ddof 1, :func:`seeds.mean_std`), worst and best of
    every gain key of each seed's dict (``*_gain_vs_*`` from :func:`gains`), the mean ``"iou"`` and
    ``"accuracy"`` and the worst seed by macro-IoU gain over the class-prior guess. ``"gain_mean"``,
    ``"gain_std"``, ``"gain_worst"``, ``"gain_best"``: the macro-IoU gain over the majority class
    (``"gain"`` or ``"iou_gain_vs_majority"`` per seed)."""
    if not runs:
        raise ValueError("no seeds to summarise")
    per = [
        {
            k: float(v)
            for k, v in r.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        for r in runs.values()
    ]
    for p in per:
        p.setdefault("gain", p.get("iou_gain_vs_majority", float("nan")))
    out: dict[str, float] = {"seeds": len(runs)}
    for key in ("iou", "accuracy"):
        if all(key in p for p in per):
            out[f"{key}_mean"] = seeds.mean_std([p[key] for p in per])[0]
    for key in [k for k in per[0] if k == "gain" or "_gain_vs_" in k]:
        values = [p[key] for p in per]
        mean, std = seeds.mean_std(values)
        out.update({f"{key}_mean": mean, f"{key}_std": std})
        out.update({f"{key}_worst": float(min(values)), f"{key}_best": float(max(values))})
    rank = "iou_gain_vs_prior" if "iou_gain_vs_prior" in per[0] else "gain"
    out["worst_seed"] = int(list(runs)[int(np.argmin([p[rank] for p in per]))])
    return out


def rules(summary: dict[str, float]) -> list[checks.Check]:
    """Notebook 11's checks on its flat record: the models trained on the real west half beat the
    best floor (macro IoU), and the sample-scene U-Net's mean transfer over seeds beats the
    class-prior random guess and the majority class in macro IoU (a gain measured, not a target)."""
    floor_name, floor = summary["best_floor_name"], summary["best_floor_iou"]
    out = [
        checks.above("random forest (west half) macro IoU", summary["rf_iou"], floor, floor_name),
        checks.above("U-Net (west half) macro IoU", summary["unet_iou"], floor, floor_name),
    ]
    for key, name in (("prior", "class-prior random guess"), ("majority", "majority class")):
        out.append(
            checks.above(
                f"sample-scene U-Net on the real scene, mean macro-IoU gain over the {name}",
                summary[f"iou_gain_vs_{key}_mean"],
                0.0,
                "no gain",
            )
        )
    out.append(
        checks.holds(
            "three seeds or more, all scored",
            summary["seeds"] >= 3,
            f"{summary['seeds']:.0f} seeds",
        )
    )
    return out


def score(pred: np.ndarray, truth: np.ndarray, num_classes: int) -> metrics.ClassScores:
    """Scores of a transferred map on the labelled pixels of ``truth`` (255 = unlabelled); a
    predicted class with no counterpart (255) counts as a miss."""
    return metrics.landcover_scores(pred, truth, num_classes, unlabelled_pred=True)

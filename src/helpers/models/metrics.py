"""Metrics: land-cover classification (IoU, F1, accuracy, confusion) and NTL super-resolution
(PSNR, SSIM, RMSE, MAE, R^2, total-light error).

Conventions (:data:`CONVENTIONS`, printed in the report): macro means follow scikit-learn and
torchmetrics by default; a metric that is undefined on its input is NaN with an
:class:`UndefinedMetricWarning`, never -inf or a huge number.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

CONVENTIONS = {
    "macro": (
        "Macro IoU/F1/precision/recall: mean over the classes present in the ground truth or the "
        "prediction (scikit-learn jaccard_score(average='macro'), torchmetrics); a class predicted but "
        "absent from the truth scores 0. The kit's variant over the classes present in the ground "
        "truth only is ClassScores.macro(name, classes='truth')."
    ),
    "undefined": (
        "Undefined metrics are NaN with a warning: PSNR and SSIM when the target's data range is 0 "
        "(all dark / constant), R^2 when the target is constant, total-light error when it sums to 0."
    ),
    "ssim": "SSIM per patch (Gaussian window 11, sigma 1.5), then averaged over patches.",
    "psnr": "PSNR data range: the peak of the true radiance over the evaluated area unless stated.",
}


class UndefinedMetricWarning(UserWarning):
    """A metric is undefined on this input (e.g. PSNR of an all-dark target) and was set to NaN."""


def _undefined(name: str, why: str) -> float:
    """Warn that ``name`` is undefined (``why``) and return NaN."""
    warnings.warn(
        f"{name} is undefined: {why}; returned NaN.", UndefinedMetricWarning, stacklevel=3
    )
    return float("nan")


# ---- land cover (notebooks 03-06) ----
# Confusion matrix from torchmetrics (rows = ground truth, columns = prediction, like
# scikit-learn), then every score derived from it. Macro means run over the classes present in
# the ground truth or the prediction (scikit-learn/torchmetrics); ``classes="truth"`` gives the
# kit's variant over the classes present in the ground truth only.


def _class_indices(x: Any, what: str) -> Any:
    """``x`` as a tensor of class indices; float values that are not whole numbers are refused
    (probabilities or logits would otherwise be truncated to classes silently)."""
    import torch

    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if t.is_floating_point() and t.numel():
        if not torch.isfinite(t).all() or (t != t.round()).any():
            raise ValueError(
                f"{what} holds non-integer values (dtype {t.dtype}): class indices expected. For "
                "scores or probabilities take the class with .argmax(dim=1) (channel axis) first."
            )
    return t


def confusion_matrix(
    pred: Any,
    target: Any,
    num_classes: int,
    ignore_index: int | None = 255,
    unlabelled_pred: bool = False,
) -> Any:
    """``(num_classes, num_classes)`` int64 counts, rows = truth, cols = prediction; ignore dropped.

    ``pred`` holds class indices (any shape, same as ``target``); numpy arrays are accepted. With
    ``unlabelled_pred`` a prediction outside 0..num_classes-1 (e.g. a coarse map's 255) is allowed:
    it lands in an extra last column (shape ``(C, C + 1)``) and counts as a miss of the true class.
    """
    import torch
    from torchmetrics.functional.classification import multiclass_confusion_matrix

    pred_t = _class_indices(pred, "prediction")
    target_t = _class_indices(target, "target")
    if pred_t.shape != target_t.shape:
        raise ValueError(
            f"prediction {tuple(pred_t.shape)} and target {tuple(target_t.shape)} differ in shape"
        )
    pred_t = pred_t.long().reshape(-1)
    target_t = target_t.long().reshape(-1)
    keep = (
        target_t != ignore_index
        if ignore_index is not None
        else torch.ones_like(target_t, dtype=torch.bool)
    )
    bad = target_t[keep][(target_t[keep] < 0) | (target_t[keep] >= num_classes)]
    if bad.numel():
        raise ValueError(
            f"target holds label(s) {sorted(set(bad.tolist()))[:5]} outside 0..{num_classes - 1} "
            f"and not the ignore index {ignore_index}; map labels with helpers.core.labels.to_train_index."
        )
    # Only labelled pixels are scored: a prediction there must be a class (a masked map may hold
    # the ignore value where the truth is ignored too).
    pred_t, target_t = pred_t[keep], target_t[keep]
    outside = (pred_t < 0) | (pred_t >= num_classes)
    if unlabelled_pred:
        pred_t = torch.where(outside, torch.full_like(pred_t, num_classes), pred_t)
        return multiclass_confusion_matrix(
            pred_t, target_t, num_classes=num_classes + 1, normalize=None
        ).long()[:num_classes]
    if pred_t.numel() and outside.any():
        raise ValueError(
            f"prediction holds values {sorted(set(pred_t[outside].tolist()))[:5]} outside "
            f"0..{num_classes - 1} on labelled pixels; pass unlabelled_pred=True to count them as "
            "misses"
        )
    return multiclass_confusion_matrix(
        pred_t, target_t, num_classes=num_classes, normalize=None
    ).long()


@dataclass
class ClassScores:
    """Per-class and macro land-cover scores derived from one confusion matrix."""

    confusion: np.ndarray  # (C, C) rows truth, cols prediction (unlabelled predictions not shown)
    iou: np.ndarray  # per class; 0 if predicted but absent from the truth, NaN if in neither
    f1: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    present: np.ndarray  # bool per class: present in the ground truth
    accuracy: float  # overall accuracy (correct / all labelled pixels)
    predicted: np.ndarray | None = None  # bool per class: predicted somewhere (labelled pixels)

    def macro(self, name: str, classes: str = "any") -> float:
        """Mean of a per-class score: ``classes="any"`` over the classes present in the truth or
        the prediction (scikit-learn/torchmetrics, the default), ``"truth"`` over the classes
        present in the ground truth only (the kit's earlier convention)."""
        if classes not in ("any", "truth"):
            raise ValueError(f"classes must be 'any' or 'truth', not {classes!r}")
        seen = (
            self.present
            if classes == "truth" or self.predicted is None
            else self.present | self.predicted
        )
        values = getattr(self, name)[seen]
        return float(values.mean()) if values.size else float("nan")

    def summary(self, classes: str = "any") -> dict[str, float]:
        """Macro IoU, F1, precision, recall (:meth:`macro`) and overall accuracy in [0, 1]."""
        out = {k: self.macro(k, classes) for k in ("iou", "f1", "precision", "recall")}
        out["accuracy"] = self.accuracy
        return out

    def table(self, names: list[str] | None = None) -> Any:
        """Per-class scores as a pandas DataFrame (one row per class, ``present`` column)."""
        import pandas as pd

        n = len(self.iou)
        return pd.DataFrame(
            {
                "class": names if names is not None else list(range(n)),
                "iou": self.iou,
                "f1": self.f1,
                "precision": self.precision,
                "recall": self.recall,
                "pixels": self.confusion.sum(1),
                "present": self.present,
            }
        )


def scores_from_confusion(confusion: Any) -> ClassScores:
    """IoU = TP/(TP+FP+FN), F1 = 2TP/(2TP+FP+FN), precision, recall, overall accuracy.

    Undefined ratios (0/0, e.g. precision of a class never predicted) count as 0 for classes in the
    truth or the prediction, as scikit-learn's ``zero_division=0``; classes in neither get NaN.
    """
    full = np.asarray(confusion.cpu() if hasattr(confusion, "cpu") else confusion, dtype=np.float64)
    cm = full[:, : full.shape[0]]  # a (C, C + 1) matrix carries unlabelled predictions last
    tp = np.diag(cm)
    fp = cm.sum(0) - tp
    fn = full.sum(1) - tp
    present = cm.sum(1) > 0
    predicted = cm.sum(0) > 0

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        out = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        out[~(present | predicted)] = np.nan
        return out

    total = full.sum()
    return ClassScores(
        confusion=cm.astype(np.int64),
        iou=ratio(tp, tp + fp + fn),
        f1=ratio(2 * tp, 2 * tp + fp + fn),
        precision=ratio(tp, tp + fp),
        recall=ratio(tp, tp + fn),
        present=present,
        accuracy=float(tp.sum() / total) if total > 0 else float("nan"),
        predicted=predicted,
    )


def landcover_scores(
    pred: Any,
    target: Any,
    num_classes: int,
    ignore_index: int | None = 255,
    unlabelled_pred: bool = False,
) -> ClassScores:
    """Scores of predicted class indices against ground truth (``ignore_index`` pixels dropped);
    ``unlabelled_pred``: see :func:`confusion_matrix`."""
    return scores_from_confusion(
        confusion_matrix(pred, target, num_classes, ignore_index, unlabelled_pred)
    )


def averagings(scores: ClassScores) -> Any:
    """Mean F1 and IoU under three averagings (macro over present classes, weighted by class
    pixels, micro over pooled TP/FP/FN): how far apart reported "mean" scores can be (notebook 06)."""
    import pandas as pd

    cm = scores.confusion.astype(float)
    tp, fp, fn = np.diag(cm), cm.sum(0) - np.diag(cm), cm.sum(1) - np.diag(cm)
    support = cm.sum(1) / cm.sum()
    f1, iou, present = scores.f1, scores.iou, scores.present
    pooled = 2 * tp.sum() + fp.sum() + fn.sum()
    return pd.DataFrame(
        {
            "macro (per-class mean)": [np.nanmean(f1[present]), np.nanmean(iou[present])],
            "weighted by class pixels": [np.nansum(f1 * support), np.nansum(iou * support)],
            "micro (pooled TP/FP/FN)": [2 * tp.sum() / pooled, tp.sum() / (pooled - tp.sum())],
        },
        index=["F1", "IoU"],
    )


def f1_iou_table(rows: list[tuple[str, str, Any]]) -> Any:
    """A DataFrame (split, source, f1, iou) from ``(split, source, scores)`` rows; ``scores`` is a
    :class:`ClassScores` (its macro means) or a mapping with ``f1`` and ``iou`` (a published row)."""
    import pandas as pd

    out = []
    for split, source, scores in rows:
        if isinstance(scores, ClassScores):
            scores = {"f1": scores.macro("f1"), "iou": scores.macro("iou")}
        out.append({"split": split, "source": source, "f1": scores["f1"], "iou": scores["iou"]})
    return pd.DataFrame(out, columns=["split", "source", "f1", "iou"])


# ---- night lights (notebooks 07-09) ----

# NTL super-resolution scores on the HR grid (30 m), in radiance units (nW/cm2/sr), numpy in/out.
# PSNR's data range is the peak of the true HR radiance over the evaluated area unless given
# (state it when reporting); PANDA-FINE's slide does not say which range it used.


def _pair(pred: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64).squeeze()
    t = np.asarray(target, dtype=np.float64).squeeze()
    if p.shape != t.shape:
        raise ValueError(f"prediction {p.shape} and target {t.shape} must have the same shape.")
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise ValueError("prediction or target holds NaN/inf; mask nodata before scoring.")
    return p, t


def psnr(pred: Any, target: Any, data_range: float | None = None) -> float:
    """PSNR in dB: ``10 log10(data_range^2 / MSE)``; ``data_range`` defaults to ``max(target)``.

    NaN with a warning when the data range is not positive (an all-dark target)."""
    p, t = _pair(pred, target)
    rng = float(t.max()) if data_range is None else float(data_range)
    if not rng > 0:
        return _undefined("PSNR", f"data range {rng:g} (all-dark or constant target)")
    mse = float(((p - t) ** 2).mean())
    return float("inf") if mse == 0 else 10.0 * float(np.log10(rng**2 / mse))


def ssim(pred: Any, target: Any, data_range: float | None = None) -> float:
    """SSIM (torchmetrics, Gaussian window 11, sigma 1.5) of a 2-D image pair, or of a stack of
    patches (N, H, W) computed per patch and averaged (windows never span two patches).

    NaN with a warning when the data range is not positive."""
    import torch
    from torchmetrics.functional.image import structural_similarity_index_measure as _ssim

    p, t = _pair(pred, target)
    rng = float(t.max()) if data_range is None else float(data_range)
    if not rng > 0:
        return _undefined("SSIM", f"data range {rng:g} (all-dark or constant target)")
    if p.ndim not in (2, 3):
        raise ValueError(f"SSIM needs (H, W) or (N, H, W) arrays, not {p.shape}.")
    pt = torch.as_tensor(p, dtype=torch.float64).reshape(-1, 1, *p.shape[-2:])
    tt = torch.as_tensor(t, dtype=torch.float64).reshape(-1, 1, *t.shape[-2:])
    per_patch = _ssim(pt, tt, data_range=rng, reduction="none")
    return float(per_patch.mean())


def rmse(pred: Any, target: Any) -> float:
    """Root mean squared error."""
    p, t = _pair(pred, target)
    return float(np.sqrt(((p - t) ** 2).mean()))


def mae(pred: Any, target: Any) -> float:
    """Mean absolute error."""
    p, t = _pair(pred, target)
    return float(np.abs(p - t).mean())


def r2(pred: Any, target: Any) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` of the prediction against the target."""
    p, t = _pair(pred, target)
    ss_tot = float(((t - t.mean()) ** 2).sum())
    if ss_tot <= 1e-12 * max(t.size, 1):
        return _undefined("R^2", "the target is constant")
    return 1.0 - float(((t - p) ** 2).sum()) / ss_tot


def total_light_error(pred: Any, target: Any) -> float:
    """Relative total night-light error ``|sum T - sum P| / sum T``."""
    p, t = _pair(pred, target)
    if abs(float(t.sum())) <= 1e-12:
        return _undefined("total-light error", "the target sums to 0 (no light)")
    return abs(float(t.sum()) - float(p.sum())) / abs(float(t.sum()))


def block_sums(image: Any, block: int) -> np.ndarray:
    """Sum of lights in non-overlapping ``block`` x ``block`` blocks of the last two axes (edges
    that do not fill a block dropped); a patch stack (N, H, W) gives (N, H/block, W/block)."""
    a = np.asarray(image, dtype=np.float64).squeeze()
    h, w = (a.shape[-2] // block) * block, (a.shape[-1] // block) * block
    if h == 0 or w == 0:
        raise ValueError(f"image {a.shape} is smaller than one block of {block} px.")
    lead = a.shape[:-2]
    return a[..., :h, :w].reshape(*lead, h // block, block, w // block, block).sum(axis=(-3, -1))


def aggregated_r2(pred: Any, target: Any, block: int = 32) -> float:
    """R^2 of lights summed over coarse blocks (a stand-in for city-level aggregated R^2)."""
    p, t = _pair(pred, target)
    return r2(block_sums(p, block), block_sums(t, block))


def saturated_mask(low_res: Any, ratio: int, level: int = 63) -> np.ndarray:
    """HR-grid mask of pixels whose LR DN is saturated (``DN >= level``), by nearest upsampling."""
    lo = np.asarray(low_res).squeeze()
    return (lo >= level).repeat(ratio, axis=-2).repeat(ratio, axis=-1)


def saturated_mae(pred: Any, target: Any, low_res: Any, ratio: int, level: int = 63) -> float:
    """MAE inside saturated areas (LR DN == 63); NaN when the area has none."""
    p, t = _pair(pred, target)
    mask = saturated_mask(low_res, ratio, level)
    if mask.shape != p.shape:
        raise ValueError(f"low_res x{ratio} gives {mask.shape}, prediction is {p.shape}.")
    return float(np.abs(p - t)[mask].mean()) if mask.any() else float("nan")


NTL_LIT = 1.0  # nW/cm2/sr: a fine pixel whose true radiance is above this is "lit", else "dark"


def lit_dark_errors(pred: Any, target: Any, lit: float = NTL_LIT) -> dict[str, float]:
    """RMSE and MAE over lit (true radiance > ``lit``) and dark pixels, with their pixel counts."""
    p, t = _pair(pred, target)
    out: dict[str, float] = {}
    for name, mask in (("lit", t > lit), ("dark", t <= lit)):
        err = (p - t)[mask]
        out[f"rmse_{name}"] = float(np.sqrt(np.mean(err**2))) if err.size else float("nan")
        out[f"mae_{name}"] = float(np.mean(np.abs(err))) if err.size else float("nan")
        out[f"n_{name}"] = float(err.size)
    return out


def saturated_bootstrap(
    pred: Any,
    target: Any,
    low_res: Any,
    ratio: int,
    n_boot: int = 1000,
    seed: int = 0,
    level: int = 63,
) -> dict[str, float]:
    """MAE inside saturated areas with a 95 % bootstrap interval over the saturated *coarse* pixels
    (each one a cluster of ratio x ratio fine pixels): ``mae``, ``low``, ``high``, ``n_coarse``,
    ``n_fine``; the interval is NaN with fewer than 2 saturated coarse pixels."""
    p, t = _pair(pred, target)
    low = np.asarray(low_res).squeeze()
    if low.shape[-2:] != (p.shape[-2] // ratio, p.shape[-1] // ratio):
        raise ValueError(f"low_res {low.shape} x{ratio} does not cover the prediction {p.shape}.")
    err = np.abs(p - t).reshape(*p.shape[:-2], low.shape[-2], ratio, low.shape[-1], ratio)
    per_coarse = err.mean(axis=(-3, -1))[low >= level]  # mean error per saturated coarse pixel
    n = int(per_coarse.size)
    out = {"n_coarse": float(n), "n_fine": float(n * ratio * ratio)}
    out["mae"] = float(per_coarse.mean()) if n else float("nan")
    if n < 2:
        return {**out, "low": float("nan"), "high": float("nan")}
    rng = np.random.default_rng(seed)
    means = per_coarse[rng.integers(0, n, (n_boot, n))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {**out, "low": float(lo), "high": float(hi)}


def ntl_scores(
    pred: Any,
    target: Any,
    low_res: Any = None,
    ratio: int = 8,
    data_range: float | None = None,
    block: int = 32,
) -> dict[str, float]:
    """All NTL SR scores in radiance units: PSNR (dB), SSIM, RMSE, MAE, R^2, total-light error,
    aggregated R^2 (``block`` px), RMSE/MAE over lit and dark pixels (:func:`lit_dark_errors`, with
    the counts) and, with ``low_res``, MAE in saturated areas; plus the data range.

    Pass test patches stacked as (N, H, W) (``np.stack``): SSIM is then computed per patch and
    averaged; the other scores pool all pixels."""
    p, t = _pair(pred, target)
    rng = float(t.max()) if data_range is None else float(data_range)
    out = {
        "psnr": psnr(p, t, rng),
        "ssim": ssim(p, t, rng),
        "rmse": rmse(p, t),
        "mae": mae(p, t),
        "r2": r2(p, t),
        "total_light_error": total_light_error(p, t),
        "aggregated_r2": aggregated_r2(p, t, block),
        "psnr_data_range": rng,
        **lit_dark_errors(p, t),
    }
    if low_res is not None:
        out["saturated_mae"] = saturated_mae(p, t, low_res, ratio)
    return out


def displacement_field_error(
    field: dict[str, np.ndarray],
    true_dy: np.ndarray,
    true_dx: np.ndarray,
    weights: np.ndarray,
    block: int,
) -> tuple[float, int, dict[str, np.ndarray]]:
    """A block-wise shift estimate (``field``: block centres ``rows``/``cols``, ``dy``/``dx`` in LR
    px, NaN where none) against the true per-pixel shifts averaged over each block with ``weights``
    (the lights): ``(RMSE over estimated blocks, their count, the true field in the same form)``."""
    shape = np.shape(field["dy"])
    truth = np.full((2, *shape), np.nan, np.result_type(true_dy, true_dx, weights, np.float32))
    errors = []
    for i, r in enumerate(field["rows"]):
        for j, c in enumerate(field["cols"]):
            r0, c0 = int(r - (block - 1) / 2), int(c - (block - 1) / 2)
            sl = (slice(r0, r0 + block), slice(c0, c0 + block))
            wb = weights[sl]
            truth[:, i, j] = (
                (true_dy[sl] * wb).sum() / wb.sum(),
                (true_dx[sl] * wb).sum() / wb.sum(),
            )
            if not np.isnan(field["dy"][i, j]):
                errors.append(
                    np.hypot(field["dy"][i, j] - truth[0, i, j], field["dx"][i, j] - truth[1, i, j])
                )
    rmse = float(np.sqrt(np.mean(np.square(errors)))) if errors else float("nan")
    true_field = {"rows": field["rows"], "cols": field["cols"], "dy": truth[0], "dx": truth[1]}
    return rmse, len(errors), true_field

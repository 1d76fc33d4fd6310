"""Metrics: land-cover classification (IoU, F1, accuracy, confusion) and NTL super-resolution
(PSNR, SSIM, RMSE, MAE, R^2, total-light error)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# ---- land cover (notebooks 03-06) ----
# Confusion matrix from torchmetrics (rows = ground truth, columns = prediction, like
# scikit-learn), then every score derived from it. Macro means run over the classes present in
# the ground truth, so a class missing from an evaluation area does not count as a zero.


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

    pred_t = torch.as_tensor(np.asarray(pred) if not isinstance(pred, torch.Tensor) else pred)
    target_t = torch.as_tensor(
        np.asarray(target) if not isinstance(target, torch.Tensor) else target
    )
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
            f"and not the ignore index {ignore_index}; map labels with helpers.labels.to_train_index."
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
    iou: np.ndarray  # per class; NaN for classes absent from the ground truth
    f1: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    present: np.ndarray  # bool per class: present in the ground truth
    accuracy: float  # overall accuracy (correct / all labelled pixels)

    def macro(self, name: str) -> float:
        """Mean of a per-class score over the classes present in the ground truth."""
        values = getattr(self, name)[self.present]
        return float(values.mean()) if values.size else float("nan")

    def summary(self) -> dict[str, float]:
        """Macro IoU, F1, precision, recall and overall accuracy as fractions in [0, 1]."""
        out = {k: self.macro(k) for k in ("iou", "f1", "precision", "recall")}
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

    Undefined ratios (0/0, e.g. precision of a class never predicted) count as 0 for present
    classes, as scikit-learn's ``zero_division=0``; absent classes get NaN and are left out of means.
    """
    full = np.asarray(confusion.cpu() if hasattr(confusion, "cpu") else confusion, dtype=np.float64)
    cm = full[:, : full.shape[0]]  # a (C, C + 1) matrix carries unlabelled predictions last
    tp = np.diag(cm)
    fp = cm.sum(0) - tp
    fn = full.sum(1) - tp
    present = cm.sum(1) > 0

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        out = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        out[~present] = np.nan
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
    """PSNR in dB: ``10 log10(data_range^2 / MSE)``; ``data_range`` defaults to ``max(target)``."""
    p, t = _pair(pred, target)
    rng = float(t.max()) if data_range is None else float(data_range)
    mse = float(((p - t) ** 2).mean())
    return float("inf") if mse == 0 else 10.0 * float(np.log10(rng**2 / mse))


def ssim(pred: Any, target: Any, data_range: float | None = None) -> float:
    """SSIM (torchmetrics, Gaussian window 11, sigma 1.5) on a 2-D image pair."""
    import torch
    from torchmetrics.functional.image import structural_similarity_index_measure as _ssim

    p, t = _pair(pred, target)
    rng = float(t.max()) if data_range is None else float(data_range)
    pt = torch.as_tensor(p, dtype=torch.float64)[None, None]
    tt = torch.as_tensor(t, dtype=torch.float64)[None, None]
    return float(_ssim(pt, tt, data_range=rng))


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
    return 1.0 - float(((t - p) ** 2).sum()) / max(ss_tot, 1e-12)


def total_light_error(pred: Any, target: Any) -> float:
    """Relative total night-light error ``|sum T - sum P| / sum T``."""
    p, t = _pair(pred, target)
    return abs(float(t.sum()) - float(p.sum())) / max(abs(float(t.sum())), 1e-12)


def block_sums(image: Any, block: int) -> np.ndarray:
    """Sum of lights in non-overlapping ``block`` x ``block`` blocks (edges that do not fill a block dropped)."""
    a = np.asarray(image, dtype=np.float64).squeeze()
    h, w = (a.shape[0] // block) * block, (a.shape[1] // block) * block
    if h == 0 or w == 0:
        raise ValueError(f"image {a.shape} is smaller than one block of {block} px.")
    return a[:h, :w].reshape(h // block, block, w // block, block).sum(axis=(1, 3))


def aggregated_r2(pred: Any, target: Any, block: int = 32) -> float:
    """R^2 of lights summed over coarse blocks (a stand-in for city-level aggregated R^2)."""
    p, t = _pair(pred, target)
    return r2(block_sums(p, block), block_sums(t, block))


def saturated_mask(low_res: Any, ratio: int, level: int = 63) -> np.ndarray:
    """HR-grid mask of pixels whose LR DN is saturated (``DN >= level``), by nearest upsampling."""
    lo = np.asarray(low_res).squeeze()
    return np.kron(lo >= level, np.ones((ratio, ratio), dtype=bool)).astype(bool)


def saturated_mae(pred: Any, target: Any, low_res: Any, ratio: int, level: int = 63) -> float:
    """MAE inside saturated areas (LR DN == 63); NaN when the area has none."""
    p, t = _pair(pred, target)
    mask = saturated_mask(low_res, ratio, level)
    if mask.shape != p.shape:
        raise ValueError(f"low_res x{ratio} gives {mask.shape}, prediction is {p.shape}.")
    return float(np.abs(p - t)[mask].mean()) if mask.any() else float("nan")


def ntl_scores(
    pred: Any,
    target: Any,
    low_res: Any = None,
    ratio: int = 8,
    data_range: float | None = None,
    block: int = 32,
) -> dict[str, float]:
    """All NTL SR scores in radiance units: PSNR (dB), SSIM, RMSE, MAE, R^2, total-light error,
    aggregated R^2 (``block`` px) and, with ``low_res``, MAE in saturated areas; plus the data range."""
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
    }
    if low_res is not None:
        out["saturated_mae"] = saturated_mae(p, t, low_res, ratio)
    return out

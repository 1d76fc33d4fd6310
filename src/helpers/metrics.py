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


def confusion_matrix(pred: Any, target: Any, num_classes: int, ignore_index: int | None = 255) -> Any:
    """``(num_classes, num_classes)`` int64 counts, rows = truth, cols = prediction; ignore dropped.

    ``pred`` holds class indices (any shape, same as ``target``); numpy arrays are accepted.
    """
    import torch
    from torchmetrics.functional.classification import multiclass_confusion_matrix

    pred_t = torch.as_tensor(np.asarray(pred) if not isinstance(pred, torch.Tensor) else pred)
    target_t = torch.as_tensor(np.asarray(target) if not isinstance(target, torch.Tensor) else target)
    if pred_t.shape != target_t.shape:
        raise ValueError(f"prediction {tuple(pred_t.shape)} and target {tuple(target_t.shape)} differ in shape")
    pred_t = pred_t.long().reshape(-1)
    target_t = target_t.long().reshape(-1)
    keep = target_t != ignore_index if ignore_index is not None else torch.ones_like(target_t, dtype=torch.bool)
    bad = target_t[keep][(target_t[keep] < 0) | (target_t[keep] >= num_classes)]
    if bad.numel():
        raise ValueError(
            f"target holds label(s) {sorted(set(bad.tolist()))[:5]} outside 0..{num_classes - 1} "
            f"and not the ignore index {ignore_index}; map labels with helpers.labels.to_train_index."
        )
    if pred_t.numel() and ((pred_t < 0) | (pred_t >= num_classes)).any():
        raise ValueError(f"prediction holds values outside 0..{num_classes - 1}")
    return multiclass_confusion_matrix(
        pred_t, target_t, num_classes=num_classes, ignore_index=ignore_index, normalize=None
    ).long()


@dataclass
class ClassScores:
    """Per-class and macro land-cover scores derived from one confusion matrix."""

    confusion: np.ndarray  # (C, C) rows truth, cols prediction
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
    cm = np.asarray(confusion.cpu() if hasattr(confusion, "cpu") else confusion, dtype=np.float64)
    tp = np.diag(cm)
    fp = cm.sum(0) - tp
    fn = cm.sum(1) - tp
    present = cm.sum(1) > 0

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        out = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        out[~present] = np.nan
        return out

    total = cm.sum()
    return ClassScores(
        confusion=cm.astype(np.int64),
        iou=ratio(tp, tp + fp + fn),
        f1=ratio(2 * tp, 2 * tp + fp + fn),
        precision=ratio(tp, tp + fp),
        recall=ratio(tp, tp + fn),
        present=present,
        accuracy=float(tp.sum() / total) if total > 0 else float("nan"),
    )


def landcover_scores(pred: Any, target: Any, num_classes: int, ignore_index: int | None = 255) -> ClassScores:
    """Scores of predicted class indices against ground truth (``ignore_index`` pixels dropped)."""
    return scores_from_confusion(confusion_matrix(pred, target, num_classes, ignore_index))


# ---- night lights (notebooks 07-09) ----

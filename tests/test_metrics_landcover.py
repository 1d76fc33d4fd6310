"""Land-cover metrics equal scikit-learn's on the same arrays (torchmetrics confusion, then derived)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from helpers.models import metrics


def _arrays(seed: int, n: int = 4000, classes: int = 8, absent: tuple[int, ...] = (2,)):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, classes, n)
    for a in absent:
        target[target == a] = (a + 1) % classes
    pred = np.where(rng.random(n) < 0.6, target, rng.integers(0, classes, n))
    target[rng.random(n) < 0.05] = 255  # ignored pixels
    return pred, target


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equal_to_sklearn(seed):
    pred, target = _arrays(seed)
    scores = metrics.landcover_scores(torch.from_numpy(pred), torch.from_numpy(target), 8)
    keep = target != 255
    y, p = target[keep], pred[keep]
    present = np.unique(y)
    assert 2 not in present
    np.testing.assert_array_equal(scores.confusion, skm.confusion_matrix(y, p, labels=range(8)))
    for name, fn in [
        ("iou", skm.jaccard_score),
        ("f1", skm.f1_score),
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
    ]:
        per_class = fn(y, p, labels=present, average=None, zero_division=0)
        np.testing.assert_allclose(getattr(scores, name)[present], per_class, rtol=1e-12)
        # default: scikit-learn's own labels (truth or prediction); the kit's variant by name
        macro = fn(y, p, average="macro", zero_division=0)
        assert scores.summary()[name] == pytest.approx(macro, rel=1e-12)
        macro_truth = fn(y, p, labels=present, average="macro", zero_division=0)
        assert scores.summary("truth")[name] == pytest.approx(macro_truth, rel=1e-12)
    assert scores.accuracy == pytest.approx(skm.accuracy_score(y, p))
    # class 2: predicted, absent from the truth -> scores 0 and counts in the default mean
    assert scores.iou[2] == 0 and not scores.present[2] and scores.predicted[2]


def test_class_never_predicted_counts_zero():
    target = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 0, 0, 0, 2, 2])
    s = metrics.landcover_scores(pred, target, 3, ignore_index=None)
    assert s.iou[1] == 0 and s.precision[1] == 0 and s.recall[1] == 0
    assert s.summary()["iou"] == pytest.approx((0.5 + 0 + 1) / 3)


def test_perfect_and_accumulation():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, (2, 16, 16))
    s = metrics.landcover_scores(y, y, 5)
    assert s.summary() == {"iou": 1.0, "f1": 1.0, "precision": 1.0, "recall": 1.0, "accuracy": 1.0}
    cm = metrics.confusion_matrix(y[:1], y[:1], 5) + metrics.confusion_matrix(y[1:], y[1:], 5)
    np.testing.assert_array_equal(cm.numpy(), s.confusion)
    assert list(s.table(["a", "b", "c", "d", "e"])["class"]) == ["a", "b", "c", "d", "e"]


def test_bad_labels_are_named():
    with pytest.raises(ValueError, match="outside 0..7"):
        metrics.landcover_scores(np.zeros(4, int), np.array([0, 9, 1, 255]), 8)
    with pytest.raises(ValueError, match="shape"):
        metrics.landcover_scores(np.zeros(4, int), np.zeros(5, int), 8)


def test_unlabelled_predictions_count_as_misses():
    pred, target = _arrays(3)
    pred[::7] = 255  # e.g. a coarse map with no class there
    s = metrics.landcover_scores(pred, target, 8, unlabelled_pred=True)
    keep = target != 255
    y, p = target[keep], pred[keep]
    present = np.unique(y)
    # scikit-learn with 255 as an extra label that is never a true class
    np.testing.assert_allclose(
        s.iou[present], skm.jaccard_score(y, p, labels=present, average=None, zero_division=0)
    )
    np.testing.assert_allclose(
        s.recall[present], skm.recall_score(y, p, labels=present, average=None, zero_division=0)
    )
    assert s.accuracy == pytest.approx(skm.accuracy_score(y, p))
    assert s.confusion.shape == (8, 8)
    with pytest.raises(ValueError, match="unlabelled_pred"):
        metrics.landcover_scores(pred, target, 8)


def test_ignore_prediction_where_truth_is_ignored():
    """A masked map (255 where unlabelled) scores; an out-of-range class on a labelled pixel does not."""
    target = np.array([[0, 1, 255], [255, 1, 0]])
    pred = np.array([[0, 1, 255], [255, 0, 0]])
    scores = metrics.landcover_scores(pred, target, num_classes=2)
    assert scores.confusion.tolist() == [[2, 0], [1, 1]]
    bad = pred.copy()
    bad[0, 1] = 255  # ignore predicted where the truth is class 1
    with pytest.raises(ValueError, match="labelled pixels"):
        metrics.landcover_scores(bad, target, num_classes=2)
    bad[0, 1] = 7
    with pytest.raises(ValueError, match=r"\[7\]"):
        metrics.landcover_scores(bad, target, num_classes=2)
    empty = metrics.confusion_matrix(pred, np.full_like(target, 255), num_classes=2)
    assert int(empty.sum()) == 0


def test_averagings_match_sklearn_macro_weighted_micro():
    pred, target = _arrays(3)
    scores = metrics.landcover_scores(pred, target, 8)
    keep = target != 255
    y, p = target[keep], pred[keep]
    table = metrics.averagings(scores)
    present = np.unique(y)
    for row, fn in (("F1", skm.f1_score), ("IoU", skm.jaccard_score)):
        got = table.loc[row]
        macro = fn(y, p, labels=present, average="macro", zero_division=0)
        assert got["macro (per-class mean)"] == pytest.approx(macro, rel=1e-12)
        weighted = fn(y, p, labels=range(8), average="weighted", zero_division=0)
        assert got["weighted by class pixels"] == pytest.approx(weighted, rel=1e-12)
        micro = fn(y, p, labels=range(8), average="micro", zero_division=0)
        assert got["micro (pooled TP/FP/FN)"] == pytest.approx(micro, rel=1e-12)


def test_f1_iou_table_takes_scores_and_published_rows():
    pred, target = _arrays(4)
    scores = metrics.landcover_scores(pred, target, 8)
    table = metrics.f1_iou_table(
        [("testing", "published", {"f1": 0.5, "iou": 0.6, "acc": 0.1}), ("testing", "ours", scores)]
    )
    assert list(table.columns) == ["split", "source", "f1", "iou"]
    assert table.loc[0, "f1"] == 0.5 and table.loc[0, "iou"] == 0.6
    assert table.loc[1, "f1"] == scores.macro("f1") and table.loc[1, "iou"] == scores.macro("iou")

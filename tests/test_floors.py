"""Land-cover floors: guesses scored from their expected confusion, fitted on training labels only."""

import numpy as np
import pytest

from helpers.models import floors, metrics


def test_class_prior_guess_matches_a_monte_carlo_draw():
    rng = np.random.default_rng(0)
    train = rng.choice(3, size=5000, p=[0.6, 0.3, 0.1])
    test = rng.choice(3, size=(100, 100), p=[0.5, 0.3, 0.2])
    out = floors.landcover_floors(train, test, 3)
    prior = np.bincount(train, minlength=3) / train.size
    draws = [
        metrics.landcover_scores(rng.choice(3, size=test.shape, p=prior), test, 3).summary()["iou"]
        for _ in range(5)
    ]
    assert out["class-prior random guess"].summary()["iou"] == pytest.approx(
        np.mean(draws), abs=0.01
    )
    # the uniform guess over 3 classes: accuracy exactly 1/3
    assert out["uniform random guess"].accuracy == pytest.approx(1 / 3)


def test_majority_and_coarse_floors_and_best():
    train = np.array([0, 0, 0, 1])
    test = np.array([[0, 1], [1, 255]])
    out = floors.landcover_floors(train, test, 2, coarse_map=np.array([[0, 1], [1, 0]]))
    assert out["majority class"].accuracy == pytest.approx(1 / 3)
    assert out["coarse labels as the map"].summary()["iou"] == pytest.approx(1.0)
    assert floors.best(out) == ("coarse labels as the map", pytest.approx(1.0))
    assert set(floors.summary_rows(out)["majority class"]) == {"iou", "accuracy"}


def test_floors_refuse_empty_training_labels_and_bad_probabilities():
    with pytest.raises(ValueError, match="training labels"):
        floors.landcover_floors(np.full(4, 255), np.zeros(4), 2)
    with pytest.raises(ValueError, match="summing to 1"):
        floors.guess_scores(np.array([0.5, 0.6]), np.zeros(4), 2)

"""Bag of colours: deterministic, normalised histograms, segment counts, and a forest that learns colour -> class."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.models import bag_of_colors as boc

PALETTE = np.array(
    [[0.1, 0.1, 0.1, 0.6], [0.5, 0.2, 0.1, 0.1], [0.1, 0.6, 0.2, 0.3], [0.3, 0.3, 0.8, 0.05]],
    np.float32,
)


def toy_patches(n=6, size=32, seed=0):
    """Patches of 4x4-pixel blocks whose class decides their colour (plus noise)."""
    rng = np.random.default_rng(seed)
    images, masks = [], []
    for _ in range(n):
        blocks = rng.integers(0, len(PALETTE), (size // 8, size // 8))
        mask = np.kron(blocks, np.ones((8, 8), int))
        image = PALETTE[mask].transpose(2, 0, 1) + rng.normal(0, 0.02, (4, size, size))
        images.append(image.astype(np.float32))
        masks.append(mask)
    return images, masks


def test_histograms_are_normalised():
    rng = np.random.default_rng(0)
    words = rng.integers(0, 10, (16, 16))
    seg = rng.integers(0, 5, (16, 16))
    hist = boc.histograms(words, seg, 10)
    assert hist.shape == (5, 10)
    np.testing.assert_allclose(hist.sum(1), 1.0)
    assert hist[2, words[seg == 2][0]] > 0


def test_majority_labels():
    seg = np.array([[0, 0, 1], [0, 1, 1]])
    mask = np.array([[3, 3, 2], [1, 255, 255]])
    assert boc.majority_labels(mask, seg, 8).tolist() == [3, 2]
    assert boc.majority_labels(np.full((2, 3), 255), seg, 8).tolist() == [255, 255]


@pytest.mark.parametrize("method", ["colour", "slic"])
def test_segment_count_and_determinism(method):
    images, _ = toy_patches(1, 32)
    rng = np.random.default_rng(1)
    image = images[0] + rng.normal(0, 0.2, images[0].shape).astype(
        np.float32
    )  # many distinct colours
    a = boc.segment(image, 20, method, seed=3)
    b = boc.segment(image, 20, method, seed=3)
    assert a.shape == (32, 32)
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a)) == 20 and a.min() == 0 and a.max() == 19


def test_colour_segments_need_not_be_connected():
    image = np.zeros((4, 8, 8), np.float32)
    image[:, :, :2] = 1.0
    image[:, :, 6:] = 1.0  # the same colour at both ends
    seg = boc.segment(image, 2, "colour")
    assert seg[0, 0] == seg[0, 7] != seg[0, 4]


def test_vocabulary_deterministic_and_assign():
    images, _ = toy_patches(3)
    pix = boc.sample_pixels(images, 2000, seed=0)
    v1 = boc.fit_vocabulary(pix, 8, seed=0)
    v2 = boc.fit_vocabulary(boc.sample_pixels(images, 2000, seed=0), 8, seed=0)
    np.testing.assert_array_equal(v1.centers, v2.centers)
    words = v1.assign(images[0])
    assert words.shape == (32, 32) and words.max() < 8
    assert v1.colours().shape == (8, 3)


def test_bad_input_is_explained():
    image = np.zeros((4, 8, 8), np.float32)
    image[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        boc.pixels_of(image)
    with pytest.raises(ValueError, match="bands, H, W"):
        boc.pixels_of(np.zeros((8, 8)))
    with pytest.raises(RuntimeError, match="fit"):
        boc.BagOfColors().predict(np.zeros((4, 8, 8), np.float32))


def test_forest_learns_colour_to_class():
    train_x, train_y = toy_patches(6, seed=0)
    test_x, test_y = toy_patches(3, seed=1)
    model = boc.BagOfColors(words=12, segments=20, trees=30, max_pixels=5000, seed=0).fit(
        train_x, train_y
    )
    preds = [model.predict(x) for x in test_x]
    accuracy = np.mean([(p == y).mean() for p, y in zip(preds, test_y)])
    assert accuracy > 0.9
    again = boc.BagOfColors(words=12, segments=20, trees=30, max_pixels=5000, seed=0).fit(
        train_x, train_y
    )
    np.testing.assert_array_equal(again.predict(test_x[0]), preds[0])
    np.testing.assert_array_equal(model.predict_many(test_x, progress=False), np.stack(preds))

"""coarse_labels: aggregation against straight loops, thresholds, ragged edges, seeded degradation."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.data import coarse_labels as cl


def _loops(fine, factor, c, min_known):
    """Per cell with plain Python: fractions over labelled pixels, majority, known share."""
    h, w = fine.shape
    ch, cw = -(-h // factor), -(-w // factor)
    lab = np.full((ch, cw), 255)
    frac = np.zeros((c, ch, cw))
    known = np.zeros((ch, cw))
    for i in range(ch):
        for j in range(cw):
            blk = fine[i * factor : (i + 1) * factor, j * factor : (j + 1) * factor].ravel()
            good = [int(v) for v in blk if v != 255]
            known[i, j] = len(good) / blk.size
            if good:
                counts = [good.count(k) for k in range(c)]
                frac[:, i, j] = np.array(counts) / len(good)
                if known[i, j] >= min_known:
                    lab[i, j] = int(np.argmax(counts))
    return lab, frac, known


@pytest.mark.parametrize(
    "factor,shape", [(3, (12, 9)), (3, (13, 10)), (5, (20, 17)), (50, (100, 120))]
)
def test_matches_loops(factor, shape):
    rng = np.random.default_rng(factor)
    fine = rng.integers(0, 4, shape).astype(np.uint8)
    fine[rng.random(shape) < 0.3] = 255
    fine[:factor, :factor] = 255  # one empty cell
    got = cl.aggregate(fine, factor, 4, min_known=0.6)
    lab, frac, known = _loops(fine, factor, 4, 0.6)
    np.testing.assert_array_equal(got.labels, lab)
    np.testing.assert_allclose(got.fractions, frac, atol=1e-6)
    np.testing.assert_allclose(got.known, known, atol=1e-6)
    assert got.labels[0, 0] == 255 and got.known[0, 0] == 0


def test_pure_cells_and_majority():
    fine = np.zeros((6, 6), np.uint8)
    fine[:3, 3:] = 2
    fine[3:, :3] = [[1, 1, 0], [1, 0, 0], [0, 1, 255]]  # 4 x class 1, 4 x class 0, 1 unknown
    got = cl.aggregate(fine, 3, 3)
    assert got.labels.tolist() == [[0, 2], [0, 0]]  # tie 4:4 goes to the lower class
    fine[5, 1] = 2
    got = cl.aggregate(fine, 3, 3)
    assert got.labels[1, 0] == 0  # 4 x 0 beats 3 x 1
    assert got.fractions[:, 0, 1].tolist() == [0, 0, 1]
    assert got.known[1, 0] == pytest.approx(8 / 9)


def test_min_known_threshold():
    fine = np.full((3, 6), 255, np.uint8)
    fine[0, :3] = 1  # 3 of 9 known
    fine[:2, 3:] = 2  # 6 of 9 known
    assert cl.aggregate(fine, 3, 3, min_known=0.5).labels.tolist() == [[255, 2]]
    assert cl.aggregate(fine, 3, 3, min_known=0.3).labels.tolist() == [[1, 2]]


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="outside"):
        cl.aggregate(np.array([[7]]), 1, 3)
    with pytest.raises(ValueError, match="factor"):
        cl.aggregate(np.zeros((3, 3), int), 0, 3)
    with pytest.raises(ValueError, match="2-D"):
        cl.aggregate(np.zeros((1, 3, 3), int), 3, 3)


def test_upsample_round_trip():
    fine = (
        np.random.default_rng(1).integers(0, 3, (9, 9)).repeat(3, 0).repeat(3, 1).astype(np.uint8)
    )
    got = cl.aggregate(fine, 3, 3)
    np.testing.assert_array_equal(got.on_fine_grid(fine.shape), fine)
    up = cl.upsample(np.array([[1, 2]], np.uint8), 2, (3, 5))
    assert up.tolist() == [[1, 1, 2, 2, 255], [1, 1, 2, 2, 255], [255] * 5]


def test_degrade_rate_confusion_and_seed():
    c = 4
    labels = np.random.default_rng(0).integers(0, c, (200, 200)).astype(np.uint8)
    labels[:10] = 255
    conf = cl.confusion_from_pairs(c, {0: [1]})  # 0 <-> 1 only; 2 and 3 never flip
    out = cl.degrade(labels, c, 0.3, seed=5, confusion=conf)
    assert (out[:10] == 255).all()
    changed = out != labels
    rate = changed[labels == 0].mean()
    assert 0.26 < rate < 0.34
    assert set(np.unique(out[changed & (labels == 0)]).tolist()) == {1}
    assert set(np.unique(out[changed & (labels == 1)]).tolist()) == {0}
    assert not changed[(labels == 2) | (labels == 3)].any()
    np.testing.assert_array_equal(out, cl.degrade(labels, c, 0.3, seed=5, confusion=conf))
    assert (out != cl.degrade(labels, c, 0.3, seed=6, confusion=conf)).any()
    free = cl.degrade(labels, c, 1.0, seed=1)
    assert (free[10:] != labels[10:]).all()  # uniform other class: never its own
    assert cl.degrade(labels, c, 0.0, seed=1).tolist() == labels.tolist()


def test_degrade_leaves_global_stream_alone():
    np.random.seed(3)
    want = np.random.random(3)
    np.random.seed(3)
    cl.degrade(np.zeros((5, 5), np.uint8), 3, 0.5, seed=0)
    np.testing.assert_array_equal(np.random.random(3), want)


def test_national_product_noise_is_realistic_and_seeded():
    rng = np.random.default_rng(2)
    fine = np.repeat(np.repeat(rng.choice([1, 2, 4, 6, 7], (40, 40)), 6, 0), 6, 1).astype(np.uint16)
    fine[rng.random(fine.shape) < 0.05] = 9  # salt: mixed cells on the 30 m grid
    a = cl.national_product(fine, 3, 11, seed=[0, 30])
    clean = cl.aggregate(fine, 3, 11).labels
    wrong = (a.labels != clean).mean()
    assert 0.03 < wrong < 0.25  # some cells, not most, disagree with the clean majority
    np.testing.assert_array_equal(a.labels, cl.national_product(fine, 3, 11, seed=[0, 30]).labels)
    assert (a.labels != cl.national_product(fine, 3, 11, seed=[1, 30]).labels).any()
    pure = a.fractions.max(0) == 1.0
    # boundary errors only where a cell is mixed: pure cells err only by thematic flips (8 %)
    assert (a.labels != clean)[pure].mean() < (a.labels != clean)[~pure].mean()


def test_sample_scene_lc30_hook_leaves_other_layers_byte_identical(tmp_path, monkeypatch):
    from helpers.data import synthetic
    from helpers.io import rasters

    region = synthetic.generate_region(7, 256, "summer", "dfc")
    before = {k: getattr(region, k).copy() for k in ("igbp", "s2", "s1", "coarse")}
    synthetic._write_patches(region, tmp_path / "with", "ROIs0000_test", "0", 7, "smoke", True)
    monkeypatch.setattr(synthetic, "_lc30", lambda r: np.zeros((1, r.size, r.size), np.uint16))
    synthetic._write_patches(region, tmp_path / "stub", "ROIs0000_test", "0", 7, "smoke", True)
    for k, v in before.items():
        np.testing.assert_array_equal(getattr(region, k), v)
    files = sorted(p.relative_to(tmp_path / "with") for p in (tmp_path / "with").rglob("*.tif"))
    others = [f for f in files if "lc30" not in str(f)]
    assert len(others) == 4 and len(files) == 5
    for rel in others:
        assert (tmp_path / "with" / rel).read_bytes() == (tmp_path / "stub" / rel).read_bytes(), rel
    lc30 = rasters.read(next(tmp_path.glob("with/*/lc30_0/*.tif"))).data[0]
    cells = lc30[:255, :255].reshape(85, 3, 85, 3)
    assert (cells == cells[:, :1, :, :1]).all()  # constant on each 30 m cell
    agree = (lc30 == region.dfc).mean()
    assert 0.6 < agree < 0.98  # a coarse, noisy product, not the fine labels

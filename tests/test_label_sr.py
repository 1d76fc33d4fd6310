"""Label-SR loss (Malkin et al.) against a direct numpy computation, limiting cases, statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers.models import losses


def _numpy_loss(probs, coarse, mu, sigma2, block, eps, ignore=255, log_term=True):
    """Straight loops: every (sample, cell, coarse label) is a block."""
    n, c, h, w = probs.shape
    terms = []
    for i in range(n):
        for r in range(0, h, block):
            for q in range(0, w, block):
                lab = coarse[i, r : r + block, q : q + block]
                p = probs[i, :, r : r + block, q : q + block]
                for k in np.unique(lab):
                    if k == ignore:
                        continue
                    sel = lab == k
                    pk = p[:, sel]  # (C, n_pixels)
                    eta = pk.mean(1)
                    rho2 = (pk * (1 - pk)).sum(1) / sel.sum() ** 2
                    var = sigma2[k] + rho2 + eps
                    t = (mu[k] - eta) ** 2 / (2 * var)
                    if log_term:
                        t = t + 0.5 * np.log(2 * math.pi * var)
                    terms.append(t.sum())
    return float(np.mean(terms))


@pytest.mark.parametrize("log_term", [True, False])
def test_matches_numpy(log_term):
    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.normal(size=(2, 4, 12, 10)))
    coarse = rng.integers(0, 3, (2, 12, 10))
    coarse[:, :4, :4] = 1  # one pure block per sample
    coarse[0, 5, 5] = 255
    mu = rng.dirichlet(np.ones(4), size=3)
    sigma2 = rng.uniform(0.001, 0.05, size=(3, 4))
    got = losses.label_sr_loss(
        logits,
        torch.from_numpy(coarse),
        mu,
        sigma2,
        block=4,
        eps=1e-4,
        log_term=log_term,
        align=False,
    )
    want = _numpy_loss(logits.softmax(1).numpy(), coarse, mu, sigma2, 4, 1e-4, log_term=log_term)
    assert float(got) == pytest.approx(want, rel=1e-9)


def test_perfect_match_is_minimal_and_gradient_flows():
    # Blocks of one coarse class: mu = the block's true mean -> the squared term vanishes.
    mu = np.array([[0.75, 0.25], [0.25, 0.75]])
    sigma2 = np.full((2, 2), 0.01)
    coarse = torch.zeros(1, 4, 4, dtype=torch.long)
    probs = torch.tensor([0.75, 0.25])[None, :, None, None].expand(1, 2, 4, 4).clone()
    best = losses.label_sr_loss(probs, coarse, mu, sigma2, 4, from_logits=False, log_term=False)
    assert float(best) == pytest.approx(0.0, abs=1e-12)
    worse = torch.tensor([0.5, 0.5])[None, :, None, None].expand(1, 2, 4, 4).clone()
    assert float(losses.label_sr_loss(worse, coarse, mu, sigma2, 4, from_logits=False)) > float(
        losses.label_sr_loss(probs, coarse, mu, sigma2, 4, from_logits=False)
    )
    logits = torch.zeros(1, 2, 4, 4, requires_grad=True)
    losses.label_sr_loss(logits, coarse, mu, sigma2, 4).backward()
    assert logits.grad[0, 0].sum() < 0  # descending raises p(class 0) towards mu = 0.75


def test_sigma_to_zero_is_finite_and_sharper():
    coarse = torch.zeros(1, 4, 4, dtype=torch.long)
    probs = torch.full((1, 2, 4, 4), 0.5)
    probs_hard = torch.zeros(1, 2, 4, 4)
    probs_hard[:, 0] = 1.0  # rho2 = 0 too: only eps keeps the variance positive
    mu = np.array([[0.6, 0.4]])
    values = [
        float(
            losses.label_sr_loss(
                probs, coarse, mu, np.full((1, 2), s), 4, from_logits=False, log_term=False
            )
        )
        for s in (1e-1, 1e-3, 0.0)
    ]
    assert values[0] < values[1] < values[2] and math.isfinite(values[2])
    hard = float(
        losses.label_sr_loss(
            probs_hard, coarse, mu, np.zeros((1, 2)), 4, from_logits=False, eps=1e-4
        )
    )
    assert math.isfinite(hard)
    # with sigma2 = 0 the loss is the squared error over (rho2 + eps)
    rho2 = 0.25 / 16
    want = 2 * (0.1**2 / (2 * (rho2 + 1e-4)))
    assert values[2] == pytest.approx(want, rel=1e-6)


def test_ignore_blocks():
    rng = np.random.default_rng(1)
    logits = torch.from_numpy(rng.normal(size=(1, 3, 8, 8)))
    coarse = torch.zeros(1, 8, 8, dtype=torch.long)
    mu, sigma2 = np.full((2, 3), 1 / 3), np.full((2, 3), 0.01)
    base = losses.label_sr_loss(logits, coarse, mu, sigma2, 4, align=False)
    coarse[:, 4:] = 255
    assert float(losses.label_sr_loss(logits, coarse, mu, sigma2, 4, align=False)) == pytest.approx(
        float(losses.label_sr_loss(logits[:, :, :4], coarse[:, :4], mu, sigma2, 4, align=False))
    )
    assert torch.isfinite(base)
    all_ignored = torch.full((1, 8, 8), 255)
    zero = losses.label_sr_loss(logits.requires_grad_(), all_ignored, mu, sigma2, 4)
    assert zero.item() == 0.0
    zero.backward()


def test_grid_alignment_from_label_edges():
    # coarse blocks of 4 px starting at row/col offset 2: alignment recovers the cells exactly
    big = np.kron(np.arange(9).reshape(3, 3), np.ones((4, 4), dtype=int))  # 12x12
    coarse = torch.from_numpy(big[2:10, 2:10].copy())[None]
    ids = losses.block_ids(coarse, 4, 9)
    assert len(torch.unique(ids)) == 9  # 3x3 cells (partial at the edges), not fragments
    assert losses._coarse_phase(coarse[0], 4, 255) == (2, 2)


def test_cooccurrence_statistics():
    fine = np.zeros((8, 8), dtype=int)
    fine[:, 6:] = 1  # each 4x4 block of coarse 0 on the right half holds 2 of 4 columns of class 1
    coarse = np.zeros((8, 8), dtype=int)
    coarse[:, :4] = 2
    fine[0, 0] = 255  # ignored fine pixel
    stats = losses.cooccurrence_statistics(
        coarse, fine, block=4, num_coarse=3, num_fine=2, align=False
    )
    np.testing.assert_allclose(stats["mu"][0], [0.5, 0.5])
    np.testing.assert_allclose(stats["mu"][2], [1.0, 0.0])
    assert stats["sigma2"].min() >= 1e-3
    assert stats["blocks"].tolist() == [2, 0, 2]
    np.testing.assert_allclose(stats["mu"][1], [0.5, 0.5])  # unseen coarse class: uninformative
    assert stats["counts"].tolist() == [[16, 16], [0, 0], [31, 0]]
    prior = losses.prior_statistics(4, purity=0.7)
    np.testing.assert_allclose(prior["mu"].sum(1), 1.0)


def test_loss_object_and_shape_errors():
    loss = losses.LabelSRLoss(np.full((2, 3), 1 / 3), np.full((2, 3), 0.01), block=4)
    assert torch.isfinite(loss(torch.randn(1, 3, 8, 8), torch.zeros(1, 8, 8, dtype=torch.long)))
    with pytest.raises(ValueError, match="coarse classes"):
        losses.label_sr_loss(
            torch.randn(1, 3, 8, 8),
            torch.zeros(1, 8, 8, dtype=torch.long),
            np.ones((2, 4)),
            np.ones((2, 4)),
            4,
        )


def test_min_pixels_skips_cut_blocks():
    # A 6x6 crop of a 4-pixel grid: one whole 4x4 cell, the rest slivers of 2x4, 4x2 and 2x2 pixels.
    rng = np.random.default_rng(1)
    logits = torch.from_numpy(rng.normal(size=(1, 3, 6, 6)))
    coarse = torch.zeros(1, 6, 6, dtype=torch.long)
    mu, sigma2 = rng.dirichlet(np.ones(3), size=1), np.full((1, 3), 0.02)
    kw = {"block": 4, "align": False}
    stats = losses.block_statistics(logits.softmax(1), coarse, 4, 1, align=False)
    assert sorted(stats["pixels"].tolist()) == [4, 8, 8, 16]
    whole = losses.label_sr_loss(logits[..., :4, :4], coarse[..., :4, :4], mu, sigma2, **kw)
    got = losses.label_sr_loss(logits, coarse, mu, sigma2, min_pixels=9, **kw)
    assert float(got) == pytest.approx(float(whole), rel=1e-12)
    assert float(losses.label_sr_loss(logits, coarse, mu, sigma2, min_pixels=0, **kw)) != float(got)
    # every block too small: a zero loss that still has a graph
    logits.requires_grad_(True)
    none = losses.label_sr_loss(logits, coarse, mu, sigma2, min_pixels=100, **kw)
    none.backward()
    assert float(none.detach()) == 0.0


def test_cooccurrence_variance_floor():
    coarse = np.zeros((1, 8, 8), dtype=np.int64)
    fine = np.zeros((1, 8, 8), dtype=np.int64)
    fine[0, ::4] = 1  # every 4x4 block: 0.75 / 0.25 -> zero variance across blocks
    for floor in (1e-3, 0.03):
        st = losses.cooccurrence_statistics(coarse, fine, 4, 1, 2, min_var=floor, align=False)
        assert np.allclose(st["sigma2"], floor)


# ---- the reference variant (the authors' public code; see losses.reference_sr_loss) ----


def _keras_style_reference(probs, coarse, mu, radius, weights, ignore=255):
    """The reference formula written independently, in the layout of the authors' Keras code:
    channels last, a one-hot coarse mask, a loop over coarse classes, a per-sample loss."""
    n, c, h, w = probs.shape
    k = mu.shape[0]
    y_pred = probs.transpose(0, 2, 3, 1)  # (N, H, W, C)
    y_true = np.zeros((n, h, w, k))
    for j in range(k):
        y_true[..., j] = (coarse == j) & (coarse != ignore)
    mask_size = y_true.sum(axis=(1, 2, 3))[:, None] + 10
    crit = 0.0
    for j in range(k):
        c_mask = y_true[..., j][..., None]
        c_size = c_mask.sum(axis=(1, 2)) + 1e-6  # (N, 1)
        masked = y_pred * c_mask
        mean = masked.sum(axis=(1, 2)) / c_size
        var = (masked * (1 - masked)).sum(axis=(1, 2)) / (c_size * c_size)
        dist = np.maximum(np.abs(mean - mu[j]) - radius[j], 0.0)
        term = dist**2 / (var + radius[j] ** 2 + 1e-6) + np.log(var + 0.03)
        crit = crit + term * (c_size / mask_size) * weights[j]
    return float(crit.sum(axis=1).mean())


def test_reference_hand_computed():
    # 2 x 2 pixels, 2 fine classes: coarse [[0, 0], [1, ignored]]; p(class 0) = .8, .6 | .3
    probs = torch.tensor([[[0.8, 0.6], [0.3, 0.5]]], dtype=torch.float64)
    probs = torch.stack([probs, 1 - probs], 1)  # (1, 2, 2, 2)
    coarse = torch.tensor([[[0, 0], [1, 255]]])
    mu = np.array([[0.9, 0.1], [0.2, 0.8]])
    sigma = np.array([[0.05, 0.05], [0.1, 0.1]])  # interval radii (standard deviations)
    got = losses.label_sr_loss(
        probs,
        coarse,
        mu,
        sigma**2,
        block=2,
        from_logits=False,
        variant="reference",
        class_weights=[1.0, 0.5],
    )
    # coarse 0: n = 2, eta = (.7, .3), rho2 = (.16 + .24) / 4 = .1 per class; both distances
    # relu(.2 - .05) = .15 -> 2 * (.0225 / (.1 + .0025) + log(.13)), share 2 / (3 + 10), weight 1.
    # coarse 1: n = 1, eta = (.3, .7), rho2 = .21; distances relu(.1 - .1) = 0 -> 2 * log(.24),
    # share 1 / 13, weight 0.5.  (1e-6 terms of the reference code change the 7th digit.)
    want = 2 / 13 * 2 * (0.0225 / 0.1025 + math.log(0.13)) + 0.5 / 13 * 2 * math.log(0.24)
    assert float(got) == pytest.approx(want, rel=1e-5)
    assert float(got) == pytest.approx(-0.66999, abs=1e-4)


def test_reference_matches_independent_formula():
    rng = np.random.default_rng(3)
    logits = torch.from_numpy(rng.normal(size=(3, 4, 10, 12)))
    coarse = rng.integers(0, 3, (3, 10, 12))
    coarse[1, :, :6] = 255  # ignored pixels belong to no class
    coarse[2] = 0  # a sample with one coarse class only (the others: empty masks)
    mu = rng.dirichlet(np.ones(4), size=3)
    sigma2 = rng.uniform(0.001, 0.05, size=(3, 4))
    weights = np.array([1.0, 0.5, 0.0])
    got = losses.label_sr_loss(
        logits,
        torch.from_numpy(coarse),
        mu,
        sigma2,
        block=4,
        variant="reference",
        class_weights=weights,
    )
    probs = logits.softmax(1).numpy()
    want = _keras_style_reference(probs, coarse, mu, np.sqrt(sigma2), weights)
    assert float(got) == pytest.approx(want, rel=1e-9)
    # default weights are ones
    ones = losses.label_sr_loss(
        logits, torch.from_numpy(coarse), mu, sigma2, 4, variant="reference"
    )
    want1 = _keras_style_reference(probs, coarse, mu, np.sqrt(sigma2), np.ones(3))
    assert float(ones) == pytest.approx(want1, rel=1e-9)


def test_reference_interval_is_free_and_gradient_flows():
    # a block mean inside mu +- sigma costs nothing beyond the log term: shifting eta within the
    # interval leaves the loss unchanged except through rho2 (here 0: one-hot pixels)
    coarse = torch.zeros(1, 4, 4, dtype=torch.long)
    mu, sigma2 = np.array([[0.75, 0.25]]), np.full((1, 2), 0.1**2)
    inside, outside = torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4)
    inside[:, 0, :, :3] = 1  # 12 of 16 pixels class 0: eta = .75 exactly
    inside[:, 1, :, 3:] = 1
    outside[:, 0] = 1  # eta = 1: |1 - .75| - .1 = .15 outside the interval
    kw = {"block": 4, "from_logits": False, "variant": "reference"}
    share = 16 / 26
    assert float(losses.label_sr_loss(inside, coarse, mu, sigma2, **kw)) == pytest.approx(
        share * 2 * math.log(0.03 + 1e-12), rel=1e-6
    )
    worse = float(losses.label_sr_loss(outside, coarse, mu, sigma2, **kw))
    assert worse == pytest.approx(share * 2 * (0.15**2 / (0.01 + 1e-6) + math.log(0.03)), rel=1e-5)
    logits = torch.zeros(1, 2, 4, 4, requires_grad=True)
    losses.label_sr_loss(
        logits, coarse, np.array([[0.95, 0.05]]), sigma2, 4, variant="reference"
    ).backward()
    assert logits.grad[0, 0].sum() < 0  # descending raises p(class 0) towards the interval
    with pytest.raises(ValueError, match="variant"):
        losses.label_sr_loss(logits, coarse, mu, sigma2, 4, variant="keras")
    with pytest.raises(ValueError, match="variant"):
        losses.LabelSRLoss(mu, sigma2, 4, variant="nope")
    obj = losses.LabelSRLoss(mu, sigma2, 4, variant="reference")
    assert float(obj(inside, coarse)) != float(losses.LabelSRLoss(mu, sigma2, 4)(inside, coarse))


def test_loss_preference_and_variant_choice():
    fine = torch.zeros(1, 4, 4, dtype=torch.long)
    fine[:, :, 3:] = 1  # the true block mix: 75 % class 0, 25 % class 1
    coarse = torch.zeros(1, 4, 4, dtype=torch.long)
    mu = np.array([[0.75, 0.25], [0.5, 0.5]])
    maps = losses.candidate_maps(fine, coarse, mu, 2)
    assert list(maps) == [losses.TRUE_MAP, "coarse labels", "mixture (mu of the coarse class)"]
    assert all(m.shape == (1, 2, 4, 4) for m in maps.values())
    torch.testing.assert_close(
        maps["mixture (mu of the coarse class)"][0, :, 0, 0].double(), torch.tensor(mu[0])
    )
    pref = losses.loss_preference(maps, coarse, mu, np.full((2, 2), 0.01), 4, align=False)
    assert set(pref) == set(losses.LABEL_SR_VARIANTS)
    # the truth matches mu exactly and is confident (rho2 = 0): both variants rank it first, the
    # mixture map pays for its rho2 in the log terms; a tie goes to the kit's default
    assert losses.truth_rank(pref["reference"]) == (1, 0.0)
    assert losses.truth_rank(pref["gaussian"]) == (1, 0.0)
    assert losses.preferred_variant(pref) == "gaussian"
    # made-up tables: rank decides, then the place between best and worst, then the order
    a = {losses.TRUE_MAP: 2.0, "x": 1.0, "y": 5.0}  # rank 2, place 0.25
    b = {losses.TRUE_MAP: -1.0, "x": -3.0, "y": -2.0}  # rank 3
    c = {losses.TRUE_MAP: 3.0, "x": 1.0, "y": 4.0}  # rank 2, place 0.67
    assert losses.truth_rank(a) == (2, 0.25)
    assert losses.preferred_variant({"gaussian": b, "reference": a}) == "reference"
    assert losses.preferred_variant({"gaussian": c, "reference": a}) == "reference"
    assert losses.preferred_variant({"gaussian": a, "reference": dict(a)}) == "gaussian"  # tie


def test_outside_interval_share():
    fine = torch.zeros(1, 2, 8, 8)
    fine[:, 0, :, :6] = 1  # left 4x4 block: 100 % class 0; right block: 50 % / 50 %
    fine[:, 1, :, 6:] = 1
    coarse = torch.zeros(1, 8, 8, dtype=torch.long)
    mu, sigma2 = np.array([[0.8, 0.2]]), np.full((1, 2), 0.25**2)
    # left block |1 - .8| = .2 inside; right block |.5 - .8| = .3 outside, for both classes
    assert losses.outside_interval_share(fine, coarse, mu, sigma2, 4) == pytest.approx(0.5)


# ---- notebook 04's closing checks per ratio (landcover_rules) and the recipes ----


def _ratio_record(**changes):
    """A plausible two-ratio summary of notebook 04 (x3, x50), with ``changes`` ({key: value})."""
    from helpers.training import landcover_rules as lr

    base = {
        "x3": {lr.PRIOR: 0.14, lr.MAJORITY: 0.05, lr.COARSE: 0.75, lr.NAIVE: 0.70, lr.LABEL_SR: 0.60, lr.SUPERVISED: 0.70},
        "x50": {lr.PRIOR: 0.14, lr.MAJORITY: 0.05, lr.COARSE: 0.52, lr.NAIVE: 0.55, lr.LABEL_SR: 0.30, lr.SUPERVISED: 0.70},
    }  # fmt: skip
    out = {lr.iou_key(lr.label_sr_name(n, r)): v for r, d in base.items() for n, v in d.items()}
    out.update(changes)
    return out


RATIOS = {"x3": 3, "x50": 50}


def test_ratio_rules_pass_a_good_record_and_report_targets():
    from helpers.core import checks
    from helpers.training import landcover_rules as lr

    checks.verify(lr.label_sr_rules(_ratio_record(), RATIOS), "teaching")
    targets = lr.label_sr_targets(_ratio_record(), RATIOS)
    assert [t.passed for t in targets] == [
        False,
        True,
    ]  # naive below the 30 m map, above the 500 m one


@pytest.mark.parametrize(
    "key,value",
    [
        ("naive U-Net (x3) macro IoU", 0.15),  # naive at the level of the guess
        ("label SR (x50) macro IoU", 0.12),  # label SR at the level of the guess
        ("supervised U-Net (x50) macro IoU", 0.50),  # below the 500 m map
        ("supervised U-Net (x3) macro IoU", 0.16),  # at the guess, at 30 m
        ("class-prior random guess (x3) macro IoU", float("nan")),  # a floor missing
    ],
)
def test_ratio_rules_fail_a_broken_record(key, value):
    from helpers.core import checks
    from helpers.training import landcover_rules as lr

    broken = _ratio_record(**{key: value})
    if math.isnan(value):
        del broken[key]
        broken[lr.iou_key(lr.label_sr_name(lr.MAJORITY, "x3"))] = float("nan")
    with pytest.raises(AssertionError):
        checks.verify(lr.label_sr_rules(broken, RATIOS), "teaching")


def test_ratio_rules_do_not_ask_the_u_net_to_beat_a_30m_map():
    from helpers.training import landcover_rules as lr

    names = [c.name for c in lr.label_sr_rules(_ratio_record(), RATIOS)]
    assert f"{lr.SUPERVISED} above {lr.COARSE} (x50)" in names
    assert f"{lr.SUPERVISED} above {lr.COARSE} (x3)" not in names


def test_recipes_share_batches_and_learn_from_coarse_labels_only():
    from helpers.training.recipes import label_sr as recipe

    rng = np.random.default_rng(0)
    fine = np.repeat(np.repeat(rng.integers(0, 3, (8, 8)), 4, 0), 4, 1)
    image = np.stack([fine == k for k in range(3)]).astype(np.float32) + rng.normal(
        0, 0.1, (3, 32, 32)
    ).astype(np.float32)
    coarse = np.repeat(np.repeat(fine[::8, ::8], 8, 0), 8, 1)
    patches = recipe.patches_from_arrays(image, coarse, 16, fine=fine)
    s = {
        "crop": 16,
        "batch": 2,
        "samples": 4,
        "epochs": 1,
        "width": 4,
        "depth": 2,
        "learning_rate": 1e-2,
    }
    a = [b["coarse"].clone() for b in recipe.batches(patches, s, 3)]
    b = [b["coarse"].clone() for b in recipe.batches(patches, s, 3)]
    assert all(torch.equal(x, y) for x, y in zip(a, b))  # same seed, same batches: equal steps
    unlabelled = recipe.patches_from_arrays(image, coarse, 16)
    assert all(bool((p["mask"] == 255).all()) for p in unlabelled)
    with pytest.raises(ValueError, match="no fine labels"):
        recipe.statistics(unlabelled, 8, 3)
    st = recipe.statistics(patches, 8, 3)
    assert np.allclose(st["mu"].sum(1), 1)
    # the fine labels do not reach the naive model: scrambling them leaves its weights unchanged
    scrambled = [dict(p, mask=torch.randint(0, 3, p["mask"].shape)) for p in patches]
    m1, _ = recipe.naive(patches, s, 1, num_classes=3, device="cpu", progress=False)
    m2, _ = recipe.naive(scrambled, s, 1, num_classes=3, device="cpu", progress=False)
    assert all(
        torch.equal(x, y) for x, y in zip(m1.state_dict().values(), m2.state_dict().values())
    )
    m3, _ = recipe.supervised(scrambled, s, 1, num_classes=3, device="cpu", progress=False)
    assert not all(
        torch.equal(x, y) for x, y in zip(m1.state_dict().values(), m3.state_dict().values())
    )


def test_cross_entropy_term_keeps_a_dead_class_alive():
    """A class at ~0 probability gets ~no gradient from the label-SR loss (softmax slope p (1 - p))
    but a full one from its cross-entropy term on the coarse labels (``ce_weight``)."""
    logits = torch.zeros(1, 3, 4, 4)
    logits[:, 2] = -30.0  # class 2 is dead: p ~ 1e-13 everywhere
    coarse = torch.full((1, 4, 4), 2)  # ... yet the coarse labels say it is there
    mu = np.eye(3)
    sigma2 = np.full((3, 3), 1e-3)
    grads = {}
    for weight in (0.0, 0.5):
        x = logits.clone().requires_grad_(True)
        losses.LabelSRLoss(mu, sigma2, 4, ce_weight=weight)(x, coarse).backward()
        grads[weight] = float(x.grad[:, 2].abs().sum())
    assert grads[0.0] < 1e-6
    assert grads[0.5] > 0.4  # 0.5 x (1 - p) over the 16 pixels' mean: 0.5
    ce = losses.coarse_cross_entropy(logits, coarse)
    assert float(ce) == pytest.approx(30.0 + math.log(2), rel=1e-6)
    weighted = losses.coarse_cross_entropy(logits, coarse, class_weights=[1.0, 1.0, 3.0])
    assert float(weighted) == pytest.approx(float(ce))  # one labelled class: the weight cancels
    unlabelled = torch.full((1, 4, 4), 255)
    assert float(losses.coarse_cross_entropy(logits, unlabelled)) == 0.0


def test_recipe_criterion_adds_the_weighted_cross_entropy():
    from helpers.training.recipes import label_sr as recipe

    rng = np.random.default_rng(1)
    logits = torch.from_numpy(rng.normal(size=(2, 3, 8, 8)))
    coarse = torch.from_numpy(rng.integers(0, 3, (2, 8, 8)))
    mu, sigma2 = rng.dirichlet(np.ones(3), size=3), np.full((3, 3), 0.01)
    plain = recipe.label_sr_criterion(mu, sigma2, 4)(logits, coarse)
    weights = [1.0, 2.0, 0.5]
    both = recipe.label_sr_criterion(mu, sigma2, 4, ce_weight=0.7, ce_class_weights=weights)
    ce = torch.nn.functional.cross_entropy(logits, coarse, weight=torch.tensor(weights).double())
    assert float(both(logits, coarse)) == pytest.approx(float(plain + 0.7 * ce), rel=1e-9)

"""Notebook 05's recipe: residual generator, class-weighted L1, instance noise, D accuracy,
device-resident crops, and the closing-check rules of notebooks 04 and 05 fed broken records."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers.core import checks
from helpers.data import crops
from helpers.models import losses, pix2pix
from helpers.training import landcover_rules, train
from helpers.training.recipes import gan as gan_recipe


def _onehot(seed: int = 0, n: int = 2, side: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return pix2pix.labels_to_target(torch.randint(0, 8, (n, side, side), generator=g), 8)


@pytest.mark.parametrize("output", ["tanh", "softmax"])
def test_residual_generator_starts_as_its_coarse_input(output):
    torch.manual_seed(0)
    prior = _onehot(side=16)
    if output == "softmax":
        prior = prior / pix2pix.TARGET_SCALE  # +-1 one-hot
    g = pix2pix.generator(8, 8, patch=16, ngf=4, output=output, residual=True)
    plain = pix2pix.generator(8, 8, patch=16, ngf=4, output=output)
    with torch.no_grad():
        assert torch.equal(g(prior).argmax(1), prior.argmax(1))  # it cannot start by destroying it
        assert (plain(prior).argmax(1) == prior.argmax(1)).float().mean() < 0.5
        if output == "tanh":  # exact at zero correction: tanh(atanh(+-0.8)) = +-0.8
            zero = pix2pix.prior_scores(prior, "tanh").tanh()
            assert torch.allclose(zero, prior, atol=1e-6)


def test_residual_needs_the_prior_channels():
    with pytest.raises(ValueError, match="prior"):
        pix2pix.generator(4, 8, patch=16, ngf=4, residual=True)


def test_positive_weight_moves_the_l1_optimum_to_the_class_share():
    # One tanh channel, target +0.8 on 1/4 of the pixels: the plain L1 prefers the all-negative
    # output (the median), a positive weight of 7 prefers +0.8 (weighted median, share > 1/8).
    target = torch.full((1, 1, 4, 4), -0.8)
    target[..., :1, :] = 0.8
    low, high = torch.full_like(target, -0.8), torch.full_like(target, 0.8)
    assert losses.masked_l1(low, target) < losses.masked_l1(high, target)
    assert losses.masked_l1(low, target, positive_weight=7) > losses.masked_l1(
        high, target, positive_weight=7
    )
    # weight 1 is the plain mean, masked pixels still drop out
    valid = torch.ones(1, 4, 4, dtype=torch.bool)
    valid[0, 0, 0] = False
    assert torch.isclose(
        losses.masked_l1(low, target, valid, 1.0), (low - target).abs()[0, 0][valid[0]].mean()
    )


def _pair():
    torch.manual_seed(0)
    g = pix2pix.generator(8, 8, patch=32, ngf=4, residual=True)
    d = pix2pix.discriminator(16, ndf=4)
    opt = [torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.5, 0.999)) for m in (g, d)]
    return g, d, opt


def test_gan_step_reports_d_accuracy_and_noise_changes_what_d_sees():
    g, d, (og, od) = _pair()
    cond, target = _onehot(1, side=32), _onehot(2, side=32)
    out = train.gan_step(g, d, og, od, cond, target, d_noise=0.0)
    assert {"d_real", "d_fake"} <= set(out) and all(0 <= out[k] <= 1 for k in ("d_real", "d_fake"))
    seen = []
    hook = d.register_forward_hook(lambda m, i, o: seen.append(i[0][:, 8:].clone()))
    torch.manual_seed(3)
    train.gan_step(g, d, og, od, cond, target, d_noise=0.5)
    hook.remove()
    real_seen = seen[0]
    assert not torch.equal(real_seen, target)  # D judged a noisy real map
    assert 0.3 < (real_seen - target).std() < 0.7


def test_fit_gan_keeps_d_accuracy_per_step(tmp_path):
    g, d, _ = _pair()
    samples = [
        {
            "image": torch.rand(4, 32, 32),
            "mask": torch.randint(0, 8, (32, 32)),
            "coarse": torch.randint(0, 8, (32, 32)),
        }
        for _ in range(4)
    ]
    loader = crops.resident_gan(samples, 32, 2, seed=0)
    batch_fn = train.gan_batch(8, input_key="coarse", one_hot_input=True, scale=0.8)
    hist = train.fit_gan(
        g,
        d,
        loader,
        2,
        1e-3,
        batch_fn=batch_fn,
        checkpoint=tmp_path / "c.pt",
        progress=False,
        positive_weight=7.0,
        d_noise=0.3,
    )
    assert len(hist.steps["d_real"]) == len(hist.steps["d_loss"]) == 4
    assert all(0 <= v <= 1 for v in hist.steps["d_fake"])


def test_resident_batches_are_deterministic_per_epoch_and_keep_pairs_aligned():
    g = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(3):
        mask = torch.randint(0, 8, (32, 32), generator=g)
        samples.append({"image": mask[None].float().repeat(2, 1, 1), "mask": mask, "coarse": mask})
    a = crops.ResidentBatches(samples, 16, 4, batches=3, augment="rot90+flip", seed=5)
    b = crops.ResidentBatches(samples, 16, 4, batches=3, augment="rot90+flip", seed=5)
    a.set_epoch(2)
    b.set_epoch(2)
    first, again = list(a), list(b)
    assert len(first) == len(a) == 3
    for x, y in zip(first, again):
        assert all(torch.equal(x[k], y[k]) for k in x)
        assert x["image"].shape == (4, 2, 16, 16) and x["mask"].shape == (4, 16, 16)
        assert torch.equal(x["image"][:, 0].long(), x["mask"])  # image and labels cut together
    b.set_epoch(3)
    assert not all(torch.equal(x["mask"], y["mask"]) for x, y in zip(first, list(b)))
    with pytest.raises(ValueError, match="larger"):
        crops.ResidentBatches(samples, 64, 2)


def _record(**over: float) -> dict[str, float]:
    k = landcover_rules.iou_key
    base = {
        k(landcover_rules.PRIOR): 0.12,
        k(landcover_rules.MAJORITY): 0.05,
        k(landcover_rules.COARSE): 0.52,
        k(landcover_rules.NAIVE): 0.60,
        k(landcover_rules.LABEL_SR): 0.35,
        k(landcover_rules.SUPERVISED): 0.75,
        k(landcover_rules.CGAN): 0.53,
        k(landcover_rules.P2P): 0.70,
        k(landcover_rules.P2P_SOFTMAX): 0.69,
        k(landcover_rules.UNET03): 0.74,
    }
    base.update({k(name): v for name, v in over.items()})
    return base


def test_rules_pass_a_good_record():
    checks.verify(landcover_rules.label_sr_rules(_record()), "teaching")
    checks.verify(landcover_rules.gan_rules(_record()), "teaching")


@pytest.mark.parametrize(
    "rules,broken",
    [
        ("label_sr_rules", {landcover_rules.NAIVE: 0.15}),  # naive level with the guess
        ("label_sr_rules", {landcover_rules.LABEL_SR: 0.12}),  # label SR level with the guess
        ("label_sr_rules", {landcover_rules.SUPERVISED: math.nan}),  # missing model
        ("label_sr_rules", {landcover_rules.SUPERVISED: 0.50}),  # supervised below the coarse map
        ("gan_rules", {landcover_rules.CGAN: 0.15}),  # cGAN destroyed its input
        ("gan_rules", {landcover_rules.P2P: 0.12}),  # constant / untrained pix2pix
        ("gan_rules", {landcover_rules.P2P_SOFTMAX: 0.05}),
    ],
)
def test_rules_fail_a_broken_record(rules, broken):
    record = _record()
    record.update({landcover_rules.iou_key(k): v for k, v in broken.items()})
    with pytest.raises(AssertionError):
        checks.verify(getattr(landcover_rules, rules)(record), "teaching")
    checks.verify(getattr(landcover_rules, rules)(record), "smoke")  # learned checks only warn


def test_targets_are_reported_not_raised():
    k = landcover_rules.iou_key
    short = _record(
        **{landcover_rules.NAIVE: 0.40, landcover_rules.CGAN: 0.51, landcover_rules.P2P: 0.60}
    )
    gan = landcover_rules.gan_targets(short)
    lsr = landcover_rules.label_sr_targets(short)
    assert [c.passed for c in gan] == [False, False] and [c.passed for c in lsr] == [False]
    assert [c.passed for c in landcover_rules.gan_targets(_record())] == [True, True]
    text = landcover_rules.report_targets(gan + lsr)
    assert text.count("**not met**") == 3
    no_unet = dict(short)
    no_unet[k(landcover_rules.UNET03)] = math.nan
    assert len(landcover_rules.gan_targets(no_unet)) == 1  # no U-Net: no pix2pix target
    # the cGAN may sit a little below its input (seed spread), not far below
    checks.verify(landcover_rules.gan_rules(short), "teaching")


def test_gan_batch_standardises_an_image_condition_with_training_stats():
    g = torch.Generator().manual_seed(0)
    batch = {
        "image": 0.1 + 0.02 * torch.randn(2, 4, 8, 8, generator=g),
        "mask": torch.zeros(2, 8, 8, dtype=torch.long),
    }
    mean, std = batch["image"].mean((0, 2, 3)), batch["image"].std((0, 2, 3))
    plain, _, _ = train.gan_batch(8)(batch)
    cond, target, valid = train.gan_batch(8, input_stats=(mean, std))(batch)
    assert torch.equal(plain, batch["image"])  # default: the bands as they come
    assert torch.allclose(cond.mean((0, 2, 3)), torch.zeros(4), atol=1e-5)
    assert torch.allclose(cond.std((0, 2, 3)), torch.ones(4), atol=1e-4)
    assert target.shape == (2, 8, 8, 8) and valid.all()


def _arrays(n: int = 4, side: int = 32):
    rng = np.random.default_rng(0)
    fine = rng.integers(0, 8, (n, side, side))
    coarse = fine.copy()
    coarse[:, : side // 4] = 3
    fine[0, 0, 0] = 99  # an unknown pixel, in the caller's own ignore value
    return fine, coarse, rng.random((n, 3, side, side)).astype("float32")


def test_recipes_train_from_plain_arrays():
    fine, coarse, images = _arrays()
    small = dict(profile="smoke", device="cpu", ignore_index=99, crop=32, batch=2, progress=False)
    cg = gan_recipe.cgan(
        coarse, fine, test=(coarse[:2], fine[:2]), seeds=[0], epochs=1, steps_per_epoch=2, **small
    )
    assert cg.method.startswith("cGAN") and len(cg.runs.scores) == 1 and cg.runs.steps() == 2
    assert gan_recipe.predict(cg, coarse[:3]).shape == (3, 32, 32)
    p2p = gan_recipe.pix2pix(images, fine, output="softmax", seeds=[0, 1], decay_from=0, **small)
    assert p2p.runs.seeds == [0, 1] and p2p.runs.scores == []  # no test arrays: no scores
    assert p2p.input_stats is not None and p2p.input_stats[0].shape == (3,)
    assert gan_recipe.predict(p2p, images[:1]).shape == (1, 32, 32)


def test_recipes_refuse_bad_labels_and_unknown_settings():
    fine, coarse, _ = _arrays()
    with pytest.raises(ValueError, match="outside 0..7"):
        gan_recipe.samples(fine, coarse)  # 99 is not declared as the ignore value
    items = gan_recipe.samples(fine, coarse, ignore_index=99)
    assert int(items[0]["mask"][0, 0]) == 255 and len(items) == 4
    with pytest.raises(KeyError, match="config.PROFILES"):
        gan_recipe.settings("smoke", bogus=1)
    with pytest.raises(ValueError, match="output"):
        gan_recipe.pix2pix(_arrays()[2], fine, output="sigmoid", ignore_index=99)


def test_softmax_seeds_are_the_profiles_first_seeds_and_no_part_of_the_recipe(monkeypatch):
    """Notebook 05 trains the softmax image on ``softmax_seeds`` of its seeds (teaching: the first
    one, for time; a profile without the key: all), and that number does not stale a long run."""
    from helpers.core import config
    from helpers.records import long_runs

    assert gan_recipe.softmax_seeds([4, 5, 6], "teaching") == [4]
    assert gan_recipe.softmax_seeds([4, 5, 6], "full") == [4, 5, 6]  # full: every seed
    assert "softmax_seeds" in long_runs.NOT_RECIPE
    teaching = dict(config.PROFILES["cgan_pix2pix"]["teaching"])
    before = long_runs.recipe("cgan_pix2pix", "teaching")
    monkeypatch.setitem(
        config.PROFILES["cgan_pix2pix"], "teaching", teaching | {"softmax_seeds": 2}
    )
    assert gan_recipe.softmax_seeds([4, 5, 6], "teaching") == [4, 5]
    assert long_runs.recipe("cgan_pix2pix", "teaching") == before


def test_learning_rate_schedule_decays_linearly_to_the_last_epoch():
    from helpers.training.train.gan import lr_factor

    assert [lr_factor(e, 4, None) for e in range(4)] == [1.0] * 4
    assert [lr_factor(e, 4, 2) for e in range(4)] == pytest.approx([1.0, 1.0, 2 / 3, 1 / 3])

"""Notebook 05's recipe options: a zero-initialised last layer, the generator kept by its score on
held-out training patches, the adversarial weight, and `eosr train cgan|pix2pix` through the recipe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.apps import jobs
from helpers.core import config
from helpers.data import crops, synthetic
from helpers.models import pix2pix
from helpers.training import train
from helpers.training.recipes import gan as gan_recipe
from helpers.training.train.gan import selected_epoch

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: small convs, one thread


def _onehot(seed: int, n: int = 2, side: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return pix2pix.labels_to_target(torch.randint(0, 8, (n, side, side), generator=g), 8)


def test_zero_last_layer_returns_the_prior_exactly_and_still_learns():
    torch.manual_seed(0)
    prior = _onehot(0)
    g = pix2pix.generator(8, 8, patch=16, ngf=4, residual=True, zero_last=True)
    noisy = pix2pix.generator(8, 8, patch=16, ngf=4, residual=True)
    with torch.no_grad():
        assert torch.allclose(g(prior), prior, atol=1e-6)  # tanh(atanh(+-0.8) + 0)
        assert not torch.allclose(noisy(prior), prior, atol=1e-6)  # the paper's init adds noise
    opt = torch.optim.Adam(g.parameters(), lr=1e-2)
    loss = (g(prior) - _onehot(1)).abs().mean()
    loss.backward()
    opt.step()
    with torch.no_grad():
        assert not torch.allclose(g(prior), prior, atol=1e-4)  # the zero layer's weights moved


def test_held_out_patches_are_disjoint_from_training_ones():
    items = [{"mask": torch.full((4, 4), i)} for i in range(12)]
    train_items, val_items = gan_recipe.held_out(items, 6)
    seen = [int(s["mask"][0, 0]) for s in train_items]
    assert [int(s["mask"][0, 0]) for s in val_items] == [5, 11] and len(train_items) == 10
    assert not {5, 11} & set(seen)
    assert gan_recipe.held_out(items, None) == (items, [])
    with pytest.warns(UserWarning, match="too few"):
        assert gan_recipe.held_out(items[:3], 6) == (items[:3], [])
    with pytest.raises(ValueError, match="select_every"):
        gan_recipe.held_out(items, 1)


def _samples(n: int = 4, side: int = 32) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    fine = torch.randint(0, 8, (n, side, side), generator=g)
    coarse = torch.where(torch.rand(n, side, side, generator=g) < 0.8, fine, 3)
    return [{"mask": fine[i], "coarse": coarse[i]} for i in range(n)]


def test_keep_best_ends_with_the_best_scoring_weights(tmp_path):
    torch.manual_seed(0)
    g = pix2pix.generator(8, 8, patch=32, ngf=4, residual=True, zero_last=True)
    d = pix2pix.discriminator(16, ndf=4)
    items = _samples()
    batch_fn = train.gan_batch(8, input_key="coarse", one_hot_input=True, scale=0.8)
    val = gan_recipe.batches(items[3:])
    hist = train.fit_gan(
        g, d, crops.ResidentBatches(items[:3], 32, 2, keys=("mask", "coarse")), 3, 5e-2, batch_fn=batch_fn,
        checkpoint=tmp_path / "c.pt", progress=False, num_classes=8, val_loader=val,
        keep_best=True,
    )  # fmt: skip
    chosen = selected_epoch(hist)
    scores = [hist.val[0][train.gan.BEFORE]] + [v["iou"] for v in hist.val]
    assert chosen is not None and 0 <= chosen <= 3
    assert scores[chosen] == max(scores)  # the kept epoch is the best one, the untrained G included
    now = train.evaluate_gan(g, val, batch_fn, 8).macro("iou")
    assert now == pytest.approx(max(scores))  # and G holds its weights, not the last epoch's
    again = train.fit_gan(  # the finished checkpoint resumes with the kept weights and marks
        g, d, crops.ResidentBatches(items[:3], 32, 2, keys=("mask", "coarse")), 3, 5e-2, batch_fn=batch_fn,
        checkpoint=tmp_path / "c.pt", progress=False, num_classes=8, val_loader=val,
        keep_best=True,
    )  # fmt: skip
    assert selected_epoch(again) == chosen
    with pytest.raises(ValueError, match="keep_best"):
        train.fit_gan(g, d, val, 1, batch_fn=batch_fn, progress=False, keep_best=True)


def test_val_every_scores_every_kth_and_the_last_epoch_and_keeps_only_among_them(tmp_path):
    torch.manual_seed(0)
    g = pix2pix.generator(8, 8, patch=32, ngf=4, residual=True, zero_last=True)
    d = pix2pix.discriminator(16, ndf=4)
    items = _samples()
    batch_fn = train.gan_batch(8, input_key="coarse", one_hot_input=True, scale=0.8)
    val = gan_recipe.batches(items[3:])
    hist = train.fit_gan(
        g, d, crops.ResidentBatches(items[:3], 32, 2, keys=("mask", "coarse")), 5, 5e-2,
        batch_fn=batch_fn, checkpoint=tmp_path / "c.pt", progress=False, num_classes=8,
        val_loader=val, keep_best=True, val_every=2,
    )  # fmt: skip
    scored = [e for e, v in zip(hist.epoch, hist.val) if "iou" in v]
    assert scored == [2, 4, 5]  # every 2nd epoch and the last one
    assert all("kept" not in v for e, v in zip(hist.epoch, hist.val) if e not in scored)
    scores = {0: hist.val[0][train.gan.BEFORE]} | {
        e: v["iou"] for e, v in zip(hist.epoch, hist.val) if "iou" in v
    }
    chosen = selected_epoch(hist)
    best = max(scores.values())
    assert chosen in scores and scores[chosen] == best
    assert train.evaluate_gan(g, val, batch_fn, 8).macro("iou") == pytest.approx(best)
    with pytest.raises(ValueError, match="val_every"):
        train.fit_gan(g, d, val, 1, batch_fn=batch_fn, progress=False, val_every=0)


def test_gan_weight_scales_the_adversarial_term_only():
    torch.manual_seed(0)
    g = pix2pix.generator(8, 8, patch=32, ngf=4, residual=True)
    d = pix2pix.discriminator(16, ndf=4)
    opts = [torch.optim.SGD(m.parameters(), lr=0.0) for m in (g, d)]  # lr 0: the same nets
    cond, target = _onehot(1, side=32), _onehot(2, side=32)
    full = train.gan_step(g, d, *opts, cond, target, lambda_l1=100.0)
    none = train.gan_step(g, d, *opts, cond, target, lambda_l1=100.0, gan_weight=0.0)
    assert none["g_loss"] == pytest.approx(100.0 * none["g_l1"], rel=1e-5)
    assert full["g_loss"] == pytest.approx(full["g_gan"] + 100.0 * full["g_l1"], rel=1e-5)


def test_the_recipe_selects_on_held_out_patches_and_reports_the_epoch():
    rng = np.random.default_rng(0)
    fine = rng.integers(0, 8, (6, 32, 32))
    coarse = np.where(rng.random((6, 32, 32)) < 0.8, fine, 3)
    small = dict(profile="smoke", device="cpu", crop=32, batch=2, progress=False, seeds=[0])
    cg = gan_recipe.cgan(
        coarse, fine, epochs=2, steps_per_epoch=2, cgan_select_every=3, cgan_zero_last=True,
        **small,
    )  # fmt: skip
    assert selected_epoch(cg.runs.histories[0]) in (0, 1, 2)
    plain = gan_recipe.cgan(
        coarse, fine, epochs=1, steps_per_epoch=2, cgan_select_every=None, **small
    )
    assert selected_epoch(plain.runs.histories[0]) is None  # no selection: the last epoch's G


def test_gan_jobs_train_through_the_recipe(tmp_path, monkeypatch):
    paths = synthetic.ensure_sample("smoke", verbose=False)
    calls = {}

    class Fake:  # what the recipe returns, as far as the job reads it
        method = "fake"

        class runs:  # noqa: N801
            scores = [type("S", (), {"summary": lambda self: {"iou": 0.5}})()]
            histories = ["history"]

    def fake(kind):
        def recipe(*arrays, **kwargs):
            calls[kind] = (arrays, kwargs)
            return Fake()

        return recipe

    monkeypatch.setattr(jobs.gan, "cgan", fake("cgan"))
    monkeypatch.setattr(jobs.gan, "pix2pix", fake("pix2pix"))
    for kind in ("cgan", "pix2pix"):
        settings = config.settings("05_cgan_pix2pix", "smoke")
        job = jobs.Job(
            kind, "smoke", settings, 2, 2, 0, torch.device("cpu"), paths, tmp_path / "c.pt"
        )
        assert jobs._gan(job) == ({"iou": 0.5}, "history")
        arrays, kwargs = calls[kind]
        assert kwargs["epochs"] == 2 and kwargs["seeds"] == [0] and kwargs["profile"] == "smoke"
        assert arrays[0].ndim == (3 if kind == "cgan" else 4)  # coarse labels or image bands
        batches = kwargs["loader"](crops.for_gan(crops.load(job.dfc2020("validation")), 64))
        assert batches.batch_size == 2  # the job's sampler feeds the recipe
        assert kwargs["checkpoint_for"]("any") == tmp_path / "c.pt"


def test_what_to_change_reads_the_curves():
    duel = {"steps": 300.0, "d_wins_at_step": 40.0, "l1_late_fall": 0.05}
    text = gan_recipe.what_to_change(duel, kept=0, epochs=35)
    assert "gan_weight" in text and "train longer" in text and "untrained" in text
    calm = {"steps": 300.0, "d_wins_at_step": float("nan"), "l1_late_fall": 0.001}
    assert gan_recipe.what_to_change(calm).startswith("nothing")
    assert "epoch 5 of 35" in gan_recipe.what_to_change(calm, kept=5, epochs=35)
    assert gan_recipe.what_to_change(calm, kept=30, epochs=35).startswith("nothing")


def test_fit_gan_passes_the_adversarial_weight_to_every_step(tmp_path):
    torch.manual_seed(0)
    g = pix2pix.generator(8, 8, patch=32, ngf=4, residual=True)
    d = pix2pix.discriminator(16, ndf=4)
    batch_fn = train.gan_batch(8, input_key="coarse", one_hot_input=True, scale=0.8)
    hist = train.fit_gan(
        g, d, crops.ResidentBatches(_samples(), 32, 2, keys=("mask", "coarse")), 1, 1e-3,
        batch_fn=batch_fn, checkpoint=tmp_path / "c.pt", progress=False, gan_weight=0.0,
    )  # fmt: skip
    assert hist.g_loss[-1] == pytest.approx(100.0 * hist.g_l1[-1], rel=1e-5)

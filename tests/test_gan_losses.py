"""GAN losses of pix2pix (vanilla BCE-with-logits, LSGAN) and the L1 term, on simple inputs."""

from __future__ import annotations

import math

import pytest
import torch

from helpers.models import losses


def test_vanilla_values():
    zero = torch.zeros(2, 1, 4, 4)
    assert losses.gan_loss(zero, True).item() == pytest.approx(math.log(2))
    assert losses.gan_loss(zero, False).item() == pytest.approx(math.log(2))
    big = torch.full((1, 1, 3, 3), 20.0)
    assert losses.gan_loss(big, True).item() == pytest.approx(0.0, abs=1e-6)
    assert losses.gan_loss(big, False).item() == pytest.approx(20.0, rel=1e-5)


def test_lsgan_values():
    x = torch.tensor([0.0, 1.0, 2.0])
    assert losses.gan_loss(x, True, "lsgan").item() == pytest.approx((1 + 0 + 1) / 3)
    assert losses.gan_loss(x, False, "lsgan").item() == pytest.approx((0 + 1 + 4) / 3)


def test_unknown_mode():
    with pytest.raises(ValueError, match="vanilla"):
        losses.gan_loss(torch.zeros(1), True, "wgan")


def test_discriminator_loss_is_half_sum():
    real, fake = torch.tensor([2.0]), torch.tensor([-1.0])
    expected = 0.5 * (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0)))
    assert losses.discriminator_loss(real, fake).item() == pytest.approx(expected)


def test_masked_l1_and_generator_loss():
    out = torch.zeros(1, 2, 2, 2)
    target = torch.ones(1, 2, 2, 2)
    target[..., 1, 1] = 5.0
    valid = torch.ones(1, 2, 2, dtype=torch.bool)
    valid[0, 1, 1] = False
    assert losses.masked_l1(out, target, valid).item() == pytest.approx(1.0)
    assert losses.masked_l1(out, target).item() == pytest.approx((3 + 5) / 4)
    total, adv, l1 = losses.generator_loss(torch.zeros(1, 1, 2, 2), out, target, valid)
    assert losses.LAMBDA_L1 == 100.0
    assert adv.item() == pytest.approx(math.log(2))
    assert total.item() == pytest.approx(math.log(2) + 100.0)
    assert l1.item() == pytest.approx(1.0)


def test_losses_have_gradients():
    logits = torch.zeros(1, 1, 2, 2, requires_grad=True)
    losses.gan_loss(logits, True).backward()
    assert logits.grad is not None and (logits.grad < 0).all()  # raising the logit lowers the loss


# ---- fit_gan: the adversarial loop ----


def _toy_loader(n_batches=2, batch=2, patch=32, bands=4, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        mask = torch.randint(0, classes, (batch, patch, patch), generator=g)
        image = torch.nn.functional.one_hot(mask, bands).permute(0, 3, 1, 2).float()
        out.append({"image": image + 0.1 * torch.randn(image.shape, generator=g), "mask": mask})
    return out


def _pair(seed=0):
    from helpers.models import pix2pix

    torch.manual_seed(seed)
    return pix2pix.generator(4, 3, patch=32, ngf=4), pix2pix.discriminator(7, ndf=4)


def test_fit_gan_runs_two_steps_and_resumes(tmp_path):
    from helpers.training import train

    loader = _toy_loader()
    g, d = _pair()
    before = [p.detach().clone() for p in g.parameters()]
    ckpt = tmp_path / "gan" / "checkpoint.pt"
    h1 = train.fit_gan(
        g, d, loader, epochs=1, num_classes=3, checkpoint=ckpt, progress=False, device="cpu", seed=0
    )
    assert h1.epochs_done == 1 and len(h1.steps["d_loss"]) == 2 and ckpt.exists()
    assert (ckpt.parent / "history.json").exists()
    assert any(not torch.equal(a, b) for a, b in zip(before, g.parameters()))
    assert all(math.isfinite(v) for v in h1.d_loss + h1.g_loss)

    # Resume into fresh models: continues at epoch 2 and ends where an uninterrupted run ends.
    g2, d2 = _pair(seed=123)
    h2 = train.fit_gan(
        g2,
        d2,
        loader,
        epochs=2,
        num_classes=3,
        checkpoint=ckpt,
        progress=False,
        device="cpu",
        val_loader=loader,
    )
    assert h2.epoch == [1, 2] and len(h2.steps["g_l1"]) == 4
    assert set(h2.val[-1]) >= {"iou", "f1", "accuracy"}
    g3, d3 = _pair()
    train.fit_gan(
        g3,
        d3,
        loader,
        epochs=2,
        num_classes=3,
        checkpoint=tmp_path / "straight.pt",
        progress=False,
        device="cpu",
        seed=0,
    )
    for a, b in zip(g2.state_dict().values(), g3.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)
    with pytest.raises(FileExistsError):
        train.fit_gan(
            g2,
            d2,
            loader,
            epochs=3,
            num_classes=3,
            checkpoint=ckpt,
            progress=False,
            device="cpu",
            resume=False,
        )


def test_fit_gan_time_budget_and_batch_fn(tmp_path):
    from helpers.training import train

    loader = [dict(b, coarse=b["mask"]) for b in _toy_loader(n_batches=3)]
    torch.manual_seed(0)
    from helpers.models import pix2pix

    g, d = pix2pix.generator(3, 3, patch=32, ngf=4), pix2pix.discriminator(6, ndf=4)
    fn = train.gan_batch(3, input_key="coarse", one_hot_input=True)
    with pytest.warns(train.TrainingCapped, match="TRAINING CAPPED"):
        h = train.fit_gan(
            g,
            d,
            loader,
            epochs=5,
            batch_fn=fn,
            time_budget_s=0.0,
            checkpoint=tmp_path / "c.pt",
            progress=False,
            device="cpu",
            gan_mode="lsgan",
        )
    assert h.stopped_early and h.capped and h.stop_reason.startswith("capped")
    assert h.epochs_done == 1 and len(h.steps["d_loss"]) == 1
    with pytest.raises(ValueError, match="num_classes"):
        train.fit_gan(g, d, loader, epochs=1, checkpoint=tmp_path / "x.pt", progress=False)


def test_gan_step_freezes_nothing_permanently():
    from helpers.training import train

    g, d = _pair()
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    cond, target, valid = train.gan_batch(3)(_toy_loader(1)[0])
    d_before = [p.detach().clone() for p in d.parameters()]
    out = train.gan_step(g, d, opt_g, opt_d, cond, target, valid)
    assert set(out) == {"d_loss", "g_loss", "g_gan", "g_l1", "d_real", "d_fake"}
    assert all(p.requires_grad for p in d.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(d_before, d.parameters()))
    assert out["g_loss"] == pytest.approx(out["g_gan"] + 100 * out["g_l1"], rel=1e-5)


def test_memory_crops():
    from helpers.data import crops

    samples = [
        {
            "image": torch.arange(2 * 8 * 8).reshape(2, 8, 8).float(),
            "mask": torch.arange(64).reshape(8, 8),
            "id": "a",
        }
    ]
    ds = crops.for_gan(samples, crop=4, keys=("image", "mask"), seed=1)
    a = ds[0]
    assert a["image"].shape == (2, 4, 4) and a["mask"].shape == (4, 4) and "id" not in a
    assert torch.equal(a["image"][0], ds[0]["image"][0])  # deterministic per epoch
    # image and mask are cropped and flipped together
    assert torch.equal(
        a["image"][0], samples[0]["image"][0].flatten()[a["mask"].flatten()].reshape(4, 4)
    )
    seen = set()
    for epoch in range(6):
        ds.set_epoch(epoch)
        seen.add(tuple(ds[0]["mask"].flatten().tolist()))
    assert len(seen) > 1
    with pytest.raises(ValueError, match="larger"):
        crops.for_gan(samples, crop=16)

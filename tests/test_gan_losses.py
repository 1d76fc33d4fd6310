"""GAN losses of pix2pix (vanilla BCE-with-logits, LSGAN) and the L1 term, on simple inputs."""

from __future__ import annotations

import math

import pytest
import torch

from helpers import losses


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

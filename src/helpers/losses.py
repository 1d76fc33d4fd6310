"""Losses of the kit: label super-resolution (Malkin et al.), GAN losses, and the NTL SR objective."""

from __future__ import annotations

# ---- land cover: label super-resolution and GAN losses (notebooks 04, 05) ----

# GAN losses (pix2pix, notebook 05)
# Isola et al. 2017: D minimises 0.5 * (GAN(D(x, y), real) + GAN(D(x, G(x)), fake)); G minimises
# GAN(D(x, G(x)), real) + lambda_L1 * |y - G(x)|_1 with lambda_L1 = 100. "vanilla" is the paper's
# cross-entropy on logits (BCEWithLogits), "lsgan" the least-squares variant of the reference code.

GAN_MODES = ("vanilla", "lsgan")
LAMBDA_L1 = 100.0


def gan_loss(logits, target_is_real: bool, mode: str = "vanilla"):  # noqa: ANN001, ANN201
    """Adversarial loss of discriminator logits against an all-real (1) or all-fake (0) target."""
    import torch.nn.functional as F

    if mode not in GAN_MODES:
        raise ValueError(f"Unknown GAN mode {mode!r}; choose one of {GAN_MODES}.")
    target = logits.new_full(logits.shape, 1.0 if target_is_real else 0.0)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    return F.mse_loss(logits, target)


def masked_l1(output, target, valid=None):  # noqa: ANN001, ANN201
    """Mean |output - target| over channels and the pixels where ``valid`` (B, H, W) is True."""
    diff = (output - target).abs()
    if valid is None:
        return diff.mean()
    weight = valid.unsqueeze(1).to(diff.dtype).expand_as(diff)
    return (diff * weight).sum() / weight.sum().clamp_min(1.0)


def discriminator_loss(real_logits, fake_logits, mode: str = "vanilla"):  # noqa: ANN001, ANN201
    """pix2pix D objective: half the sum of the real (label 1) and fake (label 0) losses."""
    return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))


def generator_loss(fake_logits, fake, target, valid=None, mode: str = "vanilla", lambda_l1: float = LAMBDA_L1):  # noqa: ANN001, ANN201
    """pix2pix G objective: fool D (label 1) plus ``lambda_l1`` times L1 to the target.

    Returns ``(total, adversarial, l1)`` so that the training loop can log each part.
    """
    adversarial = gan_loss(fake_logits, True, mode)
    l1 = masked_l1(fake, target, valid)
    return adversarial + lambda_l1 * l1, adversarial, l1

# ---- night lights: multi-scale L1 and ISP auxiliary loss (notebooks 08, 09) ----

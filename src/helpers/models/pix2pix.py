"""pix2pix: a U-Net generator and a PatchGAN discriminator for image-to-label translation.

Paper: Isola, P., Zhu, J.-Y., Zhou, T. and Efros, A. A., 2017. Image-to-image translation with
conditional adversarial networks. CVPR, pp. 1125-1134 (cited by HR-MARS, methods 3 and 4).
The layers follow the authors' reference code (junyanz/pytorch-CycleGAN-and-pix2pix, ``networks.py``:
``UnetGenerator`` / ``UnetSkipConnectionBlock`` / ``NLayerDiscriminator``), so that ``unet_256``
(3 -> 3 channels, batch norm) has 54,413,955 parameters and the 70x70 PatchGAN (``n_layers=3``,
6 input channels) 2,768,705; ``tests/test_pix2pix.py`` pins both.

What is kept: 4x4 convolutions with stride 2, LeakyReLU(0.2) on the way down, ReLU on the way up,
batch norm (no bias in convolutions followed by batch norm), skip connections by concatenation,
dropout 0.5 in three decoder blocks at 256 px, tanh output, weights drawn from N(0, 0.02)
(batch-norm scales from N(1, 0.02)).

Departures, all stated:
- Depth follows the patch: ``num_downs = log2(patch)`` (8 at 256 px, 6 at 64 px) so that the
  bottleneck is 1x1. Channels are ``ngf * min(2**i, 8)`` at depth ``i`` as in the reference; the
  dropout blocks are the reference's ones (the ``ngf*8 -> ngf*8`` blocks between the innermost
  block and the ``ngf*4`` block: ``num_downs - 5`` of them, 3 at 256 px, 1 at 64 px, none below
  32 px). Like the reference code (and unlike Table/Appendix 6.1.1 of the paper, whose first
  decoder block has dropout), the innermost decoder block has none.
- Any band count in and any class count out. For land cover the generator returns one channel per
  class in [-1, 1] (tanh); training targets are the one-hot labels scaled to [-1, 1]
  (:func:`labels_to_target`) and the predicted label is the argmax over channels
  (:func:`output_to_labels`). The paper translates images to images, not to class maps.
- Soft one-hot targets for the tanh output: +-0.8 instead of +-1 (:data:`TARGET_SCALE`). With +-1
  the L1 term drives every class channel into tanh's flat tail at -1 before the model is sure of
  any class, and training stalls (measured on the sample scene, teaching profile: cGAN IoU 0.05
  with +-1 vs 0.32 with +-0.8). The conditioning one-hot of the cGAN uses the same scale.
- ``output="softmax"`` (an option; the default stays ``"tanh"``): the last layer is
  :class:`SoftmaxImage`, ``2 softmax(x) - 1`` over the class channels, still an image in [-1, 1]
  whose fully confident pixels are exactly the +-1 one-hot targets. Why: with independent tanh
  channels, L1 is minimised channel by channel by the *median*, so a class channel rises above
  -0.8 only where the model is more than 50 % sure of that class; elsewhere every channel sits at
  -0.8 and the argmax is noise (pix2pix S2 -> land cover: IoU ~0.10 on the sample scene, teaching
  profile, the L1 term stuck at the all-negative value). With coupled channels the L1 to the
  one-hot is ``4 (1 - p_true)`` per pixel, which rewards putting probability on the right class
  anywhere (IoU ~0.45-0.54 with the same budget). Isola et al.'s own photo -> labels experiment
  used colour-coded label images, not one channel per class.
- Inputs are the kit's normalised bands (S2 reflectance in [0, 1]), standardised per band with the
  training patches' mean and std in notebook 05 (``train.gan_batch(input_stats=...)``), or one-hot
  labels in [-1, 1]; the reference rescales RGB images to [-1, 1].
- Evaluation in the notebooks uses each test batch's batch-norm statistics, as the reference
  tests (:func:`with_batch_statistics`), with dropout off so that scores are deterministic; the
  paper also keeps dropout on at test time.
- ``ngf``/``ndf`` are parameters: the teaching profile uses small widths so that it trains on a CPU.
- ``zero_last`` (an option, used with ``residual``): the last convolution starts at zero instead
  of N(0, 0.02), so a residual generator starts exactly at its prior (ReZero-like); it still
  learns, since the gradient of the zero layer's weights is not zero.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# Magnitude of the one-hot targets for the tanh output (1.0 = plain [-1, 1] one-hot); see the docstring.
TARGET_SCALE = 0.8
OUTPUTS = ("tanh", "softmax")
# residual generator, softmax image: the prior's logit gap between its class and the others is
# 2 * PRIOR_GAIN, so an untrained G puts p = e^4 / (e^4 + 7) ~ 0.89 on the prior's class.
PRIOR_GAIN = 2.0


# SoftmaxImage: (B, C, H, W) scores -> (B, C, H, W) in [-1, 1], channels coupled by a softmax.
class SoftmaxImage(nn.Module):
    """``2 * softmax(x) - 1`` over channels: a class map as an image in [-1, 1] (see docstring)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities mapped to [-1, 1]."""
        return 2.0 * x.softmax(1) - 1.0


def prior_scores(prior: torch.Tensor, output: str) -> torch.Tensor:
    """Pre-activation scores that the output layer maps back onto a one-hot ``prior`` in [-1, 1]:
    ``atanh`` for tanh (exact for +-0.8 one-hots), ``PRIOR_GAIN * prior`` for the softmax image."""
    if output == "tanh":
        return torch.atanh(prior.clamp(-TARGET_SCALE, TARGET_SCALE))
    return PRIOR_GAIN * prior


def output_layer(output: str) -> nn.Module:
    """The generator's last layer: ``"tanh"`` (the paper) or ``"softmax"`` (:class:`SoftmaxImage`)."""
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    return nn.Tanh() if output == "tanh" else SoftmaxImage()


# UNetSkipBlock: one level of the U-Net. Input (B, outer, H, W) -> down conv to (B, inner, H/2, W/2)
# -> the deeper levels -> up conv back to (B, outer, H, W), concatenated with the input
# (B, 2*outer, H, W); the outermost block returns the up conv's (B, out_channels, H, W) through
# ``final`` (tanh by default).
class UNetSkipBlock(nn.Module):
    """One encoder/decoder level of the pix2pix U-Net with its skip connection."""

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        use_dropout: bool = False,
        final: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=False)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = nn.BatchNorm2d(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = nn.BatchNorm2d(outer_nc)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            layers = [downconv, submodule, uprelu, upconv, nn.Tanh() if final is None else final]
        elif innermost:
            upconv = nn.ConvTranspose2d(
                inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=False
            )
            layers = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(
                inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=False
            )
            layers = [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outermost: the output; otherwise the input concatenated with the level's output."""
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


# UNetGenerator ("U-Net" of Fig. 3): (B, in_channels, H, W) -> (B, out_channels, H, W) in [-1, 1];
# H and W must be multiples of 2**num_downs.
class UNetGenerator(nn.Module):
    """The pix2pix generator G: a U-Net of ``num_downs`` levels with a tanh (or softmax-image) output."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_downs: int = 8,
        ngf: int = 64,
        dropout: bool = True,
        output: str = "tanh",
        residual: bool = False,
    ) -> None:
        super().__init__()
        if num_downs < 1:
            raise ValueError(f"num_downs must be >= 1, got {num_downs}")
        if residual and in_channels < out_channels:
            raise ValueError(
                "residual=True needs the one-hot prior in the first out_channels input channels"
            )
        last = output_layer(output)
        final = nn.Identity() if residual else last
        self.output, self.residual = output, residual
        self.in_channels, self.out_channels, self.num_downs, self.ngf = (
            in_channels,
            out_channels,
            num_downs,
            ngf,
        )
        width = [ngf * min(2**i, 8) for i in range(num_downs)]  # channels below level i
        block: nn.Module | None = None
        for i in reversed(range(num_downs)):
            innermost, outermost = i == num_downs - 1, i == 0
            # The reference puts dropout in the ngf*8 -> ngf*8 blocks that are not the innermost.
            drop = dropout and not innermost and i >= 4
            block = UNetSkipBlock(
                out_channels if outermost else width[i - 1],
                width[i],
                input_nc=in_channels if outermost else None,
                submodule=block,
                outermost=outermost,
                innermost=innermost,
                use_dropout=drop,
                final=final if outermost else None,
            )
        self.model = block
        self.final = last  # registered after the U-Net, so that it stays the last module listed

    @property
    def size_multiple(self) -> int:
        """Inputs must have sides divisible by this (``helpers.training.inference.predict_scene`` pads to it)."""
        return 2**self.num_downs

    @property
    def target_scale(self) -> float:
        """Magnitude of the one-hot targets this output can reach: 0.8 for tanh, 1 for softmax."""
        return TARGET_SCALE if self.output == "tanh" else 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate ``x`` (B, in, H, W) to (B, out, H, W) in [-1, 1]."""
        side = self.size_multiple
        if x.shape[-1] % side or x.shape[-2] % side:
            raise ValueError(
                f"UNetGenerator with num_downs={self.num_downs} needs H and W divisible by {side}; "
                f"got {tuple(x.shape[-2:])}. Crop the patch or build it with generator(patch=...)."
            )
        if not self.residual:
            return self.model(x)
        return self.final(self.model(x) + prior_scores(x[:, : self.out_channels], self.output))


# PatchGANDiscriminator ("PatchGAN", 70x70 receptive field at n_layers=3):
# (B, condition + output channels, H, W) -> (B, 1, H/8 - 2, W/8 - 2) real/fake logits, one per patch.
class PatchGANDiscriminator(nn.Module):
    """The pix2pix discriminator D: classifies overlapping image patches as real or fake (logits)."""

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**n_layers, 8)
        layers += [
            nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(ndf * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1),
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Patch logits (no sigmoid: the GAN losses take logits)."""
        return self.model(x)


def init_weights(module: nn.Module, gain: float = 0.02) -> nn.Module:
    """pix2pix initialisation: conv weights ~ N(0, gain), biases 0, batch-norm scales ~ N(1, gain)."""

    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)

    return module.apply(_init)


def num_downs_for(patch: int) -> int:
    """U-Net depth for a square patch: ``log2(patch)`` so that the bottleneck is 1x1 (8 at 256)."""
    depth = math.log2(patch)
    if patch < 2 or depth != int(depth):
        raise ValueError(
            f"pix2pix needs a power-of-two patch side (e.g. 64, 128, 256); got {patch}"
        )
    return int(depth)


def generator(
    in_channels: int,
    out_channels: int,
    patch: int = 256,
    ngf: int = 64,
    dropout: bool = True,
    output: str = "tanh",
    residual: bool = False,
    zero_last: bool = False,
) -> UNetGenerator:
    """A pix2pix U-Net for ``patch``-sized inputs, initialised as in the paper (``output`` and
    ``residual``: see the module docstring); ``zero_last``: its last convolution starts at zero
    (:func:`zero_last_layer`)."""
    g = init_weights(
        UNetGenerator(
            in_channels, out_channels, num_downs_for(patch), ngf, dropout, output, residual
        )
    )
    return zero_last_layer(g) if zero_last else g


def zero_last_layer(generator: UNetGenerator) -> UNetGenerator:
    """Zero the generator's last (transposed) convolution: a residual G then returns its prior
    exactly (the U-Net adds 0), not the prior plus the N(0, 0.02) noise of the paper's init."""
    upconv = [m for m in generator.model.model if isinstance(m, nn.ConvTranspose2d)][-1]
    with torch.no_grad():
        upconv.weight.zero_()
        if upconv.bias is not None:
            upconv.bias.zero_()
    return generator


def discriminator(in_channels: int, ndf: int = 64, n_layers: int = 3) -> PatchGANDiscriminator:
    """A 70x70 PatchGAN (``n_layers=3``) for ``in_channels`` = condition + output channels."""
    return init_weights(PatchGANDiscriminator(in_channels, ndf, n_layers))


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def labels_to_target(
    mask: torch.Tensor, num_classes: int, ignore_index: int = 255, scale: float | None = None
) -> torch.Tensor:
    """(B, H, W) class indices -> (B, classes, H, W) one-hot mapped to +-``scale`` for the tanh output.

    ``scale`` defaults to :data:`TARGET_SCALE` (0.8; 1.0 gives the plain [-1, 1] one-hot). Ignored
    pixels get all -scale (no class); losses should mask them (see ``helpers.models.losses``).
    """
    valid = mask != ignore_index
    index = torch.where(valid, mask, torch.zeros_like(mask)).long()
    onehot = torch.nn.functional.one_hot(index, num_classes).permute(0, 3, 1, 2).float()
    onehot = onehot * valid.unsqueeze(1)
    return (onehot * 2 - 1) * (TARGET_SCALE if scale is None else scale)


def output_to_labels(output: torch.Tensor) -> torch.Tensor:
    """(B, classes, H, W) generator output -> (B, H, W) predicted class (argmax)."""
    return output.argmax(1)


def with_batch_statistics(generator: nn.Module) -> nn.Module:
    """A copy of ``generator`` whose batch norm always uses the statistics of the current batch.

    The pix2pix reference tests in this mode (no ``model.eval()``): after short training the running
    averages lag behind the weights. The copy is meant for ``eval()``: dropout is then off, so the
    prediction is deterministic (the reference also keeps dropout on at test time).
    """
    import copy

    clone = copy.deepcopy(generator)
    for module in clone.modules():  # _BatchNorm: also the SyncBatchNorm of a DDP run on GPUs
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.track_running_stats = False
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
    return clone.eval()

"""U-Net for land-cover segmentation.

Ronneberger, O., Fischer, P. and Brox, T., 2015. U-Net: Convolutional Networks for Biomedical
Image Segmentation. MICCAI, LNCS 9351, pp. 234-241 (arXiv:1505.04597).

The boxes of the paper's Fig. 1 are the classes here: :class:`DoubleConv` (two 3x3 conv + ReLU),
:class:`Down` (2x2 max pool, then a DoubleConv: the contracting path), :class:`Up` (up-convolution
that halves the channels, concatenation with the skip connection ("copy and crop"), DoubleConv:
the expansive path) and :class:`OutConv` (the final 1x1 conv to class scores).

Departures from the paper, all common practice and all switchable where it makes sense:

- **Padding convolutions** (``padding=1``) instead of unpadded ("valid") ones, so the output has
  the input's size and no cropping of the skip connections is needed. The paper's output is
  smaller than its input (572 -> 388) and it tiles with overlap instead.
- **Batch normalisation** after every convolution (``batch_norm=True``; the paper predates BN).
  With BN the convolutions carry no bias (BN's shift replaces it).
- **Up-sampling**: ``up="transposed"`` is the paper's 2x2 up-convolution (a transposed conv,
  stride 2); ``up="bilinear"`` (default) up-samples bilinearly and halves the channels with a 1x1
  conv, which avoids checkerboard artefacts and needs fewer parameters.
- **Depth and width are parameters**: ``depth`` poolings (the paper: 4) and ``width`` channels
  at the first level (the paper: 64), doubled at each level.
- Any number of input bands and classes (the paper: 1 band, 2 classes); optional dropout at the
  bottleneck (the paper uses dropout at the end of the contracting path).
- Inputs whose sides are not multiples of ``2**depth`` are padded (reflect) and the output
  cropped back (``pad_input=True``), or rejected with a clear error (``pad_input=False``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DoubleConv(nn.Module):
    """(conv 3x3 -> [BN] -> ReLU) x 2: (B, in, H, W) -> (B, out, H, W)."""

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for cin in (in_channels, out_channels):
            layers.append(nn.Conv2d(cin, out_channels, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Two convolutions at the same resolution."""
        return self.block(x)


class Down(nn.Module):
    """Contracting step: max pool 2x2 then DoubleConv: (B, in, H, W) -> (B, out, H/2, W/2)."""

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.conv = DoubleConv(in_channels, out_channels, batch_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Halve the resolution, then convolve."""
        return self.conv(self.pool(x))


class Up(nn.Module):
    """Expansive step: up-conv (channels / 2), concat skip, DoubleConv.

    (B, in, H, W) and skip (B, in/2, 2H, 2W) -> (B, out, 2H, 2W).
    """

    def __init__(
        self, in_channels: int, out_channels: int, batch_norm: bool = True, up: str = "bilinear"
    ) -> None:
        super().__init__()
        half = in_channels // 2
        if up == "transposed":
            self.up = nn.ConvTranspose2d(in_channels, half, kernel_size=2, stride=2)
        elif up == "bilinear":
            self.up = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(in_channels, half, kernel_size=1),
            )
        else:
            raise ValueError(f"up must be 'bilinear' or 'transposed', got {up!r}")
        self.conv = DoubleConv(half + half, out_channels, batch_norm)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Up-sample ``x``, join it with the contracting path's ``skip``, convolve."""
        return self.conv(torch.cat([skip, self.up(x)], dim=1))


class OutConv(nn.Module):
    """1x1 convolution to class scores (logits): (B, width, H, W) -> (B, classes, H, W)."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-pixel class scores."""
        return self.conv(x)


class UNet(nn.Module):
    """U-Net: ``in_channels`` bands -> ``num_classes`` logits at the input's resolution."""

    def __init__(
        self,
        in_channels: int = 4,
        num_classes: int = 8,
        width: int = 64,
        depth: int = 4,
        batch_norm: bool = True,
        up: str = "bilinear",
        dropout: float = 0.0,
        pad_input: bool = True,
    ) -> None:
        super().__init__()
        if depth < 1 or width < 1 or in_channels < 1 or num_classes < 1:
            raise ValueError("in_channels, num_classes, width and depth must all be >= 1")
        self.depth = depth
        self.pad_input = pad_input
        widths = [width * 2**i for i in range(depth + 1)]
        # contracting path: (B, in, H, W) -> (B, width * 2**depth, H / 2**depth, W / 2**depth)
        self.inc = DoubleConv(in_channels, widths[0], batch_norm)
        self.downs = nn.ModuleList(Down(widths[i], widths[i + 1], batch_norm) for i in range(depth))
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        # expansive path: back to (B, width, H, W), joining the skip connections
        self.ups = nn.ModuleList(
            Up(widths[i + 1], widths[i], batch_norm, up) for i in reversed(range(depth))
        )
        self.outc = OutConv(widths[0], num_classes)

    @property
    def size_multiple(self) -> int:
        """Input sides must be multiples of this (``2**depth``) unless ``pad_input`` pads them."""
        return 2**self.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, H, W)`` -> logits ``(B, num_classes, H, W)``."""
        if x.ndim != 4:
            raise ValueError(
                f"UNet expects (batch, bands, height, width), got shape {tuple(x.shape)}"
            )
        height, width = x.shape[-2:]
        m = self.size_multiple
        ph, pw = (-height) % m, (-width) % m
        if ph or pw:
            if not self.pad_input:
                raise ValueError(
                    f"input {height}x{width} is not a multiple of {m} (2**depth); crop or pad it, "
                    "or build UNet(pad_input=True)."
                )
            mode = "reflect" if min(height, width) > max(ph, pw) else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        y = self.dropout(skips.pop())
        for up in self.ups:
            y = up(y, skips.pop())
        return self.outc(y)[..., :height, :width]


def parameter_count(
    in_channels: int,
    num_classes: int,
    width: int,
    depth: int,
    batch_norm: bool = True,
    up: str = "bilinear",
) -> int:
    """Closed-form number of trainable parameters of :class:`UNet` (used to check the code)."""

    def double(cin: int, cout: int) -> int:
        bias_or_bn = 2 * cout if batch_norm else cout  # BN: scale + shift; else a conv bias
        return 9 * cin * cout + bias_or_bn + 9 * cout * cout + bias_or_bn

    w = [width * 2**i for i in range(depth + 1)]
    total = double(in_channels, w[0])
    total += sum(double(w[i], w[i + 1]) for i in range(depth))
    for i in range(depth):
        c = w[i + 1]
        half = c // 2
        total += (4 * c * half + half) if up == "transposed" else (c * half + half)
        total += double(2 * half, w[i])
    total += w[0] * num_classes + num_classes
    return total

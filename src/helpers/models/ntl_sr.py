"""Multimodal night-time-light super-resolution (MMNTLSR): fusion, local-global refinement, alignment.

Source documents (docs/sources.md; neither released code, so this is an open re-implementation from their text):

- The PANDA-FINE slides (L. Zhang): the MMNTLSR model with three boxes, a
  *multi-modality fusion module* ("fuse multi-modality features parallelly from high to low",
  better than "simply the concatenation"), a *local-global refinement module* ("super-resolution
  heads + auxiliary supervision + multi-scale prediction losses") and a *spatial alignment module*
  ("local deformation + deformable CNN + affine transformation"); inputs DMSP-like PANDA NTL,
  Landsat 8 (7 bands) and DEM; supervision Luojia-01.
- The DeepLight README (IJCAI 2024): inputs LR NTL, DMO (7 bands), DEM; supervision
  HR NTL and ISP (impervious surface); ratio r = 8 (256 -> 2048 px); objective
  ``alpha F1 sum_j beta_j L1(pred_j, HR_j) + (1 - alpha) F2 BCE(., ISP)``
  (implemented in :func:`helpers.models.losses.ntl_sr_loss`).

Choices the source documents leave open (ours, stated so they can be changed):

- Layer counts, widths, kernel sizes, activations (LeakyReLU 0.1), no normalisation layers (so a
  tile's output does not depend on batch or tile statistics, which tiled inference needs).
- "Parallel from high to low" read as: Landsat and DEM each have their own encoder pyramid on the
  HR grid (levels 1, 1/2, 1/4, 1/8); at every level, from the highest resolution to the lowest, a
  fusion block merges the two guidance features with the (aligned) NTL features resampled to that
  level and the fused result of the level above; a per-pixel sigmoid gate weighs the modalities.
  "Plain concatenation" (``fusion=False``): DMO, DEM and the upsampled NTL features are
  concatenated at the input of one shared encoder.
- SR heads at x2, x4, x8 of the LR grid (1/4, 1/2 and 1 of the HR grid), each adding a residual to
  a "global" path: a per-pixel MLP of the LR input (it learns the DN -> radiance curve), upsampled
  bilinearly. A "pixel path" (ours, not in the source documents): a per-pixel MLP (1x1 convs,
  ``pixel_width`` 64) of the aligned LR lights (bicubic on the HR grid), a saturation flag and the
  standardised guidance bands at each HR pixel, added to the x8 output; it lets spectral cues
  (e.g. roof vs asphalt) set local brightness quickly. A "context" switch (ours, on by default):
  the pixel path also sees Gaussian blurs of the calibrated lights (the global path's output,
  bicubic on the HR grid) and of red/NIR/SWIR1 at the street, block and district scales of the
  boosted-tree yardstick (:data:`helpers.core.bands.NTL_CONTEXT_SIGMAS`), computed on whatever the
  model is given (a crop, a tile, a scene). On the sample scene (teaching, 64 px crops in batches
  of 4, 960 steps, seeds 0-2) it lifted the full model from 38.57 +- 0.31 to 39.55 +- 0.21 dB,
  level with the yardstick's 39.47 dB (above it on 2 of 3 seeds); blurring the coarse DN instead
  of the calibrated lights gave 39.48 +- 0.24 (4 runs); 32 px crops in batches of 16 without
  blurs 38.43 +- 0.79. Single runs move by a few tenths of a dB with the random seed and even
  with the number of torch threads (float rounding), so compare settings over seeds. The ISP
  auxiliary supervision uses its own head (one conv on the final features, logits); DeepLight's
  formula applies the BCE to the SR output ``N_G,m`` itself (and is written without the minus
  sign of a cross-entropy), which we do not copy.
- Spatial alignment acts on the NTL features on the LR grid, against a reference computed from
  the guidance (strided convs down to the LR grid), in the order affine -> local deformation ->
  deformable convolution. The affine and local warps move the LR input itself with its features,
  so the global path above is aligned too. Affine: a spatial transformer predicting identity + a zero-initialised
  correction whose linear part is bounded to 2 % (tanh; a registration error, not a zoom), its
  translation predicted in LR pixels. Local deformation: a flow predicted in LR
  pixels on a 4x coarser grid than the LR grid, bilinearly upsampled (smooth), zero-initialised,
  applied with ``grid_sample``. Shifts in pixels (not in [-1, 1] grid units, which scale with the
  input) make a warp learned on 8 x 8 LR crops mean the same on a tile or a whole scene. Deformable CNN:
  ``torchvision.ops.DeformConv2d`` with zero-initialised offsets and weights (a residual block
  that starts as the identity: with random weights it added noise and cost ~0.5 dB at the teaching
  budget). Without guidance there is
  nothing to align to, so the alignment flags require ``guidance=True``. The affine matrix comes
  from globally pooled features, so it is estimated per input: per tile in :func:`helpers.training.inference.predict_ntl`.
- Ratio fixed at 8 (three x2 steps), as in DeepLight; patch sizes come from the profile, not the
  published 256 -> 2048.
- Scaling (defined once here): LR DN / 63; HR radiance ``sqrt(x / RADIANCE_MAX)`` (``log1p`` is
  the alternative, ``EOSR_NTL_TRANSFORM=log``: it under-weights bright cores, which dominate PSNR
  in radiance units); DMO reflectance / 0.3; DEM (m - 500) / 500. Constants, not per-patch
  statistics, so tiles agree. The guidance is then standardised per channel with the training
  data's mean and std (:func:`fit_guide_stats`, buffers saved with the weights; +1.1 dB for a
  per-pixel MLP on the sample scene). The loss is computed on the scaled target.
- Loss weights alpha, beta_j and the normalisers F1, F2 are not given: F1, F2 = means over
  pixels; defaults in :mod:`helpers.models.losses`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.bands import DN_MAX  # 63: DMSP-like 6-bit DN saturate
from ..core.bands import NTL_CONTEXT_BANDS as CONTEXT_BANDS  # the yardstick's bands and scales
from ..core.bands import NTL_CONTEXT_SIGMAS as CONTEXT_SIGMAS
from . import registration as reg

# ---- input / target scaling (the one place that defines it) ----

RADIANCE_MAX = 1000.0  # nW/cm2/sr mapped to 1.0 by the HR scaling (brighter values exceed 1)
HR_TRANSFORM = os.environ.get("EOSR_NTL_TRANSFORM", "sqrt")  # "sqrt" or "log" (see scale_high_res)
DMO_SCALE = 0.3  # surface reflectance divisor
DEM_MEAN, DEM_STD = 500.0, 500.0  # metres


def scale_low_res(dn: Any) -> Any:
    """LR DN (0..63) -> [0, 1]."""
    return dn / DN_MAX


def scale_high_res(radiance: Any) -> Any:
    """HR radiance (nW/cm2/sr) -> ~[0, 1]: ``log1p(x) / log1p(RADIANCE_MAX)`` (``HR_TRANSFORM
    = "log"``) or ``sqrt(x / RADIANCE_MAX)`` (``"sqrt"``, the default); negatives clipped."""
    if isinstance(radiance, torch.Tensor):
        x = radiance.clamp(min=0)
        return (
            torch.sqrt(x / RADIANCE_MAX)
            if HR_TRANSFORM == "sqrt"
            else torch.log1p(x) / math.log1p(RADIANCE_MAX)
        )
    x = np.clip(radiance, 0, None)
    return (
        np.sqrt(x / RADIANCE_MAX)
        if HR_TRANSFORM == "sqrt"
        else np.log1p(x) / math.log1p(RADIANCE_MAX)
    )


def unscale_high_res(scaled: Any) -> Any:
    """Inverse of :func:`scale_high_res`: model output -> radiance (nW/cm2/sr), >= 0."""
    if isinstance(scaled, torch.Tensor):
        y = scaled.clamp(min=0)
        return (
            y**2 * RADIANCE_MAX
            if HR_TRANSFORM == "sqrt"
            else torch.expm1(y * math.log1p(RADIANCE_MAX))
        )
    y = np.clip(scaled, 0, None)
    return y**2 * RADIANCE_MAX if HR_TRANSFORM == "sqrt" else np.expm1(y * math.log1p(RADIANCE_MAX))


def scale_dmo(reflectance: Any) -> Any:
    """DMO surface reflectance (7 bands) -> roughly [0, 3]."""
    return reflectance / DMO_SCALE


def scale_dem(metres: Any) -> Any:
    """DEM metres -> standardised with fixed constants."""
    return (metres - DEM_MEAN) / DEM_STD


def scale_batch(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Scale a sample/batch of :class:`helpers.data.datasets.NTL` (physical units) for the model."""
    out = dict(batch)
    out["low_res"] = scale_low_res(batch["low_res"].float())
    out["dmo"] = scale_dmo(batch["dmo"].float())
    out["dem"] = scale_dem(batch["dem"].float())
    if "high_res" in batch:
        out["high_res"] = scale_high_res(batch["high_res"].float())
    if "isp" in batch:
        out["isp"] = batch["isp"].float()
    return out


# ---- building blocks ----


def conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv + LeakyReLU: (B, c_in, H, W) -> (B, c_out, H/stride, W/stride)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.LeakyReLU(0.1, inplace=True))


def gaussian_blur(x: torch.Tensor, sigma: float, truncate: float = 2.5) -> torch.Tensor:
    """Separable Gaussian blur of each channel (B, C, H, W), edges replicated.

    Why not ``torchvision``'s: it pads by reflection, which fails when the kernel is wider than
    a small training crop or tile."""
    r = max(1, math.ceil(truncate * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(x.shape[1], 1, 1, 1)  # (C, 1, 1, 2r + 1)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k, groups=x.shape[1])
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.transpose(2, 3), groups=x.shape[1])


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize to ``size`` (no-op when already that size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


# Pyramid encoder: (B, c_in, H, W) -> [(B, w, H, W), (B, w, H/2, W/2), (B, w, H/4, ..), (B, w, H/8, ..)]
class PyramidEncoder(nn.Module):
    """Conv pyramid on the HR grid with ``levels`` stride-2 steps (levels 1, 1/2, 1/4, 1/8)."""

    def __init__(self, c_in: int, width: int, levels: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv(c_in, width), conv(width, width))
        self.down = nn.ModuleList(
            nn.Sequential(conv(width, width, 2), conv(width, width)) for _ in range(levels)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [self.stem(x)]
        for block in self.down:
            feats.append(block(feats[-1]))
        return feats


# Fusion block of one level: k inputs (B, w, h, w) each + carry (B, w, h, w) -> (B, w, h, w)
class FusionBlock(nn.Module):
    """Merge modality features of one level; a per-pixel sigmoid gate (1x1 conv) weighs each
    modality channel, local so that a tile's output does not depend on the rest of the tile."""

    def __init__(self, n_inputs: int, width: int) -> None:
        super().__init__()
        c = n_inputs * width
        self.gate = nn.Sequential(nn.Conv2d(c, c, 1), nn.Sigmoid())
        self.merge = nn.Sequential(
            nn.Conv2d(c, width, 1), nn.LeakyReLU(0.1, inplace=True), conv(width, width)
        )

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(inputs, 1)
        return self.merge(x * self.gate(x))


# MultiModalityFusion:
#   ntl (B, w, h, w) on the LR grid, dmo (B, 7, 8h, 8w), dem (B, 1, 8h, 8w)
#   -> fused pyramid [(B, w, 8h, 8w), (B, w, 4h, 4w), (B, w, 2h, 2w), (B, w, h, w)]
class MultiModalityFusion(nn.Module):
    """Fuse NTL, Landsat/DMO and DEM features level by level from high to low resolution.

    ``fusion=False``: plain concatenation of DMO, DEM and upsampled NTL features into one encoder.
    ``guidance=False``: NTL only (the encoder sees only the upsampled NTL features).
    """

    def __init__(
        self, width: int, fusion: bool = True, guidance: bool = True, dmo_bands: int = 7
    ) -> None:
        super().__init__()
        self.fusion = fusion and guidance
        self.guidance = guidance
        if self.fusion:
            self.landsat = PyramidEncoder(dmo_bands, width)
            self.dem = PyramidEncoder(1, width)
            self.blocks = nn.ModuleList(FusionBlock(3 if i == 0 else 4, width) for i in range(4))
            self.carry = nn.ModuleList(conv(width, width, 2) for _ in range(3))
        else:
            c_in = width + (dmo_bands + 1 if guidance else 0)
            self.encoder = PyramidEncoder(c_in, width)

    def forward(
        self, ntl: torch.Tensor, dmo: torch.Tensor | None, dem: torch.Tensor | None
    ) -> list[torch.Tensor]:
        size = (ntl.shape[-2] * 8, ntl.shape[-1] * 8)
        if not self.fusion:
            parts = [resize(ntl, size)] + ([dmo, dem] if self.guidance else [])
            return self.encoder(torch.cat(parts, 1))
        land, elev = self.landsat(dmo), self.dem(dem)
        fused: list[torch.Tensor] = []
        for level, block in enumerate(self.blocks):  # level 0 = HR grid, 3 = LR grid
            inputs = [land[level], elev[level], resize(ntl, land[level].shape[-2:])]
            if level:
                inputs.append(self.carry[level - 1](fused[-1]))
            fused.append(block(inputs))
        return fused


# AffineTransformation: ntl (B, w, h, w), ref (B, w, h, w) -> warped ntl (B, w, h, w), theta (B, 2, 3)
class AffineTransformation(nn.Module):
    """Spatial transformer: predicts a 2x3 affine matrix (identity at init) and warps NTL.

    The linear part is the identity plus a zero-initialised correction bounded by
    ``linear_max * tanh`` (a rotation of at most ~1 degree, a scale change of at most 2 %: the size
    of a registration error between two georeferenced products). Unbounded, the correction became a
    16 % zoom on 4 x 4 px training crops, where a zoom only moves pixels by a fraction of a pixel and
    acts as a blur; on a whole scene the same zoom moved the edges by 5 LR px (one-shot PSNR 28.2
    vs 32.0 dB with the linear part removed, teaching profile). The translation is predicted in LR
    pixels (``shift_gain`` per unit) and converted to grid units for the input's size, so a shift
    learned on small training crops means the same on a whole scene or another tile size.
    """

    linear_max = 0.02
    shift_gain = 1.0

    def __init__(self, width: int) -> None:
        super().__init__()
        self.locate = nn.Sequential(
            conv(2 * width, width), conv(width, width, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.theta = nn.Linear(width, 6)
        nn.init.zeros_(self.theta.weight)
        nn.init.zeros_(self.theta.bias)
        self.register_buffer("identity", torch.tensor([1.0, 0, 0, 0, 1.0, 0]), persistent=False)

    def estimate(
        self, ntl: torch.Tensor, ref: torch.Tensor, found: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The affine matrices (B, 2, 3), in grid units of ``ntl``'s size; ``found`` (B, 2), a
        translation in LR px from :func:`helpers.models.registration.correlation_shift`, is added."""
        h, w = ntl.shape[-2:]
        delta = self.theta(self.locate(torch.cat([ntl, ref], 1))).view(-1, 2, 3)
        # linear part: bounded correction; translation (LR px) x shift_gain x 2 / size (grid units)
        linear = self.linear_max * torch.tanh(delta[..., :2])
        px = delta[..., 2:] * self.shift_gain + (0 if found is None else found.unsqueeze(-1))
        shift = px * delta.new_tensor([2.0 / w, 2.0 / h]).view(1, 2, 1)
        return self.identity.view(1, 2, 3) + torch.cat([linear, shift], -1)

    def forward(self, ntl: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        theta = self.estimate(ntl, ref)
        return warp_affine(ntl, theta), theta


def warp_affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample ``x`` (B, C, h, w) at ``affine_grid(theta)`` (bilinear, border padding)."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def warp_flow(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Resample ``x`` (B, C, h, w) at identity + ``flow`` (B, 2, h, w; normalised x, y units)."""
    base = F.affine_grid(
        torch.eye(2, 3, device=x.device, dtype=x.dtype).expand(x.shape[0], 2, 3),
        list(x.shape),
        align_corners=False,
    )
    grid = base + flow.permute(0, 2, 3, 1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def warp_offsets(extras: dict[str, torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
    """The whole warp of the alignment modules (affine, then local flow) as sampling offsets
    (B, 2, h, w) in LR px (x, y) at the LR pixel centres: the input is read at centre + offset.

    Why: the modules act in grid units and in sequence (the flow is estimated on the affinely
    warped input, so the input is read at ``A(g + flow(g))``); this composes them into one field
    that can be compared with a known displacement (zero where no module is on)."""
    h, w = size
    ref = extras.get("theta", extras.get("flow"))
    eye = torch.eye(2, 3) if ref is None else torch.eye(2, 3, dtype=ref.dtype, device=ref.device)
    b = 1 if ref is None else ref.shape[0]
    base = F.affine_grid(eye.expand(b, 2, 3), [b, 1, h, w], align_corners=False)  # (B,h,w,2)
    grid = base + (extras["flow"].permute(0, 2, 3, 1) if "flow" in extras else 0)
    if "theta" in extras:
        theta = extras["theta"]
        grid = grid @ theta[:, None, :, :2].transpose(-1, -2) + theta[:, None, None, :, 2]
    offsets = (grid - base) * base.new_tensor([w / 2.0, h / 2.0])
    return offsets.permute(0, 3, 1, 2)


# LocalDeformation: ntl (B, w, h, w), ref (B, w, h, w) -> warped ntl (B, w, h, w), flow (B, 2, h, w)
class LocalDeformation(nn.Module):
    """A smooth flow field (predicted 4x coarser, upsampled, zero at init) applied by grid_sample.

    The flow is predicted in LR pixels (``gain`` per unit, channels x, y) and returned in grid
    units of the input's size, so a tile and the whole scene are moved by the same distance. Each
    coarse cell's flow comes from that cell's pooled features alone (1x1 convs): training crops of
    4 x 4 LR px hold a single cell, so a 3x3 predictor would never train the weights that see its
    neighbours, and they would act untrained on a tile or a scene.
    """

    gain = 0.5

    def __init__(self, width: int, coarse: int = 4) -> None:
        super().__init__()
        self.coarse = coarse
        self.predict = nn.Sequential(
            nn.Conv2d(2 * width, width, 1), nn.LeakyReLU(0.1), nn.Conv2d(width, 2, 1)
        )
        nn.init.zeros_(self.predict[-1].weight)
        nn.init.zeros_(self.predict[-1].bias)

    def cell_flow(self, ntl: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """The flow of each coarse cell (B, 2, h / coarse, w / coarse), in LR pixels (x, y)."""
        h, w = ntl.shape[-2:]
        x = torch.cat([ntl, ref], 1)
        small = F.adaptive_avg_pool2d(x, (max(1, h // self.coarse), max(1, w // self.coarse)))
        return self.gain * self.predict(small)

    def estimate(self, ntl: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """The smooth flow (B, 2, h, w) in normalised grid units (x, y)."""
        h, w = ntl.shape[-2:]
        flow_px = resize(self.cell_flow(ntl, ref), (h, w))
        return flow_px * flow_px.new_tensor([2.0 / w, 2.0 / h]).view(1, 2, 1, 1)

    def forward(self, ntl: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flow = self.estimate(ntl, ref)
        return warp_flow(ntl, flow), flow


# DeformableAlignment: ntl (B, w, h, w), ref (B, w, h, w) -> aligned ntl (B, w, h, w)
class DeformableAlignment(nn.Module):
    """Deformable 3x3 conv on NTL features, offsets predicted from NTL + guidance; offsets and
    weights are zero at init, so the block starts as the identity and cannot add noise early."""

    def __init__(self, width: int) -> None:
        from torchvision.ops import DeformConv2d

        super().__init__()
        self.offsets = nn.Conv2d(2 * width, 2 * 9, 3, 1, 1)
        nn.init.zeros_(self.offsets.weight)
        nn.init.zeros_(self.offsets.bias)
        self.deform = DeformConv2d(width, width, 3, padding=1)
        nn.init.zeros_(self.deform.weight)  # a pure residual at init: starts as the identity
        nn.init.zeros_(self.deform.bias)
        self.act = nn.LeakyReLU(0.1, inplace=True)

    def forward(self, ntl: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        offsets = self.offsets(torch.cat([ntl, ref], 1))
        return ntl + self.act(self.deform(ntl, offsets))


# ExpectedLights: standardised guidance (B, 8, H, W) -> expected lights (B, 1, H, W), scaled target units
class ExpectedLights(nn.Module):
    """Per-pixel MLP (1x1 convs) of the guidance bands and their blurs: the lights the land cover,
    roofs and relief at each fine pixel imply (trained against the fine training target, by
    ``losses.ntl_sr_loss``), what the coarse lights are registered to
    (:func:`helpers.models.registration.correlation_shift`)."""

    sigmas = (2.0, 6.0)  # fine px: street and block scales
    bloom_sigma = 6.0  # fine px: on the coarse grid they are blurred like the sensor's overglow

    def __init__(self, guide_bands: int = 8, width: int = 16) -> None:
        super().__init__()
        c = guide_bands * (1 + len(self.sigmas))
        self.mlp = nn.Sequential(nn.Conv2d(c, width, 1), nn.LeakyReLU(0.1), nn.Conv2d(width, 1, 1))
        nn.init.zeros_(self.mlp[-1].weight)  # flat at init: no shift is found until it learns
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, guide: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([guide] + [gaussian_blur(guide, s) for s in self.sigmas], 1))

    def coarse(self, expected: torch.Tensor, ratio: int) -> torch.Tensor:
        """Expected fine lights (B, 1, H, W) as the coarse sensor would see them: blurred by the
        overglow, block-averaged to (B, 1, H / ratio, W / ratio)."""
        return F.avg_pool2d(gaussian_blur(expected, self.bloom_sigma), ratio)


# SpatialAlignment: ntl (B, w, h, w), guide (B, 8, 8h, 8w) -> aligned ntl (B, w, h, w) + extras
class SpatialAlignment(nn.Module):
    """Align LR NTL features to the guidance grid: affine -> local deformation -> deformable CNN."""

    def __init__(
        self,
        width: int,
        affine: bool,
        local_deformation: bool,
        deformable: bool,
        guide_bands: int = 8,
        registration: bool = True,
    ) -> None:
        super().__init__()
        # reference features on the LR grid: (B, 8, 8h, 8w) -> (B, w, h, w)
        self.reference = nn.Sequential(
            conv(guide_bands, width, 2), conv(width, width, 2), conv(width, width, 2)
        )
        self.affine = AffineTransformation(width) if affine else None
        # the affine translation also found by correlating the coarse lights with the lights the
        # guidance implies (helpers.models.registration; trained against the fine target)
        self.expected = ExpectedLights(guide_bands) if affine and registration else None
        self.local = LocalDeformation(width) if local_deformation else None
        self.deformable = DeformableAlignment(width) if deformable else None

    def forward(
        self, ntl: torch.Tensor, guide: torch.Tensor, low_res: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Warp NTL features and the LR input itself (so the global path is aligned too)."""
        ref = resize(self.reference(guide), ntl.shape[-2:])
        extras: dict[str, torch.Tensor] = {}
        both = torch.cat([low_res, ntl], 1)  # warped together: one geometry for input and features
        if self.affine is not None:
            found = None
            if self.expected is not None:
                extras["expected"] = self.expected(guide)  # (B, 1, 8h, 8w), scaled target units
                coarse = self.expected.coarse(
                    extras["expected"], guide.shape[-1] // low_res.shape[-1]
                )
                found = reg.correlation_shift(low_res, coarse)
            theta = self.affine.estimate(both[:, 1:], ref, found)
            both, extras["theta"] = warp_affine(both, theta), theta
        if self.local is not None:
            flow = self.local.estimate(both[:, 1:], ref)
            both, extras["flow"] = warp_flow(both, flow), flow
        low_res, ntl = both[:, :1], both[:, 1:]
        if self.deformable is not None:
            ntl = self.deformable(ntl, ref)
        return ntl, low_res, extras


# LocalGlobalRefinement: fused pyramid (levels 1..1/8 of HR) + LR input (B, 1, h, w)
#   -> predictions at x2 (B,1,2h,2w), x4 (B,1,4h,4w), x8 (B,1,8h,8w) and ISP logits (B,1,8h,8w)
class LocalGlobalRefinement(nn.Module):
    """Decoder with SR heads at x2, x4, x8 (multi-scale predictions) and an auxiliary ISP head.

    Each head predicts a local residual on top of a global path: a per-pixel MLP of the LR
    input, bilinearly upsampled.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.up = nn.ModuleList(
            nn.Sequential(conv(2 * width, width), conv(width, width)) for _ in range(3)
        )
        self.heads = nn.ModuleList(nn.Conv2d(width, 1, 3, 1, 1) for _ in range(3))
        for (
            head
        ) in self.heads:  # zero at init: the CNN residual grows on top of the per-pixel paths
            nn.init.zeros_(head.weight)  # (random heads: 38.6 dB, zero: 39.4 dB; sample scene,
            nn.init.zeros_(head.bias)  # teaching, one seed, 1600 steps)
        # per-pixel MLP on the LR grid: DN scale -> target scale (learns the inter-calibration curve)
        self.global_path = nn.Sequential(
            nn.Conv2d(1, 16, 1), nn.LeakyReLU(0.1), nn.Conv2d(16, 1, 1)
        )
        self.isp_head = nn.Conv2d(width, 1, 3, 1, 1)

    def forward(self, fused: list[torch.Tensor], low_res: torch.Tensor) -> dict[str, Any]:
        x = fused[3]
        global_lr = self.global_path(low_res)
        scales = []
        for i, level in enumerate((2, 1, 0)):
            skip = fused[level]
            x = self.up[i](torch.cat([resize(x, skip.shape[-2:]), skip], 1))
            base = resize(global_lr, skip.shape[-2:])
            scales.append(base + self.heads[i](x))
        return {"high_res": scales[-1], "scales": scales, "isp_logits": self.isp_head(x)}


@dataclass
class NTLSRConfig:
    """Switches of :class:`MMNTLSR` (the ablation rows) and its width."""

    width: int = 24
    guidance: bool = True  # DMO + DEM inputs (False: NTL-only SR network)
    fusion: bool = True  # parallel multi-scale fusion (False: plain concatenation)
    deformable: bool = True
    affine: bool = True
    local_deformation: bool = True
    ratio: int = 8
    pixel_width: int = 64  # hidden width of the per-pixel path
    context: bool = True  # the pixel path also sees blurs of lights and bands (ours, see above)
    registration: bool = (
        True  # affine translation also by correlation (helpers.models.registration)
    )


# MMNTLSR: low_res (B,1,h,w), dmo (B,7,8h,8w), dem (B,1,8h,8w), all scaled -> dict of outputs
class MMNTLSR(nn.Module):
    """Multimodal NTL SR: NTL stem -> SpatialAlignment -> MultiModalityFusion -> LocalGlobalRefinement."""

    def __init__(self, config: NTLSRConfig | None = None, **switches: Any) -> None:
        super().__init__()
        cfg = config or NTLSRConfig(**switches)
        if cfg.ratio != 8:
            raise ValueError(f"MMNTLSR is built for ratio 8 (three x2 steps); got {cfg.ratio}.")
        if not cfg.guidance and (cfg.deformable or cfg.affine or cfg.local_deformation):
            raise ValueError(
                "alignment needs guidance: set deformable/affine/local_deformation False when guidance=False."
            )
        self.config = cfg
        w = cfg.width
        self.ntl_stem = nn.Sequential(conv(1, w), conv(w, w))  # (B,1,h,w) -> (B,w,h,w)
        aligned = cfg.deformable or cfg.affine or cfg.local_deformation
        self.alignment = (
            SpatialAlignment(
                w, cfg.affine, cfg.local_deformation, cfg.deformable, registration=cfg.registration
            )
            if aligned
            else None
        )
        self.fusion = MultiModalityFusion(w, fusion=cfg.fusion, guidance=cfg.guidance)
        self.refinement = LocalGlobalRefinement(w)
        # guidance standardisation (DMO 7 bands + DEM), fitted on training data by fit_guide_stats;
        # identity until then. Buffers: saved with the weights, the same for every tile.
        self.register_buffer("guide_mean", torch.zeros(1, 8, 1, 1))
        self.register_buffer("guide_std", torch.ones(1, 8, 1, 1))
        # per-pixel MLP (1x1 convs): (B, 2 + 8 [+ blurs], 8h, 8w) -> (B, 1, 8h, 8w), added to
        # the x8 output; blurs: the lights (and with guidance red/NIR/SWIR1) at each sigma
        blurred = (1 + (len(CONTEXT_BANDS) if cfg.guidance else 0)) * len(CONTEXT_SIGMAS)
        c_px, p = 2 + (8 if cfg.guidance else 0) + (blurred if cfg.context else 0), cfg.pixel_width
        self.pixel = nn.Sequential(
            nn.Conv2d(c_px, p, 1),
            nn.LeakyReLU(0.1),
            nn.Conv2d(p, p, 1),
            nn.LeakyReLU(0.1),
            nn.Conv2d(p, 1, 1),
        )

    def forward(
        self,
        low_res: torch.Tensor,
        dmo: torch.Tensor | None = None,
        dem: torch.Tensor | None = None,
    ) -> dict[str, Any]:
        h, w = low_res.shape[-2:]
        if self.config.guidance:
            for name, t, c in (("dmo", dmo, 7), ("dem", dem, 1)):
                if t is None or t.shape[1] != c or tuple(t.shape[-2:]) != (8 * h, 8 * w):
                    got = None if t is None else tuple(t.shape)
                    raise ValueError(
                        f"{name}: expected (B, {c}, {8 * h}, {8 * w}) for low_res {tuple(low_res.shape)}, got {got}."
                    )
        ntl = self.ntl_stem(low_res)
        extras: dict[str, torch.Tensor] = {}
        guide: list[torch.Tensor] = []
        if self.config.guidance:
            g = (torch.cat([dmo, dem], 1) - self.guide_mean) / self.guide_std
            dmo, dem, guide = g[:, :7], g[:, 7:], [g]
        if self.alignment is not None:
            ntl, low_res, extras = self.alignment(ntl, guide[0], low_res)
        out = self.refinement(self.fusion(ntl, dmo, dem), low_res)
        # pixel path: a per-pixel MLP of the (aligned) LR lights, bicubic on the HR grid, a
        # saturation flag, the guidance bands at each HR pixel and (context) their blurs
        lights = F.interpolate(low_res, scale_factor=8, mode="bicubic", align_corners=False)
        saturated = F.interpolate((low_res >= 1.0).to(low_res.dtype), scale_factor=8)
        pixel_in = [lights, saturated, *guide]
        if self.config.context:  # calibrated lights (the global path's curve) and bands, blurred
            # (the global path again: 1x1 convs on the coarse grid, negligible next to the rest)
            calibrated = self.refinement.global_path(low_res)
            calibrated = F.interpolate(
                calibrated, scale_factor=8, mode="bicubic", align_corners=False
            )
            bands = [guide[0][:, list(CONTEXT_BANDS)]] if guide else []
            context = torch.cat([calibrated, *bands], 1)
            pixel_in += [gaussian_blur(context, s) for s in CONTEXT_SIGMAS]
        out["high_res"] = out["high_res"] + self.pixel(torch.cat(pixel_in, 1))
        out["scales"] = [*out["scales"][:-1], out["high_res"]]
        out.update(extras)
        return out


@torch.no_grad()
def fit_guide_stats(model: MMNTLSR, samples: Any) -> MMNTLSR:
    """Set the model's guidance standardisation from training samples (physical units).

    Why: scaled by fixed constants, the DMO bands and the DEM vary by a few hundredths on the
    sample scene, which a small per-pixel network barely resolves in a short run (-1.1 dB for a
    per-pixel MLP on the sample scene, teaching budget). Per-channel means/stds of the training
    data, kept as buffers, standardise them the same way for every tile and at inference.
    """
    guide = [
        torch.cat([scale_dmo(s["dmo"].float()), scale_dem(s["dem"].float())], 0).flatten(1)
        for s in samples
    ]
    g = torch.cat(guide, 1)
    model.guide_mean.copy_(g.mean(1).view(1, -1, 1, 1))
    model.guide_std.copy_(g.std(1).clamp(min=1e-3).view(1, -1, 1, 1))
    return model


def build(**switches: Any) -> MMNTLSR:
    """Build the model from :class:`NTLSRConfig` switches (``build(width=16, fusion=False)``)."""
    return MMNTLSR(NTLSRConfig(**switches))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---- training ----


INPUT_KEYS = ("low_res", "dmo", "dem", "high_res", "isp")


def _all_finite(tensors: list[torch.Tensor]) -> bool:
    """True when every value of every tensor is finite, read back with a single ``bool()``."""
    flags = [torch.isfinite(t).all().to(tensors[0].device) for t in tensors]
    return bool(torch.stack(flags).all())


def check_finite(batch: dict[str, Any], source: str = "batch") -> None:
    """Refuse NaN/+-inf inputs before the forward pass, naming the sample and layer.

    Why: ``torchvision.ops.deform_conv2d`` kills the process (segfault) on -inf, and +inf in the
    target only surfaces later as "loss is inf" with no file named.
    """
    ids = batch.get("id")
    floats = [(k, torch.as_tensor(batch[k])) for k in INPUT_KEYS if batch.get(k) is not None]
    floats = [(k, t) for k, t in floats if t.is_floating_point()]
    if not floats or _all_finite([t for _, t in floats]):
        return  # one host synchronisation for the whole batch (a GPU step waits once, not per key)
    for key, t in floats:
        bad = ~torch.isfinite(t)
        if not bad.any():
            continue
        rows = bad.reshape(bad.shape[0], -1).any(1) if t.dim() == 4 else torch.tensor([True])
        first = int(rows.nonzero()[0, 0]) if t.dim() == 4 else 0
        if isinstance(ids, (list, tuple)) and first < len(ids):
            which = f"sample {ids[first]!r}"
        elif isinstance(ids, str):
            which = f"sample {ids!r}"
        else:
            which = f"{source}, item {first} (no id in the batch)"
        raise ValueError(
            f"{which}: {key} holds {int(bad.sum())} NaN/inf value(s); the model cannot run on "
            "them. Read the data with helpers.data.datasets.NTL(..., nan_policy='zero') or fill the "
            "pixels in the file."
        )


def step(
    model: nn.Module, batch: dict[str, torch.Tensor], loss_fn: Callable[..., torch.Tensor]
) -> torch.Tensor:
    """The ``step_fn`` for :func:`helpers.training.train.fit`: scale the batch, run the model, return the loss.

    ``loss_fn(outputs, high_res_scaled, isp)``, e.g. ``functools.partial(losses.ntl_sr_loss, ...)``.
    """
    device = next(model.parameters()).device
    check_finite(batch)
    b = scale_batch(batch)
    out = model(b["low_res"].to(device), b["dmo"].to(device), b["dem"].to(device))
    return loss_fn(out, b["high_res"].to(device), b["isp"].to(device))


# ---- inference ----


@torch.no_grad()
def predict(
    model: MMNTLSR, low_res: np.ndarray, dmo: np.ndarray, dem: np.ndarray, device: Any = None
) -> np.ndarray:
    """One-shot prediction in physical units: LR DN (h, w) or (1, h, w) + DMO + DEM -> radiance (H, W)."""
    device = device or next(model.parameters()).device
    model.eval()
    lo = torch.as_tensor(np.asarray(low_res, np.float32).reshape(1, 1, *np.shape(low_res)[-2:]))
    dm = torch.as_tensor(np.asarray(dmo, np.float32))[None]
    de = torch.as_tensor(np.asarray(dem, np.float32).reshape(1, 1, *np.shape(dem)[-2:]))
    check_finite({"low_res": lo, "dmo": dm, "dem": de}, "predict input")
    out = model(scale_low_res(lo).to(device), scale_dmo(dm).to(device), scale_dem(de).to(device))
    return unscale_high_res(out["high_res"])[0, 0].float().cpu().numpy()

"""The multimodal NTL SR model: shapes per switch, identity initialisation of the alignment, the
DeepLight loss against a direct computation, and input/target scaling."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.data import crops
from helpers.models import losses, ntl_sr
from helpers.training import ntl_baselines

WIDTH = 4


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: small convs, one thread


def _inputs(batch: int = 2, low: int = 4, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    hr = 8 * low
    return (
        torch.rand(batch, 1, low, low, generator=g),
        torch.rand(batch, 7, hr, hr, generator=g),
        torch.rand(batch, 1, hr, hr, generator=g),
    )


def _combos() -> list[dict[str, bool]]:
    out = [
        dict(guidance=False, fusion=False, deformable=False, affine=False, local_deformation=False)
    ]
    for fusion, deformable, affine, local in itertools.product([True, False], repeat=4):
        out.append(
            dict(
                guidance=True,
                fusion=fusion,
                deformable=deformable,
                affine=affine,
                local_deformation=local,
            )
        )
    return out


@pytest.mark.parametrize(
    "flags", _combos(), ids=lambda f: "-".join(k for k, v in f.items() if v) or "ntl_only"
)
def test_shapes_at_ratio_8(flags):
    torch.manual_seed(0)
    model = ntl_sr.build(width=WIDTH, **flags)
    low, dmo, dem = _inputs(low=3)  # 3 -> 24: not a power of two on purpose
    with torch.no_grad():
        out = model(low, dmo, dem)
    assert out["high_res"].shape == (2, 1, 24, 24)
    assert [tuple(s.shape[-2:]) for s in out["scales"]] == [(6, 6), (12, 12), (24, 24)]
    assert out["isp_logits"].shape == (2, 1, 24, 24)
    assert out["scales"][-1] is out["high_res"]
    assert ("theta" in out) == flags["affine"] and ("flow" in out) == flags["local_deformation"]
    assert torch.isfinite(out["high_res"]).all()


def test_alignment_needs_guidance_and_shapes_are_checked():
    with pytest.raises(ValueError, match="guidance"):
        ntl_sr.build(width=WIDTH, guidance=False)
    model = ntl_sr.build(width=WIDTH)
    low, dmo, dem = _inputs()
    with pytest.raises(ValueError, match="dmo"):
        model(low, dmo[:, :6], dem)
    with pytest.raises(ValueError, match="dem"):
        model(low, dmo, dem[..., :-8])


def test_affine_initialised_to_identity():
    torch.manual_seed(1)
    block = ntl_sr.AffineTransformation(WIDTH)
    x, ref = torch.rand(2, WIDTH, 5, 7), torch.rand(2, WIDTH, 5, 7)
    warped, theta = block(x, ref)
    assert torch.allclose(theta, torch.eye(2, 3).expand(2, 2, 3))
    assert torch.allclose(warped, x, atol=1e-5)
    # and it can learn: the last layer receives a gradient
    warped.sum().backward()
    assert block.theta.weight.grad is not None and block.theta.bias.grad.abs().sum() > 0


def test_affine_linear_part_is_bounded_but_shift_is_not():
    """A registration error is a shift plus a tiny rotation/scale: however large the predicted
    correction, the linear part stays within linear_max of the identity (a zoom learned on tiny
    crops would wreck a whole scene), while a 3 LR px shift is still reachable."""
    block = ntl_sr.AffineTransformation(WIDTH)
    with torch.no_grad():
        block.theta.bias.copy_(torch.tensor([50.0, -50.0, 3.0, 50.0, 50.0, -3.0]))
    x = torch.rand(1, WIDTH, 8, 16)
    theta = block.estimate(x, x)[0]
    linear = theta[:, :2] - torch.eye(2)
    assert linear.abs().max() <= block.linear_max + 1e-6
    assert linear.abs().min() > 0.9 * block.linear_max  # saturated, not ignored
    # translation in grid units = LR px x 2 / size (x: width 16, y: height 8)
    assert torch.allclose(theta[:, 2], torch.tensor([3.0 * 2 / 16, -3.0 * 2 / 8]))


def test_local_deformation_starts_with_zero_flow():
    torch.manual_seed(2)
    block = ntl_sr.LocalDeformation(WIDTH)
    x, ref = torch.rand(2, WIDTH, 8, 8), torch.rand(2, WIDTH, 8, 8)
    warped, flow = block(x, ref)
    assert flow.shape == (2, 2, 8, 8) and torch.count_nonzero(flow) == 0
    assert torch.allclose(warped, x, atol=1e-5)


def test_local_deformation_cell_flow_does_not_depend_on_input_size():
    """A coarse cell's flow comes from that cell alone: the same on a 4 x 4 training crop (one
    cell) and inside a 16 x 16 tile, so what was learned on crops holds on tiles and scenes."""
    torch.manual_seed(3)
    block = ntl_sr.LocalDeformation(WIDTH)
    with torch.no_grad():
        torch.nn.init.normal_(block.predict[-1].weight)
    x, ref = torch.rand(1, WIDTH, 16, 16), torch.rand(1, WIDTH, 16, 16)
    big = block.cell_flow(x, ref)
    crop = block.cell_flow(x[..., 4:8, 8:12], ref[..., 4:8, 8:12])
    assert big.shape == (1, 2, 4, 4) and crop.shape == (1, 2, 1, 1)
    assert torch.allclose(big[..., 1, 2], crop[..., 0, 0], atol=1e-6)
    assert big[..., 1, 2].abs().sum() > 0


def test_local_deformation_warps_by_the_flow():
    block = ntl_sr.LocalDeformation(1)
    with torch.no_grad():  # a constant flow of one LR pixel in x
        block.predict[-1].bias.copy_(torch.tensor([1.0 / block.gain, 0.0]))
    x = torch.arange(64.0).view(1, 1, 8, 8)
    warped, _ = block(x, torch.zeros_like(x))
    assert torch.allclose(warped[..., :, :-1], x[..., :, 1:], atol=1e-4)


def test_deformable_with_zero_offsets_is_a_plain_conv():
    torch.manual_seed(3)
    block = ntl_sr.DeformableAlignment(WIDTH)
    x, ref = torch.rand(1, WIDTH, 6, 6), torch.rand(1, WIDTH, 6, 6)
    expect = x + F.leaky_relu(F.conv2d(x, block.deform.weight, block.deform.bias, padding=1), 0.1)
    assert torch.allclose(block(x, ref), expect, atol=1e-5)


def test_full_model_alignment_is_identity_at_init():
    torch.manual_seed(4)
    model = ntl_sr.build(width=WIDTH, deformable=False)
    low, dmo, dem = _inputs()
    out = model(low, dmo, dem)
    assert torch.allclose(out["theta"], torch.eye(2, 3).expand(2, 2, 3))
    assert torch.count_nonzero(out["flow"]) == 0


def _fake_outputs(seed: int = 5) -> tuple[dict, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    scales = [torch.rand(2, 1, s, s, generator=g) for s in (4, 8, 16)]
    out = {
        "scales": scales,
        "high_res": scales[-1],
        "isp_logits": torch.randn(2, 1, 16, 16, generator=g),
    }
    return (
        out,
        torch.rand(2, 1, 16, 16, generator=g),
        (torch.rand(2, 1, 16, 16, generator=g) > 0.5).float(),
    )


def test_loss_matches_direct_computation():
    out, target, isp = _fake_outputs()
    alpha, betas = 0.7, (0.2, 0.3, 0.5)
    got = losses.ntl_sr_loss(out, target, isp, alpha=alpha, betas=betas)
    t = target.numpy()[:, 0]
    l1 = 0.0
    for beta, pred in zip(betas, out["scales"]):
        k = 16 // pred.shape[-1]
        down = t.reshape(2, 16 // k, k, 16 // k, k).mean(axis=(2, 4))
        l1 += beta * np.abs(pred.numpy()[:, 0] - down).mean()
    p = 1 / (1 + np.exp(-out["isp_logits"].numpy()))
    y = isp.numpy()
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
    assert float(got) == pytest.approx(alpha * l1 + (1 - alpha) * bce, rel=1e-5)


def test_loss_switches():
    out, target, isp = _fake_outputs()
    final_only = losses.ntl_sr_loss(out, target, isp, multiscale=False, auxiliary=False)
    assert float(final_only) == pytest.approx(
        float((out["high_res"] - target).abs().mean()), rel=1e-6
    )
    no_aux = losses.ntl_sr_loss(out, target, None, auxiliary=False)
    with_aux = losses.ntl_sr_loss(out, target, isp, alpha=1.0)
    assert float(no_aux) == pytest.approx(float(with_aux), rel=1e-6)
    with pytest.raises(ValueError, match="ISP"):
        losses.ntl_sr_loss(out, target, None)
    with pytest.raises(ValueError, match="betas"):
        losses.ntl_sr_loss(out, target, isp, betas=(1.0,))


def test_scaling_round_trip_and_ranges():
    radiance = np.array([0.0, 0.5, 10.0, 300.0, ntl_sr.RADIANCE_MAX])
    scaled = ntl_sr.scale_high_res(radiance)
    assert scaled[0] == 0 and scaled[-1] == pytest.approx(1.0)
    assert np.allclose(ntl_sr.unscale_high_res(scaled), radiance, rtol=1e-6)
    t = torch.tensor(radiance)
    assert torch.allclose(ntl_sr.unscale_high_res(ntl_sr.scale_high_res(t)), t, rtol=1e-6)
    assert ntl_sr.scale_low_res(np.array(63.0)) == 1.0
    batch = {
        "low_res": torch.full((1, 1, 2, 2), 63.0),
        "high_res": torch.ones(1, 1, 16, 16),
        "dmo": torch.full((1, 7, 16, 16), 0.3),
        "dem": torch.full((1, 1, 16, 16), 500.0),
        "isp": torch.ones(1, 1, 16, 16, dtype=torch.uint8),
    }
    b = ntl_sr.scale_batch(batch)
    assert (
        b["low_res"].max() == 1
        and b["dmo"].max() == pytest.approx(1.0)
        and b["dem"].abs().max() == 0
    )
    assert b["isp"].dtype == torch.float32


def test_step_trains_on_a_tiny_batch():
    torch.manual_seed(6)
    model = ntl_sr.build(width=WIDTH)
    g = torch.Generator().manual_seed(7)
    batch = {
        "low_res": torch.randint(0, 64, (2, 1, 4, 4), generator=g).float(),
        "high_res": torch.rand(2, 1, 32, 32, generator=g) * 50,
        "dmo": torch.rand(2, 7, 32, 32, generator=g) * 0.3,
        "dem": torch.rand(2, 1, 32, 32, generator=g) * 900,
        "isp": (torch.rand(2, 1, 32, 32, generator=g) > 0.5).float(),
    }
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(10):
        loss = ntl_sr.step(model, batch, losses.ntl_sr_loss)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first


def test_cached_crops_are_aligned_and_deterministic():
    g = torch.Generator().manual_seed(8)
    low = torch.arange(16.0).view(1, 4, 4)
    high = low.repeat_interleave(8, -1).repeat_interleave(8, -2)  # HR = LR upsampled exactly
    sample = {
        "low_res": low,
        "high_res": high,
        "dmo": high.repeat(7, 1, 1),
        "dem": high,
        "isp": (torch.rand(1, 32, 32, generator=g) > 0.5).float(),
    }
    cached = crops.for_ntl([sample], crop=16, repeats=3, seed=0)
    assert len(cached) == 3
    a = cached[1]
    assert a["low_res"].shape == (1, 2, 2) and a["high_res"].shape == (1, 16, 16)
    up = a["low_res"].repeat_interleave(8, -1).repeat_interleave(8, -2)
    assert torch.equal(up, a["high_res"]) and torch.equal(a["dmo"][3:4], a["high_res"])
    assert torch.equal(cached[1]["high_res"], a["high_res"])  # same epoch, same crop
    with pytest.raises(ValueError, match="multiple"):
        crops.for_ntl([sample], crop=12)


def test_deformable_block_starts_as_the_identity():
    block = ntl_sr.DeformableAlignment(WIDTH)
    x, ref = torch.rand(1, WIDTH, 6, 6), torch.rand(1, WIDTH, 6, 6)
    assert torch.equal(block(x, ref), x)


def test_alignment_also_warps_the_low_res_input():
    """The global path sees the aligned LR lights: one geometry for the input and its features."""
    torch.manual_seed(6)
    align = ntl_sr.SpatialAlignment(WIDTH, affine=True, local_deformation=False, deformable=False)
    with torch.no_grad():  # translate by one LR pixel in x
        align.affine.theta.bias.copy_(
            torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0, 0.0]) / align.affine.shift_gain
        )
    low = torch.arange(64.0).view(1, 1, 8, 8)
    feats = torch.rand(1, WIDTH, 8, 8)
    _, warped_low, extras = align(feats, torch.rand(1, 8, 64, 64), low)
    assert torch.allclose(warped_low, ntl_sr.warp_affine(low, extras["theta"]))
    assert torch.allclose(warped_low[..., :, :-1], low[..., :, 1:], atol=1e-4)


def test_pixel_path_is_per_pixel():
    """The pixel path (1x1 convs) adds at each HR pixel a function of that pixel's inputs only."""
    model = ntl_sr.build(width=WIDTH)
    assert all(m.kernel_size == (1, 1) for m in model.pixel if isinstance(m, torch.nn.Conv2d))


@pytest.mark.parametrize("size", [8, 16, 32])
def test_warps_move_by_pixels_whatever_the_input_size(size):
    """A learned shift means the same distance on a training crop, a tile or a whole scene."""
    affine, local = ntl_sr.AffineTransformation(1), ntl_sr.LocalDeformation(1)
    with torch.no_grad():
        affine.theta.bias.copy_(torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0, 0.0]) / affine.shift_gain)
        local.predict[-1].bias.copy_(torch.tensor([0.0, 1.0 / local.gain]))
    x = torch.arange(float(size * size)).view(1, 1, size, size)
    shifted_x, _ = affine(x, torch.zeros_like(x))
    shifted_y, _ = local(x, torch.zeros_like(x))
    assert torch.allclose(shifted_x[..., :, :-1], x[..., :, 1:], atol=1e-3)
    assert torch.allclose(shifted_y[..., :-1, :], x[..., 1:, :], atol=1e-3)


def _guided_patches(n: int = 4, side: int = 64, seed: int = 0) -> list[dict]:
    """Patches whose fine lights follow a DMO band pixel by pixel (the guidance explains them),
    and whose coarse DN are a calibrated block mean: what the boosted baseline should learn."""
    from helpers.data import ntl

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        dmo = rng.uniform(0.02, 0.4, (7, side, side)).astype(np.float32)
        high = (200.0 * dmo[4] ** 2).astype(np.float32)
        dn = np.clip(np.round(0.5 * ntl.aggregate(high, 8) + 2), 0, 62).astype(np.float32)
        out.append(
            {
                "low_res": torch.from_numpy(dn[None]),
                "high_res": torch.from_numpy(high[None]),
                "dmo": torch.from_numpy(dmo),
                "dem": torch.full((1, side, side), 400.0),
            }
        )
    return out


def test_context_features_hold_the_bands_the_lights_and_their_blurs():
    train = _guided_patches(2)
    cal = ntl_baselines.calibrate(train, 8)
    s = train[0]
    f = ntl_baselines.context_features(
        s["low_res"].numpy(), s["dmo"].numpy(), s["dem"].numpy(), cal
    )
    n = 7 + 1 + 1 + 1 + len(ntl_baselines.CONTEXT_SIGMAS) * (1 + len(ntl_baselines.CONTEXT_BANDS))
    assert f.shape == (64, 64, n) and np.isfinite(f).all()
    assert np.allclose(f[..., :7], np.moveaxis(s["dmo"].numpy(), 0, -1))
    assert np.allclose(f[..., 8], ntl_baselines.bicubic(s["low_res"].numpy(), cal, 8))


def test_boosted_baseline_uses_the_guidance_that_bicubic_cannot():
    from helpers.models import metrics

    train, test = _guided_patches(4, seed=0), _guided_patches(1, seed=1)[0]
    cal = ntl_baselines.calibrate(train, 8)
    model = ntl_baselines.BoostedBaseline(cal, max_iter=60).fit(train)
    args = (test["low_res"].numpy(), test["dmo"].numpy(), test["dem"].numpy())
    truth = test["high_res"].numpy()[0]
    boosted, bic = model.predict(*args), ntl_baselines.bicubic(args[0], cal, 8)
    assert boosted.shape == truth.shape and boosted.min() >= 0
    dr = float(truth.max())
    assert metrics.psnr(boosted, truth, data_range=dr) > metrics.psnr(bic, truth, data_range=dr) + 6


def test_context_features_name_a_grid_mismatch():
    train = _guided_patches(1)
    cal = ntl_baselines.calibrate(train, 8)
    s = train[0]
    with pytest.raises(ValueError, match=r"dmo must be \(7, 64, 64\)"):
        ntl_baselines.context_features(
            s["low_res"].numpy(), s["dmo"].numpy()[:, :-8], s["dem"].numpy(), cal
        )


def test_guide_stats_start_as_identity_and_standardise_the_training_guidance():
    """fit_guide_stats: the DMO bands and DEM of the training samples come out with mean 0 and
    std 1 per channel (they vary by hundredths after the fixed scaling), kept in the state dict."""
    model = ntl_sr.build(width=WIDTH)
    assert torch.all(model.guide_mean == 0) and torch.all(model.guide_std == 1)
    g = torch.Generator().manual_seed(0)
    samples = [
        {"dmo": 0.05 + 0.01 * torch.rand(7, 16, 16, generator=g),
         "dem": 480 + 20 * torch.rand(1, 16, 16, generator=g)}
        for _ in range(3)
    ]  # fmt: skip
    ntl_sr.fit_guide_stats(model, samples)
    raw = torch.cat(
        [torch.cat([ntl_sr.scale_dmo(s["dmo"]), ntl_sr.scale_dem(s["dem"])]) for s in samples], 2
    )[None]
    z = (raw - model.guide_mean) / model.guide_std
    assert torch.allclose(z.mean((0, 2, 3)), torch.zeros(8), atol=1e-4)
    assert torch.allclose(z.std((0, 2, 3)), torch.ones(8), atol=1e-2)
    state = model.state_dict()
    assert "guide_mean" in state and torch.equal(state["guide_std"], model.guide_std)


def test_guide_stats_change_the_prediction_as_a_standardisation():
    """The model sees (guide - mean) / std: shifting the stats and the guidance together leaves
    the output unchanged."""
    torch.manual_seed(0)
    model = ntl_sr.build(width=WIDTH).eval()
    low, dmo, dem = _inputs(1)
    with torch.no_grad():
        before = model(low, dmo, dem)["high_res"]
        model.guide_mean.fill_(0.5)
        model.guide_std.fill_(2.0)
        after = model(low, 0.5 + 2 * dmo, 0.5 + 2 * dem)["high_res"]
    assert torch.allclose(before, after, atol=1e-5)


def test_pixel_path_sees_bicubic_lights_a_saturation_flag_and_context_blurs():
    """Pixel path inputs: bicubic lights + saturation flag (+ 8 guidance bands with guidance),
    and with ``context`` blurs at 3 scales of the lights (+ red/NIR/SWIR1 with guidance)."""
    assert ntl_sr.build(width=WIDTH).pixel[0].in_channels == 2 + 8 + 3 * 4
    assert ntl_sr.build(width=WIDTH, context=False).pixel[0].in_channels == 2 + 8
    no_guide = dict(guidance=False, fusion=False, deformable=False, affine=False)
    no_guide["local_deformation"] = False
    assert ntl_sr.build(width=WIDTH, **no_guide).pixel[0].in_channels == 2 + 3
    assert ntl_sr.build(width=WIDTH, context=False, **no_guide).pixel[0].in_channels == 2


def test_gaussian_blur_matches_scipy_with_nearest_edges():
    """The context blur is scipy's Gaussian filter (edges: nearest = replicate), also when the
    kernel is wider than the image (a 32 px crop at sigma 16)."""
    from scipy import ndimage

    x = np.random.default_rng(0).random((2, 3, 32, 24)).astype(np.float32)
    for sigma in (2.0, 16.0):
        ours = ntl_sr.gaussian_blur(torch.from_numpy(x), sigma).numpy()
        ref = ndimage.gaussian_filter(x, (0, 0, sigma, sigma), mode="nearest", truncate=2.5)
        np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_sr_heads_start_at_zero_so_the_output_starts_as_the_per_pixel_paths():
    """The CNN residual heads are zero at init: the x8 output is the global path (upsampled)
    plus the pixel path, whatever the fused features."""
    torch.manual_seed(0)
    model = ntl_sr.build(width=WIDTH).eval()
    assert all(torch.all(h.weight == 0) and torch.all(h.bias == 0) for h in model.refinement.heads)
    low, dmo, dem = _inputs(1)
    with torch.no_grad():
        out = model(low, dmo, dem)["high_res"]
        g = (torch.cat([dmo, dem], 1) - model.guide_mean) / model.guide_std
        lights = F.interpolate(low, scale_factor=8, mode="bicubic", align_corners=False)
        sat = F.interpolate((low >= 1.0).float(), scale_factor=8)
        base = ntl_sr.resize(model.refinement.global_path(low), (32, 32))
        calibrated = model.refinement.global_path(low)  # the learned DN -> radiance curve
        calibrated = F.interpolate(calibrated, scale_factor=8, mode="bicubic", align_corners=False)
        context = torch.cat([calibrated, g[:, 3:6]], 1)  # calibrated lights, red, NIR, SWIR1
        blurs = [ntl_sr.gaussian_blur(context, s) for s in (2.0, 6.0, 16.0)]
        expected = base + model.pixel(torch.cat([lights, sat, g, *blurs], 1))
    assert torch.allclose(out, expected, atol=1e-5)

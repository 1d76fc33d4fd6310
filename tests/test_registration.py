"""Registration by correlation (helpers.models.registration) and its place in the NTL model."""

from __future__ import annotations

import pytest
import torch

from helpers.models import losses, ntl_sr, registration


def _blobs(shift: tuple[float, float] = (0.0, 0.0), size: int = 16) -> torch.Tensor:
    """A lit crop (1, 1, size, size): three Gaussian towns, sampled at pixel centre + ``shift``."""
    yy, xx = torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)), indexing="ij")
    x, y = xx + shift[0], yy + shift[1]
    img = torch.zeros(size, size)
    for cx, cy, amp in ((4.0, 5.0, 0.8), (11.0, 9.5, 0.5), (6.5, 12.0, 0.6)):
        img += amp * torch.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 1.5**2))
    return (0.05 + img)[None, None]


@pytest.mark.parametrize("shift", [(0.75, -0.5), (-1.25, 0.25), (0.0, 0.0)])
def test_correlation_finds_a_known_shift(shift):
    """The coarse lights at p show the expected lights at p - shift; reading them at p + shift
    undoes it, so the shift found must be the one applied (within a quarter of the grid step)."""
    expected = _blobs()
    low_res = _blobs((-shift[0], -shift[1]))
    found = registration.correlation_shift(low_res, expected, tau=0.02, prior=0.0)
    assert found[0].tolist() == pytest.approx(list(shift), abs=0.15)


def test_found_shift_undoes_the_misregistration_when_applied_by_the_affine_warp():
    """Same sign as the model's warp: warping the coarse lights by the found translation brings
    them closer to the expected lights than leaving them (or warping the other way)."""
    expected, low_res = _blobs(), _blobs((-1.0, 0.5))
    found = registration.correlation_shift(low_res, expected, tau=0.02, prior=0.0)
    h, w = low_res.shape[-2:]

    def warped(sign: float) -> float:
        theta = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])[None].clone()
        theta[0, :, 2] = sign * found[0] * torch.tensor([2.0 / w, 2.0 / h])
        return float((ntl_sr.warp_affine(low_res, theta) - expected)[..., 3:-3, 3:-3].abs().mean())

    assert warped(1.0) < 0.3 * warped(0.0) < warped(-1.0)


def test_a_dark_crop_is_not_moved():
    """Only noise to register (std ~ 1 DN): the contrast weight keeps the shift near zero."""
    g = torch.Generator().manual_seed(0)
    low_res = 4 / 63 + torch.randn(1, 1, 8, 8, generator=g) / 63
    expected = torch.rand(1, 1, 8, 8, generator=g)
    found = registration.correlation_shift(low_res, expected)
    assert float(found.abs().max()) < 0.15  # a lit crop moves by up to RADIUS (2 px)


def test_expected_lights_start_flat_so_the_model_starts_unwarped():
    torch.manual_seed(0)
    model = ntl_sr.build(width=4, deformable=False)
    low, dmo, dem = torch.rand(2, 1, 4, 4), torch.rand(2, 7, 32, 32), torch.rand(2, 1, 32, 32)
    out = model(low, dmo, dem)
    assert torch.count_nonzero(out["expected"]) == 0
    assert torch.allclose(out["theta"], torch.eye(2, 3).expand(2, 2, 3), atol=1e-4)


def test_the_loss_trains_the_expected_lights_and_only_with_registration_on():
    torch.manual_seed(1)
    low, dmo, dem = torch.rand(2, 1, 4, 4), torch.rand(2, 7, 32, 32), torch.rand(2, 1, 32, 32)
    target, isp = torch.rand(2, 1, 32, 32), (torch.rand(2, 1, 32, 32) > 0.5).float()
    on, off = ntl_sr.build(width=4), ntl_sr.build(width=4, registration=False)
    assert "expected" not in off(low, dmo, dem)
    out = on(low, dmo, dem)
    loss = losses.ntl_sr_loss(out, target, isp)
    without = losses.ntl_sr_loss(out, target, isp, registration_weight=0.0)
    term = (
        losses.NTL_ALPHA * losses.NTL_REGISTRATION_WEIGHT * out["expected"].sub(target).abs().mean()
    )
    assert float(loss - without) == pytest.approx(float(term), rel=1e-4)
    loss.backward()
    assert on.alignment.expected.mlp[-1].weight.grad.abs().sum() > 0

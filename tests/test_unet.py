"""U-Net: shapes (also odd sizes), the closed-form parameter count, gradients reach every layer."""

from __future__ import annotations

import pytest
import torch

from helpers.models.unet import UNet, parameter_count


@pytest.mark.parametrize("up", ["bilinear", "transposed"])
@pytest.mark.parametrize("batch_norm", [True, False])
@pytest.mark.parametrize("depth,width,bands,classes", [(1, 4, 1, 2), (3, 8, 4, 8), (4, 16, 13, 10)])
def test_parameter_count(up, batch_norm, depth, width, bands, classes):
    model = UNet(bands, classes, width, depth, batch_norm=batch_norm, up=up)
    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert n == parameter_count(bands, classes, width, depth, batch_norm, up)


def test_parameter_count_by_hand():
    # depth 1, width 2, 1 band, 2 classes, transposed up-conv, no BN (conv biases), counted by hand:
    # inc 3x3 1->2 (20) + 2->2 (38); down 2->4 (76) + 4->4 (148); up-conv 2x2 4->2 (34);
    # up DoubleConv 4->2 (74) + 2->2 (38); OutConv 1x1 2->2 (6)
    expected = 20 + 38 + 76 + 148 + 34 + 74 + 38 + 6
    model = UNet(1, 2, width=2, depth=1, batch_norm=False, up="transposed")
    assert sum(p.numel() for p in model.parameters()) == expected == 434


@pytest.mark.parametrize("size", [(32, 32), (33, 47), (17, 64)])
def test_shapes_and_odd_sizes(size):
    model = UNet(4, 8, width=4, depth=3).eval()
    x = torch.randn(2, 4, *size)
    assert model(x).shape == (2, 8, *size)
    assert model.size_multiple == 8


def test_odd_size_rejected_clearly():
    model = UNet(4, 8, width=4, depth=3, pad_input=False)
    with pytest.raises(ValueError, match="multiple of 8"):
        model(torch.randn(1, 4, 33, 32))
    with pytest.raises(ValueError, match="batch, bands"):
        model(torch.randn(4, 32, 32))


def test_gradient_reaches_every_parameter():
    torch.manual_seed(0)
    model = UNet(4, 3, width=4, depth=2, up="transposed", dropout=0.1)
    out = model(torch.randn(2, 4, 16, 16))
    torch.nn.functional.cross_entropy(out, torch.randint(0, 3, (2, 16, 16))).backward()
    missing = [
        n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert not missing


def test_bad_arguments():
    with pytest.raises(ValueError):
        UNet(4, 8, up="nearest")
    with pytest.raises(ValueError):
        UNet(0, 8)

"""pix2pix generator and PatchGAN: parameter counts of the reference, shapes, init, label helpers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers.models import pix2pix


def test_unet_256_parameter_count_matches_reference():
    g = pix2pix.generator(3, 3, patch=256, ngf=64)
    assert g.num_downs == 8
    assert pix2pix.count_parameters(g) == 54_413_955


def test_patchgan_parameter_count_matches_reference():
    d = pix2pix.discriminator(6, ndf=64, n_layers=3)
    assert pix2pix.count_parameters(d) == 2_768_705


def test_unet_256_structure():
    g = pix2pix.generator(3, 3, patch=256)
    assert sum(isinstance(m, nn.Dropout) and m.p == 0.5 for m in g.modules()) == 3
    assert isinstance(list(g.modules())[-1], nn.Tanh)
    assert sum(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.2 for m in g.modules()) == 7
    assert sum(isinstance(m, nn.ReLU) for m in g.modules()) == 8


@pytest.mark.parametrize("patch,depth", [(64, 6), (128, 7), (256, 8)])
@pytest.mark.parametrize("bands,classes", [(4, 8), (8, 8), (2, 5)])
def test_shapes_follow_patch(patch, depth, bands, classes):
    torch.manual_seed(0)
    g = pix2pix.generator(bands, classes, patch=patch, ngf=4)
    d = pix2pix.discriminator(bands + classes, ndf=4)
    assert g.num_downs == depth
    x = torch.randn(2, bands, patch, patch)
    with torch.no_grad():
        y = g(x)
        logits = d(torch.cat([x, y], 1))
    assert y.shape == (2, classes, patch, patch)
    assert y.abs().max() <= 1.0
    assert logits.shape == (2, 1, patch // 8 - 2, patch // 8 - 2)


def test_wrong_size_is_explained():
    g = pix2pix.generator(4, 8, patch=64, ngf=4)
    with pytest.raises(ValueError, match="divisible by 64"):
        g(torch.randn(1, 4, 48, 48))
    with pytest.raises(ValueError, match="power-of-two"):
        pix2pix.num_downs_for(100)


def test_init_normal_002():
    torch.manual_seed(0)
    g = pix2pix.generator(3, 3, patch=256, ngf=64)
    weights = torch.cat(
        [m.weight.flatten() for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    )
    assert abs(weights.mean().item()) < 1e-3
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)
    scales = torch.cat([m.weight for m in g.modules() if isinstance(m, nn.BatchNorm2d)])
    assert scales.mean().item() == pytest.approx(1.0, abs=0.01)


def test_labels_round_trip():
    mask = torch.tensor([[[0, 3], [7, 255]]])
    target = pix2pix.labels_to_target(mask, 8)
    assert target.shape == (1, 8, 2, 2)
    assert torch.allclose(target.unique(), torch.tensor([-0.8, 0.8]))  # soft targets (TARGET_SCALE)
    assert (target[0, :, 1, 1] == -0.8).all()  # ignored pixel: no class
    hard = pix2pix.labels_to_target(mask, 8, scale=1.0)
    assert set(hard.unique().tolist()) == {-1.0, 1.0}
    assert (hard == 1).sum() == 3 and (target == 0.8).sum() == 3
    labels = pix2pix.output_to_labels(target)
    assert labels[0, 0].tolist() == [0, 3] and labels[0, 1, 0] == 7


def test_with_batch_statistics_uses_the_batch_and_leaves_the_original():
    torch.manual_seed(0)
    g = pix2pix.generator(4, 3, patch=32, ngf=4)
    g.train()
    x = torch.randn(4, 4, 32, 32) * 3 + 5  # far from the running statistics (0, 1)
    clone = pix2pix.with_batch_statistics(g)
    assert not clone.training and g.training
    g.eval()
    with torch.no_grad():
        running, batch = g(x), clone(x)
        again = clone(x)
    assert not torch.allclose(running, batch)
    assert torch.equal(batch, again)  # deterministic: dropout off
    bn = next(m for m in g.modules() if isinstance(m, nn.BatchNorm2d))
    assert bn.running_mean is not None and torch.count_nonzero(bn.running_mean) == 0


def test_figures_and_browser_headless():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from helpers.training import train
    from helpers.views import plots, widgets

    rng = np.random.default_rng(0)
    panel = {"image": rng.random((4, 16, 16)), "truth": rng.integers(0, 8, (16, 16))}
    fig = plots.label_grid([panel, panel])
    assert len(fig.axes) >= 4
    fig2 = plots.confusion_figure(np.eye(8, dtype=int) * 5 + 1, list("abcdefgh"))
    hist = train.GANHistory(
        steps={"d_loss": [0.7, 0.6, 0.5], "g_gan": [1.0, 1.1, 1.2], "g_l1": [1.0, 0.8, 0.6]}
    )
    fig3 = plots.gan_curves({"run": hist}, window=2)
    plt.close("all")
    assert fig2 is not None and fig3 is not None
    browser = widgets.label_browser([panel, panel], titles=["a", "b"])
    assert browser.children[0].children[0].max == 1
    with pytest.raises(ValueError, match="at least one"):
        widgets.label_browser([])


def test_softmax_output_is_a_class_distribution_in_minus_one_one():
    torch.manual_seed(0)
    g = pix2pix.generator(4, 8, patch=32, ngf=4, output="softmax")
    assert isinstance(list(g.modules())[-1], pix2pix.SoftmaxImage) and g.target_scale == 1.0
    assert pix2pix.generator(4, 8, patch=32, ngf=4).target_scale == pix2pix.TARGET_SCALE
    with torch.no_grad():
        y = g(torch.randn(2, 4, 32, 32))
    assert y.min() >= -1 and y.max() <= 1
    assert torch.allclose(((y + 1) / 2).sum(1), torch.ones(2, 32, 32), atol=1e-5)
    same = pix2pix.count_parameters(pix2pix.generator(3, 3, 256, 64, output="softmax"))
    assert same == 54_413_955  # the output layer has no parameters
    with pytest.raises(ValueError, match="output must be one of"):
        pix2pix.generator(4, 8, patch=32, output="sigmoid")


def test_l1_to_one_hot_is_linear_in_the_true_class_probability():
    """Why the softmax image trains: per pixel, L1 to the +-1 one-hot equals 4 (1 - p_true)."""
    logits = torch.randn(3, 5, 4, 4)
    mask = torch.randint(0, 5, (3, 4, 4))
    image = pix2pix.SoftmaxImage()(logits)
    l1 = (image - pix2pix.labels_to_target(mask, 5, scale=1.0)).abs().sum(1)
    p_true = logits.softmax(1).gather(1, mask[:, None])[:, 0]
    assert torch.allclose(l1, 4 * (1 - p_true), atol=1e-5)

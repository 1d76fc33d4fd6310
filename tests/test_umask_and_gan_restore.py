"""Hardening: files written through a temporary file (``rasters.write``,
``train.checkpoints.save_checkpoint``) follow the user's umask instead of mkstemp's 0600, and a GAN
checkpoint without its optimiser states is refused in one line naming the file and the fix."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
import torch
from rasterio.transform import from_origin

from helpers.io import rasters
from helpers.training.train import checkpoints, gan


@pytest.fixture
def umask_022():
    """Run the test under umask 022 (files 0644), whatever the caller's umask."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_rasters_write_honours_the_umask(tmp_path, umask_022):
    out = rasters.write(
        tmp_path / "a.tif", np.zeros((1, 8, 8), "uint8"), "EPSG:32633", from_origin(0, 80, 10, 10)
    )
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_checkpoints_honour_the_umask(tmp_path, umask_022):
    out = checkpoints.save_checkpoint(tmp_path / "c.pt", {"epoch": 1})
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_a_gan_checkpoint_without_optimisers_names_the_file_and_the_fix(tmp_path):
    generator, discriminator = torch.nn.Conv2d(2, 2, 1), torch.nn.Conv2d(4, 1, 1)
    path = tmp_path / "weights_only.pt"
    torch.save({"generator": generator.state_dict()}, path)
    loader = [{"image": torch.zeros(1, 2, 4, 4), "mask": torch.zeros(1, 4, 4).long()}]
    with pytest.raises(checkpoints.CheckpointError) as caught:
        gan.fit_gan(
            generator, discriminator, loader, 1, checkpoint=path, progress=False,
            batch_fn=lambda batch, device: (batch["image"], batch["image"], None),
        )  # fmt: skip
    text = str(caught.value)
    assert str(path) in text and "'opt_g'" in text and "another checkpoint path" in text
    assert "\n" not in text

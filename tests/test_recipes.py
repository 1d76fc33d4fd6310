"""helpers.training.recipes: each recipe trains a few steps on tiny arrays, the same seed gives the same
weights and another seed other weights, and the recipe is the one its callers use."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.apps import jobs
from helpers.core import config
from helpers.data import crops
from helpers.training import ablation
from helpers.training.recipes import landcover, night_lights

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: small convs, one thread

TINY_NTL = dict(width=4, batch=2, epochs=1, learning_rate=1e-3, budget_s=None)


def _ntl_patches(n: int, seed: int) -> list[dict]:
    """NTL-layout samples in physical units, 4 x 4 coarse and 32 x 32 fine pixels."""
    g = torch.Generator().manual_seed(seed)
    return [
        {
            "low_res": torch.randint(0, 64, (1, 4, 4), generator=g).float(),
            "high_res": torch.rand(1, 32, 32, generator=g) * 50,
            "dmo": torch.rand(7, 32, 32, generator=g) * 0.3,
            "dem": torch.rand(1, 32, 32, generator=g) * 500,
            "isp": (torch.rand(1, 32, 32, generator=g) > 0.5).float(),
        }
        for _ in range(n)
    ]


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _ntl_run(seed: int, tmp_path, switches=None) -> tuple[torch.nn.Module, int]:
    train_set = crops.for_ntl(_ntl_patches(2, 0), crop=16, repeats=2, seed=0)
    model, history, _, steps = night_lights.train_model(
        switches or {}, {}, train_set, **TINY_NTL, seed=seed, device="cpu",
        checkpoint=tmp_path / f"ntl{seed}" / "checkpoint.pt",
    )  # fmt: skip
    assert history.epochs_done == 1 and np.isfinite(history.train_loss[-1])
    return model, steps


def test_night_lights_trains_a_few_steps_and_is_deterministic_in_its_seed(tmp_path):
    first, steps = _ntl_run(0, tmp_path)
    again, _ = _ntl_run(0, tmp_path / "again")
    other, _ = _ntl_run(1, tmp_path)
    assert steps == 2  # 4 crops in batches of 2, one epoch
    assert _same(_weights(first), _weights(again))
    assert not _same(_weights(first), _weights(other))
    scores = night_lights.scores(first, _ntl_patches(2, 1), ratio=8)
    assert np.isfinite(scores["psnr"]) and -1 <= scores["ssim"] <= 1  # random truth: any SSIM


def test_night_lights_standardises_the_guidance_of_guided_models_only():
    samples = _ntl_patches(2, 0)
    guided = night_lights.build({}, 4, samples)
    plain = night_lights.build(night_lights.NTL_ONLY, 4, samples)
    assert not torch.all(guided.guide_std == 1) and torch.all(plain.guide_std == 1)
    untouched = night_lights.build({}, 4)  # no training samples: identity standardisation
    assert torch.all(untouched.guide_std == 1)


def test_night_lights_settings_come_from_the_profile_and_fit_the_trainer():
    for notebook in (night_lights.NOTEBOOK, "09_ntl_ablation"):
        table = config.settings(notebook, "smoke")
        fit = night_lights.profile_settings("smoke", notebook)
        assert fit == night_lights.fit_settings(table)
        assert fit["epochs"] == table["epochs"] and fit["budget_s"] == table["time_cap_s"]
    import inspect

    params = inspect.signature(night_lights.train_model).parameters
    assert set(night_lights.fit_settings(config.settings(night_lights.NOTEBOOK, "smoke"))) <= set(
        params
    )


def test_the_ablation_and_the_job_train_by_the_night_lights_recipe():
    assert ablation.train_row is night_lights.train_model
    assert ablation.evaluate is night_lights.evaluate
    assert jobs.night_lights is night_lights and jobs.landcover is landcover


TINY_UNET = dict(crop=32, samples=4, batch=2, width=4, depth=2, epochs=1, learning_rate=1e-3,
                 time_cap_s=None)  # fmt: skip


def _landcover_patches() -> list[dict]:
    rng = np.random.default_rng(0)
    image = rng.random((4, 64, 64), dtype=np.float32)
    mask = rng.integers(0, 3, (64, 64)).astype(np.uint8)
    mask[:4] = 255  # unlabelled rows are left out of the loss
    return landcover.patches_from_arrays(image, mask, 32)


def _unet_run(seed: int, tmp_path) -> torch.nn.Module:
    model, history = landcover.unet(
        _landcover_patches(), TINY_UNET, seed, num_classes=3, device="cpu",
        checkpoint=tmp_path / f"unet{seed}" / "checkpoint.pt",
    )  # fmt: skip
    assert history.epochs_done == 1 and np.isfinite(history.train_loss[-1])
    return model


def test_landcover_trains_a_few_steps_and_is_deterministic_in_its_seed(tmp_path):
    first = _weights(_unet_run(0, tmp_path))
    assert _same(first, _weights(_unet_run(0, tmp_path / "again")))
    assert not _same(first, _weights(_unet_run(1, tmp_path)))


def test_landcover_takes_the_callers_batches_and_step(tmp_path):
    """``eosr train`` hands the recipe its own batches (a sampler) and notebook 04's step."""
    seen = {"loader": 0, "step": 0}

    def loader(train_crops):
        seen["loader"] += 1
        return torch.utils.data.DataLoader(train_crops, batch_size=2)

    def step(model, batch, loss_fn):
        seen["step"] += 1
        return loss_fn(model(batch["image"]), batch["mask"])

    landcover.unet(
        _landcover_patches(), TINY_UNET, 0, num_classes=3, device="cpu", loader=loader,
        step_fn=step, checkpoint=tmp_path / "c" / "checkpoint.pt",
    )  # fmt: skip
    assert seen["loader"] == 1 and seen["step"] >= 2  # every batch went through the step

"""Settings pass down as arguments, not through the environment (issue 32, item 5), and
``eosr train ntl_sr`` follows notebook 08's recipe step by step (issue 32, first bullet)."""

from __future__ import annotations

import types

import pytest
import torch

from helpers import config, jobs, synthetic
from helpers.models import ntl_sr


@pytest.fixture(scope="module")
def smoke_paths():
    """The smoke sample scene (built once per data folder)."""
    return synthetic.ensure_sample("smoke", verbose=False)


def test_eosr_train_ntl_sr_standardises_the_guidance_on_the_training_patches(
    smoke_paths, tmp_path, monkeypatch
):
    """Notebook 08 (``ablation.train_row``) calls ``ntl_sr.fit_guide_stats`` before training; the
    job did not, and scored ~2 dB lower. The model the job trains carries the statistics."""
    seen = {}

    def fake_fit(model, loader, *args, **kwargs):  # stop before training: look at the model
        seen["mean"], seen["std"] = model.guide_mean.clone(), model.guide_std.clone()
        seen["samples"] = loader.dataset.samples
        return types.SimpleNamespace(epochs_done=0)

    monkeypatch.setattr(jobs.train, "fit", fake_fit)
    monkeypatch.setattr(jobs.distributed, "is_main", lambda: False)  # skip the scoring
    settings = config.settings(jobs.NOTEBOOK["ntl_sr"], "smoke")
    job = jobs.Job(
        "ntl_sr", "smoke", settings, 1, settings["batch"], 0, torch.device("cpu"), smoke_paths,
        tmp_path / "checkpoint.pt", progress=False,
    )  # fmt: skip
    jobs._ntl_sr(job)
    expected = ntl_sr.fit_guide_stats(ntl_sr.build(width=settings["width"]), seen["samples"])
    assert not torch.equal(seen["mean"], torch.zeros_like(seen["mean"]))  # fitted, not identity
    assert torch.allclose(seen["mean"], expected.guide_mean)
    assert torch.allclose(seen["std"], expected.guide_std)

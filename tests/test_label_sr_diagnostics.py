"""Notebook 04's diagnostics of a short run: step profile, own-label agreement, dead classes."""

from __future__ import annotations

import torch

from helpers.training import train
from helpers.training.recipes import label_sr as recipe


class OneHot(torch.nn.Module):
    """A 'model' whose logits are a scaled one-hot of the image's first band (a class index)."""

    def __init__(self, k: int = 4) -> None:
        super().__init__()
        self.k = k
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idx = x[:, 0].long().clamp(0, self.k - 1)
        return 20.0 * torch.nn.functional.one_hot(idx, self.k).permute(0, 3, 1, 2).float()


def _patches(n: int = 3, side: int = 16) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        cls = torch.randint(0, 3, (side, side), generator=g)  # class 3 never occurs
        image = torch.stack([cls.float(), torch.rand(side, side, generator=g)])
        fine = cls.clone()
        fine[:4] = (fine[:4] + 1) % 3  # the fine truth differs from the coarse on a quarter
        out.append({"image": image, "coarse": cls, "mask": fine})
    return out


def test_own_label_agreement_compares_model_and_fine_truth() -> None:
    patches = _patches()
    got = recipe.own_label_agreement(OneHot(), patches)
    assert got["model"] == 1.0  # the model returns the coarse labels
    assert abs(got["fine"] - 0.75) < 1e-6
    wrong = [
        dict(p, image=torch.stack([(p["coarse"] + 1).float() % 3, p["image"][1]])) for p in patches
    ]
    assert recipe.own_label_agreement(OneHot(), wrong)["model"] == 0.0


def test_class_usage_finds_a_class_never_predicted() -> None:
    images = torch.stack([p["image"] for p in _patches()])
    use = recipe.class_usage(OneHot(), images)
    assert use["share"][3] == 0 and use["max_prob"][3] < 1e-6
    assert abs(use["share"][:3].sum() - 1.0) < 1e-9 and (use["max_prob"][:3] > 0.99).all()


def test_step_profile_counts_steps_and_divides_the_history() -> None:
    patches = _patches(4, 32)
    settings = {"crop": 16, "batch": 2, "samples": 8}
    history = train.History(epoch=[1, 2], train_loss=[1.0, 0.5], seconds=[2.0, 2.0])
    prof = recipe.step_profile(patches, settings, 0, history)
    assert prof["steps"] == 8  # 2 epochs of 4 batches
    assert abs(prof["step_ms"] - 500.0) < 1e-9
    assert 0 <= prof["feed_ms"] < 1000

"""helpers.ablation: notebook 09's row-by-row training, scored on the test patches."""

from __future__ import annotations

import numpy as np
import torch

from helpers import ablation, crops


def _patches(n: int, seed: int) -> list[dict]:
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


def test_run_rows_trains_each_row_where_it_is_told(tmp_path):
    train_set = crops.for_ntl(_patches(2, 0), crop=16, repeats=2, seed=0)
    test_set = _patches(2, 1)
    rows = {"plain": ({"guidance": False, "fusion": False, "deformable": False, "affine": False,
                       "local_deformation": False}, {"auxiliary": False, "multiscale": False}, None),
            "full": ({}, {}, 32.4)}  # fmt: skip
    told = []

    def checkpoint_for(name):
        told.append(name)
        return tmp_path / name.replace(" ", "_") / "checkpoint.pt"

    results, models, truth = ablation.run_rows(
        rows, train_set, test_set, width=4, batch=2, epochs=1, learning_rate=1e-3,
        budget_s=None, seed=0, ratio=8, device="cpu", checkpoint_for=checkpoint_for,
    )  # fmt: skip
    assert told == ["plain", "full"] and all(
        (tmp_path / n / "checkpoint.pt").exists() for n in told
    )
    assert [r["row"] for r in results] == ["plain", "full"] and set(models) == {"plain", "full"}
    assert results[1]["published PSNR"] == 32.4 and results[0]["epochs"] == 1
    assert truth.shape == (2, 32, 32) and np.isfinite(results[0]["psnr"])
    pred, truth_again, low = ablation.evaluate(models["full"], test_set)
    assert np.array_equal(truth_again, truth) and np.allclose(pred, results[1]["pred"])

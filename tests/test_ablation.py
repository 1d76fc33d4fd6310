"""helpers.training.ablation: notebook 09's row-by-row training over seeds, scored on the test patches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.data import crops
from helpers.training import ablation

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: small convs, one thread


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


PLAIN = {"guidance": False, "fusion": False, "deformable": False, "affine": False,
         "local_deformation": False}  # fmt: skip
FIT = dict(width=4, batch=2, epochs=1, learning_rate=1e-3, budget_s=None)


def test_run_rows_trains_each_row_where_it_is_told(tmp_path):
    train_set = crops.for_ntl(_patches(2, 0), crop=16, repeats=2, seed=0)
    test_set = _patches(2, 1)
    rows = {"plain": (PLAIN, {"auxiliary": False, "multiscale": False}, None),
            "full": ({}, {}, 32.4)}  # fmt: skip
    told = []

    def checkpoint_for(name):
        told.append(name)
        return tmp_path / name.replace(" ", "_") / "checkpoint.pt"

    results, models, truth = ablation.run_rows(
        rows, train_set, test_set, **FIT, seed=0, ratio=8, device="cpu",
        checkpoint_for=checkpoint_for,
    )  # fmt: skip
    assert told == ["plain", "full"] and all(
        (tmp_path / n / "checkpoint.pt").exists() for n in told
    )
    assert [r["row"] for r in results] == ["plain", "full"] and set(models) == {"plain", "full"}
    assert results[1]["published PSNR"] == 32.4 and results[0]["epochs"] == 1
    assert truth.shape == (2, 32, 32) and np.isfinite(results[0]["psnr"])
    pred, truth_again, low = ablation.evaluate(models["full"], test_set)
    assert np.array_equal(truth_again, truth) and np.allclose(pred, results[1]["pred"])


def test_seeds_give_equal_steps_and_a_mean_and_std_per_row():
    """Every row and seed trains the same number of steps; summarise gives mean +- std."""
    train_set = crops.for_ntl(_patches(2, 0), crop=16, repeats=3, seed=0)
    rows = {"plain": (PLAIN, {"auxiliary": False, "multiscale": False}, None),
            "full": ({}, {}, None)}  # fmt: skip
    results, models, _ = ablation.run_rows(
        rows, train_set, _patches(2, 1), **FIT, seeds=[0, 1, 2], ratio=8, device="cpu"
    )
    assert [(r["row"], r["seed"]) for r in results] == [
        (n, s) for s in (0, 1, 2) for n in ("plain", "full")
    ]
    assert {r["steps"] for r in results} == {3}  # 6 crops / batch 2, one epoch, every run
    assert set(models) == {"plain", "full"}
    table = ablation.summarise(results)
    psnr = [r["psnr"] for r in results if r["row"] == "full"]
    assert table.loc["full", "psnr"] == pytest.approx(np.mean(psnr))
    assert table.loc["full", "psnr std"] == pytest.approx(np.std(psnr, ddof=1))
    assert table.loc["full", "psnr std"] > 0  # the seeds differ
    assert (table["seeds"] == 3).all() and table["equal steps"].all()


def test_train_row_standardises_the_guidance_of_guided_rows():
    train_set = crops.for_ntl(_patches(2, 0), crop=16, repeats=1, seed=0)
    guided, *_ = ablation.train_row({}, {}, train_set, **FIT, seed=0)
    plain, *_ = ablation.train_row(PLAIN, {}, train_set, **FIT, seed=0)
    assert not torch.all(guided.guide_std == 1) and torch.all(plain.guide_std == 1)


def test_versus_baseline_ties_inside_the_seed_spread():
    import pandas as pd

    table = pd.DataFrame(
        {"psnr": [30.0, 30.5, 33.0, 27.0], "psnr std": [1.0, 1.0, 0.5, 0.5]},
        index=["baseline", "a", "b", "c"],
    )
    v = ablation.versus_baseline(table)
    assert list(v.index) == ["a", "b", "c"]
    assert list(v["verdict"]) == ["ties with", "beats", "falls below"]
    assert v.loc["a", "spread"] == pytest.approx(2**0.5) and v.loc["b", "difference"] == 3.0

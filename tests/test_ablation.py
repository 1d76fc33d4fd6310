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


def test_warp_offsets_compose_the_affine_and_the_flow_as_the_model_warps():
    """On a linear ramp (which bilinear sampling reproduces exactly) the model's two warps in
    sequence read the input where ``ntl_sr.warp_offsets`` says, away from the border."""
    from helpers.models import ntl_sr

    yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    ramp = (0.3 * xx + 0.7 * yy)[None, None].expand(2, 1, 16, 16)
    theta = torch.tensor([[1.0, 0.01, 0.05], [0.0, 0.99, -0.03]]).expand(2, 2, 3)
    flow = torch.randn(2, 2, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.02
    warped = ntl_sr.warp_flow(ntl_sr.warp_affine(ramp, theta), flow)
    off = ntl_sr.warp_offsets({"theta": theta, "flow": flow}, (16, 16))
    expect = (0.3 * (xx + off[:, 0]) + 0.7 * (yy + off[:, 1]))[:, None]
    assert torch.allclose(warped[..., 3:-3, 3:-3], expect[..., 3:-3, 3:-3], atol=1e-4)
    assert ntl_sr.warp_offsets({}, (4, 4)).abs().max() == 0  # no module: no warp


class _Shifter(torch.nn.Module):
    """A stand-in for an aligned model: its affine warp is a constant shift of ``dx`` LR px."""

    def __init__(self, dx: float) -> None:
        super().__init__()
        self.dx = torch.nn.Parameter(torch.tensor(float(dx)))

    def forward(self, low_res, dmo, dem):
        w = low_res.shape[-1]
        theta = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).repeat(low_res.shape[0], 1, 1)
        theta[:, 0, 2] = self.dx.detach() * 2 / w
        return {"theta": theta}


def test_warp_errors_zero_for_the_undoing_warp_and_the_shift_itself_for_no_warp():
    """A scene that moved every coarse light by +4 fine px in x: reading 4 px to the left (half a
    coarse px) undoes it (error 0), no warp leaves 0.5 coarse px, the wrong way 1.0."""
    displacement = np.zeros((2, 64, 64), np.float32)
    displacement[0] = 4.0  # source(p) = p + 4 px in x
    patches = [dict(p, id=f"p{i}") for i, p in enumerate(_patches(2, 0))]  # 32 x 32 fine px
    origins = {"p0": (0, 0), "p1": (16, 24)}
    right = ablation.warp_errors(_Shifter(-0.5), patches, displacement, origins, ratio=8)
    wrong = ablation.warp_errors(_Shifter(+0.5), patches, displacement, origins, ratio=8)
    assert right["warp_rms_coarse_px"] == pytest.approx(0.0, abs=1e-5)
    assert right["null_rms_coarse_px"] == pytest.approx(0.5, abs=1e-5)
    assert right["applied_rms_coarse_px"] == pytest.approx(0.5, abs=1e-5)
    assert right["coarse_grid_rms_coarse_px"] == pytest.approx(0.0, abs=1e-4)
    assert wrong["warp_rms_coarse_px"] == pytest.approx(1.0, abs=1e-5)
    assert right["lit_warp_rms_coarse_px"] == pytest.approx(0.0, abs=1e-5)  # lit: most pixels
    assert wrong["lit_null_rms_coarse_px"] == pytest.approx(0.5, abs=1e-5)
    dark = [dict(p, high_res=p["high_res"] * 0) for p in patches]  # no lit pixel: no lit error
    assert np.isnan(
        ablation.warp_errors(_Shifter(0.0), dark, displacement, origins, 8)[
            "lit_warp_rms_coarse_px"
        ]
    )


def _aligned(**change):
    good = {"warp_rms_coarse_px": 1.2, "warp_rms_coarse_px std": 0.05, "null_rms_coarse_px": 1.1,
            "warp seeds": 3, "verdict": "falls behind"}  # fmt: skip
    return {**good, **change}


def test_alignment_rules_hold_for_an_honest_record_and_fail_on_a_broken_one():
    """The rules pass whichever way the verdict goes, as long as it is the numbers'; they fail
    when the warp error is missing, measured on fewer seeds, or the verdict is not the numbers'."""
    from helpers.core import checks

    def passed(record):
        return all(c.passed for c in ablation.rules_alignment(record, seeds=3, prefix=""))

    assert passed(_aligned())
    assert passed(_aligned(warp_rms_coarse_px=0.6, verdict="beats"))
    assert not passed(_aligned(warp_rms_coarse_px=float("nan")))
    assert not passed({k: v for k, v in _aligned().items() if k != "null_rms_coarse_px"})
    assert not passed(_aligned(**{"warp seeds": 1}))
    assert not passed(_aligned(verdict="beats"))  # a flattering verdict the numbers do not hold
    with pytest.raises(AssertionError, match="verdict"):
        checks.verify(
            ablation.rules_alignment(_aligned(verdict="beats"), seeds=3, prefix=""), "teaching"
        )


def test_alignment_rules_read_the_lit_errors_and_hold_a_promise():
    """By default the verdict is the lit pixels' (where there is light to register); with
    ``promised`` a warp that does not beat no warp fails as a learned check (a smoke run warns)."""
    from helpers.core import checks

    lit = {f"lit_{k}" if "rms" in k else k: v for k, v in _aligned(verdict="beats").items()}
    lit["lit_warp_rms_coarse_px"] = 0.4  # beats the lit null 1.1; the all-pixel keys are absent
    assert all(c.passed for c in ablation.rules_alignment(lit, seeds=3, promised=True))
    worse = dict(lit, lit_warp_rms_coarse_px=1.3, verdict="falls behind")
    rules = ablation.rules_alignment(worse, seeds=3, promised=True)
    assert [c.name for c in rules if not c.passed] == ["the alignment modules beat no warp"]
    assert all(c.passed for c in ablation.rules_alignment(worse, seeds=3))  # not promised
    with pytest.raises(AssertionError, match="beat no warp"):
        checks.verify(rules, "teaching")
    checks.verify(rules, "smoke")  # learned: a smoke run only warns


def test_alignment_verdict_ties_inside_the_seed_spread():
    assert ablation.alignment_verdict(1.15, 0.1, 1.1) == "ties with"
    assert ablation.alignment_verdict(0.8, 0.1, 1.1) == "beats"
    assert ablation.alignment_verdict(1.3, 0.1, 1.1) == "falls behind"
    # one seed, a hair's breadth: a tie
    assert ablation.alignment_verdict(1.439, 0.0, 1.442) == "ties with"

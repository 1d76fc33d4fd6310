"""Seeds: mean +- std over repeated trainings, records that hold them (older records still read),
and the GAN seed loop on a tiny fake data set."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from helpers.records import results
from helpers.training import seeds


def test_mean_std():
    assert seeds.mean_std([0.3, 0.5, 0.4]) == pytest.approx((0.4, 0.1))  # sample std (ddof 1)
    assert seeds.mean_std([0.7]) == (0.7, 0.0)
    with pytest.raises(ValueError, match="no seed"):
        seeds.mean_std([])
    mean, std = seeds.summarise([{"iou": 0.2, "f1": 0.3}, {"iou": 0.4, "f1": 0.5, "x": 1.0}])
    assert mean == pytest.approx({"iou": 0.3, "f1": 0.4}) and set(std) == {"iou", "f1"}
    assert std["iou"] == pytest.approx(math.sqrt(0.02))
    assert seeds.fmt_mean_std(0.41234, 0.0312) == "41.2 +- 3.1 %"
    # one seed has no spread: say so rather than print "+- 0.0"
    assert seeds.fmt_mean_std(0.41234, 0.0, n=1) == "41.2 % (1 seed)"
    assert seeds.fmt_mean_std(0.41234, 0.0, percent=False, n=1) == "0.4123 (1 seed)"
    assert seeds.fmt_mean_std(0.41234, 0.0312, n=3) == "41.2 +- 3.1 %"


def test_record_seeds_and_old_records(monkeypatch, tmp_path):
    monkeypatch.setenv("EOSR_RUN_DIR", str(tmp_path))
    per_seed = [{"iou": 0.30, "f1": 0.40}, {"iou": 0.50, "f1": 0.60}, {"iou": 0.40, "f1": 0.50}]
    rec = results.record_seeds("05_cgan_pix2pix", "pix2pix", per_seed, [0, 1, 2], profile="smoke")
    line = json.loads((tmp_path / "results.jsonl").read_text().splitlines()[-1])
    assert line["metrics"] == pytest.approx({"iou": 0.4, "f1": 0.5})  # the mean: old readers work
    assert line["std"]["iou"] == pytest.approx(0.1) and line["seeds"] == [0, 1, 2]
    assert line["per_seed"] == per_seed and rec["std"] == line["std"]
    assert results.seed_stats(line, "iou") == (pytest.approx(0.4), pytest.approx(0.1), 3)
    old = {"metrics": {"iou": 0.3}}  # a record written before seeds were recorded
    assert results.seed_stats(old, "iou") == (0.3, None, 1)
    with pytest.raises(ValueError, match="one metrics dict per seed"):
        results.record_seeds("05_cgan_pix2pix", "pix2pix", per_seed, [0, 1])
    # one seed (notebook 05's softmax image in teaching): no spread, and the report says so
    one = results.record_seeds("05_cgan_pix2pix", "softmax", per_seed[:1], [0], profile="smoke")
    assert results.seed_stats(one, "iou") == (pytest.approx(0.3), None, 1)
    from helpers.records import report

    assert report._ours("iou", one).endswith("(1 seed)") and "±" not in report._ours("iou", one)
    assert "± " in report._ours("iou", rec) and report._ours("iou", rec).endswith("(3 seeds)")


def test_fit_gan_seeds_trains_each_seed(tmp_path):
    from helpers.models import pix2pix
    from helpers.training import train

    gen = torch.Generator().manual_seed(0)
    data = [
        {
            "image": torch.rand(4, 32, 32, generator=gen),
            "mask": torch.randint(0, 3, (32, 32), generator=gen),
        }
        for _ in range(4)
    ]

    def loader_for(seed):
        return torch.utils.data.DataLoader(
            data, batch_size=2, shuffle=True, generator=torch.Generator().manual_seed(seed)
        )

    def build():
        return pix2pix.generator(4, 3, patch=32, ngf=4), pix2pix.discriminator(7, ndf=4)

    out = seeds.fit_gan_seeds(
        "tiny",
        build,
        loader_for,
        [3, 4],
        1,
        1e-3,
        train.gan_batch(3),
        loader_for(0),
        num_classes=3,
        checkpoint_for=lambda tag: tmp_path / f"{tag}.pt",
        progress=False,
    )
    assert out.seeds == [3, 4] and len(out.models) == len(out.scores) == 2
    assert out.steps() == 2 and not out.capped
    assert (tmp_path / "tiny_seed3.pt").exists() and (tmp_path / "tiny_seed4.pt").exists()
    assert out.models[0] is not out.models[1]
    w0, w1 = (next(m.parameters()).detach() for m in out.models)
    assert not torch.equal(w0, w1)  # different seeds, different networks
    mean, std = out.mean_std()
    assert 0 <= mean["iou"] <= 1 and std["iou"] >= 0


def test_l1_falls_per_seed_and_on_average():
    """A collapsed seed (flat L1) is named by l1_falls, while the seed-averaged curve of a method
    whose other seeds learned still falls; a method whose every seed is flat does not."""
    from types import SimpleNamespace

    learned = SimpleNamespace(steps={"g_l1": list(np.linspace(1.0, 0.2, 40))})
    flat = SimpleNamespace(steps={"g_l1": [0.5 + 0.01 * (-1) ** i for i in range(40)]})
    assert seeds.l1_falls(learned) and not seeds.l1_falls(flat)
    assert seeds.l1_falls_on_average([learned, learned, flat])
    assert not seeds.l1_falls_on_average([flat, flat])
    assert seeds.l1_falls(SimpleNamespace(steps={"g_l1": [1.0, 2.0]}))  # too short to tell


def test_seed_stats_reads_a_std_kept_as_a_metric():
    """Notebook 09 kept its std over seeds as a metric "psnr std": the report still shows it."""
    rec = {"metrics": {"psnr": 34.0, "psnr std": 1.3}}
    assert results.seed_stats(rec, "psnr") == (34.0, 1.3, 0)
    assert results.seed_stats({"metrics": {"psnr": 34.0}}, "psnr") == (34.0, None, 1)


def test_duel_says_who_wins_and_whether_l1_still_fell_at_the_end():
    """D at 100 % from step 10 is a win at step 10 + window; an L1 still falling in its last
    quarter has a positive late fall, a levelled one about 0."""
    from types import SimpleNamespace

    n = 80
    real = [0.5] * 10 + [1.0] * (n - 10)
    falling = SimpleNamespace(
        steps={"g_l1": list(np.linspace(1.0, 0.2, n)), "d_real": real, "d_fake": real}
    )
    d = seeds.duel(falling, window=5)
    assert d["steps"] == n and d["d_wins_at_step"] == 15 and d["d_accuracy_end"] == 1.0
    assert 0.3 < d["l1_late_fall"] < 0.5  # third quarter ~0.5, last ~0.3
    level = SimpleNamespace(steps={"g_l1": [0.3] * n, "d_real": [0.5] * n, "d_fake": [0.5] * n})
    flat = seeds.duel(level)
    assert flat["l1_late_fall"] == pytest.approx(0.0) and math.isnan(flat["d_wins_at_step"])


def test_short_run_lacked_names_steps_balance_both_or_neither():
    base = {"steps": 300.0, "d_wins_at_step": float("nan"), "l1_late_fall": 0.0}
    assert seeds.short_run_lacked(base).startswith("neither")
    assert seeds.short_run_lacked(base | {"l1_late_fall": 0.05}).startswith("steps")
    assert seeds.short_run_lacked(base | {"d_wins_at_step": 40.0}).startswith("balance")
    both = seeds.short_run_lacked(base | {"l1_late_fall": 0.05, "d_wins_at_step": 40.0})
    assert "steps" in both and "balance" in both
    assert seeds.short_run_lacked(base | {"d_wins_at_step": 250.0}).startswith("neither")

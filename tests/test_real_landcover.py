"""Notebook 13's helpers: coarse products of one half, tiles, the three orderings from records, the
closing checks fed a broken record, and notebook 03's U-Net recipe giving the weights of before."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers.core import checks
from helpers.records import report
from helpers.training import real_landcover as rl

ROWS = list(rl.HR_MARS_ROWS.values())  # U-Net, label SR, cGAN, pix2pix, bag of colours (test)
PUBLISHED = {row: report.published(row)["iou"] for row in ROWS}
# HR-MARS: bag of colours > pix2pix > cGAN > U-Net > label SR
PUBLISHED_ORDER = sorted(ROWS, key=lambda r: -PUBLISHED[r])


def sample_records(order: list[str]) -> list[dict]:
    """Records of notebooks 03-06 on the sample scene, macro IoU falling along ``order``."""
    nb = {"U-Net": "03_unet_landcover", "Label super-resolution": "04_label_super_resolution",
          "cGAN low->high": "05_cgan_pix2pix", "pix2pix": "05_cgan_pix2pix",
          "Bag of colors (test)": "06_bag_of_colors"}  # fmt: skip
    return [{"notebook": nb[row], "dataset": "sample scene", "method": row,
             "published": report.published_for(row), "metrics": {"iou": 0.9 - 0.1 * i}}
            for i, row in enumerate(order)]  # fmt: skip


def real_records(order: list[str]) -> list[dict]:
    """Notebook 13's records of the methods as published, macro IoU falling along ``order``, plus
    a variant (no ``hr_mars_row``) that scores highest and must not count."""
    recs = [{"notebook": rl.NOTEBOOK, "dataset": rl.DATASET, "method": row, "hr_mars_row": row,
             "metrics": {"iou": 0.5 - 0.05 * i}} for i, row in enumerate(order)]  # fmt: skip
    recs.append({"notebook": rl.NOTEBOOK, "dataset": rl.DATASET, "method": "pix2pix (softmax)",
                 "metrics": {"iou": 0.99}})  # fmt: skip
    return recs


def test_published_order_is_the_one_the_notebook_states():
    assert PUBLISHED_ORDER == ["Bag of colors (test)", "pix2pix", "cGAN low->high", "U-Net",
                               "Label super-resolution"]  # fmt: skip


def test_agreement_figures_from_two_record_sets_with_known_orderings():
    sample = rl.sample_scene_ious(sample_records(PUBLISHED_ORDER))  # same order as published
    real = rl.real_scene_ious(real_records(PUBLISHED_ORDER[::-1]))  # reversed
    table = rl.orderings(PUBLISHED, sample, real)
    tau = {k: a.kendall_tau for k, a in table["agreement"].items()}
    assert tau["published vs sample scene"] == pytest.approx(1.0)
    assert tau["published vs real scene"] == pytest.approx(-1.0)
    assert tau["sample scene vs real scene"] == pytest.approx(-1.0)
    # one adjacent swap of five methods: 9 concordant pairs, 1 discordant -> tau 0.8
    swapped = PUBLISHED_ORDER[:]
    swapped[0], swapped[1] = swapped[1], swapped[0]
    table = rl.orderings(PUBLISHED, sample, rl.real_scene_ious(real_records(swapped)))
    assert table["agreement"]["published vs real scene"].kendall_tau == pytest.approx(0.8)
    assert table["agreement"]["published vs real scene"].flips == (
        ("Bag of colors (test)", "pix2pix"),
    )
    ranks = {r["method"]: r["real scene rank"] for r in table["rows"]}
    assert ranks["pix2pix"] == 1 and ranks["Bag of colors (test)"] == 2


def test_real_ordering_reads_only_the_methods_as_published():
    real = rl.real_scene_ious(real_records(PUBLISHED_ORDER))
    assert set(real) == set(ROWS) and 0.99 not in real.values()


def test_method_lines_say_what_the_real_scene_confirms_or_contradicts():
    sample = rl.sample_scene_ious(sample_records(PUBLISHED_ORDER))
    swapped = PUBLISHED_ORDER[:]
    swapped[0], swapped[1] = swapped[1], swapped[0]
    lines = rl.method_lines(
        rl.orderings(PUBLISHED, sample, rl.real_scene_ious(real_records(swapped)))
    )
    by = {ln.split("**")[1]: ln for ln in lines}
    assert "contradicts its published rank (1; 3 of 4 pairs" in by["Bag of colors (test)"]
    assert "confirms its published rank (3; 4 of 4 pairs" in by["cGAN low->high"]
    missing = rl.method_lines(rl.orderings(PUBLISHED, sample, {}))
    assert all("not scored on the real scene" in ln for ln in missing)


def test_ordering_lines_need_notebook_13_and_name_missing_sample_records():
    assert rl.ordering_lines(sample_records(PUBLISHED_ORDER), PUBLISHED) == []
    lines = rl.ordering_lines(real_records(PUBLISHED_ORDER[::-1]), PUBLISHED)
    assert "does not hold" in lines[0] and "Kendall tau -1.00" in lines[0]
    assert "missing" in lines[1]
    both = sample_records(PUBLISHED_ORDER) + real_records(PUBLISHED_ORDER)
    lines = rl.ordering_lines(both, PUBLISHED)
    assert "holds" in lines[0] and "Kendall tau +1.00" in lines[1]


def test_report_page_shows_the_real_scene_ordering(tmp_path):
    import json

    recs = sample_records(PUBLISHED_ORDER) + real_records(PUBLISHED_ORDER[::-1])
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    page = report.render(tmp_path)
    assert "HR-MARS on the real scene" in page and "Sample scene&#x27;s ordering" in page


def test_as_published_picks_the_fixed_variants():
    assert rl.as_published("U-Net", {}) == "U-Net"
    assert rl.as_published("label SR (30 m -> 10 m, gaussian)", {"ratio": 3, "variant": "gaussian"})
    assert (
        rl.as_published("label SR (500 m -> 10 m, gaussian)", {"ratio": 50, "variant": "gaussian"})
        is None
    )
    assert (
        rl.as_published("label SR (30 m -> 10 m, reference)", {"ratio": 3, "variant": "reference"})
        is None
    )
    assert rl.as_published("pix2pix", {"output": "tanh"}) == "pix2pix"
    assert rl.as_published("pix2pix (softmax image)", {"output": "softmax"}) is None
    assert rl.as_published("bag of colours", {}) == "Bag of colors (test)"


def test_coarse_product_of_a_half_and_tiles_round_trip():
    mask = np.full((6, 9), 255, np.uint8)
    mask[:3, :3] = 1  # a fully known cell of class 1
    mask[3, 3] = 2  # one known pixel of nine: below min_known 0.2
    product = rl.coarse(mask, 3, 3, min_known=0.2)
    assert product["map"].shape == mask.shape
    assert (product["map"][:3, :3] == 1).all() and (product["map"][3:, 3:6] == 255).all()
    assert product["labelled_cells"] == pytest.approx(1 / 6)
    arr = np.arange(2 * 8 * 12).reshape(2, 8, 12)
    parts = rl.tiles(arr, 4)
    assert parts.shape == (6, 2, 4, 4)
    assert np.array_equal(rl.untile(parts[:, 0], (8, 12), fill=-1), arr[0])


def good_summary() -> dict:
    return {"halves_disjoint": True, "scored_pixels": {"U-Net": 100, "cGAN": 100},
            "east_pixels": 100, "seeds": {"U-Net": 3, "cGAN": 3}, "min_seeds": 3,
            "labelled_cells": {"30 m west": 0.3}, "dataset": rl.DATASET, "rf_iou": 0.25,
            "unet_iou": 0.2, "best_floor_name": "class-prior random guess",
            "best_floor_iou": 0.08}  # fmt: skip


@pytest.mark.parametrize(
    "broken",
    [
        {"scored_pixels": {"U-Net": 100, "cGAN": 90}},  # a method skipped east pixels
        {"seeds": {"U-Net": 3, "cGAN": 2}},  # a method trained with fewer seeds
        {"labelled_cells": {"30 m west": 0.0}},  # an empty simulated product
        {"dataset": "sample scene"},  # records not labelled with the real scene
        {"unet_iou": 0.05},  # the U-Net below the best guess
        {"rf_iou": float("nan")},  # no random-forest score
        {"halves_disjoint": False},
    ],
)
def test_rules_fail_on_a_broken_record(broken):
    assert checks.verify(rl.rules(good_summary()), "teaching")
    with pytest.raises(AssertionError):
        checks.verify(rl.rules(good_summary() | broken), "teaching")


def test_learned_rules_only_warn_in_smoke():
    with pytest.warns(UserWarning):
        checks.verify(rl.rules(good_summary() | {"unet_iou": 0.01}), "smoke")
    with pytest.raises(AssertionError):
        checks.verify(rl.rules(good_summary() | {"east_pixels": 99}), "smoke")


def test_seed_summary_and_gaps():
    from helpers.models import metrics

    a = metrics.scores_from_confusion(np.array([[8, 2], [1, 9]]))
    b = metrics.scores_from_confusion(np.array([[9, 1], [2, 8]]))
    s = rl.seed_summary([a, b])
    assert s["mean"]["iou"] == pytest.approx((a.summary()["iou"] + b.summary()["iou"]) / 2)
    assert s["std"]["iou"] == pytest.approx(0.0, abs=1e-12) and list(s["support"]) == [10, 10]
    g = rl.gaps(0.3, {"majority class": 0.1, "coarse labels as the map (30 m)": 0.5}, 0.25)
    assert g["gap_vs_best_floor"] == pytest.approx(-0.2) and g["best_floor"].startswith("coarse")
    assert g["gap_vs_random_forest"] == pytest.approx(0.05)
    assert not math.isnan(g["gap_vs_random_forest"])


def test_unet_recipe_gives_the_weights_of_notebook_11s_transfer_training():
    """recipes.landcover.unet with notebook 03's settings equals transfer.train_sample_unet (same
    seed, one epoch of the smoke profile): the same crops, initial weights and batches."""
    from helpers.core import config
    from helpers.data import synthetic
    from helpers.data.datasets import DFC2020
    from helpers.training import transfer
    from helpers.training.recipes import landcover

    m1, _ = transfer.train_sample_unet("smoke", 5, epochs=1)
    paths = synthetic.ensure_sample("smoke", verbose=False)
    patches = DFC2020(paths.dfc2020, split="validation", s2_bands=transfer.BANDS)
    s = config.settings("03_unet_landcover", "smoke") | {"epochs": 1}
    m2, _ = landcover.unet(patches, s, 5, num_classes=8)
    pairs = zip(m1.state_dict().values(), m2.state_dict().values())
    assert all(torch.equal(a, b) for a, b in pairs)


def test_markdown_table_of_the_three_orderings():
    sample = rl.sample_scene_ious(sample_records(PUBLISHED_ORDER))
    text = rl.markdown(rl.orderings(PUBLISHED, sample, {}))
    assert "| U-Net | 38.1 % (rank 4) | " in text and "no record" in text
    assert "published vs sample scene 1.00 (5 methods)" in text

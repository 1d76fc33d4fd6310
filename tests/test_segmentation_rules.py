"""The closing checks of notebooks 02, 03 and 06 (helpers.models.segmentation_rules): a good run passes, a
broken run (a constant or untrained model's record, labels at chance) fails; learned checks warn in smoke."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers.core import checks
from helpers.models import segmentation_rules

FLOOR = {"best_floor_name": "coarse labels as the map", "best_floor_iou": 0.50,
         "majority_accuracy": 0.28}  # fmt: skip


def _unet(**over: float) -> dict:
    """Notebook 03's record of a healthy run, with ``over`` replacing some of its numbers."""
    good = {"iou": 0.70, "f1": 0.80, "precision": 0.8, "recall": 0.8, "accuracy": 0.85, **FLOOR,
            "first_loss": 1.9, "last_loss": 0.4, "scored_pixels": 1000, "labelled_pixels": 1000,
            "tiled_iou": 0.69, "target_iou": 0.5}  # fmt: skip
    out = {**good, **over}
    if "tiled_iou" not in over:
        out["tiled_iou"] = out["iou"] - 0.01  # the tiled map follows the patches unless broken
    return out


def _boc(**over: float) -> dict:
    """Notebook 06's record of a healthy run, with ``over`` replacing some of its numbers."""
    good = {"iou": 0.60, "f1": 0.70, "precision": 0.7, "recall": 0.7, "accuracy": 0.8, **FLOOR}
    return {**good, **over}


def test_a_good_run_passes():
    checks.verify(segmentation_rules.unet_rules(_unet()), "teaching")
    checks.verify(segmentation_rules.bag_of_colors_rules(_boc()), "teaching")


@pytest.mark.parametrize(
    "broken, match",
    [
        # a constant map (the majority class): macro IoU and accuracy at the floors
        ({"iou": 0.03, "f1": 0.05, "accuracy": 0.28}, "best floor"),
        # a model no better than the coarse labels it could simply copy
        ({"iou": 0.50}, "best floor"),
        # an untrained model: the loss did not fall
        ({"last_loss": 1.9}, "training loss fell"),
        # a diverged run
        ({"last_loss": float("nan")}, "training loss fell"),
        ({"iou": 0.55, "target_iou": 0.6}, "target"),
    ],
)
def test_notebook_03_fails_a_broken_record(broken, match):
    with pytest.raises(AssertionError, match=match):
        checks.verify(segmentation_rules.unet_rules(_unet(**broken)), "teaching")


def test_notebook_03_structural_checks_fail_in_every_profile():
    for broken in ({"scored_pixels": 900}, {"tiled_iou": 0.4}, {"accuracy": 1.2}):
        with pytest.raises(AssertionError):
            checks.verify(segmentation_rules.unet_rules(_unet(**broken)), "smoke")
    # a learned miss only warns in smoke (a few steps cannot be judged)
    with pytest.warns(UserWarning):
        checks.verify(segmentation_rules.unet_rules(_unet(iou=0.03, target_iou=None)), "smoke")


def test_notebook_06_fails_a_constant_map():
    constant = _boc(iou=0.03, f1=0.05, accuracy=0.28)  # the majority class everywhere
    with pytest.raises(AssertionError, match="best floor"):
        checks.verify(segmentation_rules.bag_of_colors_rules(constant), "teaching")
    with pytest.raises(AssertionError, match="majority class"):
        checks.verify(segmentation_rules.bag_of_colors_rules(_boc(accuracy=0.2)), "teaching")
    with pytest.raises(AssertionError, match=r"\[0, 1\]"):
        checks.verify(segmentation_rules.bag_of_colors_rules(_boc(iou=float("nan"))), "smoke")


def test_chance_agreement_and_notebook_02_rules():
    matrix = np.array([[40, 10], [10, 40]])
    # class shares 0.5 / 0.5 on both axes: chance agreement 0.5
    assert segmentation_rules.chance_agreement(matrix) == pytest.approx(0.5)
    good = {"overall_agreement": 0.8, "chance_agreement": 0.5}
    checks.verify(segmentation_rules.agreement_rules(good), "teaching")
    # coarse labels shuffled at random: agreement at chance, in every profile
    for broken in ({"overall_agreement": 0.5}, {"overall_agreement": 1.0}):
        with pytest.raises(AssertionError):
            checks.verify(segmentation_rules.agreement_rules({**good, **broken}), "smoke")
    with pytest.raises(ValueError):
        segmentation_rules.chance_agreement(np.zeros((2, 2)))


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize(
    "name, rules, floors_call",
    [
        ("02_explore_labels", "segmentation_rules.agreement_rules(", "chance_agreement(matrix)"),
        ("03_unet_landcover", "segmentation_rules.unet_rules(", "floors.landcover_floors("),
        ("06_bag_of_colors", "segmentation_rules.bag_of_colors_rules(", "floors.landcover_floors("),
    ],
)
def test_the_notebooks_verify_these_rules_and_record_their_floors(name, rules, floors_call):
    """The rules tested above are the ones the notebooks' checks cells run, on floors they compute."""
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert rules in code and "checks.verify(" in code and floors_call in code
    assert "per_class_support=" in code
    if name != "02_explore_labels":
        assert "floors=FLOORS" in code

"""helpers.training.transfer (notebook 11's sample-scene -> real-scene check over seeds) and the rules notebook
11 keeps: seeds fixed in advance, no model picked on the real labels, the check on the seed mean."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helpers.core.bands import S2_BANDS  # noqa: E402
from helpers.models.unet import UNet  # noqa: E402
from helpers.training import transfer  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "11_real_scene.ipynb"


def test_seed_table_mean_spread_and_worst_seed():
    runs = {
        0: {"iou": 0.20, "gain": 0.16},
        1: {"iou": 0.10, "gain": 0.06},
        2: {"iou": 0.15, "gain": 0.11},
    }
    t = transfer.seed_table(runs)
    assert t["seeds"] == 3 and t["worst_seed"] == 1
    assert t["gain_mean"] == pytest.approx(0.11) and t["iou_mean"] == pytest.approx(0.15)
    assert t["gain_std"] == pytest.approx(0.05)  # ddof 1: sample standard deviation
    assert t["gain_worst"] == pytest.approx(0.06) and t["gain_best"] == pytest.approx(0.16)
    assert transfer.seed_table({3: {"iou": 0.2, "gain": 0.1}})["gain_std"] == 0.0
    with pytest.raises(ValueError):
        transfer.seed_table({})


FLOORS = {
    "class-prior random guess": {"iou": 0.10, "accuracy": 0.25},
    "uniform random guess": {"iou": 0.07, "accuracy": 0.14},
    "majority class": {"iou": 0.04, "accuracy": 0.28},
}


def test_gains_over_both_floors_in_iou_and_accuracy():
    g = transfer.gains({"iou": 0.20, "accuracy": 0.30, "f1": 0.5}, FLOORS)
    assert g == pytest.approx(
        {
            "iou_gain_vs_prior": 0.10,
            "accuracy_gain_vs_prior": 0.05,
            "iou_gain_vs_majority": 0.16,
            "accuracy_gain_vs_majority": 0.02,
        }
    )
    runs = {
        s: {"iou": iou, "accuracy": acc, **transfer.gains({"iou": iou, "accuracy": acc}, FLOORS)}
        for s, (iou, acc) in {0: (0.2, 0.3), 1: (0.12, 0.22), 2: (0.18, 0.35)}.items()
    }
    t = transfer.seed_table(runs)
    assert t["worst_seed"] == 1 and t["accuracy_gain_vs_majority_worst"] == pytest.approx(-0.06)
    assert t["iou_gain_vs_prior_mean"] == pytest.approx(((0.2 + 0.12 + 0.18) / 3) - 0.10)
    assert t["gain_mean"] == pytest.approx(t["iou_gain_vs_majority_mean"])  # the older key


def _record(iou: float, rf: float = 0.35, unet: float = 0.40) -> dict:
    """Notebook 11's flat record for a transfer whose seeds all score ``iou`` (accuracy 0.3)."""
    runs = {
        s: {"iou": iou, **transfer.gains({"iou": iou, "accuracy": 0.3}, FLOORS)} for s in range(3)
    }
    t = transfer.seed_table(runs)
    return {"rf_iou": rf, "unet_iou": unet, "best_floor_name": "class-prior random guess",
            "best_floor_iou": 0.10, **t}  # fmt: skip


def test_rules_pass_a_good_run_and_fail_a_broken_one():
    from helpers.core import checks

    checks.verify(transfer.rules(_record(0.2)), "teaching")
    # a transferred model no better than the class-prior guess (a constant or untrained model)
    with pytest.raises(AssertionError, match="class-prior"):
        checks.verify(transfer.rules(_record(0.10)), "teaching")
    # a U-Net trained on the real west half that only matches the floor
    with pytest.raises(AssertionError, match="U-Net .west half."):
        checks.verify(transfer.rules(_record(0.2, unet=0.10)), "teaching")
    with pytest.raises(AssertionError, match="random forest"):
        checks.verify(transfer.rules(_record(0.2, rf=float("nan"))), "teaching")
    # smoke trains a few steps: learned checks only warn there
    with pytest.warns(UserWarning):
        checks.verify(transfer.rules(_record(0.10)), "smoke")


def test_predict_real_picks_bands_by_name_and_maps_classes():
    torch.manual_seed(0)
    model = UNet(len(transfer.BANDS), 8, width=4, depth=2).eval()
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 0.4, (len(S2_BANDS), 48, 40)).astype(np.float32)
    lookup = np.array([0, 1, 2, 3, 4, 255, 5, 6], np.uint8)  # DFC8 index -> ours, 255: none
    pred = transfer.predict_real(model, image, S2_BANDS, lookup, tile=32)
    assert pred.shape == (48, 40) and pred.dtype == np.uint8
    assert set(np.unique(pred)) <= set(lookup.tolist())
    # the same scene with its bands listed in another order gives the same map
    order = list(reversed(S2_BANDS))
    again = transfer.predict_real(model, image[::-1].copy(), order, lookup, tile=32)
    assert np.array_equal(pred, again)
    with pytest.raises(ValueError):  # a band the model needs is missing
        transfer.predict_real(model, image[:3], S2_BANDS[:3], lookup, tile=32)


def test_score_counts_classes_without_counterpart_as_misses():
    truth = np.array([[0, 1], [255, 1]], np.uint8)
    pred = np.array([[0, 255], [0, 1]], np.uint8)  # 255: a predicted class with no counterpart
    s = transfer.score(pred, truth, 2)
    # the miss lowers class 1 (IoU 1/2) and the accuracy (2 of 3 labelled pixels right)
    assert s.iou[1] == pytest.approx(0.5) and s.iou[0] == pytest.approx(1.0)
    assert s.accuracy == pytest.approx(2 / 3)


def _cells() -> list[str]:
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def test_notebook_11_trains_fixed_seeds_and_checks_their_mean():
    code = "\n".join(_cells())
    params = next(c for c in _cells() if c.startswith("# Parameters"))
    seeds = eval(params.split("TRANSFER_SEEDS =")[1].split("#")[0])  # noqa: S307 (our own file)
    assert len(seeds) >= 3 and len(set(seeds)) == len(seeds)
    assert "transfer.train_sample_unet(" in code  # trained in the run, once per seed
    # no stored model is picked (the newest, or the best on the real labels): selection bias
    assert "find_checkpoint" not in code
    assert "transfer.rules(" in code and "checks.verify(" in code  # checks that can fail
    assert "floors.landcover_floors(west, east" in code  # floors from the training half's labels


def test_train_sample_unet_trains_the_epochs_it_is_given(tmp_path):
    """Notebook 11 trains fewer epochs than notebook 03 (its own time budget): the override is
    honoured, and without it notebook 03's epochs are planned."""
    from helpers.core import config
    from helpers.training.train import load_checkpoint

    _, history = transfer.train_sample_unet("smoke", 0, "cpu", tmp_path / "a" / "c.pt", epochs=1)
    assert history.epochs_done == 1 and not history.capped
    assert load_checkpoint(tmp_path / "a" / "c.pt")["planned_epochs"] == 1
    assert config.settings("unet_landcover", "smoke")["epochs"] > 1  # so the override is seen
    assert "epochs=TRANSFER_EPOCHS" in "\n".join(_cells())
    assert config.settings("real_scene", "teaching")["transfer_epochs"] >= 1

"""helpers.transfer (notebook 11's sample-scene -> real-scene check over seeds) and the rules notebook
11 keeps: seeds fixed in advance, no model picked on the real labels, the check on the seed mean."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helpers import transfer  # noqa: E402
from helpers.bands import S2_BANDS  # noqa: E402
from helpers.models.unet import UNet  # noqa: E402

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
    assert 'transfer_summary["gain_mean"]' in code and "gain >= 0.10" in code
    assert 'transfer_summary["gain_worst"] > 0' in code


def test_train_sample_unet_trains_the_epochs_it_is_given(tmp_path):
    """Notebook 11 trains fewer epochs than notebook 03 (its own time budget): the override is
    honoured, and without it notebook 03's epochs are planned."""
    from helpers import config
    from helpers.train import load_checkpoint

    _, history = transfer.train_sample_unet("smoke", 0, "cpu", tmp_path / "a" / "c.pt", epochs=1)
    assert history.epochs_done == 1 and not history.capped
    assert load_checkpoint(tmp_path / "a" / "c.pt")["planned_epochs"] == 1
    assert config.settings("unet_landcover", "smoke")["epochs"] > 1  # so the override is seen
    assert "epochs=TRANSFER_EPOCHS" in "\n".join(_cells())
    assert config.settings("real_scene", "teaching")["transfer_epochs"] >= 1

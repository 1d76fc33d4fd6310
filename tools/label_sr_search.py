"""Developer tool: judge notebook 04's teaching settings on the training region only.

Fits the naive U-Net (or label SR) of ``helpers.training.recipes.label_sr`` on 3/4 of the sample scene's
DFC2020 validation patches (the notebooks' training split) and scores macro IoU on the other 1/4
against their fine labels, beside the coarse labels as the map there; the test region is never read.
One JSON line per seed on stdout. Usage::

    python tools/label_sr_search.py lc naive 0,1,2 '{"width": 8, "epochs": 44, "class_power": 0.5}'

(layer ``lc`` = 500 m labels or ``lc30`` = 30 m; method ``naive``, ``gaussian``, ``reference`` or
``supervised``: the same U-Net and steps on the *fine* labels, the ceiling of a recipe's budget).
``EOSR_THREADS=1`` sets torch's threads (exploring on a shared machine; metrics do not depend on it).
"""

from __future__ import annotations

import json
import os
import sys
import time

import torch

from helpers.core import config
from helpers.data import crops, datasets, synthetic
from helpers.models import metrics
from helpers.training.recipes import label_sr as recipe


def main(layer: str, method: str, seeds: list[int], over: dict, profile: str = "teaching") -> None:
    """Train and score one setting per seed (training region: fit 3/4, hold out 1/4)."""
    if os.environ.get("EOSR_THREADS"):
        torch.set_num_threads(int(os.environ["EOSR_THREADS"]))
    paths = synthetic.ensure_sample(profile, verbose=False)
    ds = datasets.DFC2020(paths.dfc2020, split="validation", s2_bands=("B04", "B03", "B02", "B08"))
    patches = recipe.with_coarse(crops.load(ds, ("image", "mask")), recipe.coarse_layer(ds, layer))
    fit = [p for i, p in enumerate(patches) if i % 4 != 3]
    hold = [p for i, p in enumerate(patches) if i % 4 == 3]
    settings = config.settings("04_label_super_resolution", profile) | over | {"time_cap_s": None}
    truth = torch.stack([p["mask"] for p in hold]).numpy()
    coarse = torch.stack([p["coarse"] for p in hold]).numpy()
    coarse_iou = metrics.landcover_scores(coarse, truth, 8, unlabelled_pred=True).summary()["iou"]
    for seed in seeds:
        started = time.perf_counter()
        if method == "naive":
            model, history = recipe.naive(fit, settings, seed, num_classes=8, device="cpu")
        elif method == "supervised":
            model, history = recipe.supervised(fit, settings, seed, num_classes=8, device="cpu")
        else:
            st = recipe.statistics(fit, recipe.RATIOS[layer], 8)
            model, history = recipe.label_sr(
                fit, settings, seed, num_classes=8, mu=st["mu"], sigma2=st["sigma2"],
                block=recipe.RATIOS[layer], variant=method, device="cpu",
            )  # fmt: skip
        model.eval()
        with torch.no_grad():
            pred = torch.cat([model(torch.stack([p["image"] for p in hold[i : i + 4]])).argmax(1)
                              for i in range(0, len(hold), 4)])  # fmt: skip
        iou = metrics.landcover_scores(pred.numpy(), truth, 8).summary()["iou"]
        print(json.dumps({"layer": layer, "method": method, "seed": seed, "settings": over,
                          "holdout_iou": round(iou, 4), "coarse_as_map_iou": round(coarse_iou, 4),
                          "seconds": round(time.perf_counter() - started, 1),
                          "last_loss": history.train_loss[-1]}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3].split(",")],
         json.loads(sys.argv[4]) if len(sys.argv) > 4 else {})  # fmt: skip

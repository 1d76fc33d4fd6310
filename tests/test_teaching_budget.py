"""The teaching budget of notebooks 04, 05, 08, 09 and 11 (goal: each <= 5 min on a quiet 2-core CPU).

Wall time cannot be tested deterministically, but training is sized in optimisation steps, and the
steps decide the time: these tests fail when a change to ``config.PROFILES`` gives the teaching
profile more steps (or larger steps) than the run-time sizing below allows.
"""

from __future__ import annotations

from helpers.core import config
from helpers.training.recipes import gan as gan_recipe

PATCH = 256  # DFC2020 patch side (sample scene)


def teaching_training_patches() -> int:
    """DFC2020 validation patches of the teaching sample scene (the training split of 04 and 05):
    the validation region plus the extra regions of the other seasons (``synthetic.extra_regions``)."""
    scene = config.settings("scene", "teaching")
    main = (scene["val_size"] // PATCH) ** 2
    extra = (scene["seasons"] - 1) * scene["season_regions"] * (scene["season_size"] // PATCH) ** 2
    return main + extra


def gan_teaching_steps() -> int:
    """Optimisation steps of notebook 05 in teaching: pix2pix x ``epochs`` (tanh on every seed,
    the softmax image on ``softmax_seeds`` of them), the cGAN x seeds x ``cgan_epochs`` plus one
    seed of the paper's cGAN generator, each epoch ``steps_per_epoch`` batches (default one crop
    per training patch, ``drop_last``)."""
    s = gan_recipe.settings("teaching")
    per_epoch = s.get("steps_per_epoch") or teaching_training_patches() // s["batch"]
    cgan_epochs = s.get("cgan_epochs") or s["epochs"]
    softmax = len(gan_recipe.softmax_seeds(range(s["seeds"]), "teaching"))
    return per_epoch * ((s["seeds"] + softmax) * s["epochs"] + (s["seeds"] + 1) * cgan_epochs)


# One scoring of the cGAN's 12 held-out 256 px patches costs as much as ~6 of its training steps:
# 0.26 s against 0.0445 s a step, process CPU time, 1 torch thread (2026-12-05 06:12, load ~10).
GAN_SCORE_STEPS = 6


def gan_teaching_scorings() -> int:
    """Scorings of held-out patches in notebook 05's teaching run: each cGAN run (the seeds and
    the paper's generator) scores the untrained G, every ``cgan_score_every``-th epoch and the last."""
    s = gan_recipe.settings("teaching")
    assert not s["select_every"], "pix2pix selects its epoch too: count its scorings here"
    if not s["cgan_select_every"]:
        return 0
    epochs, every = s["cgan_epochs"] or s["epochs"], s["cgan_score_every"]
    return (s["seeds"] + 1) * (1 + len({*range(every, epochs + 1, every), epochs}))


def test_teaching_scene_has_the_patches_the_sizing_assumed():
    assert teaching_training_patches() == 72


def test_gan_notebook_fits_the_teaching_budget():
    """Sizing in step-equivalents (training steps + GAN_SCORE_STEPS per scoring). MEASURED in the
    quiet teaching reproduce 20261205-212333 (fresh checkout, 2 threads, load ~2): 165 s with 4,536
    steps and 16 scorings (4,632); the two pix2pix outputs' 3,780 steps took 103 s (0.027 s a
    step), the cGANs 21 s, the rest ~40 s. Now pix2pix trains 140 epochs (1,260 steps a seed,
    chosen on held-out training patches): 8,316 steps and 16 scorings = 8,412, MEASURED in the
    quiet teaching reproduce 20261205-230037 at 293 s (pix2pix 113 + 105 s, the cGAN 19 s) and at
    330 s in 20261206-020311: no room left. Since 2026-12-06 the softmax image trains on the first
    seed only (``softmax_seeds``): 5,796 steps and 16 scorings = 5,892, MEASURED in the quiet teaching
    reproduces 20261206-032026 (05 alone, 202 s: pix2pix tanh 115 s, softmax 38 s, cGANs 25 s)
    and 20261206-032407 (all notebooks, 191 s); on a machine 1.8x slower ~6 min. More steps, larger
    steps, more scorings or wider networks must be measured first."""
    s = config.settings("cgan_pix2pix", "teaching")
    assert s["seeds"] >= 3  # the cGAN and pix2pix (tanh) rows: mean +- std over >= 3 seeds
    assert s["crop"] <= 64 and s["batch"] <= 8 and s["ngf"] <= 8 and s["ndf"] <= 8
    used = gan_teaching_steps() + GAN_SCORE_STEPS * gan_teaching_scorings()
    assert used <= 5_892, (gan_teaching_steps(), gan_teaching_scorings())


# Notebook 04's measured cost: the quiet teaching reproduce run 20261205-044002 (2 torch threads, load
# ~1-2) trained its 4 models (naive U-Net and label SR at 30 m and 500 m) 704 steps each of 4 crops of
# 128 px (65,536 px a step, width 8, depth 3): naive 33.4 + 34.8 s, label SR 46.1 + 44.1 s, 158 s of
# the notebook's 197 s. A step's cost follows its pixels, not its crops: on the quiet VM (2026-12-05
# 02:29, 2 threads) a naive step of 16 crops of 64 px (the same 65,536 px) took 74 ms, one of 4 crops
# of 128 px 82 ms; width 16 cost 124 ms (1.5x).
LABEL_SR_MEASURED = {"models": 4, "steps": 704, "pixels": 4 * 128 * 128, "train_s": 158.4}
# a step's cost relative to width 8 at equal pixels (measured widths only)
LABEL_SR_WIDTH_COST = {8: 1.0}


def label_sr_teaching_pixels() -> int:
    """Pixels notebook 04's teaching profile trains on: 4 models x steps x batch x crop^2."""
    s = config.settings("label_super_resolution", "teaching")
    steps = s["epochs"] * (s["samples"] // s["batch"])
    return 2 * 2 * steps * s["batch"] * s["crop"] ** 2  # 2 ratios x (naive, label SR)


def test_label_sr_notebook_fits_the_teaching_budget():
    """Budget: at most the pixels of the measured run (LABEL_SR_MEASURED: 4 x 704 steps of 65,536
    px, 158 s of training in a 197 s notebook, quiet, 2 threads), at a measured width. More steps,
    larger steps or a wider U-Net must be measured first (then update LABEL_SR_MEASURED)."""
    s = config.settings("label_super_resolution", "teaching")
    assert s["depth"] <= 3
    assert s["width"] in LABEL_SR_WIDTH_COST, f"width {s['width']}: measure its step cost first"
    m = LABEL_SR_MEASURED
    budget = m["models"] * m["steps"] * m["pixels"]
    used = label_sr_teaching_pixels() * LABEL_SR_WIDTH_COST[s["width"]]
    assert used <= budget, (used, budget)
    assert s["samples"] >= s["batch"]  # at least one step an epoch


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

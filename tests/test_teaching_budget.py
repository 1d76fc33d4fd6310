"""The teaching budget of notebooks 04 and 05 (issue 17: each <= 5 min on a quiet 2-core CPU).

Wall time cannot be tested deterministically, but training is sized in optimisation steps, and the
steps decide the time: these tests fail when a change to ``config.PROFILES`` gives the teaching
profile more steps (or larger steps) than the run-time sizing below allows.
"""

from __future__ import annotations

from helpers import config

PATCH = 256  # DFC2020 patch side (sample scene)


def teaching_training_patches() -> int:
    """DFC2020 validation patches of the teaching sample scene (the training split of 04 and 05):
    the validation region plus the extra regions of the other seasons (``synthetic.extra_regions``)."""
    scene = config.settings("scene", "teaching")
    main = (scene["val_size"] // PATCH) ** 2
    extra = (scene["seasons"] - 1) * scene["season_regions"] * (scene["season_size"] // PATCH) ** 2
    return main + extra


def gan_teaching_steps() -> int:
    """Optimisation steps of notebook 05 in teaching: 3 GANs x seeds x epochs x batches per epoch
    (one crop per training patch and epoch, ``drop_last``)."""
    s = config.settings("cgan_pix2pix", "teaching")
    return 3 * s["seeds"] * s["epochs"] * (teaching_training_patches() // s["batch"])


def test_teaching_scene_has_the_patches_the_sizing_assumed():
    assert teaching_training_patches() == 72


def test_gan_notebook_fits_the_teaching_budget():
    """Sizing (2026-12-02): the quiet 2-core run with 21,060 steps of batch 4 (130 epochs x 18
    batches x 9 GANs) took 664 s, i.e. about 30 ms per step with everything else about 35 s. A step
    of batch 8 costs about 1.12 steps of batch 4 (interleaved 1-thread CPU timings), so 5,670
    steps of batch 8 (70 epochs x 9 x 9) come to about 35 + 5,670 x 34 ms = 225 s, under the
    5-minute goal with margin for a slower laptop. More steps, larger steps or wider networks
    must be re-measured first."""
    s = config.settings("cgan_pix2pix", "teaching")
    assert s["seeds"] >= 3  # issue 21: every GAN row is a mean +- std over >= 3 seeds
    assert s["crop"] <= 64 and s["batch"] <= 8 and s["ngf"] <= 8 and s["ndf"] <= 8
    assert gan_teaching_steps() <= 5_700, gan_teaching_steps()


def test_label_sr_notebook_fits_the_teaching_budget():
    """Sizing: the quiet 2-core run with 100 epochs x 8 steps x 2 models (1,600 U-Net steps of
    crop 128, batch 8, width 16) took 424 s; 60 epochs (960 steps) come to about 270 s when
    notebook 03's U-Net is reused (see the README's run-time notes). More steps, larger crops or
    a wider U-Net must be re-measured first."""
    s = config.settings("label_super_resolution", "teaching")
    assert s["crop"] <= 128 and s["batch"] <= 8 and s["width"] <= 16 and s["depth"] <= 3
    steps = 2 * s["epochs"] * (s["samples"] // s["batch"])  # naive and label SR
    assert steps <= 960, steps

"""Long runs (``helpers.records.long_runs``, ``eosr train KIND --steps N``): every shipped history
still matches its profile's recipe (and a planted change of setting is caught), the notebook's
sentence is computed from the history, the long run never reads test pixels, repeats the
notebook's recipe, and the command refuses settings that would change the recipe.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch

from helpers.apps import cli, jobs, long_run
from helpers.core import bands, config
from helpers.data import crops, datasets, synthetic
from helpers.records import long_runs
from helpers.training import seeds, train
from helpers.training.recipes import gan, label_sr, night_lights

matplotlib.use("Agg")


def _history(notebook: str = "03_unet_landcover", profile: str = "teaching", **extra) -> dict:
    """A history as the runner writes it, with the current recipe and a made-up curve."""
    base = {
        "format": long_runs.FORMAT,
        "notebook": notebook,
        "kind": "unet",
        "model": "U-Net",
        "profile": profile,
        "recipe": long_runs.recipe(notebook, profile),
        "steps_per_epoch": 8,
        "notebook_steps": 320,
        "planned_steps": 3200,
        "steps_done": 3200,
        "validation": "12 held-out training patches",
        "metric": "iou",
        "metric_label": "held-out macro IoU",
        "higher_is_better": True,
        "flat_tolerance": 0.01,
        "digits": 3,
        "command": "eosr train unet --profile teaching --steps 3200 --history-every 400",
        "steps": [400 * i for i in range(1, 9)],
        "train_loss": [1.0 / i for i in range(1, 9)],
        "val_steps": [400 * i for i in range(1, 9)],
        "val": [{"iou": v} for v in (0.41, 0.52, 0.6, 0.655, 0.661, 0.668, 0.664, 0.667)],
    }
    return {**base, **extra}


def test_shipped_histories_match_the_current_recipe():
    """A setting changed without re-running its long run fails here, naming the file and command;
    each file names its notebook's model as the notebook does (else the notebook never shows it)."""
    assert long_runs.problems() == []
    for path, history in long_runs.all_histories().items():
        kind = history["kind"]
        assert history["model"] == long_run.MODEL[kind], path
        assert history["notebook"] == long_run.NOTEBOOK[kind], path
        assert path.name == f"{kind}-{history['profile']}.json", path
        assert (
            history["val"]
            and history["steps_done"] >= 10 * history["notebook_steps"]
            or (
                history["steps_done"] < history["planned_steps"]  # a run stopped early says so
            )
        ), path


def test_a_planted_change_of_setting_is_caught(tmp_path, monkeypatch):
    long_runs.write(_history(), tmp_path / "unet-teaching.json")
    assert long_runs.problems(tmp_path) == []
    assert "U-Net" in long_runs.for_notebook("03_unet_landcover", "teaching", tmp_path)
    changed = copy.deepcopy(config.PROFILES)
    changed["unet_landcover"]["teaching"]["crop"] = 96
    monkeypatch.setattr(config, "PROFILES", changed)
    found = long_runs.problems(tmp_path)
    assert len(found) == 1 and "settings.crop: ran 64, now 96" in found[0], found
    assert "eosr train unet" in found[0] and "unet-teaching.json" in found[0]
    assert long_runs.for_notebook("03_unet_landcover", "teaching", tmp_path) == {}


def test_scene_and_generator_belong_to_the_recipe(monkeypatch):
    history = _history()
    monkeypatch.setattr(synthetic, "GENERATOR_VERSION", "9.9.9")
    assert any(m.startswith("generator_version") for m in long_runs.mismatches(history))
    history["recipe"]["scene"]["size"] = 1
    assert any(m.startswith("scene.size") for m in long_runs.mismatches(history))


def test_settings_outside_the_recipe_do_not_ask_for_a_rerun(monkeypatch):
    changed = copy.deepcopy(config.PROFILES)
    changed["unet_landcover"]["teaching"]["time_cap_s"] = 5
    changed["unet_landcover"]["teaching"]["tile"] = 512
    history = _history()
    monkeypatch.setattr(config, "PROFILES", changed)
    assert long_runs.mismatches(history) == []


def test_flattening_point_and_story_come_from_the_numbers():
    history = _history()
    steps, values = long_runs.curve(history)
    assert long_runs.flat_from(steps, values, True, 0.01) == 2000  # 0.661 >= 0.668 - 0.01
    assert long_runs.flat_from(steps, values, True, 0.1) == 1200
    assert long_runs.flat_from(steps, [-v for v in values], False, 0.01) == 2000
    assert long_runs.curve(history, 3)[1][1:3] == pytest.approx([0.465, 0.51])  # running mean
    text = long_runs.story(history, 400)
    assert (
        "after 400 optimisation steps" in text
        and "0.410 at step 400" in text
        and "best 0.666 at step 3,200" in text
    )
    assert "comes within 0.01 of its best at about step 2,400 (6.0x your run)" in text
    assert "run for 3,200 steps" in text
    late = long_runs.story(history, 2800)
    assert "already within 0.01 of its best by your step" in late
    assert "has not passed your run's steps" in long_runs.story(history, 3200)
    cut = {**history, "steps_done": 1600, "val_steps": history["val_steps"][:4]}
    cut["val"] = history["val"][:4]  # still rising by more than 0.01 a point
    stopped = long_runs.story(cut, 400)
    assert "planned for 3,200 steps and stopped at step 1,600" in stopped
    assert "still improving at its last measured step (1,600)" in stopped
    assert text.endswith(long_runs.COSINE)  # a history without a schedule: the cosine recipes
    assert long_runs.story({**history, "schedule": "Linear decay."}, 400).endswith("Linear decay.")
    assert "falls back" not in text  # the end (0.666) is within 2 x 0.01 of the best
    peaked = {**history, "val": [{"iou": v} for v in (0.41, 0.52, 0.6, 0.7, 0.7, 0.7, 0.6, 0.6)]}
    assert "after its best it falls back by 0.067 by its last step" in long_runs.story(peaked, 400)


def test_a_notebook_without_a_history_says_so(tmp_path):
    assert long_runs.for_notebook("05_cgan_pix2pix", "teaching", tmp_path) == {}
    assert long_runs.NO_RUN in long_runs.missing("cGAN")
    long_runs.write(_history(), tmp_path / "unet-teaching.json")
    text = long_runs.lines("03_unet_landcover", "teaching", {"U-Net": 50, "other": 3}, tmp_path)
    first, second = text.splitlines()
    assert "after 400 optimisation steps" in first and "other: " + long_runs.NO_RUN in second


def test_unreadable_or_old_files_name_the_fix(tmp_path):
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(long_runs.LongRunError, match="bad.json.*Re-run"):
        long_runs.all_histories(tmp_path)
    long_runs.write({**_history(), "format": 0}, tmp_path / "bad.json")
    with pytest.raises(long_runs.LongRunError, match="format 0"):
        long_runs.all_histories(tmp_path)


def test_figure_draws_the_long_run_and_where_the_student_stopped():
    student = train.History(epoch=[1, 2, 3], train_loss=[1.2, 1.0, 0.9], val=[{}, {}, {}])
    fig = __import__("helpers.views.plots", fromlist=["plots"]).long_run_figure(
        _history(), 24, student
    )
    left, right = fig.axes
    assert [list(line.get_xdata()) for line in left.lines][1] == [8, 16, 24]
    assert any(list(line.get_xdata()) == [24, 24] for line in right.lines)
    gan_student = train.GANHistory(epoch=[1, 2], g_l1=[0.5, 0.4], val=[{}, {}])
    gan_history = _history(train_loss_key="g_l1", train_loss_label="G's L1 term")
    fig = __import__("helpers.views.plots", fromlist=["plots"]).long_run_figure(
        gan_history, 16, gan_student
    )
    left = fig.axes[0]
    assert list(left.lines[1].get_ydata()) == [0.5, 0.4] and left.get_ylabel() == "G's L1 term"


def test_long_ntl_run_hands_fit_what_the_recipe_hands_it(monkeypatch):
    """The long run calls ``train.fit`` itself (with a validation set): same arguments as
    ``night_lights.train_model`` for the full model, so a change of recipe fails here."""
    calls = []

    def fake_fit(model, data, loss, **kwargs):
        calls.append((loss, kwargs))
        return train.History()

    monkeypatch.setattr(train, "fit", fake_fit)
    s = config.settings("08_ntl_super_resolution", "smoke")
    patches = [0] * 4
    night_lights.train_model(
        {}, {}, patches, **night_lights.fit_settings(s), seed=3, checkpoint="x", meta={"a": 1}
    )
    ours = long_run.ntl_fit_kwargs(s, patches, 3, "x")
    (loss, theirs), mine = calls[0], dict(ours)
    for key in ("meta", "progress", "device"):
        theirs.pop(key), mine.pop(key)
    assert theirs == mine
    assert isinstance(loss, functools.partial) and loss.keywords == night_lights.loss({}).keywords


def test_the_command_keeps_the_recipe(capsys):
    code = cli.main(["train", "unet", "--profile", "smoke", "--steps", "10", "--epochs", "2"])
    assert code == 2 and "drop --epochs" in capsys.readouterr().err
    code = cli.main(["train", "unet", "--profile", "smoke", "--history-every", "5"])
    assert code == 2 and "go with --steps" in capsys.readouterr().err
    for kind in cli.LONG_ONLY:
        code = cli.main(["train", kind, "--profile", "smoke"])
        assert code == 2 and "long run only: give --steps" in capsys.readouterr().err
    with pytest.raises(jobs.JobError, match="no long-run wiring for nope"):
        long_run.run("nope", 10, 5, profile="smoke")
    assert set(long_run.TRAINERS) == set(long_run.MODEL) == set(long_run.METRIC)
    assert set(cli.KINDS + cli.LONG_ONLY) == set(long_run.TRAINERS)


def _spy_on_splits(monkeypatch) -> list[str]:
    """The smoke sample, and a list that records each DFC2020 split a reader is asked for."""
    synthetic.ensure_sample("smoke", verbose=False)
    splits: list[str] = []
    real = datasets.DFC2020.__init__

    def spy(self, root, split="test", *args, **kwargs):
        splits.append(split)
        real(self, root, split, *args, **kwargs)

    monkeypatch.setattr(datasets.DFC2020, "__init__", spy)
    return splits


def test_a_smoke_long_run_validates_on_training_patches_only(tmp_path, monkeypatch):
    """End to end in the smoke profile: the history file is written, its recipe is current, its
    validation points are there, and no reader was asked for the test split."""
    splits = _spy_on_splits(monkeypatch)
    path = long_run.run("unet", 8, 4, profile="smoke", out=tmp_path, history_to=tmp_path / "h.json")
    history = long_runs.read(path)
    assert "test" not in splits and splits
    assert long_runs.mismatches(history) == []
    assert history["steps_done"] == 8 and history["val_steps"] == [4, 8]
    assert history["steps"] == [4, 8] and len(history["train_loss"]) == 2
    assert history["commit"] and "machine" in history and "eosr train unet" in history["command"]


# ---- notebooks 04 and 05: the long runs repeat the notebooks' recipes ----

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _source(stem: str) -> str:
    """Every code cell of a notebook, joined."""
    cells = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def _parameters(stem: str) -> dict:
    """The values of a notebook's parameters cell (plain values only, by the kit's standard)."""
    cells = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text(encoding="utf-8"))["cells"]
    cell = next(c for c in cells if "".join(c["source"]).startswith("# Parameters"))
    found: dict = {}
    exec("".join(cell["source"]), {}, found)
    return found


def test_long_runs_use_notebook_04s_parameters_and_the_notebooks_model_names():
    """The long runs of notebook 04 train its main setting with its parameters, and every model
    carries the name under which notebooks 04 and 05 look it up (their STUDENT_EPOCHS)."""
    p = _parameters("04_label_super_resolution")
    assert p["LAYERS"] == long_run.LSR_LAYERS and p["LSR_VARIANT"] == long_run.LSR_VARIANT
    assert p["MIN_VAR"] == long_run.LSR_MIN_VAR and p["USE_PRIOR"] == long_run.LSR_USE_PRIOR
    assert bands.s2_set(p["BANDS"]) == bands.s2_set(_parameters("05_cgan_pix2pix")["BANDS"])
    assert list(bands.s2_set(p["BANDS"])) == list(bands.RGB_NIR)
    nb04, nb05 = _source("04_label_super_resolution"), _source("05_cgan_pix2pix")
    assert (
        'RATIO_NAMES = {r: f"{10 * b} m -> 10 m"' in nb04 and 'f"{name}, {RATIO_NAMES[r]}"' in nb04
    )
    assert set(long_run.LSR_KINDS.values()) == {
        (name, r) for name in ("label SR", "naive") for r in p["LAYERS"]
    }  # a long-run kind for each model and ratio the notebook trains
    for kind, (name, r) in long_run.LSR_KINDS.items():
        assert f'models[r]["{name}"], histories[r]["{name}"]' in nb04
        ratio = f"{10 * label_sr.RATIOS[p['LAYERS'][r]]} m -> 10 m"
        assert long_run.MODEL[kind] == f"{name}, {ratio}"
    # notebook 05: each GAN's name in CURVES, and the call that trains it
    curves = {"cgan": "hist_cgan", "cgan_plain": "runs_plain.histories[0]",
              "pix2pix": "hist_p2p", "pix2pix_softmax": "hist_p2ps"}  # fmt: skip
    assert set(curves) == set(long_run.GAN_KINDS)
    for kind, variable in curves.items():
        assert f'"{long_run.MODEL[kind]}": {variable},' in nb05, kind
    calls = " ".join(nb05.split())  # one space between words: the calls as one line each
    assert 'gan_recipe.pix2pix(TRAIN["image"], TRAIN["mask"], output="tanh"' in calls
    assert 'gan_recipe.pix2pix(TRAIN["image"], TRAIN["mask"], output="softmax"' in calls
    assert 'cgan = gan_recipe.cgan(TRAIN["coarse"], TRAIN["mask"], test=' in calls
    assert 'residual=False, name="05_cgan_plain",' in calls
    assert long_run.GAN_KINDS["cgan_plain"][1] == {"residual": False, "name": "05_cgan_plain"}


def _plan(kind: str, tmp_path, steps: int = 4, every: int = 2) -> dict:
    """A long run's plan in the smoke profile, with the settings its trainer gets."""
    plan = long_run._plan(kind, steps, every, "smoke", None, tmp_path)
    return plan | {"settings": {**plan["s"], "epochs": plan["epochs"], "time_cap_s": None}}


@pytest.mark.parametrize("kind", list(long_run.LSR_KINDS))
def test_long_label_sr_runs_call_notebook_04s_recipe_as_it_does(kind, tmp_path, monkeypatch):
    """What the long run hands ``recipes.label_sr``: the notebook's settings (epochs and cap
    aside), its patches with the kind's coarse labels (500 m or 30 m) less the held-out quarter,
    statistics of those patches by the notebook's parameters; the held-out quarter only in the
    validation batches."""
    calls = []

    def spy(patches, settings, seed, **kwargs):
        calls.append((patches, settings, seed, kwargs))
        return None, train.History()

    method, ratio = long_run.LSR_KINDS[kind]
    monkeypatch.setattr(label_sr, "naive" if method == "naive" else "label_sr", spy)
    plan = _plan(kind, tmp_path)
    long_run.TRAINERS[kind](plan["settings"], plan, 3, 0)
    ((patches, settings, seed, kwargs),) = calls
    smoke = config.settings("04_label_super_resolution", "smoke")
    assert settings == smoke | {"epochs": plan["epochs"], "time_cap_s": None} and seed == 3
    # the notebook's data: its training patches with the ratio's coarse labels (section 1)
    p = _parameters("04_label_super_resolution")
    ds = datasets.DFC2020(plan["paths"].dfc2020, "validation", s2_bands=bands.s2_set(p["BANDS"]))
    notebook = label_sr.with_coarse(crops.load(ds), label_sr.coarse_layer(ds, p["LAYERS"][ratio]))
    fit = [q for i, q in enumerate(notebook) if i % 4 != 3]
    held = notebook[3::4]
    assert len(patches) == len(fit) and all(
        torch.equal(a[k], b[k]) for a, b in zip(patches, fit) for k in ("image", "coarse", "mask")
    )
    assert kwargs["num_classes"] == 8 and kwargs["checkpoint"] == plan["ckpt"]
    if method == "label SR":
        block = label_sr.RATIOS[p["LAYERS"][ratio]]
        st = label_sr.statistics(fit, block, 8, p["MIN_VAR"], p["USE_PRIOR"])
        assert kwargs["block"] == block and kwargs["variant"] == p["LSR_VARIANT"]
        assert np.array_equal(kwargs["mu"], st["mu"])
        assert np.array_equal(kwargs["sigma2"], st["sigma2"])
    seen = torch.cat([b["image"] for b in kwargs["val_loader"].loader])
    assert torch.equal(seen, torch.stack([q["image"] for q in held]))


def _fake_gan_runs(calls: list, steps: int):
    """A stand-in for ``seeds.fit_gan_seeds`` that records its arguments (one epoch of ``steps``)."""

    def fake(name, build, loader_for, seeds_, epochs, learning_rate, batch_fn, test_loader,
             num_classes, checkpoint_for=None, **kwargs):  # fmt: skip
        calls.append(dict(name=name, build=build, loader_for=loader_for, seeds=list(seeds_),
                          epochs=epochs, learning_rate=learning_rate, batch_fn=batch_fn,
                          num_classes=num_classes, **kwargs))  # fmt: skip
        history = train.GANHistory(epoch=[1], val=[{}], steps={"d_loss": [0.0] * steps})
        return seeds.SeedRuns(name, seeds=list(seeds_), histories=[history])

    return fake


@pytest.mark.parametrize("kind", list(long_run.GAN_KINDS))
def test_long_gan_runs_hand_fit_what_notebook_05_hands_it(kind, tmp_path, monkeypatch):
    """The long run calls notebook 05's recipe with the notebook's data; what reaches
    ``fit_gan`` is the notebook's (networks, batches, losses, learning rates, decay, selection)
    apart from the epochs, the safety cap, the scoring cadence and, for pix2pix, the patches the
    cGAN holds out (scored, never trained on); no test patches are handed over."""
    calls = []
    smoke = config.settings("cgan_pix2pix", "smoke")
    monkeypatch.setattr(seeds, "fit_gan_seeds", _fake_gan_runs(calls, smoke["steps_per_epoch"]))
    plan = _plan(kind, tmp_path, steps=16, every=8)
    long_run.TRAINERS[kind](plan["settings"], plan, 0, 0)
    ds = datasets.DFC2020(plan["paths"].dfc2020, "validation", s2_bands=bands.RGB_NIR)
    data = {
        k: torch.stack([s[k] for s in crops.load(ds)]).numpy() for k in ("image", "coarse", "mask")
    }
    common = dict(profile="smoke", seeds=[0], device=config.pick_device(verbose=False))
    stats = gan.band_stats(data["image"])
    if kind == "cgan":  # notebook 05, section 5
        gan.cgan(data["coarse"], data["mask"], **common)
    elif kind == "cgan_plain":  # section 5, the paper's generator
        gan.cgan(data["coarse"], data["mask"], residual=False, name="05_cgan_plain", **common)
    elif kind == "pix2pix":  # section 6
        gan.pix2pix(data["image"], data["mask"], output="tanh", input_stats=stats, **common)
    else:  # section 6, the softmax image
        gan.pix2pix(data["image"], data["mask"], output="softmax", input_stats=stats, **common)
    long, nb = calls
    assert long["epochs"] == plan["epochs"] and long["time_budget_s"] is None
    assert long["val_every"] == plan["every"] and long["val_loader"] and long["keep_best"]
    differ = {"epochs", "time_budget_s", "val_every", "val_loader", "keep_best", "build",
              "loader_for", "batch_fn", "progress"}  # fmt: skip
    assert {k: v for k, v in long.items() if k not in differ} == {
        k: v for k, v in nb.items() if k not in differ
    }
    assert str(long["build"]()) == str(nb["build"]())  # the same G and D
    batch = {k: torch.as_tensor(v[:2]) for k, v in data.items()}
    assert all(torch.equal(a, b) for a, b in zip(long["batch_fn"](batch), nb["batch_fn"](batch)))
    ours, theirs = long["loader_for"](0), nb["loader_for"](0)
    for key in ("crop", "batch", "batches", "augment", "seed"):
        assert getattr(ours, key) == getattr(theirs, key), key
    every = smoke["cgan_select_every"]
    held_out = torch.as_tensor(data["mask"][every - 1 :: every])
    scored = torch.cat([b["mask"] for b in long["val_loader"]])
    assert torch.equal(scored, held_out)  # scored on the patches the cGAN holds out
    trained = ours.data["mask"]
    assert len(trained) == len(data["mask"]) - len(held_out)
    assert not any(torch.equal(t, h) for t in trained for h in held_out)


@pytest.mark.parametrize("kind", [*long_run.LSR_KINDS, *long_run.GAN_KINDS])
def test_smoke_long_runs_of_04_and_05_never_read_test_pixels(kind, tmp_path, monkeypatch):
    """End to end in the smoke profile: the history names the notebook's model, its recipe is
    current, it holds held-out IoU measurements, and no reader was asked for the test split."""
    splits = _spy_on_splits(monkeypatch)
    spe = long_run.steps_per_epoch(kind, _plan(kind, tmp_path)["s"], None)
    path = long_run.run(
        kind, 2 * spe, spe, profile="smoke", out=tmp_path, history_to=tmp_path / "h.json"
    )
    history = long_runs.read(path)
    assert "test" not in splits and splits
    assert long_runs.mismatches(history) == [] and history["model"] == long_run.MODEL[kind]
    assert history["steps_done"] == 2 * spe and history["val_steps"] == [spe, 2 * spe]
    assert all("iou" in v and set(v) <= {"iou", "f1", "precision", "recall", "accuracy"}
               for v in history["val"])  # fmt: skip
    assert "held-out training patches" in history["validation"]
    assert ("statistics" in history["validation"]) == (
        long_run.LSR_KINDS.get(kind, ("",))[0] == "label SR"
    )
    if kind in long_run.LSR_KINDS:
        ratio = long_run.ratio_name(long_run.LSR_KINDS[kind][1]).split()[0]
        assert f"the {ratio} m labels" in history["validation"]
    assert len(history["train_loss"]) == 2 and history["schedule"]

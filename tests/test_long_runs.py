"""Long runs (``helpers.records.long_runs``, ``eosr train KIND --steps N``): every shipped history
still matches its profile's recipe (and a planted change of setting is caught), the notebook's
sentence is computed from the history, the long run never reads test pixels, repeats the
notebook's recipe, and the command refuses settings that would change the recipe.
"""

from __future__ import annotations

import copy
import functools

import matplotlib
import pytest

from helpers.apps import cli, long_run
from helpers.core import config
from helpers.data import datasets, synthetic
from helpers.records import long_runs
from helpers.training import train
from helpers.training.recipes import night_lights

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
    """A setting changed without re-running its long run fails here, naming the file and command."""
    assert long_runs.problems() == []
    for path, history in long_runs.all_histories().items():
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
    code = cli.main(["train", "cgan", "--profile", "smoke", "--steps", "10"])
    assert code == 2 and "no long-run wiring for cgan" in capsys.readouterr().err


def test_a_smoke_long_run_validates_on_training_patches_only(tmp_path, monkeypatch):
    """End to end in the smoke profile: the history file is written, its recipe is current, its
    validation points are there, and no reader was asked for the test split."""
    synthetic.ensure_sample("smoke", verbose=False)
    splits = []
    real = datasets.DFC2020.__init__

    def spy(self, root, split="test", *args, **kwargs):
        splits.append(split)
        real(self, root, split, *args, **kwargs)

    monkeypatch.setattr(datasets.DFC2020, "__init__", spy)
    path = long_run.run("unet", 8, 4, profile="smoke", out=tmp_path, history_to=tmp_path / "h.json")
    history = long_runs.read(path)
    assert "test" not in splits and splits
    assert long_runs.mismatches(history) == []
    assert history["steps_done"] == 8 and history["val_steps"] == [4, 8]
    assert history["steps"] == [4, 8] and len(history["train_loss"]) == 2
    assert history["commit"] and "machine" in history and "eosr train unet" in history["command"]

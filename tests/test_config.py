from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.core import config


def test_profiles_cover_the_same_keys():
    for notebook, table in config.PROFILES.items():
        assert set(table) == set(config.PROFILE_NAMES), f"{notebook}: every profile must be defined"
        keys = {name: set(values) for name, values in table.items()}
        assert all(k == keys["teaching"] for k in keys.values()), (notebook, keys)


def test_training_is_sized_in_epochs_with_a_cap():
    """Every notebook that trains says how many epochs and has a safety cap (None in full)."""
    trains = [n for n, t in config.PROFILES.items() if "epochs" in t["teaching"]]
    assert len(trains) == 6, trains  # 03, 04, 05, 08, 09, 11
    for notebook in trains:
        for name in config.PROFILE_NAMES:
            s = config.settings(notebook, name)
            assert isinstance(s["epochs"], int) and s["epochs"] >= 1, (notebook, name)
            assert "time_budget_s" not in s and "learning_rate" in s, (notebook, name)
            assert s["time_cap_s"] is None or s["time_cap_s"] > 0, (notebook, name)
        assert config.settings(notebook, "full")["time_cap_s"] is None, notebook


def test_profile_from_env_and_argument(monkeypatch):
    monkeypatch.setenv("EOSR_PROFILE", "full")
    assert config.get_profile() == "full"
    assert config.get_profile("smoke") == "smoke"
    monkeypatch.delenv("EOSR_PROFILE")
    assert config.get_profile() == "teaching"


def test_unknown_profile_names_the_choices():
    with pytest.raises(ValueError, match="smoke, teaching, full"):
        config.get_profile("huge")


def test_settings_accepts_numbered_stem():
    assert config.settings("03_unet_landcover", "smoke") == config.settings(
        "unet_landcover", "smoke"
    )
    with pytest.raises(KeyError):
        config.settings("99_nothing", "smoke")


def test_scene_sizes_nest():
    for name in config.PROFILE_NAMES:
        scene = config.settings("scene", name)
        assert scene["size"] % 256 == 0 and scene["size"] % (3 * scene["ntl_ratio"]) == 0
        assert (scene["size"] // 3) % scene["ntl_patch"] == 0


def test_paths_follow_env(monkeypatch, tmp_path):
    monkeypatch.setenv("EOSR_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("EOSR_RUNS", str(tmp_path / "r"))
    assert config.data_dir() == (tmp_path / "d").resolve()
    assert config.runs_dir() == (tmp_path / "r").resolve()


def test_seed_everything_repeats():
    config.seed_everything(3)
    a = (np.random.rand(3), torch.rand(3))
    config.seed_everything(3)
    b = (np.random.rand(3), torch.rand(3))
    assert np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_pick_device_cpu_override(capsys):
    dev = config.pick_device("cpu")
    assert dev.type == "cpu"
    assert "device: cpu" in capsys.readouterr().out


def test_time_cap_can_be_lifted_for_a_measurement_run(monkeypatch):
    """EOSR_TIME_CAP=off removes the safety cap (same steps on a busy machine); unset keeps it."""
    monkeypatch.delenv("EOSR_TIME_CAP", raising=False)
    capped = config.settings("03_unet_landcover", "teaching")["time_cap_s"]
    assert capped is not None and capped > 0
    monkeypatch.setenv("EOSR_TIME_CAP", "off")
    assert config.settings("03_unet_landcover", "teaching")["time_cap_s"] is None
    monkeypatch.setenv("EOSR_TIME_CAP", "on")
    assert config.settings("03_unet_landcover", "teaching")["time_cap_s"] == capped

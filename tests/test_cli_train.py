"""``eosr train``: every kind trains in the smoke profile, writes one finished checkpoint and one
record, resumes its own checkpoint, and refuses bad arguments with a message.

Each run is one epoch of the smoke profile on the sample scene, in this process (no torch import
per run); the torchrun runs are in tests/test_distributed.py.
"""

from __future__ import annotations

import json
import math

import pytest

from helpers.apps import cli, jobs
from helpers.core import config
from helpers.data import synthetic
from helpers.training.train import checkpoints


@pytest.fixture(scope="module")
def sample() -> None:
    """The smoke sample scene (built once per data folder)."""
    synthetic.ensure_sample("smoke", verbose=False)


def _train(monkeypatch: pytest.MonkeyPatch, out, kind: str, *extra: str) -> int:
    elsewhere = out.parent / f"{out.name}-environment-run"  # --out decides, not the environment
    monkeypatch.setenv("EOSR_RUN_DIR", str(elsewhere))
    code = cli.main(
        ["train", kind, "--profile", "smoke", "--out", str(out), "--time-cap", "0", *extra]
    )
    assert not elsewhere.exists(), "a job wrote into EOSR_RUN_DIR instead of --out"
    return code


def _records(out) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("kind", jobs.KINDS)
def test_each_kind_trains_one_checkpoint_and_one_record(kind, sample, tmp_path, monkeypatch):
    assert _train(monkeypatch, tmp_path, kind, "--epochs", "1") == 0
    found = sorted(tmp_path.glob("train/*/checkpoint.pt"))
    assert found == [tmp_path / "train" / kind / "checkpoint.pt"]
    assert checkpoints.is_finished(found[0])
    state = checkpoints.load_checkpoint(found[0])
    assert state["epoch"] == 1 and state["planned_epochs"] == 1
    (rec,) = _records(tmp_path)
    assert rec["notebook"] == jobs.NOTEBOOK[kind] and rec["method"] == jobs.METHOD[kind]
    assert rec["ranks"] == 1 and rec["epochs"] == 1 and rec["profile"] == "smoke"
    assert rec["global_batch"] == config.settings(jobs.NOTEBOOK[kind], "smoke")["batch"]
    assert rec["checkpoint"] == str(found[0])
    main = "psnr" if kind == "ntl_sr" else "iou"  # NTL: saturated_mae is NaN without saturation
    assert math.isfinite(rec["metrics"][main]) and 0 <= rec["metrics"].get("iou", 0) <= 1
    assert all(math.isfinite(v) for v in rec["final_losses"].values())


@pytest.mark.slow
def test_same_out_resumes_the_checkpoint(sample, tmp_path, monkeypatch):
    assert _train(monkeypatch, tmp_path, "unet", "--epochs", "1") == 0
    first = checkpoints.load_checkpoint(tmp_path / "train/unet/checkpoint.pt")
    assert _train(monkeypatch, tmp_path, "unet", "--epochs", "2") == 0
    state = checkpoints.load_checkpoint(tmp_path / "train/unet/checkpoint.pt")
    assert state["epoch"] == 2 and state["history"]["epoch"] == [1, 2]
    assert (
        state["history"]["train_loss"][0] == first["history"]["train_loss"][0]
    )  # kept, not redone
    assert [r["epochs"] for r in _records(tmp_path)] == [1, 2]


def test_bad_arguments_are_named(sample, tmp_path, monkeypatch, capsys):
    assert _train(monkeypatch, tmp_path, "unet", "--epochs", "0") == 2
    assert "--epochs must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "resnet", "--profile", "smoke"])
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(jobs.JobError, match="unknown kind"):
        jobs.run("resnet")


def test_cli_kinds_are_the_jobs_kinds():
    assert cli.KINDS == jobs.KINDS  # the parser lists them without importing torch

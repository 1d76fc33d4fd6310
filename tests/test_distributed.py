"""DDP under torchrun on this CPU (gloo): ``eosr train unet --profile smoke`` on 2 ranks writes one
checkpoint and one record, matches a 1-process run with the same global batch and seed, and its
checkpoint resumes on 1 rank. The helpers of ``helpers.core.distributed`` answer as one process
outside torchrun.

Tolerance (stated in docs/scaling.md): 2 ranks and 1 process see the same global batches (one
DistributedSampler order, batch norm over the global batch through ``CPUSyncBatchNorm``); what
differs is the order of float sums and the loss weighting (each rank's cross-entropy is the mean
over its own labelled pixels, DDP then averages the ranks), so losses agree to ``LOSS_RTOL`` and
scores to ``SCORE_ATOL``. The time cap is off (``--time-cap 0``): on a busy machine a capped run
would stop at another epoch than its twin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers.apps import cli
from helpers.core import distributed
from helpers.data import synthetic
from helpers.training.train import checkpoints

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 2
LOSS_RTOL = 2e-3  # relative, per-epoch mean training loss (measured gap: 3.3e-4 after 2 epochs)
SCORE_ATOL = 0.02  # absolute, test-patch IoU / F1 / accuracy (measured gap: <= 0.0043)


def _torchrun_can_start() -> str:
    """Why torchrun cannot start here ('' when it can)."""
    if not torch.distributed.is_available():
        return "this torch build has no torch.distributed"
    if not torch.distributed.is_gloo_available():
        return "this torch build has no gloo backend"
    return ""


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def _history(out: Path) -> dict:
    return checkpoints.load_checkpoint(out / "train/unet/checkpoint.pt")["history"]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> Path:
    """One 2-rank gloo run of ``eosr train unet --profile smoke`` (its run folder)."""
    why = _torchrun_can_start()
    if why:
        pytest.skip(why)
    synthetic.ensure_sample("smoke", verbose=False)
    out = tmp_path_factory.mktemp("ddp2")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "OMP_NUM_THREADS": "1",
        "EOSR_RUN_DIR": str(out),
    }
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "helpers.apps.cli", "train", "unet", "--profile", "smoke"]
    cmd += ["--epochs", str(EPOCHS), "--out", str(out), "--time-cap", "0"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def _one_process(monkeypatch, out: Path, epochs: int) -> None:
    monkeypatch.setenv("EOSR_RUN_DIR", str(out))
    args = [
        "train",
        "unet",
        "--profile",
        "smoke",
        "--epochs",
        str(epochs),
        "--out",
        str(out),
        "--time-cap",
        "0",
    ]
    assert cli.main(args) == 0


@pytest.mark.slow
def test_two_ranks_write_one_checkpoint_and_one_record(two_ranks):
    files = sorted(p.relative_to(two_ranks).as_posix() for p in two_ranks.rglob("*") if p.is_file())
    assert files == [
        "results.jsonl",
        "train/unet/checkpoint.pt",
        "train/unet/finished.json",
        "train/unet/history.json",
    ]
    (rec,) = _records(two_ranks)
    assert rec["ranks"] == 2 and rec["global_batch"] == 8 and rec["epochs"] == EPOCHS
    assert checkpoints.is_finished(two_ranks / "train/unet/checkpoint.pt")


@pytest.mark.slow
def test_two_ranks_match_one_process(two_ranks, tmp_path, monkeypatch):
    _one_process(monkeypatch, tmp_path, EPOCHS)
    (one,), (two,) = _records(tmp_path), _records(two_ranks)
    assert one["ranks"] == 1 and one["global_batch"] == two["global_batch"]
    loss1, loss2 = _history(tmp_path)["train_loss"], _history(two_ranks)["train_loss"]
    assert len(loss1) == len(loss2) == EPOCHS
    assert loss2 == pytest.approx(loss1, rel=LOSS_RTOL), (loss1, loss2)
    for name in ("iou", "f1", "accuracy"):
        assert abs(one["metrics"][name] - two["metrics"][name]) <= SCORE_ATOL, (name, one, two)


@pytest.mark.slow
def test_two_rank_checkpoint_resumes_on_one_rank(two_ranks, tmp_path, monkeypatch):
    import shutil

    out = tmp_path / "resumed"
    shutil.copytree(two_ranks, out)
    before = _history(out)
    _one_process(monkeypatch, out, EPOCHS + 1)
    after = _history(out)
    assert after["epoch"] == list(range(1, EPOCHS + 2))
    assert after["train_loss"][:EPOCHS] == before["train_loss"]  # resumed, not retrained
    assert [r["ranks"] for r in _records(out)] == [2, 1]
    assert checkpoints.is_finished(out / "train/unet/checkpoint.pt")


def test_helpers_answer_as_one_process_outside_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not distributed.launched() and not distributed.init()
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    assert distributed.wrap(model, "cpu") is model
    loader = torch.utils.data.DataLoader(list(range(10)), batch_size=4, shuffle=True)
    assert distributed.shard_train(loader) is loader and distributed.shard_eval(loader) is loader
    assert distributed.mean_over_ranks(3.0, 2) == 1.5 and distributed.broadcast_object("x") == "x"


def test_train_sampler_splits_the_global_batch():
    """Rank r of N draws every N-th index of one seeded order: the union of the ranks' first
    batches of size B/N is the 1-process first batch of size B."""
    data = list(range(32))
    one = list(torch.utils.data.DistributedSampler(data, 1, 0, shuffle=True, seed=3))
    shards = [
        list(torch.utils.data.DistributedSampler(data, 2, r, shuffle=True, seed=3)) for r in (0, 1)
    ]
    assert sorted(shards[0][:4] + shards[1][:4]) == sorted(one[:8])
    assert distributed.train_sampler(data, seed=3).num_replicas == 1  # outside torchrun
    assert list(distributed.train_sampler(data, seed=3)) == one


def test_streaming_loaders_are_left_to_shard_themselves(monkeypatch):
    """Under DDP a map-style loader gets a DistributedSampler, but a loader over an IterableDataset
    (``datasets.Streaming`` splits its samples per rank itself) is passed through unchanged, so
    no sample is dropped or drawn twice."""
    monkeypatch.setattr(distributed, "active", lambda: True)
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    monkeypatch.setattr(distributed, "rank", lambda: 0)

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(10))

    stream = torch.utils.data.DataLoader(Stream(), batch_size=4)
    assert distributed.shard_train(stream) is stream and distributed.shard_eval(stream) is stream
    mapped = torch.utils.data.DataLoader(list(range(10)), batch_size=4, shuffle=True)
    sharded = distributed.shard_train(mapped)
    assert isinstance(sharded.sampler, torch.utils.data.DistributedSampler)
    assert sum(len(b) for b in sharded) == 5


def test_cpu_sync_batch_norm_is_batch_norm_in_one_process():
    """The CPU stand-in for SyncBatchNorm computes what BatchNorm2d computes outside a group, and
    the class switch keeps parameters, buffers and state-dict keys."""
    torch.manual_seed(0)
    plain = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3))
    x = torch.randn(4, 2, 8, 8)
    ref = plain(x)
    keys, weight = list(plain.state_dict()), plain[1].weight
    distributed.sync_batch_norm(plain, torch.device("cpu"))
    assert type(plain[1]) is distributed.CPUSyncBatchNorm and plain[1].weight is weight
    assert torch.equal(plain(x), ref) and list(plain.state_dict()) == keys
    distributed.revert_sync_batch_norm(plain)
    assert type(plain[1]) is torch.nn.BatchNorm2d and plain[1].weight is weight
    distributed.sync_batch_norm(plain, torch.device("cuda"))  # GPUs: torch's, same switch
    assert type(plain[1]) is torch.nn.SyncBatchNorm and plain[1].weight is weight
    assert type(distributed.revert_sync_batch_norm(plain)[1]) is torch.nn.BatchNorm2d
    assert torch.equal(plain(x), ref)


@pytest.mark.slow
def test_gan_trains_on_two_ranks(tmp_path):
    """fit_gan under DDP (D stepped through its wrapper, G's step through the plain D): one epoch
    of the smoke cGAN on 2 gloo ranks writes one finished checkpoint with plain state-dict keys."""
    why = _torchrun_can_start()
    if why:
        pytest.skip(why)
    synthetic.ensure_sample("smoke", verbose=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "helpers.apps.cli", "train", "cgan", "--profile", "smoke", "--epochs", "1"]
    cmd += ["--out", str(tmp_path), "--time-cap", "0"]
    done = subprocess.run(
        cmd, env={**env, "EOSR_RUN_DIR": str(tmp_path)}, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (rec,) = _records(tmp_path)
    assert rec["ranks"] == 2 and 0 <= rec["metrics"]["iou"] <= 1
    path = tmp_path / "train/cgan/checkpoint.pt"
    state = checkpoints.load_checkpoint(path)
    assert checkpoints.is_finished(path)
    assert not any(k.startswith("module.") for k in state["generator"])

"""Training faults of a careless or unlucky user: each test fails on the kit before its fix.

An extended run keeps falling along one cosine schedule planned for the new total; a checkpoint
holding weights only is refused in one line naming the file and the fix; ``eosr train`` refuses
a zero batch and a negative time cap in the parser; two jobs never write into one ``--out``;
``torchrun``'s ranks stop when their launcher dies.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

import helpers
from helpers.apps import cli, jobs
from helpers.training import train

SRC = str(Path(helpers.__file__).resolve().parents[1])  # the helpers under test


class Tiny(nn.Module):
    """A conv + batch norm classifier small enough to train in milliseconds."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.head = nn.Conv2d(4, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.net(x)))


def _loader(n: int = 8) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 2, 8, 8, generator=g), torch.randint(0, 3, (n, 8, 8), generator=g)
    data = [{"image": a, "mask": b} for a, b in zip(x, y)]
    return DataLoader(data, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0))


def _fit(checkpoint: Path, epochs: int) -> train.History:
    torch.manual_seed(0)
    return train.fit(
        Tiny(),
        _loader(),
        nn.functional.cross_entropy,
        epochs,
        learning_rate=1e-2,
        checkpoint=checkpoint,
        scheduler="cosine",
        seed=0,
        progress=False,
    )


def test_extended_run_continues_one_cosine_schedule_planned_for_the_new_total(tmp_path):
    """3 epochs, then the same checkpoint to 6: epochs 4-6 get the learning rates of a 6-epoch
    run (falling towards 0), not those of the 3-epoch cosine wound on past its end (0, rising)."""
    ck = tmp_path / "extended" / "checkpoint.pt"
    first = _fit(ck, 3)
    extended = _fit(ck, 6)
    straight = _fit(tmp_path / "straight" / "checkpoint.pt", 6)
    assert extended.learning_rate[:3] == pytest.approx(first.learning_rate)
    assert extended.learning_rate[3:] == pytest.approx(straight.learning_rate[3:])
    lr = extended.learning_rate
    assert lr[3] > lr[4] > lr[5] > 0  # falling to the end (before the fix: 0, then rising)
    state = train.load_checkpoint(ck)
    assert state["planned_epochs"] == 6 and state["epoch"] == 6


def test_checkpoint_with_weights_only_names_the_file_and_the_fix(tmp_path):
    ck = tmp_path / "run" / "checkpoint.pt"
    ck.parent.mkdir()
    torch.save({"model": Tiny().state_dict()}, ck)
    with pytest.raises(train.CheckpointError) as err:
        _fit(ck, 1)
    text = str(err.value)
    assert str(ck) in text and "'optimizer'" in text and "load_weights" in text
    assert "\n" not in text


@pytest.mark.parametrize(
    "option, value, words",
    [
        ("--batch-size", "0", "must be at least 1"),
        ("--batch-size", "-4", "must be at least 1"),
        ("--time-cap", "-1", "0 (no cap) or more"),
        ("--time-cap", "nan", "0 (no cap) or more"),
    ],
)
def test_train_refuses_a_zero_batch_and_a_negative_time_cap(option, value, words, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.build_parser().parse_args(["train", "unet", option, value])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert option in err and words in err


def test_parser_keeps_valid_values():
    args = cli.build_parser().parse_args(["train", "unet", "--batch-size", "8", "--time-cap", "0"])
    assert args.batch_size == 8 and args.time_cap == 0.0


def test_two_jobs_never_write_into_one_out(tmp_path, monkeypatch, capsys):
    """A live job holds the run folder (its lock names its PID): a second ``eosr train`` with the
    same ``--out`` is refused at once and writes nothing; a lock left by a dead job is taken over."""
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = tmp_path / jobs.LOCK_NAME
        lock.write_text(f'{{"pid": {holder.pid}, "host": "{socket.gethostname()}", "time": 0}}')
        monkeypatch.setenv("EOSR_RUN_DIR", str(tmp_path))
        args = ["train", "unet", "--profile", "smoke", "--out", str(tmp_path), "--epochs", "1"]
        assert cli.main(args) == 2
        err = capsys.readouterr().err
        assert f"pid {holder.pid}" in err and "another eosr train" in err and "--out" in err
        assert not (tmp_path / "train").exists() and lock.exists()
    finally:
        holder.kill()
        holder.wait()
    assert jobs.claim_folder(tmp_path) == lock  # its owner is gone: taken over
    from helpers.core import locks

    locks.release(lock)
    assert not lock.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


RANK_CHILD = """
import os, pathlib, sys
from helpers.core import distributed
pathlib.Path(sys.argv[1]).write_text(str(os.getpid()))
distributed.init()  # waits for rank 0, which never comes
"""

LAUNCHER = """
import os, subprocess, sys, time
# as torchrun starts its ranks: each in a session of its own
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], start_new_session=True)
time.sleep(120)
"""


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX sessions and signals")
def test_rank_stops_when_its_launcher_is_killed(tmp_path):
    """A rank (here stuck waiting for rank 0, as when a launch goes wrong) whose launcher is
    SIGKILLed stops by itself within seconds instead of running on unsupervised."""
    pid_file = tmp_path / "rank.pid"
    env = {
        **os.environ,
        "PYTHONPATH": SRC,
        "RANK": "1",
        "LOCAL_RANK": "1",
        "WORLD_SIZE": "2",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
        "EOSR_DEVICE": "cpu",
    }
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, RANK_CHILD, str(pid_file)], env=env
    )
    rank_pid = None
    try:
        deadline = time.time() + 120
        while not pid_file.exists() or not pid_file.read_text():
            assert time.time() < deadline, "the rank did not start"
            time.sleep(0.2)
        rank_pid = int(pid_file.read_text())
        time.sleep(1.0)  # the rank is inside init now
        launcher.send_signal(signal.SIGKILL)
        launcher.wait()
        stop_by = time.time() + 20
        while _running(rank_pid) and time.time() < stop_by:
            time.sleep(0.2)
        assert not _running(rank_pid), "the rank kept running after its launcher died"
    finally:
        launcher.kill()
        if rank_pid is not None and _running(rank_pid):
            os.kill(rank_pid, signal.SIGKILL)

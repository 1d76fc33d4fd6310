"""Checkpoint, record and report faults: each fails on the kit's earlier behaviour.

No code runs from a checkpoint (``weights_only``), only finished checkpoints are reused, a killed
run's checkpoint never is, a finished run is not changed by running ``fit`` again, wrong
checkpoints and I/O failures name the file and the cause, records and the report are written
atomically, an interrupted reproduction is marked and reported.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

import helpers
from helpers.apps import cli
from helpers.records import reproduce, results, runs
from helpers.training import train

SRC = str(Path(helpers.__file__).resolve().parents[1])  # the helpers under test


@pytest.fixture
def run_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("EOSR_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("EOSR_RUN_DIR", str(tmp_path / "runs" / "current"))
    return tmp_path / "runs"


class Tiny(nn.Module):
    """A conv + batch norm classifier small enough to train in milliseconds."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(2, width, 3, padding=1), nn.BatchNorm2d(width))
        self.head = nn.Conv2d(width, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.net(x)))


def _loader(seed: int = 0, n: int = 8) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, 8, 8, generator=g)
    y = torch.randint(0, 3, (n, 8, 8), generator=g)
    data = [{"image": a, "mask": b} for a, b in zip(x, y)]
    return DataLoader(
        data, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )


def _fit(model, loader, epochs, checkpoint=None, **kw):
    return train.fit(
        model,
        loader,
        nn.functional.cross_entropy,
        epochs=epochs,
        checkpoint=checkpoint,
        progress=False,
        device="cpu",
        seed=0,
        meta={"kind": "tiny", **kw.pop("meta", {})},
        **kw,
    )


class _RunsCommand:
    """Unpickling this calls ``os.system``: what a planted checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _plant(folder: Path, marker: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "checkpoint.pt"
    torch.save(
        {"model": {}, "meta": {"kind": "tiny"}, "finished": True, "x": _RunsCommand(marker)},
        path,
    )
    # even a forged finished mark with the right hash must not make it load
    (folder / "finished.json").write_text(json.dumps({"sha256": train.file_sha256(path)}))
    return path


# ---- no code runs from a checkpoint ----


def test_planted_checkpoint_runs_nothing(run_folders, tmp_path):
    marker = tmp_path / "pwned"
    path = _plant(run_folders / "old" / "train" / "03_unet_landcover", marker)
    with pytest.raises(train.CheckpointError, match=r"checkpoint\.pt: refused.*only tensors"):
        train.load_checkpoint(path)
    assert not marker.exists()
    # as notebook 04 calls it: default roots (this run, then every run folder)
    with pytest.warns(UserWarning, match="refused"):
        assert runs.find_checkpoint("03_unet_landcover", {"kind": "tiny"}) == (None, None)
    assert not marker.exists()


# ---- only finished checkpoints are found; finding creates nothing ----


def test_find_checkpoint_returns_only_finished_and_creates_nothing(run_folders, monkeypatch):
    monkeypatch.delenv("EOSR_RUN_DIR")
    monkeypatch.setattr(runs, "_CURRENT", None, raising=False)
    monkeypatch.setattr(results, "_CURRENT", None, raising=False)
    assert runs.find_checkpoint("Tiny", {"kind": "tiny"}) == (None, None)
    assert not run_folders.exists() or not any(run_folders.iterdir())
    ck = run_folders / "r1" / "train" / "Tiny" / "checkpoint.pt"
    _fit(Tiny(), _loader(), 3, checkpoint=ck, time_budget_s=None)
    path, state = runs.find_checkpoint("Tiny", {"kind": "tiny"})
    assert path == ck.resolve() and state["finished"] and state["epoch"] == 3
    assert json.loads((ck.parent / "finished.json").read_text())["sha256"] == train.file_sha256(ck)
    # a checkpoint changed after it was finished is not trusted
    state = train.load_checkpoint(ck)
    state["epoch"] = 1
    train.save_checkpoint(ck, state)
    assert runs.find_checkpoint("Tiny", {"kind": "tiny"}) == (None, None)


def test_unfinished_checkpoint_is_not_returned(run_folders):
    ck = run_folders / "r1" / "train" / "Tiny" / "checkpoint.pt"
    model = Tiny()
    history = _fit(model, _loader(), 5, checkpoint=ck, time_budget_s=0.0)  # stops early
    assert len(history.epoch) < 5
    assert not train.load_checkpoint(ck)["finished"]
    assert runs.find_checkpoint("Tiny", {"kind": "tiny"}, roots=[run_folders / "r1"]) == (
        None,
        None,
    )


class _Slow(torch.utils.data.Dataset):
    """Items of :func:`_loader`, each taking 20 ms: an epoch lasts long enough to be killed in."""

    def __init__(self) -> None:
        self.items = list(_loader().dataset)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        import time

        time.sleep(0.02)
        return self.items[i]


def test_sigkilled_training_is_never_returned(run_folders):
    import time

    ck = run_folders / "r1" / "train" / "Tiny" / "checkpoint.pt"
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent.parent)!r})\n"
        "from torch.utils.data import DataLoader\n"
        "from tests.test_checkpoint_faults import Tiny, _Slow, _fit\n"
        f"_fit(Tiny(), DataLoader(_Slow(), batch_size=4), 1000, checkpoint={str(ck)!r})\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if ck.exists() and train.load_checkpoint(ck)["epoch"] >= 2:
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert train.load_checkpoint(ck)["epoch"] >= 2  # it was killed mid-training, checkpoint there
    assert runs.find_checkpoint("Tiny", {"kind": "tiny"}, roots=[run_folders / "r1"]) == (
        None,
        None,
    )
    assert runs.find_checkpoint("Tiny", {"kind": "tiny"}) == (None, None)


def test_refit_of_a_finished_checkpoint_keeps_the_weights(run_folders):
    ck = run_folders / "r1" / "train" / "Tiny" / "checkpoint.pt"
    model = Tiny()
    _fit(model, _loader(seed=0), 2, checkpoint=ck)
    before = {k: v.clone() for k, v in train.load_checkpoint(ck)["model"].items()}
    again = Tiny()
    _fit(again, _loader(seed=5), 2, checkpoint=ck)  # other crops: batch norm would recalibrate
    after = train.load_checkpoint(ck)["model"]
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(torch.equal(before[k], again.state_dict()[k]) for k in before)


# ---- wrong checkpoints ----


def test_checkpoint_without_model_is_named(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(train.CheckpointError, match=r"weights\.pt: no 'model' entry.*state_dict"):
        train.load_weights(Tiny(), path)


def test_checkpoint_of_another_architecture_is_named(run_folders):
    ck = run_folders / "r1" / "train" / "Tiny" / "checkpoint.pt"
    _fit(Tiny(width=4), _loader(), 1, checkpoint=ck)
    with pytest.raises(
        train.CheckpointError, match=r"checkpoint\.pt: written for another architecture"
    ):
        train.load_weights(Tiny(width=6), ck)
    with pytest.raises(train.CheckpointError, match="another architecture"):
        _fit(Tiny(width=6), _loader(), 2, checkpoint=ck)


# ---- I/O failures name the file and the cause ----


def test_disk_full_names_the_file(run_folders, monkeypatch):
    ck = run_folders / "r1" / "train" / "Tiny" / "checkpoint.pt"

    def full(obj, f, *a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OSError, match=r"checkpoint\.pt: cannot write.*No space left on device"):
        _fit(Tiny(), _loader(), 1, checkpoint=ck)
    assert not list(ck.parent.glob(".checkpoint.pt.*"))  # no temporary file left


def test_permission_denied_names_the_file(run_folders, monkeypatch):
    ck = run_folders / "r1" / "train" / "Tiny" / "checkpoint.pt"
    real = os.replace

    def denied(src, dst):
        if str(dst).endswith("checkpoint.pt"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", denied)
    with pytest.raises(OSError, match=r"checkpoint\.pt: cannot write.*Permission denied"):
        _fit(Tiny(), _loader(), 1, checkpoint=ck)


def test_records_on_a_full_disk_name_the_file(run_folders, monkeypatch):
    real_write = os.write

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError, match=r"results\.jsonl: cannot append.*No space left"):
        results.record("00", "m", {"x": 1.0})
    monkeypatch.setattr(os, "write", real_write)
    assert results.load(run_folders / "current") == []


def test_half_written_results_line_is_named_and_the_report_still_written(run_folders):
    run = run_folders / "current"
    results.record("00_setup_and_tour", "ok method", {"x": 1.0})
    with open(run / "results.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"notebook": "03_unet", "metr')  # the process died mid-line
    with pytest.raises(results.ResultsError, match=r"results\.jsonl, line 2: .*half-written"):
        results.load(run)
    with pytest.warns(UserWarning, match=r"results\.jsonl, line 2"):
        kept = results.load(run, skip_broken=True)
    assert [r["method"] for r in kept] == ["ok method"]
    html = reproduce.write_report(run).read_text()
    assert "ok method" in html and "line 2" in html


def test_report_is_written_atomically(run_folders, monkeypatch):
    from helpers.core import locks

    run = run_folders / "current"
    results.record("00_setup_and_tour", "first", {"x": 1.0})
    first = reproduce.write_report(run).read_text()
    results.record("00_setup_and_tour", "second", {"x": 2.0})

    def broken(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(locks.os, "replace", broken)  # the report is written by locks
    with pytest.raises(OSError, match=r"report\.html: cannot write"):
        reproduce.write_report(run)
    assert (run / "report.html").read_text() == first
    assert not [p for p in run.iterdir() if p.name.startswith(".report.html")]


def test_report_states_the_metric_conventions(run_folders):
    run = run_folders / "current"
    results.record("03_unet_landcover", "U-Net", {"iou": 0.5})
    html = reproduce.write_report(run).read_text()
    assert "scikit-learn" in html and "SSIM per patch" in html


# ---- an interrupted reproduction ----


def test_interrupted_reproduction_is_marked_and_reported(run_folders, monkeypatch, capsys):
    import papermill

    monkeypatch.delenv("EOSR_RUN_DIR")
    calls = []

    def execute(src, out, **kw):
        calls.append(Path(src).stem)
        if len(calls) == 2:
            raise KeyboardInterrupt
        Path(out).write_text(Path(src).read_text())
        run = kw["env"]["EOSR_RUN_DIR"]  # what the kernel is given (not this process's environ)
        results.record(Path(src).stem, "done", {"x": 1.0}, run_folder=run)

    monkeypatch.setattr(papermill, "execute_notebook", execute)
    code = cli.main(["reproduce", "--profile", "smoke", "00", "02", "03"])
    assert code == 130 and len(calls) == 2
    run = next(p for p in run_folders.iterdir() if p.is_dir())
    log = results.load_notebook_log(run)
    assert [r["status"] for r in log] == ["ok", "interrupted"]
    html = (run / "report.html").read_text()
    assert "interrupted" in html and "00_setup_and_tour" in html
    assert "interrupted" in capsys.readouterr().err

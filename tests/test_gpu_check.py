"""``tools/gpu_check.sh``: its dry mode runs on this CPU machine and writes one JSON summary; its
GPU mode refuses a machine without CUDA instead of passing on the CPU.

What the dry test leaves out, and why: the test trains one kind (``unet``), not all five (each
kind's ``eosr train`` run is tests/test_cli_train.py's), and skips the ``torchrun`` and ``bench``
steps (the same 2-rank ``torchrun ... train unet`` command is tests/test_distributed.py's; the
bench's training rows take minutes on 2 cores). Their checks are exercised when the script runs
in full: ``tools/gpu_check.sh --dry`` (all five steps passed on this 2-core VM; 15 min of wall
time while other jobs shared it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.data import synthetic

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "gpu_check.sh"


def _run(out: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "EOSR_PROFILE": "smoke", **env}
    return subprocess.run(
        ["bash", str(SCRIPT), *args, "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _summary(out: Path) -> dict:
    return json.loads((out / "gpu_check.json").read_text())


@pytest.mark.slow
def test_dry_mode_runs_every_step_but_the_cuda_checks_and_writes_one_summary(tmp_path):
    synthetic.ensure_sample("smoke", verbose=False)
    done = _run(tmp_path, "--dry", GPU_CHECK_KINDS="unet", GPU_CHECK_STEPS="device train resume")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = _summary(tmp_path)
    assert summary["mode"] == "dry" and summary["ok"]
    assert summary["cuda_checks"] == "skipped (--dry)"
    steps = {s["step"]: s for s in summary["steps"]}
    assert list(steps) == ["device", "train_unet", "resume"]
    assert steps["device"]["detail"].startswith("device: cpu")
    assert "unet: cpu, fp32" in steps["train_unet"]["detail"]
    assert "resumed to epoch 2" in steps["resume"]["detail"]
    assert all((tmp_path / s["log"]).is_file() for s in summary["steps"])


def test_gpu_mode_fails_without_cuda_and_says_so(tmp_path):
    """Without ``--dry`` the checks expect CUDA: on this CPU machine the device step fails
    (never a silent pass on the CPU), the summary says so and the exit status is 1."""
    done = _run(tmp_path, GPU_CHECK_STEPS="device")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    summary = _summary(tmp_path)
    (step,) = summary["steps"]
    assert summary["mode"] == "gpu" and not summary["ok"] and step["status"] == "failed"
    assert "a CUDA device" in step["detail"]


def test_unknown_argument_is_refused(tmp_path):
    done = _run(tmp_path, "--fast")
    assert done.returncode == 2 and "unknown argument --fast" in done.stderr

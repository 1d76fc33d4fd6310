"""The GPU path, tested without a GPU: each test fails on the kit before its fix.

No GPU has been lent to this project, so CUDA is emulated where a test needs it: a patched
``torch.cuda`` (device count, compute capability, ``is_bf16_supported``), tensors that present
themselves as CUDA tensors (they refuse ``.numpy()`` as CUDA tensors do), the ``meta`` device
for "not the CPU", and a two-rank gloo group on this CPU for what several ranks do together.
What only a GPU can show (speed, real kernels) is ``tools/gpu_check.sh``'s job.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.data import DataLoader

import helpers
from helpers.apps import bench, cli, jobs
from helpers.core import config, distributed
from helpers.data import synthetic
from helpers.training import train
from helpers.training.train import checkpoints, loop

SRC = str(Path(helpers.__file__).resolve().parents[1])  # the helpers under test


class Tiny(nn.Module):
    """A conv + batch norm classifier small enough to train in milliseconds."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.head = nn.Conv2d(4, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.net(x)))


def _loader(n: int = 8, batch: int = 4) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 2, 8, 8, generator=g), torch.randint(0, 3, (n, 8, 8), generator=g)
    data = [{"image": a, "mask": b} for a, b in zip(x, y)]
    return DataLoader(
        data, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0)
    )


def _fake_gpu(monkeypatch, capability=(7, 5), count=1, bf16=True) -> None:
    """CUDA as a Colab T4 (7.5) or an A100 (8.0) would report it, on this CPU machine."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    props = SimpleNamespace(name="Tesla T4", major=capability[0], minor=capability[1])
    props.total_memory = 15 * 2**30
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device=None: props)


# ---- 1. resumed runs on a GPU: RNG states restored from the CPU ----


def test_checkpoint_opened_for_another_device_keeps_rng_states_on_the_cpu(tmp_path):
    """``map_location=<the training device>`` brought the RNG states back on that device, which
    ``set_rng_state`` refuses (on a GPU: "RNG state must be a torch.ByteTensor"; emulated with
    the meta device): checkpoints now always open on the CPU."""
    ck = tmp_path / "checkpoint.pt"
    train.fit(Tiny(), _loader(), nn.functional.cross_entropy, 1, checkpoint=ck, progress=False)
    path, state = checkpoints.open_checkpoint(ck, "Tiny", True, torch.device("meta"))
    rng = state["rng"]
    assert rng["torch"].device.type == "cpu" and rng["numpy"]["keys"].device.type == "cpu"
    checkpoints.set_rng_state(rng, _loader())
    assert torch.equal(torch.get_rng_state(), rng["torch"])


class CudaTyped(torch.Tensor):
    """A tensor that answers as a CUDA tensor does: on ``cuda:0``, no ``.numpy()``."""

    @property
    def device(self) -> torch.device:
        return torch.device("cuda", 0)

    def numpy(self, *args, **kwargs):
        raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu()")

    def cpu(self, *args, **kwargs) -> torch.Tensor:
        return self.as_subclass(torch.Tensor).clone()


def _cuda_typed(value):
    if isinstance(value, torch.Tensor):
        return value.as_subclass(CudaTyped)
    if isinstance(value, dict):
        return {k: _cuda_typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cuda_typed(v) for v in value]
    return value


def test_cuda_typed_rng_states_are_restored_from_cpu_copies(monkeypatch):
    """A checkpoint whose RNG states are CUDA tensors (what ``map_location="cuda"`` gives)
    restores python, numpy, torch and CUDA states exactly, from CPU copies."""
    loader = _loader()
    saved = checkpoints.rng_state(loader)
    saved["cuda"] = [torch.get_rng_state()]  # stands in for one GPU's generator state
    expected = (random.random(), np.random.rand(), torch.rand(()).item())
    real_set = torch.set_rng_state
    restored_cuda = []

    def set_rng_state(state):  # torch's own check, which a CUDA tensor fails
        if state.device.type != "cpu":
            raise TypeError("RNG state must be a torch.ByteTensor")
        real_set(state)

    monkeypatch.setattr(torch, "set_rng_state", set_rng_state)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(
        torch.cuda, "set_rng_state_all", lambda states: restored_cuda.extend(states)
    )
    checkpoints.set_rng_state(_cuda_typed(saved), loader)
    assert (random.random(), np.random.rand(), torch.rand(()).item()) == expected
    assert [s.device.type for s in restored_cuda] == ["cpu"]


# ---- 2. AMP dtype by compute capability, stated in history and record ----


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "capability, dtype, scaled", [((7, 5), torch.float16, True), ((8, 0), torch.bfloat16, False)]
)
def test_amp_dtype_follows_compute_capability(monkeypatch, capability, dtype, scaled):
    """A T4 (7.5) reports ``is_bf16_supported()`` but emulates bf16: fp16 with a GradScaler
    there, bf16 from 8.0; fp32 when AMP is off or not on CUDA."""
    _fake_gpu(monkeypatch, capability)
    cuda = torch.device("cuda")
    assert config.amp_dtype(cuda, True) == dtype
    context, scaler = loop._autocast(cuda, True)
    assert context.fast_dtype == dtype and (scaler is not None) == scaled
    assert config.amp_dtype(cuda, False) is None and config.amp_dtype("cpu", True) is None
    names = [v[0] for v in bench.precision_variants(cuda)]
    tag = "amp-fp16" if scaled else "amp-bf16"
    assert names == ["fp32", tag, f"{tag}+channels_last"]
    assert [v[0] for v in bench.precision_variants(torch.device("cpu"))] == ["fp32"]


def test_precision_is_in_the_history(tmp_path):
    ck = tmp_path / "checkpoint.pt"
    history = train.fit(Tiny(), _loader(), nn.functional.cross_entropy, 1, checkpoint=ck)
    assert history.precision == "fp32"
    assert json.loads((tmp_path / "history.json").read_text())["precision"] == "fp32"


def test_fp32_runs_are_exact_fp32_without_tf32(tmp_path):
    """ "fp32" must not be TF32 convolutions (cuDNN's default on Ampere): off while a fp32
    ``fit`` / ``fit_gan`` trains, restored afterwards."""
    before = torch.backends.cudnn.allow_tf32
    seen = []

    def step(model, batch, loss_fn):
        seen.append((torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32))
        return loop.default_step(model, batch, loss_fn)

    loss = nn.functional.cross_entropy
    train.fit(Tiny(), _loader(), loss, 1, step_fn=step, checkpoint=tmp_path / "a" / "c.pt")

    def batch_fn(batch):
        seen.append((torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32))
        target = nn.functional.one_hot(batch["mask"], 3).permute(0, 3, 1, 2).float()
        return batch["image"], target, None

    generator, discriminator = nn.Conv2d(2, 3, 1), nn.Conv2d(5, 1, 1)
    history = train.fit_gan(
        generator, discriminator, _loader(), 1, batch_fn=batch_fn,
        checkpoint=tmp_path / "g" / "c.pt", progress=False,
    )  # fmt: skip
    assert seen and all(flags == (False, False) for flags in seen)
    assert torch.backends.cudnn.allow_tf32 == before and history.precision == "fp32"


# ---- 3. backend and device per rank; 4. no silent CPU run ----


@pytest.fixture
def fake_launch(monkeypatch):
    """Rank 1 of 2 on one node, as torchrun describes it; the group itself is not started."""
    for name, value in {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.delenv("EOSR_DEVICE", raising=False)
    monkeypatch.delenv("EOSR_BACKEND", raising=False)
    calls = {}
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: False)
    monkeypatch.setattr(torch.distributed, "is_nccl_available", lambda: True)
    monkeypatch.setattr(
        torch.distributed,
        "init_process_group",
        lambda backend=None, **kw: calls.update(backend=backend),
    )
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: calls.update(device=device))
    monkeypatch.setattr(distributed, "watch_parent", lambda *a, **k: None, raising=False)
    monkeypatch.setattr(distributed, "_CHOSEN", {}, raising=False)
    return calls


@pytest.mark.parametrize(
    "gpus, forced, backend, device",
    [(1, None, "gloo", 0), (2, None, "nccl", 1), (2, "gloo", "gloo", 1)],
)
def test_backend_and_device_per_rank(fake_launch, monkeypatch, gpus, forced, backend, device):
    """Two ranks on one GPU (``--nproc_per_node=2`` on Colab) fall back to gloo, sharing the GPU,
    instead of NCCL's "invalid device ordinal"; one GPU per rank gives NCCL; EOSR_BACKEND wins."""
    _fake_gpu(monkeypatch, count=gpus)
    if forced:
        monkeypatch.setenv("EOSR_BACKEND", forced)
    distributed.init()
    assert fake_launch["backend"] == backend
    assert torch.device(fake_launch["device"]) == torch.device("cuda", device)


def test_gpu_that_torch_cannot_use_is_an_error(monkeypatch):
    """A CUDA build of torch on a node whose driver is too old: not a silent CPU run."""
    monkeypatch.delenv("EOSR_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setattr(config, "gpu_present", lambda: True, raising=False)

    def too_old():
        raise RuntimeError("The NVIDIA driver on your system is too old (found version 11040).")

    monkeypatch.setattr(torch.cuda, "init", too_old)
    with pytest.raises(RuntimeError, match=r"too old.*EOSR_DEVICE=cpu"):
        config.pick_device(verbose=False)
    monkeypatch.setenv("EOSR_DEVICE", "cpu")  # on purpose
    assert config.pick_device(verbose=False).type == "cpu"


def test_every_job_starts_with_a_device_line_and_records_its_precision(
    tmp_path, monkeypatch, capsys
):
    """``eosr train`` says on which device, in which precision, with which backend it trains,
    and the record keeps the precision (training itself is stubbed: this is about the words)."""
    synthetic.ensure_sample("smoke", verbose=False)
    history = train.History(epoch=[1], train_loss=[0.5], precision="bf16")
    monkeypatch.setitem(jobs.TRAINERS, "unet", lambda job: ({"iou": 0.5}, history))
    monkeypatch.setenv("EOSR_RUN_DIR", str(tmp_path))
    rec = jobs.run("unet", profile="smoke", out=tmp_path, epochs=1, progress=False)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("eosr train unet: device: cpu") and "precision fp32" in first
    assert "backend none, 1 rank(s)" in first and "kernels" in first
    assert rec["precision"] == "bf16" and rec["ranks"] == 1


def test_device_line_of_a_gpu_names_it_and_its_capability(monkeypatch):
    _fake_gpu(monkeypatch, (7, 5))
    line = config.device_report(torch.device("cuda", 0), "fp16 + GradScaler", "gloo", 2)
    for words in ("cuda:0", "Tesla T4", "capability 7.5", "15 GiB", "fp16", "gloo, 2 rank(s)"):
        assert words in line


# ---- 5. one rank's NaN; 8. per-rank seeds (two gloo ranks on this CPU) ----

RANK_SCRIPT = """
import json, sys, torch
from torch import nn
from torch.utils.data import DataLoader
from helpers.core import distributed
from helpers.training import train
distributed.init()
rank = distributed.rank()
draws = []
def step(model, batch, loss_fn):
    draws.append(float(torch.rand(())))  # what a dropout layer would draw
    loss = nn.functional.cross_entropy(model(batch["image"]), batch["mask"])
    return loss * float("nan") if rank == 1 and len(draws) == 2 else loss
model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Conv2d(4, 3, 1))
g = torch.Generator().manual_seed(0)
x, y = torch.randn(16, 2, 8, 8, generator=g), torch.randint(0, 3, (16, 8, 8), generator=g)
data = [{"image": a, "mask": b} for a, b in zip(x, y)]
out = {"rank": rank, "error": None}
try:
    train.fit(model, DataLoader(data, batch_size=2, shuffle=True), None, 2, step_fn=step,
              seed=0, progress=False, checkpoint=sys.argv[1], recalibrate_bn=False)
except Exception as err:
    out.update(error=type(err).__name__, message=str(err))
out["first_draw"] = draws[0]
print("RESULT " + json.dumps(out), flush=True)
distributed.cleanup()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_one_ranks_nan_stops_every_rank_and_ranks_draw_their_own_masks(tmp_path):
    """Rank 1's loss turns NaN in its second step: both ranks raise FloatingPointError at once
    (before, rank 0 waited in DDP's all-reduce until a watchdog killed it); and each rank's
    stochastic layers draw from their own seed (before, every rank drew the same masks)."""
    base = {
        **os.environ, "PYTHONPATH": SRC, "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2",
        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "EOSR_DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",
    }  # fmt: skip
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RANK_SCRIPT, str(tmp_path / "checkpoint.pt")],
            env={**base, "RANK": str(r), "LOCAL_RANK": str(r)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in (0, 1)
    ]
    outputs = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=120)
            outputs.append(stdout + stderr)
    except subprocess.TimeoutExpired:
        pytest.fail("a rank hung after the other one's NaN")
    finally:
        for p in procs:
            p.kill()
    results = [
        json.loads(line[len("RESULT ") :])
        for text in outputs
        for line in text.splitlines()
        if line.startswith("RESULT ")
    ]
    assert len(results) == 2, "\n".join(o[-2000:] for o in outputs)
    by_rank = {r["rank"]: r for r in results}
    assert by_rank[0]["error"] == by_rank[1]["error"] == "FloatingPointError", by_rank
    assert "another rank" in by_rank[0]["message"] and "not finite" in by_rank[1]["message"]
    assert by_rank[0]["first_draw"] != by_rank[1]["first_draw"]


# ---- 6. determinism as an opt-in ----


@pytest.fixture
def restore_determinism():
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
        os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    )
    yield
    torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[2], saved[3]
    if saved[4] is None:
        os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    else:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = saved[4]


def test_fast_kernels_by_default_and_determinism_on_request(restore_determinism, monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    config.seed_everything(0, deterministic=False)
    assert torch.backends.cudnn.benchmark and not torch.backends.cudnn.deterministic
    assert not torch.are_deterministic_algorithms_enabled()
    config.seed_everything(0, deterministic=True)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()  # upsampling etc. warn
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == config.CUBLAS_WORKSPACE
    config.seed_everything(1)  # the helpers' own re-seeding keeps the mode asked for
    assert torch.are_deterministic_algorithms_enabled()
    args = cli.build_parser().parse_args(["train", "unet", "--deterministic"])
    assert args.deterministic


# ---- 7. fed well: loaders, host synchronisations, the bench's device ----


def test_cuda_jobs_load_with_workers_into_pinned_memory():
    def job(device):
        return jobs.Job("unet", "smoke", {}, 1, 4, 0, torch.device(device), None, Path("c.pt"))

    on_gpu = job("cuda").loader(list(range(8)))
    assert on_gpu.num_workers >= 1 and on_gpu.pin_memory and not on_gpu.persistent_workers
    on_cpu = job("cpu").loader(list(range(8)))
    assert on_cpu.num_workers == 0 and not on_cpu.pin_memory


class _CountSyncs(TorchDispatchMode):
    """Counts reads of a tensor's value on the host (``.item()``, ``bool()``, ``float()``): each
    one waits for the GPU's queue to drain."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.count += 1
        return func(*args, **(kwargs or {}))


def test_loss_is_read_on_the_host_every_n_steps_not_every_step(tmp_path):
    """16 steps with a check every 8: a few host reads per epoch, not 2 per step as before."""
    assert loop.check_interval("cuda") == loop.CHECK_EVERY_CUDA > 1
    assert loop.check_interval("cpu") == 1
    model = Tiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)  # Adam reads its step count per step
    with _CountSyncs() as syncs:
        train.fit(
            model, _loader(32, 2), nn.functional.cross_entropy, 1, optimizer=opt,
            checkpoint=tmp_path / "c.pt", progress=False, recalibrate_bn=False, check_every=8,
        )  # fmt: skip
    # 2 checks, the epoch's last check and mean loss, the loader's shuffling seed
    assert syncs.count <= 16 // 8 + 3, syncs.count

    def nan_at_3(model, batch, loss_fn, seen=[]):  # noqa: B006 - a counter across calls
        seen.append(1)
        loss = loop.default_step(model, batch, loss_fn)
        return loss * float("nan") if len(seen) == 3 else loss

    with pytest.raises(FloatingPointError, match="not finite"):
        train.fit(
            Tiny(), _loader(32, 2), nn.functional.cross_entropy, 1, step_fn=nan_at_3,
            checkpoint=tmp_path / "n.pt", progress=False, check_every=8,
        )  # fmt: skip


def test_bench_tiled_inference_runs_on_the_device_it_reports(monkeypatch):
    """The tiled row moves the model to the benchmark's device (emulated: ``meta``)."""
    from helpers.training import inference

    synthetic.ensure_sample("smoke", verbose=False)
    seen = []

    def predict_ntl(model, low_res, *args, out_path=None, **kwargs):
        seen.append(next(model.parameters()).device.type)
        Path(out_path).write_bytes(Path(low_res).read_bytes())

    monkeypatch.setattr(config, "pick_device", lambda *a, **k: torch.device("meta"))
    monkeypatch.setattr(inference, "predict_ntl", predict_ntl)
    (row,) = bench.bench_tiled("smoke", repeats=1)
    assert seen == ["meta"] and "[meta]" in row["case"]


def test_bench_memory_without_the_unix_resource_module(monkeypatch):
    """Windows has no ``resource`` module: the peak memory comes from psutil there."""
    monkeypatch.setitem(sys.modules, "resource", None)  # import resource -> ImportError
    assert bench.max_rss_mib() > 1


def test_ntl_input_check_reads_back_once_per_batch(monkeypatch):
    """The night-light model's finite check synchronises with the device once per batch, not
    once per input (each ``bool()`` of a device tensor is a host synchronisation on a GPU)."""
    from helpers.models import ntl_sr

    batch = {k: torch.rand(2, 1, 8, 8) for k in ntl_sr.INPUT_KEYS}
    calls = []
    original = torch.Tensor.__bool__
    monkeypatch.setattr(torch.Tensor, "__bool__", lambda t: calls.append(1) or original(t))
    ntl_sr.check_finite(batch)
    assert len(calls) == 1
    batch[ntl_sr.INPUT_KEYS[-1]][1, 0, 2, 2] = float("nan")
    with pytest.raises(ValueError, match=ntl_sr.INPUT_KEYS[-1]):
        ntl_sr.check_finite(batch)

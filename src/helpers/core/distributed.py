"""Process groups for training on several processes (PyTorch DDP launched by ``torchrun``).

``torchrun --nproc_per_node=N`` starts N copies of a script and tells each its place through
environment variables (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ...).
:func:`init` joins the group they describe (NCCL when each process has a GPU of its own, gloo
on CPUs and when processes outnumber GPUs); without them nothing is
started and every helper here answers as the single process it is (rank 0 of 1), so the
training loops run unchanged in a notebook and under ``torchrun``.

What the loops use: :func:`wrap` (SyncBatchNorm on GPUs, then ``DistributedDataParallel``),
:func:`shard_train` / :func:`shard_eval` (each rank its share of the samples), the all-reduces of
sums, means and confusion matrices, :func:`average_batch_norm` and :func:`is_main` (only rank 0
writes checkpoints, records and progress bars).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import torch
import torch.distributed as dist

ENV_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def launched() -> bool:
    """True when this process was started by ``torchrun`` for more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def active() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if active() else 0


def world_size() -> int:
    """Number of processes training together (1 when not distributed)."""
    return dist.get_world_size() if active() else 1


def local_rank() -> int:
    """Rank on this node (``LOCAL_RANK``), which picks the GPU; 0 when not distributed."""
    return int(os.environ.get("LOCAL_RANK", "0")) if active() else 0


def is_main() -> bool:
    """True on the process that writes files and shows progress (rank 0)."""
    return rank() == 0


BACKEND_ENV = "EOSR_BACKEND"  # override: nccl or gloo (also `eosr train --backend`)
_CHOSEN: dict[str, Any] = {}  # what init chose: backend and this rank's device


def local_world_size() -> int:
    """Processes on this node (``LOCAL_WORLD_SIZE`` set by torchrun; else ``WORLD_SIZE``)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE") or os.environ.get("WORLD_SIZE") or "1")


def default_backend(backend: str | None = None) -> str:
    """``nccl`` when every process on this node gets a GPU of its own, else ``gloo``: on CPUs, and
    when there are more processes than GPUs (``--nproc_per_node=2`` on a one-GPU Colab), where
    NCCL would fail with "invalid device ordinal". ``backend`` (``eosr train --backend``), else
    ``EOSR_BACKEND``, overrides."""
    forced = (backend or os.environ.get(BACKEND_ENV, "")).strip().lower()
    if forced:
        if forced not in ("nccl", "gloo"):
            raise ValueError(f"{BACKEND_ENV}={forced!r}: choose nccl or gloo")
        return forced
    if not (torch.cuda.is_available() and dist.is_nccl_available()):
        return "gloo"
    return "nccl" if torch.cuda.device_count() >= local_world_size() else "gloo"


def rank_device(backend: str) -> torch.device:
    """This rank's device: ``cuda:LOCAL_RANK`` under NCCL; under gloo with CUDA the GPUs shared
    round-robin (``LOCAL_RANK % count``); the CPU without CUDA or with ``EOSR_DEVICE=cpu``."""
    want = os.environ.get("EOSR_DEVICE", "").strip()
    if want:
        return torch.device(want)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if backend == "nccl":
        return torch.device("cuda", local)
    if torch.cuda.is_available():
        return torch.device("cuda", local % max(torch.cuda.device_count(), 1))
    return torch.device("cpu")


def init(backend: str | None = None) -> bool:
    """Join the process group ``torchrun`` describes in the environment; True if distributed.

    Without ``torchrun`` (or with one process) nothing happens. The backend and this rank's
    device come from :func:`default_backend` and :func:`rank_device` (``backend`` or
    ``EOSR_BACKEND`` override); a GPU that torch cannot use is an error, not a silent CPU run
    (``config.check_gpu_usable``). The rank stops when its launcher dies (:func:`watch_parent`).
    Calling it again is harmless.
    """
    if not launched() or not dist.is_available():
        return False
    if not dist.is_initialized():
        from . import config

        watch_parent()
        config.check_gpu_usable()
        backend = default_backend(backend)
        chosen = rank_device(backend)
        if chosen.type == "cuda":
            torch.cuda.set_device(chosen)
        _CHOSEN.update(backend=backend, device=chosen)
        dist.init_process_group(backend=backend)
    return active()


_WATCHING: list[int] = []


def watch_parent(poll_s: float = 1.0) -> None:
    """Stop this process when its parent (``torchrun``) dies: torchrun starts its ranks in
    sessions of their own, so killing its process group (or SIGKILL) would leave them running
    and writing. A daemon thread checks the parent every ``poll_s`` seconds; once it is gone the
    rank sends itself SIGTERM (``os._exit`` a few seconds later if that is handled)."""
    import signal
    import sys
    import threading
    import time

    if _WATCHING:
        return
    parent = os.getppid()
    _WATCHING.append(parent)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        print(
            f"rank {os.environ.get('RANK', '?')} (pid {os.getpid()}): its launcher (pid "
            f"{parent}) is gone; stopping",
            file=sys.stderr,
            flush=True,
        )
        os.kill(os.getpid(), getattr(signal, "SIGTERM", signal.SIGINT))
        time.sleep(5.0)
        os._exit(143)

    threading.Thread(target=watch, name="eosr-watch-parent", daemon=True).start()


def cleanup() -> None:
    """Leave the process group (at the end of a run; a no-op when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait until every rank gets here (e.g. before reading a file rank 0 wrote)."""
    if active():
        dist.barrier()


def device() -> torch.device:
    """The device of this rank: the one :func:`init` chose (:func:`rank_device`); outside a
    process group CUDA when available, else the CPU."""
    if active() and "device" in _CHOSEN:
        return _CHOSEN["device"]
    if active() and dist.get_backend() == "nccl":
        return torch.device("cuda", local_rank())
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def backend() -> str | None:
    """The process group's backend (None when not distributed)."""
    return dist.get_backend() if active() else None


def any_true(flag: bool | torch.Tensor) -> bool:
    """True when ``flag`` is true on any rank (one all-reduce; one process: ``flag``). Every
    rank must call it at the same point: the loops agree on a failure before any rank raises,
    so that no rank is left waiting in a collective for one that stopped."""
    if not active():
        return bool(flag)
    box = torch.as_tensor(flag, dtype=torch.float32).detach().reshape(1)
    return bool(all_reduce_sum(box.to(device())).item() > 0)


def rank_seed(seed: int, epoch: int = 0) -> int:
    """The seed of this rank's stochastic layers (dropout): ``seed`` on rank 0 (a 1-process run
    draws the same), ``seed + 1000003 * rank + epoch`` on the others, so that ranks draw
    different masks instead of the same ones."""
    r = rank()
    return int(seed) if r == 0 else int(seed) + 1000003 * r + int(epoch)


def seed_rank(seed: int | None, epoch: int = 0) -> None:
    """Seed torch's global generators with :func:`rank_seed` on ranks > 0 (no-op on rank 0)."""
    if seed is not None and rank() > 0:
        torch.manual_seed(rank_seed(seed, epoch))


def broadcast_object(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (e.g. the run folder rank 0 created)."""
    if not active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


# ---- models ----


class _SumOverRanks(torch.autograd.Function):
    """``all_reduce`` (sum) that gradients flow back through: every rank's input feeds every
    rank's output, so the gradient is the sum over the ranks too."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


class CPUSyncBatchNorm(torch.nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are those of the global batch: sums over the ranks
    by differentiable all-reduces. torch's ``SyncBatchNorm`` has no CPU kernel; this is its
    stand-in on gloo ranks (same tensors, same state dict)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and active()):
            return super().forward(x)
        all_reduce = _SumOverRanks.apply
        dims, shape = (0, 2, 3), (1, -1, 1, 1)
        local = torch.cat([x.sum(dims), x.new_tensor([x.numel() / x.shape[1]])])
        total = all_reduce(local)  # sum over ranks; gradients flow back through it
        n = total[-1]
        mean = total[:-1] / n
        var = all_reduce(((x - mean.view(shape)) ** 2).sum(dims)) / n  # two passes, as torch
        if self.track_running_stats:
            self._update_running(mean.detach(), var.detach() * n / (n - 1).clamp_min(1))
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y

    def _update_running(self, mean: torch.Tensor, unbiased_var: torch.Tensor) -> None:
        """Running averages as BatchNorm2d keeps them (momentum None: cumulative average)."""
        with torch.no_grad():
            self.num_batches_tracked += 1
            f = (
                self.momentum
                if self.momentum is not None
                else 1.0 / float(self.num_batches_tracked)
            )
            self.running_mean.mul_(1 - f).add_(f * mean)
            self.running_var.mul_(1 - f).add_(f * unbiased_var)


SYNCED = (CPUSyncBatchNorm, torch.nn.SyncBatchNorm)


def sync_batch_norm(model: torch.nn.Module, device: torch.device) -> None:
    """Batch norm of ``model`` over the global batch: every BatchNorm2d becomes torch's
    SyncBatchNorm on GPUs under NCCL, :class:`CPUSyncBatchNorm` on CPUs and under gloo. The layers' class is switched in
    place (as ``SyncBatchNorm.convert_sync_batchnorm`` would, without new modules), so
    parameters, buffers, state-dict keys and an optimiser holding them are untouched."""
    nccl = device.type == "cuda" and (not active() or dist.get_backend() == "nccl")
    for m in model.modules():
        if type(m) is torch.nn.BatchNorm2d:  # gloo on GPUs: all-reduces only, as on CPUs
            m.__class__ = torch.nn.SyncBatchNorm if nccl else CPUSyncBatchNorm
            m.process_group = None  # SyncBatchNorm: the whole world


def wrap(model: torch.nn.Module, device: torch.device | str) -> torch.nn.Module:
    """``model`` ready for DDP: batch norm synchronised across ranks (:func:`sync_batch_norm`),
    then wrapped in ``DistributedDataParallel``. Not distributed: ``model`` itself."""
    if not active():
        return model
    device = torch.device(device)
    sync_batch_norm(model, device)
    ids = [device.index if device.index is not None else local_rank()]
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=ids if device.type == "cuda" else None
    )


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DDP wrapper (what checkpoints hold); any other module unchanged."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def revert_sync_batch_norm(model: torch.nn.Module) -> torch.nn.Module:
    """Switch the layers :func:`sync_batch_norm` changed back to BatchNorm2d, so the trained model
    is the plain model a notebook built (same modules, parameters and buffers)."""
    for m in model.modules():
        if type(m) in SYNCED:
            m.__class__ = torch.nn.BatchNorm2d
            m.__dict__.pop("process_group", None)
    return model


def average_batch_norm(model: torch.nn.Module) -> None:
    """Average every batch-norm layer's running mean and variance over the ranks (after a
    recalibration pass in which each rank saw its own batches)."""
    if not active():
        return
    for m in unwrap(model).modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
            for buf in (m.running_mean, m.running_var):
                dist.all_reduce(buf, op=dist.ReduceOp.SUM)
                buf /= world_size()


# ---- reductions ----


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """The sum of ``tensor`` over the ranks (returned; the input is not changed). With NCCL the
    sum is taken on this rank's GPU and returned on the input's device."""
    if not active():
        return tensor
    work = tensor.detach().clone().to(device())
    dist.all_reduce(work, op=dist.ReduceOp.SUM)
    return work.to(tensor.device)


def sum_pair(total: float, count: int) -> tuple[float, int]:
    """``(total, count)`` summed over the ranks (e.g. a loss sum and its number of batches)."""
    if not active():
        return total, count
    both = all_reduce_sum(torch.tensor([float(total), float(count)], dtype=torch.float64))
    return float(both[0]), int(both[1])


def mean_over_ranks(total: float, count: int) -> float:
    """Mean over all ranks' ``count`` items of the per-rank sums ``total`` (one process:
    ``total / max(count, 1)``, exactly as before)."""
    total, count = sum_pair(total, count)
    return total / max(count, 1)


# ---- samplers ----


def _rebuild(loader: Any, sampler: Any = None, batches: Any = None) -> torch.utils.data.DataLoader:
    """A DataLoader like ``loader`` (workers, collate) drawing from ``sampler`` in its batch size,
    or serving the index lists ``batches``."""
    sizing = (
        {"batch_sampler": batches}
        if batches is not None
        else {"batch_size": loader.batch_size, "sampler": sampler, "drop_last": loader.drop_last}
    )
    return torch.utils.data.DataLoader(
        loader.dataset,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        persistent_workers=loader.persistent_workers if loader.num_workers else False,
        **sizing,
    )


def _shards_itself(loader: Any) -> bool:
    """True for a loader over an ``IterableDataset``: it splits its samples per rank itself."""
    return isinstance(getattr(loader, "dataset", None), torch.utils.data.IterableDataset)


def train_sampler(
    dataset: Any, shuffle: bool = True, seed: int = 0, drop_last: bool = False
) -> torch.utils.data.DistributedSampler:
    """A ``DistributedSampler`` for this rank (also for one process: the same order on 1 or N
    ranks, so runs on different numbers of ranks see the same global batches)."""
    return torch.utils.data.DistributedSampler(
        dataset, world_size(), rank(), shuffle=shuffle, seed=seed, drop_last=drop_last
    )


def shard_train(loader: Iterable[Any], seed: int = 0) -> Iterable[Any]:
    """This rank's share of a training DataLoader (a ``DistributedSampler``, shuffled if the loader
    shuffled; the epoch is set by the loops' epoch hook). Its batch size stays per rank, so the
    global batch is ``batch_size * world_size``. Unchanged when not distributed, already sharded,
    or streaming (an ``IterableDataset`` such as ``datasets.Streaming`` shards itself per rank)."""
    if (
        not active()
        or _shards_itself(loader)
        or isinstance(getattr(loader, "sampler", None), torch.utils.data.DistributedSampler)
    ):
        return loader
    if not isinstance(loader, torch.utils.data.DataLoader) or loader.batch_sampler is None:
        raise TypeError(
            f"distributed training needs a torch DataLoader with a batch size, got "
            f"{type(loader).__name__}; build one with DataLoader(dataset, batch_size=..., shuffle=...)."
        )
    shuffle = isinstance(loader.sampler, torch.utils.data.RandomSampler)
    return _rebuild(loader, train_sampler(loader.dataset, shuffle, seed, loader.drop_last))


def shard_eval(loader: Iterable[Any]) -> Iterable[Any]:
    """This rank's share of an evaluation loader: whole batches ``rank, rank + world, ...`` of the
    loader's own batches, so every batch (and a prediction that depends on its batch, e.g. batch
    norm in batch-statistics mode) is the one a single process sees, none twice and none left out;
    sums over the ranks then equal one process's. Unchanged when not distributed or streaming."""
    if not active() or _shards_itself(loader):
        return loader
    if isinstance(loader, torch.utils.data.DataLoader) and loader.batch_sampler is not None:
        batches = [b for i, b in enumerate(loader.batch_sampler) if i % world_size() == rank()]
        return _rebuild(loader, batches=batches)
    return [b for i, b in enumerate(loader) if i % world_size() == rank()]

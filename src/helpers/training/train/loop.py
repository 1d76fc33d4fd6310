"""The supervised training loop and what goes with it: :func:`fit`, validation, evaluation,
prediction on batches and loaders.

:func:`fit` trains any model on batches that are dicts (``image``, ``mask``, ...) or
``(input, target)`` pairs, with progress bars, AMP on CUDA, resumable checkpoints and a history.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from ...core import config, distributed
from ...models import metrics
from .checkpoints import (
    finish,
    finished_history,
    load_checkpoint,
    load_model_state,
    open_checkpoint,
    require_resumable,
    rng_state,
    save_checkpoint,
    set_rng_state,
    start_history,
    write_history,
)
from .history import History, mark_capped, would_overrun

# ---- batches and devices ----


def to_device(batch: Any, device: torch.device | str | None, channels_last: bool = False) -> Any:
    """Move every tensor in a batch (dict, list, tuple or tensor) to ``device``; with
    ``channels_last``, 4-D floating-point tensors (image batches) are stored NHWC."""
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        if channels_last and batch.ndim == 4 and batch.is_floating_point():
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch
    if isinstance(batch, dict):
        return {k: to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, channels_last) for v in batch)
    return batch


def split_batch(batch: Any, input_key: str = "image", target_key: str = "mask") -> tuple[Any, Any]:
    """``(input, target)`` of a dict batch (``image``/``mask``) or a ``(input, target)`` pair."""
    if isinstance(batch, dict):
        if input_key not in batch:
            raise KeyError(f"batch has no {input_key!r}; keys are {sorted(batch)}. Pass step_fn.")
        return batch[input_key], batch.get(target_key)
    if isinstance(batch, (list, tuple)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise TypeError(f"cannot split a batch of type {type(batch).__name__}; pass a step_fn.")


def default_step(
    model: torch.nn.Module, batch: Any, loss_fn: Callable[..., torch.Tensor]
) -> torch.Tensor:
    """The plain supervised step: ``loss_fn(model(input), target)``."""
    x, y = split_batch(batch)
    return loss_fn(model(x), y)


def _autocast(device: torch.device | str | None, amp: bool | str) -> tuple[Any, Any]:
    """``(autocast context, GradScaler or None)`` on CUDA when ``amp``: bf16 from compute
    capability 8.0, fp16 with a GradScaler below (``config.amp_dtype``); else no autocast."""
    dtype = config.amp_dtype(device, amp)
    if dtype is None:
        return contextlib.nullcontext(), None
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return torch.autocast("cuda", dtype=dtype), scaler


CHECK_EVERY_CUDA = 25  # steps between loss checks on CUDA: each check waits for the GPU


def check_interval(device: torch.device | str | None, check_every: int | None = None) -> int:
    """Steps between the finite-loss checks of :func:`fit`: every step on the CPU (a check is
    free there), every :data:`CHECK_EVERY_CUDA` steps on CUDA, where reading the loss on the host
    stalls the GPU's queue; ``check_every`` overrides. Under torchrun every step (the ranks agree
    before ``backward``, see ``_train_epoch``)."""
    if check_every is not None:
        if int(check_every) < 1:
            raise ValueError(f"check_every must be >= 1, got {check_every}")
        return int(check_every)
    return CHECK_EVERY_CUDA if torch.device(device or "cpu").type == "cuda" else 1


# ---- the loop ----


def _make_scheduler(scheduler: Any, optimizer: torch.optim.Optimizer, epochs: int) -> Any:
    """The learning-rate schedule of a run of ``epochs`` epochs (None, ``"cosine"`` or a callable)."""
    if scheduler is None:
        return None
    if scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    if callable(scheduler):
        return scheduler(optimizer)
    raise ValueError(
        f"scheduler must be None, 'cosine' or a callable(optimizer); got {scheduler!r}"
    )


@dataclass
class _Run:
    """What one :func:`fit` call works with, built once before the first epoch."""

    model: torch.nn.Module  # the plain module: checkpoints, validation
    loader: Iterable[Any]  # this rank's share of the training batches
    step: Callable[..., torch.Tensor]
    loss_fn: Callable[..., torch.Tensor] | None
    device: torch.device
    optimizer: torch.optim.Optimizer
    sched: Any
    autocast: Any
    scaler: Any
    path: Any
    channels_last: bool
    grad_clip: float | None
    precision: str = "fp32"  # what autocast computes in (config.precision_name)
    check_every: int = 1  # steps between finite-loss checks (check_interval)
    net: torch.nn.Module | None = None  # what trains: the DDP wrapper under torchrun, else model

    def distribute(self, seed: int | None) -> None:
        """Under torchrun: DDP-wrap the model and shard the loader (no change in one process)."""
        self.net = distributed.wrap(self.model, self.device)
        self.loader = distributed.shard_train(self.loader, seed or 0)


def fit(
    model: torch.nn.Module,
    train_loader: Iterable[Any],
    loss_fn: Callable[..., torch.Tensor] | None,
    epochs: int,
    learning_rate: float = 1e-3,
    device: torch.device | str | None = None,
    val_loader: Iterable[Any] | None = None,
    checkpoint: str | os.PathLike | None = None,
    time_budget_s: float | None = None,
    amp: bool = True,
    progress: bool = True,
    step_fn: Callable[..., torch.Tensor] | None = None,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    weight_decay: float = 0.0,
    num_classes: int | None = None,
    ignore_index: int = 255,
    val_fn: Callable[..., dict[str, float]] | None = None,
    resume: bool = True,
    seed: int | None = None,
    grad_clip: float | None = None,
    meta: dict[str, Any] | None = None,
    channels_last: bool = True,
    recalibrate_bn: bool = True,
    check_every: int | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs and return its :class:`History`.

    - ``loss_fn(output, target)`` is used by the default step; ``step_fn(model, batch, loss_fn)``
      replaces the step for custom losses (it gets the whole batch dict, on the device) and
      returns the scalar loss.
    - ``checkpoint``: a path to save to after every epoch, e.g.
      ``runs.new_checkpoint_path("03_unet")`` in the run folder; ``None`` writes to a new
      temporary folder (training writes where it is told). An existing checkpoint is resumed when
      ``resume`` is true, otherwise refused (a user's checkpoint is never overwritten). When all
      planned epochs are done the checkpoint is marked finished (``finished.json`` with its hash);
      calling ``fit`` again on a finished checkpoint returns its history and changes nothing.
    - ``epochs`` decide how long it trains (and the cosine schedule follows them), so the same seed
      gives the same weights on a quiet or a busy machine. ``time_budget_s`` is only a safety cap:
      when the next epoch would overrun it, training stops, warns (``TrainingCapped``) and the
      history says ``capped`` and why.
    - validation: ``val_fn(model, val_loader, device) -> dict``; by default the loss, plus IoU/F1/
      accuracy (``helpers.models.metrics``) when ``num_classes`` is given.
    - AMP only on CUDA and only when ``amp`` is true: bf16 from compute capability 8.0, fp16
      with a GradScaler below (a T4's bf16 is emulated); ``amp`` may also name ``"bf16"`` /
      ``"fp16"``. Without AMP, fp32 is exact fp32 (TF32 off, ``config.exact_fp32``). The history
      says which (``precision``).
    - ``check_every``: steps between finite-loss checks (:func:`check_interval`: 1 on the CPU,
      25 on CUDA); a NaN/inf loss raises ``FloatingPointError`` at the next check.
    - ``meta``: anything JSON-like stored in the checkpoint (e.g. the model's settings) so that
      another notebook can check what it loads.
    - ``channels_last``: weights and image batches in NHWC memory order (faster convolutions on
      CPU and GPU; same results up to rounding).
    - ``recalibrate_bn``: after the last epoch, re-estimate batch-norm statistics with the final
      weights (:func:`recalibrate_batch_norm`) and save them in the checkpoint.
    - Under ``torchrun`` (``helpers.core.distributed.init`` called first) the same call trains with DDP:
      the model is wrapped (SyncBatchNorm on GPUs), each rank draws its share of the batches
      (``DistributedSampler``; ``batch_size`` is per rank), losses, validation metrics and
      batch-norm statistics are averaged over the ranks, and only rank 0 writes the checkpoint
      (the plain module's weights: it resumes on any number of ranks) and shows progress.
    """
    if step_fn is None and loss_fn is None:
        raise ValueError(
            "give a loss_fn, or a step_fn(model, batch, loss_fn) that returns the loss"
        )
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    run, state = _prepare(
        model,
        train_loader,
        loss_fn,
        step_fn,
        epochs,
        learning_rate,
        device,
        checkpoint,
        amp,
        optimizer,
        scheduler,
        weight_decay,
        resume,
        channels_last,
        grad_clip,
    )
    done = finished_history(History, state, run.path, epochs)
    if done is not None:  # a finished checkpoint: its weights stay as they are
        return done
    run.check_every = check_interval(run.device, check_every)
    with contextlib.ExitStack() as stack:
        if run.precision == "fp32":
            stack.enter_context(config.exact_fp32())
        return _fit_epochs(
            run, state, model, epochs, seed, progress, val_loader, val_fn, loss_fn, step_fn,
            num_classes, ignore_index, meta, time_budget_s, recalibrate_bn,
        )  # fmt: skip


def _fit_epochs(
    run: _Run,
    state: dict[str, Any] | None,
    model: torch.nn.Module,
    epochs: int,
    seed: int | None,
    progress: bool,
    val_loader: Iterable[Any] | None,
    val_fn: Callable[..., dict[str, float]] | None,
    loss_fn: Callable[..., torch.Tensor] | None,
    step_fn: Callable[..., torch.Tensor] | None,
    num_classes: int | None,
    ignore_index: int,
    meta: dict[str, Any] | None,
    time_budget_s: float | None,
    recalibrate_bn: bool,
) -> History:
    """The epochs of :func:`fit` (after its checks): train, validate, checkpoint, finish."""
    run.distribute(seed)
    history, start_epoch = start_history(History, state, run.path, run.loader, seed, run.device)
    history.precision = run.precision
    began = time.perf_counter()
    bar = tqdm(
        range(start_epoch, epochs),
        desc=type(model).__name__,
        disable=not progress or not distributed.is_main(),
        initial=start_epoch,
        total=epochs,
        unit="epoch",
    )
    for epoch in bar:
        t0 = time.perf_counter()
        set_epoch(run.loader, epoch)
        loss = _train_epoch(run, epoch)
        history.learning_rate.append(float(run.optimizer.param_groups[0]["lr"]))
        _step_schedule(run)
        val = {}
        if val_loader is not None and val_fn is not None:
            val = val_fn(model, val_loader, run.device)
        elif val_loader is not None:
            val = validate(
                model,
                val_loader,
                loss_fn,
                run.device,
                step_fn=step_fn,
                num_classes=num_classes,
                ignore_index=ignore_index,
            )
        _log_epoch(history, epoch, loss, val, t0, bar)
        _save(run, epoch, history, meta, epochs)
        if out_of_time(history, epoch, epochs, start_epoch, began, time_budget_s):
            break
    bar.close()
    if recalibrate_bn and history.epochs_done:
        _recalibrate_and_save(run)
    if distributed.is_main():
        write_history(run.path, history)
        finish(run.path, history, epochs, run.device)
    distributed.barrier()  # every rank returns once the checkpoint is final
    distributed.revert_sync_batch_norm(model)
    return history


def _prepare(
    model: torch.nn.Module,
    loader: Iterable[Any],
    loss_fn: Callable[..., torch.Tensor] | None,
    step_fn: Callable[..., torch.Tensor] | None,
    epochs: int,
    learning_rate: float,
    device: torch.device | str | None,
    checkpoint: str | os.PathLike | None,
    amp: bool,
    optimizer: torch.optim.Optimizer | None,
    scheduler: Any,
    weight_decay: float,
    resume: bool,
    channels_last: bool,
    grad_clip: float | None,
) -> tuple[_Run, dict[str, Any] | None]:
    """Device, optimiser, scheduler and AMP for a run, restored from its checkpoint if one exists."""
    device = torch.device(device) if device is not None else config.pick_device(verbose=False)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if optimizer is None:
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=learning_rate, weight_decay=weight_decay
        )
    sched = _make_scheduler(scheduler, optimizer, epochs)
    autocast, scaler = _autocast(device, amp)
    path, state = open_checkpoint(checkpoint, type(model).__name__, resume, device)
    if state is not None:  # on the CPU; load_state_dict moves it to the parameters' device
        require_resumable(state, path, ("model", "optimizer", "rng", "epoch", "history"))
        load_model_state(model, state, path)
        optimizer.load_state_dict(state["optimizer"])
        sched = _resume_schedule(scheduler, sched, optimizer, state, epochs)
        if scaler is not None and state.get("scaler") is not None:
            scaler.load_state_dict(state["scaler"])
    step = step_fn or default_step
    run = _Run(
        model,
        loader,
        step,
        loss_fn,
        device,
        optimizer,
        sched,
        autocast,
        scaler,
        path,
        channels_last,
        grad_clip,
        config.precision_name(config.amp_dtype(device, amp)),
    )
    return run, state


def _resume_schedule(
    spec: Any, sched: Any, optimizer: torch.optim.Optimizer, state: dict[str, Any], epochs: int
) -> Any:
    """The schedule of a resumed run. The rule: a run resumed or extended to ``epochs`` continues
    the schedule *as if it had been planned for* ``epochs`` from the start. A cosine schedule
    saved for another total (a finished 3-epoch run extended to 6) is rebuilt for ``epochs`` and
    advanced to the epoch reached, so the learning rate keeps falling instead of rising again;
    otherwise (same total, or a callable schedule) the saved state is loaded as it is."""
    if sched is None:
        return None
    planned, done = state.get("planned_epochs"), int(state.get("epoch", 0))
    if spec == "cosine" and planned is not None and int(planned) != epochs:
        for group in optimizer.param_groups:
            group["lr"] = group.get("initial_lr", group["lr"])
        sched = _make_scheduler(spec, optimizer, epochs)
        with warnings.catch_warnings():  # stepping before optimizer.step(): on purpose here
            warnings.simplefilter("ignore")
            for _ in range(done):
                sched.step()
        return sched
    if state.get("scheduler") is not None:
        sched.load_state_dict(state["scheduler"])
    return sched


def set_epoch(loader: Iterable[Any], epoch: int) -> None:
    """Tell the loader, its dataset and its sampler the epoch (datasets drawing new crops/flips
    per epoch; a ``DistributedSampler`` shuffling anew per epoch)."""
    sources = (loader, getattr(loader, "dataset", None), getattr(loader, "sampler", None))
    for source in sources:
        if hasattr(source, "set_epoch"):
            source.set_epoch(epoch)


NOT_FINITE = (
    "Lower the learning rate or check the inputs for NaN "
    "(helpers.io.rasters.read(..., masked_nodata=True))."
)


def _train_epoch(run: _Run, epoch: int) -> float:
    """One pass over the training batches; returns the mean loss.

    The loss stays on the device (summed there, read once per epoch); finiteness is checked
    every ``run.check_every`` steps. Under torchrun the ranks agree before every ``backward``:
    when any rank's step failed (a NaN/inf loss, a bad batch refused by the step) every rank
    raises, instead of the others waiting in DDP's all-reduce for the one that stopped."""
    net = run.net or run.model
    net.train()
    total = torch.zeros((), dtype=torch.float64, device=run.device)
    bad = torch.zeros((), dtype=torch.bool, device=run.device)
    count = 0
    for batch in run.loader:
        batch = to_device(batch, run.device, run.channels_last)
        run.optimizer.zero_grad(set_to_none=True)
        loss = _agreed_step(run, net, batch, epoch) if distributed.active() else None
        if loss is None:
            with run.autocast:
                loss = run.step(net, batch, run.loss_fn)
        count += 1
        bad |= ~torch.isfinite(loss.detach())
        if count % run.check_every == 0 and bool(bad):
            raise FloatingPointError(f"epoch {epoch + 1}: loss is not finite. {NOT_FINITE}")
        _backward_and_step(run, loss)
        total += loss.detach().double()
    if bool(bad):
        raise FloatingPointError(f"epoch {epoch + 1}: loss is not finite. {NOT_FINITE}")
    return distributed.mean_over_ranks(float(total), count)  # one process: total / max(count, 1)


def _agreed_step(run: _Run, net: torch.nn.Module, batch: Any, epoch: int) -> torch.Tensor:
    """The step's loss under torchrun, once every rank has said that its own step worked."""
    failure: Exception | None = None
    loss = None
    try:
        with run.autocast:
            loss = run.step(net, batch, run.loss_fn)
    except Exception as err:  # e.g. a batch with NaN refused by the model's step
        failure = err
    flag = torch.ones(()) if loss is None else (~torch.isfinite(loss.detach())).float()
    if not distributed.any_true(flag):
        return loss
    if failure is not None:
        raise failure
    if loss is not None and not torch.isfinite(loss.detach()):
        raise FloatingPointError(f"epoch {epoch + 1}: loss is not finite. {NOT_FINITE}")
    raise FloatingPointError(
        f"epoch {epoch + 1}: another rank's step failed (its log says why: a NaN/inf loss or a "
        "bad batch); every rank stops together."
    )


def _backward_and_step(run: _Run, loss: torch.Tensor) -> None:
    """Backpropagate (through the AMP scaler when there is one), clip, step the optimiser."""
    if run.scaler is not None:
        run.scaler.scale(loss).backward()
        run.scaler.unscale_(run.optimizer)
    else:
        loss.backward()
    if run.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), run.grad_clip)
    if run.scaler is not None:
        run.scaler.step(run.optimizer)
        run.scaler.update()
    else:
        run.optimizer.step()


def _step_schedule(run: _Run) -> None:
    """Advance the learning-rate schedule: it follows the epochs, never the clock."""
    if run.sched is not None:
        run.sched.step()


def _log_epoch(
    history: History, epoch: int, loss: float, val: dict[str, Any], t0: float, bar: Any
) -> None:
    """Append one epoch to the history and show it on the progress bar."""
    history.epoch.append(epoch + 1)
    history.train_loss.append(loss)
    history.val.append({k: float(v) for k, v in val.items()})
    history.seconds.append(time.perf_counter() - t0)
    shown = {"loss": f"{history.train_loss[-1]:.4f}"}
    shown.update({f"val_{k}": f"{v:.3f}" for k, v in list(history.val[-1].items())[:2]})
    bar.set_postfix(shown)


def _save(
    run: _Run, epoch: int, history: History, meta: dict[str, Any] | None, epochs: int
) -> None:
    """Checkpoint after an epoch (rank 0): everything needed to resume to the same result."""
    if not distributed.is_main():
        return
    save_checkpoint(
        run.path,
        {
            "model": run.model.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "scheduler": run.sched.state_dict() if run.sched is not None else None,
            "scaler": run.scaler.state_dict() if run.scaler is not None else None,
            "rng": rng_state(run.loader),
            "epoch": epoch + 1,
            "history": history.to_dict(),
            "meta": meta or {},
            "finished": False,  # set by checkpoints.finish when the planned epochs are done
            "planned_epochs": int(epochs),
        },
    )


def out_of_time(
    history: Any,
    epoch: int,
    epochs: int,
    start_epoch: int,
    began: float,
    time_budget_s: float | None,
) -> bool:
    """True when the next epoch would overrun the time cap; the history then says ``capped``.
    Under torchrun rank 0's clock decides for all ranks, so that they stop together."""
    reason = would_overrun(
        time.perf_counter() - began, epoch + 1 - start_epoch, epoch, epochs, time_budget_s
    )
    reason = distributed.broadcast_object(reason)
    if reason:
        mark_capped(history, time_budget_s, reason)
    return bool(reason)


def _recalibrate_and_save(run: _Run) -> None:
    """Re-estimate batch-norm statistics with the final weights and store them in the checkpoint."""
    rng = rng_state(run.loader)  # saved as before, so a resumed finished run does the same
    if recalibrate_batch_norm(
        run.net or run.model, run.loader, run.step, run.loss_fn, run.device, run.channels_last
    ):
        distributed.average_batch_norm(run.model)  # each rank saw its share of the batches
        if distributed.is_main():
            state = load_checkpoint(run.path)
            state["model"], state["rng"] = run.model.state_dict(), rng
            save_checkpoint(run.path, state)
    set_rng_state(rng, run.loader)


def recalibrate_batch_norm(
    model: torch.nn.Module,
    loader: Iterable[Any],
    step_fn: Callable[..., Any] = default_step,
    loss_fn: Callable[..., Any] | None = None,
    device: torch.device | str | None = None,
    channels_last: bool = False,
) -> bool:
    """Re-estimate every batch-norm layer's running mean and variance with the current weights
    ("precise BN"): one pass over ``loader`` in training mode, without gradients, averaging all
    batches equally. The running averages kept during training lag behind weights that change
    fast (short runs, high learning rates), and ``eval()`` predictions then swing from epoch to
    epoch. Returns False (and does nothing) when the model has no batch norm."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return False
    device = torch.device(device) if device is not None else next(model.parameters()).device
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the pass
    was_training = model.training
    model.train()
    with torch.no_grad():
        for batch in loader:
            step_fn(model, to_device(batch, device, channels_last), loss_fn)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.train(was_training)
    return True


class _Mean:
    total: float = 0.0
    count: int = 0


def validate(
    model: torch.nn.Module,
    loader: Iterable[Any],
    loss_fn: Callable[..., Any] | None,
    device: torch.device | str | None = None,
    step_fn: Callable[..., Any] | None = None,
    num_classes: int | None = None,
    ignore_index: int = 255,
) -> dict[str, float]:
    """Mean loss over ``loader`` (when computable) and, with ``num_classes``, IoU/F1/accuracy."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    mean = _Mean()
    confusion = None
    with torch.no_grad():
        for batch in distributed.shard_eval(loader):  # under torchrun: this rank's share
            batch = to_device(batch, device)
            if loss_fn is not None or step_fn is not None:
                loss = (step_fn or default_step)(model, batch, loss_fn)
                mean.total += float(loss)
                mean.count += 1
            if num_classes is not None:
                x, y = split_batch(batch)
                pred = model(x).argmax(1)
                cm = metrics.confusion_matrix(pred, y, num_classes, ignore_index)
                confusion = cm if confusion is None else confusion + cm
    out = {}
    if distributed.active():  # sums over the ranks: the scores of the whole loader
        mean.total, mean.count = distributed.sum_pair(mean.total, mean.count)
        if num_classes is not None:
            zeros = torch.zeros(num_classes, num_classes, dtype=torch.long, device=device)
            confusion = distributed.all_reduce_sum(zeros if confusion is None else confusion)
    if mean.count:
        out["loss"] = mean.total / mean.count
    if confusion is not None:
        out.update(metrics.scores_from_confusion(confusion).summary())
    return out


def evaluate(
    model: torch.nn.Module,
    loader: Iterable[Any],
    num_classes: int,
    ignore_index: int = 255,
    device: torch.device | str | None = None,
    target_key: str = "mask",
) -> Any:
    """Land-cover scores of ``model`` on a loader (``helpers.models.metrics.ClassScores``)."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    with torch.no_grad():
        for batch in distributed.shard_eval(loader):  # under torchrun: this rank's share
            batch = to_device(batch, device)
            x, _ = split_batch(batch)
            y = batch[target_key] if isinstance(batch, dict) else batch[1]
            pred = model(x).argmax(1)
            confusion += metrics.confusion_matrix(pred, y, num_classes, ignore_index).cpu()
    return metrics.scores_from_confusion(distributed.all_reduce_sum(confusion))


# ---- inference on batches ----


def predict(
    model: torch.nn.Module,
    data: Any,
    device: torch.device | str | None = None,
    batch_size: int = 8,
    output: str = "labels",
    amp: bool = False,
    progress: bool = False,
) -> Any:
    """Run ``model`` on a tensor ``(N, C, H, W)`` / ``(C, H, W)`` or on a loader of batches.

    ``output``: ``"labels"`` (argmax over classes), ``"probs"`` (softmax) or ``"logits"``.
    A tensor gives a tensor; a loader gives a dict: ``"pred"`` plus every other tensor of the
    batches (e.g. ``"mask"``, ``"coarse"``) concatenated on the CPU, and lists for the rest (``"id"``).
    """
    if output not in ("labels", "probs", "logits"):
        raise ValueError(f"output must be 'labels', 'probs' or 'logits', got {output!r}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    autocast, _ = _autocast(device, amp)

    def run(x: Any) -> Any:
        with torch.no_grad(), autocast:
            out = model(x.to(device)).float()
        if output == "labels":
            return out.argmax(1).cpu()
        return (out.softmax(1) if output == "probs" else out).cpu()

    if isinstance(data, torch.Tensor):
        single = data.ndim == 3
        x = data[None] if single else data
        outs = [run(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        result = torch.cat(outs)
        return result[0] if single else result
    collected: dict[str, list[Any]] = {"pred": []}
    for batch in tqdm(data, desc="predict", disable=not progress):
        x, _ = split_batch(batch)
        collected["pred"].append(run(x))
        if isinstance(batch, dict):
            for k, v in batch.items():
                if k != "image":
                    collected.setdefault(k, []).append(v)
        elif isinstance(batch, (list, tuple)) and len(batch) > 1:
            collected.setdefault("mask", []).append(batch[1])
    result: dict[str, Any] = {}
    for k, parts in collected.items():
        if parts and isinstance(parts[0], torch.Tensor):
            result[k] = torch.cat(parts)
        else:
            result[k] = [
                item
                for part in parts
                for item in (part if isinstance(part, (list, tuple)) else [part])
            ]
    return result

"""One training loop for the kit: progress bars, AMP on CUDA, resumable checkpoints, history.

:func:`fit` trains any model on batches that are dicts (``image``, ``mask``, ...) or
``(input, target)`` pairs. Checkpoints are written atomically (temporary file, then ``os.replace``)
and hold everything needed to resume to the same result: model, optimizer, scheduler, AMP scaler,
random-number states, epoch and history. :func:`predict` and :func:`predict_scene` run inference
on batches, loaders or whole rasters (tiled, with blended overlaps).
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CHECKPOINT_NAME = "checkpoint.pt"


class _EpochLog:
    """Methods shared by :class:`History` and :class:`GANHistory` (fields: epoch, seconds, val)."""

    epoch: list[int]
    seconds: list[float]
    val: list[dict[str, float]]

    @property
    def epochs_done(self) -> int:
        """Number of finished epochs."""
        return len(self.epoch)

    @property
    def total_seconds(self) -> float:
        """Wall seconds spent training (summed over epochs, across resumes)."""
        return float(sum(self.seconds))

    def val_metric(self, name: str) -> list[float]:
        """One validation metric per epoch (NaN where it was not computed)."""
        return [float(v.get(name, float("nan"))) for v in self.val]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


@dataclass
class History(_EpochLog):
    """What happened in :func:`fit`: one entry per epoch, and why training stopped."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val: list[dict[str, float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    stopped_early: bool = False
    stop_reason: str = ""
    capped: bool = False  # the time cap ended training before its epochs: not a full run
    checkpoint: str | None = None
    device: str = "cpu"

    def to_frame(self) -> Any:
        """A pandas DataFrame: one row per epoch, validation metrics as ``val_<name>`` columns."""
        import pandas as pd

        rows = []
        for i, ep in enumerate(self.epoch):
            row = {"epoch": ep, "train_loss": self.train_loss[i], "seconds": self.seconds[i]}
            if i < len(self.learning_rate):
                row["learning_rate"] = self.learning_rate[i]
            for k, v in (self.val[i] if i < len(self.val) else {}).items():
                row[f"val_{k}"] = v
            rows.append(row)
        return pd.DataFrame(rows)


# ---- in-memory patches with random crops (small data sets, many crops per epoch) ----


class RandomCrops:
    """A map-style dataset of ``samples`` random crops (+ rot90/flip) from patches held in memory.

    ``patches``: a dataset of full patch dicts (e.g. ``helpers.datasets.DFC2020(crop=None)``); its
    tensors are loaded once. Crops depend only on ``(seed, epoch, index)``, so runs and resumed runs
    see the same data; :func:`fit` calls :meth:`set_epoch`. Keys with a leading channel axis
    (``image``) and label maps (``mask``, ``coarse``) are cropped together.
    """

    def __init__(
        self,
        patches: Any,
        crop: int,
        samples: int,
        augment: bool = True,
        seed: int = 0,
        align: int = 1,
    ) -> None:
        import torch

        self.items = [
            {k: v for k, v in patches[i].items() if isinstance(v, torch.Tensor)}
            for i in range(len(patches))
        ]
        if not self.items:
            raise ValueError("no patches to crop from")
        h, w = self.items[0]["image"].shape[-2:]
        if crop > min(h, w):
            raise ValueError(f"crop {crop} is larger than the patches ({h}x{w})")
        self.crop, self.samples, self.augment, self.seed, self.align = (
            crop,
            samples,
            augment,
            seed,
            align,
        )
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """New crops for a new epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.samples

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        item = self.items[int(rng.integers(len(self.items)))]
        h, w = item["image"].shape[-2:]
        r = int(rng.integers(0, (h - self.crop) // self.align + 1)) * self.align
        c = int(rng.integers(0, (w - self.crop) // self.align + 1)) * self.align
        k, flip = int(rng.integers(4)) if self.augment else 0, self.augment and rng.random() < 0.5
        out = {}
        for key, v in item.items():
            v = v[..., r : r + self.crop, c : c + self.crop].rot90(k, dims=(-2, -1))
            out[key] = (v.flip(-1) if flip else v).contiguous()
        return out


# ---- batches and devices ----


def to_device(batch: Any, device: Any, channels_last: bool = False) -> Any:
    """Move every tensor in a batch (dict, list, tuple or tensor) to ``device``; with
    ``channels_last``, 4-D floating-point tensors (image batches) are stored NHWC."""
    import torch

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


def default_step(model: Any, batch: Any, loss_fn: Callable[..., Any]) -> Any:
    """The plain supervised step: ``loss_fn(model(input), target)``."""
    x, y = split_batch(batch)
    return loss_fn(model(x), y)


def _autocast(device: Any, amp: bool) -> tuple[Any, Any]:
    """``(autocast context, GradScaler or None)``: bf16 where supported, else fp16; CUDA only."""
    import contextlib

    import torch

    if not (amp and device.type == "cuda"):
        return contextlib.nullcontext(), None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return torch.autocast("cuda", dtype=dtype), scaler


# ---- random-number states (so that a resumed run continues exactly) ----


def _rng_state(loader: Any) -> dict[str, Any]:
    import torch

    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    for name, gen in _loader_generators(loader).items():
        state[f"loader_{name}"] = gen.get_state()
    return state


def _set_rng_state(state: dict[str, Any], loader: Any) -> None:
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    for name, gen in _loader_generators(loader).items():
        if f"loader_{name}" in state:
            gen.set_state(state[f"loader_{name}"])


def _loader_generators(loader: Any) -> dict[str, Any]:
    """Private torch generators a DataLoader or its sampler may hold (shuffling order)."""
    found = {}
    gen = getattr(loader, "generator", None)
    if gen is not None:
        found["loader"] = gen
    sampler = getattr(loader, "sampler", None)
    sgen = getattr(sampler, "generator", None)
    if sgen is not None and sgen is not gen:
        found["sampler"] = sgen
    return found


# ---- checkpoints ----


def _open_checkpoint(
    checkpoint: str | os.PathLike | None, name: str, resume: bool, device: Any
) -> tuple[Path, dict[str, Any] | None]:
    """Resolve where a run checkpoints (a new folder when ``checkpoint`` is None) and load the
    checkpoint found there to resume it; an existing one is never overwritten unless resumed."""
    path = new_checkpoint_path(name) if checkpoint is None else Path(checkpoint)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.exists():
        return path, None
    if not resume:
        raise FileExistsError(
            f"{path}: a checkpoint exists. Pass resume=True to continue it, or another path."
        )
    return path, load_checkpoint(path, map_location=device)


def _start_history(
    history_cls: type,
    state: dict[str, Any] | None,
    path: Path,
    loader: Any,
    seed: int | None,
    device: Any,
) -> tuple[Any, int]:
    """The history and first epoch of a run: restored (with RNG state) from ``state``, or fresh
    and seeded."""
    if state is not None:
        _set_rng_state(state["rng"], loader)
        history = history_cls.from_dict(state["history"])
        history.stopped_early, history.stop_reason, history.capped = False, "", False
        start = int(state["epoch"])
    else:
        if seed is not None:
            from . import config

            config.seed_everything(seed)
        history, start = history_cls(device=str(device)), 0
    history.checkpoint = str(path)
    return history, start


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` with ``torch.save`` atomically: a temporary file, then ``os.replace``."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".tmp", dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`fit`; a broken file gives an error that says what to do."""
    import torch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no checkpoint here. Train first (helpers.train.fit).")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # torch raises several kinds for truncated/corrupt files
        raise RuntimeError(
            f"{path}: cannot be read as a checkpoint ({err}). Delete it and train again."
        ) from err


def load_weights(model: Any, path: str | os.PathLike) -> Any:
    """Load the model weights of a :func:`fit` checkpoint into ``model`` and return it."""
    state = load_checkpoint(path)
    model.load_state_dict(state["model"] if "model" in state else state)
    return model


def find_checkpoint(
    name: str, match: dict[str, Any], roots: Iterable[str | os.PathLike] | None = None
) -> tuple[Path | None, dict[str, Any] | None]:
    """The newest ``<run folder>/train/<name>*/checkpoint.pt`` whose ``meta`` holds every item of
    ``match`` (e.g. the profile, bands and sample scene it was trained on), so that one notebook can
    reuse another's model instead of training it again; ``(None, None)`` when there is none.

    ``roots``: run folders to search; default the current run folder, then every folder under
    ``EOSR_RUNS``. Unreadable checkpoints are skipped.
    """
    from . import config, results

    if roots is None:
        roots = [results.run_dir(), *config.runs_dir().glob("*")]
    found = {p.resolve() for r in roots for p in Path(r).glob(f"train/{name}*/{CHECKPOINT_NAME}")}
    for path in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            state = load_checkpoint(path)
        except RuntimeError:
            continue
        meta = state.get("meta") or {}
        if all(meta.get(k) == v for k, v in match.items()):
            return path, state
    return None, None


def new_checkpoint_path(name: str = "model") -> Path:
    """A fresh ``<run folder>/train/<name>[-k]/checkpoint.pt``; never an existing folder."""
    from . import results

    base = results.run_dir() / "train"
    base.mkdir(parents=True, exist_ok=True)
    for i in range(10000):
        folder = base / (name if i == 0 else f"{name}-{i}")
        try:
            folder.mkdir()
            return folder / CHECKPOINT_NAME
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot create a new training folder under {base}")


class TrainingCapped(UserWarning):
    """Training hit its time cap before its epochs: the model is under-trained."""


def _cap(history: Any, time_cap_s: float, reason: str) -> None:
    """Mark ``history`` as capped and warn loudly: a capped run is not the profile's run."""
    history.stopped_early = history.capped = True
    history.stop_reason = f"capped: {reason}"
    warnings.warn(
        f"TRAINING CAPPED after {time_cap_s:.0f} s ({reason}). This machine is slower or busier "
        "than the profile expects: the model is under-trained and its scores are not the "
        "profile's. Re-run on a quieter machine, or raise the cap (time_budget_s).",
        TrainingCapped,
        stacklevel=3,
    )


def _would_overrun(began: float, done: int, epoch: int, epochs: int, cap: float | None) -> str:
    """Why the next epoch would overrun the cap (empty when it would not, or it is the last)."""
    if cap is None or epoch + 1 >= epochs:
        return ""
    elapsed = time.perf_counter() - began
    per_epoch = elapsed / max(done, 1)
    if elapsed + per_epoch <= cap:
        return ""
    return (
        f"stopped after epoch {epoch + 1} of {epochs} ({elapsed:.1f} s used, "
        f"~{per_epoch:.1f} s per epoch)"
    )


def _make_scheduler(scheduler: Any, optimizer: Any, epochs: int) -> Any:
    import torch

    if scheduler is None:
        return None
    if scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    if callable(scheduler):
        return scheduler(optimizer)
    raise ValueError(
        f"scheduler must be None, 'cosine' or a callable(optimizer); got {scheduler!r}"
    )


# ---- the loop ----


def fit(
    model: Any,
    train_loader: Iterable[Any],
    loss_fn: Callable[..., Any] | None,
    epochs: int,
    learning_rate: float = 1e-3,
    device: Any = None,
    val_loader: Iterable[Any] | None = None,
    checkpoint: str | os.PathLike | None = None,
    time_budget_s: float | None = None,
    amp: bool = True,
    progress: bool = True,
    step_fn: Callable[..., Any] | None = None,
    *,
    optimizer: Any = None,
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
) -> History:
    """Train ``model`` for ``epochs`` epochs and return its :class:`History`.

    - ``loss_fn(output, target)`` is used by the default step; ``step_fn(model, batch, loss_fn)``
      replaces the step for custom losses (it gets the whole batch dict, on the device) and
      returns the scalar loss.
    - ``checkpoint``: a path to save to after every epoch. ``None`` makes a new folder under the
      run folder (``results.run_dir()/train/<Model>/``). An existing checkpoint is resumed when
      ``resume`` is true, otherwise refused (a user's checkpoint is never overwritten).
    - ``epochs`` decide how long it trains (and the cosine schedule follows them), so the same seed
      gives the same weights on a quiet or a busy machine. ``time_budget_s`` is only a safety cap:
      when the next epoch would overrun it, training stops, warns (:class:`TrainingCapped`) and the
      history says ``capped`` and why.
    - validation: ``val_fn(model, val_loader, device) -> dict``; by default the loss, plus IoU/F1/
      accuracy (``helpers.metrics``) when ``num_classes`` is given.
    - AMP (bf16, or fp16 with a GradScaler) only on CUDA and only when ``amp`` is true.
    - ``meta``: anything JSON-like stored in the checkpoint (e.g. the model's settings) so that
      another notebook can check what it loads.
    - ``channels_last``: weights and image batches in NHWC memory order (faster convolutions on
      CPU and GPU; same results up to rounding).
    - ``recalibrate_bn``: after the last epoch, re-estimate batch-norm statistics with the final
      weights (:func:`recalibrate_batch_norm`) and save them in the checkpoint.
    """
    import torch
    from tqdm.auto import tqdm

    from . import config

    if step_fn is None and loss_fn is None:
        raise ValueError(
            "give a loss_fn, or a step_fn(model, batch, loss_fn) that returns the loss"
        )
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    device = torch.device(device) if device is not None else config.pick_device(verbose=False)
    step = step_fn or default_step
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if optimizer is None:
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=learning_rate, weight_decay=weight_decay
        )
    sched = _make_scheduler(scheduler, optimizer, epochs)
    autocast, scaler = _autocast(device, amp)

    path, state = _open_checkpoint(checkpoint, type(model).__name__, resume, device)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if sched is not None and state.get("scheduler") is not None:
            sched.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler") is not None:
            scaler.load_state_dict(state["scaler"])
    history, start_epoch = _start_history(History, state, path, train_loader, seed, device)

    began = time.perf_counter()
    bar = tqdm(
        range(start_epoch, epochs),
        desc=type(model).__name__,
        disable=not progress,
        initial=start_epoch,
        total=epochs,
        unit="epoch",
    )
    for epoch in bar:
        t0 = time.perf_counter()
        for source in (train_loader, getattr(train_loader, "dataset", None)):
            if hasattr(source, "set_epoch"):  # datasets drawing new crops/flips per epoch
                source.set_epoch(epoch)
        model.train()
        total, count = 0.0, 0
        for batch in train_loader:
            batch = to_device(batch, device, channels_last)
            optimizer.zero_grad(set_to_none=True)
            with autocast:
                loss = step(model, batch, loss_fn)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"epoch {epoch + 1}: loss is {loss.item()}. Lower the learning rate or check "
                    "the inputs for NaN (helpers.rasters.read(..., masked_nodata=True))."
                )
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
            else:
                loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            total += float(loss.detach())
            count += 1
        history.learning_rate.append(float(optimizer.param_groups[0]["lr"]))
        if sched is not None:
            sched.step()
        val = {}
        if val_loader is not None:
            if val_fn is not None:
                val = val_fn(model, val_loader, device)
            else:
                val = validate(
                    model,
                    val_loader,
                    loss_fn,
                    device,
                    step_fn=step_fn,
                    num_classes=num_classes,
                    ignore_index=ignore_index,
                )
        history.epoch.append(epoch + 1)
        history.train_loss.append(total / max(count, 1))
        history.val.append({k: float(v) for k, v in val.items()})
        history.seconds.append(time.perf_counter() - t0)
        shown = {"loss": f"{history.train_loss[-1]:.4f}"}
        shown.update({f"val_{k}": f"{v:.3f}" for k, v in list(history.val[-1].items())[:2]})
        bar.set_postfix(shown)
        save_checkpoint(
            path,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": sched.state_dict() if sched is not None else None,
                "scaler": scaler.state_dict() if scaler is not None else None,
                "rng": _rng_state(train_loader),
                "epoch": epoch + 1,
                "history": history.to_dict(),
                "meta": meta or {},
            },
        )
        reason = _would_overrun(began, epoch + 1 - start_epoch, epoch, epochs, time_budget_s)
        if reason:
            _cap(history, time_budget_s, reason)
            break
    bar.close()
    if recalibrate_bn and history.epochs_done:
        rng = _rng_state(train_loader)  # saved as before, so a resumed finished run does the same
        if recalibrate_batch_norm(model, train_loader, step, loss_fn, device, channels_last):
            state = load_checkpoint(path, map_location=device)
            state["model"], state["rng"] = model.state_dict(), rng
            save_checkpoint(path, state)
        _set_rng_state(rng, train_loader)
    _write_history(path, history)
    return history


def recalibrate_batch_norm(
    model: Any,
    loader: Iterable[Any],
    step_fn: Callable[..., Any] = default_step,
    loss_fn: Callable[..., Any] | None = None,
    device: Any = None,
    channels_last: bool = False,
) -> bool:
    """Re-estimate every batch-norm layer's running mean and variance with the current weights
    ("precise BN"): one pass over ``loader`` in training mode, without gradients, averaging all
    batches equally. The running averages kept during training lag behind weights that change
    fast (short runs, high learning rates), and ``eval()`` predictions then swing from epoch to
    epoch. Returns False (and does nothing) when the model has no batch norm."""
    import torch

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


def _write_history(path: Path, history: History) -> None:
    """``history.json`` beside the checkpoint, for people and for the report."""
    target = path.parent / "history.json"
    fd, tmp = tempfile.mkstemp(suffix=".tmp", dir=path.parent, prefix=".history.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(history.to_dict(), fh, indent=1)
    os.replace(tmp, target)


@dataclass
class _Mean:
    total: float = 0.0
    count: int = 0


def validate(
    model: Any,
    loader: Iterable[Any],
    loss_fn: Callable[..., Any] | None,
    device: Any = None,
    step_fn: Callable[..., Any] | None = None,
    num_classes: int | None = None,
    ignore_index: int = 255,
) -> dict[str, float]:
    """Mean loss over ``loader`` (when computable) and, with ``num_classes``, IoU/F1/accuracy."""
    import torch

    from . import metrics

    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    mean = _Mean()
    confusion = None
    with torch.no_grad():
        for batch in loader:
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
    if mean.count:
        out["loss"] = mean.total / mean.count
    if confusion is not None:
        out.update(metrics.scores_from_confusion(confusion).summary())
    return out


def evaluate(
    model: Any,
    loader: Iterable[Any],
    num_classes: int,
    ignore_index: int = 255,
    device: Any = None,
    target_key: str = "mask",
) -> Any:
    """Land-cover scores of ``model`` on a loader (``helpers.metrics.ClassScores``)."""
    import torch

    from . import metrics

    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    with torch.no_grad():
        for batch in loader:
            batch = to_device(batch, device)
            x, _ = split_batch(batch)
            y = batch[target_key] if isinstance(batch, dict) else batch[1]
            pred = model(x).argmax(1)
            confusion += metrics.confusion_matrix(pred, y, num_classes, ignore_index).cpu()
    return metrics.scores_from_confusion(confusion)


# ---- inference ----


def predict(
    model: Any,
    data: Any,
    device: Any = None,
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
    import torch
    from tqdm.auto import tqdm

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


def predict_scene(
    model: Any,
    image: Any,
    tile: int = 256,
    overlap: int = 32,
    device: Any = None,
    batch_size: int = 4,
    output: str = "labels",
    multiple: int | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Predict a whole raster ``(C, H, W)`` tile by tile, blending overlaps (``rasters.assemble``).

    Class probabilities are blended, then ``"labels"`` gives the argmax ``(H, W)`` (uint8) and
    ``"probs"`` the ``(classes, H, W)`` probabilities. Tiles are padded (reflect) up to a
    multiple of ``multiple`` (default ``model.size_multiple`` if the model has one) and cropped back.
    """
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    from . import rasters

    if output not in ("labels", "probs"):
        raise ValueError(f"output must be 'labels' or 'probs', got {output!r}")
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim != 3:
        raise ValueError(f"image must be (bands, height, width), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(
            "image holds NaN/inf; fill nodata first (e.g. np.nan_to_num) before predicting"
        )
    device = torch.device(device) if device is not None else next(model.parameters()).device
    multiple = multiple or int(getattr(model, "size_multiple", 1))
    _, height, width = arr.shape
    grid = rasters.tile_grid(height, width, tile, overlap)
    model.eval()
    pieces = []
    for start in tqdm(range(0, len(grid), batch_size), desc="tiles", disable=not progress):
        group = grid[start : start + batch_size]  # all tiles of a grid share one size
        t0 = group[0]
        x = torch.from_numpy(
            np.stack([arr[:, t.row : t.row + t.height, t.col : t.col + t.width] for t in group])
        )
        ph, pw = (-t0.height) % multiple, (-t0.width) % multiple
        if ph or pw:
            mode = "reflect" if min(t0.height, t0.width) > max(ph, pw) else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        with torch.no_grad():
            probs = (
                model(x.to(device)).float().softmax(1)[:, :, : t0.height, : t0.width].cpu().numpy()
            )
        pieces.extend(zip(group, probs))
    blended = rasters.assemble(pieces, height, width, overlap)
    if output == "probs":
        return blended
    return blended.argmax(0).astype(np.uint8)


# ---- adversarial loop (pix2pix, notebook 05) ----
# pix2pix training (Isola et al. 2017, and the HR-MARS seed's cGAN): for every batch, first D is
# trained on the real pair (condition, target) with label 1 and on the generated pair with label
# 0; then D is frozen and G is trained to make D answer 1 on its pair, plus lambda_L1 * L1 to the
# target. Adam(2e-4, beta1 0.5) for both, as in the paper.


@dataclass
class GANHistory(_EpochLog):
    """What happened in :func:`fit_gan`: per-epoch means, per-step losses (learning curves), stop reason."""

    epoch: list[int] = field(default_factory=list)
    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    g_gan: list[float] = field(default_factory=list)
    g_l1: list[float] = field(default_factory=list)
    val: list[dict[str, float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(
        default_factory=lambda: {"d_loss": [], "g_gan": [], "g_l1": []}
    )
    stopped_early: bool = False
    stop_reason: str = ""
    capped: bool = False  # the time cap ended training before its epochs: not a full run
    checkpoint: str | None = None
    device: str = "cpu"

    def to_frame(self) -> Any:
        """A pandas DataFrame: one row per epoch, validation metrics as ``val_<name>`` columns."""
        import pandas as pd

        rows = []
        for i, ep in enumerate(self.epoch):
            row = {
                "epoch": ep,
                "d_loss": self.d_loss[i],
                "g_loss": self.g_loss[i],
                "g_gan": self.g_gan[i],
                "g_l1": self.g_l1[i],
                "seconds": self.seconds[i],
            }
            row.update(
                {f"val_{k}": v for k, v in (self.val[i] if i < len(self.val) else {}).items()}
            )
            rows.append(row)
        return pd.DataFrame(rows)


def gan_batch(
    num_classes: int,
    input_key: str = "image",
    target_key: str = "mask",
    one_hot_input: bool = False,
    ignore_index: int = 255,
    scale: float | None = None,
) -> Callable[[dict[str, Any]], tuple[Any, Any, Any]]:
    """A ``batch_fn`` for :func:`fit_gan`: dict batch -> ``(condition, target, valid)``.

    ``target`` is the one-hot ``target_key`` mapped to +-``scale`` (the generator's
    ``target_scale``; default ``pix2pix.TARGET_SCALE``), ``valid`` the pixels that are not
    ``ignore_index``. ``one_hot_input`` turns a label condition (e.g. the coarse ``"coarse"``
    labels of the cGAN) into the same one-hot channels.
    """
    from .models.pix2pix import labels_to_target

    def batch_fn(batch: dict[str, Any]) -> tuple[Any, Any, Any]:
        condition = batch[input_key]
        if one_hot_input:
            condition = labels_to_target(condition, num_classes, ignore_index, scale)
        mask = batch[target_key]
        return (
            condition.float(),
            labels_to_target(mask, num_classes, ignore_index, scale),
            mask != ignore_index,
        )

    return batch_fn


def _requires_grad(module: Any, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def gan_step(
    generator: Any,
    discriminator: Any,
    opt_g: Any,
    opt_d: Any,
    condition: Any,
    target: Any,
    valid: Any = None,
    gan_mode: str = "vanilla",
    lambda_l1: float = 100.0,
) -> dict[str, float]:
    """One pix2pix iteration: D step (real -> 1, fake -> 0), then G step with D frozen. Returns the losses."""
    import torch

    from . import losses

    fake = generator(condition)
    # Where the truth is unknown (ignored pixels) the "real" pair shows the fake, so D gets no cue there.
    real = target if valid is None else torch.where(valid.unsqueeze(1), target, fake.detach())
    _requires_grad(discriminator, True)
    opt_d.zero_grad(set_to_none=True)
    real_logits = discriminator(torch.cat([condition, real], 1))
    fake_logits = discriminator(torch.cat([condition, fake.detach()], 1))
    loss_d = losses.discriminator_loss(real_logits, fake_logits, gan_mode)
    loss_d.backward()
    opt_d.step()
    _requires_grad(discriminator, False)  # D is frozen while G learns to fool it
    opt_g.zero_grad(set_to_none=True)
    loss_g, adversarial, l1 = losses.generator_loss(
        discriminator(torch.cat([condition, fake], 1)), fake, target, valid, gan_mode, lambda_l1
    )
    loss_g.backward()
    opt_g.step()
    _requires_grad(discriminator, True)
    out = {
        k: float(v.detach())
        for k, v in {"d_loss": loss_d, "g_loss": loss_g, "g_gan": adversarial, "g_l1": l1}.items()
    }
    if not all(np.isfinite(v) for v in out.values()):
        raise FloatingPointError(
            f"GAN losses are not finite ({out}); lower the learning rate or check inputs for NaN."
        )
    return out


def evaluate_gan(
    generator: Any,
    loader: Iterable[Any],
    batch_fn: Callable[..., Any],
    num_classes: int,
    device: Any = None,
    batch_statistics: bool = True,
) -> Any:
    """Land-cover scores (``helpers.metrics.ClassScores``) of the argmax of G's output on a loader.

    ``batch_statistics``: batch norm uses each test batch's statistics, as the pix2pix reference
    tests (see ``pix2pix.with_batch_statistics``); ``False`` uses the running averages (``eval()``).
    Dropout is off either way, so the scores are deterministic for a given loader.
    """
    import torch

    from . import metrics
    from .models.pix2pix import with_batch_statistics

    device = torch.device(device) if device is not None else next(generator.parameters()).device
    was_training = generator.training
    model = with_batch_statistics(generator) if batch_statistics else generator.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    with torch.no_grad():
        for batch in loader:
            condition, target, valid = batch_fn(to_device(batch, device))
            pred = model(condition).argmax(1)
            truth = torch.where(valid, target.argmax(1), torch.full_like(pred, 255))
            confusion += metrics.confusion_matrix(pred, truth, num_classes, 255).cpu()
    generator.train(was_training)
    return metrics.scores_from_confusion(confusion)


def fit_gan(
    generator: Any,
    discriminator: Any,
    loader: Iterable[Any],
    epochs: int,
    learning_rate: float = 2e-4,
    beta1: float = 0.5,
    lambda_l1: float = 100.0,
    gan_mode: str = "vanilla",
    device: Any = None,
    checkpoint: str | os.PathLike | None = None,
    time_budget_s: float | None = None,
    progress: bool = True,
    batch_fn: Callable[..., tuple[Any, Any, Any]] | None = None,
    *,
    num_classes: int | None = None,
    val_loader: Iterable[Any] | None = None,
    resume: bool = True,
    seed: int | None = None,
) -> GANHistory:
    """Train a pix2pix pair (G, D) adversarially for ``epochs`` epochs; returns a :class:`GANHistory`.

    - ``batch_fn(batch) -> (condition, target, valid)``; default ``gan_batch(num_classes)``
      (``image`` -> one-hot ``mask``). Batches are moved to the device first.
    - ``checkpoint``: saved atomically after every epoch (G, D, both optimisers, random states,
      history) and resumed when it exists and ``resume`` is true; ``None`` makes a new folder in
      the run folder. ``time_budget_s`` is a safety cap, as in :func:`fit`: it stops between
      epochs when the next one would overrun, or inside an epoch once it is spent (that epoch is
      then saved as done); it warns and the history says ``capped``.
    - With ``val_loader`` and ``num_classes``: IoU/F1/accuracy of G's argmax after each epoch.
    - No AMP: the loop runs in float32 on every device (a GAN is touchy in half precision).
    """
    import torch
    from tqdm.auto import tqdm

    from . import config, losses

    if gan_mode not in losses.GAN_MODES:
        raise ValueError(f"gan_mode must be one of {losses.GAN_MODES}, got {gan_mode!r}")
    if batch_fn is None:
        if num_classes is None:
            raise ValueError(
                "give num_classes (for the one-hot target) or a batch_fn(batch) -> (condition, target, valid)"
            )
        batch_fn = gan_batch(num_classes)
    device = torch.device(device) if device is not None else config.pick_device(verbose=False)
    generator.to(device)
    discriminator.to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=learning_rate, betas=(beta1, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=learning_rate, betas=(beta1, 0.999))

    path, state = _open_checkpoint(checkpoint, type(generator).__name__, resume, device)
    if state is not None:
        if "generator" not in state:
            raise RuntimeError(
                f"{path}: not a fit_gan checkpoint (no generator). Use another path."
            )
        generator.load_state_dict(state["generator"])
        discriminator.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
    history, start_epoch = _start_history(GANHistory, state, path, loader, seed, device)

    began = time.perf_counter()
    bar = tqdm(
        range(start_epoch, epochs),
        desc="pix2pix",
        disable=not progress,
        initial=start_epoch,
        total=epochs,
        unit="epoch",
    )
    for epoch in bar:
        t0 = time.perf_counter()
        generator.train()
        discriminator.train()
        dataset = getattr(loader, "dataset", None)
        if hasattr(dataset, "set_epoch"):  # new random crops/flips each epoch (helpers.datasets)
            dataset.set_epoch(epoch)
        sums = {"d_loss": 0.0, "g_loss": 0.0, "g_gan": 0.0, "g_l1": 0.0}
        count = 0
        for batch in loader:
            condition, target, valid = batch_fn(to_device(batch, device))
            step = gan_step(
                generator,
                discriminator,
                opt_g,
                opt_d,
                condition,
                target,
                valid,
                gan_mode,
                lambda_l1,
            )
            for k in sums:
                sums[k] += step[k]
            for k in history.steps:
                history.steps[k].append(step[k])
            count += 1
            if time_budget_s is not None and time.perf_counter() - began > time_budget_s:
                _cap(
                    history, time_budget_s, f"spent inside epoch {epoch + 1} after {count} batches"
                )
                break
        val = {}
        if val_loader is not None and num_classes is not None:
            val = evaluate_gan(generator, val_loader, batch_fn, num_classes, device).summary()
        history.epoch.append(epoch + 1)
        for k in sums:
            getattr(history, k).append(sums[k] / max(count, 1))
        history.val.append({k: float(v) for k, v in val.items()})
        history.seconds.append(time.perf_counter() - t0)
        bar.set_postfix(D=f"{history.d_loss[-1]:.3f}", G=f"{history.g_loss[-1]:.3f}")
        save_checkpoint(
            path,
            {
                "generator": generator.state_dict(),
                "discriminator": discriminator.state_dict(),
                "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(),
                "rng": _rng_state(loader),
                "epoch": epoch + 1,
                "history": history.to_dict(),
                "settings": {
                    "gan_mode": gan_mode,
                    "lambda_l1": lambda_l1,
                    "learning_rate": learning_rate,
                    "beta1": beta1,
                },
            },
        )
        if history.capped:
            break
        reason = _would_overrun(began, epoch + 1 - start_epoch, epoch, epochs, time_budget_s)
        if reason:
            _cap(history, time_budget_s, reason)
            break
    bar.close()
    _write_history(path, history)
    return history


class MemoryCrops:
    """Random crops (and flips) of samples held in memory: a map-style dataset for :func:`fit_gan`.

    The teaching runs train on a handful of patches for many steps; reading them once keeps the
    loop busy with the networks instead of with GeoTIFFs. ``set_epoch`` changes the crops.
    """

    def __init__(
        self,
        samples: list[dict[str, Any]],
        crop: int,
        keys: tuple[str, ...] = ("image", "mask", "coarse"),
        augment: bool = True,
        seed: int = 0,
    ) -> None:
        self.samples = [{k: s[k] for k in keys if k in s} for s in samples]
        self.crop, self.augment, self.seed, self.epoch = crop, augment, seed, 0
        small = [s for s in self.samples if min(next(iter(s.values())).shape[-2:]) < crop]
        if small:
            raise ValueError(
                f"crop {crop} is larger than a sample ({next(iter(small[0].values())).shape})"
            )

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        """New random crops and flips for a new epoch (deterministic given the seed)."""
        self.epoch = int(epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        rng = np.random.default_rng((self.seed, self.epoch, index))
        sample = self.samples[index]
        h, w = next(iter(sample.values())).shape[-2:]
        r, c = int(rng.integers(0, h - self.crop + 1)), int(rng.integers(0, w - self.crop + 1))
        flip_h, flip_v = self.augment and rng.random() < 0.5, self.augment and rng.random() < 0.5
        out = {}
        for key, value in sample.items():
            x = value[..., r : r + self.crop, c : c + self.crop]
            if flip_h:
                x = torch.flip(x, dims=(-1,))
            if flip_v:
                x = torch.flip(x, dims=(-2,))
            out[key] = x.contiguous()
        return out

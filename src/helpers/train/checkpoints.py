"""Checkpoints of the training loops: atomic save, load, resume (with random-number states).

A checkpoint holds everything needed to resume to the same result: weights, optimiser, scheduler,
AMP scaler, random-number states, epoch and history. Where checkpoints live is decided by the
caller (``helpers.runs`` makes run folders).
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import config

CHECKPOINT_NAME = "checkpoint.pt"


# ---- random-number states (so that a resumed run continues exactly) ----


def rng_state(loader: Any) -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    for name, gen in loader_generators(loader).items():
        state[f"loader_{name}"] = gen.get_state()
    return state


def set_rng_state(state: dict[str, Any], loader: Any) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    for name, gen in loader_generators(loader).items():
        if f"loader_{name}" in state:
            gen.set_state(state[f"loader_{name}"])


def loader_generators(loader: Any) -> dict[str, Any]:
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


# ---- files ----


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` with ``torch.save`` atomically: a temporary file, then ``os.replace``."""
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
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no checkpoint here. Train first (helpers.train.fit).")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # torch raises several kinds for truncated/corrupt files
        raise RuntimeError(
            f"{path}: cannot be read as a checkpoint ({err}). Delete it and train again."
        ) from err


def open_checkpoint(
    checkpoint: str | os.PathLike | None, name: str, resume: bool, device: Any
) -> tuple[Path, dict[str, Any] | None]:
    """Resolve where a run checkpoints (a new folder when ``checkpoint`` is None) and load the
    checkpoint found there to resume it; an existing one is never overwritten unless resumed."""
    if checkpoint is None:  # the caller did not say where: a new folder in the run folder
        from .. import runs

        checkpoint = runs.new_checkpoint_path(name)
    path = Path(checkpoint)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.exists():
        return path, None
    if not resume:
        raise FileExistsError(
            f"{path}: a checkpoint exists. Pass resume=True to continue it, or another path."
        )
    return path, load_checkpoint(path, map_location=device)


def start_history(
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
        set_rng_state(state["rng"], loader)
        history = history_cls.from_dict(state["history"])
        history.stopped_early, history.stop_reason = False, ""
        start = int(state["epoch"])
    else:
        if seed is not None:
            config.seed_everything(seed)
        history, start = history_cls(device=str(device)), 0
    history.checkpoint = str(path)
    return history, start


def write_history(path: Path, history: Any) -> None:
    """``history.json`` beside the checkpoint, for people and for the report."""
    target = path.parent / "history.json"
    fd, tmp = tempfile.mkstemp(suffix=".tmp", dir=path.parent, prefix=".history.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(history.to_dict(), fh, indent=1)
    os.replace(tmp, target)

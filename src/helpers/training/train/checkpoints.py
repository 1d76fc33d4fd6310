"""Checkpoints of the training loops: atomic save, safe load, resume, finished marks.

A checkpoint holds everything needed to resume to the same result: weights, optimiser, scheduler,
AMP scaler, random-number states, epoch and history, as tensors and plain data only, so that it
loads with ``weights_only=True`` (no code runs from a planted file). When the planned epochs are
done it is marked finished, and ``finished.json`` beside it records its hash: only such
checkpoints are reused (``helpers.records.runs.find_checkpoint``). Where checkpoints live is decided by
the caller (``helpers.records.runs`` makes run folders).
"""

from __future__ import annotations

import json
import os
import pickle
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...core import config, distributed, locks

CHECKPOINT_NAME = "checkpoint.pt"


# ---- random-number states (so that a resumed run continues exactly) ----


def rng_state(loader: Any) -> dict[str, Any]:
    """Python, numpy, torch (CUDA, loader) random states as tensors and plain numbers only, so
    that checkpoints load with ``weights_only=True``."""
    version, keys, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": {
            "version": int(version),
            "state": torch.tensor(keys, dtype=torch.int64),
            "gauss": gauss,
        },
        "numpy": {
            "name": str(np_name),
            "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "cached": float(np_cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    for name, gen in loader_generators(loader).items():
        state[f"loader_{name}"] = gen.get_state()
    return state


def _cpu(t: Any) -> Any:
    """A tensor on the CPU (RNG states must be CPU ByteTensors whatever device they came from)."""
    return t.cpu() if isinstance(t, torch.Tensor) else t


def set_rng_state(state: dict[str, Any], loader: Any) -> None:
    """Restore the states saved by :func:`rng_state`, from CPU copies: a checkpoint opened with
    ``map_location`` of a GPU holds CUDA tensors, which ``set_rng_state`` and ``.numpy()`` refuse."""
    py, nps = state["python"], state["numpy"]
    random.setstate((py["version"], tuple(int(v) for v in _cpu(py["state"]).tolist()), py["gauss"]))
    np.random.set_state(
        (
            nps["name"],
            _cpu(nps["keys"]).numpy().astype(np.uint32),
            nps["pos"],
            nps["has_gauss"],
            nps["cached"],
        )
    )
    torch.set_rng_state(_cpu(state["torch"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_cpu(t) for t in state["cuda"]])
    for name, gen in loader_generators(loader).items():
        if f"loader_{name}" in state:
            gen.set_state(_cpu(state[f"loader_{name}"]))


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


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the file, the cause and the fix."""


FINISHED_NAME = "finished.json"  # beside the checkpoint: its hash, written when training ends


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` with ``torch.save`` atomically: a temporary file, then ``os.replace``.

    A failed write (disk full, permission) names the file and the cause; the previous
    checkpoint, if any, is left as it was.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".tmp", dir=path.parent, prefix=f".{path.name}.")
        os.close(fd)
        torch.save(state, tmp)
        locks.honour_umask(tmp)  # mkstemp made it 0600: follow the user's umask
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # torch reports a full disk as a RuntimeError
        cause = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        code = err.errno if isinstance(err, OSError) else None
        raise OSError(
            code,
            f"{path}: cannot write the checkpoint ({cause}). Free disk space or choose a folder "
            "you can write to (checkpoint=...); the previous checkpoint is unchanged.",
        ) from err
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``: tensors and plain data only, so that loading
    never runs code; anything else is refused with :class:`CheckpointError`. The training loops
    always load to the CPU: ``load_state_dict`` moves weights and optimiser states to the
    device of the parameters, and random-number states must stay on the CPU."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no checkpoint here. Train first (helpers.training.train.fit)."
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path}: refused: it holds objects other than tensors and plain data, which could run "
            "code when loaded (only tensors, numbers, strings, lists and dicts are accepted). If it "
            "is an older kit checkpoint, delete it and train again; never load files you do not trust."
        ) from err
    except Exception as err:  # torch raises several kinds for truncated/corrupt files
        raise CheckpointError(
            f"{path}: cannot be read as a checkpoint ({err}). Delete it and train again."
        ) from err
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{path}: holds a {type(state).__name__}, not a checkpoint dict. Train again "
            "(helpers.training.train.fit) or load raw weights with model.load_state_dict."
        )
    return state


def load_model_state(model: Any, state: dict[str, Any], path: Path, key: str = "model") -> Any:
    """Load ``state[key]`` into ``model``; a missing entry or another architecture is named."""
    if key not in state:
        raise CheckpointError(
            f"{path}: no {key!r} entry (keys: {sorted(state)[:8]}); not a checkpoint of "
            "helpers.training.train.fit. Pass the checkpoint.pt that fit wrote, or a new path to train."
        )
    try:
        model.load_state_dict(state[key])
    except RuntimeError as err:
        first = str(err).splitlines()[1:3]
        raise CheckpointError(
            f"{path}: written for another architecture than this {type(model).__name__} "
            f"(meta: {state.get('meta') or state.get('settings') or {}}); e.g. "
            f"{' '.join(x.strip() for x in first)[:300]}. Build the model with the settings in meta, "
            "or train into a new checkpoint path."
        ) from err
    return model


def require_resumable(state: dict[str, Any], path: Path, keys: tuple[str, ...]) -> None:
    """Refuse to resume a checkpoint that lacks what resuming needs (e.g. weights saved alone,
    ``{"model": ...}``), in one line naming the file and the fix."""
    missing = [k for k in keys if k not in state]
    if missing:
        raise CheckpointError(
            f"{path}: cannot be resumed: it has no {', '.join(map(repr, missing))} (keys: "
            f"{sorted(state)[:8]}), e.g. weights saved alone. Load such weights with "
            "helpers.training.train.load_weights(model, path); to train, move the file away or give "
            "another checkpoint path (eosr train: another --out)."
        )


def load_weights(model: Any, path: str | os.PathLike) -> Any:
    """Load the model weights of a :func:`fit` checkpoint into ``model`` and return it."""
    path = Path(path)
    return load_model_state(model, load_checkpoint(path), path)


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file (the finished mark records the checkpoint's own hash)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def mark_finished(path: Path, planned_epochs: int, device: Any = "cpu") -> None:
    """Mark a checkpoint whose planned epochs are all done: ``finished`` in the checkpoint, then
    ``finished.json`` beside it with the checkpoint's hash (written last: a killed run has none)."""
    state = load_checkpoint(path)  # on the CPU: saved again as it is
    state["finished"], state["planned_epochs"] = True, int(planned_epochs)
    save_checkpoint(path, state)
    record = {
        "sha256": file_sha256(path),
        "epochs": int(state["epoch"]),
        "planned_epochs": int(planned_epochs),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    _write_json(path.parent / FINISHED_NAME, record)


def unmark_finished(path: Path) -> None:
    """Remove the finished mark before a checkpoint is trained further."""
    (Path(path).parent / FINISHED_NAME).unlink(missing_ok=True)


def is_finished(path: str | os.PathLike) -> bool:
    """True if ``finished.json`` beside the checkpoint records this very file's hash (checked
    before the checkpoint is even opened: unfinished and changed files are never loaded)."""
    path = Path(path)
    try:
        mark = json.loads((path.parent / FINISHED_NAME).read_text(encoding="utf-8"))
        return isinstance(mark, dict) and mark.get("sha256") == file_sha256(path)
    except (OSError, ValueError):
        return False


def _write_json(target: Path, data: Any) -> None:
    """Write JSON atomically; a failure names the file and the cause."""
    locks.write_text_atomic(
        target, json.dumps(data, indent=1), "Free disk space or check the folder's permissions."
    )


def open_checkpoint(
    checkpoint: str | os.PathLike | None, name: str, resume: bool, device: torch.device | str | None
) -> tuple[Path, dict[str, Any] | None]:
    """Resolve where a run checkpoints and load the checkpoint found there to resume it; an
    existing one is never overwritten unless resumed. Training writes where it is told: without
    ``checkpoint``, a new temporary folder (``helpers.records.runs.new_checkpoint_path`` gives one in the
    run folder)."""
    if checkpoint is None:  # under torchrun: rank 0's folder, one for all ranks
        made = Path(tempfile.mkdtemp(prefix=f"eosr-{name}-")) if distributed.is_main() else None
        checkpoint = distributed.broadcast_object(made) / CHECKPOINT_NAME
    path = Path(checkpoint)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.exists():
        return path, None
    if not resume:
        raise FileExistsError(
            f"{path}: a checkpoint exists. Pass resume=True to continue it, or another path."
        )
    return path, load_checkpoint(path)  # on the CPU whatever ``device``: see load_checkpoint


def start_history(
    history_cls: type,
    state: dict[str, Any] | None,
    path: Path,
    loader: Any,
    seed: int | None,
    device: torch.device | str | None,
) -> tuple[Any, int]:
    """The history and first epoch of a run: restored (with RNG state) from ``state``, or fresh
    and seeded."""
    if state is not None:
        unmark_finished(path)  # trained further: finished again only when the new plan is done
        set_rng_state(state["rng"], loader)  # rank 0's states, saved by rank 0
        history = history_cls.from_dict(state["history"])
        history.stopped_early, history.stop_reason, history.capped = False, "", False
        start = int(state["epoch"])
    else:
        if seed is not None:
            config.seed_everything(seed)
        history, start = history_cls(device=str(device)), 0
    distributed.seed_rank(seed, start)  # ranks > 0: their own dropout masks
    history.checkpoint = str(path)
    return history, start


def write_history(path: Path, history: Any) -> None:
    """``history.json`` beside the checkpoint, for people and for the report."""
    _write_json(path.parent / "history.json", history.to_dict())


def finished_history(
    history_cls: type, state: dict[str, Any] | None, path: Path, epochs: int
) -> Any:
    """The stored history when ``state`` is a finished checkpoint with ``epochs`` done (running
    ``fit`` again then changes nothing, not even batch-norm statistics); None otherwise."""
    if state is None or not state.get("finished") or int(state.get("epoch", 0)) < epochs:
        return None
    history = history_cls.from_dict(state["history"])
    history.checkpoint = str(path)
    return history


def finish(path: Path, history: Any, epochs: int, device: Any = "cpu") -> None:
    """Mark the checkpoint finished when the planned epochs are done (:func:`mark_finished`)."""
    if history.epoch and history.epoch[-1] >= epochs and not history.stopped_early:
        mark_finished(path, epochs, device)

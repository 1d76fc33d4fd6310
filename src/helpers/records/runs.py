"""Run folders and the checkpoints in them: where notebooks write, and where they find each
other's models.

A run folder (``runs/<timestamp>-<profile>/``) holds one sitting's results, predictions and
training folders (``train/<name>/checkpoint.pt``). Training writes where it is told; this module
says where.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core import config

_CURRENT: Path | None = None


def new_run_dir(profile: str | None = None, root: str | os.PathLike | None = None) -> Path:
    """Create and return a fresh ``runs/<timestamp>-<profile>/``; never reuses an existing folder."""
    base = Path(root) if root else config.runs_dir()
    base.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{config.get_profile(profile)}"
    for i in range(1000):
        candidate = base / (name if i == 0 else f"{name}-{i}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"Could not create a new run folder under {base}.")


def run_dir(profile: str | None = None) -> Path:
    """The current run folder: ``EOSR_RUN_DIR`` when set (``make reproduce`` sets it), else one new
    folder per Python session, named after ``profile`` (the one the caller resolved, e.g. a
    notebook's ``PROFILE``; without it ``EOSR_PROFILE`` or the default names it). A notebook calls
    it once in its first cells and passes the folder on."""
    global _CURRENT
    env = os.environ.get("EOSR_RUN_DIR")
    if env:
        path = Path(env)
        path.mkdir(parents=True, exist_ok=True)
        return path
    if _CURRENT is None:
        _CURRENT = new_run_dir(profile)
    return _CURRENT


def current_run_dir() -> Path | None:
    """The current run folder if one exists already (``EOSR_RUN_DIR`` or this session's); None
    otherwise. Unlike :func:`run_dir` it never creates a folder (for readers that only look)."""
    env = os.environ.get("EOSR_RUN_DIR")
    if env:
        return Path(env) if Path(env).is_dir() else None
    return _CURRENT


def find_checkpoint(
    name: str, match: dict[str, Any], roots: Iterable[str | os.PathLike] | None = None
) -> tuple[Path | None, dict[str, Any] | None]:
    """The newest finished ``<run folder>/train/<name>*/checkpoint.pt`` whose ``meta`` holds every
    item of ``match`` (e.g. the profile, bands and sample scene it was trained on), so that one
    notebook can reuse another's model instead of training it again; ``(None, None)`` when there is
    none.

    Only finished checkpoints count (``train.is_finished``: planned epochs done, their own hash
    recorded in ``finished.json``), checked before a file is opened; they load with
    ``weights_only=True`` and refused ones are skipped with a warning. ``roots``: run folders to
    search; default the current run folder (if it exists), then every folder under ``EOSR_RUNS``.
    Nothing is created.
    """
    import warnings

    from ..training.train import checkpoints  # torch: only when looking for checkpoints

    if roots is None:
        current, base = current_run_dir(), config.runs_dir()
        roots = [*([current] if current else []), *(base.glob("*") if base.is_dir() else [])]
    found = {
        p.resolve()
        for r in roots
        for p in Path(r).glob(f"train/{folder_name(name)}*/{checkpoints.CHECKPOINT_NAME}")
    }
    for path in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True):
        if not checkpoints.is_finished(path):
            continue
        try:
            state = checkpoints.load_checkpoint(path)
        except checkpoints.CheckpointError as err:
            warnings.warn(f"skipped: {err}", stacklevel=2)
            continue
        meta = state.get("meta") or {}
        if state.get("finished") and all(meta.get(k) == v for k, v in match.items()):
            return path, state
    return None, None


def folder_name(name: str) -> str:
    """``name`` as a training-folder name: spaces, slashes and the like become ``_``."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", name).strip("_") or "model"


def new_checkpoint_path(name: str = "model", run: str | os.PathLike | None = None) -> Path:
    """A fresh ``<run folder>/train/<name>[-k]/checkpoint.pt``; never an existing folder
    (``name`` through :func:`folder_name`). ``run``: the run folder the caller resolved once
    (a notebook's ``RUN = runs.run_dir()``); default :func:`run_dir`."""
    from ..training.train import checkpoints

    name = folder_name(name)
    base = (Path(run) if run is not None else run_dir()) / "train"
    base.mkdir(parents=True, exist_ok=True)
    for i in range(10000):
        folder = base / (name if i == 0 else f"{name}-{i}")
        try:
            folder.mkdir()
            return folder / checkpoints.CHECKPOINT_NAME
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot create a new training folder under {base}")


def job_checkpoint_path(name: str, run: str | os.PathLike | None = None) -> Path:
    """``<run folder>/train/<name>/checkpoint.pt``, the same path every time (not created): a
    headless job (``eosr train``) resumes what it finds there, on any number of ranks.
    ``run``: the run folder the job resolved (default :func:`run_dir`)."""
    from ..training.train import checkpoints

    folder = Path(run) if run is not None else run_dir()
    return folder / "train" / folder_name(name) / checkpoints.CHECKPOINT_NAME

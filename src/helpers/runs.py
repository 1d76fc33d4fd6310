"""Run folders and the checkpoints in them: where notebooks write, and where they find each
other's models.

A run folder (``runs/<timestamp>-<profile>/``) holds one sitting's results, predictions and
training folders (``train/<name>/checkpoint.pt``). Training writes where it is told; this module
says where.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from . import config

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


def run_dir() -> Path:
    """The current run folder: ``EOSR_RUN_DIR`` when set (``make reproduce`` sets it), else one new
    folder per Python session."""
    global _CURRENT
    env = os.environ.get("EOSR_RUN_DIR")
    if env:
        path = Path(env)
        path.mkdir(parents=True, exist_ok=True)
        return path
    if _CURRENT is None:
        _CURRENT = new_run_dir()
    return _CURRENT


def find_checkpoint(
    name: str, match: dict[str, Any], roots: Iterable[str | os.PathLike] | None = None
) -> tuple[Path | None, dict[str, Any] | None]:
    """The newest ``<run folder>/train/<name>*/checkpoint.pt`` whose ``meta`` holds every item of
    ``match`` (e.g. the profile, bands and sample scene it was trained on), so that one notebook can
    reuse another's model instead of training it again; ``(None, None)`` when there is none.

    ``roots``: run folders to search; default the current run folder, then every folder under
    ``EOSR_RUNS``. Unreadable checkpoints are skipped.
    """
    from .train import checkpoints  # torch: only when looking for checkpoints

    if roots is None:
        roots = [run_dir(), *config.runs_dir().glob("*")]
    found = {
        p.resolve()
        for r in roots
        for p in Path(r).glob(f"train/{name}*/{checkpoints.CHECKPOINT_NAME}")
    }
    for path in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            state = checkpoints.load_checkpoint(path)
        except RuntimeError:
            continue
        meta = state.get("meta") or {}
        if all(meta.get(k) == v for k, v in match.items()):
            return path, state
    return None, None


def new_checkpoint_path(name: str = "model") -> Path:
    """A fresh ``<run folder>/train/<name>[-k]/checkpoint.pt``; never an existing folder."""
    from .train import checkpoints

    base = run_dir() / "train"
    base.mkdir(parents=True, exist_ok=True)
    for i in range(10000):
        folder = base / (name if i == 0 else f"{name}-{i}")
        try:
            folder.mkdir()
            return folder / checkpoints.CHECKPOINT_NAME
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot create a new training folder under {base}")

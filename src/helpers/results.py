"""Results records and the reader that turns them into a table.

Each experiment appends one JSON line to ``results.jsonl`` in the current run folder: what was
run, on which data and profile, how long it took, the metrics, and the published value it is
compared with. Run folders are never overwritten.
"""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from . import config
from .runs import run_dir

SAMPLE_SCENE = "sample scene"
NOTEBOOK_LOG = "notebooks.jsonl"  # one line per notebook executed by helpers.reproduce


def record(
    notebook: str,
    method: str,
    metrics: dict[str, float],
    dataset: str = SAMPLE_SCENE,
    profile: str | None = None,
    device: str | None = None,
    seconds: float | None = None,
    published: dict[str, Any] | None = None,
    notes: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """Append one experiment to ``results.jsonl`` of the run folder and return the record.

    ``published`` holds the compared value(s) and where they come from, e.g.
    ``{"metrics": {"iou": 38.12}, "seed": "002_e751d8a1a2a5b193.txt", "table": "U-Net results"}``.
    """
    clean = {k: _plain(v) for k, v in metrics.items()}
    rec = {
        "time": datetime.now().isoformat(timespec="seconds"),
        "notebook": notebook,
        "method": method,
        "dataset": dataset,
        "profile": config.get_profile(profile),
        "device": device or "cpu",
        "seconds": None if seconds is None else round(float(seconds), 2),
        "metrics": clean,
        "published": published,
        "notes": notes,
        "host": platform.node(),
        **{k: _plain(v) for k, v in extra.items()},
    }
    path = run_dir() / "results.jsonl"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec) + "\n")
    return rec


def _plain(value: Any) -> Any:
    """Numbers from numpy/torch as plain floats so that JSON can hold them."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def load(path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Read records from a ``results.jsonl`` file or a run folder (default: the current run)."""
    path = Path(path) if path else run_dir()
    if path.is_dir():
        path = path / "results.jsonl"
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def table(path: str | os.PathLike | None = None) -> Any:
    """The records as a pandas DataFrame, one metric per column (``metric:<name>``)."""
    import pandas as pd

    rows = []
    for rec in load(path):
        row = {k: v for k, v in rec.items() if k not in ("metrics", "published")}
        for name, value in (rec.get("metrics") or {}).items():
            row[name] = value
        pub = rec.get("published") or {}
        for name, value in (pub.get("metrics") or {}).items():
            row[f"published {name}"] = value
        rows.append(row)
    return pd.DataFrame(rows)


class Timer:
    """Context manager measuring wall seconds: ``with Timer() as t: ...; t.seconds``."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def load_notebook_log(run: str | os.PathLike) -> list[dict[str, Any]]:
    """The per-notebook execution log of a run folder (name, status, seconds, error)."""
    path = Path(run) / NOTEBOOK_LOG
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]

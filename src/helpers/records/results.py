"""Results records and the reader that turns them into a table.

Each experiment appends one JSON line to ``results.jsonl`` in the current run folder: what was
run, on which data and profile, how long it took, the metrics, and the published value it is
compared with. Run folders are never overwritten.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core import config
from .runs import run_dir

SAMPLE_SCENE = "sample scene"
NOTEBOOK_LOG = "notebooks.jsonl"  # one line per notebook executed by helpers.records.reproduce


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
    capped: bool = False,
    *,
    run_folder: str | os.PathLike | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Append one experiment to ``results.jsonl`` of the run folder (``run_folder``, default
    ``runs.run_dir()``) and return the record.

    ``capped``: training hit its time cap before its epochs (``History.capped``), so the numbers
    are not the profile's; the report and dashboard mark such rows.

    ``published`` holds the compared value(s) and where they come from, e.g.
    ``{"metrics": {"iou": 0.3812}, "source": "HR-MARS", "table": ..., "row": "U-Net"}`` (from
    ``report.published_for``; older records say ``"seed"`` and still match).
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
        "capped": bool(capped),
        "host": platform.node(),
        **{k: _plain(v) for k, v in extra.items()},
    }
    folder = Path(run_folder) if run_folder is not None else run_dir()
    append_line(folder / "results.jsonl", json.dumps(rec))
    return rec


def record_seeds(
    notebook: str,
    method: str,
    per_seed: list[dict[str, float]],
    seeds: list[int],
    **kwargs: Any,
) -> dict[str, Any]:
    """Record one method trained once per seed: ``metrics`` holds the mean over the seeds (so every
    reader of older records still works), ``std`` the sample standard deviation (ddof 1),
    ``per_seed`` each seed's metrics and ``seeds`` the seeds; other arguments as :func:`record`."""
    if not per_seed or len(per_seed) != len(seeds):
        raise ValueError(
            f"{method}: {len(per_seed)} seed result(s) for {len(seeds)} seed(s); give one "
            "metrics dict per seed"
        )
    names = [k for k in per_seed[0] if all(k in m for m in per_seed)]
    mean = {k: statistics.fmean(float(m[k]) for m in per_seed) for k in names}
    std = {
        k: statistics.stdev(float(m[k]) for m in per_seed) if len(per_seed) > 1 else 0.0
        for k in names
    }
    return record(notebook, method, mean, std=std, per_seed=per_seed, seeds=list(seeds), **kwargs)


def seed_stats(rec: dict[str, Any], metric: str) -> tuple[float | None, float | None, int]:
    """A record's value of ``metric``, its std over seeds (``None`` for a one-seed record) and the
    number of seeds (1 for records written before seeds were recorded). Records that kept the std
    as a metric ``"<metric> std"`` (notebook 09 before 2026-12-02) count as 0 seeds: unknown."""
    metrics = rec.get("metrics") or {}
    std = (rec.get("std") or {}).get(metric)
    if std is None and not rec.get("seeds") and f"{metric} std" in metrics:
        return metrics.get(metric), metrics[f"{metric} std"], 0
    count = len(rec.get("seeds") or [None])
    return metrics.get(metric), std if count > 1 else None, count  # one seed: no spread


def latest_records(
    profile: str | None = None,
    exclude: Iterable[str] = (),
    roots: Iterable[str | os.PathLike] | None = None,
) -> list[dict[str, Any]]:
    """The newest record per notebook and method of ``profile`` across run folders, each with the
    run folder it came from under ``"run"``, so that notebooks run one at a time (each in its own
    folder) still show each other's results. A record is written when its notebook finished.

    ``roots``: run folders to search; default the current one (``EOSR_RUN_DIR``, when set) and
    every folder under ``EOSR_RUNS``. ``exclude``: notebooks to leave out. A half-written line (a
    killed process), a line that is not a record and a record without a time are left out with a
    warning naming the file and line.
    """
    profile = config.get_profile(profile)
    if roots is None:
        env = os.environ.get("EOSR_RUN_DIR")
        base = config.runs_dir()
        roots = ([Path(env)] if env else []) + (sorted(base.iterdir()) if base.is_dir() else [])
    newest: dict[tuple[str, str], tuple[tuple[str, float], dict[str, Any]]] = {}
    for run in {Path(r).resolve() for r in roots}:
        path = run / "results.jsonl"
        if not path.is_file():
            continue
        mtime = path.stat().st_mtime
        for number, rec in _numbered(path, True):  # one killed run must not hide all the others
            if rec.get("profile") != profile or rec.get("notebook") in set(exclude):
                continue
            if not isinstance(rec.get("time"), str):
                warnings.warn(
                    f"{path}, line {number}: a record without a time cannot be ordered. Add its "
                    "time or delete that line. Left out.",
                    stacklevel=2,
                )
                continue
            key, order = (str(rec.get("notebook")), str(rec.get("method"))), (rec["time"], mtime)
            if key not in newest or order >= newest[key][0]:
                newest[key] = (order, {**rec, "run": str(run)})
    return sorted((r for _, r in newest.values()), key=lambda r: (r["notebook"], r["time"]))


class ResultsError(ValueError):
    """A records file that cannot be read; the message names the file, the line and the fix."""


def append_line(path: Path, line: str) -> None:
    """Append ``line`` to a JSON-lines file in one ``write`` call (whole line or nothing from this
    writer, even beside other writers); a file that ends without a newline (a writer killed
    mid-line) gets one first, so the new line is never glued onto the broken one. A failure names
    the file and the cause."""
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            if os.lseek(fd, 0, os.SEEK_END) > 0:
                os.lseek(fd, -1, os.SEEK_END)
                if os.read(fd, 1) != b"\n":
                    data = b"\n" + data
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.EIO, f"only {written} of {len(data)} bytes written")
        finally:
            os.close(fd)
    except OSError as err:
        raise OSError(
            err.errno,
            f"{path}: cannot append the record ({err.strerror or err}). Free disk space "
            "or check the folder's permissions; records of earlier steps are intact.",
        ) from err


def _plain(value: Any) -> Any:
    """Numbers from numpy/torch as plain floats so that JSON can hold them."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def record_problem(rec: Any) -> str | None:
    """Why a parsed JSON line is not a results record (None when it is one): it must be an object
    whose ``time`` (when present) is text and whose ``metrics`` / ``published`` are objects."""
    if not isinstance(rec, dict):
        return f"a JSON {type(rec).__name__}, not a record object"
    if "time" in rec and not isinstance(rec["time"], str):
        return f"its time is {rec['time']!r}, not text"
    for key in ("metrics", "std", "published"):
        if rec.get(key) is not None and not isinstance(rec[key], dict):
            return f"its {key} is {rec[key]!r}, not an object"
    return None


def _numbered(
    path: Path, skip_broken: bool, check: Callable[[Any], str | None] = record_problem
) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` of every good line of a JSON-lines file; a bad line raises
    :class:`ResultsError` naming the file and line, or with ``skip_broken`` warns and is left out."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as err:
                problem = f"not a JSON record ({err.msg}); probably half-written by an interrupted process"
            else:
                problem = check(rec)
                if problem is None:
                    out.append((number, rec))
                    continue
            msg = f"{path}, line {number}: {problem}. Delete that line to keep the others."
            if not skip_broken:
                raise ResultsError(msg)
            warnings.warn(msg + " Left out.", stacklevel=3)
    return out


def load(path: str | os.PathLike | None = None, skip_broken: bool = False) -> list[dict[str, Any]]:
    """Read records from a ``results.jsonl`` file or a run folder (default: the current run).

    A line that is not JSON (e.g. half-written by a killed process) or is JSON but not a record
    (:func:`record_problem`: ``[1, 2]``, ``null``, metrics as text) raises :class:`ResultsError`
    naming the file and line, or with ``skip_broken`` is left out with a warning saying the same.
    """
    path = Path(path) if path else run_dir()
    if path.is_dir():
        path = path / "results.jsonl"
    if not path.exists():
        return []
    return [rec for _, rec in _numbered(path, skip_broken)]


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
    return [rec for _, rec in _numbered(path, True, _log_problem)]


def _log_problem(entry: Any) -> str | None:
    """Why a notebook-log line is not an entry (None when it is an object)."""
    return None if isinstance(entry, dict) else f"a JSON {type(entry).__name__}, not an object"

"""Run folders, results records and the reader that turns them into a table.

Each experiment appends one JSON line to ``results.jsonl`` in the current run folder: what was
run, on which data and profile, how long it took, the metrics, and the published value it is
compared with. Run folders are never overwritten.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

from . import config

SAMPLE_SCENE = "sample scene"
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


def current_run_dir() -> Path | None:
    """The current run folder if one exists already (``EOSR_RUN_DIR`` or this session's); None
    otherwise. Unlike :func:`run_dir` it never creates a folder (for readers that only look)."""
    env = os.environ.get("EOSR_RUN_DIR")
    if env:
        return Path(env) if Path(env).is_dir() else None
    return _CURRENT


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
    append_line(run_dir() / "results.jsonl", json.dumps(rec))
    return rec


class ResultsError(ValueError):
    """A records file that cannot be read; the message names the file, the line and the fix."""


def append_line(path: Path, line: str) -> None:
    """Append ``line`` to a JSON-lines file in one ``write`` call (whole line or nothing from this
    writer, even beside other writers); a failure names the file and the cause."""
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
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


def load(path: str | os.PathLike | None = None, skip_broken: bool = False) -> list[dict[str, Any]]:
    """Read records from a ``results.jsonl`` file or a run folder (default: the current run).

    A line that is not JSON (e.g. half-written by a killed process) raises :class:`ResultsError`
    naming the file and line, or with ``skip_broken`` is left out with a warning saying the same.
    """
    path = Path(path) if path else run_dir()
    if path.is_dir():
        path = path / "results.jsonl"
    if not path.exists():
        return []
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError as err:
                msg = (
                    f"{path}, line {number}: not a JSON record ({err.msg}); probably half-written "
                    "by an interrupted process. Delete that line to keep the others."
                )
                if not skip_broken:
                    raise ResultsError(msg) from err
                warnings.warn(msg + " Left out.", stacklevel=2)
    return out


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


# ---- make reproduce: execute the notebooks and write the report ----

NOTEBOOK_LOG = "notebooks.jsonl"


def notebook_paths(names: list[str] | None = None) -> list[Path]:
    """The kit's notebooks in order (``notebooks/NN_*.ipynb``), optionally only those named."""
    found = sorted((config.repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if names:
        keep = [
            p
            for p in found
            if any(p.stem == n or p.stem.startswith(n) or p.name == n for n in names)
        ]
        missing = [n for n in names if not any(p.stem.startswith(n) or p.name == n for p in found)]
        if missing:
            raise FileNotFoundError(
                f"No notebook matches {missing}; known: {[p.stem for p in found]}"
            )
        return keep
    return found


def reproduce(
    profile: str | None = None, notebooks: list[str] | None = None, timeout: int = 1800
) -> Path:
    """Execute the notebooks in order with papermill into a new run folder, then write the report.

    A failing notebook is logged and the next one still runs; the report says which failed. An
    interruption (Ctrl-C, SIGTERM) marks the running notebook ``interrupted`` in the log, writes the
    report of what finished and raises :class:`Interrupted`.
    """
    import papermill as pm

    profile = config.get_profile(profile)
    run = new_run_dir(profile)
    os.environ["EOSR_RUN_DIR"] = str(run)
    os.environ["EOSR_PROFILE"] = profile
    print(f"run folder: {run}")
    interrupted = False
    with _sigterm_as_interrupt():
        for nb in notebook_paths(notebooks):
            interrupted = _run_notebook(pm, nb, run, profile, timeout)
            if interrupted:
                break
    write_report(run)
    if interrupted:
        raise Interrupted(run)
    return run


class Interrupted(KeyboardInterrupt):
    """A reproduction stopped by the user or a signal; ``run`` holds the report of what finished."""

    def __init__(self, run: Path) -> None:
        super().__init__(f"interrupted; report of what finished: {run / 'report.html'}")
        self.run = run


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Any:
    """Treat SIGTERM like Ctrl-C while notebooks run (so the run is marked and reported)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_notebook(pm: Any, nb: Path, run: Path, profile: str, timeout: int) -> bool:
    """Execute one notebook into the run folder and log it; True if it was interrupted."""
    out = run / "notebooks" / nb.name
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"[{profile}] {nb.name} ...", flush=True)
    start = time.perf_counter()
    status, error = "ok", ""
    try:
        pm.execute_notebook(
            str(nb),
            str(out),
            parameters={"PROFILE": profile},
            cwd=str(nb.parent),
            kernel_name="python3",
            progress_bar=False,
            execution_timeout=timeout,
        )
    except Exception as err:  # papermill raises its own error types for cell failures
        status, error = "failed", f"{type(err).__name__}: {str(err)[-2000:]}"
    except KeyboardInterrupt:
        status = "interrupted"
        error = "interrupted (Ctrl-C or a signal) while this notebook ran; later ones did not run"
    seconds = time.perf_counter() - start
    print(f"    {status} in {seconds:.1f} s", flush=True)
    entry = {
        "notebook": nb.stem,
        "status": status,
        "seconds": round(seconds, 1),
        "error": error,
        "output": f"notebooks/{nb.name}",
    }
    append_line(run / NOTEBOOK_LOG, json.dumps(entry))
    return status == "interrupted"


def load_notebook_log(run: str | os.PathLike) -> list[dict[str, Any]]:
    """The per-notebook execution log of a run folder (name, status, seconds, error)."""
    path = Path(run) / NOTEBOOK_LOG
    if not path.exists():
        return []
    return load(path, skip_broken=True)


def write_report(run: str | os.PathLike) -> Path:
    """Write ``report.html`` for a run folder: each notebook with its time and recorded results."""
    from . import report

    return report.write(Path(run))

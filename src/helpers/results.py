"""Run folders, results records and the reader that turns them into a table.

Each experiment appends one JSON line to ``results.jsonl`` in the current run folder: what was
run, on which data and profile, how long it took, the metrics, and the published value it is
compared with. Run folders are never overwritten.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterable
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
    **extra: Any,
) -> dict[str, Any]:
    """Append one experiment to ``results.jsonl`` of the run folder and return the record.

    ``capped``: training hit its time cap before its epochs (``History.capped``), so the numbers
    are not the profile's; the report and dashboard mark such rows.

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
        "capped": bool(capped),
        "host": platform.node(),
        **{k: _plain(v) for k, v in extra.items()},
    }
    path = run_dir() / "results.jsonl"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec) + "\n")
    return rec


def latest_records(
    profile: str | None = None,
    exclude: Iterable[str] = (),
    roots: Iterable[str | os.PathLike] | None = None,
) -> list[dict[str, Any]]:
    """The newest record per notebook and method of ``profile`` across run folders, each with the
    run folder it came from under ``"run"``, so that notebooks run one at a time (each in its own
    folder) still show each other's results. A record is written when its notebook finished.

    ``roots``: run folders to search; default the current one (``EOSR_RUN_DIR``, when set) and
    every folder under ``EOSR_RUNS``. ``exclude``: notebooks to leave out.
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
        for rec in load(path):
            if rec.get("profile") != profile or rec.get("notebook") in set(exclude):
                continue
            key, order = (str(rec.get("notebook")), str(rec.get("method"))), (rec["time"], mtime)
            if key not in newest or order >= newest[key][0]:
                newest[key] = (order, {**rec, "run": str(run)})
    return sorted((r for _, r in newest.values()), key=lambda r: (r["notebook"], r["time"]))


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

    A failing notebook is logged and the next one still runs; the report says which failed.
    Execution is headless and never hangs on a widget (:mod:`helpers.execute`); ``timeout``
    bounds each cell.
    """
    from . import execute

    profile = config.get_profile(profile)
    run = new_run_dir(profile)
    os.environ["EOSR_RUN_DIR"] = str(run)
    os.environ["EOSR_PROFILE"] = profile
    print(f"run folder: {run}")
    for nb in notebook_paths(notebooks):
        out = run / "notebooks" / nb.name
        out.parent.mkdir(parents=True, exist_ok=True)
        print(f"[{profile}] {nb.name} ...", flush=True)
        start = time.perf_counter()
        status, error = "ok", ""
        try:
            execute.execute_notebook(nb, out, {"PROFILE": profile}, nb.parent, timeout)
        except Exception as err:  # papermill raises its own error types for cell failures
            status, error = "failed", f"{type(err).__name__}: {str(err)[-2000:]}"
        seconds = time.perf_counter() - start
        print(f"    {status} in {seconds:.1f} s", flush=True)
        with open(run / NOTEBOOK_LOG, "a", encoding="utf-8") as fh:
            fh.write(
                json.dumps(
                    {
                        "notebook": nb.stem,
                        "status": status,
                        "seconds": round(seconds, 1),
                        "error": error,
                        "output": f"notebooks/{nb.name}",
                    }
                )
                + "\n"
            )
    write_report(run)
    return run


def load_notebook_log(run: str | os.PathLike) -> list[dict[str, Any]]:
    """The per-notebook execution log of a run folder (name, status, seconds, error)."""
    path = Path(run) / NOTEBOOK_LOG
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def write_report(run: str | os.PathLike) -> Path:
    """Write ``report.html`` for a run folder: each notebook with its time and recorded results."""
    from . import report

    return report.write(Path(run))

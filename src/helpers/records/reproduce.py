"""``make reproduce``: execute the notebooks in order into a new run folder and write the report.

Kept apart from :mod:`helpers.records.results` (records) so that records, report and reproduction form
no import loop: reproduce -> report -> results.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..core import config
from . import report, results, runs

# Notebooks that read the records of all the others (the results dashboard): they run last, so a
# reproduce run's dashboard shows every result of that run, the later-numbered ones included.
RUN_LAST = ("10_results_dashboard",)


def run_order(paths: list[Path]) -> list[Path]:
    """``paths`` in number order, with the :data:`RUN_LAST` notebooks moved to the end."""
    ordered = sorted(paths, key=lambda p: p.name)
    return [p for p in ordered if p.stem not in RUN_LAST] + [
        p for p in ordered if p.stem in RUN_LAST
    ]


def notebook_paths(names: list[str] | None = None) -> list[Path]:
    """The kit's notebooks in run order (``notebooks/NN_*.ipynb``, the dashboard last), optionally
    only those named."""
    found = run_order(list((config.repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb")))
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
    Execution is headless and never hangs on a widget (:mod:`helpers.records.execute`); ``timeout``
    bounds each cell.
    """
    from . import execute as pm  # papermill, headless, with the patient client

    profile = config.get_profile(profile)
    paths = notebook_paths(notebooks)  # an unknown name is refused before a folder is made
    run = runs.new_run_dir(profile)
    print(f"run folder: {run}")
    interrupted = False
    with _sigterm_as_interrupt():
        for nb in paths:
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
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while notebooks run (so the run is marked and reported)."""
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
    """Execute one notebook into the run folder and log it; True if it was interrupted.
    ``pm``: what executes it (``helpers.records.execute``: ``execute_notebook(nb, out, parameters, cwd,
    cell_timeout)``)."""
    out = run / "notebooks" / nb.name
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"[{profile}] {nb.name} ...", flush=True)
    start = time.perf_counter()
    status, error = "ok", ""
    try:
        kernel = {"EOSR_RUN_DIR": str(run), "EOSR_PROFILE": profile}  # the kernel's, not ours
        pm.execute_notebook(nb, out, {"PROFILE": profile}, nb.parent, timeout, env=kernel)
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
    results.append_line(run / results.NOTEBOOK_LOG, json.dumps(entry))
    return status == "interrupted"


def write_report(run: str | os.PathLike) -> Path:
    """Write ``report.html`` for a run folder: each notebook with its time and recorded results."""
    return report.write(Path(run))

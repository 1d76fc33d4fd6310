"""``make reproduce``: execute the notebooks in order into a new run folder and write the report.

Kept apart from :mod:`helpers.results` (records) so that records, report and reproduction form
no import loop: reproduce -> report -> results.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from . import config, report, results, runs


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
    """
    import papermill as pm

    profile = config.get_profile(profile)
    run = runs.new_run_dir(profile)
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
        seconds = time.perf_counter() - start
        print(f"    {status} in {seconds:.1f} s", flush=True)
        with open(run / results.NOTEBOOK_LOG, "a", encoding="utf-8") as fh:
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


def write_report(run: str | os.PathLike) -> Path:
    """Write ``report.html`` for a run folder: each notebook with its time and recorded results."""
    return report.write(Path(run))

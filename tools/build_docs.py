"""Build the course site (``make docs``): the executed notebooks of a ``make reproduce`` run, the
README, the docs pages, the changelog and the run's report, rendered by MkDocs Material.

Why MkDocs Material + mkdocs-jupyter (and not Jupyter Book): ``make reproduce`` already executes
every notebook with papermill, and mkdocs-jupyter renders an executed ``.ipynb`` as it is (figures,
tables, printed checks) without running it again; both are pure-Python pip packages (the ``docs``
extra), so the site builds in the kit's venv with no Node toolchain (Jupyter Book 2 builds with
the Node-based mystmd; Jupyter Book 1 is its Sphinx-based predecessor). geemap publishes its
notebooks the same way.

Sources, in order: ``--run DIR``; else the newest run folder under ``$EOSR_RUNS`` (``runs/``) that
holds executed notebooks; else (``--smoke-fallback``, what ``make docs`` passes) a smoke
reproduction into a temporary run folder. Every notebook page keeps its "Open in Colab" badge,
pinned by ``[tool.eosr] ref`` to the release; the home page lists them all.

    python tools/build_docs.py                       # newest run -> build/site
    python tools/build_docs.py --run runs/2026...    # a given run folder
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tools"))

PAGES = ("ARCHITECTURE.md", "sources.md", "citing.md", "CONTRACTS.md", "earthengine.md")


def executed_notebooks(run: Path) -> list[Path]:
    """The executed notebooks of a run folder (``<run>/notebooks/NN_*.ipynb``), in order."""
    return sorted((run / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def newest_run(runs: Path) -> Path | None:
    """The newest run folder under ``runs`` that holds executed notebooks, or ``None``."""
    found = [p for p in runs.glob("*/") if executed_notebooks(p)] if runs.is_dir() else []
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


def smoke_run(into: Path) -> Path:
    """Execute every notebook in the smoke profile into a run folder under ``into``."""
    env = dict(os.environ, EOSR_RUNS=str(into), EOSR_PROFILE="smoke")
    cmd = [sys.executable, "-m", "helpers.apps.cli", "reproduce", "--profile", "smoke"]
    subprocess.run(cmd, cwd=ROOT, env=env, check=False)  # a failed notebook still gets a page
    run = newest_run(into)
    if run is None:
        raise SystemExit(f"the smoke reproduction wrote no executed notebooks under {into}")
    return run


def stamp_release(notebook: Path, dest: Path, repository: str, ref: str) -> None:
    """Copy an executed notebook to ``dest`` with the Colab badge of ``repository`` at ``ref``."""
    import warnings

    import nbformat
    from sync_notebooks import sync_notebook

    nb = nbformat.read(notebook, as_version=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the placeholder is reported by sync_notebooks
        sync_notebook(nb, notebook.name, repository, ref)
    nbformat.write(nb, dest)


def home_page(notebooks: list[Path], repository: str, ref: str) -> str:
    """The site's home: the README, with the notebook table pointing at the rendered pages."""
    import warnings

    import nbformat
    from sync_notebooks import notebook_title

    from helpers.apps import colab

    rows = ["| notebook | topic | Colab |", "|---|---|---|"]
    for path in notebooks:
        title = notebook_title(nbformat.read(path, as_version=4))
        with warnings.catch_warnings():  # the placeholder: sync_notebooks reports it
            warnings.simplefilter("ignore", colab.PlaceholderWarning)
            badge = colab.badge_markdown(path.name, repository, ref)
        rows.append(f"| [{path.stem}](notebooks/{path.name}) | {title} | {badge} |")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    intro = (
        f"\n\n## The course, executed\n\nRendered from the run folder of `make reproduce`, release "
        f"`{ref}`: every page shows the notebook with its outputs; the badge opens it in Colab.\n\n"
    )
    return readme + intro + "\n".join(rows) + "\n"


def gather(run: Path, src: Path) -> list[dict]:
    """Copy everything the site shows into ``src``; return the navigation."""
    from helpers.apps import colab

    repository, ref = colab.settings(ROOT / "pyproject.toml")
    shutil.rmtree(src, ignore_errors=True)
    (src / "notebooks").mkdir(parents=True)
    (src / "docs").mkdir()
    notebooks = executed_notebooks(run)
    for nb in notebooks:  # the badge (and setup cell) of this release, whatever the run had
        stamp_release(nb, src / "notebooks" / nb.name, repository, ref)
    (src / "index.md").write_text(home_page(notebooks, repository, ref), encoding="utf-8")
    for page in PAGES:
        if (ROOT / "docs" / page).exists():
            shutil.copy2(ROOT / "docs" / page, src / "docs" / page)
    shutil.copy2(ROOT / "CHANGELOG.md", src / "CHANGELOG.md")
    nav: list[dict] = [{"Home": "index.md"}]
    nav.append({"Notebooks": [{nb.stem: f"notebooks/{nb.name}"} for nb in notebooks]})
    if (run / "report.html").exists():
        shutil.copy2(run / "report.html", src / "report.html")
        (src / "report.md").write_text(
            f"# Reproduction report\n\nThe report of the run `{run.name}` the notebooks come from: "
            "[open it full-page](report.html).\n\n"
            '<iframe src="../report.html" style="width:100%;height:80vh;border:0"></iframe>\n',
            encoding="utf-8",
        )
        nav.append({"Report": "report.md"})
    docs = [{Path(p).stem: f"docs/{p}"} for p in PAGES if (src / "docs" / p).exists()]
    nav.append({"Docs": [*docs, {"Changelog": "CHANGELOG.md"}]})
    return nav


def build(run: Path, out: Path, work: Path | None = None) -> Path:
    """Gather ``run`` and build the static site into ``out``; returns ``out``."""
    work = work or out.parent  # build/docs-src beside build/site (browser_check --site reads it)
    src = work / "docs-src"
    nav = gather(run, src)
    config = {"INHERIT": str(ROOT / "mkdocs.yml"), "docs_dir": str(src), "site_dir": str(out)}
    config["nav"] = nav
    generated = work / "mkdocs.generated.yml"
    generated.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    cmd = [sys.executable, "-m", "mkdocs", "build", "--quiet", "--config-file", str(generated)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"mkdocs build failed:\n{done.stderr[-3000:]}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Pick the run folder (or make a smoke one), build the site, print where it is."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=None, help="run folder (default: newest)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--smoke-fallback", action="store_true", help="no run: execute in smoke")
    args = parser.parse_args(argv)
    from helpers.core import config

    run = args.run or newest_run(config.runs_dir())
    if run is None and not args.smoke_fallback:
        raise SystemExit("no run folder with executed notebooks: run `make reproduce` first.")
    with tempfile.TemporaryDirectory(prefix="eosr-docs-") as tmp:
        if run is None:
            print("no `make reproduce` run found: executing the notebooks in smoke for the site")
            run = smoke_run(Path(tmp))
        out = build(run.resolve(), args.out.resolve())
    print(f"site: {out / 'index.html'} (from {run})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

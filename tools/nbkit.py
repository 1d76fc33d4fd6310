"""Developer tool: build a kit notebook with the standard cells (the cell order of docs/ARCHITECTURE.md).

Notebooks are the source of truth once written; this only saves typing the standard cells when a
notebook is created or its cells are regenerated. Usage from a throwaway script::

    from nbkit import md, code, header, setup_cell, imports_cell, parameters_cell, settings_cell, save
    cells = [header(...), setup_cell(), imports_cell("import helpers"), parameters_cell("03_unet_landcover"),
             settings_cell("03_unet_landcover"), ...]
    save("notebooks/03_unet_landcover.ipynb", cells)
"""

from __future__ import annotations

from pathlib import Path

import nbformat

SETUP_MARK = "# eosr:setup"
BADGE_MARK = "<!-- eosr:badge -->"
# Provisional until tools/sync_notebooks.py stamps the value of [tool.eosr] in pyproject.toml.
REPOSITORY = "https://github.com/YOUR-ACCOUNT/eosr-kit"
REF = "v0.1.0"


def md(text: str) -> nbformat.NotebookNode:
    """A markdown cell (leading/trailing blank lines removed)."""
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(text: str, tags: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """A code cell, optionally tagged (e.g. ``("parameters",)`` for papermill)."""
    cell = nbformat.v4.new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


RUN_TIME = (
    "Measured wall times per profile are in one place, the README's table *How long each notebook "
    "takes* (updated by `eosr bench` from the newest `make reproduce` runs). The teaching profile "
    "is sized for a few minutes on a laptop CPU; a machine busy with other work is slower, a GPU "
    "faster."
)


def header(title: str, goals: list[str], note: str = "", intro: str = "") -> nbformat.NotebookNode:
    """Title, badge placeholder, learning goals and where the measured run times are (no minutes
    typed here: the README's table, kept by ``eosr bench``, is the one place); ``note`` adds to it."""
    goal_lines = "\n".join(f"- {g}" for g in goals)
    return md(
        f"# {title}\n\n{BADGE_MARK}\n\n{intro}\n\n## Learning goals\n\n{goal_lines}\n\n"
        f"## Expected run time\n\n{RUN_TIME}{' ' + note if note else ''}\n"
    )


def setup_cell(extras: str = "") -> nbformat.NotebookNode:
    """Colab installs the kit (with ``extras``, e.g. ``"earthengine"``); everywhere else this cell
    does nothing (text from helpers.apps.colab)."""
    from helpers.apps import colab

    return code(colab.setup_source(REPOSITORY, REF, extras))


def imports_cell(extra: str = "") -> nbformat.NotebookNode:
    """The imports cell: os plus whatever the notebook needs."""
    return code("import os\n\n" + extra.strip("\n"))


def parameters_cell(notebook: str, extra: str = "") -> nbformat.NotebookNode:
    """The papermill ``parameters`` cell: plain assignments only (papermill injects after it)."""
    return code(
        """# Parameters: plain values only (papermill may override them; settings follow below).
PROFILE = None  # "smoke", "teaching" or "full"; None: $EOSR_PROFILE, else "teaching"
"""
        + extra.strip(),
        tags=("parameters",),
    )


def settings_cell(notebook: str, extra: str = "") -> nbformat.NotebookNode:
    """The cell after the parameters: the profile's settings of ``notebook``."""
    return code(
        f"""# Settings derived from the parameters (one table: helpers.core.config.PROFILES).
PROFILE = config.get_profile(PROFILE)
S = config.settings("{notebook}", PROFILE)
{extra.strip()}""".rstrip()
    )


def save(path: str | Path, cells: list[nbformat.NotebookNode]) -> Path:
    """Write the notebook (outputs empty, python3 kernel) and validate it."""
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    path = Path(path)
    nbformat.write(nb, path)
    return path

"""Colab badges, the Colab setup cell and what it does after the install, from one setting.

``[tool.eosr] repository`` and ``ref`` in ``pyproject.toml`` say where the kit is published (``ref``
a tag or a commit, so every notebook installs the same kit). Every "Open in Colab" badge and every
notebook's setup cell is generated from them by ``tools/sync_notebooks.py`` (``make
sync-notebooks``). The cell clones the kit (failing loudly), then runs two functions of this module
from the clone: :func:`install` (runtime dependencies only, the runtime's torch kept) and
:func:`setup` (Google Drive for data and runs when the student allows it, Colab's widget manager).
This module is imported before the install, so it and ``config`` import only the standard library. ``EOSR_COLAB_SETUP=1`` runs the cell
outside Colab (the runtime-only install test); ``EOSR_COLAB_REPO``/``_REF``/``_DIR`` override
where it clones from, what it checks out and where to.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

from ..core import config

PLACEHOLDER = "https://github.com/YOUR-ACCOUNT/eosr-kit"
SETUP_MARK = "# eosr:setup"
BADGE_MARK = "<!-- eosr:badge -->"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
_GITHUB = re.compile(r"^https://github\.com/(?P<owner>[\w.-]+)/(?P<name>[\w.-]+?)(?:\.git)?/?$")


class PlaceholderWarning(UserWarning):
    """The repository setting still holds the placeholder: badges and installs will not work."""


def settings(pyproject: str | Path | None = None) -> tuple[str, str]:
    """``(repository, ref)`` from ``[tool.eosr]`` of the kit's ``pyproject.toml``."""
    import tomllib

    path = Path(pyproject) if pyproject else config.repo_root() / "pyproject.toml"
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: not found. Colab badges are generated from a checkout of the kit; run this "
            "from the repository (or pass the path of its pyproject.toml)."
        )
    with open(path, "rb") as fh:
        table = tomllib.load(fh).get("tool", {}).get("eosr", {})
    missing = [k for k in ("repository", "ref") if not table.get(k)]
    if missing:
        raise KeyError(
            f'{path}: [tool.eosr] lacks {missing}; add e.g. repository = "{PLACEHOLDER}", ref = "main".'
        )
    return str(table["repository"]).rstrip("/"), str(table["ref"])


def is_placeholder(repository: str) -> bool:
    """True while the setting still names the placeholder account."""
    return "YOUR-ACCOUNT" in repository or repository.rstrip("/") == PLACEHOLDER


def warn_if_placeholder(repository: str) -> bool:
    """Warn (once per call site) when ``repository`` is the placeholder; return whether it is."""
    if is_placeholder(repository):
        warnings.warn(
            f"[tool.eosr] repository in pyproject.toml is still the placeholder {repository!r}: "
            "the Colab badges and the Colab install will point nowhere. Set it to the published "
            "GitHub repository and run `python tools/sync_notebooks.py`.",
            PlaceholderWarning,
            stacklevel=3,
        )
        return True
    return False


def github_parts(repository: str) -> tuple[str, str]:
    """``(owner, name)`` of a ``https://github.com/<owner>/<name>`` URL (Colab opens only GitHub)."""
    match = _GITHUB.match(repository.strip())
    if not match:
        raise ValueError(
            f"{repository!r} is not a https://github.com/<owner>/<name> URL; Colab's 'open from "
            "GitHub' links need one. Fix [tool.eosr] repository in pyproject.toml."
        )
    return match["owner"], match["name"]


def badge_url(notebook: str | Path, repository: str | None = None, ref: str | None = None) -> str:
    """The Colab URL that opens ``notebooks/<notebook>`` of the published repository at ``ref``."""
    if repository is None or ref is None:
        repo_setting, ref_setting = settings()
        repository = repository or repo_setting
        ref = ref or ref_setting
    warn_if_placeholder(repository)
    owner, name = github_parts(repository)
    stem = Path(str(notebook)).name
    if not stem.endswith(".ipynb"):
        stem += ".ipynb"
    return f"https://colab.research.google.com/github/{owner}/{name}/blob/{ref}/notebooks/{stem}"


def badge_markdown(
    notebook: str | Path, repository: str | None = None, ref: str | None = None
) -> str:
    """The "Open in Colab" badge as markdown."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({badge_url(notebook, repository, ref)})"


def badge_html(notebook: str | Path, repository: str | None = None, ref: str | None = None) -> str:
    """The badge as an HTML link, for the title cell: a line that starts with the ``<!-- eosr:badge
    -->`` comment is an HTML block in CommonMark (Jupyter, Colab, GitHub, the course site), where
    markdown link syntax would show as plain text."""
    url = badge_url(notebook, repository, ref)
    return f'<a href="{url}"><img src="{BADGE_IMAGE}" alt="Open In Colab"/></a>'


SETUP_TEMPLATE = """\
{mark}: in Colab this installs the kit ({what}); elsewhere it does nothing.
import os
import sys

USE_DRIVE = True  # Colab: data and runs on your Google Drive (it asks once), for all notebooks
if "google.colab" in sys.modules or os.environ.get("EOSR_COLAB_SETUP") == "1":
    import subprocess

    REPO = os.environ.get("EOSR_COLAB_REPO", "{repository}")
    REF = os.environ.get("EOSR_COLAB_REF", "{ref}")  # pinned by `make sync-notebooks`
    KIT = os.environ.get("EOSR_COLAB_DIR", "/content/eosr-kit")
    if "YOUR-ACCOUNT" in REPO:  # a copy that names no published kit: there is nothing to clone
        raise RuntimeError(f"{{REPO}} is a placeholder: {hint}")
    os.environ["GIT_TERMINAL_PROMPT"] = "0"  # a wrong REPO fails at once, never asks for a password

    def _run(*cmd):
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(
                f"{{' '.join(cmd)}} failed:\\n{{done.stderr[-2000:]}}\\nCheck REPO/REF and the network."
            )

    if not os.path.isdir(os.path.join(KIT, ".git")):
        _run("git", "clone", "-q", REPO, KIT)
    _run("git", "-C", KIT, "checkout", "-q", REF)
    sys.path.insert(0, os.path.join(KIT, "src"))  # helpers.apps.colab: standard library only
    from helpers.apps import colab

    colab.install(KIT{extras_arg})  # pip, its warnings shown; the runtime's torch stays
    colab.setup(use_drive=USE_DRIVE)"""
PLACEHOLDER_HINT = "open the kit's own Colab badge, or set REPO."
# Notebooks whose Colab cell installs an extra of the kit besides the runtime dependencies.
NOTEBOOK_EXTRAS = {"01_fetch_earth_engine": "earthengine"}


def extras_for(notebook: str | Path) -> str:
    """The extra (``"earthengine"``) the Colab cell of ``notebook`` installs, ``""`` for none."""
    return NOTEBOOK_EXTRAS.get(Path(str(notebook)).name.removesuffix(".ipynb"), "")


def setup_source(repository: str, ref: str, extras: str = "") -> str:
    """Source of the standard setup cell: in Colab, clone the kit at ``ref`` (inline, so that a
    failed clone stops the cell), then :func:`install` (with ``extras``, e.g. ``"earthengine"``) and
    :func:`setup` from the clone; elsewhere do nothing. The cell imports this module before pip
    ran: it must need only the standard library."""
    what = f"runtime dependencies and the {extras} extra" if extras else "runtime dependencies only"
    extras_arg = f', extras="{extras}"' if extras else ""
    return SETUP_TEMPLATE.format(
        mark=SETUP_MARK,
        what=what,
        repository=repository,
        ref=ref,
        hint=PLACEHOLDER_HINT,
        extras_arg=extras_arg,
    )


def kept_torch() -> list[str]:
    """Pins (``torch==2.x``) of the runtime's torch and torchvision, so pip cannot replace them."""
    from importlib import metadata

    keep = []
    for dist in ("torch", "torchvision"):
        try:
            keep.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    return keep


def install(kit: str | Path, python: str | None = None, extras: str = "") -> list[str]:
    """Install the cloned kit editable with its runtime dependencies (plus ``extras``, never the
    ``dev`` extra), keeping the runtime's torch (a CUDA build on Colab) through a constraints file.

    Editable, so the notebooks, ``data_manifest.yaml`` and ``data/`` live in one checkout. pip's
    warnings (dependency conflicts exit 0) are printed for the student. Returns the pip command;
    raises ``RuntimeError`` with pip's message and the fix when pip fails.
    """
    import subprocess
    import sys
    import tempfile

    constraints = Path(tempfile.gettempdir()) / "eosr-keep-torch.txt"
    constraints.write_text("\n".join(kept_torch()) + "\n", encoding="utf-8")
    target = f"{kit}[{extras}]" if extras else str(kit)
    cmd = [python or sys.executable, "-m", "pip", "install", "-q", "-e", target]
    cmd += ["-c", str(constraints)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    said = pip_messages(f"{done.stdout or ''}\n{done.stderr or ''}")
    if said and not done.returncode:
        print("pip installed the kit and said:\n" + said)
    if done.returncode:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}\n"
            "Check the internet connection and the kit's pyproject.toml, then run the cell again."
        )
    return cmd


def pip_messages(output: str) -> str:
    """The lines of pip's output a student should see: warnings, errors and the dependency conflicts
    they list (pip exits 0 on a conflict), without progress noise."""
    keep, inside = [], False
    for line in output.splitlines():
        if line.startswith(("WARNING", "ERROR", "DEPRECATION")):
            inside = True
        elif not line.startswith(" ") and not re.match(r"^[\w.-]+ [\w.+-]+ requires ", line):
            inside = False
        if inside and line.strip():
            keep.append(line)
    return "\n".join(keep)


def drive_folder(mount_point: str | Path = "/content/drive") -> Path:
    """The kit's folder on a mounted Google Drive (``MyDrive/eosr-kit``)."""
    return Path(mount_point) / "MyDrive" / "eosr-kit"


def setup(use_drive: bool = True, mount_point: str | Path = "/content/drive") -> dict[str, Any]:
    """After the Colab install: data and runs on Drive when allowed, Colab's widget manager on.

    Each Colab notebook starts in a fresh runtime; with ``EOSR_DATA``/``EOSR_RUNS`` on Drive the
    sample scene is written once and later notebooks (04, 10) see the runs of earlier ones. A
    declined or failed mount keeps everything in the runtime and says what that costs.
    """
    done: dict[str, Any] = {"drive": None, "widgets": False}
    try:
        from google.colab import output  # type: ignore[import-not-found]

        output.enable_custom_widget_manager()  # ipyleaflet (and ipywidgets 8) need it in Colab
        done["widgets"] = True
    except ImportError:
        pass
    if use_drive:
        try:
            from google.colab import drive  # type: ignore[import-not-found]
        except ImportError:
            print("Google Drive: not in Colab, data and runs stay in the kit's folders.")
            return done
        try:
            drive.mount(str(mount_point))
        except Exception as err:  # declined in the dialog, or no Drive: carry on in the runtime
            print(
                f"Google Drive not mounted ({type(err).__name__}: {err}). Data and runs stay in this "
                "runtime and are lost when it ends; the next notebook rebuilds the sample scene. "
                "Run this cell again to retry, or set USE_DRIVE = False to stop asking."
            )
            return done
        base = drive_folder(mount_point)
        for var, sub in (("EOSR_DATA", "data"), ("EOSR_RUNS", "runs")):
            os.environ.setdefault(var, str(base / sub))
            Path(os.environ[var]).mkdir(parents=True, exist_ok=True)
        done["drive"] = str(base)
        print(f"Google Drive: data in {os.environ['EOSR_DATA']}, runs in {os.environ['EOSR_RUNS']}")
    return done

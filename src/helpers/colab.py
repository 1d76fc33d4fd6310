"""Colab badges and the Colab setup cell, all built from one setting.

``[tool.eosr] repository`` and ``ref`` in ``pyproject.toml`` say where the kit is published.
Every "Open in Colab" badge and every notebook's setup cell (``git clone`` + ``pip install -e``)
is generated from them by ``tools/sync_notebooks.py``, so changing the setting in one place and
re-running the tool updates all notebooks.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from . import config

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


def setup_source(repository: str, ref: str) -> str:
    """Source of the standard setup cell: in Colab, clone the kit and install it editable (so the
    notebooks, ``data_manifest.yaml`` and ``data/`` live in one checkout); elsewhere do nothing."""
    return (
        f"{SETUP_MARK}: in Colab this installs the kit; elsewhere it does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:  # repository and ref come from [tool.eosr] in pyproject.toml\n'
        f"    !git clone -q --depth 1 --branch {ref} {repository} /content/eosr-kit || true\n"
        '    !pip -q install -e "/content/eosr-kit[earthengine]"\n'
        '    sys.path.insert(0, "/content/eosr-kit/src")  # this kernel started before the install\n'
    ).strip("\n")

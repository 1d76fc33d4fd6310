"""Stamp every notebook with its Colab badge and setup cell from ``[tool.eosr]`` in pyproject.toml.

In each ``notebooks/NN_*.ipynb`` the line of the title cell holding ``<!-- eosr:badge -->`` gets the
badge after the marker, and the cell starting ``# eosr:setup`` is rewritten. Running it twice
changes nothing the second time. ``--check`` writes nothing and exits 1 when a notebook is out of
date (for CI). It also prints the README badge table.

``--pin [TAG]`` (what ``make sync-notebooks [TAG=v0.2.0]`` runs) first writes a pin into
``[tool.eosr] ref``: the given tag, else the tag of the checked-out commit, else its hash, so every
notebook's Colab cell installs exactly that kit. A branch name (``main``) is not a pin: the tool
warns about it. Release: ``make sync-notebooks TAG=v0.2.0``, commit, ``git tag v0.2.0``, push.

    python tools/sync_notebooks.py            # stamp, then print the README table
    python tools/sync_notebooks.py --pin v0.2 # pin ref (to a tag; no value: current tag/commit)
    python tools/sync_notebooks.py --check    # report drift, exit 1 if any
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from helpers.apps import colab  # noqa: E402


def sync_notebook(nb: nbformat.NotebookNode, name: str, repository: str, ref: str) -> list[str]:
    """Update ``nb`` in place; return what changed (empty when it was up to date)."""
    changes = []
    badge = colab.badge_html(name, repository, ref)  # HTML: the marker line is an HTML block
    setup = colab.setup_source(repository, ref, colab.extras_for(name))
    for cell in nb.cells:
        if cell.cell_type == "markdown" and colab.BADGE_MARK in cell.source:
            lines = cell.source.split("\n")
            new = [f"{colab.BADGE_MARK} {badge}" if colab.BADGE_MARK in ln else ln for ln in lines]
            if new != lines:
                cell.source = "\n".join(new)
                changes.append("badge")
        elif cell.cell_type == "code" and cell.source.lstrip().startswith(colab.SETUP_MARK):
            if cell.source != setup:
                cell.source = setup
                changes.append("setup cell")
    if not any(colab.BADGE_MARK in c.source for c in nb.cells if c.cell_type == "markdown"):
        changes.append(f"no {colab.BADGE_MARK} marker in a markdown cell (add it to the title)")
    if not any(
        c.source.lstrip().startswith(colab.SETUP_MARK) for c in nb.cells if c.cell_type == "code"
    ):
        changes.append(f"no cell starting {colab.SETUP_MARK!r} (add nbkit.setup_cell())")
    return changes


def _git(root: Path, *args: str) -> str | None:
    """Output of a git command in ``root``, or ``None`` when it fails (no git, not a checkout)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def current_pin(root: Path) -> str:
    """The tag of the checked-out commit, else its full hash (raises outside a git checkout)."""
    pin = _git(root, "describe", "--tags", "--exact-match", "HEAD") or _git(
        root, "rev-parse", "HEAD"
    )
    if not pin:
        raise SystemExit(f"{root}: not a git checkout; set [tool.eosr] ref to a tag by hand.")
    return pin


def pin_problem(ref: str, root: Path) -> str:
    """Why ``ref`` does not pin the kit yet ("" when it is a commit hash or an existing tag)."""
    if re.fullmatch(r"[0-9a-f]{7,40}", ref) or _git(root, "tag", "--list", ref):
        return ""
    if _git(root, "branch", "--list", ref, "--all") or ref in ("main", "master", "HEAD"):
        return (
            f"ref {ref!r} is a branch: Colab installs whatever it points to when a notebook opens. "
            "Pin it: `make sync-notebooks TAG=vX.Y` (or without TAG for the current commit)."
        )
    return f"ref {ref!r} is not a tag yet: commit the notebooks, then `git tag {ref}` and push it."


def write_ref(pyproject: Path, ref: str) -> None:
    """Set ``ref = "..."`` of ``[tool.eosr]`` in ``pyproject`` (the only ``ref =`` line)."""
    text = pyproject.read_text(encoding="utf-8")
    new, count = re.subn(r'(?m)^ref = ".*"$', f'ref = "{ref}"', text, count=1)
    if count != 1:
        raise SystemExit(f'{pyproject}: no line `ref = "..."` under [tool.eosr]; add one.')
    pyproject.write_text(new, encoding="utf-8")


def notebook_title(nb: nbformat.NotebookNode) -> str:
    """The notebook's '# title' line, for the README table."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.split("\n", 1)[0][2:].strip()
    return ""


def readme_table(paths: list[Path], repository: str, ref: str) -> str:
    """Markdown table: notebook, title, badge (what README.md shows)."""
    rows = ["| notebook | topic | Colab |", "|---|---|---|"]
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        rows.append(
            f"| [{path.stem}](notebooks/{path.name}) | {notebook_title(nb)} | "
            f"{colab.badge_markdown(path.name, repository, ref)} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Sync (or ``--check``) every notebook; print the README table unless ``--quiet``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on drift")
    parser.add_argument("--quiet", action="store_true", help="do not print the README table")
    parser.add_argument(
        "--pin",
        nargs="?",
        const="",
        default=None,
        metavar="TAG",
        help="first set [tool.eosr] ref to TAG (no value: the current tag or commit)",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (for tests)")
    args = parser.parse_args(argv)

    root = args.root.resolve()
    if args.pin is not None and not args.check:
        write_ref(root / "pyproject.toml", args.pin or current_pin(root))
    repository, ref = colab.settings(root / "pyproject.toml")
    problem = pin_problem(ref, root)
    if problem:
        print(f"WARNING: [tool.eosr] {problem}", file=sys.stderr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", colab.PlaceholderWarning)
        placeholder = colab.warn_if_placeholder(repository)
        if placeholder:
            print(
                f"WARNING: [tool.eosr] repository is the placeholder {repository!r}; badges and the "
                "Colab install will not work until it names the published repository.",
                file=sys.stderr,
            )
        paths = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
        drift = 0
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            changes = sync_notebook(nb, path.name, repository, ref)
            if not changes:
                continue
            drift += 1
            verb = "out of date" if args.check else "updated"
            print(f"{path.relative_to(root)}: {verb} ({', '.join(changes)})")
            fixable = [c for c in changes if not c.startswith("no ")]
            if not args.check and fixable:
                nbformat.write(nb, path)
        if not args.quiet:
            print("\nREADME badge table:\n")
            print(readme_table(paths, repository, ref))
    if args.check and drift:
        print(
            f"{drift} notebook(s) out of date: run `python tools/sync_notebooks.py`.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

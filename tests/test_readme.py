"""The README tells the truth about the repository: its commands exist, its links resolve inside
the repository, its helpers names exist, and its facts (Python version, notebooks, teaching
epochs) match the code."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FILE_SUFFIXES = {"jsonl", "json", "md", "html", "tif", "yaml", "yml", "py", "toml", "png", "txt"}


def _helpers_modules() -> dict[str, str]:
    """Short name -> import path of every helpers module (``models.unet`` also as ``unet``)."""
    src = ROOT / "src" / "helpers"
    found = {}
    for path in src.rglob("*.py"):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            found[".".join(parts)] = "helpers." + ".".join(parts)
            found.setdefault(parts[-1], "helpers." + ".".join(parts))
    return found


def _split_module(chain: str, modules: dict[str, str]) -> tuple[str, str]:
    """``data.scene.Scene`` -> (``data.scene``, ``Scene``): the longest module, then its attribute."""
    parts = chain.split(".")
    for i in range(len(parts) - 1, 0, -1):
        if ".".join(parts[:i]) in modules:
            return ".".join(parts[:i]), parts[i]
    return parts[0], parts[1]


def test_students_start_with_make_lab_and_the_right_python():
    start = README.index("## Students: start here")
    assert start < README.index("## The two commands"), "students come first"
    assert "make lab" in README[start : start + 600]
    import tomllib

    wanted = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f"Python {wanted.replace('>=', '>= ')}" in README
    assert "CPU-only" in README and "download.pytorch.org/whl/cpu" in README


def test_make_targets_and_eosr_commands_exist():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"(?m)^([a-z][\w-]*):", makefile))
    used = set(re.findall(r"\bmake ([a-z][\w-]*)", README))
    assert used and used <= targets, (
        f"README names make targets that do not exist: {used - targets}"
    )
    from helpers.apps import cli

    choices = next(a.choices for a in cli.build_parser()._actions if getattr(a, "choices", None))
    commands = set(re.findall(r"\beosr ([a-z][\w-]*)", README))
    assert commands and commands <= set(choices), commands - set(choices)


def test_links_stay_inside_the_repository_and_resolve():
    assert "../" not in README and "DESIGN.md" not in README
    for target in re.findall(r"\]\(([^)#\s]+)", README):
        if not target.startswith("https://"):
            assert (ROOT / target).exists(), (
                f"README links to {target}, which is not in the repository"
            )
    for doc in ("docs/ARCHITECTURE.md", "docs/sources.md"):
        assert f"]({doc})" in README, f"README must link {doc}"
    for path in re.findall(r"`((?:docs|tools)/[\w./-]+)`", README):
        assert (ROOT / path).exists(), path


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=str)
def test_every_notebook_is_in_the_notebook_table(path):
    assert f"| `{path.stem}` |" in README, f"{path.stem} is missing from 'The notebooks' table"


def test_helpers_names_in_the_readme_exist():
    modules = _helpers_modules()
    missing = []
    for chain in re.findall(r"`(?:helpers\.)?([a-z_]\w*(?:\.\w+)+)", README):
        mod, attr = _split_module(chain, modules)
        if mod in modules and attr not in FILE_SUFFIXES and f"{mod}.{attr}" not in modules:
            if not hasattr(importlib.import_module(modules[mod]), attr):
                missing.append(f"{mod}.{attr}")
    assert not missing, f"README names helpers that do not exist: {missing}"


def test_teaching_epochs_in_the_readme_match_the_profiles():
    from helpers.core import config

    start = README.find("teaching epochs (")
    assert start >= 0, "README states the teaching epochs"
    depth, end = 0, start + len("teaching epochs ")
    while end < len(README):  # up to the parenthesis that closes the list (they nest)
        depth += {"(": 1, ")": -1}.get(README[end], 0)
        if depth == 0:
            break
        end += 1
    stated = re.findall(r"(\d\d): (\d+)", README[start:end])
    trains = [n for n, t in config.PROFILES.items() if "epochs" in t["teaching"]]
    assert len(stated) == len(trains), (stated, trains)  # every training notebook, once
    for number, epochs in stated:
        stem = next(p.stem for p in (ROOT / "notebooks").glob(f"{number}_*.ipynb"))
        assert config.settings(stem, "teaching")["epochs"] == int(epochs), stem

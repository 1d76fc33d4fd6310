"""The two ways to install agree, and the command line is wired up."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from helpers.apps import cli

ROOT = Path(__file__).resolve().parents[1]
TESTS = "tests/test_packaging.py"  # relative: found only when `eosr test` runs in the kit's root


def test_environment_yml_installs_the_pyproject_package():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    minimum = pyproject["project"]["requires-python"].lstrip(">=")
    assert tuple(map(int, python.split("=")[1].split("."))) >= tuple(map(int, minimum.split(".")))
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert "-e .[dev,earthengine,docs]" in pip, (
        "environment.yml must install the kit with its dev extra from pyproject"
    )
    conda_pkgs = {d.split("=")[0] for d in env["dependencies"] if isinstance(d, str)}
    assert conda_pkgs <= {"python", "pip"}, "every other dependency must come from pyproject.toml"


def _names(deps):
    return {d.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip().lower() for d in deps}


def test_runtime_dependencies_are_the_design_cards_and_dev_tools_are_not_runtime():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _names(project["dependencies"])
    dev = _names(project["optional-dependencies"]["dev"])
    for need in [
        "torch",
        "rasterio",
        "matplotlib",
        "ipywidgets",
        "affine",
        "torchvision",
        "torchmetrics",
        "scikit-learn",
        "pooch",
        "pyyaml",
        "tqdm",
        "pandas",
    ]:
        assert need in runtime, f"{need} missing from pyproject dependencies"
    # Colab installs only the runtime set: the notebook server, executors and linters are dev tools.
    for tool in ["jupyterlab", "papermill", "nbval", "pytest", "ruff", "nbformat"]:
        assert tool in dev, f"{tool} missing from the dev extra"
        assert tool not in runtime, f"{tool} is a dev tool; move it to the dev extra"


def test_earth_engine_is_an_extra_that_the_make_targets_install():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _names(project["dependencies"])
    extra = _names(project["optional-dependencies"]["earthengine"])
    assert extra == {"earthengine-api", "geemap"}, "the extra holds Earth Engine's packages only"
    assert not extra & runtime, "Earth Engine is optional: `pip install -e .` must not pull it in"
    make = (ROOT / "Makefile").read_text()
    assert '-e ".[dev,earthengine,docs,release]"' in make, "make test / reproduce install the extra"
    dev = _names(project["optional-dependencies"]["dev"])
    assert {"pre-commit", "nbstripout"} <= dev, "the hooks of .pre-commit-config.yaml are dev tools"


def test_floors_leave_colabs_stack_alone():
    """Colab ships ipywidgets 7.7.1; a floor of 8 would upgrade it and break its widget rendering."""
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = {Requirement(r).name: Requirement(r) for r in project["dependencies"]}
    assert reqs["ipywidgets"].specifier.contains("7.7.1")
    assert reqs["ipywidgets"].specifier.contains("8.1.5")


def test_license_metadata_is_pep639_with_a_bounded_backend():
    from packaging.requirements import Requirement

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["license"] == "MIT" and data["project"]["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    backend = Requirement(data["build-system"]["requires"][0])
    assert backend.name == "setuptools" and backend.specifier.contains("77.0.3")
    assert not backend.specifier.contains("76.1.0") and not backend.specifier.contains("999")


def test_citation_and_changelog():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert cff["cff-version"] == "1.2.0" and cff["version"] == version and cff["license"] == "MIT"
    assert cff["authors"] and cff["title"].startswith("EO-SR Kit")
    log = (ROOT / "CHANGELOG.md").read_text()
    assert "## Unreleased" in log and f"## {version}" in log
    citing = (ROOT / "docs" / "citing.md").read_text()
    sources = (ROOT / "docs" / "sources.md").read_text()
    for title in ("HR-MARS", "PANDA-FINE", "DeepLight"):
        assert title in citing
    titles = re.findall(r"(?<![*\w])\*([^*]+)\*(?![*\w])", citing)
    assert len(titles) >= 6
    for quoted in titles:  # every italic title is quoted from docs/sources.md
        assert " ".join(quoted.split()) in " ".join(sources.split()), quoted


def test_cli_has_the_four_commands():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) >= {"sample", "fetch", "reproduce", "bench"}


def test_import_helpers_is_light():
    import subprocess
    import sys

    code = (
        "import sys, helpers, helpers.core.config, helpers.io.rasters, helpers.records.results; "
        "print(','.join(m for m in ('torch','ee','geemap','sklearn','papermill') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "", f"import helpers pulled in heavy modules: {out}"


def test_reproduce_without_papermill_says_how_to_install_it(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "papermill" else real(name, *a),
    )
    assert cli.main(["reproduce", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert "papermill" in err and ".[dev]" in err


def test_lab_and_test_commands_need_neither_make_nor_venv_bin():
    import subprocess
    import sys

    lab = cli.tool_command("lab")
    assert lab[:3] == [sys.executable, "-m", "jupyterlab"] and lab[3] == str(ROOT / "notebooks")
    assert cli.tool_command("test", ["-x"]) == [sys.executable, "-m", "pytest", "-x"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers.apps.cli",
            "test",
            "--",
            "--co",
            "-q",
            "--noconftest",
            TESTS,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT / "docs",  # any folder: the command runs in the kit's root
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "test_lab_and_test_commands_need_neither_make_nor_venv_bin" in done.stdout


def test_lab_without_jupyterlab_says_how_to_install_it(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "jupyterlab" else real(n, *a)
    )
    assert cli.main(["lab"]) == 2
    assert '-e ".[dev,earthengine]"' in capsys.readouterr().err

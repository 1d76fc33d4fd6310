"""The two ways to install agree, and the command line is wired up."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

from helpers import cli

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_installs_the_pyproject_package():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    minimum = pyproject["project"]["requires-python"].lstrip(">=")
    assert tuple(map(int, python.split("=")[1].split("."))) >= tuple(map(int, minimum.split(".")))
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert "-e .[dev]" in pip, (
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
        "earthengine-api",
        "geemap",
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


def test_cli_has_the_four_commands():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) >= {"sample", "fetch", "reproduce", "bench"}


def test_import_helpers_is_light():
    import subprocess
    import sys

    code = (
        "import sys, helpers, helpers.config, helpers.rasters, helpers.results; "
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

"""Colab badges and setup cells come from [tool.eosr] in pyproject.toml; the sync tool is
idempotent and its --check detects drift."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pytest

from helpers import colab

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import nbkit  # noqa: E402
import sync_notebooks  # noqa: E402

REPO = "https://github.com/someone/eosr-kit"


def test_badge_url():
    url = colab.badge_url("03_unet_landcover", REPO, "v1.0")
    assert (
        url
        == "https://colab.research.google.com/github/someone/eosr-kit/blob/v1.0/notebooks/03_unet_landcover.ipynb"
    )
    assert colab.badge_url("notebooks/03_unet_landcover.ipynb", REPO + ".git", "main").endswith(
        "/github/someone/eosr-kit/blob/main/notebooks/03_unet_landcover.ipynb"
    )
    assert colab.badge_markdown("x.ipynb", REPO, "main").startswith(
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]("
    )
    with pytest.raises(ValueError, match="github"):
        colab.badge_url("x", "https://gitlab.com/a/b", "main")


def test_placeholder_warns():
    with pytest.warns(colab.PlaceholderWarning, match="placeholder"):
        colab.badge_url("x", colab.PLACEHOLDER, "main")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        colab.badge_url("x", REPO, "main")


def test_settings_from_pyproject(tmp_path):
    repo, ref = colab.settings()
    assert repo.startswith("https://github.com/") and ref
    (tmp_path / "pyproject.toml").write_text(
        '[tool.eosr]\nrepository = "https://github.com/a/b/"\nref = "dev"\n'
    )
    assert colab.settings(tmp_path / "pyproject.toml") == ("https://github.com/a/b", "dev")
    (tmp_path / "pyproject.toml").write_text("[tool.other]\n")
    with pytest.raises(KeyError, match="tool.eosr"):
        colab.settings(tmp_path / "pyproject.toml")


def test_setup_cell_matches_nbkit():
    assert colab.setup_source(nbkit.REPOSITORY, nbkit.REF) == nbkit.setup_cell().source
    src = colab.setup_source(REPO, "v2")
    assert (
        "git clone -q --depth 1 --branch v2 https://github.com/someone/eosr-kit /content/eosr-kit"
        in src
    )
    assert 'pip -q install -e "/content/eosr-kit[earthengine]"' in src
    assert src.startswith(colab.SETUP_MARK) and 'if "google.colab" in sys.modules' in src


def _fake_repo(tmp_path, repository):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.eosr]\nrepository = "{repository}"\nref = "main"\n'
    )
    cells = [nbkit.header("Demo", ["g"], {"smoke": "1 s"}), nbkit.setup_cell(), nbkit.code("x = 1")]
    nbkit.save(tmp_path / "notebooks" / "01_demo.ipynb", cells)
    return tmp_path / "notebooks" / "01_demo.ipynb"


def test_sync_is_idempotent_and_check_detects_drift(tmp_path, capsys):
    path = _fake_repo(tmp_path, REPO)
    assert sync_notebooks.main(["--root", str(tmp_path), "--check", "--quiet"]) == 1
    assert sync_notebooks.main(["--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "updated" in out and "| [01_demo](notebooks/01_demo.ipynb) | Demo |" in out
    first = path.read_text()
    nb = nbformat.read(path, as_version=4)
    assert colab.badge_url("01_demo", REPO, "main") in nb.cells[0].source
    assert "--branch main https://github.com/someone/eosr-kit" in nb.cells[1].source
    assert sync_notebooks.main(["--root", str(tmp_path), "--quiet"]) == 0
    assert path.read_text() == first  # second run changes nothing
    assert sync_notebooks.main(["--root", str(tmp_path), "--check", "--quiet"]) == 0
    (tmp_path / "pyproject.toml").write_text(
        '[tool.eosr]\nrepository = "https://github.com/other/kit"\nref = "v1"\n'
    )
    assert sync_notebooks.main(["--root", str(tmp_path), "--check", "--quiet"]) == 1
    assert path.read_text() == first  # --check writes nothing


def test_sync_warns_on_placeholder(tmp_path):
    _fake_repo(tmp_path, colab.PLACEHOLDER)
    tool = ROOT / "tools" / "sync_notebooks.py"
    proc = subprocess.run(
        [sys.executable, str(tool), "--root", str(tmp_path), "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "placeholder" in proc.stderr
    shutil.rmtree(tmp_path / "notebooks")

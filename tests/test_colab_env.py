"""Colab as it is today: notebooks 00 and 03 run through their setup cell in Python 3.12 and 3.13
virtualenvs that hold Colab's preinstalled packages (``tools/colab_preinstalled.txt``), and the
kit's install leaves every one of them (ipywidgets 7.7.1, torch, numpy ...) as it was.

The venvs need GBs from PyPI (torch's CUDA build), so the test runs only under ``make
test-colab`` (``EOSR_TEST_COLAB=1``); the helpers it relies on are tested here on every run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import colab_env  # noqa: E402


def test_the_pinned_list_holds_colabs_stack_and_says_where_it_comes_from():
    text = colab_env.PACKAGES.read_text()
    assert "WHERE THIS COMES FROM" in text and "assumption" in text
    pins = colab_env.pins(Path(sys.executable))  # this interpreter: the < 3.13 markers apply
    assert pins["ipywidgets"] == "7.7.1" and pins["torch"] and pins["numpy"] == "2.0.2"


def test_widget_names_are_found_and_a_replaced_package_is_reported():
    names = colab_env.widget_names()
    assert {"IntSlider", "ToggleButtons", "FloatSlider", "Dropdown", "HBox", "HTML"} <= names
    before = {"ipywidgets": "7.7.1", "numpy": "2.0.2", "rasterio": None}
    after = {"ipywidgets": "8.1.5", "numpy": "2.0.2", "rasterio": "1.4.3"}
    pinned = {"ipywidgets": "7.7.1", "numpy": "2.0.2"}
    assert colab_env.changed(before, after, pinned) == {"ipywidgets": ("7.7.1", "8.1.5")}


def test_missing_widgets_names_what_this_ipywidgets_lacks():
    assert colab_env.missing_widgets(Path(sys.executable), {"IntSlider", "NoSuchWidget"}) == [
        "NoSuchWidget"
    ]


@pytest.mark.skipif(os.environ.get("EOSR_TEST_COLAB") != "1", reason="make test-colab (GBs)")
@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_notebooks_run_in_a_colab_like_venv_and_leave_its_stack_alone(version, tmp_path):
    try:
        python = colab_env.build(version)
    except FileNotFoundError as err:
        pytest.fail(str(err))  # make test-colab promises both versions
    before = colab_env.installed(python)
    seconds = colab_env.run_notebooks(python, tmp_path)
    after = colab_env.installed(python)
    print(f"Python {version}: notebooks ran in {seconds} s")
    assert after["ipywidgets"] == "7.7.1"
    assert colab_env.changed(before, after, colab_env.pins(python)) == {}
    assert "eosr-kit" in after and "earthengine-api" not in after  # runtime set only
    assert colab_env.missing_widgets(python, colab_env.widget_names()) == []

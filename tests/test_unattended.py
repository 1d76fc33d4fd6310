"""Widget notebooks run unattended without any setting: no widget makes an
ipywidgets ``Output`` (whose nbclient front end answers on the shell channel and can hang the
run), frames are displays with an id, updated in place, and notebook 03 runs with plain
``papermill`` (no ``EOSR_HEADLESS``) while two busy processes load the CPU.

The three-in-a-row check of the issue (documented in docs/CONTRACTS.md)::

    for i in 1 2 3; do .venv/bin/python -m pytest tests/test_unattended.py -q -s -k papermill \\
        || break; done
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from helpers.core import config
from helpers.views import widgets

NOTEBOOK = config.repo_root() / "notebooks" / "03_unet_landcover.ipynb"
BUSY = "while True:\n    pass\n"


@pytest.fixture
def live(monkeypatch):
    """A live session as plain papermill / nbclient would give: no EOSR_HEADLESS, and any
    ``ipywidgets.Output`` made is an error."""
    import ipywidgets

    monkeypatch.delenv(config.HEADLESS_ENV, raising=False)

    def no_output(*args, **kwargs):
        raise AssertionError("an ipywidgets.Output was made: nbclient would answer it")

    monkeypatch.setattr(ipywidgets, "Output", no_output)
    monkeypatch.setattr(ipywidgets.widgets, "Output", no_output)
    assert not config.headless()


def _images() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"bicubic": rng.random((8, 8)), "model": rng.random((8, 8)), "truth": np.ones((8, 8))}


def test_no_widget_makes_an_output_widget_without_any_setting(live):
    panels = [{"truth": np.full((16, 16), i)} for i in range(3)]
    images = _images()
    made = [
        widgets.label_browser(panels),
        widgets.swipe(images["bicubic"], images["truth"]),
        widgets.before_after(images),
    ]
    for view in made:
        assert isinstance(view.frame, widgets.FrameOutput) and view.frame.bundle


def test_frames_are_one_display_replaced_in_place(live, monkeypatch):
    import IPython.display

    calls = []  # displays with an id (a figure drawn inside a frame is captured into it)
    monkeypatch.setattr(
        IPython.display, "display", lambda *a, **k: k.get("display_id") and calls.append((a, k))
    )
    view = widgets.label_browser([{"truth": np.full((16, 16), i)} for i in range(3)])
    assert calls == []  # nothing shown before the view itself is displayed
    view._ipython_display_()
    assert [k for _, k in calls] == [{"raw": True, "display_id": view.frame.display_id}]
    slider = view.children[0].children[0]
    slider.value = 2
    assert calls[-1][1] == {"raw": True, "display_id": view.frame.display_id, "update": True}
    assert "sample 2" in view.children[0].children[1].value


def _busy(n: int) -> list[subprocess.Popen]:
    """``n`` processes that spin on the CPU until killed."""
    return [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(n)]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_plain_papermill_runs_notebook_03_under_load(tmp_path):
    """Notebook 03, smoke profile, plain ``papermill`` (no kit executor, no EOSR_HEADLESS), two
    busy processes beside it: it finishes, its label browser shows a frame, no Output widget."""
    papermill = shutil.which("papermill", path=str(Path(sys.executable).parent))
    env = {k: v for k, v in os.environ.items() if k not in (config.HEADLESS_ENV, "MPLBACKEND")}
    env.update(EOSR_RUNS=str(tmp_path / "runs"), EOSR_RUN_DIR=str(tmp_path / "run"))
    cmd = [papermill, str(NOTEBOOK), str(tmp_path / "out.ipynb"), "-p", "PROFILE", "smoke"]
    cmd += ["--cwd", str(NOTEBOOK.parent), "--no-progress-bar", "--execution-timeout", "300"]
    load = _busy(2)
    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=540)
    finally:
        for proc in load:
            proc.kill()
            proc.wait()
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-3000:]
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    browser = [c for c in out.cells if "label_browser(" in c.source]
    kinds = [list(o.get("data", {})) for c in browser for o in c.outputs]
    assert any("application/vnd.jupyter.widget-view+json" in k for k in kinds), kinds
    assert any("image/png" in k for k in kinds), f"no frame below the controls: {kinds}"
    state = out.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models = {m["model_name"] for m in state.get("state", {}).values()}
    assert "OutputModel" not in models
    print(json.dumps({"notebook": NOTEBOOK.stem, "seconds": round(seconds, 1), "busy": 2}))

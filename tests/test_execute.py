"""Unattended execution never hangs: the nbclient widget hang's condition, and both guards."""

from __future__ import annotations

import asyncio
import time
from queue import Empty

import nbformat
import numpy as np
import pytest

from helpers.core import config
from helpers.records import execute
from helpers.views import widgets


class _MissedWakeupChannel:
    """A shell channel in the hung state: the reply is there, but a wait without a timeout was
    never woken (the socket's wake-up went to a concurrent send); a bounded wait sees it."""

    def __init__(self, messages: list[dict]) -> None:
        self.messages = messages

    async def get_msg(self, timeout: float | None = None) -> dict:
        if timeout is None:
            await asyncio.Event().wait()  # never set: the kernel is idle, nobody wakes us
        if self.messages:
            return self.messages.pop(0)
        await asyncio.sleep(timeout)
        raise Empty


def test_the_hang_condition_waits_forever_without_the_guard():
    channel = _MissedWakeupChannel([{"msg_type": "execute_reply"}])

    async def wait() -> None:
        await asyncio.wait_for(channel.get_msg(timeout=None), 0.3)

    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(wait())


def test_patient_shell_channel_gets_the_reply_in_bounded_time():
    channel = _MissedWakeupChannel([{"msg_type": "execute_reply"}])
    get = execute.patient_get_msg(channel.get_msg, poll_s=0.05)
    started = time.perf_counter()
    msg = asyncio.run(asyncio.wait_for(get(timeout=None), 5.0))
    assert msg["msg_type"] == "execute_reply" and time.perf_counter() - started < 2.0


def test_patient_shell_channel_keeps_a_finite_deadline():
    get = execute.patient_get_msg(_MissedWakeupChannel([]).get_msg, poll_s=0.05)
    started = time.perf_counter()
    with pytest.raises(Empty):
        asyncio.run(get(timeout=0.2))
    assert 0.15 < time.perf_counter() - started < 2.0


def _panels() -> list[dict]:
    rng = np.random.default_rng(0)
    return [{"truth": rng.integers(0, 8, (16, 16))} for _ in range(2)]


def test_headless_widgets_make_no_output_widget(monkeypatch):
    monkeypatch.setenv(config.HEADLESS_ENV, "1")
    assert config.headless()
    view = widgets.label_browser(_panels())
    assert isinstance(view, widgets.StaticView) and "label browser" in repr(view)
    assert view.children, "the controls were built (kept, not displayed)"
    swipe = widgets.swipe(np.ones((8, 8)), np.zeros((8, 8)))
    assert isinstance(swipe, widgets.StaticView)
    monkeypatch.setenv(config.HEADLESS_ENV, "0")
    assert not config.headless()
    import ipywidgets

    live = widgets.label_browser(_panels())  # live: controls, the frame in a display with an id
    assert isinstance(live, ipywidgets.VBox) and isinstance(live.frame, widgets.FrameOutput)
    assert not any(isinstance(c, ipywidgets.Output) for c in live.children)


@pytest.mark.slow
def test_reproduce_executor_runs_a_widget_notebook_headless(tmp_path, monkeypatch):
    """A widget cell through the kit's executor (papermill, patient client, headless): it ends
    within its bound and leaves a static frame, no Output widget for nbclient to answer."""
    monkeypatch.delenv(config.HEADLESS_ENV, raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend makes PNGs
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import numpy as np\nfrom helpers.views import widgets\n"
            "panels = [{'truth': np.zeros((16, 16), int)} for _ in range(2)]\n"
            "widgets.label_browser(panels)"
        ),
        nbformat.v4.new_code_cell("print('after the widget')"),
    ]
    nbformat.write(nb, tmp_path / "w.ipynb")
    started = time.perf_counter()
    out = execute.execute_notebook(tmp_path / "w.ipynb", tmp_path / "out.ipynb", cell_timeout=120)
    assert time.perf_counter() - started < 240
    outputs = [o for c in out.cells for o in c.get("outputs", [])]
    assert any("after the widget" in o.get("text", "") for o in outputs)
    assert any("image/png" in o.get("data", {}) for o in outputs), "no static first frame"
    state = out.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models = {m["model_name"] for m in state.get("state", {}).values()}
    assert "OutputModel" not in models

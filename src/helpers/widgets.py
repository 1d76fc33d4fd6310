"""ipywidgets browsers shared by the notebooks: patch browsers, before/after sliders, map viewers.

Every widget function also works headless (tests, papermill): it builds the widget, draws the
first state once, and returns the widget so that a notebook can display it.
"""

from __future__ import annotations

# ---- land cover (notebooks 02-06) ----

# ---- night lights (notebooks 07-09) ----

# ---- dashboard (notebook 10) ----

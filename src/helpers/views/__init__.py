"""Layer 6, presentation: figures, ipywidgets browsers and the results dashboard.

Modules: ``dashboard``, ``plots``, ``widgets``.

Import the modules themselves (``from helpers.views import dashboard``);
this package imports nothing, so ``import helpers`` stays light.
"""

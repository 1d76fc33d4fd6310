"""Layer 0, the foundation: settings, profiles and seeding, band names, label schemes, file locks,
the sample scene's atmosphere, process groups, closing checks and sentences computed from a
run's numbers. Imports no other layer.

Modules: ``atmosphere``, ``bands``, ``checks``, ``config``, ``distributed``, ``labels``,
``locks``, ``narrate``.

Import the modules themselves (``from helpers.core import atmosphere``);
this package imports nothing, so ``import helpers`` stays light.
"""

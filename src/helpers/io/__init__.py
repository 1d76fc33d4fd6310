"""Layer 1, rasters: GeoTIFF reading and writing with the georeference, windows, tiles and grid
checks. Imports only the foundation (helpers.core).

Modules: ``rasters``.

Import the modules themselves (``from helpers.io import rasters``);
this package imports nothing, so ``import helpers`` stays light.
"""

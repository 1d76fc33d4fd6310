"""Layer 2, data: the data layouts, their readers (``datasets``: torch datasets, streaming) and writers (sample
scene, Earth Engine), night-light preparation, downloads and crops.

Modules: ``coarse_labels``, ``crops``, ``datasets``, ``earthengine``, ``earthengine_batch``,
``earthengine_specs``, ``layouts``, ``manifest``, ``misregistration``, ``normalise``, ``ntl``,
``real_lights``, ``realdata``, ``scene_grid``, ``sources``,
``synthetic``, ``vectors``, ``windows``.

Import the modules themselves (``from helpers.data import coarse_labels``);
this package imports nothing, so ``import helpers`` stays light.
"""

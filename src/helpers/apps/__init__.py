"""Layer 7, entry points: the eosr command, headless training jobs, benchmarks and the Colab setup.

Modules: ``bench``, ``cli``, ``colab``, ``jobs``.

Import the modules themselves (``from helpers.apps import bench``);
this package imports nothing, so ``import helpers`` stays light.
"""

"""Layer 5, runs and records: run folders, result records, expected ranges, the HTML report,
reproduction and unattended notebook execution.

Modules: ``execute``, ``expected``, ``report``, ``reproduce``, ``results``, ``runs``.

Import the modules themselves (``from helpers.records import execute``);
this package imports nothing, so ``import helpers`` stays light.
"""

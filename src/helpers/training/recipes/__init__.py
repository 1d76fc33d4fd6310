"""Training recipes: one function per trained model (its data, model, loss and settings from a profile).

Notebooks, ``eosr train``, ``jobs`` and the real-data notebooks call the same function, so a change of
recipe reaches every caller at once. One module per task: ``landcover`` (notebook 03's U-Net),
``label_sr`` (notebook 04), ``gan`` (notebook 05), ``night_lights`` (notebooks 08, 09, 12),
``night_transfer`` (notebook 12's residual network on real lights).
"""

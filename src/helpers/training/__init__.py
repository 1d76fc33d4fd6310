"""Layer 4, training and inference: the training loops (train), one recipe per trained model
(recipes), whole-scene inference, baselines, ablations, seeds and transfer to real data. Never
chooses a run folder.

Modules: ``ablation``, ``inference``, ``landcover_rules``, ``night_transfer``, ``ntl_baselines``,
``ntl_evidence``, ``real_landcover``, ``recipes``, ``seeds``, ``train``, ``transfer``.

Import the modules themselves (``from helpers.training import ablation``);
this package imports nothing, so ``import helpers`` stays light.
"""

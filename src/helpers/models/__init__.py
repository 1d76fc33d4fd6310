"""Layer 3, models: the networks on tensors (U-Net, pix2pix, the NTL network), their losses, the
scores and floors every table is judged against, rank agreement and the classic
colour-vocabulary method.

Modules: ``bag_of_colors``, ``floors``, ``losses``, ``metrics``, ``ntl_sr``, ``ordering``,
``pix2pix``, ``segmentation_rules``, ``unet``.

Import the modules themselves (``from helpers.models import bag_of_colors``);
this package imports nothing, so ``import helpers`` stays light.
"""

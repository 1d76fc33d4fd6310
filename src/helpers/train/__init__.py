"""Training for the kit, one module per job: the supervised loop (:mod:`.loop`), the adversarial
loop (:mod:`.gan`), checkpoints (:mod:`.checkpoints`) and the run records (:mod:`.history`).

Notebooks call the names re-exported here (``train.fit``, ``train.fit_gan``, ...).
"""

from __future__ import annotations

from .checkpoints import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from .gan import evaluate_gan, fit_gan, gan_batch, gan_step
from .history import GANHistory, History
from .loop import (
    default_step,
    evaluate,
    fit,
    predict,
    recalibrate_batch_norm,
    split_batch,
    to_device,
    validate,
)

__all__ = [
    "CHECKPOINT_NAME",
    "GANHistory",
    "History",
    "default_step",
    "evaluate",
    "evaluate_gan",
    "fit",
    "fit_gan",
    "gan_batch",
    "gan_step",
    "load_checkpoint",
    "predict",
    "recalibrate_batch_norm",
    "save_checkpoint",
    "split_batch",
    "to_device",
    "validate",
]

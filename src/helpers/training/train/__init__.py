"""Training for the kit, one module per job: the supervised loop (:mod:`.loop`), the adversarial
loop (:mod:`.gan`), checkpoints (:mod:`.checkpoints`) and the run records (:mod:`.history`).

Notebooks call the names re-exported here (``train.fit``, ``train.fit_gan``, ...).
"""

from __future__ import annotations

from .checkpoints import (
    CHECKPOINT_NAME,
    CheckpointError,
    file_sha256,
    is_finished,
    load_checkpoint,
    load_model_state,
    load_weights,
    save_checkpoint,
)
from .gan import evaluate_gan, fit_gan, gan_batch, gan_step
from .history import GANHistory, History, TrainingCapped
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
    "CheckpointError",
    "GANHistory",
    "History",
    "TrainingCapped",
    "default_step",
    "evaluate",
    "evaluate_gan",
    "file_sha256",
    "is_finished",
    "fit",
    "fit_gan",
    "gan_batch",
    "gan_step",
    "load_checkpoint",
    "load_model_state",
    "load_weights",
    "predict",
    "recalibrate_batch_norm",
    "save_checkpoint",
    "split_batch",
    "to_device",
    "validate",
]

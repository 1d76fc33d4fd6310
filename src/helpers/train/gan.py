"""The adversarial loop (pix2pix, notebook 05): :func:`fit_gan`, one :func:`gan_step`, scores.

pix2pix training (Isola et al. 2017, and the HR-MARS seed's cGAN): for every batch, first D is
trained on the real pair (condition, target) with label 1 and on the generated pair with label
0; then D is frozen and G is trained to make D answer 1 on its pair, plus lambda_L1 * L1 to the
target. Adam(2e-4, beta1 0.5) for both, as in the paper.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import config, losses, metrics
from ..models.pix2pix import labels_to_target, with_batch_statistics
from .checkpoints import open_checkpoint, rng_state, save_checkpoint, start_history, write_history
from .history import GANHistory
from .loop import to_device


def gan_batch(
    num_classes: int,
    input_key: str = "image",
    target_key: str = "mask",
    one_hot_input: bool = False,
    ignore_index: int = 255,
    scale: float | None = None,
) -> Callable[[dict[str, Any]], tuple[Any, Any, Any]]:
    """A ``batch_fn`` for :func:`fit_gan`: dict batch -> ``(condition, target, valid)``.

    ``target`` is the one-hot ``target_key`` mapped to +-``scale`` (the generator's
    ``target_scale``; default ``pix2pix.TARGET_SCALE``), ``valid`` the pixels that are not
    ``ignore_index``. ``one_hot_input`` turns a label condition (e.g. the coarse ``"coarse"``
    labels of the cGAN) into the same one-hot channels.
    """

    def batch_fn(batch: dict[str, Any]) -> tuple[Any, Any, Any]:
        condition = batch[input_key]
        if one_hot_input:
            condition = labels_to_target(condition, num_classes, ignore_index, scale)
        mask = batch[target_key]
        return (
            condition.float(),
            labels_to_target(mask, num_classes, ignore_index, scale),
            mask != ignore_index,
        )

    return batch_fn


def _requires_grad(module: Any, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def gan_step(
    generator: Any,
    discriminator: Any,
    opt_g: Any,
    opt_d: Any,
    condition: Any,
    target: Any,
    valid: Any = None,
    gan_mode: str = "vanilla",
    lambda_l1: float = 100.0,
) -> dict[str, float]:
    """One pix2pix iteration: D step (real -> 1, fake -> 0), then G step with D frozen. Returns the losses."""
    fake = generator(condition)
    # Where the truth is unknown (ignored pixels) the "real" pair shows the fake, so D gets no cue there.
    real = target if valid is None else torch.where(valid.unsqueeze(1), target, fake.detach())
    _requires_grad(discriminator, True)
    opt_d.zero_grad(set_to_none=True)
    real_logits = discriminator(torch.cat([condition, real], 1))
    fake_logits = discriminator(torch.cat([condition, fake.detach()], 1))
    loss_d = losses.discriminator_loss(real_logits, fake_logits, gan_mode)
    loss_d.backward()
    opt_d.step()
    _requires_grad(discriminator, False)  # D is frozen while G learns to fool it
    opt_g.zero_grad(set_to_none=True)
    loss_g, adversarial, l1 = losses.generator_loss(
        discriminator(torch.cat([condition, fake], 1)), fake, target, valid, gan_mode, lambda_l1
    )
    loss_g.backward()
    opt_g.step()
    _requires_grad(discriminator, True)
    out = {
        k: float(v.detach())
        for k, v in {"d_loss": loss_d, "g_loss": loss_g, "g_gan": adversarial, "g_l1": l1}.items()
    }
    if not all(np.isfinite(v) for v in out.values()):
        raise FloatingPointError(
            f"GAN losses are not finite ({out}); lower the learning rate or check inputs for NaN."
        )
    return out


def evaluate_gan(
    generator: Any,
    loader: Iterable[Any],
    batch_fn: Callable[..., Any],
    num_classes: int,
    device: Any = None,
    batch_statistics: bool = True,
) -> Any:
    """Land-cover scores (``helpers.metrics.ClassScores``) of the argmax of G's output on a loader.

    ``batch_statistics``: batch norm uses each test batch's statistics, as the pix2pix reference
    tests (see ``pix2pix.with_batch_statistics``); ``False`` uses the running averages (``eval()``).
    Dropout is off either way, so the scores are deterministic for a given loader.
    """
    device = torch.device(device) if device is not None else next(generator.parameters()).device
    was_training = generator.training
    model = with_batch_statistics(generator) if batch_statistics else generator.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    with torch.no_grad():
        for batch in loader:
            condition, target, valid = batch_fn(to_device(batch, device))
            pred = model(condition).argmax(1)
            truth = torch.where(valid, target.argmax(1), torch.full_like(pred, 255))
            confusion += metrics.confusion_matrix(pred, truth, num_classes, 255).cpu()
    generator.train(was_training)
    return metrics.scores_from_confusion(confusion)


def fit_gan(
    generator: Any,
    discriminator: Any,
    loader: Iterable[Any],
    epochs: int,
    learning_rate: float = 2e-4,
    beta1: float = 0.5,
    lambda_l1: float = 100.0,
    gan_mode: str = "vanilla",
    device: Any = None,
    checkpoint: str | os.PathLike | None = None,
    time_budget_s: float | None = None,
    progress: bool = True,
    batch_fn: Callable[..., tuple[Any, Any, Any]] | None = None,
    *,
    num_classes: int | None = None,
    val_loader: Iterable[Any] | None = None,
    resume: bool = True,
    seed: int | None = None,
) -> GANHistory:
    """Train a pix2pix pair (G, D) adversarially for ``epochs`` epochs; returns a :class:`GANHistory`.

    - ``batch_fn(batch) -> (condition, target, valid)``; default ``gan_batch(num_classes)``
      (``image`` -> one-hot ``mask``). Batches are moved to the device first.
    - ``checkpoint``: saved atomically after every epoch (G, D, both optimisers, random states,
      history) and resumed when it exists and ``resume`` is true; ``None`` makes a new folder in
      the run folder. ``time_budget_s`` stops between epochs when the next one would overrun,
      or inside an epoch once the budget is spent (that epoch is then saved as done).
    - With ``val_loader`` and ``num_classes``: IoU/F1/accuracy of G's argmax after each epoch.
    - No AMP: the loop runs in float32 on every device (a GAN is touchy in half precision).
    """
    if gan_mode not in losses.GAN_MODES:
        raise ValueError(f"gan_mode must be one of {losses.GAN_MODES}, got {gan_mode!r}")
    if batch_fn is None:
        if num_classes is None:
            raise ValueError(
                "give num_classes (for the one-hot target) or a batch_fn(batch) -> (condition, target, valid)"
            )
        batch_fn = gan_batch(num_classes)
    device = torch.device(device) if device is not None else config.pick_device(verbose=False)
    generator.to(device)
    discriminator.to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=learning_rate, betas=(beta1, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=learning_rate, betas=(beta1, 0.999))

    path, state = open_checkpoint(checkpoint, type(generator).__name__, resume, device)
    if state is not None:
        if "generator" not in state:
            raise RuntimeError(
                f"{path}: not a fit_gan checkpoint (no generator). Use another path."
            )
        generator.load_state_dict(state["generator"])
        discriminator.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
    history, start_epoch = start_history(GANHistory, state, path, loader, seed, device)

    began = time.perf_counter()
    bar = tqdm(
        range(start_epoch, epochs),
        desc="pix2pix",
        disable=not progress,
        initial=start_epoch,
        total=epochs,
        unit="epoch",
    )
    for epoch in bar:
        t0 = time.perf_counter()
        generator.train()
        discriminator.train()
        dataset = getattr(loader, "dataset", None)
        if hasattr(dataset, "set_epoch"):  # new random crops/flips each epoch (helpers.datasets)
            dataset.set_epoch(epoch)
        sums = {"d_loss": 0.0, "g_loss": 0.0, "g_gan": 0.0, "g_l1": 0.0}
        count = 0
        for batch in loader:
            condition, target, valid = batch_fn(to_device(batch, device))
            step = gan_step(
                generator,
                discriminator,
                opt_g,
                opt_d,
                condition,
                target,
                valid,
                gan_mode,
                lambda_l1,
            )
            for k in sums:
                sums[k] += step[k]
            for k in history.steps:
                history.steps[k].append(step[k])
            count += 1
            if time_budget_s is not None and time.perf_counter() - began > time_budget_s:
                history.stopped_early = True
                history.stop_reason = (
                    f"time budget of {time_budget_s:.0f} s spent inside epoch {epoch + 1} "
                    f"after {count} batches"
                )
                break
        val = {}
        if val_loader is not None and num_classes is not None:
            val = evaluate_gan(generator, val_loader, batch_fn, num_classes, device).summary()
        history.epoch.append(epoch + 1)
        for k in sums:
            getattr(history, k).append(sums[k] / max(count, 1))
        history.val.append({k: float(v) for k, v in val.items()})
        history.seconds.append(time.perf_counter() - t0)
        bar.set_postfix(D=f"{history.d_loss[-1]:.3f}", G=f"{history.g_loss[-1]:.3f}")
        save_checkpoint(
            path,
            {
                "generator": generator.state_dict(),
                "discriminator": discriminator.state_dict(),
                "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(),
                "rng": rng_state(loader),
                "epoch": epoch + 1,
                "history": history.to_dict(),
                "settings": {
                    "gan_mode": gan_mode,
                    "lambda_l1": lambda_l1,
                    "learning_rate": learning_rate,
                    "beta1": beta1,
                },
            },
        )
        if history.stopped_early:
            break
        elapsed = time.perf_counter() - began
        per_epoch = elapsed / (epoch + 1 - start_epoch)
        if time_budget_s is not None and epoch + 1 < epochs and elapsed + per_epoch > time_budget_s:
            history.stopped_early = True
            history.stop_reason = (
                f"time budget of {time_budget_s:.0f} s: stopped after epoch {epoch + 1} of {epochs} "
                f"({elapsed:.1f} s used, ~{per_epoch:.1f} s per epoch)"
            )
            break
    bar.close()
    write_history(path, history)
    return history

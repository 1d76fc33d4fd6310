"""The adversarial loop (pix2pix, notebook 05): :func:`fit_gan`, one :func:`gan_step`, scores.

pix2pix training (Isola et al. 2017, and the HR-MARS cGAN): for every batch, first D is
trained on the real pair (condition, target) with label 1 and on the generated pair with label
0; then D is frozen and G is trained to make D answer 1 on its pair, plus lambda_L1 * L1 to the
target. Adam(2e-4, beta1 0.5) for both, as in the paper.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ...core import config, distributed
from ...models import losses, metrics
from ...models.pix2pix import labels_to_target, with_batch_statistics
from .checkpoints import (
    finish,
    finished_history,
    load_model_state,
    open_checkpoint,
    require_resumable,
    rng_state,
    save_checkpoint,
    start_history,
    write_history,
)
from .history import GANHistory, mark_capped
from .loop import out_of_time, set_epoch, to_device


def gan_batch(
    num_classes: int,
    input_key: str = "image",
    target_key: str = "mask",
    one_hot_input: bool = False,
    ignore_index: int = 255,
    scale: float | None = None,
    input_stats: tuple[Any, Any] | None = None,
) -> Callable[[dict[str, Any]], tuple[Any, Any, Any]]:
    """A ``batch_fn`` for :func:`fit_gan`: dict batch -> ``(condition, target, valid)``.

    ``target`` is the one-hot ``target_key`` mapped to +-``scale`` (the generator's
    ``target_scale``; default ``pix2pix.TARGET_SCALE``), ``valid`` the pixels that are not
    ``ignore_index``. ``one_hot_input`` turns a label condition (e.g. the coarse ``"coarse"``
    labels of the cGAN) into the same one-hot channels. ``input_stats``: per-band ``(mean, std)``
    (training patches only) that standardise an image condition: the generator's first
    convolution has no batch norm after it, so reflectances of a few hundredths reach the decoder
    through the outermost skip connection a hundred times weaker than the normalised features.
    """

    def batch_fn(batch: dict[str, Any]) -> tuple[Any, Any, Any]:
        condition = batch[input_key]
        if one_hot_input:
            condition = labels_to_target(condition, num_classes, ignore_index, scale)
        elif input_stats is not None:
            mean, std = (
                torch.as_tensor(v, device=condition.device).view(1, -1, 1, 1) for v in input_stats
            )
            condition = (condition - mean) / std
        mask = batch[target_key]
        return (
            condition.float(),
            labels_to_target(mask, num_classes, ignore_index, scale),
            mask != ignore_index,
        )

    return batch_fn


def _requires_grad(module: torch.nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def gan_step(
    generator: torch.nn.Module,
    discriminator: torch.nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    condition: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    gan_mode: str = "vanilla",
    lambda_l1: float = 100.0,
    frozen_discriminator: torch.nn.Module | None = None,
    positive_weight: float = 1.0,
    d_noise: float = 0.0,
    gan_weight: float = 1.0,
) -> dict[str, float]:
    """One pix2pix iteration: D step (real -> 1, fake -> 0), then G step with D frozen. Returns the
    losses and D's accuracy on the real and the fake pairs (before its update).

    ``frozen_discriminator``: the module D runs as in the G step (default ``discriminator``); under
    DDP the plain module inside D's wrapper, since D learns nothing in that step.
    ``positive_weight``: the L1 weight of each pixel's own class (``losses.masked_l1``).
    ``d_noise``: standard deviation of Gaussian noise added to every label map D sees, real or
    generated ("instance noise"): a one-hot real map is exactly +-1 or +-0.8 and a generated one
    never is, so without noise D can tell them apart by their values alone.
    ``gan_weight``: the weight of G's adversarial term (1: the paper; lambda_l1 weighs the L1)."""
    fake = generator(condition)
    # Where the truth is unknown (ignored pixels) the "real" pair shows the fake, so D gets no cue there.
    real = target if valid is None else torch.where(valid.unsqueeze(1), target, fake.detach())

    def noisy(x: torch.Tensor) -> torch.Tensor:
        return x + d_noise * torch.randn_like(x) if d_noise > 0 else x

    _requires_grad(discriminator, True)
    opt_d.zero_grad(set_to_none=True)
    real_logits = discriminator(torch.cat([condition, noisy(real)], 1))
    fake_logits = discriminator(torch.cat([condition, noisy(fake.detach())], 1))
    loss_d = losses.discriminator_loss(real_logits, fake_logits, gan_mode)
    loss_d.backward()
    opt_d.step()
    _requires_grad(discriminator, False)  # D is frozen while G learns to fool it
    opt_g.zero_grad(set_to_none=True)
    judge = frozen_discriminator if frozen_discriminator is not None else discriminator
    _, adversarial, l1 = losses.generator_loss(
        judge(torch.cat([condition, noisy(fake)], 1)),
        fake,
        target,
        valid,
        gan_mode,
        lambda_l1,
        positive_weight,
    )
    loss_g = gan_weight * adversarial + lambda_l1 * l1
    loss_g.backward()
    opt_g.step()
    _requires_grad(discriminator, True)
    out = {
        k: float(v.detach())
        for k, v in {"d_loss": loss_d, "g_loss": loss_g, "g_gan": adversarial, "g_l1": l1}.items()
    }
    # D's accuracy before its update: share of real patches it called real, of fake ones fake
    out["d_real"] = float((real_logits.detach() > 0).float().mean())
    out["d_fake"] = float((fake_logits.detach() < 0).float().mean())
    # under torchrun the ranks agree first: a rank that raised alone would leave the others
    # waiting in the next step's all-reduce
    if distributed.any_true(not all(np.isfinite(v) for v in out.values())):
        raise FloatingPointError(
            f"GAN losses are not finite ({out}); lower the learning rate or check inputs for NaN."
        )
    return out


def evaluate_gan(
    generator: torch.nn.Module,
    loader: Iterable[Any],
    batch_fn: Callable[..., Any],
    num_classes: int,
    device: torch.device | str | None = None,
    batch_statistics: bool = True,
) -> Any:
    """Land-cover scores (``helpers.models.metrics.ClassScores``) of the argmax of G's output on a loader.

    ``batch_statistics``: batch norm uses each test batch's statistics, as the pix2pix reference
    tests (see ``pix2pix.with_batch_statistics``); ``False`` uses the running averages (``eval()``).
    Dropout is off either way, so the scores are deterministic for a given loader.
    """
    device = torch.device(device) if device is not None else next(generator.parameters()).device
    was_training = generator.training
    model = with_batch_statistics(generator) if batch_statistics else generator.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    with torch.no_grad():
        for batch in distributed.shard_eval(loader):  # under torchrun: this rank's share
            condition, target, valid = batch_fn(to_device(batch, device))
            pred = model(condition).argmax(1)
            truth = torch.where(valid, target.argmax(1), torch.full_like(pred, 255))
            confusion += metrics.confusion_matrix(pred, truth, num_classes, 255).cpu()
    generator.train(was_training)
    return metrics.scores_from_confusion(distributed.all_reduce_sum(confusion))


def fit_gan(
    generator: torch.nn.Module,
    discriminator: torch.nn.Module,
    loader: Iterable[Any],
    epochs: int,
    learning_rate: float = 2e-4,
    beta1: float = 0.5,
    lambda_l1: float = 100.0,
    gan_mode: str = "vanilla",
    device: torch.device | str | None = None,
    checkpoint: str | os.PathLike | None = None,
    time_budget_s: float | None = None,
    progress: bool = True,
    batch_fn: Callable[..., tuple[Any, Any, Any]] | None = None,
    *,
    num_classes: int | None = None,
    val_loader: Iterable[Any] | None = None,
    resume: bool = True,
    seed: int | None = None,
    positive_weight: float = 1.0,
    d_noise: float = 0.0,
    learning_rate_d: float | None = None,
    decay_from: int | None = None,
    gan_weight: float = 1.0,
    keep_best: bool = False,
    val_every: int = 1,
) -> GANHistory:
    """Train a pix2pix pair (G, D) adversarially for ``epochs`` epochs; returns a :class:`GANHistory`.

    - ``batch_fn(batch) -> (condition, target, valid)``; default ``gan_batch(num_classes)``
      (``image`` -> one-hot ``mask``). Batches are moved to the device first.
    - ``checkpoint``: saved atomically after every epoch (G, D, both optimisers, random states,
      history) and resumed when it exists and ``resume`` is true; ``None`` writes to a new
      temporary folder (pass ``runs.new_checkpoint_path(name)`` to keep it in the run folder).
    - ``time_budget_s`` is a safety cap, as in ``fit``: it stops between epochs when the next one
      would overrun, or inside an epoch once it is spent (that epoch is then saved as done); it
      warns and the history says ``capped``.
    - With ``val_loader`` and ``num_classes``: IoU/F1/accuracy of G's argmax after every
      ``val_every``-th epoch and the last one (an epoch not scored has an empty ``val`` entry).
    - ``positive_weight``, ``d_noise``: see :func:`gan_step` (1 and 0: the paper's recipe);
      ``learning_rate_d``: D's own learning rate (default ``learning_rate``).
    - ``decay_from``: from this epoch on both learning rates fall linearly towards 0 at the last
      epoch (the reference's ``n_epochs`` / ``n_epochs_decay`` schedule); ``None``: constant.
    - ``gan_weight``: weight of G's adversarial term (1: the paper's; see :func:`gan_step`).
    - ``keep_best`` (needs ``val_loader``): G ends with the weights, untrained ones included, that
      scored the best macro IoU on ``val_loader`` (checkpoint selection on held-out training
      patches, never the test split) among the scored epochs; :func:`selected_epoch` says which
      (0: untrained). ``val_every`` > 1 scores fewer epochs: less time, a coarser choice.
    - No AMP: the loop runs in exact float32 on every device (a GAN is touchy in half
      precision; TF32 is off on CUDA, ``config.exact_fp32``); the history says ``fp32``.
    - Under ``torchrun`` G and D are DDP-wrapped (SyncBatchNorm on GPUs), each rank trains on its
      share of the batches, epoch losses and validation scores are averaged over the ranks and only
      rank 0 writes the checkpoint (the plain modules: it resumes on any number of ranks).
    """
    _check_options(gan_mode, val_every)
    if batch_fn is None:
        if num_classes is None:
            raise ValueError(
                "give num_classes (for the one-hot target) or a batch_fn(batch) -> (condition, target, valid)"
            )
        batch_fn = gan_batch(num_classes)
    device = torch.device(device) if device is not None else config.pick_device(verbose=False)
    generator.to(device)
    discriminator.to(device)
    lr_d = learning_rate_d or learning_rate
    pair = _Pair(
        generator, discriminator,
        torch.optim.Adam(generator.parameters(), lr=learning_rate, betas=(beta1, 0.999)),
        torch.optim.Adam(discriminator.parameters(), lr=lr_d, betas=(beta1, 0.999)),
        batch_fn, device,
        {
            "gan_mode": gan_mode,
            "lambda_l1": lambda_l1,
            "learning_rate": learning_rate,
            "learning_rate_d": lr_d,
            "beta1": beta1,
            "positive_weight": positive_weight,
            "d_noise": d_noise,
            "decay_from": decay_from,
            "gan_weight": gan_weight,
        },
    )  # fmt: skip
    path, state = open_checkpoint(checkpoint, type(generator).__name__, resume, device)
    if state is not None:
        pair.restore(state, path)
        done = finished_history(GANHistory, state, path, epochs)
        if done is not None:  # a finished checkpoint: its weights stay as they are
            return done
    loader = pair.distribute(loader, seed)
    history, start_epoch = start_history(GANHistory, state, path, loader, seed, device)
    best = _Best.start(keep_best, state, generator, val_loader, batch_fn, num_classes, device)
    for key in ("d_real", "d_fake"):  # D's accuracy per step (absent from older checkpoints)
        history.steps.setdefault(key, [float("nan")] * len(history.steps["d_loss"]))
    began = time.perf_counter()
    bar = tqdm(
        range(start_epoch, epochs),
        desc="pix2pix",
        disable=not progress or not distributed.is_main(),
        initial=start_epoch,
        total=epochs,
        unit="epoch",
    )
    for epoch in bar:
        t0 = time.perf_counter()
        pair.set_learning_rates(lr_factor(epoch, epochs, decay_from))
        sums, count = _gan_epoch(pair, loader, history, epoch, began, time_budget_s)
        val = _score(pair, val_loader, num_classes, epoch + 1, epochs, val_every, history)
        best.update(generator, val, epoch + 1)
        history.epoch.append(epoch + 1)
        for k in sums:  # one process: sums[k] / max(count, 1)
            getattr(history, k).append(distributed.mean_over_ranks(sums[k], count))
        history.val.append({k: float(v) for k, v in val.items()})
        history.seconds.append(time.perf_counter() - t0)
        bar.set_postfix(D=f"{history.d_loss[-1]:.3f}", G=f"{history.g_loss[-1]:.3f}")
        if distributed.is_main():
            save_checkpoint(path, pair.state(loader, epoch, history, epochs) | best.state())
        if history.capped:
            break
        if out_of_time(history, epoch, epochs, start_epoch, began, time_budget_s):
            break
    bar.close()
    if best.restore(generator, history) and distributed.is_main():  # the finished file keeps it
        last = history.epoch[-1] - 1
        save_checkpoint(path, pair.state(loader, last, history, epochs) | best.state())
    if distributed.is_main():
        write_history(path, history)
        finish(path, history, epochs, device)
    distributed.barrier()  # every rank returns once the checkpoint is final
    for module in (generator, discriminator):
        distributed.revert_sync_batch_norm(module)
    return history


def _check_options(gan_mode: str, val_every: int) -> None:
    """Reject a GAN loss the kit lacks or a validation cadence below 1, before any training."""
    if gan_mode not in losses.GAN_MODES:
        raise ValueError(f"gan_mode must be one of {losses.GAN_MODES}, got {gan_mode!r}")
    if val_every < 1:
        raise ValueError(f"val_every (score every k-th epoch) must be >= 1, got {val_every}")


def _score(
    pair: _Pair,
    val_loader: Iterable[Any] | None,
    num_classes: int | None,
    epoch: int,
    epochs: int,
    val_every: int,
    history: GANHistory,
) -> dict[str, float]:
    """Validation scores of G after 1-based ``epoch`` when it is due (every ``val_every``-th, the
    last planned one, or one the time cap ended); ``{}`` when not due or nothing to score on."""
    due = epoch % val_every == 0 or epoch >= epochs or history.capped
    if val_loader is None or num_classes is None or not due:
        return {}
    scores = evaluate_gan(pair.generator, val_loader, pair.batch_fn, num_classes, pair.device)
    return scores.summary()


def lr_factor(epoch: int, epochs: int, decay_from: int | None) -> float:
    """Learning-rate factor of 0-based ``epoch``: 1 before ``decay_from``, then linearly down to
    ``1 / (epochs - decay_from + 1)`` in the last epoch (pix2pix's ``lambda_rule``)."""
    if decay_from is None or epoch < decay_from:
        return 1.0
    return 1.0 - (epoch - decay_from + 1) / (epochs - decay_from + 1)


@dataclass
class _Pair:
    """The generator and discriminator of a :func:`fit_gan` run with their optimisers."""

    generator: torch.nn.Module
    discriminator: torch.nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    batch_fn: Callable[..., tuple[Any, Any, Any]]
    device: torch.device
    settings: dict[str, Any]
    g_net: torch.nn.Module | None = None  # under torchrun: the DDP wrappers that train
    d_net: torch.nn.Module | None = None

    def set_learning_rates(self, factor: float) -> None:
        """Both optimisers at ``factor`` times their base learning rates (the schedule)."""
        base = {"g": self.settings["learning_rate"], "d": self.settings["learning_rate_d"]}
        for key, opt in (("g", self.opt_g), ("d", self.opt_d)):
            for group in opt.param_groups:
                group["lr"] = base[key] * factor

    def distribute(self, loader: Iterable[Any], seed: int | None) -> Iterable[Any]:
        """Under torchrun: wrap G and D in DDP and return this rank's share of ``loader``."""
        self.g_net = distributed.wrap(self.generator, self.device)
        self.d_net = distributed.wrap(self.discriminator, self.device)
        return distributed.shard_train(loader, seed or 0)

    def restore(self, state: dict[str, Any], path: Any) -> None:
        """Load weights and optimiser states from a :func:`fit_gan` checkpoint."""
        if "generator" not in state:
            raise RuntimeError(
                f"{path}: not a fit_gan checkpoint (no generator). Use another path."
            )
        require_resumable(
            state, path, ("discriminator", "opt_g", "opt_d", "rng", "epoch", "history")
        )
        load_model_state(self.generator, state, path, "generator")
        load_model_state(self.discriminator, state, path, "discriminator")
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])

    def state(
        self, loader: Iterable[Any], epoch: int, history: GANHistory, epochs: int
    ) -> dict[str, Any]:
        """Everything a checkpoint holds to resume after ``epoch``."""
        return {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": rng_state(loader),
            "epoch": epoch + 1,
            "history": history.to_dict(),
            "settings": dict(self.settings),
            "finished": False,  # set by checkpoints.finish when the planned epochs are done
            "planned_epochs": int(epochs),
        }


def _gan_epoch(
    pair: _Pair,
    loader: Iterable[Any],
    history: GANHistory,
    epoch: int,
    began: float,
    time_budget_s: float | None,
) -> tuple[dict[str, float], int]:
    """One adversarial pass over the loader (it stops inside the epoch once the budget is spent);
    returns the summed losses and the number of batches."""
    pair.generator.train()
    pair.discriminator.train()
    set_epoch(loader, epoch)  # new random crops/flips (helpers.data.crops), a new shard order (DDP)
    sums = {"d_loss": 0.0, "g_loss": 0.0, "g_gan": 0.0, "g_l1": 0.0}
    count = 0
    with config.exact_fp32():  # fp32 means fp32: no TF32 convolutions on Ampere and later
        count = _gan_batches(pair, loader, history, epoch, began, time_budget_s, sums)
    return sums, count


def _gan_batches(
    pair: _Pair,
    loader: Iterable[Any],
    history: GANHistory,
    epoch: int,
    began: float,
    time_budget_s: float | None,
    sums: dict[str, float],
) -> int:
    """The batches of one :func:`_gan_epoch` (losses summed into ``sums``); their number."""
    count = 0
    for batch in loader:
        condition, target, valid = pair.batch_fn(to_device(batch, pair.device))
        step = gan_step(
            pair.g_net or pair.generator,
            pair.d_net or pair.discriminator,
            pair.opt_g,
            pair.opt_d,
            condition,
            target,
            valid,
            pair.settings["gan_mode"],
            pair.settings["lambda_l1"],
            frozen_discriminator=pair.discriminator,
            positive_weight=pair.settings["positive_weight"],
            d_noise=pair.settings["d_noise"],
            gan_weight=pair.settings["gan_weight"],
        )
        for k in sums:
            sums[k] += step[k]
        for k in history.steps:
            if k in step:
                history.steps[k].append(step[k])
        count += 1
        if time_budget_s is not None and _spent(began, time_budget_s):
            reason = f"spent inside epoch {epoch + 1} after {count} batches"
            mark_capped(history, time_budget_s, reason)
            break
    return count


def _spent(began: float, time_budget_s: float) -> bool:
    """True once the time cap is spent; under torchrun on any rank (all ranks stop together)."""
    over = time.perf_counter() - began > time_budget_s
    if not distributed.active():
        return over
    return bool(distributed.all_reduce_sum(torch.tensor([int(over)])).item())


BEFORE = "iou_before_training"  # the first epoch's val entry: the untrained G's score (keep_best)


@dataclass
class _Best:
    """The generator weights that scored best on the validation patches so far (``keep_best``)."""

    on: bool
    score: float = float("-inf")
    epoch: int = 0
    weights: dict[str, torch.Tensor] | None = None
    before: float = float("nan")

    @classmethod
    def start(
        cls,
        on: bool,
        state: dict[str, Any] | None,
        generator: torch.nn.Module,
        val_loader: Iterable[Any] | None,
        batch_fn: Callable[..., Any],
        num_classes: int | None,
        device: torch.device,
    ) -> _Best:
        """From a resumed checkpoint's ``best``, else the untrained G scored on ``val_loader``."""
        if not on:
            return cls(False)
        if val_loader is None or num_classes is None:
            raise ValueError("keep_best needs val_loader and num_classes (held-out patches)")
        saved = (state or {}).get("best")
        if saved is not None:
            return cls(True, saved["score"], saved["epoch"], saved["weights"], saved["before"])
        score = evaluate_gan(generator, val_loader, batch_fn, num_classes, device).macro("iou")
        return cls(True, score, 0, _copy(generator), score)

    def update(self, generator: torch.nn.Module, val: dict[str, float], epoch: int) -> None:
        """Keep ``generator``'s weights when its validation IoU beats the best so far."""
        if self.on and "iou" in val and val["iou"] > self.score:
            self.score, self.epoch, self.weights = val["iou"], epoch, _copy(generator)

    def state(self) -> dict[str, Any]:
        """What a checkpoint holds to resume the selection."""
        if not self.on:
            return {}
        keys = ("score", "epoch", "weights", "before")
        return {"best": {k: getattr(self, k) for k in keys}}

    def restore(self, generator: torch.nn.Module, history: GANHistory) -> bool:
        """Load the kept weights into ``generator`` and mark them in ``history.val``; True if on."""
        if not self.on or self.weights is None:
            return False
        generator.load_state_dict(self.weights)
        for i, entry in enumerate(history.val):
            if "iou" in entry:  # the scored epochs; the others keep an empty entry
                entry["kept"] = float(history.epoch[i] == self.epoch)
        if history.val:
            history.val[0][BEFORE] = self.before
        return True


def _copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of a module's state dict (plain keys, not a DDP wrapper's)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def selected_epoch(history: GANHistory) -> int | None:
    """The epoch whose G weights :func:`fit_gan` kept with ``keep_best`` (0: the untrained G);
    ``None`` when the run did not select."""
    if not history.val or BEFORE not in history.val[0]:
        return None
    kept = [e for e, v in zip(history.epoch, history.val) if v.get("kept")]
    return kept[0] if kept else 0

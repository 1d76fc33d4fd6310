"""Repeat a training over seeds and report mean +- std (notebook 05's GAN rows).

One seed is one draw: GANs on the sample scene move by several IoU points from seed to seed, so a
row of the comparison table is the mean over ``seeds`` with its sample standard deviation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core import config
from . import train


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0.0 for a single value) of ``values``."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_std needs at least one value (no seed was run)")
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def summarise(per_seed: Sequence[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and std per metric over seeds (metrics that every seed has), as two dicts."""
    names = [k for k in per_seed[0] if all(k in m for m in per_seed)] if per_seed else []
    pairs = {k: mean_std([m[k] for m in per_seed]) for k in names}
    return {k: p[0] for k, p in pairs.items()}, {k: p[1] for k, p in pairs.items()}


def _l1_quarters(histories: Sequence[Any]) -> tuple[float, float] | None:
    """Mean generator L1 of the first and of the last quarter of the steps (None: < 4 steps)."""
    curves = [np.asarray(h.steps["g_l1"], dtype=float) for h in histories]
    n = min((len(c) for c in curves), default=0)
    if n < 4:
        return None
    mean = np.mean([c[:n] for c in curves], axis=0)
    k = n // 4
    return float(mean[:k].mean()), float(mean[-k:].mean())


def l1_falls(history: Any) -> bool:
    """True when one GAN run's generator L1 fell (last quarter of the steps below the first);
    too short a run to tell counts as fallen."""
    q = _l1_quarters([history])
    return q is None or q[1] < q[0]


def l1_falls_on_average(histories: Sequence[Any]) -> bool:
    """True when the seed-averaged generator L1 fell: a method learned even if one seed collapsed."""
    q = _l1_quarters(histories)
    return q is None or q[1] < q[0]


def duel(history: Any, window: int = 20, level: float = 0.9) -> dict[str, float]:
    """Who wins a GAN run, from its per-step curves: D's accuracy (mean of the real and fake
    shares it got right, averaged over ``window`` steps) in the first and last ``window`` steps,
    the first step at which it reaches ``level`` (NaN: never), G's L1 at the start and end, and
    ``l1_late_fall``, L1's relative fall from the third to the last quarter of the steps (a run
    still learning when it stopped: more steps would have paid).
    D near 1 means D wins (it tells every generated map from a real one, and its verdict no
    longer says how to improve); near 0.5 neither player wins."""
    real = np.asarray(history.steps.get("d_real", []), dtype=float)
    fake = np.asarray(history.steps.get("d_fake", []), dtype=float)
    l1 = np.asarray(history.steps["g_l1"], dtype=float)
    acc = (real + fake) / 2 if len(real) == len(fake) else np.array([])
    k = max(1, min(window, len(acc))) if len(acc) else 1
    smooth = np.convolve(acc, np.ones(k) / k, mode="valid") if len(acc) else acc
    reached = np.flatnonzero(smooth >= level)
    nan = float("nan")
    q = len(l1) // 4  # L1's relative fall from the third to the last quarter: still learning?
    late = 1 - l1[-q:].mean() / l1[-2 * q : -q].mean() if q else nan
    return {
        "steps": float(len(l1)),
        "d_accuracy_start": float(acc[:k].mean()) if len(acc) else nan,
        "d_accuracy_end": float(acc[-k:].mean()) if len(acc) else nan,
        "d_wins_at_step": float(reached[0] + k) if len(reached) else nan,
        "l1_start": float(l1[:k].mean()) if len(l1) else nan,
        "l1_end": float(l1[-k:].mean()) if len(l1) else nan,
        "l1_late_fall": float(late),
    }


STILL_FALLING = 0.02  # L1 down by more than 2 % in the last quarter: the run was still learning


def short_run_lacked(d: dict[str, float], still: float = STILL_FALLING) -> str:
    """What a short GAN run lacked, read from its :func:`duel` numbers: steps (G's L1 still fell
    by more than ``still`` in its last quarter), balance (D reached 90 % in the first half), both,
    or neither; a sentence for notebook prose."""
    late, won, steps = d["l1_late_fall"], d["d_wins_at_step"], d["steps"]
    more = math.isfinite(late) and late > still
    early = math.isfinite(won) and won <= steps / 2
    parts = []
    if more:
        parts.append(f"steps (G's L1 still fell {100 * late:.1f} % in the last quarter)")
    if early:
        parts.append(f"balance (D was right on 90 % of patches by step {won:.0f} of {steps:.0f})")
    if not parts:
        return f"neither steps nor balance (L1 changed {100 * late:.1f} % in the last quarter)"
    return " and ".join(parts)


@dataclass
class SeedRuns:
    """One method trained once per seed: models, histories and test scores, in seed order."""

    name: str
    seeds: list[int] = field(default_factory=list)
    models: list[Any] = field(default_factory=list)
    histories: list[Any] = field(default_factory=list)
    scores: list[Any] = field(default_factory=list)  # helpers.models.metrics.ClassScores per seed

    def per_seed(self) -> list[dict[str, float]]:
        """Each seed's summary metrics (macro IoU, F1, accuracy)."""
        return [s.summary() for s in self.scores]

    def mean_std(self) -> tuple[dict[str, float], dict[str, float]]:
        """Mean and standard deviation of each metric over the seeds."""
        return summarise(self.per_seed())

    def steps(self) -> int:
        """Optimisation steps of one seed's training (the same for every seed)."""
        return len(self.histories[0].steps["d_loss"]) if self.histories else 0

    @property
    def capped(self) -> bool:
        """True when the time cap cut any seed's training short."""
        return any(h.capped for h in self.histories)


def fit_gan_seeds(
    name: str,
    build: Callable[[], tuple[Any, Any]],
    loader_for: Callable[[int], Iterable[Any]],
    seeds: Sequence[int],
    epochs: int,
    learning_rate: float,
    batch_fn: Callable[..., Any],
    test_loader: Iterable[Any] | None,
    num_classes: int,
    checkpoint_for: Callable[[str], Any] | None = None,
    **fit_kwargs: Any,
) -> SeedRuns:
    """Train ``build()``'s (G, D) once per seed with :func:`helpers.training.train.fit_gan` (the same epochs
    for every seed) on ``loader_for(seed)``, and score each G on ``test_loader``.
    ``checkpoint_for(tag)`` gives each seed's checkpoint path (e.g. ``runs.new_checkpoint_path``);
    ``test_loader=None`` trains without scoring (``scores`` stays empty)."""
    out = SeedRuns(name)
    for seed in seeds:
        config.seed_everything(seed)
        generator, discriminator = build()
        hist = train.fit_gan(
            generator,
            discriminator,
            loader_for(seed),
            epochs,
            learning_rate,
            batch_fn=batch_fn,
            checkpoint=checkpoint_for(f"{name}_seed{seed}") if checkpoint_for else None,
            num_classes=num_classes,
            seed=seed,
            **fit_kwargs,
        )
        device = fit_kwargs.get("device")
        out.seeds.append(seed)
        out.models.append(generator)
        out.histories.append(hist)
        if test_loader is not None:
            out.scores.append(
                train.evaluate_gan(generator, test_loader, batch_fn, num_classes, device)
            )
    return out


def fmt_mean_std(mean: float, std: float, percent: bool = True, n: int | None = None) -> str:
    """``"41.2 +- 3.1 %"`` (or plain numbers with ``percent=False``) for tables and notes; with
    ``n=1`` (one seed: no spread to show) ``"41.2 % (1 seed)"``."""
    if n == 1:
        return f"{100 * mean:.1f} % (1 seed)" if percent else f"{mean:.4g} (1 seed)"
    if percent:
        return f"{100 * mean:.1f} +- {100 * std:.1f} %"
    return f"{mean:.4g} +- {std:.2g}"

"""What a training run did, epoch by epoch: :class:`History` (:func:`fit`) and :class:`GANHistory`
(:func:`fit_gan`), both JSON-ready so that checkpoints and ``history.json`` can hold them."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any


class _EpochLog:
    """Methods shared by :class:`History` and :class:`GANHistory` (fields: epoch, seconds, val)."""

    epoch: list[int]
    seconds: list[float]
    val: list[dict[str, float]]

    @property
    def epochs_done(self) -> int:
        """Number of finished epochs."""
        return len(self.epoch)

    @property
    def total_seconds(self) -> float:
        """Wall seconds spent training (summed over epochs, across resumes)."""
        return float(sum(self.seconds))

    def val_metric(self, name: str) -> list[float]:
        """One validation metric per epoch (NaN where it was not computed)."""
        return [float(v.get(name, float("nan"))) for v in self.val]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)

    _columns: tuple[str, ...] = ()  # per-epoch lists shown by :meth:`to_frame`, in order

    def to_frame(self) -> Any:
        """A pandas DataFrame: one row per epoch, the per-epoch columns, then validation metrics
        as ``val_<name>`` (a column shorter than the epochs, e.g. an old checkpoint's, is left blank)."""
        import pandas as pd

        rows = []
        for i, ep in enumerate(self.epoch):
            row: dict[str, Any] = {"epoch": ep}
            for name in self._columns:
                values = getattr(self, name)
                if i < len(values):
                    row[name] = values[i]
            row.update(
                {f"val_{k}": v for k, v in (self.val[i] if i < len(self.val) else {}).items()}
            )
            rows.append(row)
        return pd.DataFrame(rows)


@dataclass
class History(_EpochLog):
    """What happened in :func:`fit`: one entry per epoch, and why training stopped."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val: list[dict[str, float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    stopped_early: bool = False
    stop_reason: str = ""
    capped: bool = False  # the time cap ended training before its epochs: not a full run
    checkpoint: str | None = None
    device: str = "cpu"
    precision: str = "fp32"  # fp32, bf16 or "fp16 + GradScaler" (config.precision_name)

    _columns = ("train_loss", "seconds", "learning_rate")


@dataclass
class GANHistory(_EpochLog):
    """What happened in :func:`fit_gan`: per-epoch means, per-step losses (learning curves), stop reason."""

    epoch: list[int] = field(default_factory=list)
    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    g_gan: list[float] = field(default_factory=list)
    g_l1: list[float] = field(default_factory=list)
    val: list[dict[str, float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(
        default_factory=lambda: {"d_loss": [], "g_gan": [], "g_l1": []}
    )
    stopped_early: bool = False
    stop_reason: str = ""
    capped: bool = False  # the time cap ended training before its epochs: not a full run
    checkpoint: str | None = None
    device: str = "cpu"
    precision: str = "fp32"  # fp32, bf16 or "fp16 + GradScaler" (config.precision_name)

    _columns = ("d_loss", "g_loss", "g_gan", "g_l1", "seconds")


class TrainingCapped(UserWarning):
    """Training hit its time cap before its epochs: the model is under-trained."""


def mark_capped(history: Any, time_cap_s: float, reason: str) -> None:
    """Mark ``history`` as capped and warn loudly: a capped run is not the profile's run."""
    history.stopped_early = history.capped = True
    history.stop_reason = f"capped: {reason}"
    warnings.warn(
        f"TRAINING CAPPED after {time_cap_s:.0f} s ({reason}). This machine is slower or busier "
        "than the profile expects: the model is under-trained and its scores are not the "
        "profile's. Re-run on a quieter machine, or raise the cap (time_budget_s).",
        TrainingCapped,
        stacklevel=3,
    )


def would_overrun(elapsed: float, done: int, epoch: int, epochs: int, cap: float | None) -> str:
    """Why the next epoch would overrun the cap (empty when it would not, or it was the last);
    ``elapsed`` seconds for ``done`` epochs (a resumed run counts from its restart)."""
    if cap is None or epoch + 1 >= epochs:
        return ""
    per_epoch = elapsed / max(done, 1)
    if elapsed + per_epoch <= cap:
        return ""
    return (
        f"stopped after epoch {epoch + 1} of {epochs} ({elapsed:.1f} s used, "
        f"~{per_epoch:.1f} s per epoch)"
    )

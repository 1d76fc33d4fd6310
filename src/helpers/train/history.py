"""What a training run did, epoch by epoch: :class:`History` (:func:`fit`) and :class:`GANHistory`
(:func:`fit_gan`), both JSON-ready so that checkpoints and ``history.json`` can hold them."""

from __future__ import annotations

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
    checkpoint: str | None = None
    device: str = "cpu"

    def to_frame(self) -> Any:
        """A pandas DataFrame: one row per epoch, validation metrics as ``val_<name>`` columns."""
        import pandas as pd

        rows = []
        for i, ep in enumerate(self.epoch):
            row = {"epoch": ep, "train_loss": self.train_loss[i], "seconds": self.seconds[i]}
            if i < len(self.learning_rate):
                row["learning_rate"] = self.learning_rate[i]
            for k, v in (self.val[i] if i < len(self.val) else {}).items():
                row[f"val_{k}"] = v
            rows.append(row)
        return pd.DataFrame(rows)


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
    checkpoint: str | None = None
    device: str = "cpu"

    def to_frame(self) -> Any:
        """A pandas DataFrame: one row per epoch, validation metrics as ``val_<name>`` columns."""
        import pandas as pd

        rows = []
        for i, ep in enumerate(self.epoch):
            row = {
                "epoch": ep,
                "d_loss": self.d_loss[i],
                "g_loss": self.g_loss[i],
                "g_gan": self.g_gan[i],
                "g_l1": self.g_l1[i],
                "seconds": self.seconds[i],
            }
            row.update(
                {f"val_{k}": v for k, v in (self.val[i] if i < len(self.val) else {}).items()}
            )
            rows.append(row)
        return pd.DataFrame(rows)

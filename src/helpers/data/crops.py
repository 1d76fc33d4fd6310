"""One in-memory crop dataset for every training notebook: patches read once, random crops served.

Small training sets (the sample scene) are read from disk once; every epoch draws new crops that
depend only on ``(seed, epoch, index)``, so runs and resumed runs see the same data. The training
loops call :meth:`Crops.set_epoch`.

:class:`Crops` takes the keys to crop and a per-key scale (night lights: the coarse ``low_res``
grid and the 8x finer ``high_res``, ``dmo``, ... grids are cropped over the same ground).
:func:`for_landcover`, :func:`for_gan` and :func:`for_ntl` set it up for notebooks 03-04, 05 and
08-09.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from . import windows
from .layouts import NTL_SAMPLE_KEYS

NTL_KEYS = tuple(NTL_SAMPLE_KEYS.values())  # low_res, high_res, dmo, dem, isp


class Crops(torch.utils.data.Dataset):
    """Random crops (and rotations/flips) of samples held in memory.

    - ``samples``: dicts of tensors ``(..., H, W)``; only ``keys`` are kept (default: all tensors).
    - ``scale``: per-key grid factor (default 1): a key of scale ``s`` is ``s`` times finer than
      the base grid; ``crop`` is given on the finest grid and positions are drawn on the base grid,
      every ``align`` base pixels.
    - ``length``: crops per epoch, each from a randomly drawn sample; without it, every sample is
      visited ``repeats`` times per epoch (index modulo the number of samples).
    - ``augment``: one of :data:`helpers.data.windows.AUGMENTS`.
    - ``ids``: sample names; when given, every crop carries ``"id"`` (so an error names the sample).
    """

    def __init__(
        self,
        samples: Sequence[dict[str, Any]],
        crop: int,
        *,
        keys: Sequence[str] | None = None,
        scale: dict[str, int] | None = None,
        length: int | None = None,
        repeats: int = 1,
        augment: str | None = "rot90+flip",
        align: int = 1,
        seed: int = 0,
        ids: Sequence[str] | None = None,
    ) -> None:
        windows.check_augment(augment)
        self.samples = [
            {k: v for k, v in s.items() if isinstance(v, torch.Tensor) and (not keys or k in keys)}
            for s in samples
        ]
        if not self.samples or not self.samples[0]:
            raise ValueError("no patches to crop from")
        self.scale = {k: (scale or {}).get(k, 1) for k in self.samples[0]}
        finest = max(self.scale.values())
        if crop % finest:
            raise ValueError(f"crop {crop} must be a multiple of the ratio {finest}.")
        self.crop, self.base_crop = crop, crop // finest
        self.length, self.repeats, self.augment = length, repeats, augment
        self.align, self.seed, self.epoch = align, seed, 0
        self.ids = [str(i) for i in ids] if ids is not None else None  # a bad crop names its sample
        for s in self.samples:
            h, w = self._base_shape(s)
            if self.base_crop > min(h, w):
                raise ValueError(
                    f"crop {crop} is larger than a sample "
                    f"({h * finest}x{w * finest} on the finest grid)"
                )

    def _base_shape(self, sample: dict[str, torch.Tensor]) -> tuple[int, int]:
        """Height and width of a sample on the base grid."""
        key = next(iter(sample))
        h, w = sample[key].shape[-2:]
        return h // self.scale[key], w // self.scale[key]

    def set_epoch(self, epoch: int) -> None:
        """New crops for a new epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length if self.length is not None else len(self.samples) * self.repeats

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = windows.rng(self.seed, self.epoch, index)
        if self.length is not None:
            which = int(rng.integers(len(self.samples)))
        else:
            which = index % len(self.samples)
        sample = self.samples[which]
        h, w = self._base_shape(sample)
        a, c = self.align, self.base_crop
        top, left = windows.random_window((h, w), c, rng, a)
        k, flip_h, flip_v = windows.draw_turn(rng, self.augment)
        out = {}
        for key, value in sample.items():
            f = self.scale[key]
            x = value[..., top * f : (top + c) * f, left * f : (left + c) * f]
            out[key] = windows.turn(x, k, flip_h, flip_v).contiguous()
        if self.ids is not None:
            out["id"] = self.ids[which]
        return out


def load(dataset: Any, keys: Sequence[str] | None = None) -> list[dict[str, torch.Tensor]]:
    """Every sample of a dataset, read once (only ``keys`` when given)."""
    return [
        {k: v for k, v in dataset[i].items() if not keys or k in keys} for i in range(len(dataset))
    ]


def for_landcover(
    patches: Any, crop: int, samples: int, augment: bool = True, seed: int = 0, align: int = 1
) -> Crops:
    """``samples`` crops per epoch from random patches (image, mask, coarse) of a land-cover
    dataset (e.g. ``datasets.DFC2020``), with quarter turns and flips (notebooks 03, 04)."""
    return Crops(
        load(patches),
        crop,
        length=samples,
        augment="rot90+flip" if augment else None,
        align=align,
        seed=seed,
    )


def for_gan(
    samples: Sequence[dict[str, Any]],
    crop: int,
    keys: Sequence[str] = ("image", "mask", "coarse"),
    augment: bool = True,
    seed: int = 0,
) -> Crops:
    """One crop per sample and epoch, with flips (pix2pix, notebook 05)."""
    return Crops(samples, crop, keys=keys, augment="flips" if augment else None, seed=seed)


def for_ntl(dataset: Any, crop: int, repeats: int = 1, seed: int = 0) -> Crops:
    """Night-light crops: every patch ``repeats`` times per epoch, the coarse ``low_res`` and the
    fine grids cropped over the same ground (``crop`` in fine pixels, a multiple of the ratio)."""
    samples = load(dataset, NTL_KEYS)
    ratio = samples[0]["high_res"].shape[-1] // samples[0]["low_res"].shape[-1]
    scale = {k: 1 if k == "low_res" else ratio for k in NTL_KEYS}
    return Crops(
        samples,
        crop,
        keys=NTL_KEYS,
        scale=scale,
        repeats=repeats,
        augment="rot90+flip:int",
        seed=seed,
        ids=dataset.ids() if hasattr(dataset, "ids") else range(len(dataset)),
    )


class ResidentBatches:
    """Batches of random crops drawn from patches held as tensors on the training device.

    A drop-in for ``DataLoader(Crops(...), batch_size, shuffle=True)`` in the training loops: every
    key is stacked once into one ``(N, ..., H, W)`` tensor on ``device``, and each step cuts its
    crops by slicing, flips and quarter turns as tensor ops, so no step touches a file, numpy or a
    worker. Positions and flips come from a CPU generator seeded by ``(seed, epoch)`` (call
    :meth:`set_epoch`), so a run and a resumed run see the same batches.

    - ``batches``: steps per epoch (default: one crop per patch, ``ceil(N / batch)`` batches).
    - ``augment``: ``"flips"`` (pix2pix) or ``"rot90+flip"`` (land cover) or ``None``.
    """

    def __init__(
        self,
        samples: Sequence[dict[str, Any]],
        crop: int,
        batch: int,
        *,
        keys: Sequence[str] = ("image", "mask", "coarse"),
        batches: int | None = None,
        augment: str | None = "flips",
        seed: int = 0,
        device: torch.device | str | None = None,
    ) -> None:
        windows.check_augment(augment)
        if not samples:
            raise ValueError("no patches to crop from")
        self.data = {k: torch.stack([s[k] for s in samples]).to(device) for k in keys}
        side = min(next(iter(self.data.values())).shape[-2:])
        if crop > side:
            raise ValueError(f"crop {crop} is larger than a patch ({side} px)")
        self.crop, self.batch, self.augment, self.seed, self.epoch = crop, batch, augment, seed, 0
        self.batches = batches if batches is not None else -(-len(samples) // batch)

    def set_epoch(self, epoch: int) -> None:
        """New crops for a new epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.batches

    def __iter__(self) -> Any:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        first = next(iter(self.data.values()))
        n, (h, w) = first.shape[0], first.shape[-2:]
        for _ in range(self.batches):
            which = torch.randint(n, (self.batch,), generator=g).tolist()
            top = torch.randint(h - self.crop + 1, (self.batch,), generator=g).tolist()
            left = torch.randint(w - self.crop + 1, (self.batch,), generator=g).tolist()
            turns = windows.batch_turns(g, self.augment, self.batch)
            yield {
                key: torch.stack(
                    [
                        windows.turn(value[i, ..., t : t + self.crop, c : c + self.crop], *turn)
                        for i, t, c, turn in zip(which, top, left, turns)
                    ]
                )
                for key, value in self.data.items()
            }


def resident_gan(
    samples: Sequence[dict[str, Any]],
    crop: int,
    batch: int,
    seed: int = 0,
    device: torch.device | str | None = None,
    batches: int | None = None,
) -> ResidentBatches:
    """notebook 05's feeding: pix2pix crops with flips, held on the training device."""
    return ResidentBatches(samples, crop, batch, batches=batches, seed=seed, device=device)

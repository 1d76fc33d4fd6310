"""In-memory crop datasets: patches read once, served as random crops (and flips/rotations).

Small training sets (the sample scene) are read from disk once; every epoch draws new crops that
depend only on ``(seed, epoch, index)``, so runs and resumed runs see the same data. The training
loops call ``set_epoch``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


class RandomCrops:
    """A map-style dataset of ``samples`` random crops (+ rot90/flip) from patches held in memory.

    ``patches``: a dataset of full patch dicts (e.g. ``helpers.datasets.DFC2020(crop=None)``); its
    tensors are loaded once. Crops depend only on ``(seed, epoch, index)``, so runs and resumed runs
    see the same data; :func:`fit` calls :meth:`set_epoch`. Keys with a leading channel axis
    (``image``) and label maps (``mask``, ``coarse``) are cropped together.
    """

    def __init__(
        self,
        patches: Any,
        crop: int,
        samples: int,
        augment: bool = True,
        seed: int = 0,
        align: int = 1,
    ) -> None:
        self.items = [
            {k: v for k, v in patches[i].items() if isinstance(v, torch.Tensor)}
            for i in range(len(patches))
        ]
        if not self.items:
            raise ValueError("no patches to crop from")
        h, w = self.items[0]["image"].shape[-2:]
        if crop > min(h, w):
            raise ValueError(f"crop {crop} is larger than the patches ({h}x{w})")
        self.crop, self.samples, self.augment, self.seed, self.align = (
            crop,
            samples,
            augment,
            seed,
            align,
        )
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """New crops for a new epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.samples

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        item = self.items[int(rng.integers(len(self.items)))]
        h, w = item["image"].shape[-2:]
        r = int(rng.integers(0, (h - self.crop) // self.align + 1)) * self.align
        c = int(rng.integers(0, (w - self.crop) // self.align + 1)) * self.align
        k, flip = int(rng.integers(4)) if self.augment else 0, self.augment and rng.random() < 0.5
        out = {}
        for key, v in item.items():
            v = v[..., r : r + self.crop, c : c + self.crop].rot90(k, dims=(-2, -1))
            out[key] = (v.flip(-1) if flip else v).contiguous()
        return out


class MemoryCrops:
    """Random crops (and flips) of samples held in memory: a map-style dataset for :func:`fit_gan`.

    The teaching runs train on a handful of patches for many steps; reading them once keeps the
    loop busy with the networks instead of with GeoTIFFs. ``set_epoch`` changes the crops.
    """

    def __init__(
        self,
        samples: list[dict[str, Any]],
        crop: int,
        keys: tuple[str, ...] = ("image", "mask", "coarse"),
        augment: bool = True,
        seed: int = 0,
    ) -> None:
        self.samples = [{k: s[k] for k in keys if k in s} for s in samples]
        self.crop, self.augment, self.seed, self.epoch = crop, augment, seed, 0
        small = [s for s in self.samples if min(next(iter(s.values())).shape[-2:]) < crop]
        if small:
            raise ValueError(
                f"crop {crop} is larger than a sample ({next(iter(small[0].values())).shape})"
            )

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        """New random crops and flips for a new epoch (deterministic given the seed)."""
        self.epoch = int(epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng((self.seed, self.epoch, index))
        sample = self.samples[index]
        h, w = next(iter(sample.values())).shape[-2:]
        r, c = int(rng.integers(0, h - self.crop + 1)), int(rng.integers(0, w - self.crop + 1))
        flip_h, flip_v = self.augment and rng.random() < 0.5, self.augment and rng.random() < 0.5
        out = {}
        for key, value in sample.items():
            x = value[..., r : r + self.crop, c : c + self.crop]
            if flip_h:
                x = torch.flip(x, dims=(-1,))
            if flip_v:
                x = torch.flip(x, dims=(-2,))
            out[key] = x.contiguous()
        return out


class CachedCrops(torch.utils.data.Dataset):
    """A small NTL split held in memory, served as random crops with flips/rotations.

    Reading each patch from disk once makes training on tiny sets (the sample scene) fast;
    ``repeats`` makes one epoch visit every patch that many times. Crops are deterministic given
    ``seed`` and the epoch (:meth:`set_epoch`, called by :func:`helpers.train.fit`).
    """

    KEYS = ("low_res", "high_res", "dmo", "dem", "isp")

    def __init__(self, dataset: Any, crop: int, repeats: int = 1, seed: int = 0) -> None:
        self.samples = [{k: dataset[i][k] for k in self.KEYS} for i in range(len(dataset))]
        self.ratio = self.samples[0]["high_res"].shape[-1] // self.samples[0]["low_res"].shape[-1]
        if crop % self.ratio:
            raise ValueError(f"crop {crop} must be a multiple of the ratio {self.ratio}.")
        self.crop, self.repeats, self.seed, self.epoch = crop, repeats, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """New crops for a new epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.samples) * self.repeats

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        s = self.samples[index % len(self.samples)]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        r, c = self.ratio, self.crop // self.ratio
        h, w = s["low_res"].shape[-2:]
        top, left = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
        out = {}
        for k in self.KEYS:
            f = 1 if k == "low_res" else r
            out[k] = s[k][..., top * f : (top + c) * f, left * f : (left + c) * f]
        k90, flip = int(rng.integers(0, 4)), bool(rng.integers(0, 2))
        for k in self.KEYS:
            x = torch.rot90(out[k], k90, dims=(-2, -1))
            out[k] = (torch.flip(x, dims=(-1,)) if flip else x).contiguous()
        return out

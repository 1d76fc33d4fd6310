"""helpers.data.crops: one crop dataset for land cover, pix2pix and night lights.

The three classes it replaced (``train.RandomCrops``, ``train.MemoryCrops``,
``ntl_sr.CachedCrops``) are kept below, verbatim, as references: the new dataset must give the
very same crops for the same seed, epoch and index, so that every recorded result reproduces.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from helpers.data import crops


def _same(a: dict, b: dict) -> None:
    a = {k: v for k, v in a.items() if k != "id"}  # the sample's name (for error messages) only
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _land_patches(n: int = 3, side: int = 24) -> list[dict[str, Any]]:
    g = torch.Generator().manual_seed(0)
    return [
        {
            "image": torch.rand(4, side, side, generator=g),
            "mask": torch.randint(0, 8, (side, side), generator=g),
            "coarse": torch.randint(0, 8, (side, side), generator=g),
            "id": f"p{i}",
        }
        for i in range(n)
    ]


def _ntl_patches(n: int = 3) -> list[dict[str, Any]]:
    g = torch.Generator().manual_seed(1)
    return [
        {
            "low_res": torch.rand(1, 6, 6, generator=g) * 63,
            "high_res": torch.rand(1, 48, 48, generator=g),
            "dmo": torch.rand(7, 48, 48, generator=g),
            "dem": torch.rand(1, 48, 48, generator=g),
            "isp": (torch.rand(1, 48, 48, generator=g) > 0.5).float(),
            "id": f"n{i}",
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("augment,align", [(True, 1), (False, 1), (True, 4)])
def test_land_cover_crops_equal_the_former_random_crops(augment, align):
    patches = _land_patches()
    old = OldRandomCrops(patches, crop=16, samples=10, augment=augment, seed=3, align=align)
    new = crops.for_landcover(patches, crop=16, samples=10, augment=augment, seed=3, align=align)
    assert len(new) == len(old) == 10
    for epoch in range(3):
        old.set_epoch(epoch)
        new.set_epoch(epoch)
        for i in range(10):
            _same(new[i], old[i])


def test_gan_crops_equal_the_former_memory_crops():
    patches = _land_patches(4)
    old = OldMemoryCrops(patches, crop=12, seed=5)
    new = crops.for_gan(patches, crop=12, seed=5)
    assert len(new) == len(old) == 4 and "id" not in new[0]
    for epoch in range(4):
        old.set_epoch(epoch)
        new.set_epoch(epoch)
        for i in range(4):
            _same(new[i], old[i])


def test_ntl_crops_equal_the_former_cached_crops():
    patches = _ntl_patches()
    old = OldCachedCrops(patches, crop=16, repeats=4, seed=7)
    new = crops.for_ntl(patches, crop=16, repeats=4, seed=7)
    assert len(new) == len(old) == 12
    for epoch in range(3):
        old.set_epoch(epoch)
        new.set_epoch(epoch)
        for i in range(12):
            _same(new[i], old[i])
    a = new[5]
    assert a["low_res"].shape[-1] * 8 == a["high_res"].shape[-1] == 16


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="multiple"):
        crops.for_ntl(_ntl_patches(), crop=12)
    with pytest.raises(ValueError, match="larger"):
        crops.for_landcover(_land_patches(), crop=32, samples=2)
    with pytest.raises(ValueError, match="augment"):
        crops.Crops(_land_patches(), 8, augment="twirl")
    with pytest.raises(ValueError, match="no patches"):
        crops.Crops([], 8)


# ---- the former classes, verbatim (references) ----


class OldRandomCrops:
    """A map-style dataset of ``samples`` random crops (+ rot90/flip) from patches held in memory.

    ``patches``: a dataset of full patch dicts (e.g. ``helpers.data.datasets.DFC2020(crop=None)``); its
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


class OldMemoryCrops:
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


class OldCachedCrops(torch.utils.data.Dataset):
    """A small NTL split held in memory, served as random crops with flips/rotations.

    Reading each patch from disk once makes training on tiny sets (the sample scene) fast;
    ``repeats`` makes one epoch visit every patch that many times. Crops are deterministic given
    ``seed`` and the epoch (:meth:`set_epoch`, called by :func:`helpers.training.train.fit`).
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

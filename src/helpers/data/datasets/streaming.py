"""Streaming datasets for data larger than memory: window reads from disk, sharded per rank.

:class:`Streaming` wraps any of the kit's readers (``datasets.SEN12MS``, ``datasets.DFC2020``,
``datasets.NTL``, ``datasets.Scene``; with ``crop=`` they read only their window of each file) as a
torch ``IterableDataset``:

- **per rank**: each rank of a distributed run gets its own shard of the sample indices, shuffled
  by ``seed`` + epoch the same way on every rank (padded by wrapping, as ``DistributedSampler``
  does, so every rank yields the same number of samples and no rank waits on the others);
- **per worker**: a DataLoader worker takes every ``num_workers``-th index of its rank's shard,
  and :func:`worker_init` enters one rasterio environment per worker process (:data:`GDAL_ENV`).
  The readers keep no file open between reads (each read opens and closes its files), so nothing
  open is copied into forked workers; their file-header caches fill per process;
- **per epoch**: ``set_epoch`` (called by ``train.fit``) writes the epoch into shared memory, so
  ``persistent_workers`` see it and draw new shuffles, crops and flips.

:func:`loader` builds the DataLoader (``num_workers``, ``persistent_workers``, ``pin_memory``,
``prefetch_factor``). The in-memory crops (:mod:`helpers.data.crops`) stay for teaching: small data,
read once. :func:`write_demo_patches` writes a folder of small SEN12MS-layout patches for tests and
``eosr bench``.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

# One rasterio/GDAL environment per worker process. EMPTY_DIR: an open does not list the file's
# folder looking for side-car files (slow in folders of many thousand patches); GDAL_CACHEMAX
# (MB): GDAL's block cache per process stays bounded.
GDAL_ENV: dict[str, Any] = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "GDAL_CACHEMAX": 64}
_ENV: dict[int, Any] = {}  # process id -> the rasterio.Env entered in that process


def enter_env() -> None:
    """Enter this process's rasterio environment once (a forked worker enters its own)."""
    if os.getpid() in _ENV:
        return
    import rasterio

    env = rasterio.Env(**GDAL_ENV)
    env.__enter__()
    _ENV[os.getpid()] = env


def worker_init(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: one rasterio environment per worker process."""
    enter_env()


def rank_and_world(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """``(rank, world_size)``: the arguments, else torch.distributed's when it is running, else
    ``(0, 1)``; out-of-range values raise."""
    dist = torch.distributed
    running = dist.is_available() and dist.is_initialized()
    if world_size is None:
        world_size = dist.get_world_size() if running else 1
    if rank is None:
        rank = dist.get_rank() if running else 0
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} / world_size {world_size}: need 0 <= rank < world_size.")
    return int(rank), int(world_size)


def shard(
    items: Sequence[Any],
    rank: int,
    world_size: int,
    seed: int = 0,
    epoch: int = 0,
    shuffle: bool = True,
) -> list[Any]:
    """This rank's share of ``items``: the same seed+epoch permutation on every rank, wrapped to
    a multiple of ``world_size``, then every ``world_size``-th item from ``rank`` on."""
    n = len(items)
    if n == 0:
        return []
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    padded = np.resize(order, math.ceil(n / world_size) * world_size)
    return [items[int(i)] for i in padded[rank::world_size]]


class Streaming(IterableDataset):
    """A reader's samples streamed from disk: this rank's shard, split among DataLoader workers."""

    def __init__(
        self,
        reader: Any,
        *,
        rank: int | None = None,
        world_size: int | None = None,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        if not len(reader):
            raise ValueError(f"{reader!r}: no samples to stream.")
        self.reader, self.seed, self.shuffle = reader, seed, shuffle
        self.rank, self.world_size = rank_and_world(rank, world_size)
        self._epoch = multiprocessing.RawValue("q", 0)  # shared with (persistent) workers

    @property
    def epoch(self) -> int:
        """The epoch the next iteration uses."""
        return int(self._epoch.value)

    def set_epoch(self, epoch: int) -> None:
        """New shuffle, crops and flips for ``epoch`` (seen by persistent workers too)."""
        self._epoch.value = int(epoch)

    def indices(self, epoch: int | None = None) -> list[int]:
        """The sample indices this rank reads in ``epoch`` (all its workers together)."""
        epoch = self.epoch if epoch is None else epoch
        n = len(self.reader)
        return shard(range(n), self.rank, self.world_size, self.seed, epoch, self.shuffle)

    def __len__(self) -> int:
        return math.ceil(len(self.reader) / self.world_size)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        enter_env()
        epoch = self.epoch
        if hasattr(self.reader, "set_epoch"):
            self.reader.set_epoch(epoch)
        mine = self.indices(epoch)
        worker = torch.utils.data.get_worker_info()
        if worker is not None:
            mine = mine[worker.id :: worker.num_workers]
        for index in mine:
            yield self.reader[index]

    def __repr__(self) -> str:
        return (
            f"Streaming({self.reader!r}, rank {self.rank}/{self.world_size}, "
            f"{len(self)} samples per epoch on this rank)"
        )


def loader(
    dataset: Streaming,
    batch_size: int,
    num_workers: int = 2,
    *,
    pin_memory: bool | None = None,
    persistent_workers: bool = True,
    prefetch_factor: int = 2,
    drop_last: bool = True,
) -> DataLoader:
    """A DataLoader over a :class:`Streaming` dataset: ``num_workers`` processes, each with its own
    rasterio environment, ``prefetch_factor`` batches ahead per worker; ``pin_memory`` defaults to
    on when CUDA is available."""
    kwargs: dict[str, Any] = {
        "batch_size": batch_size,
        "num_workers": num_workers,
        "drop_last": drop_last,
        "worker_init_fn": worker_init,
        "pin_memory": torch.cuda.is_available() if pin_memory is None else pin_memory,
    }
    if num_workers > 0:
        kwargs.update(persistent_workers=persistent_workers, prefetch_factor=prefetch_factor)
    return DataLoader(dataset, **kwargs)


def write_demo_patches(root: str | os.PathLike, count: int, size: int = 32, seed: int = 0) -> Path:
    """Write ``count`` small SEN12MS-layout patches (S2 13 bands uint16 + lc 4 bands, random
    values) under ``root/SEN12MS`` for tests and the benchmark, through the sample scene's writer
    (:func:`helpers.data.layouts.write_patch_layout`); returns that folder. A folder that already
    holds all ``count`` patches is kept as it is."""
    from affine import Affine

    from ...core.bands import S2_BANDS
    from ...io import rasters
    from ..layouts import LC_LAYERS, SEASONS, patch_path, write_patch_layout

    out, roi = Path(root) / "SEN12MS", SEASONS[0]
    if all(patch_path(out, roi, "1", i, m).exists() for i in range(count) for m in ("s2", "lc")):
        return out
    rng = np.random.default_rng(seed)
    s2 = rng.integers(200, 4000, (13, size, size * count)).astype(np.uint16)
    igbp = rng.choice(np.array([1, 5, 10, 13, 16], np.uint8), (size, size * count))
    lc = np.stack([igbp] + [np.ones_like(igbp)] * 3)
    crs, transform = rasters.utm_crs_for(15.0, 48.0), Affine(10.0, 0, 500000.0, 0, -10.0, 5300000.0)
    layers = {
        "s2": rasters.Raster(s2, crs, transform, descriptions=S2_BANDS),
        "lc": rasters.Raster(lc, crs, transform, descriptions=LC_LAYERS),
    }
    write_patch_layout(layers, out, roi, "1", patch=size, first=0)
    return out

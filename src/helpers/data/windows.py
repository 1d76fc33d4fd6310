"""One window sampler: random windows, grids of windows and the augmentations, with one set of names.

Every training sample in the kit is a window of a larger raster, drawn here:

- **random windows** (:func:`random_window`) from a generator seeded by the seed, the epoch and the
  sample index (:func:`rng`), so a run, a resumed run and every DataLoader worker draw the same
  crops. The readers (``helpers.data.datasets``), :class:`helpers.data.datasets.Scene` (and so the streaming
  datasets of :mod:`helpers.data.datasets.streaming`) and :class:`helpers.data.crops.Crops` draw through it;
- **grids of windows** (:func:`grid_starts`, :func:`tile_grid`, :func:`blend_window`): the
  evaluation tiles of ``Scene`` and the tiles of whole-scene inference (:mod:`helpers.training.inference`);
- **augmentations** (:data:`AUGMENTS`): quarter turns and flips, drawn (:func:`draw_turn`,
  :func:`batch_turns`) and applied (:func:`turn`, :func:`augment`) to numpy arrays and torch
  tensors alike.

The draws keep the orders each caller used before they shared this module (the readers seed by
``(seed, index, epoch)``, ``Crops`` and ``Scene`` by ``(seed, epoch, index)``), so every recorded
result reproduces with the same seed (``tests/test_same_crops.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

# How each augmentation draws its random numbers, in order (one name per augmentation, kit-wide).
AUGMENTS = {
    None: "none",
    "rot90+flip": "k = integers(4); flip = random() < 0.5",  # readers, Scene, land cover (03, 04)
    "flips": "flip_h = random() < 0.5; flip_v = random() < 0.5",  # pix2pix (05)
    "rot90+flip:int": "k = integers(0, 4); flip = integers(0, 2) == 1",  # night lights (08, 09)
}


def check_augment(augment: str | None) -> str | None:
    """``augment`` itself when it names one of :data:`AUGMENTS`, else a ``ValueError`` listing them."""
    if augment not in AUGMENTS:
        raise ValueError(f"augment must be one of {list(AUGMENTS)}, got {augment!r}")
    return augment


# ---- random windows ----


def rng(
    seed: int, epoch: int, index: int, *stream: int, index_first: bool = False
) -> np.random.Generator:
    """The generator of one sample's window and turn: seeded by ``(seed, epoch, index, *stream)``
    (``index_first``: ``(seed, index, epoch)``, the file readers' order since their first run)."""
    key = [seed, index, epoch] if index_first else [seed, epoch, index]
    return np.random.default_rng([*key, *stream])


def random_window(
    shape: tuple[int, int],
    crop: int,
    generator: np.random.Generator,
    align: int = 1,
    where: object = "patch",
) -> tuple[int, int]:
    """``(row, col)`` of a random ``crop`` x ``crop`` window inside ``shape`` (offsets multiples of
    ``align``; row drawn first); a crop larger than ``shape`` raises naming ``where``."""
    from .normalise import DatasetError

    h, w = shape
    if crop > h or crop > w:
        raise DatasetError(
            f"{where}: crop {crop} is larger than the patch ({h}x{w}); choose a smaller crop."
        )
    row = int(generator.integers(0, (h - crop) // align + 1)) * align
    col = int(generator.integers(0, (w - crop) // align + 1)) * align
    return row, col


# ---- grids of windows ----


@dataclass(frozen=True)
class Tile:
    """One tile: where it is read (``row``, ``col``, ``height``, ``width``) in the full image."""

    row: int
    col: int
    height: int
    width: int


def grid_starts(n: int, tile: int, step: int) -> list[int]:
    """Starts of tiles of side ``tile`` every ``step`` pixels over ``n`` pixels, the last one
    shifted inwards so that every tile is whole (``[0]`` when ``n <= tile``)."""
    if n <= tile:
        return [0]
    out = list(range(0, n - tile + 1, step))
    if out[-1] + tile < n:
        out.append(n - tile)
    return out


def tile_grid(height: int, width: int, tile: int, overlap: int = 0) -> list[Tile]:
    """Tiles of side ``tile`` with ``overlap`` pixels shared by neighbours, covering the image
    (row by row); every tile is full-size when the image is at least one tile large."""
    if tile <= overlap:
        raise ValueError(f"tile ({tile}) must be larger than overlap ({overlap}).")
    step = tile - overlap
    return [
        Tile(r, c, min(tile, height), min(tile, width))
        for r in grid_starts(height, tile, step)
        for c in grid_starts(width, tile, step)
    ]


def blend_window(height: int, width: int, overlap: int) -> np.ndarray:
    """A weight window that ramps linearly over ``overlap`` pixels at each edge (for blending)."""

    def ramp(n: int) -> np.ndarray:
        w = np.ones(n, dtype=np.float32)
        if overlap > 0:
            r = np.linspace(1.0 / (overlap + 1), 1.0, overlap, dtype=np.float32)
            k = min(overlap, n // 2)
            w[:k] = r[:k]
            w[n - k :] = r[:k][::-1]
        return w

    return np.outer(ramp(height), ramp(width))


# ---- augmentations ----


def draw_turn(
    generator: np.random.Generator, augment: str | None, square: bool = True
) -> tuple[int, bool, bool]:
    """``(quarter turns, flip left-right, flip up-down)`` drawn as :data:`AUGMENTS` says
    (``square=False``: an odd quarter turn becomes the even one below, the shape is kept)."""
    if augment == "rot90+flip":
        k = int(generator.integers(4))
        return (k if square else (k // 2) * 2), bool(generator.random() < 0.5), False
    if augment == "flips":
        return 0, bool(generator.random() < 0.5), bool(generator.random() < 0.5)
    if augment == "rot90+flip:int":
        return int(generator.integers(0, 4)), bool(generator.integers(0, 2)), False
    check_augment(augment)
    return 0, False, False


def batch_turns(generator: Any, augment: str | None, batch: int) -> list[tuple[int, bool, bool]]:
    """:func:`draw_turn` for a batch from a torch ``Generator`` (resident batches on a device):
    three coin flips and one quarter turn per crop, drawn for the whole batch at once."""
    import torch

    draws = torch.randint(2, (batch, 3), generator=generator).tolist()
    quarters = torch.randint(4, (batch,), generator=generator).tolist()
    if augment == "flips":
        return [(0, bool(a), bool(b)) for a, b, _ in draws]
    if augment is None:
        return [(0, False, False)] * batch
    return [(k, bool(a), False) for k, (a, _, _) in zip(quarters, draws)]


def turn(x: Any, k: int, flip_h: bool, flip_v: bool) -> Any:
    """Rotate by ``k`` quarter turns, then flip, over the last two axes (numpy array or tensor)."""
    if isinstance(x, np.ndarray):
        x = np.rot90(x, k, axes=(-2, -1)) if k else x
        x = np.flip(x, axis=-1) if flip_h else x
        return np.flip(x, axis=-2) if flip_v else x
    x = x.rot90(k, dims=(-2, -1)) if k else x
    x = x.flip(-1) if flip_h else x
    return x.flip(-2) if flip_v else x


def augment(
    arrays: Mapping[str, np.ndarray], generator: np.random.Generator, name: str = "rot90+flip"
) -> dict[str, np.ndarray]:
    """One random turn (:func:`draw_turn`, square from the first array) applied to every array of
    a sample, each returned contiguous."""
    first = next(iter(arrays.values()))
    k, flip_h, flip_v = draw_turn(generator, name, first.shape[-1] == first.shape[-2])
    return {key: np.ascontiguousarray(turn(a, k, flip_h, flip_v)) for key, a in arrays.items()}

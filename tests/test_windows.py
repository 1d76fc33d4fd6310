"""helpers.data.windows, the one window sampler: windows inside the raster, tiles that cover it and
blend back exactly (through the inference engine), turns alike on arrays and tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.data import windows
from helpers.data.normalise import DatasetError
from helpers.training import inference


@pytest.mark.parametrize(
    "shape,tile,overlap", [((100, 70), 32, 8), ((64, 64), 64, 0), ((20, 90), 32, 4)]
)
def test_tiles_cover_and_the_engine_reassembles_exactly(shape, tile, overlap):
    image = np.random.default_rng(1).random((3, *shape)).astype(np.float32)
    tiles = windows.tile_grid(*shape, tile, overlap)
    cover = np.zeros(shape, int)
    for t in tiles:
        cover[t.row : t.row + t.height, t.col : t.col + t.width] += 1
    assert cover.min() >= 1 and all(t.height == min(tile, shape[0]) for t in tiles)

    def cut(batch):
        return [image[:, t.row : t.row + t.height, t.col : t.col + t.width] for t in batch]

    out = inference.ArrayOutput(*shape)
    back = inference.run_tiles(cut, *shape, tile, overlap, out, batch_size=3, progress=False)
    assert np.allclose(back, image, atol=1e-6)
    with pytest.raises(ValueError, match="larger than overlap"):
        windows.tile_grid(*shape, 8, 8)


def test_random_windows_stay_inside_and_on_the_alignment():
    rng = windows.rng(3, 1, 7)
    for _ in range(50):
        row, col = windows.random_window((40, 24), 16, rng, align=8)
        assert row % 8 == 0 and col % 8 == 0 and row + 16 <= 40 and col + 16 <= 24
    with pytest.raises(DatasetError, match="p.tif: crop 32 is larger than the patch"):
        windows.random_window((16, 40), 32, rng, where="p.tif")
    a, b = windows.rng(1, 2, 3), windows.rng(1, 3, 2, index_first=True)
    assert a.integers(1 << 30) == b.integers(1 << 30)  # the same key, in the readers' order


@pytest.mark.parametrize("name", [n for n in windows.AUGMENTS if n])
def test_turns_are_the_same_on_arrays_and_tensors(name):
    x = np.arange(2 * 5 * 5, dtype=np.float32).reshape(2, 5, 5)
    seen = set()
    for seed in range(24):
        k, flip_h, flip_v = windows.draw_turn(windows.rng(seed, 0, 0), name)
        seen.add((k, flip_h, flip_v))
        arr = windows.turn(x, k, flip_h, flip_v)
        ten = windows.turn(torch.from_numpy(x), k, flip_h, flip_v)
        assert np.array_equal(arr, ten.numpy())
    assert len(seen) > 2  # the draws vary


def test_augment_keeps_a_non_square_shape_and_every_key_together():
    arrays = {"image": np.random.default_rng(0).random((3, 4, 6)), "mask": np.zeros((4, 6))}
    arrays["mask"][0, 0] = 1
    for seed in range(12):
        out = windows.augment(arrays, windows.rng(seed, 0, 0))
        assert out["image"].shape == (3, 4, 6) and out["mask"].shape == (4, 6)
        corner = np.argwhere(out["mask"] == 1)[0]
        assert out["image"][0][tuple(corner)] == arrays["image"][0, 0, 0]
    with pytest.raises(ValueError, match="augment must be one of"):
        windows.check_augment("rot45")

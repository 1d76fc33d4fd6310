"""The same seed gives the same crops: every reader, ``Scene``, ``Crops``, ``ResidentBatches`` and the
inference tiles, digested on fixed seeds. The digests were recorded from the code before the window
sampler was shared (helpers.data.windows); a change of any crop, flip, rotation or tile shows up here.
A digest is a hash of the pixels served (keys sorted), not a metric."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from helpers.data import crops, datasets
from helpers.data.datasets import scene
from tests import fakes


def digest(samples: list[dict[str, Any]]) -> str:
    """16 hex digits of a hash over every tensor/array of every sample (keys sorted)."""
    h = hashlib.sha256()
    for s in samples:
        for key in sorted(k for k in s if k != "path"):  # the folder differs per run
            v = s[key]
            if isinstance(v, torch.Tensor):
                v = v.numpy()
            if isinstance(v, np.ndarray):
                h.update(key.encode() + str(v.shape).encode() + np.ascontiguousarray(v).tobytes())
            else:
                h.update(f"{key}={v}".encode())
    return h.hexdigest()[:16]


def _epochs(reader: Any, epochs: tuple[int, ...] = (0, 1, 5)) -> list[dict[str, Any]]:
    out = []
    for e in epochs:
        reader.set_epoch(e)
        out += [reader[i] for i in range(len(reader))]
    return out


def _tensors(n: int = 3, side: int = 24) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [
        {
            "image": torch.rand((4, side, side), generator=g),
            "mask": torch.randint(0, 8, (side, side), generator=g),
            "coarse": torch.randint(0, 8, (side, side), generator=g),
        }
        for _ in range(n)
    ]


def _ntl_tensors(n: int = 3) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [
        {
            "low_res": torch.rand((1, 4, 4), generator=g),
            "high_res": torch.rand((1, 32, 32), generator=g),
            "dmo": torch.rand((7, 32, 32), generator=g),
            "dem": torch.rand((1, 32, 32), generator=g),
            "isp": torch.rand((1, 32, 32), generator=g),
        }
        for _ in range(n)
    ]


def _readers(root: Path) -> dict[str, Any]:
    """Every reader with random crops and flips on fixed seeds."""
    fakes.sen12ms(root / "SEN12MS")
    fakes.dfc2020(root / "DFC2020")
    for i in "abc":
        fakes.ntl_patch(root / "NTL", ident=i, size=32, ratio=8)
    fakes.ntl_patch(root / "NTL", ident="wide", size=32, ratio=8)
    folder = fakes.scene_folder(root / "scene", size=48)
    classes = {"forest": 1, "water": 10}
    return {
        "sen12ms": datasets.SEN12MS(root / "SEN12MS", crop=16, augment=True, seed=3),
        "sen12ms_plain": datasets.SEN12MS(root / "SEN12MS", crop=16, seed=4),
        "dfc2020": datasets.DFC2020(root / "DFC2020", crop=16, augment=True, seed=5),
        "ntl": datasets.NTL(root / "NTL", crop=16, augment=True, seed=6),
        "scene": scene.Scene(
            folder / "s2.tif",
            folder / "dfc.tif",
            classes=classes,
            crop=16,
            samples=6,
            augment=True,
            seed=7,
        ),  # fmt: skip
        "scene_west": scene.Scene(
            folder / "s2.tif",
            folder / "dfc.tif",
            classes=classes,
            split="west",
            crop=12,
            samples=5,
            seed=8,
        ),  # fmt: skip
        "scene_grid": scene.Scene(
            folder / "s2.tif",
            folder / "dfc.tif",
            classes=classes,
            split="blocks:test",
            block=16,
            tile=20,
        ),  # fmt: skip
    }


# Recorded from the code before the shared window sampler (same files, same seeds).
READERS = {
    "sen12ms": "bdea36efcad2d8dd",
    "sen12ms_plain": "be1d7ca92578961f",
    "dfc2020": "13636a8037398c42",
    "ntl": "29fe7e8334ea3789",
    "scene": "da601562bbdc4923",
    "scene_west": "df202692443b2ee1",
    "scene_grid": "8bde001349ad033c",
}
CROPS = {
    "landcover": "bacfd6da98d8dc61",
    "landcover_align": "ae56c4a276bd8a6d",
    "gan": "f7397a6dd4429f3c",
    "ntl": "5f12e6d4801607da",
    "resident_flips": "391c422193038657",
    "resident_rot90+flip": "6e7c1ecf39a9a132",
    "resident_None": "4998ad82ea83188a",
}
TILES = "3aa0763e42996d03"


def test_readers_serve_the_same_crops(tmp_path):
    got = {name: digest(_epochs(r)) for name, r in _readers(tmp_path).items()}
    assert got == READERS


def _crop_sets() -> dict[str, Any]:
    samples = _tensors()
    return {
        "landcover": crops.Crops(samples, 16, length=7, seed=2),
        "landcover_align": crops.Crops(samples, 16, length=5, align=4, seed=2, augment=None),
        "gan": crops.Crops(samples, 16, keys=("image", "mask"), augment="flips", seed=3),
        "ntl": crops.Crops(
            _ntl_tensors(),
            16,
            keys=crops.NTL_KEYS,
            repeats=2,
            augment="rot90+flip:int",
            seed=4,
            scale={k: 1 if k == "low_res" else 8 for k in crops.NTL_KEYS},
            ids=["a", "b", "c"],
        ),  # fmt: skip
    }


def _resident(augment: str | None) -> list[dict[str, Any]]:
    res = crops.ResidentBatches(_tensors(), 16, 2, batches=3, augment=augment, seed=9)
    out = []
    for e in (0, 2):
        res.set_epoch(e)
        out += list(res)
    return out


def test_crops_and_resident_batches_are_the_same(tmp_path):
    got = {name: digest(_epochs(c)) for name, c in _crop_sets().items()}
    for augment in ("flips", "rot90+flip", None):
        got[f"resident_{augment}"] = digest(_resident(augment))
    assert got == CROPS


def _tiles(tile_grid: Any) -> str:
    """Digest of the inference tiles (and their blend weights) of a few scene shapes."""
    from helpers.data import windows

    h = hashlib.sha256()
    for shape, tile, overlap in (((100, 70), 32, 8), ((64, 64), 64, 0), ((20, 90), 32, 4)):
        for t in tile_grid(*shape, tile, overlap):
            h.update(f"{t.row},{t.col},{t.height},{t.width};".encode())
            h.update(windows.blend_window(t.height, t.width, overlap).tobytes())
    return h.hexdigest()[:16]


def test_inference_tiles_keep_their_places():
    from helpers.data import windows

    assert _tiles(windows.tile_grid) == TILES

"""Streaming readers (helpers.data.datasets.streaming) and the reader speed-ups behind them (cached headers)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch

from helpers.data import datasets
from helpers.data.datasets import streaming
from helpers.io import rasters


@pytest.fixture(scope="module")
def patches(tmp_path_factory):
    """48 tiny SEN12MS-layout patches (the 1,000-patch measure is in `eosr bench`)."""
    return streaming.write_demo_patches(tmp_path_factory.mktemp("stream"), 48, size=32)


def test_shard_partitions_deterministically():
    items = list(range(10))
    shards = [streaming.shard(items, r, 3, seed=1, epoch=0) for r in range(3)]
    assert [len(s) for s in shards] == [4, 4, 4]  # padded by wrapping: ranks step together
    assert sorted(set(sum(shards, []))) == items
    assert shards == [streaming.shard(items, r, 3, seed=1, epoch=0) for r in range(3)]
    assert shards != [streaming.shard(items, r, 3, seed=1, epoch=1) for r in range(3)]
    even = [streaming.shard(list(range(8)), r, 2, seed=0) for r in range(2)]
    assert not set(even[0]) & set(even[1])
    assert streaming.shard(items, 0, 1, shuffle=False) == items


def test_rank_checked():
    with pytest.raises(ValueError, match="rank 2 / world_size 2"):
        streaming.rank_and_world(2, 2)
    assert streaming.rank_and_world() == (0, 1)


def _ids(loader):
    return [i for batch in loader for i in batch["id"]]


def test_workers_read_each_sample_once_and_see_the_epoch(patches):
    reader = datasets.SEN12MS(patches, crop=16, augment=True)
    data = streaming.Streaming(reader, seed=3)
    loader = streaming.loader(data, batch_size=4, num_workers=2, drop_last=False)
    assert loader.persistent_workers and loader.prefetch_factor == 2
    seen = []
    for epoch in range(2):
        data.set_epoch(epoch)
        ids = _ids(loader)
        assert sorted(ids) == sorted(reader.ids())  # every patch once per epoch
        assert set(ids) == {reader.ids()[i] for i in data.indices(epoch)}
        seen.append(ids)
    assert seen[0] != seen[1]  # the persistent workers got the new epoch's shuffle


def test_ranks_share_out_the_files(patches):
    reader = datasets.SEN12MS(patches)
    per_rank = [
        _ids(
            streaming.loader(
                streaming.Streaming(reader, rank=r, world_size=2, seed=0), 4, num_workers=0
            )
        )
        for r in range(2)
    ]
    assert len(per_rank[0]) == len(per_rank[1]) == 24
    assert not set(per_rank[0]) & set(per_rank[1])
    assert set(per_rank[0]) | set(per_rank[1]) == set(reader.ids())


def test_streamed_samples_equal_the_reader(patches):
    reader = datasets.SEN12MS(patches, crop=16)
    data = streaming.Streaming(reader, shuffle=False)
    first = next(iter(data))
    direct = reader[0]
    assert torch.equal(first["image"], direct["image"]) and torch.equal(
        first["mask"], direct["mask"]
    )


def test_one_epoch_trains_from_the_stream(patches):
    from helpers.models import unet
    from helpers.training import train

    loader = streaming.loader(
        streaming.Streaming(datasets.SEN12MS(patches, crop=16), seed=0), 8, num_workers=2
    )
    model = unet.UNet(4, 8, width=4, depth=2)
    before = [p.detach().clone() for p in model.parameters()]
    history = train.fit(
        model,
        loader,
        torch.nn.CrossEntropyLoss(ignore_index=255),
        epochs=1,
        progress=False,
        amp=False,
        recalibrate_bn=False,
    )
    assert len(history.train_loss) == 1 and np.isfinite(history.train_loss[0])
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_header_cache_sees_a_rewritten_file(tmp_path):
    """Checks stay on with cached headers: a partner rewritten on another grid is refused."""
    root = streaming.write_demo_patches(tmp_path, 2, size=32)
    reader = datasets.SEN12MS(root)
    reader[0]
    lc = reader.patches[0].path("lc")
    bad = rasters.read(lc)
    moved = bad.transform * bad.transform.translation(5, 0)
    time.sleep(0.01)
    rasters.write(lc, bad.data, bad.crs, moved)
    os.utime(lc, ns=(time.time_ns(), time.time_ns() + 10**9))
    with pytest.raises(rasters.RasterError, match="not on the same grid"):
        reader[0]


def test_header_cache_opens_a_file_once(tmp_path, monkeypatch):
    root = streaming.write_demo_patches(tmp_path, 1, size=32)
    path = datasets.SEN12MS(root).patches[0].path("s2")
    rasters.info(path)
    import rasterio

    opened = []
    real = rasterio.open
    monkeypatch.setattr(rasterio, "open", lambda *a, **k: opened.append(a) or real(*a, **k))
    for _ in range(3):
        assert rasters.grid_of(path)[2] == (32, 32)
    assert opened == []


def test_scene_reads_each_file_once_per_sample(tmp_path, monkeypatch):
    from helpers.data.datasets import scene

    root = streaming.write_demo_patches(tmp_path, 1, size=64)
    s2 = datasets.SEN12MS(root).patches[0].path("s2")
    sc = scene.Scene(s2, band_names=[f"X{i}" for i in range(13)], bands=["X3", "X1"], crop=32)
    calls = []
    real = scene.read_on_grid
    monkeypatch.setattr(scene, "read_on_grid", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    sample = sc[0]
    assert calls == [s2]
    r, c, h, w = sc.window_for(0)
    raw = rasters.read(s2).data[[3, 1], r : r + h, c : c + w]
    assert np.allclose(sample["image"].numpy(), np.clip(raw, 0, 10000) / 10000.0, atol=1e-6)


def test_bench_times_reader_and_floor_alternately():
    from helpers.apps import bench

    order = []
    a, b, cpu = bench._paired(
        lambda i: order.append(("a", i)), lambda i: order.append(("b", i)), 2, 3
    )
    assert order == [("a", 0), ("b", 0), ("a", 1), ("b", 1)] * 4  # one warm-up pass + 3
    assert set(a) == set(b) == {"min", "median", "max"} and cpu > 0


def test_bench_floor_reads_the_scene_crop_windows(tmp_path):
    from helpers.apps import bench
    from helpers.data.datasets import scene

    root = streaming.write_demo_patches(tmp_path, 1, size=64)
    s2 = datasets.SEN12MS(root).patches[0].path("s2")
    sc = scene.Scene(s2, band_names=[f"X{i}" for i in range(13)], crop=32, samples=3)
    files = bench._files_of(sc, 3)
    assert [f for f, _ in files] == [s2] * 3
    r, c, h, w = sc.window_for(1)
    win = files[1][1]
    assert (win.row_off, win.col_off, win.height, win.width) == (r, c, h, w)


def test_ntl_ratio_check_is_redone_when_a_file_changes(tmp_path):
    import shutil

    from helpers.data import synthetic

    src = synthetic.ensure_sample("smoke", verbose=False).ntl / "train"
    shutil.copytree(src, tmp_path / "train")
    data = datasets.NTL(tmp_path, split="train")
    ratio = data[0]["ratio"]
    assert data.ratio(0) == ratio  # kept: no file changed
    dmo = data._path("dmo", data.ids()[0])
    old = rasters.read(dmo)
    rasters.write(dmo, old.data, old.crs, old.transform * old.transform.translation(3, 0))
    os.utime(dmo, ns=(time.time_ns(), time.time_ns() + 10**9))
    with pytest.raises(rasters.RasterError, match="not on the same grid"):
        data[0]

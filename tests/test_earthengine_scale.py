"""Earth Engine at scale: parallel chunks, the high-volume endpoint, EE_PROJECT_ID, batch exports.

Earth Engine is never contacted: a fake fetcher or a fake ``ee`` module stands in for it.
"""

from __future__ import annotations

import sys
import threading
import time
import types

import numpy as np
import pytest

from helpers.data import earthengine as E
from helpers.data import earthengine_batch as B
from helpers.data import earthengine_specs as S
from helpers.io import rasters

from .test_earthengine import BBOX, fake_fetcher


def _small_limits(monkeypatch):
    monkeypatch.setitem(E.LIMITS, "computePixels", {"max_bytes": 4000, "max_side": 40})


class Gauge:
    """A fetcher wrapper that records how many calls run at the same time."""

    def __init__(self, fetch, delay=0.01):
        self.fetch, self.delay, self.now, self.peak, self.calls = fetch, delay, 0, 0, []
        self.lock = threading.Lock()

    def __call__(self, spec, grid):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.calls.append(grid.transform)
        time.sleep(self.delay)
        try:
            return self.fetch(spec, grid)
        finally:
            with self.lock:
                self.now -= 1


@pytest.mark.parametrize("concurrency", [1, 3])
def test_parallel_chunks_equal_the_serial_mosaic_and_stay_bounded(
    tmp_path, monkeypatch, concurrency
):
    _small_limits(monkeypatch)
    grid = S.grid_for_aoi(BBOX, 30)
    spec = S.LandsatSpec()
    chunks = E.plan_chunks(grid.shape, len(spec.bands), spec.dtype)
    assert len(chunks) > 6
    gauge = Gauge(fake_fetcher())
    out = E.export(
        spec, grid, tmp_path / "dmo.tif", fetcher=gauge, progress=False, concurrency=concurrency
    )
    assert len(gauge.calls) == len(chunks)  # one request per chunk, none repeated
    assert len(set(gauge.calls)) == len(chunks)
    assert gauge.peak == concurrency  # the pool is used, and never exceeds its bound
    expected = S.landsat_reflectance(fake_fetcher()(spec, grid))
    np.testing.assert_array_equal(rasters.read(out).data, expected)


def test_concurrency_is_checked_against_the_documented_quota():
    with pytest.raises(ValueError, match="1..40"):
        list(E.fetch_chunks([E.Chunk(0, 0, 1, 1)], lambda c: None, concurrency=41))
    with pytest.raises(ValueError):
        list(E.fetch_chunks([E.Chunk(0, 0, 1, 1)], lambda c: None, concurrency=0))


def test_parallel_chunks_keep_retrying_rate_limits(tmp_path, monkeypatch):
    _small_limits(monkeypatch)
    grid = S.grid_for_aoi(BBOX, 30)
    good, failed, sleeps = fake_fetcher(), set(), []

    def flaky(spec, g):  # every chunk is rate-limited once, then answers
        key = g.transform
        if key not in failed:
            failed.add(key)
            raise RuntimeError("HTTP 429: Too Many Requests")
        return good(spec, g)

    spec = S.LandsatSpec()
    out = E.export(
        spec,
        grid,
        tmp_path / "dmo.tif",
        fetcher=flaky,
        sleep=sleeps.append,
        progress=False,
        concurrency=4,
    )
    chunks = E.plan_chunks(grid.shape, len(spec.bands), spec.dtype)
    assert len(sleeps) == len(chunks)
    np.testing.assert_array_equal(rasters.read(out).data, S.landsat_reflectance(good(spec, grid)))


def test_a_failing_chunk_stops_the_pool_with_a_fix(tmp_path, monkeypatch):
    _small_limits(monkeypatch)
    grid = S.grid_for_aoi(BBOX, 30)
    calls = []

    def broken(spec, g):
        calls.append(1)
        time.sleep(0.01)
        raise RuntimeError("Image.select: Pattern 'nope' did not match any bands.")

    with pytest.raises(E.EarthEngineFetchError, match="LANDSAT.*Check the dataset"):
        E.export(
            S.LandsatSpec(), grid, tmp_path / "x.tif", fetcher=broken, progress=False, concurrency=2
        )
    chunks = E.plan_chunks(grid.shape, 7, "uint16")
    assert len(calls) < len(chunks)  # the queued requests were cancelled
    assert not (tmp_path / "x.tif").exists()


# ------------------------------------------------------------------ sign-in options


def _fake_ee(monkeypatch, seen):
    fake = types.ModuleType("ee")
    fake.data = types.SimpleNamespace(get_persistent_credentials=lambda: "creds")
    fake.Initialize = lambda **kw: seen.append(kw)
    monkeypatch.setitem(sys.modules, "ee", fake)


def test_high_volume_endpoint_is_an_option(monkeypatch):
    seen = []
    _fake_ee(monkeypatch, seen)
    assert E.connect(project="p").ok and "opt_url" not in seen[-1]
    assert E.connect(project="p", high_volume=True).ok
    assert seen[-1]["opt_url"] == "https://earthengine-highvolume.googleapis.com"
    assert seen[-1]["project"] == "p"


def test_geemap_project_secret_name_is_accepted(monkeypatch):
    monkeypatch.delenv("EE_PROJECT", raising=False)
    monkeypatch.setenv("EE_PROJECT_ID", "geemap-style")
    assert E.resolve_project() == "geemap-style"
    monkeypatch.setenv("EE_PROJECT", "kit-style")
    assert E.resolve_project() == "kit-style"  # the kit's own name first
    monkeypatch.delenv("EE_PROJECT")
    monkeypatch.delenv("EE_PROJECT_ID")
    from helpers.core import config

    secrets = {"EE_PROJECT_ID": "from-colab-secret"}
    colab = types.ModuleType("google.colab")
    colab.userdata = types.SimpleNamespace(get=lambda name: secrets[name])  # KeyError if absent
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(config, "in_colab", lambda: True)
    assert E.resolve_project() == "from-colab-secret"


# ------------------------------------------------------------------ batch export


def test_tiles_cover_the_grid_exactly():
    grid = S.grid_for_aoi(BBOX, 10)
    tiles = B.plan_tiles(grid, "s2", tile=100)
    assert len(tiles) > 4
    covered = np.zeros(grid.shape, int)
    for t in tiles:
        h, w = t.grid.shape
        covered[t.row : t.row + h, t.col : t.col + w] += 1
        assert t.grid.transform == grid.window(t.row, t.col, h, w).transform
    assert (covered == 1).all()
    with pytest.raises(ValueError, match="positive size"):
        B.plan_tiles(grid, "s2", tile=0)


def test_export_params_put_the_tile_on_the_kit_grid():
    grid = S.grid_for_aoi(BBOX, 10)
    tile = B.plan_tiles(grid, "s2", tile=100)[-1]
    p = B.export_params(tile, "cloud", bucket="b", prefix="run1")
    a, b, c, d, e, f = grid.transform
    assert p["crs"] == grid.crs and p["bucket"] == "b"
    # row-major [xScale, xShearing, xTranslation, yShearing, yScale, yTranslation] of the tile
    assert p["crsTransform"] == [a, b, c + a * tile.col, d, e, f + e * tile.row]
    h, w = tile.grid.shape
    assert p["dimensions"] == f"{w}x{h}" and "scale" not in p and "region" not in p
    assert p["fileDimensions"][0] >= w and p["fileDimensions"][0] % 256 == 0
    assert p["fileNamePrefix"] == f"run1/{tile.file_stem}"
    drive = B.export_params(tile, "drive", folder="eosr")
    assert drive["folder"] == "eosr" and "bucket" not in drive
    with pytest.raises(ValueError, match="bucket"):
        B.export_params(tile, "cloud")


def test_start_exports_builds_one_task_per_tile_through_fake_ee():
    made = []

    class Task:
        def __init__(self, kw):
            self.kw, self.started = kw, False

        def start(self):
            self.started = True

    def to_cloud(**kw):
        made.append(Task(kw))
        return made[-1]

    class Image:
        def __init__(self, grid):
            self.grid, self.bands = grid, None

        def select(self, bands):
            self.bands = bands
            return self

    fake = types.SimpleNamespace(
        batch=types.SimpleNamespace(
            Export=types.SimpleNamespace(
                image=types.SimpleNamespace(toCloudStorage=to_cloud, toDrive=None)
            )
        )
    )
    spec = S.DmspSpec()
    spec_image = lambda ee, grid: Image(grid)  # noqa: E731
    object.__setattr__(spec, "ee_image", spec_image)
    planned = B.export_requests(BBOX, {"ntl_lr": (spec, 240.0)}, tile=256, bucket="b")
    tasks = B.start_exports(fake, planned)
    assert len(tasks) == len(planned) and all(t.started for t in tasks)
    assert [t.kw["fileNamePrefix"] for t in tasks] == [p["fileNamePrefix"] for _, _, p in planned]
    assert tasks[0].kw["image"].bands == list(spec.bands)
    assert tasks[0].kw["image"].grid == planned[0][1].grid


def _write_exported_tiles(folder, planned):
    """What Earth Engine would write: each tile's raw pixels on the tile's grid."""
    fetch = fake_fetcher()
    for spec, tile, _ in planned:
        rasters.write(
            folder / f"{tile.file_stem}.tif",
            fetch(spec, tile.grid),
            tile.grid.crs,
            tile.grid.affine,
        )


def test_exported_tiles_assemble_into_the_same_layouts_as_interactive(tmp_path):
    requests = E.default_requests()
    planned = B.export_requests(BBOX, requests, tile=128, destination="drive")
    assert len(planned) > len(requests)  # the 10 m grids need several tiles
    _write_exported_tiles(tmp_path / "tiles", planned)
    files = B.scene_from_tiles(
        tmp_path / "tiles", tmp_path / "batch", BBOX, requests, tile=128, patch=64, ntl_patch=16
    )
    E.fetch_or_sample(
        BBOX, root=tmp_path / "live", fetcher=fake_fetcher(), patch=64, ntl_patch=16, progress=False
    )
    for name, path in files.items():
        a, b = rasters.read(path), rasters.read(tmp_path / "live" / "scene" / f"{name}.tif")
        np.testing.assert_array_equal(a.data, b.data)
        assert a.transform == b.transform and a.crs == b.crs
    batch_ntl = sorted(
        p.relative_to(tmp_path / "batch") for p in (tmp_path / "batch" / "NTL").rglob("*.tif")
    )
    live_ntl = sorted(
        p.relative_to(tmp_path / "live") for p in (tmp_path / "live" / "NTL").rglob("*.tif")
    )
    assert batch_ntl == live_ntl and batch_ntl


def test_a_missing_or_foreign_tile_is_named(tmp_path):
    spec = S.DmspSpec()
    planned = B.export_requests(BBOX, {"ntl_lr": (spec, 30.0)}, tile=32, destination="drive")
    tiles = [t for _, t, _ in planned]
    _write_exported_tiles(tmp_path, planned[1:])
    with pytest.raises(B.ExportTilesError, match=f"{tiles[0].file_stem}.tif: missing"):
        B.assemble(spec, tiles, tmp_path, tmp_path / "out.tif")
    other = tiles[1].grid.window(1, 0, *tiles[0].grid.shape)
    rasters.write(
        tmp_path / f"{tiles[0].file_stem}.tif", fake_fetcher()(spec, other), other.crs, other.affine
    )
    with pytest.raises(B.ExportTilesError, match="belongs to another export"):
        B.assemble(spec, tiles, tmp_path, tmp_path / "out.tif")
    assert not (tmp_path / "out.tif").exists()

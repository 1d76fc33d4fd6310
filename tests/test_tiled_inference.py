"""Tiled inference of the NTL SR model: equal to one-shot where both fit, georeferenced output,
and memory that holds one row of tiles, not the scene (tracemalloc of numpy buffers)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import rasterio
import torch

from helpers.io import rasters
from helpers.models import ntl_sr
from helpers.training import inference
from tests import fakes

CRS = "EPSG:32633"


def _scene(tmp_path, side: int, seed: int = 0, rows: int | None = None) -> dict:
    """A small scene on a 30 m HR grid: LR DN 8x coarser, DMO 7 bands, DEM; written as GeoTIFFs.
    ``side`` columns and ``rows`` rows (default square)."""
    return fakes.ntl_scene(tmp_path / f"scene{side}x{rows or side}", side, rows, seed)


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: small convs, one thread


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = ntl_sr.build(width=4)
    with torch.no_grad():  # make the alignment non-trivial so that it is exercised
        m.alignment.local.predict[-1].bias.fill_(0.01)
        # the pixel path is per-pixel (tile-invariant by construction); silenced so that its
        # random offset does not set the scale the seam tolerances below are relative to
        m.pixel[-1].weight.zero_()
        m.pixel[-1].bias.zero_()
        # lift the output above zero (radiance is clipped at 0), whatever the random init
        m.refinement.heads[-1].bias.fill_(0.5)
    return m.eval()


def test_single_tile_equals_one_shot(model, tmp_path):
    low, dmo, dem = _scene(tmp_path, 64)["arrays"]
    one = ntl_sr.predict(model, low, dmo, dem)
    tiled = inference.predict_ntl(model, low, dmo, dem, tile=64, overlap=16, progress=False)
    assert one.shape == (64, 64) and np.allclose(tiled, one, atol=1e-5)


def test_tiled_close_to_one_shot_with_overlap(model, tmp_path):
    low, dmo, dem = _scene(tmp_path, 128)["arrays"]
    one = ntl_sr.predict(model, low, dmo, dem)
    tiled = inference.predict_ntl(model, low, dmo, dem, tile=64, overlap=32, progress=False)
    diff = np.abs(tiled - one)
    scale = one.std()  # the spatial variation the model produces (not its constant offset)
    assert scale > 0
    assert diff.mean() < 0.02 * scale, (diff.mean(), scale)
    assert np.percentile(diff, 99) < 0.25 * scale  # seams remain where tiles see zero padding
    # without overlap the seams are worse than with it
    seams = np.abs(
        inference.predict_ntl(model, low, dmo, dem, tile=64, overlap=0, progress=False) - one
    )
    assert diff.mean() <= seams.mean()


def test_file_output_is_georeferenced_and_matches_arrays(model, tmp_path):
    scene = _scene(tmp_path, 128)
    out = inference.predict_ntl(
        model,
        scene["low_res"],
        scene["dmo"],
        scene["dem"],
        tile=64,
        overlap=16,
        out_path=tmp_path / "pred" / "ntl_fine.tif",
        progress=False,
    )
    rasters.check_same_grid(out, scene["dmo"])
    written = rasters.read(out).data[0]
    in_memory = inference.predict_ntl(model, *scene["arrays"], tile=64, overlap=16, progress=False)
    assert np.allclose(written, in_memory, atol=1e-5)
    assert not list((tmp_path / "pred").glob(".*")), "temporary files left behind"


def test_bad_inputs_name_the_problem(model, tmp_path):
    scene = _scene(tmp_path, 64)
    low, dmo, dem = scene["arrays"]
    with pytest.raises(rasters.RasterError, match="ratio"):
        inference.predict_ntl(model, low[:-1], dmo, dem, tile=32, overlap=8, progress=False)
    with pytest.raises(ValueError, match="multiples"):
        inference.predict_ntl(model, low, dmo, dem, tile=30, overlap=8, progress=False)
    with pytest.raises(rasters.RasterError, match="band"):
        inference.predict_ntl(
            model, scene["low_res"], scene["dem"], scene["dem"], tile=32, overlap=8, progress=False
        )
    with pytest.raises(rasters.RasterError, match="not found"):
        inference.predict_ntl(
            model, tmp_path / "missing.tif", scene["dmo"], scene["dem"], progress=False
        )


def _peak_bytes(model, scene, tmp_path) -> int:
    tracemalloc.start()
    try:
        inference.predict_ntl(
            model,
            scene["low_res"],
            scene["dmo"],
            scene["dem"],
            tile=64,
            overlap=16,
            out_path=tmp_path / "peak.tif",
            progress=False,
        )
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_holds_one_row_of_tiles_not_the_scene(model, tmp_path):
    """Streaming to a GeoTIFF holds one row of tiles (and one block row of output): a scene twice
    as tall costs no more memory."""
    short, tall = _scene(tmp_path, 128, seed=1, rows=512), _scene(tmp_path, 128, seed=2, rows=1024)
    _peak_bytes(model, short, tmp_path)  # warm up imports and caches
    peak_short = _peak_bytes(model, short, tmp_path)
    peak_tall = _peak_bytes(model, tall, tmp_path)
    full_scene = 1024 * 128 * 4  # one float32 band of the tall scene: 512 KiB
    assert peak_tall - peak_short < full_scene / 8, (peak_short, peak_tall)
    assert peak_tall < full_scene, peak_tall  # not even one band of the scene at once
    with rasterio.open(tmp_path / "peak.tif") as ds:
        assert ds.shape == (1024, 128) and ds.crs.to_string() == CRS

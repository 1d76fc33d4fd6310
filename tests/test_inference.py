"""Land-cover whole-scene inference with the streaming engine (helpers.training.inference).

It equals the former in-memory implementation (float64 blending of every tile of the scene, kept
below as the reference) to 1e-5, writes the same values straight to a GeoTIFF, reads its input
window by window from a GeoTIFF, and runs a 4096 x 4096 scene with well under 1 GB of memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import rasterio
import torch
import torch.nn.functional as F
from rasterio.transform import from_origin
from rasterio.windows import Window

from helpers.core import labels
from helpers.data import windows
from helpers.io import rasters
from helpers.models.unet import UNet
from helpers.training import inference

CRS = "EPSG:32633"


def _blend_all(pieces, height, width, overlap):
    """Every tile kept, then blended in float64 at once (the reference the streaming engine
    must match)."""
    first = np.asarray(pieces[0][1])
    out = np.zeros(first.shape[:-2] + (height, width), dtype=np.float64)
    weight = np.zeros((height, width), dtype=np.float64)
    for t, arr in pieces:
        wgt = windows.blend_window(t.height, t.width, overlap)
        out[..., t.row : t.row + t.height, t.col : t.col + t.width] += np.asarray(arr) * wgt
        weight[t.row : t.row + t.height, t.col : t.col + t.width] += wgt
    return (out / np.maximum(weight, 1e-12)).astype(np.float32)


def reference_predict_scene(model, image, tile, overlap, batch_size=4):
    """The former ``train.predict_scene``: every tile kept, blended in float64 at the end."""
    arr = np.asarray(image, np.float32)
    _, height, width = arr.shape
    multiple = int(getattr(model, "size_multiple", 1))
    grid = windows.tile_grid(height, width, tile, overlap)
    pieces = []
    for start in range(0, len(grid), batch_size):
        group = grid[start : start + batch_size]
        t0 = group[0]
        x = torch.from_numpy(
            np.stack([arr[:, t.row : t.row + t.height, t.col : t.col + t.width] for t in group])
        )
        ph, pw = (-t0.height) % multiple, (-t0.width) % multiple
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect")
        with torch.no_grad():
            probs = model(x).float().softmax(1)[:, :, : t0.height, : t0.width].numpy()
        pieces.extend(zip(group, probs))
    return _blend_all(pieces, height, width, overlap)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return UNet(4, 8, 4, 2).eval()  # 8 classes, tiles padded to multiples of 4


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:150, 0:200] / 50
    smooth = np.stack([np.sin(xx * (b + 1)) * np.cos(yy) for b in range(4)])
    return (smooth + 0.3 * rng.normal(size=smooth.shape)).astype(np.float32)


def test_equals_the_former_in_memory_result(model, image):
    old = reference_predict_scene(model, image, tile=64, overlap=16)
    new = inference.predict_scene(model, image, tile=64, overlap=16, output="probs", progress=False)
    assert new.dtype == np.float32 and new.shape == old.shape == (8, 150, 200)
    np.testing.assert_allclose(new, old, atol=1e-5)
    labels_new = inference.predict_scene(model, image, tile=64, overlap=16, progress=False)
    assert labels_new.dtype == np.uint8 and (labels_new == old.argmax(0)).all()
    # a scene smaller than a tile, and a tile larger than the scene in one direction
    small = image[:, :40, :90]
    np.testing.assert_allclose(
        inference.predict_scene(model, small, tile=64, overlap=8, output="probs", progress=False),
        reference_predict_scene(model, small, tile=64, overlap=8),
        atol=1e-5,
    )


def _write(path, data, transform=None):
    return rasters.write(path, data, CRS, transform or from_origin(500000, 4000000, 10, 10))


def test_geotiff_output_equals_the_array_and_keeps_the_grid(model, image, tmp_path):
    like = _write(tmp_path / "s2.tif", (image * 1000 + 5000).astype(np.uint16))
    out = inference.predict_scene(
        model,
        image,
        tile=64,
        overlap=16,
        progress=False,
        out_path=tmp_path / "pred" / "landcover.tif",
        like=like,
        label_values=labels.from_train_index,
        nodata=0,
        descriptions=["DFC2020 class"],
        tags={"EOSR_SOURCE": "test"},
    )
    rasters.check_same_grid(out, like)
    written = rasters.read(out)
    expected = labels.from_train_index(
        inference.predict_scene(model, image, tile=64, overlap=16, progress=False)
    )
    assert (written.data[0] == expected).all() and set(np.unique(written.data)) <= set(labels.DFC8)
    assert written.descriptions == ("DFC2020 class",) and written.tags["EOSR_SOURCE"] == "test"
    with rasterio.open(out) as ds:
        assert ds.nodata == 0 and ds.profile["compress"] == "deflate" and ds.profile["tiled"]
    assert not list((tmp_path / "pred").glob(".*")), "temporary files left behind"
    with pytest.raises(ValueError, match="shape"):
        inference.predict_scene(
            model, image[:, :100], progress=False, out_path=tmp_path / "x.tif", like=like
        )


def test_input_read_window_by_window_from_a_geotiff(model, image, tmp_path):
    stack = np.concatenate([np.zeros_like(image[:2]), image])  # bands 3..6 hold the image
    path = _write(tmp_path / "stack.tif", (stack * 1000 + 5000).astype(np.float32))
    source = inference.Windows(path, indexes=[3, 4, 5, 6], prepare=lambda x: (x - 5000) / 1000)
    from_file = inference.predict_scene(model, source, tile=64, overlap=16, progress=False)
    in_memory = inference.predict_scene(model, image, tile=64, overlap=16, progress=False)
    assert (from_file == in_memory).mean() > 0.999  # float32 rounding of the file round trip
    bad = stack.copy()
    bad[3, 100, 120] = np.nan
    bad_path = _write(tmp_path / "bad.tif", bad)
    with pytest.raises(rasters.RasterError, match="bad.tif.*NaN"):
        inference.predict_scene(
            model, inference.Windows(bad_path, indexes=[3, 4, 5, 6]), tile=64, progress=False
        )


def test_4096_scene_to_geotiff_in_well_under_1_gb(tmp_path):
    """Peak resident memory of a 4096 x 4096, 4-band scene predicted into a GeoTIFF: the input is
    read window by window, the accumulators hold one row of tiles (8 classes x 256 x 4096 float32,
    32 MiB). Measured in a fresh process (VmHWM - VmRSS after imports); the model is a per-pixel
    1x1 convolution so that the test stays fast (memory does not depend on the model's depth)."""
    side = 4096
    src = tmp_path / "scene.tif"
    profile = {
        "driver": "GTiff",
        "height": side,
        "width": side,
        "count": 4,
        "dtype": "uint16",
        "crs": CRS,
        "transform": from_origin(500000, 4000000, 10, 10),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
    }
    ramp = (np.arange(side, dtype=np.uint16) * 2)[None, None, :]
    with rasterio.open(src, "w", **profile) as dst:
        for row in range(0, side, 512):
            block = np.broadcast_to(
                ramp + np.arange(4, dtype=np.uint16)[:, None, None] * 500, (4, 512, side)
            )
            dst.write(np.ascontiguousarray(block), window=Window(0, row, side, 512))
    script = textwrap.dedent(
        f"""
        import json, torch
        from helpers.training import inference

        def status(key):
            with open("/proc/self/status") as fh:
                return next(int(l.split()[1]) for l in fh if l.startswith(key)) * 1024

        torch.manual_seed(0)
        torch.set_num_threads(1)
        model = torch.nn.Conv2d(4, 8, 1).eval()
        source = inference.Windows({str(src)!r}, prepare=lambda x: x / 10000)
        base = status("VmRSS")
        out = inference.predict_scene(
            model, source, tile=256, overlap=32, batch_size=4, progress=False,
            out_path={str(tmp_path / "pred.tif")!r}, like={str(src)!r},
        )
        print(json.dumps({{"delta": status("VmHWM") - base, "out": str(out)}}))
        """
    )
    if not __import__("os").path.exists("/proc/self/status"):
        pytest.skip("needs /proc (Linux) to read the peak resident memory")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["delta"] < 1024**3, f"peak memory grew by {measured['delta'] / 2**20:.0f} MiB"
    with rasterio.open(measured["out"]) as ds:
        assert ds.shape == (side, side) and ds.count == 1 and ds.dtypes[0] == "uint8"
        assert ds.read(1, window=Window(4000, 4000, 96, 96)).max() < 8  # class indexes
    print(f"4096 x 4096 scene: peak memory +{measured['delta'] / 2**20:.0f} MiB")


def test_landcover_map_is_the_notebook_chain_streamed(model, tmp_path):
    """landcover_map = bands by name -> normalise_s2 -> predict_scene -> DFC values, in a file."""
    from helpers.core.bands import S2_BANDS
    from helpers.data import normalise
    from helpers.views import plots

    rng = np.random.default_rng(1)
    s2 = rng.integers(0, 10000, (13, 96, 128)).astype(np.uint16)
    path = rasters.write(
        tmp_path / "s2.tif",
        s2,
        CRS,
        from_origin(500000, 4000000, 10, 10),
        descriptions=list(S2_BANDS),
    )
    bands = ("B04", "B03", "B02", "B08")
    out = inference.landcover_map(
        model, path, bands, tmp_path / "out" / "map.tif", tile=64, overlap=16, progress=False
    )
    index = normalise.band_indexes(bands, S2_BANDS, S2_BANDS)
    image = normalise.normalise_s2(s2[[i - 1 for i in index]])
    expected = labels.from_train_index(
        inference.predict_scene(model, image, tile=64, overlap=16, progress=False)
    )
    written = rasters.read(out)
    assert (written.data[0] == expected).all() and written.nodata == 0
    rasters.check_same_grid(out, path)
    fig = plots.scene_maps(path, {"map": written.data[0], "again": expected})
    assert len(fig.axes) >= 3

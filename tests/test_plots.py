"""Figures built from files: the scene overview of notebook 01 draws every raster of a scene folder."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")

from helpers.views import plots  # noqa: E402
from tests import fakes  # noqa: E402


def test_scene_overview_draws_every_raster(tmp_path):
    fakes.scene_folder(tmp_path)
    fig = plots.scene_overview(tmp_path, title="sample scene")
    titles = [ax.get_title() for ax in fig.axes]
    for want in (
        "Sentinel-2 B04/B03/B02",
        "fine labels (DFC classes)",
        "coarse labels (MODIS IGBP)",
        "elevation (m)",
        "fine lights, log(1 + radiance)",
        "coarse lights (DN 0..63)",
        "impervious surface (0/1)",
        "coarse lights: DN histogram",
    ):
        assert want in titles
    assert fig._suptitle.get_text() == "sample scene"
    (tmp_path / "isp.tif").unlink()
    with pytest.raises(Exception, match="isp.tif"):
        plots.scene_overview(tmp_path)

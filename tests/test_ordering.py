"""Rank agreement between published and run orderings, and the report's per-table verdict."""

import math

from helpers.models import ordering
from helpers.records import report


def test_identical_and_reversed_orderings():
    pub = {"a": 0.9, "b": 0.5, "c": 0.1}
    same = ordering.agreement(pub, {"a": 3.0, "b": 2.0, "c": 1.0})
    assert same.holds and same.kendall_tau == 1.0 and math.isclose(same.spearman_rho, 1.0)
    rev = ordering.agreement(pub, {"a": 1.0, "b": 2.0, "c": 3.0})
    assert not rev.holds and rev.kendall_tau == -1.0 and math.isclose(rev.spearman_rho, -1.0)
    assert set(rev.flips) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert rev.ours_order == ("c", "b", "a")


def test_one_flip_ties_missing_and_lower_is_better():
    got = ordering.agreement({"a": 3, "b": 2, "c": 1, "d": 0}, {"a": 3, "b": 1, "c": 2, "e": 5})
    assert got.methods == ("a", "b", "c") and got.flips == (("b", "c"),)
    assert math.isclose(got.kendall_tau, 1 / 3)
    tied = ordering.agreement({"a": 2, "b": 1}, {"a": 1.0, "b": 1.0})
    assert tied.ties == (("a", "b"),) and not tied.holds
    lower = ordering.agreement({"a": 1, "b": 2}, {"a": 5, "b": 9}, higher_is_better=False)
    assert lower.holds and lower.methods == ("a", "b")
    assert "fewer than two" in ordering.verdict("x", ordering.agreement({"a": 1}, {"a": 1}))


def _rec(method, notebook, iou):
    return {
        "notebook": notebook,
        "method": method,
        "metrics": {"iou": iou},
        "dataset": "sample scene",
    }


def test_report_verdict_follows_the_records():
    published_order = [
        _rec("U-Net (S2)", "03_unet_landcover", 0.40),
        _rec("label SR", "04_label_super_resolution", 0.20),
        _rec("pix2pix (tanh)", "05_cgan_pix2pix", 0.70),
    ]
    line = next(x for x in report.ordering_lines(published_order) if x.startswith("HR-MARS"))
    assert "ordering holds" in line and "tau +1.00" in line
    flipped = [
        _rec("U-Net (S2)", "03_unet_landcover", 0.80),
        _rec("label SR", "04_label_super_resolution", 0.20),
        _rec("pix2pix (tanh)", "05_cgan_pix2pix", 0.10),
    ]
    line = next(x for x in report.ordering_lines(flipped) if x.startswith("HR-MARS"))
    assert "does not hold" in line and "pix2pix above U-Net in the source, below it here" in line


def test_one_record_per_published_row_and_a_variant_gets_its_own():
    recs = [
        _rec("pix2pix S2 -> land cover (tanh, as published)", "05_cgan_pix2pix", 0.50),
        _rec("pix2pix S2 -> land cover (softmax image)", "05_cgan_pix2pix", 0.34),
    ]
    items = report.compare(recs)["hr_mars"]
    on_row = [i for i in items if i["row"] is not None and i["row"].row == "pix2pix"]
    assert len(on_row) == 1 and on_row[0]["record"]["metrics"]["iou"] == 0.50
    assert any(i["row"] is None and "softmax" in i["method"] for i in items)

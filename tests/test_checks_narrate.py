"""The closing-checks engine and the prose helpers: a broken run fails, sentences follow the numbers."""

import pytest

from helpers.core import checks, narrate


def test_verify_raises_on_a_model_at_its_floor():
    broken = [checks.above("U-Net over majority", 0.30, 0.30, "majority class")]
    with pytest.raises(AssertionError, match="U-Net over majority"):
        checks.verify(broken, "teaching")


def test_learned_checks_only_warn_in_smoke_but_structural_ones_fail():
    with pytest.warns(UserWarning, match="learned check"):
        checks.verify([checks.above("m", 0.1, 0.3, "floor")], "smoke")
    with pytest.raises(AssertionError):
        checks.verify([checks.holds("grid kept", False)], "smoke")


def test_nan_never_passes_and_empty_checks_are_refused():
    assert not checks.above("m", float("nan"), 0.1, "floor").passed
    assert not checks.within("r", float("nan"), 0, 1).passed
    with pytest.raises(AssertionError, match="no checks"):
        checks.verify([], "teaching")


def test_passing_checks_return_quietly(capsys):
    out = checks.verify([checks.at_least("iou", 0.7, 0.5)], "teaching")
    assert out[0].passed and "ok" in capsys.readouterr().out


def test_ranking_and_floor_sentences_follow_the_numbers():
    assert (
        narrate.ranking({"a": 0.2, "b": 0.5, "c": float("nan")})
        == "b (0.500) > a (0.200); no score for c"
    )
    assert narrate.ranking({"a": 2.0, "b": 1.0}, higher_is_better=False).startswith("b")
    text = narrate.versus_floor("U-Net", 0.40, {"majority": 0.52, "random": 0.07})
    assert "0.120 below the best floor (majority, 0.520)" in text
    assert "above" in narrate.versus_floor("U-Net", 0.60, {"majority": 0.52})
    assert narrate.extremes({"x": 0.9, "y": 0.1, "z": 0.5}, n=1) == "y (0.10)"

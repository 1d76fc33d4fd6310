"""Label schemes: value tables, mappings, validation, colours and legends."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.core import labels


def test_igbp_and_dfc_tables() -> None:
    assert sorted(labels.IGBP) == list(range(1, 18))
    assert sorted(labels.DFC) == list(range(1, 11))
    assert labels.DFC8 == (1, 2, 4, 5, 6, 7, 9, 10)
    assert labels.IGBP_TO_DFC.tolist() == [0, 1, 1, 1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 6, 8, 9, 10]


def test_lccs_tables_follow_sen12ms() -> None:
    assert labels.LCCS_LC[11] == "Evergreen Needleleaf Forests"
    assert labels.LCCS_LC[12] == "Evergreen Broadleaf Forests"
    assert labels.LCCS_LU[9] == "Urban and Built-Up Lands"
    assert labels.LCCS_LU[36] == "Herbaceous Croplands"
    assert labels.LCCS_SH[27] == "Woody Wetlands"
    assert labels.LCCS_SH[50] == "Herbaceous Wetlands"
    for scheme in ("lccs_lc", "lccs_lu", "lccs_sh"):
        names = labels.class_names(scheme)
        assert (
            names[1] == "Barren"
            and names[2] == "Permanent Snow and Ice"
            and names[3] == "Water Bodies"
        )


def test_igbp_to_dfc_and_train_index_round_trip() -> None:
    igbp = np.arange(18, dtype=np.uint16)
    dfc = labels.igbp_to_dfc(igbp)
    assert dfc[8] == 3 and dfc[14] == 6 and dfc[17] == 10 and dfc[0] == 0
    idx = labels.to_train_index(np.arange(11))
    assert idx.dtype == np.uint8
    assert idx.tolist() == [255, 0, 1, 255, 2, 3, 4, 5, 255, 6, 7]
    back = labels.from_train_index(idx)
    assert back.tolist() == [0, 1, 2, 0, 4, 5, 6, 7, 0, 9, 10]


def test_validate_names_file_and_values() -> None:
    labels.validate(np.array([[1, 10], [0, 7]]), "dfc")
    with pytest.raises(ValueError, match=r"patch\.tif.*11.*dfc"):
        labels.validate(np.array([1, 11, 3]), "dfc", path="patch.tif")
    with pytest.raises(ValueError, match="18"):
        labels.validate(np.array([1, 18]), "igbp")
    labels.validate(np.array([0, 7, 255]), "dfc8")
    with pytest.raises(ValueError, match="Unknown label scheme"):
        labels.class_names("corine")


def test_colormap_draws_each_class_in_its_colour() -> None:
    from matplotlib.colors import to_hex

    for scheme in labels.SCHEMES:
        cmap, norm = labels.colormap(scheme)
        values = labels.class_values(scheme)
        assert cmap.N == len(values)
        for v in values:
            assert to_hex(cmap(norm(v))) == labels.color_of(scheme, v)
    # conventional DFC2020 / IGBP colours
    assert labels.color_of("dfc", 10) == "#1c0dff"
    assert labels.color_of("igbp", 13) == "#a5a5a5"


def test_add_legend_only_present_classes() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    leg = labels.add_legend(ax, "dfc", present=np.array([[1, 10], [10, 7]]))
    texts = [t.get_text() for t in leg.get_texts()]
    assert texts == ["1 Forest", "7 Urban/Built-up", "10 Water"]
    plt.close(fig)

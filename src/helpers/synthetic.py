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
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import config, labels
from .bands import S1_BANDS, S2_BANDS

GENERATOR_VERSION = "1.2.0"
SOURCE = "sample scene"
PATCH = 256  # SEN12MS / DFC2020 patch side (10 m pixels)
FLOW_AMPLITUDE = 0.6  # night-light local misregistration: std of each flow component, LR pixels
HOT_ROOF_GAIN = 2.0  # night-light hot spots: log-brightness per unit roof share (see _lights)

# fmt: off
LC_BANDS = ("IGBP", "LCCS_LC", "LCCS_LU", "LCCS_SH")
L8_BANDS = ("SR_B1", "SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7")
SEASONS = ("spring", "summer", "fall", "winter")
SEN12MS_ROIS = {"spring": "ROIs1158_spring", "summer": "ROIs1868_summer", "fall": "ROIs1970_fall",
                "winter": "ROIs2017_winter"}

# ---- endmembers: surface reflectance (13 S2 bands) and C-band backscatter (VV, VH in dB) ----
# Values are typical L2A surface reflectances of these materials (rounded, from the shapes of
# common library spectra; not measured for this kit); B09 (water vapour) ~0.7 x B8A; B10 (cirrus)
# near 0 as in L2A products.
ENDMEMBERS = ("water", "broadleaf", "conifer", "grass", "crop", "dry", "soil", "rock", "asphalt", "roof", "snow")
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
], dtype=np.float32).T  # (13, K)
# (VV, VH) dB per endmember (typical C-band values); roofs stand for double bounce from buildings.
_S1_DB = np.array([
    [-22, -29], [-7.5, -13], [-7, -13.5], [-11, -18], [-9, -15.5], [-12, -19], [-12.5, -20],
    [-9.5, -17], [-15, -24], [1, -7], [-13, -21],
], dtype=np.float32).T  # (2, K)
# fmt: on
K = len(ENDMEMBERS)
W, BL, CO, GR, CR, DR, SO, RO, AS, RF, SN = range(K)

# Seasonal state: deciduous leaf share, grass greenness, sun elevation (deg) at ~47 N, 10:30.
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
        self.sen12ms = self.root / "SEN12MS"
        self.dfc2020 = self.root / "DFC2020"
        self.ntl = self.root / "NTL"
        self.scene = self.root / "scene"


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

    @property
    def dfc(self) -> np.ndarray:
        """Fine DFC2020 labels (uint16 1..10)."""
        return labels.IGBP_TO_DFC[self.igbp].astype(np.uint16)

    @property
    def impervious(self) -> np.ndarray:
        """Impervious-surface fraction (asphalt + roofs), 0..1."""
        return self.fractions[AS] + self.fractions[RF]


def _terrain(
    rng: np.random.Generator, n: int, climate: str
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Fractal DEM (m) with carved river valleys; returns (dem, river distance in px, info)."""
    base = fractal_noise(rng, (n, n), hurst=0.85)
    tilt = np.linspace(0, 1, n, dtype=np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    tilt2d = np.cos(angle) * tilt[None, :] + np.sin(angle) * tilt[:, None]
    base = 0.8 * base + 0.2 * (tilt2d - tilt2d.min()) / (np.ptp(tilt2d) + 1e-9)
    low, relief = {"alpine": (700.0, 2200.0), "dry": (300.0, 700.0)}.get(climate, (150.0, 550.0))
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
    dem = low + relief * shaped**1.3
    dem += 1.5 * smooth_noise(rng, (n, n), 1.5)  # micro-relief
    return dem.astype(np.float32), dist.astype(np.float32), {"dem_low_m": low, "relief_m": relief}


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
) -> Region:
    """Generate one region in memory (all 10 m layers); the writers below turn it into files."""
    from rasterio.crs import CRS
    from rasterio.transform import from_origin
    from scipy import ndimage

    if season not in SEASONS:
        raise ValueError(f"season must be one of {SEASONS}, got {season!r}")
    n = int(size)
    rng = _rng(seed, 1)
    dem, river_dist, info = _terrain(rng, n, climate)
    slope, aspect, gx, gy = _slope_aspect(dem)
    slope_s = ndimage.gaussian_filter(slope, 3)
    e = (dem - dem.min()) / (np.ptp(dem) + 1e-9)
    sl = np.clip(slope_s / 25.0, 0, 1.5)

    # Water: rivers (main river 3-6 px wide) and lakes in the lowest basins.
    river_w = rng.uniform(2.5, 4.0)
    river = river_dist < river_w
    dem_smooth = ndimage.gaussian_filter(dem, 6)
    lake = dem_smooth < np.quantile(dem_smooth, 0.035)
    water = river | lake
    dem = np.where(water, np.minimum(dem, dem_smooth - 2.0), dem).astype(np.float32)
    water_dist = ndimage.distance_transform_edt(~water).astype(np.float32)

    # Towns on flat low land near water, roads between them and out of the region.
    suit = -1.5 * sl - 1.0 * e - np.minimum(water_dist, 300) / 150.0 - 3.0 * water
    if town_bands is None:
        town_bands = [(0.08, 0.45), (0.55, 0.92)]
    radii = [n * f * rng.uniform(0.85, 1.15) for f in (0.11, 0.085, 0.07, 0.06)[: len(town_bands)]]
    towns = _towns(rng, n, suit, town_bands, radii)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    warp = smooth_noise(rng, (n, n), n / 30)
    density = np.zeros((n, n), np.float32)
    for t in towns:
        r2 = ((yy - t["row"]) ** 2 + (xx - t["col"]) ** 2) / t["radius_px"] ** 2
        density = np.maximum(density, np.exp(-r2 * np.maximum(1.0 + 0.35 * warp, 0.3)))
    villages = []
    for _ in range(int(rng.integers(2, 5))):
        vr, vc, rad = (
            rng.uniform(0.1, 0.9) * n,
            rng.uniform(0.1, 0.9) * n,
            rng.uniform(0.012, 0.02) * n,
        )
        villages.append({"row": float(vr), "col": float(vc), "radius_px": float(rad)})
        r2 = ((yy - vr) ** 2 + (xx - vc) ** 2) / rad**2
        density = np.maximum(density, 0.6 * np.exp(-r2 * np.maximum(1.0 + 0.3 * warp, 0.3)))
    density *= ~water
    roads = np.zeros((n, n), bool)
    stops = [(t["row"], t["col"]) for t in sorted(towns, key=lambda t: t["col"])]
    stops = [
        (stops[0][0] + rng.uniform(-0.2, 0.2) * n, 0.0),
        *stops,
        (stops[-1][0] + rng.uniform(-0.2, 0.2) * n, n - 1.0),
    ]
    for a, b in zip(stops[:-1], stops[1:]):
        _draw_line(roads, a, b, rng, width=2)
    t0 = towns[0]
    _draw_line(
        roads, (t0["row"], t0["col"]), (0.0, t0["col"] + rng.uniform(-0.2, 0.2) * n), rng, width=1
    )
    _draw_line(
        roads,
        (t0["row"], t0["col"]),
        (n - 1.0, t0["col"] + rng.uniform(-0.2, 0.2) * n),
        rng,
        width=1,
    )
    for v in villages:
        _draw_line(
            roads,
            (v["row"], v["col"]),
            min(stops, key=lambda s: (s[0] - v["row"]) ** 2 + (s[1] - v["col"]) ** 2),
            rng,
            1,
        )
    roads &= ~water  # bridges are not modelled
    urban = (density + 0.06 * smooth_noise(rng, (n, n), 2.0) > 0.33) & ~water  # ragged edges

    # Land cover on what is left: ranked, noise-perturbed terrain scores give stable fractions.
    land = ~water & ~urban
    n_land = int(land.sum())
    nz = {
        k: smooth_noise(rng, (n, n), n / s)
        for k, s in (("b", 25), ("w", 30), ("f", 12), ("c", 10), ("s", 18), ("t", 20))
    }
    igbp = np.full((n, n), 10, np.uint8)  # grassland by default
    igbp[water] = 17
    igbp[urban] = 13
    free = land.copy()
    snow_frac = 0.0
    if kind == "sen12ms" and climate == "alpine":
        snow = _rank_select(e + 0.08 * nz["b"], free, 0.07, n_land)
        igbp[snow] = 15
        free &= ~snow
        snow_frac = 0.07
    barren = _rank_select(1.2 * e + 0.8 * sl + 0.5 * nz["b"], free, 0.045, n_land)
    sandbar = free & (water_dist > 0) & (water_dist < 3) & (nz["b"] > 1.0)
    barren |= sandbar
    igbp[barren] = 16
    free &= ~barren
    wet = _rank_select(-water_dist / 25.0 - 1.0 * e - 0.8 * sl + 0.6 * nz["w"], free, 0.06, n_land)
    igbp[wet] = 11
    free &= ~wet
    forest = _rank_select(
        1.3 * sl + 0.5 * e + 0.9 * nz["f"], free, 0.30 if climate != "dry" else 0.18, n_land
    )
    ftype = e + 0.25 * nz["t"]
    igbp[forest & (ftype > 0.62)] = 1
    igbp[forest & (ftype <= 0.62) & (ftype > 0.42)] = 5
    igbp[forest & (ftype <= 0.42)] = 4
    free &= ~forest
    crop = _rank_select(-1.2 * sl - 0.7 * e + 0.8 * nz["c"] - 0.3 * snow_frac, free, 0.30, n_land)
    free &= ~crop
    south = np.cos(aspect - np.pi)  # 1 on south-facing slopes: drier
    shrub = _rank_select(
        0.6 * south * sl + 0.6 * e + 0.8 * nz["s"], free, 0.11 if climate != "dry" else 0.2, n_land
    )
    igbp[shrub & (e + 0.2 * nz["t"] > 0.55)] = 7
    igbp[shrub & (e + 0.2 * nz["t"] <= 0.55)] = 6
    free &= ~shrub
    if kind == "sen12ms" and climate == "dry":
        sav = free & (nz["t"] > 0.0)
        igbp[sav & (nz["f"] > 0.3)] = 8
        igbp[sav & (nz["f"] <= 0.3)] = 9

    # Parcels in the crop zone: rotated strips of varying width, one crop calendar each.
    theta = rng.uniform(0, np.pi)
    u = xx * np.cos(theta) + yy * np.sin(theta) + 4.0 * warp
    v = -xx * np.sin(theta) + yy * np.cos(theta) + 4.0 * nz["c"]
    pu = np.floor(u / rng.uniform(22, 32)).astype(np.int64)
    pv = np.floor(v / rng.uniform(45, 70) + 0.5 * _hash01(pu, seed)).astype(np.int64)
    pid = (pu + 100000) * 200003 + (pv + 100000)
    ptype = np.searchsorted(np.cumsum([0.37, 0.35, 0.16, 0.12]), _hash01(pid, seed + 7)).clip(0, 3)
    pjit = (_hash01(pid, seed + 11) - 0.5).astype(np.float32)
    edge = np.zeros((n, n), bool)
    edge[:, 1:] |= pid[:, 1:] != pid[:, :-1]
    edge[1:, :] |= pid[1:, :] != pid[:-1, :]
    igbp[crop] = 12
    igbp[crop & (ptype == 2)] = 10  # meadows inside the field pattern are grassland

    # Endmember fractions per pixel.
    ph = _PHENO[season]
    s_idx = SEASONS.index(season)
    tex = smooth_noise(rng, (n, n), 1.0)
    tex2 = smooth_noise(rng, (n, n), 4.0)
    frac = np.zeros((K, n, n), np.float32)

    def put(mask: np.ndarray, **parts: np.ndarray | float) -> None:
        for name, value in parts.items():
            idx = ENDMEMBERS.index(name)
            frac[idx][mask] = value[mask] if isinstance(value, np.ndarray) else value

    leaf = ph["leaf"]
    gap = np.clip(0.08 + 0.07 * tex + 0.05 * tex2, 0, 0.4)  # canopy gaps
    m = igbp == 1
    put(m, conifer=0.88 - gap, dry=gap * 0.5, soil=gap * 0.5)
    m = igbp == 4
    put(
        m,
        broadleaf=(0.9 - gap) * leaf,
        dry=(0.9 - gap) * (1 - leaf) * 0.7 + gap * 0.6,
        soil=(0.9 - gap) * (1 - leaf) * 0.3 + 0.1 + gap * 0.4,
    )
    m = igbp == 5
    put(
        m,
        conifer=0.45 - gap / 2,
        broadleaf=(0.45 - gap / 2) * leaf,
        dry=0.45 * (1 - leaf) * 0.7 + gap * 0.5,
        soil=0.45 * (1 - leaf) * 0.3 + 0.1 + gap * 0.5,
    )
    g = np.clip(ph["grass"] + 0.12 * tex2 + 0.08 * nz["w"], 0.05, 0.95)
    cover = np.clip(0.5 + 0.15 * tex2, 0.2, 0.8)
    m = igbp == 6
    put(
        m,
        broadleaf=cover * (0.4 + 0.6 * leaf) * 0.8,
        conifer=cover * 0.2,
        dry=(1 - cover) * 0.6,
        soil=(1 - cover) * 0.4,
    )
    m = igbp == 7
    put(
        m,
        broadleaf=cover * 0.35 * (0.4 + 0.6 * leaf),
        dry=0.3 * np.ones_like(cover),
        soil=0.2 * np.ones_like(cover),
        rock=0.5 - cover * 0.35,
    )
    m = igbp == 10
    put(m, grass=0.9 * g, dry=0.9 * (1 - g), soil=0.1 * np.ones_like(g))
    m = (igbp == 8) | (igbp == 9)
    trees = np.where(igbp == 8, 0.35, 0.15).astype(np.float32)
    put(
        m,
        broadleaf=trees * (0.5 + 0.5 * leaf),
        grass=(1 - trees) * 0.6 * g,
        dry=(1 - trees) * (1 - 0.6 * g) * 0.8,
        soil=(1 - trees) * 0.2,
    )
    m = igbp == 11
    wf = np.clip(0.35 + 0.2 * tex2, 0.1, 0.7)
    put(m, water=wf, grass=(1 - wf) * g, dry=(1 - wf) * (1 - g))
    cg = np.clip(_CROP_GREEN[ptype, s_idx] + 0.25 * pjit + 0.04 * tex, 0, 1)
    cd = np.clip(_CROP_DRY[ptype, s_idx] - 0.1 * pjit, 0, 1 - cg)
    m = crop
    put(
        m,
        crop=np.where(ptype == 2, 0, cg),
        grass=np.where(ptype == 2, cg, 0),
        dry=cd,
        soil=1 - cg - cd,
    )
    hedge = crop & edge & (tex > -0.3)
    put(hedge, broadleaf=0.5 * leaf + 0.1, grass=0.3, soil=0.2, crop=0.0, dry=0.0)
    m = igbp == 16
    rock = np.clip(0.6 + 0.1 * tex + 0.2 * tex2, 0.25, 0.95)  # sparse vegetation on some of it
    put(m, rock=rock, soil=(1 - rock) * 0.5, dry=(1 - rock) * 0.3, grass=(1 - rock) * 0.2 * g)
    m = igbp == 15
    put(m, snow=np.clip(0.92 + 0.05 * tex, 0, 1), rock=np.clip(0.08 - 0.05 * tex, 0, 1))
    m = water
    put(m, water=0.97, soil=0.03)
    imp = np.clip(0.3 + 0.65 * density + 0.12 * tex2, 0.15, 0.98)
    roof = np.clip(0.5 + 0.3 * tex + 0.15 * tex2, 0.1, 0.9)
    m = urban
    put(
        m,
        roof=imp * roof,
        asphalt=imp * (1 - roof),
        grass=(1 - imp) * 0.55 * (0.5 + 0.5 * g),
        dry=(1 - imp) * 0.55 * (0.5 - 0.5 * g),
        broadleaf=(1 - imp) * 0.45 * leaf,
        soil=(1 - imp) * 0.45 * (1 - leaf),
    )
    # Streets: a rotated grid inside towns; major roads everywhere (mixed with what they cross).
    phi = rng.uniform(0, np.pi / 2)
    su = (xx * np.cos(phi) + yy * np.sin(phi)) % 14.0
    sv = (-xx * np.sin(phi) + yy * np.cos(phi)) % 17.0
    streets = urban & ((su < 1.2) | (sv < 1.2)) & (density > 0.45)
    put(streets, asphalt=0.85, roof=0.05, grass=0.1, dry=0.0, broadleaf=0.0, soil=0.0)
    road_px = roads & ~urban
    frac[:, road_px] *= 0.35
    frac[AS][road_px] += 0.65
    if kind == "sen12ms" and season in ("winter", "spring"):
        # Seasonal snow above a snow line (labels unchanged; forest canopies hide part of it).
        line = (
            {"winter": 0.45, "spring": 0.8}[season]
            if climate == "alpine"
            else {"winter": 0.7, "spring": 0.95}[season]
        )
        cover_s = np.clip((e - line) / 0.1 + 0.3 * tex2, 0, 1) * ~water
        cover_s *= np.where(np.isin(igbp, (1, 4, 5)), 0.45, 1.0)
        frac *= 1 - cover_s
        frac[SN] += cover_s
    frac = np.clip(frac, 0, None)
    frac /= frac.sum(0, keepdims=True) + 1e-9
    frac = ndimage.gaussian_filter(frac, sigma=(0, 0.5, 0.5))  # optics: neighbours mix at edges

    # Sentinel-2 reflectance: linear mixing, terrain illumination, sensor noise, band resolution.
    s2 = np.tensordot(_E, frac, axes=1)
    sun_el = np.radians(ph["sun"])
    sun_az = np.radians(155.0)
    sl_r = np.radians(slope)
    cos_i = np.cos(np.pi / 2 - sun_el) * np.cos(sl_r) + np.sin(np.pi / 2 - sun_el) * np.sin(
        sl_r
    ) * np.cos(sun_az - (aspect + np.pi) % (2 * np.pi))
    illum = np.clip(0.25 + 0.75 * cos_i / np.sin(sun_el), 0.3, 1.6).astype(np.float32)
    s2[:10] *= illum
    s2[11:] *= illum
    s2 += (0.03 * s2 + 0.002) * rng.standard_normal(
        s2.shape, dtype=np.float32
    )  # signal-dependent noise
    for b in ("B05", "B06", "B07", "B8A", "B11", "B12"):
        i = S2_BANDS.index(b)
        s2[i] = ndimage.gaussian_filter(s2[i], 0.9)
    for b in ("B01", "B09", "B10"):
        i = S2_BANDS.index(b)
        s2[i] = ndimage.gaussian_filter(s2[i], 2.6)
    s2 = np.clip(s2, 0.0, 1.0).astype(np.float32)

    # Sentinel-1: power-domain mixing, building orientation, terrain (east-looking), speckle.
    lin = 10 ** (_S1_DB / 10.0)
    s1_lin = np.tensordot(lin, frac, axes=1)
    bldg = np.exp(0.9 * smooth_noise(rng, (n, n), 3.0))  # double bounce depends on orientation
    s1_lin += np.stack([lin[0, RF] * (bldg - 1), lin[1, RF] * (bldg - 1) * 0.5]) * frac[RF]
    s1_lin *= 10 ** ((1.2 * smooth_noise(rng, (n, n), 8.0)) / 10.0)  # soil moisture / wind
    theta0 = np.radians(37.0)
    local = theta0 - np.arctan(gx)
    terrain = np.clip(np.cos(local) / np.cos(theta0), 0.3, 2.5) ** 1.5
    s1_lin *= terrain.astype(np.float32)
    looks = 4.4  # equivalent number of looks of GRD IW
    s1_lin *= rng.gamma(looks, 1.0 / looks, size=s1_lin.shape).astype(np.float32)
    s1 = (10.0 * np.log10(np.maximum(s1_lin, 1e-5))).astype(np.float32)

    coarse, cinfo = _coarse_labels(rng, igbp, kind)
    info.update(cinfo)
    info.update(
        towns=towns,
        villages=villages,
        season=season,
        climate=climate,
        kind=kind,
        river_width_px=float(2 * river_w),
    )
    transform = from_origin(origin[0], origin[1], 10.0, 10.0)
    return Region(
        seed,
        n,
        season,
        kind,
        climate,
        CRS.from_epsg(epsg),
        transform,
        dem,
        water_dist,
        igbp,
        frac,
        s2,
        s1,
        coarse,
        density,
        roads,
        info,
    )


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
    rad = 0.25 + 0.15 * np.abs(smooth_noise(rng, (n30, n30), 1.0))  # airglow + scattered light
    rad += imp30 * (5.0 + 190.0 * dens30**1.7) * hot
    rad += 14.0 * roads30 * (0.6 + 0.4 * hot)
    houses = (rng.random((n30, n30)) < 0.0015) & (imp30 < 0.2)
    rad += houses * rng.uniform(2, 10, (n30, n30))
    rad *= 1.0 + 0.05 * rng.standard_normal((n30, n30))
    rad = np.clip(rad, 0, None).astype(np.float32)

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
        "gain": float(rng.uniform(0.75, 0.95)),
        "offset": float(rng.uniform(1.0, 3.0)),
        "noise_dn": 0.6,
        "blooming_sigma_hr_px": [0.75 * ratio, 2.5 * ratio],
        "blooming_weights": [0.85, 0.15],
        "ratio": ratio,
    }
    low = simulate_low_res(rad, truth, flow, warp=True)
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


def _tags(seed: int, profile: str, what: str) -> dict[str, str]:
    return {
        "EOSR_SOURCE": SOURCE,
        "EOSR_GENERATOR": f"helpers.synthetic {GENERATOR_VERSION}",
        "EOSR_SEED": str(seed),
        "EOSR_PROFILE": profile,
        "EOSR_LAYER": what,
    }


def _s2_uint16(s2: np.ndarray) -> np.ndarray:
    return np.round(s2 * 10000).astype(np.uint16)


def _write_patches(
    region: Region, folder: Path, prefix: str, scene: str, seed: int, profile: str, with_dfc: bool
) -> int:
    """Cut a region into 256 px patches in the SEN12MS / DFC2020 naming; returns the patch count."""
    from rasterio.transform import Affine

    from . import rasters

    s2 = _s2_uint16(region.s2)
    mods = {"s1": (region.s1, S1_BANDS), "s2": (s2, S2_BANDS), "lc": (region.coarse, LC_BANDS)}
    if with_dfc:
        mods["dfc"] = (region.dfc[None], ("DFC",))
    count = 0
    per_side = region.size // PATCH
    for r in range(per_side):
        for c in range(per_side):
            count += 1
            sl = (slice(None), slice(r * PATCH, (r + 1) * PATCH), slice(c * PATCH, (c + 1) * PATCH))
            tr = region.transform * Affine.translation(c * PATCH, r * PATCH)
            for mod, (arr, names) in mods.items():
                path = folder / f"{mod}_{scene}" / f"{prefix}_{mod}_{scene}_p{count}.tif"
                rasters.write(
                    path,
                    arr[sl],
                    region.crs,
                    tr,
                    descriptions=names,
                    tags=_tags(seed, profile, mod),
                )
    return count


def _write_scene(
    region: Region, lights: dict[str, Any], folder: Path, seed: int, profile: str, ratio: int
) -> None:
    from rasterio.transform import from_origin

    from . import rasters

    def w(name: str, arr: np.ndarray, tr: Any, names: tuple[str, ...]) -> None:
        rasters.write(
            folder / name,
            arr,
            region.crs,
            tr,
            descriptions=names,
            tags=_tags(seed, profile, name[:-4]),
        )

    t10 = region.transform
    x0, y0 = t10.c, t10.f
    t30 = from_origin(x0, y0, 30.0, 30.0)
    tlr = from_origin(x0, y0, 30.0 * ratio, 30.0 * ratio)
    w("s2.tif", _s2_uint16(region.s2), t10, S2_BANDS)
    w("s1.tif", region.s1, t10, S1_BANDS)
    w("lc.tif", region.coarse, t10, LC_BANDS)
    w("dfc.tif", region.dfc[None], t10, ("DFC",))
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
    l8 = block_mean(region.s2[idx], 3) * adjust
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
    """Cut the 30 m layers into HR patches (+ matching LR patches); splits are column blocks:
    train = left half, val = third quarter, test = last quarter (test never touches train)."""
    from rasterio.transform import from_origin

    from . import rasters

    n30 = lights["radiance"].shape[0]
    per = n30 // patch
    x0, y0 = region.transform.c, region.transform.f
    counts = {"train": 0, "val": 0, "test": 0}
    for r in range(per):
        for c in range(per):
            split = "train" if c < per // 2 else ("val" if c < (3 * per) // 4 else "test")
            pid = f"r{r:02d}c{c:02d}"
            hr = (slice(r * patch, (r + 1) * patch), slice(c * patch, (c + 1) * patch))
            lp = patch // ratio
            lr_sl = (slice(r * lp, (r + 1) * lp), slice(c * lp, (c + 1) * lp))
            thr = from_origin(x0 + c * patch * 30.0, y0 - r * patch * 30.0, 30.0, 30.0)
            tlr = from_origin(
                x0 + c * patch * 30.0, y0 - r * patch * 30.0, 30.0 * ratio, 30.0 * ratio
            )
            items = {
                "lr_ntl": (lights["dn"][lr_sl][None], tlr, ("DN",)),
                "hr_ntl": (lights["radiance"][hr][None], thr, ("radiance_nW_cm2_sr",)),
                "dmo": (lights["dmo"][(slice(None), *hr)], thr, L8_BANDS),
                "dem": (lights["dem"][hr][None], thr, ("elevation_m",)),
                "isp": (lights["isp"][hr][None], thr, ("impervious_0_1",)),
            }
            for mod, (arr, tr, names) in items.items():
                rasters.write(
                    folder / split / mod / f"{pid}.tif",
                    arr,
                    region.crs,
                    tr,
                    descriptions=names,
                    tags=_tags(seed, profile, mod),
                )
            counts[split] += 1
    return counts


def build_sample(root: Path, profile: str, seed: int = 0, verbose: bool = True) -> dict[str, Any]:
    """Generate every region and write the whole sample scene under ``root`` (no stamp check)."""
    cfg = config.settings("scene", profile)
    size, roi, ratio, patch = (
        int(cfg["size"]),
        int(cfg["roi_size"]),
        int(cfg["ntl_ratio"]),
        int(cfg["ntl_patch"]),
    )
    root = Path(root)
    t_start = time.perf_counter()
    summary: dict[str, Any] = {}

    def say(msg: str) -> None:
        if verbose:
            print(f"[sample scene {time.perf_counter() - t_start:5.1f}s] {msg}", flush=True)

    # Main region: DFC2020 test patches, whole-scene rasters and the NTL layout.
    main = generate_region(
        seed,
        size,
        "summer",
        "dfc",
        "temperate",
        (500000.0, 5300000.0),
        32633,
        town_bands=[(0.08, 0.42), (0.55, 0.70), (0.79, 0.92)],
    )
    say(f"main region {size}x{size} px at 10 m generated")
    n_test = _write_patches(
        main, root / "DFC2020" / "ROIs0000_test", "ROIs0000_test", "0", seed, profile, True
    )
    rng = _rng(seed, 99)
    lights = _lights(rng, main, ratio)
    lights["dmo"] = _landsat(main, rng)
    lights["dem"] = block_mean(main.dem, 3).astype(np.float32)
    lights["isp"] = (lights["impervious"] > 0.5).astype(np.uint8)
    _write_scene(main, lights, root / "scene", seed, profile, ratio)
    say(
        f"scene/ written (lights: {lights['truth']['saturated_fraction']:.1%} of coarse pixels saturated)"
    )
    ntl_counts = _write_ntl_layout(lights, root / "NTL", main, seed, profile, patch, ratio)
    say(f"NTL/ written: {ntl_counts}")
    # DFC2020 validation (the land-cover notebooks' training split): another region of the same
    # climate and season as the test region, so that train/test differ in place, not in season.
    val_size = int(cfg.get("val_size", roi))
    val = generate_region(
        seed + 1, val_size, "summer", "dfc", "temperate", (540000.0, 5300000.0), 32633
    )
    n_val = _write_patches(
        val,
        root / "DFC2020" / "ROIs0000_validation",
        "ROIs0000_validation",
        "0",
        seed,
        profile,
        True,
    )
    say(f"DFC2020/ written: {n_test} test + {n_val} validation patches")
    # SEN12MS: one region per season, each with its own climate and UTM zone.
    climates = {
        "spring": ("temperate", 32632, (400000.0, 5100000.0)),
        "summer": ("temperate", 32634, (600000.0, 5500000.0)),
        "fall": ("dry", 32630, (450000.0, 4400000.0)),
        "winter": ("alpine", 32632, (600000.0, 5150000.0)),
    }
    n_sen = {}
    for k, season in enumerate(SEASONS[: int(cfg.get("seasons", 4))]):
        clim, epsg, origin = climates[season]
        reg = generate_region(seed + 10 + k, roi, season, "sen12ms", clim, origin, epsg)
        roi_name = SEN12MS_ROIS[season]
        n_sen[season] = _write_patches(
            reg, root / "SEN12MS" / roi_name, roi_name, str(k + 1), seed, profile, False
        )
    say(f"SEN12MS/ written: {n_sen} patches per season")
    fr = np.bincount(main.dfc.ravel(), minlength=11)[1:] / main.dfc.size
    summary.update(
        dfc_fractions={labels.DFC[i + 1]: round(float(f), 4) for i, f in enumerate(fr)},
        patches={
            "dfc2020_test": n_test,
            "dfc2020_validation": n_val,
            "sen12ms": n_sen,
            "ntl": ntl_counts,
        },
        seconds=round(time.perf_counter() - t_start, 2),
    )
    return summary


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
    """True if ``root/sample.json`` records this generator version, profile and seed."""
    stamp = Path(root) / "sample.json"
    try:
        data = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    want = _stamp(profile, seed)
    return all(data.get(k) == v for k, v in want.items())


def _wait_for_other_builder(
    root: Path, profile: str, seed: int, verbose: bool, patience_s: float = 600.0
) -> bool:
    """If another process is building this scene (a fresh lock file), wait for it; True if it finished.

    The lock only avoids duplicate work: correctness comes from the build-then-rename.
    """
    lock = root.parent / f".{profile}.seed{seed}.lock"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            age = time.time() - lock.stat().st_mtime
        except OSError:
            return is_current(root, profile, seed)
        if age > patience_s:  # stale lock left by a killed process
            return False
        if verbose:
            print(
                f"another process is writing the sample scene ({profile}); waiting for it ...",
                flush=True,
            )
        deadline = time.time() + patience_s - age
        while time.time() < deadline and lock.exists():
            time.sleep(1.0)
        return is_current(root, profile, seed)
    os.close(fd)
    import atexit

    atexit.register(lambda: lock.unlink(missing_ok=True))
    _LOCKS.append(lock)
    return False


_LOCKS: list[Path] = []


def _release_locks() -> None:
    while _LOCKS:
        _LOCKS.pop().unlink(missing_ok=True)


def ensure_sample(
    profile: str | None = None, seed: int = 0, force: bool = False, verbose: bool = True
) -> SamplePaths:
    """Write the sample scene under ``data_dir()/sample/<profile>/`` unless it is already there.

    Built in a temporary folder and renamed into place, so concurrent callers are safe and a
    half-written scene is never seen.
    """
    name = config.get_profile(profile)
    root = config.data_dir() / "sample" / name
    paths = SamplePaths(root)
    if not force and is_current(root, name, seed):
        if verbose:
            print(f"sample scene ({name}, seed {seed}) already in {root}")
        return paths
    root.parent.mkdir(parents=True, exist_ok=True)
    if not force and _wait_for_other_builder(root, name, seed, verbose):
        if verbose:
            print(f"sample scene ({name}, seed {seed}) written by another process to {root}")
        return paths
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.building-", dir=root.parent))
    try:
        summary = build_sample(tmp, name, seed, verbose)
        (tmp / "sample.json").write_text(
            json.dumps(dict(_stamp(name, seed), **summary), indent=2, sort_keys=True)
        )
        if root.exists():
            if not force and is_current(root, name, seed):  # another process finished first
                if verbose:
                    print(
                        f"sample scene ({name}, seed {seed}) was written meanwhile by another process"
                    )
                return paths
            old = root.parent / f".{name}.old-{os.getpid()}-{time.time_ns()}"
            os.replace(root, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, root)
        except OSError:
            if not is_current(root, name, seed):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        _release_locks()
    if verbose:
        print(f"sample scene ({name}, seed {seed}) written to {root} in {summary['seconds']:.1f} s")
        print(f"  fine DFC class fractions (main region): {summary['dfc_fractions']}")
    return paths

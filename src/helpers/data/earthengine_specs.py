"""Earth Engine requests, offline part: where (:class:`Grid`, nested 10/30/240 m grids for an AOI)
and what (the request specs: dataset, bands, dates, masks, and :meth:`Spec.postprocess` from raw
pixels to physical units, pure numpy).

:mod:`helpers.data.earthengine` signs in, fetches and exports; import the names here from this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..core.bands import S2_BANDS as SEN12MS_S2_BANDS

# ---------------------------------------------------------------------------------------------
# Grids
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid: CRS (e.g. ``"EPSG:32633"``), affine ``transform`` and ``(h, w)``."""

    crs: str
    transform: tuple[float, float, float, float, float, float]  # a, b, c, d, e, f (rasterio order)
    shape: tuple[int, int]

    @property
    def scale(self) -> float:
        """Pixel size in metres."""
        return abs(self.transform[0])

    @property
    def affine(self) -> Any:
        """The transform as a ``rasterio`` ``Affine``."""
        from affine import Affine

        return Affine(*self.transform)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in CRS units."""
        a, _, c, _, e, f = self.transform
        h, w = self.shape
        return c, f + e * h, c + a * w, f

    def coarsen(self, factor: int) -> Grid:
        """The grid ``factor`` times coarser with the same origin (shape must divide)."""
        h, w = self.shape
        if h % factor or w % factor:
            raise ValueError(
                f"grid {self.shape} does not divide by {factor}; snap the AOI to a coarser scale."
            )
        a, b, c, d, e, f = self.transform
        return Grid(self.crs, (a * factor, b, c, d, e * factor, f), (h // factor, w // factor))

    def window(self, row: int, col: int, height: int, width: int) -> Grid:
        """The sub-grid of ``height x width`` pixels starting at ``(row, col)``."""
        a, b, c, d, e, f = self.transform
        return Grid(self.crs, (a, b, c + a * col, d, e, f + e * row), (height, width))

    def ee_pixel_grid(self) -> dict[str, Any]:
        """This grid as an Earth Engine REST ``PixelGrid`` (for ``computePixels``)."""
        # verified: PixelGrid {dimensions{width,height}, affineTransform{scaleX, shearX, translateX,
        # shearY, scaleY, translateY}, crsCode} - developers.google.com/earth-engine/reference/rest/v1/PixelGrid
        a, b, c, d, e, f = self.transform
        return {
            "dimensions": {"width": int(self.shape[1]), "height": int(self.shape[0])},
            "affineTransform": {
                "scaleX": a,
                "shearX": b,
                "translateX": c,
                "shearY": d,
                "scaleY": e,
                "translateY": f,
            },
            "crsCode": self.crs,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (used in cache keys)."""
        return {
            "crs": self.crs,
            "transform": [float(v) for v in self.transform],
            "shape": list(self.shape),
        }


def grid_for_aoi(
    bbox: Sequence[float], scale: float, align: float = 240.0, crs: str | None = None
) -> Grid:
    """The grid at ``scale`` metres covering a lon/lat ``bbox`` (west, south, east, north).

    The UTM zone comes from the bbox centre; the bounds are snapped outwards to multiples of
    ``align`` metres, so grids at every scale dividing ``align`` (10, 30, 240 m) share the origin
    and nest exactly.
    """
    from rasterio.warp import transform_bounds

    from ..io.rasters import utm_crs_for

    west, south, east, north = (float(v) for v in bbox)
    if not (west < east and south < north):
        raise ValueError(
            f"bbox {bbox} must be (west, south, east, north) with west < east, south < north."
        )
    if align % scale:
        raise ValueError(f"scale {scale} m must divide align {align} m so that the grids nest.")
    crs = crs or utm_crs_for((west + east) / 2, (south + north) / 2).to_string()
    left, bottom, right, top = transform_bounds("EPSG:4326", crs, west, south, east, north)
    left = math.floor(left / align) * align
    bottom = math.floor(bottom / align) * align
    right = math.ceil(right / align) * align
    top = math.ceil(top / align) * align
    width = int(round((right - left) / scale))
    height = int(round((top - bottom) / scale))
    return Grid(
        crs, (float(scale), 0.0, float(left), 0.0, -float(scale), float(top)), (height, width)
    )


def nested_grids(
    bbox: Sequence[float], scales: Sequence[float] = (10, 30, 240)
) -> dict[float, Grid]:
    """Grids at each of ``scales`` for one AOI, snapped to the coarsest so that they nest."""
    align = float(max(scales))
    return {s: grid_for_aoi(bbox, s, align=align) for s in scales}


def aoi_map(bbox: Sequence[float], zoom: int = 12) -> Any:
    """A geemap map (no Earth Engine sign-in) showing ``bbox``, with a draw tool for a new AOI.

    ``geemap.Map()`` would start an interactive sign-in without credentials (it hangs headless), so
    the map is built with ``ee_initialize=False``. Offline it has no tiles but still works.
    Returns ``None`` when geemap is not installed.
    """
    try:
        import geemap
        from ipyleaflet import Rectangle
    except ImportError:
        return None
    west, south, east, north = bbox
    m = geemap.Map(ee_initialize=False, center=((south + north) / 2, (west + east) / 2), zoom=zoom)
    m.add(
        Rectangle(bounds=((south, west), (north, east)), color="red", fill_opacity=0.05, name="AOI")
    )
    return m


def bbox_from_map(m: Any) -> tuple[float, float, float, float] | None:
    """The lon/lat bbox of the last shape drawn on ``m`` (see :func:`aoi_map`), or ``None``."""
    control = getattr(m, "draw_control", None) or getattr(m, "_draw_control", None)
    feature = getattr(control, "last_draw", None) or {}
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    if not geometry or not geometry.get("coordinates"):
        return None
    coords = np.asarray(
        geometry["coordinates"][0] if geometry["type"] == "Polygon" else geometry["coordinates"],
        dtype=float,
    ).reshape(-1, 2)
    (west, south), (east, north) = coords.min(0), coords.max(0)
    return (
        (float(west), float(south), float(east), float(north))
        if west < east and south < north
        else None
    )


def aoi_around(lon: float, lat: float, size_km: float) -> tuple[float, float, float, float]:
    """A lon/lat bbox of about ``size_km`` on a side centred on a point."""
    half_lat = size_km / 2 / 110.574
    half_lon = size_km / 2 / (111.320 * max(math.cos(math.radians(lat)), 1e-6))
    return lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat


# ---------------------------------------------------------------------------------------------
# Request specs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """Base of the request specs: what to fetch and how to turn raw pixels into physical units."""

    dataset: str = ""
    bands: tuple[str, ...] = ()
    dtype: str = "float32"  # what Earth Engine sends (after the spec's server-side cast)
    fill: float = 0  # value Earth Engine writes where the image is masked
    resample: str | None = None  # None = nearest neighbour (labels); "bilinear" for continuous data
    verified: str = ""  # where the id / bands / scale were confirmed

    @property
    def name(self) -> str:
        """Short name of the spec class (used in tags and cache keys)."""
        return type(self).__name__

    @property
    def out_bands(self) -> tuple[str, ...]:
        """Names of the bands in the written file."""
        return self.bands

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (used in cache keys)."""
        return {"kind": self.name, **{k: v for k, v in asdict(self).items() if k != "verified"}}

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        """Raw pixels (bands, h, w) -> values written to the file. Default: unchanged."""
        return raw

    def nodata(self) -> float | None:
        """Nodata value of the written file (``None`` when every pixel is valid or NaN is used)."""
        return None

    def ee_image(self, ee: Any, grid: Grid) -> Any:  # pragma: no cover - needs Earth Engine
        """The server-side image (requires ``ee.Initialize``)."""
        raise NotImplementedError

    # shared server-side helpers
    def _finish(self, image: Any) -> Any:  # pragma: no cover - needs Earth Engine
        if self.resample:
            image = image.resample(self.resample)
        image = image.unmask(self.fill)
        cast = {"uint8": "toUint8", "uint16": "toUint16", "int16": "toInt16", "float32": "toFloat"}[
            self.dtype
        ]
        return getattr(image, cast)()


def _region(ee: Any, grid: Grid) -> Any:  # pragma: no cover - needs Earth Engine
    left, bottom, right, top = grid.bounds
    return ee.Geometry.Rectangle([left, bottom, right, top], proj=grid.crs, geodesic=False)


S2_SR_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B11", "B12")
S2_TOA_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
# Product level -> Earth Engine collection. L1C (top of atmosphere) is what SEN12MS and DFC2020 hold
# and what the sample scene renders by default; L2A (surface reflectance, Sen2Cor) has no B10.
S2_COLLECTIONS = {"L1C": "COPERNICUS/S2_HARMONIZED", "L2A": "COPERNICUS/S2_SR_HARMONIZED"}

SCL_CLOUDY = (3, 8, 9, 10)  # cloud shadow, cloud medium / high probability, thin cirrus


@dataclass(frozen=True)
class Sentinel2Spec(Spec):
    """Median Sentinel-2 composite (harmonized) over a date range, clouds masked.

    ``product="L1C"`` (default): top-of-atmosphere reflectance, all 13 bands, the level of SEN12MS,
    DFC2020 and the sample scene, so models trained on those apply without a domain gap.
    ``product="L2A"``: surface reflectance (atmosphere removed by Sen2Cor); B10 is not in L2A and is
    written as zeros. Mask: Cloud Score+ ``cs_cdf >= clear_threshold`` (default, the catalog's
    suggested use with 0.60), or, for L2A only, the Sen2Cor scene classification (``mask="scl"``).
    """

    # verified: COPERNICUS/S2_SR_HARMONIZED, "12 UINT16 spectral bands representing SR scaled by 10000
    # (unlike in L1 data, there is no B10)" - EE catalog COPERNICUS_S2_SR page (points to HARMONIZED).
    # L1C: the COPERNICUS/S2 catalog text "13 UINT16 spectral bands representing TOA reflectance scaled
    # by 10000" (quoted in public STAC examples, search tool); COPERNICUS/S2_HARMONIZED is its
    # harmonized version (same bands, processing-baseline offset removed), id as named in the project's design review -
    # not re-checked against the catalog page this session.
    # verified: GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED bands cs, cs_cdf in 0..1, linked by
    # system:index - EE catalog GOOGLE_CLOUD_SCORE_PLUS_V1_S2_HARMONIZED.
    # EE band names B1..B12/B8A/SCL: confirmed from public EE scripts (find_string), not the catalog page.
    start: str = "2021-06-01"
    end: str = "2021-09-01"
    mask: str = "cloud_score_plus"
    clear_threshold: float = 0.60
    product: str = "L1C"
    dataset: str = ""
    bands: tuple[str, ...] = ()
    dtype: str = "uint16"
    fill: float = 0
    resample: str | None = None
    verified: str = (
        "EE catalog COPERNICUS_S2_SR(_HARMONIZED), GOOGLE_CLOUD_SCORE_PLUS_V1_S2_HARMONIZED; "
        "COPERNICUS/S2 (L1C) catalog text via STAC examples"
    )

    def __post_init__(self) -> None:
        if self.product not in S2_COLLECTIONS:
            raise ValueError(
                f"Sentinel2Spec: product must be 'L1C' (top of atmosphere, as SEN12MS / DFC2020) or "
                f"'L2A' (surface reflectance), not {self.product!r}."
            )
        if self.mask == "scl" and self.product == "L1C":
            raise ValueError("Sentinel2Spec: mask='scl' needs product='L2A' (L1C has no SCL band).")
        if not self.dataset:
            object.__setattr__(self, "dataset", S2_COLLECTIONS[self.product])
        if not self.bands:
            bands = S2_TOA_BANDS if self.product == "L1C" else S2_SR_BANDS
            object.__setattr__(self, "bands", bands)

    @property
    def out_bands(self) -> tuple[str, ...]:
        return SEN12MS_S2_BANDS

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        """L1C (13) or L2A (12) bands -> the 13 SEN12MS bands (B10 zero for L2A), uint16 x 10000."""
        out = np.zeros((13,) + raw.shape[1:], dtype=np.uint16)
        index = [SEN12MS_S2_BANDS.index(b if len(b) == 3 else f"B0{b[1:]}") for b in self.bands]
        out[index] = np.asarray(raw).astype(np.uint16)
        return out

    def nodata(self) -> float | None:
        return None  # 0 marks no valid observation in every band; B10 is always 0

    def ee_image(self, ee: Any, grid: Grid) -> Any:  # pragma: no cover - needs Earth Engine
        col = (
            ee.ImageCollection(self.dataset)
            .filterBounds(_region(ee, grid))
            .filterDate(self.start, self.end)
        )
        if self.mask == "cloud_score_plus":
            cs = ee.ImageCollection("GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED")
            threshold = self.clear_threshold
            col = col.linkCollection(cs, ["cs_cdf"]).map(
                lambda img: img.updateMask(img.select("cs_cdf").gte(threshold))
            )
        elif self.mask == "scl":

            def _scl(img: Any) -> Any:
                scl = img.select("SCL")
                clear = ee.Image.constant(1)
                for value in SCL_CLOUDY:
                    clear = clear.And(scl.neq(value))
                return img.updateMask(clear)

            col = col.map(_scl)
        else:
            raise ValueError(f"mask must be 'cloud_score_plus' or 'scl', not {self.mask!r}")
        return self._finish(col.select(list(self.bands)).median())


LANDSAT_SR_BANDS = ("SR_B1", "SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7")
LANDSAT_SCALE = 0.0000275
LANDSAT_OFFSET = -0.2


def landsat_reflectance(dn: np.ndarray, fill: float = 0) -> np.ndarray:
    """Landsat Collection 2 Level 2 SR digital numbers -> surface reflectance (float32, NaN = fill)."""
    dn = np.asarray(dn)
    out = dn.astype(np.float32) * np.float32(LANDSAT_SCALE) + np.float32(LANDSAT_OFFSET)
    out[dn == fill] = np.nan
    return out


@dataclass(frozen=True)
class LandsatSpec(Spec):
    """Median Landsat 8/9 Collection 2 Level 2 surface reflectance, SR_B1..SR_B7, QA_PIXEL masked.

    The median is computed on digital numbers (a linear scale commutes with the median) and the
    scale factor is applied here: reflectance = DN x 0.0000275 - 0.2; fill (DN 0) becomes NaN.
    """

    # verified: LANDSAT/LC08/C02/T1_L2, SR_B1..SR_B7, QA_PIXEL bits 0-4 (fill, dilated cloud, cirrus,
    # cloud, shadow), scale 0.0000275 offset -0.2 - google/earthengine-api example
    # CloudMasking/Landsat8SurfaceReflectance.js. LANDSAT/LC09/C02/T1_L2: same band layout, confirmed
    # from public EE scripts and the LC09 T2_L2 catalog page (the T1_L2 page itself was not found).
    start: str = "2021-06-01"
    end: str = "2021-09-01"
    collections: tuple[str, ...] = ("LANDSAT/LC08/C02/T1_L2", "LANDSAT/LC09/C02/T1_L2")
    dataset: str = "LANDSAT/LC08/C02/T1_L2+LANDSAT/LC09/C02/T1_L2"
    bands: tuple[str, ...] = LANDSAT_SR_BANDS
    dtype: str = "uint16"
    fill: float = 0
    resample: str | None = None
    verified: str = "google/earthengine-api Landsat8SurfaceReflectance.js; LC09 via scripts"

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        return landsat_reflectance(raw, self.fill)

    def ee_image(self, ee: Any, grid: Grid) -> Any:  # pragma: no cover - needs Earth Engine
        col = ee.ImageCollection(self.collections[0])
        for other in self.collections[1:]:
            col = col.merge(ee.ImageCollection(other))
        col = col.filterBounds(_region(ee, grid)).filterDate(self.start, self.end)
        col = col.map(lambda img: img.updateMask(img.select("QA_PIXEL").bitwiseAnd(0b11111).eq(0)))
        return self._finish(col.select(list(self.bands)).median())


def fill_to_nan(raw: np.ndarray, fill: float) -> np.ndarray:
    """Float32 copy of ``raw`` with Earth Engine's masked-pixel ``fill`` value turned into NaN."""
    out = np.asarray(raw, dtype=np.float32).copy()
    out[out == fill] = np.nan
    return out


@dataclass(frozen=True)
class DemSpec(Spec):
    """Elevation in metres from NASADEM (30 m, heights relative to the EGM96 geoid)."""

    # verified: ee.Image("NASA/NASADEM_HGT/001"), band "elevation" in m, 30 m - EE catalog
    # NASA_NASADEM_HGT_001. (USGS/SRTMGL1_003 would be an alternative: unverified here, not used.)
    dataset: str = "NASA/NASADEM_HGT/001"
    bands: tuple[str, ...] = ("elevation",)
    dtype: str = "float32"
    fill: float = -9999
    resample: str | None = "bilinear"
    verified: str = "EE catalog NASA_NASADEM_HGT_001"

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        return fill_to_nan(raw, self.fill)

    def ee_image(self, ee: Any, grid: Grid) -> Any:  # pragma: no cover - needs Earth Engine
        return self._finish(ee.Image(self.dataset).select(list(self.bands)))


@dataclass(frozen=True)
class ViirsSpec(Spec):
    """Median VIIRS DNB monthly radiance (nW/cm2/sr, stray-light corrected), ~464 m native.

    On a 30 m grid this is an upsampled coarse product, a stand-in for truly high-resolution
    lights (PANDA-FINE / DeepLight use Luojia-like data that Earth Engine does not hold).
    """

    # verified: NOAA/VIIRS/DNB/MONTHLY_V1/VCMSLCFG exists from 2014-01 (EE catalog
    # NOAA_VIIRS_DNB_MONTHLY_V1_VCMSLCFG); band avg_rad in nanoWatts/sr/cm^2, 463.83 m (catalog page of
    # the sibling VCMCFG; VCMSLCFG .select("avg_rad") in public scripts).
    start: str = "2014-01-01"
    end: str = "2015-01-01"
    dataset: str = "NOAA/VIIRS/DNB/MONTHLY_V1/VCMSLCFG"
    bands: tuple[str, ...] = ("avg_rad",)
    dtype: str = "float32"
    fill: float = -9999
    resample: str | None = "bilinear"
    verified: str = "EE catalog NOAA_VIIRS_DNB_MONTHLY_V1_VCMSLCFG / _VCMCFG"

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        return fill_to_nan(raw, self.fill)

    def ee_image(self, ee: Any, grid: Grid) -> Any:  # pragma: no cover - needs Earth Engine
        col = (
            ee.ImageCollection(self.dataset)
            .filterDate(self.start, self.end)
            .select(list(self.bands))
        )
        return self._finish(col.median())


@dataclass(frozen=True)
class DmspSpec(Spec):
    """DMSP-OLS stable lights of one year: 6-bit digital numbers 0..63 (saturating), ~928 m native."""

    # verified: NOAA/DMSP-OLS/NIGHTTIME_LIGHTS 1992-2013, band stable_lights 0..63 DN, 927.67 m,
    # background noise set to 0 - EE catalog NOAA_DMSP-OLS_NIGHTTIME_LIGHTS.
    year: int = 2013
    dataset: str = "NOAA/DMSP-OLS/NIGHTTIME_LIGHTS"
    bands: tuple[str, ...] = ("stable_lights",)
    dtype: str = "uint8"
    fill: float = 0
    resample: str | None = None
    verified: str = "EE catalog NOAA_DMSP-OLS_NIGHTTIME_LIGHTS"

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(raw), 0, 63).astype(np.uint8)

    def ee_image(self, ee: Any, grid: Grid) -> Any:  # pragma: no cover - needs Earth Engine
        # Years with two satellites hold two composites; their mean is rounded back to DN.
        col = ee.ImageCollection(self.dataset).filterDate(
            f"{self.year}-01-01", f"{self.year + 1}-01-01"
        )
        return self._finish(col.select(list(self.bands)).mean().round())


@dataclass(frozen=True)
class ModisLandCoverSpec(Spec):
    """MODIS MCD12Q1 v6.1 land cover of one year: IGBP (LC_Type1) and the three LCCS layers, 500 m.

    The four bands are the SEN12MS ``lc`` bands (IGBP, LCCS_LC, LCCS_LU, LCCS_SH).
    """

    # verified: MODIS/061/MCD12Q1, 500 m, LC_Type1 = IGBP, LC_Prop1/2/3 = FAO-LCCS land cover / land use /
    # surface hydrology - EE catalog MODIS_061_MCD12Q1 (and the superseded MODIS_006_MCD12Q1).
    year: int = 2020
    dataset: str = "MODIS/061/MCD12Q1"
    bands: tuple[str, ...] = ("LC_Type1", "LC_Prop1", "LC_Prop2", "LC_Prop3")
    dtype: str = "uint16"
    fill: float = 0
    resample: str | None = None
    verified: str = "EE catalog MODIS_061_MCD12Q1"

    @property
    def out_bands(self) -> tuple[str, ...]:
        names = {
            "LC_Type1": "IGBP",
            "LC_Prop1": "LCCS_LC",
            "LC_Prop2": "LCCS_LU",
            "LC_Prop3": "LCCS_SH",
        }
        return tuple(names.get(b, b) for b in self.bands)

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        return np.asarray(raw).astype(np.uint16)

    def ee_image(self, ee: Any, grid: Grid) -> Any:  # pragma: no cover - needs Earth Engine
        col = ee.ImageCollection(self.dataset).filterDate(
            f"{self.year}-01-01", f"{self.year + 1}-01-01"
        )
        return self._finish(col.first().select(list(self.bands)))


# ESA WorldCover -> DFC2020 classes (1 Forest, 2 Shrubland, 4 Grassland, 5 Wetlands, 6 Croplands,
# 7 Urban, 8 Snow/Ice, 9 Barren, 10 Water). The kit's own approximate mapping, not from DFC2020.
WORLDCOVER_TO_DFC = {10: 1, 20: 2, 30: 4, 40: 6, 50: 7, 60: 9, 70: 8, 80: 10, 90: 5, 95: 5, 100: 4}


@dataclass(frozen=True)
class WorldCoverSpec(Spec):
    """ESA WorldCover 2021 (v200), 10 m, 11 classes; ``to_dfc=True`` maps it to DFC2020 classes."""

    # verified: ESA/WorldCover/v200 (ImageCollection, one image), band "Map", 10 m, classes 10..100 -
    # earthlens catalog listing of the EE asset and ESA's product pages; the EE catalog page itself was
    # not found in the search index.
    to_dfc: bool = False
    dataset: str = "ESA/WorldCover/v200"
    bands: tuple[str, ...] = ("Map",)
    dtype: str = "uint8"
    fill: float = 0
    resample: str | None = None
    verified: str = "earthlens EE catalog listing; ESA WorldCover v200 product pages"

    @property
    def out_bands(self) -> tuple[str, ...]:
        return ("DFC",) if self.to_dfc else self.bands

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw).astype(np.uint8)
        if not self.to_dfc:
            return raw
        lut = np.zeros(256, dtype=np.uint16)
        for wc, dfc in WORLDCOVER_TO_DFC.items():
            lut[wc] = dfc
        return lut[raw]

    def ee_image(self, ee: Any, grid: Grid) -> Any:  # pragma: no cover - needs Earth Engine
        return self._finish(ee.ImageCollection(self.dataset).first().select(list(self.bands)))


@dataclass(frozen=True)
class ImperviousSpec(Spec):
    """Impervious surface (0/1) by the end of ``year`` from GAIA (Tsinghua FROM-GLC), 30 m, 1985-2018.

    GAIA stores the year a pixel became impervious as ``change_year_index`` = 2019 - year (34 = 1985,
    1 = 2018), so impervious by ``year`` is ``change_year_index >= 2019 - year``.
    """

    # verified: ee.Image("Tsinghua/FROM-GLC/GAIA/v10"), band change_year_index 34 (1985) .. 1 (2018),
    # 30 m - EE catalog Tsinghua_FROM-GLC_GAIA_v10.
    year: int = 2018
    dataset: str = "Tsinghua/FROM-GLC/GAIA/v10"
    bands: tuple[str, ...] = ("change_year_index",)
    dtype: str = "uint8"
    fill: float = 0
    resample: str | None = None
    verified: str = "EE catalog Tsinghua_FROM-GLC_GAIA_v10"

    @property
    def out_bands(self) -> tuple[str, ...]:
        return ("ISP",)

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        """``change_year_index`` -> 1 where impervious by the end of ``year``, else 0."""
        raw = np.asarray(raw)
        return (raw >= 2019 - self.year).astype(np.uint8)

    def ee_image(self, ee: Any, grid: Grid) -> Any:  # pragma: no cover - needs Earth Engine
        return self._finish(ee.Image(self.dataset).select(list(self.bands)))

"""Earth Engine: login without prompts, request specs, nested grids, chunked export, sample fallback.

What this module does, in the order a notebook uses it:

1. :func:`connect` checks the ``earthengine-api`` package, stored credentials, a Cloud project
   (argument, ``EE_PROJECT`` or a Colab secret named ``EE_PROJECT``) and the network, and returns a
   :class:`Status` instead of raising. It never opens an interactive sign-in (that hangs headless);
   only :func:`authenticate`, called on purpose, does.
2. Request specs (:class:`Sentinel2Spec`, :class:`LandsatSpec`, :class:`DemSpec`, :class:`ViirsSpec`,
   :class:`DmspSpec`, :class:`ModisLandCoverSpec`, :class:`WorldCoverSpec`,
   :class:`ImperviousSpec`) say which dataset, bands, dates and masks; each knows how to build its
   ``ee.Image`` and how to turn the raw pixels into physical units (:meth:`postprocess`, pure numpy).
3. :class:`Grid` is a fixed pixel grid in a UTM zone. :func:`grid_for_aoi` snaps an AOI so that the
   10 m, 30 m and 240 m grids share their origin and nest exactly.
4. :func:`plan_chunks` splits a grid under Earth Engine's request limits; :func:`export` fetches each
   chunk through ``ee.data.computePixels`` (retrying rate-limit errors with exponential backoff),
   mosaics them and writes one GeoTIFF per modality with the grid's georeference, cached by a hash
   of spec + grid kept beside the file.
5. :func:`fetch_or_sample` writes everything into the kit's layouts (``scene/``, a DFC2020-like patch
   layout, the NTL layout); without Earth Engine it returns the same files from the sample scene.

Everything except the ``ee`` calls is testable offline: pass ``fetcher=`` (a function
``(spec, grid) -> array (bands, h, w)``) instead of Earth Engine.

Dataset ids, bands and scale factors were checked against the Earth Engine data catalog (see the
``# verified:`` comment on each spec); those that could not be are marked ``unverified``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .bands import S2_BANDS as SEN12MS_S2_BANDS

CACHE_VERSION = 1
MiB = 2**20

# Request limits users hit (DESIGN.md "Facts from the anchors"): computePixels ~48 MB per request;
# getDownloadURL ~32 MB and 10,000 px per side. 32768 px per side for computePixels is taken from a
# third-party page (earthlens docs: "EE's 32768-px per-axis cap") and is marked unverified.
LIMITS: dict[str, dict[str, int]] = {
    "computePixels": {"max_bytes": 48 * MiB, "max_side": 32768},
    "getDownloadURL": {"max_bytes": 32 * MiB, "max_side": 10000},
}

Fetcher = Callable[["Spec", "Grid"], np.ndarray]


# ---------------------------------------------------------------------------------------------
# Login
# ---------------------------------------------------------------------------------------------


@dataclass
class Status:
    """Outcome of :func:`connect`: ``ok``, what is ``missing`` and how to fix it."""

    ok: bool
    missing: tuple[str, ...] = ()  # among "package", "credentials", "project", "network"
    fix: str = ""
    project: str | None = None
    detail: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"Earth Engine ready (project {self.project})."
        return f"Earth Engine not available (missing: {', '.join(self.missing)}). {self.fix}"


_FIXES = {
    "package": "Install it with `pip install earthengine-api` (or `pip install eosr-kit[earthengine]`).",
    "credentials": (
        "Sign in once: run `earthengine authenticate` in a terminal, or call "
        "`helpers.earthengine.authenticate()` in a notebook (in Colab this uses your Google login)."
    ),
    "project": (
        "Give a Google Cloud project registered for Earth Engine: `connect(project='my-project')`, "
        "or set the environment variable EE_PROJECT, or (in Colab) add a secret named EE_PROJECT."
    ),
    "network": "Earth Engine could not be reached; check the internet connection and try again.",
}


def _scrub(text: str) -> str:
    """Remove anything that looks like an OAuth token from an error message (never show secrets)."""
    text = re.sub(r"ya29\.[\w\-.]+", "<token>", text)
    text = re.sub(r"1//[\w\-.]+", "<token>", text)
    return text.strip().splitlines()[0][:300] if text.strip() else ""


def resolve_project(project: str | None = None) -> str | None:
    """The Cloud project: the argument, else ``EE_PROJECT``, else the Colab secret ``EE_PROJECT``."""
    if project:
        return project
    env = os.environ.get("EE_PROJECT")
    if env:
        return env
    from . import config

    if config.in_colab():
        try:
            from google.colab import userdata  # type: ignore[import-not-found]

            return userdata.get("EE_PROJECT") or None
        except Exception:  # secret missing or notebook access not granted
            return None
    return None


def connect(project: str | None = None, timeout_s: float = 60.0) -> Status:
    """Initialise Earth Engine without any interactive prompt and report what is missing.

    Never raises for missing package, credentials, project or network, and never prints a token.
    """
    try:
        import ee
    except ImportError:
        return Status(False, ("package",), _FIXES["package"])
    project = resolve_project(project)
    try:
        credentials = ee.data.get_persistent_credentials()
    except Exception as err:  # ee.EEException "Please authorize access ..."
        missing = ("credentials",) if project else ("credentials", "project")
        fix = " ".join(_FIXES[m] for m in missing)
        return Status(False, missing, fix, project, _scrub(str(err)))
    outcome: dict[str, Any] = {}

    def _init() -> None:
        try:
            ee.Initialize(credentials=credentials, project=project)
            outcome["ok"] = True
        except Exception as err:  # noqa: BLE001 - classified below
            outcome["error"] = err

    worker = threading.Thread(target=_init, daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        return Status(
            False, ("network",), _FIXES["network"], project, f"no answer in {timeout_s:.0f} s"
        )
    if outcome.get("ok"):
        return Status(True, (), "", project or getattr(credentials, "quota_project_id", None))
    return _classify(outcome.get("error"), project)


def _classify(err: BaseException | None, project: str | None) -> Status:
    """Turn an exception from ``ee.Initialize`` into a :class:`Status` with a fix."""
    text = _scrub(str(err))
    low = text.lower()
    if "project" in low and (
        "no project" in low or "not been used" in low or "permission" in low or not project
    ):
        kind = "project"
    elif any(
        k in low for k in ("authorize", "credential", "invalid_grant", "refresh", "unauthenticated")
    ):
        kind = "credentials"
    elif any(
        k in low
        for k in (
            "connection",
            "timed out",
            "timeout",
            "resolve",
            "unreachable",
            "network",
            "name or service",
            "max retries",
            "temporary failure",
        )
    ):
        kind = "network"
    else:
        return Status(
            False, ("network",), f"Earth Engine said: {text}. {_FIXES['network']}", project, text
        )
    return Status(False, (kind,), _FIXES[kind], project, text)


def authenticate(auth_mode: str | None = None, force: bool = False) -> bool | None:
    """Run Earth Engine's interactive sign-in (browser or Colab prompt). Call it yourself, once.

    This is the only function here that may wait for a person; :func:`connect` never calls it.
    """
    import ee

    return ee.Authenticate(auth_mode=auth_mode, force=force)


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

    from .rasters import utm_crs_for

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
# Chunk planning
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """One request: ``height x width`` pixels at ``(row, col)`` of the full grid."""

    row: int
    col: int
    height: int
    width: int


def chunk_bytes(height: int, width: int, bands: int, dtype: Any) -> int:
    """Bytes of one chunk's pixels: px * bands * dtype size."""
    return int(height) * int(width) * int(bands) * np.dtype(dtype).itemsize


def plan_chunks(
    shape: tuple[int, int],
    bands: int,
    dtype: Any,
    method: str = "computePixels",
    margin: float = 0.75,
    max_bytes: int | None = None,
    max_side: int | None = None,
) -> list[Chunk]:
    """Square-ish chunks tiling ``shape`` exactly, each under ``margin`` x the method's limits."""
    limit = LIMITS[method]
    budget = int((max_bytes or limit["max_bytes"]) * margin)
    side_cap = int(max_side or limit["max_side"])
    per_px = bands * np.dtype(dtype).itemsize
    if per_px > budget:
        raise ValueError(f"one pixel ({per_px} bytes) exceeds the request budget ({budget} bytes).")
    side = max(1, min(side_cap, int(math.isqrt(budget // per_px))))
    height, width = shape
    return [
        Chunk(r, c, min(side, height - r), min(side, width - c))
        for r in range(0, height, side)
        for c in range(0, width, side)
    ]


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
    # harmonized version (same bands, processing-baseline offset removed), id as named in issue 16 -
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


# ---------------------------------------------------------------------------------------------
# Fetching, retries, mosaics, cache
# ---------------------------------------------------------------------------------------------


class EarthEngineFetchError(RuntimeError):
    """A request that failed for good; the message names the dataset and the fix."""


_RATE_LIMIT = re.compile(
    r"429|too many (concurrent|requests)|rate limit|quota exceeded|resource_exhausted", re.I
)


def is_rate_limited(err: BaseException) -> bool:
    """True for Earth Engine's rate-limit errors (HTTP 429, "Too many concurrent aggregations")."""
    return bool(_RATE_LIMIT.search(str(err))) or getattr(err, "status_code", None) == 429


def with_retries(
    call: Callable[[], Any],
    retries: int = 5,
    base_delay: float = 2.0,
    max_delay: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Run ``call()``, retrying rate-limit errors with exponential backoff (plus jitter)."""
    for attempt in range(retries + 1):
        try:
            return call()
        except Exception as err:
            if not is_rate_limited(err) or attempt == retries:
                raise
            delay = min(max_delay, base_delay * 2**attempt) * (1 + 0.25 * random.random())
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def ee_fetcher(file_format: str = "NUMPY_NDARRAY") -> Fetcher:
    """A fetcher that asks Earth Engine (``ee.data.computePixels``) for one chunk."""
    if file_format not in ("NUMPY_NDARRAY", "GEO_TIFF"):
        raise ValueError("file_format must be 'NUMPY_NDARRAY' or 'GEO_TIFF'")

    def fetch(spec: Spec, grid: Grid) -> np.ndarray:  # pragma: no cover - needs Earth Engine
        import ee

        request = {
            "expression": spec.ee_image(ee, grid),
            "fileFormat": file_format,
            "grid": grid.ee_pixel_grid(),
            "bandIds": list(spec.bands),
        }
        data = ee.data.computePixels(request)
        if file_format == "GEO_TIFF":
            from rasterio.io import MemoryFile

            with MemoryFile(data) as mem, mem.open() as src:
                return src.read()
        return np.stack([np.asarray(data[name]) for name in data.dtype.names])

    return fetch


def cache_key(spec: Spec, grid: Grid) -> str:
    """SHA-256 of the spec, the grid and the cache version: same key = same file."""
    text = json.dumps(
        {"v": CACHE_VERSION, "spec": spec.to_dict(), "grid": grid.to_dict()}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".cache.json")


def is_cached(path: str | os.PathLike, spec: Spec, grid: Grid) -> bool:
    """True when ``path`` exists and its sidecar records the same spec + grid."""
    path = Path(path)
    side = _sidecar(path)
    if not (path.exists() and side.exists()):
        return False
    try:
        return json.loads(side.read_text()).get("key") == cache_key(spec, grid)
    except (OSError, ValueError):
        return False


def export(
    spec: Spec,
    grid: Grid,
    path: str | os.PathLike,
    fetcher: Fetcher | None = None,
    method: str = "computePixels",
    retries: int = 5,
    base_delay: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Fetch ``spec`` on ``grid`` chunk by chunk, mosaic, write one GeoTIFF; skip when cached."""
    from . import rasters

    path = Path(path)
    if not force and is_cached(path, spec, grid):
        return path
    fetch = fetcher or ee_fetcher()
    chunks = plan_chunks(grid.shape, len(spec.bands), spec.dtype, method=method)
    mosaic = np.full((len(spec.bands),) + tuple(grid.shape), spec.fill, dtype=spec.dtype)
    for chunk in _progress(chunks, f"{spec.name} {grid.scale:g} m", progress):
        sub = grid.window(chunk.row, chunk.col, chunk.height, chunk.width)
        try:
            arr = with_retries(lambda sub=sub: fetch(spec, sub), retries, base_delay, sleep=sleep)
        except Exception as err:
            raise EarthEngineFetchError(_fetch_fix(spec, chunk, err)) from None
        arr = np.asarray(arr)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.shape != (len(spec.bands), chunk.height, chunk.width):
            raise EarthEngineFetchError(
                f"{spec.dataset}: chunk {chunk} came back with shape {arr.shape}, expected "
                f"{(len(spec.bands), chunk.height, chunk.width)}. Check the spec's bands."
            )
        mosaic[:, chunk.row : chunk.row + chunk.height, chunk.col : chunk.col + chunk.width] = arr
    data = spec.postprocess(mosaic)
    tags = {
        "source": "Google Earth Engine",
        "dataset": spec.dataset,
        "spec": json.dumps(spec.to_dict()),
    }
    rasters.write(
        path,
        data,
        grid.crs,
        grid.affine,
        nodata=spec.nodata(),
        descriptions=list(spec.out_bands),
        tags=tags,
    )
    _sidecar(path).write_text(
        json.dumps(
            {"key": cache_key(spec, grid), "spec": spec.to_dict(), "grid": grid.to_dict()}, indent=1
        )
    )
    return path


def _fetch_fix(spec: Spec, chunk: Chunk, err: BaseException) -> str:
    text = _scrub(str(err))
    low = text.lower()
    if "memory limit" in low or "too large" in low or "must be less than" in low:
        fix = "Reduce the AOI or the date range, or pass a smaller margin to plan_chunks."
    elif is_rate_limited(err):
        fix = "Earth Engine kept rate-limiting; wait a few minutes and run again (finished files are cached)."
    else:
        fix = "Check the dataset id, bands and dates of the spec, and that connect() is ok."
    return f"{spec.dataset}: chunk at row {chunk.row}, col {chunk.col} failed ({text}). {fix}"


def _progress(items: list[Any], desc: str, enabled: bool) -> Any:
    if not enabled or len(items) < 2:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, leave=False)


# ---------------------------------------------------------------------------------------------
# The kit's layouts
# ---------------------------------------------------------------------------------------------

# scene/ file name -> (spec factory, scale in metres). Names match the sample scene's scene/ folder.
SCENE_FILES = ("s2", "lc", "dfc", "dem", "ntl_hr", "ntl_lr", "dmo", "ntl_dem", "isp")


def default_requests(
    start: str = "2021-06-01",
    end: str = "2021-09-01",
    year: int = 2020,
    viirs_year: int = 2014,
    dmsp_year: int = 2013,
    isp_year: int = 2018,
    ratio: int = 8,
    s2_product: str = "L1C",
) -> dict[str, tuple[Spec, float]]:
    """The modalities of ``scene/``: Sentinel-2 / labels / DEM at 10 m, lights side at 30 m (LR x ratio).

    ``s2_product``: "L1C" (top of atmosphere, as SEN12MS / DFC2020 and the sample scene) or "L2A".

    DMSP ends in 2013 and VIIRS VCMSLCFG starts in 2014, so the default pairs the closest years.
    """
    return {
        "s2": (Sentinel2Spec(start=start, end=end, product=s2_product), 10.0),
        "lc": (ModisLandCoverSpec(year=year), 10.0),
        "dfc": (WorldCoverSpec(to_dfc=True), 10.0),
        "dem": (DemSpec(), 10.0),
        "ntl_hr": (ViirsSpec(start=f"{viirs_year}-01-01", end=f"{viirs_year + 1}-01-01"), 30.0),
        "ntl_lr": (DmspSpec(year=dmsp_year), 30.0 * ratio),
        "dmo": (LandsatSpec(start=start, end=end), 30.0),
        "ntl_dem": (DemSpec(), 30.0),
        "isp": (ImperviousSpec(year=isp_year), 30.0),
    }


def export_scene(
    bbox: Sequence[float],
    root: str | os.PathLike,
    requests: dict[str, tuple[Spec, float]] | None = None,
    fetcher: Fetcher | None = None,
    **export_kwargs: Any,
) -> dict[str, Path]:
    """Export every modality of ``requests`` on nested grids into ``root/scene/<name>.tif``."""
    requests = requests or default_requests()
    scales = sorted({scale for _, scale in requests.values()})
    grids = nested_grids(bbox, scales)
    scene = Path(root) / "scene"
    return {
        name: export(spec, grids[scale], scene / f"{name}.tif", fetcher=fetcher, **export_kwargs)
        for name, (spec, scale) in requests.items()
    }


def _patch_starts(n: int, patch: int) -> list[int]:
    return list(range(0, n - patch + 1, patch))


def write_dfc2020_layout(
    scene: str | os.PathLike, root: str | os.PathLike, split: str = "test", patch: int = 256
) -> list[Path]:
    """Cut ``scene/{s2,lc,dfc}.tif`` into the DFC2020 layout (``ROIs0000_<split>/<mod>_0/..._p<n>.tif``)."""
    from . import rasters

    scene, out_root = Path(scene), Path(root) / "DFC2020" / f"ROIs0000_{split}"
    layers = {mod: rasters.read(scene / f"{mod}.tif") for mod in ("s2", "lc", "dfc")}
    base = layers["s2"]
    for mod in ("lc", "dfc"):
        rasters.check_same_grid(base, layers[mod])
    h, w = base.shape
    if h < patch or w < patch:
        raise ValueError(
            f"{scene / 's2.tif'}: {h}x{w} px is smaller than one {patch} px patch; "
            f"enlarge the AOI to at least {patch * base.resolution[0] / 1000:.2f} km a side."
        )
    written, number = [], 0
    for r in _patch_starts(h, patch):
        for c in _patch_starts(w, patch):
            number += 1
            for mod, raster in layers.items():
                transform = raster.transform * _translation(c, r)
                path = out_root / f"{mod}_0" / f"ROIs0000_{split}_{mod}_0_p{number}.tif"
                data = raster.data[:, r : r + patch, c : c + patch]
                written.append(
                    rasters.write(
                        path,
                        data,
                        raster.crs,
                        transform,
                        nodata=raster.nodata,
                        descriptions=[d or "" for d in raster.descriptions],
                    )
                )
    return written


def _translation(col: int, row: int) -> Any:
    from affine import Affine

    return Affine.translation(col, row)


def ntl_split(index: int, count: int) -> str:
    """Spatial-block split of the ``index``-th patch (ordered by column, then row): 70/15/15 %."""
    if count < 3:
        return "train"
    n_test = max(1, round(0.15 * count))
    n_val = max(1, round(0.15 * count))
    if index >= count - n_test:
        return "test"
    if index >= count - n_test - n_val:
        return "val"
    return "train"


def write_ntl_layout(
    scene: str | os.PathLike, root: str | os.PathLike, patch: int = 64, ratio: int = 8
) -> list[Path]:
    """Cut the lights side of ``scene/`` into ``NTL/{split}/{lr_ntl,hr_ntl,dmo,dem,isp}/{id}.tif``."""
    from . import rasters

    scene, out_root = Path(scene), Path(root) / "NTL"
    if patch % ratio:
        raise ValueError(f"patch ({patch}) must be a multiple of the ratio ({ratio}).")
    hr = {"hr_ntl": "ntl_hr", "dmo": "dmo", "dem": "ntl_dem", "isp": "isp"}
    layers = {mod: rasters.read(scene / f"{name}.tif") for mod, name in hr.items()}
    low = rasters.read(scene / "ntl_lr.tif")
    for mod in ("dmo", "dem", "isp"):
        rasters.check_same_grid(layers["hr_ntl"], layers[mod])
    rasters.check_same_bounds(layers["hr_ntl"], low)
    h, w = layers["hr_ntl"].shape
    cells = [(r, c) for c in _patch_starts(w, patch) for r in _patch_starts(h, patch)]
    if not cells:
        raise ValueError(
            f"{scene / 'ntl_hr.tif'}: {h}x{w} px is smaller than one {patch} px patch; enlarge the AOI."
        )
    written = []
    for i, (r, c) in enumerate(cells):
        split, pid = ntl_split(i, len(cells)), f"ee{r // patch:03d}_{c // patch:03d}"
        for mod, raster in layers.items():
            data = raster.data[:, r : r + patch, c : c + patch]
            written.append(
                rasters.write(
                    out_root / split / mod / f"{pid}.tif",
                    data,
                    raster.crs,
                    raster.transform * _translation(c, r),
                    nodata=raster.nodata,
                    descriptions=[d or "" for d in raster.descriptions],
                )
            )
        lr, lc, lp = r // ratio, c // ratio, patch // ratio
        written.append(
            rasters.write(
                out_root / split / "lr_ntl" / f"{pid}.tif",
                low.data[:, lr : lr + lp, lc : lc + lp],
                low.crs,
                low.transform * _translation(lc, lr),
                nodata=low.nodata,
                descriptions=[d or "" for d in low.descriptions],
            )
        )
    return written


# ---------------------------------------------------------------------------------------------
# One call for notebooks: Earth Engine, or the sample scene
# ---------------------------------------------------------------------------------------------


@dataclass
class FetchResult:
    """Where the files are, and where they came from (``"earth engine"`` or ``"sample scene"``)."""

    source: str
    root: Path
    scene: Path
    dfc2020: Path
    ntl: Path
    status: Status | None = None
    message: str = ""
    files: dict[str, Path] = field(default_factory=dict)


FALLBACK_TEXT = (
    "Earth Engine is not available here ({why}), so this notebook carries on with the kit's sample "
    "scene: the same files, in the same layouts and on nested grids, generated on this machine "
    'instead of downloaded. Everything below runs unchanged; results are labelled "sample scene". '
    "To use real data: {fix}"
)


def fetch_or_sample(
    bbox: Sequence[float],
    root: str | os.PathLike | None = None,
    profile: str | None = None,
    project: str | None = None,
    requests: dict[str, tuple[Spec, float]] | None = None,
    fetcher: Fetcher | None = None,
    patch: int = 256,
    ntl_patch: int | None = None,
    ratio: int = 8,
    status: Status | None = None,
    progress: bool = True,
    fallback_on_error: bool = False,
) -> FetchResult:
    """Export ``bbox`` from Earth Engine into the kit's layouts, or fall back to the sample scene.

    With ``fetcher`` given (tests) Earth Engine is not contacted. Without one, :func:`connect` is
    tried; when it is not ok the sample scene's files are returned with a one-paragraph explanation.
    ``fallback_on_error=True`` also falls back when an export fails half-way (quota, AOI too small).
    """
    from . import config

    if fetcher is None:
        status = status or connect(project)
        if not status.ok:
            return sample_result(profile, status)
    root = Path(root) if root else config.data_dir() / "earthengine" / _bbox_name(bbox)
    ntl_patch = ntl_patch or int(config.settings("scene", profile).get("ntl_patch", 64))
    try:
        files = export_scene(bbox, root, requests, fetcher=fetcher, progress=progress)
        write_dfc2020_layout(root / "scene", root, split="test", patch=patch)
        write_ntl_layout(root / "scene", root, patch=ntl_patch, ratio=ratio)
    except (EarthEngineFetchError, ValueError) as err:
        if not fallback_on_error:
            raise
        reason = Status(
            False, (), f"The export stopped: {_scrub(str(err))}", getattr(status, "project", None)
        )
        return sample_result(profile, reason, why="an export failed half-way")
    return FetchResult(
        "earth engine",
        root,
        root / "scene",
        root / "DFC2020",
        root / "NTL",
        status,
        f"Exported from Earth Engine into {root}.",
        files,
    )


def _bbox_name(bbox: Sequence[float]) -> str:
    return "aoi_" + "_".join(f"{v:.4f}" for v in bbox).replace("-", "m")


def sample_result(profile: str | None, status: Status, why: str = "") -> FetchResult:
    """The sample scene's files as a :class:`FetchResult`, with why Earth Engine was not used."""
    from . import synthetic

    paths = synthetic.ensure_sample(profile=profile, verbose=False)
    why = why or ("missing: " + ", ".join(status.missing) if status.missing else "not connected")
    message = FALLBACK_TEXT.format(why=why, fix=status.fix)
    files = {p.stem: p for p in sorted(Path(paths.scene).glob("*.tif"))}
    return FetchResult(
        "sample scene",
        Path(paths.root),
        Path(paths.scene),
        Path(paths.dfc2020),
        Path(paths.ntl),
        status,
        message,
        files,
    )

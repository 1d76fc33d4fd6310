"""Earth Engine: login without prompts, request specs, nested grids, chunked export, sample fallback.

What this module does, in the order a notebook uses it:

1. :func:`connect` checks the ``earthengine-api`` package, stored credentials, a Cloud project
   (argument, ``EE_PROJECT`` / ``EE_PROJECT_ID`` or a Colab secret of either name) and the
   network, and returns a :class:`Status` instead of raising. It never opens an interactive
   sign-in (that hangs headless); only :func:`authenticate`, called on purpose, does.
2. Request specs (:class:`Sentinel2Spec`, :class:`LandsatSpec`, :class:`DemSpec`, :class:`ViirsSpec`,
   :class:`DmspSpec`, :class:`ModisLandCoverSpec`, :class:`WorldCoverSpec`,
   :class:`ImperviousSpec`) say which dataset, bands, dates and masks; each knows how to build its
   ``ee.Image`` and how to turn the raw pixels into physical units (:meth:`postprocess`, pure numpy).
3. :class:`Grid` is a fixed pixel grid in a UTM zone. :func:`grid_for_aoi` snaps an AOI so that the
   10 m, 30 m and 240 m grids share their origin and nest exactly.
4. :func:`plan_chunks` splits a grid under Earth Engine's request limits; :func:`export` fetches the
   chunks through ``ee.data.computePixels``, up to ``concurrency`` at once in a bounded thread pool
   (each retrying rate-limit errors with exponential backoff), mosaics them and writes one GeoTIFF
   per modality with the grid's georeference, cached by a hash of spec + grid kept beside the file.
   ``connect(high_volume=True)`` uses Earth Engine's high-volume endpoint; for areas too large for
   interactive requests, :mod:`helpers.data.earthengine_batch` runs batch export tasks per tile.
5. :func:`fetch_or_sample` writes everything into the kit's layouts (``scene/``, a DFC2020-like patch
   layout, the NTL layout); without Earth Engine it returns the same files from the sample scene.

Grids and request specs (steps 2 and 3) live in :mod:`helpers.data.earthengine_specs` (import them
from there). Everything except the ``ee`` calls is testable offline: pass ``fetcher=`` (a function
``(spec, grid) -> array (bands, h, w)``) instead of Earth Engine.

Dataset ids, bands and scale factors were checked against the Earth Engine data catalog (see the
``# verified:`` comment on each spec); those that could not be are marked ``unverified``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import layouts
from .earthengine_specs import (
    DemSpec,
    DmspSpec,
    Grid,
    ImperviousSpec,
    LandsatSpec,
    ModisLandCoverSpec,
    Sentinel2Spec,
    Spec,
    ViirsSpec,
    WorldCoverSpec,
    nested_grids,
)

CACHE_VERSION = 1
MiB = 2**20

# Request limits, verified against Earth Engine's REST reference page "Method:
# projects.image.computePixels": at most 48 MB of uncompressed data per request (pixels x bands x
# bytes per value), at most 32K pixels in either dimension, at most 1024 bands. getDownloadURL: 32 MB
# and 10,000 px per grid dimension, as the earthengine-api's own ee.Image.getDownloadURL docstring says.
LIMITS: dict[str, dict[str, int]] = {
    "computePixels": {"max_bytes": 48 * MiB, "max_side": 32768},
    "getDownloadURL": {"max_bytes": 32 * MiB, "max_side": 10000},
}
# Earth Engine's page "Earth Engine quotas" (guides/usage): by default a project may have 40
# concurrent interactive requests (standard and high-volume endpoint alike) and 100 requests/s.
# The kit's pool stays well below by default and never goes above the documented default.
MAX_CONCURRENT = 40
DEFAULT_CONCURRENCY = 4
# Earth Engine's page "High-volume endpoint" (cloud/highvolume): pass this as ee.Initialize's
# opt_url for many small automated requests (less caching than the standard endpoint).
HIGH_VOLUME_URL = "https://earthengine-highvolume.googleapis.com"

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
        "`helpers.data.earthengine.authenticate()` in a notebook (in Colab this uses your Google login)."
    ),
    "project": (
        "Give a Google Cloud project registered for Earth Engine: `connect(project='my-project')`, "
        "or set the environment variable EE_PROJECT, or (in Colab) add a secret named EE_PROJECT "
        "(geemap's name EE_PROJECT_ID works too)."
    ),
    "network": "Earth Engine could not be reached; check the internet connection and try again.",
}


def _scrub(text: str) -> str:
    """Remove anything that looks like an OAuth token from an error message (never show secrets)."""
    text = re.sub(r"ya29\.[\w\-.]+", "<token>", text)
    text = re.sub(r"1//[\w\-.]+", "<token>", text)
    return text.strip().splitlines()[0][:300] if text.strip() else ""


PROJECT_NAMES = ("EE_PROJECT", "EE_PROJECT_ID")  # the kit's name, then geemap's Colab secret


def resolve_project(project: str | None = None) -> str | None:
    """The Cloud project: the argument, else the environment variable ``EE_PROJECT`` or
    ``EE_PROJECT_ID``, else (in Colab) the secret ``EE_PROJECT`` or ``EE_PROJECT_ID`` (geemap's)."""
    if project:
        return project
    for name in PROJECT_NAMES:
        if os.environ.get(name):
            return os.environ[name]
    from ..core import config

    if not config.in_colab():
        return None
    try:
        from google.colab import userdata  # type: ignore[import-not-found]
    except ImportError:
        return None
    for name in PROJECT_NAMES:
        try:
            value = userdata.get(name)
        except Exception:  # secret missing or notebook access not granted
            value = None
        if value:
            return value
    return None


def connect(
    project: str | None = None, timeout_s: float = 60.0, high_volume: bool = False
) -> Status:
    """Initialise Earth Engine without any interactive prompt and report what is missing.

    ``high_volume``: use Earth Engine's high-volume endpoint (:data:`HIGH_VOLUME_URL`), meant for
    many parallel small requests such as :func:`export` with ``concurrency``. Never raises for
    missing package, credentials, project or network, and never prints a token.
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
            extra = {"opt_url": HIGH_VOLUME_URL} if high_volume else {}
            ee.Initialize(credentials=credentials, project=project, **extra)
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
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Path:
    """Fetch ``spec`` on ``grid`` in chunks (up to ``concurrency`` requests at once, each retried
    on rate limits), mosaic, write one GeoTIFF; skip when cached."""
    from ..io import rasters

    path = Path(path)
    if not force and is_cached(path, spec, grid):
        return path
    fetch = fetcher or ee_fetcher()
    chunks = plan_chunks(grid.shape, len(spec.bands), spec.dtype, method=method)
    mosaic = np.full((len(spec.bands),) + tuple(grid.shape), spec.fill, dtype=spec.dtype)

    def one(chunk: Chunk) -> np.ndarray:
        sub = grid.window(chunk.row, chunk.col, chunk.height, chunk.width)
        try:
            arr = with_retries(lambda: fetch(spec, sub), retries, base_delay, sleep=sleep)
        except Exception as err:
            raise EarthEngineFetchError(_fetch_fix(spec, chunk, err)) from None
        arr = np.asarray(arr)
        arr = arr[None] if arr.ndim == 2 else arr
        if arr.shape != (len(spec.bands), chunk.height, chunk.width):
            raise EarthEngineFetchError(
                f"{spec.dataset}: chunk {chunk} came back with shape {arr.shape}, expected "
                f"{(len(spec.bands), chunk.height, chunk.width)}. Check the spec's bands."
            )
        return arr

    bar = _progress(chunks, f"{spec.name} {grid.scale:g} m", progress)
    try:
        for chunk, arr in fetch_chunks(chunks, one, concurrency, bar):
            rows, cols = (
                slice(chunk.row, chunk.row + chunk.height),
                slice(chunk.col, chunk.col + chunk.width),
            )
            mosaic[:, rows, cols] = arr
    finally:
        if bar is not None:
            bar.close()
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


def fetch_chunks(
    chunks: Sequence[Chunk],
    fetch: Callable[[Chunk], np.ndarray],
    concurrency: int = DEFAULT_CONCURRENCY,
    bar: Any = None,
) -> Iterator[tuple[Chunk, np.ndarray]]:
    """``(chunk, pixels)`` as each request finishes, at most ``concurrency`` in flight (a bounded
    thread pool; 1 = one after the other). The first failure cancels the requests not started."""
    if not 1 <= concurrency <= MAX_CONCURRENT:
        raise ValueError(
            f"concurrency {concurrency}: choose 1..{MAX_CONCURRENT} (Earth Engine's default quota "
            "of concurrent requests per project; see docs/earthengine.md)."
        )
    update = getattr(bar, "update", lambda n: None)
    if concurrency == 1 or len(chunks) < 2:
        for chunk in chunks:
            yield chunk, fetch(chunk)
            update(1)
        return
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    todo = iter(chunks)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ee-chunk") as pool:
        running = {pool.submit(fetch, c): c for c in itertools.islice(todo, concurrency)}
        try:
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    chunk = running.pop(future)
                    yield chunk, future.result()
                    update(1)
                    for nxt in itertools.islice(todo, 1):
                        running[pool.submit(fetch, nxt)] = nxt
        finally:
            for future in running:
                future.cancel()


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


def _progress(items: Sequence[Any], desc: str, enabled: bool) -> Any:
    """A tqdm bar of ``len(items)`` steps (None when off or for a single item)."""
    if not enabled or len(items) < 2:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=len(items), desc=desc, leave=False)


# ---------------------------------------------------------------------------------------------
# The kit's layouts
# ---------------------------------------------------------------------------------------------


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
    concurrency: int = DEFAULT_CONCURRENCY,
    high_volume: bool = False,
) -> FetchResult:
    """Export ``bbox`` from Earth Engine into the kit's layouts, or fall back to the sample scene.

    With ``fetcher`` given (tests) Earth Engine is not contacted. Without one, :func:`connect` is
    tried; when it is not ok the sample scene's files are returned with a one-paragraph explanation.
    ``fallback_on_error=True`` also falls back when an export fails half-way (quota, AOI too small).
    ``concurrency``: chunk requests in flight at once; ``high_volume``: Earth Engine's high-volume
    endpoint (see :func:`connect`).
    """
    from ..core import config

    if fetcher is None:
        status = status or connect(project, high_volume=high_volume)
        if not status.ok:
            return sample_result(profile, status)
    root = Path(root) if root else config.data_dir() / "earthengine" / _bbox_name(bbox)
    ntl_patch = ntl_patch or int(config.settings("scene", profile).get("ntl_patch", 64))
    try:
        files = export_scene(
            bbox, root, requests, fetcher=fetcher, progress=progress, concurrency=concurrency
        )
        layouts.write_dfc2020_layout(root / "scene", root, split="test", patch=patch)
        layouts.write_ntl_layout(root / "scene", root, patch=ntl_patch, ratio=ratio)
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

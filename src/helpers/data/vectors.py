"""Polygons with one attribute from a GeoPackage or GeoJSON file, read with the standard library.

Why not pyogrio or fiona: both install from wheels, but each bundles a second copy of GDAL next to
rasterio's, which adds tens of megabytes and, on some platforms, clashes with rasterio's copy. A
GeoPackage is an SQLite file whose geometries are standard WKB behind a short header, and the kit
only needs (multi)polygons and one attribute, so ``sqlite3`` plus a ~60-line WKB parser does it on
any Python (Colab included). Reprojection and rasterisation use rasterio, which the kit has anyway.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io.rasters import RasterError


class VectorError(RasterError):
    """A vector file that cannot be used; the message names the file and the fix."""


@dataclass
class Features:
    """Polygons (GeoJSON-like dicts) with one attribute value each, in ``crs``."""

    geometries: list[dict[str, Any]]
    values: list[Any]
    crs: Any
    path: Path


# ---- WKB (ISO and EWKB flags; 2-D, Z, M and ZM coordinates; Z/M dropped) ----


def _wkb_geometry(buf: bytes, pos: int) -> tuple[dict[str, Any], int]:
    """Parse one WKB (multi)polygon at ``pos``; return a GeoJSON dict and the next position."""
    order = "<" if buf[pos] == 1 else ">"
    (kind,) = struct.unpack_from(order + "I", buf, pos + 1)
    pos += 5
    dims = 2 + bool(kind & 0x80000000) + bool(kind & 0x40000000)
    kind &= 0x0FFFFFFF
    if kind >= 1000:  # ISO: 1000 Z, 2000 M, 3000 ZM
        dims = 2 + {1: 1, 2: 1, 3: 2}[kind // 1000]
        kind %= 1000
    if kind == 3:
        rings, pos = _wkb_rings(buf, pos, order, dims)
        return {"type": "Polygon", "coordinates": rings}, pos
    if kind == 6:
        (count,) = struct.unpack_from(order + "I", buf, pos)
        pos += 4
        polygons = []
        for _ in range(count):
            part, pos = _wkb_geometry(buf, pos)
            polygons.append(part["coordinates"])
        return {"type": "MultiPolygon", "coordinates": polygons}, pos
    raise ValueError(f"geometry type {kind} is not a polygon or multipolygon")


def _wkb_rings(buf: bytes, pos: int, order: str, dims: int) -> tuple[list[Any], int]:
    (nrings,) = struct.unpack_from(order + "I", buf, pos)
    pos += 4
    rings = []
    for _ in range(nrings):
        (npts,) = struct.unpack_from(order + "I", buf, pos)
        pos += 4
        flat = struct.unpack_from(order + "d" * (npts * dims), buf, pos)
        pos += 8 * npts * dims
        rings.append([(flat[i], flat[i + 1]) for i in range(0, len(flat), dims)])
    return rings, pos


def gpkg_geometry(blob: bytes) -> dict[str, Any] | None:
    """GeoJSON dict of a GeoPackage geometry blob (``GP`` header + WKB); None when empty."""
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry (no 'GP' magic)")
    flags = blob[3]
    if flags & 0x10:  # empty geometry
        return None
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 0x07]
    geometry, _ = _wkb_geometry(blob, 8 + envelope)
    return geometry


# ---- readers ----


def read_gpkg(path: Path, field: str, layer: str | None = None) -> Features:
    """Polygons and ``field`` of one GeoPackage layer (the only one, or ``layer``)."""
    from rasterio.crs import CRS

    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        layers = con.execute(
            "SELECT table_name, srs_id FROM gpkg_contents WHERE data_type = 'features'"
        ).fetchall()
    except sqlite3.DatabaseError as err:
        raise VectorError(
            f"{path}: cannot be read as a GeoPackage ({err}). Check the file, or export the "
            "polygons again as GeoPackage or GeoJSON."
        ) from err
    names = [t for t, _ in layers]
    if layer is None and len(names) != 1:
        raise VectorError(f"{path}: holds layers {names}; choose one with label_layer=...")
    table = layer or names[0]
    if table not in names:
        raise VectorError(f"{path}: no feature layer {table!r}; layers: {names}")
    srs_id = dict(layers)[table]
    try:
        geom_row = con.execute(
            "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (table,)
        ).fetchone()
        org = con.execute(
            "SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys "
            "WHERE srs_id = ?",
            (srs_id,),
        ).fetchone()
    except sqlite3.DatabaseError as err:
        geom_row, org = None, None
        missing = err
    else:
        missing = "no row for it"
    if geom_row is None:
        raise VectorError(
            f"{path}: layer {table!r} has no entry in gpkg_geometry_columns ({missing}), so its "
            "geometry column is unknown. Save the layer again with QGIS or "
            "`ogr2ogr -f GPKG out.gpkg in.gpkg`."
        )
    (geom_col,) = geom_row
    columns = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
    if field not in columns:
        raise VectorError(
            f"{path}: layer {table!r} has no field {field!r}; fields: "
            f"{[c for c in columns if c != geom_col]}. Pass label_field=<one of them>."
        )
    rows = con.execute(f'SELECT "{geom_col}", "{field}" FROM "{table}"').fetchall()
    con.close()
    crs = None
    if org and org[0] and org[0].upper() == "EPSG":
        crs = CRS.from_epsg(int(org[1]))
    elif org and org[2] and org[2] != "undefined":
        crs = CRS.from_wkt(org[2])
    geometries, values = [], []
    for i, (blob, value) in enumerate(rows):
        if blob is None:
            continue
        try:
            geom = gpkg_geometry(bytes(blob))
        except (ValueError, KeyError, struct.error) as err:
            raise VectorError(
                f"{path}: feature {i} of {table!r}: {err}. Only polygons are rasterised: keep "
                "polygon layers only (e.g. buffer lines and points first)."
            ) from err
        if geom is not None:
            geometries.append(geom)
            values.append(_scalar(value, path, f"feature {i} of {table!r}", field))
    return Features(geometries, values, crs, path)


def _scalar(value: Any, path: Path, where: str, field: str) -> Any:
    """An attribute value usable as a class code (number, string, bool or None), else refused."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise VectorError(
        f"{path}: {where} has {field} = {value!r} ({type(value).__name__}); a class code is one "
        "number or string. Give each feature a single code (split multi-valued features)."
    )


_CRS_NAME = re.compile(r"(?:urn:ogc:def:crs:)?(EPSG|OGC)(?::[0-9.]*)?::?([A-Za-z0-9]+)", re.I)


def geojson_crs(name: Any, path: Path) -> Any:
    """The CRS a GeoJSON legacy ``crs`` member names: EPSG codes and OGC CRS84 only, so a name
    can never make GDAL read a file or reach a network."""
    from rasterio.crs import CRS

    match = _CRS_NAME.fullmatch(name.strip()) if isinstance(name, str) else None
    if match and match.group(1).upper() == "EPSG" and match.group(2).isdigit():
        try:
            return CRS.from_epsg(int(match.group(2)))
        except Exception as err:  # an unknown code
            raise VectorError(f"{path}: crs {name!r} is not a known EPSG code ({err}).") from err
    if match and match.group(1).upper() == "OGC" and match.group(2).upper() == "CRS84":
        return CRS.from_epsg(4326)  # CRS84 is lon/lat on WGS 84, rasterio's EPSG:4326 order
    raise VectorError(
        f"{path}: crs member names {name!r}; only EPSG codes (e.g. 'EPSG:32633' or "
        "'urn:ogc:def:crs:EPSG::32633') and OGC CRS84 are read. Set one of those, or save the "
        "polygons as GeoPackage."
    )


def _check_lonlat(geom: dict[str, Any], path: Path, i: int) -> None:
    """Refuse coordinates outside longitude -180..180 / latitude -90..90 on a geographic CRS."""
    coords = geom.get("coordinates") or []
    polys = [coords] if geom["type"] == "Polygon" else coords
    try:
        points = [(float(p[0]), float(p[1])) for poly in polys for ring in poly for p in ring]
    except (TypeError, ValueError, IndexError) as err:
        raise VectorError(
            f"{path}: feature {i} has malformed coordinates ({err}). Export it again."
        ) from err
    odd = [(x, y) for x, y in points if abs(x) > 180 or abs(y) > 90]
    if odd:
        raise VectorError(
            f"{path}: feature {i} has coordinates such as ({odd[0][0]:g}, {odd[0][1]:g}) outside "
            "longitude -180..180 / latitude -90..90 (GeoJSON without a crs member is WGS 84 "
            "lon/lat, RFC 7946; projected coordinates need one). Reproject it to "
            "EPSG:4326 (`ogr2ogr -t_srs EPSG:4326 out.geojson in.geojson`), or save it as "
            "GeoPackage, which keeps its CRS."
        )


def read_geojson(path: Path, field: str) -> Features:
    """Polygons and ``properties[field]`` of a GeoJSON FeatureCollection (CRS84 unless a legacy
    ``crs`` member names another)."""
    from rasterio.crs import CRS

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise VectorError(f"{path}: not valid GeoJSON ({err}). Export it again.") from err
    if not isinstance(data, dict) or not isinstance(data.get("features", []), list):
        raise VectorError(
            f"{path}: not a GeoJSON FeatureCollection (no 'features' list). Export it again."
        )
    member = data.get("crs")
    crs = CRS.from_epsg(4326)
    if member is not None:
        name = ((member.get("properties") if isinstance(member, dict) else None) or {}).get("name")
        crs = geojson_crs(name, path)
    geometries, values = [], []
    for i, feat in enumerate(data.get("features") or []):
        if not isinstance(feat, dict):
            raise VectorError(f"{path}: feature {i} is not a GeoJSON Feature object.")
        geom, props = feat.get("geometry"), feat.get("properties") or {}
        if not geom:
            continue
        if geom.get("type") not in ("Polygon", "MultiPolygon"):
            raise VectorError(
                f"{path}: feature {i} is a {geom.get('type')}; only polygons are rasterised."
            )
        if field not in props:
            raise VectorError(
                f"{path}: feature {i} has no property {field!r} (it has {sorted(props)}). "
                "Pass label_field=<one of them>."
            )
        if crs.is_geographic:
            _check_lonlat(geom, path, i)
        geometries.append(geom)
        values.append(_scalar(props[field], path, f"feature {i}", field))
    return Features(geometries, values, crs, path)


def read(path: str | os.PathLike, field: str, layer: str | None = None) -> Features:
    """Polygons of a ``.gpkg`` or ``.geojson``/``.json`` file with their ``field`` values."""
    path = Path(path)
    if not path.exists():
        raise VectorError(f"{path}: file not found. Check the path.")
    if path.is_dir():
        raise VectorError(
            f"{path}: is a folder, not a polygon file. Pass the .gpkg or .geojson file inside it."
        )
    if path.suffix.lower() == ".gpkg":
        return read_gpkg(path, field, layer)
    if path.suffix.lower() in (".geojson", ".json"):
        return read_geojson(path, field)
    raise VectorError(
        f"{path}: unknown vector format {path.suffix!r}; save the polygons as GeoPackage (.gpkg) "
        "or GeoJSON (.geojson)."
    )


def polygon_area(geom: dict[str, Any]) -> float:
    """Planar area of a GeoJSON (multi)polygon in squared CRS units (holes subtracted)."""

    def ring(r: list[Any]) -> float:
        return 0.5 * abs(
            sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(r, r[1:] + r[:1], strict=True))
        )

    polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
    return sum(ring(p[0]) - sum(ring(h) for h in p[1:]) for p in polys if p)

"""The results dashboard of notebook 10: the map viewer of the HR-MARS web interface.

Low- and high-resolution land cover and night lights as image overlays (they show without basemap
tiles, i.e. offline), class distributions of a box side by side, and export of the view as
GeoTIFF. The logic is in plain functions (tested in tests/test_dashboard.py);
:func:`results_dashboard` only wires them to widgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Which notebook writes each prediction (docs/CONTRACTS.md) and the ground truth shown instead.
PREDICTION_MAKERS = {
    "landcover_fine.tif": ("03_unet_landcover", "dfc.tif"),
    "landcover_coarse.tif": ("03_unet_landcover", "lc.tif"),
    "ntl_fine.tif": ("08_ntl_super_resolution", "ntl_hr.tif"),
}
DASHBOARD_NOTEBOOK = "10_results_dashboard"


@dataclass
class MapLayer:
    """One raster on the dashboard map: what it shows, where it comes from, how to read it."""

    name: str
    path: Path
    kind: str  # "rgb", "landcover" or "lights"
    role: str  # "image", "low_res" or "high_res"
    source: str  # "input", "prediction" or "ground truth"
    band: int = 1
    scheme: str = "dfc"  # land cover values: "dfc", or "igbp" (mapped to DFC when read)
    note: str = ""


def find_results_run(current: Any = None, runs_root: Any = None) -> Path | None:
    """The run folder whose results to show: ``current`` if it holds records of other notebooks,
    else the latest such folder under ``runs_root`` (default ``config.runs_dir()``); else None."""
    from ..core import config
    from ..records import results

    def useful(run: Path) -> bool:
        return any(
            r.get("notebook") != DASHBOARD_NOTEBOOK for r in results.load(run, skip_broken=True)
        )

    if current is not None and useful(Path(current)):
        return Path(current)
    root = Path(runs_root) if runs_root is not None else config.runs_dir()
    found = [p.parent for p in root.glob("*/results.jsonl")] if root.is_dir() else []
    found = [p for p in found if current is None or p.resolve() != Path(current).resolve()]
    found = sorted(
        (p for p in found if useful(p)),
        key=lambda p: ((p / "results.jsonl").stat().st_mtime, p.name),
    )
    return found[-1] if found else None


def prediction_sources(records: list[dict], current: Any = None) -> dict[str, Path]:
    """For each prediction file, the ``predictions`` folder holding it: the current run's, else
    the run of the newest record of the notebook that makes it (``results.latest_records``)."""
    found: dict[str, Path] = {}
    for file, (maker, _truth) in PREDICTION_MAKERS.items():
        runs = [Path(current)] if current is not None else []
        runs += [Path(r["run"]) for r in reversed(records) if r.get("notebook") == maker]
        folders = [run / "predictions" for run in runs]
        folder = next((f for f in folders if (f / file).exists()), None)
        if folder is not None:
            found[file] = folder
    return found


def dashboard_layers(scene_dir: Any, predictions_dir: Any = None) -> list[MapLayer]:
    """The five layers: S2 RGB, coarse and fine land cover, coarse and fine lights.

    ``predictions_dir``: one folder, or ``{file name: folder}`` (:func:`prediction_sources`).
    A missing prediction is replaced by the scene's ground truth, labelled as such, with a note
    naming the notebook that makes it.
    """
    scene = Path(scene_dir)
    if isinstance(predictions_dir, dict):
        folders = {k: Path(v) for k, v in predictions_dir.items()}
    else:
        folders = {k: Path(predictions_dir) for k in PREDICTION_MAKERS} if predictions_dir else {}
    for name in ("s2.tif", "lc.tif", "dfc.tif", "ntl_lr.tif", "ntl_hr.tif"):
        if not (scene / name).exists():
            from ..io.rasters import RasterError

            raise RasterError(
                f"{scene / name}: not found. Create the sample scene with `eosr sample` "
                "(or helpers.data.synthetic.ensure_sample()) and pass its `scene` folder."
            )

    def predicted(
        file: str, name: str, kind: str, role: str, truth_scheme: str = "dfc"
    ) -> MapLayer:
        maker, truth = PREDICTION_MAKERS[file]
        preds = folders.get(file)
        if preds is not None and (preds / file).exists():
            return MapLayer(f"{name} (prediction, {maker})", preds / file, kind, role, "prediction")
        note = f"{preds / file if preds else file} is missing: run {maker} to make it; showing {truth} (ground truth)."
        return MapLayer(
            f"{name} (ground truth)",
            scene / truth,
            kind,
            role,
            "ground truth",
            scheme=truth_scheme,
            note=note,
        )

    coarse = predicted("landcover_coarse.tif", "Coarse land cover", "landcover", "low_res", "igbp")
    if coarse.source == "ground truth":  # the coarse labels are an input, not a prediction
        coarse.name, coarse.source = "Coarse land cover (MODIS-like IGBP -> DFC, input)", "input"
        coarse.note = ""
    return [
        MapLayer("Sentinel-2 RGB", scene / "s2.tif", "rgb", "image", "input"),
        coarse,
        predicted("landcover_fine.tif", "Fine land cover", "landcover", "high_res"),
        MapLayer(
            "Coarse night lights (DMSP-like DN)", scene / "ntl_lr.tif", "lights", "low_res", "input"
        ),
        predicted("ntl_fine.tif", "Fine night lights", "lights", "high_res"),
    ]


def latlon_bounds(path: Any) -> tuple[float, float, float, float]:
    """``(south, west, north, east)`` in degrees of a GeoTIFF (reprojected from its CRS)."""
    from rasterio.transform import array_bounds
    from rasterio.warp import transform_bounds

    from ..io.rasters import grid_of

    crs, transform, (h, w) = grid_of(path)
    west, south, east, north = array_bounds(h, w, transform)
    west, south, east, north = transform_bounds(crs, "EPSG:4326", west, south, east, north)
    return south, west, north, east


def point_box(lat: float, lon: float, half_m: float = 500.0) -> tuple[float, float, float, float]:
    """A ``(south, west, north, east)`` box of ``2 * half_m`` metres around a point."""
    import math

    dlat = half_m / 111_320.0
    dlon = half_m / (111_320.0 * max(math.cos(math.radians(lat)), 1e-6))
    return lat - dlat, lon - dlon, lat + dlat, lon + dlon


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``"lat, lon"`` (a 1 km box around it) or ``"south, west, north, east"`` in degrees."""
    try:
        values = [
            float(v) for v in text.replace(";", ",").replace(" ", ",").split(",") if v.strip()
        ]
    except ValueError as err:
        raise ValueError(
            f"{text!r}: give 'lat, lon' or 'south, west, north, east' in degrees."
        ) from err
    if len(values) == 2:
        return point_box(*values)
    if len(values) == 4 and values[0] < values[2] and values[1] < values[3]:
        return tuple(values)  # type: ignore[return-value]
    raise ValueError(
        f"{text!r}: give 'lat, lon' or 'south, west, north, east' (south < north, west < east)."
    )


def box_window(path: Any, box: tuple[float, float, float, float]) -> Any:
    """The ``rasterio.windows.Window`` of a raster covered by a lat/lon box, clipped to the raster."""
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window, from_bounds

    from ..io.rasters import grid_of

    crs, transform, (h, w) = grid_of(path)
    south, west, north, east = box
    left, bottom, right, top = transform_bounds("EPSG:4326", crs, west, south, east, north)
    win = from_bounds(left, bottom, right, top, transform)
    col0, row0 = max(0, int(round(win.col_off))), max(0, int(round(win.row_off)))
    col1 = min(w, int(round(win.col_off + win.width)))
    row1 = min(h, int(round(win.row_off + win.height)))
    if col1 <= col0 or row1 <= row0:
        s, we, n, e = latlon_bounds(path)
        raise ValueError(
            f"box {tuple(round(v, 5) for v in box)} lies outside {path} "
            f"(covers south {s:.5f}, west {we:.5f}, north {n:.5f}, east {e:.5f})."
        )
    return Window(col0, row0, col1 - col0, row1 - row0)


def read_layer(layer: MapLayer, box: tuple[float, float, float, float] | None = None) -> Any:
    """Read a layer (whole or the window of ``box``) as a Raster; land cover comes back as DFC."""
    from ..core import labels
    from ..io import rasters

    window = box_window(layer.path, box) if box is not None else None
    raster = rasters.read(
        layer.path,
        bands=[layer.band] if layer.kind != "rgb" else _rgb_bands(layer.path),
        window=window,
    )
    if layer.kind == "landcover" and layer.scheme == "igbp":
        raster.data = labels.igbp_to_dfc(raster.data)
    return raster


def _rgb_bands(path: Any) -> list[int]:
    """1-based indices of B04, B03, B02 found by band description (default 4, 3, 2)."""
    import rasterio

    with rasterio.open(path) as src:
        names = [str(d or "").upper() for d in src.descriptions]
    if all(b in names for b in ("B04", "B03", "B02")):
        return [names.index(b) + 1 for b in ("B04", "B03", "B02")]
    return [4, 3, 2]


def class_distribution(
    layer: MapLayer, box: tuple[float, float, float, float] | None = None
) -> dict[int, float]:
    """Share of each DFC class (1..10) among the labelled pixels of ``box`` (0 = no data ignored)."""
    import numpy as np

    from ..core import labels

    data = np.asarray(read_layer(layer, box).data[0])
    labels.validate(data, "dfc", layer.path)
    counts = np.bincount(data.astype(np.int64).ravel(), minlength=11)[1:11]
    total = counts.sum()
    return {v: (float(c) / total if total else 0.0) for v, c in zip(range(1, 11), counts)}


def layer_rgba(layer: MapLayer, max_side: int = 1024) -> Any:
    """The layer as an RGBA uint8 image (decimated to ``max_side``) for an overlay."""
    import numpy as np
    import rasterio
    from matplotlib import colormaps

    from ..core import labels
    from ..io import rasters

    rasters.grid_of(layer.path)  # a clear RasterError for a missing or broken file
    bands = _rgb_bands(layer.path) if layer.kind == "rgb" else [layer.band]
    with rasterio.open(layer.path) as src:
        step = max(1, -(-max(src.height, src.width) // max_side))
        shape = (len(bands), max(1, src.height // step), max(1, src.width // step))
        data = src.read(bands, out_shape=shape).astype(np.float32)
    rgba = np.zeros(shape[1:] + (4,), dtype=np.float32)
    if layer.kind == "rgb":
        for i in range(3):
            lo, hi = np.nanpercentile(data[i], (2, 98))
            rgba[..., i] = np.clip((data[i] - lo) / max(hi - lo, 1e-6), 0, 1)
        rgba[..., 3] = 1.0
    elif layer.kind == "landcover":
        values = data[0].astype(np.int64)
        if layer.scheme == "igbp":
            values = labels.igbp_to_dfc(values).astype(np.int64)
        cmap, norm = labels.colormap("dfc")
        rgba[:] = cmap(norm(values))
        rgba[..., 3] = np.where(values > 0, 1.0, 0.0)
    else:
        light = np.nan_to_num(np.clip(data[0], 0, None))
        scaled = np.log1p(light) / max(float(np.log1p(np.percentile(light, 99.5))), 1e-6)
        rgba[:] = colormaps["inferno"](np.clip(scaled, 0, 1))
        rgba[..., 3] = np.where(light > 0, 0.9, 0.0)
    return (rgba * 255).round().astype(np.uint8)


def layer_data_url(layer: MapLayer, max_side: int = 1024) -> str:
    """The layer rendered as a PNG ``data:`` URL (works offline and in saved notebooks)."""
    import base64
    import io

    from matplotlib.image import imsave

    buffer = io.BytesIO()
    imsave(buffer, layer_rgba(layer, max_side), format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def export_view(
    layers: list[MapLayer], box: tuple[float, float, float, float], out_dir: Any
) -> list[Path]:
    """Write the high-resolution layers (the predictions) inside ``box`` as GeoTIFFs into
    ``out_dir``; a ground-truth stand-in is written with a ``groundtruth_`` prefix."""
    from ..io import rasters

    out = []
    for layer in layers:
        if layer.role != "high_res":
            continue
        raster = read_layer(layer, box)
        prefix = "" if layer.source == "prediction" else "groundtruth_"
        stamp = "_".join(f"{v:.5f}" for v in box)
        path = Path(out_dir) / f"{prefix}{layer.path.stem}_{stamp}.tif"
        tags = {
            "source": layer.source,
            "layer": layer.name,
            "from": str(layer.path),
            "box_south_west_north_east": stamp,
        }
        out.append(
            rasters.write(
                path, raster.data, raster.crs, raster.transform, nodata=raster.nodata, tags=tags
            )
        )
    return out


def distribution_figure(
    low: dict[int, float],
    high: dict[int, float],
    titles: tuple[str, str] = ("low resolution", "high resolution"),
) -> Any:
    """Two bar charts side by side: the class shares of the low- and high-resolution maps."""
    import matplotlib.pyplot as plt

    from ..core import labels

    names = labels.class_names("dfc")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True, constrained_layout=True)
    for ax, dist, title in zip(axes, (low, high), titles):
        values = sorted(set(low) | set(high))
        ax.bar(
            range(len(values)),
            [100 * dist.get(v, 0.0) for v in values],
            color=[labels.color_of("dfc", v) for v in values],
            edgecolor="black",
            linewidth=0.4,
        )
        ax.set_xticks(
            range(len(values)), [names[v] for v in values], rotation=60, ha="right", fontsize=8
        )
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel("share of pixels (%)")
    return fig


@dataclass
class Dashboard:
    """The dashboard's state and widgets; displays as its widget."""

    layers: list[MapLayer]
    export_dir: Path
    box: tuple[float, float, float, float]
    widget: Any = None
    map: Any = None
    output: Any = None
    status: Any = None
    last_distributions: tuple[dict[int, float], dict[int, float]] | None = None
    exported: list[Path] | None = None

    def layer(self, role: str, kind: str = "landcover") -> MapLayer:
        """The layer of a role ("low_res"/"high_res") and kind."""
        return next(x for x in self.layers if x.role == role and x.kind == kind)

    def show_box(
        self, box: tuple[float, float, float, float]
    ) -> tuple[dict[int, float], dict[int, float]]:
        """Select ``box``: compute and draw the class distributions of the low- and high-res maps."""
        import matplotlib.pyplot as plt

        low_layer, high_layer = self.layer("low_res"), self.layer("high_res")
        low, high = class_distribution(low_layer, box), class_distribution(high_layer, box)
        self.box, self.last_distributions = box, (low, high)
        if self.output is not None:
            from IPython.display import display

            self.output.clear_output(wait=True)
            with self.output:
                fig = distribution_figure(low, high, (low_layer.name, high_layer.name))
                display(fig)
                plt.close(fig)
        self._say(
            f"box south {box[0]:.5f}, west {box[1]:.5f}, north {box[2]:.5f}, east {box[3]:.5f}"
        )
        return low, high

    def export(self) -> list[Path]:
        """Write the high-resolution layers of the selected box as GeoTIFFs into the export folder."""
        self.exported = export_view(self.layers, self.box, self.export_dir)
        self._say("wrote " + ", ".join(str(p) for p in self.exported))
        return self.exported

    def _say(self, text: str) -> None:
        import html as _html

        if self.status is not None:
            self.status.value = f"<code>{_html.escape(text)}</code>"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def results_dashboard(
    scene_dir: Any,
    predictions_dir: Any = None,
    export_dir: Any = None,
    basemap: bool = True,
    max_side: int = 1024,
) -> Dashboard:
    """The map viewer: five overlays, a layer switcher, click / box / typed selection with class
    distributions, and a GeoTIFF export button. Builds and draws once; never waits for input."""
    import ipywidgets as w

    from ..records import runs
    from . import widgets

    layers = dashboard_layers(scene_dir, predictions_dir)
    south, west, north, east = latlon_bounds(layers[0].path)
    center = ((south + north) / 2, (west + east) / 2)
    dash = Dashboard(
        layers,
        Path(export_dir) if export_dir else runs.run_dir() / "exports",
        point_box(*center),
    )
    dash.map = _overlay_map(layers, center, east - west, basemap, max_side)
    dash.output, dash.status = widgets.output_area(), w.HTML()  # headless: plain output, no widget
    text, show, export = _selection_controls(dash)
    notes = [f"<li>{x.note}</li>" for x in layers if x.note]
    legend = w.HTML("<ul>" + "".join(notes) + "</ul>" if notes else "")
    dash.widget = widgets.assemble(
        "results dashboard",
        [dash.map, legend, w.HBox([text, show, export]), dash.status],
        dash.output,
    )
    text.value = ", ".join(f"{v:.5f}" for v in dash.box)
    dash.show_box(dash.box)
    return dash


def _overlay_map(
    layers: list[MapLayer],
    center: tuple[float, float],
    width_deg: float,
    basemap: bool,
    max_side: int,
) -> Any:
    """An ipyleaflet map with every layer as an image overlay and a layer switcher."""
    import math

    import ipyleaflet
    import ipywidgets as w

    # The zoom at which the scene spans about 400 screen pixels (a world is 256 * 2**zoom pixels wide).
    zoom = int(max(3, min(17, math.floor(math.log2(400 * 360 / (256 * max(width_deg, 1e-9)))))))
    m = ipyleaflet.Map(
        center=center, zoom=zoom, scroll_wheel_zoom=True, layout=w.Layout(height="420px")
    )
    if not basemap:
        for layer in list(m.layers):
            m.remove(layer)
    # Drawing order, bottom to top: image, lights, land cover (fine on top); toggle in the control.
    order = sorted(
        layers,
        key=lambda x: ({"rgb": 0, "lights": 1, "landcover": 2}[x.kind], x.role == "high_res"),
    )
    for layer in order:
        s, we, n, e = latlon_bounds(layer.path)
        m.add(
            ipyleaflet.ImageOverlay(
                url=layer_data_url(layer, max_side),
                bounds=((s, we), (n, e)),
                name=layer.name,
                opacity=1.0 if layer.kind == "rgb" else 0.75,
            )
        )
    m.add(ipyleaflet.LayersControl(position="topright"))
    return m


def _selection_controls(dash: Dashboard) -> tuple[Any, Any, Any]:
    """The box text field and the two buttons, wired to the map's clicks and drawn rectangles."""
    import ipyleaflet
    import ipywidgets as w

    text = w.Text(
        placeholder="lat, lon  or  south, west, north, east",
        description="Box:",
        layout=w.Layout(width="28em"),
    )
    show, export = (
        w.Button(description="Show distributions"),
        w.Button(description="Export GeoTIFF", icon="download"),
    )

    def on_text(_: Any = None) -> None:
        try:
            dash.show_box(parse_box(text.value))
        except ValueError as err:
            dash._say(str(err))

    def on_map(**event: Any) -> None:
        if event.get("type") == "click":
            lat, lon = event["coordinates"]
            text.value = f"{lat:.5f}, {lon:.5f}"
            on_text()

    def on_draw(_control: Any, action: str, geo_json: dict) -> None:
        if action == "created":
            xs, ys = zip(*geo_json["geometry"]["coordinates"][0])
            text.value = f"{min(ys):.5f}, {min(xs):.5f}, {max(ys):.5f}, {max(xs):.5f}"
            on_text()

    def on_export(_: Any = None) -> None:
        try:
            dash.export()
        except (ValueError, OSError) as err:
            dash._say(str(err))

    dash.map.on_interaction(on_map)
    draw = ipyleaflet.DrawControl(
        polyline={}, polygon={}, circlemarker={}, rectangle={"shapeOptions": {"color": "#00aaff"}}
    )
    draw.on_draw(on_draw)
    dash.map.add(draw)
    show.on_click(on_text)
    export.on_click(on_export)
    return text, show, export

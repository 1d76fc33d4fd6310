"""ipywidgets browsers shared by the notebooks: patch browsers, before/after sliders.

The results dashboard of notebook 10 (map viewer, class distributions, export) is in
:mod:`helpers.views.dashboard`.

Every widget function draws its first state at once and never waits for input, and none makes an
ipywidgets ``Output``: nbclient (papermill, nbconvert ``--execute``, nbmake) plays the front end
of an Output widget and answers it over the kernel's shell channel while it waits there for the
cell's reply, which can miss the reply and hang forever (nbclient issue 312, papermill issue 723).
Frames go into a display with an id instead (:class:`FrameOutput`), updated in place with
``update_display_data`` messages, which front ends show and nbclient records without answering;
so plain ``papermill`` runs safely without any setting. Unattended runs that say so
(``config.headless()``: ``eosr reproduce``, the tests) get the first frame as plain output and
no controls.
"""

from __future__ import annotations

from typing import Any

# ---- land cover (notebooks 02-06) ----
# patch browser (notebook 02)


class StaticOutput:
    """Stands in for ``ipywidgets.Output`` in headless runs: what is drawn "inside" it goes to the
    cell's own output."""

    def __enter__(self) -> StaticOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def clear_output(self, wait: bool = False) -> None:
        """Nothing to clear: each frame is plain output."""


class StaticView:
    """What a widget function returns in headless runs: a note instead of live controls (the
    controls are kept in ``children``, undisplayed, so checks can see what was built)."""

    def __init__(self, name: str, children: tuple[Any, ...] = ()) -> None:
        self.name, self.children = name, tuple(children)

    def __repr__(self) -> str:
        return f"({self.name}: first frame shown above; controls are live in Jupyter, not here)"


class FrameOutput:
    """Stands in for ``ipywidgets.Output`` in live sessions: what is drawn inside ``with out:`` (a
    figure, printed text) becomes one frame of a display with an id, shown below the controls
    and replaced in place by the next frame (no widget, nothing for nbclient to answer)."""

    def __init__(self) -> None:
        import uuid

        self.display_id, self.bundle, self.shown = uuid.uuid4().hex, None, False
        self._capture: Any = None

    def __enter__(self) -> FrameOutput:
        from IPython.utils.capture import capture_output

        self._capture = capture_output()
        self._captured = self._capture.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._capture.__exit__(*exc)
        self.update(frame_bundle(self._captured.outputs, self._captured.stdout))

    def clear_output(self, wait: bool = False) -> None:
        """``wait=True``: the next frame replaces this one; else blank the frame now."""
        if not wait:
            self.update({"text/plain": ""})

    def update(self, bundle: dict[str, Any]) -> None:
        """Make ``bundle`` (mimetype -> data) the current frame, in place if already shown."""
        from IPython.display import display

        self.bundle = bundle
        if self.shown:
            display(bundle, raw=True, display_id=self.display_id, update=True)

    def show(self) -> None:
        """Display the current frame (below the controls); later frames replace it."""
        from IPython.display import display

        display(self.bundle or {"text/plain": ""}, raw=True, display_id=self.display_id)
        self.shown = True


def frame_bundle(outputs: list[Any], stdout: str = "") -> dict[str, Any]:
    """One display bundle from captured rich outputs and text: a lone output as it is, several
    as one HTML block (PNGs inline, text in ``<pre>``)."""
    import html

    if len(outputs) == 1 and not stdout:
        return dict(outputs[0].data)
    parts = [f"<pre>{html.escape(stdout)}</pre>"] if stdout else []
    for out in outputs:
        data = out.data
        if "image/png" in data:
            parts.append(f"<img src='data:image/png;base64,{data['image/png']}'>")
        elif "text/html" in data:
            parts.append(data["text/html"])
        else:
            parts.append(f"<pre>{html.escape(str(data.get('text/plain', '')))}</pre>")
    text = stdout + "\n".join(str(o.data.get("text/plain", "")) for o in outputs)
    return {"text/html": "".join(parts), "text/plain": text}


def output_area() -> Any:
    """A :class:`FrameOutput`, or a :class:`StaticOutput` when running headless; never an
    ``ipywidgets.Output`` (see the module's note on the nbclient hang)."""
    from ..core import config

    return StaticOutput() if config.headless() else FrameOutput()


def assemble(name: str, rows: list[Any], out: Any) -> Any:
    """The widget's controls (``rows``) with ``out``'s frame shown below them, or a
    :class:`StaticView` when headless."""
    if isinstance(out, StaticOutput):
        return StaticView(name, tuple(rows))
    return _live_view(rows, out)


def _live_view(rows: list[Any], out: FrameOutput) -> Any:
    """A ``VBox`` of ``rows`` that, when displayed, shows ``out``'s frame right after itself."""
    import ipywidgets as w
    from IPython.display import display

    class LiveView(w.VBox):
        """The controls; displaying them also displays the frame they drive."""

        def _ipython_display_(self, **kwargs: Any) -> None:
            parent = getattr(super(), "_ipython_display_", None)
            if parent is not None:  # ipywidgets 7
                parent(**kwargs)
            else:  # ipywidgets 8
                display(self._repr_mimebundle_(**kwargs), raw=True)
            out.show()

    view = LiveView(list(rows))
    view.frame = out
    return view


def patch_groups(
    sen12ms_root: Any = None, dfc2020_root: Any = None
) -> dict[str, tuple[str, Any, str]]:
    """Browsable groups: ``{"summer (SEN12MS)": ("sen12ms", root, "ROIs1868_summer"), "test (DFC2020)":
    ("dfc2020", root, "test"), ...}`` for the seasons and splits found under the roots."""
    from pathlib import Path

    from ..data.layouts import SEASONS

    groups: dict[str, tuple[str, Any, str]] = {}
    if sen12ms_root is not None:
        for season in SEASONS:
            if any((Path(sen12ms_root) / season).glob("s2_*/*.tif")):
                groups[f"{season.split('_', 1)[1]} (SEN12MS)"] = ("sen12ms", sen12ms_root, season)
    if dfc2020_root is not None:
        for split in ("test", "validation"):
            if any((Path(dfc2020_root) / f"ROIs0000_{split}").glob("s2_*/*.tif")):
                groups[f"{split} (DFC2020)"] = ("dfc2020", dfc2020_root, split)
    return groups


def _group_dataset(group: tuple[str, Any, str], combo: tuple[str, ...], scheme: str) -> Any:
    from ..core.bands import S1_BANDS, S2_BANDS
    from ..data import datasets as ds

    kind, root, part = group
    s2 = tuple(b for b in combo if b in S2_BANDS)
    s1 = tuple(b for b in combo if b in S1_BANDS)
    if kind == "sen12ms":
        return ds.SEN12MS(
            root, seasons=[part], s2_bands=s2, s1_bands=s1, label=scheme, nan_policy="zero"
        )
    return ds.DFC2020(root, split=part, s2_bands=s2, s1_bands=s1, label=scheme, nan_policy="zero")


def patch_browser(
    sen12ms_root: Any = None, dfc2020_root: Any = None, max_patches: int | None = None
) -> Any:
    """Browse patches: season/split, patch number, label scheme and band combination, each label map
    with its legend (DFC2020 shows fine and coarse side by side). Draws the first view at once."""
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    from ..data import datasets as ds
    from ..data.normalise import BAND_COMBOS
    from . import plots

    groups = patch_groups(sen12ms_root, dfc2020_root)
    if not groups:
        raise FileNotFoundError(
            f"No SEN12MS seasons or DFC2020 splits under {sen12ms_root} / {dfc2020_root}: run `eosr sample` "
            "or point to the dataset folders."
        )
    cache: dict[tuple, Any] = {}

    def dataset(name: str, combo: str, scheme: str) -> Any:
        key = (name, combo, scheme)
        if key not in cache:
            cache[key] = _group_dataset(groups[name], BAND_COMBOS[combo], scheme)
        return cache[key]

    group = w.Dropdown(options=list(groups), description="season")
    patch = w.IntSlider(min=0, max=0, description="patch", continuous_update=False)
    scheme = w.Dropdown(options=list(ds.SCHEMES), value="dfc", description="scheme")
    combo = w.Dropdown(
        options=list(BAND_COMBOS), description="bands", layout=w.Layout(width="340px")
    )
    out = output_area()

    def limit(*_: Any) -> None:
        n = len(dataset(group.value, combo.value, scheme.value))
        patch.max = max(0, min(n, max_patches or n) - 1)

    def draw(*_: Any) -> None:
        data = dataset(group.value, combo.value, scheme.value)
        sample = data[min(patch.value, len(data) - 1)]
        out.clear_output(wait=True)
        with out:
            fig = plots.patch_figure(
                sample,
                data.bands,
                BAND_COMBOS[combo.value],
                scheme.value,
                title=f"{group.value}: {sample['id']}",
            )
            display(fig)
            plt.close(fig)

    group.observe(limit, "value")
    for control in (group, patch, scheme, combo):
        control.observe(draw, "value")
    limit()
    draw()
    return assemble("patch browser", [w.HBox([group, patch]), w.HBox([scheme, combo])], out)


# prediction browser (notebooks 05, 06)


def label_browser(
    panels: list[dict[str, Any]], scheme: str = "dfc8", titles: list[str] | None = None
) -> Any:
    """Browse samples side by side (e.g. input, predictions, ground truth) with a slider.

    ``panels``: one dict per sample, ``{column title: array}``; ``(C, H, W)`` arrays are drawn as RGB,
    ``(H, W)`` as label maps of ``scheme``. Draws the first sample at once; never waits for input.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    from . import plots

    if not panels:
        raise ValueError("label_browser needs at least one sample (panels is empty)")
    slider = w.IntSlider(
        value=0, min=0, max=len(panels) - 1, description="sample", continuous_update=False
    )
    caption, out = w.HTML(), output_area()

    def draw(index: int) -> None:
        caption.value = f"<b>{titles[index]}</b>" if titles else f"sample {index}"
        out.clear_output(wait=True)
        with out:
            fig = plots.label_grid([panels[index]], scheme=scheme)
            display(fig)
            plt.close(fig)

    slider.observe(lambda change: draw(change["new"]), names="value")
    draw(0)
    return assemble("label browser", [w.HBox([slider, caption])], out)


# ---- night lights (notebooks 07-09) ----

# notebook 07


def swipe_compose(left: Any, right: Any, position: float = 0.5, mode: str = "swipe") -> Any:
    """One frame of the swipe/blend comparison: ``left`` up to column ``position * width`` and
    ``right`` after it (``swipe``), or ``(1 - position) * left + position * right`` (``blend``).
    Both are scaled to [0, 1] by their own 99.5th percentile (they may be in different units)."""
    import numpy as np

    def unit(a: Any) -> Any:
        a = np.asarray(a, dtype=np.float32).squeeze()
        top = float(np.nanpercentile(a, 99.5)) or 1.0
        return np.clip(a / top, 0, 1)

    a, b = unit(left), unit(right)
    if a.shape != b.shape:
        raise ValueError(
            f"left {a.shape} and right {b.shape} must be on one grid (resample first)."
        )
    if mode == "blend":
        return (1 - position) * a + position * b
    if mode != "swipe":
        raise ValueError(f"mode must be 'swipe' or 'blend', got {mode!r}.")
    out = b.copy()
    cut = int(round(position * a.shape[1]))
    out[:, :cut] = a[:, :cut]
    return out


def swipe(
    left: Any,
    right: Any,
    labels: tuple[str, str] = ("LR upsampled", "HR"),
    cmap: str = "magma",
    position: float = 0.5,
    mode: str = "swipe",
) -> Any:
    """A slider that swipes (or blends) ``left`` over ``right``, e.g. upsampled coarse lights over
    fine lights, to see misregistration. Draws the first frame at once, so it works headless."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    slider = widgets.FloatSlider(
        value=position, min=0.0, max=1.0, step=0.02, description="position", continuous_update=False
    )
    toggle = widgets.ToggleButtons(options=["swipe", "blend"], value=mode, description="mode")
    out = output_area()

    def draw(*_: Any) -> None:
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6, 6))
            frame = swipe_compose(left, right, slider.value, toggle.value)
            ax.imshow(frame, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            if toggle.value == "swipe":
                ax.axvline(slider.value * frame.shape[1] - 0.5, color="w", lw=1)
            ax.set_title(
                f"{labels[0]} | {labels[1]}"
                if toggle.value == "swipe"
                else f"{1 - slider.value:.0%} {labels[0]} + {slider.value:.0%} {labels[1]}"
            )
            ax.set_axis_off()
            plt.show()

    slider.observe(draw, names="value")
    toggle.observe(draw, names="value")
    draw()
    return assemble("swipe", [widgets.HBox([toggle, slider])], out)


# notebooks 08-09


def before_after(images: dict, cmap: str = "magma", log: bool = True) -> Any:
    """Before/after slider over super-resolution results: pick the image on each side (e.g.
    bicubic | model | truth) and swipe between them. Draws at once, so it works headless."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(images)
    prep = {
        k: np.log1p(np.maximum(np.asarray(v, dtype=np.float32).squeeze(), 0)) if log else v
        for k, v in images.items()
    }
    left = widgets.Dropdown(options=names, value=names[0], description="before")
    right = widgets.Dropdown(options=names, value=names[-1], description="after")
    slider = widgets.FloatSlider(
        value=0.5, min=0.0, max=1.0, step=0.02, description="swipe", continuous_update=False
    )
    out = output_area()

    def draw(*_):
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6, 6))
            frame = swipe_compose(prep[left.value], prep[right.value], slider.value, "swipe")
            ax.imshow(frame, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            ax.axvline(slider.value * frame.shape[1] - 0.5, color="w", lw=1)
            ax.set_title(f"{left.value} | {right.value}")
            ax.set_axis_off()
            plt.show()

    for w in (left, right, slider):
        w.observe(draw, names="value")
    draw()
    return assemble("before/after slider", [widgets.HBox([left, right]), slider], out)

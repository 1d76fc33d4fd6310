"""ipywidgets browsers shared by the notebooks: patch browsers, before/after sliders.

The results dashboard of notebook 10 (map viewer, class distributions, export) is in
:mod:`helpers.dashboard`.

Every widget function also works headless (tests, papermill): it builds the widget, draws the
first state once, and returns the widget so that a notebook can display it.
"""

from __future__ import annotations

from typing import Any

# ---- land cover (notebooks 02-06) ----
# patch browser (notebook 02)


def patch_groups(
    sen12ms_root: Any = None, dfc2020_root: Any = None
) -> dict[str, tuple[str, Any, str]]:
    """Browsable groups: ``{"summer (SEN12MS)": ("sen12ms", root, "ROIs1868_summer"), "test (DFC2020)":
    ("dfc2020", root, "test"), ...}`` for the seasons and splits found under the roots."""
    from pathlib import Path

    from . import datasets as ds

    groups: dict[str, tuple[str, Any, str]] = {}
    if sen12ms_root is not None:
        for season in ds.SEASONS:
            if any((Path(sen12ms_root) / season).glob("s2_*/*.tif")):
                groups[f"{season.split('_', 1)[1]} (SEN12MS)"] = ("sen12ms", sen12ms_root, season)
    if dfc2020_root is not None:
        for split in ("test", "validation"):
            if any((Path(dfc2020_root) / f"ROIs0000_{split}").glob("s2_*/*.tif")):
                groups[f"{split} (DFC2020)"] = ("dfc2020", dfc2020_root, split)
    return groups


def _group_dataset(group: tuple[str, Any, str], combo: tuple[str, ...], scheme: str) -> Any:
    from . import datasets as ds

    kind, root, part = group
    s2 = tuple(b for b in combo if b in ds.S2_BANDS)
    s1 = tuple(b for b in combo if b in ds.S1_BANDS)
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

    from . import datasets as ds
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
            cache[key] = _group_dataset(groups[name], ds.BAND_COMBOS[combo], scheme)
        return cache[key]

    group = w.Dropdown(options=list(groups), description="season")
    patch = w.IntSlider(min=0, max=0, description="patch", continuous_update=False)
    scheme = w.Dropdown(options=list(ds.SCHEMES), value="dfc", description="scheme")
    combo = w.Dropdown(
        options=list(ds.BAND_COMBOS), description="bands", layout=w.Layout(width="340px")
    )
    out = w.Output()

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
                ds.BAND_COMBOS[combo.value],
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
    return w.VBox([w.HBox([group, patch]), w.HBox([scheme, combo]), out])


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
    caption, out = w.HTML(), w.Output()

    def draw(index: int) -> None:
        caption.value = f"<b>{titles[index]}</b>" if titles else f"sample {index}"
        out.clear_output(wait=True)
        with out:
            fig = plots.label_grid([panels[index]], scheme=scheme)
            display(fig)
            plt.close(fig)

    slider.observe(lambda change: draw(change["new"]), names="value")
    draw(0)
    return w.VBox([w.HBox([slider, caption]), out])


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
    out = widgets.Output()

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
    return widgets.VBox([widgets.HBox([toggle, slider]), out])


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
    out = widgets.Output()

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
    return widgets.VBox([widgets.HBox([left, right]), slider, out])

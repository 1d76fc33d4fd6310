"""Matplotlib figures shared by the notebooks: RGB composites, label maps with legends, error maps."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np


def stretch(image: np.ndarray, low: float = 2, high: float = 98) -> np.ndarray:
    """Percentile stretch of ``(bands, h, w)`` or ``(h, w)`` to [0, 1], per band, NaN-safe."""
    arr = np.asarray(image, dtype=np.float32)
    squeeze = arr.ndim == 2
    if squeeze:
        arr = arr[None]
    out = np.empty_like(arr)
    for i, band in enumerate(arr):
        lo, hi = np.nanpercentile(band, [low, high]) if np.isfinite(band).any() else (0.0, 1.0)
        out[i] = np.clip((band - lo) / max(hi - lo, 1e-6), 0, 1)
    out = np.nan_to_num(out)
    return out[0] if squeeze else out


def rgb(image: np.ndarray, bands: tuple[int, int, int] = (0, 1, 2)) -> np.ndarray:
    """An ``(h, w, 3)`` stretched composite from three band indices of ``(bands, h, w)``."""
    return np.moveaxis(stretch(np.asarray(image)[list(bands)]), 0, -1)


def show_labels(
    ax: Any, labels: np.ndarray, scheme: str = "dfc", title: str = "", legend: bool = False
) -> Any:
    """Draw a label map with the scheme's colours (see ``helpers.core.labels``); optional legend."""
    from ..core import labels as lab

    cmap, norm = lab.colormap(scheme)
    im = ax.imshow(labels, cmap=cmap, norm=norm, interpolation="nearest")
    ax.set_title(title)
    ax.set_axis_off()
    if legend:
        lab.add_legend(ax, scheme, present=np.unique(labels))
    return im


def scene_maps(
    s2_path: Any,
    maps: dict[str, np.ndarray],
    bands: tuple[str, str, str] = ("B04", "B03", "B02"),
    scheme: str = "dfc",
) -> Any:
    """A Sentinel-2 scene as true colour beside label maps of it (the last one with a legend)."""
    import matplotlib.pyplot as plt

    from ..core.bands import S2_BANDS
    from ..data.normalise import band_indexes, normalise_s2
    from ..io import rasters

    s2 = rasters.read(s2_path)
    index = band_indexes(bands, S2_BANDS, s2.descriptions)
    image = normalise_s2(s2.data[[i - 1 for i in index]])
    n = 1 + len(maps)
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 4.4), constrained_layout=True)
    axes[0].imshow(rgb(image))
    axes[0].set_title("Sentinel-2 RGB")
    axes[0].set_axis_off()
    for i, (ax, (title, values)) in enumerate(zip(axes[1:], maps.items())):
        show_labels(ax, values, scheme, title, legend=i == len(maps) - 1)
    return fig


def scene_overview(scene: Any, title: str = "") -> Any:
    """The files of one scene folder (notebook 01) in a 2 x 4 grid: Sentinel-2 true colour, fine and
    coarse labels, elevation, fine and coarse lights, impervious surface and the coarse DN histogram."""
    import matplotlib.pyplot as plt

    from ..core import labels as lab
    from ..io import rasters

    def band(name: str, masked: bool = False) -> np.ndarray:
        return rasters.read(Path(scene) / f"{name}.tif", masked_nodata=masked).data[0]

    s2 = rasters.read(Path(scene) / "s2.tif")
    index = {name: i for i, name in enumerate(s2.descriptions)}
    true_colour = np.stack([s2.data[index[b]] for b in ("B04", "B03", "B02")], -1) / 10000
    true_colour = np.clip(true_colour / max(np.percentile(true_colour, 99), 1e-6), 0, 1)
    ntl_lr = band("ntl_lr")
    fig, axes = plt.subplots(2, 4, figsize=(14, 7))
    axes[0, 0].imshow(true_colour)
    axes[0, 0].set_title("Sentinel-2 B04/B03/B02")
    for ax, name, scheme, what in (
        (axes[0, 1], "dfc", "dfc", "fine labels (DFC classes)"),
        (axes[0, 2], "lc", "igbp", "coarse labels (MODIS IGBP)"),
    ):
        cmap, norm = lab.colormap(scheme)
        ax.imshow(band(name), cmap=cmap, norm=norm, interpolation="nearest")
        ax.set_title(what)
    im = axes[0, 3].imshow(band("dem", masked=True), cmap="terrain")
    axes[0, 3].set_title("elevation (m)")
    plt.colorbar(im, ax=axes[0, 3], shrink=0.7)
    axes[1, 0].imshow(np.log1p(np.nan_to_num(band("ntl_hr", masked=True))), cmap="magma")
    axes[1, 0].set_title("fine lights, log(1 + radiance)")
    im = axes[1, 1].imshow(ntl_lr, cmap="magma", vmin=0, vmax=63, interpolation="nearest")
    axes[1, 1].set_title("coarse lights (DN 0..63)")
    plt.colorbar(im, ax=axes[1, 1], shrink=0.7)
    axes[1, 2].imshow(band("isp"), cmap="gray", interpolation="nearest")
    axes[1, 2].set_title("impervious surface (0/1)")
    axes[1, 3].hist(ntl_lr.ravel(), bins=64, range=(0, 64))
    axes[1, 3].set_title("coarse lights: DN histogram")
    for ax in axes.ravel()[:7]:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, y=1.0)
    fig.tight_layout()
    return fig


# ---- land cover (notebooks 02-06) ----

# explore labels (notebook 02)


def composite(image: np.ndarray, bands: tuple[str, ...], names: tuple[str, ...]) -> np.ndarray:
    """``(h, w, 3)`` stretched composite of the bands named ``names`` from ``image`` whose channels are
    ``bands`` (by name). Two names (S1 VV, VH) give (VV, VH, VV - VH)."""
    arr = np.asarray(image, dtype=np.float32)
    missing = [n for n in names if n not in bands]
    if missing:
        raise ValueError(f"bands {missing} are not in this image (it holds {list(bands)})")
    picked = [arr[bands.index(n)] for n in names]
    if len(picked) == 2:
        picked.append(picked[0] - picked[1])
    return np.moveaxis(stretch(np.stack(picked[:3])), 0, -1)


def patch_figure(
    sample: dict[str, Any],
    bands: tuple[str, ...],
    names: tuple[str, ...],
    scheme: str,
    title: str = "",
) -> Any:
    """One patch: the band composite, its label map in ``scheme`` and, for DFC2020, the coarse
    MODIS label beside it; each label map with its legend."""
    import matplotlib.pyplot as plt

    fine = "coarse" in sample and scheme in ("dfc", "dfc8")
    maps = [(f"fine DFC ({scheme})" if fine else f"label ({scheme})", sample["mask"], scheme)]
    if "coarse" in sample:
        coarse_scheme = "dfc" if scheme == "dfc" else "dfc8"
        maps.append((f"coarse MODIS -> {coarse_scheme}", sample["coarse"], coarse_scheme))
    fig, axes = plt.subplots(
        1, 1 + len(maps), figsize=(3.2 + 4.4 * len(maps), 3.4), constrained_layout=True
    )
    axes[0].imshow(composite(np.asarray(sample["image"]), bands, names))
    axes[0].set_title(", ".join(names))
    axes[0].set_axis_off()
    for ax, (name, mask, sch) in zip(axes[1:], maps):
        arr = np.asarray(mask).astype(np.float32)
        arr[arr == 255] = np.nan
        show_labels(ax, arr, sch, title=name, legend=False)
        from ..core import labels as lab

        lab.add_legend(ax, sch, present=[int(v) for v in np.unique(np.asarray(mask)) if v != 255])
    fig.suptitle(title)
    return fig


def class_share_figure(shares: Any, scheme: str = "dfc", title: str = "") -> Any:
    """Stacked horizontal bars: one bar per row of ``shares`` (a DataFrame of class value -> share),
    in the scheme's colours, with a legend."""
    import matplotlib.pyplot as plt

    from ..core import labels as lab

    names = lab.class_names(scheme)
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.5 * len(shares)), constrained_layout=True)
    left = np.zeros(len(shares))
    for value in shares.columns:
        width = shares[value].to_numpy(dtype=float)
        ax.barh(
            list(shares.index),
            width,
            left=left,
            color=lab.color_of(scheme, int(value)),
            edgecolor="0.3",
            linewidth=0.3,
            label=f"{value} {names[int(value)]}",
        )
        left += width
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of labelled pixels")
    ax.invert_yaxis()
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.set_title(title)
    return fig


# pix2pix and bag of colours figures (notebooks 05, 06)


def confusion_figure(
    confusion: Any, names: list[str] | None = None, title: str = "", normalize: bool = True
) -> Any:
    """Confusion matrix (rows truth, columns prediction), row-normalised to recall by default."""
    import matplotlib.pyplot as plt

    cm = np.asarray(confusion, dtype=np.float64)
    shown = cm / np.maximum(cm.sum(1, keepdims=True), 1) if normalize else cm
    names = names or [str(i) for i in range(len(cm))]
    fig, ax = plt.subplots(
        figsize=(1.0 + 0.6 * len(cm), 0.8 + 0.6 * len(cm)), constrained_layout=True
    )
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    for i in range(len(cm)):
        for j in range(len(cm)):
            if cm[i].sum() > 0:
                ax.text(
                    j,
                    i,
                    f"{shown[i, j]:.2f}" if normalize else f"{int(cm[i, j])}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if shown[i, j] > 0.6 * shown.max() else "black",
                )
    ax.set_xticks(range(len(cm)), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(cm)), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("ground truth")
    ax.set_title(
        title or ("confusion (share of each true class)" if normalize else "confusion (pixels)")
    )
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def label_grid(
    rows: list[dict[str, np.ndarray]],
    scheme: str = "dfc8",
    rgb_bands: tuple[int, int, int] = (0, 1, 2),
) -> Any:
    """A grid of samples: one row per dict, one column per key; (C, H, W) arrays as RGB, (H, W) as labels."""
    import matplotlib.pyplot as plt

    cols = list(rows[0])
    fig, axes = plt.subplots(
        len(rows),
        len(cols),
        figsize=(2.4 * len(cols), 2.4 * len(rows)),
        squeeze=False,
        constrained_layout=True,
    )
    for r, row in enumerate(rows):
        for c, name in enumerate(cols):
            ax, arr = axes[r, c], np.asarray(row[name])
            if arr.ndim == 3:
                ax.imshow(rgb(arr, rgb_bands))
                ax.set_title(name if r == 0 else "")
                ax.set_axis_off()
            else:
                show_labels(
                    ax, np.where(arr == 255, np.nan, arr), scheme, title=name if r == 0 else ""
                )
    present = np.unique(
        np.concatenate(
            [np.asarray(v).ravel() for row in rows for v in row.values() if np.asarray(v).ndim == 2]
        )
    )
    from ..core import labels as lab

    lab.add_legend(axes[0, -1], scheme, present=[int(v) for v in present if v != 255])
    return fig


def gan_curves(histories: dict[str, Any], window: int = 5) -> Any:
    """Learning curves of ``fit_gan`` runs: D loss, G's adversarial loss and G's L1 per step (moving mean)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2), constrained_layout=True)
    titles = {
        "d_loss": "D loss (0.5 (real + fake))",
        "g_gan": "G adversarial loss",
        "g_l1": "G L1 to target",
    }
    for name, hist in histories.items():
        for ax, key in zip(axes, titles):
            values = np.asarray(hist.steps[key], dtype=float)
            if not len(values):
                continue
            k = max(1, min(window, len(values)))
            smooth = np.convolve(values, np.ones(k) / k, mode="valid")
            ax.plot(values, alpha=0.25)
            ax.plot(
                np.arange(k - 1, len(values)), smooth, label=name, color=ax.lines[-1].get_color()
            )
    for ax, title in zip(axes, titles.values()):
        ax.set_title(title)
        ax.set_xlabel("step (batch)")
    axes[0].legend()
    return fig


def vocabulary_figure(colours: np.ndarray, title: str = "colour vocabulary") -> Any:
    """The words of a colour vocabulary as swatches (``colours``: (words, 3) in [0, 1])."""
    import matplotlib.pyplot as plt

    n = len(colours)
    per_row = int(np.ceil(np.sqrt(n * 2)))
    grid = np.ones((int(np.ceil(n / per_row)) * per_row, 3))
    grid[:n] = colours
    fig, ax = plt.subplots(
        figsize=(0.35 * per_row + 1, 0.35 * len(grid) / per_row + 0.8), constrained_layout=True
    )
    ax.imshow(grid.reshape(-1, per_row, 3), interpolation="nearest")
    ax.set_title(f"{title} ({n} words)")
    ax.set_axis_off()
    return fig


def segments_image(segments: np.ndarray, seed: int = 0) -> np.ndarray:
    """(H, W, 3) random colours for segment ids (to draw a segmentation)."""
    palette = np.random.default_rng(seed).uniform(0.15, 1.0, (int(segments.max()) + 1, 3))
    return palette[segments]


def histograms_figure(
    hists: np.ndarray, colours: np.ndarray, which: list[int], titles: list[str] | None = None
) -> Any:
    """Word histograms of a few segments, bars coloured by their word."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1,
        len(which),
        figsize=(3.2 * len(which), 2.6),
        sharey=True,
        squeeze=False,
        constrained_layout=True,
    )
    for ax, i, t in zip(axes[0], which, titles or [f"segment {i}" for i in which]):
        ax.bar(np.arange(hists.shape[1]), hists[i], color=colours, width=1.0, edgecolor="none")
        ax.set_title(t, fontsize=9)
        ax.set_xlabel("word")
    axes[0, 0].set_ylabel("share of the segment's pixels")
    return fig


# notebooks 03-06: predictions


def learning_curves(histories: dict[str, Any], metric: str = "iou") -> Any:
    """Training loss and one validation metric per epoch for ``{name: helpers.training.train.History}``."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4), constrained_layout=True)
    for name, hist in histories.items():
        left.plot(hist.epoch, hist.train_loss, marker=".", label=name)
        values = hist.val_metric(metric) if hist.val else []
        if values and np.isfinite(values).any():
            right.plot(hist.epoch, values, marker=".", label=name)
    left.set(xlabel="epoch", ylabel="training loss", title="training loss")
    right.set(xlabel="epoch", ylabel=f"validation {metric}", title=f"validation {metric}")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    return fig


def block_statistics_figure(
    mu: np.ndarray,
    sigma2: np.ndarray,
    blocks: dict[str, dict[str, np.ndarray]],
    names: list[str],
    coarse_class: int,
) -> Any:
    """Label-SR statistics: the ``mu`` table (coarse x fine) and, for blocks of one coarse class,
    each method's block-mean prediction ``eta`` against the expected share ``mu +- sigma``.

    ``blocks``: ``{method: {"eta": (Z, C), "label": (Z,)}}`` (``helpers.models.losses.block_statistics``).
    """
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(
        1, 2, figsize=(12, 4.2), constrained_layout=True, gridspec_kw={"width_ratios": [1, 1.4]}
    )
    im = left.imshow(mu, cmap="viridis", vmin=0, vmax=1)
    left.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    left.set_yticks(range(len(names)), names, fontsize=8)
    left.set(
        xlabel="fine class share in the block",
        ylabel="coarse label of the block",
        title="mu: expected fine share per coarse label",
    )
    fig.colorbar(im, ax=left, shrink=0.8)
    x = np.arange(len(names))
    right.bar(
        x,
        mu[coarse_class],
        yerr=np.sqrt(sigma2[coarse_class]),
        color="0.8",
        capsize=3,
        label="mu +- sigma (training statistics)",
    )
    width = 0.8 / max(len(blocks), 1)
    for i, (method, st) in enumerate(blocks.items()):
        eta = np.asarray(st["eta"])[np.asarray(st["label"]) == coarse_class]
        if len(eta):
            pos = x - 0.4 + width * (i + 0.5)
            right.scatter(
                np.repeat(pos, len(eta)),
                eta.T.ravel(),
                s=6,
                alpha=0.35,
                label=f"{method}: eta per block",
            )
    right.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    right.set(
        ylim=(-0.02, 1.02),
        ylabel="share of the block",
        title=f"blocks with coarse label {names[coarse_class]!r}",
    )
    right.legend(fontsize=7, loc="upper right")
    return fig


# ---- night lights (notebooks 07-09) ----

# notebook 07


def _lights(ax: Any, image: np.ndarray, title: str, cmap: str = "magma", log: bool = False) -> Any:
    """One lights image with a colour bar (``log``: log1p scale, so dim lights stay visible)."""
    arr = np.asarray(image, dtype=np.float32).squeeze()
    im = ax.imshow(np.log1p(np.maximum(arr, 0)) if log else arr, cmap=cmap, interpolation="nearest")
    ax.set_title(title)
    ax.set_axis_off()
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.02, label="log(1 + x)" if log else None)
    return im


def plot_ntl_modalities(
    low_res: np.ndarray,
    high_res: np.ndarray,
    dmo: np.ndarray,
    dem: np.ndarray,
    isp: np.ndarray,
    suptitle: str = "",
) -> Any:
    """The five NTL modalities side by side: LR lights (DN), HR lights (radiance, log scale),
    Landsat DMO true colour (B4, B3, B2), DEM and impervious surface."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 5, figsize=(19, 4), constrained_layout=True)
    _lights(axes[0], low_res, "LR lights (DN 0..63)")
    _lights(axes[1], high_res, "HR lights (radiance)", log=True)
    axes[2].imshow(rgb(dmo, (3, 2, 1)))
    axes[2].set_title("DMO (Landsat B4 B3 B2)")
    axes[2].set_axis_off()
    _lights(axes[3], dem, "DEM (m)", cmap="terrain")
    _lights(axes[4], isp, "ISP (impervious 0/1)", cmap="gray")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_saturation(dn: np.ndarray, level: int = 63, title: str = "") -> Any:
    """Histogram of DN (log counts) showing the pile-up at the saturation level, and the
    saturated area on the map."""
    import matplotlib.pyplot as plt

    arr = np.asarray(dn).squeeze()
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    ax0.hist(arr.ravel(), bins=np.arange(0, level + 2) - 0.5, color="0.4")
    ax0.bar(
        [level], [(arr >= level).sum()], width=1, color="crimson", label=f"saturated (DN {level})"
    )
    ax0.set_yscale("log")
    ax0.set_xlabel("DN")
    ax0.set_ylabel("pixels")
    ax0.legend()
    ax0.set_title(title or "6-bit DN histogram")
    ax1.imshow(arr, cmap="gray", interpolation="nearest")
    sat = np.ma.masked_where(arr < level, np.ones_like(arr, dtype=float))
    ax1.imshow(sat, cmap="autumn", alpha=0.9, interpolation="nearest")
    ax1.set_title(f"saturated pixels (red): {(arr >= level).mean():.1%} of the area")
    ax1.set_axis_off()
    return fig


def plot_profile(
    profiles: dict[str, np.ndarray],
    dn_profiles: dict[str, np.ndarray] | None = None,
    title: str = "",
    xlabel: str = "HR pixel along the line",
) -> Any:
    """Radiance profiles (left axis) and DN profiles (right axis) along one line across a town,
    all on the HR pixel axis: shows blooming (wider), aggregation (steps) and the 63 ceiling."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4), constrained_layout=True)
    for name, prof in profiles.items():
        ax.plot(np.asarray(prof), label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("radiance (nW/cm2/sr)")
    handles, names = ax.get_legend_handles_labels()
    if dn_profiles:
        ax2 = ax.twinx()
        for name, prof in dn_profiles.items():
            ax2.step(
                np.arange(len(prof)), np.asarray(prof), where="mid", color="k", ls="--", label=name
            )
        ax2.axhline(63, color="crimson", lw=0.8, ls=":")
        ax2.set_ylabel("DN")
        h2, n2 = ax2.get_legend_handles_labels()
        handles, names = handles + h2, names + n2
    ax.legend(handles, names, loc="upper right")
    ax.set_title(title or "profile across a town")
    return fig


def plot_calibration(fine_aggregated: np.ndarray, dn: np.ndarray, fit: Any, title: str = "") -> Any:
    """Scatter of coarse DN against the fine lights aggregated to the coarse grid, with the
    fitted ``DN = offset + gain * L**power`` curve; saturated pixels (left out of the fit) in red."""
    import matplotlib.pyplot as plt

    x = np.asarray(fine_aggregated, dtype=float).ravel()
    y = np.asarray(dn, dtype=float).ravel()
    sat = y >= fit.saturation
    fig, ax = plt.subplots(figsize=(6, 4.5), constrained_layout=True)
    ax.scatter(x[~sat], y[~sat], s=6, alpha=0.5, label="unsaturated (fitted)")
    ax.scatter(x[sat], y[sat], s=6, alpha=0.5, color="crimson", label="saturated (left out)")
    grid = np.linspace(0, max(x.max(), 1e-6), 200)
    ax.plot(
        grid,
        np.clip(fit.to_dn(grid), 0, fit.saturation),
        "k-",
        label=f"DN = {fit.offset:.2f} + {fit.gain:.3f} L^{fit.power:.2f}  (R2 {fit.r2:.3f})",
    )
    ax.set_xlabel("fine radiance aggregated to the coarse grid")
    ax.set_ylabel("coarse DN")
    ax.legend(fontsize=8)
    ax.set_title(title or "inter-calibration")
    return fig


def plot_images(
    images: dict[str, np.ndarray],
    log: bool = True,
    cmap: str = "magma",
    ncols: int | None = None,
    suptitle: str = "",
) -> Any:
    """A row (or grid) of lights images with the same colour scale, e.g. resampling methods."""
    import matplotlib.pyplot as plt

    n = len(images)
    ncols = ncols or n
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4 * ncols, 3.8 * nrows), constrained_layout=True, squeeze=False
    )
    arrays = {k: np.asarray(v, dtype=np.float32).squeeze() for k, v in images.items()}
    shown = {k: np.log1p(np.maximum(v, 0)) if log else v for k, v in arrays.items()}
    vmax = max(float(np.nanpercentile(v, 99.5)) for v in shown.values()) or 1.0
    for ax, (name, arr) in zip(axes.ravel(), shown.items()):
        im = ax.imshow(arr, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_title(name)
        ax.set_axis_off()
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    fig.colorbar(im, ax=axes, fraction=0.02, label="log(1 + radiance)" if log else None)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_displacement(
    background: np.ndarray,
    field: dict[str, np.ndarray],
    true_shift: tuple[float, float] | None = None,
    title: str = "",
    scale: float = 1.0,
    true_field: dict[str, np.ndarray] | None = None,
) -> Any:
    """Block-wise displacement arrows (LR px, exaggerated by ``scale``) over the LR lights; the
    true global shift (red, at the centre) and true block shifts (orange), when known."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6), constrained_layout=True)
    ax.imshow(np.asarray(background).squeeze(), cmap="gray", interpolation="nearest")
    cc, rr = np.meshgrid(field["cols"], field["rows"])
    ax.quiver(
        cc,
        rr,
        field["dx"] * scale,
        field["dy"] * scale,
        color="cyan",
        angles="xy",
        scale_units="xy",
        scale=1,
        label="estimated (blocks)",
    )
    if true_field is not None:
        tc, tr = np.meshgrid(true_field["cols"], true_field["rows"])
        ax.quiver(
            tc,
            tr,
            true_field["dx"] * scale,
            true_field["dy"] * scale,
            color="orange",
            angles="xy",
            scale_units="xy",
            scale=1,
            alpha=0.8,
            width=0.004,
            label="true (blocks)",
        )
    if true_shift is not None:
        h, w = np.asarray(background).squeeze().shape
        ax.quiver(
            [w / 2],
            [h / 2],
            [true_shift[1] * scale],
            [true_shift[0] * scale],
            color="red",
            angles="xy",
            scale_units="xy",
            scale=1,
            label="true global shift",
        )
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title or f"local displacement (arrows x{scale:g}, LR px)")
    ax.set_axis_off()
    return fig


# notebooks 08-09


def plot_sr_results(
    images: dict[str, np.ndarray], truth: np.ndarray, title: str = "", vmax: float | None = None
) -> Any:
    """Top row: each super-resolved image and the truth (radiance, log scale, shared colours);
    bottom row: absolute error maps |prediction - truth| with one shared scale."""
    import matplotlib.pyplot as plt

    names = list(images)
    t = np.asarray(truth, dtype=np.float32).squeeze()
    top = np.log1p(vmax if vmax is not None else float(np.percentile(t, 99.9)))
    errors = {k: np.abs(np.asarray(v, dtype=np.float32).squeeze() - t) for k, v in images.items()}
    emax = max(float(np.percentile(e, 99.5)) for e in errors.values()) or 1.0
    n = len(names) + 1
    fig, axes = plt.subplots(2, n, figsize=(3.6 * n, 7.2), constrained_layout=True, squeeze=False)
    for i, name in enumerate([*names, "truth"]):
        img = t if name == "truth" else np.asarray(images[name]).squeeze()
        im = axes[0, i].imshow(
            np.log1p(np.maximum(img, 0)), cmap="magma", vmin=0, vmax=top, interpolation="nearest"
        )
        axes[0, i].set_title(name)
        axes[0, i].set_axis_off()
        axes[1, i].set_axis_off()
        if name != "truth":
            err = axes[1, i].imshow(
                errors[name], cmap="inferno", vmin=0, vmax=emax, interpolation="nearest"
            )
            axes[1, i].set_title(f"|error|, MAE {errors[name].mean():.2f}")
    fig.colorbar(im, ax=axes[0, -1], fraction=0.046, label="log(1 + radiance)")
    fig.colorbar(err, ax=axes[1, :-1].tolist(), fraction=0.02, label="abs. error (nW/cm2/sr)")
    if title:
        fig.suptitle(title)
    return fig


def plot_ablation(
    names: list[str],
    ours: list[float],
    published: list[float | None] | None = None,
    metric: str = "PSNR (dB)",
    ours_label: str = "ours (sample scene)",
    published_label: str = "PANDA-FINE (published)",
) -> Any:
    """Bars of one metric per ablation row, ours beside the published value where there is one."""
    import matplotlib.pyplot as plt

    x = np.arange(len(names))
    width = 0.4 if published is not None else 0.7
    fig, ax = plt.subplots(figsize=(max(7, 1.3 * len(names)), 4), constrained_layout=True)
    ax.bar(
        x - (width / 2 if published is not None else 0),
        ours,
        width,
        label=ours_label,
        color="tab:blue",
    )
    if published is not None:
        vals = [np.nan if v is None else v for v in published]
        ax.bar(x + width / 2, vals, width, label=published_label, color="tab:gray")
    ax.set_xticks(x, names, rotation=25, ha="right")
    ax.set_ylabel(metric)
    ax.legend()
    return fig


def long_run_figure(history: dict[str, Any], stopped_at: int, student: Any = None) -> Any:
    """A long run's training loss (a GAN's: G's L1 term, the history's ``train_loss_key``) and
    validation metric per optimisation step (``helpers.records.long_runs``) with the student's run
    drawn on top: where the short run stopped."""
    import matplotlib.pyplot as plt

    from ..records import long_runs

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), constrained_layout=True)
    done, planned = history["steps_done"], history.get("planned_steps", history["steps_done"])
    long_label = (
        f"long run ({done:,} steps)" if done >= planned else f"long run ({done:,} of {planned:,})"
    )
    left.plot(history["steps"], history["train_loss"], color="0.45", label=long_label)
    loss_key = history.get("train_loss_key", "train_loss")  # a GAN's: G's L1 term (g_l1)
    if student is not None and getattr(student, loss_key, None):
        steps = [e * history["steps_per_epoch"] for e in student.epoch]
        left.plot(steps, getattr(student, loss_key), color="C1", label="your run")
    steps, values = long_runs.curve(history)
    right.plot(steps, values, ".", color="0.6", label=f"{long_label}, measured")
    steps, values = long_runs.curve(history, long_runs.SMOOTH)  # what the sentence reads
    right.plot(steps, values, color="0.3", label=f"mean of {long_runs.SMOOTH} measurements")
    flat = long_runs.flat_from(
        steps, values, history["higher_is_better"], history["flat_tolerance"]
    )
    if np.isfinite(flat):
        tol = f"first within {history['flat_tolerance']:g} of its best"
        right.axvline(flat, color="C2", ls=":", label=tol)
    for ax in (left, right):
        ax.axvline(stopped_at, color="C1", ls="--", label="your run stopped here")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))  # 1,000
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    loss_label = history.get("train_loss_label", "training loss")
    left.set(xlabel="optimisation step", ylabel=loss_label, title=loss_label)
    right.set(xlabel="optimisation step", ylabel=history["metric_label"])
    title = f"{history['model']}: {history['validation']}"
    right.set_title(textwrap.fill(title, 80), fontsize=8)  # the notes of notebooks 04/05 are long
    return fig

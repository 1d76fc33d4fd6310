"""Night-light (NTL) data preparation: step 1 of PANDA-FINE (source document, docs/sources.md) on numpy arrays.

The PANDA-FINE slides list the preprocessing chain as *inter-calibration, denoising, spatially
weighted average, resampling* before the frames are split into training/validation/test sets,
and contrast DMSP-like PANDA lights (about 1 km, 6-bit DN 0..63, saturated in city cores) with
Luojia-01 (about 120-130 m). The slides do not give formulas for any step; the choices below are
ours, stated in each docstring:

- :func:`simulate_dmsp`: fine radiance -> DMSP-like DN (blooming PSF, x``ratio`` area
  aggregation, ``DN = offset + gain * L**power``, 6-bit quantisation saturating at 63).
- :func:`intercalibrate`: fits that same sensor model on unsaturated pixels (Elvidge-style
  inter-calibration fits a low-order curve between a sensor and a reference on stable,
  unsaturated pixels; we fit the power law of the model above) and inverts it.
- :func:`denoise`: background threshold + removal of isolated lit pixels, optional smoothing.
- :func:`spatially_weighted_average`: Gaussian normalised convolution, optionally weighted per
  pixel (e.g. by impervious fraction) and NaN-aware, so gaps are filled from their neighbours.
- :func:`resample`: LR -> HR grid (nearest / bilinear / bicubic) with an option that keeps the
  total light of every LR pixel; :func:`aggregate` goes the other way.
- :func:`estimate_misregistration`: phase correlation of the LR lights against the HR lights
  aggregated to the LR grid, refined to sub-pixel by an upsampled DFT (Guizar-Sicairos et al.,
  2008), plus a block-wise local displacement field.

Arrays are ``(h, w)`` float radiance (nW/cm2/sr) or uint8 DN. Bad input (NaN, wrong shapes, a
ratio that does not divide the shape) raises ``ValueError`` saying what to fix.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..core.bands import DN_MAX
from . import real_lights

METHOD_ORDER = {"nearest": 0, "bilinear": 1, "bicubic": 3}


# ---- input checks ----


def _as_2d(image: Any, name: str, allow_nan: bool = False) -> np.ndarray:
    """A float64 (h, w) copy of ``image``; a leading band axis of 1 is dropped."""
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D image (h, w) or (1, h, w), got shape {arr.shape}."
        )
    arr = arr.astype(np.float64)
    if not allow_nan and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(
            f"{name}: holds {bad} NaN/inf pixel(s). Mask nodata first (e.g. fill with "
            "spatially_weighted_average(image) which ignores NaN, or np.nan_to_num)."
        )
    return arr


def _check_ratio(shape: tuple[int, ...], ratio: int, name: str) -> int:
    ratio = int(ratio)
    if ratio < 1:
        raise ValueError(f"ratio must be a positive integer, got {ratio}.")
    if shape[-2] % ratio or shape[-1] % ratio:
        raise ValueError(
            f"{name}: shape {tuple(shape[-2:])} is not divisible by ratio {ratio}. Crop it to a "
            f"multiple of {ratio} (e.g. image[:h - h % {ratio}, :w - w % {ratio}])."
        )
    return ratio


def _check_pair(low_res: np.ndarray, high_res: np.ndarray, ratio: int) -> None:
    if (low_res.shape[0] * ratio, low_res.shape[1] * ratio) != high_res.shape:
        raise ValueError(
            f"shape mismatch: low_res {low_res.shape} x ratio {ratio} != high_res {high_res.shape}. "
            "Both must cover the same bounds (see helpers.io.rasters.check_same_bounds)."
        )


# ---- degradation (teaching: how DMSP-like lights come about) ----


def aggregate(image: np.ndarray, ratio: int, how: str = "mean") -> np.ndarray:
    """Block mean (or sum) over ``ratio x ratio`` pixels: the area aggregation of a coarse sensor."""
    arr = _as_2d(image, "image", allow_nan=True)
    ratio = _check_ratio(arr.shape, ratio, "image")
    h, w = arr.shape
    blocks = arr.reshape(h // ratio, ratio, w // ratio, ratio)
    if how == "mean":
        return blocks.mean(axis=(1, 3))
    if how == "sum":
        return blocks.sum(axis=(1, 3))
    raise ValueError(f"how must be 'mean' or 'sum', got {how!r}.")


def bloom(
    radiance: np.ndarray,
    psf_sigma: float | Sequence[float],
    psf_weights: Sequence[float] | None = None,
) -> np.ndarray:
    """Gaussian point-spread function (sigma in pixels; several sigmas with ``psf_weights`` make a
    core + wide halo): the 'blooming' that spreads city light over dark surroundings."""
    from scipy.ndimage import gaussian_filter

    arr = _as_2d(radiance, "radiance")
    sigmas = [float(psf_sigma)] if np.isscalar(psf_sigma) else [float(x) for x in psf_sigma]
    weights = (
        [1.0 / len(sigmas)] * len(sigmas)
        if psf_weights is None
        else [float(x) for x in psf_weights]
    )
    if len(weights) != len(sigmas):
        raise ValueError(f"psf_weights ({len(weights)}) must match psf_sigma ({len(sigmas)}).")
    if all(sg <= 0 for sg in sigmas):
        return arr
    return sum(
        w * (gaussian_filter(arr, sg, mode="nearest") if sg > 0 else arr)
        for w, sg in zip(weights, sigmas)
    )


NEGATIVE_TOLERANCE = (
    2.0  # nW/cm2/sr: VIIRS background noise is a fraction of this; more is not noise
)


def clip_background_noise(
    radiance: np.ndarray, tolerance: float = NEGATIVE_TOLERANCE
) -> np.ndarray:
    """Clip small negative radiance (VIIRS background noise) to 0, warning how much was clipped;
    refuse values below ``-tolerance`` (not noise: wrong units, a nodata fill or a difference image)."""
    arr = np.asarray(radiance, dtype=np.float64)
    low = float(arr.min()) if arr.size else 0.0
    if low < -tolerance:
        raise ValueError(
            f"radiance: values down to {low:.3g}, below -{tolerance} nW/cm2/sr, are not VIIRS "
            "background noise. Check the units and mask nodata (e.g. -999 fills) before simulating, "
            "or raise negative_tolerance if your product really is that noisy."
        )
    neg = arr < 0
    if neg.any():
        warnings.warn(
            f"radiance: {int(neg.sum())} pixel(s) ({neg.mean():.1%}) slightly negative (min {low:.3g}, "
            "VIIRS background noise) clipped to 0: a DMSP-like sensor sees no negative light.",
            stacklevel=3,
        )
        arr = np.where(neg, 0.0, arr)
    return arr


def simulate_dmsp(
    radiance: np.ndarray,
    ratio: int = 8,
    psf_sigma: float | Sequence[float] = 8.0,
    psf_weights: Sequence[float] | None = None,
    gain: float = 1.0,
    offset: float = 0.0,
    power: float = 1.0,
    saturation: int = DN_MAX,
    noise_dn: float = 0.0,
    seed: int = 0,
    negative_tolerance: float = NEGATIVE_TOLERANCE,
    nodata: str = "raise",
) -> np.ndarray:
    """Fine radiance -> DMSP-like uint8 DN: blur (PSF, HR px), aggregate by ``ratio``,
    ``DN = offset + gain * L**power`` (+ Gaussian noise), round, clip to ``0..saturation``.

    Real VIIRS monthly composites keep background noise, so dark pixels are slightly negative.
    That noise is VIIRS's, not light a DMSP sensor would see: values down to ``-negative_tolerance``
    are clipped to 0 first (with a warning saying how many); anything more negative is refused.
    Nodata (NaN/inf, masked pixels): refused, or unlit (0) with ``nodata="dark"`` (real_lights).

    The kit's one DMSP-like degradation chain (:func:`bloom`, then :func:`aggregate`, then the
    sensor model). The sample scene's ``synthetic.simulate_low_res`` runs the first two steps of
    this chain (two-Gaussian bloom, block mean: :func:`aggregate` and ``synthetic.block_mean`` are
    the same block mean) with a misregistration warp between them and no sensor model; its
    generator adds gain, offset and noise itself. ``tests/test_ntl_prep.py`` checks both agree
    without the warp."""
    arr = _as_2d(real_lights.nodata_as_dark(radiance, nodata), "radiance")
    arr = clip_background_noise(arr, negative_tolerance)
    coarse = aggregate(bloom(arr, psf_sigma, psf_weights), ratio)
    dn = offset + gain * coarse**power
    if noise_dn > 0:
        dn = dn + np.random.default_rng(seed).normal(0.0, noise_dn, dn.shape)
    return np.clip(np.rint(dn), 0, saturation).astype(np.uint8)


def saturation_mask(dn: np.ndarray, level: int = DN_MAX, dilate: int = 0) -> np.ndarray:
    """Boolean mask of saturated pixels (``DN >= level``), optionally grown by ``dilate`` px."""
    arr = _as_2d(dn, "dn")
    mask = arr >= level
    if dilate > 0:
        from scipy.ndimage import binary_dilation

        mask = binary_dilation(mask, iterations=int(dilate))
    return mask


def quantise(values: np.ndarray, bits: int = 6) -> np.ndarray:
    """Round and clip to an unsigned ``bits``-bit integer range (6 bits: 0..63), as stored DN."""
    top = 2**bits - 1
    return np.clip(np.rint(_as_2d(values, "values")), 0, top).astype(
        np.uint8 if bits <= 8 else np.uint16
    )


# ---- inter-calibration ----


@dataclass
class Calibration:
    """The fitted sensor model ``DN = offset + gain * L**power`` (L: aggregated fine radiance)."""

    gain: float
    offset: float
    power: float
    r2: float  # of the DN fit on the pixels used
    rmse_dn: float
    n_pixels: int
    saturation: int = DN_MAX
    model: str = "DN = offset + gain * L**power, fitted on unsaturated pixels (0 < DN < saturation)"
    extra: dict[str, float] = field(default_factory=dict)

    def to_dn(self, radiance: np.ndarray) -> np.ndarray:
        """Forward model: radiance -> expected (unrounded, unclipped) DN."""
        return (
            self.offset
            + self.gain * np.maximum(np.asarray(radiance, dtype=np.float64), 0) ** self.power
        )

    def to_radiance(self, dn: np.ndarray) -> np.ndarray:
        """Inverse model: DN -> radiance; DN <= offset gives 0; saturated DN give a lower bound."""
        x = (np.asarray(dn, dtype=np.float64) - self.offset) / self.gain
        return np.maximum(x, 0) ** (1.0 / self.power)

    @property
    def saturation_radiance(self) -> float:
        """Radiance at which the sensor saturates: saturated pixels are at least this bright."""
        return float(self.to_radiance(np.array(self.saturation)))

    def as_dict(self) -> dict[str, Any]:
        """Plain-number dict (for results records)."""
        return asdict(self)


def intercalibrate(
    coarse_dn: np.ndarray,
    fine_radiance_aggregated: np.ndarray,
    saturation: int = DN_MAX,
    fit_power: bool = True,
    min_dn: int = 1,
) -> tuple[Calibration, np.ndarray]:
    """Fit ``DN = offset + gain * L**power`` on unsaturated pixels and return it with the coarse
    lights converted to radiance (the inverse model), so coarse and fine lights share units.

    Pixels with ``DN >= saturation`` (clipped at the top) or ``DN < min_dn`` (clipped at zero) are
    left out of the fit, as Elvidge-style inter-calibration uses only unsaturated pixels. The fit
    is non-linear least squares (``scipy.optimize.least_squares``) started from a linear fit;
    ``fit_power=False`` fixes ``power = 1``.
    """
    from scipy.optimize import least_squares

    dn = _as_2d(coarse_dn, "coarse_dn")
    ref = _as_2d(fine_radiance_aggregated, "fine_radiance_aggregated")
    if dn.shape != ref.shape:
        raise ValueError(
            f"shape mismatch: coarse_dn {dn.shape} vs fine_radiance_aggregated {ref.shape}; "
            "aggregate the fine lights to the coarse grid first (helpers.data.ntl.aggregate)."
        )
    use = (dn >= min_dn) & (dn < saturation) & (ref > 0)
    if use.sum() < 3:
        raise ValueError(
            f"only {int(use.sum())} unsaturated lit pixel(s) to fit; need at least 3 "
            "(a larger area, or a scene with dim lights as well as saturated cores)."
        )
    x, y = ref[use], dn[use]
    slope, intercept = np.polyfit(x, y, 1)
    start = [max(slope, 1e-6), intercept, 1.0]

    def residual(p: np.ndarray) -> np.ndarray:
        gain, offset, power = p if fit_power else (p[0], p[1], 1.0)
        return offset + gain * x**power - y

    p0 = start if fit_power else start[:2]
    lower = [1e-12, -np.inf, 0.05] if fit_power else [1e-12, -np.inf]
    upper = [np.inf, np.inf, 5.0] if fit_power else [np.inf, np.inf]
    sol = least_squares(residual, p0, bounds=(lower, upper), x_scale="jac")
    gain, offset = float(sol.x[0]), float(sol.x[1])
    power = float(sol.x[2]) if fit_power else 1.0
    res = residual(sol.x)
    r2 = 1.0 - float((res**2).sum() / max(((y - y.mean()) ** 2).sum(), 1e-12))
    fit = Calibration(
        gain, offset, power, r2, float(np.sqrt((res**2).mean())), int(use.sum()), saturation
    )
    return fit, fit.to_radiance(dn)


# ---- denoising and spatially weighted average ----


def denoise(
    radiance: np.ndarray,
    threshold: float | None = None,
    min_neighbours: int = 2,
    smooth: str | None = None,
    size: int = 3,
) -> np.ndarray:
    """Remove background noise and isolated lit pixels while keeping towns.

    1. background: values ``<= threshold`` become 0 (default: median + 3 x 1.4826 MAD of the
       image, i.e. the noise floor of the mostly dark background);
    2. isolated pixels: a lit pixel with fewer than ``min_neighbours`` lit pixels among its 8
       neighbours (a spike, a fire, a ship, a hot detector) is set to 0; a town has lit neighbours;
    3. optional ``smooth``: ``"median"`` or ``"gaussian"`` filter of ``size`` px on what remains.
    """
    from scipy.ndimage import convolve, gaussian_filter, median_filter

    arr = _as_2d(radiance, "radiance")
    if threshold is None:
        med = float(np.median(arr))
        threshold = med + 3 * 1.4826 * float(np.median(np.abs(arr - med)))
    out = np.where(arr > threshold, arr, 0.0)
    lit = (out > 0).astype(np.float64)
    kernel = np.ones((3, 3))
    kernel[1, 1] = 0
    neighbours = convolve(lit, kernel, mode="constant", cval=0.0)
    out[(lit > 0) & (neighbours < min_neighbours)] = 0.0
    if smooth == "median":
        out = median_filter(out, size=size, mode="nearest")
    elif smooth == "gaussian":
        out = gaussian_filter(out, size / 3.0, mode="nearest")
    elif smooth is not None:
        raise ValueError(f"smooth must be None, 'median' or 'gaussian', got {smooth!r}.")
    return out


def spatially_weighted_average(
    image: np.ndarray, sigma: float = 1.0, weights: np.ndarray | None = None
) -> np.ndarray:
    """Gaussian-weighted average of each pixel's neighbourhood (normalised convolution).

    ``out = G*(w x) / G*(w)`` with ``G`` a Gaussian of ``sigma`` px and ``w`` per-pixel weights
    (default 1; NaN pixels get weight 0, so gaps are filled from their neighbours). Weights such
    as the impervious fraction keep light on built-up pixels instead of smearing it onto fields.
    We use a Gaussian because a sensor's footprint is close to one; the slides do not specify.
    """
    from scipy.ndimage import gaussian_filter

    arr = _as_2d(image, "image", allow_nan=True)
    w = np.ones_like(arr) if weights is None else _as_2d(weights, "weights").copy()
    if w.shape != arr.shape:
        raise ValueError(f"shape mismatch: image {arr.shape} vs weights {w.shape}.")
    if (w < 0).any():
        raise ValueError("weights: negative values; weights must be >= 0.")
    valid = np.isfinite(arr)
    if not valid.any():
        raise ValueError("image: every pixel is NaN; nothing to average.")
    w[~valid] = 0.0
    num = gaussian_filter(np.where(valid, arr, 0.0) * w, sigma, mode="nearest")
    den = gaussian_filter(w, sigma, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    return np.where(den > 1e-12, out, 0.0)


def weighted_mosaic(frames: list[np.ndarray], feather: float = 8.0) -> np.ndarray:
    """Merge overlapping frames (NaN outside each) by a weighted average that favours frame
    centres: weight = distance to the frame's edge, capped at ``feather`` px (no visible seams)."""
    from scipy.ndimage import distance_transform_edt

    if not frames:
        raise ValueError("frames: empty list.")
    stack = [_as_2d(f, f"frames[{i}]", allow_nan=True) for i, f in enumerate(frames)]
    shapes = {f.shape for f in stack}
    if len(shapes) != 1:
        raise ValueError(f"frames: shapes differ {sorted(shapes)}; put them on one grid first.")
    num = np.zeros_like(stack[0])
    den = np.zeros_like(stack[0])
    for f in stack:
        valid = np.isfinite(f)
        w = np.minimum(distance_transform_edt(np.pad(valid, 1))[1:-1, 1:-1], feather)
        num += np.where(valid, f, 0.0) * w
        den += w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


# ---- resampling ----


def resample(
    low_res: np.ndarray, ratio: int, method: str = "bilinear", preserve_total: bool = False
) -> np.ndarray:
    """Upsample ``low_res`` by ``ratio`` onto the HR grid (pixel areas aligned).

    ``method``: ``nearest`` / ``bilinear`` / ``bicubic`` (spline orders 0/1/3, ``grid_mode=True``
    so that the outer pixel edges coincide). ``preserve_total=True`` rescales each block of
    ``ratio x ratio`` HR pixels so that its mean equals the LR pixel: total light is conserved
    (radiance is per area, so the block *mean* is what must match); negatives are clipped first.
    """
    from scipy.ndimage import zoom

    arr = _as_2d(low_res, "low_res")
    if method not in METHOD_ORDER:
        raise ValueError(f"method must be one of {sorted(METHOD_ORDER)}, got {method!r}.")
    ratio = int(ratio)
    if ratio < 1:
        raise ValueError(f"ratio must be a positive integer, got {ratio}.")
    out = zoom(arr, ratio, order=METHOD_ORDER[method], mode="nearest", grid_mode=True)
    out = out[: arr.shape[0] * ratio, : arr.shape[1] * ratio]
    if preserve_total:
        out = np.maximum(out, 0.0)
        block = aggregate(out, ratio)
        scale = np.divide(arr, block, out=np.zeros_like(arr), where=block > 1e-12)
        flat = (block <= 1e-12) & (arr > 0)  # nothing to rescale: spread the light evenly
        out = out * np.kron(scale, np.ones((ratio, ratio)))
        out += np.kron(np.where(flat, arr, 0.0), np.ones((ratio, ratio)))
    return out


def resample_raster(source: Any, like: Any, method: str = "bilinear") -> np.ndarray:
    """Reproject a :class:`helpers.io.rasters.Raster` onto the grid of another (``rasterio.warp``);
    returns ``(bands, h, w)`` float32 on ``like``'s grid. ``method``: nearest/bilinear/bicubic/average."""
    from rasterio.warp import Resampling, reproject

    methods = {
        "nearest": Resampling.nearest,
        "bilinear": Resampling.bilinear,
        "bicubic": Resampling.cubic,
        "average": Resampling.average,
    }
    if method not in methods:
        raise ValueError(f"method must be one of {sorted(methods)}, got {method!r}.")
    src = np.asarray(source.data, dtype=np.float32)
    src = src if src.ndim == 3 else src[None]
    h, w = like.shape
    out = np.zeros((src.shape[0], h, w), dtype=np.float32)
    reproject(
        src,
        out,
        src_transform=source.transform,
        src_crs=source.crs,
        dst_transform=like.transform,
        dst_crs=like.crs,
        resampling=methods[method],
    )
    return out


# ---- misregistration ----


def _upsampled_dft(
    data: np.ndarray, region: int, factor: int, offsets: tuple[float, float]
) -> np.ndarray:
    """Inverse DFT of ``data`` on a ``region x region`` patch of a grid ``factor`` times finer,
    starting at ``offsets`` (Guizar-Sicairos et al. 2008, as in scikit-image)."""
    rows, cols = data.shape
    col_kernel = np.exp(
        (-1j * 2 * np.pi / (cols * factor))
        * (np.fft.ifftshift(np.arange(cols))[:, None] - np.floor(cols / 2))
        * (np.arange(region)[None, :] - offsets[1])
    )
    row_kernel = np.exp(
        (-1j * 2 * np.pi / (rows * factor))
        * (np.arange(region)[:, None] - offsets[0])
        * (np.fft.ifftshift(np.arange(rows))[None, :] - np.floor(rows / 2))
    )
    return row_kernel @ data @ col_kernel


def phase_correlation(
    moving: np.ndarray, reference: np.ndarray, upsample: int = 50, window: bool = True
) -> tuple[float, float]:
    """Sub-pixel translation ``(dy, dx)`` with ``moving(y, x) ~ reference(y - dy, x - dx)``:
    phase correlation (normalised cross-power spectrum) refined by an upsampled DFT."""
    mov = _as_2d(moving, "moving")
    ref = _as_2d(reference, "reference")
    if mov.shape != ref.shape:
        raise ValueError(f"shape mismatch: moving {mov.shape} vs reference {ref.shape}.")
    if min(mov.shape) < 4:
        raise ValueError(f"images of {mov.shape} px are too small to correlate (need >= 4 x 4).")
    mov = mov - mov.mean()
    ref = ref - ref.mean()
    if window:
        win = np.outer(np.hanning(mov.shape[0]), np.hanning(mov.shape[1]))
        mov, ref = mov * win, ref * win
    cross = np.fft.fft2(mov) * np.conj(np.fft.fft2(ref))
    cross /= np.maximum(np.abs(cross), 1e-12 * np.abs(cross).max() + 1e-30)
    corr = np.fft.ifft2(cross)
    peak = np.array(np.unravel_index(np.argmax(np.abs(corr)), corr.shape), dtype=np.float64)
    size = np.array(corr.shape)
    peak[peak > size // 2] -= size[peak > size // 2]
    if upsample > 1:
        region = int(np.ceil(upsample * 1.5))
        centre = np.fix(region / 2.0)
        offsets = tuple(centre - np.round(peak * upsample))
        fine = _upsampled_dft(np.conj(cross), region, upsample, offsets).conj()
        best = np.array(np.unravel_index(np.argmax(np.abs(fine)), fine.shape), dtype=np.float64)
        peak = np.round(peak * upsample) / upsample + (best - centre) / upsample
    return float(peak[0]), float(peak[1])


@dataclass
class Misregistration:
    """Estimated shift of the LR lights against the HR reference, in LR and HR pixels."""

    dy: float  # LR px, + means the LR content sits further down than in the reference
    dx: float  # LR px, + means further right
    ratio: int
    field: dict[str, np.ndarray] | None = None  # block centres and local (dy, dx) in LR px

    @property
    def shift_high_res(self) -> tuple[float, float]:
        """The shift in HR pixels."""
        return self.dy * self.ratio, self.dx * self.ratio


def estimate_misregistration(
    low_res: np.ndarray,
    high_res_reference: np.ndarray,
    ratio: int,
    psf_sigma: float | Sequence[float] = 0.0,
    psf_weights: Sequence[float] | None = None,
    saturation: int | None = None,
    refine: bool = True,
    block: int | None = None,
    step: int | None = None,
) -> Misregistration:
    """Shift of the LR lights against the HR lights (in LR px, sub-pixel), and optionally a
    local displacement field from the same estimate in ``block x block`` LR windows every ``step``.

    1. coarse: phase correlation (Hann window, integer peak) of the LR lights against the HR
       reference blurred by ``psf_sigma`` (HR px; see :func:`bloom`) and aggregated to the LR grid;
    2. ``refine``: the sub-pixel shift minimising ``|| low - (a * A(S_d(high)) + b) ||^2`` where
       ``S_d`` shifts the HR reference by ``ratio * d`` HR px, ``A`` blurs and aggregates it, and
       ``a, b`` absorb gain and offset (Nelder-Mead from the coarse estimate). Pixels at or above
       ``saturation`` (pass 63 for DMSP DN) and a 1 px LR border are left out of the cost.

    Working on the HR grid models how coarse pixels integrate the shifted scene, which is why
    it beats interpolating the aggregated image: lights are sharp and alias at the LR grid.
    """
    low = _as_2d(low_res, "low_res")
    high = _as_2d(high_res_reference, "high_res_reference")
    ratio = _check_ratio(high.shape, ratio, "high_res_reference")
    _check_pair(low, high, ratio)
    valid = np.ones(low.shape, bool) if saturation is None else low < saturation
    dy, dx = _register(low, high, ratio, (psf_sigma, psf_weights), valid, refine)
    result = Misregistration(dy, dx, ratio)
    if block:
        result.field = displacement_field(
            low,
            high,
            ratio,
            block,
            step or max(block // 2, 1),
            (psf_sigma, psf_weights),
            valid,
            start=(dy, dx),
        )
    return result


def _register(
    low: np.ndarray,
    high: np.ndarray,
    ratio: int,
    psf: tuple[Any, Any],
    valid: np.ndarray,
    refine: bool = True,
    start: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """Coarse phase correlation (or ``start``), then the HR-grid least-squares refinement."""
    from scipy.ndimage import shift
    from scipy.optimize import minimize

    blurred = bloom(high, *psf)
    if start is None:
        d0 = np.array(phase_correlation(low, aggregate(blurred, ratio), upsample=1, window=True))
    else:
        d0 = np.asarray(start, dtype=np.float64)
    if not refine:
        return float(d0[0]), float(d0[1])
    use = valid.copy()
    use[[0, -1], :] = False
    use[:, [0, -1]] = False
    if use.sum() < 6:
        return float(d0[0]), float(d0[1])
    target = low[use]

    def cost(d: np.ndarray) -> float:
        model = aggregate(shift(blurred, d * ratio, order=1, mode="nearest"), ratio)[use]
        design = np.stack([model, np.ones_like(model)], axis=1)
        coef, *_ = np.linalg.lstsq(design, target, rcond=None)
        return float(((design @ coef - target) ** 2).mean())

    best = min(
        (d0 + np.array(o) for o in [(0, 0), (0.5, 0), (-0.5, 0), (0, 0.5), (0, -0.5)]), key=cost
    )
    simplex = np.array([best, best + [0.3, 0.0], best + [0.0, 0.3]])
    sol = minimize(
        cost,
        best,
        method="Nelder-Mead",
        options={"initial_simplex": simplex, "xatol": 1e-3, "fatol": 1e-12, "maxiter": 400},
    )
    return float(sol.x[0]), float(sol.x[1])


def displacement_field(
    low_res: np.ndarray,
    high_res_reference: np.ndarray,
    ratio: int,
    block: int,
    step: int,
    psf: tuple[Any, Any] = (0.0, None),
    valid: np.ndarray | None = None,
    start: tuple[float, float] | None = None,
    max_offset: float = 1.0,
) -> dict[str, np.ndarray]:
    """Local shifts (LR px) in ``block x block`` LR windows every ``step`` LR px, each refined
    like the global one from ``start`` (the global shift; a small block's own phase correlation
    is easily fooled by a single town, so it is only used when ``start`` is None); ``psf`` is
    ``(psf_sigma, psf_weights)``. Returns ``rows``, ``cols`` (block centres, LR px), ``dy``, ``dx``;
    blocks with little structure (reference std < 1/4 of the whole image's: dark fields) and
    estimates more than ``max_offset`` LR px from ``start`` (a failed fit) are NaN."""
    low = _as_2d(low_res, "low_res")
    high = _as_2d(high_res_reference, "high_res_reference")
    _check_pair(low, high, ratio)
    if block > min(low.shape) or block < 4:
        raise ValueError(f"block {block} must be between 4 and the LR image side {min(low.shape)}.")
    valid = np.ones(low.shape, bool) if valid is None else valid
    blurred = bloom(high, *psf)  # blur once: blocks then see the halo from outside them
    floor = 0.25 * aggregate(blurred, ratio).std()
    starts_r = list(range(0, low.shape[0] - block + 1, step))
    starts_c = list(range(0, low.shape[1] - block + 1, step))
    dy = np.full((len(starts_r), len(starts_c)), np.nan)
    dx = np.full_like(dy, np.nan)
    for i, r in enumerate(starts_r):
        for j, c in enumerate(starts_c):
            a = low[r : r + block, c : c + block]
            b = blurred[r * ratio : (r + block) * ratio, c * ratio : (c + block) * ratio]
            ok = valid[r : r + block, c : c + block]
            if a[ok].std() < 1e-6 or aggregate(b, ratio).std() < floor or ok.sum() < block:
                continue
            est = _register(a, b, ratio, (0.0, None), ok, start=start)
            if start is None or np.hypot(est[0] - start[0], est[1] - start[1]) <= max_offset:
                dy[i, j], dx[i, j] = est
    rows = np.array(starts_r, dtype=np.float64) + (block - 1) / 2
    cols = np.array(starts_c, dtype=np.float64) + (block - 1) / 2
    return {"rows": rows, "cols": cols, "dy": dy, "dx": dx}


def shift_image(image: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """Translate an image by ``(dy, dx)`` pixels (sub-pixel, spline order 1, edges repeated);
    ``shift_image(ref, dy, dx)`` is what :func:`phase_correlation` would measure as ``(dy, dx)``."""
    from scipy.ndimage import shift

    return shift(_as_2d(image, "image"), (dy, dx), order=1, mode="nearest")


# ---- statistics ----


def total_light(radiance: np.ndarray, pixel_area_km2: float = 1.0) -> float:
    """Sum of radiance x pixel area (nW/sr x cm-2 x km2): compares lights across resolutions."""
    arr = _as_2d(radiance, "radiance", allow_nan=True)
    return float(np.nansum(arr) * pixel_area_km2)


def r2_score(reference: np.ndarray, estimate: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Coefficient of determination of ``estimate`` against ``reference`` (1 is perfect)."""
    ref = _as_2d(reference, "reference")
    est = _as_2d(estimate, "estimate")
    if ref.shape != est.shape:
        raise ValueError(f"shape mismatch: reference {ref.shape} vs estimate {est.shape}.")
    if mask is not None:
        ref, est = ref[mask], est[mask]
    ss_tot = float(((ref - ref.mean()) ** 2).sum())
    return 1.0 - float(((ref - est) ** 2).sum()) / max(ss_tot, 1e-12)


def ntl_stats(
    image: np.ndarray, saturation: int | None = None, lit_above: float = 0.0
) -> dict[str, float]:
    """Min, max, mean, lit and (for DN) saturated fractions of one lights image."""
    arr = _as_2d(image, "image", allow_nan=True)
    stats = {
        "min": float(np.nanmin(arr)),
        "max": float(np.nanmax(arr)),
        "mean": float(np.nanmean(arr)),
        "lit_fraction": float(np.nanmean(arr > lit_above)),
    }
    if saturation is not None:
        stats["saturated_fraction"] = float(np.nanmean(arr >= saturation))
    return stats


def modality_table(rasters: Mapping[str, Any]) -> Any:
    """The PANDA-FINE modality table (resolution, dtype, bands, data range) for named
    :class:`helpers.io.rasters.Raster` objects, as a pandas DataFrame (one column per modality)."""
    import pandas as pd

    cols = {}
    for name, r in rasters.items():
        data = np.asarray(r.data)
        finite = data[np.isfinite(data)] if data.dtype.kind == "f" else data
        cols[name] = {
            "resolution (m)": f"{r.resolution[0]:.0f}",
            "number of bands": int(data.shape[0] if data.ndim == 3 else 1),
            "datatype": data.dtype.name,
            "data range": f"{finite.min():.4g} .. {finite.max():.4g}" if finite.size else "empty",
            "size (px)": f"{r.shape[0]} x {r.shape[1]}",
        }
    return pd.DataFrame(cols)

"""What a notebook's run is expected to give on the sample scene, per profile and measured.

Notebook text states no fixed result: a code cell prints "expected range vs your run" from this
table, so a summary cannot contradict the output above it. Each range comes from measured runs,
described in :data:`MEASURED`; a profile or result without a measured range says so instead of
guessing. Re-measure (and edit here) when the sample scene, a model or a profile's training changes.
"""

from __future__ import annotations

# profile -> notebook -> result -> (low, high). IoU/F1 as fractions, PSNR in dB, shares in [0, 1].
RANGES: dict[str, dict[str, dict[str, tuple[float, float]]]] = {
    "teaching": {
        "03_unet_landcover": {
            "U-Net macro IoU": (0.75, 0.85),
            "coarse labels as the map, macro IoU": (0.50, 0.60),
        },
        "04_label_super_resolution": {
            "coarse labels up-sampled, macro IoU": (0.50, 0.60),
            "naive U-Net, macro IoU": (0.65, 0.78),
            "label SR, macro IoU": (0.35, 0.65),
            "supervised U-Net, macro IoU": (0.75, 0.85),
        },
        "05_cgan_pix2pix": {
            "cGAN macro IoU": (0.40, 0.56),
            "pix2pix (tanh) macro IoU": (0.25, 0.42),
            "pix2pix (softmax image) macro IoU": (0.28, 0.52),
            "coarse labels as the prediction, macro IoU": (0.50, 0.60),
        },
        "08_ntl_super_resolution": {
            "bicubic PSNR (dB)": (30.8, 31.8),
            "full model PSNR (dB)": (33.5, 35.5),
            "full model - bicubic (dB)": (2.0, 4.5),
            "NTL only - bicubic (dB)": (-0.5, 0.5),
        },
        "09_ntl_ablation": {
            "baseline PSNR (dB)": (32.0, 33.5),
            "full model PSNR (dB)": (31.5, 33.0),
        },
    },
    "smoke": {
        "08_ntl_super_resolution": {
            "bicubic PSNR (dB)": (25.0, 27.0),
            "full model - bicubic (dB)": (-4.0, 1.0),
        },
        "09_ntl_ablation": {
            "baseline PSNR (dB)": (11.0, 27.0),
            "full model PSNR (dB)": (11.0, 27.0),
        },
        "03_unet_landcover": {
            "U-Net macro IoU": (0.03, 0.30),
            "coarse labels as the map, macro IoU": (0.38, 0.50),
        },
        "04_label_super_resolution": {
            "coarse labels up-sampled, macro IoU": (0.38, 0.50),
            "naive U-Net, macro IoU": (0.0, 0.20),
            "label SR, macro IoU": (0.0, 0.20),
            "supervised U-Net, macro IoU": (0.03, 0.30),
        },
        "05_cgan_pix2pix": {
            "cGAN macro IoU": (0.02, 0.20),
            "pix2pix (tanh) macro IoU": (0.02, 0.20),
            "pix2pix (softmax image) macro IoU": (0.02, 0.20),
            "coarse labels as the prediction, macro IoU": (0.38, 0.50),
        },
    },
}

MEASURED: dict[str, str] = {
    "teaching": (
        "sample scene, 2 CPU cores, no GPU, 2026-12-01, one to four runs per notebook, trained "
        "for a time budget (before training was sized in steps); re-measure after changes"
    ),
    "smoke": (
        "sample scene, 2 CPU cores (shared), 2026-12-02, one run: smoke trains a few steps only, "
        "so its learned models score near chance (or near the bicubic start) by design"
    ),
}


def ranges(notebook: str, profile: str) -> dict[str, tuple[float, float]]:
    """The measured ranges of one notebook in one profile (empty when none were measured)."""
    return RANGES.get(profile, {}).get(notebook, {})


def verdict(value: float, low: float, high: float) -> str:
    """``inside`` the range, else ``BELOW`` or ``ABOVE`` it (capitals: look again)."""
    return "inside" if low <= value <= high else ("BELOW" if value < low else "ABOVE")


def compare(notebook: str, yours: dict[str, float], profile: str) -> list[str]:
    """Lines "result: expected low-high, your run x (inside/BELOW/ABOVE)" for every result."""
    known = ranges(notebook, profile)
    lines = [
        f"Expected range vs your run ({profile} profile; {MEASURED.get(profile, 'no ranges')}):"
    ]
    for name, value in yours.items():
        if name in known:
            low, high = known[name]
            lines.append(
                f"  {name}: expected {low:.3g} to {high:.3g}, your run {value:.3g} "
                f"({verdict(value, low, high)})"
            )
        else:
            lines.append(f"  {name}: your run {value:.3g} (no measured range for this profile)")
    return lines


def show(notebook: str, yours: dict[str, float], profile: str) -> None:
    """Print :func:`compare` (what a notebook's summary cell calls)."""
    print("\n".join(compare(notebook, yours, profile)))

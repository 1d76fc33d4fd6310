"""A sample-scene option for the NTL ablation: coarse lights misregistered by a *high-frequency*
displacement field, written as a second NTL layout beside the default one.

Why: the default scene's local misregistration is one smooth field (correlation length ~1/6 of
the scene, ~10 coarse px), so inside a training crop of a few coarse pixels it is nearly a
constant shift, which a CNN's receptive field absorbs and which crop flips and rotations turn into a random
shift per crop. Here the field's correlation length is a fraction of a training crop
(:data:`CELL_HR_PX`), so the shift changes inside every crop and only a model that compares the
lights with the guidance pixel by pixel can undo it. Everything else (fine radiance, DMO, DEM, ISP,
splits, blooming, gain, offset, global shift and rotation) is the default scene's: the fine
patches are copied and only ``lr_ntl`` is simulated again (:func:`helpers.data.synthetic.simulate_low_res`).

Crops of the variant stay consistent under augmentation: :func:`helpers.data.crops.for_ntl` rotates and
flips the coarse and fine grids of a crop together, which is the same as rotating the displacement
field with them (``tests/test_misregistration.py`` checks it). The default scene is not changed.

What this option can and cannot teach (measured, teaching scene 2.3.0, seed 0, whole scene): a
field this fast is not recoverable from the coarse lights. A registration that knows the fine lights
*exactly* and the scene's own forward model (blooming, block mean, gain, offset), matching every
coarse pixel's 3 x 3 to 8 x 8 neighbourhood over shifts of up to 2 coarse px (moving only pixels
where the best match is clearly better than none), leaves the lights 1.14 coarse px (RMS) from
where the scene put them against 1.16 for no warp (lit pixels 1.10-1.18 against 1.21): one coarse value per pixel cannot fix two displacement components that change every
1.5 coarse px. On the default scene's smooth field the same oracle brings lit pixels from 0.67 to
0.32-0.39 coarse px. So notebook 09 judges its alignment modules on the default scene, and this
option shows alignment failing for a reason no module can fix.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..io import rasters
from . import synthetic

CELL_HR_PX = 12.0  # correlation length of the field, fine px (1.5 coarse px; crops: 64 px)
AMPLITUDE_HR_PX = 6.0  # std of each displacement component, fine px (0.75 coarse px)
FOLDER = "NTL_hf"  # the variant's layout, beside NTL/ in the sample root


def high_frequency_flow(
    shape: tuple[int, int], seed: int, cell: float = CELL_HR_PX, amplitude: float = AMPLITUDE_HR_PX
) -> np.ndarray:
    """A displacement field (2, h, w) in fine px (dx, dy): Gaussian-correlated over ``cell`` px."""
    rng = np.random.default_rng([seed, 2101])
    return np.stack([synthetic.smooth_noise(rng, shape, cell) * amplitude for _ in range(2)])


def simulate_dn(
    radiance: np.ndarray, truth: dict[str, Any], flow: np.ndarray, seed: int
) -> np.ndarray:
    """Coarse DN from fine radiance as the default scene makes them, with another local ``flow``."""
    low = synthetic.simulate_low_res(np.clip(radiance, 0, None), truth, flow, warp=True)
    noise = np.random.default_rng([seed, 2102]).standard_normal(low.shape)
    dn = truth["gain"] * low + truth["offset"] + truth["noise_dn"] * noise
    return np.clip(np.round(dn), 0, 63).astype(np.uint8)


def ensure_high_frequency(
    paths: Any, seed: int = 0, cell: float = CELL_HR_PX, amplitude: float = AMPLITUDE_HR_PX
) -> Path:
    """Write (once) the variant layout ``<sample root>/NTL_hf`` and return it.

    ``paths`` is :func:`helpers.data.synthetic.ensure_sample`'s result. The folder holds the same
    patches as ``NTL/`` except ``lr_ntl``, plus ``misregistration.json`` (the field's settings and
    size) and ``flow.tif``; an existing variant with other settings is refused, not overwritten.
    """
    out = Path(paths.root) / FOLDER
    settings = {"cell_hr_px": cell, "amplitude_hr_px": amplitude, "seed": seed}
    record = out / "misregistration.json"
    split = _split_of(Path(paths.ntl))
    made = json.loads(record.read_text()) if record.exists() else None
    if made is not None and made.get("split") != split:  # NTL/ was cut again: follow its split
        shutil.rmtree(out)
    elif made is not None:
        if made.get("settings") != settings:
            raise ValueError(
                f"{out} was made with {made.get('settings')}, not {settings}; delete that folder "
                "to make it again with the new settings."
            )
        return out
    scene = Path(paths.scene)
    truth = json.loads((scene / "truth.json").read_text())
    hr = rasters.read(scene / "ntl_hr.tif")
    flow = high_frequency_flow(hr.shape, seed, cell, amplitude)  # replaces the smooth flow
    dn = simulate_dn(hr.data[0], truth, flow, seed)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(paths.ntl, tmp)
    _rewrite_low_res(tmp, dn, hr.transform, int(truth["ratio"]))
    rasters.write(
        tmp / "flow.tif", flow, hr.crs, hr.transform, descriptions=("dx_hr_px", "dy_hr_px")
    )
    disp = synthetic.displacement(truth, flow)
    size = np.sqrt((disp**2).sum(0))
    (tmp / "misregistration.json").write_text(
        json.dumps(
            {
                "settings": settings,
                "split": split,
                "misregistration_mean_hr_px": float(size.mean()),
                "misregistration_max_hr_px": float(size.max()),
                "flow_rms_hr_px": float(np.sqrt((flow**2).sum(0).mean())),
                "note": "global shift/rotation/scale as in scene/truth.json; local flow in flow.tif",
            },
            indent=1,
        )
    )
    tmp.rename(out)
    return out


def _split_of(ntl: Path) -> dict[str, list[str]]:
    """``{split: sorted patch ids}`` of an NTL layout (the variant copies the default's split)."""
    return {
        sp: sorted(p.stem for p in (ntl / sp / "lr_ntl").glob("*.tif"))
        for sp in ("train", "val", "test")
    }


def _rewrite_low_res(folder: Path, dn: np.ndarray, hr_transform: Any, ratio: int) -> None:
    """Replace every ``lr_ntl`` patch under ``folder`` by the matching window of ``dn``."""
    for path in sorted(folder.glob("*/lr_ntl/*.tif")):
        old = rasters.read(path)
        col = round((old.transform.c - hr_transform.c) / (hr_transform.a * ratio))
        row = round((old.transform.f - hr_transform.f) / (hr_transform.e * ratio))
        h, w = old.shape
        patch = dn[row : row + h, col : col + w][None]
        rasters.write(path, patch, old.crs, old.transform, descriptions=("DN",))


def true_displacement(ntl_root: str | Path, scene: str | Path) -> np.ndarray:
    """What the scene did to the coarse lights of ``ntl_root``: ``source(p) - p`` (2, H, W) in
    fine px (dx, dy) over the whole scene, from ``scene/truth.json`` (global shift, rotation,
    scale) and the layout's local flow (``<layout>/flow.tif`` for this variant, else the default
    scene's ``scene/ntl_flow.tif``). Why: the alignment modules are judged against it."""
    ntl_root, scene = Path(ntl_root), Path(scene)
    truth_path = scene / "truth.json"
    if not truth_path.exists():
        raise FileNotFoundError(
            f"{truth_path}: not found; the true displacement is known only for the sample scene "
            "(make it with helpers.data.synthetic.ensure_sample)."
        )
    flow_path = (
        ntl_root / "flow.tif" if (ntl_root / "flow.tif").exists() else scene / "ntl_flow.tif"
    )
    flow = rasters.read(flow_path).data.astype(np.float32)
    return synthetic.displacement(json.loads(truth_path.read_text()), flow)


def patch_origins(
    ntl_root: str | Path, split: str, scene: str | Path
) -> dict[str, tuple[int, int]]:
    """``{patch id: (row, col)}`` of each ``split`` patch's first fine pixel on the scene's fine grid
    (``scene/ntl_hr.tif``), read from the georeference of its ``hr_ntl`` file."""
    grid = rasters.info(Path(scene) / "ntl_hr.tif").transform
    out = {}
    for path in sorted((Path(ntl_root) / split / "hr_ntl").glob("*.tif")):
        t = rasters.info(path).transform
        out[path.stem] = (round((t.f - grid.f) / grid.e), round((t.c - grid.c) / grid.a))
    return out

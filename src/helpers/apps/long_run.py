"""``eosr train KIND --steps N --history-every K``: one long run of a notebook's recipe, its history
(training loss and a held-out validation metric every K steps) written as a long-run file
(``helpers.records.long_runs``) with the command, commit and machine that produced it.

The recipe is the notebook's own function and profile settings (``recipes.landcover.unet`` for
notebook 03; for notebook 08 the steps of ``recipes.night_lights.train_model``, called with a
validation set, which ``train_model`` does not take: ``tests/test_long_runs.py`` checks that both
hand ``train.fit`` the same arguments). Only the epochs change (N steps, the cosine schedule
spanning them) and the safety cap is off. Validation never reads test pixels: notebook 03's U-Net
trains on five of every six training patches and is scored on the sixth; notebook 08's network on
its training split, scored on the validation split. Re-running the same command with the same
``--out`` resumes the checkpoint.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import subprocess
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..core import bands, config, labels
from ..data import datasets
from ..models import ntl_sr
from ..records import long_runs, runs
from ..training import train
from ..training.recipes import landcover, night_lights
from .jobs import NOTEBOOK, JobError

HOLD_EVERY = 6  # notebook 03: every 6th training patch held out for validation
MODEL = {"unet": "U-Net", "ntl_sr": "full model"}  # the notebooks' names of the models
NUM_CLASSES = len(labels.DFC8)


class Sometimes:
    """An evaluation loader that yields its batches every ``every``-th pass only (an empty pass
    returns no scores), so ``train.fit`` validates every K steps, not every epoch."""

    def __init__(self, loader: Iterable[Any], every: int, passes: int = 0) -> None:
        self.loader, self.every, self.passes = loader, max(int(every), 1), int(passes)

    def __iter__(self) -> Iterator[Any]:
        self.passes += 1
        if self.passes % self.every == 0:
            yield from self.loader


def _commit() -> tuple[str, list[str]]:
    """The checkout's commit and the package's source files that differ from it."""
    root = config.repo_root()
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src/helpers"],
            cwd=root, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)", []
    return head, sorted(line[3:] for line in dirty.splitlines() if line.strip())


def provenance() -> dict[str, Any]:
    """The commit, the package's uncommitted source files and the machine, at a run's start."""
    commit, dirty = _commit()
    return {"commit": commit, "uncommitted_source": dirty, "machine": machine()}


def machine() -> dict[str, Any]:
    """What the run ran on: platform, cores, torch and its threads, load when it started."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "load_at_start": load,
    }


def _unet(s: dict[str, Any], paths: Any, seed: int, every: int, ckpt: Path, resumed: int) -> Any:
    """Notebook 03's recipe on 5 of every 6 training patches, macro IoU on the 6th."""
    whole = datasets.DFC2020(paths.dfc2020, split="validation", s2_bands=bands.RGB_NIR)
    ids = whole.ids()
    held = ids[::HOLD_EVERY]
    kept = [i for i in ids if i not in held]
    train_set = datasets.DFC2020(paths.dfc2020, "validation", s2_bands=bands.RGB_NIR, files=kept)
    held_set = datasets.DFC2020(paths.dfc2020, "validation", s2_bands=bands.RGB_NIR, files=held)
    val = DataLoader(held_set, batch_size=4)
    _, history = landcover.unet(
        train_set, s, seed, num_classes=NUM_CLASSES, checkpoint=ckpt,
        val_loader=Sometimes(val, every, resumed), device=config.pick_device(verbose=False),
        meta={"notebook": NOTEBOOK["unet"], "long_run": True},
    )  # fmt: skip
    return history, steps_per_epoch("unet", s, paths), _unet_note(paths)


def _unet_note(paths: Any) -> str:
    """What notebook 03's long run validates on."""
    n = len(datasets.DFC2020(paths.dfc2020, split="validation", s2_bands=bands.RGB_NIR))
    held = len(range(0, n, HOLD_EVERY))
    return f"{held} held-out training patches (every {HOLD_EVERY}th), trained on {n - held}"


def ntl_fit_kwargs(s: dict[str, Any], train_set: Any, seed: int, ckpt: Path) -> dict[str, Any]:
    """The arguments ``night_lights.train_model`` hands ``train.fit`` for the full model (no
    switches) with ``s``'s settings: the recipe the long run repeats."""
    fit = night_lights.fit_settings(s)
    return dict(
        epochs=fit["epochs"], learning_rate=fit["learning_rate"], time_budget_s=fit["budget_s"],
        step_fn=ntl_sr.step, scheduler="cosine", seed=seed, device=config.pick_device(verbose=False),
        amp=True, progress=False, checkpoint=ckpt, meta={"notebook": NOTEBOOK["ntl_sr"], "long_run": True},
    )  # fmt: skip


def _ntl_sr(s: dict[str, Any], paths: Any, seed: int, every: int, ckpt: Path, resumed: int) -> Any:
    """Notebook 08's full model on its training split, PSNR/SSIM on the validation split."""
    train_set = night_lights.training_data(paths.ntl, s["crop"], s["repeats"], seed)
    val_set = datasets.NTL(paths.ntl, "val")
    keep = ("psnr", "ssim", "mae_lit", "rmse_lit", "mae_dark")

    def scores(model: torch.nn.Module, loader: Iterable[Any], device: Any) -> dict[str, float]:
        if not list(loader):  # a pass without validation
            return {}
        found = night_lights.scores(model, val_set)
        return {k: float(found[k]) for k in keep if k in found}

    config.seed_everything(seed)
    model = night_lights.build({}, s["width"], getattr(train_set, "samples", None))
    data = night_lights.batches(train_set, s["batch"], seed)
    history = train.fit(
        model, data, night_lights.loss({}), **ntl_fit_kwargs(s, train_set, seed, ckpt),
        val_loader=Sometimes([0], every, resumed), val_fn=scores,
    )  # fmt: skip
    return history, len(data), _ntl_note(paths)


def _ntl_note(paths: Any) -> str:
    """What notebook 08's long run validates on."""
    return f"the {len(datasets.NTL(paths.ntl, 'val'))} patches of the validation split"


TRAINERS: dict[str, Callable[..., Any]] = {"unet": _unet, "ntl_sr": _ntl_sr}
METRIC = {  # metric, label, higher is better, flat tolerance, digits
    "unet": ("iou", "held-out macro IoU", True, 0.01, 3),
    "ntl_sr": ("psnr", "validation PSNR (dB)", True, 0.1, 2),
}


def steps_per_epoch(kind: str, s: dict[str, Any], paths: Any) -> int:
    """Optimisation steps in one epoch of ``kind``'s recipe under settings ``s`` (batches of the
    notebook's loader: notebook 03 draws ``samples`` crops, notebook 08 ``repeats`` per patch)."""
    if kind == "unet":
        return math.ceil(s["samples"] / s["batch"])
    return math.ceil(len(datasets.NTL(paths.ntl, "train")) * s["repeats"] / s["batch"])


def _plan(
    kind: str, steps: int, history_every: int, profile: str | None, data: Any, out: Any
) -> dict[str, Any]:
    """Settings, scene, folder, checkpoint and step plan of a long run (shared by :func:`run` and
    :func:`export`)."""
    if kind not in TRAINERS:
        raise JobError(
            f"eosr train {kind} --steps: no long-run wiring for {kind} yet (it has: "
            f"{', '.join(TRAINERS)}); train it without --steps."
        )
    from ..data import synthetic

    profile = config.get_profile(profile)
    s = config.settings(NOTEBOOK[kind], profile)
    root = Path(data).expanduser().resolve() if data is not None else config.data_dir()
    paths = synthetic.ensure_sample(profile, verbose=False, data=root)
    folder = Path(out).expanduser().resolve() if out else runs.new_run_dir(profile)
    spe = steps_per_epoch(kind, s, paths)
    every = max(1, round(history_every / spe))  # validate every so many epochs
    return {
        "kind": kind, "profile": profile, "s": s, "paths": paths, "folder": folder,
        "ckpt": folder / "long" / kind / "checkpoint.pt", "spe": spe, "every": every,
        "epochs": math.ceil(steps / spe / every) * every,  # whole validation intervals
        "command": f"eosr train {kind} --profile {profile} --steps {steps} "
        f"--history-every {history_every}",
        "scene": synthetic.scene_id(paths.root),
    }  # fmt: skip


def run(
    kind: str,
    steps: int,
    history_every: int,
    *,
    profile: str | None = None,
    data: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    seed: int = 0,
    history_to: str | os.PathLike | None = None,
) -> Path:
    """Train ``kind`` for >= ``steps`` steps, validating every ~``history_every`` steps; write the
    long-run history (default ``<run folder>/long/<kind>/history.json``) and return its path.
    The commit and uncommitted source files are those at the start (what the run ran)."""
    plan = _plan(kind, steps, history_every, profile, data, out)
    s, spe, ckpt = plan["s"], plan["spe"], plan["ckpt"]
    code = provenance()  # before training: the code that runs, the machine's load
    resumed = train.load_checkpoint(ckpt)["epoch"] if ckpt.exists() else 0
    settings = {**s, "epochs": plan["epochs"], "time_cap_s": None}
    print(f"long run {plan['command']}: {json.dumps(code)}", flush=True)  # for export()
    history, seen, note = TRAINERS[kind](
        settings, plan["paths"], seed, plan["every"], ckpt, resumed
    )
    if seen != spe:  # the recipe's loader is not the one the plan counted
        raise JobError(f"{kind}: {seen} steps an epoch, planned {spe}; fix steps_per_epoch")
    return _write(plan, history, note, seed, code, history_to)


def export(
    kind: str,
    steps: int,
    history_every: int,
    out: str | os.PathLike,
    *,
    commit: dict[str, Any],
    profile: str | None = None,
    data: str | os.PathLike | None = None,
    seed: int = 0,
    history_to: str | os.PathLike | None = None,
) -> Path:
    """The history of a long run stopped before its planned steps, from its last checkpoint
    (``commit``: :func:`provenance` as the run recorded it at its start, e.g. from its log)."""
    plan = _plan(kind, steps, history_every, profile, data, out)
    state = train.load_checkpoint(plan["ckpt"])
    history = train.History.from_dict(state["history"])
    history.stop_reason = f"stopped by hand after epoch {state['epoch']} (checkpoint exported)"
    note = {"unet": _unet_note, "ntl_sr": _ntl_note}[kind](plan["paths"])
    return _write(plan, history, note, seed, commit, history_to)


def _write(plan: dict[str, Any], history: Any, note: str, seed: int, code: Any, to: Any) -> Path:
    """Write the long-run file of a (finished or stopped) run."""
    kind, spe = plan["kind"], plan["spe"]
    record = _history(
        kind, plan["profile"], plan["s"], history, spe, plan["epochs"],
        plan["s"]["epochs"] * spe, note, seed, code,
    )  # fmt: skip
    record.update(
        command=f"{plan['command']} --seed {seed}",
        seconds=round(history.total_seconds, 1),
        written=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        scene=plan["scene"],
    )
    path = Path(to) if to else plan["folder"] / "long" / kind / "history.json"
    return long_runs.write(record, path)


def _history(
    kind: str, profile: str, s: dict[str, Any], history: Any, spe: int, epochs: int,
    notebook_steps: int, note: str, seed: int, code: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """The long-run file's content from a finished (or stopped) training history."""
    metric, label, higher, tol, digits = METRIC[kind]
    val_steps = [e * spe for e, v in zip(history.epoch, history.val) if v]
    return {
        "format": long_runs.FORMAT,
        "notebook": NOTEBOOK[kind],
        "kind": kind,
        "model": MODEL[kind],
        "profile": profile,
        "seed": seed,
        "recipe": long_runs.recipe(NOTEBOOK[kind], profile),
        "notebook_steps": notebook_steps,
        "steps_per_epoch": spe,
        "planned_steps": epochs * spe,
        "steps_done": history.epochs_done * spe,
        "validation": note,
        "metric": metric,
        "metric_label": label,
        "higher_is_better": higher,
        "flat_tolerance": tol,
        "digits": digits,
        **code,
        "stop_reason": history.stop_reason or "all epochs",
        "steps": [e * spe for e in history.epoch],
        "train_loss": [round(float(v), 6) for v in history.train_loss],
        "val_steps": val_steps,
        "val": [{k: round(float(x), 6) for k, x in v.items()} for v in history.val if v],
    }

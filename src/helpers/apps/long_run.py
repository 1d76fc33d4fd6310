"""``eosr train KIND --steps N --history-every K``: one long run of a notebook's recipe, its history
(training loss and a held-out validation metric every K steps) written as a long-run file
(``helpers.records.long_runs``) with the command, commit and machine that produced it.

The recipe is the notebook's own function and profile settings (``recipes.landcover.unet`` for
notebook 03; ``recipes.label_sr.label_sr`` and ``.naive`` at notebook 04's two ratios with its
parameters; ``recipes.gan.pix2pix`` (tanh and softmax image) and ``.cgan`` (the kit's residual
generator and the paper's) for notebook 05; for notebook 08
the steps of ``recipes.night_lights.train_model``, called with a validation set, which
``train_model`` does not take: ``tests/test_long_runs.py`` checks that each hands its loop the
notebook's arguments). Only the epochs change (N steps; a schedule spans them) and the safety cap
is off. Validation never reads test pixels: notebook 03's U-Net trains on five of every six
training patches and is scored on the sixth; notebook 04's U-Nets train on three of every four
(co-occurrence statistics from those) and are scored on the fourth, the training region's
held-out quarter its settings were judged on; notebook 05's GANs are scored on the training
patches the cGAN holds out (``cgan_select_every``) and train on the others; notebook 08's network
on its training split, scored on the validation split. Re-running the same command with the same
``--out`` resumes the checkpoint.
"""

from __future__ import annotations

import datetime
import functools
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
from ..data import crops, datasets
from ..models import ntl_sr
from ..records import long_runs, runs
from ..training import train
from ..training.recipes import gan, label_sr, landcover, night_lights
from .jobs import NOTEBOOK as JOB_NOTEBOOK
from .jobs import JobError

HOLD_EVERY = 6  # notebook 03: every 6th training patch held out for validation
HOLD_QUARTER = 4  # notebook 04: every 4th training patch (the training region's held-out quarter)
# notebook 04's parameters: its coarse label layers by ratio (LAYERS: 500 m labels, 50 x 50 fine
# pixels each; 30 m labels, 3 x 3) and label SR's settings
LSR_LAYERS = {"x50": "lc", "x3": "lc30"}
LSR_VARIANT, LSR_MIN_VAR, LSR_USE_PRIOR = "gaussian", 1e-3, False
LSR_KINDS = {  # notebook 04's long-run kinds: (its method name, its ratio)
    "label_sr": ("label SR", "x50"),
    "naive_unet": ("naive", "x50"),
    "label_sr_x3": ("label SR", "x3"),
    "naive_unet_x3": ("naive", "x3"),
}
GAN_KINDS = {  # notebook 05's long-run kinds: (its recipe, the arguments the notebook adds)
    "pix2pix": ("pix2pix", {"output": "tanh"}),
    "pix2pix_softmax": ("pix2pix", {"output": "softmax"}),
    "cgan": ("cgan", {}),
    "cgan_plain": ("cgan", {"residual": False, "name": "05_cgan_plain"}),
}
GANS = tuple(GAN_KINDS)


def ratio_name(ratio: str) -> str:
    """Notebook 04's name of a ratio (its ``RATIO_NAMES``), e.g. ``"500 m -> 10 m"``."""
    return f"{10 * label_sr.RATIOS[LSR_LAYERS[ratio]]} m -> 10 m"


NOTEBOOK = (  # the kinds only long runs train take their notebook's recipe settings
    JOB_NOTEBOOK
    | {k: JOB_NOTEBOOK["label_sr"] for k in LSR_KINDS}
    | {k: JOB_NOTEBOOK["pix2pix"] for k in GAN_KINDS}
)
MODEL = {  # the notebooks' names of the models (the keys of their STUDENT_EPOCHS)
    "unet": "U-Net",
    **{kind: f"{method}, {ratio_name(r)}" for kind, (method, r) in LSR_KINDS.items()},
    "pix2pix": "pix2pix S2 -> land cover (tanh)",
    "pix2pix_softmax": "pix2pix S2 -> land cover (softmax image)",
    "cgan": "cGAN coarse -> fine",
    "cgan_plain": "cGAN, paper's generator",
    "ntl_sr": "full model",
}
MARKS = ("kept", train.gan.BEFORE)  # a GAN's marks in its val entries (keep_best), not scores
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


def _unet(s: dict[str, Any], plan: dict[str, Any], seed: int, resumed: int) -> Any:
    """Notebook 03's recipe on 5 of every 6 training patches, macro IoU on the 6th."""
    paths, every, ckpt = plan["paths"], plan["every"], plan["ckpt"]
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


def _unet_note(paths: Any, _s: Any = None) -> str:
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


def _ntl_sr(s: dict[str, Any], plan: dict[str, Any], seed: int, resumed: int) -> Any:
    """Notebook 08's full model on its training split, PSNR/SSIM on the validation split."""
    paths, every, ckpt = plan["paths"], plan["every"], plan["ckpt"]
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


def _ntl_note(paths: Any, _s: Any = None) -> str:
    """What notebook 08's long run validates on."""
    return f"the {len(datasets.NTL(paths.ntl, 'val'))} patches of the validation split"


def lsr_patches(
    paths: Any, ratio: str = "x50"
) -> tuple[list[dict[str, torch.Tensor]], list[dict[str, torch.Tensor]]]:
    """Notebook 04's training patches with the coarse labels of ``ratio``, as ``(fit, held
    out)``: every 4th held out (the quarter ``tools/label_sr_search.py`` judged the settings on)."""
    ds = datasets.DFC2020(paths.dfc2020, split="validation", s2_bands=bands.RGB_NIR)
    loaded = crops.load(ds, ("image", "mask", "coarse"))
    patches = label_sr.with_coarse(loaded, label_sr.coarse_layer(ds, LSR_LAYERS[ratio]))
    fit = [p for i, p in enumerate(patches) if i % HOLD_QUARTER != HOLD_QUARTER - 1]
    return fit, patches[HOLD_QUARTER - 1 :: HOLD_QUARTER]


def lsr_arguments(kind: str, fit: list[dict[str, torch.Tensor]]) -> dict[str, Any]:
    """The keyword arguments notebook 04 hands ``recipes.label_sr.naive`` / ``.label_sr`` at the
    kind's ratio (statistics of the ``fit`` patches' labels only: the held-out quarter unseen)."""
    method, ratio = LSR_KINDS[kind]
    if method == "naive":
        return {"num_classes": NUM_CLASSES}
    block = label_sr.RATIOS[LSR_LAYERS[ratio]]
    st = label_sr.statistics(fit, block, NUM_CLASSES, LSR_MIN_VAR, LSR_USE_PRIOR)
    return {
        "num_classes": NUM_CLASSES, "mu": st["mu"], "sigma2": st["sigma2"], "block": block,
        "variant": LSR_VARIANT,
    }  # fmt: skip


def _held_out_scores(
    model: torch.nn.Module, loader: Iterable[Any], device: Any
) -> dict[str, float]:
    """Macro IoU/F1/accuracy against the fine labels of the held-out patches ({} on a pass
    without validation)."""
    batches = list(loader)
    if not batches:
        return {}
    return train.evaluate(model, batches, NUM_CLASSES, device=device).summary()


def _label_sr(s: dict[str, Any], plan: dict[str, Any], seed: int, resumed: int) -> Any:
    """Notebook 04's naive U-Net or label SR (500 m or 30 m labels) on 3 of every 4 training
    patches, macro IoU against the fine labels of the 4th."""
    method, ratio = LSR_KINDS[plan["kind"]]
    fit, held = lsr_patches(plan["paths"], ratio)
    recipe = label_sr.naive if method == "naive" else label_sr.label_sr
    _, history = recipe(
        fit, s, seed, **lsr_arguments(plan["kind"], fit), device=config.pick_device(verbose=False),
        checkpoint=plan["ckpt"], meta={"notebook": NOTEBOOK[plan["kind"]], "long_run": True},
        val_loader=Sometimes(gan.batches(held), plan["every"], resumed), val_fn=_held_out_scores,
    )  # fmt: skip
    return history, len(label_sr.batches(fit, s, seed)), _lsr_note(plan["paths"], s, plan["kind"])


def _lsr_note(paths: Any, _s: Any = None, kind: str = "label_sr") -> str:
    """What notebook 04's long runs validate on (label SR: where its statistics come from)."""
    method, ratio = LSR_KINDS[kind]
    n = len(datasets.DFC2020(paths.dfc2020, split="validation", s2_bands=bands.RGB_NIR))
    held = n // HOLD_QUARTER
    return (
        f"{held} held-out training patches (every {HOLD_QUARTER}th, the training region's "
        f"held-out quarter), fine labels; trained on the {ratio_name(ratio).split()[0]} m labels "
        f"of {n - held}" + ("" if method == "naive" else " (statistics from their fine labels)")
    )


def gan_arrays(paths: Any) -> dict[str, Any]:
    """Notebook 05's training arrays (``image``, ``coarse``, ``mask``) and the bands' statistics
    (``band_stats``, from every training image, as the notebook)."""
    ds = datasets.DFC2020(paths.dfc2020, split="validation", s2_bands=bands.RGB_NIR)
    keys = ("image", "coarse", "mask")
    data = {k: torch.stack([p[k] for p in crops.load(ds)]).numpy() for k in keys}
    return data | {"band_stats": gan.band_stats(data["image"])}


def gan_overrides(kind: str, s: dict[str, Any], every: int) -> dict[str, Any]:
    """What a long run changes in notebook 05's recipe (``s``: the profile's settings with the
    long run's epochs): its epochs, no safety cap, its scoring cadence, and for pix2pix (which
    holds no patches out in the notebook) the patches the cGAN holds out (``cgan_select_every``)."""
    if GAN_KINDS[kind][0] == "cgan":
        return {"cgan_epochs": s["epochs"], "time_cap_s": None, "cgan_score_every": every}
    held = {"select_every": s["cgan_select_every"], "score_every": every}
    return {"epochs": s["epochs"], "time_cap_s": None} | held


def _gan(s: dict[str, Any], plan: dict[str, Any], seed: int, resumed: int) -> Any:
    """Notebook 05's pix2pix (tanh or softmax image) or cGAN (residual or the paper's generator),
    first seed, with the notebook's arguments, macro IoU every K steps on held-out training patches
    (the recipe's ``select_every`` patches)."""
    kind, data = plan["kind"], gan_arrays(plan["paths"])
    recipe, variant = GAN_KINDS[kind]
    common = dict(
        profile=plan["profile"], seeds=[seed], device=config.pick_device(verbose=False),
        checkpoint_for=lambda _tag: plan["ckpt"], progress=False,
        **gan_overrides(kind, s, plan["every"]),
    )  # fmt: skip
    if recipe == "cgan":
        result = gan.cgan(data["coarse"], data["mask"], **variant, **common)
    else:
        images, stats = data["image"], data["band_stats"]
        result = gan.pix2pix(images, data["mask"], input_stats=stats, **variant, **common)
    history = result.runs.histories[0]
    seen = len(history.steps["d_loss"]) // max(history.epochs_done, 1)
    return history, seen, _gan_note(plan["paths"], s, kind)


def _gan_note(paths: Any, s: dict[str, Any], kind: str) -> str:
    """What notebook 05's long runs validate on (the cGAN's ``cgan_select_every`` patches)."""
    n = len(datasets.DFC2020(paths.dfc2020, split="validation", s2_bands=bands.RGB_NIR))
    every = s["cgan_select_every"]
    own = "the cGAN's own" if GAN_KINDS[kind][0] == "cgan" else "those the cGAN holds out"
    return (
        f"{n // every} held-out training patches (every {every}th, {own}), fine labels; "
        f"trained on {n - n // every}"
    )


TRAINERS: dict[str, Callable[..., Any]] = {
    "unet": _unet, **dict.fromkeys(LSR_KINDS, _label_sr), **dict.fromkeys(GAN_KINDS, _gan),
    "ntl_sr": _ntl_sr,
}  # fmt: skip
NOTES: dict[str, Callable[..., str]] = {  # what each kind's history says it validated on
    "unet": _unet_note, "ntl_sr": _ntl_note,
    **{k: functools.partial(_lsr_note, kind=k) for k in LSR_KINDS},
    **{k: functools.partial(_gan_note, kind=k) for k in GAN_KINDS},
}  # fmt: skip
HELD_OUT_IOU = ("iou", "held-out macro IoU", True, 0.01, 3)
METRIC = {  # metric, label, higher is better, flat tolerance, digits
    "unet": HELD_OUT_IOU,
    **dict.fromkeys(LSR_KINDS, HELD_OUT_IOU),
    **dict.fromkeys(GAN_KINDS, HELD_OUT_IOU),
    "ntl_sr": ("psnr", "validation PSNR (dB)", True, 0.1, 2),
}


def steps_per_epoch(kind: str, s: dict[str, Any], paths: Any) -> int:
    """Optimisation steps in one epoch of ``kind``'s recipe under settings ``s`` (batches of the
    notebook's loader: notebook 03 draws ``samples`` crops, notebook 04 ``samples // batch``
    batches, notebook 05 ``steps_per_epoch``, notebook 08 ``repeats`` per patch)."""
    if kind == "unet":
        return math.ceil(s["samples"] / s["batch"])
    if kind in LSR_KINDS:
        return max(1, s["samples"] // s["batch"])
    if kind in GANS:
        return int(s["steps_per_epoch"])
    return math.ceil(len(datasets.NTL(paths.ntl, "train")) * s["repeats"] / s["batch"])


def notebook_epochs(kind: str, s: dict[str, Any]) -> int:
    """The epochs the notebook trains ``kind`` for (the cGANs: ``cgan_epochs`` when set)."""
    cgan = kind in GANS and GAN_KINDS[kind][0] == "cgan"
    return int((s.get("cgan_epochs") if cgan else None) or s["epochs"])


def schedule(kind: str, s: dict[str, Any]) -> str:
    """The story's sentence on the long run's learning-rate schedule (what its steps mean)."""
    if kind in GANS:
        cgan = GAN_KINDS[kind][0] == "cgan"
        start = s.get("cgan_decay_from") if cgan else s.get("decay_from")
        if start is None and cgan:
            return (
                "Its learning rates stay constant, as in your run, so up to your step it trains "
                "as your run did."
            )
        if start is None:
            return (
                "Its learning rates stay constant, as in your run, but it trains on fewer patches "
                "(some are held out), so its value at your step is close to, not a replay of, "
                "your run."
            )
        return (
            f"Its learning rates fall linearly from epoch {start} to its last, so its value at "
            "your step is a point on its curve, not a replay of your run."
        )
    return long_runs.COSINE


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
    history, seen, note = TRAINERS[kind](settings, plan, seed, resumed)
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
    kept = train.GANHistory if kind in GANS else train.History
    history = kept.from_dict(state["history"])
    history.stop_reason = f"stopped by hand after epoch {state['epoch']} (checkpoint exported)"
    note = NOTES[kind](plan["paths"], plan["s"])
    return _write(plan, history, note, seed, commit, history_to)


def _write(plan: dict[str, Any], history: Any, note: str, seed: int, code: Any, to: Any) -> Path:
    """Write the long-run file of a (finished or stopped) run."""
    kind, spe = plan["kind"], plan["spe"]
    record = _history(
        kind, plan["profile"], plan["s"], history, spe, plan["epochs"],
        notebook_epochs(kind, plan["s"]) * spe, note, seed, code,
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
    """The long-run file's content from a finished (or stopped) training history (a GAN's
    training loss: G's L1 term, the part that should fall; validation: the scored steps)."""
    metric, label, higher, tol, digits = METRIC[kind]
    scored = [(e * spe, v) for e, v in zip(history.epoch, history.val) if metric in v]
    loss_key = "g_l1" if kind in GANS else "train_loss"
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
        "schedule": schedule(kind, s),
        "train_loss_key": loss_key,
        "train_loss_label": "G's L1 term" if kind in GANS else "training loss",
        "steps": [e * spe for e in history.epoch],
        "train_loss": [round(float(v), 6) for v in getattr(history, loss_key)],
        "val_steps": [step for step, _ in scored],
        "val": [{k: round(float(x), 6) for k, x in v.items() if k not in MARKS} for _, v in scored],
    }

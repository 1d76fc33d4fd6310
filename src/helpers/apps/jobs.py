"""``eosr train``: the models of notebooks 03, 04, 05 and 08 trained headless, in one process or
under ``torchrun`` on several (PyTorch DDP).

Each kind trains what its notebook trains, with the same ``config.PROFILES`` settings and, where
the notebook has one, the same recipe function (``helpers.training.recipes``: ``unet`` and ``label_sr``
through ``landcover.unet``, ``ntl_sr`` through ``night_lights.train_model``, ``cgan`` and
``pix2pix`` through ``gan.cgan`` and ``gan.pix2pix``). It writes one checkpoint,
``<run folder>/train/<kind>/checkpoint.pt`` (atomic; running again with the same ``--out``
resumes it, on any number of ranks), and one results record (``helpers.records.results``) with the
scores on the test patches. Batches are drawn by a ``DistributedSampler`` on 1 rank as on N, so
the global batch (``--batch-size``, split evenly over the ranks) and its samples are the same
whatever the number of ranks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..core import bands, config, distributed, labels, locks
from ..data import crops, datasets
from ..models import losses
from ..records import results, runs
from ..training import train
from ..training.recipes import gan, landcover, night_lights

KINDS = ("unet", "label_sr", "pix2pix", "cgan", "ntl_sr")
NOTEBOOK = {
    "unet": "03_unet_landcover",
    "label_sr": "04_label_super_resolution",
    "pix2pix": "05_cgan_pix2pix",
    "cgan": "05_cgan_pix2pix",
    "ntl_sr": "08_ntl_super_resolution",
}
METHOD = {  # the notebooks' method names, marked as trained by this command
    "unet": "U-Net (S2 B04,B03,B02,B08) [eosr train]",
    "label_sr": "label SR [eosr train]",
    "pix2pix": "pix2pix (tanh) [eosr train]",
    "cgan": "cGAN (tanh) [eosr train]",
    "ntl_sr": "MMNTLSR full model [eosr train]",
}
BANDS = bands.RGB_NIR  # notebooks 03-05: RGB + NIR, by name
NUM_CLASSES = len(labels.DFC8)
BLOCK, MIN_VAR = 50, 1e-3  # notebook 04: one MODIS pixel = 50 x 50 S2 pixels; variance floor


class JobError(ValueError):
    """A training job that cannot start as asked; the message names the fix."""


@dataclass
class Job:
    """One ``eosr train`` run as every rank sees it."""

    kind: str
    profile: str
    settings: dict[str, Any]
    epochs: int
    batch: int  # global batch: per-rank batch x ranks
    seed: int
    device: torch.device
    paths: Any  # synthetic.SamplePaths
    checkpoint: Path
    progress: bool = True
    notes: list[str] = field(default_factory=list)
    amp: bool = True  # AMP on CUDA (bf16 from capability 8.0, else fp16); False: exact fp32
    lock: Path | None = None  # the run folder's writer lock (rank 0)
    run_folder: Path | None = None  # where the checkpoint and the record go (resolved once)

    def loader(self, dataset: Any, drop_last: bool = False) -> DataLoader:
        """This rank's training batches: a ``DistributedSampler`` (seeded, shuffled; the loops set
        its epoch) and ``batch / ranks`` samples per batch; on CUDA fed by worker processes
        into pinned memory (:func:`loader_options`)."""
        sampler = distributed.train_sampler(dataset, True, self.seed, drop_last)
        return DataLoader(
            dataset,
            batch_size=self.batch // distributed.world_size(),
            sampler=sampler,
            **loader_options(self.device),
        )

    def dfc2020(self, split: str, **kwargs: Any) -> datasets.DFC2020:
        """A DFC2020 split of the sample scene with the notebooks' bands."""
        return datasets.DFC2020(self.paths.dfc2020, split=split, s2_bands=BANDS, **kwargs)

    @property
    def precision(self) -> str:
        """What the job trains in: the GANs in fp32 (``fit_gan`` has no AMP), the rest by AMP rule."""
        if self.kind in ("pix2pix", "cgan"):
            return "fp32"
        return config.precision_name(config.amp_dtype(self.device, self.amp))


def loader_options(device: torch.device) -> dict[str, Any]:
    """DataLoader settings per device. CUDA: up to 4 worker processes per rank (the node's cores
    shared among its ranks) and pinned memory, so batches are read while the GPU computes; workers
    are not persistent, so each epoch's workers see the epoch the loop set (``crops`` draws new
    crops per epoch). CPU: no workers (the training threads use the cores)."""
    if torch.device(device).type != "cuda":
        return {}
    cores = (os.cpu_count() or 2) // max(distributed.local_world_size(), 1)
    workers = max(1, min(4, cores - 1))
    return {"num_workers": workers, "pin_memory": True, "prefetch_factor": 2}


def run(
    kind: str,
    profile: str | None = None,
    data: str | os.PathLike | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    out: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = True,
    time_cap_s: float | None = None,
    *,
    amp: bool = True,
    deterministic: bool = False,
    backend: str | None = None,
) -> dict[str, Any]:
    """Train one kind (see :data:`KINDS`) and return its results record (``{}`` on ranks > 0).

    Joins the ``torchrun`` process group when launched by it (``backend``: nccl or gloo instead
    of the automatic choice, see ``distributed.default_backend``) and leaves it at the end.
    Rank 0 prints one line at the start: device, capability, precision, backend, ranks.
    ``time_cap_s``: the safety cap per model (default the profile's ``time_cap_s``; 0: none).
    ``amp``: False trains in exact fp32. ``deterministic``: deterministic algorithms (slower on
    CUDA; ``config.seed_everything``). One job writes into a run folder at a time (a lock).
    """
    if kind not in KINDS:
        raise JobError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    started_group = distributed.init(backend)
    job = None
    try:
        config.seed_everything(seed, deterministic=deterministic)
        job = _prepare(kind, profile, data, epochs, batch_size, out, seed, progress)
        job.amp = amp
        if time_cap_s is not None:
            job.settings["time_cap_s"] = time_cap_s or None
        if distributed.is_main():
            print(_start_line(job, deterministic), flush=True)
        began = time.perf_counter()
        scores, history = TRAINERS[kind](job)
        seconds = time.perf_counter() - began
        record = _record(job, scores, history, seconds) if distributed.is_main() else {}
        distributed.barrier()  # every rank done before the group goes (a gloo teardown race)
        return record
    finally:
        if job is not None and job.lock is not None:
            locks.release(job.lock)
        if started_group:
            distributed.cleanup()


def _start_line(job: Job, deterministic: bool) -> str:
    """The one-line device report of a job's start (rank 0)."""
    line = config.device_report(
        job.device, job.precision, distributed.backend() or "none", distributed.world_size()
    )
    return f"eosr train {job.kind}: {line}; {'deterministic' if deterministic else 'fast'} kernels"


LOCK_NAME = ".eosr-train.lock"  # in the run folder while a job writes there


def claim_folder(folder: Path) -> Path | None:
    """Take the run folder's writer lock on rank 0 (``helpers.core.locks``), so two jobs never write
    into one ``--out``: a folder held by a live job is refused at once, with its PID; a lock
    left by a killed job is taken over. Every rank learns the answer; the lock path on rank 0."""
    path, problem = Path(folder) / LOCK_NAME, ""
    if distributed.is_main():
        if path.exists() and not locks.is_stale(path):
            owner = locks.holder(path) or {}
            problem = (
                f"{folder}: another eosr train (pid {owner.get('pid', '?')} on "
                f"{owner.get('host', '?')}) is writing to this folder. Wait for it to finish, "
                "or choose another --out."
            )
        else:
            locks.acquire(path, "eosr train in this folder", verbose=False)
    problem = distributed.broadcast_object(problem)
    if problem:
        raise JobError(problem)
    return path if distributed.is_main() else None


def _prepare(
    kind: str,
    profile: str | None,
    data: str | os.PathLike | None,
    epochs: int | None,
    batch_size: int | None,
    out: str | os.PathLike | None,
    seed: int,
    progress: bool,
) -> Job:
    """Settings, sample scene (built by rank 0 first), run folder and checkpoint path of a job."""
    data_root = Path(data).expanduser().resolve() if data is not None else config.data_dir()
    profile = config.get_profile(profile)
    settings = config.settings(NOTEBOOK[kind], profile)
    batch = int(batch_size or settings["batch"])
    world = distributed.world_size()
    if batch < world or batch % world:
        raise JobError(
            f"--batch-size {batch} does not split over {world} ranks; give a multiple of {world} "
            "(the global batch is split evenly, so that 1 and N ranks train alike)."
        )
    if epochs is not None and epochs < 1:
        raise JobError(f"--epochs must be at least 1, got {epochs}")
    from ..data import synthetic  # the sample-scene generator: only when a job runs

    if distributed.is_main():
        synthetic.ensure_sample(profile, verbose=False, data=data_root)
    distributed.barrier()
    paths = synthetic.ensure_sample(profile, verbose=False, data=data_root)
    run_folder = Path(out).expanduser().resolve() if out else None
    if run_folder is None:  # rank 0 makes the run folder, every rank writes into it
        run_folder = distributed.broadcast_object(
            runs.new_run_dir(profile) if distributed.is_main() else None
        )
    lock = claim_folder(run_folder)
    device = distributed.device() if distributed.active() else config.pick_device(verbose=False)
    job = Job(
        kind,
        profile,
        settings,
        int(epochs or settings["epochs"]),
        batch,
        seed,
        device,
        paths,
        runs.job_checkpoint_path(kind, run_folder),
        progress,
        run_folder=run_folder,
    )
    job.lock = lock
    return job


# ---- the kinds: what each notebook trains ----


def step_coarse(model: torch.nn.Module, batch: dict[str, Any], loss_fn: Callable) -> torch.Tensor:
    """The label-SR ``step_fn`` of notebook 04: the model learns from the coarse labels only."""
    return loss_fn(model(batch["image"]), batch["coarse"])


def _unet(job: Job, loss_fn: Callable | None = None, step_fn: Callable | None = None) -> Any:
    """Notebook 03's U-Net by its recipe (``recipes.landcover.unet``; with notebook 04's loss and
    step, its label-SR U-Net), batches from this job's sampler; scored on the test patches' fine
    labels."""
    s, test = job.settings, job.dfc2020("test")
    monitor = job.dfc2020("test", crop=min(128, s["crop"] * 2), files=test.ids()[:4])
    model, history = landcover.unet(
        job.dfc2020("validation"), {**s, "epochs": job.epochs}, job.seed,
        num_classes=NUM_CLASSES, loss=loss_fn or landcover.cross_entropy, device=job.device,
        checkpoint=job.checkpoint, progress=job.progress, loader=job.loader, amp=job.amp,
        val_loader=DataLoader(monitor, batch_size=4) if step_fn is None else None,
        step_fn=step_fn,
        meta=_meta(job, width=s["width"], depth=s["depth"], num_classes=NUM_CLASSES),
    )  # fmt: skip
    scores = train.evaluate(model, DataLoader(test, batch_size=4), NUM_CLASSES, device=job.device)
    return scores.summary(), history


def _label_sr(job: Job) -> Any:
    """Notebook 04's label super-resolution: a U-Net from coarse labels and co-occurrence statistics."""
    patches = job.dfc2020("validation")
    coarse = torch.stack([patches[i]["coarse"] for i in range(len(patches))])
    fine = torch.stack([patches[i]["mask"] for i in range(len(patches))])
    stats = losses.cooccurrence_statistics(
        coarse, fine, BLOCK, NUM_CLASSES, NUM_CLASSES, min_var=MIN_VAR
    )
    loss = losses.LabelSRLoss(stats["mu"], stats["sigma2"], block=BLOCK, min_pixels=BLOCK**2 // 2)
    job.notes.append(f"co-occurrence statistics, block {BLOCK}, min_var {MIN_VAR}")
    return _unet(job, loss, step_coarse)


def _gan(job: Job) -> Any:
    """Notebook 05's pix2pix (Sentinel-2 -> labels, tanh) or cGAN (coarse labels -> fine labels) by
    its recipe (``recipes.gan``), batches from this job's sampler; scored on the test patches."""
    keys = ("coarse", "mask") if job.kind == "cgan" else ("image", "mask")
    train_set, test_set = (
        {k: torch.stack([s[k] for s in crops.load(job.dfc2020(split))]).numpy() for k in keys}
        for split in ("validation", "test")
    )
    common = dict(
        profile=job.profile, seeds=[job.seed], device=job.device, num_classes=NUM_CLASSES,
        checkpoint_for=lambda _tag: job.checkpoint, progress=job.progress,
        loader=lambda data: job.loader(data, drop_last=len(data) > job.batch),
        epochs=job.epochs, time_cap_s=job.settings["time_cap_s"],
    )  # fmt: skip
    if job.kind == "cgan":
        test = (test_set["coarse"], test_set["mask"])
        result = gan.cgan(train_set["coarse"], train_set["mask"], test=test, **common)
    else:
        test = (test_set["image"], test_set["mask"])
        result = gan.pix2pix(train_set["image"], train_set["mask"], test=test, **common)
    job.notes.append(f"recipe {result.method} (helpers.training.recipes.gan)")
    return result.runs.scores[0].summary(), result.runs.histories[0]


def _ntl_sr(job: Job) -> Any:
    """Notebook 08's full night-light model by its recipe (``recipes.night_lights``), batches from
    this job's sampler; PSNR/SSIM/... on the test patches (rank 0 scores)."""
    s = job.settings
    train_set = night_lights.training_data(job.paths.ntl, s["crop"], s["repeats"], job.seed)
    model, history, _, _ = night_lights.train_model(
        {}, {}, train_set, **{**night_lights.fit_settings(s), "epochs": job.epochs},
        seed=job.seed, device=job.device, checkpoint=job.checkpoint, loader=job.loader,
        progress=job.progress, amp=job.amp, meta=_meta(job, width=s["width"]),
    )  # fmt: skip
    if not distributed.is_main():
        return {}, history
    return night_lights.scores(model, datasets.NTL(job.paths.ntl, "test")), history


TRAINERS: dict[str, Callable[[Job], Any]] = {
    "unet": _unet,
    "label_sr": _label_sr,
    "pix2pix": _gan,
    "cgan": _gan,
    "ntl_sr": _ntl_sr,
}


# ---- what is kept ----


def _meta(job: Job, **model: Any) -> dict[str, Any]:
    """What the checkpoint says about itself (so that a notebook can check what it loads)."""
    from ..data import synthetic

    return {
        "notebook": NOTEBOOK[job.kind],
        "kind": job.kind,
        "profile": job.profile,
        "bands": list(BANDS),
        "scene": synthetic.scene_id(job.paths.root),
        "command": "eosr train",
        **model,
    }


def _record(job: Job, scores: dict[str, float], history: Any, seconds: float) -> dict[str, Any]:
    """The results record of a job (rank 0)."""
    done = history.epochs_done
    notes = [f"{done} epochs", f"global batch {job.batch} on {distributed.world_size()} rank(s)"]
    notes += job.notes + [history.stop_reason or "all epochs"]
    return results.record(
        NOTEBOOK[job.kind],
        METHOD[job.kind],
        scores,
        profile=job.profile,
        device=str(job.device),
        seconds=seconds,
        notes="; ".join(notes),
        capped=history.capped,
        checkpoint=str(job.checkpoint),
        ranks=distributed.world_size(),
        backend=distributed.backend(),
        precision=getattr(history, "precision", job.precision),
        global_batch=job.batch,
        epochs=done,
        seed=job.seed,
        final_losses=_final_losses(history),
        run_folder=job.run_folder,
    )


def _final_losses(history: Any) -> dict[str, float]:
    """The last epoch's mean training losses (``train_loss``, or D/G losses of a GAN)."""
    names = ("train_loss",) if hasattr(history, "train_loss") else ("d_loss", "g_loss", "g_l1")
    return {n: getattr(history, n)[-1] for n in names if getattr(history, n)}

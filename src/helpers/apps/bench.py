"""``eosr bench``: what the kit costs, measured with repeats (min / median / max).

Groups: ``readers`` (dataset samples/s against a bare rasterio read of the same files),
``streaming`` (one epoch streamed from disk vs in memory, with peak memory), ``training``
(samples/s per trained model fed as its notebook's recipe feeds it: notebook 03's and 08's crops
in memory through a DataLoader, 04's and 05's crops resident on the device; against the same steps
on one batch already on the device, ``fed / resident``, and against the layout's file reader, the
real-data path, ``file reader / resident``; on CUDA also exact fp32 vs AMP in the dtype training
would use, bf16 from compute capability 8.0 and fp16 below, and channels_last), ``tiled`` (NTL
tiled inference pixels/s and peak memory, on the device the row names) and ``notebooks`` (wall
time of each notebook per profile, read from the reproduction logs under ``runs/``). Results go to
``bench.json`` and ``bench.md`` in a run folder.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import config
from ..records import report, results, runs
from .bench_streaming import bench_streaming, max_rss_mib

GROUPS = ("readers", "streaming", "training", "tiled", "notebooks")


def repeat(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Seconds of ``fn()`` over ``repeats`` runs after ``warmup`` runs: min, median, max."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"min": min(times), "median": statistics.median(times), "max": max(times)}


def _rate(seconds: dict[str, float], count: float) -> dict[str, float]:
    """Turn seconds for ``count`` items into items per second (min time -> max rate)."""
    return {
        "max": count / seconds["min"],
        "median": count / seconds["median"],
        "min": count / seconds["max"],
    }


# ---- readers ----


def reader_cases(profile: str, n: int) -> list[tuple[str, Any]]:
    """(name, dataset) per reader, over the sample scene (a Scene of ``n`` crops)."""
    from ..data import datasets, synthetic

    paths = synthetic.ensure_sample(profile, verbose=False)
    crop = config.settings("unet_landcover", profile)["crop"]
    cases = [
        ("SEN12MS", datasets.SEN12MS(paths.sen12ms, s2_bands=("B04", "B03", "B02", "B08"))),
        ("DFC2020", datasets.DFC2020(paths.dfc2020, split="test")),
        ("NTL", datasets.NTL(paths.ntl, split="train")),
        ("Scene", datasets.Scene(Path(paths.scene) / "s2.tif", crop=crop, samples=n)),
    ]
    return cases


def bench_readers(profile: str, repeats: int, n: int = 16) -> list[dict[str, Any]]:
    """Samples/s of each dataset reader vs a bare rasterio read of the same files (the floor),
    timed alternately sample by sample (reader sample i, then its files bare) so that a change
    of machine load hits both alike; ``% of floor`` = reader rate / floor rate (median wall
    times), ``% of floor (CPU time)`` the same from the process's CPU time."""
    import rasterio

    rows = []
    for name, ds in reader_cases(profile, n):
        count = min(n, len(ds))
        per_sample = [_sample_files(ds, i) for i in range(count)]

        def bare(files: list[tuple[Path, Any]]) -> None:
            for f, window in files:
                with rasterio.open(f) as src:
                    src.read(window=window)

        t_ds, t_raw, cpu_ratio = _paired(
            lambda i, ds=ds: ds[i], lambda i, ps=per_sample: bare(ps[i]), count, repeats
        )
        rows.append(
            {
                "group": "readers",
                "case": name,
                "unit": "samples/s",
                **_rate(t_ds, count),
                "floor (bare rasterio)": count / t_raw["median"],
                "% of floor": 100 * t_raw["median"] / t_ds["median"],
                "% of floor (CPU time)": 100 * cpu_ratio,
                "files per sample": sum(map(len, per_sample)) / count,
            }
        )
    return rows


def _paired(
    fn_a: Callable[[int], Any], fn_b: Callable[[int], Any], count: int, repeats: int
) -> tuple[dict[str, float], dict[str, float], float]:
    """Seconds of ``fn_a(i)`` and ``fn_b(i)`` over ``i < count``, called in turn for each ``i``:
    wall-clock min / median / max of each over ``repeats`` passes (after one warm-up pass), and
    the ratio of their total CPU times b / a (steadier than the wall clock on a shared machine)."""
    times: tuple[list[float], list[float]] = ([], [])
    cpu = [0.0, 0.0]
    for rep in range(repeats + 1):
        spent = [0.0, 0.0]
        for i in range(count):
            for k, fn in enumerate((fn_a, fn_b)):
                start, start_cpu = time.perf_counter(), time.process_time()
                fn(i)
                spent[k] += time.perf_counter() - start
                cpu[k] += (time.process_time() - start_cpu) if rep else 0.0
        if rep:  # the first pass warms caches up
            times[0].append(spent[0])
            times[1].append(spent[1])
    a, b = ({"min": min(t), "median": statistics.median(t), "max": max(t)} for t in times)
    return a, b, cpu[1] / max(cpu[0], 1e-12)


def _files_of(ds: Any, count: int) -> list[tuple[Path, Any]]:
    """(GeoTIFF, window) pairs behind the first ``count`` samples of a dataset."""
    return [f for i in range(count) for f in _sample_files(ds, i)]


def _sample_files(ds: Any, i: int) -> list[tuple[Path, Any]]:
    """(GeoTIFF, window) pairs sample ``i`` reads: every file it needs, and for a :class:`Scene`
    crop its window of each image file (the bare-read floor)."""
    from rasterio.windows import Window

    from ..data.layouts import NTL_LAYERS

    if hasattr(ds, "patches"):  # SEN12MS / DFC2020: s2 + labels (+ dfc)
        mods = ["s2", "lc"] + (["dfc"] if ds.patches[i].path("dfc").exists() else [])
        return [(ds.patches[i].path(m), None) for m in mods]
    if hasattr(ds, "window_for"):  # Scene: the crop's window of each image file
        r, c, h, w = ds.window_for(i)
        return [(p, Window(c, r, w, h)) for p in dict.fromkeys(s[1] for s in ds.sources)]
    return [(ds._path(layer, ds.ids_[i]), None) for layer in NTL_LAYERS]  # NTL: every layer


# ---- training ----


@dataclass
class TrainingCase:
    """One trained model of the notebooks: how it is built, fed and scored per step.

    ``feed(device)``: the batches its notebook's recipe trains on (the path timed as "fed");
    ``files(device)``: the same samples read from the layout's files per step by a DataLoader
    (the real-data path, timed as the extra "file reader" column); ``loss(model, batch, device)``.
    """

    name: str
    build: Callable[[], Any]
    feed: Callable[[Any], Iterable]
    files: Callable[[Any], Iterable]
    loss: Callable[..., Any]


def training_cases(profile: str) -> list[TrainingCase]:
    """The trained models as their notebooks feed them, with ``profile``'s settings: notebook 03's
    U-Net (``crops.for_landcover`` in memory, the recipe's DataLoader), notebook 04's label-SR
    U-Net (``recipes.label_sr.batches``: resident crops, turns as tensor ops), notebook 05's pix2pix
    generator (``crops.ResidentBatches`` with flips, as ``recipes.gan``) and notebook 08's NTL
    network (``recipes.night_lights.training_data`` + ``batches``: crops in memory)."""
    from torch.utils.data import DataLoader

    from ..core import bands
    from ..data import crops, datasets, synthetic
    from ..models import losses, ntl_sr, pix2pix, unet
    from ..training.recipes import label_sr, night_lights

    paths = synthetic.ensure_sample(profile, verbose=False)
    u, lsr = (
        config.settings("03_unet_landcover", profile),
        config.settings("04_label_super_resolution", profile),
    )
    g, n = (
        config.settings("05_cgan_pix2pix", profile),
        config.settings("08_ntl_super_resolution", profile),
    )
    rgbn = bands.s2_set("RGB_NIR")

    def dfc(crop: int | None = None) -> Any:
        return datasets.DFC2020(
            paths.dfc2020, split="validation", s2_bands=rgbn, crop=crop, augment=crop is not None
        )

    patches = crops.load(dfc(), label_sr.KEYS)  # read once, as notebooks 04 and 05 do

    def files(data: Any, batch: int) -> Callable[[Any], Iterable]:
        return lambda device: DataLoader(
            data, batch_size=batch, shuffle=True, **_loader_kwargs(device)
        )

    return [
        TrainingCase(
            "U-Net (03)",
            lambda: unet.UNet(4, 8, width=u["width"], depth=u["depth"]),
            lambda device: DataLoader(crops.for_landcover(dfc(), u["crop"], u["samples"]), batch_size=u["batch"], shuffle=True),
            files(dfc(u["crop"]), u["batch"]),
            _mask_loss,
        ),
        TrainingCase(
            "U-Net label SR (04)",
            lambda: unet.UNet(4, 8, width=lsr["width"], depth=lsr["depth"]),
            lambda device: label_sr.batches(patches, lsr, 0, device),
            files(dfc(lsr["crop"]), lsr["batch"]),
            _mask_loss,
        ),
        TrainingCase(
            "pix2pix G (05)",
            lambda: pix2pix.generator(4, 8, patch=g["crop"], ngf=g["ngf"]),
            lambda device: crops.ResidentBatches(
                patches, g["crop"], g["batch"], keys=label_sr.KEYS, augment="flips",
                batches=g["steps_per_epoch"], device=device,
            ),
            files(dfc(g["crop"]), g["batch"]),
            _pix2pix_loss,
        ),
        TrainingCase(
            "NTL SR (08)",
            lambda: ntl_sr.build(width=n["width"]),
            lambda device: night_lights.batches(night_lights.training_data(paths.ntl, n["crop"], n["repeats"], 0), n["batch"], 0),
            files(datasets.NTL(paths.ntl, split="train", crop=n["crop"], augment=True), n["batch"]),
            lambda model, batch, device: ntl_sr.step(model, batch, losses.ntl_sr_loss),
        ),
    ]  # fmt: skip


def _mask_loss(model: Any, batch: dict, device: Any) -> Any:
    """Cross-entropy of a U-Net on the batch's fine labels (255 ignored)."""
    import torch.nn.functional as F

    out = model(batch["image"].to(device, non_blocking=True))
    return F.cross_entropy(out, batch["mask"].to(device, non_blocking=True), ignore_index=255)


def _pix2pix_loss(model: Any, batch: dict, device: Any) -> Any:
    """The generator's L1 to the one-hot fine labels in [-1, 1] (the step's cost, not a recipe)."""
    import torch.nn.functional as F

    image = batch["image"].to(device, non_blocking=True)
    mask = batch["mask"].to(device, non_blocking=True)
    target = F.one_hot(mask.clamp(max=7), 8).permute(0, 3, 1, 2).float() * 2 - 1
    return F.l1_loss(model(image), target)


def precision_variants(device: Any) -> list[tuple[str, Any, bool]]:
    """``(label, autocast dtype or None, channels_last)`` of the training rows: exact fp32 on
    every device; on CUDA also AMP in the dtype ``train.fit`` would choose there
    (``config.amp_dtype``: bf16 from compute capability 8.0, fp16 with a GradScaler below, so a
    T4 is never timed on emulated bf16), without and with channels_last."""
    import torch

    variants: list[tuple[str, Any, bool]] = [("fp32", None, False)]
    dtype = config.amp_dtype(device, True)
    if dtype is not None:
        name = "amp-" + ("bf16" if dtype == torch.bfloat16 else "fp16")
        variants += [(name, dtype, False), (f"{name}+channels_last", dtype, True)]
    return variants


def bench_training(profile: str, repeats: int, steps: int) -> list[dict[str, Any]]:
    """Training samples/s per model and precision (:func:`precision_variants`) fed as its notebook
    feeds it (:func:`training_cases`), against the same steps on one batch already on the device
    (``fed / resident``: 1 = feeding costs nothing), and fed from the layout's files (the real-data
    path, ``file reader / resident``); the three are timed in turn, repeat by repeat."""
    import torch

    device = config.pick_device(verbose=False)
    rows = []
    for case in training_cases(profile):
        for label, dtype, channels_last in precision_variants(device):
            config.seed_everything(0)
            model = case.build().to(device)
            if channels_last:
                model = model.to(memory_format=torch.channels_last)
            step = _trainer(model, case.loss, dtype, device)
            feeds = {"fed": case.feed(device), "files": case.files(device)}
            resident = _on_device(next(iter(feeds["fed"])), device)
            runs_of = {
                name: _steps(step, _cycle(feed), steps, device) for name, feed in feeds.items()
            }
            runs_of["resident"] = _steps(step, _repeat_batch(resident), steps, device)
            runs_of["feed only"] = _steps(_no_step, _cycle(case.feed(device)), steps, device)
            with config.exact_fp32() if dtype is None else _no_context():
                t, cpu = _interleaved(runs_of, repeats)
            n = steps * _batch_size(resident)
            rows.append(
                {
                    "group": "training",
                    "case": f"{case.name} [{device.type} {label}]",
                    "unit": "samples/s",
                    **_rate(t["fed"], n),
                    "device-resident samples/s": n / t["resident"]["median"],
                    "fed / resident": t["resident"]["median"] / t["fed"]["median"],
                    "fed / resident (best round)": t["resident"]["min"] / t["fed"]["min"],
                    "fed / resident (CPU time)": cpu["resident"] / max(cpu["fed"], 1e-12),
                    "file reader / resident": t["resident"]["median"] / t["files"]["median"],
                    "feed ms/batch": 1000 * t["feed only"]["median"] / steps,
                    "resident / (resident + feed)": t["resident"]["median"]
                    / (t["resident"]["median"] + t["feed only"]["median"]),
                    "pixels/s": n * _pixels(resident) / t["fed"]["median"],
                }
            )
    return rows


def _no_step(batch: dict) -> None:
    """The feed alone: a batch drawn, no step taken (what feeding costs a step)."""


def _trainer(
    model: Any, loss_fn: Callable[..., Any], dtype: Any, device: Any
) -> Callable[[dict], None]:
    """One optimisation step of ``model`` on a batch (Adam; autocast in ``dtype``, a GradScaler
    for fp16), as the training loops take it."""
    import torch

    opt = torch.optim.Adam(model.parameters(), 1e-4)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None

    def step(batch: dict) -> None:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = loss_fn(model, batch, device)
        opt.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

    return step


def _steps(
    step: Callable[[dict], None], batches: Iterable, steps: int, device: Any
) -> Callable[[], None]:
    """``steps`` steps on the next batches of one endless stream (kept between calls, so a
    DataLoader is not restarted each repeat), the device synchronised at the end."""
    it = iter(batches)

    def run() -> None:
        for _ in range(steps):
            step(next(it))
        _sync(device)

    return run


def _interleaved(
    runs: dict[str, Callable[[], None]], repeats: int
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Wall seconds (min / median / max) and total CPU seconds of each run, over ``repeats``
    rounds after a warm-up round, the runs taking turns within a round so that a change of load
    on a shared machine hits all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu = dict.fromkeys(runs, 0.0)
    for rep in range(repeats + 1):
        for name, run in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            if rep:  # the first round warms up
                times[name].append(time.perf_counter() - start)
                cpu[name] += time.process_time() - start_cpu
    summary = {
        name: {"min": min(t), "median": statistics.median(t), "max": max(t)}
        for name, t in times.items()
    }
    return summary, cpu


def _on_device(batch: dict, device: Any) -> dict:
    """The batch's tensors moved to ``device`` (other values kept)."""
    import torch

    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


def _repeat_batch(batch: dict) -> Iterable:
    while True:
        yield batch


def _batch_size(batch: dict) -> int:
    import torch

    return int(next(v for v in batch.values() if torch.is_tensor(v)).shape[0])


def _no_context() -> Any:
    import contextlib

    return contextlib.nullcontext()


def _loader_kwargs(device: Any) -> dict[str, Any]:
    """DataLoader settings per device: workers, pinned memory and persistent workers on CUDA."""
    if device.type == "cuda":
        return {
            "num_workers": 4,
            "pin_memory": True,
            "persistent_workers": True,
            "prefetch_factor": 4,
        }
    return {"num_workers": 0}


def _cycle(loader: Iterable) -> Iterable:
    """The loader's batches, epoch after epoch; an epoch without a batch raises (it would loop
    for ever)."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError(f"{loader!r} gives no batch: fewer samples than one batch?")


def _pixels(batch: dict) -> int:
    key = "high_res" if "high_res" in batch else "image"
    return int(batch[key].shape[-1] * batch[key].shape[-2])


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


# ---- tiled inference ----


def bench_tiled(profile: str, repeats: int) -> list[dict[str, Any]]:
    """Pixels/s and peak memory of the NTL model's tiled inference over the whole sample scene,
    on the device the other rows use (the model is moved there; the row names it)."""
    import tempfile
    import tracemalloc

    from ..data import synthetic
    from ..models import ntl_sr
    from ..training import inference

    paths = synthetic.ensure_sample(profile, verbose=False)
    cfg = config.settings("ntl_super_resolution", profile)
    device = config.pick_device(verbose=False)
    model = ntl_sr.build(width=cfg["width"]).to(device).eval()
    tile = cfg.get("tile", config.settings("scene", profile)["ntl_patch"])
    overlap = cfg.get("overlap", tile // 4)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ntl_fine.tif"

        def run() -> None:
            scene = paths.scene
            inference.predict_ntl(
                model,
                scene / "ntl_lr.tif",
                scene / "dmo.tif",
                scene / "ntl_dem.tif",
                tile=tile,
                overlap=overlap,
                out_path=out,
                progress=False,
            )

        tracemalloc.start()
        t = repeat(run, repeats, warmup=0)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        from ..io import rasters

        h, w = rasters.grid_of(out)[2]
    return [
        {
            "group": "tiled",
            "case": f"NTL SR tiled ({h}x{w}, tile {tile}) [{device.type}]",
            "unit": "pixels/s",
            **_rate(t, h * w),
            "peak traced MiB": peak / 2**20,
            "max RSS MiB": max_rss_mib(),
        }
    ]


# ---- notebooks ----


def bench_notebooks() -> list[dict[str, Any]]:
    """Wall time of each notebook per profile: its newest execution in any reproduction run."""
    latest: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
    for log in sorted(config.runs_dir().glob("*/notebooks.jsonl")):  # names sort by time
        run = log.parent.name
        profile = run.split("-")[2] if run.count("-") >= 2 else "?"
        for rec in results.load_notebook_log(log.parent):
            latest[(rec["notebook"], profile)] = (rec, run)
    rows = [
        {
            "group": "notebooks",
            "case": f"{nb} [{profile}]",
            "unit": "s",
            "median": rec["seconds"],
            "status": rec["status"],
            "run": run,
        }
        for (nb, profile), (rec, run) in sorted(latest.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]
    if not rows:
        rows.append(
            {
                "group": "notebooks",
                "case": "no reproduction run found",
                "unit": "s",
                "status": "run `make reproduce` (any profile) first",
            }
        )
    return rows


# ---- the README's run-time table ----

README_START = "<!-- eosr:bench-times (written by `eosr bench`) -->"
README_END = "<!-- /eosr:bench-times -->"
PROFILE_ORDER = ("smoke", "teaching", "full")


def times_table(rows: list[dict[str, Any]], env: dict[str, Any]) -> str:
    """Markdown: one row per notebook, one column per profile (newest reproduction of each)."""
    cells: dict[str, dict[str, str]] = {}
    for r in rows:
        if r.get("group") != "notebooks" or "median" not in r:
            continue
        nb, profile = r["case"].rsplit(" [", 1)
        mark = "" if r.get("status") == "ok" else f" ({r.get('status')})"
        cells.setdefault(nb, {})[profile.rstrip("]")] = f"{float(r['median']):.0f} s{mark}"
    if not cells:
        return "No reproduction run found yet: run `make reproduce`, then `eosr bench`."
    profiles = [p for p in PROFILE_ORDER if any(p in c for c in cells.values())]
    lines = ["| notebook | " + " | ".join(profiles) + " |", "|---|" + "---|" * len(profiles)]
    for nb in sorted(cells):
        lines.append(f"| {nb} | " + " | ".join(cells[nb].get(p, "–") for p in profiles) + " |")
    note = (
        f"Wall time of each notebook's newest `make reproduce` run (papermill), as of {env['date']}: "
        f"Python {env['python']}, {env['device']}."
    )
    return note + "\n\n" + "\n".join(lines)


RESULTS_START = "<!-- eosr:results (written by `eosr bench`) -->"
RESULTS_END = "<!-- /eosr:results -->"


def results_section(profile: str = "teaching") -> str:
    """Markdown: the results of the newest reproduction run of ``profile`` that executed the most
    notebooks (one run, so the rows come from one commit and one machine; a later run of a few
    notebooks, e.g. to re-time one, does not replace a whole run's table), published numbers
    beside them."""
    found = [
        d
        for d in sorted(config.runs_dir().glob(f"*-{profile}"))
        if (d / results.NOTEBOOK_LOG).is_file() and (d / "results.jsonl").is_file()
    ]
    if not found:
        return (
            f"No `{profile}` reproduction run found yet: run `make reproduce`, then `eosr bench`."
        )
    run = max(found, key=lambda d: (len(results.load_notebook_log(d)), d.name))
    log = results.load_notebook_log(run)
    failed = sorted(r["notebook"] for r in log if r.get("status") != "ok")
    note = (
        f"Results of the newest `{profile}` reproduction run (`{run.name}`, "
        f"{len(log)} notebooks, {'failed: ' + ', '.join(failed) if failed else 'all ok'}). "
        "Rows on the sample scene teach the methods; they are not comparable with the published "
        "numbers, which were computed on real data (see each table's notes in `report.html`)."
    )
    records = results.load(run, skip_broken=True)
    verdicts = "\n".join(f"- {line}" for line in report.ordering_lines(records))
    return (
        note
        + "\n\n"
        + report.markdown_results(records)
        + "\n\n"
        + verdicts
        + three_orderings(records)
    )


def three_orderings(records: list[dict[str, Any]]) -> str:
    """Markdown: HR-MARS's methods ordered as published, on the sample scene and on the real scene
    (notebook 13), from one run's records; empty when notebook 13 did not record."""
    from ..training import real_landcover

    real = real_landcover.real_scene_ious(records)
    if not real:
        return ""
    methods = set(real_landcover.HR_MARS_ROWS.values())  # one row per method, as published
    published = {r.row: r.metrics["iou"] for r in report.TABLES[0].rows if r.row in methods}
    table = real_landcover.orderings(published, real_landcover.sample_scene_ious(records), real)
    return (
        "\n\nThe HR-MARS methods ordered three ways (macro IoU; published: HR-MARS on DFC2020; sample "
        f"scene: notebooks 03-06; real scene: notebook 13 on `{real_landcover.DATASET}`, each method "
        "as published; read the real column with notebook 13's floors):\n\n"
        + real_landcover.markdown(table)
    )


def update_readme(
    readme: Path, table: str, start_mark: str = README_START, end_mark: str = README_END
) -> bool:
    """Replace the text between two README markers (default: the bench-times ones) by
    ``table``; False (and the README untouched) when the markers are missing."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(start_mark), text.find(end_mark)
    if start < 0 or end < start:
        print(f"{readme}: no {start_mark} ... {end_mark} markers; table not written")
        return False
    new = text[: start + len(start_mark)] + "\n" + table.strip() + "\n" + text[end:]
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return True


# ---- the command ----


def environment() -> dict[str, Any]:
    """Machine and versions, stored with every benchmark."""
    import torch

    device = config.pick_device(verbose=False)
    return {
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": config.device_report(device),
        "cpu_threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    """A markdown table of benchmark rows (median first; other columns as they come)."""
    cols = ["group", "case", "unit", "median", "min", "max"]
    extra = sorted({k for r in rows for k in r} - set(cols))
    cols += extra
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(_cell(r.get(c, "")) for c in cols) + " |")
    return "\n".join(lines)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def main(
    profile: str | None = None, only: list[str] | None = None, readme: Path | None = None
) -> int:
    """Run the benchmark groups, print the table, write ``bench.json`` and ``bench.md``, and
    (notebook group) the README's run-time table, the one place run times are stated."""
    profile = config.get_profile(profile)
    cfg = config.settings("bench", profile)
    groups = only or list(GROUPS)
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise SystemExit(f"unknown benchmark group(s) {sorted(unknown)}; choose from {GROUPS}")
    rows: list[dict[str, Any]] = []
    runners = {
        "readers": lambda: bench_readers(profile, cfg["repeats"]),
        "streaming": bench_streaming,
        "training": lambda: bench_training(profile, cfg["repeats"], cfg["steps"]),
        "tiled": lambda: bench_tiled(profile, cfg["repeats"]),
        "notebooks": bench_notebooks,
    }
    for g in groups:
        print(f"benchmark: {g} ...", flush=True)
        rows.extend(runners[g]())
    env = environment()
    table = format_table(rows)
    out = runs.run_dir()
    (out / "bench.json").write_text(
        json.dumps({"environment": env, "profile": profile, "rows": rows}, indent=1)
    )
    (out / "bench.md").write_text(f"{env}\n\n{table}\n")
    print(table)
    print(f"\n{env['device']}; written to {out / 'bench.json'}")
    readme = readme or config.repo_root() / "README.md"
    if "notebooks" in groups and readme.exists() and update_readme(readme, times_table(rows, env)):
        print(f"run-time table updated in {readme}")
    if "notebooks" in groups and readme.exists():
        if update_readme(readme, results_section(), RESULTS_START, RESULTS_END):
            print(f"results table updated in {readme}")
    return 0

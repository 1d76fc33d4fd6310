"""``eosr bench``: what the kit costs, measured with repeats (min / median / max).

Groups: ``readers`` (dataset samples/s against a bare rasterio read of the same files),
``training`` (samples/s and pixels/s per model: fed by the kit's DataLoader vs from tensors already
on the device; on CUDA also exact fp32 vs AMP in the dtype training would use, bf16 from compute
capability 8.0 and fp16 below, and channels_last), ``tiled`` (NTL tiled inference pixels/s and
peak memory, on the device the row names) and ``notebooks`` (wall time of each notebook per profile, read from the
reproduction logs under ``runs/``). Results go to ``bench.json`` and ``bench.md`` in a run folder.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..core import config
from ..records import report, results, runs

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


# ---- streaming vs in memory ----


def bench_streaming(
    patches: int = 1000, size: int = 64, crop: int = 32, workers: int = 2
) -> list[dict[str, Any]]:
    """One training epoch over ``patches`` demo patches, streamed from disk (:mod:`streaming`,
    ``workers`` DataLoader workers) and in memory (:mod:`crops`, read once): samples/s including
    the reading, peak RSS of the main process and peak PSS of main process + workers together.
    Each path runs in a fresh Python process so that the peaks are its own."""
    import subprocess
    import sys
    import tempfile

    from ..data.datasets import streaming

    root = Path(tempfile.gettempdir()) / f"eosr-bench-stream-{patches}x{size}"
    streaming.write_demo_patches(root, patches, size=size)
    rows = []
    for mode in ("streaming", "in memory"):
        code = f"from helpers.apps import bench; bench._epoch_child({mode!r}, {str(root)!r}, {crop}, {workers})"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        rec = json.loads(out.strip().splitlines()[-1])
        rows.append(
            {
                "group": "streaming",
                "case": f"{mode}: 1 epoch, {patches} patches {size} px, crop {crop}",
                "unit": "samples/s",
                "median": rec["samples"] / rec["seconds"],
                "peak RSS MiB (main process)": rec["rss_main"],
                "peak PSS MiB (main + workers)": rec["pss_all"],
                "workers": rec["workers"],
            }
        )
    return rows


class _PeakMemory:
    """Peak memory of this process and its children (DataLoader workers), sampled every
    ``every`` s from /proc: the sum of PSS (shared pages split between the processes, so forked
    workers are not counted twice). Linux only; elsewhere the peak stays 0."""

    def __init__(self, every: float = 0.2) -> None:
        import threading

        self.every, self.peak_mib, self._stop = every, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mib = max(self.peak_mib, sum(_pss_mib(p) for p in _family()))
            self._stop.wait(self.every)


def _family() -> list[int]:
    """This process and its direct children (from /proc/<pid>/stat's parent pid)."""
    import os

    me, out = os.getpid(), [os.getpid()]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == me:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _pss_mib(pid: int) -> float:
    """Proportional set size of one process in MiB (0 when it is gone or /proc lacks it)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def max_rss_mib() -> float:
    """Peak resident memory of this process in MiB: ``resource`` on Unix (``ru_maxrss``: KiB on
    Linux, bytes on macOS); psutil where ``resource`` does not exist (Windows: the peak working
    set); NaN when neither is there."""
    try:
        import resource
    except ImportError:
        resource = None
    if resource is not None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024
    try:
        import psutil
    except ImportError:
        return float("nan")
    info = psutil.Process().memory_info()
    return getattr(info, "peak_wset", info.rss) / 2**20


def _epoch_child(mode: str, root: str, crop: int, workers: int) -> None:
    """In a fresh process: train a small U-Net one epoch from ``root``; print one JSON line."""
    import torch
    from torch.utils.data import DataLoader

    from ..data import crops, datasets
    from ..data.datasets import streaming
    from ..models import unet
    from ..training import train

    config.seed_everything(0)
    model = unet.UNet(4, 8, width=8, depth=2)
    torch.optim.Adam(model.parameters())  # first use imports torch._dynamo: not the data's time
    start = time.perf_counter()
    with _PeakMemory() as memory:
        if mode == "streaming":
            reader = datasets.SEN12MS(root, crop=crop, augment=True)
            loader = streaming.loader(streaming.Streaming(reader), 16, num_workers=workers)
            shares = [
                len(reader) // max(1, workers) + (w < len(reader) % max(1, workers))
                for w in range(max(1, workers))
            ]
            count = sum(n // 16 * 16 for n in shares)  # drop_last applies per worker
        else:
            workers = 0
            reader = datasets.SEN12MS(root)
            data = crops.for_landcover(reader, crop, samples=len(reader))
            loader = DataLoader(data, batch_size=16, shuffle=True, drop_last=True)
            count = len(data) // 16 * 16
        loss = torch.nn.CrossEntropyLoss(ignore_index=255)
        train.fit(model, loader, loss, 1, progress=False, amp=False, recalibrate_bn=False)
    seconds = time.perf_counter() - start
    rec = {
        "samples": count,
        "seconds": seconds,
        "rss_main": max_rss_mib(),
        "pss_all": memory.peak_mib,
        "workers": workers,
    }
    print(json.dumps(rec))


# ---- training ----


def training_cases(
    profile: str,
) -> list[tuple[str, Callable[[], Any], Callable[[], Any], Callable[..., Any]]]:
    """(name, build model, build dataset, loss(model, batch, device)) for each trainable model."""
    import torch.nn.functional as F

    from ..data import datasets, synthetic
    from ..models import losses, ntl_sr, pix2pix, unet

    paths = synthetic.ensure_sample(profile, verbose=False)
    crop = config.settings("unet_landcover", profile)["crop"]
    unet_cfg = config.settings("unet_landcover", profile)
    gan_cfg = config.settings("cgan_pix2pix", profile)
    ntl_cfg = config.settings("ntl_super_resolution", profile)

    def unet_loss(model: Any, batch: dict, device: Any) -> Any:
        out = model(batch["image"].to(device, non_blocking=True))
        return F.cross_entropy(out, batch["mask"].to(device, non_blocking=True), ignore_index=255)

    def pix2pix_loss(model: Any, batch: dict, device: Any) -> Any:
        image = batch["image"].to(device, non_blocking=True)
        mask = batch["mask"].to(device, non_blocking=True)
        target = F.one_hot(mask.clamp(max=7), 8).permute(0, 3, 1, 2).float() * 2 - 1
        return F.l1_loss(model(image), target)

    def ntl_loss(model: Any, batch: dict, device: Any) -> Any:
        return ntl_sr.step(model, batch, losses.ntl_sr_loss)

    ntl_crop = ntl_cfg.get("crop", config.settings("scene", profile)["ntl_patch"])
    return [
        (
            "U-Net",
            lambda: unet.UNet(4, 8, width=unet_cfg["width"], depth=unet_cfg["depth"]),
            lambda: datasets.DFC2020(paths.dfc2020, split="validation", crop=crop),
            unet_loss,
        ),
        (
            "pix2pix G",
            lambda: pix2pix.generator(4, 8, patch=crop, ngf=gan_cfg["ngf"]),
            lambda: datasets.DFC2020(paths.dfc2020, split="validation", crop=crop),
            pix2pix_loss,
        ),
        (
            "NTL SR",
            lambda: ntl_sr.build(width=ntl_cfg["width"]),
            lambda: datasets.NTL(paths.ntl, split="train", crop=ntl_crop),
            ntl_loss,
        ),
    ]


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


def bench_training(profile: str, repeats: int, steps: int, batch: int = 4) -> list[dict[str, Any]]:
    """Training samples/s and pixels/s per model: DataLoader-fed vs device-resident tensors, per
    precision (:func:`precision_variants`)."""
    import torch
    from torch.utils.data import DataLoader

    device = config.pick_device(verbose=False)
    rows = []
    for name, build_model, build_ds, loss_fn in training_cases(profile):
        ds = build_ds()
        loader_kw = _loader_kwargs(device)
        for label, dtype, channels_last in precision_variants(device):
            config.seed_everything(0)
            model = build_model().to(device)
            if channels_last:
                model = model.to(memory_format=torch.channels_last)
            opt = torch.optim.Adam(model.parameters(), 1e-4)
            scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
            loader = DataLoader(ds, batch_size=batch, shuffle=True, drop_last=True, **loader_kw)
            resident = next(iter(DataLoader(ds, batch_size=batch, shuffle=False)))
            resident = {k: v.to(device) if torch.is_tensor(v) else v for k, v in resident.items()}
            pixels = _pixels(resident)

            def step(
                b: dict,
                model: Any = model,
                opt: Any = opt,
                dtype: Any = dtype,
                scaler: Any = scaler,
                loss_fn: Any = loss_fn,
            ) -> None:
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    loss = loss_fn(model, b, device)
                opt.zero_grad(set_to_none=True)
                if scaler is None:
                    loss.backward()
                    opt.step()
                else:
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()

            def fed(loader: Any = loader) -> None:
                it = iter(_cycle(loader))
                for _ in range(steps):
                    step(next(it))
                _sync(device)

            def on_device(resident: dict = resident) -> None:
                for _ in range(steps):
                    step(resident)
                _sync(device)

            with config.exact_fp32() if dtype is None else _no_context():
                t_fed = repeat(fed, repeats)
                t_dev = repeat(on_device, repeats)
            n = steps * batch
            rows.append(
                {
                    "group": "training",
                    "case": f"{name} [{device.type} {label}]",
                    "unit": "samples/s",
                    **_rate(t_fed, n),
                    "device-resident samples/s": n / t_dev["median"],
                    "fed / resident": t_dev["median"] / t_fed["median"],
                    "pixels/s": n * pixels / t_fed["median"],
                }
            )
    return rows


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
    while True:
        yield from loader


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
    """Markdown: the results of the newest reproduction run of ``profile`` (one run, so the rows
    come from one commit and one machine), published numbers beside them."""
    found = [
        d
        for d in sorted(config.runs_dir().glob(f"*-{profile}"))
        if (d / results.NOTEBOOK_LOG).is_file() and (d / "results.jsonl").is_file()
    ]
    if not found:
        return (
            f"No `{profile}` reproduction run found yet: run `make reproduce`, then `eosr bench`."
        )
    run = found[-1]
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

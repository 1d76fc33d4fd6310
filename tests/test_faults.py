"""Fault and bad-input cases: each fails on the kit's earlier behaviour.

Readers: non-finite pixels, DN vs reflectance, DMSP DN range, isp values, CRS on partner files,
empty split lists. NTL model: non-finite inputs refused before the forward pass. Locks and the
sample scene: stale locks, orphaned temporary folders, the file list. Metrics: undefined values,
float predictions, SSIM per patch, the macro-IoU convention.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import helpers
from helpers.core import config, locks
from helpers.data import crops, normalise, synthetic
from helpers.data import datasets as ds
from helpers.io import rasters
from helpers.models import metrics, ntl_sr
from tests.fakes import ntl_patch as write_ntl
from tests.fakes import sen12ms_patch as write_patch

SRC = str(Path(helpers.__file__).resolve().parents[1])  # the helpers under test

# ---- readers: non-finite pixels follow nan_policy ----


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_s2_inf_is_treated_like_nan(tmp_path, value):
    root = tmp_path / "SEN12MS"
    paths = write_patch(root, "ROIs1868_summer", "1", 1)
    s2 = rasters.read(paths["s2"])
    data = s2.data.astype(np.float32)
    data[:, 0, 0] = value
    rasters.write(paths["s2"], data, s2.crs, s2.transform)
    with pytest.raises(normalise.DatasetError, match=r"s2_1_p1\.tif: 1 NaN/nodata/inf pixel"):
        ds.SEN12MS(root)[0]
    image = ds.SEN12MS(root, nan_policy="zero")[0]["image"]
    assert image[:, 0, 0].eq(0).all() and torch.isfinite(image).all()


@pytest.mark.parametrize("layer", ["lr_ntl", "hr_ntl", "dmo", "dem", "isp"])
def test_ntl_inf_is_treated_like_nan(tmp_path, layer):
    root = tmp_path / "NTL"
    paths = write_ntl(root)
    r = rasters.read(paths[layer])
    data = r.data.astype(np.float32)  # uint8 layers exported as float can hold -inf
    data[:, 1, 1] = -np.inf
    rasters.write(paths[layer], data, r.crs, r.transform)
    with pytest.raises(normalise.DatasetError, match=rf"{layer}/a\.tif: 1 NaN/nodata/inf"):
        ds.NTL(root)[0]
    sample = ds.NTL(root, nan_policy="zero")[0]
    assert all(
        torch.isfinite(sample[k]).all() for k in ("low_res", "high_res", "dmo", "dem", "isp")
    )


def test_dfc2020_inf_in_s1_is_treated_like_nan(tmp_path):
    root = tmp_path / "DFC2020"
    paths = write_patch(root, "ROIs0000_test", "0", 1, crs=None, dfc=True)
    s1 = rasters.read(paths["s1"])
    s1.data[0, 2, 2] = np.inf
    rasters.write(paths["s1"], s1.data, s1.crs, s1.transform)
    with pytest.raises(normalise.DatasetError, match="NaN/nodata/inf"):
        ds.DFC2020(root, s2_bands=(), s1_bands=("VV",))[0]


# ---- readers: range and dtype where data enter ----


def test_s2_reflectance_and_uint8_refused_with_the_fix(tmp_path):
    with pytest.raises(normalise.DatasetError, match="reflectance 0..1.*Multiply by 10000"):
        normalise.normalise_s2(np.full((4, 8, 8), 0.12, np.float32))
    with pytest.raises(normalise.DatasetError, match="uint8"):
        normalise.normalise_s2(np.full((4, 8, 8), 120, np.uint8))
    # float DN (some exports) are fine
    assert normalise.normalise_s2(np.full((1, 2, 2), 1200.0, np.float32)).max() == pytest.approx(
        0.12
    )
    root = tmp_path / "SEN12MS"
    paths = write_patch(root, "ROIs1868_summer", "1", 1)
    s2 = rasters.read(paths["s2"])
    rasters.write(paths["s2"], (s2.data / 10000.0).astype(np.float32), s2.crs, s2.transform)
    with pytest.raises(normalise.DatasetError, match=r"s2_1_p1\.tif: Sentinel-2 values look like"):
        ds.SEN12MS(root)[0]
    rasters.write(paths["s2"], (s2.data // 100).astype(np.uint8), s2.crs, s2.transform)
    with pytest.raises(normalise.DatasetError, match=r"s2_1_p1\.tif: Sentinel-2 as uint8"):
        ds.SEN12MS(root)[0]


def test_ntl_dmo_as_digital_numbers_refused(tmp_path):
    root = tmp_path / "NTL"
    paths = write_ntl(root)
    r = rasters.read(paths["dmo"])
    rasters.write(paths["dmo"], r.data * 10000, r.crs, r.transform)
    with pytest.raises(
        normalise.DatasetError, match=r"dmo/a\.tif: .*digital numbers.*scale factor"
    ):
        ds.NTL(root)[0]


def test_ntl_lr_dn_outside_0_63_refused(tmp_path):
    root = tmp_path / "NTL"
    paths = write_ntl(root)
    r = rasters.read(paths["lr_ntl"])
    data = r.data.astype(np.float32)
    data[0, 0, 0] = 250.0  # e.g. VIIRS radiance put where DMSP DN belong
    rasters.write(paths["lr_ntl"], data, r.crs, r.transform)
    with pytest.raises(normalise.DatasetError, match=r"lr_ntl/a\.tif: DN .* outside DMSP's 0..63"):
        ds.NTL(root)[0]


def test_ntl_isp_values_other_than_0_1_refused(tmp_path):
    root = tmp_path / "NTL"
    paths = write_ntl(root)
    r = rasters.read(paths["isp"])
    data = r.data.astype(np.float32) * 0.7  # a fraction, not a mask
    rasters.write(paths["isp"], data, r.crs, r.transform)
    with pytest.raises(
        normalise.DatasetError, match=r"isp/a\.tif: .*expected only 0 and 1.*Threshold"
    ):
        ds.NTL(root)[0]


def test_sen12ms_label_file_without_crs_refused(tmp_path):
    root = tmp_path / "SEN12MS"
    paths = write_patch(root, "ROIs1868_summer", "1", 1)
    lc = rasters.read(paths["lc"])
    rasters.write(paths["lc"], lc.data, None, lc.transform)
    with pytest.raises(normalise.DatasetError, match=r"lc_1_p1\.tif: no CRS"):
        ds.SEN12MS(root)[0]


def test_empty_split_list_says_so(tmp_path):
    root = tmp_path / "SEN12MS"
    write_patch(root, "ROIs1868_summer", "1", 1)
    empty = tmp_path / "split.txt"
    empty.write_text("# nothing here\n\n")
    with pytest.raises(normalise.DatasetError, match=r"split\.txt: the split list holds no ids"):
        ds.SEN12MS(root, files=empty)
    with pytest.raises(normalise.DatasetError, match="empty split list"):
        ds.SEN12MS(root, files=[])
    ntl = tmp_path / "NTL"
    write_ntl(ntl)
    with pytest.raises(normalise.DatasetError, match="holds no ids"):
        ds.NTL(ntl, files=empty)


# ---- the NTL model refuses non-finite inputs before the forward pass ----


def _ntl_batch(ids=("p1", "p2")):
    g = torch.Generator().manual_seed(0)
    n = len(ids)
    return {
        "low_res": torch.randint(0, 64, (n, 1, 4, 4), generator=g).float(),
        "high_res": torch.rand(n, 1, 32, 32, generator=g) * 50,
        "dmo": torch.rand(n, 7, 32, 32, generator=g) * 0.3,
        "dem": torch.rand(n, 1, 32, 32, generator=g) * 900,
        "isp": (torch.rand(n, 1, 32, 32, generator=g) > 0.5).float(),
        "id": list(ids),
    }


def test_ntl_step_names_the_sample_with_minus_inf():
    """In a child process (a regression would segfault in deform_conv2d, not just fail)."""
    code = (
        "import sys, numpy as np\n"
        f"sys.path.insert(0, {str(Path(__file__).parent.parent)!r})\n"
        "from helpers.models import losses\n"
        "from helpers.models import ntl_sr\n"
        "from tests.test_faults import _ntl_batch\n"
        "model = ntl_sr.build(width=8)\n"
        "for layer in ('low_res', 'dmo', 'dem', 'high_res'):\n"
        "    batch = _ntl_batch()\n"
        "    batch[layer][1, 0, 0, 0] = -np.inf\n"
        "    try:\n"
        "        ntl_sr.step(model, batch, losses.ntl_sr_loss)\n"
        "    except ValueError as err:\n"
        "        print('REFUSED', err)\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    refused = [x for x in out.stdout.splitlines() if x.startswith("REFUSED")]
    assert len(refused) == 4, out.stdout
    for line, layer in zip(refused, ("low_res", "dmo", "dem", "high_res")):
        assert f"sample 'p2': {layer} holds 1 NaN/inf" in line, line


def test_ntl_predict_refuses_inf_and_no_process_dies():
    """Run in a child process: before the check, -inf in the input segfaulted deform_conv2d."""
    code = (
        "import numpy as np, torch\n"
        "from helpers.models import ntl_sr\n"
        "torch.manual_seed(0)\n"
        "m = ntl_sr.build(width=8)\n"
        "lo = np.full((1, 4, 4), 10, np.float32); lo[0, 1, 1] = -np.inf\n"
        "try:\n"
        "    ntl_sr.predict(m, lo, np.full((7, 32, 32), 0.1, np.float32), np.zeros((1, 32, 32), np.float32))\n"
        "except ValueError as err:\n"
        "    print('REFUSED', err)\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    assert "REFUSED" in out.stdout and "low_res holds 1 NaN/inf" in out.stdout


def test_cached_crops_carry_the_sample_id(tmp_path):
    root = tmp_path / "NTL"
    write_ntl(root, ident="patch7")
    cached = crops.for_ntl(ds.NTL(root), crop=16)
    assert cached[0]["id"] == "patch7"


# ---- locks ----


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_lock_of_a_dead_process_is_taken_over_at_once(tmp_path, capsys):
    lock = tmp_path / "x.lock"
    lock.write_text(json.dumps({"pid": _dead_pid(), "host": locks.HOST, "time": 0}))
    waited = locks.acquire(lock, "a test", patience_s=600)
    assert waited is False
    assert locks.holder(lock)["pid"] == os.getpid()
    assert "taking over" in capsys.readouterr().out
    locks.release(lock)
    assert not lock.exists()


def test_lock_records_pid_and_host_and_waiting_names_the_file(tmp_path):
    lock = tmp_path / "y.lock"
    code = (
        "import sys, time; from helpers.core import locks\n"
        f"locks.acquire({str(lock)!r}, 'holding'); print('held', flush=True); time.sleep(1.5)\n"
        f"locks.release({str(lock)!r})\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        owner = locks.holder(lock)
        assert owner["pid"] == proc.pid and owner["host"] == locks.HOST
        import io
        from contextlib import redirect_stdout

        buf = io.StringIO()
        with redirect_stdout(buf):
            waited = locks.acquire(lock, "the test job", poll_s=0.05)
        assert waited is True
        assert f"waiting for it to release {lock}" in buf.getvalue()
        locks.release(lock)
    finally:
        proc.wait(timeout=30)


def test_orphaned_temporary_folders_are_removed(tmp_path):
    mine = tmp_path / locks.temp_name(".smoke.building-")
    mine.mkdir()
    orphan = tmp_path / f".smoke.building-{locks.HOST}-{_dead_pid()}-123"
    orphan.mkdir()
    (orphan / "half.tif").write_bytes(b"x")
    removed = locks.remove_orphans(tmp_path, ".smoke.building-")
    assert removed == [orphan] and not orphan.exists() and mine.exists()


# ---- the sample scene: killed builds, file list ----


def _fake_build(root: Path, profile: str, seed: int = 0, verbose: bool = True) -> dict:
    (root / "SEN12MS").mkdir(parents=True)
    (root / "SEN12MS" / "a.tif").write_bytes(b"a" * 100)
    (root / "NTL").mkdir()
    (root / "NTL" / "b.tif").write_bytes(b"b" * 50)
    return {"seconds": 0.0, "dfc_fractions": {}}


@pytest.fixture
def fake_scene(tmp_path, monkeypatch):
    monkeypatch.setenv("EOSR_DATA", str(tmp_path / "data"))
    calls = []

    def build(root, profile, seed=0, verbose=True):
        calls.append(root)
        return _fake_build(root, profile, seed, verbose)

    monkeypatch.setattr(synthetic, "build_sample", build)
    return calls


def test_sample_rebuilds_a_deleted_or_emptied_file(fake_scene):
    paths = synthetic.ensure_sample("smoke", verbose=False)
    stamp = json.loads((paths.root / "sample.json").read_text())
    assert stamp["files"] == {"NTL/b.tif": 50, "SEN12MS/a.tif": 100}
    assert synthetic.ensure_sample("smoke", verbose=False) and len(fake_scene) == 1
    (paths.root / "SEN12MS" / "a.tif").unlink()
    assert synthetic.missing_files(paths.root) == ["SEN12MS/a.tif"]
    synthetic.ensure_sample("smoke", verbose=False)
    assert len(fake_scene) == 2 and (paths.root / "SEN12MS" / "a.tif").stat().st_size == 100
    (paths.root / "NTL" / "b.tif").write_bytes(b"")  # emptied
    synthetic.ensure_sample("smoke", verbose=False)
    assert len(fake_scene) == 3 and not synthetic.missing_files(paths.root)


def test_killed_sample_build_leaves_nothing_that_blocks(tmp_path, fake_scene, capsys):
    """SIGKILL a builder while it holds the lock and its temporary folder; the next call builds
    at once (no waiting) and removes the orphaned folder."""
    data = Path(os.environ["EOSR_DATA"])
    code = (
        "import time\n"
        "from helpers.data import synthetic\n"
        "def slow(root, profile, seed=0, verbose=True):\n"
        "    (root / 'part.tif').write_bytes(b'x')\n"
        "    print('building', flush=True)\n"
        "    time.sleep(600)\n"
        "synthetic.build_sample = slow\n"
        "synthetic.ensure_sample('smoke', verbose=False)\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC, "EOSR_DATA": str(data)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout.readline().strip() == "building"
        lock = data / "sample" / ".smoke.seed0.lock"
        assert lock.exists() and locks.holder(lock)["pid"] == proc.pid
        assert list((data / "sample").glob(".smoke.building-*"))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    paths = synthetic.ensure_sample("smoke", verbose=True)
    out = capsys.readouterr().out
    assert "waiting" not in out and "taking over" in out
    assert synthetic.is_current(paths.root, "smoke", 0) and len(fake_scene) == 1
    assert not list((data / "sample").glob(".smoke.building-*"))
    assert not lock.exists()


def test_cli_sample_verifies_before_saying_ready(fake_scene, capsys):
    from helpers.apps import cli

    assert cli.main(["sample", "--profile", "smoke"]) == 0
    root = config.data_dir() / "sample" / "smoke"
    (root / "NTL" / "b.tif").unlink()
    assert cli.main(["sample", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "missing or changed" in out and "ready" in out
    assert (root / "NTL" / "b.tif").exists() and len(fake_scene) == 2


# ---- metrics ----


def _undefined(fn, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = fn(*args)
    assert any(issubclass(w.category, metrics.UndefinedMetricWarning) for w in caught), caught
    return value


def test_metrics_undefined_are_nan_with_a_warning():
    dark = np.zeros((16, 16))
    pred = np.full((16, 16), 0.5)
    assert np.isnan(_undefined(metrics.psnr, pred, dark))  # was -inf
    assert np.isnan(_undefined(metrics.ssim, pred, dark))
    const = np.full((16, 16), 3.0)
    assert np.isnan(_undefined(metrics.r2, pred, const))  # was about -4e13
    assert np.isnan(_undefined(metrics.total_light_error, pred, dark))
    assert metrics.psnr(const, const) == float("inf")  # defined: a perfect prediction


def test_float_predictions_are_refused_not_truncated():
    target = np.array([0, 1, 2, 1])
    with pytest.raises(ValueError, match="non-integer.*argmax"):
        metrics.landcover_scores(np.array([0.2, 1.9, 2.0, 0.7]), target, 3)
    # whole-number floats (e.g. read from a float raster) are class indices
    s = metrics.landcover_scores(np.array([0.0, 1.0, 2.0, 1.0]), target, 3)
    assert s.accuracy == 1.0


def test_ssim_per_patch_not_across_seams():
    rng = np.random.default_rng(0)
    levels = np.array([1.0, 9.0, 1.0])[:, None, None]  # dark, bright, dark: seams are edges
    truth = levels + rng.random((3, 24, 24))
    pred = truth + rng.normal(0, 0.5, truth.shape)
    per_patch = np.mean([metrics.ssim(p, t, 10.0) for p, t in zip(pred, truth)])
    assert metrics.ssim(pred, truth, 10.0) == pytest.approx(per_patch, rel=1e-9)
    stacked = metrics.ssim(pred.reshape(-1, 24), truth.reshape(-1, 24), 10.0)
    assert abs(stacked - per_patch) > 1e-3  # windows spanning seams differ
    scores = metrics.ntl_scores(pred, truth, data_range=10.0, block=8)
    assert scores["ssim"] == pytest.approx(per_patch, rel=1e-9)


def test_macro_iou_follows_sklearn_and_names_the_kit_variant():
    target = np.array([0, 0, 1, 1])
    pred = np.array([0, 0, 1, 2])  # class 2 predicted, absent from the truth
    s = metrics.landcover_scores(pred, target, 4, ignore_index=None)
    assert s.summary()["iou"] == pytest.approx(0.5)  # scikit-learn / torchmetrics
    assert s.macro("iou", classes="truth") == pytest.approx(0.75)  # present classes only
    assert "scikit-learn" in metrics.CONVENTIONS["macro"]


def test_check_finite_names_item_when_no_ids():
    batch = _ntl_batch()
    del batch["id"]
    batch["dem"][0, 0, 5, 5] = np.nan
    with pytest.raises(ValueError, match="item 0"):
        ntl_sr.check_finite(batch)


def test_stale_lock_from_another_host_waits_until_patience(tmp_path):
    lock = tmp_path / "z.lock"
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere", "time": time.time()}))
    assert not locks.is_stale(lock, patience_s=600)
    old = time.time() - 1000
    os.utime(lock, (old, old))
    assert locks.is_stale(lock, patience_s=600)


def test_grid_helpers_unchanged_for_crs_less_dfc2020(tmp_path):
    """DFC2020 files may lack a CRS altogether (as before): still read."""
    root = tmp_path / "DFC2020"
    write_patch(root, "ROIs0000_test", "0", 1, crs=None, dfc=True)
    assert ds.DFC2020(root)[0]["image"].shape[0] == 4


# ---- the command line: one message, exit 2 ----


def test_cli_unknown_source_is_one_line_exit_2(capsys):
    from helpers.apps import cli

    assert cli.main(["fetch", "no_such_source"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eosr fetch: error: No data source 'no_such_source'")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_checksum_error_is_one_line_exit_2(monkeypatch, capsys):
    from helpers.apps import cli
    from helpers.data import manifest

    def broken(name, *args, **kwargs):
        raise manifest.ChecksumError(
            f"/data/{name}/x.tif: hash differs from the manifest (sha256:0)."
        )

    monkeypatch.setattr(manifest, "fetch", broken)
    assert cli.main(["fetch", "dfc2020"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "eosr fetch: error: /data/dfc2020/x.tif: hash differs from the manifest (sha256:0)."
    )
    monkeypatch.setenv("EOSR_DEBUG", "1")
    with pytest.raises(manifest.ChecksumError):
        cli.main(["fetch", "dfc2020"])

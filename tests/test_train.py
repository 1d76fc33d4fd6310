"""The training loop: resume gives the same weights, atomic checkpoints, budget, hooks, inference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from helpers.models.unet import UNet
from helpers.training import inference, train


class _Toy(Dataset):
    """Dict samples with random flips drawn from torch's global RNG (so resume must restore it)."""

    def __init__(self, n: int = 8, size: int = 8):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 4, size, size, generator=g)
        self.y = (self.x[:, 0] + self.x[:, 1] > 0).long()
        self.y[:, 0, 0] = 255

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        x, y = self.x[i], self.y[i]
        if torch.rand(()) < 0.5:
            x, y = x.flip(-1), y.flip(-1)
        return {"image": x, "mask": y, "coarse": y.clone(), "id": f"p{i}"}


def _loss(out, y):
    return torch.nn.functional.cross_entropy(out, y, ignore_index=255)


def _run(tmp_path, name, epochs, interrupt_after=None):
    torch.manual_seed(123)
    model = UNet(4, 2, width=4, depth=2, dropout=0.2)
    loader = DataLoader(_Toy(), batch_size=4, shuffle=True)
    path = tmp_path / name / "checkpoint.pt"
    if interrupt_after is not None:  # a 4-epoch run killed in epoch 3 (after batch interrupt_after)
        steps = []

        def step(model, batch, loss_fn):
            steps.append(1)
            if len(steps) > interrupt_after:
                raise KeyboardInterrupt
            return train.default_step(model, batch, loss_fn)

        with pytest.raises(KeyboardInterrupt):
            train.fit(
                model,
                loader,
                _loss,
                epochs,
                device="cpu",
                checkpoint=path,
                progress=False,
                seed=7,
                scheduler="cosine",
                step_fn=step,
            )
        assert train.load_checkpoint(path)["epoch"] == 2
        torch.manual_seed(999)  # disturb the global RNG: resume must restore it
        model = UNet(4, 2, width=4, depth=2, dropout=0.2)
        loader = DataLoader(_Toy(), batch_size=4, shuffle=True)
    hist = train.fit(
        model,
        loader,
        _loss,
        epochs,
        device="cpu",
        checkpoint=path,
        progress=False,
        seed=7,
        scheduler="cosine",
    )
    return model, hist


def test_resume_gives_identical_weights(tmp_path):
    straight, h1 = _run(tmp_path, "straight", 4)
    resumed, h2 = _run(tmp_path, "resumed", 4, interrupt_after=5)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    assert h1.train_loss == h2.train_loss and h2.epoch == [1, 2, 3, 4]
    assert json.loads((tmp_path / "resumed" / "history.json").read_text())["epoch"] == [1, 2, 3, 4]
    assert not list((tmp_path / "resumed").glob(".*"))  # no temporary files left behind


def test_existing_checkpoint_is_not_overwritten(tmp_path):
    _run(tmp_path, "a", 1)
    path = tmp_path / "a" / "checkpoint.pt"
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="resume"):
        train.fit(
            UNet(4, 2, 4, 2),
            DataLoader(_Toy(), batch_size=4),
            _loss,
            2,
            device="cpu",
            checkpoint=path,
            resume=False,
            progress=False,
        )
    assert path.read_bytes() == before


def test_training_writes_where_it_is_told(tmp_path, monkeypatch):
    """Without a checkpoint path, fit writes to a new temporary folder, never into the run folder;
    runs.new_checkpoint_path gives a fresh folder in the run folder."""
    from helpers.records import runs

    monkeypatch.setenv("EOSR_RUN_DIR", str(tmp_path / "run"))
    loader = DataLoader(_Toy(4), batch_size=4)
    h1 = train.fit(UNet(4, 2, 4, 1), loader, _loss, 1, device="cpu", progress=False)
    h2 = train.fit(UNet(4, 2, 4, 1), loader, _loss, 1, device="cpu", progress=False)
    assert h1.checkpoint != h2.checkpoint and Path(h1.checkpoint).exists()
    assert not (tmp_path / "run" / "train").exists()
    told = runs.new_checkpoint_path("toy")
    h3 = train.fit(
        UNet(4, 2, 4, 1), loader, _loss, 1, device="cpu", progress=False, checkpoint=told
    )
    assert Path(h3.checkpoint) == told and told.parent == tmp_path / "run" / "train" / "toy"
    assert runs.new_checkpoint_path("toy").parent.name == "toy-1"
    assert runs.new_checkpoint_path("09_+ a b/c").parent.name == "09_+_a_b_c"  # a folder name


def test_time_budget_stops_after_an_epoch(tmp_path):
    loader = DataLoader(_Toy(4), batch_size=4)
    with pytest.warns(train.TrainingCapped, match="TRAINING CAPPED"):
        hist = train.fit(
            UNet(4, 2, 4, 1),
            loader,
            _loss,
            50,
            device="cpu",
            time_budget_s=0.0,
            checkpoint=tmp_path / "c.pt",
            progress=False,
        )
    assert hist.epochs_done == 1 and hist.stopped_early and hist.capped
    assert hist.stop_reason.startswith("capped") and "epoch 1 of 50" in hist.stop_reason
    assert train.History.from_dict(hist.to_dict()).capped
    assert train.load_checkpoint(tmp_path / "c.pt")["epoch"] == 1


def test_step_fn_gets_the_batch_and_validation_metrics(tmp_path):
    seen = []

    def step(model, batch, loss_fn):
        seen.append(sorted(batch))
        return loss_fn(model(batch["image"]), batch["coarse"])

    loader = DataLoader(_Toy(8), batch_size=4)
    hist = train.fit(
        UNet(4, 2, 4, 1),
        loader,
        _loss,
        2,
        device="cpu",
        step_fn=step,
        val_loader=loader,
        num_classes=2,
        checkpoint=tmp_path / "c.pt",
        progress=False,
        learning_rate=0.01,
    )
    assert seen[0] == ["coarse", "id", "image", "mask"]
    assert set(hist.val[-1]) >= {"loss", "iou", "f1", "accuracy"}
    assert 0 <= hist.val_metric("iou")[-1] <= 1
    assert list(hist.to_frame().columns)[:3] == ["epoch", "train_loss", "seconds"]


def test_nan_loss_is_reported(tmp_path):
    def bad(out, y):
        return out.sum() * float("nan")

    with pytest.raises(FloatingPointError, match="learning rate"):
        train.fit(
            UNet(4, 2, 4, 1),
            DataLoader(_Toy(4), batch_size=4),
            bad,
            1,
            device="cpu",
            checkpoint=tmp_path / "c.pt",
            progress=False,
        )


def test_predict_tensor_loader_and_evaluate():
    torch.manual_seed(0)
    model = UNet(4, 3, 4, 2).eval()
    x = torch.randn(5, 4, 16, 16)
    labels = train.predict(model, x, batch_size=2)
    assert labels.shape == (5, 16, 16) and labels.dtype == torch.int64
    probs = train.predict(model, x[0], output="probs")
    assert probs.shape == (3, 16, 16) and torch.allclose(
        probs.sum(0), torch.ones(16, 16), atol=1e-5
    )
    out = train.predict(model, DataLoader(_Toy(6), batch_size=4))
    assert out["pred"].shape == out["mask"].shape == (6, 8, 8) and len(out["id"]) == 6
    scores = train.evaluate(model, DataLoader(_Toy(6), batch_size=4), num_classes=3)
    assert 0 <= scores.summary()["iou"] <= 1


def test_predict_scene_matches_whole_image():
    # A per-pixel model (1x1 conv) gives the same answer tiled or whole: tiling/blending is exact.
    torch.manual_seed(0)
    model = torch.nn.Conv2d(4, 3, 1).eval()
    image = np.random.default_rng(0).normal(size=(4, 45, 70)).astype(np.float32)
    whole = model(torch.from_numpy(image)[None]).softmax(1)[0].detach().numpy()
    probs = inference.predict_scene(
        model, image, tile=16, overlap=4, output="probs", progress=False
    )
    np.testing.assert_allclose(probs, whole, atol=1e-5)
    labels = inference.predict_scene(model, image, tile=16, overlap=4, progress=False)
    assert labels.dtype == np.uint8 and (labels == whole.argmax(0)).all()
    unet = UNet(4, 3, 4, 3).eval()  # tiles padded to multiples of 8 internally
    assert inference.predict_scene(
        unet, image[:, :20, :30], tile=12, overlap=2, progress=False
    ).shape == (20, 30)
    with pytest.raises(ValueError, match="NaN"):
        bad = image.copy()
        bad[0, 0, 0] = np.nan
        inference.predict_scene(model, bad, tile=16, progress=False)


class _Clock:
    """A clock that only the training steps move, so the tests do not depend on machine load."""

    now = 0.0

    @classmethod
    def perf_counter(cls):
        return cls.now


def _clocked_fit(tmp_path, name, monkeypatch, seconds_per_step, cap, epochs=12):
    """Train a tiny U-Net whose steps 'take' ``seconds_per_step`` on the fake clock."""
    _Clock.now = 0.0
    monkeypatch.setattr(train.loop, "time", _Clock)

    def step(model, batch, loss_fn):
        _Clock.now += seconds_per_step
        return loss_fn(model(batch["image"]), batch["mask"])

    torch.manual_seed(7)
    model = UNet(4, 2, 4, 1)
    hist = train.fit(
        model,
        DataLoader(_Toy(4), batch_size=2),
        _loss,
        epochs,
        learning_rate=1e-2,
        device="cpu",
        step_fn=step,
        scheduler="cosine",
        time_budget_s=cap,
        seed=7,
        checkpoint=tmp_path / f"{name}.pt",
        progress=False,
    )
    return model, hist


def test_epochs_decide_not_the_clock(tmp_path, monkeypatch):
    """Same seed, same epochs: a slow (busy) machine trains to exactly the same weights as a fast
    one while the cap is not hit; the learning rate follows the epochs, never the clock."""
    fast, h_fast = _clocked_fit(tmp_path, "fast", monkeypatch, 0.001, cap=60.0)
    slow, h_slow = _clocked_fit(tmp_path, "slow", monkeypatch, 2.0, cap=60.0)  # 48 of 60 s
    assert not h_fast.capped and not h_slow.capped and h_slow.epochs_done == 12
    assert h_fast.learning_rate == h_slow.learning_rate
    for a, b in zip(fast.state_dict().values(), slow.state_dict().values()):
        assert torch.equal(a, b)


def test_time_cap_stops_warns_and_keeps_the_epoch_schedule(tmp_path, monkeypatch):
    """A capped run stops before overrunning, warns, says ``capped``, and its learning rates are
    the uncapped run's first epochs (the cap must not reshape the schedule)."""
    _, full = _clocked_fit(tmp_path, "full", monkeypatch, 0.001, cap=None)
    with pytest.warns(train.TrainingCapped):
        _, capped = _clocked_fit(tmp_path, "capped", monkeypatch, 2.0, cap=30.0)  # 4 s/epoch
    assert capped.capped and capped.stopped_early and 1 <= capped.epochs_done < 12
    assert capped.epochs_done * 4.0 <= 30.0  # it never overran the cap
    assert capped.learning_rate == full.learning_rate[: capped.epochs_done]
    assert json.loads((tmp_path / "history.json").read_text())["capped"] is True


def test_recalibrate_batch_norm_averages_the_batches_with_the_final_weights():
    model = torch.nn.Sequential(torch.nn.BatchNorm2d(4), torch.nn.Conv2d(4, 2, 1))
    loader = DataLoader(_Toy(8), batch_size=4)  # flips do not change channel means/variances
    model[0].running_mean.fill_(5.0)  # stale statistics, as after fast-changing weights
    assert train.recalibrate_batch_norm(model, loader, loss_fn=_loss, device="cpu")
    batches = [b["image"] for b in loader]
    mean = torch.stack([b.mean((0, 2, 3)) for b in batches]).mean(0)
    var = torch.stack([b.var((0, 2, 3), unbiased=True) for b in batches]).mean(0)
    assert torch.allclose(model[0].running_mean, mean, atol=1e-5)
    assert torch.allclose(model[0].running_var, var, atol=1e-5)
    assert model[0].momentum == 0.1  # restored
    assert not train.recalibrate_batch_norm(torch.nn.Conv2d(4, 2, 1), loader, loss_fn=_loss)


def test_fit_saves_recalibrated_statistics_and_channels_last_trains_the_same(tmp_path):
    runs = {}
    for cl in (False, True):
        torch.manual_seed(0)
        model = UNet(4, 2, width=4, depth=2)
        hist = train.fit(
            model,
            DataLoader(_Toy(), batch_size=4),
            _loss,
            2,
            device="cpu",
            checkpoint=tmp_path / f"{cl}" / "checkpoint.pt",
            progress=False,
            channels_last=cl,
        )
        runs[cl] = model, hist
    (a, ha), (b, hb) = runs[False], runs[True]
    assert np.allclose(ha.train_loss, hb.train_loss, rtol=1e-4)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(x.float(), y.float(), atol=1e-4), name
    saved = train.load_checkpoint(tmp_path / "True" / "checkpoint.pt")["model"]
    for name, value in b.state_dict().items():  # the checkpoint holds the recalibrated statistics
        assert torch.equal(saved[name], value), name
    bn = next(m for m in b.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert bn.num_batches_tracked == 2  # one recalibration pass over the 2 batches, not training's


def test_to_device_channels_last_only_for_image_batches():
    batch = {"image": torch.rand(2, 3, 4, 4), "mask": torch.zeros(2, 4, 4, dtype=torch.long)}
    out = train.to_device(batch, "cpu", channels_last=True)
    assert out["image"].is_contiguous(memory_format=torch.channels_last)
    assert out["mask"].is_contiguous()
    assert torch.equal(out["image"], batch["image"])

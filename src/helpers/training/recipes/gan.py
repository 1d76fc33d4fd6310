"""Notebook 05's recipes: the cGAN (coarse labels -> fine labels) and pix2pix (image bands -> labels).

Each recipe takes plain arrays or tensors (image bands ``(N, C, H, W)``, coarse and fine labels
``(N, H, W)`` with classes ``0..num_classes-1`` and ``ignore_index`` for unknown pixels), builds the
models, the data feeding, the losses and the settings from a profile (``config.settings
("cgan_pix2pix", profile)``), trains once per seed and scores on the test arrays when given. The
sample-scene notebook 05 and a real-scene notebook call the same functions, so a change of recipe
reaches both. What each setting does, and why, is said in notebook 05's section 4.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ...core import config
from ...data import crops
from ...models import pix2pix as p2p
from .. import seeds, train

IGNORE = 255  # the kit's ignore value inside the loops (train.gan_batch, metrics)
RECIPE_DEFAULTS: dict[str, Any] = {
    "decay_from": None,
    "cgan_decay_from": None,
    "gan_weight": 1.0,  # G's adversarial term (pix2pix); 1: the paper's
    "cgan_gan_weight": 1.0,  # the same for the cGAN
    "select_every": None,  # pix2pix: every k-th training patch held out to choose G's epoch
    "cgan_select_every": None,  # the same for the cGAN (None: the last epoch's G)
    "score_every": 1,  # pix2pix: the held-out patches are scored every k-th epoch (and the last)
    "cgan_score_every": 1,  # the same for the cGAN (fewer scored epochs: less time)
    "cgan_zero_last": False,  # the cGAN's last convolution starts at 0 (G = its input, exactly)
    "cgan_epochs": None,  # the cGAN's epochs (None: ``epochs``, as pix2pix)
    "softmax_seeds": None,  # notebook 05: how many of its seeds train the softmax image (None: all)
}  # settings a profile may leave out
Loader = Callable[[Any], Iterable[Any]]  # crops dataset -> training batches (eosr train's sampler)
OUTPUTS = {"tanh": "tanh, as published", "softmax": "softmax image"}


@dataclass
class GanResult:
    """One recipe trained once per seed: its runs, the batch function that feeds G, its settings."""

    method: str
    runs: seeds.SeedRuns
    batch_fn: Callable[..., Any]
    settings: dict[str, Any] = field(default_factory=dict)
    input_stats: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def model(self) -> torch.nn.Module:
        """The first seed's generator (the figures and maps show it)."""
        return self.runs.models[0]


def settings(profile: str | None = None, **overrides: Any) -> dict[str, Any]:
    """The profile's notebook-05 settings with ``overrides`` (a key the profile lacks is an error)."""
    s = RECIPE_DEFAULTS | config.settings("cgan_pix2pix", config.get_profile(profile))
    unknown = sorted(set(overrides) - set(s))
    if unknown:
        raise KeyError(
            f"unknown GAN setting(s) {unknown}; the keys are those of config.PROFILES"
            f"['cgan_pix2pix'] (src/helpers/core/config.py): {sorted(s)}"
        )
    return s | overrides


def _labels(values: Any, num_classes: int, ignore_index: int, what: str) -> torch.Tensor:
    """Labels as int64 with ``ignore_index`` mapped to 255; other values outside the classes raise."""
    x = torch.as_tensor(np.asarray(values)).long()
    known = x != ignore_index
    bad = known & ((x < 0) | (x >= num_classes))
    if bool(bad.any()):
        found = sorted(set(x[bad].unique().tolist()))[:8]
        raise ValueError(
            f"{what} holds values {found} outside 0..{num_classes - 1} and ignore_index "
            f"{ignore_index}; map the labels to class indexes (helpers.core.labels) first."
        )
    return torch.where(known, x, torch.full_like(x, IGNORE))


def samples(
    fine: Any,
    coarse: Any = None,
    images: Any = None,
    num_classes: int = 8,
    ignore_index: int = IGNORE,
) -> list[dict[str, torch.Tensor]]:
    """Plain arrays -> the kit's sample dicts (``mask``, ``coarse``, ``image``), one per patch."""
    out: dict[str, torch.Tensor] = {"mask": _labels(fine, num_classes, ignore_index, "fine labels")}
    if coarse is not None:
        out["coarse"] = _labels(coarse, num_classes, ignore_index, "coarse labels")
    if images is not None:
        out["image"] = torch.as_tensor(np.asarray(images, dtype=np.float32))
        if out["image"].ndim != 4:
            raise ValueError(f"images must be (N, bands, H, W); got {tuple(out['image'].shape)}")
    shapes = {k: (v.shape[0], *v.shape[-2:]) for k, v in out.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"arrays disagree in patches or size (N, H, W): {shapes}")
    return [{k: v[i] for k, v in out.items()} for i in range(len(out["mask"]))]


def batches(
    items: Sequence[dict[str, torch.Tensor]], size: int = 4
) -> list[dict[str, torch.Tensor]]:
    """Whole patches in batches of ``size`` (the test loader of a recipe)."""
    keys = list(items[0]) if items else []
    return [
        {k: torch.stack([s[k] for s in items[i : i + size]]) for k in keys}
        for i in range(0, len(items), size)
    ]


def band_stats(images: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-band mean and std of training images ``(N, C, H, W)`` (never the test images)."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    return x.mean((0, 2, 3)), x.std((0, 2, 3)).clamp_min(1e-6)


def held_out(
    items: list[dict[str, torch.Tensor]], every: int | None
) -> tuple[list[dict[str, torch.Tensor]], list[dict[str, torch.Tensor]]]:
    """``(train, validation)``: every ``every``-th training patch held out to choose G's epoch
    (``None``: all train, no validation). Training patches only: the test split is never seen.
    Fewer than ``every`` patches: a warning, and no selection (the last epoch's G)."""
    if every is not None and every < 2:
        raise ValueError(f"select_every must be None or >= 2, got {every}")
    if not every:
        return list(items), []
    if len(items) < every:
        warnings.warn(
            f"select_every {every} with {len(items)} training patches: too few to hold any out; "
            "the generator of the last epoch is kept (no selection)",
            stacklevel=3,
        )
        return list(items), []
    train_items = [s for i, s in enumerate(items) if i % every != every - 1]
    return train_items, list(items[every - 1 :: every])


def _train(
    name: str,
    build: Callable[[], tuple[torch.nn.Module, torch.nn.Module]],
    items: list[dict[str, torch.Tensor]],
    test_items: list[dict[str, torch.Tensor]] | None,
    batch_fn: Callable[..., Any],
    s: dict[str, Any],
    method: dict[str, Any],
    *,
    num_classes: int,
    seeds_: Sequence[int],
    device: Any,
    checkpoint_for: Callable[[str], Any] | None,
    progress: bool,
    loader: Loader | None = None,
) -> seeds.SeedRuns:
    """Train ``build()`` once per seed on crops of ``items`` with the settings ``s`` and the
    method's own ``method`` (G's learning rate, L1 weight, decay, adversarial weight, selection):
    resident crops cut on the device, or ``loader(crops.for_gan(...))`` (``eosr train``)."""
    device = torch.device(device) if device is not None else config.pick_device(verbose=False)
    train_items, val_items = held_out(items, method["select_every"])
    keys = tuple(train_items[0])

    def loader_for(seed: int) -> Iterable[Any]:
        if loader is not None:
            return loader(crops.for_gan(train_items, s["crop"], keys=keys, seed=seed))
        return crops.ResidentBatches(  # crops cut on the device: no file or worker per step
            train_items, s["crop"], s["batch"], keys=keys, augment="flips",
            batches=s["steps_per_epoch"], seed=seed, device=device,
        )  # fmt: skip

    return seeds.fit_gan_seeds(
        name,
        build,
        loader_for,
        list(seeds_),
        method["epochs"],
        method["learning_rate"],
        batch_fn,
        batches(test_items) if test_items else None,
        num_classes=num_classes,
        checkpoint_for=checkpoint_for,
        device=device,
        time_budget_s=s["time_cap_s"],
        positive_weight=method["positive_weight"],
        learning_rate_d=s["learning_rate_d"],
        d_noise=s["d_noise"],
        decay_from=method["decay_from"],
        gan_weight=method["gan_weight"],
        val_loader=batches(val_items) if val_items else None,
        keep_best=bool(val_items),
        val_every=method["score_every"],
        progress=progress,
    )


def _method(s: dict[str, Any], prefix: str, learning_rate: float) -> dict[str, Any]:
    """One method's own settings from ``s`` (``prefix`` "cgan_" or ""): see :func:`_train`."""
    keys = ("positive_weight", "decay_from", "gan_weight", "select_every", "score_every")
    epochs = s.get(prefix + "epochs") or s["epochs"]
    return {k: s[prefix + k] for k in keys} | {"learning_rate": learning_rate, "epochs": epochs}


def softmax_seeds(seeds_: Sequence[int], profile: str | None = None) -> list[int]:
    """The first ``softmax_seeds`` of ``seeds_`` (all when the profile sets none): the seeds on
    which notebook 05 trains the softmax image, so that the teaching run fits its time budget."""
    n = settings(profile)["softmax_seeds"]
    return list(seeds_) if n is None else list(seeds_)[: max(1, int(n))]


def _seeds(s: dict[str, Any], chosen: Sequence[int] | None, seed: int) -> list[int]:
    """The seeds to train: ``chosen``, else ``seed, seed + 1, ...`` (the profile's number)."""
    return list(chosen) if chosen is not None else [seed + k for k in range(s["seeds"])]


def cgan(
    coarse: Any,
    fine: Any,
    *,
    test: tuple[Any, Any] | None = None,
    profile: str | None = None,
    seeds: Sequence[int] | None = None,
    seed: int = 0,
    device: Any = None,
    num_classes: int = 8,
    ignore_index: int = IGNORE,
    residual: bool = True,
    checkpoint_for: Callable[[str], Any] | None = None,
    name: str = "05_cgan",
    progress: bool = True,
    loader: Loader | None = None,
    **overrides: Any,
) -> GanResult:
    """HR-MARS method 3: a conditional GAN from coarse one-hot labels to fine labels (tanh output).

    ``residual``: G returns ``tanh(atanh(coarse one-hot) + U-Net(x))``, so an untrained G gives its
    coarse input back and training only moves it where the pairs say so (``False``: the paper's
    G, which starts from noise). ``test``: ``(coarse, fine)`` arrays scored after training.
    ``loader``: the training batches from the crops dataset (default: crops resident on the device)."""
    s = settings(profile, **overrides)
    if "epochs" in overrides and "cgan_epochs" not in overrides:
        s["cgan_epochs"] = None  # an epochs override sets both methods' epochs
    items = samples(fine, coarse, num_classes=num_classes, ignore_index=ignore_index)
    test_items = (
        None if test is None else samples(test[1], test[0], None, num_classes, ignore_index)
    )
    batch_fn = train.gan_batch(
        num_classes, input_key="coarse", one_hot_input=True, scale=p2p.TARGET_SCALE
    )

    def build() -> tuple[torch.nn.Module, torch.nn.Module]:
        g = p2p.generator(
            num_classes, num_classes, s["crop"], s["ngf"], residual=residual,
            zero_last=residual and s["cgan_zero_last"],
        )  # fmt: skip
        return g, p2p.discriminator(2 * num_classes, s["ndf"])

    runs = _train(
        name, build, items, test_items, batch_fn, s, _method(s, "cgan_", s["learning_rate"]),
        num_classes=num_classes, seeds_=_seeds(s, seeds, seed), device=device,
        checkpoint_for=checkpoint_for, progress=progress, loader=loader,
    )  # fmt: skip
    method = "cGAN low -> high" + ("" if residual else " (paper's generator)")
    return GanResult(method, runs, batch_fn, s)


def pix2pix(
    images: Any,
    fine: Any,
    *,
    output: str = "tanh",
    test: tuple[Any, Any] | None = None,
    profile: str | None = None,
    seeds: Sequence[int] | None = None,
    seed: int = 0,
    device: Any = None,
    num_classes: int = 8,
    ignore_index: int = IGNORE,
    input_stats: tuple[Any, Any] | None = None,
    checkpoint_for: Callable[[str], Any] | None = None,
    name: str | None = None,
    progress: bool = True,
    loader: Loader | None = None,
    **overrides: Any,
) -> GanResult:
    """HR-MARS method 4: pix2pix from image bands to land cover, ``output="tanh"`` (as published,
    +-0.8 targets) or ``"softmax"`` (the kit's softmax image, +-1 targets). The bands are
    standardised with ``input_stats`` (default: the training images' own, :func:`band_stats`).
    ``test``: ``(images, fine)`` arrays scored after training; ``loader``: as :func:`cgan`."""
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {list(OUTPUTS)}, got {output!r}")
    s = settings(profile, **overrides)
    items = samples(fine, None, images, num_classes, ignore_index)
    test_items = (
        None if test is None else samples(test[1], None, test[0], num_classes, ignore_index)
    )
    stats = band_stats(images) if input_stats is None else tuple(map(torch.as_tensor, input_stats))
    bands = items[0]["image"].shape[0]
    scale = p2p.TARGET_SCALE if output == "tanh" else 1.0
    batch_fn = train.gan_batch(num_classes, scale=scale, input_stats=stats)

    def build() -> tuple[torch.nn.Module, torch.nn.Module]:
        g = p2p.generator(bands, num_classes, s["crop"], s["ngf"], output=output)
        return g, p2p.discriminator(bands + num_classes, s["ndf"])

    runs = _train(
        name or ("05_pix2pix" if output == "tanh" else "05_pix2pix_softmax"), build, items,
        test_items, batch_fn, s, _method(s, "", s["p2p_learning_rate"]),
        num_classes=num_classes, seeds_=_seeds(s, seeds, seed), device=device,
        checkpoint_for=checkpoint_for, progress=progress, loader=loader,
    )  # fmt: skip
    method = f"pix2pix S2 -> land cover ({OUTPUTS[output]})"
    return GanResult(method, runs, batch_fn, s, stats)


def predict(result: GanResult, condition: Any, batch: int = 4) -> np.ndarray:
    """Labels ``(N, H, W)`` from the first seed's G for conditions given as arrays: image bands
    ``(N, C, H, W)`` for pix2pix, coarse labels ``(N, H, W)`` for the cGAN (batch statistics)."""
    g = p2p.with_batch_statistics(result.model)
    device = next(g.parameters()).device
    key = "image" if result.input_stats is not None else "coarse"
    x = torch.as_tensor(np.asarray(condition))
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            part = x[i : i + batch].to(device)
            fake = {
                key: part,
                "mask": torch.full((len(part), *part.shape[-2:]), IGNORE, device=device),
            }
            cond, _, _ = result.batch_fn(fake)
            out.append(g(cond).argmax(1).cpu())
    return torch.cat(out).numpy()


def kept_epochs(result: GanResult) -> list[int | None]:
    """Per seed, the epoch whose generator the recipe kept (0: the untrained one; ``None``: no
    selection, the last epoch's), chosen on held-out training patches (``select_every``)."""
    return [train.gan.selected_epoch(h) for h in result.runs.histories]


def what_to_change(duel: dict[str, float], kept: int | None = None, epochs: int = 0) -> str:
    """What a student would change next, read from one run's curves (``seeds.duel``) and the
    epoch the selection kept: a sentence for notebook prose, computed, never typed."""
    steps, won, late = duel["steps"], duel["d_wins_at_step"], duel["l1_late_fall"]
    parts = []
    if np.isfinite(won) and won <= steps / 2:
        parts.append(
            f"D won by step {won:.0f} of {steps:.0f}: weaken it (a smaller weight on its verdict, "
            "`gan_weight`; a slower D, `learning_rate_d`; or instance noise, `d_noise`)"
        )
    if np.isfinite(late) and late > seeds.STILL_FALLING:
        parts.append(f"G's L1 still fell {100 * late:.1f} % in the last quarter: train longer")
    if kept == 0:
        parts.append(
            "no epoch beat the untrained generator on held-out training patches, so the "
            "selection kept it: the game only moved the map away from the truth; give G what it "
            "lacks (image bands, exercise 3) rather than more steps"
        )
    elif kept is not None and epochs and kept <= epochs / 2:
        parts.append(
            f"the held-out patches scored epoch {kept} of {epochs} best: later steps made the map "
            "worse, so a lower or earlier-decaying learning rate would save time"
        )
    return "; ".join(parts) if parts else "nothing the curves point to: the run looks balanced"

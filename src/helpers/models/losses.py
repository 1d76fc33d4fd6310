"""Losses of the kit: label super-resolution (Malkin et al.), GAN losses, and the NTL SR objective."""

from __future__ import annotations

from typing import Any

# ---- land cover: label super-resolution and GAN losses (notebooks 04, 05) ----

# Label super-resolution (Malkin et al. 2018, "Label super-resolution networks", ICLR 2019).
# Two variants: "gaussian" (the kit's, below) and "reference" (the authors' public code, see
# reference_sr_loss). The kit's variant (stated here and tested):
# - the full Gaussian negative log-likelihood per block z and fine class c,
#   (mu - eta)^2 / (2 (sigma^2 + rho^2)) + 0.5 log(2 pi (sigma^2 + rho^2)); the HR-MARS slide's
#   "const - 1/2 (mu - eta)^2 / (sigma^2 + rho^2)" is this with the log term held constant; we keep
#   it because rho^2 depends on the network (without it confident outputs are punished harder).
# - eta = block mean of p(c); rho^2 = sum_i p_i(c)(1 - p_i(c)) / n^2 (variance of a mean of n
#   independent Bernoullis); a block is one cell of the coarse grid with one coarse label.
# - summed over classes, averaged over blocks (not scaled by coarse-class pixel share: every
#   block counts once). Coarse label == ignore_index -> block skipped. Fine classes that never
#   occur under a coarse class (mu = sigma^2 = 0) keep a variance floor ``eps`` so they stay finite.
# Options beyond Malkin et al. (defaults keep the plain loss; notebook 04 uses min_pixels):
# - ``min_pixels``: blocks with fewer pixels are skipped. A random crop cuts coarse cells at its
#   edges; a sliver of a cell does not have the cell's class mix (mu, sigma^2 describe whole cells),
#   so notebook 04 keeps only blocks that are at least half inside the crop.
# - :func:`cooccurrence_statistics` floors sigma^2 at ``min_var`` (default 1e-3, sd ~ 0.03): Malkin
#   et al. use the estimated variances, many of which are ~0 with statistics from one small region.
#   A larger floor (e.g. 0.03) weighs those near-absent classes less; on the sample scene it gave no
#   consistent gain over 1e-3 (better with one seed, worse with another), so notebook 04 keeps 1e-3.
# A failure of short runs (measured on notebook 04's teaching models, 2026-12-05): both variants
# see probabilities, so a class's logit gets its gradient through the softmax slope p (1 - p).
# Early in training the loss pushes every class towards 0 in the many blocks where it is absent
# (with sigma^2 at its floor those terms weigh most); a class whose probability reaches ~0
# everywhere has a ~0 gradient and never comes back ("dead"). The 30 m label-SR model of the
# reference teaching run never predicts 4 of the 8 classes (largest probabilities 0.005 and 0.002
# for two of them on 16 training crops; their output-layer gradients 0.4 % and 0.1 % of the
# largest), which is most of its gap to the naive U-Net (cross-entropy keeps p - y on every pixel).
# Notebook 04 shows the dead classes of each run (``recipes.label_sr.class_usage``).
LABEL_SR_VARIANTS = ("gaussian", "reference")


def _coarse_phase(coarse: Any, block: int, ignore_index: int) -> tuple[int, int]:
    """Offset (rows, cols) of the coarse grid in a (H, W) label map: the most frequent position,
    modulo ``block``, where the label changes; (0, 0) when it never changes."""
    import torch

    offsets = []
    for dim in (0, 1):
        a = coarse.narrow(dim, 1, coarse.shape[dim] - 1)
        b = coarse.narrow(dim, 0, coarse.shape[dim] - 1)
        changed = (a != b) & (a != ignore_index) & (b != ignore_index)
        pos = torch.nonzero(changed.any(dim=1 - dim)).flatten() + 1
        offsets.append(
            int(torch.bincount(pos % block, minlength=block).argmax()) if pos.numel() else 0
        )
    return offsets[0], offsets[1]


def block_ids(
    coarse: Any, block: int, num_coarse: int, ignore_index: int = 255, align: bool = True
) -> Any:
    """Block index per pixel of ``coarse`` (N, H, W): one block per coarse-grid cell and coarse
    label, -1 where ignored. ``align`` finds each sample's grid offset from the label edges."""
    import torch

    n, h, w = coarse.shape
    rows = torch.arange(h, device=coarse.device)
    cols = torch.arange(w, device=coarse.device)
    ids = torch.empty_like(coarse, dtype=torch.long)
    cells_per_row = (w + block) // block + 1
    cells = ((h + block) // block + 1) * cells_per_row
    for i in range(n):
        r0, c0 = _coarse_phase(coarse[i], block, ignore_index) if align else (0, 0)
        cell = ((rows + block - r0) // block)[:, None] * cells_per_row + (
            (cols + block - c0) // block
        )[None]
        ids[i] = (i * cells + cell) * num_coarse + coarse[i].long().clamp(0, num_coarse - 1)
    return torch.where(coarse == ignore_index, torch.full_like(ids, -1), ids)


def block_statistics(
    probs: Any,
    coarse: Any,
    block: int,
    num_coarse: int,
    ignore_index: int = 255,
    align: bool = True,
) -> dict[str, Any]:
    """Per block: ``eta`` (mean p, (Z, C)), ``rho2`` (variance of that mean, (Z, C)), ``label``
    (coarse class, (Z,)), ``pixels`` (Z,). ``probs`` is (N, C, H, W) softmax output."""
    import torch

    ids = block_ids(coarse, block, num_coarse, ignore_index, align).reshape(-1)
    p = probs.permute(0, 2, 3, 1).reshape(-1, probs.shape[1])
    keep = ids >= 0
    uniq, inv = torch.unique(ids[keep], return_inverse=True)
    p = p[keep]
    count = torch.zeros(len(uniq), device=p.device, dtype=p.dtype).index_add_(
        0, inv, torch.ones_like(p[:, 0])
    )
    eta = (
        torch.zeros(len(uniq), p.shape[1], device=p.device, dtype=p.dtype).index_add_(0, inv, p)
        / count[:, None]
    )
    var = torch.zeros_like(eta).index_add_(0, inv, p * (1 - p)) / count[:, None] ** 2
    return {"eta": eta, "rho2": var, "label": uniq % num_coarse, "pixels": count}


def label_sr_loss(
    output: Any,
    coarse: Any,
    mu: Any,
    sigma2: Any,
    block: int,
    ignore_index: int = 255,
    from_logits: bool = True,
    eps: float = 1e-4,
    log_term: bool = True,
    align: bool = True,
    min_pixels: int = 0,
    variant: str = "gaussian",
    class_weights: Any = None,
) -> Any:
    """Label-SR loss of network ``output`` (N, C, H, W) against coarse labels (N, H, W) with
    per-coarse-class means ``mu`` and variances ``sigma2`` (K, C) of fine-class shares.
    ``variant``: ``"gaussian"`` (the kit's, above; ``min_pixels`` skips blocks with fewer pixels,
    cells cut by the crop's edge) or ``"reference"`` (:func:`reference_sr_loss`, the authors' code;
    it ignores ``block``, ``eps``, ``log_term``, ``align`` and ``min_pixels``)."""
    import math

    import torch

    if variant not in LABEL_SR_VARIANTS:
        raise ValueError(
            f"Unknown label-SR variant {variant!r}; choose one of {LABEL_SR_VARIANTS}."
        )
    output = output.to(torch.promote_types(output.dtype, torch.float32))  # AMP-safe: >= fp32
    probs = output.softmax(1) if from_logits else output
    mu = torch.as_tensor(mu, dtype=probs.dtype, device=probs.device)
    sigma2 = torch.as_tensor(sigma2, dtype=probs.dtype, device=probs.device)
    if mu.shape != sigma2.shape or mu.shape[1] != probs.shape[1]:
        raise ValueError(
            f"mu {tuple(mu.shape)} and sigma2 {tuple(sigma2.shape)} must be (coarse classes, {probs.shape[1]})"
        )
    if variant == "reference":
        return reference_sr_loss(probs, coarse, mu, sigma2.sqrt(), class_weights, ignore_index)
    stats = block_statistics(probs, coarse, block, mu.shape[0], ignore_index, align)
    if min_pixels > 0:
        keep = stats["pixels"] >= min_pixels
        stats = {k: v[keep] for k, v in stats.items()}
    if stats["label"].numel() == 0:
        return probs.sum() * 0.0  # no labelled block: zero loss that still has a graph
    var = sigma2[stats["label"]] + stats["rho2"] + eps
    nll = (mu[stats["label"]] - stats["eta"]) ** 2 / (2 * var)
    if log_term:
        nll = nll + 0.5 * torch.log(2 * math.pi * var)
    return nll.sum(1).mean()


# The reference variant: the authors' public code of label super-resolution, in two versions that
# compute the same loss: the Keras ``sr_loss`` in ``landcover/models.py`` of the GitHub repository
# calebrob6/land-cover (also ``models.py`` of calebrob6/land-cover-mapping-training), and its
# PyTorch port, ``SRLoss.forward`` in ``loss.py`` of leavez529/lsr_pytorch. Written here from
# the formula, checked line by line against those files:
# - one "block" per sample and coarse class k: all pixels of the input patch labelled k (not one
#   coarse-grid cell); n_k = their count + 1e-6; N = all labelled pixels of the patch + 10;
# - eta_kc = sum p(c) / n_k and rho2_kc = sum p(c)(1 - p(c)) / n_k^2 over those pixels;
# - an interval distance instead of (mu - eta): d = relu(|eta - mu_kc| - sigma_kc), with the
#   interval radius sigma a standard deviation ("nlcd_vars" loaded from nlcd_sigma.txt);
# - term_kc = d^2 / (rho2 + sigma^2 + 1e-6) + log(rho2 + 0.03): no 1/2 and no 2 pi, and the log
#   holds the network's rho2 only (0.03 keeps it finite and caps the reward for confidence);
# - weighted by the coarse class's pixel share n_k / N and a per-coarse-class weight w_k;
#   summed over k and c; the batch mean (Keras averages a per-sample loss; the port's ``.mean()``).
# Pixels labelled ``ignore_index`` belong to no class (the reference's all-zero one-hot rows).
REF_LOG_FLOOR = 0.03  # log(rho2 + 0.03)
REF_VAR_EPS = 1e-6  # added to the denominator
REF_COUNT_EPS = 1e-6  # added to each class's pixel count
REF_TOTAL_PAD = 10.0  # added to the patch's labelled pixel count


def reference_sr_loss(
    probs: Any,
    coarse: Any,
    mu: Any,
    radius: Any,
    class_weights: Any = None,
    ignore_index: int = 255,
) -> Any:
    """The label-SR loss of the authors' public code, written from its formula (comment above):
    the Keras ``sr_loss`` in ``landcover/models.py`` of GitHub calebrob6/land-cover (the same in
    ``models.py`` of calebrob6/land-cover-mapping-training) and its PyTorch port
    ``SRLoss.forward`` in ``loss.py`` of leavez529/lsr_pytorch. ``probs`` (N, C, H, W) against
    coarse labels (N, H, W): interval centres ``mu`` and radii ``radius`` (K, C), one weight per
    coarse class (``class_weights`` (K,), default 1)."""
    import torch

    k = mu.shape[0]
    mask = torch.nn.functional.one_hot(coarse.long().clamp(0, k - 1), k).to(probs.dtype)
    mask = mask * (coarse != ignore_index).unsqueeze(-1).to(probs.dtype)  # (N, H, W, K)
    count = mask.sum((1, 2)) + REF_COUNT_EPS  # (N, K)
    total = mask.sum((1, 2, 3)) + REF_TOTAL_PAD  # (N,)
    eta = torch.einsum("nchw,nhwk->nkc", probs, mask) / count[..., None]
    rho2 = torch.einsum("nchw,nhwk->nkc", probs * (1 - probs), mask) / count[..., None] ** 2
    dist = torch.relu((eta - mu).abs() - radius)
    term = dist**2 / (rho2 + radius**2 + REF_VAR_EPS) + torch.log(rho2 + REF_LOG_FLOOR)
    weights = torch.ones(k, dtype=probs.dtype, device=probs.device)
    if class_weights is not None:
        weights = torch.as_tensor(class_weights, dtype=probs.dtype, device=probs.device)
    share = count / total[:, None] * weights  # (N, K)
    return (term * share[..., None]).sum((1, 2)).mean()


class LabelSRLoss:
    """``loss(output, coarse)``: :func:`label_sr_loss` with the statistics held (a step_fn's loss_fn)."""

    def __init__(
        self,
        mu: Any,
        sigma2: Any,
        block: int,
        ignore_index: int = 255,
        eps: float = 1e-4,
        log_term: bool = True,
        align: bool = True,
        min_pixels: int = 0,
        variant: str = "gaussian",
        class_weights: Any = None,
        ce_weight: float = 0.0,
        ce_class_weights: Any = None,
    ) -> None:
        if variant not in LABEL_SR_VARIANTS:
            raise ValueError(
                f"Unknown label-SR variant {variant!r}; choose one of {LABEL_SR_VARIANTS}."
            )
        self.mu, self.sigma2, self.block = mu, sigma2, block
        self.kwargs = {
            "ignore_index": ignore_index,
            "eps": eps,
            "log_term": log_term,
            "align": align,
            "min_pixels": min_pixels,
            "variant": variant,
            "class_weights": class_weights,
        }
        self.ce_weight, self.ce_class_weights = float(ce_weight), ce_class_weights

    def __call__(self, output: Any, coarse: Any) -> Any:
        """The loss of one batch (plus ``ce_weight`` x cross-entropy on the coarse labels)."""
        loss = label_sr_loss(output, coarse, self.mu, self.sigma2, self.block, **self.kwargs)
        if self.ce_weight:
            loss = loss + self.ce_weight * coarse_cross_entropy(
                output, coarse, self.ce_class_weights, self.kwargs["ignore_index"]
            )
        return loss


def coarse_cross_entropy(
    logits: Any, coarse: Any, class_weights: Any = None, ignore_index: int = 255
) -> Any:
    """Cross-entropy of logits against the coarse labels (label SR's keep-alive term): it works on
    log-probabilities, so a class at ~0 probability still gets the gradient ``p - y``."""
    import torch

    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    if not bool((coarse != ignore_index).any()):
        return logits.sum() * 0.0  # nothing labelled: zero loss that still has a graph
    weight = None
    if class_weights is not None:
        weight = torch.as_tensor(class_weights, dtype=logits.dtype, device=logits.device)
    return torch.nn.functional.cross_entropy(
        logits, coarse.long(), weight=weight, ignore_index=ignore_index
    )


def cooccurrence_statistics(
    coarse: Any,
    fine: Any,
    block: int,
    num_coarse: int,
    num_fine: int,
    ignore_index: int = 255,
    min_var: float = 1e-3,
    align: bool = True,
) -> dict[str, Any]:
    """Estimate ``mu``/``sigma2`` (K, C): mean and variance, over blocks with coarse class k, of the
    share of fine class c (fine ``ignore_index`` pixels left out). Use fine labels of the *training*
    region only, as Malkin et al. estimate them from a small labelled set. ``counts``: co-occurrence
    pixel counts (K, C); ``blocks``: blocks per coarse class."""
    import numpy as np
    import torch

    coarse_t = torch.as_tensor(np.asarray(coarse)).long()
    fine_t = torch.as_tensor(np.asarray(fine)).long()
    if coarse_t.ndim == 2:
        coarse_t, fine_t = coarse_t[None], fine_t[None]
    if coarse_t.shape != fine_t.shape:
        raise ValueError(
            f"coarse {tuple(coarse_t.shape)} and fine {tuple(fine_t.shape)} differ in shape"
        )
    coarse_t = torch.where(
        fine_t == ignore_index, torch.full_like(coarse_t, ignore_index), coarse_t
    )
    onehot = (
        torch.nn.functional.one_hot(fine_t.clamp(0, num_fine - 1), num_fine)
        .permute(0, 3, 1, 2)
        .double()
    )
    stats = block_statistics(onehot, coarse_t, block, num_coarse, ignore_index, align)
    mu = np.zeros((num_coarse, num_fine))
    sigma2 = np.full((num_coarse, num_fine), min_var)
    blocks = np.zeros(num_coarse, dtype=np.int64)
    share, label = stats["eta"].numpy(), stats["label"].numpy()
    for k in range(num_coarse):
        rows = share[label == k]
        blocks[k] = len(rows)
        if len(rows):
            mu[k] = rows.mean(0)
            sigma2[k] = np.maximum(rows.var(0), min_var)
        else:  # coarse class never seen: uninformative prior (uniform share, wide variance)
            mu[k] = 1.0 / num_fine
            sigma2[k] = 0.25
    counts = np.zeros((num_coarse, num_fine), dtype=np.int64)
    valid = coarse_t != ignore_index
    np.add.at(counts, (coarse_t[valid].numpy(), fine_t[valid].numpy()), 1)
    return {"mu": mu, "sigma2": sigma2, "counts": counts, "blocks": blocks}


def prior_statistics(num_classes: int, purity: float = 0.7, sigma: float = 0.2) -> dict[str, Any]:
    """A prior-knowledge table when no fine labels are available: a block of coarse class k holds
    a share ``purity`` of fine class k, the rest spread evenly; one standard deviation ``sigma``."""
    import numpy as np

    rest = (1 - purity) / max(num_classes - 1, 1)
    mu = np.full((num_classes, num_classes), rest)
    np.fill_diagonal(mu, purity)
    return {"mu": mu, "sigma2": np.full_like(mu, sigma**2)}


# ---- which map does a label-SR loss prefer? (notebook 04, section 3) ----

TRUE_MAP = "true fine labels"


def candidate_maps(fine: Any, coarse: Any, mu: Any, num_classes: int) -> dict[str, Any]:
    """Three maps of the same region as probabilities (N, C, H, W): the true fine labels, the coarse
    labels (both one-hot, clamped to 1e-6 so logs stay finite), and the "mixture" map that
    predicts at every pixel the mean mix ``mu`` of its coarse class."""
    import torch

    def one_hot(index: Any) -> Any:
        index = torch.as_tensor(index).long().clamp(0, num_classes - 1)
        return torch.nn.functional.one_hot(index, num_classes).permute(0, 3, 1, 2).float()

    mu_t = torch.as_tensor(mu, dtype=torch.float32)
    mixture = mu_t[torch.as_tensor(coarse).long().clamp(0, len(mu_t) - 1)]
    return {
        TRUE_MAP: one_hot(fine).clamp_min(1e-6),
        "coarse labels": one_hot(coarse).clamp_min(1e-6),
        "mixture (mu of the coarse class)": mixture.permute(0, 3, 1, 2).clamp_min(1e-6),
    }


def loss_preference(
    maps: dict[str, Any], coarse: Any, mu: Any, sigma2: Any, block: int, **kwargs: Any
) -> dict[str, dict[str, float]]:
    """The loss of every map under every variant: ``{variant: {map: loss}}`` (lower = preferred)."""
    return {
        variant: {
            name: float(
                label_sr_loss(
                    p, coarse, mu, sigma2, block, from_logits=False, variant=variant, **kwargs
                )
            )
            for name, p in maps.items()
        }
        for variant in LABEL_SR_VARIANTS
    }


def truth_rank(losses_of_maps: dict[str, float], truth: str = TRUE_MAP) -> tuple[int, float]:
    """Where a loss puts the true map: its rank (1 = preferred) and its place between the best
    (0) and the worst (1) map's loss, so that losses of different scales compare."""
    values = sorted(losses_of_maps.values())
    own = losses_of_maps[truth]
    spread = values[-1] - values[0]
    return 1 + values.index(own), (own - values[0]) / spread if spread > 0 else 0.0


def preferred_variant(preference: dict[str, dict[str, float]], truth: str = TRUE_MAP) -> str:
    """The variant that ranks the true map best (rank, then place between best and worst; ties go
    to the earlier of :data:`LABEL_SR_VARIANTS`, the kit's default first)."""
    order = list(preference)
    return min(order, key=lambda v: (*truth_rank(preference[v], truth), order.index(v)))


def outside_interval_share(fine_maps: Any, coarse: Any, mu: Any, sigma2: Any, block: int) -> float:
    """Share of (block, fine class) pairs whose true share lies outside ``mu +- sigma``: what the
    truth pays for under either variant while the mixture map pays nothing."""
    import numpy as np

    stats = block_statistics(fine_maps, coarse, block, len(mu))
    label = stats["label"].numpy()
    dev = np.abs(stats["eta"].numpy() - np.asarray(mu)[label])
    return float((dev > np.sqrt(np.asarray(sigma2)[label])).mean())


# GAN losses (pix2pix, notebook 05)
# Isola et al. 2017: D minimises 0.5 * (GAN(D(x, y), real) + GAN(D(x, G(x)), fake)); G minimises
# GAN(D(x, G(x)), real) + lambda_L1 * |y - G(x)|_1 with lambda_L1 = 100. "vanilla" is the paper's
# cross-entropy on logits (BCEWithLogits), "lsgan" the least-squares variant of the reference code.

GAN_MODES = ("vanilla", "lsgan")
LAMBDA_L1 = 100.0


def gan_loss(logits: Any, target_is_real: bool, mode: str = "vanilla") -> Any:
    """Adversarial loss of discriminator logits against an all-real (1) or all-fake (0) target."""
    import torch.nn.functional as F

    if mode not in GAN_MODES:
        raise ValueError(f"Unknown GAN mode {mode!r}; choose one of {GAN_MODES}.")
    target = logits.new_full(logits.shape, 1.0 if target_is_real else 0.0)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    return F.mse_loss(logits, target)


def masked_l1(output: Any, target: Any, valid: Any = None, positive_weight: float = 1.0) -> Any:
    """Mean |output - target| over channels and the pixels where ``valid`` (B, H, W) is True.

    ``positive_weight`` weighs the error of the channels whose target is positive (a pixel's own
    class in a one-hot target) that many times more (a weighted mean). Why: L1 drives each tanh
    channel to its weighted median, which rises above the negative target only where the class's
    probability exceeds ``1 / (1 + positive_weight)``: 1/2 for the plain L1, 1/C for
    ``positive_weight = C - 1`` (each class then weighs as much as all the others together).
    """
    diff = (output - target).abs()
    weight = torch_ones_like(diff) if valid is None else valid.unsqueeze(1).to(diff.dtype)
    weight = weight.expand_as(diff)
    if positive_weight != 1.0:
        weight = weight * (1.0 + (positive_weight - 1.0) * (target > 0).to(diff.dtype))
    return (diff * weight).sum() / weight.sum().clamp_min(1.0)


def torch_ones_like(x: Any) -> Any:
    """``torch.ones_like`` (torch is imported where a loss runs, not when ``losses`` loads)."""
    import torch

    return torch.ones_like(x)


def discriminator_loss(real_logits: Any, fake_logits: Any, mode: str = "vanilla") -> Any:
    """pix2pix D objective: half the sum of the real (label 1) and fake (label 0) losses."""
    return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))


def generator_loss(
    fake_logits: Any,
    fake: Any,
    target: Any,
    valid: Any = None,
    mode: str = "vanilla",
    lambda_l1: float = LAMBDA_L1,
    positive_weight: float = 1.0,
) -> tuple[Any, Any, Any]:
    """pix2pix G objective: fool D (label 1) plus ``lambda_l1`` times L1 to the target.

    Returns ``(total, adversarial, l1)`` so that the training loop can log each part;
    ``positive_weight``: see :func:`masked_l1`.
    """
    adversarial = gan_loss(fake_logits, True, mode)
    l1 = masked_l1(fake, target, valid, positive_weight)
    return adversarial + lambda_l1 * l1, adversarial, l1


# ---- night lights: multi-scale L1 and ISP auxiliary loss (notebooks 08, 09) ----

# DeepLight objective (source document DeepLight): alpha * F1 * sum_j beta_j * L1(pred_j, HR_j) + (1 - alpha) * F2 * BCE.
# Our choices (DeepLight leaves them open): F1, F2 = means over pixels (mean L1, mean BCE); HR_j is
# the scaled HR target average-pooled to the size of prediction j; BCE with logits of an ISP head.
NTL_ALPHA = 0.97  # the BCE (~0.3-0.7) would otherwise swamp the L1 (~0.03 on the sqrt scale)
NTL_BETAS = (0.25, 0.25, 0.5)  # x2, x4, x8
# expected lights of the registration (helpers.models.registration): L1 weight beside the SR L1;
# chosen on the validation patches of the sample scene (notebook 09's recipe, seeds 0-2): the
# full model's warp left lit coarse lights 0.52 / 0.43 / 0.42 coarse px from where the scene put
# them at weights 1 / 5 / 20 (no warp: 0.61)
NTL_REGISTRATION_WEIGHT = 5.0


def ntl_sr_loss(
    outputs: dict,
    high_res: object,
    isp: object = None,
    alpha: float = NTL_ALPHA,
    betas: tuple[float, ...] = NTL_BETAS,
    multiscale: bool = True,
    auxiliary: bool = True,
    registration_weight: float = NTL_REGISTRATION_WEIGHT,
) -> object:
    """DeepLight multi-scale L1 + ISP auxiliary BCE on scaled targets (see ``helpers.models.ntl_sr``).

    ``outputs``: the model's dict (``"scales"`` coarse to fine, ``"isp_logits"``); ``high_res``
    (B, 1, H, W) scaled target; ``isp`` (B, 1, H, W) 0/1. ``multiscale=False`` keeps only the final
    scale (beta = 1); ``auxiliary=False`` sets alpha = 1 (no BCE). When the outputs hold
    ``"expected"`` (the registration's expected lights, :mod:`helpers.models.registration`), their
    L1 to the target, times ``registration_weight``, is added to the L1 term: it is how they learn.
    """
    import torch.nn.functional as F

    preds = list(outputs["scales"]) if multiscale else [outputs["scales"][-1]]
    weights = list(betas) if multiscale else [1.0]
    if len(weights) != len(preds):
        raise ValueError(
            f"{len(preds)} predictions but {len(weights)} betas; give one beta per scale."
        )
    l1 = 0.0
    for beta, pred in zip(weights, preds):
        target = (
            high_res
            if pred.shape[-2:] == high_res.shape[-2:]
            else F.adaptive_avg_pool2d(high_res, pred.shape[-2:])
        )
        l1 = l1 + beta * F.l1_loss(pred, target)
    if "expected" in outputs:
        l1 = l1 + registration_weight * F.l1_loss(outputs["expected"], high_res)
    if not auxiliary:
        return l1
    if isp is None:
        raise ValueError(
            "auxiliary=True needs the ISP mask (batch['isp']); pass auxiliary=False without it."
        )
    bce = F.binary_cross_entropy_with_logits(outputs["isp_logits"], isp.float())
    return alpha * l1 + (1.0 - alpha) * bce

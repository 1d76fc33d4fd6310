"""Registration of the coarse lights by correlation: where the light should be, from the guidance.

Why (measured on the sample scene, notebook 09): the spatial transformer of
:class:`helpers.models.ntl_sr.AffineTransformation` learns its translation from the SR loss alone,
and at the teaching budget it barely moves (0.03-0.09 coarse px against a misregistration of about
one coarse px). A translation regressed from pooled features has to learn *matching* from a few
hundred steps. Here matching is done explicitly, as in classical image registration: a small
per-pixel network predicts the lights the guidance bands imply
(:class:`helpers.models.ntl_sr.ExpectedLights`, trained
against the fine training target), and the coarse lights are compared with them at every candidate
shift on a grid (:func:`correlation_shift`); a soft arg-min of the cost gives the translation, so
it is right from the first steps in which the expected lights are. The network only has to learn
*what lit land looks like*, a per-pixel regression, not how to register.

Choices (ours, stated so they can be changed): candidates up to ``RADIUS`` coarse px in steps of
``STEP``; the cost is 2 (1 - correlation) of the two images, each standardised over the crop,
over the pixels a shift keeps inside the crop (flat expected lights cost the same at every
shift, so an untrained model is not moved), plus ``PRIOR`` x |shift|^2 (small shifts are
likelier); a soft arg-min at temperature ``TAU``; the shift is scaled by ``c^2 / (c^2 +
CONTRAST^2)``, with ``c`` the coarse lights' standard deviation over the crop, so a dark crop (only
noise, nothing to register) is not moved. The constants were chosen on the training and
validation patches of the sample scene with the true fine lights and with lights predicted from
the guidance (never the test patches).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

RADIUS = 2.0  # largest candidate shift, coarse px (the sample's misregistration: ~1 coarse px)
STEP = 0.25  # spacing of the candidate shifts, coarse px
TAU = 0.1  # temperature of the soft arg-min (costs are in standardised units)
PRIOR = 0.01  # cost added per squared coarse px of shift
CONTRAST = 0.05  # coarse lights' std (DN / 63) at which a crop's shift is halved (~3 DN)


def candidates(radius: float = RADIUS, step: float = STEP) -> torch.Tensor:
    """The candidate shifts (K, 2) in coarse px (x, y), a square grid centred on zero."""
    s = torch.arange(-radius, radius + 1e-6, step)
    return torch.stack(torch.meshgrid(s, s, indexing="xy"), -1).reshape(-1, 2)


def shifted(x: torch.Tensor, shifts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` (B, 1, h, w) read at every pixel centre + each shift (K, 2; px): (B, K, h, w), and
    which read positions fall inside the image (K, h, w) (outside: the border is repeated)."""
    b, _, h, w = x.shape
    k = shifts.shape[0]
    eye = torch.eye(2, 3, dtype=x.dtype, device=x.device).expand(k, 2, 3)
    base = F.affine_grid(eye, [k, 1, h, w], align_corners=False)
    grid = base + (shifts.to(x) * x.new_tensor([2.0 / w, 2.0 / h])).view(k, 1, 1, 2)
    inside = (grid.abs() <= 1).all(-1).to(x.dtype)
    stack = F.grid_sample(
        x.reshape(b, 1, h, w).repeat_interleave(k, 0),
        grid.repeat(b, 1, 1, 1),
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    )
    return stack.view(b, k, h, w), inside


def _centred(x: torch.Tensor, inside: torch.Tensor, n: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``x`` minus its mean over the ``inside`` pixels (zero outside), and its std there (+ 1e-6
    under the root: a flat image has a finite gradient and a correlation of zero with anything)."""
    xc = (x - (x * inside).sum((-2, -1), keepdim=True) / n) * inside
    return xc, ((xc**2).sum((-2, -1), keepdim=True) / n + 1e-6).sqrt()


def correlation_shift(
    low_res: torch.Tensor,
    expected: torch.Tensor,
    radius: float = RADIUS,
    step: float = STEP,
    tau: float = TAU,
    prior: float = PRIOR,
    contrast: float = CONTRAST,
) -> torch.Tensor:
    """The shift (B, 2) in coarse px (x, y) at which ``low_res`` (B, 1, h, w; DN / 63) best
    matches ``expected`` (B, 1, h, w, same grid): read the coarse lights at centre + shift."""
    shifts = candidates(radius, step).to(low_res)
    stack, inside = shifted(low_res, shifts)
    # 2 (1 - correlation) over the pixels each shift keeps inside: the mean squared difference of
    # the two images standardised there; 2 at every shift when either is flat (nothing to match)
    n = inside.sum((-2, -1), keepdim=True).clamp(min=1.0)  # (K, 1, 1)
    (a, sa), (b, sb) = _centred(stack, inside, n), _centred(expected, inside, n)
    corr = ((a * b).sum((-2, -1), keepdim=True) / (n * sa * sb))[..., 0, 0]  # (B, K)
    cost = 2 * (1 - corr)
    cost = cost + prior * (shifts**2).sum(1)
    weights = torch.softmax(-cost / tau, dim=1)  # (B, K)
    shift = weights @ shifts  # (B, 2)
    var = low_res.var((-3, -2, -1))
    return shift * (var / (var + contrast**2)).unsqueeze(1)

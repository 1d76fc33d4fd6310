"""Does a run order the methods as the source document does? Rank agreement and the pairs that flip.

Absolute numbers on the sample scene cannot be compared with published ones (other data, other
training), but the ordering can: if the source ranks pix2pix above the U-Net and the run ranks it
below, that pair *flips*, and the report says so. Agreement is Kendall's tau over the methods both
sides scored (+1 the same order, -1 reversed) with Spearman's rho beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations


@dataclass(frozen=True)
class Agreement:
    """How a run's ordering of methods compares with the published one."""

    methods: tuple[str, ...]  # scored on both sides, published order (best first)
    ours_order: tuple[str, ...]  # the same methods, the run's order (best first)
    kendall_tau: float  # NaN with fewer than two methods
    spearman_rho: float
    flips: tuple[tuple[str, str], ...]  # (a, b): published a > b, the run b > a
    ties: tuple[tuple[str, str], ...]  # pairs the run scores equal

    @property
    def holds(self) -> bool:
        """True when no pair flips (ties in the run do not count as holding)."""
        return len(self.methods) >= 2 and not self.flips and not self.ties


def _finite(mapping: Mapping[str, float | None]) -> dict[str, float]:
    """The entries with a finite number."""
    return {k: float(v) for k, v in mapping.items() if v is not None and math.isfinite(float(v))}


def _ranks(values: list[float]) -> list[float]:
    """Ranks (1 = smallest) with ties given their mean rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rho: Pearson's correlation of the ranks (NaN when a side has no spread)."""
    ra, rb = _ranks(a), _ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra)
    vb = sum((y - mb) ** 2 for y in rb)
    return cov / math.sqrt(va * vb) if va > 0 and vb > 0 else float("nan")


def agreement(
    published: Mapping[str, float | None],
    ours: Mapping[str, float | None],
    higher_is_better: bool = True,
) -> Agreement:
    """Compare two scorings of the same methods (names as keys); methods missing or not finite on
    either side are left out. Kendall's tau-a over the pairs, ties in the run counted as neither."""
    pub, run = _finite(published), _finite(ours)
    sign = 1.0 if higher_is_better else -1.0
    methods = tuple(sorted((m for m in pub if m in run), key=lambda m: -sign * pub[m]))
    ours_order = tuple(sorted(methods, key=lambda m: -sign * run[m]))
    flips, ties, concordant = [], [], 0
    for a, b in combinations(methods, 2):  # a is published above b (or level with it)
        if pub[a] == pub[b]:
            continue
        diff = sign * (run[a] - run[b])
        if diff > 0:
            concordant += 1
        elif diff < 0:
            flips.append((a, b))
        else:
            ties.append((a, b))
    pairs = len(methods) * (len(methods) - 1) // 2
    tau = (concordant - len(flips)) / pairs if pairs else float("nan")
    rho = (
        _spearman([pub[m] for m in methods], [run[m] for m in methods])
        if len(methods) >= 2
        else float("nan")
    )
    return Agreement(methods, ours_order, tau, rho, tuple(flips), tuple(ties))


def verdict(name: str, result: Agreement) -> str:
    """One line for a report: does the published ordering hold, with tau, rho and the flips."""
    if len(result.methods) < 2:
        return f"{name}: fewer than two methods scored on both sides; no ordering to compare."
    word = "holds" if result.holds else "does not hold"
    flips = "; ".join(f"{a} above {b} in the source, below it here" for a, b in result.flips)
    ties = "; ".join(f"{a} level with {b} here" for a, b in result.ties)
    return (
        f"{name}: the published ordering {word} in this run over {len(result.methods)} methods "
        f"(Kendall tau {result.kendall_tau:+.2f}, Spearman rho {result.spearman_rho:+.2f}). "
        f"Published: {' > '.join(result.methods)}. This run: {' > '.join(result.ours_order)}."
        + (f" Pairs that flip: {flips}." if flips else "")
        + (f" Ties: {ties}." if ties else "")
    )

"""A notebook's closing checks as data: each check knows what it compares and whether it holds.

A notebook promises things (the model beats its floor, the map keeps the grid, the run reached its
range); the checks cell states them as :class:`Check` objects built from the run's numbers and
hands them to :func:`verify`, which prints one line per check and raises on a failed one. Because
the rules are plain functions of a flat ``{name: value}`` dict, a test can feed them the record of
a broken run (an untrained or constant model) and see them fail.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

# Profiles whose training is too short for a learned model to be judged: its checks warn instead.
LENIENT_PROFILES = ("smoke",)


@dataclass(frozen=True)
class Check:
    """One promise: ``passed`` says whether it held, ``detail`` shows the numbers behind it.

    ``learned`` marks a check on a trained model's quality (a smoke run only warns on those);
    the rest (shapes, grids, finite losses, record contents) hold in every profile.
    """

    name: str
    passed: bool
    detail: str
    learned: bool = False


def _finite(*values: float) -> bool:
    """True when every value is a finite number."""
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def above(
    name: str, value: float, floor: float, floor_name: str, margin: float = 0.0, unit: str = ""
) -> Check:
    """``value`` beats ``floor`` by more than ``margin`` (a method over its trivial answer)."""
    ok = _finite(value, floor) and value > floor + margin
    gap = value - floor if _finite(value, floor) else float("nan")
    detail = f"{value:.4g}{unit} vs {floor_name} {floor:.4g}{unit} (gap {gap:+.4g}{unit}"
    detail += f", needs > {margin:+.4g}{unit})" if margin else ")"
    return Check(name, ok, detail, learned=True)


def at_least(name: str, value: float, low: float, unit: str = "", learned: bool = True) -> Check:
    """``value`` is at least ``low`` (a promised target)."""
    ok = _finite(value, low) and value >= low
    return Check(name, ok, f"{value:.4g}{unit} (target >= {low:.4g}{unit})", learned=learned)


def within(
    name: str, value: float, low: float, high: float, unit: str = "", learned: bool = True
) -> Check:
    """``low <= value <= high`` (a measured range, a physical bound)."""
    ok = _finite(value, low, high) and low <= value <= high
    return Check(name, ok, f"{value:.4g}{unit} (range {low:.4g} to {high:.4g}{unit})", learned)


def holds(name: str, condition: bool, detail: str = "") -> Check:
    """A structural promise (shape, grid, file written) that holds in every profile."""
    return Check(name, bool(condition), detail)


def failures(checks: Iterable[Check], profile: str) -> list[Check]:
    """The failed checks that count in ``profile`` (learned checks do not count when lenient)."""
    lenient = profile in LENIENT_PROFILES
    return [c for c in checks if not c.passed and not (lenient and c.learned)]


def verify(checks: Iterable[Check], profile: str) -> list[Check]:
    """Print every check and raise ``AssertionError`` naming the failed ones that count.

    In a lenient profile a failed learned check is printed and warned about, not raised.
    Returns the checks so a notebook can keep them in its record.
    """
    checks = list(checks)
    if not checks:
        raise AssertionError("no checks given: a checks cell must state what the notebook promised")
    for c in checks:
        mark = "ok  " if c.passed else ("WARN" if c not in failures([c], profile) else "FAIL")
        print(f"{mark} {c.name}: {c.detail}")
    soft = [c for c in checks if not c.passed and c not in failures(checks, profile)]
    if soft:
        warnings.warn(
            f"{len(soft)} learned check(s) missed in the {profile} profile (too few steps to "
            "judge): " + "; ".join(c.name for c in soft),
            stacklevel=2,
        )
    failed = failures(checks, profile)
    if failed:
        raise AssertionError(
            "failed checks: " + "; ".join(f"{c.name} ({c.detail})" for c in failed)
        )
    return checks

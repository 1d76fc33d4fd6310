"""Sentences computed from a run's numbers, so a notebook's prose cannot contradict its output.

A summary that says "X beats Y by 0.2" or "the hardest class is shrubland" is built here from the
run's own values and shown as Markdown (:func:`show`); the static markdown cells keep only what no
run can contradict (ideas, settings, citations).
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def fmt(value: float, digits: int = 3, unit: str = "") -> str:
    """A number for prose: ``digits`` decimals, the unit after it, 'n/a' when not finite."""
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    return f"{float(value):.{digits}f}{unit}"


def ranking(
    scores: Mapping[str, float], higher_is_better: bool = True, digits: int = 3, unit: str = ""
) -> str:
    """'A (0.71) > B (0.52) > C (0.40)': the methods ordered best first (ties keep input order)."""
    finite = {k: v for k, v in scores.items() if v is not None and math.isfinite(v)}
    order = sorted(finite, key=lambda k: -finite[k] if higher_is_better else finite[k])
    text = " > ".join(f"{k} ({fmt(finite[k], digits, unit)})" for k in order)
    missing = [k for k in scores if k not in finite]
    return text + (f"; no score for {', '.join(missing)}" if missing else "")


def best_floor(floors: Mapping[str, float], higher_is_better: bool = True) -> tuple[str, float]:
    """The strongest trivial answer: ``(name, value)`` of the best finite floor."""
    finite = {k: v for k, v in floors.items() if v is not None and math.isfinite(v)}
    if not finite:
        raise ValueError("no finite floor value to compare with")
    name = (max if higher_is_better else min)(finite, key=finite.__getitem__)
    return name, finite[name]


def versus_floor(
    method: str,
    value: float,
    floors: Mapping[str, float],
    higher_is_better: bool = True,
    digits: int = 3,
    unit: str = "",
) -> str:
    """'X scores 0.71, 0.19 above the best floor (majority class, 0.52)' or '... below ...'."""
    name, floor = best_floor(floors, higher_is_better)
    gap = (value - floor) if higher_is_better else (floor - value)
    word = "above" if gap > 0 else ("level with" if gap == 0 else "below")
    return (
        f"{method} scores {fmt(value, digits, unit)}, {fmt(abs(gap), digits, unit)} {word} "
        f"the best floor ({name}, {fmt(floor, digits, unit)})"
    )


def extremes(
    per_class: Mapping[str, float], n: int = 2, digits: int = 2, lowest: bool = True
) -> str:
    """'shrubland (0.24), barren (0.31)': the ``n`` lowest (or highest) classes, with values."""
    finite = {k: v for k, v in per_class.items() if v is not None and math.isfinite(v)}
    order = sorted(finite, key=finite.__getitem__, reverse=not lowest)[:n]
    return ", ".join(f"{k} ({fmt(finite[k], digits)})" for k in order)


def show(text: str) -> None:
    """Display ``text`` as Markdown in a notebook (printed as plain text elsewhere)."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # plain Python without IPython
        print(text)
        return
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))

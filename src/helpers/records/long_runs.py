"""Long runs: the same recipe trained >= 10x the teaching steps, kept as small JSON histories in the
package (``long_run_histories/``), so a notebook can show where the student's short run stopped.

A history file holds the command, commit and machine that produced it, the recipe it ran (the
profile's settings, the scene's settings and generator version), and every K steps the training
loss and a validation metric measured on held-out training data or the validation split (never
test pixels). :func:`mismatches` compares a file's recipe with the current settings, so a changed
setting without a re-run is caught (``tests/test_long_runs.py``); :func:`story` writes the
notebook's sentence from the numbers, never by hand.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core import config

HISTORY_DIR = Path(__file__).with_name("long_run_histories")  # shipped with the package
FORMAT = 1
# Settings that are no part of a model's recipe: the safety cap, inference tiles, how many
# seeds a notebook averages, the epochs of a model the long run does not train.
NOT_RECIPE = frozenset(
    {"time_cap_s", "tile", "overlap", "seeds", "softmax_seeds", "ntl_only_epochs"}
)
NO_RUN = "no long run recorded for this recipe yet"
COSINE = (  # the story's schedule sentence for a history that names none (the cosine recipes)
    "Its cosine schedule spans all its steps, so its value at your step is a point on its curve, "
    "not a replay of your run."
)


class LongRunError(ValueError):
    """A history file that cannot be read or used; the message names the file and the fix."""


def recipe(notebook: str, profile: str) -> dict[str, Any]:
    """What a long run of ``notebook`` under ``profile`` depends on: the notebook's settings (less
    :data:`NOT_RECIPE`), the sample scene's settings and the scene generator's version."""
    from ..data import synthetic  # the scene generator's version: only when a recipe is asked

    settings = config.settings(notebook, profile)
    return {
        "settings": {k: v for k, v in sorted(settings.items()) if k not in NOT_RECIPE},
        "scene": dict(sorted(config.settings("scene", profile).items())),
        "generator_version": synthetic.GENERATOR_VERSION,
    }


def mismatches(history: Mapping[str, Any], current: Mapping[str, Any] | None = None) -> list[str]:
    """Each difference between the recipe a history ran and ``current`` (default: today's
    :func:`recipe` of its notebook and profile), as ``"settings.crop: ran 64, now 128"``."""
    now = current or recipe(history["notebook"], history["profile"])
    ran = history.get("recipe", {})
    out = []
    for part in sorted(set(now) | set(ran)):
        a, b = ran.get(part), now.get(part)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            for key in sorted(set(a) | set(b)):
                if a.get(key, "absent") != b.get(key, "absent"):
                    out.append(
                        f"{part}.{key}: ran {a.get(key, 'absent')}, now {b.get(key, 'absent')}"
                    )
        elif a != b:
            out.append(f"{part}: ran {a}, now {b}")
    return out


def read(path: str | os.PathLike) -> dict[str, Any]:
    """One history file, checked for the keys the notebooks read."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise LongRunError(
            f"{path}: not a readable long-run history ({err}). Re-run its command."
        ) from err
    need = ("notebook", "model", "profile", "recipe", "steps", "train_loss", "val_steps", "val")
    missing = [k for k in need if k not in data]
    if missing or data.get("format") != FORMAT:
        raise LongRunError(
            f"{path}: long-run history of format {data.get('format')!r} lacks {missing}; "
            f"this kit reads format {FORMAT}. Re-run the command it names ({data.get('command')})."
        )
    return data


def write(history: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write a history as JSON, one key a line (small: one entry every K steps; diffs stay short)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in history.items()]  # a line a key
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    return path


def all_histories(directory: str | os.PathLike = HISTORY_DIR) -> dict[Path, dict[str, Any]]:
    """Every history file shipped (``*.json`` under ``directory``), by path."""
    return {p: read(p) for p in sorted(Path(directory).glob("*.json"))}


def problems(directory: str | os.PathLike = HISTORY_DIR) -> list[str]:
    """Each shipped history whose recipe is not the current one, naming the file and the fix."""
    out = []
    for path, history in all_histories(directory).items():
        diff = mismatches(history)
        if diff:
            out.append(
                f"{path.name}: recipe changed since the long run ({'; '.join(diff)}). Re-run "
                f"`{history.get('command')}` and copy its history here, or delete the file."
            )
    return out


def for_notebook(
    notebook: str, profile: str, directory: str | os.PathLike = HISTORY_DIR
) -> dict[str, dict[str, Any]]:
    """The histories of one notebook and profile whose recipe is still current, by model name."""
    found = {}
    for history in all_histories(directory).values():
        if history["notebook"] == notebook and history["profile"] == profile:
            if not mismatches(history):
                found[history["model"]] = history
    return found


def flat_from(steps: Sequence[float], values: Sequence[float], higher: bool, tol: float) -> float:
    """The first step from which the best value so far is within ``tol`` of the run's best: where
    the curve flattens (NaN where nothing was measured)."""
    pairs = [(s, v) for s, v in zip(steps, values) if math.isfinite(v)]
    if not pairs:
        return float("nan")
    sign = 1.0 if higher else -1.0
    best = max(sign * v for _, v in pairs)
    running = -math.inf
    for s, v in pairs:
        running = max(running, sign * v)
        if running >= best - tol:
            return float(s)
    return float(pairs[-1][0])


def value_at(steps: Sequence[float], values: Sequence[float], step: float) -> tuple[float, float]:
    """The measured ``(step, value)`` nearest to ``step`` (finite values only)."""
    pairs = [(s, v) for s, v in zip(steps, values) if math.isfinite(v)]
    if not pairs:
        return float("nan"), float("nan")
    return min(pairs, key=lambda p: abs(p[0] - step))


SMOOTH = 3  # validation points in the running mean the sentence and the flattening point read


def curve(history: Mapping[str, Any], window: int = 1) -> tuple[list[float], list[float]]:
    """The validation metric of a history as ``(steps, values)``; ``window`` > 1: the trailing
    mean of that many measurements (a curve measured at a high learning rate is noisy)."""
    name = history["metric"]
    values = [float(v.get(name, math.nan)) for v in history["val"]]
    if window > 1:
        values = [_mean(values[max(0, i - window + 1) : i + 1]) for i in range(len(values))]
    return list(history["val_steps"]), values


def _mean(values: Sequence[float]) -> float:
    """Mean of the finite values (NaN when none)."""
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def student_steps(history: Mapping[str, Any], epochs_done: int) -> int:
    """Optimisation steps of a student's run of ``epochs_done`` epochs of the same recipe."""
    return int(epochs_done) * int(history["steps_per_epoch"])


def story(history: Mapping[str, Any], stopped_at: int) -> str:
    """The notebook's sentence: where a run of ``stopped_at`` steps sits on the long run's curve,
    and from which step the same recipe stops improving; every number from the history, read as
    the running mean of :data:`SMOOTH` measurements (its ``schedule`` sentence, else :data:`COSINE`)."""
    steps, values = curve(history, SMOOTH)
    tol, higher = history["flat_tolerance"], history["higher_is_better"]
    label, d = f"{history['metric_label']} (mean of {SMOOTH} measurements)", history["digits"]
    done, planned = history["steps_done"], history.get("planned_steps", history["steps_done"])
    near_s, near_v = value_at(steps, values, stopped_at)
    end_s, end_v = value_at(steps, values, steps[-1] if steps else 0)
    best_v = (max if higher else min)(v for v in values if math.isfinite(v))
    best_s = steps[values.index(best_v)]
    flat = flat_from(steps, values, higher, tol)
    length = f"run for {done:,} steps" if done >= planned else (
        f"planned for {planned:,} steps and stopped at step {done:,} (its learning rate not yet "
        "decayed: it may still gain)"
    )  # fmt: skip
    if done <= stopped_at:
        verdict = "the long run has not passed your run's steps yet, so it says nothing about more"
    elif flat >= end_s and done < planned:
        verdict = f"it was still improving at its last measured step ({end_s:,.0f})"
    elif flat > near_s:
        verdict = (
            f"it keeps improving: it first comes within {tol:g} of its best at about step "
            f"{flat:,.0f} ({flat / max(stopped_at, 1):.1f}x your run)"
        )
    else:
        verdict = f"it was already within {tol:g} of its best by your step"
    drop = (best_v - end_v) if higher else (end_v - best_v)
    if done > stopped_at and drop > 2 * tol:  # peaked, then lost it: more steps stop paying
        verdict += (
            f"; after its best it falls back by {drop:.{d}f} by its last step, so more steps of "
            "this recipe stop paying (keep the best checkpoint, or stop near the best step)"
        )
    return (
        f"Your run stopped after {stopped_at:,} optimisation steps. A long run of the same recipe "
        f"({history['model']}, {history['profile']} profile; validation: {history['validation']}), "
        f"{length}: {label} {near_v:.{d}f} at step {near_s:,.0f}, best {best_v:.{d}f} at step "
        f"{best_s:,.0f}, {end_v:.{d}f} at step {end_s:,.0f}; {verdict}. "
        + history.get("schedule", COSINE)
    )


def missing(model: str) -> str:
    """What a notebook shows for a model without a current long-run history."""
    return f"{model}: {NO_RUN} (see `eosr train --help`, options --steps and --history-every)."


def lines(
    notebook: str,
    profile: str,
    epochs_done: Mapping[str, int],
    directory: str | os.PathLike = HISTORY_DIR,
) -> str:
    """Markdown for a notebook: per model (name -> the student's epochs), where its run sits on
    the long run (:func:`story`), or that no long run is recorded for its current recipe."""
    found = for_notebook(notebook, profile, directory)
    out = []
    for model, epochs in epochs_done.items():
        history = found.get(model)
        if history is None:
            out.append(f"- {missing(model)}")
        else:
            out.append(f"- {model}: {story(history, student_steps(history, epochs))}")
    return "\n".join(out)

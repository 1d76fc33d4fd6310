"""Developer tool: run each notebook exercise as a variant, record what it did, render the answers page.

Every numbered item under a notebook's "## Exercises" heading has an entry in ``exercise_specs.py``
(beside this file): a *variant* (papermill parameters and/or a short snippet inserted into a copy of
the notebook), a *concept* question answered from a reference run's records, or an *outside* task
(Earth Engine, QGIS, your own data) that this machine cannot run. ``run`` executes a variant (and
the notebook's unchanged *baseline* with the same profile and seed) and stores the values, profile,
commit, machine and command in ``docs/exercises.json``; ``render`` writes ``docs/EXERCISES.md`` from
that JSON alone, so the page shows only measured numbers. A measurement records a hash of the
notebook's code cells; ``sync`` marks it stale once that code differs (the helpers are not tracked:
the page shows each measurement's commit), and ``run`` measures the baseline again when its stored
one is stale. Usage::

    python tools/exercise_outcomes.py sync                      # specs + notebooks -> JSON, page
    python tools/exercise_outcomes.py run 06.2a --profile teaching   # one variant (and its baseline)
    python tools/exercise_outcomes.py run 06.2a --seed 1 --repeat    # the same at another seed
    python tools/exercise_outcomes.py reference runs/<run>      # concept answers from a run's records
    python tools/exercise_outcomes.py render [--check]          # page from JSON (--check: compare)
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
JSON_PATH = ROOT / "docs" / "exercises.json"
PAGE_PATH = ROOT / "docs" / "EXERCISES.md"
sys.path.insert(0, str(Path(__file__).resolve().parent))
import exercise_specs  # noqa: E402  (the registry: one entry per exercise)

ITEM = re.compile(r"^(\d+)\.\s+(.*)$")
VALUES_FILE = "exercise_values.json"
SEEDS_FILE = (
    "exercise_seeds.json"  # the seeds the run trained: SEEDS where a notebook has it, else SEED
)
REPORT_ONLY = """# exercise variant (tools/exercise_outcomes.py): one torch thread; closing checks report, never stop
import torch as _torch
from helpers.core import checks as _checks
_torch.set_num_threads(1)
_verify = getattr(_checks, "_strict_verify", _checks.verify)
_checks._strict_verify = _verify
def _report_only(rules, profile):
    rules = list(rules)
    try:
        return _verify(rules, profile)
    except AssertionError as error:
        print("exercise variant, check missed (expected when a variant moves a result):", error)
        return rules
_checks.verify = _report_only"""


def exercises_in(path: Path) -> list[tuple[int, str]]:
    """The numbered exercises of one notebook: (number, text) from its "## Exercises" list."""
    nb = nbformat.read(path, as_version=4)
    found: list[tuple[int, str]] = []
    for cell in nb.cells:
        if cell.cell_type != "markdown" or "## Exercises" not in cell.source:
            continue
        body = cell.source.split("## Exercises", 1)[1].split("\n## ", 1)[0]
        for line in body.splitlines():
            m = ITEM.match(line.strip())
            if m:
                found.append((int(m.group(1)), m.group(2).strip()))
            elif found and line.startswith("   ") and line.strip():
                number, text = found[-1]
                found[-1] = (number, f"{text} {line.strip()}")
    return found


def all_exercises(folder: Path = NOTEBOOKS) -> dict[str, tuple[str, str]]:
    """Every exercise of every notebook: ``{"03.1": (notebook stem, text)}``."""
    out: dict[str, tuple[str, str]] = {}
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        for number, text in exercises_in(path):
            out[f"{path.name[:2]}.{number}"] = (path.stem, text)
    return out


def load_json(path: Path = JSON_PATH) -> dict[str, Any]:
    """The stored outcomes (an empty skeleton when the file does not exist yet)."""
    if not path.exists():
        return {"exercises": {}, "baselines": {}, "references": {}}
    return json.loads(path.read_text())


def save_json(data: dict[str, Any], path: Path = JSON_PATH) -> None:
    """Write the outcomes with sorted keys (stable diffs)."""
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def sync(data: dict[str, Any], found: dict[str, tuple[str, str]]) -> list[str]:
    """Bring the JSON in line with the notebooks and the specs; return the exercises with no spec."""
    missing = []
    exercises = data.setdefault("exercises", {})
    for key in list(exercises):
        if key not in found:
            del exercises[key]
    for key, (stem, text) in found.items():
        spec = exercise_specs.SPECS.get(key)
        if spec is None:
            missing.append(key)
            continue
        entry = exercises.setdefault(key, {"measurements": {}})
        entry.update(
            notebook=stem,
            text=text,
            kind=spec["kind"],
            look_at=spec.get("look_at", ""),
            why=spec.get("why", ""),
        )
        variants = spec.get("variants", {})
        entry["variants"] = {
            v: {"how": how_text(spec_v), "command": command_for(f"{key}{v}")}
            for v, spec_v in variants.items()
        }
        entry["measurements"] = {  # a measurement of a variant whose spec changed since is dropped
            v: m
            for v, m in entry["measurements"].items()
            if v in variants
            and m.get("spec") == {"variant": variants[v], "values": spec.get("values", {})}
        }
        for m in entry["measurements"].values():
            m["stale"] = changed_since(m, stem) or any(
                changed_since(r, stem) for r in m.get("repeats", {}).values()
            )
        if spec["kind"] == "outside":
            entry["answer"] = spec["answer"]
    return missing


def code_sha(text: str) -> str:
    """A short hash of a notebook's code cells (JSON ``text``): what a run executes, without the
    markdown, outputs and cell ids that do not change a result. Each cell counts as its syntax tree
    written back as code (``ast.unparse``), so re-formatting a cell (``make format``) or editing a
    comment does not mark a measurement stale; a cell that does not parse (a magic) counts as text."""
    cells = nbformat.reads(text, as_version=4).cells
    code = "\n# cell\n".join(_executed(c.source) for c in cells if c.cell_type == "code")
    return hashlib.sha1(code.encode()).hexdigest()[:12]


def _executed(source: str) -> str:
    """A code cell as Python executes it: comments and layout dropped (its text if it does not parse)."""
    try:
        return ast.unparse(ast.parse(source))
    except SyntaxError:
        return source


def notebook_sha(stem: str) -> str:
    """The code hash of notebook ``stem`` as it is on disk."""
    return code_sha((NOTEBOOKS / f"{stem}.ipynb").read_text())


def changed_since(measured: dict[str, Any], stem: str) -> bool:
    """Whether the code of notebook ``stem`` differs from the one a measurement ran: by its stored
    hash, else (measurements made before hashes were stored) from the notebook at its commit."""
    sha = measured.get("notebook_sha")
    if sha is None:
        rev = str(measured.get("commit", "")).split(" ")[0]
        done = subprocess.run(["git", "show", f"{rev}:notebooks/{stem}.ipynb"], cwd=ROOT,
                              capture_output=True, text=True)  # fmt: skip
        sha = code_sha(done.stdout) if rev and not done.returncode else None
    return sha != notebook_sha(stem)


def how_text(variant: dict[str, Any]) -> str:
    """What the variant changes, in the words a student would type (markdown; a snippet of
    several lines becomes an indented code block of the list item)."""
    parts = [f"`-p {k} {json.dumps(v)}`" for k, v in variant.get("params", {}).items()]
    snippet = (variant.get("snippet") or "").strip()
    where = (
        f"after the cell holding `{variant['after']}`"
        if variant.get("after")
        else "after the settings cell"
    )
    if snippet and "\n" not in snippet:
        parts.append(f"{where}: `{snippet}`")
    elif snippet:
        block = "\n".join(f"  {line}" if line else "" for line in snippet.splitlines())
        parts.append(f"{where}:\n\n  ```python\n{block}\n  ```\n\n  ")
    return "; ".join(parts) or "the notebook unchanged"


def command_for(variant_id: str, profile: str = "teaching", seed: int = 0) -> str:
    """The command that measures one variant (as recorded beside its values)."""
    return (
        f"nice -n 19 .venv/bin/python tools/exercise_outcomes.py run {variant_id} "
        f"--profile {profile} --seed {seed}"
    )


def split_id(variant_id: str) -> tuple[str, str]:
    """``"06.2a"`` -> (``"06.2"``, ``"a"``); a variant id must name a variant of the specs."""
    m = re.fullmatch(r"(\d\d\.\d+)([a-z]?)", variant_id)
    if not m or m.group(1) not in exercise_specs.SPECS:
        raise SystemExit(f"{variant_id}: no such exercise in tools/exercise_specs.py")
    variants = exercise_specs.SPECS[m.group(1)].get("variants", {})
    if m.group(2) not in variants:
        raise SystemExit(
            f"{variant_id}: exercise {m.group(1)} has the variants {sorted(variants) or 'none'}"
        )
    return m.group(1), m.group(2)


def variant_notebook(src: Path, variant: dict[str, Any], exprs: dict[str, str], out: Path) -> Path:
    """A copy of ``src`` with the report-only checks, the variant's snippet after its cell and a
    last cell that writes ``exprs`` (evaluated in the kernel) to ``VALUES_FILE`` and the seeds the
    run trained to ``SEEDS_FILE`` beside ``out``."""
    nb = nbformat.read(src, as_version=4)
    cells = nb.cells
    where = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    cells.insert(where + 2, nbformat.v4.new_code_cell(REPORT_ONLY))  # after the settings cell
    if variant.get("snippet"):
        marker = variant.get("after")
        at = where + 2
        if marker:
            hits = [i for i, c in enumerate(cells) if c.cell_type == "code" and marker in c.source]
            if not hits:
                raise SystemExit(f"{src.name}: no code cell contains {marker!r}; fix the spec")
            at = hits[0]
        cells.insert(at + 1, nbformat.v4.new_code_cell(variant["snippet"].strip()))
    dump = (
        "import json as _json\n_values = {}\n"
        f"for _k, _e in {exprs!r}.items():\n"
        "    try:\n        _v = eval(_e)\n    except Exception as _x:\n        _v = f'error: {_x}'\n"
        "    try:\n        _v = {str(a): float(b) for a, b in dict(_v).items()}\n"
        "    except Exception:\n        try:\n            _v = float(_v)\n        except Exception:\n"
        "            _v = str(_v)[:200]\n    _values[_k] = _v\n"
        f"open({str(out.parent / VALUES_FILE)!r}, 'w').write(_json.dumps(_values))\n"
        "_s = globals().get('SEED_LIST', globals().get('SEEDS'))\n"  # 09 keeps its list in SEED_LIST
        "_s = [int(x) for x in _s] if isinstance(_s, (list, tuple)) else [int(SEED)]\n"
        f"open({str(out.parent / SEEDS_FILE)!r}, 'w').write(_json.dumps(_s))"
    )
    cells.append(nbformat.v4.new_code_cell(dump))
    path = out.parent / f"variant_{src.name}"
    nbformat.write(nb, path)
    return path


def machine() -> str:
    """Where a run happened: host, cores, load at the start (times depend on it; metrics do not)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.node()}, {os.cpu_count()} cores, cpu, 1 torch thread, load {load:.1f} at start"
    )


def commit(stem: str | None = None) -> str:
    """The checked-out commit (short hash), marked when the notebook ``stem`` or the package had
    uncommitted edits at run time (the working tree is what ran)."""
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    label = done.stdout.strip() or "unknown"
    if stem:
        paths = ["src/helpers", f"notebooks/{stem}.ipynb"]
        dirty = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", *paths], cwd=ROOT
        ).returncode
        label += " + uncommitted edits" if dirty else ""
    return label


def execute(
    stem: str, variant: dict[str, Any], exprs: dict[str, str], profile: str, seed: int
) -> dict[str, Any]:
    """Run one (variant) notebook under papermill at ``profile``/``seed``; return its measurement."""
    work = Path(tempfile.mkdtemp(prefix=f"eosr-ex-{stem[:2]}-"))
    out = work / "out.ipynb"
    nb = variant_notebook(NOTEBOOKS / f"{stem}.ipynb", variant, exprs, out)
    params = {"PROFILE": profile, "SEED": seed, **variant.get("params", {})}
    cmd = [sys.executable, "-m", "papermill", str(nb), str(out), "--cwd", str(NOTEBOOKS)]
    for k, v in params.items():
        cmd += ["-y", json.dumps({k: v})]
    env = {**os.environ, "EOSR_PROFILE": profile, "EOSR_RUN_DIR": str(work / "run"),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "EOSR_HEADLESS": "1"}  # fmt: skip
    where, rev, sha, started = machine(), commit(stem), notebook_sha(stem), dt.datetime.now(dt.UTC)
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    values_path = work / VALUES_FILE
    if done.returncode or not values_path.exists():
        raise SystemExit(f"{stem} variant failed (see {out}):\n{done.stderr[-3000:]}")
    return {
        "values": json.loads(values_path.read_text()),
        "profile": profile,
        "seed": seed,
        "seeds": json.loads((work / SEEDS_FILE).read_text()),
        "commit": rev,
        "notebook_sha": sha,
        "machine": where,
        "seconds": round(seconds, 1),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
    }


def run(
    data: dict[str, Any],
    variant_id: str,
    profile: str,
    seed: int,
    baseline: bool,
    repeat: bool = False,
) -> None:
    """Measure one variant (and, unless stored for this profile, seed and commit, its baseline);
    the JSON is read again before each write, so runs queued one after another keep each other's.
    ``repeat``: the variant is measured already (another seed, same profile); this seed's run and
    its own baseline's values are kept beside it under ``repeats`` (:func:`repeat_text`)."""
    key, v = split_id(variant_id)
    spec = exercise_specs.SPECS[key]
    stem = data["exercises"][key]["notebook"]
    first = data["exercises"][key]["measurements"].get(v)
    if repeat and (not first or first["profile"] != profile or seed in first["seeds"]):
        raise SystemExit(f"{variant_id}: --repeat needs a measurement at another seed first")
    exprs = spec.get("values", {})
    base_key = f"{stem[:2]}|{profile}|{seed}"
    stored = data["baselines"].get(base_key, {})
    # a stored baseline of this profile and seed that read the same expressions from the same
    # notebook is reused (both commits are recorded and shown)
    reads_other = any(stored.get("exprs", {}).get(k) != e for k, e in exprs.items())
    if baseline and (reads_other or changed_since(stored, stem)):
        measure_baseline(stem, profile, seed)
    fresh = load_json()
    base = fresh["baselines"].get(base_key)
    if (
        not spec["variants"][v] and base
    ):  # the unchanged notebook: its baseline run is the measurement
        measured = {**base, "values": {k: base["values"][k] for k in exprs}}
    else:
        measured = execute(stem, spec["variants"][v], exprs, profile, seed)
        fresh = load_json()
    measured["command"] = command_for(variant_id, profile, seed) + (" --repeat" if repeat else "")
    measured["spec"] = {"variant": spec["variants"][v], "values": exprs}  # a changed spec drops it
    measured["baseline"] = base_key if base_key in fresh["baselines"] else None
    slot = fresh["exercises"][key]["measurements"]
    if repeat:  # checked before the runs above: a first measurement at another seed exists
        measured["baseline_values"] = (base or {}).get("values", {})
        slot[v].setdefault("repeats", {})[str(seed)] = measured
    else:
        slot[v] = measured  # a new first measurement drops the repeats of the old one
    save_json(fresh)


def measure_baseline(stem: str, profile: str, seed: int) -> None:
    """Run notebook ``stem`` unchanged and store every value its exercises read."""
    exprs = exercise_specs.baseline_values(stem[:2])
    measured = {**execute(stem, {}, exprs, profile, seed), "exprs": exprs}
    measured["command"] = (
        f"nice -n 19 .venv/bin/python tools/exercise_outcomes.py baseline {stem[:2]} "
        f"--profile {profile} --seed {seed}"
    )
    fresh = load_json()
    fresh["baselines"][f"{stem[:2]}|{profile}|{seed}"] = measured
    save_json(fresh)


def reference(data: dict[str, Any], run_dir: Path) -> None:
    """Fill each concept answer's numbers from the records of a reference run folder."""
    records = [
        json.loads(line)
        for line in (run_dir / "results.jsonl").read_text().splitlines()
        if line.strip()
    ]
    for key, spec in exercise_specs.SPECS.items():
        if spec["kind"] != "concept" or key not in data["exercises"]:
            continue
        numbers = {}
        for name, (notebook, method, field) in spec["numbers"].items():
            rec = [
                r for r in records if r["notebook"].startswith(notebook) and method in r["method"]
            ]
            if not rec:
                raise SystemExit(f"{run_dir}: no record of {notebook} with method {method!r}")
            value: Any = rec[-1]
            for part in field.split("."):
                value = value[part]
            numbers[name] = value
        data["exercises"][key]["answer"] = spec["answer"].format(**numbers)
        data["exercises"][key]["reference"] = {
            "run": run_dir.name,
            "profile": records[0].get("profile"),
            "numbers": numbers,
        }
    save_json(data)


def fmt(value: Any, sign: bool = False) -> str:
    """A value for the page: 3 significant digits (whole numbers from 1,000 up), a dict's items so,
    or its text."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {fmt(v, sign)}" for k, v in value.items())
    if isinstance(value, float):
        plus = "+" if sign else ""
        return f"{value:{plus},.0f}" if abs(value) >= 1000 else f"{value:{plus}.3g}"
    return str(value)


def change_text(name: str, new: Any, old: Any) -> str:
    """One changed value as "name: old -> new (+diff)"; per-class dicts list their 5 largest changes
    (none when nothing shared moved) and the keys that only one run has (a variant may rename a row)."""
    if isinstance(new, dict) and isinstance(old, dict):
        diffs = sorted(((new[k] - old[k], k) for k in new if k in old and new[k] != old[k]),
                       key=lambda t: abs(t[0]), reverse=True)  # fmt: skip
        alone = [(side, k, v) for side, d, o in (("variant", new, old), ("baseline", old, new))
                 for k, v in d.items() if k not in o]  # fmt: skip
        return f"{name}, largest changes: " + (
            ", ".join(
                [f"{k} {old[k]:.3g} -> {new[k]:.3g} ({d:+.3g})" for d, k in diffs[:5]]
                + [f"{k} {v:.3g} ({side} only)" for side, k, v in alone]
            )
            or "none"
        )
    if isinstance(new, float) and isinstance(old, float):
        return f"{name}: {fmt(old)} -> {fmt(new)} ({fmt(new - old, sign=True)})"
    if isinstance(old, str) and old.startswith("error"):  # a value only the variant computes
        return f"{name}: {fmt(new)}"
    return f"{name}: {fmt(old)} -> {fmt(new)}"


def seeds_text(seeds: list[int]) -> str:
    """How many seeds a run trained: "one seed (0)", or "3 seeds (0, 1, 2; a trained row is the
    mean over those it trained on)" for a notebook that trains its rows once per seed of its
    ``SEEDS`` (a row may train on fewer: notebook 05's softmax image in teaching, its first seed)."""
    if len(seeds) == 1:
        return f"one seed ({seeds[0]})"
    listed = ", ".join(map(str, seeds))
    return f"{len(seeds)} seeds ({listed}; a trained row is the mean over those it trained on)"


def measurement_lines(entry: dict[str, Any], data: dict[str, Any]) -> list[str]:
    """The page's lines for a variant exercise: each variant's values beside its baseline."""
    lines = []
    for v, info in sorted(entry["variants"].items()):
        m = entry["measurements"].get(v)
        label = f"{'Variant ' + v if v else 'Variant'}: {info['how']}"
        label += "" if label.endswith("\n  ") else "."
        if not m:
            lines.append(f"- {label} **Not measured yet**: `{info['command']}`")
            continue
        unchanged = not m.get("spec", {}).get("variant")  # the notebook as it is: values alone
        base = (
            {}
            if unchanged
            else data["baselines"].get(m.get("baseline") or "", {}).get("values", {})
        )
        changes = [change_text(k, val, base[k]) if k in base else f"{k}: {fmt(val)}"
                   for k, val in m["values"].items()]  # fmt: skip
        b = data["baselines"].get(m.get("baseline") or "", {})
        base_note = (
            f"; baseline commit {b['commit']}, {b['date']}"
            if b and b.get("commit") != m["commit"]
            else ""
        )
        smoke = (
            " (it checks that the variant runs; too few steps to judge the effect)"
            if m["profile"] == "smoke"
            else ""
        )
        stale = (
            " **The notebook's code has changed since this run; its numbers may differ now.**"
            if m.get("stale")
            else ""
        )
        lines.append(
            f"- {label} Measured in the {m['profile']} profile{smoke}, {seeds_text(m['seeds'])}"
            + ("" if unchanged else ", baseline -> variant")
            + ": "
            + "; ".join(changes)
            + f". (commit {m['commit']}{base_note}, {m['machine']}, {m['seconds']:.0f} s, {m['date']}; `{m['command']}`)"
            + stale
        )
        if m.get("repeats"):
            lines[-1] += " " + repeat_text(m, base)
    return lines


def seed_changes(values: dict[str, Any], base: dict[str, Any]) -> dict[str, float]:
    """Each numeric result's change baseline -> variant, a per-row dict flattened to
    "metric: row" (results only one side has, or text, are left out)."""
    out = {}
    for name, new in values.items():
        old = base.get(name)
        if isinstance(new, dict) and isinstance(old, dict):
            out.update({f"{name}: {k}": new[k] - old[k] for k in new
                        if isinstance(new[k], float) and isinstance(old.get(k), float)})  # fmt: skip
        elif isinstance(new, float) and isinstance(old, float):
            out[name] = new - old
    return out


def repeat_text(m: dict[str, Any], base: dict[str, Any], rows: int = 3) -> str:
    """The same variant at more seeds, each beside its own baseline: for the results the first
    seed changed most, the change at every seed and their mean (a direction that flips between
    seeds is noise, not an effect)."""
    first = seed_changes(m["values"], base)
    runs = {m["seeds"][0]: first} | {
        int(s): seed_changes(r["values"], r.get("baseline_values", {}))
        for s, r in sorted(m["repeats"].items(), key=lambda t: int(t[0]))
    }
    moved = [k for k in first if any(c.get(k) for c in runs.values())]  # rows no seed moved: out
    top = sorted(moved, key=lambda k: abs(first[k]), reverse=True)[:rows]
    parts = []
    for name in top:
        each = [(s, c[name]) for s, c in runs.items() if name in c]
        mean = sum(d for _, d in each) / len(each)
        flips = len({d > 0 for _, d in each if d}) > 1
        parts.append(
            f"{name} "
            + ", ".join(f"{d:+.3g} (seed {s})" for s, d in each)
            + f", mean {mean:+.3g}"
            + (": the sign flips between seeds" if flips else "")
        )
    commands = "; ".join(f"`{r['command']}`" for r in m["repeats"].values())
    return (
        f"Repeated at seed(s) {', '.join(m['repeats'])}, each beside its own baseline (commit "
        f"{', '.join(sorted({r['commit'] for r in m['repeats'].values()}))}): "
        + "; ".join(parts)
        + f". ({commands})"
    )


def render(data: dict[str, Any]) -> str:
    """The answers page, from the JSON alone."""
    out = [
        "# Exercises: what you should see",
        "",
        "Generated by `tools/exercise_outcomes.py render` from `docs/exercises.json`; do not edit by hand.",
        "Every exercise of the notebooks has an entry. A *variant* was run once with the command shown",
        "(the notebook with the stated change, on the sample scene unless the notebook is a real scene)",
        "beside the unchanged notebook with the same profile and seeds; each line says how many seeds the",
        "run trained (one, or the notebook's own `SEEDS`, whose mean each trained row is). A run is one",
        "draw, so read a change smaller than the seed spread of the notebook's own table as no change.",
        "Where a variant was repeated at more seeds (`run --repeat`), its line lists the change at every",
        "seed, each beside a baseline at the same seed, and says when the direction flips between seeds.",
        "A *concept* answer quotes numbers from a reference run's records. *Outside* tasks need Earth",
        "Engine, a GIS or your own data and were not run here. Times depend on the machine's load;",
        "metrics do not.",
        "",
        "<!-- the snippets below are shown exactly as they ran: `ruff format` leaves this page alone -->",
        "<!-- fmt: off -->",
        "",
    ]
    current = None
    for key in sorted(data["exercises"], key=lambda k: (k[:2], int(k[3:]))):
        entry = data["exercises"][key]
        if entry["notebook"] != current:
            current = entry["notebook"]
            out += [f"## {current}", ""]
        out += [f"### Exercise {key}", "", f"> {entry['text']}", ""]
        if entry["kind"] == "variant":
            out += measurement_lines(entry, data)
        elif entry["kind"] == "concept":
            ref = entry.get("reference")
            source = f" (numbers: run `{ref['run']}`, {ref['profile']} profile)" if ref else ""
            out.append(
                f"- Answer{source}: {entry.get('answer', 'not filled yet: run `reference`')}"
            )
        else:
            out.append(f"- Not run here: {entry['answer']}")
        if entry.get("why"):
            out.append(f"- Why: {entry['why']}")
        if entry.get("look_at"):
            out.append(f"- What to look at: {entry['look_at']}")
        out.append("")
    return "\n".join(out)


def problems(found: dict[str, tuple[str, str]], data: dict[str, Any], page: str) -> list[str]:
    """What is wrong between the notebooks, the JSON and the page (empty when all agree): an
    exercise without an entry or a heading, an entry of no exercise, a measurement missing its
    provenance, or a page that is not the rendering of the JSON."""
    out = []
    entries = data.get("exercises", {})
    for key, (stem, text) in found.items():
        if key not in entries:
            out.append(f"{key} ({stem}): no entry in {JSON_PATH.name}; run `sync`")
        elif entries[key]["text"] != text:
            out.append(f"{key}: the notebook's text changed since `sync`")
        if f"### Exercise {key}\n" not in page:
            out.append(f"{key}: no entry on {PAGE_PATH.name}")
    out += [f"{key}: in {JSON_PATH.name} but in no notebook" for key in entries if key not in found]
    for key, entry in entries.items():
        for v, m in entry.get("measurements", {}).items():
            lacking = {"values", "profile", "commit", "machine", "command", "seeds"} - set(m)
            if lacking:
                out.append(f"{key}{v}: measurement lacks {sorted(lacking)}")
    if page != render(data):
        out.append(f"{PAGE_PATH.name} is not what `render` makes of {JSON_PATH.name}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: sync, run, baseline, reference, render [--check]."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["sync", "run", "baseline", "reference", "render"])
    parser.add_argument(
        "target", nargs="?", help="a variant id (06.2a), a notebook (06) or a run folder"
    )
    parser.add_argument("--profile", default="teaching")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="render: fail if the page is stale")
    parser.add_argument(
        "--repeat", action="store_true", help="run: add this seed beside a measured variant"
    )
    args = parser.parse_args(argv)
    data = load_json()
    if args.action == "sync":
        missing = sync(data, all_exercises())
        save_json(data)
        if missing:
            print("exercises with no spec in tools/exercise_specs.py:", ", ".join(missing))
            return 1
    elif args.action == "run":
        run(data, args.target, args.profile, args.seed, baseline=True, repeat=args.repeat)
    elif args.action == "baseline":
        stem = next(p.stem for p in NOTEBOOKS.glob(f"{args.target}_*.ipynb"))
        measure_baseline(stem, args.profile, args.seed)
    elif args.action == "reference":
        reference(data, Path(args.target))
    page = render(load_json())
    if args.check:
        found = problems(
            all_exercises(), load_json(), PAGE_PATH.read_text() if PAGE_PATH.exists() else ""
        )
        print("\n".join(found) or "answers page up to date")
        return 1 if found else 0
    PAGE_PATH.write_text(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Re-fit the "expected range vs your run" table (helpers.records.expected.RANGES) from reproduce records.

After ``make reproduce PROFILE=teaching`` on a quiet machine, this reads the results records of
the newest reproduce run of that profile (or of the run folders given), fits each result's range
(:func:`helpers.records.expected.fit_from_records`: mean +- ``expected.K_STD`` standard deviations of at
least ``expected.MIN_SAMPLES`` values, one per seed or run, never narrower than
``expected.FLOOR_WIDTH``) and prints what changed: old range, measured values, new range. ``--write`` puts the new ranges
and a line saying what they were measured on into ``src/helpers/records/expected.py``; results with no
record (a renamed method, a notebook that failed) keep their old range and are listed.

    python tools/fit_expected.py --profile teaching             # newest teaching reproduce run
    python tools/fit_expected.py runs/A runs/B --profile smoke  # several runs: ranges span them
    python tools/fit_expected.py --profile teaching --write     # then review `git diff`
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from helpers.core import config  # noqa: E402
from helpers.records import expected, results  # noqa: E402

TARGET = ROOT / "src" / "helpers" / "records" / "expected.py"


def reproduce_runs(profile: str, base: Path) -> list[Path]:
    """Run folders of ``profile`` under ``base`` written by ``eosr reproduce``, oldest first."""
    name = re.compile(rf"^\d{{8}}-\d{{6}}-{re.escape(profile)}(-\d+)?$")
    if not base.is_dir():
        return []
    return sorted(
        p
        for p in base.iterdir()
        if p.is_dir() and name.match(p.name) and (p / results.NOTEBOOK_LOG).is_file()
    )


def load_runs(runs: list[Path]) -> list[dict]:
    """Every record of the given run folders, each tagged with its run folder (``"run"``)."""
    return [{**rec, "run": str(run)} for run in runs for rec in results.load(run, skip_broken=True)]


def merged(profile: str, fitted: dict[str, dict[str, tuple[float, float]]]) -> dict:
    """The profile's table with the fitted ranges in place and every unfitted range kept."""
    table = {nb: dict(found) for nb, found in expected.RANGES.get(profile, {}).items()}
    for notebook, found in fitted.items():
        table.setdefault(notebook, {}).update(found)
    return table


def literal(table: dict, indent: int) -> str:
    """``table`` as Python source (a dict literal), nested lines indented from ``indent``."""
    pad = " " * indent
    lines = ["{"]
    for notebook, found in table.items():
        lines.append(f"{pad}    {notebook!r}: {{".replace("'", '"'))
        for name, bounds in found.items():
            digits = 1 if "(dB)" in name else 2
            low, high = (f"{b:.{digits}f}" for b in bounds[:2])
            n = f", {int(bounds[2])}" if len(bounds) > 2 else ""
            lines.append(f'{pad}        "{name}": ({low}, {high}{n}),')
        lines.append(f"{pad}    }},")
    return "\n".join(lines + [f"{pad}}}"])


def _value_span(tree: ast.Module, variable: str, key: str) -> ast.expr | None:
    """The node of ``variable[key]`` in a module-level dict literal, or None."""
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign):
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == variable:
            if isinstance(node.value, ast.Dict):
                for k, v in zip(node.value.keys, node.value.values):
                    if isinstance(k, ast.Constant) and k.value == key:
                        return v
    return None


def _wrapped(text: str, indent: int) -> str:
    """``text`` as a parenthesised run of string literals, lines under 100 characters."""
    pad = " " * (indent + 4)
    parts = textwrap.wrap(text, 90 - indent, drop_whitespace=False)
    return "(\n" + "".join(f"{pad}{json.dumps(p)}\n" for p in parts) + " " * indent + ")"


def _span(text: str, node: ast.expr) -> tuple[int, int]:
    """Character offsets of ``node`` in ``text``, widened over parentheses around it."""
    lines = text.splitlines(keepends=True)
    start = sum(len(ln) for ln in lines[: node.lineno - 1]) + node.col_offset
    end = sum(len(ln) for ln in lines[: node.end_lineno - 1]) + node.end_col_offset
    before, after = text[:start].rstrip(), text[end:].lstrip()
    if before.endswith("(") and after.startswith(")"):
        start, end = len(before) - 1, len(text) - len(after) + 1
    return start, end


def write(target: Path, profile: str, table: dict, measured: str) -> None:
    """Replace ``RANGES[profile]`` and ``MEASURED[profile]`` in ``target`` (their keys must exist)."""
    text = target.read_text(encoding="utf-8")
    for variable in ("RANGES", "MEASURED"):
        node = _value_span(ast.parse(text), variable, profile)
        if node is None:
            raise SystemExit(f"{target}: no {variable}[{profile!r}] to replace; add the key first.")
        key_line = text.splitlines()[node.lineno - 1]
        indent = len(key_line) - len(key_line.lstrip())
        new = literal(table, indent) if variable == "RANGES" else _wrapped(measured, indent)
        start, end = _span(text, node)
        text = text[:start] + new + text[end:]
    target.write_text(text, encoding="utf-8")
    ruff = shutil.which("ruff")
    if ruff:  # the kit's style (make lint); the file is valid Python either way
        config_file = ["--config", str(ROOT / "pyproject.toml")]
        subprocess.run([ruff, "format", "-q", *config_file, str(target)], check=False)


def report(profile: str, values: dict, fitted: dict) -> list[str]:
    """Lines: per result, the old range, the measured values and the new range (or 'kept')."""
    lines = []
    old_table = expected.RANGES.get(profile, {})
    for notebook, sources in expected.SOURCES.items():
        for name in sources:
            old = old_table.get(notebook, {}).get(name)
            old_s = f"{old[0]:.3g}..{old[1]:.3g} (n={expected.samples(old)})" if old else "none"
            vals = values.get(notebook, {}).get(name)
            if vals is None:
                lines.append(f"{notebook} | {name}: old {old_s}; no record -> kept")
                continue
            shown = ", ".join(f"{v:.3f}" for v in vals)
            new = fitted.get(notebook, {}).get(name)
            if new is None:
                lines.append(
                    f"{notebook} | {name}: old {old_s}; measured {shown}: fewer than "
                    f"{expected.MIN_SAMPLES} values -> kept"
                )
                continue
            change = "unchanged" if old is not None and tuple(old) == tuple(new) else "CHANGED"
            lines.append(
                f"{notebook} | {name}: old {old_s}; measured {shown} -> {new[0]}..{new[1]} "
                f"(n={new[2]}, {change})"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Fit, print, and with ``--write`` update expected.py."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "runs", nargs="*", type=Path, help="run folders (default: newest reproduce)"
    )
    parser.add_argument("--profile", default=config.DEFAULT_PROFILE, choices=config.PROFILE_NAMES)
    parser.add_argument(
        "--write", action="store_true", help="update src/helpers/records/expected.py"
    )
    parser.add_argument("--target", type=Path, default=TARGET, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    runs = args.runs or reproduce_runs(args.profile, config.runs_dir())[-1:]
    if not runs:
        raise SystemExit(
            f"no `make reproduce PROFILE={args.profile}` run under {config.runs_dir()}; run it "
            "first or name the run folders."
        )
    records = load_runs(runs)
    values = expected.values_from_records(records, args.profile)
    fitted = expected.fit_from_records(records, args.profile)
    print(f"{len(records)} records from {', '.join(str(r) for r in runs)}")
    print("\n".join(report(args.profile, values, fitted)))
    if not fitted:
        print("nothing fitted: no record of this profile matches helpers.records.expected.SOURCES")
        return 1
    devices = sorted({str(r.get("device")) for r in records if r.get("profile") == args.profile})
    measured = (
        f"sample scene, {len(runs)} run(s) of `make reproduce` on {', '.join(devices)}, fitted "
        f"{date.today().isoformat()} by tools/fit_expected.py: mean +- {expected.K_STD:g} std of "
        f">= {expected.MIN_SAMPLES} values (seeds or runs), half-width at least "
        f"{expected.FLOOR_WIDTH['fraction']} (IoU, shares) or {expected.FLOOR_WIDTH['dB']} dB"
    )
    table = merged(args.profile, fitted)
    print(f"\nRANGES[{args.profile!r}] = {literal(table, 0)}\n{measured}")
    if args.write:
        write(args.target, args.profile, table, measured)
        print(f"written to {args.target}; review with `git diff` and run tests/test_expected.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Developer tool: a Colab-like virtualenv (Python 3.12 or 3.13 holding Colab's preinstalled packages,
pinned in ``tools/colab_preinstalled.txt``) that runs notebooks through their own setup cell.

``make test-colab`` (``tests/test_colab_env.py``) uses it to show that the kit installs into Colab
as it is today without touching Colab's stack (ipywidgets 7.7.1, torch, numpy, ...):

1. ``build``: ``python -m venv`` from ``$(pyenv root)/versions/3.12.*`` (or 3.13.*), then
   ``pip install -r tools/colab_preinstalled.txt`` from PyPI (torch is the large CUDA build);
   reused while the list is unchanged (a hash in the venv), ``--fresh`` rebuilds;
2. ``run_notebooks``: a kernel of that venv runs each notebook as Colab would: the setup cell
   (``EOSR_COLAB_SETUP=1``) clones this checkout at its committed HEAD, pip-installs the kit's
   runtime dependencies from PyPI, then the notebook runs in the smoke profile;
3. ``changed``: which pinned Colab packages the install replaced (must be none).

    python tools/colab_env.py 3.12 [--fresh]     # build, run 00 and 03, print a summary
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ROOT / "tools" / "colab_preinstalled.txt"
CACHE = Path(os.environ.get("EOSR_COLAB_CACHE", Path.home() / ".cache" / "eosr-colab"))
NOTEBOOKS = ("00_setup_and_tour", "03_unet_landcover")


def interpreter(version: str) -> Path:
    """The pyenv interpreter of ``version`` ("3.12"): the bare ``python3.13`` shim selects none."""
    root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    root = root or str(Path.home() / ".pyenv")
    found = sorted(Path(root, "versions").glob(f"{version}.*/bin/python{version}"))
    if not found:
        raise FileNotFoundError(
            f"no Python {version} under {root}/versions (pyenv install {version})"
        )
    return found[-1]


def pins(python: Path) -> dict[str, str]:
    """``{name: version}`` of the list's pins that apply to ``python`` (markers evaluated there)."""
    code = (
        "import sys, json; from pip._vendor.packaging.requirements import Requirement as R\n"
        "reqs = [R(l.split('#')[0].strip()) for l in open(sys.argv[1]) if l.split('#')[0].strip()]\n"
        "print(json.dumps({r.name.lower(): str(r.specifier)[2:] for r in reqs"
        " if r.marker is None or r.marker.evaluate()}))"
    )
    out = subprocess.run([str(python), "-c", code, str(PACKAGES)], capture_output=True, text=True)
    return json.loads(out.stdout)


def installed(python: Path) -> dict[str, str]:
    """``{name: version}`` of every distribution in the venv of ``python``."""
    code = (
        "import json, importlib.metadata as m; print(json.dumps({d.metadata['Name'].lower()"
        ".replace('_', '-'): d.version for d in m.distributions()}))"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def build(version: str, dest: Path | None = None, fresh: bool = False) -> Path:
    """A venv of Python ``version`` holding the pinned Colab packages; returns its python."""
    dest = dest or CACHE / f"py{version}"
    key = hashlib.sha256(PACKAGES.read_bytes()).hexdigest()[:16]
    stamp = dest / ".colab-packages"
    python = dest / "bin" / "python"
    if fresh or not stamp.exists() or stamp.read_text() != key:
        shutil.rmtree(dest, ignore_errors=True)
        subprocess.run([str(interpreter(version)), "-m", "venv", str(dest)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(PACKAGES)], check=True)
        stamp.write_text(key)
    return python


def changed(before: dict[str, str], after: dict[str, str], pinned: dict[str, str]) -> dict:
    """Pinned Colab packages whose version the kit's install changed: ``{name: (before, after)}``."""
    return {n: (before.get(n), after.get(n)) for n in pinned if before.get(n) != after.get(n)}


def widget_names() -> set[str]:
    """Every ``ipywidgets`` attribute the kit and its notebooks use (``w.IntSlider`` ...)."""
    import nbformat

    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "src" / "helpers").rglob("*.py")]
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = nbformat.read(nb, as_version=4).cells
        for cell in (c for c in cells if c.cell_type == "code"):  # shell and magic lines out
            sources.append("\n".join(ln for ln in cell.source.splitlines() if ln[:1] not in "!%"))
    names: set[str] = set()
    for src in sources:
        try:
            tree = ast.parse(src)
        except SyntaxError:  # a notebook being edited: its widgets are checked once it parses
            continue
        aliases = {"ipywidgets"} | {
            a.asname or a.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for a in node.names
            if a.name == "ipywidgets"
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.value.id in aliases and node.attr[:1].isupper():
                    names.add(node.attr)
            elif isinstance(node, ast.ImportFrom) and node.module == "ipywidgets":
                names.update(a.name for a in node.names)
    return names


def missing_widgets(python: Path, names: set[str]) -> list[str]:
    """The ``names`` the venv's ipywidgets does not have."""
    code = (
        "import sys, ipywidgets as w; print(' '.join(n for n in sys.argv[1:] if not hasattr(w, n)))"
    )
    out = subprocess.run([str(python), "-c", code, *sorted(names)], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return out.stdout.split()


def run_notebooks(python: Path, work: Path, notebooks: tuple[str, ...] = NOTEBOOKS) -> dict:
    """Run ``notebooks`` in a kernel of ``python`` through their Colab setup cell; seconds each."""
    import nbformat
    from nbclient import NotebookClient

    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {
        "EOSR_COLAB_SETUP": "1",  # the setup cell runs as in Colab
        "EOSR_COLAB_REPO": str(ROOT),  # clone this checkout at its committed HEAD
        "EOSR_COLAB_REF": head,
        "EOSR_COLAB_DIR": str(work / "kit"),
        "PYTHONPATH": "",
        "PYTHONNOUSERSITE": "1",
        "EOSR_DATA": str(work / "data"),
        "EOSR_RUN_DIR": str(work / "run"),
        "EOSR_PROFILE": "smoke",
    }
    kernels = work / "jupyter" / "kernels" / "colab-like"
    kernels.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]}
    spec.update(display_name="Colab-like venv", language="python", env=env)
    (kernels / "kernel.json").write_text(json.dumps(spec))
    os.environ["JUPYTER_PATH"] = str(work / "jupyter")
    # The notebooks come from the clone at HEAD (as Colab opens them from the repository at the
    # ref), not from the working tree, which may hold uncommitted edits the clone lacks.
    subprocess.run(["git", "clone", "-q", str(ROOT), env["EOSR_COLAB_DIR"]], check=True)
    seconds = {}
    for name in notebooks:
        start = time.perf_counter()
        nb = nbformat.read(work / "kit" / "notebooks" / f"{name}.ipynb", as_version=4)
        client = NotebookClient(
            nb, kernel_name="colab-like", timeout=900, resources={"metadata": {"path": str(work)}}
        )
        client.execute()  # raises CellExecutionError naming the cell on any failure
        nbformat.write(nb, work / f"{name}.executed.ipynb")
        seconds[name] = round(time.perf_counter() - start, 1)
    return seconds


def main(argv: list[str] | None = None) -> int:
    """Build the venv of one Python version, run the notebooks, print what changed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("version", choices=["3.12", "3.13"])
    parser.add_argument("--fresh", action="store_true", help="rebuild the venv from PyPI")
    parser.add_argument("--work", type=Path, default=None, help="folder for the clone and runs")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    python = build(args.version, fresh=args.fresh)
    built_s = time.perf_counter() - start
    before = installed(python)
    work = args.work or CACHE / f"work-{args.version}"
    shutil.rmtree(work, ignore_errors=True)
    seconds = run_notebooks(python, work)
    diff = changed(before, installed(python), pins(python))
    summary = {"python": args.version, "built_s": round(built_s), "notebooks_s": seconds}
    summary.update(changed=diff, missing_widgets=missing_widgets(python, widget_names()))
    print(json.dumps(summary, indent=1))
    return 1 if diff or summary["missing_widgets"] else 0


if __name__ == "__main__":
    sys.exit(main())

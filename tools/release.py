"""Cut a release (``make release TAG=v0.2.0``): version, notebooks, tag, sdist and wheel, checks.

1. refuses a dirty working tree or an existing tag;
2. writes the version (``TAG`` without ``v``) into ``[project] version`` and ``CITATION.cff``, puts
   a ``## <version> (<date>)`` heading under ``## Unreleased`` in CHANGELOG.md (the lines gathered
   there become the release's), pins ``[tool.eosr] ref`` to the tag, re-stamps every notebook's
   Colab badge and setup cell and the README's badge table (``tools/sync_notebooks.py``);
3. commits that and tags it (annotated, local: pushing is yours);
4. builds the sdist and wheel (``python -m build``, isolated, bounded setuptools) into
   ``dist/<tag>/`` and runs ``twine check --strict`` on them;
5. installs the wheel (not the checkout) into a fresh venv with ipykernel and runs notebook 00
   there in the smoke profile (nbclient, a kernel of that venv).

Run it in a clone when trying it out: it commits and tags the repository it runs in.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tools"))

BADGES = re.compile(r"(<!-- eosr:badges[^\n]*-->\n)(.*?)(<!-- /eosr:badges -->)", re.S)


def git(*args: str, root: Path = ROOT) -> str:
    """Run git in ``root``; its stdout (raises on failure)."""
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def set_version(root: Path, version: str, today: str) -> None:
    """Write ``version`` into pyproject.toml, CITATION.cff and a CHANGELOG.md heading."""
    edits = {
        "pyproject.toml": (r'(?m)^version = ".*"$', f'version = "{version}"'),
        "CITATION.cff": (r'(?m)^version: ".*"$', f'version: "{version}"'),
    }
    for name, (pattern, line) in edits.items():
        text, count = re.subn(pattern, line, (root / name).read_text(encoding="utf-8"), count=1)
        if count != 1:
            raise SystemExit(f"{name}: no version line to update")
        (root / name).write_text(text, encoding="utf-8")
    log = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    if f"## {version}" not in log:
        if "## Unreleased\n" not in log:
            raise SystemExit("CHANGELOG.md: no `## Unreleased` section to release")
        log = log.replace("## Unreleased\n", f"## Unreleased\n\n## {version} ({today})\n", 1)
        (root / "CHANGELOG.md").write_text(log, encoding="utf-8")


def readme_badges(root: Path, repository: str, ref: str) -> None:
    """Rewrite the README's badge table (between the ``eosr:badges`` markers) for ``ref``."""
    from sync_notebooks import readme_table

    readme = root / "README.md"
    paths = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = readme_table(paths, repository, ref)
    text, count = BADGES.subn(lambda m: f"{m[1]}{table}\n{m[3]}", readme.read_text("utf-8"))
    if count == 1:
        readme.write_text(text, encoding="utf-8")


def build_and_check(root: Path, tag: str) -> list[Path]:
    """sdist and wheel into ``dist/<tag>/``, checked by ``twine check --strict``."""
    out = root / "dist" / tag
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(root)], check=True)
    files = sorted(out.glob("*.whl")) + sorted(out.glob("*.tar.gz"))
    if len(files) != 2:
        raise SystemExit(f"expected one wheel and one sdist in {out}, found {files}")
    twine = [sys.executable, "-m", "twine", "check", "--strict", *map(str, files)]
    subprocess.run(twine, check=True)
    return files


def wheel_runs_notebook(wheel: Path, root: Path, notebook: str = "00_setup_and_tour") -> float:
    """Install ``wheel`` into a fresh venv (with ipykernel) and run ``notebook`` there (smoke)."""
    import nbformat
    from nbclient import NotebookClient

    work = Path(tempfile.mkdtemp(prefix="eosr-release-"))
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
    python = work / "venv" / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, str(wheel), "ipykernel"], check=True)
    env = {"EOSR_PROFILE": "smoke", "EOSR_DATA": str(work / "data"), "PYTHONPATH": ""}
    env.update(EOSR_RUN_DIR=str(work / "run"), PYTHONNOUSERSITE="1")
    kernels = work / "jupyter" / "kernels" / "wheel"
    kernels.mkdir(parents=True)
    spec = {"argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]}
    spec.update(display_name="release wheel", language="python", env=env)
    (kernels / "kernel.json").write_text(json.dumps(spec))
    os.environ["JUPYTER_PATH"] = str(work / "jupyter")
    nb = nbformat.read(root / "notebooks" / f"{notebook}.ipynb", as_version=4)
    start = time.perf_counter()
    meta = {"metadata": {"path": str(root / "notebooks")}}
    NotebookClient(nb, kernel_name="wheel", timeout=900, resources=meta).execute()
    probe = "import helpers; print(helpers.__file__)"
    where = subprocess.run([str(python), "-c", probe], capture_output=True, text=True).stdout
    if "site-packages" not in where:
        raise SystemExit(f"the notebook imported helpers from {where.strip()}, not from the wheel")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Release ``TAG``: version, sync, commit, tag, build, twine check, wheel runs notebook 00."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tag", help="vX.Y.Z")
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--skip-notebook", action="store_true", help="build and check only")
    args = parser.parse_args(argv)
    root, tag = args.root.resolve(), args.tag
    if not re.fullmatch(r"v\d+\.\d+\.\d+", tag):
        raise SystemExit(f"TAG must look like v0.2.0, not {tag!r}")
    if git("status", "--porcelain", "--untracked-files=no", root=root):
        raise SystemExit("the working tree has uncommitted changes: commit or stash them first")
    if git("tag", "--list", tag, root=root):
        raise SystemExit(f"tag {tag} exists already")
    import sync_notebooks

    from helpers.apps import colab

    set_version(root, tag[1:], dt.date.today().isoformat())
    sync_notebooks.main(["--root", str(root), "--pin", tag, "--quiet"])
    readme_badges(root, *colab.settings(root / "pyproject.toml"))
    git("commit", "-q", "-am", f"Release {tag}", root=root)
    git("tag", "-a", tag, "-m", f"EO-SR Kit {tag}", root=root)
    print(f"tagged {tag} at {git('rev-parse', '--short', 'HEAD', root=root)}")
    files = build_and_check(root, tag)
    print("built and checked:", ", ".join(f.name for f in files))
    if not args.skip_notebook:
        seconds = wheel_runs_notebook(files[0], root)
        print(f"the wheel installs into a fresh venv and runs notebook 00 ({seconds:.0f} s)")
    print(f"done: push with `git push origin HEAD {tag}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())

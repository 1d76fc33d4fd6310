"""Developer tool: a fresh virtualenv that holds only what Colab has plus the kit's runtime set.

Used by ``tests/test_runtime_install.py`` to prove that ``[project] dependencies`` is complete,
offline and fast enough for ``make test``:

- ``base`` (what a Colab runtime already has and the kit keeps: torch, torchvision, ipykernel, pip
  and their requirements) is linked file by file from the current environment into the new venv;
- every other distribution the runtime dependencies need is repacked from the current environment
  into a wheelhouse (``pip install --no-index --find-links`` then installs from it, as pip would
  from PyPI; nothing else is there, so an undeclared dependency is missing in the new venv).

    python tools/runtime_venv.py /tmp/venv     # build one and print what it holds
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata as md
import io
import os
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BASE = ("torch", "torchvision", "ipykernel", "pip")  # preinstalled in Colab; the kit keeps torch
_SKIP_META = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def installed() -> dict[str, md.Distribution]:
    """The distributions of this interpreter, by canonical name (the first on sys.path wins)."""
    found: dict[str, md.Distribution] = {}
    for dist in md.distributions():
        found.setdefault(canonicalize_name(dist.metadata["Name"]), dist)
    return found


def closure(requirements: list[str], dists: dict[str, md.Distribution]) -> set[str]:
    """Canonical names of ``requirements`` and everything they require, extras included."""
    done: set[tuple[str, str]] = set()
    stack = [(Requirement(r), "") for r in requirements]
    while stack:
        req, extra = stack.pop()
        name = canonicalize_name(req.name)
        if req.marker and not req.marker.evaluate({"extra": extra}):
            continue
        if name not in dists:
            raise LookupError(f"{req} is required but not installed in {sys.prefix}")
        for wanted in ("", *sorted(req.extras)):
            if (name, wanted) not in done:
                done.add((name, wanted))
                stack.extend((Requirement(r), wanted) for r in dists[name].requires or [])
    return {name for name, _ in done}


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """``[project] dependencies`` of the kit: what ``pip install eosr-kit`` (and Colab) installs."""
    return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]


def _files(dist: md.Distribution) -> list[Path]:
    """A distribution's files inside site-packages (scripts and data outside it are left out)."""
    return [
        Path(str(f))
        for f in dist.files or []
        if not str(f).startswith("..") and "__pycache__" not in str(f)
    ]


def repack(dist: md.Distribution, out: Path) -> Path:
    """Write an installed distribution back into a ``py3-none-any`` wheel in ``out``."""
    name = canonicalize_name(dist.metadata["Name"]).replace("-", "_")
    wheel = out / f"{name}-{dist.version}-py3-none-any.whl"
    if wheel.exists():
        return wheel
    site = Path(dist.locate_file(""))
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    info = None
    tmp = wheel.with_suffix(".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for rel in _files(dist):
            if len(rel.parts) == 2 and rel.parts[0].endswith(".dist-info"):  # not a vendored one
                info = rel.parent
                if rel.name in _SKIP_META:
                    continue
            path = site / rel
            if not path.is_file():
                continue
            data = path.read_bytes()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            zf.writestr(rel.as_posix(), data)
            writer.writerow([rel.as_posix(), f"sha256={digest.decode()}", len(data)])
        if info is None:
            raise ValueError(f"{dist.metadata['Name']}: no .dist-info in its RECORD")
        writer.writerow([(info / "RECORD").as_posix(), "", ""])
        zf.writestr((info / "RECORD").as_posix(), record.getvalue())
    tmp.replace(wheel)
    return wheel


def wheelhouse(names: set[str], dists: dict[str, md.Distribution], out: Path) -> Path:
    """Repack ``names`` into ``out`` (kept between calls: existing wheels are reused)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in sorted(names):
        repack(dists[name], out)
    return out


def link_into(venv_dir: Path, names: set[str], dists: dict[str, md.Distribution]) -> int:
    """Symlink the files of ``names`` into the venv's site-packages (real folders, so whatever
    pip installs later lands in the venv, never in this environment); return the file count."""
    site = site_packages(venv_dir)
    count = 0
    for name in names:
        dist = dists[name]
        src_site = Path(dist.locate_file(""))
        for rel in _files(dist):
            src, dst = src_site / rel, site / rel
            if not src.is_file() or dst.exists():
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(src, dst)
            count += 1
    return count


def site_packages(venv_dir: Path) -> Path:
    """``lib/pythonX.Y/site-packages`` of a venv."""
    return (
        venv_dir
        / "lib"
        / f"python{sys.version_info.major}.{sys.version_info.minor}"
        / ("site-packages")
    )


def build(venv_dir: Path, wheels: Path) -> dict[str, object]:
    """A venv with the Colab base linked in, and a wheelhouse with the rest of the runtime set."""
    dists = installed()
    runtime = closure(runtime_requirements(), dists)
    base = closure(list(BASE), dists)
    venv.EnvBuilder(with_pip=False, symlinks=True).create(venv_dir)
    linked = link_into(venv_dir, base, dists)
    extra = runtime - base
    # the kit's editable build needs setuptools (pip's build isolation installs it from here)
    wheelhouse(extra | closure(["setuptools"], dists), dists, wheels)
    return {"base": sorted(base), "linked_files": linked, "wheelhouse": sorted(extra)}


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "runtime-venv")
    print(build(target, target.with_name(target.name + "-wheels")))

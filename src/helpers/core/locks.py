"""File locks for work that one process should do at a time (the sample scene, caches).

A lock is a small JSON file holding the owner's PID, host and start time. A lock whose owner is
gone (same host, PID no longer running) is taken over at once, so a killed ``eosr sample`` never
makes the next run wait; a lock from another host is trusted until ``patience_s`` has passed.
Locks only avoid duplicate work: correctness comes from building in a temporary folder and
renaming it into place (:func:`write_text_atomic` does the same for one file). Temporary folders carry ``<host>-<pid>`` in their name
(:func:`temp_name`) so that orphans of dead processes can be removed (:func:`remove_orphans`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import psutil

HOST = socket.gethostname()
_HELD: list[Path] = []


def pid_alive(pid: int) -> bool:
    """True if a process with this PID runs on this machine (zombies count as running); asked
    through psutil, so it is a probe on Windows too (there ``os.kill(pid, 0)`` is no probe)."""
    return pid > 0 and psutil.pid_exists(pid)


def holder(path: Path) -> dict[str, Any] | None:
    """The owner record of a lock file (``pid``, ``host``, ``time``), or None if unreadable/absent."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_stale(path: Path, patience_s: float = 600.0) -> bool:
    """True if the lock's owner is gone (same host, dead PID), or the lock is older than
    ``patience_s`` (another host, or an unreadable lock older than a few seconds)."""
    try:
        age = time.time() - Path(path).stat().st_mtime
    except OSError:
        return False  # released meanwhile: not stale, just gone
    owner = holder(path)
    if owner is None:
        return age > 10.0  # a lock being written is briefly empty
    if owner.get("host") == HOST:
        return not pid_alive(int(owner.get("pid", -1)))
    return age > patience_s


def _try_create(path: Path) -> bool:
    """Create the lock file exclusively with our PID and host; False if it exists."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"pid": os.getpid(), "host": HOST, "time": time.time()}, f)
    _HELD.append(path)
    return True


def _take_over(path: Path) -> None:
    """Move a stale lock out of the way (rename first, so two takers cannot both delete)."""
    aside = path.with_name(f"{path.name}.stale-{HOST}-{os.getpid()}-{time.time_ns()}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    aside.unlink(missing_ok=True)


def acquire(
    path: str | os.PathLike,
    what: str = "this job",
    patience_s: float = 600.0,
    verbose: bool = True,
    poll_s: float = 0.5,
) -> bool:
    """Take the lock at ``path`` (waiting for a live owner); True if another owner held it first.

    A stale lock (see :func:`is_stale`) is taken over at once. The waiting message names the lock
    file, so a user can see who holds it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        if _try_create(path):
            return waited
        if is_stale(path, patience_s):
            owner = holder(path) or {}
            if verbose:
                print(
                    f"taking over {path}: its owner (pid {owner.get('pid', '?')} on "
                    f"{owner.get('host', '?')}) is gone",
                    flush=True,
                )
            _take_over(path)
            continue
        if not waited and verbose:
            owner = holder(path) or {}
            print(
                f"another process (pid {owner.get('pid', '?')} on {owner.get('host', '?')}) is "
                f"doing {what}; waiting for it to release {path} ...",
                flush=True,
            )
        waited = True
        time.sleep(poll_s)


def release(path: str | os.PathLike) -> None:
    """Remove the lock file if this process owns it."""
    path = Path(path)
    owner = holder(path)
    if owner and owner.get("pid") == os.getpid() and owner.get("host") == HOST:
        path.unlink(missing_ok=True)
    if path in _HELD:
        _HELD.remove(path)


@atexit.register
def _release_all() -> None:
    for path in list(_HELD):
        release(path)


def temp_name(prefix: str) -> str:
    """``<prefix><host>-<pid>-<ns>``: a temporary folder name whose owner can be checked later."""
    return f"{prefix}{HOST}-{os.getpid()}-{time.time_ns()}"


_OWNER = re.compile(r"(?P<host>.+)-(?P<pid>\d+)-(?P<ns>\d+)(?:\.[A-Za-z0-9]+)?$")  # optional suffix


def remove_orphans(folder: str | os.PathLike, prefix: str) -> list[Path]:
    """Delete ``folder/<prefix>*`` entries made by :func:`temp_name` whose process is gone."""
    removed = []
    for p in Path(folder).glob(f"{prefix}*"):
        m = _OWNER.match(p.name[len(prefix) :])
        if not m or m["host"] != HOST or pid_alive(int(m["pid"])):
            continue
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def umask() -> int:
    """The process's umask (read without changing it where ``/proc`` tells it)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def honour_umask(path: str | os.PathLike) -> None:
    """Give a file or folder made by ``tempfile`` (0600 / 0700) the mode a plain ``open`` or
    ``mkdir`` would have (0666 / 0777 less the umask), so a shared data folder stays readable."""
    full = 0o777 if os.path.isdir(path) else 0o666
    os.chmod(path, full & ~umask())


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Within the block, SIGTERM raises ``SystemExit(143)`` instead of ending the process at once,
    so ``finally`` clauses remove temporary files; only where SIGTERM has its default action (a
    caller's own handler is left alone) and in the main thread."""
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def refuse_overwrite(output: str | os.PathLike, inputs: Iterable[Any], fix: str) -> None:
    """Raise ``ValueError`` when ``output`` is one of ``inputs`` (same resolved path, or the same
    file through a link): an output never replaces its own input. Non-path inputs are ignored."""
    out = Path(output).resolve()
    for src in inputs:
        if not isinstance(src, (str, os.PathLike)):
            continue
        same = Path(src).resolve() == out
        with contextlib.suppress(OSError):
            same = same or os.path.samefile(src, out)
        if same:
            raise ValueError(f"{output}: is also an input ({src}); it would be overwritten. {fix}")


def write_text_atomic(target: Path, text: str, fix: str) -> Path:
    """Write ``text`` to a temporary file beside ``target``, then rename it into place, so a reader
    never sees half a file; a failure names the file, the cause and ``fix``, and leaves no temp file.
    The file gets the mode a plain ``open`` would give it (the user's umask)."""
    target, tmp = Path(target), None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        honour_umask(tmp)
        os.replace(tmp, target)
    except OSError as err:
        raise OSError(err.errno, f"{target}: cannot write ({err.strerror or err}). {fix}") from err
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
    return target

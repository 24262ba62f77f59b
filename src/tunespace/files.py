"""Atomic file output: write to a temporary name in the same folder, then rename.

A reader never sees a partial file where a complete one was: either the old file or the
whole new one. Used by every writer in tunespace (corpus audio, checkpoints, embeddings,
reports).

Permissions: files are created with mode ``0o666`` filtered by the process umask, as
``open()`` creates them (with the usual umask 022 they are readable by everyone, with 002 also
writable by the group), so that colleagues on a shared machine can read what a run wrote.
Temporary files are named ``.NAME.PID-N<suffix>`` beside the destination; one is left behind
only when the process is killed during that write.

Errors: an :class:`OSError` raised while writing (disk full, read-only or vanished folder,
permission denied) is re-raised with ``filename`` set to the destination, so that the command
line can print it as one line naming the file and the cause.

Durability: the rename makes a write atomic with respect to other processes and to the
writer being killed; it does not ``fsync``, so after a power failure the file system's own
guarantees apply.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

_COUNTER = itertools.count()


def _create_temp(path: Path, suffix: str) -> Path:
    """Create (exclusively) an empty temporary file beside ``path``, mode 0o666 & ~umask."""
    while True:
        tmp = path.parent / f".{path.name}.{os.getpid()}-{next(_COUNTER)}{suffix}"
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:  # left by a killed process that had the same pid
            continue
        os.close(fd)
        return tmp


#: Free space (bytes) below which a write that failed without an errno is put down to a full disk.
_NEARLY_FULL = 1 << 20


def _naming(e: OSError, path: Path, tmp: Path | None) -> OSError:
    """``e`` with ``filename`` set to ``path`` when it names nothing or the temporary file.

    numpy's ``tofile`` reports a short write as ``OSError("N requested and M written")``
    without an errno; when the file system is (nearly) full that is what it was, and it is
    said so.
    """
    if e.filename is not None and (tmp is None or str(e.filename) != str(tmp)):
        return e
    errno_, strerror = e.errno, e.strerror or str(e)
    if errno_ is None:
        try:
            st = os.statvfs(path.parent)
            full = st.f_bavail * st.f_frsize < _NEARLY_FULL
        except OSError:
            full = False
        errno_, strerror = (
            (errno.ENOSPC, os.strerror(errno.ENOSPC)) if full else (errno.EIO, f"write failed ({strerror})")
        )
    try:
        return type(e)(errno_, strerror, str(path))
    except TypeError:  # an OSError subclass with another constructor
        return e


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    Args:
        path: final destination.
        suffix: suffix of the temporary name (default: that of ``path``, so that libraries
            choosing a format from the extension, like soundfile, still work).
    On an exception the temporary file is removed and ``path`` is left untouched.
    Raises:
        OSError: the folder cannot be created or written (``filename`` is ``path``).
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _create_temp(path, path.suffix if suffix is None else suffix)
    except OSError as e:
        raise _naming(e, path, None) from None
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, OSError):
            raise _naming(e, path, tmp) from None
        raise


def write_text(path: str | Path, text: str) -> None:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, obj: Any) -> None:
    """Atomically write ``obj`` as indented, key-sorted JSON (numpy scalars allowed)."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def save_npy(path: str | Path, array: np.ndarray) -> None:
    """Atomically save ``array`` as ``.npy``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)


def file_digest(path: str | Path, chunk: int = 1 << 24) -> dict[str, Any]:
    """``{"bytes": size, "sha256": hex digest}`` of a file, read in chunks."""
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
            n += len(block)
    return {"bytes": n, "sha256": h.hexdigest()}


def ensure_folder(path: str | Path, option: str = "--out") -> Path:
    """``path`` as an existing folder (created with its parents if needed).

    Raises:
        UsageError: ``path`` (or one of its parents) exists and is not a folder.
        OSError: it cannot be created (read-only file system, permission denied...).
    """
    from .errors import UsageError

    path = Path(path)
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            what = "is a file" if p == path else f"is inside {p}, which is a file"
            raise UsageError(f"{option} {path} {what}, expected a folder")
        if p.is_dir():
            break
    path.mkdir(parents=True, exist_ok=True)
    return path


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")

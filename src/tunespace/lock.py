"""One writer per output folder: :class:`FolderLock`.

Two processes writing the same output folder would lose work silently (each assembles its
own view of the folder and renames it over the other's). Every tunespace command that writes
a folder (``embed``, ``train``, ``study``, ``corpus build``, ``baseline``) therefore holds
``DIR/.tunespace.lock`` while it writes it. The lock is taken without waiting: a second
writer is refused at once with a one-line :class:`~tunespace.errors.UsageError` naming the
holder (command, pid, host and start time, which the holder records in the lock file).

The lock is an advisory ``fcntl.flock`` on the lock file, so the kernel releases it when
its holder exits, however it exits (``kill -9`` included): a lock file left behind by a dead
process is stale and is simply taken over; there is no timeout to tune and nothing to clean
by hand. Child processes that a holder forked (data-loader workers) keep the lock until they
exit too, which they do within seconds of their parent; the message says so when the
recorded holder is no longer running on this host. The file is removed on release.

Scope: POSIX systems (Linux, macOS) use ``fcntl.flock``. On NFS, Linux implements ``flock``
with NFS byte-range locks, so writers on different hosts exclude each other as well; on a file
system that supports no locks at all the command goes on with a warning on stderr rather than
refusing to run. On Windows, where there is no ``fcntl``, the lock is ``msvcrt.locking`` on one
byte far past the end of the lock file (so the holder's record stays readable); Windows
releases it when the holder exits too, and cannot delete a file that is open, so the lock file
may stay behind after release, harmlessly. Whether a recorded holder is still running is not
asked on Windows (``os.kill(pid, 0)`` sends Ctrl+C there). The Windows path is exercised by the
tests only through a stand-in for ``msvcrt``: no Windows machine ran it.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .errors import UsageError
from .files import ensure_folder

LOCK_NAME = ".tunespace.lock"
#: Offset of the byte that ``msvcrt.locking`` locks on Windows: past any holder record.
_WINDOWS_LOCK_OFFSET = 1 << 30

_ON_WINDOWS = os.name == "nt"

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


def _lock_nonblocking(fd: int) -> None:
    """Take an exclusive lock on open file ``fd`` without waiting; ``OSError`` if it is held."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    import msvcrt

    os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
    try:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
    finally:
        os.lseek(fd, 0, os.SEEK_SET)


F = TypeVar("F", bound=Callable[..., Any])


class FolderLock:
    """Exclusive use of an output folder by this process (a context manager).

    Args:
        folder: the output folder (created if missing; must not be a file).
        command: what holds it, for the message a second writer gets (``"tunespace embed"``).
        option: how the folder was given, for messages (``"--out"``).
    Raises (on entering):
        UsageError: the folder is a file, or another process holds the lock.
        OSError: the folder cannot be created or the lock file cannot be written.
    """

    def __init__(self, folder: str | Path, command: str, option: str = "--out") -> None:
        self.folder = Path(folder)
        self.command = command
        self.option = option
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None
        self._created = False

    # ------------------------------------------------------------------ context manager
    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`UsageError` naming its holder."""
        if self._fd is not None:
            return
        self._created = not self.folder.exists()
        ensure_folder(self.folder, self.option)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
            try:
                _lock_nonblocking(fd)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES, errno.EDEADLOCK):
                    raise UsageError(self._busy_message()) from None
                if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    print(
                        f"{self.command}: warning: {self.folder}: this file system supports no locks; "
                        "make sure no other process writes this folder",
                        file=sys.stderr,
                    )
                    return
                raise
            # The file may have been removed (and maybe re-created) by the previous holder
            # between our open and our flock: then we hold a lock on a dead inode; retry.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        holder = {
            "command": self.command,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        }
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(holder) + "\n").encode())
        self._fd = fd

    def release(self) -> None:
        """Give the lock up and remove the lock file (and the folder if this lock created it
        and nothing else was written there)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.unlink(self.path)  # while still holding it: see the inode check in acquire
        except OSError:
            pass
        os.close(fd)
        if self._created:
            try:
                self.folder.rmdir()  # only succeeds when empty
            except OSError:
                pass

    # ------------------------------------------------------------------ messages
    def holder(self) -> dict[str, Any]:
        """What the lock file says about its holder (empty if unreadable)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _busy_message(self) -> str:
        h = self.holder()
        if not h:
            who = "another process (it has not recorded itself yet)"
        else:
            who = (
                f"{h.get('command', 'another process')} (pid {h.get('pid', '?')} "
                f"on {h.get('host', '?')}, since {h.get('started', '?')})"
            )
            if h.get("host") == socket.gethostname() and isinstance(h.get("pid"), int) and not _alive(h["pid"]):
                who += (
                    "; that process has ended but processes it started still hold the lock: try again in a few seconds"
                )
        return f"{self.option} {self.folder} is in use by {who}; wait for it to finish or choose another folder"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (always ``True`` on Windows: not asked)."""
    if _ON_WINDOWS:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holds_folder_lock(command: str, option: str = "--out") -> Callable[[F], F]:
    """Decorator: hold the :class:`FolderLock` of the function's first argument while it runs."""

    def deco(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(out: str | Path, *args: Any, **kwargs: Any) -> Any:
            with FolderLock(out, command, option):
                return fn(out, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco

"""Concurrent writers: a second writer of an output folder is refused in one line naming the
first (pid, host); stale locks (holder killed) are taken over; never silent loss."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from tests.conftest import tiny_overrides
from tests.reliability.conftest import PYTHON, cli, one_line, subprocess_env, write_clean

from tunespace.datasets import open_dataset
from tunespace.embed import read_embeddings
from tunespace.errors import UsageError
from tunespace.lock import LOCK_NAME, FolderLock


def _refused(err: str) -> None:
    one_line(err, "is in use by", f"pid {os.getpid()}", socket.gethostname())


def test_embed_refuses_a_second_writer(clean_wavs, tmp_path, capsys):
    out = tmp_path / "emb"
    with FolderLock(out, "tunespace embed"):
        code, err = cli(
            ["embed", "--model", "random:small", "--data", clean_wavs, "--out", out, "--workers", "0", "--no-progress"],
            capsys,
        )
        assert code == 2
        _refused(err)
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]  # nothing written beside the holder
    assert not out.exists()  # the lock created the folder; nothing else was written: removed
    assert (
        cli(
            ["embed", "--model", "random:small", "--data", clean_wavs, "--out", out, "--workers", "0", "--no-progress"],
            capsys,
        )[0]
        == 0
    )
    assert not (out / LOCK_NAME).exists()
    assert len(read_embeddings(out).ids) == 6


def test_train_refuses_a_second_writer(clean_wavs, tmp_path, capsys):
    out = tmp_path / "run"
    with FolderLock(out, "tunespace train"):
        code, err = cli(
            ["train", "--data", clean_wavs, "--augment", "none", "--out", out, *tiny_overrides(steps=2)], capsys
        )
        assert code == 2
        _refused(err)
        assert not (out / "checkpoints").exists() and not (out / "config.json").exists()
        code, err = cli(["train", "--out", out, "--resume"], capsys)
        assert code == 2
        _refused(err)


def test_study_refuses_a_second_writer(tmp_path, capsys):
    out = tmp_path / "study"
    with FolderLock(out, "tunespace study"):
        code, err = cli(["study", "--preset", "demo", "--out", out], capsys)
        assert code == 2
        _refused(err)
        assert not (out / "stages").exists()


def test_corpus_build_and_baseline_refuse_a_second_writer(clean_wavs, tmp_path, capsys):
    with FolderLock(tmp_path / "c", "tunespace corpus build"):
        code, err = cli(["corpus", "build", "--out", tmp_path / "c", "--tracks", "1", "--seconds", "5"], capsys)
        assert code == 2
        _refused(err)
    with FolderLock(tmp_path / "b", "tunespace baseline"):
        code, err = cli(["baseline", "--kind", "random", "--data", clean_wavs, "--out", tmp_path / "b"], capsys)
        assert code == 2
        _refused(err)


def test_the_lock_is_exclusive_within_one_process_too(tmp_path):
    with FolderLock(tmp_path / "x", "first"):
        with pytest.raises(UsageError, match="in use by first"):
            FolderLock(tmp_path / "x", "second").acquire()
    with FolderLock(tmp_path / "x", "second") as lock:  # released: free again
        assert json.loads((tmp_path / "x" / LOCK_NAME).read_text())["command"] == "second"
        assert lock.held


class _WindowsLocks:
    """A stand-in for ``msvcrt`` with Windows' semantics as far as the lock uses them: a
    non-blocking lock on ``n`` bytes from the file position, held per open handle, refused with
    ``EACCES`` while another handle holds it, released when the handle closes."""

    LK_NBLCK = 2

    def __init__(self) -> None:
        self.held: dict[tuple[int, int], int] = {}  # (inode, offset) -> fd
        self.calls: list[tuple[int, int]] = []

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        assert mode == self.LK_NBLCK and nbytes == 1
        offset = os.lseek(fd, 0, os.SEEK_CUR)
        self.calls.append((fd, offset))
        key = (os.fstat(fd).st_ino, offset)
        holder = self.held.get(key)
        if holder is not None and holder != fd:
            try:
                os.fstat(holder)  # the holding handle is still open
                raise OSError(errno.EACCES, "Permission denied")
            except OSError as e:
                if e.errno == errno.EACCES:
                    raise
        self.held[key] = fd


def test_the_lock_takes_windows_locks_where_there_is_no_fcntl(tmp_path, monkeypatch):
    import tunespace.lock as lock_module

    fake = _WindowsLocks()
    monkeypatch.setattr(lock_module, "fcntl", None)
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    monkeypatch.setattr(lock_module, "_ON_WINDOWS", True)
    with FolderLock(tmp_path / "x", "first") as first:
        ((fd, offset),) = fake.calls
        assert offset == lock_module._WINDOWS_LOCK_OFFSET and os.lseek(fd, 0, os.SEEK_CUR) > 0
        # the holder's record is at the start of the file, readable by the refused writer
        with pytest.raises(UsageError, match="in use by first .pid"):
            FolderLock(tmp_path / "x", "second").acquire()
        assert first.held
    with FolderLock(tmp_path / "x", "second"):  # released: free again
        assert json.loads((tmp_path / "x" / LOCK_NAME).read_text())["command"] == "second"


def _hold_and(action: str, folder) -> subprocess.Popen:
    """A child that takes the lock of ``folder``, prints 'held', then ``action``."""
    code = "\n".join(
        [
            "import os, sys, time",
            "from tunespace.lock import FolderLock",
            f"lock = FolderLock({str(folder)!r}, 'tunespace embed')",
            "lock.acquire()",
            action,
        ]
    )
    return subprocess.Popen([PYTHON, "-c", code], env=subprocess_env(), stdout=subprocess.PIPE, text=True)


def test_a_lock_left_by_a_killed_holder_is_taken_over(tmp_path):
    child = _hold_and("print('held', flush=True); time.sleep(60)", tmp_path / "x")
    assert child.stdout.readline().strip() == "held"
    with pytest.raises(UsageError, match=f"pid {child.pid}"):
        FolderLock(tmp_path / "x", "me").acquire()
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert (tmp_path / "x" / LOCK_NAME).is_file()  # left behind, stale
    with FolderLock(tmp_path / "x", "me"):
        assert json.loads((tmp_path / "x" / LOCK_NAME).read_text())["pid"] == os.getpid()


def test_a_lock_kept_by_the_children_of_a_dead_holder_says_so(tmp_path):
    # the holder forks (as data-loader workers are forked) and exits at once; its child keeps the lock a while
    child = _hold_and(
        "pid = os.fork()\nif pid == 0:\n    time.sleep(3); os._exit(0)\nprint('held', flush=True)", tmp_path / "x"
    )
    assert child.stdout.readline().strip() == "held"
    child.wait()
    with pytest.raises(UsageError, match="has ended but processes it started still hold the lock"):
        FolderLock(tmp_path / "x", "me").acquire()
    deadline = time.time() + 20
    while True:  # free once the child exits
        try:
            with FolderLock(tmp_path / "x", "me"):
                break
        except UsageError:
            assert time.time() < deadline
            time.sleep(0.2)


def test_two_embed_processes_on_one_folder_never_lose_tracks(tmp_path):
    """The fault as reported: two `tunespace embed` started together on one --out."""
    data = write_clean(tmp_path / "data", 8, seconds=2.0)
    out = tmp_path / "emb"
    args = [
        PYTHON,
        "-m",
        "tunespace",
        "embed",
        "--model",
        "random:small",
        "--data",
        str(data),
        "--out",
        str(out),
        "--workers",
        "0",
        "--no-progress",
    ]
    procs = [
        subprocess.Popen(args, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(c for c, _ in results)
    assert codes in ([0, 0], [0, 2]), results
    for code, err in results:
        if code == 2:  # the holder named, or caught between taking the lock and recording itself
            line = one_line(err, "is in use by")
            assert "by tunespace embed (pid" in line or "has not recorded itself yet" in line, line
    emb = read_embeddings(out)  # complete and consistent (sizes and hashes checked)
    assert emb.ids == open_dataset(data).ids and emb.errors == []

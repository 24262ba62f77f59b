"""Unwritable and full output folders, an --out that is a file, and file permissions.

Full and read-only file systems are simulated by injecting the OSError the kernel would raise
(ENOSPC, EROFS) at a chosen write (the tests run as any user; bench/faults_fs.py does the same
on a real 1 MiB tmpfs). Outcome checked: one line naming the file and the cause (exit status
1), every complete file left as it was or refused as a mix (never read as a wrong set), no
temporary file left, and the same command completing once there is room."""

from __future__ import annotations

import errno
import os
import stat

import numpy as np
import pytest
from tests.conftest import tiny_overrides
from tests.reliability.conftest import TINY, cli, one_line

import tunespace.files as files
from tunespace.embed import read_embeddings
from tunespace.embed.extract import embed_dataset, random_encoder
from tunespace.errors import UsageError
from tunespace.models.checkpoint import latest_checkpoint
from tunespace.train import load_checkpoint, resolve_config, train

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _fail_replace_at(monkeypatch, n: int, error: OSError = ENOSPC) -> list[int]:
    """Make the ``n``-th rename of an atomic write (1-based) fail with ``error``; returns the counter."""
    real = os.replace
    calls = [0]

    def replace(src, dst):
        calls[0] += 1
        if calls[0] == n:
            raise OSError(error.errno, error.strerror)
        return real(src, dst)

    monkeypatch.setattr(files.os, "replace", replace)
    return calls


def _temp_files(folder):
    return [p for p in folder.rglob(".*") if p.is_file() and p.name != ".tunespace.lock" and ".parts" not in p.parts]


def _embed_cli(data, out, seed_model, capsys):
    return cli(
        ["embed", "--model", seed_model, "--data", data, "--out", out, "--workers", "0", "--no-progress"], capsys
    )


@pytest.fixture(scope="module")
def writes_per_embed(clean_wavs, tmp_path_factory):
    """How many atomic renames one embed of clean_wavs makes."""
    import pytest as _pytest

    mp = _pytest.MonkeyPatch()
    calls = _fail_replace_at(mp, -1)
    embed_dataset(
        random_encoder("small", **TINY), clean_wavs, tmp_path_factory.mktemp("count") / "e", workers=0, progress=False
    )
    mp.undo()
    return calls[0]


#: where the disk fills up (which rename of the run fails, counted from the end for the final
#: files: manifest, 6 parts, embeddings.npy, ids.txt, errors.csv, meta.json) -> the old set is
#: still read whole (True) or the folder is refused as a mix (False)
FULL_AT = {
    "manifest": (1, True),
    "a part": (4, True),
    "embeddings.npy": (-3, True),
    "ids.txt": (-2, False),
    "errors.csv": (-1, False),
    "meta.json": (0, False),
}


@pytest.mark.parametrize("where", list(FULL_AT))
def test_embed_on_a_full_disk(clean_wavs, tmp_path, monkeypatch, capsys, writes_per_embed, where):
    out = tmp_path / "emb"
    before = embed_dataset(random_encoder("small", seed=0, **TINY), clean_wavs, out, workers=0, progress=False)
    n, intact = FULL_AT[where]
    _fail_replace_at(monkeypatch, n if n > 0 else writes_per_embed + n)
    with pytest.raises(OSError) as e:
        embed_dataset(random_encoder("small", seed=1, **TINY), clean_wavs, out, workers=0, progress=False)
    assert e.value.errno == errno.ENOSPC and str(out) in e.value.filename  # names the destination
    if n <= 0:
        assert e.value.filename.endswith(where)
    monkeypatch.undo()
    assert _temp_files(out) == []
    if intact:
        got = read_embeddings(out, mmap=False)
        assert np.array_equal(got.vectors, before.vectors) and got.meta["model"]["seed"] == 0  # the old set, whole
    else:
        with pytest.raises(UsageError, match="mixes files"):  # half the new set beside the old meta: refused
            read_embeddings(out)
    after = embed_dataset(random_encoder("small", seed=1, **TINY), clean_wavs, out, workers=0, progress=False)
    assert read_embeddings(out).meta["model"]["seed"] == 1 and len(after.ids) == 6


def test_embed_on_a_full_disk_is_one_line_with_status_1(clean_wavs, tmp_path, monkeypatch, capsys):
    _fail_replace_at(monkeypatch, 2)
    code, err = _embed_cli(clean_wavs, tmp_path / "emb", "random:small", capsys)
    assert code == 1
    one_line(err, str(tmp_path / "emb"), "No space left on device")


def test_read_only_output_folder(clean_wavs, tmp_path, monkeypatch, capsys):
    real_open = os.open

    def read_only(path, flags, mode=0o777, *a, **k):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, mode, *a, **k)

    (tmp_path / "ro").mkdir()
    import tunespace.lock as lock

    monkeypatch.setattr(lock.os, "open", read_only)
    for args in (
        ["embed", "--model", "random:small", "--data", clean_wavs, "--workers", "0", "--no-progress"],
        ["train", "--data", clean_wavs, "--augment", "none", *tiny_overrides(steps=2)],
        ["corpus", "build", "--tracks", "1", "--seconds", "5"],
        ["baseline", "--kind", "random", "--data", clean_wavs],
        ["study", "--preset", "demo"],
    ):
        code, err = cli(
            [*args[:2], "--out", tmp_path / "ro", *args[2:]]
            if args[0] == "corpus"
            else [args[0], "--out", tmp_path / "ro", *args[1:]],
            capsys,
        )
        assert code == 1, (args[0], err)
        one_line(err, str(tmp_path / "ro"), "Read-only file system")
    assert list((tmp_path / "ro").iterdir()) == []


def test_training_on_a_full_disk_keeps_the_last_checkpoint_and_resumes_exactly(
    clean_wavs, tmp_path, monkeypatch, capsys
):
    cfg = resolve_config(
        None, tiny_overrides(steps=4, every=2), **{"data.path": str(clean_wavs), "augment.policy": "none"}
    )
    train(tmp_path / "full", cfg)
    real = os.replace

    def replace(src, dst):  # the disk fills up when the checkpoint of step 4 is written
        if str(dst).endswith("step_0000004.pt"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(src, dst)

    monkeypatch.setattr(files.os, "replace", replace)
    code, err = cli(
        [
            "train",
            "--data",
            clean_wavs,
            "--augment",
            "none",
            "--out",
            tmp_path / "run",
            *tiny_overrides(steps=4, every=2),
        ],
        capsys,
    )
    assert code == 1
    one_line(err, "step_0000004.pt", "No space left on device")
    monkeypatch.undo()
    assert load_checkpoint(latest_checkpoint(tmp_path / "run"))["step"] == 2
    assert _temp_files(tmp_path / "run") == []
    assert cli(["train", "--out", tmp_path / "run", "--resume"], capsys)[0] == 0
    a, b = (load_checkpoint(latest_checkpoint(tmp_path / r)) for r in ("full", "run"))
    assert all(np.array_equal(a["model"][k].numpy(), b["model"][k].numpy()) for k in a["model"])


@pytest.mark.parametrize("command", ["embed", "train", "study", "corpus", "baseline"])
@pytest.mark.parametrize("inside", [False, True])
def test_out_that_is_a_file(command, inside, clean_wavs, tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("precious\n")
    out = f / "sub" if inside else f
    args = {
        "embed": ["embed", "--model", "random:small", "--data", clean_wavs, "--no-progress"],
        "train": ["train", "--data", clean_wavs, "--augment", "none", *tiny_overrides(steps=2)],
        "study": ["study", "--preset", "demo"],
        "corpus": ["corpus", "build", "--tracks", "1", "--seconds", "5"],
        "baseline": ["baseline", "--kind", "random", "--data", clean_wavs],
    }[command]
    pos = 2 if command == "corpus" else 1
    code, err = cli([*args[:pos], "--out", out, *args[pos:]], capsys)
    assert code == 2
    one_line(err, str(out), "is inside" if inside else "is a file")
    assert f.read_text() == "precious\n"


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_files_honour_the_umask(umask, mode, clean_wavs, tmp_path):
    from tunespace.corpus import build_corpus

    old = os.umask(umask)
    try:
        embed_dataset(random_encoder("small", **TINY), clean_wavs, tmp_path / "emb", workers=0, progress=False)
        res = train(
            tmp_path / "run",
            resolve_config(
                None, tiny_overrides(steps=1, every=1), **{"data.path": str(clean_wavs), "augment.policy": "none"}
            ),
        )
        build_corpus(tmp_path / "corpus", tracks=1, seconds=5.0, seed=0, workers=1)
    finally:
        os.umask(old)
    written = [
        *(tmp_path / "emb").iterdir(),
        res.checkpoint,
        tmp_path / "run" / "config.json",
        *(tmp_path / "corpus" / "audio").iterdir(),
        tmp_path / "corpus" / "tracks.csv",
    ]
    for p in written:
        assert stat.S_IMODE(p.stat().st_mode) == mode, (p, oct(stat.S_IMODE(p.stat().st_mode)))


def test_atomic_write_names_the_destination_and_leaves_no_temporary(tmp_path, monkeypatch):
    files.write_text(tmp_path / "a.txt", "old")
    _fail_replace_at(monkeypatch, 1)
    with pytest.raises(OSError) as e:
        files.write_text(tmp_path / "a.txt", "new")
    assert e.value.filename == str(tmp_path / "a.txt") and e.value.errno == errno.ENOSPC
    assert (tmp_path / "a.txt").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]

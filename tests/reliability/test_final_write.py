"""Kills during the final write: the folder never passes for a complete one while it mixes
files of two writes, and rerunning the command completes it exactly."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch
from tests.reliability.conftest import PYTHON, TINY, subprocess_env

import tunespace.embed.format as fmt
from tunespace.embed import read_embeddings
from tunespace.embed.extract import embed_dataset, random_encoder
from tunespace.errors import UsageError


class Crash(Exception):
    pass


def _embed(data, out, seed):
    return embed_dataset(random_encoder("small", seed=seed, **TINY), data, out, workers=0, progress=False)


@pytest.fixture(scope="module")
def reference(clean_wavs, tmp_path_factory):
    """The uninterrupted result of model B (seed 1)."""
    out = tmp_path_factory.mktemp("ref") / "emb"
    _embed(clean_wavs, out, seed=1)
    return read_embeddings(out, mmap=False)


@pytest.mark.parametrize("dies_at", ["ids.txt", "errors.csv", "meta.json"])
def test_crash_between_renames_is_refused_then_repaired(clean_wavs, tmp_path, monkeypatch, reference, dies_at):
    out = tmp_path / "emb"
    _embed(clean_wavs, out, seed=0)  # model A's complete folder
    real_hashed, real_json = fmt._write_hashed, fmt.write_json

    def hashed(path, write):
        if path.name == dies_at:
            raise Crash(path)
        return real_hashed(path, write)

    def json_(path, obj):
        if path.name == dies_at:
            raise Crash(path)
        return real_json(path, obj)

    monkeypatch.setattr(fmt, "_write_hashed", hashed)
    monkeypatch.setattr(fmt, "write_json", json_)
    with pytest.raises(Crash):
        _embed(clean_wavs, out, seed=1)  # model B dies during its final write
    monkeypatch.undo()
    assert json.loads((out / "meta.json").read_text())["model"]["seed"] == 0  # A's meta beside B's matrix
    with pytest.raises(UsageError, match="mixes files of two writes"):
        read_embeddings(out)
    again = _embed(clean_wavs, out, seed=1)  # the same command again: finishes from .parts
    got = read_embeddings(out, mmap=False)
    assert got.ids == reference.ids and np.array_equal(got.vectors, reference.vectors)
    assert again.meta["model"]["seed"] == 1 and not (out / ".parts").exists()


def test_a_killed_process_leaves_a_folder_that_is_refused_then_repaired(clean_wavs, tmp_path, reference):
    """A real process killed (os._exit) right before meta.json, the last file, is renamed."""
    out = tmp_path / "emb"
    _embed(clean_wavs, out, seed=0)
    code = "\n".join(
        [
            "import os, torch",
            f"torch.set_num_threads({torch.get_num_threads()})  # as here: the same float sums",
            "import tunespace.embed.format as fmt",
            "real = fmt.write_json",
            "fmt.write_json = lambda p, o: os._exit(9) if p.name == 'meta.json' else real(p, o)",
            "from tunespace.embed.extract import embed_dataset, random_encoder",
            f"embed_dataset(random_encoder('small', seed=1, **{TINY!r}), {str(clean_wavs)!r}, {str(out)!r}, workers=0,"
            " progress=False)",
        ]
    )
    assert subprocess.run([PYTHON, "-c", code], env=subprocess_env(), timeout=300).returncode == 9
    with pytest.raises(UsageError, match="ids.txt has other contents|embeddings.npy has other"):
        read_embeddings(out)
    _embed(clean_wavs, out, seed=1)
    got = read_embeddings(out, mmap=False)
    assert got.ids == reference.ids and np.array_equal(got.vectors, reference.vectors)


@pytest.mark.parametrize("name", ["embeddings.npy", "ids.txt", "errors.csv"])
def test_a_file_of_another_folder_is_refused(clean_wavs, tmp_path, name):
    _embed(clean_wavs, tmp_path / "a", seed=0)
    _embed(clean_wavs, tmp_path / "b", seed=1)
    if name == "errors.csv":
        (tmp_path / "b" / name).write_text("file,reason\nx.wav,missing\n")
    elif name == "ids.txt":  # the same ids in another row order: same size, other contents
        ids = (tmp_path / "a" / name).read_text().splitlines()
        (tmp_path / "b" / name).write_text("".join(f"{i}\n" for i in reversed(ids)))
    else:
        shutil.copy(tmp_path / "a" / name, tmp_path / "b" / name)
    with pytest.raises(UsageError, match=f"{name} has (other contents|another size)"):
        read_embeddings(tmp_path / "b")
    read_embeddings(tmp_path / "a")  # the untouched one reads


def test_a_folder_without_meta_is_incomplete(clean_wavs, tmp_path):
    _embed(clean_wavs, tmp_path / "a", seed=0)
    (tmp_path / "a" / "meta.json").unlink()
    with pytest.raises(UsageError, match="incomplete embeddings folder"):
        read_embeddings(tmp_path / "a")


def test_a_truncated_matrix_is_refused_without_hashing(clean_wavs, tmp_path):
    _embed(clean_wavs, tmp_path / "a", seed=0)
    p = tmp_path / "a" / "embeddings.npy"
    p.write_bytes(p.read_bytes()[:-8])
    with pytest.raises(UsageError, match="another size"):
        read_embeddings(tmp_path / "a", verify=False)


def test_folders_written_before_the_record_still_read(clean_wavs, tmp_path):
    _embed(clean_wavs, tmp_path / "a", seed=0)
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    del meta["files"]
    (tmp_path / "a" / "meta.json").write_text(json.dumps(meta))
    assert len(read_embeddings(tmp_path / "a").ids) == 6


def test_timelines_of_an_earlier_set_do_not_stay(clean_wavs, tmp_path):
    enc = random_encoder("small", **TINY)
    embed_dataset(enc, clean_wavs, tmp_path / "a", workers=0, progress=False, timelines=True)
    assert len(list((tmp_path / "a" / "timelines").glob("*.npy"))) == 6
    assert len(list((tmp_path / "a" / "timelines" / "loud").glob("*.npy"))) == 6
    embed_dataset(enc, clean_wavs, tmp_path / "a", workers=0, progress=False, timelines=False)
    assert not (tmp_path / "a" / "timelines").exists()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "embeddings.npy",
        "errors.csv",
        "ids.txt",
        "meta.json",
    ]

"""Any folder of audio, one audio file, a list file, or a CSV file given as the dataset."""

import os

import numpy as np
import pytest

from tunespace.audio import save
from tunespace.cli import main
from tunespace.datasets import detect_kind, open_dataset
from tunespace.errors import DatasetError


def _wav(path, seconds=0.1, sr=16000):
    path.parent.mkdir(parents=True, exist_ok=True)
    save(path, np.zeros(int(seconds * sr), np.float32), sr)
    return path


def test_plain_folder_is_a_dataset(tmp_path):
    root = tmp_path / "mymusic"
    _wav(root / "b.wav")
    _wav(root / "album" / "a.wav")
    (root / "album" / "c.OGG").write_bytes(b"not audio but named like it")
    (root / "notes.txt").write_text("hello")
    assert detect_kind(root) == "folder"
    ds = open_dataset(root)
    assert ds.name == "folder"
    assert ds.ids == ["album/a", "album/c", "b"]
    assert ds.kinds == {} and all(t.labels == {} for t in ds)
    assert ds.tracks[0].path == (root / "album" / "a.wav").resolve()


def test_folder_reports_what_it_leaves_out(tmp_path):
    root = tmp_path / "m"
    _wav(root / "x.wav")
    (root / "dir.wav").mkdir()
    _wav(root / "dir.wav" / "inner.wav")
    _wav(root / "._x.wav")
    _wav(root / "x.flac")
    os.symlink(root / "gone.wav", root / "dangling.wav")
    ds = open_dataset(root)
    assert ds.ids == ["dangling", "dir.wav/inner", "x"]
    problems = "\n".join(ds.problems)
    assert "dir.wav: a folder" in problems
    assert "._x.wav: hidden" in problems
    assert "x.wav: same id 'x' as x.flac" in problems
    # the dangling link is listed (it fails when read, so embed reports it), not dropped
    assert not ds.by_id()["dangling"].path.exists()


def test_folder_with_several_csvs_says_so(tmp_path):
    _wav(tmp_path / "x.wav")
    (tmp_path / "a.csv").write_text("id,genre\nx,rock\n")
    (tmp_path / "b.csv").write_text("id,mood\nx,calm\n")
    ds = open_dataset(tmp_path)
    assert ds.name == "folder" and "not used as labels" in ds.problems[0]
    # the CSV given itself is read with its labels
    ds = open_dataset(tmp_path / "b.csv")
    assert ds.name == "csv" and ds.tracks[0].labels == {"mood": "calm"}


def test_one_audio_file_and_a_list(tmp_path):
    f = _wav(tmp_path / "song.wav")
    ds = open_dataset(f)
    assert ds.ids == ["song"] and ds.tracks[0].path == f.resolve()
    _wav(tmp_path / "sub" / "a.wav")
    other = _wav(tmp_path.parent / f"{tmp_path.name}-other" / "z.wav")
    lst = tmp_path / "list.txt"
    lst.write_text(f"# my tracks\n\nsub/a.wav\n{other}\nsong.wav\n", encoding="utf-8")
    ds = open_dataset(lst)
    assert set(ds.ids) == {"sub/a", "song", str(other.with_suffix(""))}
    dup = tmp_path / "dup.txt"
    dup.write_text("song.wav\nsong.flac\n")
    with pytest.raises(DatasetError, match="same id 'song'"):
        open_dataset(dup)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(DatasetError, match="lists no audio file"):
        open_dataset(empty)
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    with pytest.raises(DatasetError, match="not a dataset"):
        open_dataset(bad)


def test_datasets_show_folder(tmp_path, capsys):
    _wav(tmp_path / "a.wav")
    assert main(["datasets", "show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "reader: folder" in out and "tracks: 1" in out and "properties: none" in out

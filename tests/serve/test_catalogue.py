"""The catalogue: audio only by id and only inside the audio folder; label agreement; search."""

from __future__ import annotations

import os

import pytest

from tunespace.errors import UsageError
from tunespace.serve.catalogue import Catalogue, contained_file, same_label


def test_contained_file_follows_symlinks_and_refuses_what_leaves_the_root(tmp_path):
    root = tmp_path / "audio"
    (root / "sub").mkdir(parents=True)
    inside = root / "sub" / "a.wav"
    inside.write_bytes(b"x")
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"s")
    os.symlink(inside, root / "link_in.wav")
    os.symlink(secret, root / "link_out.wav")
    os.symlink(tmp_path, root / "up")
    assert contained_file(inside, root) == inside.resolve()
    assert contained_file(root / "link_in.wav", root) == inside.resolve()
    assert contained_file(root / "link_out.wav", root) is None
    assert contained_file(root / "up" / "secret.wav", root) is None
    assert contained_file(root / "sub" / ".." / ".." / "secret.wav", root) is None
    assert contained_file(root / "sub", root) is None  # a folder
    assert contained_file(root, root) is None
    assert contained_file(root / "missing.wav", root) is None
    # a root that is itself a symlink: containment is checked on real paths
    os.symlink(root, tmp_path / "alias")
    assert contained_file(tmp_path / "alias" / "sub" / "a.wav", tmp_path / "alias") == inside.resolve()


def test_audio_path_is_checked_at_request_time(tmp_path):
    root = tmp_path / "audio"
    root.mkdir()
    f = root / "t.wav"
    f.write_bytes(b"x")
    cat = Catalogue(ids=["t"], audio_root=root.resolve(), audio_files={"t": f})
    assert cat.audio_path("t") == f.resolve()
    # the file is swapped for a symlink leaving the folder after start-up
    secret = tmp_path / "secret"
    secret.write_bytes(b"s")
    f.unlink()
    os.symlink(secret, f)
    assert cat.audio_path("t") is None
    assert cat.audio_path("../secret") is None and cat.audio_path(str(secret)) is None


def test_same_label_by_kind():
    assert same_label("categorical", "rock", "rock") and not same_label("categorical", "rock", "jazz")
    assert same_label("key", "A minor", "A minor") and not same_label("key", "A minor", "C major")
    assert same_label("tempo", 100.0, 104.0) and same_label("tempo", 100.0, 96.0)
    assert not same_label("tempo", 100.0, 104.5) and not same_label("tempo", 100.0, 95.5)
    assert same_label("tags", ["a", "b"], ["b", "c"]) and not same_label("tags", ["a"], ["c"])
    assert same_label("continuous", 0.5, 0.5) is None
    assert same_label("categorical", None, "rock") is None


def _cat() -> Catalogue:
    labels = {
        "x/1": {"genre": "rock", "bpm": 120.0, "tags": ["loud", "guitar"]},
        "x/2": {"genre": "Rock", "bpm": 90.0, "tags": ["quiet"]},
        "y/3": {"genre": "jazz", "bpm": None, "tags": None},
        "y/4": {"genre": None, "bpm": 124.0, "tags": ["guitar"]},
    }
    return Catalogue(ids=list(labels), labels=labels, kinds={"genre": "categorical", "bpm": "tempo", "tags": "tags"})


def test_search_filters_and_errors():
    cat = _cat()
    assert cat.search("X/") == ["x/1", "x/2"]
    assert cat.search("guitar") == ["x/1", "y/4"]
    assert cat.search(where=[("genre", "ROCK")]) == ["x/1", "x/2"]
    assert cat.search(where=[("tags", "guitar"), ("bpm", "121")]) == ["x/1", "y/4"]
    assert cat.search(where=[("bpm", "100..")]) == ["x/1", "y/4"]
    assert cat.search(within=["y/4", "x/2"]) == ["x/2", "y/4"]
    assert cat.vocabulary("genre") == ["Rock", "jazz", "rock"] and cat.vocabulary("bpm") is None
    with pytest.raises(UsageError, match="unknown property 'mood'"):
        cat.search(where=[("mood", "calm")])
    with pytest.raises(UsageError, match="not a number"):
        cat.search(where=[("bpm", "fast")])
    with pytest.raises(UsageError, match="not a finite number"):
        cat.search(where=[("bpm", "nan")])


def test_agreement_counts_shared_labels_and_the_most_common():
    cat = _cat()
    rows = {
        a["property"]: a
        for a in cat.agreement({"genre": "rock", "bpm": 122.0, "tags": ["guitar"]}, ["x/1", "x/2", "y/3", "y/4"])
    }
    assert rows["genre"] == {
        "property": "genre",
        "kind": "categorical",
        "query": "rock",
        "known": 3,
        "shared": 1,
        "most_common": "Rock",
        "most_common_count": 1,
    }
    assert rows["bpm"]["shared"] == 2 and rows["bpm"]["known"] == 3 and rows["bpm"]["most_common"] is None
    assert (
        rows["tags"]["shared"] == 2
        and rows["tags"]["most_common"] == "guitar"
        and rows["tags"]["most_common_count"] == 2
    )
    upload = {a["property"]: a for a in cat.agreement(None, ["x/1", "y/4"])}
    assert upload["genre"]["shared"] is None and upload["genre"]["known"] == 1

"""The stage cache: keys hold the code that computes a stage; readers still find other code's stages."""

from __future__ import annotations

import os
import re

from tunespace.study.cache import Stage, code_fingerprint, source_fingerprint


def test_the_fingerprint_follows_the_computing_source_only(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "serve").mkdir()
    (tmp_path / "models" / "small.py").write_text("WIDTH = 128\n")
    (tmp_path / "serve" / "app.py").write_text("PORT = 8000\n")
    (tmp_path / "README.md").write_text("words\n")
    first = source_fingerprint(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{12}", first)
    (tmp_path / "serve" / "app.py").write_text("PORT = 9000\n")  # presentation only
    (tmp_path / "README.md").write_text("other words\n")  # not Python
    assert source_fingerprint(tmp_path) == first
    (tmp_path / "models" / "small.py").write_text("WIDTH = 256\n")
    assert source_fingerprint(tmp_path) != first
    assert re.fullmatch(r".+\+[0-9a-f]{12}", code_fingerprint())


def test_other_code_gives_another_key(tmp_path):
    cfg = {"train": {"steps": 10}}
    here, other = Stage("train", cfg, tmp_path), Stage("train", cfg, tmp_path, code="0.0+abcdefabcdef")
    assert here.key != other.key and here.key == Stage("train", dict(cfg), tmp_path).key
    assert here.path.name.startswith("train-")


def _finish(st: Stage, mtime: float) -> None:
    st.begin()
    st.finish({"ok": 1})
    os.utime(st.path / "done.json", (mtime, mtime))


def test_readers_find_the_newest_finished_stage_of_other_code(tmp_path):
    cfg = {"kind": "mfcc", "data": "abc"}
    wanted = Stage("baseline", cfg, tmp_path)
    assert wanted.existing() is wanted  # nothing there yet
    _finish(Stage("baseline", cfg, tmp_path, code="1+aaaaaaaaaaaa"), 1000)
    _finish(Stage("baseline", cfg, tmp_path, code="1+bbbbbbbbbbbb"), 2000)
    Stage("baseline", cfg, tmp_path, code="1+cccccccccccc").begin()  # newer but unfinished
    _finish(Stage("baseline", {**cfg, "kind": "chroma"}, tmp_path, code="1+dddddddddddd"), 3000)  # another config
    got = wanted.existing()
    assert got.code == "1+bbbbbbbbbbbb" and got.done and got.path.name == f"baseline-{got.key}"
    dependent = Stage("analysis", {"embeddings": got.key}, tmp_path)  # chains on the found key
    assert dependent.config["embeddings"] != wanted.key
    _finish(wanted, 500)  # this code's own stage wins, however old
    assert wanted.existing() is wanted

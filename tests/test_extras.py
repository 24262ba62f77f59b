"""Optional packages: a missing one is a one-line error that names the extra to install
(simulated by ``sys.modules[name] = None``, which makes its import fail)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tunespace.errors import UsageError
from tunespace.extras import MissingExtraError, import_extra


def test_import_extra_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)
    with pytest.raises(MissingExtraError) as e:
        import_extra("umap", "UMAP maps")
    assert str(e.value) == "UMAP maps needs umap-learn, which is not installed: pip install 'tunespace[plots]'"
    assert isinstance(e.value, UsageError) and isinstance(e.value, ImportError) and e.value.extra == "plots"
    assert import_extra("numpy", "x") is np


def test_import_extra_keeps_other_import_failures(monkeypatch, tmp_path):
    # the package is there but one of its own imports fails: its own error, not "install the extra"
    (tmp_path / "umap").mkdir()
    (tmp_path / "umap" / "__init__.py").write_text("import _tunespace_test_absent_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "umap", raising=False)
    with pytest.raises(ModuleNotFoundError) as e:
        import_extra("umap", "UMAP maps")
    assert not isinstance(e.value, MissingExtraError) and e.value.name == "_tunespace_test_absent_dependency"
    monkeypatch.delitem(sys.modules, "umap", raising=False)


def test_music21_source_without_music21_is_one_line(monkeypatch, tmp_path, capsys):
    from tunespace.cli import main

    monkeypatch.setitem(sys.modules, "music21", None)
    monkeypatch.setitem(sys.modules, "music21.corpus", None)
    argv = ["corpus", "build", "--out", str(tmp_path / "c"), "--tracks", "5", "--seconds", "6", "--source", "music21"]
    assert main([*argv, "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pip install 'tunespace[music21]'" in err


def test_load_piece_without_music21(monkeypatch, tmp_path):
    from tunespace.corpus.music21_source import load_piece

    monkeypatch.setitem(sys.modules, "music21", None)
    monkeypatch.setitem(sys.modules, "music21.corpus", None)
    with pytest.raises(MissingExtraError, match=r"tunespace\[music21\]"):
        load_piece("bach/bwv66.6.mxl", cache_dir=tmp_path)


def test_explorer_map_without_umap_fails_with_the_extra(monkeypatch):
    from tunespace.serve.maps import MapStore, umap_layout

    monkeypatch.setitem(sys.modules, "umap", None)
    x = np.random.default_rng(0).standard_normal((20, 4)).astype(np.float32)
    with pytest.raises(MissingExtraError, match=r"tunespace\[plots\]"):
        umap_layout(x, 0)
    assert umap_layout(x[:5], 0)[1] == "pca"  # small indexes need no umap (unchanged)
    store = MapStore()
    store.get("m", [f"i{i}" for i in range(20)], lambda rows: x[rows])
    st = store.wait("m", timeout=30)
    store.close()
    assert st.status == "failed" and st.error.endswith("pip install 'tunespace[plots]'")

"""Fixtures of the serve tests: a small labelled audio folder, its embeddings, two indexes, the app.

Session-scoped: the audio is 13 synthetic WAVs of 3.2 s (one embedding slice each), embedded
once by the seed-0 random ``small`` encoder (so the index names ``random:small`` as its model
and uploads are embedded with the same weights).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

GENRES = ["blues", "rock", "jazz"]
SR = 16000


def write_tone(path: Path, freq: float, seconds: float = 3.2, seed: int = 0) -> None:
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(len(t))
    sf.write(str(path), x.astype(np.float32), SR, subtype="PCM_16")


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    """``ds/``: 12 labelled tracks ``t00``..``t11`` + ``leak`` (a symlink to a file outside ``ds/``)."""
    base = tmp_path_factory.mktemp("serve")
    root = base / "ds"
    root.mkdir()
    outside = base / "outside"
    outside.mkdir()
    rows = []
    for i in range(12):
        genre = GENRES[i % 3]
        write_tone(root / f"t{i:02d}.wav", 110.0 * (1 + i % 3) * (1 + i / 24), seed=i)
        rows.append(
            {
                "track_id": f"t{i:02d}",
                "genre": genre,
                "tempo_bpm": 90 + 2 * i if i % 2 else 140 + i,
                "key": ["C major", "A minor"][i % 2],
                "mood": "calm" if i < 6 else "tense",
            }
        )
    write_tone(outside / "secret.wav", 440.0, seed=99)
    os.symlink(outside / "secret.wav", root / "leak.wav")
    rows.append({"track_id": "leak", "genre": "rock", "tempo_bpm": 100, "key": "C major", "mood": "calm"})
    with open(root / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return root


@pytest.fixture(scope="session")
def emb_dir(dataset, tmp_path_factory) -> Path:
    from tunespace.embed.extract import embed_dataset, random_encoder

    out = tmp_path_factory.mktemp("emb") / "emb"
    embed_dataset(random_encoder("small"), dataset, out, workers=0, progress=False)
    return out


@pytest.fixture(scope="session")
def index_dirs(emb_dir, tmp_path_factory) -> dict[str, Path]:
    """``a``: the random-encoder index (has a model); ``b``: other vectors, no model."""
    from tunespace import Index
    from tunespace.embed.format import EmbeddingSet, read_embeddings
    from tunespace.index import build_index

    base = tmp_path_factory.mktemp("indexes")
    build_index(emb_dir, base / "a")
    emb = read_embeddings(emb_dir)
    rng = np.random.default_rng(1)
    other = EmbeddingSet(
        ids=list(emb.ids),
        vectors=rng.standard_normal((len(emb.ids), 16)).astype(np.float32),
        meta={"dataset": emb.meta.get("dataset")},
        name="b",
    )
    Index.build(other).save(base / "b")
    return {"a": base / "a", "b": base / "b"}


class CountingPCA:
    """A cheap map layout for the API tests (UMAP itself is tested in test_maps.py)."""

    __name__ = "counting_pca"

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x, seed):  # noqa: ANN001, ANN204
        from tunespace.serve.maps import pca_layout

        self.calls += 1
        return pca_layout(x, seed)


@pytest.fixture(scope="session")
def served(index_dirs, dataset, tmp_path_factory):
    from tunespace.serve.sources import from_indexes

    return from_indexes(
        [f"a={index_dirs['a']}", f"b={index_dirs['b']}"],
        labels=dataset / "labels.csv",
        map_cache=tmp_path_factory.mktemp("maps"),
    )


@pytest.fixture(scope="session")
def reducer() -> CountingPCA:
    return CountingPCA()


MAX_UPLOAD = 400_000


@pytest.fixture(scope="session")
def max_upload() -> int:
    """The upload limit of ``client``, bytes."""
    return MAX_UPLOAD


@pytest.fixture(scope="session")
def client(served, reducer):
    from fastapi.testclient import TestClient

    from tunespace.serve.app import create_app
    from tunespace.serve.maps import MapStore

    maps = MapStore(cache_dirs={s.name: s.map_cache for s in served.indexes}, reducer=reducer)
    app = create_app(served, max_upload_bytes=MAX_UPLOAD, maps=maps)
    with TestClient(app) as c:
        yield c

"""The explorer on a slice index: tracks on the map and in track queries, uploads placed within tracks."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tunespace.passages import track_index, track_vector

SR = 16000
TRACKS = 4
SECONDS = 11


@pytest.fixture(scope="module")
def slice_dirs(tmp_path_factory) -> dict[str, Path]:
    """``ds/``: four 11 s tracks, each a sequence of one-second tones of its own random pitches
    (so every slice of every track differs), embedded with timelines by the seed-0 random
    ``small`` encoder; ``idx/``: their slice index."""
    from tunespace.embed.extract import embed_dataset, random_encoder
    from tunespace.index import build_index

    base = tmp_path_factory.mktemp("slices")
    ds = base / "ds"
    ds.mkdir()
    rng = np.random.default_rng(7)
    t = np.arange(SR) / SR
    rows = []
    for i in range(TRACKS):
        tones = [0.3 * np.sin(2 * np.pi * f * t) for f in rng.uniform(150.0, 900.0, SECONDS)]
        sf.write(str(ds / f"s{i}.wav"), np.concatenate(tones).astype(np.float32), SR, subtype="PCM_16")
        rows.append({"track_id": f"s{i}", "genre": ["rock", "jazz"][i % 2]})
    with open(ds / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    embed_dataset(random_encoder("small"), ds, base / "emb", timelines=True, workers=0, progress=False)
    build_index(base / "emb", base / "idx", slices=True)
    excerpt, _ = sf.read(ds / "s2.wav", dtype="float32")
    sf.write(str(base / "excerpt.wav"), excerpt[4 * SR : 10 * SR], SR)  # s2 from 4 s to 10 s
    return {"ds": ds, "idx": base / "idx", "excerpt": base / "excerpt.wav", "maps": base / "maps"}


@pytest.fixture(scope="module")
def served(slice_dirs):
    from tunespace.serve.sources import from_indexes

    return from_indexes([f"slices={slice_dirs['idx']}"], map_cache=slice_dirs["maps"])


@pytest.fixture(scope="module")
def client(served):
    from fastapi.testclient import TestClient

    from tunespace.serve.app import create_app
    from tunespace.serve.maps import MapStore, pca_layout

    maps = MapStore(cache_dirs={s.name: s.map_cache for s in served.indexes}, reducer=pca_layout)
    with TestClient(create_app(served, maps=maps)) as c:
        yield c


def test_a_slice_index_is_served_by_its_tracks(served, slice_dirs):
    from tunespace import Index

    slices = Index.load(slice_dirs["idx"])
    s = served.indexes[0]
    assert s.passages is not None and s.info()["passages"] and "slices" in s.info()["description"]
    assert sorted(s.ids) == [f"s{i}" for i in range(TRACKS)] and len(slices) > 4 * TRACKS
    assert s.model_path == "random:small"  # uploads are embedded with the slice index's model
    for tid in s.ids:  # each track's vector is the mean of its stored slices, normalised
        want = track_vector(slices, tid)
        assert np.allclose(s.vector(tid), want / np.linalg.norm(want), atol=1e-6)


def test_track_index_of_a_track_index_is_refused(slice_dirs):
    from tunespace import Index
    from tunespace.errors import UsageError

    tracks = track_index(Index.load(slice_dirs["idx"]))
    with pytest.raises(UsageError, match="track index already"):
        track_index(tracks)


def test_track_queries_and_the_map_use_the_tracks(client):
    info = client.get("/api/info").json()
    assert info["indexes"][0]["passages"] is True and info["indexes"][0]["n"] == TRACKS
    body = client.get("/api/indexes/slices/neighbours", params={"id": "s1", "k": 3}).json()
    ids = [nb["id"] for nb in body["neighbours"]]
    assert len(ids) == 3 and "s1" not in ids
    assert all(nb["start_s"] is None for nb in body["neighbours"])  # a track query has no span
    deadline = time.monotonic() + 30
    while (r := client.get("/api/indexes/slices/map")).status_code == 202:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert sorted(r.json()["ids"]) == [f"s{i}" for i in range(TRACKS)]


def test_an_upload_is_placed_within_the_track_it_comes_from(client, slice_dirs):
    with open(slice_dirs["excerpt"], "rb") as f:
        r = client.post("/api/indexes/slices/neighbours", params={"k": 10}, files={"file": ("cut.wav", f, "audio/wav")})
    assert r.status_code == 200, r.text
    body = r.json()
    first = body["neighbours"][0]
    assert len(body["neighbours"]) == TRACKS  # k above the tracks: all of them, no error
    assert first["id"] == "s2" and first["similarity"] > body["neighbours"][1]["similarity"]
    assert first["start_s"] == 4.0 and first["end_s"] >= 9.0
    assert all(nb["start_s"] is not None for nb in body["neighbours"])


def test_the_page_shows_where_the_upload_lies_and_plays_from_there(served, slice_dirs):
    """Headless Chromium: the upload's first neighbour shows its span; its play button starts there."""
    from tests.serve.test_browser import CHROMIUM, CHROMIUM_ARGS, _free_port, running

    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    playwright = pytest.importorskip("playwright.sync_api")
    from tunespace.serve.app import create_app
    from tunespace.serve.maps import MapStore, pca_layout

    maps = MapStore(cache_dirs={s.name: s.map_cache for s in served.indexes}, reducer=pca_layout)
    with running(create_app(served, maps=maps), _free_port()) as url:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.set_default_timeout(15000)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']")
            page.set_input_files("[data-testid=upload]", str(slice_dirs["excerpt"]))
            first = page.locator("[data-testid=neighbours-a] li").first
            playwright.expect(first).to_have_attribute("data-id", "s2")
            playwright.expect(first.locator(".span")).to_contain_text("4.0–")
            first.locator("button.play").click()
            page.wait_for_function("document.querySelector('#audio').currentTime >= 4.0", timeout=10000)
            playwright.expect(page.locator("[data-testid=now-playing]")).to_have_text("s2 from 4.0 s")
            browser.close()
            assert not errors, errors

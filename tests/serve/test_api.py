"""The HTTP API with FastAPI's test client: catalogue, neighbours, uploads, audio, map, errors."""

from __future__ import annotations

import asyncio
import io
import re
import time

import numpy as np
import pytest
import soundfile as sf

N_TRACKS = 13


def _field(resp) -> list[str]:  # noqa: ANN001
    assert resp.status_code == 422, resp.text
    return [tuple(d["loc"])[-1] for d in resp.json()["detail"]]


# ------------------------------------------------------------------ catalogue
def test_info_lists_indexes_properties_and_limits(client, max_upload):
    info = client.get("/api/info").json()
    assert [i["name"] for i in info["indexes"]] == ["a", "b"]
    a, b = info["indexes"]
    assert (a["can_embed"], b["can_embed"]) == (True, False)
    assert a["n"] == N_TRACKS and b["dim"] == 16 and a["method"] == "exact"
    kinds = {p["name"]: p["kind"] for p in info["properties"]}
    assert kinds == {"genre": "categorical", "tempo_bpm": "tempo", "key": "key", "mood": "categorical"}
    genre = next(p for p in info["properties"] if p["name"] == "genre")
    assert genre["values"] == ["blues", "jazz", "rock"]
    assert info["n_tracks"] == N_TRACKS and info["has_audio"] and info["max_upload_bytes"] == max_upload
    # the symlink that leaves the audio folder is reported, not served
    assert any("leak" in n for n in info["notes"])


def test_tracks_search_by_text_and_label_values_paged(client):
    everything = client.get("/api/tracks").json()
    assert everything["total"] == N_TRACKS and len(everything["tracks"]) == N_TRACKS
    blues = client.get("/api/tracks", params={"q": "BLUES"}).json()
    assert blues["total"] == 4 and all(t["labels"]["genre"] == "blues" for t in blues["tracks"])
    rock_tense = client.get("/api/tracks", params=[("where", "genre=rock"), ("where", "mood=tense")]).json()
    assert [t["id"] for t in rock_tense["tracks"]] == ["t07", "t10"]
    slow = client.get("/api/tracks", params={"where": "tempo_bpm=..100"}).json()
    assert {t["id"] for t in slow["tracks"]} == {"t01", "t03", "t05", "leak"}
    near = client.get("/api/tracks", params={"where": "tempo_bpm=104"}).json()  # within 4 %: 99.84..108.16
    assert {t["id"] for t in near["tracks"]} == {"t05", "t07", "t09", "leak"}
    page = client.get("/api/tracks", params={"offset": 10, "limit": 2}).json()
    assert page["total"] == N_TRACKS and [t["id"] for t in page["tracks"]] == ["t09", "t10"]  # "leak" sorts first
    t0 = client.get("/api/tracks", params={"q": "t00"}).json()["tracks"][0]
    assert t0["has_audio"] and t0["indexes"] == ["a", "b"]
    assert t0["labels"] == {"genre": "blues", "tempo_bpm": 140.0, "key": "C major", "mood": "calm"}


def test_track_detail_and_404(client):
    leak = client.get("/api/tracks/leak").json()
    assert leak["has_audio"] is False and leak["labels"]["genre"] == "rock"
    r = client.get("/api/tracks/nope")
    assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_bad_track_queries_name_the_field(client):
    assert _field(client.get("/api/tracks", params={"where": "genre"})) == ["where"]
    assert _field(client.get("/api/tracks", params={"where": "colour=red"})) == ["where"]
    assert _field(client.get("/api/tracks", params={"where": "tempo_bpm=fast"})) == ["where"]
    assert _field(client.get("/api/tracks", params={"limit": 0})) == ["limit"]
    assert _field(client.get("/api/tracks", params={"offset": -1})) == ["offset"]
    assert client.get("/api/tracks", params={"index": "zzz"}).status_code == 404


# ------------------------------------------------------------------ neighbours
def test_neighbours_match_the_index_with_labels_and_agreement(client, served):
    r = client.get("/api/indexes/a/neighbours", params={"id": "t04", "k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    idx = served.indexes[0].index
    want = idx.neighbours_of("t04", 5)
    got = body["neighbours"]
    assert [n["id"] for n in got] == [n.id for n in want]
    assert np.allclose([n["similarity"] for n in got], [n.similarity for n in want], atol=1e-5)
    assert [n["rank"] for n in got] == [1, 2, 3, 4, 5] and "t04" not in {n["id"] for n in got}
    assert body["query"]["id"] == "t04" and body["query"]["labels"]["genre"] == "rock"
    labels = {t["id"]: t["labels"] for t in client.get("/api/tracks").json()["tracks"]}
    q = labels["t04"]
    for n in got:
        assert n["labels"] == labels[n["id"]]
        expect = [p for p in ("genre", "key", "mood") if labels[n["id"]][p] == q[p]]
        if abs(labels[n["id"]]["tempo_bpm"] - q["tempo_bpm"]) <= 0.04 * q["tempo_bpm"]:
            expect.append("tempo_bpm")
        assert sorted(n["matches"]) == sorted(expect)
    agree = {a["property"]: a for a in body["agreement"]}
    for p in ("genre", "tempo_bpm", "key", "mood"):
        assert agree[p]["shared"] == sum(p in n["matches"] for n in got)
        assert agree[p]["known"] == 5 and agree[p]["query"] == q[p]


def test_neighbours_k_larger_than_the_index_gives_all_others(client):
    body = client.get("/api/indexes/b/neighbours", params={"id": "t00", "k": 50}).json()
    assert len(body["neighbours"]) == N_TRACKS - 1
    sims = [n["similarity"] for n in body["neighbours"]]
    assert sims == sorted(sims, reverse=True)


def test_neighbours_errors(client):
    r = client.get("/api/indexes/zzz/neighbours", params={"id": "t00"})
    assert r.status_code == 404 and "unknown index" in r.json()["detail"]
    r = client.get("/api/indexes/a/neighbours", params={"id": "nope"})
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    assert _field(client.get("/api/indexes/a/neighbours", params={"id": "t00", "k": 0})) == ["k"]
    assert _field(client.get("/api/indexes/a/neighbours", params={"id": "t00", "k": 10**6})) == ["k"]
    assert _field(client.get("/api/indexes/a/neighbours", params={"id": "t00", "k": "ten"})) == ["k"]
    assert _field(client.get("/api/indexes/a/neighbours")) == ["id"]


def test_concurrent_queries_are_batched_and_each_gets_its_own_answer(client, served):
    try:
        import httpx2 as httpx  # what Starlette's test client uses from Starlette 1.x on
    except ImportError:
        import httpx

    app = client.app
    batcher = app.state.batchers["a"]
    before_b, before_q = batcher.batches, batcher.queries
    ids = [f"t{i:02d}" for i in range(12)] * 2

    async def fire():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await asyncio.gather(*[c.get("/api/indexes/a/neighbours", params={"id": i, "k": 3}) for i in ids])

    responses = asyncio.run(fire())
    idx = served.indexes[0].index
    for i, r in zip(ids, responses):
        assert r.status_code == 200
        assert [n["id"] for n in r.json()["neighbours"]] == [n.id for n in idx.neighbours_of(i, 3)]
    assert batcher.queries - before_q == len(ids)
    assert batcher.batches - before_b < len(ids)  # some were searched together


# ------------------------------------------------------------------ uploads
def test_upload_finds_the_same_track_first(client, dataset):
    data = (dataset / "t05.wav").read_bytes()
    r = client.post("/api/indexes/a/neighbours", params={"k": 4}, files={"file": ("mine.wav", data, "audio/wav")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["neighbours"][0]["id"] == "t05" and body["neighbours"][0]["similarity"] > 0.999
    assert len(body["neighbours"]) == 4
    assert body["query"]["upload"] == "mine.wav" and body["query"]["id"] is None
    assert abs(body["query"]["duration_s"] - 3.2) < 0.01 and body["query"]["silent"] is False
    # for an upload, chips agree with the neighbourhood's most common value
    agree = {a["property"]: a for a in body["agreement"]}
    for n in body["neighbours"]:
        for p in n["matches"]:
            assert n["labels"][p] == agree[p]["most_common"] and agree[p]["most_common_count"] >= 2


def test_a_silent_upload_is_answered_and_flagged(client):
    buf = io.BytesIO()
    sf.write(buf, np.zeros(16000 * 4, np.float32), 16000, format="WAV")
    r = client.post("/api/indexes/a/neighbours", files={"file": ("hush.wav", buf.getvalue(), "audio/wav")})
    assert r.status_code == 200 and r.json()["query"]["silent"] is True and r.json()["neighbours"]


def test_upload_errors(client, max_upload):
    r = client.post(
        "/api/indexes/a/neighbours", files={"file": ("x.wav", b"RIFF....not audio at all" * 10, "audio/wav")}
    )
    assert r.status_code == 400 and "x.wav" in r.json()["detail"] and "truncated or corrupt" in r.json()["detail"]
    r = client.post("/api/indexes/a/neighbours", files={"file": ("empty.flac", b"", "audio/flac")})
    assert r.status_code == 400 and "empty" in r.json()["detail"]
    r = client.post("/api/indexes/a/neighbours", files={"file": ("big.wav", b"\0" * (max_upload + 1), "audio/wav")})
    assert r.status_code == 413  # refused on its Content-Length, before reading the body
    r = client.post("/api/indexes/b/neighbours", files={"file": ("x.wav", b"abc", "audio/wav")})
    assert r.status_code == 409 and "model" in r.json()["detail"]
    r = client.post("/api/indexes/zzz/neighbours", files={"file": ("x.wav", b"abc", "audio/wav")})
    assert r.status_code == 404
    assert _field(client.post("/api/indexes/a/neighbours", data={"other": "1"})) == ["file"]


def test_upload_over_the_limit_without_content_length_is_413(client, max_upload):
    def chunks():
        boundary = b"--xyz\r\n"
        yield boundary + b'Content-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        for _ in range(max_upload // 65536 + 2):
            yield b"\0" * 65536
        yield b"\r\n--xyz--\r\n"

    r = client.post(
        "/api/indexes/a/neighbours", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=xyz"}
    )
    assert "content-length" not in r.request.headers
    assert r.status_code == 413 and str(max_upload) in r.json()["detail"]


# ------------------------------------------------------------------ audio
def test_audio_by_id_with_ranges(client, dataset):
    data = (dataset / "t03.wav").read_bytes()
    r = client.get("/api/audio/t03")
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"].startswith("audio/") and r.headers["accept-ranges"] == "bytes"
    r = client.get("/api/audio/t03", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(data)}"
    r = client.get("/api/audio/t03", headers={"Range": f"bytes={len(data) - 10}-"})
    assert r.status_code == 206 and r.content == data[-10:]
    r = client.get("/api/audio/t03", headers={"Range": f"bytes={len(data) + 5}-"})
    assert r.status_code == 416


@pytest.mark.parametrize(
    "path",
    [
        "/api/audio/leak",  # a catalogue id whose file leaves the folder
        "/api/audio/nope",
        "/api/audio/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/audio/%2E%2E/%2E%2E/etc/passwd",
        "/api/audio/%252e%252e%252fetc%252fpasswd",
        "/api/audio/%2Fetc%2Fpasswd",
        "/api/audio//etc/passwd",
        "/api/audio/t03.wav",
        "/api/audio/labels.csv",
        "/api/audio/t03%00",
        "/api/audio/..\\..\\etc\\passwd",
        "/static/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/static/%2Fetc%2Fpasswd",
        "/static-offline-docs/..%2F..%2F..%2Fetc%2Fpasswd",
    ],
)
def test_audio_never_reads_outside_the_catalogue(client, path):
    r = client.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert b"root:" not in r.content and b"RIFF" not in r.content


def test_audio_by_absolute_path_of_a_real_file_is_404(client, dataset):
    r = client.get("/api/audio/" + str(dataset / "t03.wav"))
    assert r.status_code == 404


# ------------------------------------------------------------------ map
def _map(client, name):  # noqa: ANN001, ANN202
    for _ in range(200):
        r = client.get(f"/api/indexes/{name}/map")
        if r.status_code != 202:
            return r
        assert r.json()["status"] == "computing" and r.headers["retry-after"]
        time.sleep(0.05)
    raise AssertionError("map never ready")


def test_map_is_computed_once_cached_on_disk_with_labels(client, served, reducer):
    from tunespace.serve.maps import MapStore

    before = reducer.calls
    r = _map(client, "b")
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["status"] == "ready" and m["method"] == "pca" and m["n"] == m["n_index"] == N_TRACKS
    assert sorted(m["ids"]) == sorted(served.indexes[1].ids) and len(m["x"]) == len(m["y"]) == N_TRACKS
    assert m["labels"]["genre"][m["ids"].index("t01")] == "rock"
    assert _map(client, "b").json() == m
    assert reducer.calls == before + 1
    cached = list((served.indexes[1].map_cache).glob("map-*.json"))
    assert len(cached) == 1
    # a restarted server reads the map from disk instead of computing it
    fresh = MapStore(cache_dirs={"b": served.indexes[1].map_cache}, reducer=reducer)
    st = fresh.get("b", served.indexes[1].ids, served.indexes[1].vectors)
    assert st.status == "ready" and st.result["x"] == m["x"] and reducer.calls == before + 1
    assert client.get("/api/indexes/zzz/map").status_code == 404


# ------------------------------------------------------------------ page and docs
def test_page_and_its_assets_are_local(client):
    from tunespace.serve.app import STATIC

    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    for ref in refs:
        if ref.startswith("data:"):
            continue
        assert not re.match(r"^[a-z]+://|^//", ref), ref
        if ref.startswith("static/"):
            assert client.get("/" + ref).status_code == 200, ref
    for f in STATIC.iterdir():
        text = f.read_text()
        assert not re.search(r"https?://|//cdn|@import|url\(", text), f"{f.name} refers outside the app"


def test_openapi_documents_the_api_with_local_assets(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for p in (
        "/api/tracks",
        "/api/tracks/{track_id}",
        "/api/indexes/{index}/neighbours",
        "/api/audio/{track_id}",
        "/api/indexes/{index}/map",
        "/api/info",
    ):
        assert p in paths, p
    assert (
        "post" in paths["/api/indexes/{index}/neighbours"]
        and "413" in paths["/api/indexes/{index}/neighbours"]["post"]["responses"]
    )
    docs = client.get("/docs").text
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", docs) + re.findall(r"url: ['\"]([^'\"]+)['\"]", docs)
    assert assets and not [a for a in assets if re.match(r"^[a-z]+://|^//", a)], assets
    js = [a for a in assets if a.endswith(".js")]
    assert js and all(client.get(a).status_code == 200 for a in js)

"""The explorer page in headless Chromium (Playwright): search, neighbours, play, compare, upload, map.

Uses the system Chromium (Debian package ``chromium``; ``.ci/run`` installs it): Playwright's
own browser download is not reachable here. Without Chromium (or without the playwright
package) these tests are skipped, and pytest prints the reason in its summary (``-ra``).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("TUNESPACE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]

if not Path(CHROMIUM).is_file():
    pytest.skip(
        f"browser tests skipped: no Chromium at {CHROMIUM} (install the Debian package chromium; .ci/run does)",
        allow_module_level=True,
    )
try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover
    pytest.skip("browser tests skipped: the playwright package is not installed", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(app, port: int):  # noqa: ANN001
    """Serve ``app`` with uvicorn on 127.0.0.1:``port`` in a thread while the block runs."""
    import uvicorn

    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def server(index_dirs, dataset, tmp_path_factory, reducer):
    """``tunespace serve --index a=.. --index b=.. --labels ..`` (built by the CLI's code) in a thread."""
    from tunespace.cli import build_parser
    from tunespace.cli import serve as serve_cli

    port = _free_port()
    args = build_parser().parse_args(
        [
            "serve",
            "--index",
            f"a={index_dirs['a']}",
            "--index",
            f"b={index_dirs['b']}",
            "--labels",
            str(dataset / "labels.csv"),
            "--port",
            str(port),
            "--no-precompute-maps",
            "--max-upload-mb",
            "0.4",
            "--map-cache",
            str(tmp_path_factory.mktemp("browser-maps")),
        ]
    )
    app = serve_cli.build(args)
    app.state.maps.reducer = reducer  # UMAP itself: test_maps.py
    with running(app, port) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1280, "height": 1300})
        pg.set_default_timeout(15000)
        pg.requests, pg.errors = [], []
        pg.on("request", lambda r: pg.requests.append(r.url))
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
        pg.goto(server)
        pg.wait_for_selector("body[data-ready='1']")
        yield pg
        browser.close()


def _ids(page, testid: str) -> list[str]:  # noqa: ANN001
    return page.locator(f"[data-testid={testid}] li").evaluate_all("els => els.map(e => e.dataset.id)")


def test_search_a_track_see_k_neighbours_and_play_one(page, served):
    page.fill("[data-testid=search]", "t04")
    first = page.locator("[data-testid=results] li").first
    expect(first).to_have_attribute("data-id", "t04")
    expect(page.locator("[data-testid=result-count]")).to_have_text("1 track")
    page.select_option("[data-testid=k]", "5")
    first.click()
    expect(page.locator("[data-testid=query] .id")).to_have_text("t04")
    neighbours = page.locator("[data-testid=neighbours-a] li")
    expect(neighbours).to_have_count(5)
    want = [n.id for n in served.indexes[0].index.neighbours_of("t04", 5)]
    assert _ids(page, "neighbours-a") == want
    # label chips, the agreeing ones marked, and the summary of what the neighbourhood shares
    assert neighbours.first.locator(".chip").count() == 4
    expect(page.locator("[data-testid=agreement-a] .share[data-prop=genre]")).to_be_visible()
    # play the second neighbour: the audio element's time advances
    neighbours.nth(1).locator("button.play").click()
    page.wait_for_function("document.querySelector('#audio').currentTime > 0.3", timeout=10000)
    expect(page.locator("[data-testid=now-playing]")).to_have_text(want[1])
    assert page.evaluate("document.querySelector('#audio').src").endswith(f"/api/audio/{want[1]}")


def test_switch_the_second_index_and_compare(page, served):
    page.select_option("[data-testid=index-b]", "b")
    expect(page.locator("[data-testid=neighbours-b] li")).to_have_count(5)
    want = [n.id for n in served.indexes[1].index.neighbours_of("t04", 5)]
    assert _ids(page, "neighbours-b") == want
    page.select_option("[data-testid=index-b]", "")
    expect(page.locator("[data-testid=neighbours-b] li")).to_have_count(0)
    page.select_option("[data-testid=index-b]", "b")
    expect(page.locator("[data-testid=neighbours-b] li")).to_have_count(5)


def test_upload_a_file_and_see_its_neighbours(page, dataset):
    page.set_input_files("[data-testid=upload]", str(dataset / "t05.wav"))
    expect(page.locator("[data-testid=query] .id")).to_have_text("t05.wav")
    expect(page.locator("[data-testid=neighbours-a] li").first).to_have_attribute("data-id", "t05")
    # index b names no model: the column says so instead of failing silently
    expect(page.locator("[data-testid=agreement-b] .error")).to_contain_text("no model")
    expect(page.locator("[data-testid=agreement-a] .warning")).to_have_count(0)


def test_a_file_over_the_size_limit_is_refused_with_the_limit(page):
    page.set_input_files(
        "[data-testid=upload]", files=[{"name": "big.wav", "mimeType": "audio/wav", "buffer": b"\0" * 500_000}]
    )
    expect(page.locator("#error")).to_contain_text("big.wav is 0.5 MB; this server takes files up to 0.4 MB")
    expect(page.locator("[data-testid=query] .id")).to_have_text("t05.wav")  # the previous query stays


def test_map_coloured_by_a_property_hover_and_click(page):
    page.select_option("[data-testid=map-index]", "a")
    expect(page.locator("[data-testid=map-status]")).to_contain_text("of 13 tracks")
    page.select_option("[data-testid=map-colour]", "genre")
    legend = page.locator("[data-testid=legend] .legend-entry")
    expect(legend).to_have_count(3)
    assert sorted(legend.evaluate_all("els => els.map(e => e.dataset.value)")) == ["blues", "jazz", "rock"]
    page.select_option("[data-testid=map-colour]", "tempo_bpm")
    expect(page.locator("[data-testid=legend] .legend-title")).to_have_text("tempo_bpm")
    expect(page.locator("[data-testid=legend] .legend-range")).to_contain_text("BPM")
    # the canvas holds coloured points
    painted = page.evaluate("""() => { const c = document.querySelector('#map');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""")
    assert painted > 100
    # hover a point: its track; click it: it becomes the query
    i = page.evaluate("state.map.ids.indexOf('t08')")
    box = page.locator("[data-testid=map]").bounding_box()
    xy = page.evaluate(f"(() => {{ const g = mapGeometry(); return [g.px({i}), g.py({i})]; }})()")
    page.mouse.move(box["x"] + xy[0], box["y"] + xy[1])
    tip = page.locator("[data-testid=map-tip]")
    expect(tip).to_be_visible()
    hovered = tip.get_attribute("data-id")
    page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])
    expect(page.locator("[data-testid=query] .id")).to_have_text(hovered)
    expect(page.locator("[data-testid=neighbours-a] li")).to_have_count(5)


def test_a_silent_upload_is_flagged_beside_its_neighbours(page):
    import io

    import numpy as np
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros(16000 * 3, np.float32), 16000, format="WAV")
    page.set_input_files(
        "[data-testid=upload]", files=[{"name": "hush.wav", "mimeType": "audio/wav", "buffer": buf.getvalue()}]
    )
    expect(page.locator("[data-testid=query] .id")).to_have_text("hush.wav")
    expect(page.locator("[data-testid=agreement-a] .warning")).to_contain_text("silent")
    expect(page.locator("[data-testid=neighbours-a] li").first).to_be_visible()


def test_the_page_fetched_nothing_but_its_server_and_logged_no_error(page, server):
    assert page.requests and all(u.startswith(server) or u.startswith(("data:", "blob:")) for u in page.requests), [
        u for u in page.requests if not u.startswith(server)
    ]
    assert [e for e in page.errors if "409" not in e] == []

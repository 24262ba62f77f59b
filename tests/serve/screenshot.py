"""Make the screenshot of the explorer shown in README.md and docs/serve.md (not a test).

Serves a finished study with ``tunespace serve --study DIR`` and photographs the page in
headless Chromium: as the query, the track whose neighbours differ most between the two
first conditions (fewer at its tempo, more of its genre, under the second), its neighbours
in both, and the map of the second condition coloured by genre.

Run: .venv/bin/python tests/serve/screenshot.py --study out/demo --out docs/serve-explorer.png
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request


def get(base: str, path: str, **params: object) -> dict:
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    with urllib.request.urlopen(url, timeout=120) as r:
        return json.load(r)


def shares(agreement: list[dict], prop: str) -> int:
    return next((a["shared"] or 0) for a in agreement if a["property"] == prop)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--study", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument(
        "--chromium", default=os.environ.get("TUNESPACE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    )
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "tunespace", "serve", "--study", args.study, "--port", str(port)])
    try:
        for _ in range(600):
            try:
                info = get(base, "/api/info")
                break
            except OSError:
                time.sleep(0.2)
        a, b = info["indexes"][0]["name"], info["indexes"][1]["name"]
        best, best_score = None, None
        for t in get(base, "/api/tracks", limit=500)["tracks"]:
            na = get(base, f"/api/indexes/{a}/neighbours", id=t["id"], k=args.k)["agreement"]
            nb = get(base, f"/api/indexes/{b}/neighbours", id=t["id"], k=args.k)["agreement"]
            score = (shares(na, "tempo_bpm") - shares(nb, "tempo_bpm")) + (shares(nb, "genre") - shares(na, "genre"))
            if best_score is None or score > best_score:
                best, best_score = t["id"], score
        print(f"query {best}: tempo and genre agreement differ by {best_score} between {a} and {b}")
        for _ in range(600):  # the map of b (computed at start-up)
            r = urllib.request.urlopen(f"{base}/api/indexes/{b}/map", timeout=60)
            if r.status == 200:
                break
            time.sleep(1)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=args.chromium,
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            page = browser.new_page(viewport={"width": 1360, "height": 1480})
            page.goto(base + "/")
            page.wait_for_selector("body[data-ready='1']")
            page.select_option("[data-testid=index-a]", a)
            page.select_option("[data-testid=index-b]", b)
            page.fill("[data-testid=search]", best)
            page.locator(f"[data-testid=results] li[data-id='{best}']").click()
            page.wait_for_selector("[data-testid=neighbours-b] li")
            page.select_option("[data-testid=map-index]", b)
            page.select_option("[data-testid=map-colour]", "genre")
            page.wait_for_selector("[data-testid=legend] .legend-entry")
            page.locator("[data-testid=neighbours-b] li button.play").first.click()
            time.sleep(1.0)
            page.screenshot(path=args.out)
            browser.close()
        print(f"wrote {args.out}")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()

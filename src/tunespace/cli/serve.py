"""``tunespace serve``: search service and web explorer over indexes or a finished study.

See :mod:`tunespace.serve`.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import os
import socket
import sys
import threading
import time

from ..errors import UsageError

#: Host headers accepted by a server on a loopback address (a page elsewhere cannot rebind a name to it).
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

NAME = "serve"
HELP = "web explorer and search API: hear the neighbours each embedding gives (FastAPI + uvicorn)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_argument_group("what to serve (one of)")
    src.add_argument(
        "--index",
        action="append",
        default=[],
        metavar="[NAME=]INDEX",
        help="an INDEX folder (tunespace index build); repeat to compare several",
    )
    src.add_argument("--study", metavar="DIR", help="a finished study: one index per condition (seed-0 model)")
    parser.add_argument("--eval", metavar="NAME", help="with --study: which evaluation set (default: the first)")
    parser.add_argument("--baselines", action="store_true", help="with --study: also serve the baseline embeddings")
    parser.add_argument(
        "--audio",
        metavar="DATASET",
        help="with --index: dataset folder holding the audio (default: the dataset recorded in the first index)",
    )
    parser.add_argument(
        "--labels",
        metavar="CSV",
        help="with --index: labels (CSV with track_id, or a dataset folder; default: the audio dataset's)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--max-upload-mb", type=float, default=50.0, help="largest upload, MB (default 50; larger: 413)"
    )
    parser.add_argument("--map-points", type=int, default=20000, help="most points on a map (seeded sample beyond)")
    parser.add_argument(
        "--map-cache",
        metavar="DIR",
        help="folder for the cached maps (default: INDEX/maps/, or DIR/serve/maps/ for a study)",
    )
    parser.add_argument("--no-precompute-maps", action="store_true", help="compute each map on its first request only")
    parser.add_argument("--open", action="store_true", help="open the page in the default web browser once serving")
    parser.add_argument(
        "--search-threads",
        type=int,
        default=None,
        metavar="N",
        help="FAISS threads per search (default: the CPU count less one, at least 1: "
        "one core stays with the HTTP layer)",
    )


def build(args: argparse.Namespace):  # noqa: ANN201 (a FastAPI app)
    """The app the arguments describe (separate from :func:`run` for tests)."""
    from ..serve.app import create_app
    from ..serve.maps import MapStore
    from ..serve.sources import from_indexes, from_study

    if bool(args.index) == bool(args.study):
        raise UsageError("give --index INDEX (one or more) or --study DIR")
    if args.study and (args.audio or args.labels):
        raise UsageError("--audio and --labels go with --index; a study serves its evaluation set's audio and labels")
    if args.index and (args.eval or args.baselines):
        raise UsageError("--eval and --baselines go with --study")
    if args.max_upload_mb <= 0:
        raise UsageError(f"--max-upload-mb must be > 0, got {args.max_upload_mb}")
    if args.map_points < 2:
        raise UsageError(f"--map-points must be at least 2, got {args.map_points}")
    if args.study:
        served = from_study(args.study, args.eval, baselines=args.baselines, map_cache=args.map_cache)
    else:
        served = from_indexes(args.index, audio=args.audio, labels=args.labels, map_cache=args.map_cache)
    maps = MapStore(cache_dirs={s.name: s.map_cache for s in served.indexes}, max_points=args.map_points)
    hosts = LOOPBACK_HOSTS if _is_loopback(args.host) else None
    return create_app(
        served,
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        maps=maps,
        precompute_maps=not args.no_precompute_maps,
        allowed_hosts=hosts,
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be in 1-65535, got {args.port}")
    threads = args.search_threads if args.search_threads is not None else max(1, (os.cpu_count() or 2) - 1)
    if threads < 1:
        raise UsageError(f"--search-threads must be at least 1, got {threads}")
    _check_port(args.host, args.port)
    app = build(args)
    import faiss

    faiss.omp_set_num_threads(threads)
    # the catalogue, ids and labels live as long as the server: keep them out of the garbage
    # collector's full passes (they would otherwise be walked again and again, pausing requests)
    gc.collect()
    gc.freeze()
    served = app.state.served
    for note in served.notes:
        print(f"tunespace serve: {note}", file=sys.stderr)
    if not _is_loopback(args.host):
        print(
            f"tunespace serve: listening on {args.host}, not only on this machine: anyone who reaches it "
            "can search the catalogue and play its audio",
            file=sys.stderr,
        )
    host = f"[{args.host}]" if ":" in args.host else args.host
    names = ", ".join(s.name for s in served.indexes)
    print(f"tunespace serve: {len(served.catalogue)} tracks, indexes {names}", flush=True)
    url = f"http://{host}:{args.port}/"
    print(f"tunespace serve: open {url}  (API docs: {url}docs; Ctrl-C stops)", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning"))
    if args.open:
        threading.Thread(target=_open_when_started, args=(server, url), daemon=True).start()
    server.run()
    return 0


def _open_when_started(server, url: str) -> None:  # noqa: ANN001 (a uvicorn.Server)
    import webbrowser

    for _ in range(600):
        if server.started:
            webbrowser.open(url)
            return
        time.sleep(0.1)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_port(host: str, port: int) -> None:
    """Fail early, in one line, when the address cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise UsageError(
                f"cannot listen on {host}:{port} ({e.strerror}); choose another --port or --host"
            ) from None

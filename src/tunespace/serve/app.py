"""The explorer's web app: an HTTP API over the served indexes, and the page that uses it.

:func:`create_app` builds a FastAPI app (documented at ``/docs``; Swagger UI and ReDoc are
served from the package fastapi-offline, so nothing is fetched from the internet):

- ``GET /api/info``: indexes, properties (kind, values), limits.
- ``GET /api/tracks``: list and search tracks, paged (``q``, ``where=prop=value``, ``index``).
- ``GET /api/tracks/{id}``: one track.
- ``GET /api/indexes/{index}/neighbours?id=&k=``: a track's k nearest neighbours, with
  similarity, labels, which labels each shares with the query and a per-property summary.
- ``POST /api/indexes/{index}/neighbours``: the same for an uploaded audio file, embedded
  with the index's model (413 over the size limit, 400 with the reason when undecodable); for
  an index served from a slice index, each neighbour also says where in it the upload lies
  (``start_s``, ``end_s``).
- ``GET /api/audio/{id}``: a catalogue track's audio, by id only, with HTTP range requests
  (Starlette's ``FileResponse``).
- ``GET /api/indexes/{index}/map``: the 2-D UMAP map with the labels (202 while computing).
- ``GET /``: the page (``serve/static``: plain HTML, JS and CSS, no build step).

Served on a loopback address, it accepts only loopback ``Host`` headers (no DNS rebinding).
Errors: unknown track or index 404; bad parameters 422 naming the field (FastAPI's format);
expected failures are :class:`~tunespace.errors.TunespaceError` turned into those codes.
Written by hand here: the routes and their response shapes; parsing, validation, range
requests, upload limits and serving are FastAPI's and Starlette's.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import File, HTTPException, Query, Request, UploadFile
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .. import __version__
from ..audio import AUDIO_EXTENSIONS
from ..errors import AudioError, TunespaceError, UsageError
from .batching import SearchBatcher
from .catalogue import same_label
from .maps import MapStore
from .sources import Served, ServedIndex

log = logging.getLogger("tunespace.serve")

STATIC = Path(__file__).parent / "static"
#: Default upload limit, bytes (``--max-upload-mb``).
DEFAULT_MAX_UPLOAD = 50 * 1024 * 1024
DEFAULT_K = 10
MAX_K = 200
MAX_PAGE = 500

LabelValue = str | float | list[str] | None


class IndexInfo(BaseModel):
    name: str
    n: int = Field(description="number of tracks")
    dim: int = Field(description="embedding size D")
    method: str | None = Field(description="exact, ivf or hnsw")
    description: str
    can_embed: bool = Field(description="whether uploads can be embedded (the index names its model)")
    passages: bool = Field(
        default=False, description="served from a slice index: an upload's neighbours say where in them it lies"
    )


class PropertyInfo(BaseModel):
    name: str
    kind: str = Field(description="categorical, key, tempo, continuous or tags")
    values: list[str] | None = Field(description="sorted values (categorical, key, tags); null for numbers")


class Info(BaseModel):
    title: str
    version: str
    n_tracks: int
    has_audio: bool
    max_upload_bytes: int
    default_k: int
    max_k: int
    indexes: list[IndexInfo]
    properties: list[PropertyInfo]
    notes: list[str]


class Track(BaseModel):
    id: str
    labels: dict[str, LabelValue]
    has_audio: bool
    indexes: list[str] = Field(default_factory=list, description="the served indexes that hold it")


class TrackPage(BaseModel):
    total: int = Field(description="tracks matching the query")
    offset: int
    limit: int
    tracks: list[Track]


class Neighbour(BaseModel):
    rank: int = Field(description="1 = most similar")
    id: str
    similarity: float = Field(description="cosine similarity to the query")
    labels: dict[str, LabelValue]
    matches: list[str] = Field(
        description="properties whose value agrees with the query's (for an upload: "
        "with the neighbourhood's most common value)"
    )
    has_audio: bool
    start_s: float | None = Field(
        default=None, description="where the upload lies in this track, seconds (slice indexes only)"
    )
    end_s: float | None = Field(default=None, description="where that span ends, seconds (slice indexes only)")


class Agreement(BaseModel):
    property: str
    kind: str
    query: LabelValue = Field(description="the query's value (null for an upload or when unknown)")
    known: int = Field(description="neighbours whose value is known")
    shared: int | None = Field(description="neighbours agreeing with the query (tempo: within 4 %)")
    most_common: str | None
    most_common_count: int


class Query_(BaseModel):
    id: str | None = Field(description="the query track (null for an upload)")
    labels: dict[str, LabelValue]
    has_audio: bool
    upload: str | None = Field(default=None, description="uploaded file name")
    duration_s: float | None = Field(default=None, description="uploaded audio duration, seconds")
    embed_ms: float | None = Field(default=None, description="decoding + embedding time, milliseconds")
    silent: bool | None = Field(
        default=None, description="the upload has no slice above the model's silence level: its neighbours mean nothing"
    )


class Neighbours(BaseModel):
    index: str
    k: int
    query: Query_
    neighbours: list[Neighbour]
    agreement: list[Agreement]


class MapOut(BaseModel):
    index: str
    status: str = Field(description="ready or computing")
    method: str | None = None
    n: int = 0
    n_index: int = 0
    ids: list[str] = Field(default_factory=list)
    x: list[float] = Field(default_factory=list)
    y: list[float] = Field(default_factory=list)
    labels: dict[str, list[LabelValue]] = Field(default_factory=dict, description="property -> value per point")


def _bad(field: str, msg: str, where: str = "query") -> RequestValidationError:
    """A 422 naming ``field``, in FastAPI's format."""
    return RequestValidationError([{"type": "value_error", "loc": (where, field), "msg": msg, "input": None}])


class _Models:
    """Models loaded once per (path, slicing), on first use; one embedding at a time per model."""

    def __init__(self, loader: Callable[..., Any]) -> None:
        self.loader = loader
        self._models: dict[tuple, Any] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, key: tuple) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: tuple) -> Any:
        with self.lock(key):
            if key not in self._models:
                path, options = key
                self._models[key] = self.loader(path, **dict(options))
            return self._models[key]


def create_app(
    served: Served,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD,
    maps: MapStore | None = None,
    precompute_maps: bool = False,
    model_loader: Callable[..., Any] | None = None,
    allowed_hosts: list[str] | None = None,
) -> FastAPIOffline:
    """The explorer app for ``served`` (see the module docstring).

    Args:
        served: indexes and catalogue (:func:`tunespace.serve.sources.from_indexes` /
            :func:`~tunespace.serve.sources.from_study`).
        max_upload_bytes: largest accepted upload request, bytes (413 above).
        maps: the map store (default: UMAP, cached in each index's ``map_cache``).
        precompute_maps: start computing every map when the app starts.
        model_loader: ``(path, **slicing) -> model`` for uploads (default :func:`tunespace.load_model`).
        allowed_hosts: accepted ``Host`` headers (Starlette's ``TrustedHostMiddleware``; others
            get 400), e.g. the loopback names, so that a web page elsewhere cannot reach a
            loopback server through DNS rebinding. None: any.
    """
    if model_loader is None:
        from .. import load_model as model_loader
    cat = served.catalogue
    by_name: dict[str, ServedIndex] = {s.name: s for s in served.indexes}
    membership: dict[str, list[str]] = {}
    for s in served.indexes:
        for i in s.ids:
            membership.setdefault(i, []).append(s.name)
    batchers = {s.name: SearchBatcher(s.index) for s in served.indexes}
    maps = maps if maps is not None else MapStore(cache_dirs={s.name: s.map_cache for s in served.indexes})
    for s in served.indexes:
        maps.cache_dirs.setdefault(s.name, s.map_cache)
    models = _Models(model_loader)

    @asynccontextmanager
    async def lifespan(app):  # noqa: ANN001, ANN202
        if precompute_maps:
            for s in served.indexes:
                await run_in_threadpool(maps.precompute, s.name, s.ids, s.vectors)
        yield
        maps.close()

    app = FastAPIOffline(
        title=served.title,
        version=__version__,
        lifespan=lifespan,
        description="Nearest-neighbour search over tunespace embeddings: query by track or by an audio "
        "file, compare the neighbourhoods of several embeddings, play the tracks. "
        "Written for `tunespace serve`; see docs/serve.md.",
    )
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.state.served = served
    app.state.maps = maps
    app.state.batchers = batchers

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):  # noqa: ANN202
        if exc.status_code == 413:
            return JSONResponse(
                {
                    "detail": f"upload too large: the limit is {max_upload_bytes} bytes "
                    f"({max_upload_bytes / 2**20:g} MB; tunespace serve --max-upload-mb)"
                },
                status_code=413,
            )
        return await http_exception_handler(request, exc)

    def index_or_404(name: str) -> ServedIndex:
        s = by_name.get(name)
        if s is None:
            raise HTTPException(404, f"unknown index {name!r}; indexes: {', '.join(by_name)}")
        return s

    def track(tid: str) -> Track:
        return Track(id=tid, labels=cat.labels_of(tid), has_audio=cat.has_audio(tid), indexes=membership.get(tid, []))

    def neighbours_out(s: ServedIndex, k: int, query: Query_, found: list[Any]) -> Neighbours:
        ids = [nb.id for nb in found]
        agreement = cat.agreement(query.labels, ids)
        common = {a["property"]: a["most_common"] for a in agreement if a["most_common_count"] >= 2}
        out = []
        for rank, nb in enumerate(found, start=1):
            lab = cat.labels_of(nb.id)
            if query.id is not None:  # agrees with the query
                matches = [p for p, kind in cat.kinds.items() if same_label(kind, query.labels.get(p), lab.get(p))]
            else:  # an upload: holds the neighbourhood's most common value (or tag)
                matches = [
                    p
                    for p, v in common.items()
                    if same_label(cat.kinds[p], [v] if cat.kinds[p] == "tags" else v, lab.get(p))
                ]
            out.append(
                Neighbour(
                    rank=rank,
                    id=nb.id,
                    similarity=float(nb.similarity),
                    labels=lab,
                    matches=matches,
                    has_audio=cat.has_audio(nb.id),
                    start_s=getattr(nb, "start_s", None),
                    end_s=getattr(nb, "end_s", None),
                )
            )
        return Neighbours(index=s.name, k=k, query=query, neighbours=out, agreement=[Agreement(**a) for a in agreement])

    # ------------------------------------------------------------------ routes
    the_info = Info(
        title=served.title,
        version=__version__,
        n_tracks=len(cat),
        has_audio=cat.audio_root is not None,
        max_upload_bytes=max_upload_bytes,
        default_k=DEFAULT_K,
        max_k=MAX_K,
        indexes=[IndexInfo(**s.info()) for s in served.indexes],
        properties=[PropertyInfo(name=p, kind=k, values=cat.vocabulary(p)) for p, k in cat.kinds.items()],
        notes=served.notes,
    )

    @app.get("/api/info", response_model=Info, tags=["catalogue"])
    def info() -> Info:
        """What is served: indexes, label properties and their values, limits."""
        return the_info

    @app.get("/api/tracks", response_model=TrackPage, tags=["catalogue"])
    def tracks(
        q: Annotated[str, Query(max_length=200, description="substring of the id or of any label value")] = "",
        where: Annotated[
            list[str], Query(description="filters PROPERTY=VALUE (all must hold); numbers: VALUE or LO..HI")
        ] = [],  # noqa: B006 (FastAPI copies it)
        index: Annotated[str | None, Query(description="only tracks of this index")] = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    ) -> TrackPage:
        """List and search the catalogue, paged."""
        pairs = []
        for w in where:
            prop, sep, value = w.partition("=")
            if not sep or not prop.strip():
                raise _bad("where", f"{w!r}: expected PROPERTY=VALUE")
            pairs.append((prop.strip(), value))
        within = index_or_404(index).ids if index is not None else None
        try:
            found = cat.search(q, pairs, within)
        except UsageError as e:
            raise _bad("where", str(e)) from None
        return TrackPage(
            total=len(found), offset=offset, limit=limit, tracks=[track(t) for t in found[offset : offset + limit]]
        )

    @app.get("/api/tracks/{track_id:path}", response_model=Track, tags=["catalogue"])
    def one_track(track_id: str) -> Track:
        """One track: labels, audio, the indexes that hold it."""
        if track_id not in cat:
            raise HTTPException(404, f"unknown track id {track_id!r}")
        return track(track_id)

    @app.get(
        "/api/audio/{track_id:path}",
        tags=["audio"],
        responses={
            200: {"content": {"audio/*": {}}, "description": "the audio file (Range supported: 206)"},
            404: {"description": "unknown id or no audio"},
        },
    )
    def audio(track_id: str) -> FileResponse:
        """The audio file of a catalogue track, by id only; supports HTTP range requests (seeking)."""
        path = cat.audio_path(track_id)
        if path is None:
            raise HTTPException(404, f"no audio for track id {track_id!r}")
        return FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/api/indexes/{index}/neighbours", response_model=Neighbours, tags=["neighbours"])
    async def neighbours(
        index: str,
        id: Annotated[str, Query(min_length=1, description="the query track's id")],  # noqa: A002
        k: Annotated[int, Query(ge=1, le=MAX_K, description="how many neighbours")] = DEFAULT_K,
    ) -> Neighbours:
        """The k nearest neighbours of a track in an index (the track itself excluded)."""
        s = index_or_404(index)
        if id not in s:
            raise HTTPException(404, f"unknown track id {id!r} in index {index!r}")
        found = await batchers[s.name].search(None, k, exclude=id)
        q = Query_(id=id, labels=cat.labels_of(id), has_audio=cat.has_audio(id))
        return neighbours_out(s, k, q, found)

    @app.post(
        "/api/indexes/{index}/neighbours",
        response_model=Neighbours,
        tags=["neighbours"],
        max_body_size=max_upload_bytes,
        responses={
            400: {"description": "undecodable audio (the reason)"},
            409: {"description": "the index has no model"},
            413: {"description": "upload over the size limit"},
        },
    )
    async def neighbours_of_upload(
        index: str,
        file: Annotated[UploadFile, File(description="an audio file (WAV, FLAC, OGG, MP3...)")],
        k: Annotated[int, Query(ge=1, le=MAX_K)] = DEFAULT_K,
    ) -> Neighbours:
        """The k nearest neighbours of an uploaded audio file, embedded with the index's model."""
        s = index_or_404(index)
        if s.model_path is None:
            raise HTTPException(409, f"index {index!r} names no model, so uploads cannot be embedded for it")
        name = Path(file.filename or "upload").name
        vec, tl, duration, ms = await run_in_threadpool(_embed_upload, s, file, name)
        if s.passages is not None:  # which tracks, and where in them (s.index: one row per track)
            from ..passages import search_excerpt

            found = await run_in_threadpool(search_excerpt, s.passages, tl.embeddings, tl.loud, min(k, len(s.index)))
        else:
            found = await batchers[s.name].search(vec, k)
        q = Query_(id=None, labels={}, has_audio=False, upload=name, duration_s=duration, embed_ms=ms, silent=tl.silent)
        return neighbours_out(s, k, q, found)

    def _embed_upload(s: ServedIndex, file: UploadFile, name: str) -> tuple[np.ndarray, Any, float, float]:
        from ..audio import load
        from ..embed.model import track_embedding

        t0 = time.perf_counter()
        key = (s.model_path, tuple(sorted(s.model_options().items())))
        try:
            model = models.get(key)
        except TunespaceError as e:
            raise HTTPException(503, f"cannot load the model of index {s.name!r}: {e}") from None
        suffix = Path(name).suffix.lower()
        suffix = suffix if suffix in AUDIO_EXTENSIONS else ""
        with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
            file.file.seek(0)
            while chunk := file.file.read(1 << 20):
                tmp.write(chunk)
            tmp.flush()
            try:
                wave = load(tmp.name, sr=int(model.sample_rate))
            except AudioError as e:
                raise HTTPException(400, f"{name}: cannot decode the audio: {e.reason}") from None
        with models.lock(key):
            tl = model.timeline(wave, int(model.sample_rate))
        vec = np.asarray(track_embedding(tl.embeddings, tl.loud), dtype=np.float32).reshape(-1)
        if vec.shape[0] != int(s.index.dim):
            raise HTTPException(
                409, f"the model of index {s.name!r} gives {vec.shape[0]}-d embeddings, the index holds {s.index.dim}-d"
            )
        return vec, tl, len(wave) / float(model.sample_rate), (time.perf_counter() - t0) * 1e3

    @app.get(
        "/api/indexes/{index}/map",
        response_model=MapOut,
        tags=["map"],
        responses={202: {"description": "being computed: ask again (Retry-After)"}},
    )
    def index_map(index: str) -> Any:
        """The 2-D UMAP map of an index with every point's labels; computed once, cached on disk."""
        s = index_or_404(index)
        st = maps.get(s.name, s.ids, s.vectors)
        if st.status == "computing":
            return JSONResponse(
                MapOut(index=s.name, status="computing").model_dump(), status_code=202, headers={"Retry-After": "2"}
            )
        if st.status == "failed":
            raise HTTPException(500, f"the map of {s.name!r} could not be computed: {st.error}")
        r = st.result
        labels = {p: [cat.labels_of(i).get(p) for i in r["ids"]] for p in cat.kinds}
        return MapOut(
            index=s.name,
            status="ready",
            method=r["method"],
            n=r["n"],
            n_index=r["n_index"],
            ids=r["ids"],
            x=r["x"],
            y=r["y"],
            labels=labels,
        )

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app

"""Neighbour queries over a catalogue: a FAISS index saved with its ids and provenance.

"Which tracks are nearest to this track, or to this audio?" An :class:`Index` holds the
L2-normalised embeddings of a catalogue in a FAISS index (inner product = cosine similarity)
and answers by id (:meth:`Index.neighbours_of`) or by vector (:meth:`Index.search`).

The INDEX folder (format version :data:`FORMAT_VERSION`)::

    INDEX/index.faiss   the FAISS index (IndexFlatIP, IndexIVFFlat, IndexHNSWFlat or IndexIVFPQ,
                        inner product)
    INDEX/ids.txt       N ids, one per line, in the index's row order
    INDEX/index.json    written last: format_version, method, dim, n, metric, settings (ivf:
                        nlist, nprobe, seed, train_size; ivfpq also pq_bytes, pq_nbits,
                        code_bytes, rerank; hnsw: hnsw_m, ef_search),
                        model (the run folder / checkpoint that made the embeddings, or None),
                        embeddings (source EMB folder), dataset (the audio's dataset root),
                        ids_sha256 (checked on load), tunespace_version

Methods: ``exact`` (``IndexFlatIP``: exact, the default up to millions of items), ``ivf``
(``IndexIVFFlat``, ``nlist`` cells, ``nprobe`` probed), ``hnsw`` (``IndexHNSWFlat``, degree
``hnsw_m``, beam ``ef_search``) and ``ivfpq`` (``IndexIVFPQ``: ``pq_bytes`` sub-quantisers of
``pq_nbits`` bits, i.e. ``pq_bytes`` bytes per vector at the default 8 bits instead of 4·D, for
catalogues larger than memory; stored vectors are then approximations). All are built by
:func:`tunespace.neighbours.build_faiss_index`: trained on a seeded sample of ``train_size``
rows, then added ``chunk_size`` rows at a time from the EMB folder's memory map, so an EMB
folder larger than RAM can be indexed.

Re-ranking (``rerank`` = R > 1, for ``ivfpq``): each search takes R·k candidates from the
compressed index and orders them by their exact cosine similarity, read from the source EMB
folder's memory map (only the candidates' rows are read). The index then needs that folder:
:meth:`Index.load` opens the one recorded in ``index.json`` (or ``embeddings=``), checks its ids,
and searches without re-ranking, with a warning, when it is gone.

Single queries (fewer than :data:`SMALL_BATCH` vectors) run FAISS on one thread: a one-vector
scan is memory-bound, and OpenMP's thread start-up and spinning made it 7x slower on a busy
2-core machine (bench/bench_neighbours.py); a service gets its parallelism from concurrent
requests instead.

Exclusions (the query itself, its group, any ids) are applied by over-fetching and doubling
the candidate count until ``k`` remain; asking for more neighbours than there are eligible
items gives them all, with a warning, not an error. Written here by hand: the file layout,
the exclusion loop and the provenance record; search is FAISS's.
"""

from __future__ import annotations

import contextlib
import hashlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import UnknownIdError, UsageError
from .files import atomic_path, read_json, write_json, write_text
from .neighbours import INDEX_KINDS, IndexSettings

FORMAT_VERSION = 1
INDEX_FILE = "index.faiss"
IDS_FILE = "ids.txt"
META_FILE = "index.json"
METHODS = INDEX_KINDS
#: Query batches smaller than this are searched on one thread.
SMALL_BATCH = 20
#: Rows per step of the exact fallback scan (when an approximate index returns too few).
SCAN_ROWS = 65536

#: A group of ids to leave out together with the query: a mapping id -> group, a function, or
#: the index's own group codes (:meth:`Index.group_codes`: one int per row, -1 for none), which
#: a loop over many queries computes once (a mapping or function is read for every id per query).
Groups = Mapping[str, Any] | Callable[[str], Any] | np.ndarray
#: ``index.json``'s ``unit`` of a slice index (:mod:`tunespace.passages`); track indexes have none.
SLICE_UNIT = "slice"


@dataclass(frozen=True)
class Neighbour:
    """One search result.

    Attributes:
        rank: 1 for the most similar.
        id: the catalogue item's id.
        similarity: cosine similarity to the query, in [-1, 1].
    """

    rank: int
    id: str
    similarity: float


class Index:
    """A searchable catalogue of embeddings (see the module docstring for the folder format).

    Build with :meth:`build` (from an :class:`~tunespace.embed.format.EmbeddingSet`) or
    :func:`build_index` (from an EMB folder), open with :meth:`load`.

    Attributes:
        ids: the N item ids, in row order.
        meta: the provenance record (``index.json``).
    """

    def __init__(self, faiss_index: Any, ids: list[str], meta: dict[str, Any], exact: np.ndarray | None = None) -> None:
        if faiss_index.ntotal != len(ids):
            raise UsageError(f"index holds {faiss_index.ntotal} vectors for {len(ids)} ids")
        if exact is not None and exact.shape != (len(ids), faiss_index.d):
            raise UsageError(
                f"exact vectors of shape {exact.shape} do not match the index ({len(ids)} x {faiss_index.d})"
            )
        self._index = faiss_index
        self._exact = exact
        _random_access(exact)
        self.ids = list(ids)
        self.meta = dict(meta)
        self.rerank = int(self.meta.get("settings", {}).get("rerank", 0) or 0) if exact is not None else 0
        self._row = {i: n for n, i in enumerate(self.ids)}
        if len(self._row) != len(self.ids):
            raise UsageError("index ids are not unique")

    # ------------------------------------------------------------------ properties
    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._row

    def __repr__(self) -> str:
        return f"Index(n={len(self)}, dim={self.dim}, method={self.method!r})"

    @property
    def dim(self) -> int:
        """Embedding size D."""
        return int(self._index.d)

    @property
    def method(self) -> str:
        """``"exact"``, ``"ivf"``, ``"hnsw"`` or ``"ivfpq"``."""
        return str(self.meta.get("method", "exact"))

    @property
    def nprobe(self) -> int | None:
        """IVF cells probed per query (None for exact and HNSW)."""
        ivf = self._ivf()
        return None if ivf is None else int(ivf.nprobe)

    def configure(self, *, nprobe: int | None = None, rerank: int | None = None) -> None:
        """Change search settings of this open index (not saved): IVF ``nprobe``; ``rerank``
        factor (0 or 1: off; needs the exact vectors, see the module docstring)."""
        if nprobe is not None:
            ivf = self._ivf()
            if ivf is None:
                raise UsageError(f"nprobe applies to ivf and ivfpq indexes, not {self.method!r}")
            if nprobe < 1:
                raise UsageError(f"nprobe must be >= 1, got {nprobe}")
            ivf.nprobe = int(min(nprobe, ivf.nlist))
        if rerank is not None:
            if rerank < 0:
                raise UsageError(f"rerank must be >= 0, got {rerank}")
            if rerank > 1 and self._exact is None:
                raise UsageError("rerank needs the exact vectors: open the index with its EMB folder available")
            self.rerank = int(rerank)

    def _ivf(self) -> Any:
        import faiss

        try:
            return faiss.extract_index_ivf(self._index)
        except RuntimeError:
            return None

    @property
    def model_path(self) -> str | None:
        """What :func:`tunespace.load_model` needs to embed audio for this index, or None."""
        return self.meta.get("model")

    def row_of(self, item_id: str) -> int:
        """Row of ``item_id``; raises :class:`~tunespace.errors.UnknownIdError`."""
        try:
            return self._row[item_id]
        except KeyError:
            raise UnknownIdError(item_id) from None

    def vector(self, item_id: str) -> np.ndarray:
        """The L2-normalised float32 vector ``(D,)`` of ``item_id``: the exact one when the index
        has its source vectors (re-ranking), else the stored one (approximate for ``ivfpq``)."""
        row = self.row_of(item_id)
        if self._exact is not None:
            from .neighbours import normalise

            return normalise(np.asarray(self._exact[row : row + 1]))[0]
        return np.asarray(self._index.reconstruct(row), dtype=np.float32)

    def vectors(self) -> np.ndarray:
        """All stored vectors, float32 ``(N, D)``, L2-normalised, in row order."""
        if len(self) == 0:
            return np.zeros((0, self.dim), np.float32)
        return np.asarray(self._index.reconstruct_n(0, len(self)), dtype=np.float32)

    # ------------------------------------------------------------------ build, save, load
    @classmethod
    def build(
        cls,
        emb: Any,
        method: str | IndexSettings = "exact",
        *,
        timings: dict[str, Any] | None = None,
        on_chunk: Callable[[int, int], Any] | None = None,
        provenance: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Index:
        """Index the vectors of an :class:`~tunespace.embed.format.EmbeddingSet`.

        Args:
            emb: the embeddings (ids and ``(N, D)`` vectors, e.g. a memory map; rows are
                L2-normalised here, one chunk at a time).
            method: an :class:`~tunespace.neighbours.IndexSettings`, or its method (``"exact"``,
                ``"ivf"``, ``"hnsw"`` or ``"ivfpq"``) with the other settings as keywords
                ``options``: ``nlist``, ``nprobe``, ``hnsw_m``, ``ef_search``, ``pq_bytes``,
                ``pq_nbits``, ``train_size``, ``rerank`` (ivfpq: re-rank R·k candidates by exact
                similarity from ``emb.vectors``; 0: off), ``seed``, ``chunk_size`` (rows added per
                FAISS call; None: :data:`tunespace.neighbours.CHUNK_ROWS`); meanings, units and
                defaults in :class:`~tunespace.neighbours.IndexSettings`.
            timings: if a dict, filled with ``train_s`` and ``add_s`` (seconds) and more.
            on_chunk: called as ``on_chunk(rows_added, N)`` after each chunk (progress).
            provenance: extra fields for ``index.json`` (e.g. ``embeddings``: source folder).
        Raises:
            UsageError: unknown method, no vectors, non-finite values, bad IVF/PQ parameters.
        """
        from .neighbours import build_faiss_index

        if options.get("chunk_size", 0) is None:  # None has always meant the default
            del options["chunk_size"]
        s = IndexSettings.of(method, **options)
        if s.rerank > 1 and (provenance or {}).get("unit") == SLICE_UNIT:
            raise UsageError("--rerank re-ranks from the track matrix: it cannot be used with --slices")
        if len(emb.ids) == 0:
            raise UsageError(f"{emb.name}: no embeddings to index")
        n, d = emb.vectors.shape
        timed: dict[str, Any] = {}
        index = build_faiss_index(emb.vectors, s, timings=timed, on_chunk=on_chunk)
        if timings is not None:
            timings.update(timed)
        settings: dict[str, Any] = {}
        if s.method in ("ivf", "ivfpq"):
            settings = {"nlist": int(index.nlist), "nprobe": int(index.nprobe), "seed": s.seed}
            settings["train_size"] = int(timed["train_size"])
            if s.method == "ivfpq":
                settings.update(
                    pq_bytes=int(s.pq_bytes),
                    pq_nbits=int(s.pq_nbits),
                    code_bytes=int(index.code_size),
                    rerank=int(s.rerank),
                )
            index.make_direct_map()
        elif s.method == "hnsw":
            settings = {"hnsw_m": s.hnsw_m, "ef_search": s.ef_search}
        meta = {
            "format_version": FORMAT_VERSION,
            "method": s.method,
            "metric": "cosine",
            "dim": int(d),
            "n": int(n),
            "settings": settings,
            "model": model_spec(emb.meta),
            "embeddings": None,
            "dataset": emb.meta.get("dataset") or None,
            "embedding_meta": _slim(emb.meta),
            "tunespace_version": __version__,
            "ids_sha256": _ids_digest(emb.ids),
        }
        meta.update(dict(provenance or {}))
        return cls(index, list(emb.ids), meta, exact=emb.vectors if s.rerank > 1 else None)

    @classmethod
    def from_vectors(
        cls,
        ids: Sequence[str],
        vectors: np.ndarray,
        method: str | IndexSettings = "exact",
        *,
        model: Any = None,
        **options: Any,
    ) -> Index:
        """Index vectors held in memory (e.g. :meth:`tunespace.Model.embed` rows) under their ids.

        Args:
            ids: N unique item ids.
            vectors: ``(N, D)`` float embeddings (L2-normalised here, cosine similarity).
            method, options: as :meth:`build`.
            model: the :class:`tunespace.Model` that made the vectors, if any: recorded so that
                the saved index answers audio queries (``tunespace neighbours --audio``, the
                explorer's uploads) with the same model and slicing.
        Raises:
            UsageError: shapes that disagree, repeated ids, no vectors, non-finite values.
        """
        from .embed.format import EmbeddingSet

        meta = model.embedding_meta() if model is not None else {}
        emb = EmbeddingSet(
            ids=[str(i) for i in ids], vectors=np.asarray(vectors, np.float32), meta=meta, name="vectors"
        )
        return cls.build(emb, method, **options)

    def save(self, out: str | Path) -> Path:
        """Write the INDEX folder ``out`` (each file atomically, ``index.json`` last).

        Every file is first written in full under a temporary name beside its own; only then
        are they renamed into place, ``index.json`` last. A write that fails (disk full) leaves
        an index already in ``out`` as it was, readable; the old ``index.json`` is removed just
        before the renames, so that a reader never pairs it with the new files (a folder
        without ``index.json`` is never read). The folder itself stays (and so does the
        :class:`~tunespace.lock.FolderLock` of anyone holding it).
        """
        import faiss

        out = Path(out)
        if out.exists() and not out.is_dir():
            raise UsageError(f"{out}: exists and is not a folder")
        out.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as staged:  # leaving it renames in reverse: index.json last
            meta_tmp = staged.enter_context(atomic_path(out / META_FILE))
            ids_tmp = staged.enter_context(atomic_path(out / IDS_FILE))
            index_tmp = staged.enter_context(atomic_path(out / INDEX_FILE))
            faiss.write_index(self._index, str(index_tmp))
            write_text(ids_tmp, "".join(f"{i}\n" for i in self.ids))
            write_json(meta_tmp, self.meta)
            (out / META_FILE).unlink(missing_ok=True)
        return out

    @classmethod
    def load(cls, path: str | Path, embeddings: str | Path | None = None, rerank: int | None = None) -> Index:
        """Open an INDEX folder written by :meth:`save` / ``tunespace index build``.

        Args:
            path: the INDEX folder.
            embeddings: the source EMB folder, for re-ranking (default: the one recorded in
                ``index.json``); only opened when re-ranking.
            rerank: re-ranking factor for this session (default: the one it was built with).
        Raises:
            UsageError: not an index folder, a newer format, or files that do not belong together.
        """
        import faiss

        path = Path(path)
        if not (path / META_FILE).is_file():
            raise UsageError(
                f"{path}: not an index folder (missing {META_FILE}); build one with `tunespace index build`"
            )
        meta = read_json(path / META_FILE)
        version = meta.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise UsageError(f"{path}: index format version {version!r}; this tunespace reads up to {FORMAT_VERSION}")
        for name in (INDEX_FILE, IDS_FILE):
            if not (path / name).is_file():
                raise UsageError(f"{path}: incomplete index folder (missing {name})")
        ids = (path / IDS_FILE).read_text(encoding="utf-8").splitlines()
        if _ids_digest(ids) != meta.get("ids_sha256"):
            raise UsageError(f"{path}: {IDS_FILE} does not match {META_FILE} (written by another build?)")
        try:
            index = faiss.read_index(str(path / INDEX_FILE))
        except RuntimeError:
            raise UsageError(f"{path}: {INDEX_FILE} is not a readable FAISS index") from None
        if index.ntotal != len(ids) or index.d != meta.get("dim"):
            raise UsageError(
                f"{path}: {INDEX_FILE} holds {index.ntotal} x {index.d}, "
                f"{META_FILE} says {meta.get('n')} x {meta.get('dim')}"
            )
        if meta.get("method") in ("ivf", "ivfpq"):
            faiss.extract_index_ivf(index).make_direct_map()
        exact = None
        factor = (meta.get("settings") or {}).get("rerank", 0) if rerank is None else rerank
        if factor > 1 and meta.get("unit") == SLICE_UNIT:
            raise UsageError(f"{path}: a slice index cannot re-rank (re-ranking reads the track matrix)")
        if factor > 1:
            exact = _exact_source(path, embeddings or meta.get("embeddings"), meta)
        out = cls(index, ids, meta, exact=exact)
        if exact is not None:
            out.rerank = int(factor)
        return out

    # ------------------------------------------------------------------ queries
    def search_arrays(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw FAISS search: ``(similarities float32 (Q, k'), rows int64 (Q, k'))``, k' = min(k, N).

        No exclusions; rows are -1 where an approximate index found fewer than k'.
        """
        q = self._queries(vectors)
        kk = min(int(k), len(self))
        sims, rows = self._faiss_search(q, kk)
        return sims, rows.astype(np.int64, copy=False)

    def search(self, vectors: np.ndarray, k: int = 10, exclude_ids: Sequence[str] = ()) -> list[list[Neighbour]]:
        """The ``k`` nearest items of each query vector.

        Args:
            vectors: ``(D,)`` or ``(Q, D)`` query embeddings (any scale: normalised here).
            k: neighbours per query (>= 1); more than the eligible items gives them all, with
                a warning.
            exclude_ids: ids never returned (for every query).
        Returns:
            one list of :class:`Neighbour` per query, most similar first.
        """
        q = self._queries(vectors)
        excluded = np.zeros(len(self), dtype=bool)
        for i in exclude_ids:
            if i in self._row:
                excluded[self._row[i]] = True
        k = self._clamp_k(k, len(self) - int(excluded.sum()))
        return [self._search_one(q[j : j + 1], k, excluded) for j in range(q.shape[0])]

    def neighbours_of(self, item_id: str, k: int = 10, groups: Groups | None = None) -> list[Neighbour]:
        """The ``k`` nearest items to the catalogue item ``item_id``, leaving it out.

        Args:
            item_id: a catalogue id.
            k: neighbours (>= 1; more than the eligible items gives them all, with a warning).
            groups: optionally, the group of each id (e.g. album or artist): a mapping, a
                function, or :meth:`group_codes` of one (the fast form for many queries); items
                of the query's group are left out too.
        Raises:
            UnknownIdError: ``item_id`` is not in the index.
            UsageError: group codes of another length than the index.
        """
        row = self.row_of(item_id)
        excluded = np.zeros(len(self), dtype=bool)
        if groups is not None:
            codes = groups if isinstance(groups, np.ndarray) else self.group_codes(groups)
            if codes.shape != (len(self),):
                raise UsageError(f"group codes of shape {codes.shape} do not match the index's {len(self)} items")
            if codes[row] >= 0:
                excluded |= codes == codes[row]
        excluded[row] = True
        k = self._clamp_k(k, len(self) - int(excluded.sum()))
        return self._search_one(self.vector(item_id)[None], k, excluded)

    def group_codes(self, groups: Mapping[str, Any] | Callable[[str], Any]) -> np.ndarray:
        """The group of every item as an int code, ``(N,)`` int64 in row order, -1 where an id has
        no group (absent from the mapping, or None); equal codes, equal groups. Pass it as
        ``groups=`` to :meth:`neighbours_of` to leave groups out of many queries at the cost of
        one comparison of N ints each. A NaN group counts as none, as a missing label."""
        group_of = groups.get if isinstance(groups, Mapping) else groups
        codes = np.full(len(self), -1, dtype=np.int64)
        seen: dict[Any, int] = {}
        for row, item in enumerate(self.ids):
            g = group_of(item)
            if g is not None and not (isinstance(g, float) and np.isnan(g)):
                codes[row] = seen.setdefault(g, len(seen))
        return codes

    # ------------------------------------------------------------------ internals
    def _queries(self, vectors: np.ndarray) -> np.ndarray:
        q = np.asarray(vectors, dtype=np.float32)
        if q.ndim == 1:
            q = q[None]
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise UsageError(f"query vectors of shape {np.shape(vectors)} do not match the index dimension {self.dim}")
        from .neighbours import normalise

        return normalise(q)

    def _clamp_k(self, k: int, eligible: int) -> int:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise UsageError(f"k must be an integer >= 1, got {k!r}")
        if k > eligible:
            warnings.warn(
                f"k={k} is more than the {eligible} eligible items of the index; returning all of them",
                UserWarning,
                stacklevel=3,
            )
            return eligible
        return int(k)

    def neighbour_rows(self, row: int, k: int, excluded: np.ndarray) -> np.ndarray:
        """Rows (int64, most similar first) of the ``k`` nearest items to the item at ``row``,
        leaving out the rows where the boolean mask ``excluded`` (N,) is True (pass the query's
        own row set there to leave it out). Fewer than ``k`` when fewer are eligible."""
        q = self.vector(self.ids[row])[None]
        k = min(int(k), len(self) - int(excluded.sum()))
        return np.array([r for _, r in self._search_kept(q, k, excluded)[:k]], dtype=np.int64)

    def _search_one(self, q: np.ndarray, k: int, excluded: np.ndarray) -> list[Neighbour]:
        keep = self._search_kept(q, k, excluded)
        return [Neighbour(r + 1, self.ids[i], s) for r, (s, i) in enumerate(keep[:k])]

    def _search_kept(self, q: np.ndarray, k: int, excluded: np.ndarray) -> list[tuple[float, int]]:
        n = len(self)
        if k == 0:
            return []
        kk = min(n, k + int(excluded.sum()) if excluded.sum() < 64 else 2 * k + 64)
        while True:
            sims, rows = self._faiss_search(q, kk)
            keep = [(float(s), int(r)) for s, r in zip(sims[0], rows[0]) if r >= 0 and not excluded[r]]
            if len(keep) >= k or kk >= n:
                break
            kk = min(n, kk * 2)
        if len(keep) < k:  # an approximate index returned too few: exact scan of the rest
            keep = self._exact_scan(q[0], excluded, k)
        return keep

    def _faiss_search(self, q: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
        ctx = _one_thread() if q.shape[0] < SMALL_BATCH else contextlib.nullcontext()
        if self.rerank > 1 and self._exact is not None:
            with ctx:
                sims, rows = self._index.search(q, min(len(self), kk * self.rerank))
            return self._rerank(q, rows, kk)
        with ctx:
            return self._index.search(q, kk)

    def _rerank(self, q: np.ndarray, rows: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``kk`` best of each query's candidate ``rows`` by exact cosine similarity (ties:
        lower row first), from the source vectors; -1 / -inf where fewer candidates came back."""
        from .neighbours import normalise

        out_s = np.full((len(q), kk), -np.inf, dtype=np.float32)
        out_r = np.full((len(q), kk), -1, dtype=np.int64)
        for s in range(0, len(q), 256):  # bounds the gathered rows: 256 x R·k x D floats
            block = rows[s : s + 256]
            uniq, inv = np.unique(block[block >= 0], return_inverse=True)
            x = normalise(np.asarray(self._exact[uniq]))  # sorted rows: sequential reads of the memory map
            pos = np.full(block.shape, -1, dtype=np.int64)
            pos[block >= 0] = inv
            for j in range(len(block)):
                ok = pos[j] >= 0
                r = block[j][ok]
                sim = x[pos[j][ok]] @ q[s + j]
                order = np.lexsort((r, -sim))[:kk]
                out_s[s + j, : len(order)] = sim[order]
                out_r[s + j, : len(order)] = r[order]
        return out_s, out_r

    def _exact_scan(self, q: np.ndarray, excluded: np.ndarray, k: int) -> list[tuple[float, int]]:
        """The ``k`` best eligible rows by a scan of every stored (or, with re-ranking, exact)
        vector, :data:`SCAN_ROWS` rows at a time (bounded memory at any N)."""
        from .neighbours import normalise

        best_s = np.zeros(0, np.float64)
        best_r = np.zeros(0, np.int64)
        for s in range(0, len(self), SCAN_ROWS):
            m = min(SCAN_ROWS, len(self) - s)
            if self._exact is not None:
                block = normalise(np.asarray(self._exact[s : s + m]))
            else:
                block = np.asarray(self._index.reconstruct_n(s, m), dtype=np.float32)
            rows = np.arange(s, s + m)[~excluded[s : s + m]]
            sims = block[rows - s] @ q
            best_s = np.concatenate([best_s, sims.astype(np.float64)])
            best_r = np.concatenate([best_r, rows])
            order = np.lexsort((best_r, -best_s))[:k]
            best_s, best_r = best_s[order], best_r[order]
        return [(float(v), int(r)) for v, r in zip(best_s, best_r)]


@contextlib.contextmanager
def _one_thread():  # noqa: ANN202
    """FAISS's OpenMP thread count set to 1 for the duration, in the calling thread only (an
    OpenMP thread count is per thread: other threads of a server are not affected)."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def same_group(groups: Mapping[str, Any] | Callable[[str], Any] | None, item_id: str) -> Callable[[str], bool] | None:
    """A test of whether an id is in ``item_id``'s group (None: no groups, or ``item_id`` has none)."""
    if groups is None:
        return None
    group_of = groups.get if isinstance(groups, Mapping) else groups
    mine = group_of(item_id)
    if mine is None:
        return None
    return lambda other: group_of(other) == mine


def model_spec(meta: Mapping[str, Any]) -> str | None:
    """What :func:`tunespace.load_model` accepts for the model named in an EMB ``meta.json``.

    A checkpoint gives its path, a pretrained model ``"pretrained:NAME"``; a seed-0 random
    encoder with default arguments gives ``"random:NAME"``; anything else (baselines, imported embeddings) gives None.
    """
    m = meta.get("model") or {}
    if not isinstance(m, Mapping):
        return None
    if m.get("kind") in ("checkpoint", "pretrained") and m.get("checkpoint"):
        return str(m["checkpoint"])
    if m.get("kind") == "random" and m.get("seed", 0) == 0 and not m.get("encoder_args"):
        return f"random:{m.get('encoder', 'small')}"
    return None


def build_index(
    embeddings: str | Path,
    out: str | Path,
    method: str | IndexSettings = "exact",
    *,
    verify: bool = True,
    slices: bool = False,
    **options: Any,
) -> Index:
    """``tunespace index build``: index the EMB folder ``embeddings`` and save it to ``out``.

    The matrix is memory-mapped, never loaded whole (see :meth:`Index.build`).

    Args:
        embeddings: an EMB folder (``tunespace embed`` / ``tunespace baseline``).
        out: the INDEX folder to write.
        method: an :class:`~tunespace.neighbours.IndexSettings` or its method; ``options`` as in
            :meth:`Index.build`.
        verify: check the EMB files' SHA-256 first (reads the matrix once, streaming).
        slices: index every loud slice of every track instead of the tracks' means (a slice
            index for excerpt-to-source search, :mod:`tunespace.passages`; the EMB folder needs
            timelines, ``tunespace embed --timelines``). Its slice vectors are held in memory.
    Raises:
        UsageError: as :meth:`Index.build`; ``slices`` without timelines, or with ``rerank``.
    """
    from .embed.format import read_embeddings

    src = Path(embeddings)
    provenance: dict[str, Any] = {"embeddings": str(src.resolve())}
    if slices:
        from .passages import slice_provenance, slice_set

        emb = slice_set(src, verify=verify)
        provenance.update(slice_provenance(emb.meta))
    else:
        emb = read_embeddings(src, verify=verify)
    index = Index.build(emb, method, provenance=provenance, **options)
    index.save(out)
    return index


def _random_access(array: np.ndarray | None) -> None:
    """Tell the kernel that a memory-mapped ``array`` is read at random rows (no read-ahead):
    re-ranking reads R·k scattered rows per query, and read-ahead of each would read megabytes
    per query from disk when the file is not in the page cache."""
    import mmap

    m = getattr(array, "_mmap", None)
    if m is not None and hasattr(m, "madvise") and hasattr(mmap, "MADV_RANDOM"):
        with contextlib.suppress(OSError, ValueError):
            m.madvise(mmap.MADV_RANDOM)


def _exact_source(path: Path, source: str | Path | None, meta: Mapping[str, Any]) -> np.ndarray | None:
    """The source EMB folder's memory-mapped matrix for re-ranking, or None with a warning."""
    from .embed.format import read_embeddings

    why = "no EMB folder recorded"
    if source is not None:
        try:
            emb = read_embeddings(source, verify=False)
        except UsageError as e:
            why = str(e)
        else:
            if _ids_digest(emb.ids) == meta.get("ids_sha256") and emb.vectors.shape[1] == meta.get("dim"):
                return emb.vectors
            why = f"{source}: its ids or dimension differ from the index's"
    warnings.warn(f"{path}: searching without re-ranking ({why})", UserWarning, stacklevel=3)
    return None


def _ids_digest(ids: Sequence[str]) -> str:
    h = hashlib.sha256()
    for i in ids:
        h.update(i.encode("utf-8") + b"\n")
    return h.hexdigest()


def _slim(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The EMB meta without bulky fields (the full training config stays in the EMB folder)."""
    out = {k: v for k, v in meta.items() if k not in ("frontend",)}
    if isinstance(out.get("model"), Mapping):
        out["model"] = {k: v for k, v in out["model"].items() if k != "train_config"}
    return out


@dataclass
class QueryResult:
    """The answer of ``tunespace neighbours``.

    Attributes:
        query: what was asked (``{"track": id}`` or ``{"audio": path}``) and ``k``.
        neighbours: the neighbours, most similar first.
        labels: id -> {property: value} for the query and the neighbours (empty without labels).
        properties: the label properties shown, in order.
        warnings: messages for the user (e.g. k larger than the catalogue).
    """

    query: dict[str, Any]
    neighbours: list[Neighbour]
    labels: dict[str, dict[str, Any]]
    properties: list[str]
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"query", "neighbours": [{"rank", "id", "similarity", "labels"}], "warnings"}``
        (from a slice index, each neighbour also has ``start_s`` and ``end_s``: where the match
        lies in the track, seconds)."""
        return {
            "query": {**self.query, "labels": self.labels.get(self.query.get("track", ""), {})},
            "neighbours": [
                {
                    "rank": n.rank,
                    "id": n.id,
                    "similarity": n.similarity,
                    **_span(n),
                    "labels": self.labels.get(n.id, {}),
                }
                for n in self.neighbours
            ],
            "properties": self.properties,
            "warnings": self.warnings,
        }

    def table(self) -> str:
        """A plain-text table: rank, id, similarity (and, from a slice index, ``at``: where the
        match lies in the track, seconds) and one column per label property."""
        spans = any(_span(n) for n in self.neighbours)
        head = ["rank", "id", "similarity", *(["at"] if spans else []), *self.properties]
        rows = [
            [
                str(n.rank),
                n.id,
                f"{n.similarity:.4f}",
                *([f"{_span(n)['start_s']:.1f}-{_span(n)['end_s']:.1f} s"] if spans else []),
                *[_cell(self.labels.get(n.id, {}).get(p)) for p in self.properties],
            ]
            for n in self.neighbours
        ]
        widths = [max(len(h), *(len(r[c]) for r in rows)) if rows else len(h) for c, h in enumerate(head)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
        return "\n".join(line.rstrip() for line in lines)


def query_neighbours(
    index: Index | str | Path,
    *,
    track: str | None = None,
    audio: str | Path | None = None,
    k: int = 10,
    labels: Any = None,
    exclude_same: str | None = None,
    model: str | Path | None = None,
) -> QueryResult:
    """``tunespace neighbours``: the ``k`` nearest catalogue items to a track or an audio file.

    Args:
        index: an :class:`Index` or an INDEX folder.
        track: a catalogue id (left out of its own neighbours); or
        audio: an audio file, embedded with the index's model (``model`` overrides it).
        k: neighbours (more than the catalogue gives all, with a warning).
        labels: a :class:`~tunespace.labels.LabelTable`, a labels CSV or dataset folder, or
            None for the index's own dataset when it has labels.
        exclude_same: also leave out items sharing the query track's group: ``"folder"`` (the
            id's folder part, e.g. the album) or a label property (e.g. ``"artist"``).
    Raises:
        UsageError: neither or both of ``track``/``audio``; no model for ``audio``.
        UnknownIdError: ``track`` not in the index.
        AudioError: ``audio`` cannot be decoded.
    """
    idx = index if isinstance(index, Index) else Index.load(index)
    if (track is None) == (audio is None):
        raise UsageError("give exactly one of a track id (--track) or an audio file (--audio)")
    from .passages import is_slice_index, search_excerpt, search_passages, track_vector

    table = _label_table(idx, labels)
    by_slice = is_slice_index(idx)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if track is not None:
            groups = _groups(idx, table, exclude_same) if exclude_same else None
            if by_slice:
                shares = same_group(groups, track)

                def keep(t: str) -> bool:
                    return t != track and (shares is None or not shares(t))

                found = search_passages(idx, track_vector(idx, track), k, keep=keep)[0]
            else:
                found = idx.neighbours_of(track, k, groups=groups)
            query: dict[str, Any] = {"track": track, "k": k}
        else:
            spec = model if model is not None else idx.model_path
            if spec is None:
                raise UsageError(
                    "this index was built from embeddings of no loadable model (a baseline or an "
                    "import); --audio needs one: give --model RUN"
                )
            from .embed.format import load_options
            from .embed.model import load_model

            options = load_options((idx.meta or {}).get("embedding_meta") or {})  # as the catalogue was embedded
            model = load_model(spec, **options)
            from .embed.model import track_embedding

            tl = model.timeline(Path(audio))
            if tl.silent:
                warnings.warn(
                    f"{audio}: silent (no {model.slice_seconds:g} s slice peaks above {model.silence_db:g} dBFS): "
                    "these neighbours say nothing about its music",
                    stacklevel=2,
                )
            if by_slice:  # which tracks, and where in them
                found = search_excerpt(idx, tl.embeddings, tl.loud, k)
            else:
                found = idx.search(track_embedding(tl.embeddings, tl.loud), k)[0]
            query = {"audio": str(audio), "k": k}
    shown = [track] if track is not None else []
    shown += [n.id for n in found]
    props = list(table.values) if table is not None else []
    lab: dict[str, dict[str, Any]] = {}
    if table is not None:
        pos = {i: n for n, i in enumerate(table.ids)}
        for i in shown:
            if i in pos:
                lab[i] = {p: _plain(table.values[p][pos[i]]) for p in props}
    return QueryResult(query, found, lab, props, [str(w.message) for w in caught])


def _span(n: Neighbour) -> dict[str, float]:
    """``{"start_s", "end_s"}`` of a :class:`~tunespace.passages.Passage`; empty for a track."""
    start, end = getattr(n, "start_s", None), getattr(n, "end_s", None)
    return {} if start is None else {"start_s": float(start), "end_s": float(end)}


def _label_table(idx: Index, labels: Any) -> Any:
    from .labels import LabelTable, load_labels

    if isinstance(labels, LabelTable):
        return labels
    if labels is not None:
        return load_labels(labels)
    root = idx.meta.get("dataset")
    if root and Path(root).exists():
        try:
            table = load_labels(root)
        except Exception:  # noqa: BLE001 - labels are optional decoration here
            return None
        return table if table.values else None
    return None


def _groups(idx: Index, table: Any, how: str) -> Groups:
    if how == "folder":
        return lambda i: i.rsplit("/", 1)[0] if "/" in i else None
    if table is None or how not in table.values:
        have = ", ".join(table.values) if table is not None else "no labels"
        raise UsageError(f"--exclude-same {how!r}: expected 'folder' or a label property ({have})")
    vals = table.values[how]
    return {
        i: (v if v is not None and not (isinstance(v, float) and np.isnan(v)) else None)
        for i, v in zip(table.ids, vals)
    }


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, tuple):
        return list(v)
    return v


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return ";".join(map(str, v))
    return str(v)

"""The EMB folder format: how tunespace stores a set of embeddings (stable, documented).

::

    EMB/embeddings.npy   float32, shape (N, D), row i = item ids[i]; memory-mappable
    EMB/ids.txt          N lines, one item id per line (UTF-8), same order as the rows
    EMB/meta.json        what produced them: model, config, front end, tunespace version
    EMB/errors.csv       columns file,reason: every input that could not be embedded
    EMB/timelines/       optional (``tunespace embed --timelines``): <name>.npy, float32
                         (n_slices, D), a track's slice embeddings, slice i starting at
                         i·hop_seconds; loud/<name>.npy, bool (n_slices,), whether each slice
                         reaches silence_db (absent in folders made before it was written).
                         <name> is the id with ``%``, ``/`` and ``\\`` percent-encoded
                         (:func:`timeline_name`; folders made before used ``__`` for ``/``);
                         read with :func:`read_timeline`

Writers use :func:`write_embeddings` (atomic: each file is written to a temporary name and
renamed). Readers use :func:`read_embeddings`, which memory-maps the matrix.

The files belong together: ``meta.json`` is written last and records, under ``"files"``, the
size and SHA-256 of ``embeddings.npy``, ``ids.txt`` and ``errors.csv`` as written (hashed
before the rename, so another writer's file can never be recorded by mistake).
:func:`read_embeddings` refuses a folder whose files differ from that record (a write that
was interrupted between two renames, two writers mixing their files) or that has no
``meta.json`` (a first write that never finished). Timelines are written before these files;
they are not hashed. Hashing reads the matrix once (SHA-256, about 1 GB/s on one core);
``verify=False`` skips it. Folders written before this record existed (no ``"files"`` in
``meta.json``) are read without the check.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from ..files import atomic_path, ensure_folder, file_digest, read_json, write_json

EMBEDDINGS = "embeddings.npy"
IDS = "ids.txt"
META = "meta.json"
ERRORS = "errors.csv"
TIMELINES = "timelines"
#: Subfolder of ``timelines/`` holding each track's loud mask.
LOUD = "loud"


#: ``meta.json``'s ``track_embedding`` of EMB folders made before silent slices were left out
#: of a track's mean (every slice averaged).
PLAIN_MEAN = "mean of slice embeddings"
#: ``meta.json``'s ``track_embedding`` when silent slices are left out of the mean.
TRACK_MEAN = "mean of the embeddings of the slices whose peak reaches silence_db (of all, if none does)"


def timeline_name(track_id: str) -> str:
    """The file name stem of a track's timeline under ``EMB/timelines/`` (``%``, ``/`` and ``\\``
    percent-encoded, so that two ids never share a file)."""
    return track_id.replace("%", "%25").replace("/", "%2F").replace("\\", "%5C")


def read_timeline(path: str | Path, track_id: str, meta: dict[str, Any] | None = None) -> Any:
    """The slice embeddings of one track of the EMB folder ``path``, as a
    :class:`tunespace.embed.model.Timeline` (centre times in seconds from the folder's
    ``slice_seconds`` and ``hop_seconds``; ``loud`` None for folders that did not record it).

    Args:
        path: an EMB folder written with timelines.
        track_id: one of its ids.
        meta: its ``meta.json`` when already read (else read here).
    Raises:
        UsageError: no timelines, none for ``track_id``, no slicing recorded, or a loud mask
            that does not match its timeline.
    """
    from .model import Timeline

    path = Path(path)
    meta = read_json(path / META) if meta is None else meta
    folder = path / TIMELINES
    if not folder.is_dir():
        raise UsageError(f"{path}: no {TIMELINES}/ folder (embed with --timelines)")
    hop, length = meta.get("hop_seconds"), meta.get("slice_seconds")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in (hop, length)):
        raise UsageError(
            f"{path}: meta.json records no slicing (hop_seconds, slice_seconds): not made by tunespace embed"
        )
    name = timeline_name(track_id)
    if not (folder / f"{name}.npy").is_file():
        legacy = track_id.replace("/", "__").replace("\\", "__")  # folders made before percent-encoding
        if not (folder / f"{legacy}.npy").is_file():
            raise UsageError(f"{path}: no timeline for {track_id!r}")
        name = legacy
    embeddings = np.load(folder / f"{name}.npy")
    loud_file = folder / LOUD / f"{name}.npy"
    loud = np.load(loud_file).astype(bool) if loud_file.is_file() else None
    if embeddings.ndim != 2 or (loud is not None and loud.shape != (len(embeddings),)):
        raise UsageError(f"{folder}: the timeline of {track_id!r} and its loud mask do not match")
    times = np.arange(embeddings.shape[0], dtype=np.float64) * float(hop) + float(length) / 2
    return Timeline(times_s=times, embeddings=embeddings, loud=loud)


def load_options(meta: dict[str, Any]) -> dict[str, Any]:
    """The :func:`tunespace.load_model` keywords that embed audio as the set of ``meta`` was
    embedded: its slicing (``slice_seconds``, ``hop_seconds``) and silence rule
    (``silence_db``; None for sets made with ``--keep-silent`` or before silent slices were
    left out of the mean). Keys the meta does not record are left out (the defaults apply)."""
    out: dict[str, Any] = {
        k: float(meta[k]) for k in ("slice_seconds", "hop_seconds") if isinstance(meta.get(k), (int, float))
    }
    if "silence_db" in meta:
        level = meta["silence_db"]
        plain = meta.get("track_embedding") == PLAIN_MEAN
        out["silence_db"] = None if plain or not isinstance(level, (int, float)) else float(level)
    return out


@dataclass
class EmbeddingSet:
    """Embeddings with their ids.

    Attributes:
        ids: N item ids.
        vectors: float32 array (N, D) (a read-only memory map when read from disk).
        meta: free-form description of their origin.
        errors: (file, reason) for every item that could not be embedded.
        name: short label for reports (default: the folder name).
    """

    ids: list[str]
    vectors: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    name: str = "embeddings"

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.ids):
            raise UsageError(f"embeddings of shape {self.vectors.shape} do not match {len(self.ids)} ids")
        if len(set(self.ids)) != len(self.ids):
            raise UsageError("embedding ids are not unique")

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def write_embeddings(out: str | Path, emb: EmbeddingSet) -> Path:
    """Write ``emb`` as an EMB folder at ``out`` (created if needed); returns ``out``."""
    out = ensure_folder(out)
    vectors = np.ascontiguousarray(emb.vectors, dtype=np.float32)
    if not np.isfinite(vectors).all():
        raise UsageError(f"{out}: refusing to write non-finite embeddings")
    for i in emb.ids:
        if "\n" in i or "\r" in i:
            raise UsageError(f"{out}: item id {i!r} contains a line break")
    files = {
        EMBEDDINGS: _write_hashed(out / EMBEDDINGS, lambda f: np.save(f, vectors)),
        IDS: _write_hashed(out / IDS, lambda f: f.write("".join(f"{i}\n" for i in emb.ids).encode("utf-8"))),
        ERRORS: _write_hashed(out / ERRORS, lambda f: f.write(_errors_csv(emb.errors).encode("utf-8"))),
    }
    write_json(out / META, {**emb.meta, "files": files})  # last: it vouches for the others
    return out


def _write_hashed(path: Path, write: Any) -> dict[str, Any]:
    """Write ``path`` atomically with ``write(binary file)``; its size and SHA-256 as written."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            write(f)
        record = file_digest(tmp)
    return record


def _errors_csv(errors: list[tuple[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "reason"])
    w.writerows(errors)
    return buf.getvalue()


def write_errors(path: str | Path, errors: list[tuple[str, str]]) -> None:
    """Atomically write ``errors`` as CSV with header ``file,reason``."""
    _write_hashed(Path(path), lambda f: f.write(_errors_csv(errors).encode("utf-8")))


def check_files(path: str | Path, meta: dict[str, Any], verify: bool = True) -> None:
    """Raise :class:`UsageError` unless the files of the EMB folder ``path`` are those its
    ``meta.json`` records (sizes always; SHA-256 too with ``verify``)."""
    path = Path(path)
    files = meta.get("files")
    if files is None:
        return  # written before the record existed
    if not isinstance(files, dict):
        raise UsageError(f"{path}: meta.json has a malformed 'files' record")
    for name, rec in sorted(files.items()):
        p = path / name
        why = None
        if not p.is_file():
            why = "is missing"
        elif not isinstance(rec, dict) or p.stat().st_size != rec.get("bytes"):
            why = "has another size"
        elif verify and file_digest(p)["sha256"] != rec.get("sha256"):
            why = "has other contents"
        if why:
            raise UsageError(
                f"{path}: {name} {why} than meta.json records: the folder mixes files of two "
                "writes (interrupted, or two writers); rerun the command that wrote it"
            )


def read_embeddings(path: str | Path, mmap: bool = True, verify: bool = True) -> EmbeddingSet:
    """Read an EMB folder; the matrix is memory-mapped unless ``mmap`` is False.

    Args:
        path: the EMB folder.
        mmap: memory-map the matrix.
        verify: check the SHA-256 of every file against ``meta.json`` (sizes are always checked).
    Raises:
        UsageError: the folder is not an EMB folder (names the missing file), or its files do
            not belong together (see the module docstring).
    """
    path = Path(path)
    for name in (EMBEDDINGS, IDS):
        if not (path / name).is_file():
            raise UsageError(f"{path}: not an embeddings folder (missing {name})")
    if not (path / META).is_file():
        raise UsageError(
            f"{path}: incomplete embeddings folder (no {META}, which is written last); rerun the command that wrote it"
        )
    try:
        meta = read_json(path / META)
    except ValueError:
        raise UsageError(f"{path}: {META} is not valid JSON") from None
    if not isinstance(meta, dict):
        raise UsageError(f"{path}: {META} is not a JSON object")
    check_files(path, meta, verify)
    try:
        vectors = np.load(path / EMBEDDINGS, mmap_mode="r" if mmap else None)
    except ValueError as e:
        raise UsageError(
            f"{path}: {EMBEDDINGS} is not a readable .npy file "
            f"({str(e).splitlines()[0] if str(e) else type(e).__name__})"
        ) from None
    ids = [i.rstrip("\r") for i in (path / IDS).read_text(encoding="utf-8").split("\n")]
    if ids and ids[-1] == "":
        ids.pop()
    errors: list[tuple[str, str]] = []
    if (path / ERRORS).is_file():
        with open(path / ERRORS, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        errors = [(r[0], r[1]) for r in rows[1:] if len(r) >= 2]
    return EmbeddingSet(ids=ids, vectors=vectors, meta=meta, errors=errors, name=path.name)

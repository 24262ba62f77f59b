"""The EMB folder format: how tunespace stores a set of embeddings (stable, documented).

::

    EMB/embeddings.npy   float32, shape (N, D), row i = item ids[i]; memory-mappable
    EMB/ids.txt          N lines, one item id per line (UTF-8), same order as the rows
    EMB/meta.json        what produced them: model, config, front end, tunespace version
    EMB/errors.csv       columns file,reason: every input that could not be embedded
    EMB/timelines/       optional: <id>.npy, float32 (n_slices, D) excerpt embeddings

Writers use :func:`write_embeddings` (atomic: each file is written to a temporary name and
renamed). Readers use :func:`read_embeddings`, which memory-maps the matrix.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from ..files import read_json, save_npy, write_json, write_text

EMBEDDINGS = "embeddings.npy"
IDS = "ids.txt"
META = "meta.json"
ERRORS = "errors.csv"
TIMELINES = "timelines"


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
            raise UsageError(
                f"embeddings of shape {self.vectors.shape} do not match {len(self.ids)} ids"
            )
        if len(set(self.ids)) != len(self.ids):
            raise UsageError("embedding ids are not unique")

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def write_embeddings(out: str | Path, emb: EmbeddingSet) -> Path:
    """Write ``emb`` as an EMB folder at ``out`` (created if needed); returns ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    vectors = np.ascontiguousarray(emb.vectors, dtype=np.float32)
    if not np.isfinite(vectors).all():
        raise UsageError(f"{out}: refusing to write non-finite embeddings")
    for i in emb.ids:
        if "\n" in i or "\r" in i:
            raise UsageError(f"{out}: item id {i!r} contains a line break")
    save_npy(out / EMBEDDINGS, vectors)
    write_text(out / IDS, "".join(f"{i}\n" for i in emb.ids))
    write_json(out / META, emb.meta)
    write_errors(out / ERRORS, emb.errors)
    return out


def write_errors(path: str | Path, errors: list[tuple[str, str]]) -> None:
    """Atomically write ``errors`` as CSV with header ``file,reason``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "reason"])
    w.writerows(errors)
    write_text(path, buf.getvalue())


def read_embeddings(path: str | Path, mmap: bool = True) -> EmbeddingSet:
    """Read an EMB folder; the matrix is memory-mapped unless ``mmap`` is False.

    Raises:
        UsageError: the folder is not an EMB folder (names the missing file).
    """
    path = Path(path)
    for name in (EMBEDDINGS, IDS):
        if not (path / name).is_file():
            raise UsageError(f"{path}: not an embeddings folder (missing {name})")
    vectors = np.load(path / EMBEDDINGS, mmap_mode="r" if mmap else None)
    ids = (path / IDS).read_text(encoding="utf-8").splitlines()
    meta = read_json(path / META) if (path / META).is_file() else {}
    errors: list[tuple[str, str]] = []
    if (path / ERRORS).is_file():
        with open(path / ERRORS, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        errors = [(r[0], r[1]) for r in rows[1:] if len(r) >= 2]
    return EmbeddingSet(ids=ids, vectors=vectors, meta=meta, errors=errors, name=path.name)

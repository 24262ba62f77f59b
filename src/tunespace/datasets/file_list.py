"""Datasets given as a file instead of a folder: one audio file, or a text file listing audio.

- **One audio file** (extension in :data:`~tunespace.datasets.base.AUDIO_SUFFIXES`): a dataset
  of one track whose id is the file name without its extension.
- **A list file** (``.txt``, ``.lst`` or ``.m3u``/``.m3u8``): one audio path per line, UTF-8;
  empty lines and lines starting with ``#`` are ignored; relative paths are relative to the
  list file's folder. Ids are the paths relative to that folder without the extension
  (``/``-separated) for files inside it, else the absolute path without the extension.
  Listed files are not opened here: a missing or unreadable one fails when it is read
  (``embed`` reports it in ``errors.csv``).

No labels in either case.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DatasetError
from .base import AUDIO_SUFFIXES, Dataset, Track, make_dataset

NAME = "list"
LIST_SUFFIXES: tuple[str, ...] = (".txt", ".lst", ".m3u", ".m3u8")
EXPECTED = "one audio file, or a text file (.txt, .lst, .m3u) with one audio path per line"


def read_audio_file(path: str | Path) -> Dataset:
    """A dataset of the single audio file ``path`` (id: its name without extension)."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"{p}: no such audio file")
    return make_dataset("file", p.parent, [Track(id=p.stem, path=p.resolve())], {})


def read_list(path: str | Path) -> Dataset:
    """A dataset of the audio files listed in the text file ``path``.

    Raises:
        DatasetError: the list cannot be read, lists nothing, or lists one id twice.
    """
    lst = Path(path)
    try:
        lines = lst.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{lst}: cannot read the list of audio files ({e.__class__.__name__})") from None
    base = lst.parent.resolve()
    tracks: list[Track] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(lines, start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        p = Path(entry).expanduser()
        p = p if p.is_absolute() else base / p
        p = Path(_normpath(p))
        try:
            tid = p.relative_to(base).with_suffix("").as_posix()
        except ValueError:
            tid = p.with_suffix("").as_posix()
        if tid in seen:
            raise DatasetError(f"{lst}, line {n}: {entry!r} has the same id {tid!r} as line {seen[tid]}")
        seen[tid] = n
        tracks.append(Track(id=tid, path=p))
    if not tracks:
        raise DatasetError(f"{lst}: lists no audio file")
    return make_dataset(NAME, base, tracks, {})


def is_list_file(path: Path) -> bool:
    """True if ``path`` names a list file by its extension."""
    return path.suffix.lower() in LIST_SUFFIXES


def is_audio_file(path: Path) -> bool:
    """True if ``path`` names an audio file by its extension."""
    return path.suffix.lower() in AUDIO_SUFFIXES


def _normpath(p: Path) -> str:
    import os

    return os.path.normpath(str(p))

"""Reader of any folder of audio files, with no labels (what contrastive training needs).

Layout: audio files anywhere under ROOT (extensions :data:`~tunespace.datasets.base.AUDIO_SUFFIXES`,
any case). Track ids are the paths relative to ROOT without the extension, with ``/`` as the
separator (``"album1/track03"``). No labels, no split.

What is listed, so that every audio-looking entry ends up either embedded or reported:

- regular files with an audio extension, and symlinks to them;
- dangling symlinks with an audio extension (listed; they fail when read, as "missing");
- hidden entries (name starting with ``.``, e.g. macOS ``._song.wav`` resource forks) and
  folders whose name ends in an audio extension are not audio: they are left out and each is
  reported in ``Dataset.problems``.

Two files that differ only by extension (``a.wav`` and ``a.flac``) would share an id: the
first in sorted order is kept and the other is reported in ``problems``.
"""

from __future__ import annotations

from pathlib import Path

from .base import AUDIO_SUFFIXES, Dataset, Track, existing_dir, make_dataset

NAME = "folder"
EXPECTED = "any folder holding audio files (ids: relative paths without extension; no labels)"


def detect(root: Path) -> bool:
    """True if ``root`` holds at least one audio file (searched recursively)."""
    return any(True for _ in _candidates(root))


def read_folder(root: str | Path) -> Dataset:
    """Read every audio file under ``root`` as an unlabelled track.

    Args:
        root: folder holding the audio (searched recursively, symlinked folders not followed).
    Returns:
        A :class:`Dataset` named ``"folder"`` with no properties; skipped entries are listed
        in ``problems``.
    Raises:
        DatasetError: ``root`` is not a folder.
    """
    root = existing_dir(root, NAME, EXPECTED)
    tracks: list[Track] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    csvs = sorted(p.name for p in root.glob("*.csv"))
    if csvs:
        problems.append(
            f"{len(csvs)} CSV file(s) not used as labels ({', '.join(csvs[:3])}); "
            "give the CSV file itself as the dataset to use its labels"
        )
    for p in _candidates(root):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            problems.append(f"{rel.as_posix()}: hidden file, not read")
            continue
        if p.is_dir():
            problems.append(f"{rel.as_posix()}: a folder with an audio extension, not a file")
            continue
        tid = rel.with_suffix("").as_posix()
        if tid in seen:
            problems.append(f"{rel.as_posix()}: same id {tid!r} as {seen[tid].relative_to(root).as_posix()}, not read")
            continue
        seen[tid] = p
        tracks.append(Track(id=tid, path=p if p.is_symlink() and not p.exists() else p.resolve()))
    return make_dataset(NAME, root, tracks, {}, problems=problems)


def _candidates(root: Path) -> list[Path]:
    """Entries under ``root`` whose name ends in an audio extension, in sorted path order."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)

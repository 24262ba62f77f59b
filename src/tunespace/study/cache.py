"""Stage cache of the study: every stage's output lives in a folder named by the hash of its
resolved config, and is complete only once its ``done.json`` marker exists.

A rerun finds completed stages by hash and reuses them; an interrupted stage (no marker) is
resumed or redone; a changed setting changes the hash of that stage and of every stage that
depends on it (dependent stages include their inputs' hashes in their own config), so only
those are recomputed. Every key also holds :func:`code_fingerprint`, the tunespace version and
a hash of the package's Python source: after any change to the code that computes results (an
edited encoder, a new release), every stage is recomputed instead of silently reused. Readers
of a finished study (the explorer, the benches) use :meth:`Stage.existing`, which also finds
a stage computed by other code, so that a study stays readable after the code changes.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import config_hash
from ..files import read_json, write_json

#: Folders of the package left out of :func:`code_fingerprint`: they present results, they do not compute them.
PRESENTATION_ONLY = ("cli", "serve")


def source_fingerprint(root: Path) -> str:
    """First 12 hex digits of a SHA-256 of every ``.py`` file under ``root`` (relative path and
    content, in path order), leaving out the folders :data:`PRESENTATION_ONLY` at its top."""
    h = hashlib.sha256()
    for f in sorted(Path(root).rglob("*.py")):
        rel = f.relative_to(root)
        if rel.parts[0] in PRESENTATION_ONLY or "__pycache__" in rel.parts:
            continue
        h.update(rel.as_posix().encode("utf-8") + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def current_code_fingerprint() -> str:
    """``"VERSION+HASH"``: the tunespace version and :func:`source_fingerprint` of the installed
    package, as its files are now."""
    return f"{__version__}+{source_fingerprint(Path(__file__).resolve().parent.parent)}"


@functools.cache
def code_fingerprint() -> str:
    """:func:`current_code_fingerprint`, computed once per process: the code its stage keys name."""
    return current_code_fingerprint()


DONE = "done.json"


@dataclass(frozen=True)
class Stage:
    """One cached unit of work.

    Attributes:
        kind: ``corpus``, ``train``, ``embed``, ``analysis`` ...
        config: its fully resolved inputs (including the hashes of the stages it uses).
        root: the study's stage folder.
        code: the :func:`code_fingerprint` of its key; None: this process's (a stage to compute).
    """

    kind: str
    config: dict[str, Any]
    root: Path
    code: str | None = None

    @property
    def key(self) -> str:
        """Hash of the kind, the config and the code fingerprint."""
        return config_hash({"kind": self.kind, "code": self.code or code_fingerprint(), **self.config})

    def existing(self) -> Stage:
        """This stage if it is finished; else the most recently finished stage of the same kind and
        config computed by other code (its :attr:`code` set, so that stages depending on it
        find theirs by its key); else this stage. For readers of a study, never for computing one."""
        if self.done:
            return self
        want = config_hash(self.config)
        found: list[tuple[float, Stage]] = []
        for meta_path in self.root.glob(f"{self.kind}-*/stage.json"):
            try:
                meta = read_json(meta_path)
            except (OSError, ValueError):
                continue
            code = meta.get("code")
            if not isinstance(code, str) or config_hash(meta.get("config") or {}) != want:
                continue
            other = replace(self, code=code)
            if other.path == meta_path.parent and other.done:
                found.append(((other.path / DONE).stat().st_mtime, other))
        return max(found, key=lambda t: t[0])[1] if found else self

    @property
    def path(self) -> Path:
        return self.root / f"{self.kind}-{self.key}"

    @property
    def done(self) -> bool:
        return (self.path / DONE).is_file()

    def begin(self) -> Path:
        """Create the folder and record the stage's config (before any work)."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(
            self.path / "stage.json",
            {"kind": self.kind, "key": self.key, "code": self.code or code_fingerprint(), "config": self.config},
        )
        return self.path

    def finish(self, summary: dict[str, Any] | None = None) -> None:
        """Mark the stage complete (written last, atomically)."""
        write_json(self.path / DONE, summary or {})

    def summary(self) -> dict[str, Any]:
        return read_json(self.path / DONE)

"""Stage cache of the study: every stage's output lives in a folder named by the hash of its
resolved config, and is complete only once its ``done.json`` marker exists.

A rerun finds completed stages by hash and reuses them; an interrupted stage (no marker) is
resumed or redone; a changed setting changes the hash of that stage and of every stage that
depends on it (dependent stages include their inputs' hashes in their own config), so only
those are recomputed. Corpus, training and baseline stages include the tunespace version in
their config, so a new release recomputes them (code changes within one version do not).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import config_hash
from ..files import read_json, write_json

DONE = "done.json"


@dataclass(frozen=True)
class Stage:
    """One cached unit of work.

    Attributes:
        kind: ``corpus``, ``train``, ``embed``, ``analysis`` ...
        config: its fully resolved inputs (including the hashes of the stages it uses).
        root: the study's stage folder.
    """

    kind: str
    config: dict[str, Any]
    root: Path

    @property
    def key(self) -> str:
        return config_hash({"kind": self.kind, **self.config})

    @property
    def path(self) -> Path:
        return self.root / f"{self.kind}-{self.key}"

    @property
    def done(self) -> bool:
        return (self.path / DONE).is_file()

    def begin(self) -> Path:
        """Create the folder and record the stage's config (before any work)."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.path / "stage.json", {"kind": self.kind, "key": self.key, "config": self.config})
        return self.path

    def finish(self, summary: dict[str, Any] | None = None) -> None:
        """Mark the stage complete (written last, atomically)."""
        write_json(self.path / DONE, summary or {})

    def summary(self) -> dict[str, Any]:
        return read_json(self.path / DONE)

"""Exceptions that tunespace raises for expected failures.

Every expected failure (a bad argument, a bad config value, an unreadable file, a dataset
folder of the wrong shape) is a :class:`TunespaceError`. The command line prints its message
as one line and exits with :attr:`TunespaceError.exit_code` (2 for usage and config errors),
never with a traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class TunespaceError(Exception):
    """Base class of expected failures; ``exit_code`` is the CLI exit status."""

    exit_code: int = 2


class UsageError(TunespaceError):
    """A command was called with arguments that cannot work."""


class ConfigError(TunespaceError):
    """A configuration value is unknown, of the wrong type, or out of range."""


class DatasetError(TunespaceError):
    """A dataset folder does not have the layout its reader expects."""


class AudioError(TunespaceError):
    """An audio file could not be read as requested.

    Args:
        path: the file concerned.
        reason: short human-readable reason, e.g. ``"missing"``, ``"truncated or corrupt"``.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class UnknownIdError(TunespaceError, KeyError):
    """An item id that is not in the catalogue, index or dataset asked about.

    Args:
        item_id: the id asked for.
    """

    def __init__(self, item_id: str) -> None:
        self.item_id = item_id
        super().__init__(f"unknown id {item_id!r}")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return f"unknown id {self.item_id!r}"

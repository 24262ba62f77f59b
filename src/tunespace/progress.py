"""Progress bars (tqdm) that can be switched off, shared by the trainer and the extractor."""

from __future__ import annotations

from typing import Any


class NoBar:
    """A stand-in with tqdm's methods that shows nothing."""

    def update(self, n: int = 1) -> None: ...

    def set_postfix(self, **kw: Any) -> None: ...

    def close(self) -> None: ...


def progress_bar(total: int, initial: int, desc: str, unit: str, enabled: bool) -> Any:
    """A tqdm bar of ``total`` items starting at ``initial``, or a :class:`NoBar`."""
    if not enabled:
        return NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True)

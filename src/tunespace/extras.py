"""Optional parts of tunespace and the packages they need (``pip install 'tunespace[EXTRA]'``).

- ``music21``: ``tunespace corpus build --source music21`` and the pretrained models' recipe;
- ``plots``: umap-learn, for the study's UMAP maps and the web explorer's map;
- ``tensorboard``: TensorBoard scalars of a training run (``RUN/tb/``; skipped without it);
- ``cluster``: submitit, for ``tunespace study --launcher slurm``;
- ``all``: every one of them.

:func:`import_extra` imports a module of such a package, and turns its absence into one line
that names the extra to install (:class:`MissingExtraError`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import UsageError

#: Top-level module -> (distribution to install, extra that installs it).
EXTRAS: dict[str, tuple[str, str]] = {
    "music21": ("music21", "music21"),
    "umap": ("umap-learn", "plots"),
    "tensorboard": ("tensorboard", "tensorboard"),
    "submitit": ("submitit", "cluster"),
}


class MissingExtraError(UsageError, ImportError):
    """An optional package is not installed (also an :class:`ImportError`).

    Args:
        module: the top-level module that is missing (a key of :data:`EXTRAS`).
        purpose: what needs it, e.g. ``"the study's UMAP maps"``.
    """

    def __init__(self, module: str, purpose: str) -> None:
        dist, extra = EXTRAS[module]
        self.extra = extra
        super().__init__(f"{purpose} needs {dist}, which is not installed: pip install 'tunespace[{extra}]'")
        self.name = module


def import_extra(module: str, purpose: str) -> ModuleType:
    """``importlib.import_module(module)``; :class:`MissingExtraError` when its package is absent.

    Args:
        module: a module of an optional package, e.g. ``"music21.corpus"``, ``"umap"``.
        purpose: what needs it (the start of the error message).
    Raises:
        MissingExtraError: the package is not installed. Any other import failure (the package
            is there but broken) keeps its own exception and traceback.
    """
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is not None and e.name.split(".")[0] != top:
            raise
        raise MissingExtraError(top, purpose) from None

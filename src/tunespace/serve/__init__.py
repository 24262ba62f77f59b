"""``tunespace serve``: a search service and a web explorer over tunespace indexes.

Listen to the neighbourhoods that each augmentation makes: the same query's nearest
neighbours in two indexes side by side, with the labels each neighbourhood shares; the
neighbours of an uploaded audio file; a 2-D map coloured by any property.

Modules: :mod:`~tunespace.serve.sources` (what is served: INDEX folders or a finished study),
:mod:`~tunespace.serve.catalogue` (ids, labels, audio by id only), :mod:`~tunespace.serve.app`
(the FastAPI app), :mod:`~tunespace.serve.batching` (concurrent queries searched together),
:mod:`~tunespace.serve.maps` (UMAP maps cached on disk), ``static/`` (the page: plain HTML,
JS, CSS; no build step, nothing fetched from the internet). Docs: ``docs/serve.md``.
"""

from __future__ import annotations

from .catalogue import Catalogue, build_catalogue
from .sources import Served, ServedIndex, from_indexes, from_study


def create_app(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201 (lazy: FastAPI is imported only when serving)
    """See :func:`tunespace.serve.app.create_app`."""
    from .app import create_app as _create

    return _create(*args, **kwargs)


__all__ = ["Catalogue", "Served", "ServedIndex", "build_catalogue", "create_app", "from_indexes", "from_study"]

"""``python -m tunespace`` is the ``tunespace`` command."""

from .cli import main

raise SystemExit(main())

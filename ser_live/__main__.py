"""``python -m ser_live``: the ``ser-live`` command."""

from .cli import main

raise SystemExit(main())

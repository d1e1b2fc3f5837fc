"""``python -m ser_live``: the ``ser-live`` command."""

from .entry import main

raise SystemExit(main())

"""The shipped models (``*.skops``) and their model cards (``*.md``).

This folder is where ``python -m train fit`` writes; ``pyproject.toml`` installs it as the
package ``ser_live.models``, found at run time with :mod:`importlib.resources` (see
:mod:`ser_live.model`). It holds no code.
"""

"""JSON Lines text: the one place records become a line of JSON.

Used by every record output (:mod:`ser_live.records`: ``ser-live predict``, ``--dask``,
``ser-live --jsonl``, the recordings index) and :func:`ser_live.plaintext.json_line`.

References
----------
.. [1] JSON Lines, https://jsonlines.org/ (one UTF-8 JSON value per line, ``\\n``-terminated).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

__all__ = ["json_line"]

#: ``json.dumps`` separators without spaces.
_COMPACT = (",", ":")


def json_line(record: Mapping[str, Any], *, compact: bool = False, newline: bool = True) -> str:
    """A record as one line of JSON, keys in the record's own order.

    Parameters
    ----------
    record : mapping
        JSON-serialisable values (``json.dumps`` rules: NaN is written as ``NaN``).
    compact : bool
        No spaces after ``,`` and ``:`` (default: ``json.dumps``'s ``", "`` and ``": "``).
    newline : bool
        End the text with ``"\\n"`` (default), as a line of a ``.jsonl`` file.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        A value is not JSON-serialisable.
    """
    text = json.dumps(record, separators=_COMPACT if compact else None)
    return text + "\n" if newline else text

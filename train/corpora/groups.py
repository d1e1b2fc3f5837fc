"""Speaker groups for speaker-independent splits: ids that may be one person share a group."""

from __future__ import annotations

from .emotiontts_kor import _KOR_SAME_PERSON
from .es_uem import ES_UEM_TESTS_GROUP

__all__ = ["speaker_group"]

#: es_uem speakers whose identity is unknown (maybe repeats of data/0-13): one group of their own.
_ES_UEM_TESTS = frozenset({"Test1", "Test2"})


def speaker_group(speaker: str) -> str:
    """The group a speaker id belongs to for speaker-independent splits.

    Parameters
    ----------
    speaker : str
        A corpus-prefixed speaker id (:attr:`Record.speaker`).

    Returns
    -------
    str
        The id itself, except for speakers who may be one person under two ids:
        ``"emotiontts_kor-nea"`` -> ``"emotiontts_kor-ema"`` and ``"emotiontts_kor-neb"``
        -> ``"emotiontts_kor-emb"`` (the corpus README calls both "speaker A"/"speaker B"),
        and ``"es_uem-Test1"``, ``"es_uem-Test2"`` -> ``"es_uem-tests"`` (whether the two
        test folders are further people or repeat folders 0-13 is unknown; the data README
        asks for one group of their own).
    """
    prefix, _, spk = speaker.partition("-")
    if prefix == "emotiontts_kor" and spk in _KOR_SAME_PERSON:
        return f"{prefix}-{_KOR_SAME_PERSON[spk]}"
    if prefix == "es_uem" and spk in _ES_UEM_TESTS:
        return ES_UEM_TESTS_GROUP
    return speaker

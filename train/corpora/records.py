"""What every corpus reader returns: :class:`Record` per utterance, :class:`ReadResult` per read.

Also the error of a missing corpus (:class:`CorpusNotFoundError`) and the label histogram.
Labels are canonical (:data:`ser_live.labels.CANONICAL_LABELS`; ``"anger"``, ``"ANG"``,
``"W"`` ... all become ``"angry"``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ser_live.errors import SerLiveError
from ser_live.labels import CANONICAL_LABELS, canonical_label

__all__ = ["CANONICAL_LABELS", "canonical_label", "Record", "ReadResult", "CorpusNotFoundError", "label_histogram",
           "example_lines"]


class CorpusNotFoundError(SerLiveError, FileNotFoundError):
    """A corpus folder (or CSV list) is missing or holds no audio files.

    The message says where it looked and how to point ser-live elsewhere (the
    ``SER_LIVE_DATA`` environment variable or an explicit root).
    """

    exit_code = 3


@dataclass(frozen=True)
class Record:
    """One utterance of a corpus, as its file name (or its corpus' label list) describes it.

    Attributes
    ----------
    path : str
        Audio file path (absolute when the reader was given an absolute root).
    corpus : str
        Corpus name, e.g. ``"ravdess"``.
    speaker : str
        Corpus-prefixed speaker id, unique across corpora: ``"ravdess-01"``, ``"tess-OAF"``,
        ``"emodb-03"``, ``"cremad-1001"``, ``"savee-DC"``, ``"ased-07"``, ``"es_uem-Test1"``.
    gender : str or None
        ``"f"``, ``"m"``, or None where the corpus does not say.
    label : str
        Canonical emotion label (one of :data:`CANONICAL_LABELS`; a user folder/CSV may add
        its own, lower-cased).
    intensity : str or None
        Emotional intensity where the corpus has one: RAVDESS ``"normal"``/``"strong"``,
        CREMA-D ``"low"``/``"medium"``/``"high"`` (None for unspecified ``XX``).
    text : str or None
        What was said; equal values mean the same words. RAVDESS: the statement ("Kids are
        talking by the door"); TESS: "Say the word <word>"; EmoDB: the text code
        (``"a01"``); CREMA-D: the sentence; ASED: the sentence code (``"n01"``); SAVEE,
        es_uem and user data: None.
    """

    path: str
    corpus: str
    speaker: str
    gender: str | None
    label: str
    intensity: str | None = None
    text: str | None = None

    @classmethod
    def of(
        cls, path: object, corpus: str, speaker_id: str, *, label: str, gender: str | None = None,
        intensity: str | None = None, text: str | None = None,
    ) -> "Record":
        """The record of a corpus file: ``path`` as a string, the speaker prefixed by the
        corpus (``Record.of(p, "emodb", "03", ...)`` has speaker ``"emodb-03"``).

        Parameters
        ----------
        path : str or Path
        corpus : str
        speaker_id : str
            The speaker as the corpus names it.
        label, gender, intensity, text
            As the attributes.

        Returns
        -------
        Record
        """
        return cls(path=str(path), corpus=corpus, speaker=f"{corpus}-{speaker_id}", gender=gender, label=label,
                   intensity=intensity, text=text)


@dataclass
class ReadResult:
    """What a reader found: usable records, and every file it could not use with the reason.

    Attributes
    ----------
    corpus : str
        Corpus name.
    root : str
        Folder (or CSV file) that was read.
    records : list of Record
        Usable records, sorted by path (in file order for a CSV list).
    problems : list of (str, str)
        ``(path, reason)`` for each file left out: a name that does not parse, an unreadable,
        empty or too short file, an unsupported format, a duplicate.
    warnings : list of (str, str)
        ``(path, reason)`` for each file kept but worth a look (longer than one utterance).
    """

    corpus: str
    root: str
    records: list[Record] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def speakers(self) -> list[str]:
        """Sorted distinct speaker ids of the records."""
        return sorted({r.speaker for r in self.records})

    def summary(self, *, max_examples: int = 5) -> str:
        """One paragraph for a log or a terminal.

        Parameters
        ----------
        max_examples : int, default 5
            How many problem files to list by name.

        Returns
        -------
        str
            Record and speaker counts, then the number of problems and up to
            ``max_examples`` of them as ``path: reason`` lines; the same for the warnings.
        """
        head = (
            f"{self.corpus} ({self.root}): {len(self.records)} records, "
            f"{len(self.speakers)} speakers, {len(self.problems)} problem files"
        )
        if not self.problems and not self.warnings:
            return head
        lines = [head + (" left out, e.g.:" if self.problems else "")]
        lines += example_lines(self.problems, max_examples)
        if self.warnings:
            lines.append(f"  {len(self.warnings)} files kept with a warning, e.g.:")
            lines += example_lines(self.warnings, max_examples)
        return "\n".join(lines)


def example_lines(items: Sequence[tuple[str, str]], max_examples: int) -> list[str]:
    """Indented ``path: reason`` lines of the first ``max_examples`` items, then
    ``"... and N more"`` when there are more.

    Parameters
    ----------
    items : sequence of (str, str)
        ``(path, reason)`` pairs.
    max_examples : int
        How many to list.

    Returns
    -------
    list of str
    """
    lines = [f"  {path}: {reason}" for path, reason in items[:max_examples]]
    if len(items) > max_examples:
        lines.append(f"  ... and {len(items) - max_examples} more")
    return lines


def label_histogram(records: Iterable[Record]) -> dict[str, int]:
    """Count records per label.

    Parameters
    ----------
    records : iterable of Record

    Returns
    -------
    dict of str to int
        Label -> count; canonical labels first in :data:`CANONICAL_LABELS` order, then any
        others alphabetically. Labels with no record are absent.
    """
    counts = Counter(r.label for r in records)
    order = {c: i for i, c in enumerate(CANONICAL_LABELS)}
    keys = sorted(counts, key=lambda k: (order.get(k, len(order)), k))
    return {k: counts[k] for k in keys}

"""The records of every ``ser-live`` output: one schema, one place.

* ``ser-live predict`` (here or ``--dask``): :func:`prediction_record` for a file or an
  utterance of it, :func:`error_record` for a file that could not be scored; CSV and Parquet
  columns :func:`record_columns` (``path``, [``start_s``, ``end_s``, [``speaker``,
  ``speaker_revised``,]] ``label``, ``confidence``, ``prob_<label>`` per label, ``arousal``,
  ``valence``, ``uncertain``, [``profile``,] ``error``), JSON lines the record itself;
  :class:`RecordWriter` writes them.
* ``ser-live --jsonl`` (listen): :func:`utterance_record` (``"kind": "utterance"``); with
  ``--revisions`` and speaker turns, :func:`speakers_moved_record` when the run's re-clustering
  moved earlier utterances; as they happen, :func:`dropped_record` (audio lost) and
  :func:`input_record` (the input fell silent, or came back). Every listen record but the
  revision ones carries ``kind`` and ``wall_time`` (:func:`wall_time`).
* the recordings index (``--save-utterances``, :mod:`ser_live.recordings`): :func:`index_record`,
  the ``--jsonl`` line of the same utterance (:func:`utterance_record`) plus ``wav`` and ``source``.

With speaker turns (``--speakers``) the listen records and the index carry ``speaker`` and
``speaker_rolling`` (:meth:`Result.to_json <ser_live.types.Result.to_json>`), and
``predict --segments`` records ``speaker`` (at the moment, as live) and ``speaker_revised``
(after the last re-clustering that held the utterance: the file's last one for its latest
200 utterances).

Every record of a classified utterance or file carries ``arousal`` and ``valence`` in [-1, 1],
read off its probabilities by :mod:`ser_live.affect` (listen records also of their rolling
estimates: ``rolling_arousal``, ``rolling_valence``, and with speakers
``speaker_rolling_arousal``, ``speaker_rolling_valence``); null when the model has a label
without a circumplex position, and in an error record.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .affect import AFFECT_AXES, affect_record
from .errors import ExitCode, SerLiveError
from .jsonl import json_line

if TYPE_CHECKING:  # pragma: no cover
    from .revision import RevisedTally
    from .types import Prediction, Result, RunSummary, UncertaintyRule

__all__ = ["OUTPUT_SUFFIXES", "PROB_PREFIX", "ErrorRecord", "RecordWriter", "dropped_record", "error_record",
           "failure_exit_code", "index_record", "input_record", "output_format", "prediction_record",
           "record_columns", "record_row", "SILENT_REASONS", "speakers_moved_record", "summary_record", "text_cell",
           "utterance_record", "wall_time", "with_profile"]

log = logging.getLogger(__name__)

#: Output formats of :class:`RecordWriter`, by file suffix.
OUTPUT_SUFFIXES: tuple[str, ...] = (".parquet", ".jsonl", ".csv")
#: Format of each output suffix (``--output``'s suffix picks the format, with or without ``--dask``).
SUFFIX_FORMATS: dict[str, str] = {suffix: suffix.lstrip(".") for suffix in OUTPUT_SUFFIXES}
#: Prefix of a label's probability column in CSV and Parquet (``prob_<label>``).
PROB_PREFIX: str = "prob_"


def record_columns(labels: Sequence[str], *, segments: bool = False, speakers: bool = False,
                   profile: bool = False) -> list[str]:
    """The CSV/Parquet columns of ``ser-live predict`` records.

    Parameters
    ----------
    labels : sequence of str
        The model's labels, in its order.
    segments : bool, default False
        Records of utterances (``--segments``): ``start_s`` and ``end_s`` after ``path``.
    speakers : bool, default False
        With ``segments``, speaker turns (``--speakers`` 2 or more): ``speaker`` and
        ``speaker_revised`` after ``end_s``.
    profile : bool, default False
        Records of a run with ``--profile``: ``profile`` (its name) before ``error``, as in
        the JSON lines (:func:`with_profile`).

    Returns
    -------
    list of str
        ``path``, [``start_s``, ``end_s``, [``speaker``, ``speaker_revised``,]] ``label``,
        ``confidence``, ``prob_<label>`` for every label, ``arousal``, ``valence``,
        ``uncertain`` (true when no label is claimed, as live; empty for a failed file),
        [``profile``,] ``error``.
    """
    span = (["start_s", "end_s"] + (["speaker", "speaker_revised"] if speakers else [])) if segments else []
    return ["path", *span, "label", "confidence", *(f"{PROB_PREFIX}{lab}" for lab in labels), *AFFECT_AXES,
            "uncertain", *(["profile"] if profile else []), "error"]


def record_row(record: dict[str, Any], columns: Sequence[str]) -> list[Any]:
    """A record's values in the order of ``columns`` (:func:`record_columns`); a missing
    value (an error record's probabilities) is None.

    Parameters
    ----------
    record : dict
        :func:`prediction_record` or :func:`error_record`.
    columns : sequence of str

    Returns
    -------
    list
    """
    probs = record.get("probabilities") or {}
    return [probs.get(c[len(PROB_PREFIX):]) if c.startswith(PROB_PREFIX) else text_cell(record.get(c))
            for c in columns]


def text_cell(value: Any) -> Any:
    """A value as a CSV cell or Parquet string holds it, both UTF-8: a ``str`` holding a file
    name's bytes that are not UTF-8 (Python's surrogate escapes, ``n\\udce9.wav`` from a
    Latin-1 system) becomes the text of that escape, as stderr and JSON lines show it (no
    UTF-8 file can hold the byte itself); any other value is returned as it is.

    Parameters
    ----------
    value : Any

    Returns
    -------
    Any
        ``value``, or for such a ``str`` its escaped text (``"n\\\\udce9.wav"``, ASCII backslash).
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def prediction_record(
    path: str, pred: "Prediction", *, start_s: float | None = None, end_s: float | None = None,
    session_utterances: int | None = None, profile: str | None = None, speaker: str | None = None,
    speaker_revised: str | None = None, uncertainty: "UncertaintyRule | None" = None,
) -> dict[str, Any]:
    """The record of one prediction of ``ser-live predict`` (a whole file, or with ``start_s``
    and ``end_s`` one utterance of it): confidence and probabilities rounded to 4 decimals.

    Parameters
    ----------
    path : str
    pred : ser_live.types.Prediction
    start_s, end_s : float, optional
        The utterance's span in the file (seconds; rounded to 3 decimals), ``--segments``.
    session_utterances : int, optional
        Utterances the session statistics rest on (``--segments`` with a session normaliser).
    profile : str, optional
        The ``--profile``'s name.
    speaker : str, optional
        The utterance's speaker (``--segments --speakers``: ``"A"``, ``"B"``, ...), at the
        moment it was classified (as live shows it).
    speaker_revised : str, optional
        Its speaker after the last re-clustering that held it (:attr:`Result.speaker_revised
        <ser_live.types.Result.speaker_revised>`); written with ``speaker``.
    uncertainty : UncertaintyRule, optional
        The run's rule for ``uncertain`` (``--uncertain-margin``, ``--uncertain-below``).

    Returns
    -------
    dict
        ``path``, [``start_s``, ``end_s``,] [``speaker``, ``speaker_revised``,] ``label``,
        ``confidence``, ``probabilities`` (label -> float), ``arousal``, ``valence`` (in
        [-1, 1], rounded to 4 decimals, read off the unrounded probabilities by
        :func:`ser_live.affect.affect_of`; None for a model with a label without a circumplex
        position), [``session_utterances``,] [``noise_branch``
        for a model with a noise branch,] ``uncertain`` (``uncertainty.applies(pred)``, the
        rule live uses; None without ``uncertainty``), [``profile``,] ``error`` (None). CSV
        and Parquet keep the columns of :func:`record_columns`.
    """
    rec: dict[str, Any] = {"path": path}
    if start_s is not None and end_s is not None:
        rec["start_s"], rec["end_s"] = round(float(start_s), 3), round(float(end_s), 3)
    if speaker is not None:
        rec["speaker"] = speaker
        rec["speaker_revised"] = speaker_revised
    rec.update(label=pred.label, confidence=round(float(pred.confidence), 4),
               probabilities={k: round(float(v), 4) for k, v in pred.probabilities.items()},
               **affect_record(pred.probabilities))
    if session_utterances is not None:
        rec["session_utterances"] = int(session_utterances)
    if pred.noise_branch is not None:
        rec["noise_branch"] = bool(pred.noise_branch)
    rec["uncertain"] = None if uncertainty is None else bool(uncertainty.applies(pred))
    if profile is not None:
        rec["profile"] = profile
    rec["error"] = None
    return rec


class ErrorRecord(dict):
    """The record of a file that could not be scored (a dict, written like any record), with
    the exit status of its failure in :attr:`exit_code` (not written; it travels with the
    record from a Dask worker).

    Attributes
    ----------
    exit_code : int
        :attr:`SerLiveError.exit_code <ser_live.errors.SerLiveError.exit_code>` of the
        failure (3 unusable file, 4 no speech), 1 for any other failure (a worker crash).
    """

    exit_code: int = int(ExitCode.ERROR)


def error_record(path: str, exc: BaseException | str, *, segments: bool = False) -> ErrorRecord:
    """The record of a file that could not be scored: no label, the error as text.

    Parameters
    ----------
    path : str
    exc : exception or str
        A :class:`~ser_live.errors.SerLiveError` keeps its exit status; any other
        exception or a message is exit status 1.
    segments : bool, default False
        Records of utterances (``--segments``): ``start_s`` and ``end_s`` (None) too, so
        that every JSON line of the run has the same keys.

    Returns
    -------
    ErrorRecord
        ``path``, [``start_s``, ``end_s``,] ``label`` (None), ``confidence`` (None),
        ``probabilities`` (None), ``arousal`` (None), ``valence`` (None), ``uncertain``
        (None), ``error``.
    """
    msg = exc if isinstance(exc, str) else (str(exc) if isinstance(exc, SerLiveError) else f"{type(exc).__name__}: {exc}")
    rec = ErrorRecord(path=path)
    if segments:
        rec.update(start_s=None, end_s=None)
    rec.update(label=None, confidence=None, probabilities=None, **affect_record(None), uncertain=None, error=msg)
    rec.exit_code = int(exc.exit_code) if isinstance(exc, SerLiveError) else int(ExitCode.ERROR)
    return rec


def with_profile(record: dict[str, Any], profile: str | None) -> dict[str, Any]:
    """The record with ``profile`` (the ``--profile``'s name) before ``error``, as
    :func:`prediction_record` puts it; the record itself when ``profile`` is None.

    Parameters
    ----------
    record : dict
        :func:`prediction_record` or :func:`error_record` (an :class:`ErrorRecord` stays one).
    profile : str or None

    Returns
    -------
    dict
    """
    if profile is None or "profile" in record:
        return record
    out = type(record)((k, v) for k, v in record.items() if k != "error")
    if isinstance(record, ErrorRecord):
        out.exit_code = record.exit_code
    out["profile"] = profile
    out["error"] = record.get("error")
    return out


def failure_exit_code(codes: Sequence[int] | set[int]) -> int:
    """The exit status of a ``ser-live predict`` run whose files failed with ``codes``: the
    same for the same failures whatever their order, with or without ``--dask``.

    Parameters
    ----------
    codes : collection of int
        :attr:`ErrorRecord.exit_code` of every failed file.

    Returns
    -------
    int
        0 when nothing failed; else 3 when some file was unusable, else 4 when some file
        held no speech, else 1.
    """
    codes = set(int(c) for c in codes)
    if not codes:
        return int(ExitCode.OK)
    for code in (ExitCode.AUDIO_FILE, ExitCode.NO_SPEECH):
        if int(code) in codes:
            return int(code)
    return int(ExitCode.ERROR)


def output_format(output: str | Path | None, fmt: str | None) -> str:
    """The format of ``ser-live predict``'s records: ``--output``'s suffix, else ``--format``.

    Parameters
    ----------
    output : str or Path or None
        ``--output`` (None: stdout).
    fmt : {"jsonl", "csv"} or None
        ``--format`` (None when not given).

    Returns
    -------
    str
        ``"jsonl"``, ``"csv"`` or ``"parquet"`` (a file only).

    Raises
    ------
    ValueError
        A suffix not in :data:`OUTPUT_SUFFIXES` (an existing folder without one is named as a
        folder), or a ``--format`` that contradicts the suffix.
    """
    if output is None:
        return fmt or "jsonl"
    suffix = Path(output).suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        if Path(output).is_dir():  # a folder given for the file: say so, not "the suffix picks"
            raise ValueError(f"--output {output} is a folder: name a file in it, e.g. "
                             f"{Path(output) / 'predictions.jsonl'} (.jsonl, .csv or .parquet)")
        hint = " (JSON lines: name it .jsonl)" if suffix == ".json" else ""
        raise ValueError(f"--output {output}: the suffix picks the format; use one of "
                         f"{', '.join(OUTPUT_SUFFIXES)}{hint}")
    got = SUFFIX_FORMATS[suffix]
    if fmt is not None and fmt != got:
        raise ValueError(f"--format {fmt} contradicts --output {output} ({got}); the suffix picks the format, "
                         "drop --format or rename the file")
    return got


def utterance_record(result: "Result", *, flags: "UncertaintyRule | None" = None,
                     profile: str | None = None, uncertainty: "UncertaintyRule | None" = None) -> dict[str, Any]:
    """A ``ser-live --jsonl`` line's record: ``"kind": "utterance"``, then
    :meth:`Result.to_json`, plus ``uncertain``, ``profile`` and ``wall_time``.

    Parameters
    ----------
    result : Result
    flags : UncertaintyRule, optional
        ``--partial``: adds ``final`` and ``uncertain``.
    profile : str, optional
        The ``--profile``'s name.
    uncertainty : UncertaintyRule, optional
        The run's rule: ``uncertain`` (true/false) is on every line, with or without
        ``--partial`` (the label and probabilities stay).

    Returns
    -------
    dict
        ``kind``, the keys of :meth:`Result.to_json <ser_live.types.Result.to_json>`
        (with ``flags``: ``final``, ``uncertain``), [``uncertain``,] [``profile``,]
        ``wall_time`` (:func:`wall_time` of ``result.ready_time``).
    """
    record = {"kind": "utterance", **result.to_json(flags=flags)}
    if uncertainty is not None and "uncertain" not in record:
        record["uncertain"] = uncertainty.applies(result.prediction)
    if profile is not None:
        record["profile"] = profile
    record["wall_time"] = wall_time(result.ready_time)
    return record


#: ``time.time() - time.perf_counter()`` when this module was imported: the one offset that
#: turns a ``perf_counter`` instant into the wall clock, so that one instant always reads the
#: same (the ``--jsonl`` line and the recordings index line of an utterance agree).
_WALL_OFFSET_S: float = time.time() - time.perf_counter()


def wall_time(perf_t: float | None = None) -> str:
    """The wall-clock time of a ``time.perf_counter()`` instant, as listen records give it.

    Parameters
    ----------
    perf_t : float, optional
        A ``time.perf_counter()`` value (seconds), e.g. :attr:`Result.ready_time
        <ser_live.types.Result.ready_time>`; now when None.

    Returns
    -------
    str
        ISO 8601 in UTC to the millisecond, e.g. ``"2026-12-04T22:51:03.123Z"``. Read off the
        monotonic clock from an offset taken once per process, so the times of a run never go
        backwards; a wall clock stepped during the run (NTP) is not followed.
    """
    t = _WALL_OFFSET_S + (time.perf_counter() if perf_t is None else float(perf_t))
    whole = time.gmtime(int(t))
    return time.strftime("%Y-%m-%dT%H:%M:%S", whole) + f".{int((t - int(t)) * 1000):03d}Z"


def dropped_record(*, stream_s: float, dropped_samples: int, input_overflows: int, dropped_utterances: int,
                   total_samples: int, total_input_overflows: int, total_utterances: int,
                   sample_rate_hz: int, perf_t: float | None = None) -> dict[str, Any]:
    """The ``--jsonl`` record of audio lost since the previous one (``"kind": "dropped"``).

    Parameters
    ----------
    stream_s : float
        Where the stream was when the loss was seen (stream seconds, as ``start_s``).
    dropped_samples : int
        Samples the ring buffer dropped since the previous record (the recogniser fell
        behind: :attr:`RecognizerStatus.dropped_samples
        <ser_live.types.RecognizerStatus.dropped_samples>`).
    input_overflows : int
        PortAudio input overflows since the previous record: callbacks in which the device
        reported lost input (a count of events, not of samples; what they lost is not in
        ``dropped_samples``).
    dropped_utterances : int
        Utterances not classified since the previous record (the worker's queue was full).
    total_samples, total_input_overflows, total_utterances : int
        The same counts since the start of the run.
    sample_rate_hz : int
        Of the stream: samples to seconds.
    perf_t : float, optional
        ``time.perf_counter()`` when the loss was seen (default now).

    Returns
    -------
    dict
        ``kind``, ``stream_s``, ``wall_time`` (:func:`wall_time`), ``dropped_samples``,
        ``dropped_s`` (seconds, 3 decimals), ``input_overflows``, ``dropped_utterances``, and
        ``total_dropped_samples``, ``total_dropped_s``, ``total_input_overflows``,
        ``total_dropped_utterances``.
    """
    return {
        "kind": "dropped", "stream_s": round(float(stream_s), 3), "wall_time": wall_time(perf_t),
        "dropped_samples": int(dropped_samples), "dropped_s": round(dropped_samples / sample_rate_hz, 3),
        "input_overflows": int(input_overflows), "dropped_utterances": int(dropped_utterances),
        "total_dropped_samples": int(total_samples), "total_dropped_s": round(total_samples / sample_rate_hz, 3),
        "total_input_overflows": int(total_input_overflows), "total_dropped_utterances": int(total_utterances),
    }


def summary_record(summary: "RunSummary", *, exit_status: int, error: str | None = None,
                   uncertain: dict[str, int] | None = None, revised: "RevisedTally | None" = None) -> dict[str, Any]:
    """The last ``--jsonl`` record of a run with ``--jsonl-summary`` (``"kind": "summary"``):
    the exit summary's figures, and how the run ended.

    Parameters
    ----------
    summary : RunSummary
        :meth:`Recognizer.summary <ser_live.pipeline.Recognizer.summary>` after the run.
    exit_status : int
        The status ``ser-live`` exits with (:class:`~ser_live.errors.ExitCode`; 130 interrupted).
    error : str, optional
        Why the run ended early (the ``error:`` line on stderr), None otherwise.
    uncertain : dict of str to int, optional
        Utterances shown as "uncertain", per predicted label (taken out of ``labels``).
    revised : RevisedTally, optional
        The results as session revision left them.

    Returns
    -------
    dict
        ``kind``, ``wall_time``, ``exit_status``, ``error``, ``utterances``, ``labels``
        (label -> utterances shown with it, most first), ``uncertain`` (utterances), with
        ``revised`` ``labels_revised`` (label or ``"uncertain"`` -> utterances) and
        ``rolling_revised`` (label -> probability), ``processing_ms`` and
        ``end_of_speech_ms`` (``p50``, ``p95``, ``max``; empty without utterances),
        ``audio_s``, ``dropped_samples``, ``dropped_s``, ``input_overflows``,
        ``dropped_short``, ``dropped_utterances``, ``utterances_saved`` (null without
        ``--save-utterances``), ``rolling`` (label -> probability), ``rolling_arousal``,
        ``rolling_valence``.
    """
    from .plaintext import shown_label_counts

    record: dict[str, Any] = {
        "kind": "summary", "wall_time": wall_time(), "exit_status": int(exit_status), "error": error,
        "utterances": int(summary.n_utterances), "labels": dict(shown_label_counts(summary, uncertain)),
        "uncertain": int(sum((uncertain or {}).values())),
    }
    if revised is not None:
        record["labels_revised"] = revised.label_counts()
        record["rolling_revised"] = _rounded(revised.rolling, 4)
    record.update({
        "processing_ms": _rounded(summary.processing_ms, 2), "end_of_speech_ms": _rounded(summary.end_of_speech_ms, 2),
        "audio_s": round(float(summary.audio_s), 3), "dropped_samples": int(summary.dropped_samples),
        "dropped_s": round(float(summary.dropped_s), 3), "input_overflows": int(summary.input_overflows),
        "dropped_short": int(summary.dropped_short), "dropped_utterances": int(summary.dropped_utterances),
        "utterances_saved": summary.n_saved, "rolling": _rounded(summary.rolling, 4),
        **affect_record(summary.rolling, prefix="rolling_"),
    })
    return record


def _rounded(values: dict[str, float], digits: int) -> dict[str, float]:
    return {k: round(float(v), digits) for k, v in values.items()}


#: Why the input is silent (:func:`input_record`): exact digital zeros (a muted microphone), or
#: no samples at all (a suspended or stalled source).
SILENT_REASONS: tuple[str, ...] = ("zeros", "no_audio")


def input_record(*, state: str, stream_s: float, for_s: float, reason: str | None = None,
                 perf_t: float | None = None) -> dict[str, Any]:
    """The ``--jsonl`` record of the input falling silent or coming back (``"kind": "input"``).

    Parameters
    ----------
    state : {"silent", "back"}
    stream_s : float
        Where the stream was when it was seen (stream seconds).
    for_s : float
        ``"silent"``: how long the input had been silent when it was reported; ``"back"``:
        how long it was silent in all. Seconds of the stream for zeros; of the wall clock
        where no audio came (the stream stood still).
    reason : {"zeros", "no_audio"}, optional
        With ``"silent"``: :data:`SILENT_REASONS`.
    perf_t : float, optional
        ``time.perf_counter()`` when it was seen (default now).

    Returns
    -------
    dict
        ``kind``, ``state``, [``reason``,] ``stream_s``, ``wall_time``, ``for_s``.

    Raises
    ------
    ValueError
        Another ``state``, a ``reason`` missing with ``"silent"`` or given with
        ``"back"``, or one not in :data:`SILENT_REASONS`.
    """
    if state not in ("silent", "back") or (state == "silent") != (reason is not None) or \
            (reason is not None and reason not in SILENT_REASONS):
        raise ValueError(f"input record: state {state!r} with reason {reason!r}")
    return {"kind": "input", "state": state, **({"reason": reason} if reason is not None else {}),
            "stream_s": round(float(stream_s), 3), "wall_time": wall_time(perf_t), "for_s": round(float(for_s), 3)}


def speakers_moved_record(result: "Result") -> dict[str, Any]:
    """The ``ser-live --revisions`` line after an utterance whose arrival re-clustered the
    run's speakers (:attr:`Result.speakers_moved <ser_live.types.Result.speakers_moved>`).

    Parameters
    ----------
    result : Result
        A final result with speaker turns.

    Returns
    -------
    dict
        ``{"kind": "speakers", "index": <the utterance>, "speakers": [{"index": i,
        "speaker": "B"}, ...]}``: each moved utterance and its speaker now, in order of
        arrival. The line moves labels only: each moved utterance's new prediction comes in a
        later ``{"kind": "revision"}`` line of its new speaker, when that speaker's session
        revision re-scores it (while that session is still revised, :mod:`ser_live.revision`;
        its features have moved sessions either way, :meth:`SpeakerSessions.follow
        <ser_live.speakers.SpeakerSessions.follow>`).
    """
    return {"kind": "speakers", "index": int(result.utterance.index),
            "speakers": [{"index": int(i), "speaker": lab} for i, lab in result.speakers_moved.items()]}


def index_record(result: "Result", *, wav: str, source: str, flags: "UncertaintyRule | None" = None,
                 profile: str | None = None, uncertainty: "UncertaintyRule | None" = None) -> dict[str, Any]:
    """A line of the recordings index (``index.jsonl``): the ``--jsonl`` line of the same
    utterance (:func:`utterance_record`, the same keys and values) plus ``wav`` (the file
    name) and ``source``.

    Parameters
    ----------
    result : Result
    wav : str
    source : str
    flags, profile, uncertainty
        As :func:`utterance_record` (the run's ``--partial`` flags, ``--profile`` name and
        uncertainty rule).

    Returns
    -------
    dict
    """
    record = utterance_record(result, flags=flags, profile=profile, uncertainty=uncertainty)
    record["wav"] = wav
    record["source"] = source
    return record


class RecordWriter:
    """Writes prediction records to a ``.parquet``, ``.jsonl`` or ``.csv`` file (or JSON
    lines to a text stream), a batch at a time, each batch on disk when :meth:`write` returns
    (Parquet: when the writer is closed, see below).

    Parameters
    ----------
    path : str or Path or None
        Output file; its suffix picks the format. None writes JSON lines (or CSV with
        ``fmt="csv"``) to ``stream``.
    labels : sequence of str
        The model's labels (Parquet and CSV columns ``prob_<label>``).
    segments : bool, default False
        Records of utterances: CSV and Parquet columns ``start_s`` and ``end_s`` too.
    speakers : bool, default False
        With ``segments``, speaker turns: a ``speaker`` column too.
    profile : bool, default False
        Records of a run with ``--profile``: a ``profile`` column too.
    resume : bool, default False
        Keep the records already in ``path`` (:attr:`done` holds their paths) and add to
        them; otherwise ``path`` is replaced.
    overwrite : bool, default True
        Without ``resume``, replace an existing ``path``; False refuses one (ValueError),
        so a run never discards an earlier run's records unasked (``predict --dask``
        without ``--overwrite``).
    keep_earlier : bool, default False
        A run that ends by an error or an interrupt (``close(keep=False)``) after writing
        records does not replace an earlier file at ``path``: its records are finished as
        :attr:`partial_path` (``<stem>.partial<suffix>`` beside it) instead, and the
        earlier file stays whole (``predict`` without ``--dask``, where a run replaces its
        output by default). Without an earlier file, ``path`` gets them, as without it.
    redo_last_file : bool, default False
        With ``resume``, the records of the file the output ends with are removed from it
        and that file is left out of :attr:`done`, to be classified again whole (``predict
        --segments --resume``: a run stopped inside a file wrote its first utterances only,
        and the file's session and speakers need them all again).
    parquet_group_rows : int, optional
        Parquet: records are held until this many are pending, then written as one row
        group (and the rest when the writer closes). None: a row group per :meth:`write`,
        in the file when it returns (``--dask``: a task's records). A row group costs about
        2 kB of file and 20 kB of the writer's memory until it closes, so ``predict``
        without ``--dask``, which writes a file at a time, holds many (the temporary file
        is not a readable Parquet file before :meth:`close` anyway).
    stream : text stream, optional
        Where records go when ``path`` is None (default stdout).
    fmt : {"jsonl", "csv"}, optional
        Format for a stream.

    Notes
    -----
    Parquet columns (:func:`record_columns`): ``path`` (string), [``start_s``, ``end_s``
    (float64),] [``speaker`` (string),] ``label`` (string), ``confidence`` (float64),
    ``prob_<label>`` per label (float64), ``arousal``, ``valence`` (float64), ``uncertain``
    (bool), [``profile`` (string),] ``error`` (string); one row group per batch (or per
    ``parquet_group_rows`` records), flushed to the file when it is written.

    Nothing is written through ``path`` until the run is over: the records go to a
    temporary file of an unguessable name in its folder (``.<name>.<random>.tmp``, created
    with ``O_EXCL | O_NOFOLLOW``, :func:`ser_live.fsutil.atomic_writer`), and
    :meth:`close` renames it over ``path`` when records were written or the writer closes
    without an error (``__exit__``); a run that wrote nothing and failed (an unreachable
    cluster) removes it, so an earlier ``path`` stays as it was. The writer closes on any
    exit of a ``with`` block (Ctrl-C, a stop signal turned into one, a lost cluster, an
    error), so ``path`` is always a complete file; a process killed outright (SIGKILL) leaves
    the previous ``path`` as it was and the temporary file beside it. On resume JSON lines
    and CSV are appended to ``path`` itself and flushed per batch (a torn last line, from a
    killed writer, is cut off first); Parquet, which cannot be appended to, is rewritten
    (old rows, then new) through the temporary file.

    Raises
    ------
    ValueError
        Unknown suffix, on resume a file written for other labels, or an existing ``path``
        with neither ``resume`` nor ``overwrite``.
    OSError
        The file cannot be written (raised at construction, before anything is scored,
        for a folder at ``path`` or one that cannot be written, NotADirectoryError when a
        part of its folder is a file; a full disk is found at the first :meth:`write`).
    """

    def __init__(self, path: str | Path | None, *, labels: Sequence[str], resume: bool = False,
                 overwrite: bool = True, stream: io.TextIOBase | None = None, fmt: str = "jsonl",
                 segments: bool = False, speakers: bool = False, keep_earlier: bool = False,
                 profile: bool = False, redo_last_file: bool = False, parquet_group_rows: int | None = None) -> None:
        self.labels = list(labels)
        #: Where a failed run's records went instead of ``path`` (``keep_earlier``), else None.
        self.partial_path: Path | None = None
        self._keep_earlier = bool(keep_earlier) and path is not None and not resume and Path(path).is_file()
        self.columns = record_columns(self.labels, segments=segments, speakers=speakers, profile=profile)
        self.path = Path(path) if path is not None else None
        self.done: set[str] = set()
        self._redo_last = bool(redo_last_file)
        self._group_rows = 1 if parquet_group_rows is None else max(1, int(parquet_group_rows))
        self._pending: list[list[Any]] = []  # Parquet rows not yet in a row group
        self.n_written = 0
        #: Where the records written before a failed write (a full disk) were kept, else None
        #: (:meth:`close`; JSON lines and CSV written through a temporary file).
        self.kept_path: Path | None = None
        self._good_size = 0  # bytes of whole records in the temporary file after the last write
        self._pq = None
        self._file: Any = None
        self._csv: Any = None
        self._tmp: Any = None  # fsutil.atomic_writer of the temporary file, None when appending
        self._bin: Any = None  # its binary file
        if self.path is None:
            self.fmt = fmt
            self._file = stream or sys.stdout
        else:
            self.fmt = self.path.suffix.lower().lstrip(".")
            if "." + self.fmt not in OUTPUT_SUFFIXES:
                raise ValueError(f"{self.path}: unknown output format; use one of {', '.join(OUTPUT_SUFFIXES)}")
            if not resume and not overwrite and (self.path.exists() or self.path.is_symlink()):
                raise ValueError(f"{self.path} exists: add to it with --resume, or replace it with --overwrite")
            if self.path.is_dir():  # refused before anything is scored, not when renaming at the end
                raise IsADirectoryError(errno.EISDIR, "Is a directory", str(self.path))
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except FileExistsError as exc:  # a part of the folder is a file: say so, not "File exists"
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), exc.filename) from exc
            if self.fmt == "parquet":
                self._open_parquet(resume)
            else:
                self._open_text(resume)
        if self.fmt == "csv":
            self._csv = csv.writer(self._file, lineterminator="\n")
            if self.path is None or self._file.tell() == 0:
                self._csv.writerow(self.columns)
                self._file.flush()
        self._mark_whole()

    def _open_text(self, resume: bool) -> None:
        assert self.path is not None
        if resume and self.path.exists():
            data = self.path.read_bytes()
            keep = data.rfind(b"\n") + 1  # a torn last line (a killed writer) is cut off
            rows = self._read_records(data[:keep].decode("utf-8", errors="replace"))
            drop = _last_file_start([p for p, _ in rows]) if self._redo_last else len(rows)
            self.done = {p for p, _ in rows[:drop]}
            if keep < len(data):
                log.warning("%s: dropping a torn last line of %d bytes", self.path, len(data) - keep)
            if drop < len(rows):  # the records from the first line of the file classified again
                keep = sum(len(line) + 1 for line in data.split(b"\n")[: rows[drop][1]])
            if keep < len(data):
                with open(self.path, "rb+") as f:
                    f.truncate(keep)
            self._file = open(self.path, "a", encoding="utf-8", newline="")
        else:
            self._file = io.TextIOWrapper(self._open_temporary(), encoding="utf-8", newline="")

    def _open_temporary(self) -> Any:
        """The binary temporary file that :meth:`close` renames over ``path``."""
        from .fsutil import atomic_writer

        assert self.path is not None
        self._tmp = atomic_writer(self.path)
        self._bin = self._tmp.__enter__()
        return self._bin

    def _read_records(self, text: str) -> list[tuple[str, int]]:
        """The records of a ``.jsonl``/``.csv`` output (checked before any change): each
        one's path and the line (0-based) it starts on."""
        bad = ValueError(f"{self.path}: not records of this run in {self.fmt} form (another model, another "
                         "--profile, with or without --segments or --speakers, or written by another ser-live "
                         "version), cannot resume from it; write to another file")
        if self.fmt == "jsonl":
            try:
                records = [(json.loads(line), i) for i, line in enumerate(text.split("\n")) if line.strip()]
                if not all(self._is_of_this_run(r) for r, _ in records):
                    raise bad
                return [(r["path"], i) for r, i in records]
            except (ValueError, KeyError, TypeError, AttributeError):
                raise bad from None
        if not text:
            return []
        reader = csv.reader(io.StringIO(text, newline=""))
        if next(reader, []) != self.columns:
            raise bad
        rows, line = [], reader.line_num
        for row in reader:  # a quoted cell may span lines: a record starts where the last one ended
            rows.append((row[0], line))
            line = reader.line_num
        return rows

    def _is_of_this_run(self, record: dict[str, Any]) -> bool:
        """Whether a JSON record read back on resume has this run's shape, as a CSV header or
        Parquet schema is checked: the model's labels, utterance times with ``--segments``,
        a speaker with ``--speakers``, a profile with ``--profile``."""
        probs = record.get("probabilities")
        if probs is not None and list(probs) != self.labels:
            return False
        keys = ["start_s", "profile"] + (["speaker"] if record.get("error") is None else [])
        return all((k in record) == (k in self.columns) for k in keys)

    def _schema(self) -> Any:
        import pyarrow as pa

        text = {"path", "speaker", "speaker_revised", "label", "profile", "error"}
        return pa.schema([(c, pa.string() if c in text else pa.bool_() if c == "uncertain" else pa.float64())
                          for c in self.columns])

    def _open_parquet(self, resume: bool) -> None:
        import pyarrow.parquet as pq

        assert self.path is not None
        old = None
        if resume and self.path.exists():
            try:
                old = pq.read_table(self.path)
            except Exception as exc:  # noqa: BLE001 - pyarrow raises its own types
                raise ValueError(f"{self.path}: not a readable Parquet file, cannot resume from it: {exc}") from exc
            if old.schema.names != self._schema().names:
                raise ValueError(f"{self.path}: its columns are not those of this run's records (another model, "
                                 "another --profile, or written by another ser-live version); write to another file")
            paths = old.column("path").to_pylist()
            drop = _last_file_start(paths) if self._redo_last else len(paths)
            old, self.done = old.slice(0, drop), set(paths[:drop])
        self._pq = pq.ParquetWriter(self._open_temporary(), self._schema())
        if old is not None and old.num_rows:
            self._pq.write_table(old.cast(self._schema()))

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        """Write a batch of records (:func:`prediction_record` / :func:`error_record`).

        Raises
        ------
        OSError
            The file cannot be written (naming ``path`` when the system did not: a full
            disk's ENOSPC names no file).
        """
        if not records:
            return
        with self._naming_path():
            self._write(records)

    @contextlib.contextmanager
    def _naming_path(self) -> Iterator[None]:
        """An OSError of the block that names no file gets ``path``, the file written."""
        try:
            yield
        except OSError as exc:
            if exc.filename is None and self.path is not None:
                exc.filename = str(self.path)
            raise

    def _write(self, records: Sequence[dict[str, Any]]) -> None:
        if self._pq is not None:
            self._pending += [record_row(r, self.columns) for r in records]
            if len(self._pending) >= self._group_rows:
                self._write_row_group()
        elif self._csv is not None:
            self._csv.writerows(record_row(r, self.columns) for r in records)
            self._file.flush()
        else:
            self._file.write("".join(json_line(r) for r in records))
            self._file.flush()
        self._mark_whole()
        self.n_written += len(records)
        self.done.update(r["path"] for r in records)

    def _mark_whole(self) -> None:
        """Note the temporary text file's length after a write that ended whole (every
        record so far complete on disk): what :meth:`_keep_whole` cuts back to."""
        if self._tmp is not None and self._pq is None:
            self._good_size = self._bin.tell()

    def _keep_whole(self) -> bool:
        """After a write that failed (a full disk: a torn last record, unwritten buffers),
        keep the temporary text file's records written whole before it, as an interrupt
        keeps them: cut back to them, synced, and renamed to ``path`` (``partial_path``
        with ``keep_earlier``: the earlier file stays). Sets :attr:`kept_path`.

        Returns
        -------
        bool
            False when nothing was kept (no whole record, Parquet, or the file could not
            be cut, synced or renamed: it is then removed as before).
        """
        if self._bin is None or self.fmt == "parquet" or not self.n_written:
            return False
        assert self.path is not None
        fd = self._bin.fileno()
        target = self._partial_target() if self._keep_earlier else self.path
        try:
            os.ftruncate(fd, self._good_size)
            os.fsync(fd)
            os.replace(self._bin.temporary_path, target)
        except OSError:
            return False
        # the writers' unwritten buffers now go to /dev/null when they are closed, not into
        # the file just kept (its descriptor is pointed elsewhere; closing it instead could
        # close a descriptor another thread opened meanwhile under the same number)
        from .fsutil import point_at_devnull

        point_at_devnull(fd)
        self.kept_path = target
        if self._keep_earlier:
            self.partial_path = target
        return True

    def _partial_target(self) -> Path:
        """Where a failed run's records go with ``keep_earlier``: ``<stem>.partial<suffix>``
        beside ``path``."""
        assert self.path is not None
        return self.path.with_name(f"{self.path.stem}.partial{self.path.suffix}")

    def _write_row_group(self) -> None:
        """The pending Parquet rows as one row group, in the file (not in a buffer) on return."""
        import pyarrow as pa

        rows, self._pending = self._pending, []
        if rows:
            self._pq.write_table(pa.table({c: [row[i] for row in rows] for i, c in enumerate(self.columns)},
                                          schema=self._schema()))
            self._bin.flush()

    def close(self, *, keep: bool = True) -> None:
        """Finish the file: Parquet footer written, the temporary file flushed to disk and
        renamed over ``path`` (appended JSON lines/CSV: closed). Idempotent.

        Parameters
        ----------
        keep : bool, default True
            False (a failed run) keeps the temporary file only when records were written
            to it; otherwise it is removed and ``path`` left as it was.

        Raises
        ------
        OSError
            The file cannot be finished (disk full): ``path`` is left as it was, but for
            JSON lines and CSV whose records were written whole before the failure: those
            are kept in ``path`` (``partial_path`` with ``keep_earlier``), as an interrupt
            keeps them, and :attr:`kept_path` says where.
        """
        with self._naming_path():
            self._close(keep=keep)

    def _close(self, *, keep: bool) -> None:
        tmp, self._tmp = self._tmp, None
        try:
            if self._pq is not None:
                pqw = self._pq
                try:
                    self._write_row_group()
                    pqw.close()
                except BaseException:
                    # not closed again when it is collected: pyarrow's __del__ would retry the
                    # close on the file given up below and print a traceback at exit
                    pqw.is_open = False
                    raise
                finally:
                    self._pq = None
            if self._file is not None and self.path is not None:
                f, self._file = self._file, None
                if isinstance(f, io.TextIOWrapper) and tmp is not None:
                    f.flush()
                    f.detach()  # the binary file is atomic_writer's to close
                else:
                    f.close()
        except BaseException as exc:
            if tmp is not None:
                if isinstance(exc, OSError):  # a full disk: the whole records before it are kept
                    self._keep_whole()
                tmp.__exit__(type(exc), exc, exc.__traceback__)
            raise
        if tmp is None:
            return
        if not keep and self.n_written and self._keep_earlier:
            # the earlier file stays; this run's records are finished beside it
            self.partial_path = self._partial_target()
            try:
                self._bin.flush()
                os.fsync(self._bin.fileno())
                os.replace(self._bin.temporary_path, self.partial_path)
            finally:
                tmp.__exit__(_NothingWritten, _NothingWritten(), None)  # closed; nothing left
        elif keep or self.n_written:
            tmp.__exit__(None, None, None)  # fsync, os.replace
        else:
            tmp.__exit__(_NothingWritten, _NothingWritten(), None)  # removed; path untouched

    def __enter__(self) -> "RecordWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(keep=exc_type is None)


def _last_file_start(paths: list[str]) -> int:
    """Where the records of the file ``paths`` (the records' paths, in order) end with
    begin: the index of the first of its last run of equal paths (0 for none)."""
    n = len(paths)
    while n > 0 and paths[n - 1] == paths[-1]:
        n -= 1
    return n


class _NothingWritten(Exception):
    """Thrown into the temporary file's writer to discard it."""

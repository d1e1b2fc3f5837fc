"""The recogniser's text outputs: one ``--plain`` line per utterance, the compact JSON line of
an utterance, and the exit summary. No rich, no terminal: plain strings.

"Uncertain" has one meaning everywhere: the :class:`~ser_live.types.UncertaintyRule` applies
to the prediction, so no label is claimed. The dashboard and ``--plain`` show ``uncertain``
in place of the label and :data:`UNCERTAIN_CONFIDENCE` in place of its probability; ``--jsonl``
lines always carry ``"uncertain": true/false`` (the label and probabilities stay, for
machines); the exit summary counts uncertain utterances on their own line, not under their
label.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .affect import affect_of
from .jsonl import json_line as _json_line
from .types import Result, RunSummary, UncertaintyRule

if TYPE_CHECKING:
    from .revision import RevisedTally

__all__ = ["EVENT_MARK", "UNCERTAIN_CONFIDENCE", "event_text", "format_event", "format_plain", "format_summary",
           "json_line", "shown_label_counts"]

#: What stands for the confidence of an uncertain utterance (no label, so no label's probability).
UNCERTAIN_CONFIDENCE: str = "-"


#: What a ``--plain`` line of a stream event starts with (an utterance's starts with ``#``, a
#: provisional estimate's with ``~``).
EVENT_MARK: str = "!"

#: ``--plain`` words for each reason the input is silent (:data:`ser_live.records.SILENT_REASONS`).
_SILENT_TEXT = {"zeros": "exact zeros (muted microphone?)",
                "no_audio": "no audio from the device (suspended or unplugged?)"}


def _count(n: int, noun: str) -> str:
    """``"1 utterance"``, ``"2 utterances"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def format_event(record: dict) -> str:
    """One ``--plain`` line for a stream event record (:func:`ser_live.records.dropped_record`,
    :func:`ser_live.records.input_record`).

    Parameters
    ----------
    record : dict
        With ``"kind"`` ``"dropped"`` or ``"input"``.

    Returns
    -------
    str
        Starting with :data:`EVENT_MARK`, the stream time in the utterance lines' manner, then
        what happened, no newline. E.g. ``"! [  61.20 s] audio dropped: 0.512 s (8192
        samples), 2 input overflows, 1 utterance since the last report; 1.024 s, 2 input
        overflows, 1 utterance in all"``,
        ``"! [  75.00 s] input silent for 3.0 s: exact zeros (muted microphone?)"``, ``"! [
        81.30 s] input back after 9.3 s"``.

    Raises
    ------
    ValueError
        Another kind of record.
    """
    return f"{EVENT_MARK} [{record['stream_s']:7.2f} s] {event_text(record)}"


def event_text(record: dict) -> str:
    """What a stream event record says, without :func:`format_event`'s mark and stream time:
    e.g. ``"input silent for 3.0 s: exact zeros (muted microphone?)"`` (``ser-live
    calibrate`` shows it under its level bar).

    Parameters
    ----------
    record : dict
        With ``"kind"`` ``"dropped"`` or ``"input"``.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        Another kind of record.
    """
    if record.get("kind") == "dropped":
        return (f"audio dropped: {record['dropped_s']:.3f} s ({_count(record['dropped_samples'], 'sample')}), "
                f"{_count(record['input_overflows'], 'input overflow')}, "
                f"{_count(record['dropped_utterances'], 'utterance')} since the last report; "
                f"{record['total_dropped_s']:.3f} s, {_count(record['total_input_overflows'], 'input overflow')}, "
                f"{_count(record['total_dropped_utterances'], 'utterance')} in all")
    if record.get("kind") == "input":
        if record["state"] == "silent":
            return f"input silent for {record['for_s']:.1f} s: {_SILENT_TEXT[record['reason']]}"
        return f"input back after {record['for_s']:.1f} s"
    raise ValueError(f"not a stream event record: {record.get('kind')!r}")


def _top(d: dict[str, float], n: int) -> list[tuple[str, float]]:
    return sorted(d.items(), key=lambda kv: -kv[1])[:n]


def format_plain(result: Result, *, uncertainty: UncertaintyRule | None = None) -> str:
    """One readable line for an utterance (``--plain``).

    Parameters
    ----------
    result : Result
        A final result, or a provisional one (``final=False``), whose line starts with
        ``"~"`` and ends with ``provisional``.
    uncertainty : UncertaintyRule, optional
        When it applies to the prediction, ``uncertain`` stands in place of the label and
        :data:`UNCERTAIN_CONFIDENCE` in place of the confidence.

    Returns
    -------
    str
        E.g. ``"#3   [  12.34 -   15.02 s] angry      0.71  arousal +0.62 valence -0.55  (rolling: angry 0.55)
        proc 4.1 ms  eos 412.0 ms"`` (one line): index, start and end (stream seconds), label,
        confidence, the utterance's arousal and valence (:mod:`ser_live.affect`; omitted for a
        model with a label without a circumplex position), the rolling estimate's top label
        (omitted when there is none), processing and end-of-speech latencies (ms);
        ``cut`` is appended when the utterance was cut at the maximum length, ``noise
        branch`` when the model's noise branch classified it. With speaker turns the
        speaker and the top label of its own rolling estimate follow the run's rolling
        estimate, e.g. ``"speaker B (angry 0.61)"``. No newline.
    """
    u = result.utterance
    mark = "#" if result.final else "~"
    uncertain = uncertainty is not None and uncertainty.applies(result.prediction)
    label, conf = ("uncertain", f"{UNCERTAIN_CONFIDENCE:<4s}") if uncertain else (result.label, f"{result.confidence:.2f}")
    parts = [f"{mark}{u.index:<3d} [{u.start_s:7.2f} - {u.end_s:7.2f} s] {label:<10s} {conf}"]
    affect = affect_of(result.prediction.probabilities)
    if affect is not None:
        parts.append(f"arousal {affect[0]:+.2f} valence {affect[1]:+.2f}")
    if result.rolling:
        lab, p = _top(result.rolling, 1)[0]
        parts.append(f"(rolling: {lab} {p:.2f})")
    if result.speaker is not None:
        own = f" ({_top(result.speaker_rolling, 1)[0][0]} {_top(result.speaker_rolling, 1)[0][1]:.2f})" \
            if result.speaker_rolling else ""
        parts.append(f"speaker {result.speaker}{own}")
    parts.append(f"proc {result.processing_ms:.1f} ms")
    parts.append(f"eos {result.end_of_speech_ms:.1f} ms")
    if u.cut_at_max:
        parts.append("cut")
    if result.prediction.noise_branch:
        parts.append("noise branch")
    if not result.final:
        parts.append("provisional")
    return "  ".join(parts)


def _fmt_stats(stats: dict[str, float]) -> str:
    if not stats:
        return "n/a"
    return "  ".join(f"{k} {stats[k]:.1f} ms" for k in ("p50", "p95", "max") if k in stats)


def _fmt_heard(seconds: float) -> str:
    """Seconds with one decimal from 1 s, whole milliseconds below (so a short file does
    not read as ``0.0 s``)."""
    return f"{seconds:.1f} s" if seconds >= 1.0 else f"{seconds * 1000:.0f} ms"


def shown_label_counts(summary: RunSummary, uncertain: dict[str, int] | None = None) -> list[tuple[str, int]]:
    """The run's utterances per label as shown at the moment, uncertain ones taken out.

    Parameters
    ----------
    summary : RunSummary
    uncertain : dict of str to int, optional
        Utterances shown as "uncertain", per predicted label.

    Returns
    -------
    list of (str, int)
        Labels with at least one utterance, most frequent first (ties by name).
    """
    shown = {k: v - (uncertain or {}).get(k, 0) for k, v in summary.label_counts.items()}
    return sorted(((k, v) for k, v in shown.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))


def format_summary(summary: RunSummary, *, uncertain: dict[str, int] | None = None,
                   revised: RevisedTally | None = None) -> str:
    """The exit summary as plain text lines.

    Parameters
    ----------
    summary : RunSummary
    uncertain : dict of str to int, optional
        Utterances shown as "uncertain", per predicted label: they are taken out of the
        label counts and counted on their own ``uncertain`` line (0 included) instead.
    revised : RevisedTally, optional
        The run's results as session revision left them (what the dashboard's timeline and
        rolling estimate end at): when its labels or its rolling estimate differ from the
        ones shown at the moment, a ``labels, revised`` line (uncertain utterances counted
        as ``uncertain``) and a ``rolling, revised`` line (top three, arousal and valence)
        follow the ones shown at the moment.

    Returns
    -------
    str
        Lines (no trailing newline): utterances, label counts (most frequent first; the
        utterances no label was claimed for left out), uncertain (with ``uncertain``),
        processing and end-of-speech latency p50/p95/max (ms, one decimal), audio heard (s
        with one decimal; whole ms under 1 s), audio dropped (samples and s), input
        overflows, short bursts dropped, the top three labels of the final rolling estimate,
        and its arousal and valence (:mod:`ser_live.affect`; the line is left out without an
        estimate or for a model with a label without a circumplex position); with
        ``revised``, ``labels, revised`` after the uncertain line and ``rolling, revised``
        last, each only when revision changed it.
    """
    counts = shown_label_counts(summary, uncertain)
    rolling = _top(summary.rolling, 3)
    affect = affect_of(summary.rolling)
    revised_labels, revised_rolling = (
        _revised_rows(revised, shown=dict(counts), uncertain=uncertain, rolling=summary.rolling)
        if revised is not None else ([], [])
    )
    rows = [
        ("utterances", str(summary.n_utterances)),
        ("labels", ", ".join(f"{k} {v}" for k, v in counts) or "none"),
        *([("uncertain", str(sum(uncertain.values())))] if uncertain is not None else []),
        *revised_labels,
        ("processing", _fmt_stats(summary.processing_ms)),
        ("end of speech", _fmt_stats(summary.end_of_speech_ms)),
        ("audio heard", _fmt_heard(summary.audio_s)),
        ("audio dropped", f"{summary.dropped_samples} samples ({summary.dropped_s:.3f} s)"),
        ("input overflows", str(summary.input_overflows)),
        ("short bursts dropped", str(summary.dropped_short)),
        ("utterances dropped", str(summary.dropped_utterances)),
        *([("utterances saved", str(summary.n_saved))] if summary.n_saved is not None else []),
        ("rolling estimate", ", ".join(f"{k} {v:.2f}" for k, v in rolling) or "none"),
        *([("rolling affect", f"arousal {affect[0]:+.2f}, valence {affect[1]:+.2f}")] if affect is not None else []),
        *revised_rolling,
    ]
    return "\n".join(["ser-live summary"] + [f"  {k:<21s}{v}" for k, v in rows])


def _revised_rows(revised: RevisedTally, *, shown: dict[str, int], uncertain: dict[str, int] | None,
                  rolling: dict[str, float]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The summary's ``labels, revised`` row and its ``rolling, revised`` row, each in a list
    of its own, empty when it would say what was shown at the moment."""
    labels, estimate = [], []
    counts = revised.label_counts()
    at_moment = dict(shown, **({"uncertain": sum(uncertain.values())} if uncertain else {}))
    if counts != {k: v for k, v in at_moment.items() if v}:
        labels.append(("labels, revised", ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"))
    if revised.rolling and revised.rolling != rolling:
        top = ", ".join(f"{k} {v:.2f}" for k, v in _top(revised.rolling, 3))
        affect = affect_of(revised.rolling)
        estimate.append(("rolling, revised", top + (f" (arousal {affect[0]:+.2f}, valence {affect[1]:+.2f})"
                                                    if affect is not None else "")))
    return labels, estimate


def json_line(result: Result) -> str:
    """The ``--jsonl`` record of an utterance: compact JSON, exactly the keys of
    :meth:`~ser_live.types.Result.to_json`, no newline.

    Parameters
    ----------
    result : Result

    Returns
    -------
    str
    """
    return _json_line(result.to_json(), compact=True, newline=False)

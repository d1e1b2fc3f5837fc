"""Section ``soak``: memory and latency over a long replay at ``--speed 0`` (issue 8, item 6).

A long session of corpus utterances (RAVDESS, EmoDB and TESS in a shuffled order, each
trimmed to its speech span, cycled when the length asks for more) and pauses of the
recordings' room tone is written to a FLAC (2 h by default, ``--soak-s``) and replayed by
``ser-live --input FILE --speed 0 --plain`` (as fast as possible). The process's RSS is
sampled every 0.25 s with the stream time of its newest result. Reported: peak RSS up to the
reference stream time (10 min by default) against the peak over the whole run (issue 8's
target: within 20 MB), and end-of-speech latency of the first and of the last utterances
(with an unbounded queue between segmenter and worker it grows along the run).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import BenchContext, corpus_utterances, fmt, progress, room_tone, stats, write_session
from .listening import PAUSES_S, ROOM_TONE_FILES, run_listening

NAME = "soak"

#: Target of issue 8: peak RSS over the run within this much of its value at the reference time.
GROWTH_TARGET_MB = 20.0
#: Utterances at each end of the run whose end-of-speech latency is compared.
EDGE_UTTERANCES = 20


def run(ctx: BenchContext, *, seed: int = 3) -> dict[str, Any]:
    """Replay a long session at ``--speed 0`` and follow RSS and latency.

    Returns
    -------
    dict
        ``session`` (length, utterances), ``run`` (the replay, as the listening runs),
        ``rss_mb`` (``at_reference`` peak up to the reference stream time, ``peak``,
        ``growth``), ``end_of_speech_ms`` of the ``first`` and ``last`` utterances, and a
        ``timeline`` of (stream s, RSS MB) thinned to about 200 points.
    """
    sizes, c = ctx.sizes, ctx.corpora
    paths = [r.path for r in (*c.ravdess, *c.emodb, *c.tess)]
    order = [paths[i] for i in np.random.default_rng(seed).permutation(len(paths))]
    wav = ctx.workdir / "soak.flac"
    progress(f"soak: writing a {sizes.soak_s / 60:.0f} min session of corpus utterances and pauses to {wav.name}")
    tone = room_tone(c.ravdess_paths[:ROOM_TONE_FILES])
    n_utt, audio_s = write_session(wav, corpus_utterances(order, cycle=True), duration_s=sizes.soak_s,
                                   pauses_s=PAUSES_S, pause_fill=tone)
    ref_s = min(sizes.soak_reference_s, audio_s / 2)
    progress(f"soak: replaying {audio_s:.0f} s ({n_utt} utterances) with ser-live --speed 0 --plain")
    r = run_listening(wav, name="soak", audio_s=audio_s, tty=False, extra_args=["--speed", "0", *ctx.model_args],
                      env=ctx.env, expected_utterances=n_utt, timeout_s=max(600.0, audio_s), real_time=False)
    tl = r.timeline
    at_ref = max((hwm for _t, _rss, hwm, s in tl if s <= ref_s), default=None)
    peak = r.peak_rss_mb
    growth = None if at_ref is None or peak is None else round(peak - at_ref, 1)
    eos = [x["end_of_speech_ms"] for x in r.results]
    step = max(1, len(tl) // 200)
    return {
        "session": {"audio_s": round(audio_s, 1), "utterances": n_utt, "gaps_s": list(PAUSES_S),
                    "source": "RAVDESS + EmoDB + TESS, shuffled, trimmed to the VAD speech span"},
        "command": "ser-live --input SESSION.flac --speed 0 --plain --jsonl FILE",
        "run": r.to_json(),
        "reference_stream_s": ref_s,
        "rss_mb": {"at_reference": at_ref, "peak": peak, "growth": growth, "target_growth": GROWTH_TARGET_MB},
        "end_of_speech_ms": {"first": stats(eos[:EDGE_UTTERANCES]), "last": stats(eos[-EDGE_UTTERANCES:])},
        "timeline": [{"wall_s": t, "stream_s": s, "rss_mb": rss} for t, rss, _hwm, s in [*tl[:-1:step], *tl[-1:]]],
    }


def summary_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Headline rows: RSS growth after the reference time, end-of-speech latency at the end."""
    m, ref_min = res["rss_mb"], res["reference_stream_s"] / 60
    g = m["growth"]
    last = res["end_of_speech_ms"]["last"]
    return [
        {"metric": f"soak: peak RSS growth after {ref_min:g} min of a {res['session']['audio_s'] / 3600:.2g} h replay "
                   "at --speed 0", "value": g, "unit": "MB", "target": f"<= {GROWTH_TARGET_MB:g} MB",
         "met": None if g is None else g <= GROWTH_TARGET_MB},
        {"metric": f"soak: end-of-speech p50 of the last {last.get('n', 0)} utterances", "value": last.get("p50"),
         "unit": "ms", "target": "(reported)", "met": None},
    ]


def markdown(res: dict[str, Any]) -> list[str]:
    """The soak paragraph."""
    s, m, r = res["session"], res["rss_mb"], res["run"]
    first, last = res["end_of_speech_ms"]["first"], res["end_of_speech_ms"]["last"]
    return ["", "## Soak (long replay at `--speed 0`)", "",
            f"`{res['command']}`: {s['audio_s']:.0f} s of audio, {s['utterances']} utterances ({s['source']}), "
            f"replayed in {r['wall_s']:.0f} s; {r['utterances']} results, exit {r['exit_code']}.",
            f"Peak RSS up to {res['reference_stream_s']:.0f} s of stream {fmt(m['at_reference'])} MB, over the "
            f"whole run {fmt(m['peak'])} MB: growth {fmt(m['growth'])} MB (target <= {m['target_growth']:g} MB). "
            f"End-of-speech latency p50/max of the first {first.get('n', 0)} utterances "
            f"{fmt(first.get('p50'))} / {fmt(first.get('max'))} ms, of the last {last.get('n', 0)} "
            f"{fmt(last.get('p50'))} / {fmt(last.get('max'))} ms."]

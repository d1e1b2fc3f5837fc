"""``python -m benchmarks.vad_noise``: does the segmenter cut one utterance per utterance played
when the room is noisy?

A session of 40 corpus utterances (RAVDESS, EmoDB and TESS, 12 speakers, see
:data:`SESSION_FILES`) is built with :func:`train.sessions.build_session` and mixed with
stationary noise under and between the speech: white, pink and brown noise at fixed levels
(-50 to -35 dBFS RMS), pink noise at 10 dB SNR and white noise at 3 dB SNR against the
speech's loud-frame level; plus
the clean session (digital silence) and a quiet speaker (every utterance at -35 dBFS peak) in
digital silence and in -60 dBFS pink noise (a quiet room; the corpora's own leads are mostly
digital zeros). Except for the quiet speaker, every utterance is first brought to a loud-frame
level of -26 dBFS (:data:`SPEECH_DBFS`): the corpora differ by 40 dB, a session's speaker does
not, and a fixed noise level then means a fixed SNR (-35 dBFS noise: about 9 dB). Each session is cut by
:func:`ser_live.vad.segment_signal` (the live segmenter) and compared with the played spans.

Printed table, one row per condition: utterances found / played, how many played utterances
were matched by exactly one found utterance lying inside the played span +- 0.5 s, utterances
cut at the maximum length, and the boundary error (|found start - played start| and
|found end - played end|, both boundaries of every matched utterance) p50 / p95 in ms.
Pre-roll (300 ms) and hangover (360 ms kept) are part of the found utterance, so a perfect
detector scores about 300-360 ms here.

The module also holds what the tests share with it: the noise generators
(:func:`colored_noise`), the file list and the session of each condition
(:func:`condition_session`).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ser_live.vad import Segmenter

from train.augment import colored_noise  # the one coloured-noise generator (re-exported)

from .common import SR, VadConfig, build_session, corpus_utterances, md_table

__all__ = [
    "CONDITIONS",
    "Condition",
    "colored_noise",
    "SESSION_FILES",
    "session_files",
    "condition_session",
    "score_cut",
    "main",
]

#: Tolerance around a played span inside which a found utterance must lie (s), from issue 12.
TOLERANCE_S = 0.5
#: Loud-frame level (dBFS) every utterance is brought to (one speaker at one microphone); near
#: the -26 dBov active speech level of ITU-T P.56 test signals.
SPEECH_DBFS = -26.0
#: Pauses between utterances (s), used in turn.
PAUSES_S = (1.0, 1.5, 0.8, 1.2)


@dataclass(frozen=True)
class Condition:
    """One benchmark condition.

    Attributes
    ----------
    name : str
    noise : str or None
        ``"white"``, ``"pink"``, ``"brown"`` (:func:`colored_noise`) or None (digital silence).
    noise_dbfs : float or None
        Noise RMS level (dBFS).
    snr_db : float or None
        Noise level relative to the speech's loud-frame level (dB); overrides ``noise_dbfs``.
    peak_dbfs : float or None
        Scale every utterance to this sample peak (dBFS): a quiet speaker. Otherwise every
        utterance is brought to a loud-frame level of :data:`SPEECH_DBFS`.
    """

    name: str
    noise: str | None = None
    noise_dbfs: float | None = None
    snr_db: float | None = None
    peak_dbfs: float | None = None


#: The conditions of the table, in order.
CONDITIONS: tuple[Condition, ...] = (
    Condition("clean (digital silence)"),
    Condition("white -50 dBFS", "white", -50.0),
    Condition("white -35 dBFS", "white", -35.0),
    Condition("pink -50 dBFS", "pink", -50.0),
    Condition("pink -35 dBFS", "pink", -35.0),
    Condition("brown -50 dBFS", "brown", -50.0),
    Condition("brown -35 dBFS", "brown", -35.0),
    Condition("pink 10 dB SNR", "pink", snr_db=10.0),
    Condition("white 3 dB SNR", "white", snr_db=3.0),
    Condition("quiet -35 dBFS peak, silence", peak_dbfs=-35.0),
    Condition("quiet -35 dBFS peak, pink -60 dBFS", "pink", -60.0, peak_dbfs=-35.0),
)


#: The 40 files of the sessions (paths under the corpora folder), interleaved by speaker:
#: RAVDESS actors 03, 08, 13, 20 (4 files each) and 05, 16 (3 each), EmoDB speakers 03, 09,
#: 11, 14 (3 each), TESS OAF and YAF (3 each): 12 speakers, male and female, English and
#: German, several emotions. Taken evenly from each speaker's sorted file list, keeping only
#: files of at most 4.5 s once trimmed that the segmenter cuts as one utterance alone in digital
#: silence (every emotiontts_kor file is a 5-10 s sentence with phrase pauses longer than the
#: hangover, i.e. several utterances, so none is here). Fixed, so that every version of the
#: segmenter is measured on the same audio.
SESSION_FILES: tuple[str, ...] = (
    "ravdess/Actor_03/03-01-02-01-02-02-03.flac",
    "ravdess/Actor_08/03-01-02-01-02-02-08.flac",
    "ravdess/Actor_13/03-01-02-01-02-02-13.flac",
    "ravdess/Actor_20/03-01-02-01-02-02-20.flac",
    "emodb/wav/03a04Ad.flac",
    "emodb/wav/09a02Wb.flac",
    "emodb/wav/11a02Tc.flac",
    "emodb/wav/14a02Tb.flac",
    "tess/OAF_disgust/OAF_dog_disgust.flac",
    "tess/YAF_disgust/YAF_dodge_disgust.flac",
    "ravdess/Actor_05/03-01-02-02-02-01-05.flac",
    "ravdess/Actor_16/03-01-02-02-02-01-16.flac",
    "ravdess/Actor_03/03-01-04-01-02-01-03.flac",
    "ravdess/Actor_08/03-01-04-01-02-01-08.flac",
    "ravdess/Actor_13/03-01-04-01-02-01-13.flac",
    "ravdess/Actor_20/03-01-04-01-02-01-20.flac",
    "emodb/wav/03a07Wc.flac",
    "emodb/wav/09a07Wb.flac",
    "emodb/wav/11b01Eb.flac",
    "emodb/wav/14a07Ld.flac",
    "tess/OAF_happy/OAF_met_happy.flac",
    "tess/YAF_happy/YAF_mess_happy.flac",
    "ravdess/Actor_05/03-01-05-01-02-01-05.flac",
    "ravdess/Actor_16/03-01-05-01-02-01-16.flac",
    "ravdess/Actor_03/03-01-06-01-01-02-03.flac",
    "ravdess/Actor_08/03-01-06-01-01-02-08.flac",
    "ravdess/Actor_13/03-01-06-01-01-02-13.flac",
    "ravdess/Actor_20/03-01-06-01-01-02-20.flac",
    "emodb/wav/03b09Nc.flac",
    "emodb/wav/09b03Ta.flac",
    "emodb/wav/11b09Ld.flac",
    "emodb/wav/14b09Ea.flac",
    "tess/OAF_pleasant_surprise/OAF_tape_ps.flac",
    "tess/YAF_pleasant_surprise/YAF_talk_ps.flac",
    "ravdess/Actor_05/03-01-07-02-02-01-05.flac",
    "ravdess/Actor_16/03-01-07-02-02-01-16.flac",
    "ravdess/Actor_03/03-01-08-01-01-01-03.flac",
    "ravdess/Actor_08/03-01-08-01-01-01-08.flac",
    "ravdess/Actor_13/03-01-08-01-01-01-13.flac",
    "ravdess/Actor_20/03-01-08-01-01-01-20.flac",
)


def session_files(data_root: str | Path) -> list[Path]:
    """The files of :data:`SESSION_FILES` under ``data_root``.

    Parameters
    ----------
    data_root : str or Path
        The corpora folder (``ravdess/``, ``emodb/``, ``tess/``).

    Returns
    -------
    list of Path

    Raises
    ------
    FileNotFoundError
        A file is missing (the message names the first one).
    """
    paths = [Path(data_root) / rel for rel in SESSION_FILES]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} session files missing, e.g. {missing[0]}")
    return paths


def condition_session(cond: Condition, files: Sequence[Path], *, seed: int = 0):
    """The session of one condition (see :data:`CONDITIONS`).

    Parameters
    ----------
    cond : Condition
    files : sequence of Path
        Utterance files (:func:`session_files`).
    seed : int, default 0
        Seed of the noise.

    Returns
    -------
    train.sessions.Session
    """
    utts = list(corpus_utterances(files))
    level = SPEECH_DBFS
    if cond.peak_dbfs is not None:
        level = None
        target = 10.0 ** (cond.peak_dbfs / 20.0)
        utts = [(u * (target / max(float(np.max(np.abs(u))), 1e-9))).astype(np.float32) for u in utts]
    noise = colored_noise(cond.noise, 60 * SR, seed=seed) if cond.noise else None
    return build_session(
        utts, pauses_s=PAUSES_S, tail_s=1.5, noise=noise, noise_dbfs=cond.noise_dbfs, noise_snr_db=cond.snr_db,
        utterance_dbfs=level,
    )


def score_cut(found: Sequence[tuple[int, int]], played: Sequence[tuple[int, int]], *,
              tolerance_s: float = TOLERANCE_S) -> dict[str, float]:
    """Compare found utterances with the played spans.

    Parameters
    ----------
    found : sequence of (int, int)
        ``(start_sample, end_sample)`` of each found utterance.
    played : sequence of (int, int)
        ``[start, end)`` of each played utterance, in order.
    tolerance_s : float, default 0.5
        How far (s) a found utterance may reach outside its played span.

    Returns
    -------
    dict
        ``found``, ``played``, ``matched`` (played utterances with exactly one found
        utterance inside their span +- tolerance, and that found one inside no other span),
        ``outside`` (found utterances inside no played span +- tolerance) and the boundary
        error ``err_p50_ms`` / ``err_p95_ms`` over both boundaries of the matched ones (NaN
        when none matched).
    """
    tol = int(round(tolerance_s * SR))
    inside = [[k for k, (a, b) in enumerate(played) if s >= a - tol and e <= b + tol] for s, e in found]
    per_played: dict[int, list[int]] = {}
    for j, ks in enumerate(inside):
        if len(ks) == 1:
            per_played.setdefault(ks[0], []).append(j)
    errs = []
    matched = 0
    for k, js in per_played.items():
        if len(js) == 1:
            matched += 1
            (s, e), (a, b) = found[js[0]], played[k]
            errs += [abs(s - a) / SR * 1000.0, abs(e - b) / SR * 1000.0]
    p50, p95 = (np.percentile(errs, [50, 95]) if errs else (float("nan"), float("nan")))
    return {
        "found": len(found), "played": len(played), "matched": matched,
        "outside": sum(1 for ks in inside if not ks),
        "err_p50_ms": float(p50), "err_p95_ms": float(p95),
    }


def run(data_root: str | Path, *, config: VadConfig | None = None,
        conditions: Sequence[Condition] = CONDITIONS) -> list[dict]:
    """Score every condition; one dict per condition (:func:`score_cut` plus ``condition``,
    ``cut_at_max`` and the segmenter's final ``noise_floor_dbfs`` when it tracks one)."""
    files = session_files(data_root)
    rows = []
    for cond in conditions:
        sess = condition_session(cond, files)
        seg = Segmenter(config)
        fl = seg.frame_length
        x = sess.samples
        utts = []
        for i in range(0, len(x) - fl + 1, fl):
            utts += seg.process_frame(x[i : i + fl], i)
        utts += seg.flush()
        row = {"condition": cond.name, **score_cut([(u.start_sample, u.end_sample) for u in utts], sess.spans),
               "cut_at_max": sum(u.cut_at_max for u in utts),
               "noise_floor_dbfs": getattr(seg, "noise_floor_dbfs", float("nan"))}
        rows.append(row)
    return rows


def markdown(rows: Sequence[dict]) -> list[str]:
    """The table of :func:`run` as Markdown lines."""
    return md_table(
        ["condition", "found / played", "matched +-0.5 s", "outside", "cut at max", "boundary err p50 / p95 ms",
         "noise floor dBFS"],
        [[r["condition"], f"{r['found']} / {r['played']}", r["matched"], r["outside"], r["cut_at_max"],
          f"{r['err_p50_ms']:.0f} / {r['err_p95_ms']:.0f}", f"{r['noise_floor_dbfs']:.1f}"] for r in rows],
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.vad_noise [--data DIR] [--aggressiveness N]``; prints the table.
    Returns the exit status: 0, or 3 when a session file is missing under the corpora folder."""
    from ser_live.vad import add_vad_arguments, vad_config_from_args
    from train.corpora import default_data_root

    p = argparse.ArgumentParser(prog="python -m benchmarks.vad_noise", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", metavar="DIR", default=None,
                   help="corpora folder (default: $SER_LIVE_DATA or <repo>/../shared/data)")
    add_vad_arguments(p)
    args = p.parse_args(argv)
    data = args.data or default_data_root()
    try:
        session_files(data)  # a missing file found before the sessions are built
    except FileNotFoundError as exc:
        print(f"error: {exc} (the RAVDESS, EmoDB and TESS files of the sessions): pass --data DIR, the folder "
              "holding ravdess/, emodb/ and tess/, or set SER_LIVE_DATA", file=sys.stderr)
        return 3
    rows = run(data, config=vad_config_from_args(args))
    print("\n".join(markdown(rows)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

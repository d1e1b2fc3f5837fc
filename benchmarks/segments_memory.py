"""``python -m benchmarks.segments_memory``: peak memory of ``ser-live predict --segments``
against the length of the file (issue 22, case 8).

``predict --segments`` decodes a file block by block and classifies each utterance as the
segmenter closes it (:meth:`ser_live.offline.Predictor.iter_file_segments`), so its peak
memory should not grow with the file's length, as in a live run. Here long recordings are
built from one corpus file (a RAVDESS take, trimmed to its speech, then 2 s of silence)
repeated to the length asked for, written as 16 kHz 16-bit WAV block by block, and each is
scored by a ``ser-live predict FILE --segments --output OUT.jsonl`` process whose peak
resident set size (``getrusage(RUSAGE_CHILDREN).ru_maxrss``, read by a small wrapper
process that runs only it) is printed beside its record count.

Target (issue 22): a 60 min file peaks within 20 MB of a 5 min file.

    python -m benchmarks.segments_memory                 # 5 and 60 min
    python -m benchmarks.segments_memory --minutes 1 10  # the CI-sized pair (tests/test_reliability_io.py)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import SAMPLE_RATE_HZ, child_env, load_audio, ser_live_cmd

#: Silence after each repetition of the speech (s): the segmenter closes an utterance at it.
GAP_S: float = 2.0
#: The RAVDESS take repeated (actor 1, "angry", strong, statement 1): any speech file does.
DEFAULT_TAKE = "Actor_01/03-01-05-02-01-01-01.flac"

_WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "t0 = time.perf_counter()\n"
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
    "print(json.dumps({'rc': r.returncode, 'stderr': r.stderr[-2000:], 'seconds': time.perf_counter() - t0,\n"
    "                  'peak_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n"
)


def build_long_wav(path: Path, *, minutes: float, take: Path) -> Path:
    """Write ``minutes`` of audio: ``take`` (its speech, as decoded at 16 kHz, with a little
    room on either side) then :data:`GAP_S` of silence, repeated; the last repetition is cut
    at the length. Written block by block (one repetition at a time).

    Parameters
    ----------
    path : Path
        The WAV to write (16 kHz, mono, 16-bit).
    minutes : float
        Length (min).
    take : Path
        A speech recording.

    Returns
    -------
    Path
        ``path``.
    """
    import soundfile as sf

    y = load_audio(take)
    level = np.abs(y) > 0.02
    idx = np.flatnonzero(level)
    a, b = (max(0, idx[0] - 4000), min(len(y), idx[-1] + 4000)) if idx.size else (0, len(y))
    unit = np.concatenate([y[a:b], np.zeros(int(GAP_S * SAMPLE_RATE_HZ), np.float32)])
    total = int(minutes * 60 * SAMPLE_RATE_HZ)
    with sf.SoundFile(str(path), "w", samplerate=SAMPLE_RATE_HZ, channels=1, subtype="PCM_16") as f:
        written = 0
        while written < total:
            part = unit[: total - written]
            f.write(part)
            written += len(part)
    return path


def predict_segments_peak(path: Path, out: Path, *, env: dict[str, str] | None = None) -> dict:
    """Run ``ser-live predict PATH --segments --output OUT`` in a process of its own and
    measure it.

    Parameters
    ----------
    path : Path
        Audio file.
    out : Path
        JSON-lines output.
    env : dict, optional
        Environment of the child (default: :func:`benchmarks.common.child_env`).

    Returns
    -------
    dict
        ``peak_mb`` (peak RSS, MB = 2^20 bytes), ``records`` (lines written), ``seconds``
        (wall time of the child), ``rc`` (its exit status), ``stderr`` (its tail).
    """
    cmd = [sys.executable, "-c", _WRAPPER, *ser_live_cmd(), "predict", str(path), "--segments", "--output", str(out)]
    res = subprocess.run(cmd, env=env or child_env(None), capture_output=True, text=True, check=True)
    m = json.loads(res.stdout)
    records = len(out.read_text().splitlines()) if out.exists() else 0
    return {"peak_mb": m["peak_kb"] / 1024, "records": records, "seconds": m["seconds"], "rc": m["rc"],
            "stderr": m["stderr"]}


def main(argv: list[str] | None = None) -> int:
    """Build the files, measure each, print a Markdown table and the verdict; exit 0, 1
    when a run failed, 3 when the corpus file is missing."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.segments_memory", description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, nargs=2, default=(5.0, 60.0), metavar=("SHORT", "LONG"))
    ap.add_argument("--data", type=Path, default=None, help="corpora folder (default: the training data root)")
    args = ap.parse_args(argv)
    from .common import default_data_root

    take = (args.data or default_data_root()) / "ravdess" / DEFAULT_TAKE
    if not take.is_file():
        print(f"error: {take} not found", file=sys.stderr)
        return 3
    rows = []
    with tempfile.TemporaryDirectory(prefix="ser-live-seg-mem-") as tmp:
        for minutes in args.minutes:
            wav = build_long_wav(Path(tmp) / f"long-{minutes:g}min.wav", minutes=minutes, take=take)
            t0 = time.perf_counter()
            m = predict_segments_peak(wav, Path(tmp) / f"out-{minutes:g}.jsonl")
            print(f"{minutes:g} min: peak {m['peak_mb']:.1f} MB, {m['records']} records, {m['seconds']:.1f} s "
                  f"(built and run in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
            if m["rc"] != 0:
                print(f"error: predict exited {m['rc']}: {m['stderr']}", file=sys.stderr)
                return 1
            rows.append((minutes, wav.stat().st_size / 2**20, m))
    print("| file (min) | file (MB) | records | wall (s) | peak RSS (MB) |\n|---|---|---|---|---|")
    for minutes, size_mb, m in rows:
        print(f"| {minutes:g} | {size_mb:.1f} | {m['records']} | {m['seconds']:.1f} | {m['peak_mb']:.1f} |")
    diff = rows[1][2]["peak_mb"] - rows[0][2]["peak_mb"]
    print(f"\npeak difference: {diff:+.1f} MB (target: within 20 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

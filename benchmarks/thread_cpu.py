"""``python -m benchmarks.thread_cpu``: CPU time of each thread of a real-time ``ser-live``
replay, to see where listening's CPU goes (the ``listen`` section gives the process total).

A session of RAVDESS utterances and room-tone pauses (as the ``listen`` section builds it,
``--seconds`` long) is replayed by ``ser-live --input`` with its dashboard on a 120x40
pseudo-terminal (``--plain``: plain lines instead). The child runs ``ser_live.cli.main``
in-process with ``threading.Thread.run`` wrapped to read each thread's CPU time
(``time.thread_time``) when it ends, and prints one JSON object: the main thread's CPU from
the call of ``main`` (model load and warm-up included), and each named thread's
(``ser-live-file-source``, ``ser-live-segmenter``, ``ser-live-worker``, ...), in seconds,
with the session's length; and the whole process's CPU from the call of ``main`` (every thread,
PortAudio's and the audio server client's included: ``getrusage``).

``--microphone``: instead of ``--input``, the session is played into a private PulseAudio null
sink whose source ``ser-live`` listens to as its microphone (``tests/pulse.py``, the capture
tests' fake microphone; needs PulseAudio, ``pactl``/``paplay`` and PortAudio), so what is
measured is a user's listening: the capture callback in place of the file replay thread.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import pty
import resource
import shlex
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ser_live.types import latency_stats


def _child(argv: list[str]) -> int:
    """Run ``ser-live argv`` in this process; print the per-thread CPU JSON to ``argv``'s
    ``--cpu-json`` file (the pseudo-terminal gets the dashboard)."""
    out = Path(argv[argv.index("--cpu-json") + 1])
    argv = argv[: argv.index("--cpu-json")] + argv[argv.index("--cpu-json") + 2:]
    cpu: dict[str, float] = {}
    run = threading.Thread.run

    def timed_run(self: threading.Thread) -> None:
        try:
            run(self)
        finally:
            cpu[self.name] = cpu.get(self.name, 0.0) + time.thread_time()

    threading.Thread.run = timed_run  # type: ignore[method-assign]
    from ser_live import cli

    def process_cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime

    c0, p0, w0 = time.thread_time(), process_cpu(), time.monotonic()
    rc = cli.main(argv)
    out.write_text(json.dumps({"wall": round(time.monotonic() - w0, 3), "process": round(process_cpu() - p0, 3),
                               "main thread": round(time.thread_time() - c0, 3),
                               **{k: round(v, 3) for k, v in sorted(cpu.items())}, "exit": rc}))
    return 0


@contextlib.contextmanager
def _microphone(wanted: bool) -> Iterator[Any]:
    """The capture tests' PulseAudio fake microphone (``tests.pulse.PulseNullSink``) when
    ``wanted``, else None."""
    if not wanted:
        yield None
        return
    from tests.pulse import PulseNullSink, missing_requirements

    missing = missing_requirements()
    if missing:
        raise SystemExit(f"error: --microphone needs {', '.join(missing)}")
    with PulseNullSink(set_process_env=False) as mic:
        yield mic


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--child":
        return _child(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m benchmarks.thread_cpu", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="session length (s)")
    ap.add_argument("--plain", action="store_true", help="ser-live --plain instead of the dashboard")
    ap.add_argument("--ser-live-args", default="", help="more ser-live options, as one string (e.g. '--block-ms 40')")
    ap.add_argument("--microphone", action="store_true",
                    help="play the session into a PulseAudio null sink and listen to it as a microphone")
    args = ap.parse_args(argv)

    from .common import build_session, corpus_utterances, load_corpora, room_tone, write_wav
    from .listening import PAUSES_S, ROOM_TONE_FILES, _drain_fd

    rav = load_corpora().ravdess_paths
    order = [rav[i] for i in np.random.default_rng(0).permutation(len(rav))]
    session = build_session(corpus_utterances(order), pauses_s=PAUSES_S, tail_s=1.5,
                            pause_fill=room_tone(order[:ROOM_TONE_FILES]), min_duration_s=args.seconds)
    with tempfile.TemporaryDirectory() as tmp, _microphone(args.microphone) as mic:
        wav = write_wav(Path(tmp) / "session.wav", session.samples)
        cpu_json = Path(tmp) / "cpu.json"
        source = (["--device", mic.device_name, "--duration-s", f"{session.duration_s + 6.0:.2f}"] if mic is not None
                  else ["--input", str(wav)])
        cmd = [sys.executable, "-m", "benchmarks.thread_cpu", "--child", *source,
               "--jsonl", str(Path(tmp) / "out.jsonl"), *(["--plain"] if args.plain else []),
               *shlex.split(args.ser_live_args), "--cpu-json", str(cpu_json)]
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = dict(mic.env if mic is not None else os.environ)
        proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave,
                                env=dict(env, TERM=os.environ.get("TERM", "xterm-256color")))
        os.close(slave)
        threading.Thread(target=_drain_fd, args=(master,), daemon=True).start()  # closes master at the end
        if mic is not None:
            mic.wait_for_recorder(timeout_s=120.0, proc=proc)
            time.sleep(0.5)
            mic.play(wav, timeout_s=session.duration_s + 60.0)
        proc.wait()
        result = json.loads(cpu_json.read_text()) if cpu_json.is_file() else {"error": f"exit {proc.returncode}"}
        jsonl = Path(tmp) / "out.jsonl"
        lines = jsonl.read_text().splitlines() if jsonl.is_file() else []
        records = [json.loads(line) for line in lines if line.strip()]
        eos = latency_stats(r["end_of_speech_ms"] for r in records if r.get("kind", "utterance") == "utterance")
        if eos:  # the project's one latency summary
            result["end_of_speech_ms_p50_p95"] = [round(eos["p50"], 1), round(eos["p95"], 1)]
    result.update(session_s=round(session.duration_s, 2), utterances=session.n_utterances,
                  dashboard=not args.plain, source="microphone" if args.microphone else "file",
                  ser_live_args=args.ser_live_args)
    print(json.dumps(result))
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())

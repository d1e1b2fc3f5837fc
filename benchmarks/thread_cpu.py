"""``python -m benchmarks.thread_cpu``: CPU time of each thread of a real-time ``ser-live``
replay, to see where listening's CPU goes (the ``listen`` section gives the process total).

A session of RAVDESS utterances and room-tone pauses (as the ``listen`` section builds it,
``--seconds`` long) is replayed by ``ser-live --input`` with its dashboard on a 120x40
pseudo-terminal (``--plain``: plain lines instead). The child runs ``ser_live.cli.main``
in-process with ``threading.Thread.run`` wrapped to read each thread's CPU time
(``time.thread_time``) when it ends, and prints one JSON object: the main thread's CPU from
the call of ``main`` (model load and warm-up included), and each named thread's
(``ser-live-file-source``, ``ser-live-segmenter``, ``ser-live-worker``, ...), in seconds,
with the session's length.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

import numpy as np


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

    c0 = time.thread_time()
    rc = cli.main(argv)
    out.write_text(json.dumps({"main thread": round(time.thread_time() - c0, 3),
                               **{k: round(v, 3) for k, v in sorted(cpu.items())}, "exit": rc}))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--child":
        return _child(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m benchmarks.thread_cpu", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="session length (s)")
    ap.add_argument("--plain", action="store_true", help="ser-live --plain instead of the dashboard")
    args = ap.parse_args(argv)

    from .common import build_session, corpus_utterances, load_corpora, room_tone, write_wav
    from .listening import PAUSES_S, ROOM_TONE_FILES, _drain_fd

    rav = load_corpora().ravdess_paths
    order = [rav[i] for i in np.random.default_rng(0).permutation(len(rav))]
    session = build_session(corpus_utterances(order), pauses_s=PAUSES_S, tail_s=1.5,
                            pause_fill=room_tone(order[:ROOM_TONE_FILES]), min_duration_s=args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        wav = write_wav(Path(tmp) / "session.wav", session.samples)
        cpu_json = Path(tmp) / "cpu.json"
        cmd = [sys.executable, "-m", "benchmarks.thread_cpu", "--child", "--input", str(wav),
               "--jsonl", str(Path(tmp) / "out.jsonl"), *(["--plain"] if args.plain else []),
               "--cpu-json", str(cpu_json)]
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave,
                                env=dict(os.environ, TERM=os.environ.get("TERM", "xterm-256color")))
        os.close(slave)
        threading.Thread(target=_drain_fd, args=(master,), daemon=True).start()  # closes master at the end
        proc.wait()
        result = json.loads(cpu_json.read_text()) if cpu_json.is_file() else {"error": f"exit {proc.returncode}"}
    result.update(session_s=round(session.duration_s, 2), utterances=session.n_utterances,
                  dashboard=not args.plain)
    print(json.dumps(result))
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())

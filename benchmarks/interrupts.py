"""``python -m benchmarks.interrupts``: Ctrl-C at a random moment of ``ser-live``'s start, many
times, and what each run did.

Each run is ``ser-live predict LONG --segments`` (LONG: 10 minutes of one RAVDESS take and
pauses, :func:`benchmarks.segments_memory.build_long_wav`, long enough that no run ends first),
sent SIGINT after a delay drawn uniformly from ``--from-s`` to ``--to-s`` (the default spans the
interpreter's start, the imports, the model's load and the first segments). A run is right when it exits 130 with ``ser-live: interrupted``
(or, once listening, its summary) and no traceback on stderr within 2 s of the signal. The others are counted by what they did:
killed by the SIGINT (status -2: CPython believed the interrupt unhandled), a traceback or
"Exception ignored" on stderr, a hang (killed ``--hang-s`` after the signal, stacks printed by
faulthandler), or another status. At commit 18cff17, 9 runs of 300 went wrong this way (8 killed
by SIGINT, 1 hung at exit; `python -m benchmarks.interrupts --runs 300` run in that checkout); the
test suite checks each cause on its own, deterministically, and this harness all of them
together, by chance.

``--microphone``: each run is ``ser-live --plain --device serlive_mic`` listening to a private
PulseAudio null sink's source (``tests/pulse.py``, the capture tests' fake microphone; needs
PulseAudio, ``pactl``/``paplay`` and PortAudio), so the signal lands in the microphone's start
(PortAudio initialising on its thread, the device opening, the first blocks; the default delays
then span 0.1 to 2.5 s). After each run a fresh interpreter must initialise PortAudio (``import
sounddevice``) within 20 s; one that cannot counts as "left PortAudio hanging" (a run that left
with ``os._exit`` while ``Pa_Initialize`` ran can leave JACK's metadata database locked for
every later PortAudio program of the user; :func:`ser_live.audio.settle_portaudio_calls`),
and the database is cleared for the next run (``tests.pulse.clear_stuck_jack_db``). A run that
went on listening after the signal is a hang here.

Runs ``--jobs`` at once (2: a loaded machine shifts the moments). Exit status 1 when any run
went wrong, 3 when RAVDESS is not found (predict only), 2 when ``--microphone`` lacks what it
needs.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

from .common import REPO_ROOT, child_env, corpora_problem, default_data_root, float_above, int_at_least
from .segments_memory import DEFAULT_TAKE, build_long_wav

#: Longest a right run may take from the signal to its exit (s): the README's promise.
STOP_WITHIN_S = 2.0


def _one(cmd: list[str], delay_s: float, hang_s: float, env: dict[str, str],
         microphone: bool = False) -> tuple[float, str, str]:
    """Run ``cmd``, SIGINT after ``delay_s``; (delay, outcome, stderr). With ``microphone``,
    a run that is otherwise right must also leave PortAudio able to start
    (``tests.pulse.portaudio_starts``); one that left it hanging is cleared up after."""
    delay_s, outcome, err = _signalled(cmd, delay_s, hang_s, env)
    if not microphone:
        return delay_s, outcome, err
    from tests.pulse import clear_stuck_jack_db, portaudio_starts

    if not portaudio_starts(env):
        clear_stuck_jack_db()
        return delay_s, f"left PortAudio hanging (after: {outcome})", err
    return delay_s, outcome, err


def _signalled(cmd: list[str], delay_s: float, hang_s: float, env: dict[str, str]) -> tuple[float, str, str]:
    """Run ``cmd``, SIGINT after ``delay_s``; (delay, outcome, stderr)."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=REPO_ROOT,
                            # a harness started in the background (`&`) has SIGINT ignored; the run must not
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(delay_s)
    proc.send_signal(signal.SIGINT)
    t_sig = time.monotonic()
    try:
        _, err = proc.communicate(timeout=hang_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)  # faulthandler's stacks (-X faulthandler, registered below)
        time.sleep(1.0)
        proc.kill()
        _, err = proc.communicate()
        return delay_s, "hung", err
    took = time.monotonic() - t_sig
    code = proc.returncode
    if code == -signal.SIGINT:
        outcome = "killed by SIGINT (-2)"
    elif "Traceback" in err or "Exception ignored" in err:
        outcome = "traceback"
    elif code == 0:
        outcome = "ran to its end (Ctrl-C lost)"
    elif code != 130 or not ("ser-live: interrupted" in err or "ser-live summary" in err):  # listening: its summary
        outcome = f"exit {code}"
    elif took > STOP_WITHIN_S:
        outcome = f"slower than {STOP_WITHIN_S:g} s"
    else:
        outcome = "right"
    return delay_s, outcome, err


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.interrupts", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int_at_least(1), default=200, help="runs in all (default 200)")
    p.add_argument("--from-s", type=float_above(0.0), default=None, help="shortest delay, s (default 0.1)")
    p.add_argument("--to-s", type=float_above(0.0), default=None,
                   help="longest delay, s (default 0.9; 2.5 with --microphone)")
    p.add_argument("--jobs", type=int_at_least(1), default=2, help="runs at once (default 2)")
    p.add_argument("--hang-s", type=float_above(0.0), default=10.0,
                   help="a run not ended this long after the signal is a hang (default 10)")
    p.add_argument("--microphone", action="store_true",
                   help="listen to a PulseAudio null sink's source instead of `predict LONG` (module doc)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--show", type=int_at_least(0), default=3, help="stderr of this many wrong runs (default 3)")
    args = p.parse_args(argv)
    from_s = 0.1 if args.from_s is None else args.from_s
    to_s = (2.5 if args.microphone else 0.9) if args.to_s is None else args.to_s
    if to_s < from_s:
        p.error("--to-s must not be below --from-s")
    if not args.microphone:
        problem = corpora_problem(["ravdess"])
        if problem:
            print(problem[1], file=sys.stderr)
            return problem[0]
    rng = random.Random(args.seed)
    delays = [rng.uniform(from_s, to_s) for _ in range(args.runs)]
    with tempfile.TemporaryDirectory() as tmp, _microphone(args.microphone) as mic:
        env = child_env(None)
        if mic is not None:
            env.update({k: v for k, v in mic.env.items() if k not in env or k.startswith("PULSE")})
            cmd = [sys.executable, "-m", "ser_live", "--plain", "--device", mic.device_name]
            what = f"python -m ser_live --plain --device {mic.device_name}` (a PulseAudio null sink's source"
        else:
            long_wav = build_long_wav(Path(tmp) / "long.wav", minutes=10.0,
                                      take=default_data_root() / "ravdess" / DEFAULT_TAKE)
            cmd = [sys.executable, "-m", "ser_live", "predict", str(long_wav), "--segments"]
            what = "python -m ser_live predict LONG --segments`"
        hook = Path(tmp) / "hook"
        hook.mkdir()
        # faulthandler's stacks on SIGUSR1 for a hung run: a sitecustomize on the child's path
        (hook / "sitecustomize.py").write_text("import faulthandler, signal\n"
                                               "faulthandler.register(signal.SIGUSR1, all_threads=True)\n")
        env["PYTHONPATH"] = f"{hook}:{env['PYTHONPATH']}"
        outcomes: Counter[str] = Counter()
        wrong: list[tuple[float, str, str]] = []
        t0 = time.monotonic()
        with ThreadPoolExecutor(args.jobs) as pool:
            runs = pool.map(lambda d: _one(cmd, d, args.hang_s, env, microphone=mic is not None), delays)
            for i, (delay, outcome, err) in enumerate(runs, 1):
                outcomes[outcome] += 1
                if outcome != "right":
                    wrong.append((delay, outcome, err))
                if i % 50 == 0:
                    print(f"  {i}/{args.runs} runs, {len(wrong)} wrong", file=sys.stderr, flush=True)
    print(f"{args.runs} runs of `{what}{')' if mic is not None else ''}, SIGINT after "
          f"{from_s:g}-{to_s:g} s, {args.jobs} at once, {time.monotonic() - t0:.0f} s")
    print("| outcome | runs |\n|---|---|")
    for outcome, n in outcomes.most_common():
        print(f"| {outcome} | {n} |")
    for delay, outcome, err in wrong[:args.show]:
        print(f"\n--- {outcome}, SIGINT after {delay:.3f} s; stderr:\n{err[-3000:]}")
    return 1 if wrong else 0


@contextlib.contextmanager
def _microphone(wanted: bool) -> Iterator[Any]:
    """The capture tests' PulseAudio fake microphone (``tests.pulse.PulseNullSink``) when
    ``wanted``, else None; exit status 2 when this machine lacks what it needs."""
    if not wanted:
        yield None
        return
    from tests.pulse import PulseNullSink, missing_requirements

    missing = missing_requirements()
    if missing:
        print(f"error: --microphone needs {', '.join(missing)}", file=sys.stderr)
        raise SystemExit(2)
    with PulseNullSink(set_process_env=False) as mic:
        yield mic


if __name__ == "__main__":
    raise SystemExit(main())

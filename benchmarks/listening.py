"""Section ``listen``: end-of-speech latency, CPU while listening and peak RSS of real-time
replays through the real ``ser-live`` program.

A session of RAVDESS utterances (trimmed to their speech span) and pauses of the recordings'
room tone (:mod:`train.sessions`) is replayed at real-time pace by ``ser-live --input``
(FileSource -> ring buffer -> segmenter -> worker), with its dashboard on a pseudo-terminal
as a user runs it (and, in the full run, with ``--partial`` provisional estimates and with
``--plain``); then digital silence and -60 dBFS white noise. The dashboard redraws only when
what it shows changes (status at most 4 times a second, the clock in whole seconds), so its
CPU share is what the speech run measures against the ``--plain`` one. :func:`run_listening` is also what the soak (:mod:`benchmarks.soak`) runs.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .common import (
    SR, BenchContext, VadConfig, build_session, corpus_utterances, fmt, log, md_table, progress, room_tone, ser_live_cmd,
    stats, to_int16, vm_hwm_kb, write_wav,
)

NAME = "listen"

#: The line ``ser-live`` prints on stderr once its source has started.
LISTENING_RE = re.compile(r"^ser-live: (replaying|listening to) ")
_DROPPED_RE = re.compile(r"audio dropped\s+(\d+) samples")

#: Pauses between the session's utterances (s), used in turn.
PAUSES_S: tuple[float, ...] = (1.0, 1.5, 2.0)
#: Room tone: the first 0.2 s of this many recordings.
ROOM_TONE_FILES = 32


@dataclass
class ListenRun:
    """What one ``ser-live`` listening process did (see :func:`run_listening`).

    ``timeline`` holds ``(wall_s, rss_mb, hwm_mb, stream_s)`` samples taken every 0.25 s from
    the "replaying" line on: seconds since that line, resident and peak resident set size
    (MiB), and the ``end_s`` of the latest result written to the JSONL (stream seconds).
    """

    name: str
    audio_s: float
    exit_code: int
    startup_s: float | None
    cpu_s: float
    window_s: float
    cpu_pct_core: float | None
    peak_rss_mb: float | None
    rss_listening_max_mb: float | None
    total_cpu_s: float
    wall_s: float
    dropped_samples: int | None
    results: list[dict] = field(default_factory=list)
    timeline: list[tuple[float, float, float, float]] = field(default_factory=list)
    expected_utterances: int | None = None
    vad_hold_ms: float = 360.0
    n_provisional: int = 0

    def to_json(self) -> dict[str, Any]:
        # end-of-speech latency is defined for utterances that ended at a pause: those cut at
        # the maximum length (or at the end of the stream) close right after a voiced frame
        paused = [r for r in self.results if r["end_of_speech_ms"] - r["processing_ms"] >= 0.5 * self.vad_hold_ms]
        return {
            "name": self.name,
            "audio_s": round(self.audio_s, 2),
            "exit_code": self.exit_code,
            "wall_s": round(self.wall_s, 2),
            "startup_s": None if self.startup_s is None else round(self.startup_s, 3),
            "cpu_window_s": round(self.window_s, 2),
            "cpu_s_in_window": round(self.cpu_s, 3),
            "cpu_s_per_audio_s": None if self.cpu_pct_core is None else round(self.cpu_pct_core / 100, 5),
            "cpu_pct_core": None if self.cpu_pct_core is None else round(self.cpu_pct_core, 2),
            "total_cpu_s": round(self.total_cpu_s, 2),
            "peak_rss_mb": None if self.peak_rss_mb is None else round(self.peak_rss_mb, 1),
            "rss_listening_max_mb": None if self.rss_listening_max_mb is None else round(self.rss_listening_max_mb, 1),
            "dropped_samples": self.dropped_samples,
            "utterances": len(self.results),
            "provisional_lines": self.n_provisional,
            "expected_utterances": self.expected_utterances,
            "utterances_ended_by_pause": len(paused),
            "processing_ms": stats([r["processing_ms"] for r in self.results]),
            "end_of_speech_ms": stats([r["end_of_speech_ms"] for r in paused]),
            "vad_wait_ms": stats([r["end_of_speech_ms"] - r["processing_ms"] for r in paused]),
        }


class _JsonlTail:
    """Reads the complete lines appended to a JSONL file since the last call."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.last_end_s = path, 0, 0.0

    def poll(self) -> float:
        """The ``end_s`` of the newest complete record (stream seconds; 0 before the first)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return self.last_end_s
        cut = data.rfind(b"\n")
        if cut >= 0:
            self.offset += cut + 1
            for line in data[: cut + 1].splitlines()[::-1]:
                if line.strip():
                    try:
                        self.last_end_s = float(json.loads(line)["end_s"])
                        break
                    except (ValueError, KeyError):
                        continue
        return self.last_end_s


def _drain_fd(fd: int) -> None:
    """Read a pseudo-terminal's master side until the child closes it (dashboard output)."""
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def run_listening(
    wav: Path,
    *,
    name: str,
    audio_s: float,
    tty: bool,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    expected_utterances: int | None = None,
    timeout_s: float | None = None,
    real_time: bool = True,
) -> ListenRun:
    """Replay ``wav`` through the real ``ser-live`` program and measure it.

    ``ser-live --input WAV --jsonl FILE`` runs with its dashboard on a pseudo-terminal
    (``tty=True``, 120x40, as a user sees it) or with ``--plain`` lines to /dev/null. Its CPU
    time (user + system, psutil) is read when it prints that it is replaying, and then every
    0.25 s; the CPU rate is taken between that line and the last reading at least 0.5 s
    before the end of the audio (``real_time``; otherwise the whole run), so start-up and
    shutdown are excluded. Peak RSS is the process's ``VmHWM`` (high-water mark since
    ``exec``) at the last reading before it exits (``wait4``'s ``ru_maxrss`` would report
    this process's own RSS, which the child shares between ``vfork`` and ``exec``).

    Parameters
    ----------
    wav : Path
        16 kHz WAV or FLAC to replay.
    name : str
        Label of the run in the results.
    audio_s : float
        Duration of ``wav`` (s).
    tty : bool
        Dashboard on a pseudo-terminal (True) or ``--plain`` to /dev/null (False).
    extra_args : sequence of str
        More ``ser-live`` options (e.g. ``--model PATH``, ``--speed 0``).
    env : dict, optional
        Environment of the process.
    expected_utterances : int, optional
        Utterances in the session, reported beside those found.
    timeout_s : float, optional
        Kill the process after this long (default: audio + 60 s).
    real_time : bool, default True
        The replay runs at real-time pace (the CPU window then ends with the audio).

    Returns
    -------
    ListenRun
    """
    import psutil

    tmp = Path(tempfile.mkdtemp(prefix="ser-live-bench-"))
    jsonl = tmp / f"{name}.jsonl"
    cmd = [*ser_live_cmd(), "--input", str(wav), "--jsonl", str(jsonl), *extra_args]
    master = None
    if tty:
        import fcntl
        import pty
        import struct
        import termios

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        stdout: Any = slave
    else:
        cmd.append("--plain")
        stdout = subprocess.DEVNULL
    timeout_s = timeout_s if timeout_s is not None else audio_s + 60.0
    t_spawn = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, env=env)
    drain = None
    if master is not None:
        os.close(slave)
        drain = threading.Thread(target=_drain_fd, args=(master,), daemon=True)
        drain.start()
    lines: list[str] = []
    listening = threading.Event()
    t_listen: list[float] = []

    def read_stderr() -> None:
        for raw in proc.stderr:  # type: ignore[union-attr]
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append(line)
            if not listening.is_set() and LISTENING_RE.match(line):
                t_listen.append(time.perf_counter())
                listening.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    ps = psutil.Process(proc.pid)
    tail = _JsonlTail(jsonl)
    samples: list[tuple[float, float, float]] = []  # (t, cpu_s, rss_bytes)
    timeline: list[tuple[float, float, float, float]] = []
    hwm_kb: list[int] = []
    cpu0 = None
    status = rusage = None
    deadline = t_spawn + timeout_s
    while True:
        pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status, rusage = st, ru
            break
        now = time.perf_counter()
        hwm = vm_hwm_kb(proc.pid)
        if hwm is not None:
            hwm_kb.append(hwm)
        if now > deadline:
            proc.kill()
            _, status, rusage = os.wait4(proc.pid, 0)
            log.error("%s: ser-live killed after %.0f s", name, timeout_s)
            break
        if listening.is_set():
            try:
                ct, rss = ps.cpu_times(), ps.memory_info().rss
            except psutil.Error:
                ct, rss = None, 0
            if ct is not None:
                if cpu0 is None:
                    cpu0 = (t_listen[0], ct.user + ct.system)
                samples.append((now, ct.user + ct.system, rss))
                timeline.append((round(now - t_listen[0], 2), round(rss / 2**20, 1),
                                 round((hwm or 0) / 1024, 1), tail.poll()))
            time.sleep(0.25)
        else:
            listening.wait(0.25)
    wall_s = time.perf_counter() - t_spawn
    if timeline:  # the run may end between two samples (a fast --speed 0 replay): where it ended
        timeline.append((round(time.perf_counter() - t_listen[0], 2), timeline[-1][1],
                         round(max(hwm_kb, default=0) / 1024, 1), tail.poll()))
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(5.0)
    if drain is not None:
        drain.join(5.0)
    cpu_s = window = 0.0
    pct = rss_max = None
    if cpu0 is not None and samples:
        end_by = cpu0[0] + audio_s - 0.5 if real_time else math.inf
        inside = [s for s in samples if s[0] <= end_by] or samples[:1]
        window = inside[-1][0] - cpu0[0]
        cpu_s = inside[-1][1] - cpu0[1]
        pct = 100.0 * cpu_s / window if window > 0.5 else None
        rss_max = max(s[2] for s in inside) / 2**20
    records = [json.loads(x) for x in jsonl.read_text().splitlines() if x.strip()] if jsonl.exists() else []
    results = [r for r in records if r.get("final", True) and r.get("kind", "utterance") == "utterance"]  # --partial: provisional lines apart; stream events apart
    dropped = None
    for line in lines:
        m = _DROPPED_RE.search(line)
        if m:
            dropped = int(m.group(1))
    if proc.returncode not in (0, 4):
        log.error("%s: ser-live exited with %s:\n%s", name, proc.returncode, "\n".join(lines[-15:]))
    shutil.rmtree(tmp, ignore_errors=True)
    return ListenRun(
        name=name, audio_s=audio_s, exit_code=proc.returncode,
        startup_s=(t_listen[0] - t_spawn) if t_listen else None,
        cpu_s=cpu_s, window_s=window, cpu_pct_core=pct,
        peak_rss_mb=max(hwm_kb) / 1024.0 if hwm_kb else None, rss_listening_max_mb=rss_max,
        total_cpu_s=(rusage.ru_utime + rusage.ru_stime) if rusage is not None else float("nan"),
        wall_s=wall_s, dropped_samples=dropped, results=results, timeline=timeline,
        expected_utterances=expected_utterances, n_provisional=len(records) - len(results),
    )


def effective_hold_ms(vad: Any) -> float:
    """Silence after the last voiced frame that closes an utterance (ms): the segmenter
    needs ``ceil(end_ratio * H)`` unvoiced frames among the last ``H = hangover / frame``."""
    hang = max(1, round(vad.hangover_ms / vad.frame_ms))
    need = max(1, math.ceil(vad.end_ratio * hang - 1e-9))
    return float(need * vad.frame_ms)


def run(ctx: BenchContext, *, seed: int = 1) -> dict[str, Any]:
    """End-of-speech latency, CPU while listening and peak RSS of real-time replays.

    Returns
    -------
    dict
        ``session``, ``runs`` (one :meth:`ListenRun.to_json` per replay: speech with the
        dashboard, in the full run also with ``--partial`` and headless, digital silence,
        -60 dBFS noise) and ``end_of_speech``
        (the speech run's latencies against the VAD hangover).
    """
    sizes, env, model_args = ctx.sizes, ctx.env, ctx.model_args
    vad = VadConfig()
    hold = effective_hold_ms(vad)
    rav = ctx.corpora.ravdess_paths
    order = [rav[i] for i in np.random.default_rng(seed).permutation(len(rav))]
    session = build_session(corpus_utterances(order), pauses_s=PAUSES_S, tail_s=1.5,
                            pause_fill=room_tone(order[:ROOM_TONE_FILES]), min_duration_s=sizes.session_s)
    speech_wav = write_wav(ctx.workdir / "session.wav", session.samples)
    speech_s, n_utt = session.duration_s, session.n_utterances
    runs = []
    progress(f"listen: replaying a {speech_s:.0f} s session of {n_utt} RAVDESS utterances and pauses "
             "in real time (ser-live with its dashboard on a pseudo-terminal)")
    speech = run_listening(speech_wav, name="speech+dashboard", audio_s=speech_s, tty=True,
                           extra_args=model_args, env=env, expected_utterances=n_utt)
    runs.append(speech)
    if sizes.headless:
        progress(f"listen: the same session with --partial (provisional estimates every 1 s), {speech_s:.0f} s")
        runs.append(run_listening(speech_wav, name="speech+dashboard+partial", audio_s=speech_s, tty=True,
                                  extra_args=[*model_args, "--partial"], env=env, expected_utterances=n_utt))
        progress(f"listen: the same session with --plain (no dashboard), {speech_s:.0f} s")
        runs.append(run_listening(speech_wav, name="speech+plain", audio_s=speech_s, tty=False,
                                  extra_args=model_args, env=env, expected_utterances=n_utt))
    if sizes.silence_s > 0:
        n = int(sizes.silence_s * SR)
        zero_wav = write_wav(ctx.workdir / "silence.wav", np.zeros(n, np.int16))
        noise = (10 ** (-60 / 20) * np.random.default_rng(2).standard_normal(n)).astype(np.float32)
        noise_wav = write_wav(ctx.workdir / "noise.wav", to_int16(noise))
        for nm, wav in (("silence+dashboard", zero_wav), ("noise-60dBFS+dashboard", noise_wav)):
            progress(f"listen: {nm}, {sizes.silence_s:.0f} s")
            runs.append(run_listening(wav, name=nm, audio_s=n / SR, tty=True, extra_args=model_args, env=env,
                                      expected_utterances=0))
    for r in runs:
        r.vad_hold_ms = hold
    sj = speech.to_json()
    eos = sj["end_of_speech_ms"]
    return {
        "session": {"audio_s": round(speech_s, 1), "utterances": n_utt, "gaps_s": list(PAUSES_S),
                    "gap_fill": f"the recordings' room tone ({session.pause_dbfs:.0f} dBFS)",
                    "source": "RAVDESS, trimmed to the VAD speech span"},
        "runs": [r.to_json() for r in runs],
        "end_of_speech": {
            "hangover_ms": vad.hangover_ms,
            "end_ratio": vad.end_ratio,
            "frame_ms": vad.frame_ms,
            "vad_hold_ms": hold,
            "target_ms": vad.hangover_ms + 20,
            "utterances": sj["utterances"],
            "utterances_ended_by_pause": sj["utterances_ended_by_pause"],
            "end_of_speech_ms": eos,
            "vad_wait_ms": sj["vad_wait_ms"],
            "processing_ms": sj["processing_ms"],
            "beyond_vad_hold_p95_ms": None if not eos.get("n") else round(eos["p95"] - hold, 1),
        },
    }


def summary_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Headline rows: end-of-speech p95, CPU of each run, peak RSS."""
    e = res["end_of_speech"]
    p95 = e["end_of_speech_ms"].get("p95")
    rows = [{"metric": f"end-of-speech p95 (hangover {e['hangover_ms']} ms)", "value": p95, "unit": "ms",
             "target": f"<= {e['target_ms']} ms", "met": None if p95 is None else p95 <= e["target_ms"]}]
    for r in res["runs"]:
        rows.append({"metric": f"CPU while listening: {r['name']}", "value": r["cpu_pct_core"], "unit": "% of a core",
                     "target": "<= 3 %", "met": None if r["cpu_pct_core"] is None else r["cpu_pct_core"] <= 3.0})
    peak = max((r["peak_rss_mb"] for r in res["runs"] if r["peak_rss_mb"] is not None), default=None)
    rows.append({"metric": "peak RSS while listening (max over runs)", "value": peak, "unit": "MB",
                 "target": "<= 150 MB", "met": None if peak is None else peak <= 150.0})
    return rows


def markdown(res: dict[str, Any]) -> list[str]:
    """The runs table and the end-of-speech breakdown."""
    e, s = res["end_of_speech"], res["session"]
    lines = ["", "## Listening (real-time replay through `ser-live`)", "",
             f"Session: {s['audio_s']} s, {s['utterances']} utterances ({s['source']}), gaps "
             f"{'/'.join(str(g) for g in s['gaps_s'])} s of {s['gap_fill']}.", ""]
    lines += md_table(
        ["run", "audio s", "utterances (expected)", "CPU % of a core", "CPU s / audio s", "peak RSS MB",
         "processing p50/p95 ms", "end-of-speech p50/p95 ms", "dropped samples"],
        [[r["name"], f"{r['audio_s']:.0f}", f"{r['utterances']} ({r['expected_utterances']})",
          fmt(r["cpu_pct_core"], "", 2), fmt(r["cpu_s_per_audio_s"], "", 4), fmt(r["peak_rss_mb"], "", 0),
          f"{fmt(r['processing_ms'].get('p50'))} / {fmt(r['processing_ms'].get('p95'))}",
          f"{fmt(r['end_of_speech_ms'].get('p50'))} / {fmt(r['end_of_speech_ms'].get('p95'))}",
          fmt(r["dropped_samples"], "", 0)] for r in res["runs"]])
    lines += ["", f"End of speech: hangover {e['hangover_ms']} ms with end_ratio {e['end_ratio']} on "
              f"{e['frame_ms']} ms frames, so an utterance closes {e['vad_hold_ms']:.0f} ms of silence after its "
              f"last voiced frame (VAD hold). Measured: last voiced frame in the ring -> utterance closed "
              f"p50/p95 {fmt(e['vad_wait_ms'].get('p50'))} / {fmt(e['vad_wait_ms'].get('p95'))} ms; closed -> result "
              f"p50/p95 {fmt(e['processing_ms'].get('p50'))} / {fmt(e['processing_ms'].get('p95'))} ms; end-of-speech "
              f"p95 exceeds the VAD hold by {fmt(e['beyond_vad_hold_p95_ms'])} ms."]
    return lines

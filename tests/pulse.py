"""A real microphone for machines without a sound card: PulseAudio null sink -> remapped source.

Audio played into the null sink comes back out of its monitor, which is remapped into a
source (``serlive_mic``) and made the default; ALSA's pulse plugin
(``/usr/share/alsa/alsa.conf.d/pulse.conf``, active whenever a PulseAudio server answers)
then makes ALSA's ``default`` and ``pulse`` PCMs - and so PortAudio's and sounddevice's
input devices of those names - read from it, sample for sample. The recipe and the steps
found to matter are in ``DESIGN.md``, section "Testing the capture path":

1. own daemon, own socket, anonymous auth, ``--exit-idle-time=-1``; null sink at 16 kHz
   mono s16le, its monitor remapped into a source that is the default;
   ``PULSE_SERVER=unix:<socket>`` exported for every process of the test;
2. a silent low-latency stream kept playing into the sink (otherwise the monitor delivers
   nothing while idle, then bursts of two seconds);
3. wait until the sink's latency drops below 100 ms before capturing;
4. feed speech with ``paplay --device=<sink>`` (no ``--latency-msec``: it drops audio under
   load).

Only the processes started here are stopped, by their PID.

Use as a context manager::

    with PulseNullSink(runtime_dir=tmp) as pulse:
        ...  # sounddevice sees the "pulse" / "default" input device
        pulse.play("utterance.wav")

or through the session-scoped pytest fixture :func:`pulse_null_sink` (import it into the test
module). The fixture skips with the ``apt-get`` command to run when a piece is missing; CI
(``.ci/run``) fails when the microphone test is skipped, which is intended.
"""

from __future__ import annotations

import ctypes.util
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

log = logging.getLogger(__name__)

__all__ = [
    "APT_PACKAGES",
    "SINK_NAME",
    "SOURCE_NAME",
    "DEVICE_NAME",
    "PulseNullSink",
    "PulseSetupError",
    "missing_requirements",
    "pulse_null_sink",
    "refresh_portaudio",
    "clear_stuck_jack_db",
]

#: Debian packages the capture tests need (printed in skip messages).
APT_PACKAGES = "libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins"
#: Name of the null sink speech is played into.
SINK_NAME = "serlive_sink"
#: Name of the source (the sink's monitor, remapped) the "microphone" reads.
SOURCE_NAME = "serlive_mic"
#: Name of the ALSA PCM (and so of the PortAudio/sounddevice input device) that reads
#: ``serlive_mic``; defined in an ``asoundrc`` under the fixture's ``XDG_CONFIG_HOME``.
DEVICE_NAME = "serlive_mic"
#: Sink latency (microseconds) below which capture may start (DESIGN step 3).
MAX_SINK_LATENCY_US = 100_000

_LATENCY_RE = re.compile(r"Latency:\s*(\d+)\s*usec")


class PulseSetupError(RuntimeError):
    """The PulseAudio daemon or one of its helper streams did not come up."""


def missing_requirements() -> list[str]:
    """Names of the missing pieces (programs, libraries) the null-sink microphone needs.

    Returns
    -------
    list of str
        Empty when ``pulseaudio``, ``pactl``, ``pacat``, ``paplay``, PortAudio
        (``libportaudio2``) and ALSA's pulse plugin (``libasound2-plugins``) are all present.
    """
    missing = [p for p in ("pulseaudio", "pactl", "pacat", "paplay") if shutil.which(p) is None]
    if ctypes.util.find_library("portaudio") is None:
        missing.append("libportaudio2")
    plugin_dirs = [
        Path("/usr/lib/x86_64-linux-gnu/alsa-lib"),
        Path("/usr/lib/aarch64-linux-gnu/alsa-lib"),
        Path("/usr/lib/alsa-lib"),
        Path("/usr/lib64/alsa-lib"),
    ]
    plugin_dirs += list(Path("/usr/lib").glob("*-linux-gnu*/alsa-lib"))
    if not any((d / "libasound_module_pcm_pulse.so").exists() for d in plugin_dirs):
        missing.append("libasound2-plugins (ALSA pulse plugin)")
    return missing


#: How long (s) a fresh process may take to initialise PortAudio before the JACK metadata
#: database is taken for stuck (:func:`clear_stuck_jack_db`); it takes well under 1 s.
PORTAUDIO_INIT_TIMEOUT_S = 20.0


def portaudio_starts(env: dict[str, str] | None = None, timeout_s: float = PORTAUDIO_INIT_TIMEOUT_S) -> bool:
    """Whether a fresh interpreter initialises PortAudio (``import sounddevice``, which runs
    ``Pa_Initialize``) within ``timeout_s`` seconds, with ``env`` (None: this process's).

    False means the call hung, most often on a JACK metadata database whose lock a process
    that died inside ``Pa_Initialize`` left held (:func:`clear_stuck_jack_db`).
    """
    try:
        subprocess.run([sys.executable, "-c", "import sounddevice"], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout_s)
        return True
    except subprocess.TimeoutExpired:
        return False


def clear_stuck_jack_db() -> bool:
    """Remove JACK's metadata database when it makes ``Pa_Initialize`` hang; True if it did.

    PortAudio's JACK host API (Debian's ``libportaudio2`` has it) opens JACK's metadata
    database, a Berkeley DB environment in ``/dev/shm/jack_db-<uid>``, in every
    ``Pa_Initialize``. A process that dies inside that call (the start-up Ctrl-C sweep of
    ``tests/test_capture_failures.py`` stops thirty ``ser-live`` runs at moments all through
    it) can leave the database's lock held, and every later ``Pa_Initialize`` of that user
    then waits for ever (seen once in a full ``make test``: the suite stopped in this
    module's teardown). This asks a fresh interpreter to initialise PortAudio
    (:func:`portaudio_starts`) and, when it has not finished in
    :data:`PORTAUDIO_INIT_TIMEOUT_S` and no JACK server runs (``jackd``, ``jackdbus``),
    moves the database aside: libjack makes a new one at the next call. Never touches it
    when PortAudio initialises in time.
    """
    db = Path("/dev/shm") / f"jack_db-{os.getuid()}"
    if not db.exists() or portaudio_starts():
        return False
    import psutil

    if any(p.info["name"] in ("jackd", "jackdbus") for p in psutil.process_iter(["name"])):
        log.warning("PortAudio initialisation hangs and a JACK server runs: %s left alone", db)
        return False
    aside = db.with_name(f"{db.name}.stuck-{os.getpid()}-{time.monotonic_ns()}")
    db.rename(aside)
    shutil.rmtree(aside, ignore_errors=True)
    log.warning("PortAudio initialisation hung on JACK's metadata database (%s, its lock held by a process that "
                "died inside Pa_Initialize): removed it", db)
    return True


def refresh_portaudio() -> None:
    """Make an already imported ``sounddevice`` re-enumerate its devices.

    PortAudio lists devices once, in ``Pa_Initialize`` (run when ``sounddevice`` is
    imported); a PulseAudio server started afterwards is only seen after a terminate and
    initialize. Does nothing when ``sounddevice`` has not been imported yet. A JACK
    metadata database left locked is cleared first (:func:`clear_stuck_jack_db`), so the
    re-initialisation cannot hang on it.
    """
    sd = sys.modules.get("sounddevice")
    if sd is None:
        return
    clear_stuck_jack_db()
    try:
        sd._terminate()
    finally:
        sd._initialize()


class PulseNullSink:
    """A private PulseAudio daemon whose default source replays what is played into its sink.

    Parameters
    ----------
    runtime_dir : Path, optional
        Folder for the socket, the daemon's runtime/state files and its log; a fresh
        temporary folder (removed on exit) when omitted.
    sample_rate_hz : int
        Rate of the null sink and of the source (Hz). 16000, the library's rate, so speech
        at 16 kHz passes without resampling.
    set_process_env : bool
        Export ``PULSE_SERVER`` (and the client settings) into ``os.environ`` while active,
        so that PortAudio inside this Python process reaches the daemon; restored on exit.
    startup_timeout_s : float
        How long to wait for the daemon to answer and for the sink latency to settle.

    Attributes
    ----------
    socket_path : Path
        The daemon's native-protocol socket.
    server : str
        ``unix:<socket_path>``, the value of ``PULSE_SERVER``.
    env : dict of str to str
        A copy of ``os.environ`` plus the variables a child process needs to use the daemon
        (pass it to ``subprocess`` for programs under test).
    sink_name, source_name : str
        The PulseAudio names ``serlive_sink`` and ``serlive_mic``.
    device_name : str
        ``serlive_mic``: the input device PortAudio lists for the source. ``default`` and
        ``pulse`` read the same source.

    Raises
    ------
    PulseSetupError
        On ``__enter__``, if the daemon, the silent keep-alive stream or the latency
        settling fails within ``startup_timeout_s``; the daemon's log tail is in the message.
    """

    def __init__(
        self,
        *,
        runtime_dir: Path | None = None,
        sample_rate_hz: int = 16000,
        set_process_env: bool = True,
        startup_timeout_s: float = 20.0,
    ) -> None:
        self.sample_rate_hz = int(sample_rate_hz)
        self.set_process_env = set_process_env
        self.startup_timeout_s = float(startup_timeout_s)
        self.sink_name = SINK_NAME
        self.source_name = SOURCE_NAME
        self.device_name = DEVICE_NAME
        self._own_tmp: tempfile.TemporaryDirectory[str] | None = None
        if runtime_dir is None:
            # Short path: unix socket paths are limited to 108 bytes.
            self._own_tmp = tempfile.TemporaryDirectory(prefix="serlive-pulse-")
            runtime_dir = Path(self._own_tmp.name)
        self.runtime_dir = Path(runtime_dir)
        self.socket_path = self.runtime_dir / "native"
        self.server = f"unix:{self.socket_path}"
        self.log_path = self.runtime_dir / "pulseaudio.log"
        self.env: dict[str, str] = {}
        self._daemon: subprocess.Popen[bytes] | None = None
        self._keepalive: subprocess.Popen[bytes] | None = None
        self._players: list[subprocess.Popen[bytes]] = []
        self._saved_env: dict[str, str | None] = {}

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "PulseNullSink":
        try:
            self._start()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _client_env(self) -> dict[str, str]:
        client_conf = self.runtime_dir / "client.conf"
        return {
            "PULSE_SERVER": self.server,
            # ALSA reads $XDG_CONFIG_HOME/alsa/asoundrc: it defines the `serlive_mic` PCM.
            "XDG_CONFIG_HOME": str(self.runtime_dir / "config"),
            # Never let a client autospawn a second daemon (e.g. the user's) if ours is down.
            "PULSE_CLIENTCONFIG": str(client_conf),
            # No cookie is needed (auth-anonymous=1); keep clients off ~/.config/pulse.
            "PULSE_COOKIE": str(self.runtime_dir / "cookie"),
        }

    def _start(self) -> None:
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        (self.runtime_dir / "state").mkdir(exist_ok=True)
        (self.runtime_dir / "client.conf").write_text("autospawn = no\n")
        alsa_dir = self.runtime_dir / "config" / "alsa"
        alsa_dir.mkdir(parents=True, exist_ok=True)
        # ALSA's pulse plugin already makes `default` and `pulse` read the default source
        # (/usr/share/alsa/alsa.conf.d/pulse.conf, active while a server answers); this PCM
        # names the test microphone, so `ser-live devices` lists it and `--device` finds it.
        (alsa_dir / "asoundrc").write_text(
            f"pcm.{self.device_name} {{\n"
            "    type pulse\n"
            f"    device {self.source_name}\n"
            "    hint {\n"
            "        show on\n"
            '        description "ser-live test microphone (PulseAudio null-sink monitor)"\n'
            "    }\n"
            "}\n"
        )
        rate = self.sample_rate_hz
        script = self.runtime_dir / "serlive.pa"
        script.write_text(
            "\n".join(
                [
                    f"load-module module-native-protocol-unix socket={self.socket_path} "
                    "auth-anonymous=1",
                    f"load-module module-null-sink sink_name={self.sink_name} rate={rate} "
                    "channels=1 format=s16le "
                    "sink_properties=device.description=ser-live-null-sink",
                    f"load-module module-remap-source master={self.sink_name}.monitor "
                    f"source_name={self.source_name} "
                    "source_properties=device.description=ser-live-test-microphone",
                    f"set-default-sink {self.sink_name}",
                    f"set-default-source {self.source_name}",
                    "",
                ]
            )
        )
        daemon_env = dict(os.environ)
        daemon_env.update(
            {
                "XDG_RUNTIME_DIR": str(self.runtime_dir),
                "PULSE_RUNTIME_PATH": str(self.runtime_dir),
                "PULSE_STATE_PATH": str(self.runtime_dir / "state"),
                "HOME": str(self.runtime_dir),
                "XDG_CONFIG_HOME": str(self.runtime_dir / "config"),
            }
        )
        daemon_env.pop("PULSE_SERVER", None)
        cmd = [
            "pulseaudio",
            "--daemonize=no",
            "-n",
            "--exit-idle-time=-1",
            "--use-pid-file=no",
            "--system=no",
            "--realtime=no",
            "--high-priority=no",
            "--disallow-exit=yes",
            "--log-target=stderr",
            "--log-level=notice",
            "-F",
            str(script),
        ]
        log.info("starting %s", " ".join(cmd))
        with open(self.log_path, "wb") as log_file:
            self._daemon = subprocess.Popen(
                cmd,
                env=daemon_env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        self.env = dict(os.environ)
        self.env.update(self._client_env())
        if self.set_process_env:
            for key, value in self._client_env().items():
                self._saved_env[key] = os.environ.get(key)
                os.environ[key] = value

        deadline = time.monotonic() + self.startup_timeout_s
        self._wait_for_daemon(deadline)
        zero_fd = os.open("/dev/zero", os.O_RDONLY)
        try:
            self._keepalive = subprocess.Popen(
                [
                    "pacat",
                    "--playback",
                    "--raw",
                    f"--device={self.sink_name}",
                    "--format=s16le",
                    f"--rate={rate}",
                    "--channels=1",
                    "--latency-msec=20",
                    "--client-name=serlive-keepalive",
                ],
                env=self.env,
                stdin=zero_fd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        finally:
            os.close(zero_fd)
        self._wait_for_low_latency(deadline)
        refresh_portaudio()

    def _wait_for_daemon(self, deadline: float) -> None:
        assert self._daemon is not None
        while True:
            if self._daemon.poll() is not None:
                raise PulseSetupError(
                    f"pulseaudio exited with code {self._daemon.returncode}:\n{self.log_tail()}"
                )
            res = subprocess.run(
                ["pactl", "info"], env=self.env, capture_output=True, text=True, timeout=10
            )
            if res.returncode == 0 and f"Default Source: {self.source_name}" in res.stdout:
                return
            if time.monotonic() > deadline:
                raise PulseSetupError(
                    f"pulseaudio did not answer on {self.server} "
                    f"(pactl: {res.stderr.strip() or res.stdout.strip()}):\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def sink_latency_us(self) -> int | None:
        """The null sink's current latency (microseconds) from ``pactl list sinks``.

        Returns
        -------
        int or None
            None when the sink is not listed or has no latency line.
        """
        res = subprocess.run(
            ["pactl", "list", "sinks"], env=self.env, capture_output=True, text=True, timeout=10
        )
        if res.returncode != 0:
            return None
        for block in res.stdout.split("\n\n"):
            if re.search(rf"^\s*Name:\s*{re.escape(self.sink_name)}\s*$", block, re.M):
                m = _LATENCY_RE.search(block)
                return int(m.group(1)) if m else None
        return None

    def _wait_for_low_latency(self, deadline: float) -> None:
        latency_us: int | None = None
        while True:
            if self._keepalive is not None and self._keepalive.poll() is not None:
                err = self._keepalive.stderr.read().decode(errors="replace") if self._keepalive.stderr else ""
                raise PulseSetupError(f"the silent keep-alive pacat stream died: {err}")
            latency_us = self.sink_latency_us()
            if latency_us is not None and latency_us < MAX_SINK_LATENCY_US:
                log.info("null sink latency %d us", latency_us)
                return
            if time.monotonic() > deadline:
                raise PulseSetupError(
                    f"null sink latency stayed at {latency_us} us (>= {MAX_SINK_LATENCY_US} us)"
                    f":\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def _stop(self) -> None:
        procs = [*self._players, self._keepalive, self._daemon]
        for proc in procs:
            if proc is not None and proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in procs:
            if proc is None:
                continue
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            if proc.stdin:
                proc.stdin.close()
            if proc.stderr:
                proc.stderr.close()
        self._players.clear()
        self._keepalive = None
        self._daemon = None
        if self._saved_env:
            for key, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self._saved_env.clear()
            refresh_portaudio()
        if self._own_tmp is not None:
            self._own_tmp.cleanup()
            self._own_tmp = None

    @property
    def daemon_pid(self) -> int:
        """PID of the PulseAudio daemon this object started (to kill it in a test).

        Raises
        ------
        PulseSetupError
            The daemon is not running.
        """
        if self._daemon is None or self._daemon.poll() is not None:
            raise PulseSetupError("the PulseAudio daemon is not running")
        return self._daemon.pid

    # ------------------------------------------------------------------ use
    def play(self, path: str | Path, *, timeout_s: float = 120.0) -> None:
        """Play a sound file into the null sink and return when ``paplay`` has finished.

        ``paplay`` waits for its stream to drain, so the whole file has been mixed into the
        sink on return; the monitor may still hold up to the sink latency (< 100 ms) of it.

        Parameters
        ----------
        path : str or Path
            A file libsndfile reads; at the sink's rate (16 kHz) and mono it passes unchanged.
        timeout_s : float
            Give up (and kill ``paplay``) after this many seconds.

        Raises
        ------
        PulseSetupError
            ``paplay`` failed or timed out.
        """
        proc = self.play_async(path)
        try:
            _, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise PulseSetupError(f"paplay {path} did not finish within {timeout_s} s") from None
        finally:
            if proc in self._players:
                self._players.remove(proc)
        if proc.returncode != 0:
            raise PulseSetupError(
                f"paplay {path} failed ({proc.returncode}): {err.decode(errors='replace')}"
            )

    def play_async(self, path: str | Path) -> "subprocess.Popen[bytes]":
        """Start playing a file into the null sink; returns the ``paplay`` process.

        The process is stopped on exit if still running. No ``--latency-msec`` is passed: a
        low playback latency makes ``paplay`` drop audio under CPU load.
        """
        proc = subprocess.Popen(
            ["paplay", f"--device={self.sink_name}", "--client-name=serlive-test-speech", str(path)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._players.append(proc)
        return proc

    def recording_streams(self) -> list[int]:
        """Indices of the record streams (PulseAudio source outputs) clients have open.

        The daemon's own source output (``module-remap-source`` reading the sink monitor,
        listed with client ``-``) is always there and is not a recorder: it is left out.
        """
        res = subprocess.run(
            ["pactl", "list", "short", "source-outputs"],
            env=self.env, capture_output=True, text=True, timeout=10,
        )
        if res.returncode != 0:
            return []
        # Columns: index, source, client, driver, sample spec.
        rows = [line.split() for line in res.stdout.splitlines() if line.strip()]
        return [int(r[0]) for r in rows if len(r) > 2 and r[2] != "-"]

    def wait_for_recorder(self, *, timeout_s: float = 60.0, stable_s: float = 1.0,
                          proc: "subprocess.Popen[bytes] | None" = None) -> int:
        """Wait until a program has opened the microphone and kept it open for ``stable_s``.

        PortAudio opens and closes every device briefly while it lists them; a stream that
        is still there ``stable_s`` later is the real capture stream.

        Parameters
        ----------
        timeout_s : float
            Give up after this many seconds.
        stable_s : float
            How long the same record stream must stay open (seconds).
        proc : subprocess.Popen, optional
            The recording program; if it exits meanwhile, stop waiting.

        Returns
        -------
        int
            The record stream's index.

        Raises
        ------
        PulseSetupError
            No record stream stayed open within ``timeout_s``, or ``proc`` exited.
        """
        deadline = time.monotonic() + timeout_s
        seen: dict[int, float] = {}
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise PulseSetupError(f"the recording program exited ({proc.returncode})")
            now = time.monotonic()
            current = self.recording_streams()
            seen = {i: seen.get(i, now) for i in current}
            for index, since in seen.items():
                if now - since >= stable_s:
                    return index
            time.sleep(0.1)
        raise PulseSetupError(f"no program kept the microphone open within {timeout_s} s")

    def listen_while_playing(self, argv: list[str], *, wav: str | Path, jsonl: Path, n_lines: int,
                             log_path: Path, env: dict[str, str], timeout_s: float = 30.0) -> tuple[int, str]:
        """Run ``ser-live`` on this microphone, play ``wav`` into it, stop it with SIGINT.

        Starts ``argv`` (its output to ``log_path``), waits until it holds the capture stream
        open, plays the file, waits until ``jsonl`` has ``n_lines`` utterance records (or
        ``timeout_s`` passes), then sends SIGINT and waits for the exit. A process that is
        still running afterwards is killed.

        Returns
        -------
        (int, str)
            The exit status and the process's output.

        Raises
        ------
        AssertionError
            The process never opened the microphone, or exited before the lines came; the
            message holds its output.
        """
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
            try:
                # Ready when its capture stream is open on the daemon (and stays open: device
                # listing opens streams briefly); then a little more silence before speech.
                try:
                    self.wait_for_recorder(timeout_s=120.0, proc=proc)
                except Exception as exc:
                    raise AssertionError(f"{exc}:\n{log_path.read_text(errors='replace')}") from exc
                time.sleep(0.5)
                self.play(wav)
                deadline = time.monotonic() + timeout_s
                while time.monotonic() < deadline:
                    if jsonl.exists() and sum(1 for ln in jsonl.read_text().splitlines() if '"kind": "utterance"' in ln) >= n_lines:
                        break
                    assert proc.poll() is None, log_path.read_text(errors="replace")
                    time.sleep(0.2)
                proc.send_signal(signal.SIGINT)
                rc = proc.wait(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        return rc, log_path.read_text(errors="replace")

    def log_tail(self, n_lines: int = 30) -> str:
        """The last lines of the daemon's log (for failure messages)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no daemon log)"
        return "\n".join(lines[-n_lines:])


@pytest.fixture(scope="module")
def pulse_null_sink() -> Iterator[PulseNullSink]:
    """A :class:`PulseNullSink` for the tests of one module: a default input device fed by
    ``play(path)``. Module-scoped, so the rest of the suite runs without it (``PULSE_SERVER``
    and the device list are restored when the module's tests end); starting one takes
    about 2 s.

    Skips (with the ``apt-get`` command to run) when PulseAudio, its utilities, PortAudio or
    ALSA's pulse plugin are missing. ``.ci/run`` fails on that skip.
    """
    missing = missing_requirements()
    if missing:
        pytest.skip(
            f"needs {', '.join(missing)}: run `apt-get install -y {APT_PACKAGES}`"
        )
    # Short path for the socket (108-byte limit); tmp_path_factory paths can be long.
    with tempfile.TemporaryDirectory(prefix="serlive-pulse-") as tmp:
        with PulseNullSink(runtime_dir=Path(tmp)) as pulse:
            yield pulse

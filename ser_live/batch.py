"""Batch prediction and feature extraction on a Dask cluster (``--dask [ADDRESS]``).

``ser-live predict PATH... --dask [ADDRESS] --output FILE`` scores an archive of files on a
``dask.distributed`` cluster: the inputs (files, folders, CSVs of paths) are split into tasks
of a few hundred files, each worker loads the model once (:func:`model_plugin`, a worker
plugin, re-installed on any worker that joins later), and each finished task's records are
written to the output at once (:class:`~ser_live.records.RecordWriter`: ``.parquet`` through
pyarrow, ``.jsonl`` or ``.csv``, the records of :mod:`ser_live.records`), keyed by path, so an interrupted run keeps what was written and ``--resume``
scores only the paths not yet in the output. A file that fails is a record with its
``error``; a task that kills its worker repeatedly (Dask's ``KilledWorker``) is split in
halves and resubmitted until the file to blame is alone, so no batch is ever lost.

Without an address a :class:`distributed.LocalCluster` runs on this machine (one worker
process per core, one thread each); with ``tcp://host:port`` an existing cluster is used
(started with ``dask scheduler`` and ``dask worker tcp://host:port``). Workers read the input
files by the paths the client gives, so they need the same filesystem view (a shared
filesystem on a real cluster).

:func:`dask_imap` is the generic part (connect, submit, stream results as they complete,
reschedule, detect a lost cluster); :func:`dask_starmap` puts it in input order for
``python -m train features --dask``.

Dask is imported only here and only when called: ``ser-live`` without ``--dask`` never
imports it (start-up time).

References
----------
Dask distributed, worker plugins: https://distributed.dask.org/en/stable/plugins.html
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import logging
import math
import os
import pickle
import socket
import struct
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .audiofile import expand_audio_paths
from .errors import AudioFileError, ExitCode, SerLiveError
from .records import OUTPUT_SUFFIXES, RecordWriter, error_record, prediction_record, text_cell
from .signals import signals_deferred

if TYPE_CHECKING:  # pragma: no cover
    from .model import EmotionModel
    from .types import UncertaintyRule
    from .vad import VadConfig

__all__ = [
    "BatchConfig",
    "BatchReport",
    "ClusterError",
    "DaskUnavailableError",
    "check_dask_endpoint",
    "OUTPUT_SUFFIXES",
    "model_plugin",
    "RecordWriter",
    "dask_imap",
    "dask_starmap",
    "expand_inputs",
    "expand_path_lists",
    "open_client",
    "path_key",
    "PathListError",
    "predict_on_cluster",
    "require_dask",
]

log = logging.getLogger(__name__)


class ClusterError(SerLiveError):
    """The Dask cluster cannot be reached, vanished mid-run, or has had no worker for too
    long. Exit status 8."""

    exit_code = ExitCode.CLUSTER


#: What to run when Dask is missing (``--dask`` of ``ser-live predict`` and ``python -m train features``).
DASK_INSTALL_HINT = "pip install 'ser-live[dask]'"


class DaskUnavailableError(SerLiveError, ImportError):
    """``--dask`` was asked for but the dask extra (``dask``, ``distributed``) is not
    installed. Exit status 2 (a usage error, as ``--output x.parquet`` without pyarrow)."""

    exit_code = ExitCode.USAGE


def require_dask() -> None:
    """Import Dask's distributed scheduler client, or raise a clear error.

    Raises
    ------
    DaskUnavailableError
        ``dask`` or ``distributed`` is not installed (or cannot be imported); the message
        names :data:`DASK_INSTALL_HINT`.
    """
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise DaskUnavailableError(
            f"--dask needs the dask extra (dask and distributed), which is not installed: {DASK_INSTALL_HINT} "
            f"({exc})"
        ) from exc


@dataclass
class BatchConfig:
    """Settings of a cluster run.

    Attributes
    ----------
    chunk_files : int, default 200
        Files per task. Large enough that the per-task overhead (about a millisecond of
        scheduling, plus one round trip) is small against ~200 files x ~10 ms each; small
        enough that a lost worker costs little and the progress bar moves.
    connect_timeout_s : float, default 10.0
        Give up connecting to a scheduler (or waiting for its handshake,
        :func:`check_dask_endpoint`) after this long; also how long a lost scheduler
        connection may stay lost before the run ends.
    no_worker_timeout_s : float, default 120.0
        End the run when the cluster has had no worker for this long while tasks wait.
    poll_s : float, default 0.5
        How often the client wakes to check the cluster and Ctrl-C while waiting.
    progress : bool, default True
        Show a rich progress bar (files, files/s) on stderr when it is a terminal.
    """

    chunk_files: int = 200
    connect_timeout_s: float = 10.0
    no_worker_timeout_s: float = 120.0
    poll_s: float = 0.5
    progress: bool = True

    def validate(self) -> "BatchConfig":
        """Check the values; returns ``self``. Raises ValueError on a non-positive one."""
        for name in ("chunk_files", "connect_timeout_s", "no_worker_timeout_s", "poll_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be > 0, got {v!r}")
        return self


@dataclass
class BatchReport:
    """What a cluster run did: ``n_inputs`` (paths found), ``n_skipped`` (already in the
    output, ``--resume``), ``n_scored`` (records written, failures included), ``n_failed``
    (records with an error), ``seconds`` (wall time of the scoring), ``n_workers`` (at the
    start)."""

    n_inputs: int = 0
    n_skipped: int = 0
    n_scored: int = 0
    n_failed: int = 0
    seconds: float = 0.0
    n_workers: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def files_per_s(self) -> float:
        """Records written per second of wall time."""
        return self.n_scored / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        s = (f"{self.n_scored} files scored ({self.n_failed} failed) on {self.n_workers} workers "
             f"in {self.seconds:.1f} s, {self.files_per_s:.1f} files/s")
        if self.n_skipped:
            s += f"; {self.n_skipped} skipped (already in the output)"
        return s


# ---------------------------------------------------------------------- inputs
def expand_inputs(paths: Iterable[str]) -> list[tuple[str, str | None]]:
    """The files to score: files as named, folders walked (as ``ser-live predict`` walks
    them), and CSV files of paths (a ``path`` column, else the first column; relative paths
    are relative to the CSV's folder, as for ``--sessions``).

    Every path is made absolute here, on the client (joined to this process's working
    folder), since workers run in folders of their own; two
    spellings of one file (``a/../a/x.wav``, ``./x.wav``, a symlink) are one input
    (compared by :func:`path_key`).

    Parameters
    ----------
    paths : iterable of str

    Returns
    -------
    list of (str, str or None)
        Each absolute path, with an error message when it is unusable before any scoring
        (an empty folder, an unreadable CSV); order kept, duplicates dropped.

    Raises
    ------
    PathListError
        As :func:`expand_path_lists` (a short row in a CSV of paths).
    """
    out: dict[str, tuple[str, str | None]] = {}

    cwd = os.getcwd()

    def add(p: str, err: str | None) -> None:
        if not os.path.isabs(p):  # not normpath: ``link/..`` is the link target's parent
            p = os.path.join(cwd, p)
        out.setdefault(path_key(p), (p, err))

    for p, err in expand_path_lists(paths):
        add(p, str(err) if err is not None else None)
    return list(out.values())


def expand_path_lists(paths: Iterable[str]) -> Iterator[tuple[str, AudioFileError | None]]:
    """The files named by ``paths``, as the user spelt them: files as named, folders walked
    (:func:`~ser_live.audiofile.expand_audio_paths`), and in place of a CSV of paths (an
    existing ``*.csv``) the files it lists (a ``path`` column, else the first column;
    relative paths are relative to the CSV's folder). ``ser-live predict`` reads its inputs
    through this, with and without ``--dask`` (:func:`expand_inputs`).

    Parameters
    ----------
    paths : iterable of str

    Yields
    ------
    (str, AudioFileError or None)
        Each file, in order, with an error when it is unusable before any scoring (a folder
        holding no audio, a CSV that cannot be read or lists no file: the CSV's own path
        with the error).

    Raises
    ------
    PathListError
        A CSV of paths with a row that has no cell in the path column (exit 2).
    """
    for raw in paths:
        try:
            is_csv = raw.lower().endswith(".csv") and Path(raw).is_file()
        except OSError:  # no permission on a folder above it
            yield raw, AudioFileError(f"{raw}: cannot read the CSV of paths (no permission on a folder above it)")
            continue
        if is_csv:
            try:
                listed = _read_path_csv(Path(raw))
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                yield raw, AudioFileError(f"{raw}: cannot read the CSV of paths: {exc}")
                continue
            if not listed:  # as a folder holding no audio: an error record, not a run of 0 files that exits 0
                yield raw, AudioFileError(f"{raw}: the CSV of paths lists no files (it needs one path a row, in "
                                          "a `path` column or else the first)")
                continue
            for p in listed:
                yield p, None
        else:
            yield from expand_audio_paths([raw])


def path_key(path: str) -> str:
    """The key by which ``--resume`` and :func:`expand_inputs` compare paths: the resolved
    path (``os.path.realpath``: symlinks followed, ``.``/``..`` folded, absolute), or the
    string itself when it cannot be resolved (a NUL byte); a name that is not UTF-8 as
    :func:`~ser_live.records.text_cell` writes it in a CSV or Parquet output, so a file read
    back from one is found done.

    Parameters
    ----------
    path : str

    Returns
    -------
    str
    """
    try:
        return text_cell(os.path.realpath(path))
    except (ValueError, OSError):
        return text_cell(path)


class PathListError(SerLiveError):
    """A CSV of paths given to ``predict --dask`` that cannot be used as a list (a short
    row). Exit status 2."""

    exit_code = ExitCode.USAGE


def _read_path_csv(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        rows = [(reader.line_num, r) for r in reader if r and any(c.strip() for c in r)]
    if not rows:
        return []
    col = 0
    head = [c.strip().lower() for c in rows[0][1]]
    if "path" in head:
        col, rows = head.index("path"), rows[1:]
    base = path.resolve().parent
    out = []
    for line, r in rows:
        if len(r) <= col or not r[col].strip():
            raise PathListError(f"CSV of paths {path}, line {line}: no path in column {col + 1} (a short row)")
        p = Path(r[col].strip())
        out.append(str(p if p.is_absolute() else base / p))
    return out


def _chunks(items: Sequence[Any], n: int) -> list[list[Any]]:
    return [list(items[i : i + n]) for i in range(0, len(items), n)]


# ---------------------------------------------------------------------- workers
def _plugin_class() -> type:
    """:func:`model_plugin` builds a subclass of ``distributed.WorkerPlugin``: built on first use so
    that importing this module does not import Dask."""
    global _PLUGIN_CLASS
    if _PLUGIN_CLASS is None:
        from distributed.diagnostics.plugin import WorkerPlugin

        class _ModelPlugin(WorkerPlugin):
            def __init__(self, model_bytes: bytes, vad_config: Any, name: str, uncertainty: Any = None) -> None:
                self.model_bytes = model_bytes
                self.vad_config = vad_config
                self.name = name
                self.uncertainty = uncertainty
                self.predictor: Any = None

            def setup(self, worker: Any) -> None:  # once per worker process
                from .offline import Predictor
                from .runtime import tune_process

                _drop_nanny_malloc_setting()
                tune_process()  # heap thresholds, one BLAS thread: as single-process predict
                model = pickle.loads(self.model_bytes)
                self.predictor = Predictor(model, vad_config=self.vad_config)
                log.info("worker %s: model %s loaded", getattr(worker, "address", "?"), self.name)

        _PLUGIN_CLASS = _ModelPlugin
    return _PLUGIN_CLASS


_PLUGIN_CLASS: type | None = None


def _drop_nanny_malloc_setting() -> None:
    """Undo the ``MALLOC_TRIM_THRESHOLD_`` that Dask's nanny puts in every worker's
    environment (``distributed.nanny.pre-spawn-environ``), so that
    :func:`~ser_live.runtime.tune_process` sets the heap thresholds it sets in ``ser-live``:
    with the nanny's 64 KiB trim threshold feature extraction page-faults its working set
    anew on every file, and a worker scored 40 % fewer files/s than one ``ser-live predict``
    process (``python -m benchmarks.dask_scale``). A value the user chose is kept."""
    import dask

    nanny = (dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {}).get("MALLOC_TRIM_THRESHOLD_")
    if nanny is not None and os.environ.get("MALLOC_TRIM_THRESHOLD_") == str(nanny):
        del os.environ["MALLOC_TRIM_THRESHOLD_"]


def model_plugin(model: "EmotionModel", *, vad_config: "VadConfig | None" = None,
                 uncertainty: "UncertaintyRule | None" = None) -> Any:
    """A ``distributed.WorkerPlugin`` that gives each worker one
    :class:`~ser_live.offline.Predictor`, built once when the plugin is set up on the worker
    (and on every worker that joins later).

    Parameters
    ----------
    model : EmotionModel
        Loaded (and so checked) on the client; sent pickled, as Dask sends everything.
    vad_config : VadConfig, optional
    uncertainty : UncertaintyRule, optional
        The run's rule: each record gets ``uncertain`` (true/false) by it, as live.

    Returns
    -------
    distributed.WorkerPlugin
        Its ``name`` is ``ser-live-model-<sha1 of the pickled model, VAD config and rule>``, so
        two runs with the same model share the workers' copy and different models do not clash.
    """
    blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha1(blob + repr((vad_config, uncertainty)).encode()).hexdigest()[:12]
    return _plugin_class()(blob, vad_config, f"ser-live-model-{digest}", uncertainty)


def _score_chunk(paths: list[str], plugin_name: str) -> list[dict[str, Any]]:
    """Task run on a worker: one record per path, failures included."""
    from distributed import get_worker

    plugin = get_worker().plugins[plugin_name]
    out = []
    for p in paths:
        try:
            pred = plugin.predictor.process_file(p)
        except Exception as exc:  # a file that fails is a record, never a lost batch
            out.append(error_record(p, exc))
            continue
        out.append(prediction_record(p, pred, uncertainty=plugin.uncertainty))
    return out


# ---------------------------------------------------------------------- cluster
@contextlib.contextmanager
def open_client(address: str | None, *, connect_timeout_s: float = 10.0) -> Iterator[Any]:
    """A ``distributed.Client`` of a new local cluster or of an existing one.

    Parameters
    ----------
    address : str or None
        ``tcp://host:port`` of a running scheduler, or None (or "") for a
        ``LocalCluster`` on 127.0.0.1: one worker process per core, one thread each, no
        dashboard.
    connect_timeout_s : float, default 10.0
        Give up connecting after this long (s).

    Yields
    ------
    distributed.Client

    Raises
    ------
    ClusterError
        The scheduler cannot be reached in time, does not speak the Dask protocol
        (:func:`check_dask_endpoint`), or the local cluster cannot start.
    DaskUnavailableError
        Dask is not installed (:func:`require_dask`).
    """
    require_dask()
    import dask
    from distributed import Client, LocalCluster

    settings: dict[str, Any] = {"distributed.comm.timeouts.connect": f"{connect_timeout_s}s"}
    _quiet_dask_logs()
    cluster = None
    interrupted = False
    with dask.config.set(settings):
        try:
            if address:
                check_dask_endpoint(address, timeout_s=connect_timeout_s)
                client = Client(address, timeout=connect_timeout_s, set_as_default=False)
            else:
                cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       # workers' notes on tasks cancelled by Ctrl-C are not for the user
                                       silence_logs=logging.ERROR if not log.isEnabledFor(logging.INFO) else False)
                client = Client(cluster, timeout=connect_timeout_s, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            if cluster is not None:
                cluster.close()
            where = address or "a local cluster"
            raise ClusterError(f"cannot connect to the Dask scheduler at {where} within "
                               f"{connect_timeout_s:g} s: {exc}") from exc
    try:
        yield client
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        if cluster is not None and interrupted:  # Ctrl-C: do not wait for the running tasks
            _kill_local_workers(client)
        with contextlib.suppress(Exception):
            client.close(timeout=2)
        if cluster is not None:
            with contextlib.suppress(Exception):  # ~2 s even with the workers gone (nannies)
                cluster.close(timeout=5)


#: Loggers whose records (tracebacks of Client.__del__, reconnect attempts, workers' notes on
#: cancelled tasks) are kept out of stderr unless ``-v``: the run's own messages say what
#: went wrong in one line.
_DASK_LOGGERS: tuple[str, ...] = ("distributed", "dask", "tornado", "asyncio")


def _quiet_dask_logs() -> None:
    """Without ``-v`` (this module's logger below INFO), Dask's and its event loop's loggers
    say nothing (their records end up as tracebacks on stderr); with ``-v`` they keep their
    level and handlers. Called before the first Client is made, and again at exit."""
    if log.isEnabledFor(logging.INFO):
        return
    names = [n for n in list(logging.root.manager.loggerDict) if n.split(".")[0] in _DASK_LOGGERS]
    for name in {*_DASK_LOGGERS, *names}:  # children with a level of their own too (Dask's config sets some)
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    for handler in logging.getLogger().handlers:  # and loggers made later, that propagate to the root
        if _drop_dask_records not in handler.filters:
            handler.addFilter(_drop_dask_records)


def _drop_dask_records(record: logging.LogRecord) -> bool:
    """Handler filter of :func:`_quiet_dask_logs`: False for the records of its loggers."""
    return record.name.split(".")[0] not in _DASK_LOGGERS


#: Most bytes of a Dask handshake message read by :func:`check_dask_endpoint` (a real
#: scheduler's is ~100 bytes: compression, python version, pickle protocol).
_HANDSHAKE_MAX_BYTES = 1 << 16


def check_dask_endpoint(address: str, *, timeout_s: float = 10.0) -> None:
    """Check that ``address`` speaks the Dask protocol before a Client is pointed at it.

    A Dask scheduler writes its handshake as soon as a connection is accepted: an 8-byte
    native-order unsigned length, then a msgpack message naming ``pickle-protocol``
    (``distributed.comm.core.Listener.on_connection``, ``distributed.comm.tcp.TCP.read``).
    Something that accepts and stays silent (a stopped process, an HTTP server waiting for
    a request) would make the Client wait well past its timeout, and one that answers with
    other bytes makes Dask read a wild frame length (a MemoryError of exabytes, a
    ``struct.error``); both end here, within ``timeout_s``, as a :class:`ClusterError`.

    Only ``tcp://`` (or scheme-less ``host:port``) addresses are probed; a refused
    connection is left to the Client (it retries while a scheduler starts). A scheme Dask
    has no transport for (``http://``, the dashboard's) is refused at once.

    Parameters
    ----------
    address : str
    timeout_s : float, default 10.0
        Whole probe, connection included (s).

    Raises
    ------
    ClusterError
        An address that does not parse or whose scheme Dask does not know, no handshake
        within ``timeout_s``, the connection closed before one, or bytes that are not a
        Dask handshake.
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, loc = parse_address(address)
        host, port = parse_host_port(loc)
    except (ValueError, TypeError) as exc:
        raise ClusterError(f"{address!r} is not a Dask scheduler address (tcp://host:port): {exc}") from exc
    from distributed.comm.registry import backends

    if scheme not in backends:  # e.g. http:// (a dashboard's address): the Client would fail, then hang 20 s at exit
        raise ClusterError(f"{address!r} is not a Dask scheduler address: unknown scheme {scheme!r}; give the "
                           f"scheduler's tcp://host:port (or host:port; schemes: {', '.join(sorted(backends))})")
    if scheme != "tcp":
        return
    deadline = time.monotonic() + timeout_s
    not_dask = f"{address} does not speak the Dask protocol (not a Dask scheduler?)"
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            head = _recv_exactly(sock, 8, deadline)
            (n,) = struct.unpack("Q", head)
            if not 8 < n <= _HANDSHAKE_MAX_BYTES:
                raise ClusterError(f"{not_dask}: it answered with a message of {n} bytes")
            body = _recv_exactly(sock, n, deadline)
    except (ConnectionRefusedError, socket.gaierror):
        return
    except TimeoutError as exc:
        raise ClusterError(f"{address} sent no Dask handshake within {timeout_s:g} s "
                           "(not a Dask scheduler, or one that hangs)") from exc
    except EOFError as exc:
        raise ClusterError(f"{not_dask}: it closed the connection before a handshake") from exc
    except OSError as exc:
        raise ClusterError(f"cannot connect to the Dask scheduler at {address}: {exc}") from exc
    if b"pickle-protocol" not in body:
        raise ClusterError(f"{not_dask}: its first message is not a Dask handshake")


def _recv_exactly(sock: socket.socket, n: int, deadline: float) -> bytes:
    """``n`` bytes from ``sock`` by ``deadline`` (``time.monotonic``); TimeoutError after
    it, EOFError when the peer closes first."""
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(min(n - len(buf), 65536))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def _kill_local_workers(client: Any) -> None:
    """SIGKILL the worker processes of the local cluster this process started, by PID: its
    orderly close waits for the running tasks (seconds), and Ctrl-C must end within 2 s."""
    import signal

    with contextlib.suppress(Exception):
        for info in client.scheduler_info(n_workers=-1).get("workers", {}).values():
            pid = info.get("pid")
            if pid and pid != os.getpid():
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


def _is_cluster_loss(exc: BaseException) -> bool:
    from distributed.comm.core import CommClosedError

    return isinstance(exc, (CommClosedError, OSError, TimeoutError)) or type(exc).__name__ == "CancelledError"


def dask_imap(
    fn: Callable[..., list[Any]],
    items: Sequence[Any],
    *,
    client: Any,
    config: BatchConfig | None = None,
    on_fail: Callable[[Any, str], Any] | None = None,
    fn_kwargs: dict[str, Any] | None = None,
) -> Iterator[tuple[list[Any], list[Any]]]:
    """Run ``fn(chunk, **fn_kwargs)`` over chunks of ``items`` on a cluster; yield each
    chunk with its results as soon as its task completes (completion order).

    A worker that dies has its tasks rescheduled by Dask. A chunk whose task fails (it
    killed workers more often than ``distributed.scheduler.allowed-failures``, or ``fn``
    raised) is split in halves and resubmitted; a single item that still fails gets
    ``on_fail(item, message)`` as its result. Closing the generator early (an exception in
    the consumer, Ctrl-C) cancels the tasks still pending.

    Parameters
    ----------
    fn : callable
        Picklable (module level), taking a list of items and returning one result per item.
    items : sequence
    client : distributed.Client
    config : BatchConfig, optional
    on_fail : callable(item, message), optional
        Result of an item whose task failed alone; without it the error is raised.
    fn_kwargs : dict, optional
        Extra keyword arguments of ``fn``.

    Yields
    ------
    (list, list)
        A chunk of ``items`` and ``fn``'s results for it.

    Raises
    ------
    ClusterError
        The scheduler connection is lost for longer than ``connect_timeout_s``, or no
        worker for ``no_worker_timeout_s``.
    """
    cfg = (config or BatchConfig()).validate()
    kw = fn_kwargs or {}
    pending: dict[Any, list[Any]] = {}

    def submit(chunk: list[Any]) -> None:
        fut = client.submit(fn, chunk, **kw, pure=False)
        pending[fut] = chunk

    for chunk in _chunks(items, int(cfg.chunk_files)):
        submit(chunk)
    try:
        with client.as_current():  # distributed.wait() asks for the current client
            yield from _drain(pending, submit, client=client, cfg=cfg, on_fail=on_fail)
    finally:
        if pending:
            with contextlib.suppress(Exception):
                client.cancel(list(pending), force=True)


def dask_starmap(
    fn: Callable[..., Any],
    arg_tuples: Sequence[tuple[Any, ...]],
    *,
    address: str | None = None,
    config: BatchConfig | None = None,
) -> Iterator[Any]:
    """``fn(*args)`` for each tuple of ``arg_tuples`` on a Dask cluster, yielded in input
    order (results that complete early wait in the client until their turn).

    Used by ``python -m train features --dask``: ``fn`` must be importable on the workers
    (the same ``ser_live``/``train`` code), and the paths in ``arg_tuples`` readable there.

    Parameters
    ----------
    fn : callable
        Module-level function.
    arg_tuples : sequence of tuple
    address : str, optional
        Scheduler address; None for a local cluster (see :func:`open_client`).
    config : BatchConfig, optional

    Yields
    ------
    object
        ``fn(*arg_tuples[i])`` for i = 0, 1, ...

    Raises
    ------
    ClusterError
        As :func:`open_client` and :func:`dask_imap`.
    DaskUnavailableError
        Dask is not installed (``python -m train features --dask`` shows its message).
    """
    cfg = (config or BatchConfig()).validate()
    ready: dict[int, Any] = {}
    nxt = 0
    with open_client(address, connect_timeout_s=cfg.connect_timeout_s) as client:
        for chunk, results in dask_imap(_star_chunk, list(enumerate(arg_tuples)), client=client, config=cfg,
                                        fn_kwargs={"fn": fn}):
            ready.update((i, r) for (i, _args), r in zip(chunk, results))
            while nxt in ready:
                yield ready.pop(nxt)
                nxt += 1


def _star_chunk(chunk: list[tuple[int, tuple[Any, ...]]], fn: Callable[..., Any]) -> list[Any]:
    """Task run on a worker for :func:`dask_starmap`."""
    return [fn(*args) for _i, args in chunk]


def _drain(pending: dict[Any, list[Any]], submit: Callable[[list[Any]], None], *, client: Any, cfg: BatchConfig,
           on_fail: Callable[[Any, str], Any] | None) -> Iterator[tuple[list[Any], list[Any]]]:
    """:func:`dask_imap`'s loop: wait for tasks, yield results, resubmit failed chunks."""
    from distributed import wait

    lost_since: float | None = None
    no_worker_since: float | None = None
    while pending:
        try:
            done, _ = wait(list(pending), timeout=cfg.poll_s, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        except Exception as exc:  # noqa: BLE001 - the connection to the scheduler broke
            if type(exc).__name__ == "FuturesCancelledError":  # the client gave the scheduler up
                raise ClusterError(f"lost the Dask cluster: the scheduler went away ({len(pending)} task(s) "
                                   "unfinished)") from exc
            if not _is_cluster_loss(exc):
                raise
            done = set()
        now = time.monotonic()
        if client.status != "running":
            lost_since = lost_since or now
            if now - lost_since > cfg.connect_timeout_s:
                raise ClusterError(f"lost the Dask scheduler (client {client.status}) for more than "
                                   f"{cfg.connect_timeout_s:g} s")
            continue
        lost_since = None
        for fut in done:
            chunk = pending.pop(fut)
            if fut.status == "finished":
                try:
                    results = fut.result()
                except Exception as exc:  # noqa: BLE001
                    if _is_cluster_loss(exc):
                        raise ClusterError(f"lost the Dask cluster while fetching results: {exc}") from exc
                    raise
                yield chunk, results
            elif fut.status == "cancelled":
                raise ClusterError("the Dask scheduler cancelled the tasks (cluster restarted or lost)")
            else:  # "error": KilledWorker or fn raised
                exc = fut.exception()
                msg = f"{type(exc).__name__}: {exc}"
                if len(chunk) > 1:
                    log.warning("a task of %d items failed (%s); splitting it", len(chunk), msg)
                    half = len(chunk) // 2
                    submit(chunk[:half])
                    submit(chunk[half:])
                elif on_fail is not None:
                    yield chunk, [on_fail(chunk[0], msg)]
                else:
                    raise exc
            fut.release()
        if pending and not done:
            n_workers = len(client.scheduler_info(n_workers=-1).get("workers", {})) if client.status == "running" else 0
            if n_workers == 0:
                no_worker_since = no_worker_since or now
                if now - no_worker_since > cfg.no_worker_timeout_s:
                    raise ClusterError(f"the Dask cluster has had no worker for {cfg.no_worker_timeout_s:g} s")
            else:
                no_worker_since = None


# ---------------------------------------------------------------------- predict
def predict_on_cluster(
    paths: Sequence[str],
    *,
    model: "EmotionModel",
    writer: RecordWriter,
    address: str | None = None,
    vad_config: "VadConfig | None" = None,
    config: BatchConfig | None = None,
    uncertainty: "UncertaintyRule | None" = None,
) -> BatchReport:
    """Score files on a Dask cluster, writing each completed task's records at once.

    Parameters
    ----------
    paths : sequence of str
        Inputs as for ``ser-live predict`` (files, folders, CSVs of paths).
    model : EmotionModel
    writer : RecordWriter
        Inputs already in ``writer.done`` are skipped (``--resume``), compared resolved
        (:func:`path_key`), so another spelling of a scored file is not scored again.
    address : str, optional
        Scheduler address; None for a local cluster.
    vad_config : VadConfig, optional
    config : BatchConfig, optional
    uncertainty : UncertaintyRule, optional
        The run's rule: each classified file's record gets ``uncertain`` by it, as live.

    Returns
    -------
    BatchReport

    Raises
    ------
    ClusterError
        Cluster unreachable, not a Dask scheduler, or lost (what was written stays written).
    PathListError
        A CSV of paths with a short row (before anything is sent).
    DaskUnavailableError
        Dask is not installed.
    OSError
        The output cannot be written.
    """
    cfg = (config or BatchConfig()).validate()
    report = BatchReport()
    expanded = expand_inputs(paths)
    report.n_inputs = len(expanded)
    done = {path_key(p) for p in writer.done}
    todo: list[str] = []
    upfront: list[dict[str, Any]] = []
    for p, err in expanded:
        if path_key(p) in done:
            report.n_skipped += 1
        elif err is not None:
            upfront.append(error_record(p, err))
        else:
            todo.append(p)

    def take(records: list[dict[str, Any]]) -> None:
        with signals_deferred():  # a stop signal lands between batches, never inside one
            writer.write(records)
        report.n_scored += len(records)
        for r in records:
            if r["error"] is not None:
                report.n_failed += 1
                if len(report.errors) < 5:
                    report.errors.append(r["error"])

    take(upfront)
    with open_client(address, connect_timeout_s=cfg.connect_timeout_s) as client, \
            _progress(cfg.progress, total=len(todo)) as advance:
        plugin = model_plugin(model, vad_config=vad_config, uncertainty=uncertainty)
        client.register_plugin(plugin, name=plugin.name)
        report.n_workers = len(client.scheduler_info(n_workers=-1).get("workers", {}))
        t0 = time.perf_counter()
        try:
            for _chunk, recs in dask_imap(
                _score_chunk, todo, client=client, config=cfg, fn_kwargs={"plugin_name": plugin.name},
                on_fail=lambda p, msg: error_record(p, f"{p}: worker failed on this file: {msg}"),
            ):
                take(recs)
                advance(len(recs))
        finally:
            report.seconds = time.perf_counter() - t0
    return report


class _RateColumn:
    """A rich column: items per second of the task."""

    def __new__(cls) -> Any:  # built lazily: rich is imported only for a progress bar
        from rich.progress import ProgressColumn
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task: Any) -> Text:
                return Text(f"{task.speed:.1f} files/s" if task.speed else "- files/s")

        return Rate()


@contextlib.contextmanager
def _progress(enabled: bool, *, total: int, description: str = "scoring") -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr (files, files/s) while the block runs; yields
    ``advance(n)``. Disabled when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
                   TimeElapsedColumn(), console=console, disable=not (enabled and console.is_terminal),
                   transient=True)
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)

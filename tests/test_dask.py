"""``ser-live predict --dask``: scoring on a real Dask cluster (issue 13).

The cluster is real: ``dask scheduler`` and ``dask worker ... --nworkers 1 --nthreads 1``
processes on 127.0.0.1 at free ports, started and stopped here by PID; ``ser-live`` runs as
a subprocess, as a user runs it, and its records are compared with single-process
``ser-live predict`` on the same RAVDESS files.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed (pip install -e '.[dask]')")
pq = pytest.importorskip("pyarrow.parquet", reason="the dask extra is not installed (pip install -e '.[dask]')")

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
ENV.pop("SER_LIVE_MODEL", None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Preloaded by every test worker: while the file ``pace`` in the cluster's folder exists,
#: each file a worker scores waits that many seconds first. A test that interrupts a run mid-way paces the workers
#: so the run cannot finish before the interruption arrives (unpaced, two workers score a RAVDESS
#: actor's 60 files in about a second, and on a loaded machine they did so before the client had
#: written its first row group).
_PACE_PRELOAD = """
import time
from pathlib import Path

PACE = Path({pace!r})  # not beside __file__: Dask runs a copy of a preload file


def dask_setup(worker):
    from ser_live import offline

    original = offline.Predictor.process_file

    def paced(self, *args, **kwargs):
        try:
            time.sleep(float(PACE.read_text()))
        except (OSError, ValueError):
            pass
        return original(self, *args, **kwargs)

    offline.Predictor.process_file = paced
"""


class Cluster:
    """A scheduler and workers on 127.0.0.1, each a process of its own, stopped by PID.
    :meth:`pace` slows the workers down (see ``_PACE_PRELOAD``)."""

    def __init__(self, log_dir: Path, n_workers: int) -> None:
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []
        self.preload = log_dir / "pace_preload.py"
        self.preload.write_text(_PACE_PRELOAD.replace("{pace!r}", repr(str(log_dir / "pace"))))
        self.scheduler = self._spawn("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                                   "--no-dashboard"])
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            assert self.scheduler.poll() is None, (log_dir / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not start within 60 s"
            time.sleep(0.2)
        self.workers = [self.add_worker() for _ in range(n_workers)]

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        with open(self.log_dir / f"{name}.log", "ab") as log:
            p = subprocess.Popen([str(BIN / "dask"), *args], env=ENV, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def add_worker(self) -> subprocess.Popen:
        """Start one worker (no nanny: the PID is the worker itself, so killing it kills it)."""
        return self._spawn(f"worker{len(self.procs)}", ["worker", self.address, "--nworkers", "1", "--nthreads", "1",
                                                        "--no-nanny", "--host", "127.0.0.1", "--no-dashboard",
                                                        "--preload", str(self.preload)])

    def pace(self, seconds_per_file: float) -> None:
        """From now on each worker waits ``seconds_per_file`` before each file (0: no wait)."""
        flag = self.log_dir / "pace"
        if seconds_per_file > 0:
            flag.write_text(str(seconds_per_file))
        else:
            flag.unlink(missing_ok=True)

    def wait_for_workers(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as c:
            c.wait_for_workers(n, timeout=120)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("dask-cluster"), n_workers=2)
    try:
        c.wait_for_workers(2)
        yield c
    finally:
        c.stop()


def _actors(ravdess_root: Path, *ids: int) -> list[Path]:
    dirs = [ravdess_root / f"Actor_{i:02d}" for i in ids]
    for d in dirs:
        if not d.is_dir():
            pytest.skip(f"{d} not found")
    return dirs


def _files(dirs: list[Path]) -> list[str]:
    return [str(f) for d in dirs for f in sorted(d.glob("*.flac"))]


def _predict(*args: str, wait: bool = True) -> subprocess.CompletedProcess | subprocess.Popen:
    cmd = [sys.executable, "-m", "ser_live", "predict", *args]
    if wait:
        return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    return subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, preexec_fn=_default_sigint)


def _default_sigint() -> None:
    """In the child: Ctrl-C handled as a terminal would deliver it, even when pytest runs as
    a background job (whose children inherit SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _records(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _wait_for_output(proc: subprocess.Popen, path: Path, *, min_bytes: int = 1, timeout_s: float = 120) -> None:
    """Until ``path`` holds ``min_bytes`` (records written), the process still running."""
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and path.stat().st_size >= min_bytes):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"no output in {path} after {timeout_s} s"
        time.sleep(0.05)


def _temporary(out: Path, proc: subprocess.Popen, timeout_s: float = 120) -> Path:
    """The temporary file a run writes before it replaces ``out`` (``.<name>.<random>.tmp``)."""
    deadline = time.monotonic() + timeout_s
    while not (found := list(out.parent.glob(f".{out.name}.*.tmp"))):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"no temporary file for {out} after {timeout_s} s"
        time.sleep(0.05)
    return found[0]


# ---------------------------------------------------------------------- tests
def test_the_cli_does_not_import_dask_without_dask():
    probe = ("import sys, ser_live.cli, ser_live.batch; ser_live.cli.build_parser(); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'pyarrow')))")
    out = subprocess.run([sys.executable, "-c", probe], env=ENV, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_cluster_records_equal_single_process_predict(cluster, ravdess_root, tmp_path):
    dirs = _actors(ravdess_root, 1, 2, 3, 4)  # 240 files, of which 200 are scored
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF this is not audio")
    listing = tmp_path / "more.csv"  # a CSV of paths, one of them relative to the CSV's folder,
    # saved with a byte-order mark as spreadsheet programs write it (the header is still a header)
    listing.write_text("path\n" + "\n".join(_files(dirs[2:])[:80]) + "\nbroken.wav\n", encoding="utf-8-sig")
    out = tmp_path / "out.parquet"
    res = _predict(str(dirs[0]), str(dirs[1]), str(listing), "--dask", cluster.address, "--output", str(out),
                   "--chunk-files", "40")
    assert res.returncode == 3, res.stderr  # one file failed (unusable: 3, as without --dask), and said so
    assert "broken.wav" in res.stderr
    got = {r["path"]: r for r in _records(out)}
    files = _files(dirs)[:200]
    assert len(got) == len(files) + 1

    ref_out = tmp_path / "ref.jsonl"
    ref = _predict(*files, "--output", str(ref_out))
    assert ref.returncode == 0, ref.stderr
    ref_recs = _records(ref_out)
    assert len(ref_recs) == len(files)
    for r in ref_recs:
        g = got[r["path"]]
        assert g["error"] is None
        assert g["label"] == r["label"]
        assert g["confidence"] == pytest.approx(r["confidence"], abs=1e-6)
        for lab, p in r["probabilities"].items():
            assert g[f"prob_{lab}"] == pytest.approx(p, abs=1e-6)
        assert g["arousal"] == pytest.approx(r["arousal"], abs=1e-6) and g["valence"] == pytest.approx(r["valence"], abs=1e-6)
    bad = got[str(broken)]
    assert bad["label"] is None and bad["confidence"] is None and "broken.wav" in bad["error"]


def test_killing_a_worker_mid_run_loses_no_file(cluster, ravdess_root, tmp_path):
    extra = cluster.add_worker()
    cluster.wait_for_workers(3)
    files = _files(_actors(ravdess_root, 5, 6))
    out = tmp_path / "out.jsonl"
    cluster.pace(0.2)  # every worker is still in a task when one is killed
    try:
        proc = _predict(*files, "--dask", cluster.address, "--output", str(out), "--chunk-files", "10", wait=False)
        _wait_for_output(proc, out, min_bytes=10 * 200)  # a chunk's records: the run is under way
        extra.kill()  # SIGKILL: its running task is lost and Dask reschedules it
        extra.wait(timeout=10)
    finally:
        cluster.pace(0)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    paths = [r["path"] for r in _records(out)]
    assert sorted(paths) == sorted(files)  # every file, each exactly once
    assert all(r["error"] is None for r in _records(out))


def test_an_interrupted_run_finished_with_resume_scores_each_file_once(cluster, ravdess_root, tmp_path):
    files = _files(_actors(ravdess_root, 9, 10))
    out = tmp_path / "out.parquet"
    cluster.pace(0.2)  # the run cannot finish before Ctrl-C arrives
    try:
        proc = _predict(*files, "--dask", cluster.address, "--output", str(out), "--chunk-files", "10", wait=False)
        _wait_for_output(proc, _temporary(out, proc), min_bytes=2000)  # a row group or more
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        cluster.pace(0)
    assert proc.returncode == 130, err
    assert time.monotonic() - t0 < 10
    first = _records(out)  # a complete Parquet file with what was scored before Ctrl-C
    assert 0 < len(first) < len(files)
    assert len({r["path"] for r in first}) == len(first)

    res = _predict(*files, "--dask", cluster.address, "--output", str(out), "--resume", "--chunk-files", "10")
    assert res.returncode == 0, res.stderr
    assert f"{len(first)} skipped" in res.stderr
    paths = [r["path"] for r in _records(out)]
    assert sorted(paths) == sorted(files)  # each exactly once
    assert {r["path"]: r for r in _records(out) if r["path"] in {f["path"] for f in first}} == \
        {r["path"]: r for r in first}  # the first run's records kept as they were


def test_a_cluster_that_vanishes_mid_run_is_an_error_and_keeps_the_records(ravdess_root, tmp_path):
    c = Cluster(tmp_path, n_workers=1)
    try:
        c.wait_for_workers(1)
        c.pace(0.1)  # the run cannot finish before the cluster goes
        files = _files(_actors(ravdess_root, 13, 14))
        out = tmp_path / "out.parquet"
        proc = _predict(*files, "--dask", c.address, "--output", str(out), "--chunk-files", "10", wait=False)
        _wait_for_output(proc, _temporary(out, proc), min_bytes=2000)
        c.scheduler.kill()
        c.workers[0].kill()
        _, err = proc.communicate(timeout=120)
    finally:
        c.stop()
    assert proc.returncode == 8, err
    assert "lost the Dask" in err and "--resume" in err
    assert "Traceback" not in err and len(err.splitlines()) == 2, err  # the error, and where the records are
    kept = _records(out)
    assert 0 < len(kept) < len(files) and all(r["error"] is None for r in kept)


def test_a_bad_address_is_a_clear_error_not_a_hang():
    from ser_live.batch import ClusterError, open_client

    t0 = time.monotonic()
    with pytest.raises(ClusterError, match="cannot connect to the Dask scheduler at tcp://127.0.0.1"):
        with open_client(f"tcp://127.0.0.1:{_free_port()}", connect_timeout_s=2):
            pass
    assert time.monotonic() - t0 < 15


def test_an_output_that_cannot_be_written_fails_before_scoring_and_keeps_the_old_file(ravdess_root, tmp_path):
    (tmp_path / "a-file").write_text("x")
    files = _files(_actors(ravdess_root, 1))[:3]
    res = _predict(*files, "--dask", "tcp://127.0.0.1:1", "--output", str(tmp_path / "a-file" / "out.parquet"))
    assert res.returncode == 1 and "error:" in res.stderr and "a-file" in res.stderr
    torn = tmp_path / "old.parquet"
    torn.write_bytes(b"PAR1 torn")
    res = _predict(*files, "--dask", "tcp://127.0.0.1:1", "--output", str(torn), "--resume")
    assert res.returncode == 2 and "cannot resume" in res.stderr
    assert torn.read_bytes() == b"PAR1 torn"


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_a_failed_run_that_keeps_the_earlier_file_finishes_its_records_beside_it(tmp_path, suffix):
    """``keep_earlier`` (`predict` without --dask): an interrupted run that wrote records
    leaves an earlier output whole and finishes its own as ``<stem>.partial<suffix>``; with
    no earlier file, or a clean end, the output gets them as before."""
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    from ser_live.records import RecordWriter

    rec = {"path": "a.wav", "label": "sad", "confidence": 0.5, "probabilities": {"sad": 0.5, "angry": 0.5},
           "error": None}

    def run(out: Path, *, fail: bool) -> RecordWriter:
        w = RecordWriter(out, labels=["sad", "angry"], keep_earlier=True)
        w.write([rec, rec])
        w.close(keep=not fail)
        return w

    out = tmp_path / f"out{suffix}"
    w = run(out, fail=True)  # no earlier file: the output gets the records
    assert w.partial_path is None and out.is_file()
    first = out.read_bytes()
    w = run(out, fail=True)  # an earlier file: it stays, the records go beside it
    assert w.partial_path == tmp_path / f"out.partial{suffix}"
    assert out.read_bytes() == first and w.partial_path.read_bytes() == first
    w = run(out, fail=False)  # a clean end replaces it
    assert w.partial_path is None and out.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, f"out.partial{suffix}"])


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_resume_cuts_a_torn_last_line_and_appends(tmp_path, suffix):
    from ser_live.records import RecordWriter, error_record

    out = tmp_path / f"out{suffix}"
    rec = {"path": "a.wav", "label": "sad", "confidence": 0.5, "probabilities": {"sad": 0.5, "angry": 0.5},
           "error": None}
    with RecordWriter(out, labels=["sad", "angry"]) as w:
        w.write([rec])
    with open(out, "a") as f:
        f.write('{"path": "b.wav", "lab')  # a writer killed mid-line
    with RecordWriter(out, labels=["sad", "angry"], resume=True) as w:
        assert w.done == {"a.wav"}
        w.write([error_record("b.wav", "b.wav: no speech")])
    with RecordWriter(out, labels=["sad", "angry"], resume=True) as w:
        assert w.done == {"a.wav", "b.wav"}
    text = out.read_text()
    assert "lab\n" not in text and text.endswith("\n")
    if suffix == ".csv":
        assert text.splitlines()[0] == "path,label,confidence,prob_sad,prob_angry,arousal,valence,uncertain,error"
        assert len(text.splitlines()) == 3


def test_train_features_on_the_cluster_share_the_cache_with_joblib(cluster, ravdess_root, tmp_path):
    import numpy as np

    from train.extract import extract_features

    files = _files(_actors(ravdess_root, 15))[:24]
    cache = tmp_path / "cache"
    X_dask, rep = extract_features(files, cache_dir=cache, dask=cluster.address, progress=False)
    assert rep.n_cached == 0 and not rep.failures
    assert len(list(cache.rglob("*.npy"))) == len(files)  # written by the workers, same keys
    X_cached, rep = extract_features(files, cache_dir=cache, n_jobs=1, progress=False)
    assert rep.n_cached == len(files)
    np.testing.assert_array_equal(X_cached, X_dask)
    X_fresh, _ = extract_features(files, cache_dir=False, n_jobs=1, progress=False)
    # in input order, equal to float32 rounding: the extractor's BLAS products (mel, DCT) round
    # differently with another BLAS thread count, and this process's depends on the tests run
    # before it (ser_live.runtime.tune_process); rows of two files differ far more than this
    np.testing.assert_allclose(X_fresh, X_dask, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("suffix, content", [(".jsonl", "not json\n"), (".csv", "path,label,confidence\nx.wav,sad,1\npart")])
def test_resume_refuses_a_file_of_other_records_and_leaves_it_as_it_was(tmp_path, suffix, content):
    from ser_live.records import RecordWriter

    out = tmp_path / f"out{suffix}"
    out.write_text(content)
    with pytest.raises(ValueError, match="cannot resume"):
        RecordWriter(out, labels=["sad", "angry"], resume=True)
    assert out.read_text() == content


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_one_schema_and_one_exit_status_with_and_without_dask(cluster, ravdess_root, tmp_path, suffix):
    """The same job (two files, one unreadable) gives the same keys/columns, the
    failed file as a row with its `error`, and the same exit status with and without --dask."""
    files = _files(_actors(ravdess_root, 1))[:2]
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF this is not audio")
    args = [*files, str(broken)]
    here, there = tmp_path / f"here{suffix}", tmp_path / f"there{suffix}"
    res_here = _predict(*args, "--output", str(here))
    res_there = _predict(*args, "--dask", cluster.address, "--output", str(there), "--chunk-files", "1")
    assert res_here.returncode == res_there.returncode == 3, (res_here.stderr, res_there.stderr)
    if suffix == ".csv":
        head_here, *rows_here = here.read_text().splitlines()
        head_there, *rows_there = there.read_text().splitlines()
        assert head_here == head_there and head_here.endswith(",error")
        assert sorted(rows_here) == sorted(rows_there)  # same values too
        assert any(r.startswith(f"{broken},,,") for r in rows_here)
    else:
        got_here = {r["path"]: r for r in _records(here)}
        got_there = {r["path"]: r for r in _records(there)}
        assert set(got_here) == set(got_there) == {*files, str(broken)}
        for p in got_here:
            assert list(got_here[p]) == list(got_there[p]), p  # the same keys, in the same order
        assert got_here[str(broken)]["label"] is None and "broken.wav" in got_here[str(broken)]["error"]
        assert got_there[str(broken)]["error"] == got_here[str(broken)]["error"]


# ---------------------------------------------------------------------- issue 22: outputs never lost
def test_an_existing_output_is_refused_without_resume_or_overwrite(ravdess_root, tmp_path):
    files = _files(_actors(ravdess_root, 1))[:2]
    out = tmp_path / "earlier.jsonl"
    out.write_text('{"path": "x.wav"}\n' * 2000)
    before = out.read_bytes()
    res = _predict(*files, "--dask", f"tcp://127.0.0.1:{_free_port()}", "--output", str(out))
    assert res.returncode == 2, res.stderr
    assert "--overwrite" in res.stderr and "--resume" in res.stderr and "Traceback" not in res.stderr
    assert out.read_bytes() == before


def test_overwrite_at_an_unreachable_cluster_keeps_the_earlier_output(ravdess_root, tmp_path):
    files = _files(_actors(ravdess_root, 1))[:2]
    out = tmp_path / "earlier.parquet"
    out.write_bytes(b"2000 records of an earlier run")
    res = _predict(*files, "--dask", f"tcp://127.0.0.1:{_free_port()}", "--output", str(out), "--overwrite")
    assert res.returncode == 8, res.stderr
    assert out.read_bytes() == b"2000 records of an earlier run"
    assert "--resume" not in res.stderr and "no record written" in res.stderr  # nothing to resume
    assert "Traceback" not in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier.parquet"]  # no temporary left


class _NotDask:
    """A socket on 127.0.0.1 that accepts and then stays silent, answers like an HTTP server,
    or sends garbage; closed by :meth:`close`."""

    def __init__(self, kind: str) -> None:
        import threading

        self.kind = kind
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.conns.append(c)
            try:
                if self.kind == "garbage":
                    c.sendall(bytes(range(256)) * 4)
                elif self.kind == "http":  # answers a request; a Dask client first waits for the handshake
                    c.settimeout(30)
                    if c.recv(65536):
                        c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()
        self.thread.join(timeout=5)


@pytest.mark.parametrize("kind", ["silent", "http", "garbage"])
def test_an_endpoint_that_is_not_a_scheduler_is_refused_within_the_timeout(kind):
    from ser_live.batch import ClusterError, check_dask_endpoint

    srv = _NotDask(kind)
    try:
        t0 = time.monotonic()
        with pytest.raises(ClusterError, match="no Dask handshake|does not speak the Dask protocol"):
            check_dask_endpoint(srv.address, timeout_s=2)
        assert time.monotonic() - t0 < 4
    finally:
        srv.close()


def test_a_real_scheduler_passes_the_endpoint_check(cluster):
    from ser_live.batch import check_dask_endpoint

    check_dask_endpoint(cluster.address, timeout_s=10)  # no error


@pytest.mark.parametrize("kind", ["silent", "garbage"])
def test_predict_at_an_endpoint_that_is_not_a_scheduler_exits_8_without_a_traceback(ravdess_root, tmp_path, kind):
    files = _files(_actors(ravdess_root, 1))[:2]
    srv = _NotDask(kind)
    try:
        proc = _predict(*files, "--dask", srv.address, "--output", str(tmp_path / "out.parquet"), wait=False)
        t0 = time.monotonic()
        while srv.conns == [] and proc.poll() is None:  # start-up (imports, model) is not the probe
            time.sleep(0.05)
            assert time.monotonic() - t0 < 120
        t0 = time.monotonic()
        _, err = proc.communicate(timeout=60)
        waited = time.monotonic() - t0
    finally:
        srv.close()
    assert proc.returncode == 8, err
    assert waited < 15  # the handshake timeout is 10 s
    assert "Traceback" not in err and "MemoryError" not in err and "struct.error" not in err
    assert [line for line in err.splitlines() if "error:" in line] == [err.splitlines()[0]]
    assert not (tmp_path / "out.parquet").exists()


def test_a_short_row_in_a_csv_of_paths_is_a_one_line_error(ravdess_root, tmp_path):
    files = _files(_actors(ravdess_root, 1))[:2]
    listing = tmp_path / "list.csv"
    listing.write_text(f"session,path\ns1,{files[0]}\ns2\n")
    res = _predict(str(listing), "--dask", f"tcp://127.0.0.1:{_free_port()}", "--output", str(tmp_path / "o.jsonl"))
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines() == [f"ser-live: error: CSV of paths {listing}, line 3: no path in column 2 "
                                               "(a short row)"]


def test_sigterm_keeps_every_finished_record_and_resume_matches_paths_spelled_differently(cluster, ravdess_root,
                                                                                           tmp_path):
    actor = _actors(ravdess_root, 11)[0]
    files = _files([actor])
    out = tmp_path / "out.parquet"
    cluster.pace(0.2)  # the run cannot finish before SIGTERM arrives
    try:
        proc = _predict(*files, "--dask", cluster.address, "--output", str(out), "--chunk-files", "5", wait=False)
        _wait_for_output(proc, _temporary(out, proc), min_bytes=2000)  # a row group or more
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        cluster.pace(0)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    first = _records(out)  # a complete Parquet file
    assert 0 < len(first) < len(files)
    assert f"{len(first)} records written to {out}; run again with --resume" in err  # every one it wrote

    # the same files by another spelling: a relative path through a symlink, with a detour
    (tmp_path / "data").symlink_to(ravdess_root)
    res = subprocess.run([sys.executable, "-m", "ser_live", "predict", f"data/{actor.name}/../{actor.name}",
                          "--dask", cluster.address,
                          "--output", "out.parquet", "--resume", "--chunk-files", "10"],
                         cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    assert f"{len(first)} skipped" in res.stderr
    recs = _records(out)
    assert len(recs) == len(files)  # nothing scored twice
    new = [r for r in recs if r["path"] not in {f["path"] for f in first}]
    assert all(r["error"] is None for r in new)  # resolved on the client: the workers found them
    assert all(Path(r["path"]).is_absolute() for r in new)
    assert {os.path.realpath(r["path"]) for r in recs} == {os.path.realpath(f) for f in files}


def test_dask_log_records_stay_off_stderr_without_v_and_show_with_it(capsys):
    """Client reconnect errors and ``Client.__del__`` notes are Dask log records with
    tracebacks; without ``-v`` none reaches stderr, with ``-v`` they do."""
    import logging

    from ser_live import batch
    from ser_live.cli.options import _setup_logging

    def emit() -> str:
        try:
            raise ConnectionResetError("reset by peer")
        except ConnectionResetError:
            logging.getLogger("distributed.client").exception("reconnect failed")
            logging.getLogger("distributed.utils").error("in Client.__del__", exc_info=True)
        return capsys.readouterr().err

    levels = {n: logging.getLogger(n).level for n in ("distributed", "distributed.client", "distributed.utils")}
    try:
        _setup_logging(0)
        batch._quiet_dask_logs()
        assert emit() == ""
        _setup_logging(1)  # -v: a fresh handler, the loggers as a new process has them
        for name in levels:  # (an earlier run in this process silenced them)
            logging.getLogger(name).setLevel(logging.NOTSET)
        batch._quiet_dask_logs()
        err = emit()
        assert "reconnect failed" in err and "Traceback" in err
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        _setup_logging(0)
        for h in logging.getLogger().handlers:
            h.removeFilter(batch._drop_dask_records)


# ---------------------------------------------------------------------- newcomer audit
def test_a_folder_right_after_dask_is_scored_on_a_local_cluster(ravdess_root, tmp_path):
    """`predict --dask calls/`: the folder is the input (a local cluster), not the address."""
    calls = tmp_path / "calls"
    calls.mkdir()
    files = _files(_actors(ravdess_root, 1))[:3]
    for f in files:
        (calls / Path(f).name).symlink_to(f)
    out = tmp_path / "out.jsonl"
    res = _predict("--dask", str(calls), "--output", str(out))
    assert res.returncode == 0, res.stderr
    recs = _records(out)
    assert sorted(Path(r["path"]).name for r in recs) == sorted(Path(f).name for f in files)
    assert all(r["error"] is None and isinstance(r["uncertain"], bool) for r in recs)


def test_an_unreachable_cluster_says_left_as_it_was_only_of_an_output_that_existed(ravdess_root, tmp_path):
    files = _files(_actors(ravdess_root, 1))[:2]
    out = tmp_path / "s2.parquet"
    srv = _NotDask("garbage")  # refused at once: no connect timeout to wait for
    try:
        res = _predict(*files, "--dask", srv.address, "--output", str(out))
        assert res.returncode == 8, res.stderr
        assert "left as it was" not in res.stderr and f"no record written; {out} was not created" in res.stderr
        assert not out.exists()
        out.write_bytes(b"records of an earlier run")
        res = _predict(*files, "--dask", srv.address, "--output", str(out), "--overwrite")
        assert res.returncode == 8, res.stderr
        assert f"no record written; {out} was left as it was" in res.stderr
        assert out.read_bytes() == b"records of an earlier run"
    finally:
        srv.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("option,value", [("--workers", "0"), ("--n-files", "0"), ("--repeats", "0"),
                                          ("--chunk-files", "0"), ("--workers", "two")])
def test_dask_scale_options_below_one_are_usage_errors_not_a_hang(ravdess_root, capsys, option, value):
    """``python -m benchmarks.dask_scale --workers 0`` started a cluster of no workers and
    waited for one forever; ``--n-files 0`` and ``--repeats 0`` were tracebacks after the model
    was loaded. Each is a usage error naming the option."""
    from benchmarks import dask_scale

    with pytest.raises(SystemExit) as exc:  # the bad value last: it overrides the small, valid ones
        dask_scale.main(["--n-files", "1", "--repeats", "1", "--workers", "1", "--chunk-files", "1", option, value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and ("must be at least 1" in err or "expected a whole number" in err)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_dashboard_style_address_is_a_one_line_error_naming_the_scheme(ravdess_root, tmp_path, scheme):
    """``--dask http://host:port`` (the dashboard's address, pasted by mistake) got "cannot
    connect ... within 10 s: unknown address scheme" and then an "Exception ignored in
    Client.__del__" traceback after a 20 s wait at exit. It is refused before a Client is made:
    exit 8, one line naming the scheme and tcp://host:port, no output file."""
    from ser_live.batch import ClusterError, check_dask_endpoint

    address = f"{scheme}://127.0.0.1:{_free_port()}"
    with pytest.raises(ClusterError, match=f"unknown scheme '{scheme}'.*tcp://host:port"):
        check_dask_endpoint(address, timeout_s=2)
    files = _files(_actors(ravdess_root, 1))[:2]
    res = _predict(*files, "--dask", address, "--output", str(tmp_path / "out.parquet"))
    assert res.returncode == 8, res.stderr
    lines = res.stderr.splitlines()
    assert lines[0] == (f"ser-live: error: {address!r} is not a Dask scheduler address: unknown scheme '{scheme}'; "
                        "give the scheduler's tcp://host:port (or host:port; schemes: inproc, tcp, tls, ucx, ws, wss)")
    assert lines[1:] == [f"ser-live: no record written; {tmp_path / 'out.parquet'} was not created"], res.stderr
    assert not (tmp_path / "out.parquet").exists()

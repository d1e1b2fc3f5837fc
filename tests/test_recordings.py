"""Saved recordings (``--save-utterances``) under a full disk and with concurrent runs.

Real speech (the 4-file RAVDESS session of ``test_pipeline``) replayed through the whole
recogniser. The full disk is a real 300 kB tmpfs (needs root and ``mount``; skipped
otherwise) and, everywhere, a write error injected at the system-call level.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_live.audio import FileSource
from ser_live.cli import main

from .test_pipeline import model, run_recognizer, session, test_model_path  # noqa: F401 (fixtures)


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    """A 300 kB tmpfs: room for two or three of the session's utterances, not four."""
    d = tmp_path / "small-disk"
    d.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(d)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield d
    finally:
        subprocess.run(["umount", str(d)], check=False)


def _check_folder(folder: Path, results, n_expected: int | None = None) -> list[dict]:
    """Every index line names a complete WAV holding its utterance; every WAV is indexed;
    no temporary file is left. Returns the index records."""
    index = [json.loads(line) for line in (folder / "index.jsonl").read_text().splitlines()]
    wavs = sorted(p.name for p in folder.glob("*.wav"))
    assert sorted(r["wav"] for r in index) == wavs
    assert len(set(wavs)) == len(wavs)
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]
    by_index = {r.utterance.index: r for r in results}
    for rec in index:
        x, sr = sf.read(folder / rec["wav"], dtype="int16")
        assert sr == 16000
        np.testing.assert_array_equal(x, by_index[rec["index"]].utterance.samples)
        assert rec["label"] == by_index[rec["index"]].label
    if n_expected is not None:
        assert len(index) == n_expected
    return index


def _saving_errors(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR and "saving" in r.getMessage()]


def test_full_disk_stops_saving_once_keeps_results_and_leaves_no_partial_file(session, model, small_tmpfs, caplog):
    path, x, spans = session
    with caplog.at_level(logging.WARNING):
        rec, results = run_recognizer(FileSource(path, speed=0), model, save_dir=small_tmpfs)
    assert len(results) == len(spans)  # every utterance is still classified and shown
    assert rec.error is None and rec.n_errors == 0
    summary = rec.summary()
    assert 1 <= summary.n_saved < len(results)
    _check_folder(small_tmpfs, results, summary.n_saved)
    (err,) = _saving_errors(caplog)  # reported once, with the path and the reason
    msg = err.getMessage()
    assert str(small_tmpfs) in msg and "No space left on device" in msg and "saving stopped" in msg


def test_full_disk_through_the_cli_exit_1_jsonl_complete_summary_true(session, test_model_path, small_tmpfs, tmp_path, capsys):
    """Saving stops at the full disk, said once; every result still reaches --jsonl and the
    summary counts what was saved; the exit status says the recordings are not all there."""
    path, _, spans = session
    out = tmp_path / "out.jsonl"
    rc = main(["--input", str(path), "--speed", "0", "--model", str(test_model_path), "--plain",
               "--jsonl", str(out), "--save-utterances", str(small_tmpfs)])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert len(out.read_text().splitlines()) == len(spans)
    index = (small_tmpfs / "index.jsonl").read_text().splitlines()
    n_wavs = len(list(small_tmpfs.glob("*.wav")))
    assert 1 <= len(index) == n_wavs < len(spans)
    assert err.count("No space left on device") == 1
    assert re.search(rf"utterances saved\s+{n_wavs}\n", err)
    assert f"{n_wavs} utterance(s) saved in" in err


def test_injected_write_error_mid_wav_leaves_no_partial_file(session, model, tmp_path, monkeypatch, caplog):
    """ENOSPC from write(2) halfway through the third WAV (no special filesystem needed)."""
    path, _, spans = session
    real_write = os.write
    calls = {"wav": 0}

    def write(fd, data):
        name = os.readlink(f"/proc/self/fd/{fd}")
        if name.startswith(str(tmp_path)) and name.endswith(".tmp"):
            calls["wav"] += 1
            if calls["wav"] >= 3:
                n = real_write(fd, bytes(data)[: len(data) // 2])  # a partial file on disk
                assert n > 0
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    with caplog.at_level(logging.WARNING):
        rec, results = run_recognizer(FileSource(path, speed=0), model, save_dir=tmp_path)
    monkeypatch.undo()
    assert len(results) == len(spans) and rec.error is None
    assert rec.summary().n_saved == 2
    _check_folder(tmp_path, results, 2)
    assert len(_saving_errors(caplog)) == 1


def test_an_index_fsync_error_keeps_the_written_line_and_its_wav_and_stops_saving(session, model, tmp_path,
                                                                                  monkeypatch, caplog):
    """A failed index fsync on the 2nd utterance, after its whole line was written: the
    index is append-only (never cut back), so that line and its WAV both stay; saving stops
    there."""
    path, _, spans = session
    real_fsync = os.fsync
    seen = {"index": 0}

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith("index.jsonl"):
            seen["index"] += 1
            if seen["index"] == 2:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with caplog.at_level(logging.ERROR):
        rec, results = run_recognizer(FileSource(path, speed=0), model, save_dir=tmp_path)
    monkeypatch.undo()
    assert len(results) == len(spans) > 2
    assert rec.summary().n_saved == 2
    _check_folder(tmp_path, results, 2)
    assert len(_saving_errors(caplog)) == 1


def _results(session, model):
    path, _, spans = session
    _, results = run_recognizer(FileSource(path, speed=0), model)
    assert len(results) == len(spans) >= 2
    return results


def test_an_index_removed_or_moved_mid_run_is_started_again_at_its_name(session, model, tmp_path, caplog):
    """A long run's folder tidied while it runs (``rm recordings/index.jsonl``, or the index
    rotated with ``mv``): the writer kept appending to the file it had open, so every later
    line went into a deleted file (or the rotated one) and the run ended saying "N utterance(s)
    saved (index: .../index.jsonl)" with no index there. The index is followed by its name now:
    a new one is started (said once each time), and every WAV saved after is in it."""
    from ser_live.recordings import RecordingsWriter

    results = _results(session, model)
    folder = tmp_path / "recordings"
    w = RecordingsWriter(folder).open()
    with caplog.at_level(logging.WARNING):
        w.save(results[0])
        (folder / "index.jsonl").unlink()
        w.save(results[1])
        (folder / "index.jsonl").rename(folder / "index-old.jsonl")
        for r in results[2:]:
            w.save(r)
    w.close()
    assert w.error is None and w.n_saved == len(results)
    index = [json.loads(line)["wav"] for line in (folder / "index.jsonl").read_text().splitlines()]
    assert index == [p.name for p in w.saved_paths[2:]]
    rotated = [json.loads(line)["wav"] for line in (folder / "index-old.jsonl").read_text().splitlines()]
    assert rotated == [w.saved_paths[1].name]
    assert sum("a new index is started" in r.getMessage() for r in caplog.records) == 2


def test_a_failed_index_write_never_removes_another_runs_lines(session, model, tmp_path, monkeypatch):
    """Two runs save into one folder; run A's index write fails part-way (a short write,
    then ENOSPC) after run B appended: B's lines stay, A's torn fragment is ended with a
    newline, and A's WAV for it is removed."""
    from ser_live.recordings import RecordingsWriter

    results = _results(session, model)
    a = RecordingsWriter(tmp_path, run_id="20260101-120000-aaaaaa").open()
    b = RecordingsWriter(tmp_path, run_id="20260101-120000-bbbbbb").open()
    assert a.save(results[0]) is not None and b.save(results[0]) is not None
    real_write = os.write

    def write(fd, data):  # A's index descriptor fills the disk mid-line: a short write, as write(2) does
        if fd == a._index and len(data) > 1:
            return real_write(fd, bytes(data)[: len(data) // 2])
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    assert a.save(results[1]) is None
    monkeypatch.undo()
    assert isinstance(a.error, OSError)
    assert b.save(results[1]) is not None
    a.close()
    b.close()
    lines = (tmp_path / "index.jsonl").read_text().splitlines()
    good = []
    for line in lines:
        try:
            good.append(json.loads(line))
        except ValueError:
            pass
    assert len(lines) == 4 and len(good) == 3  # one torn fragment, on a line of its own
    assert [r["wav"] for r in good] == [a.wav_name(results[0].utterance.index), b.wav_name(results[0].utterance.index),
                                        b.wav_name(results[1].utterance.index)]
    assert sorted(p.name for p in tmp_path.glob("*.wav")) == sorted(r["wav"] for r in good)
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_symlinked_index_is_refused_and_its_target_untouched(session, model, tmp_path):
    from ser_live.recordings import RecordingsWriter

    outside = tmp_path / "outside.txt"
    outside.write_text("not yours\n")
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "index.jsonl").symlink_to(outside)
    with pytest.raises(OSError, match="symlink"):
        RecordingsWriter(folder).open()
    assert outside.read_text() == "not yours\n"


def test_a_recordings_folder_that_is_a_dangling_symlink_is_named_as_such(session, test_model_path, tmp_path,
                                                                         capsys):
    """``--save-utterances DIR`` where DIR is a symlink to a folder that does not exist (an
    unmounted disk, a moved folder) ended with ``error: DIR: File exists``: the folder does not
    exist, yet mkdir(2) finds the link. The message says it is a symlink and where it points."""
    path, _, _ = session
    link = tmp_path / "recordings"
    link.symlink_to(tmp_path / "unmounted" / "recordings")
    rc = main(["--input", str(path), "--speed", "0", "--model", str(test_model_path), "--plain",
               "--save-utterances", str(link)])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "File exists" not in err and "symlink" in err and str(tmp_path / "unmounted" / "recordings") in err, err
    assert link.is_symlink() and not (tmp_path / "unmounted").exists()


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_an_index_that_is_not_a_regular_file_is_refused_at_once(tmp_path, kind):
    """A FIFO at ``index.jsonl`` hung the start for good (``open(2)`` for writing waits for a
    reader), before anything was said; a folder there was refused as "that path is a folder:
    give a file name", though the user gave a folder on purpose. Both are refused at once
    now, naming ``index.jsonl`` as what is wrong."""
    import threading

    from ser_live.recordings import RecordingsWriter

    folder = tmp_path / "recordings"
    folder.mkdir()
    index = folder / "index.jsonl"
    os.mkfifo(index) if kind == "fifo" else index.mkdir()
    outcome: list[BaseException | None] = []

    def open_it() -> None:
        try:
            RecordingsWriter(folder).open().close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    t = threading.Thread(target=open_it, daemon=True)
    t.start()
    t.join(5)
    if t.is_alive():  # let the hung open(2) return (a reader), so the test process can end
        os.close(os.open(index, os.O_RDONLY | os.O_NONBLOCK))
        t.join(5)
        pytest.fail("opening the recordings folder hung on a FIFO at index.jsonl")
    (exc,) = outcome
    assert isinstance(exc, OSError) and "not a regular file" in str(exc) and str(index) in str(exc), exc


def test_a_symlink_planted_at_a_wav_temporary_name_is_not_written_through(session, model, tmp_path, monkeypatch):
    """The temporary WAV name is unguessable now; even when the name is known beforehand (the
    random part pinned), ``O_EXCL | O_NOFOLLOW`` refuses the planted symlink."""
    import secrets

    from ser_live.recordings import RecordingsWriter

    results = _results(session, model)
    target = tmp_path / "target.bin"
    target.write_bytes(b"precious")
    folder = tmp_path / "recordings"
    folder.mkdir()
    w = RecordingsWriter(folder, run_id="20260101-120000-cccccc").open()
    name = w.wav_name(results[0].utterance.index)
    monkeypatch.setattr(secrets, "token_hex", lambda n=None: "0" * 16)
    (folder / f".{name}.{'0' * 16}.tmp").symlink_to(target)
    assert w.save(results[0]) is None and isinstance(w.error, OSError)
    w.close()
    assert target.read_bytes() == b"precious"
    assert not (folder / name).exists()


def test_a_folder_on_a_file_system_without_hard_links_keeps_every_recording(session, model, tmp_path, monkeypatch,
                                                                            caplog):
    """FAT and exFAT (most USB sticks and SD cards) and some network shares have no hard
    links: link(2) fails with EPERM there, so the first utterance's name could not be taken
    and saving stopped with nothing saved ("Operation not permitted"). link(2) answers as
    those file systems do here; the name is then taken by renaming the complete temporary
    file once the name is found free (names carry the run's random tag), so every utterance
    is saved and indexed, and no file is left half-written."""
    path, _, spans = session
    existing = tmp_path / "recordings" / "old.wav"
    existing.parent.mkdir()
    existing.write_bytes(b"an earlier recording")

    def link(src, dst, *a, **kw):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM), str(src), None, str(dst))

    monkeypatch.setattr(os, "link", link)
    with caplog.at_level(logging.WARNING):
        rec, results = run_recognizer(FileSource(path, speed=0), model, save_dir=existing.parent)
    assert rec.recordings.error is None and not _saving_errors(caplog)
    assert rec.summary().n_saved == len(results) == len(spans)
    existing.unlink()
    _check_folder(existing.parent, results, len(spans))


def test_two_runs_in_the_same_second_into_one_folder_never_overwrite(session, model, tmp_path, monkeypatch):
    path, _, spans = session
    import time as time_mod

    real_strftime = time_mod.strftime
    monkeypatch.setattr(time_mod, "strftime", lambda fmt, *a: real_strftime(fmt, (2026, 1, 1, 12, 0, 0, 3, 1, 0)))
    runs: list = [None, None]

    def run(k: int) -> None:
        runs[k] = run_recognizer(FileSource(path, speed=0), model, save_dir=tmp_path)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    (rec_a, res_a), (rec_b, res_b) = runs
    assert rec_a.session != rec_b.session
    assert len(res_a) == len(res_b) == len(spans)
    index = [json.loads(line) for line in (tmp_path / "index.jsonl").read_text().splitlines()]
    wavs = sorted(tmp_path.glob("*.wav"))
    assert len(index) == len(wavs) == 2 * len(spans)
    assert len({r["wav"] for r in index}) == len(index)  # the index names each WAV once
    for rec, res in ((rec_a, res_a), (rec_b, res_b)):
        mine = {p.name for p in rec.recordings.saved_paths}
        assert len(mine) == len(spans) and all(rec.session in name for name in mine)
        for r in res:  # each run's files hold that run's utterances
            x, _ = sf.read(tmp_path / rec.recordings.wav_name(r.utterance.index), dtype="int16")
            np.testing.assert_array_equal(x, r.utterance.samples)


@pytest.mark.parametrize("where", ["--jsonl FILE", "--jsonl - > FILE"])
def test_jsonl_on_a_disk_that_fills_ends_with_its_last_whole_line(small_tmpfs, where):
    """JSON lines to a file on a disk with one page left, named or as redirected stdout: the
    write that does not fit is said once, exit 1, and the file keeps only whole JSON lines
    (before: it ended in a torn line)."""
    from ser_live.cli.options import DEMO_WAV

    from .test_capture import _ser_live_cmd

    st = os.statvfs(small_tmpfs)
    (small_tmpfs / "filler").write_bytes(b"\0" * (st.f_bavail * st.f_frsize - st.f_frsize))
    out = small_tmpfs / "out.jsonl"
    args = [*_ser_live_cmd(), "--input", str(DEMO_WAV), "--speed", "0", "--revisions", "--jsonl"]
    with open(out, "ab") as stdout:
        if where == "--jsonl FILE":
            res = subprocess.run([*args, str(out), "--plain"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True, timeout=300)
        else:
            res = subprocess.run([*args, "-"], stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=300)
    assert res.returncode == 1, res.stderr
    assert res.stderr.count("No space left on device") == 1, res.stderr
    text = out.read_text()
    assert text and text.endswith("\n"), text[-200:]
    records = [json.loads(line) for line in text.splitlines()]  # every line whole
    utterances = [r for r in records if r["kind"] == "utterance"]
    assert [r["index"] for r in utterances] == list(range(len(utterances))) and 1 <= len(utterances) < 8


def test_jsonl_appended_by_the_shell_keeps_the_earlier_lines_on_a_full_disk(small_tmpfs):
    """``ser-live --jsonl - >> runs.jsonl`` on a disk that fills at the run's first write:
    the earlier runs' lines stay whole and in place (a descriptor opened for appending reads
    offset 0 until written to, and the cut back to the last whole line emptied the file)."""
    from ser_live.cli.options import DEMO_WAV

    from .test_capture import _ser_live_cmd

    out = small_tmpfs / "runs.jsonl"
    earlier = "".join(json.dumps({"earlier_run": i}) + "\n" for i in range(200))
    out.write_text(earlier)
    st = os.statvfs(small_tmpfs)
    (small_tmpfs / "filler").write_bytes(b"\0" * (st.f_bavail * st.f_frsize))  # nothing left
    fd = os.open(out, os.O_WRONLY | os.O_APPEND)  # as the shell's >> opens it: the offset stays 0
    try:
        res = subprocess.run([*_ser_live_cmd(), "--input", str(DEMO_WAV), "--speed", "0", "--jsonl", "-"],
                             stdout=fd, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(fd)
    assert res.returncode == 1, res.stderr
    assert "No space left on device" in res.stderr
    text = out.read_text()
    assert text.startswith(earlier) and text.endswith("\n"), text[-200:]
    assert all(json.loads(line) for line in text.splitlines())  # every line whole

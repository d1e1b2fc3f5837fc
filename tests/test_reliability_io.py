"""Files written next to user data, and memory on long files (issue 22, cases 4 and 8).

* Case 4: a profile is saved through an unguessable, exclusively created temporary name, so
  a symlink planted at the old guessable name (``.<name>.tmp-<pid>``) or at the profile
  itself is never written through (the recordings index: ``tests/test_recordings.py``).
* Case 8: ``calibrate`` checks where the profile goes before the first take; a full disk
  when saving a profile or ``predict --output`` is an error exit with a message;
  ``predict --segments`` streams the file (peak memory flat in the file's length; the full
  1 h vs 5 min figure is ``python -m benchmarks.segments_memory``).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ser_live.cli import main
from ser_live.profile import Profile, load_profile

REPO_ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
#: RAVDESS emotion codes of the default model's labels (as tests/test_calibrate.py).
CODES = {"neutral": "01-01", "happy": "03-02", "sad": "04-02", "angry": "05-02"}


def _profile(name: str = "anna") -> Profile:
    """A small profile (its arrays are what a file holds; the saving is under test)."""
    return Profile(name=name, model_fingerprint="0" * 64, model_name="m", labels=["a", "b"], counts={"a": 2, "b": 2},
                   prior_mean=np.zeros(3), prior_var=np.ones(3), W=np.eye(2), b=np.zeros(2), created="2026-12-02")


def _takes_csv(ravdess_root: Path, path: Path, actor: int = 6) -> Path:
    rows = [f"{ravdess_root / f'Actor_{actor:02d}' / f'03-01-{CODES[lab]}-01-01-{actor:02d}.flac'},{lab}"
            for lab in CODES]
    path.write_text("path,label\n" + "\n".join(rows) + "\n")
    return path


# ---------------------------------------------------------------------- case 4: profile save
def test_profile_save_never_writes_through_a_symlink_at_the_old_temporary_name(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("not a profile")
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / f".anna.npz.tmp-{os.getpid()}").symlink_to(target)  # the name saves used to write to
    path = _profile().save(folder / "anna.npz")
    assert target.read_text() == "not a profile"
    assert load_profile(path).name == "anna"
    assert sorted(p.name for p in folder.iterdir()) == sorted([f".anna.npz.tmp-{os.getpid()}", "anna.npz"])


def test_profile_save_replaces_a_symlink_at_the_profile_instead_of_following_it(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("not a profile")
    (tmp_path / "anna.npz").symlink_to(target)
    _profile().save(tmp_path / "anna.npz")
    assert target.read_text() == "not a profile"
    assert not (tmp_path / "anna.npz").is_symlink() and load_profile(tmp_path / "anna.npz").name == "anna"


def test_a_full_disk_when_saving_a_profile_keeps_the_earlier_one(tmp_path, monkeypatch):
    path = _profile("old").save(tmp_path / "anna.npz")
    before = path.read_bytes()

    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError) as info:
        _profile("new").save(path)
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["anna.npz"]  # no temporary left


# ---------------------------------------------------------------------- case 8: calibrate, disk full
@pytest.mark.parametrize("where", ["under a file", "a device", "a folder", "read-only folder"])
def test_calibrate_refuses_a_profile_path_it_cannot_write_before_any_take(ravdess_root, tmp_path, capsys, where):
    """The takes listed do not exist: had they been read first, the error would name them."""
    takes = tmp_path / "takes.csv"
    takes.write_text("path,label\nnot-there.flac,angry\n")
    if where == "under a file":
        (tmp_path / "a-file").write_text("x")
        target = tmp_path / "a-file" / "anna.npz"
    elif where == "a device":
        target = Path("/dev/full")
    elif where == "a folder":
        target = tmp_path / "anna.npz"
        target.mkdir()
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into a read-only folder")
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        target = ro / "anna.npz"
    t0 = time.monotonic()
    assert main(["calibrate", "--profile", str(target), "--from", str(takes)]) == 2
    err = capsys.readouterr().err
    assert f"cannot save the profile to {target}" in err and "not-there" not in err, err
    assert len(err.strip().splitlines()) == 1
    assert time.monotonic() - t0 < 5  # before the model is even loaded


@pytest.mark.parametrize("parent", ["a file", "a broken symlink"])
def test_calibrate_under_a_file_says_its_folder_is_not_one(ravdess_root, tmp_path, capsys, parent):
    """``--profile notes.txt/anna.npz`` (or a folder that is a symlink to a missing one) was
    refused with the reason ``File exists``, which names no fault the user can see: mkdir(2)
    found the file (or the link) where the folder goes. The reason now says what is there."""
    takes = tmp_path / "takes.csv"
    takes.write_text("path,label\nnot-there.flac,angry\n")
    folder = tmp_path / "notes.txt"
    if parent == "a file":
        folder.write_text("x")
    else:
        folder.symlink_to(tmp_path / "unmounted")
    target = folder / "anna.npz"
    assert main(["calibrate", "--profile", str(target), "--from", str(takes)]) == 2
    err = capsys.readouterr().err
    assert f"cannot save the profile to {target}" in err and "File exists" not in err, err
    assert f"{folder} is {parent}" in err, err
    assert not (tmp_path / "unmounted").exists()


def test_a_profile_name_too_long_for_the_file_system_is_a_profile_error(ravdess_root, tmp_path, capsys, monkeypatch):
    """A bare name of 300 characters (a file name over the usual limit of 255 bytes) made
    ``calibrate`` and ``--profile`` end with exit 1 and ``error: <path>: File name too long``:
    the checks before the first take (exit 2, "cannot save the profile") and the reading of a
    profile (exit 2) let the OSError of their first stat through. Both are profile errors now."""
    monkeypatch.setenv("SER_LIVE_PROFILES", str(tmp_path / "profiles"))
    (tmp_path / "profiles").mkdir()  # the name is checked when its folder exists (else the folder is missing)
    name = "n" * 300
    take = ravdess_root / "Actor_06" / "03-01-05-02-01-01-06.flac"
    assert main(["calibrate", "--profile", name, "--from", str(_takes_csv(ravdess_root, tmp_path / "t.csv"))]) == 2
    err = capsys.readouterr().err
    assert "cannot save the profile to" in err and "File name too long" in err and "nothing recorded" in err, err
    for command in (["predict", str(take)], ["--input", str(take), "--speed", "0", "--plain"]):
        assert main([*command, "--profile", name]) == 2
        err = capsys.readouterr().err
        assert "profile" in err and "File name too long" in err and "summary" not in err, err
    assert not any((tmp_path / "profiles").iterdir())


def test_guided_calibrate_with_an_unwritable_profile_path_records_nothing(ravdess_root, tmp_path):
    """``calibrate --input FILE`` (a replayed recording as the microphone) at a path under a
    regular file: exit 2 at once, no take prompted."""
    (tmp_path / "a-file").write_text("x")
    take = ravdess_root / "Actor_06" / "03-01-05-02-01-01-06.flac"
    res = subprocess.run([sys.executable, "-m", "ser_live", "calibrate", "--profile", str(tmp_path / "a-file" / "p.npz"),
                          "--input", str(take), "--plain", "--speed", "0"],
                         env=ENV, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert res.returncode == 2, res.stderr
    assert "cannot save the profile" in res.stderr and "calibrating" not in res.stderr
    assert res.stdout == ""


def test_calibrate_on_a_full_disk_exits_1_with_a_message_and_keeps_the_earlier_profile(ravdess_root, tmp_path, capsys,
                                                                                      monkeypatch):
    target = _profile("old").save(tmp_path / "anna.npz")
    before = target.read_bytes()
    real_fsync = os.fsync

    def fsync(fd):
        if ".anna.npz." in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    code = main(["calibrate", "--profile", str(target), "--from", str(_takes_csv(ravdess_root, tmp_path / "t.csv"))])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == 1, err
    assert f"cannot save the profile to {target}" in err and "the disk is full" in err
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anna.npz", "t.csv"]


def test_predict_output_on_a_full_disk_exits_non_zero_with_a_message(ravdess_root, tmp_path, monkeypatch, capsys):
    """The output is written to a temporary file that replaces --output (so a symlink to
    /dev/full is replaced, not written through): the full disk is its fsync failing."""
    import errno

    f = ravdess_root / "Actor_06" / "03-01-05-02-01-01-06.flac"
    out = tmp_path / "out.jsonl"

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    code = main(["predict", str(f), "--output", str(out)])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == 1, err
    assert "No space left on device" in err and "Traceback" not in err
    assert not out.exists()



@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_an_output_under_a_file_says_a_part_of_the_path_is_a_file(ravdess_root, tmp_path, capsys, suffix):
    """``--output clip.flac/out.csv`` (a file where a folder should be) said only
    ``clip.flac: File exists``, the error of creating the folder. Now it says a part of the
    path is a file, exit 1, before anything is classified, and the file is untouched."""
    if suffix == ".parquet":
        pytest.importorskip("pyarrow.parquet", reason="Parquet needs pyarrow (the dask extra)")
    src = ravdess_root / "Actor_06" / "03-01-05-02-01-01-06.flac"
    clip = tmp_path / "clip.flac"
    clip.write_bytes(src.read_bytes())
    code = main(["predict", str(src), "--output", str(clip / f"out{suffix}")])
    cap = capsys.readouterr()
    assert code == 1, cap.err
    assert f"{clip}: Not a directory (a part of that path is a file, not a folder" in cap.err, cap.err
    assert "File exists" not in cap.err and "done:" not in cap.err and cap.out == "", cap.err
    assert clip.read_bytes() == src.read_bytes()


def test_an_output_that_is_a_folder_says_so(ravdess_root, tmp_path, capsys):
    """``--output DIR`` (an existing folder, no suffix) said "the suffix picks the format".
    It now says the path is a folder and names a file in it to give instead: usage error
    (exit 2) before anything is classified, the folder untouched."""
    src = ravdess_root / "Actor_06" / "03-01-05-02-01-01-06.flac"
    out = tmp_path / "results"
    out.mkdir()
    code = main(["predict", str(src), "--output", str(out)])
    cap = capsys.readouterr()
    assert code == 2, cap.err
    assert f"--output {out} is a folder: name a file in it, e.g. {out / 'predictions.jsonl'}" in cap.err, cap.err
    assert "suffix picks" not in cap.err and cap.out == "" and list(out.iterdir()) == []


def test_a_named_symlink_to_a_moved_recording_says_so_not_no_such_file(ravdess_root, tmp_path, capsys):
    """A symbolic link named on the command line whose recording was moved was reported as
    "no such file", though ``ls`` shows it there. The error record now says it is a link to
    a missing file and names the target; a link to a recording that exists is classified."""
    import json

    src = ravdess_root / "Actor_06" / "03-01-05-02-01-01-06.flac"
    moved = tmp_path / "moved.flac"
    moved.write_bytes(src.read_bytes())
    (tmp_path / "good.flac").symlink_to(moved)
    (tmp_path / "gone.flac").symlink_to(tmp_path / "elsewhere.flac")
    code = main(["predict", str(tmp_path / "good.flac"), str(tmp_path / "gone.flac")])
    cap = capsys.readouterr()
    good, gone = (json.loads(line) for line in cap.out.splitlines())
    assert code == 3, cap.err
    assert good["label"] and good["error"] is None
    assert gone["label"] is None and "no such file" not in gone["error"], gone
    assert f"a symbolic link to a missing file ({tmp_path / 'elsewhere.flac'})" in gone["error"], gone


def _run_with_file_size_limit(args: list[str], limit_bytes: int) -> subprocess.CompletedProcess:
    """``python -m ser_live ARGS`` with writes beyond ``limit_bytes`` failing (RLIMIT_FSIZE,
    SIGXFSZ ignored: EFBIG, as ENOSPC on a full disk)."""
    import resource
    import signal

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    env = {**ENV, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "ser_live", *args], preexec_fn=limited, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(os.name == "nt", reason="RLIMIT_FSIZE is POSIX")
def test_a_parquet_output_that_cannot_be_written_is_not_reported_done(emodb_root, tmp_path):
    """A Parquet output is written when the run ends (the writer's close). On a full disk the
    run said ``done: 12 files (0 failed) ... -> out.parquet`` and only then the error, with
    no file there and no word of the records lost. Now no ``done ... ->`` line comes before
    the output is finished, and stderr says that none of the records is in it."""
    pytest.importorskip("pyarrow.parquet", reason="Parquet needs pyarrow (the dask extra)")
    files = [str(f) for f in sorted((emodb_root / "wav").glob("*.flac"))[:12]]
    out = tmp_path / "out.parquet"
    res = _run_with_file_size_limit(["predict", *files, "--output", str(out)], 1000)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    assert f"-> {out}" not in res.stderr, res.stderr
    assert f"none of the 12 records is in {out}: it was not created; run it again" in res.stderr, res.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name == "nt", reason="RLIMIT_FSIZE is POSIX")
def test_a_resume_that_fills_the_disk_says_what_it_added_and_resume_finishes(emodb_root, tmp_path):
    """``--resume`` adds CSV rows to ``--output`` itself. When the disk filled, the run ended
    with the bare OS error (nothing on the rows it had added, or how to go on). Now it says how
    many records were added and that ``--resume`` finishes; it does, each file once."""
    import csv

    files = [str(f) for f in sorted((emodb_root / "wav").glob("*.flac"))[:12]]
    out = tmp_path / "out.csv"
    assert main(["predict", *files[:2], "--output", str(out)]) == 0
    res = _run_with_file_size_limit(["predict", *files, "--output", str(out), "--resume"],
                                    out.stat().st_size + 600)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr and f"-> {out}" not in res.stderr, res.stderr
    assert f"records added to {out} before the write failed" in res.stderr, res.stderr
    assert "the same command with --resume finishes it" in res.stderr, res.stderr
    assert main(["predict", *files, "--output", str(out), "--resume"]) == 0
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert sorted(r["path"] for r in rows) == sorted(files) and all(r["label"] for r in rows)


@pytest.mark.skipif(os.name == "nt", reason="RLIMIT_FSIZE is POSIX")
@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_write_failing_midway_keeps_the_whole_records_before_it_and_resume_finishes(emodb_root, tmp_path, suffix):
    """A file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored: the write fails with EFBIG after
    1000 bytes, as it fails with ENOSPC on a full disk) stopped the run midway: every record
    written before it was thrown away with the temporary file. Now the whole records are kept
    (a torn last one cut off), the message says how many and how to finish, and ``--resume``
    adds the rest, each file once."""
    import csv
    import json
    import resource
    import signal

    files = [str(f) for f in sorted((emodb_root / "wav").glob("*.flac"))[:12]]
    out = tmp_path / f"out{suffix}"

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))

    env = {**ENV, "PYTHONDONTWRITEBYTECODE": "1"}
    res = subprocess.run([sys.executable, "-m", "ser_live", "predict", *files, "--output", str(out)],
                         preexec_fn=limited, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr and "--resume finishes it" in res.stderr, res.stderr

    def records() -> list[dict]:
        text = out.read_text(encoding="utf-8")
        assert text.endswith("\n")  # no torn last record
        if suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines()]
        return list(csv.DictReader(text.splitlines()))

    kept = records()
    assert 0 < len(kept) < len(files) and f"{len(kept)} records written to {out}" in res.stderr, res.stderr
    assert [r["path"] for r in kept] == files[: len(kept)] and all(r["label"] for r in kept)

    res = subprocess.run([sys.executable, "-m", "ser_live", "predict", *files, "--output", str(out), "--resume"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert sorted(r["path"] for r in records()) == sorted(files)


def test_a_header_that_says_1_hz_is_an_error_record_not_hours_of_resampling(emodb_root, tmp_path):
    """A WAV whose header says 1 Hz (speech samples under a damaged or hand-written header):
    ``predict --segments`` resampled its 2 s of samples as ~9 hours of audio to 16 kHz
    (tens of minutes of work). Such a rate is now refused at once, with what to do."""
    import json
    import wave

    from ser_live.audiofile import load_audio

    y = load_audio(str(sorted((emodb_root / "wav").glob("*.flac"))[0]))
    bad = tmp_path / "one-hertz.wav"
    with wave.open(str(bad), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(1)
        w.writeframes((np.clip(y, -1, 1) * 32767).astype("<i2").tobytes())
    res = subprocess.run([sys.executable, "-m", "ser_live", "predict", str(bad), "--segments"], env=ENV,
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 3, res.stderr
    (rec,) = [json.loads(line) for line in res.stdout.splitlines()]
    assert not rec["label"] and "1 Hz" in rec["error"] and "ffmpeg" in rec["error"], rec


# ---------------------------------------------------------------------- file names
#: A file name from a Latin-1 system ("é" as the one byte 0xE9): not UTF-8, so Python holds
#: it with the surrogate \udce9.
LATIN1_NAME = os.fsdecode(b"Actor_06 \xe9nerv\xe9.flac")


@pytest.mark.skipif(os.name == "nt", reason="POSIX file names are bytes; Windows names are UTF-16")
def test_a_file_name_that_is_not_utf8_is_read_and_classified(ravdess_root, tmp_path, capsys):
    """libsndfile got such a name encoded strictly and never opened the file: a good take
    was an error record saying the file "may be damaged"."""
    import json
    import shutil

    from ser_live.audiofile import load_audio

    src = ravdess_root / "Actor_06" / "03-01-05-02-01-01-06.flac"
    odd = tmp_path / LATIN1_NAME
    shutil.copyfile(src, odd)
    assert np.array_equal(load_audio(odd), load_audio(src))
    for extra in ([], ["--segments"]):
        code = main(["predict", str(odd), *extra])
        out, err = capsys.readouterr()
        records = [json.loads(line) for line in out.splitlines()]
        assert code == 0, err
        assert records and all(r["path"] == str(odd) and r["error"] is None and r["label"] for r in records), out



@pytest.mark.skipif(os.name == "nt", reason="POSIX file names are bytes; Windows names are UTF-16")
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_file_name_that_is_not_utf8_is_a_record_of_a_csv_or_parquet_output(ravdess_root, tmp_path, capsys, suffix):
    """A UTF-8 CSV or Parquet string cannot hold the name's byte: writing it ended the run with
    a traceback (CSV: the records after it lost; Parquet: no file at all). It is written as
    its escape, as stderr shows it, and --resume finds it done."""
    import shutil

    if suffix == ".parquet":
        pq = pytest.importorskip("pyarrow.parquet")
    folder = tmp_path / "takes"
    folder.mkdir()
    shutil.copyfile(ravdess_root / "Actor_06" / "03-01-05-02-01-01-06.flac", folder / LATIN1_NAME)
    shutil.copyfile(ravdess_root / "Actor_06" / "03-01-04-02-01-01-06.flac", folder / "Actor_06 sad.flac")
    out = tmp_path / f"preds{suffix}"
    code = main(["predict", str(folder), "--output", str(out)])
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err, err
    if suffix == ".csv":
        import csv

        with open(out, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    else:
        rows = pq.read_table(out).to_pylist()
    escaped = str(folder / LATIN1_NAME).encode("utf-8", "backslashreplace").decode("ascii")
    assert sorted(r["path"] for r in rows) == sorted([str(folder / "Actor_06 sad.flac"), escaped])
    assert all(r["label"] and not r["error"] for r in rows), rows
    code = main(["predict", str(folder), "--output", str(out), "--resume"])
    err = capsys.readouterr().err
    assert code == 0 and "2 of 2 inputs already in" in err, err



# ---------------------------------------------------------------------- permissions
def _as_a_user(tmp_path: Path) -> list[str]:
    """The command prefix that runs a program without root's licence to read any file (as
    root: setpriv dropping CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH); skip where there is none."""
    import shutil

    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("root reads every file, and setpriv is missing to run as a user")
        caps = "-dac_override,-dac_read_search"
        prefix = [setpriv, "--bounding-set", caps, "--inh-caps", caps]
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0)
    denied = subprocess.run([*prefix, sys.executable, "-c", f"open({str(probe)!r})"], capture_output=True).returncode
    probe.unlink()
    if denied == 0:
        pytest.skip("a file of mode 000 is still readable here")
    return prefix


def _predict_as_a_user(tmp_path: Path, *args: str) -> tuple[int, list[dict], str]:
    import json

    res = subprocess.run([*_as_a_user(tmp_path), sys.executable, "-m", "ser_live", "predict", *args], env=ENV,
                         capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    return res.returncode, [json.loads(line) for line in res.stdout.splitlines()], res.stderr


def test_files_the_user_may_not_read_are_error_records_that_say_so(ravdess_root, tmp_path):
    """A file of mode 000 was "cannot read as audio (... System error.); the file may be
    damaged"; a file under a folder the user may not enter ended the whole run (exit 1, no
    record at all). Each is now an error record naming the permission, and the rest go on."""
    import shutil

    src = ravdess_root / "Actor_06" / "03-01-05-02-01-01-06.flac"
    good, closed, locked = tmp_path / "good.flac", tmp_path / "closed.flac", tmp_path / "locked"
    shutil.copyfile(src, good)
    shutil.copyfile(src, closed)
    closed.chmod(0)
    locked.mkdir()
    shutil.copyfile(src, locked / "inside.flac")
    locked.chmod(0)
    try:
        code, records, err = _predict_as_a_user(tmp_path, str(good), str(closed), str(locked / "inside.flac"))
    finally:
        locked.chmod(0o755)
    assert code == 3 and "Traceback" not in err, err
    assert [r["path"] for r in records] == [str(good), str(closed), str(locked / "inside.flac")], err
    assert records[0]["label"] and records[0]["error"] is None
    for r in records[1:]:
        assert r["label"] is None and "Permission denied" in r["error"] and "damaged" not in r["error"], r


def test_a_folder_the_user_may_not_read_inside_a_walked_folder_is_an_error_record(ravdess_root, tmp_path):
    """The folder walk skipped such a subfolder without a word: its recordings were missing
    from the output and the run said every file was classified (exit 0)."""
    import shutil

    src = ravdess_root / "Actor_06" / "03-01-05-02-01-01-06.flac"
    top = tmp_path / "calls"
    (top / "locked").mkdir(parents=True)
    shutil.copyfile(src, top / "a.flac")
    shutil.copyfile(src, top / "locked" / "b.flac")
    (top / "locked").chmod(0)
    try:
        code, records, err = _predict_as_a_user(tmp_path, str(top))
    finally:
        (top / "locked").chmod(0o755)
    assert code == 3, err
    assert [r["path"] for r in records] == [str(top / "a.flac"), str(top / "locked")], err
    assert records[0]["label"] and records[0]["error"] is None
    assert records[1]["label"] is None and "cannot read the folder" in records[1]["error"], records[1]
    assert "Permission denied" in records[1]["error"] and "not classified" in records[1]["error"]



@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
@pytest.mark.parametrize("first, then", [(["--model", "7class"], []), ([], ["--segments"])],
                         ids=["another-model", "whole-then-segments"])
def test_resume_refuses_records_of_another_model_or_mode_in_every_format(ravdess_root, tmp_path, capsys, suffix,
                                                                       first, then):
    """A CSV's header refused them; JSON lines were resumed whatever they held, so one file
    mixed 7-class and 4-class records, or whole-file records and utterances."""
    takes = [str(ravdess_root / "Actor_06" / f"03-01-0{e}-02-01-01-06.flac") for e in (3, 4, 5)]
    out = tmp_path / f"preds{suffix}"
    assert main(["predict", *takes[:2], "--output", str(out), *first]) == 0, capsys.readouterr().err
    before = out.read_bytes()
    capsys.readouterr()
    assert main(["predict", *takes, "--output", str(out), "--resume", *then]) == 2
    err = capsys.readouterr().err
    assert "cannot resume from it" in err and "Traceback" not in err, err
    assert out.read_bytes() == before



def test_the_macos_metadata_twins_of_an_unzipped_folder_are_not_inputs(ravdess_root, tmp_path, capsys):
    """A folder unzipped from macOS holds an AppleDouble ``._x.wav`` beside each recording
    and in ``__MACOSX/``: predict made each an error record ("the file may be damaged"),
    exit 3, for a folder whose every recording was classified."""
    import json
    import shutil

    folder = tmp_path / "calls"
    (folder / "__MACOSX").mkdir(parents=True)
    shutil.copyfile(ravdess_root / "Actor_06" / "03-01-05-02-01-01-06.flac", folder / "take.flac")
    apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(4066)  # what Finder zips write
    (folder / "._take.flac").write_bytes(apple_double)
    (folder / "__MACOSX" / "._take.flac").write_bytes(apple_double)
    code = main(["predict", str(folder)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [json.loads(line)["path"] for line in out.splitlines()] == [str(folder / "take.flac")]


# ---------------------------------------------------------------------- case 8: --segments streams
def test_streamed_segments_equal_the_segments_of_the_whole_decoded_signal(ravdess_root, tmp_path):
    from benchmarks.segments_memory import DEFAULT_TAKE, build_long_wav
    from ser_live.audiofile import decode_audio
    from ser_live.model import EmotionModel
    from ser_live.offline import Predictor

    wav = build_long_wav(tmp_path / "half.wav", minutes=0.5, take=ravdess_root / DEFAULT_TAKE)
    p = Predictor(EmotionModel.load())
    whole = p.process_signal(decode_audio(wav), segments=True)
    streamed = list(p.iter_file_segments(wav, keep_audio=False))
    assert len(whole) == len(streamed) >= 5
    for a, b in zip(whole, streamed):
        assert (a.utterance.start_sample, a.utterance.end_sample) == (b.utterance.start_sample, b.utterance.end_sample)
        assert a.prediction == b.prediction and a.rolling == b.rolling
        assert b.utterance.samples.size == 0 and b.features is None  # nothing of the audio kept


def test_predict_segments_peak_memory_does_not_grow_with_the_file(ravdess_root, tmp_path):
    """1 min against 10 min of speech and pauses: the old whole-file decode held ~35 MB more
    for the longer file (int16 blocks and their concatenation); streaming holds none."""
    from benchmarks.segments_memory import DEFAULT_TAKE, build_long_wav, predict_segments_peak

    take = ravdess_root / DEFAULT_TAKE
    peaks = {}
    for minutes in (1, 10):
        wav = build_long_wav(tmp_path / f"{minutes}.wav", minutes=minutes, take=take)
        m = predict_segments_peak(wav, tmp_path / f"{minutes}.jsonl", env=ENV)
        assert m["rc"] == 0, m["stderr"]
        peaks[minutes] = m
    assert peaks[10]["records"] >= 9 * peaks[1]["records"] > 0
    assert peaks[10]["peak_mb"] - peaks[1]["peak_mb"] < 10, peaks

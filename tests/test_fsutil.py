"""The one atomic writer, the one CSV-list reader and the one speech-level definition."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ser_live.audiofile import load_audio
from ser_live.fsutil import CsvListError, atomic_writer, read_path_csv, write_atomic
from ser_live.levels import LOUD_FRAME_PERCENTILE, frame_rms, loud_frame_level, speech_level_dbfs


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    dest = tmp_path / "cache.npy"
    x = np.arange(1000, dtype=np.float32)
    with atomic_writer(dest) as f:
        np.save(f, x)
    assert np.array_equal(np.load(dest), x)
    # a failure inside the block leaves the old content and no temporary file behind
    with pytest.raises(RuntimeError):
        with atomic_writer(dest) as f:
            f.write(b"torn")
            raise RuntimeError("disk gone")
    assert np.array_equal(np.load(dest), x)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.npy"]
    write_atomic(dest, "text é")
    assert dest.read_bytes() == "text é".encode()
    # a symlink at the destination is replaced, not written through
    target = tmp_path / "target.txt"
    target.write_text("keep")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    write_atomic(link, b"new")
    assert target.read_text() == "keep" and not link.is_symlink() and link.read_bytes() == b"new"
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "no-such-folder" / "x", b"")


def test_atomic_writer_temp_names_differ(tmp_path, monkeypatch):
    seen = []
    real_open = os.open

    def spy(path, flags, mode=0o777):
        seen.append((os.fspath(path), flags))
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", spy)
    for _ in range(2):
        write_atomic(tmp_path / "f", b"x")
    temps = [p for p, fl in seen if p.endswith(".tmp")]
    assert len(temps) == 2 and temps[0] != temps[1]
    assert all(os.path.dirname(p) == str(tmp_path) for p in temps)
    assert all(fl & os.O_EXCL and fl & os.O_CREAT for p, fl in seen if p.endswith(".tmp"))


def test_read_path_csv(tmp_path):
    good = tmp_path / "list.csv"
    good.write_text("\ufeffPath , Label,extra\nA/x.wav,happy,1\n\n,,\n/abs/y.wav, sad ,2\n", encoding="utf-8")
    rows = read_path_csv(good, required=("path", "label"), optional=("speaker",))
    assert [(r.path, r.values, r.line) for r in rows] == [
        (tmp_path.resolve() / "A/x.wav", {"label": "happy", "speaker": ""}, 2),
        (Path("/abs/y.wav"), {"label": "sad", "speaker": ""}, 5),
    ]
    bad = tmp_path / "bad.csv"
    for body, message in (
        ("file,label\nx.wav,happy\n", r"bad.csv: the header must name the columns `path`, `label`; missing `path`"),
        ("path,label\n", "no rows after the header"),
        ("path,label\nx.wav,\n", r"bad.csv, line 2: empty label"),
    ):
        bad.write_text(body)
        with pytest.raises(CsvListError, match=message):
            read_path_csv(bad, required=("path", "label"), what="calibration list")
    bad.write_bytes(b"path\n\xff\xfe\x00x.wav\n")
    with pytest.raises(CsvListError, match="cannot read it"):
        read_path_csv(bad)
    with pytest.raises(CsvListError, match="cannot read it"):
        read_path_csv(tmp_path / "missing.csv")


def test_speech_level_is_the_90th_percentile_of_frame_rms(ravdess_root):
    y = load_audio(ravdess_root / "Actor_01" / "03-01-05-02-01-01-01.flac")
    rms = frame_rms(y, frame_length=400)
    assert rms.shape == (len(y) // 400,)
    assert loud_frame_level(rms) == float(np.percentile(rms, LOUD_FRAME_PERCENTILE))
    level = speech_level_dbfs(y)
    # above the whole signal's RMS (its pauses do not count), and -6.02 dB for half the gain
    assert level > 20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2))) + 3.0
    assert speech_level_dbfs(y * np.float32(0.5)) == pytest.approx(level - 6.02, abs=0.01)
    assert speech_level_dbfs(np.zeros(800, np.float32)) == -200.0
    with pytest.raises(ValueError, match="no frames"):
        loud_frame_level([])


def test_os_error_text_names_the_users_file_and_says_what_to_do():
    import errno

    from ser_live.errors import os_error_text

    tmp = OSError(errno.ENOSPC, "No space left on device", "out/.preds.csv.0123456789abcdef.tmp")
    assert os_error_text(tmp) == ("out/preds.csv: No space left on device "
                                  "(the disk is full: free some space or write to another disk)")
    assert os_error_text(OSError(errno.EROFS, "Read-only file system", "/ro/x.jsonl")).endswith(
        "(the file system is read-only: write to another folder)")
    assert os_error_text(OSError(errno.ENOSPC, "No space left on device")) == (
        "No space left on device (the disk is full: free some space or write to another disk)")
    assert os_error_text(OSError(errno.EIO, "Input/output error", "a.wav")) == "a.wav: Input/output error"
    assert os_error_text(OSError("no errno")) == "no errno"

"""``ser-live --input FILE`` on files a user may really have: cut short (a WAV whose header
announces more than it holds, a FLAC cut in the middle of a frame) and very short. Real
RAVDESS speech, through the real command (in-process)."""

from __future__ import annotations

import json
import re

import pytest

import soundfile as sf

from ser_live.audiofile import SAMPLE_RATE_HZ, load_audio, write_wav
from ser_live.cli import main

from .test_pipeline import SESSION_FILES, model, session, test_model_path  # noqa: F401 (fixtures)

SR = SAMPLE_RATE_HZ


def _replay(capsys, path, model_path) -> tuple[int, list[dict], str]:
    """``ser-live --input path --speed 0 --jsonl -``: (exit status, records, stderr)."""
    rc = main(["--input", str(path), "--speed", "0", "--jsonl", "-", "--model", str(model_path)])
    out, err = capsys.readouterr()
    return rc, [json.loads(line) for line in out.splitlines() if line.strip()], err


def _spans(records: list[dict]) -> list[tuple[float, float, str]]:
    return [(r["start_s"], r["end_s"], r["label"]) for r in records]


def test_a_file_cut_short_is_exit_3_with_one_line_after_its_utterances_wav_and_flac_alike(
    capsys, tmp_path, session, test_model_path  # noqa: F811
):
    """Cut at 60 % of its bytes: the utterances before the cut are written as usual, then one
    line names the file and how far it was read, and the exit status is 3 (unusable audio
    file) for a WAV as for a FLAC. A cut WAV used to end as if it were whole (exit 0)."""
    path, x, _ = session
    cut = {}
    for fmt in ("WAV", "FLAC"):
        whole = tmp_path / f"whole.{fmt.lower()}"
        sf.write(whole, x, SR, format=fmt, subtype="PCM_16")
        data = whole.read_bytes()
        cut[fmt] = tmp_path / f"cut.{fmt.lower()}"
        cut[fmt].write_bytes(data[: len(data) * 3 // 5])
    n_held = sf.info(str(cut["WAV"])).frames  # what the cut WAV holds (libsndfile's count)
    prefix = write_wav(tmp_path / "prefix.wav", x[:n_held])  # the same audio, not cut
    rc_p, records_p, _ = _replay(capsys, prefix, test_model_path)
    assert rc_p == 0 and records_p
    for fmt, announced in (("WAV", f"the header announces {len(x) / SR:.2f} s, only {n_held / SR:.2f} s could be read"),
                           ("FLAC", "decoding failed at ")):
        rc, records, err = _replay(capsys, cut[fmt], test_model_path)
        errors = [line for line in err.splitlines() if "error" in line.lower()]
        assert rc == 3, err
        assert len(errors) == 1 and errors[0].startswith(f"ser-live: error: {cut[fmt]}: "), err
        assert announced in errors[0], err
        heard = float(re.search(r"audio heard\s+([\d.]+) s", err).group(1))
        told = float(re.search(r"(?:only|failed at) ([\d.]+) s", errors[0]).group(1))
        assert abs(told - heard) < 0.1, err  # the line says how much was heard
        assert len(records) >= 2
        if fmt == "WAV":  # the utterances heard are those of the same audio whole
            assert _spans(records) == _spans(records_p)


def test_a_50_ms_file_is_not_heard_as_0_0_s(capsys, tmp_path, ravdess_root, test_model_path):  # noqa: F811
    """The summary of a replay shorter than a second gives whole milliseconds: a 50 ms cut of
    speech was heard as one 30 ms VAD frame (the shorter tail is not analysed), never 0.0 s."""
    y = load_audio(ravdess_root / SESSION_FILES[0])
    short = write_wav(tmp_path / "short.wav", y[SR : SR + SR // 20])
    rc, records, err = _replay(capsys, short, test_model_path)
    assert rc == 4 and records == [], err  # too short for speech: "no speech detected"
    assert re.search(r"audio heard\s+30 ms$", err, re.M), err


@pytest.mark.parametrize("declared", [0x7FFFFFFF, 0x7FFFF000], ids=["arecord", "sox"])
def test_a_wav_streamed_through_a_pipe_is_not_taken_for_a_cut_one(capsys, tmp_path, session, test_model_path,  # noqa: F811
                                                                   declared):
    """arecord or SoX writing to a pipe (then saved with `cat PIPE > talk.wav`) cannot go back
    to fill in the length: the ``data`` chunk announces 0x7FFFFFFF bytes (arecord) or
    0x7FFFF000 (SoX's MS_UNSPEC). Such a file is whole: no "truncated" warning from
    `predict`, exit 0 from a replay."""
    path, x, _ = session
    wav = write_wav(tmp_path / "streamed.wav", x[: 4 * SR])
    data = bytearray(wav.read_bytes())
    at = data.index(b"data") + 4
    data[at : at + 4] = declared.to_bytes(4, "little")
    wav.write_bytes(bytes(data))
    rc = main(["predict", "--model", str(test_model_path), str(wav)])
    err = capsys.readouterr().err
    assert rc == 0 and "truncated" not in err, err
    rc, records, err = _replay(capsys, wav, test_model_path)
    assert rc == 0 and records and "error" not in err, err


@pytest.fixture
def phone_wav(tmp_path, emodb_root):
    """An EmoDB utterance resampled to 8 kHz (telephone audio), as a WAV."""
    import soxr

    y = load_audio(emodb_root / "wav" / "03a01Fa.flac")
    path = tmp_path / "phone.wav"
    sf.write(path, soxr.resample(y, SR, 8000), 8000)
    return path


def _warned_once_before_replaying(err: str, path) -> bool:
    """Whether ``err`` holds predict's narrowband warning for ``path`` once, before the
    "replaying ..." line that says listening started."""
    warning = f"{path}: recorded at 8000 Hz (nothing above 4.0 kHz)"
    return err.count("recorded at 8000 Hz") == 1 and -1 < err.find(warning) < err.find("replaying ")


def test_a_narrowband_file_replayed_plain_is_warned_of_once_as_predict_does(capsys, phone_wav, emodb_root,
                                                                            test_model_path):  # noqa: F811
    """`--input` of 8 kHz audio said nothing, while `predict` warns that its upper bands are
    empty; now the replay warns once, before it starts; a 16 kHz file gets no warning."""
    rc = main(["--input", str(phone_wav), "--speed", "0", "--plain", "--model", str(test_model_path)])
    err = capsys.readouterr().err
    assert rc == 0 and _warned_once_before_replaying(err, phone_wav), err
    rc = main(["--input", str(emodb_root / "wav" / "03a01Fa.flac"), "--speed", "0", "--plain",
               "--model", str(test_model_path)])
    err = capsys.readouterr().err
    assert rc == 0 and "recorded at" not in err, err


def test_a_narrowband_file_replayed_on_the_dashboard_is_warned_of_once(tmp_path, phone_wav,
                                                                       test_model_path):  # noqa: F811
    """The same warning with the dashboard on a terminal (stderr to a file, so it is read whole)."""
    from .test_terminals import _text, run_in_terminal

    log = tmp_path / "log"
    code, out = run_in_terminal(["--input", str(phone_wav), "--speed", "0", "--model", str(test_model_path)],
                                stderr=log, timeout_s=120)
    err = log.read_text()
    assert code == 0 and "timeline" in _text(out), err  # the dashboard was drawn
    assert _warned_once_before_replaying(err, phone_wav), err

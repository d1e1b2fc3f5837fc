"""What a program reading ``ser-live --jsonl``/``--plain`` learns about the input as it
happens, on corpus speech: audio dropped (a worker slowed on purpose behind a replay faster
than real time), and the input gone silent and back (exact zeros in a replayed file).

The stream-consumer audit: before, losses were counted only in the exit summary and on the
dashboard, and a muted input was shown only on the dashboard.
"""

from __future__ import annotations

import functools
import json
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_live.audiofile import SAMPLE_RATE_HZ, write_wav
from ser_live.cli import main

from .pulse import pulse_null_sink  # noqa: F401  (pytest fixture)
from .test_capture_failures import suspended_mic  # noqa: F401  (pytest fixture)

#: RAVDESS utterances, strong intensity, four actors.
FILES = [f"Actor_{a:02d}/03-01-{e:02d}-02-01-01-{a:02d}.flac" for a in (1, 2, 3, 4) for e in (5, 4)]
#: ``wall_time`` of every listen record: ISO 8601, UTC, milliseconds.
WALL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
DROPPED_KEYS = {"kind", "stream_s", "wall_time", "dropped_samples", "dropped_s", "input_overflows",
                "dropped_utterances", "total_dropped_samples", "total_dropped_s", "total_input_overflows",
                "total_dropped_utterances"}


def _records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def session_wav(ravdess_root: Path, tmp_path_factory: pytest.TempPathFactory, corpus_session) -> Path:
    """Eight RAVDESS utterances with 1 s pauses (about 40 s)."""
    built = corpus_session(ravdess_root, FILES, gap_s=1.0, tail_s=1.0)
    return write_wav(tmp_path_factory.mktemp("stream") / "session.wav", built.samples)


def test_dropped_audio_is_said_in_jsonl_and_plain_as_it_happens(session_wav, monkeypatch, capsys) -> None:
    """A replay 20 times real time into a 2 s ring buffer, a worker that takes 0.4 s an
    utterance and a queue of one: the ring overflows. ``dropped`` records come while
    utterances are still being written, and they add up to the summary's count."""
    import ser_live.pipeline as pipeline

    classify = pipeline.classify_utterance

    def slow_classify(*args, **kwargs):
        time.sleep(0.4)  # the worker falls behind
        return classify(*args, **kwargs)

    monkeypatch.setattr(pipeline, "classify_utterance", slow_classify)
    monkeypatch.setattr(pipeline, "Recognizer", functools.partial(pipeline.Recognizer, ring_capacity_s=2.0,
                                                                  max_queued_utterances=1))
    rc = main(["--input", str(session_wav), "--speed", "20", "--jsonl", "-", "--plain"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    records = _records(out)
    kinds = [r["kind"] for r in records]
    dropped = [r for r in records if r["kind"] == "dropped"]
    summary = re.search(r"audio dropped\s+(\d+) samples", err)
    assert summary is not None and int(summary.group(1)) > 0, err
    total = int(summary.group(1))
    # said at the time: a loss is reported before the last utterance's record, not only at the end
    assert dropped and kinds.index("dropped") < len(kinds) - 1 - kinds[::-1].index("utterance"), kinds
    # the records add up to what the summary says, each window its own part
    assert sum(r["dropped_samples"] for r in dropped) == total == dropped[-1]["total_dropped_samples"], (dropped, err)
    assert dropped[-1]["total_dropped_s"] == pytest.approx(total / SAMPLE_RATE_HZ, abs=1e-3)
    for r in dropped:
        assert set(r) == DROPPED_KEYS and WALL_TIME.match(r["wall_time"]), r
        assert r["dropped_samples"] > 0 or r["input_overflows"] > 0 or r["dropped_utterances"] > 0, r
    assert all(WALL_TIME.match(r["wall_time"]) for r in records), records
    # --plain (on stderr beside --jsonl -): one "!" line per record, the same figures
    lines = [ln for ln in err.splitlines() if ln.startswith("! ") and "audio dropped" in ln]
    assert len(lines) == len(dropped), err
    assert f"{dropped[-1]['total_dropped_s']:.3f} s" in lines[-1], lines


def test_dropped_records_are_rate_limited_and_flushed_at_the_end() -> None:
    """At most one ``dropped`` record per DROPPED_EVERY_S of the (here simulated) clock; what
    came in between is in the next one, and the end of the run reports the rest."""
    from ser_live.cli.stream_events import DROPPED_EVERY_S, StreamEvents
    from ser_live.types import RecognizerStatus

    now = [0.0]
    events = StreamEvents(clock=lambda: now[0])
    records = []
    for k in range(1, 13):  # 160 samples lost every second of the clock, for 12 s
        now[0] = float(k)
        records += events.poll(RecognizerStatus(stream_s=k, dropped_samples=160 * k, level_dbfs=-40.0))
    assert [r["stream_s"] for r in records] == [1.0, 1.0 + DROPPED_EVERY_S, 1.0 + 2 * DROPPED_EVERY_S]
    records += events.poll(RecognizerStatus(stream_s=12, dropped_samples=160 * 12, level_dbfs=-40.0), final=True)
    assert sum(r["dropped_samples"] for r in records) == 160 * 12 == records[-1]["total_dropped_samples"]
    assert events.poll(RecognizerStatus(stream_s=12, dropped_samples=160 * 12), final=True) == []


def test_exact_zeros_in_the_input_are_said_when_they_start_and_end(ravdess_root, tmp_path, corpus_session,
                                                                     capsys) -> None:
    """Speech, 8 s of exact zeros (a muted microphone), speech, replayed at twice real time:
    one ``input`` ``silent`` record (reason ``zeros``) within the zeros, one ``back`` after
    them, in stream order with the utterances; ``--plain`` says both on ``!`` lines."""
    first = corpus_session(ravdess_root, FILES[:1], gap_s=0.5, tail_s=0.5).samples
    second = corpus_session(ravdess_root, FILES[1:2], gap_s=0.5, pause_first=True, tail_s=1.0).samples
    zeros = np.zeros(8 * SAMPLE_RATE_HZ, np.int16)
    wav = write_wav(tmp_path / "muted.wav", np.concatenate([first, zeros, second]))
    # the zeros run from the first file's 0.5 s tail of digital silence to the second's pause
    mute_from_s, mute_to_s = len(first) / SAMPLE_RATE_HZ - 0.5, (len(first) + len(zeros)) / SAMPLE_RATE_HZ + 0.5

    rc = main(["--input", str(wav), "--speed", "2", "--jsonl", "-", "--plain"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    records = _records(out)
    inputs = [r for r in records if r["kind"] == "input"]
    assert [(r["state"], r.get("reason")) for r in inputs] == [("silent", "zeros"), ("back", None)], records
    silent, back = inputs
    # the status's stream time and the segmenter's 30 ms frames are a few frames apart at the
    # poll that sees the zeros (a fresh-clone run said silent at 7.08 s for zeros from 4.10 s)
    slack_s = 0.1
    assert mute_from_s + 3.0 - slack_s <= silent["stream_s"] <= mute_to_s and silent["for_s"] >= 3.0, silent
    assert mute_to_s <= back["stream_s"] and back["for_s"] >= silent["for_s"], back
    utterances = [r for r in records if r["kind"] == "utterance"]
    assert len(utterances) == 2 and utterances[0]["end_s"] <= mute_from_s < mute_to_s <= utterances[1]["start_s"]
    assert [r["kind"] for r in records] == ["utterance", "input", "input", "utterance"], records
    lines = [ln for ln in err.splitlines() if ln.startswith("! ")]
    assert len(lines) == 2 and "input silent" in lines[0] and "exact zeros" in lines[0] and "input back" in lines[1], err


# ---------------------------------------------------------------------------- a real microphone
def _wait_for(path: Path, pred, *, run, timeout_s: float = 30.0) -> list[dict]:
    """The records of ``path`` once one of them satisfies ``pred`` (a wait, not a timing test)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            records = _records(path.read_text())
            if any(pred(r) for r in records):
                return records
        if run.proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"no such record in {path} within {timeout_s} s:\n"
                         f"{path.read_text() if path.exists() else '(no file)'}\n{run.text()}")


@pytest.mark.microphone
def test_a_muted_then_suspended_microphone_is_said_in_jsonl(pulse_null_sink, suspended_mic, request,
                                                            tmp_path) -> None:
    """The PulseAudio null-sink microphone (DESIGN.md, "Testing the capture path") gives exact
    zeros while nothing plays (a muted microphone) and no samples while suspended (``pactl
    suspend-source``): each is a ``silent`` record, and speech played afterwards a ``back``
    record before its utterance."""
    from .test_capture import _speech_int16
    from .test_capture_failures import _start_listening, _suspend

    (speech,) = _speech_int16(request, tmp_path, FILES[:1])
    wav = write_wav(tmp_path / "speech.wav", np.concatenate([speech, np.zeros(SAMPLE_RATE_HZ, np.int16)]))
    jsonl = tmp_path / "live.jsonl"
    run = _start_listening(pulse_null_sink, ["--jsonl", str(jsonl), "--no-audio-timeout-s", "60"])
    try:
        _wait_for(jsonl, lambda r: r.get("reason") == "zeros", run=run)
        pulse_null_sink.play(wav)
        _wait_for(jsonl, lambda r: r["kind"] == "utterance", run=run)
        suspended_mic()
        _wait_for(jsonl, lambda r: r.get("reason") == "no_audio", run=run)
        _suspend(pulse_null_sink, False)
        pulse_null_sink.play(wav)
        records = _wait_for(jsonl, lambda r: r["kind"] == "utterance" and r["index"] == 1, run=run)
        run.proc.send_signal(signal.SIGINT)
        rc = run.wait(timeout_s=30)
    finally:
        run.kill()
    out = run.text()
    assert rc == 130, f"exit {rc}:\n{out}"
    events = [(r["kind"], r.get("state"), r.get("reason")) for r in records]
    assert events[:3] == [("input", "silent", "zeros"), ("input", "back", None), ("utterance", None, None)], events
    muted = events.index(("input", "silent", "no_audio"))
    assert ("input", "back", None) in events[muted:], events
    assert events.index(("input", "back", None), muted) < events.index(("utterance", None, None), muted), events
    assert all(WALL_TIME.match(r["wall_time"]) for r in records), records
    plain = run.stdout.decode()  # --plain beside --jsonl FILE: on stdout
    assert "input silent" in plain and "exact zeros" in plain and "no audio from the device" in plain, plain


# ---------------------------------------------------------------------------- a reader that goes away
def _read_first_line_then_close(args: list[str]) -> tuple[int, dict, str]:
    """``ser-live ARGS | head -1``: the exit status, the first line's record, stderr."""
    from .test_cli_failures import _first_line_then_closed

    first, rc, err = _first_line_then_closed(args)
    return rc, json.loads(first), err


def _heard_s(err: str) -> float:
    m = re.search(r"audio heard\s+([\d.]+) s", err)
    assert m is not None, err
    return float(m.group(1))


def test_a_reader_that_closes_the_pipe_ends_the_run(session_wav, tmp_path) -> None:
    """``ser-live --jsonl - | head -1`` on a 40 s replay: said once, summary, exit 1, no
    traceback, and the run ends there instead of listening on for no one (before: it went
    on to the end of the input, which for a microphone is never). With ``--save-utterances``
    something still takes the results: the run goes on and saves every utterance."""
    length_s = sf.info(str(session_wav)).duration
    rc, first, err = _read_first_line_then_close(["--input", str(session_wav), "--speed", "4", "--jsonl", "-"])
    assert first["kind"] == "utterance" and first["index"] == 0
    assert rc == 1 and "Traceback" not in err and "ser-live summary" in err, err
    assert err.count("cannot write the results to stdout") == 1 and "the run ends" in err, err
    assert _heard_s(err) < length_s / 2, err

    saved = tmp_path / "saved"
    rc, first, err = _read_first_line_then_close(["--input", str(session_wav), "--speed", "4", "--jsonl", "-",
                                                  "--save-utterances", str(saved)])
    assert rc == 1 and "Traceback" not in err and "the run goes on (recordings are still saved)" in err, err
    assert _heard_s(err) > length_s - 2.0, err
    assert len(list(saved.glob("*.wav"))) == len(FILES), err


# ---------------------------------------------------------------------------- the end of the stream
def test_jsonl_summary_ends_the_stream_with_the_summary_and_the_exit_status(session_wav, ravdess_root,
                                                                            tmp_path, capsys) -> None:
    """``--jsonl FILE --jsonl-summary``: the first utterance is in the file while the replay
    still runs (each line written at once), and after Ctrl-C the last line is the
    ``summary`` record: exit status 130, its counts those of the stream and of the stderr
    summary. A run that ends in an error says it in the record too (before: the summary went
    to stderr only, and a program reading ``--jsonl FILE`` could not tell a run that ended
    from one still going)."""
    from .test_cli_failures import _signal_mid_run

    out = tmp_path / "live.jsonl"
    # a reader of the file (tail -f) sees the first utterance while the replay still runs (asserted
    # by the wait), then Ctrl-C
    rc, err = _signal_mid_run(["--input", str(session_wav), "--speed", "4", "--jsonl", str(out), "--jsonl-summary"],
                              out, after_lines=1, signals=[(signal.SIGINT, 0.0)])
    assert rc == 130, err
    records = _records(out.read_text())
    assert records[0]["kind"] == "utterance", records
    summary = records[-1]
    utterances = [r for r in records if r["kind"] == "utterance"]
    assert summary["kind"] == "summary" and [r["kind"] for r in records].count("summary") == 1, records
    assert summary["exit_status"] == 130 and summary["error"] is None, summary
    assert summary["utterances"] == len(utterances) == sum(summary["labels"].values()) + summary["uncertain"]
    assert summary["audio_s"] == pytest.approx(_heard_s(err), abs=0.05) and summary["dropped_samples"] == 0
    assert set(summary["rolling"]) == set(utterances[-1]["probabilities"]) and WALL_TIME.match(summary["wall_time"])
    assert summary["rolling"] == pytest.approx(utterances[-1]["rolling"], abs=1e-4)

    # no speech in the input (the room before a RAVDESS sentence): exit 4, said in the record
    from ser_live.audiofile import load_audio, to_int16

    room = to_int16(load_audio(ravdess_root / FILES[0]))[: SAMPLE_RATE_HZ // 4]
    wav = write_wav(tmp_path / "room.wav", room)
    out = tmp_path / "room.jsonl"
    assert main(["--input", str(wav), "--speed", "0", "--jsonl", str(out), "--jsonl-summary"]) == 4
    (record,) = _records(out.read_text())
    assert record["kind"] == "summary" and record["exit_status"] == 4 and "no speech" in record["error"], record
    assert "no speech detected" in capsys.readouterr().err


def test_an_existing_jsonl_file_is_refused_unless_appended_to_or_overwritten(session_wav, tmp_path, capsys) -> None:
    """A supervisor restarting ``ser-live --jsonl FILE`` with the same path emptied the earlier
    hours' records (the file was opened "w"): an existing file with records is now refused
    (exit 2, left as it was, naming --append and --overwrite); --append adds the run's records
    after the earlier ones, --overwrite replaces them."""
    out = tmp_path / "run.jsonl"
    run = ["--input", str(session_wav), "--speed", "0", "--plain", "--jsonl", str(out)]
    assert main(run) == 0
    first = out.read_bytes()
    n = sum(r["kind"] == "utterance" for r in _records(first.decode()))
    assert n >= 6  # eight utterances replayed
    capsys.readouterr()
    assert main(run) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "--append" in err and "--overwrite" in err
    assert out.read_bytes() == first
    assert main([*run, "--append"]) == 0
    both = out.read_bytes()
    assert both.startswith(first)
    assert sum(r["kind"] == "utterance" for r in _records(both.decode())) == 2 * n
    assert main([*run, "--overwrite"]) == 0
    assert sum(r["kind"] == "utterance" for r in _records(out.read_text())) == n
    assert main(["--input", str(session_wav), "--append", "--jsonl", "-"]) == 2


def test_append_after_a_torn_last_line_starts_this_run_on_a_line_of_its_own(session_wav, tmp_path, capsys) -> None:
    """An earlier run killed mid-write leaves ``--jsonl FILE`` ending in part of a line; a
    supervisor restarting with ``--append`` glued this run's first record to that fragment,
    so a reader skipping what is not JSON lost it. The fragment now gets a newline (said once),
    is otherwise left as it was, and every record of this run is a line of its own."""
    out = tmp_path / "run.jsonl"
    run = ["--input", str(session_wav), "--speed", "0", "--plain", "--jsonl", str(out)]
    assert main(run) == 0
    whole = out.read_bytes()
    records = _records(whole.decode())
    n = sum(r["kind"] == "utterance" for r in records)
    assert n >= 6
    last = whole.splitlines(keepends=True)[-1]
    torn = whole[: len(whole) - len(last) // 2]  # the last record cut in the middle: a killed run
    out.write_bytes(torn)
    capsys.readouterr()
    assert main([*run, "--append"]) == 0
    assert "partial line" in capsys.readouterr().err
    data = out.read_bytes()
    assert data.startswith(torn + b"\n")
    parsed = [json.loads(line) for line in data[len(torn) + 1:].decode().splitlines()]  # each a whole record
    assert sum(r["kind"] == "utterance" for r in parsed) == n
    assert [(r["kind"], r.get("index")) for r in parsed] == [(r["kind"], r.get("index")) for r in records]
    capsys.readouterr()
    assert main([*run, "--append"]) == 0  # a file that ends in a newline gets none and no warning
    assert "partial line" not in capsys.readouterr().err
    assert out.read_bytes().startswith(data) and b"\n\n" not in out.read_bytes()


def test_event_lines_count_in_words_and_jsonl_summary_needs_jsonl(session_wav, capsys) -> None:
    """A ``--plain`` drop line says "1 utterance", not "1 utterances"; ``--jsonl-summary``
    without ``--jsonl`` did nothing and said nothing: it is a usage error, as ``--append``
    without a file is."""
    from ser_live.plaintext import format_event

    line = format_event({"kind": "dropped", "stream_s": 61.2, "dropped_s": 0.512, "dropped_samples": 8192,
                         "input_overflows": 1, "dropped_utterances": 1, "total_dropped_s": 1.024,
                         "total_input_overflows": 2, "total_dropped_utterances": 3})
    assert "1 input overflow, 1 utterance since the last report" in line and "2 input overflows, 3 utterances in all" in line
    capsys.readouterr()
    assert main(["--input", str(session_wav), "--speed", "0", "--plain", "--jsonl-summary"]) == 2
    assert "--jsonl-summary" in capsys.readouterr().err


def test_revisions_without_jsonl_is_a_usage_error_and_with_it_writes_revision_lines(session_wav, tmp_path,
                                                                                     capsys) -> None:
    """``--revisions`` only adds lines to the ``--jsonl`` stream: without ``--jsonl`` it did
    nothing and said nothing (exit 0), as ``--jsonl-summary`` did before it became a usage
    error. It is one now (exit 2, naming --jsonl, nothing replayed); with ``--jsonl`` the
    revision lines come as before."""
    run = ["--input", str(session_wav), "--speed", "0", "--plain", "--revisions"]
    assert main(run) == 2
    err = capsys.readouterr().err
    assert "error: --revisions" in err and "--jsonl PATH" in err and "ser-live summary" not in err  # before replaying
    out = tmp_path / "rev.jsonl"
    assert main([*run, "--jsonl", str(out)]) == 0
    kinds = [r["kind"] for r in _records(out.read_text())]
    assert kinds.count("utterance") >= 6 and "revision" in kinds


def test_jsonl_onto_the_input_or_the_recordings_index_is_refused_and_leaves_them_whole(session_wav, tmp_path,
                                                                                        capsys) -> None:
    """``--jsonl`` naming the recording being replayed (a slip of tab completion) opened it for
    writing: with ``--overwrite`` it was emptied before it was read, the run ended "empty file"
    (exit 3) and the recording was gone; with ``--append`` JSON went into the audio. Naming the
    ``--save-utterances`` index put every utterance's line in it twice (``--overwrite``: after
    emptying earlier runs' lines). Both are refused now (exit 2), whatever the path's spelling,
    and the files are left as they were."""
    import shutil

    wav = shutil.copyfile(session_wav, tmp_path / "talk.wav")
    (tmp_path / "link.wav").symlink_to(wav)
    audio = wav.read_bytes()
    for jsonl, how in ((tmp_path / "link.wav", "--overwrite"), (tmp_path / "." / "talk.wav", "--append")):
        assert main(["--input", str(wav), "--speed", "0", "--plain", "--jsonl", str(jsonl), how]) == 2
        assert "is the --input file" in capsys.readouterr().err
        assert wav.read_bytes() == audio
    rec = tmp_path / "rec"
    assert main(["--input", str(wav), "--speed", "0", "--plain", "--save-utterances", str(rec)]) == 0
    index = (rec / "index.jsonl").read_bytes()
    assert len(_records(index.decode())) >= 6
    for how in ("--overwrite", "--append"):
        assert main(["--input", str(wav), "--speed", "0", "--plain", "--save-utterances", str(rec),
                     "--jsonl", str(rec / "index.jsonl"), how]) == 2
        assert "is the --save-utterances index" in capsys.readouterr().err
        assert (rec / "index.jsonl").read_bytes() == index
    out = tmp_path / "run.jsonl"  # another file: as before
    assert main(["--input", str(wav), "--speed", "0", "--plain", "--save-utterances", str(rec), "--jsonl", str(out)]) == 0
    assert len(_records(out.read_text())) == len(_records(index.decode()))


def test_jsonl_onto_the_index_of_a_new_recordings_folder_is_refused_too(session_wav, tmp_path, capsys) -> None:
    """``--save-utterances DIR --jsonl DIR/index.jsonl`` with no index there yet (a first run)
    was let through: both writers opened the one file and the ``--jsonl`` writer's lines went
    over the index's, so most utterances' index lines (their ``"wav"``) were lost. A path that
    does not exist yet is compared by its resolved spelling: refused (exit 2), nothing written."""
    rec = tmp_path / "rec"
    for folder in (rec, tmp_path / "link"):  # a new folder, and one reached through a symlink
        if folder.name == "link":
            rec.mkdir()
            folder.symlink_to(rec)
        assert main(["--input", str(session_wav), "--speed", "0", "--plain", "--save-utterances", str(rec),
                     "--jsonl", str(folder / "." / "index.jsonl")]) == 2
        assert "is the --save-utterances index" in capsys.readouterr().err
        assert not (rec / "index.jsonl").exists() and not list(rec.glob("*.wav"))


def test_an_empty_save_utterances_folder_is_a_usage_error(session_wav, tmp_path, monkeypatch, capsys) -> None:
    """``--save-utterances "$DIR"`` with ``DIR`` unset saved every utterance (WAVs of a person's
    voice and an index) straight into the working folder, said only as "saved in ./" at the
    end. An empty value is refused now (exit 2, before anything is replayed), as an empty
    ``--profile`` is."""
    monkeypatch.chdir(tmp_path)
    assert main(["--input", str(session_wav), "--speed", "0", "--plain", "--save-utterances", ""]) == 2
    err = capsys.readouterr().err
    assert "--save-utterances needs a folder" in err and "empty" in err and "ser-live summary" not in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_save_utterances_folder_written_with_a_tilde_is_the_home_folder(session_wav, home_and_work,
                                                                           capsys) -> None:
    """``--save-utterances=~/rec`` (the shell leaves a ``~`` after ``=`` as it is) saved into a
    folder literally named ``~`` in the working folder, and the run ended saying "saved in
    ~/rec/", which reads as the home folder; the recordings were not there. The value is
    expanded as ``--profile``'s is (and as a shell would)."""
    home, work = home_and_work
    assert main(["--input", str(session_wav), "--speed", "0", "--plain", "--save-utterances=~/rec"]) == 0
    err = capsys.readouterr().err
    assert not (work / "~").exists()
    assert len(list((home / "rec").glob("*.wav"))) >= 6 and f"saved in {home / 'rec'}/" in err, err


def test_a_jsonl_file_written_with_a_tilde_is_in_the_home_folder(session_wav, home_and_work, capsys) -> None:
    """``--jsonl=~/x.jsonl`` (the shell leaves a ``~`` after ``=`` as it is, and a quoted
    ``"~/x.jsonl"`` too) wrote the results into a folder literally named ``~`` in the working
    folder. The value is expanded as ``--save-utterances``' and ``--profile``'s are, and so is
    ``--input``'s."""
    home, work = home_and_work
    assert main(["--input", str(session_wav), "--speed", "0", "--plain", "--jsonl=~/a.jsonl"]) == 0
    assert main(["--input", str(session_wav), "--speed", "0", "--plain", "--jsonl", "~/b.jsonl"]) == 0
    # --input=~/x.wav too (it was "cannot read" a file in a folder named ~)
    (home / "x.wav").write_bytes(Path(session_wav).read_bytes())
    assert main(["--input=~/x.wav", "--speed", "0", "--plain", "--jsonl", "~/c.jsonl"]) == 0
    capsys.readouterr()
    assert not (work / "~").exists()
    for name in ("a.jsonl", "b.jsonl", "c.jsonl"):
        assert len(_records((home / name).read_text())) >= 6


def test_a_run_that_fails_at_start_leaves_no_empty_jsonl_file_of_its_own(session_wav, tmp_path, capsys) -> None:
    """``--jsonl new.jsonl --save-utterances DIR`` with a DIR that cannot be made (a file in
    its path) failed at start, and left ``new.jsonl`` behind as an empty file: the results
    file was opened before the recordings folder. A new file this run created and left empty
    is removed now, with the folders the run made for it; a file that was there before the
    run (empty, or holding records, with ``--append``) is left as it was."""
    (tmp_path / "afile").write_bytes(b"")
    bad = ["--input", str(session_wav), "--speed", "0", "--plain", "--save-utterances", str(tmp_path / "afile" / "rec")]
    new, empty, held = tmp_path / "new.jsonl", tmp_path / "empty.jsonl", tmp_path / "held.jsonl"
    empty.write_bytes(b"")
    held.write_text('{"index": 0}\n')
    assert main([*bad, "--jsonl", str(new)]) == 1
    assert "Not a directory" in capsys.readouterr().err
    assert not new.exists()
    assert main([*bad, "--jsonl", str(empty)]) == 1 and empty.read_bytes() == b""
    assert main([*bad, "--jsonl", str(held), "--append"]) == 1 and held.read_text() == '{"index": 0}\n'
    # the folders it made for a new file go with it; one that held something before stays
    deep = tmp_path / "runs" / "today" / "new.jsonl"
    assert main([*bad, "--jsonl", str(deep)]) == 1
    assert not (tmp_path / "runs").exists()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "notes.txt").write_text("x")
    assert main([*bad, "--jsonl", str(tmp_path / "kept" / "sub" / "new.jsonl")]) == 1
    assert not (tmp_path / "kept" / "sub").exists() and (tmp_path / "kept" / "notes.txt").read_text() == "x"

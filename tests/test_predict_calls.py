"""``ser-live predict`` over recorded calls, as a call-centre analyst runs it: long
recordings of two voices cut with ``--segments --speakers 2``, stereo lines, clipped
levels, sessions of long files.

The calls are EmoDB speakers 03 (male) and 08 (female) taking turns with 1 s pauses (a
mixed-gender pair of one corpus: their voices the speaker embedding tells apart), repeated
to the length the test needs. Which speaker said what is known from the construction.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_live.audiofile import SAMPLE_RATE_HZ, decode_audio
from ser_live.model import EmotionModel, default_model_path
from ser_live.offline import Predictor
from ser_live.vad import segment_signal

#: EmoDB files of the two voices (first 8 of each speaker, sorted).
_TURNS = 8
_PAUSE_S = 1.0


@pytest.fixture(scope="module")
def model() -> EmotionModel:
    return EmotionModel.load(default_model_path())


@pytest.fixture(scope="module")
def call_turns(emodb_root: Path) -> tuple[list[np.ndarray], list[str]]:
    """One round of the call: the utterances in order (float32 at 16 kHz) and who says each
    ("A" speaker 03, "B" speaker 08)."""
    a = sorted((emodb_root / "wav").glob("03*.flac"))[:_TURNS]
    b = sorted((emodb_root / "wav").glob("08*.flac"))[:_TURNS]
    clips, who = [], []
    for fa, fb in zip(a, b):
        for name, f in (("A", fa), ("B", fb)):
            y, rate = sf.read(f, dtype="float32")
            assert rate == SAMPLE_RATE_HZ
            clips.append(y)
            who.append(name)
    return clips, who


def _call(turns: tuple[list[np.ndarray], list[str]], rounds: int) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """``rounds`` rounds of the call joined with pauses: samples (float32) and each
    utterance's (start_s, end_s, speaker)."""
    pause = np.zeros(int(_PAUSE_S * SAMPLE_RATE_HZ), np.float32)
    parts, spans, t = [], [], 0
    for _ in range(rounds):
        for y, who in zip(*turns):
            spans.append((t / SAMPLE_RATE_HZ, (t + len(y)) / SAMPLE_RATE_HZ, who))
            parts += [y, pause]
            t += len(y) + len(pause)
    return np.concatenate(parts), spans


def _truth(spans: list[tuple[float, float, str]], start_s: float, end_s: float) -> str:
    """The speaker whose utterance overlaps [start_s, end_s] most."""
    overlap = [(min(b, end_s) - max(a, start_s), who) for a, b, who in spans]
    return max(overlap)[1]


def _agreement(got: list[str | None], truth: list[str]) -> float:
    """Share of labels right, under the better of the two namings of two speakers."""
    same = np.mean([g == t for g, t in zip(got, truth)])
    swapped = np.mean([g is not None and g != t for g, t in zip(got, truth)])
    return float(max(same, swapped))


def test_speaker_revised_on_every_utterance_of_a_long_call(model, call_turns, tmp_path):
    """A call of more utterances than the speaker clustering keeps (its ``history``, 200):
    every record has ``speaker_revised`` (the older ones: their speaker at the last
    re-clustering that held them), and it names the right voice at least as often as the
    label at the moment. It used to be empty for all but about one record past the 200th
    utterance, and misplaced by one utterance per utterance past it (turns alternate, so a
    shifted label is the other voice)."""
    y, spans = _call(call_turns, rounds=14)  # 224 utterances, about 10 min
    path = tmp_path / "long call.wav"
    sf.write(path, y, SAMPLE_RATE_HZ, subtype="PCM_16")
    results = list(Predictor(model, speakers=2).iter_file_segments(path, keep_audio=False))
    assert len(results) > 200
    truth = [_truth(spans, r.utterance.start_s, r.utterance.end_s) for r in results]
    revised = [r.speaker_revised for r in results]
    assert all(s is not None for s in revised), f"{sum(s is None for s in revised)} of {len(revised)} empty"
    moment = _agreement([r.speaker for r in results], truth)
    assert _agreement(revised, truth) >= max(moment - 0.02, 0.9), (moment, _agreement(revised, truth))
    tail = slice(len(results) - 100, None)  # the utterances the last re-clustering holds
    assert _agreement(revised[tail], truth[tail]) >= 0.9


def _warnings(caplog, run) -> list[str]:
    """The warnings ``run()`` logs."""
    caplog.clear()
    with caplog.at_level("WARNING", logger="ser_live"):
        run()
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


def test_a_stereo_call_is_said_to_be_mixed_down(model, call_turns, tmp_path, caplog):
    """A two-channel call (agent left, caller right, as call recorders write them) is
    averaged into one line: whole and with ``--segments`` it is classified, and a warning
    says the channels were mixed and how to score each side alone. It used to be mixed
    without a word. A mono file gets no such warning."""
    y, spans = _call(call_turns, rounds=1)
    left = np.zeros_like(y)
    right = np.zeros_like(y)
    for a, b, who in spans:
        i, j = int(a * SAMPLE_RATE_HZ), int(b * SAMPLE_RATE_HZ)
        (left if who == "A" else right)[i:j] = y[i:j]
    stereo, mono = tmp_path / "agent+caller.wav", tmp_path / "mono.wav"
    sf.write(stereo, np.stack([left, right], axis=1), SAMPLE_RATE_HZ, subtype="PCM_16")
    sf.write(mono, y, SAMPLE_RATE_HZ, subtype="PCM_16")
    pred = Predictor(model)
    for run in (lambda: pred.process_file(stereo), lambda: pred.process_file(stereo, segments=True)):
        warned = _warnings(caplog, run)
        said = [m for m in warned if "2 channels" in m]
        assert len(said) == 1, warned
        assert "averaged" in said[0] and "--channel 1" in said[0], said[0]
    assert not any("channels" in m for m in _warnings(caplog, lambda: pred.process_file(mono, segments=True)))


def test_a_clipped_call_is_warned_of_with_segments(model, call_turns, tmp_path, caplog):
    """``predict --segments`` warns of a clipped recording as a whole-file prediction does
    (README: "predict warns of audio ... clipped"), once per file; it used to say nothing.
    The same call at its own level gets no warning."""
    y, _ = _call(call_turns, rounds=1)
    loud, clean = tmp_path / "hot mic.wav", tmp_path / "clean.wav"
    sf.write(loud, np.clip(20 * y, -1, 1), SAMPLE_RATE_HZ, subtype="PCM_16")
    sf.write(clean, y, SAMPLE_RATE_HZ, subtype="PCM_16")
    pred = Predictor(model)
    warned = _warnings(caplog, lambda: list(pred.iter_file_segments(loud, keep_audio=False)))
    assert [m for m in warned if "clipped (" in m and "hot mic.wav" in m and "utterances" in m], warned
    assert len([m for m in warned if "clipped" in m]) == 1, warned
    assert not _warnings(caplog, lambda: list(pred.iter_file_segments(clean, keep_audio=False)))


def _sessions_run(pred: Predictor, path: Path) -> tuple[list, int, list[str]]:
    """``process_files([path], segments=True, sessions=...)``: the results, the peak of
    traced memory (bytes) and the warnings."""
    import logging
    import tracemalloc

    warned: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: warned.append(record.getMessage())
    logging.getLogger("ser_live").addHandler(handler)
    tracemalloc.start()
    try:
        (_, results), = pred.process_files([path], segments=True, sessions={path: "call 1"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        logging.getLogger("ser_live").removeHandler(handler)
    return results, peak, warned


def test_sessions_of_long_calls_hold_features_not_audio(model, call_turns, tmp_path):
    """``predict --segments --sessions``: the first pass keeps each utterance's features,
    not the decoded file nor its utterances' audio (an hour-long call: 282 MB of peak RSS
    before, 181 MB after, 60 MB without --sessions, which needs no second pass). Measured
    with tracemalloc (numpy reports its buffers to it): from a one-round call to a
    seven-round one (about 5 min, stereo) the peak grew by 1.8 times the added audio as mono
    int16 before (the whole decode, twice, and every utterance's samples), 0.85 times now
    (the features and pass 2's copies of them). The segments and probabilities are those of
    the whole decoded file, and the file's warnings (here: stereo) are given as without
    --sessions, where they were not before."""
    pred = Predictor(model)
    peaks, pcm = [], []
    for rounds in (1, 1, 7):  # the first run allocates the extractor's scratch buffers
        y, _ = _call(call_turns, rounds=rounds)
        path = tmp_path / f"call {rounds}.wav"
        sf.write(path, np.stack([y, y], axis=1), SAMPLE_RATE_HZ, subtype="PCM_16")
        results, peak, warned = _sessions_run(pred, path)
        peaks.append(peak)
        pcm.append(2 * len(y))
        assert len(results) == 16 * rounds
        assert any("2 channels" in m for m in warned), warned
    grew, added = peaks[2] - peaks[1], pcm[2] - pcm[1]
    assert grew < 1.2 * added, f"peak grew {grew / 1e6:.1f} MB for {added / 1e6:.1f} MB more audio"
    utts = segment_signal(decode_audio(path), config=pred.vad_config, sample_rate_hz=SAMPLE_RATE_HZ)
    assert [(r.utterance.start_sample, r.utterance.end_sample) for r in results] == \
        [(u.start_sample, u.end_sample) for u in utts]
    X = np.array([model.extractor.extract(u.samples) for u in utts])
    want = model.predict_proba(X, groups=np.array(["call 1"] * len(utts)))
    got = np.array([[r.prediction.probabilities[lab] for lab in model.labels] for r in results])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)  # records round to 4 decimals


def test_an_existing_output_is_refused_without_overwrite(call_turns, tmp_path, capsys):
    """``predict --output`` over an existing file (last week's batch) is refused (exit 2)
    before anything is scored, as with ``--dask``, and the file stays as it was;
    ``--overwrite`` replaces it. It used to be replaced without a word."""
    from ser_live.cli import main

    y, _ = _call(call_turns, rounds=1)
    wav = tmp_path / "call.wav"
    sf.write(wav, y, SAMPLE_RATE_HZ, subtype="PCM_16")
    names = ("scores.csv", "scores.jsonl", "scores.parquet")
    if importlib.util.find_spec("pyarrow") is None:  # Parquet needs the dask extra
        names = names[:2]
    for name in names:
        out = tmp_path / name
        out.write_bytes(b"last week's records\n")
        argv = ["predict", str(wav), "--segments", "--output", str(out)]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert out.read_bytes() == b"last week's records\n"
        assert f"{out} exists" in err and "--overwrite" in err and "Traceback" not in err, err
        assert main([*argv, "--overwrite"]) == 0, capsys.readouterr().err
        assert out.read_bytes() != b"last week's records\n"


def test_speakers_with_sessions_is_a_usage_error(call_turns, tmp_path, capsys):
    """``--speakers 2`` with ``--sessions``: exit 2 and why, before anything is classified,
    as ``--speakers`` without ``--segments`` is; it used to drop the speaker columns without
    a word (the sessions decide the normalisation, and no speaker was attributed)."""
    from ser_live.cli import main

    y, _ = _call(call_turns, rounds=1)
    wav = tmp_path / "call 1.wav"
    sf.write(wav, y, SAMPLE_RATE_HZ, subtype="PCM_16")
    sessions = tmp_path / "calls.csv"
    sessions.write_text("path,session\ncall 1.wav,c1\n")
    out = tmp_path / "scores.csv"
    rc = main(["predict", str(wav), "--segments", "--speakers", "2", "--sessions", str(sessions), "--output", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "--speakers 2" in err and "--sessions" in err and not out.exists(), err


def test_a_full_disk_names_the_output(call_turns, tmp_path, capsys, monkeypatch):
    """A write to ``--output`` that fails (the disk full, simulated at the writer: the
    audio is real) ends the run with exit 1 and a message naming the output file and what to
    do; it used to say only "No space left on device" (which file? the audio? the output?)."""
    import errno

    from ser_live.cli import main
    from ser_live.records import RecordWriter

    y, _ = _call(call_turns, rounds=1)
    wav = tmp_path / "call.wav"
    sf.write(wav, y, SAMPLE_RATE_HZ, subtype="PCM_16")

    def full(self, records):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(RecordWriter, "_write", full)  # the file's write, under write()
    out = tmp_path / "scores.csv"
    assert main(["predict", str(wav), "--segments", "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{out}: No space left on device (the disk is full" in err and "Traceback" not in err, err


def _calls(call_turns, folder: Path, n: int) -> list[Path]:
    """``n`` one-round calls (the same turns, each from another utterance on) as WAV files."""
    clips, who = call_turns
    paths = []
    for k in range(n):
        turns = (clips[k:] + clips[:k], who[k:] + who[:k])
        y, _ = _call(turns, rounds=1)
        paths.append(folder / f"call {k} é.wav")
        sf.write(paths[-1], y, SAMPLE_RATE_HZ, subtype="PCM_16")
    return paths


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_resume_after_ctrl_c_inside_a_call_gives_the_records_of_one_run(call_turns, tmp_path, capsys, monkeypatch,
                                                                        suffix):
    """``predict --segments --speakers 2 --output F``, stopped (Ctrl-C) inside the second of
    three calls, then the same command with ``--resume``: F holds exactly the records of an
    uninterrupted run, in order (the cut call is read again from its start, as its session
    and speakers need, and only its utterances not yet written are added). stderr names the
    cut call and says to finish with --resume. ``--resume`` needed ``--dask`` before, which
    refuses ``--segments``: a cut run could only be started again."""
    pd = pytest.importorskip("pandas", reason="reading the records back needs pandas (the dask extra)")
    if suffix == ".parquet":
        pytest.importorskip("pyarrow", reason="Parquet needs pyarrow (the dask extra)")

    from ser_live.cli import main

    calls = _calls(call_turns, tmp_path, 3)
    whole, out = tmp_path / f"whole{suffix}", tmp_path / f"scores{suffix}"
    argv = ["predict", *map(str, calls), "--segments", "--speakers", "2", "--output"]
    assert main([*argv, str(whole)]) == 0
    capsys.readouterr()
    real, n = Predictor._classify, []

    def classify(self, *a, **kw):
        n.append(1)
        if len(n) == 16 + 5:  # the fifth utterance of the second call
            raise KeyboardInterrupt
        return real(self, *a, **kw)

    monkeypatch.setattr(Predictor, "_classify", classify)
    assert main([*argv, str(out)]) == 130
    err = capsys.readouterr().err
    assert f"{calls[1]} was cut at " in err and "--resume" in err, err
    monkeypatch.setattr(Predictor, "_classify", real)
    assert main([*argv, str(out), "--resume"]) == 0, capsys.readouterr().err
    read = {".csv": pd.read_csv, ".parquet": pd.read_parquet,
            ".jsonl": lambda p: pd.read_json(p, lines=True)}[suffix]
    pd.testing.assert_frame_equal(read(out), read(whole))
    # resuming a finished run adds nothing
    assert main([*argv, str(out), "--resume"]) == 0
    pd.testing.assert_frame_equal(read(out), read(whole))


def test_resume_whole_files_skips_those_done_however_spelt(call_turns, tmp_path, capsys, monkeypatch):
    """Whole files: ``--resume`` scores only the inputs not yet in ``--output`` (paths
    compared resolved, as with --dask), failed ones included as done; ``--resume`` with
    ``--sessions`` is a usage error (a session is normalised with all of its files)."""
    pd = pytest.importorskip("pandas", reason="reading the records back needs pandas (the dask extra)")

    from ser_live.cli import main

    calls = _calls(call_turns, tmp_path, 3)
    bad = tmp_path / "empty.wav"
    bad.write_bytes(b"")
    out = tmp_path / "scores.csv"
    assert main(["predict", str(calls[0]), str(bad), "--output", str(out)]) == 3
    monkeypatch.chdir(tmp_path)
    assert main(["predict", ".", "--output", str(out), "--resume"]) == 0, capsys.readouterr().err
    got = pd.read_csv(out)
    assert [Path(p).resolve() for p in got.path] == [calls[0], bad, *sorted(calls[1:])]
    sessions = tmp_path / "s.csv"
    sessions.write_text("path,session\n" + "".join(f"{p.name},a\n" for p in calls))
    capsys.readouterr()
    assert main(["predict", *map(str, calls), "--sessions", str(sessions), "--output", str(out), "--resume"]) == 2
    assert "--sessions" in capsys.readouterr().err


@pytest.mark.parametrize("subtype", ["VORBIS"])  # Opus conceals a lost packet: times kept
def test_a_call_with_damaged_data_inside_says_its_times_shift(model, call_turns, tmp_path, caplog, subtype):
    """An Ogg call with 2 kB of damaged data in its middle: the decoder skips what it cannot
    read, so every utterance after the damage is stamped earlier than it is in the call. The
    warning says that (samples missing inside the file, times after the damage early by up
    to the missing length), where it used to call the file "truncated" ("classifying what is
    there"), as if only its end were missing. A WAV cut short keeps the "truncated" warning."""
    y, _ = _call(call_turns, rounds=1)
    ogg = tmp_path / f"call {subtype}.ogg"
    sf.write(ogg, y, SAMPLE_RATE_HZ, format="OGG", subtype=subtype)
    data = bytearray(ogg.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 2000):
        data[i] ^= 0x5A
    ogg.write_bytes(bytes(data))
    pred = Predictor(model)
    warned = _warnings(caplog, lambda: list(pred.iter_file_segments(ogg, keep_audio=False)))
    said = [m for m in warned if str(ogg) in m]
    assert len(said) == 1 and "could not be decoded" in said[0] and "early" in said[0], warned
    assert "truncated" not in said[0]
    wav = tmp_path / "cut.wav"
    sf.write(wav, y, SAMPLE_RATE_HZ, subtype="PCM_16")
    wav.write_bytes(wav.read_bytes()[: len(wav.read_bytes()) // 2])
    warned = _warnings(caplog, lambda: list(pred.iter_file_segments(wav, keep_audio=False)))
    assert any("truncated" in m for m in warned), warned


def test_ctrl_c_with_sessions_does_not_suggest_resume(call_turns, tmp_path, capsys, monkeypatch):
    """Stopped during ``--sessions``' first pass: exit 130, and stderr does not suggest
    ``--resume``, which ``--sessions`` refuses (a session is normalised with all of its
    files), but to run it again."""
    from ser_live.cli import main

    calls = _calls(call_turns, tmp_path, 2)
    sessions = tmp_path / "s.csv"
    sessions.write_text("path,session\n" + "".join(f"{p.name},a\n" for p in calls))

    def stop(self, path, *, segments):
        raise KeyboardInterrupt

    monkeypatch.setattr(Predictor, "_file_utterances", stop)
    out = tmp_path / "scores.csv"
    assert main(["predict", *map(str, calls), "--segments", "--sessions", str(sessions), "--output", str(out)]) == 130
    err = capsys.readouterr().err
    assert "--resume" not in err and "again" in err, err


def test_parquet_of_many_files_is_not_one_row_group_per_file(ravdess_root, tmp_path):
    """``predict FOLDER --output x.parquet`` (no --dask) writes its records in row groups of
    many files, not one row group per file: a row group costs about 2 kB of file and 20 kB
    of the writer's memory until the end, so 1000 files took a 2.2 MB Parquet file (105 kB
    as CSV) and 162 MB of peak RSS (62 MB writing CSV), growing with every file."""
    pq = pytest.importorskip("pyarrow.parquet", reason="Parquet needs pyarrow (the dask extra)")

    from ser_live.cli import main

    files = sorted((ravdess_root / "Actor_01").glob("*.flac"))[:12]
    out = tmp_path / "scores.parquet"
    assert main(["predict", *map(str, files), "--output", str(out)]) == 0
    meta = pq.ParquetFile(out).metadata
    assert meta.num_rows == len(files) and meta.num_row_groups == 1, meta
    assert [str(p) for p in pq.read_table(out).column("path").to_pylist()] == [str(f) for f in files]


def test_channel_scores_one_side_of_a_stereo_call(call_turns, tmp_path, capsys):
    """``predict --segments --channel N``: one channel of a stereo call (agent left, caller
    right) is scored alone, with no mixing warning: channel 1 gives the agent's utterances,
    at their times in the call, channel 2 the caller's. A channel the file does not have is
    an error record (exit 3) that says how many it has. The option did not exist: a stereo
    call could only be scored mixed (or split with sox first)."""
    pd = pytest.importorskip("pandas", reason="reading the records back needs pandas (the dask extra)")

    from ser_live.cli import main

    y, spans = _call(call_turns, rounds=1)
    left, right = np.zeros_like(y), np.zeros_like(y)
    for a, b, who in spans:
        i, j = int(a * SAMPLE_RATE_HZ), int(b * SAMPLE_RATE_HZ)
        (left if who == "A" else right)[i:j] = y[i:j]
    stereo = tmp_path / "agent+caller.wav"
    sf.write(stereo, np.stack([left, right], axis=1), SAMPLE_RATE_HZ, subtype="PCM_16")
    for channel, who in ((1, "A"), (2, "B")):
        out = tmp_path / f"channel {channel}.csv"
        assert main(["predict", str(stereo), "--segments", "--channel", str(channel), "--output", str(out)]) == 0
        assert "channels" not in capsys.readouterr().err
        got = pd.read_csv(out)
        mine = [(a, b) for a, b, w in spans if w == who]
        assert len(got) == len(mine)
        assert all(_truth(spans, s, e) == who for s, e in zip(got.start_s, got.end_s))
        assert np.allclose(got.start_s, [a for a, _ in mine], atol=0.4)
    out = tmp_path / "channel 3.csv"
    assert main(["predict", str(stereo), "--segments", "--channel", "3", "--output", str(out)]) == 3
    assert "2 channels" in pd.read_csv(out).error[0]


def test_a_call_that_fails_to_decode_midway_keeps_the_utterances_before(call_turns, tmp_path, capsys):
    """``--segments`` on a FLAC call damaged in its middle (the decoder loses sync there):
    the utterances classified before the failure are kept as records, followed by the
    file's error record (exit 3, as for any unusable file). They used to be dropped: one
    error record for the whole call, whatever had been classified (for an hour-long call
    damaged near its end, nearly an hour of results)."""
    pd = pytest.importorskip("pandas", reason="reading the records back needs pandas (the dask extra)")

    from ser_live.cli import main

    y, spans = _call(call_turns, rounds=1)
    flac = tmp_path / "call.flac"
    sf.write(flac, y, SAMPLE_RATE_HZ, subtype="PCM_16")
    data = bytearray(flac.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 3000):
        data[i] ^= 0x5A
    flac.write_bytes(bytes(data))
    out = tmp_path / "scores.csv"
    assert main(["predict", str(flac), "--segments", "--speakers", "2", "--output", str(out)]) == 3
    err = capsys.readouterr().err
    got = pd.read_csv(out)
    assert got.error.iloc[-1].startswith(f"{flac}: decoding failed at ") and got.error.iloc[:-1].isna().all()
    kept = got.iloc[:-1]
    assert len(kept) >= 5 and kept.label.notna().all() and kept.speaker_revised.notna().all(), got
    assert f"{len(kept)} utterances before it" in err, err


def test_help_names_every_key_and_column_of_the_records_with_speakers(call_turns, tmp_path, capsys):
    """``predict --help`` lists the records' keys and CSV columns; with ``--segments
    --speakers 2`` the records carry ``speaker`` and ``speaker_revised``, which it did not
    name. Every key of a JSON record and every CSV column of such a run is now in it."""
    import csv
    import json
    import re

    from ser_live.cli import main

    y, _ = _call(call_turns, rounds=1)
    wav = tmp_path / "call.wav"
    sf.write(wav, y, SAMPLE_RATE_HZ, subtype="PCM_16")
    assert main(["predict", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # rewrapped by the terminal's width
    argv = ["predict", str(wav), "--segments", "--speakers", "2"]
    assert main([*argv, "--output", str(tmp_path / "r.jsonl")]) == 0, capsys.readouterr().err
    assert main([*argv, "--output", str(tmp_path / "r.csv")]) == 0, capsys.readouterr().err
    records = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    keys = {k for r in records for k in r}
    assert {"speaker", "speaker_revised"} <= keys
    listed = set(re.findall(r'"([a-z_]+)"', text))
    assert keys <= listed, sorted(keys - listed)
    with open(tmp_path / "r.csv", newline="") as f:
        columns = next(csv.reader(f))
    csv_part = text[text.index("csv/parquet columns"):]
    named = {c for c in columns if re.search(rf"\b{re.escape(c)}\b", csv_part)}
    named |= {c for c in columns if c.startswith("prob_") and "prob_<label>" in csv_part}
    assert set(columns) == named, sorted(set(columns) - named)

"""Offline prediction (:class:`ser_live.offline.Predictor`) and the one file decoder.

On RAVDESS originals (48 kHz, 16-bit, ``samples/ravdess-48k``) whole-file prediction,
``--segments``, a replay and training extraction (``load_audio``) all see the same samples;
16 kHz corpus files decode to exactly their samples (so cached features and the shipped
model stay valid).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_live.audio import FileSource
from ser_live.audiofile import decode_audio, load_audio, to_float32, write_wav
from ser_live.cli import main
from ser_live.errors import AudioFileError, NoSpeechError
from ser_live.offline import Predictor
from ser_live.ringbuffer import RingBuffer
from ser_live.vad import speech_span

from .test_pipeline import model, test_model_path  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def originals(data_root: Path) -> list[Path]:
    d = data_root / "samples" / "ravdess-48k"
    files = sorted(d.glob("*.wav"))
    if not files:
        pytest.skip(f"no RAVDESS originals in {d}")
    assert sf.info(str(files[0])).samplerate == 48000
    return files


def test_whole_file_and_segments_see_the_same_samples_at_48k(originals, model, test_model_path, capsys):
    from dataclasses import replace

    from ser_live.vad import VadConfig

    # A whole file is trimmed as training files are (speech_span: no VAD input gain); segments
    # are cut as live cuts them, and the VAD gain can move a quiet file's boundaries by a frame
    # (issue 20). With the gain off the two verbs agree exactly on a one-utterance file.
    no_gain = replace(VadConfig(), max_vad_gain_db=0.0)
    p, p_live = Predictor(model, vad_config=no_gain), Predictor(model)
    frame = VadConfig().frame_ms * 16  # samples at 16 kHz
    n_single = n_single_live = 0
    for f in originals:
        x = decode_audio(f)
        np.testing.assert_array_equal(load_audio(f), to_float32(x))  # training reads these too
        s, e = speech_span(x)
        whole = p.process_file(f)
        assert whole == model.predict_signal(x[s:e]) == p_live.process_file(f)
        segs = p.process_file(f, segments=True)
        for r in segs:
            np.testing.assert_array_equal(r.utterance.samples, x[r.utterance.start_sample : r.utterance.end_sample])
        if len(segs) == 1 and not segs[0].utterance.cut_at_max:
            # One utterance: the segment IS the trimmed file, so the two verbs agree exactly.
            assert (segs[0].utterance.start_sample, segs[0].utterance.end_sample) == (s, e)
            assert segs[0].prediction == whole
            n_single += 1
        live = p_live.process_file(f, segments=True)
        for r in live:
            np.testing.assert_array_equal(r.utterance.samples, x[r.utterance.start_sample : r.utterance.end_sample])
        if len(live) == 1 and not live[0].utterance.cut_at_max:
            u = live[0].utterance
            assert abs(u.start_sample - s) <= 2 * frame and abs(u.end_sample - e) <= 2 * frame, (f.name, u, s, e)
            n_single_live += 1
    assert n_single >= 4 and n_single_live >= 4
    # The same through the command line.
    f = originals[0]
    assert main(["predict", str(f), "--model", str(test_model_path)]) == 0
    whole_line = capsys.readouterr().out
    assert main(["predict", str(f), "--segments", "--max-vad-gain-db", "0", "--model", str(test_model_path)]) == 0
    seg_lines = capsys.readouterr().out.splitlines()
    import json

    w, segs = json.loads(whole_line), [json.loads(line) for line in seg_lines]
    if len(segs) == 1:
        assert segs[0]["probabilities"] == w["probabilities"]


def test_a_replay_writes_exactly_the_decoded_samples(originals):
    f = originals[1]
    ring = RingBuffer(16000 * 30)
    src = FileSource(f, speed=0)
    src.start(ring)
    assert src.join(30)
    got = ring.read_available()[1]
    np.testing.assert_array_equal(got, decode_audio(f))


def test_16khz_corpus_files_decode_to_exactly_their_samples(ravdess_root, emodb_root):
    files = sorted(ravdess_root.glob("Actor_0[1-3]/*.flac"))[:20] + sorted(emodb_root.glob("wav/*.flac"))[:10]
    for f in files:
        ref, sr = sf.read(str(f), dtype="float32")
        assert sr == 16000 and ref.ndim == 1
        np.testing.assert_array_equal(load_audio(f), ref)
        np.testing.assert_array_equal(decode_audio(f), sf.read(str(f), dtype="int16")[0])


def test_process_signal_and_file_agree_and_refuse_what_they_cannot_take(ravdess_root, model, tmp_path):
    f = ravdess_root / "Actor_05" / "03-01-05-02-01-01-05.flac"
    y = load_audio(f)
    p = Predictor(model)
    assert p.process_signal(y) == p.process_file(f) == p.process_signal(decode_audio(f))
    assert [r.prediction for r in p.process_signal(y, segments=True)] == [
        r.prediction for r in p.process_file(f, segments=True)]
    with pytest.raises(NoSpeechError):
        p.process_signal(np.zeros(16000, np.float32))
    with pytest.raises(ValueError, match="segments=True"):
        Predictor(model, max_duration_s=1.0).process_signal(y)
    with pytest.raises(AudioFileError, match="--segments"):
        Predictor(model, max_duration_s=1.0).process_file(f)
    assert p.process_signal(np.zeros(16000, np.int16), segments=True) == []


def test_process_files_yields_in_order_and_returns_or_raises_errors(ravdess_root, model, tmp_path):
    good = ravdess_root / "Actor_06" / "03-01-04-02-02-01-06.flac"
    silent = write_wav(tmp_path / "silent.wav", np.zeros(16000, np.int16))
    missing = tmp_path / "missing.wav"
    p = Predictor(model)
    out = list(p.process_files([good, silent, missing, good], errors="return"))
    assert [path for path, _ in out] == [str(good), str(silent), str(missing), str(good)]
    assert out[0][1] == out[3][1] == p.process_file(good)
    assert isinstance(out[1][1], NoSpeechError) and isinstance(out[2][1], AudioFileError)
    segs = list(p.process_files([good], segments=True))
    assert [r.prediction for r in segs[0][1]] == [r.prediction for r in p.process_file(good, segments=True)]
    with pytest.raises(NoSpeechError):
        list(p.process_files([good, silent]))
    with pytest.raises(ValueError):
        list(p.process_files([good], errors="ignore"))


def test_ctrl_c_inside_a_long_file_keeps_its_classified_utterances(data_root, model, test_model_path, tmp_path,
                                                                      monkeypatch, capsys):
    """`predict --segments` on one long file, interrupted at its fourth utterance: the three
    classified before go with the interrupt (``partial_results``) and into ``--output``, the
    exit status is 130 and stderr counts them (they were all lost before)."""
    parts = []
    for f in sorted((data_root / "emodb" / "wav").glob("*.flac"))[:8]:
        parts += [load_audio(f), np.zeros(16000, np.float32)]
    long = write_wav(tmp_path / "long.wav", np.concatenate(parts))
    real = Predictor._classify
    calls = []

    def classify(self, *a, **kw):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(self, *a, **kw)

    monkeypatch.setattr(Predictor, "_classify", classify)
    with pytest.raises(KeyboardInterrupt) as info:
        list(Predictor(model).process_files([long], segments=True, errors="return"))
    path, done = info.value.partial_results
    assert path == str(long) and len(done) == 3 and all(r.label for r in done)
    calls.clear()
    out = tmp_path / "out.jsonl"
    rc = main(["predict", str(long), "--segments", "--output", str(out), "--model", str(test_model_path)])
    err = capsys.readouterr().err
    assert rc == 130, err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["start_s"] for r in records] == [r.utterance.start_s for r in done]
    assert f"3 records written to {out}" in err, err
    # again over that output (--overwrite): it stays as it was, this run's records go beside it
    before, calls[:] = out.read_bytes(), []
    rc = main(["predict", str(long), "--segments", "--output", str(out), "--model", str(test_model_path),
               "--overwrite"])
    err = capsys.readouterr().err
    partial = tmp_path / "out.partial.jsonl"
    assert rc == 130 and out.read_bytes() == before and partial.read_bytes() == before, err
    assert f"3 records written to {partial}; the rest was not classified; {out} from before is as it was" in err


def test_an_output_that_is_a_folder_is_refused_before_scoring(data_root, test_model_path, tmp_path, capsys):
    """`--output x.csv` where x.csv is a folder: exit 1 at once, the message names it and says
    what to do (it used to score everything, print "done", then fail renaming)."""
    folder = tmp_path / "x.csv"
    folder.mkdir()
    f = sorted((data_root / "emodb" / "wav").glob("*.flac"))[0]
    rc = main(["predict", str(f), "--output", str(folder), "--model", str(test_model_path)])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert f"{folder}: Is a directory (that path is a folder: give a file name)" in err, err
    assert "done:" not in err and list(folder.iterdir()) == []


def test_predict_warns_of_narrowband_and_clipped_files_and_names_a_too_short_one(data_root, model, tmp_path,
                                                                                  caplog):
    """An 8 kHz copy of a corpus file and a clipped one are classified with a warning that
    says why the prediction may be off; the original gets none; a 0.4 s cut of loud speech
    is "too short", not "silent or noise-only"."""
    import soxr

    src = sorted((data_root / "emodb" / "wav").glob("*.flac"))[0]
    y = load_audio(src)
    nb = tmp_path / "phone.wav"
    sf.write(nb, soxr.resample(y, 16000, 8000), 8000)
    clipped = write_wav(tmp_path / "clipped.wav", np.clip(20 * y, -1, 1))
    pred = Predictor(model)
    for path, want in ((src, None), (nb, "recorded at 8000 Hz"), (clipped, "clipped (")):
        caplog.clear()
        with caplog.at_level("WARNING", logger="ser_live.offline"):
            assert pred.process_file(path).label
            assert pred.process_file(path, segments=True)
        warned = [r.getMessage() for r in caplog.records]
        if want is None:
            assert warned == [], warned
        else:
            assert any(want in m for m in warned), warned
    short = write_wav(tmp_path / "short.wav", y[8000:8000 + 6400])
    with pytest.raises(NoSpeechError, match=r"too short \(0\.40 s of audio; an utterance needs at least 0\.5 s"):
        pred.process_file(short)


def test_predict_reads_a_narrowband_files_header_once_and_only_predict_warns(emodb_root, model, tmp_path, caplog,
                                                                             monkeypatch):
    """The 16 kHz check of `predict` and the decoder share one header read (``sf.info``),
    whole file or segments; training extraction (``load_audio``) and a replay stay silent."""
    import soxr

    import ser_live.audiofile as audiofile

    y = load_audio(sorted((emodb_root / "wav").glob("*.flac"))[0])
    nb = tmp_path / "phone.wav"
    sf.write(nb, soxr.resample(y, 16000, 8000), 8000)
    reads = []
    info = audiofile.sf.info
    monkeypatch.setattr(audiofile.sf, "info", lambda *a, **kw: reads.append(a) or info(*a, **kw))
    pred = Predictor(model)
    for segments in (False, True):
        reads.clear()
        caplog.clear()
        with caplog.at_level("WARNING"):
            assert pred.process_file(nb, segments=segments)
        assert len(reads) == 1, reads
        assert ["recorded at 8000 Hz" in r.getMessage() for r in caplog.records] == [True]
    caplog.clear()
    with caplog.at_level("WARNING"):
        load_audio(nb)
        src, ring = FileSource(nb, speed=0), RingBuffer(16000, sample_rate_hz=16000)
        src.start(ring)
        while ring.read(1600, timeout_s=10) is not None:
            pass
        assert src.join(10)
    assert caplog.records == []

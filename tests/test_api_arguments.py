"""The first mistakes of a script: a file's path where a source goes, a model's name where
a loaded model goes. Each is a TypeError at the call that made it, saying what to pass;
before, they were AttributeErrors ("'str' object has no attribute 'start'") at start() or at
the first prediction. Real RAVDESS speech for the right calls."""

from __future__ import annotations

import re

import pytest

from ser_live import FileSource, Predictor, Recognizer

from .test_pipeline import model, session, test_model_path  # noqa: F401 (fixtures)

CLIP = "Actor_05/03-01-05-02-01-01-05.flac"


def test_a_path_or_a_name_in_place_of_a_source_or_model_says_what_to_pass(ravdess_root, model):  # noqa: F811
    clip = ravdess_root / CLIP
    remedy = re.escape(f"FileSource({str(clip)!r})")
    with pytest.raises(TypeError, match=rf"FileSource, MicrophoneSource or PushSource.*{remedy}"):
        Recognizer(str(clip), model)
    with pytest.raises(TypeError, match=r"FileSource\("):
        Recognizer(clip, model)
    with pytest.raises(TypeError, match=r"start, stop and join"):
        Recognizer(object(), model)
    for bad, call in (("default", "EmotionModel.load('default')"), (clip.with_suffix(".skops"), "EmotionModel.load("),
                      (None, "EmotionModel.load()")):
        with pytest.raises(TypeError, match=rf"Recognizer takes a loaded model.*{re.escape(call)}"):
            Recognizer(FileSource(clip, speed=0), bad)
        with pytest.raises(TypeError, match=r"Predictor takes a loaded model"):
            Predictor(bad)
    # the calls they point to
    with Recognizer(FileSource(clip, speed=0), model) as rec:
        assert len(list(rec)) == 1
    assert Predictor(model).process_file(clip).label in model.labels


def test_a_predictor_refuses_a_bad_half_life_or_duration_when_made(ravdess_root, model):  # noqa: F811
    """``Predictor(half_life_s=0)`` is a ValueError at the call, as ``Recognizer`` refuses its
    ``rolling_half_life_s``; before, it was accepted and raised from inside the first file cut
    into segments, far from the mistake. A positive value still classifies the RAVDESS clip."""
    for kwargs in ({"half_life_s": 0}, {"half_life_s": -5.0}, {"half_life_s": float("nan")},
                   {"max_duration_s": 0}, {"max_duration_s": float("inf")}):
        with pytest.raises(ValueError, match=rf"{next(iter(kwargs))} must be a positive number of seconds"):
            Predictor(model, **kwargs)
    for bad in (0, float("nan")):  # the error names the argument as the caller named it
        with pytest.raises(ValueError, match="rolling_half_life_s must be a positive number of seconds"):
            Recognizer(FileSource(ravdess_root / CLIP, speed=0), model, rolling_half_life_s=bad)
    for half_life_s in (5.0, float("inf")):  # infinite: no decay, an average over the session
        results = Predictor(model, half_life_s=half_life_s).process_file(ravdess_root / CLIP, segments=True)
        assert results and all(r.label in model.labels for r in results)


def test_process_files_given_one_path_says_to_pass_a_list(ravdess_root, model):  # noqa: F811
    """``Predictor.process_files("call.wav")`` iterated the string: one "no such file"
    error per character ('l', 'i', 'n', ...), or with ``sessions`` "9 input file(s) have
    no session". It is now a TypeError at the call, naming the two right calls, which work."""
    clip = ravdess_root / CLIP
    pred = Predictor(model)
    for one in (str(clip), clip, str(clip).encode()):
        with pytest.raises(TypeError, match=r"process_files takes a list of paths.*process_file\("):
            pred.process_files(one, errors="return")
    with pytest.raises(TypeError, match=r"process_files takes a list of paths"):
        pred.process_files(str(clip), sessions={str(clip): "s1"})
    [(path, got)] = list(pred.process_files([str(clip)]))
    assert path == str(clip) and got.label == pred.process_file(clip).label


def test_a_predictor_refuses_a_channel_that_is_not_an_index_when_made(ravdess_root, model, tmp_path):  # noqa: F811
    """``Predictor(channel=-1)`` was accepted and failed at every file with "has 2 channels,
    no channel 0"; ``channel=1.5``, ``"1"`` and ``True`` were taken as channel 1 (1.5 rounded
    down). Each is now a ValueError at the call. Real channels still pick their side of a
    stereo file: the RAVDESS clip on the left, silence on the right."""
    import numpy as np
    import soundfile as sf

    from ser_live.errors import NoSpeechError

    y, rate = sf.read(ravdess_root / CLIP, dtype="float32")
    stereo = tmp_path / "two sides.wav"
    sf.write(stereo, np.stack([y, np.zeros_like(y)], axis=1), rate, subtype="PCM_16")
    for bad in (-1, 1.5, "1", True, np.bool_(True)):
        with pytest.raises(ValueError, match=r"channel must be None .* counted from 0"):
            Predictor(model, channel=bad)
    left = Predictor(model, channel=np.int64(0)).process_file(stereo)
    assert left.label == Predictor(model).process_file(ravdess_root / CLIP).label
    with pytest.raises(NoSpeechError):
        Predictor(model, channel=1).process_file(stereo)


def test_a_recognizer_refuses_a_max_duration_that_is_not_a_positive_number_when_made(session, model):  # noqa: F811
    """Before, max_duration_s=NaN, inf or "10" raised in the segmenter thread before it
    could end the run: the worker waited for ever, iteration never ended, stop() waited out
    its timeout and left the worker running, rec.error None; 0 and -1 gave no result without
    a word. Now a ValueError when the Recognizer is made; inf is no limit."""
    import threading

    path, _, _ = session
    for bad in (float("nan"), "10", 0, -1.0, True):
        with pytest.raises(ValueError, match="max_duration_s must be a positive number"):
            Recognizer(FileSource(path, speed=0), model, max_duration_s=bad)
    with Recognizer(FileSource(path, speed=0), model) as rec:
        whole = [(r.utterance.start_sample, r.prediction) for r in rec]
    got: list = []
    with Recognizer(FileSource(path, speed=0), model, max_duration_s=float("inf")) as rec:
        t = threading.Thread(target=lambda: got.extend((r.utterance.start_sample, r.prediction) for r in rec),
                             daemon=True)
        t.start()
        t.join(120)
        assert not t.is_alive()
    assert got == whole and len(whole) == 4 and rec.error is None and not rec.reached_max_duration

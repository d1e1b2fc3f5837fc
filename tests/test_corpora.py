"""Corpus readers: counts and labels on the real corpora, every failure reported with a reason."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_live.errors import SerLiveError
from train.corpora import (
    CANONICAL_LABELS,
    CorpusNotFoundError,
    Record,
    canonical_label,
    corpus_path,
    default_data_root,
    label_histogram,
    read_corpus,
    read_cremad,
    read_csv,
    read_emodb,
    read_folder,
    read_ravdess,
    read_savee,
    read_tess,
)

RAVDESS_HIST = {
    "neutral": 96,
    "calm": 192,
    "happy": 192,
    "sad": 192,
    "angry": 192,
    "fearful": 192,
    "disgust": 192,
    "surprised": 192,
}
EMODB_HIST = {
    "angry": 127,
    "boredom": 81,
    "disgust": 46,
    "fearful": 69,
    "happy": 71,
    "neutral": 79,
    "sad": 62,
}
# 200 words x 7 emotions x 2 speakers, less the two corrupt originals.
TESS_HIST = {
    "neutral": 400,
    "happy": 400,
    "sad": 399,
    "angry": 399,
    "fearful": 400,
    "disgust": 400,
    "surprised": 400,
}
EMODB_GENDER = {
    "emodb-03": "m",
    "emodb-10": "m",
    "emodb-11": "m",
    "emodb-12": "m",
    "emodb-15": "m",
    "emodb-08": "f",
    "emodb-09": "f",
    "emodb-13": "f",
    "emodb-14": "f",
    "emodb-16": "f",
}


def reasons(result) -> dict[str, str]:
    """Problem reasons keyed by file name."""
    return {Path(p).name: why for p, why in result.problems}


# ---- the real corpora ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ravdess(ravdess_root):
    return read_ravdess(ravdess_root)


@pytest.fixture(scope="module")
def tess(tess_root):
    return read_tess(tess_root)


@pytest.fixture(scope="module")
def emodb(emodb_root):
    return read_emodb(emodb_root)


def test_ravdess_counts_labels_speakers(ravdess):
    assert ravdess.problems == []
    assert len(ravdess.records) == 1440
    hist = label_histogram(ravdess.records)
    assert hist == RAVDESS_HIST
    assert list(hist) == [c for c in CANONICAL_LABELS if c in RAVDESS_HIST]
    assert ravdess.speakers == [f"ravdess-{a:02d}" for a in range(1, 25)]
    per_speaker = Counter(r.speaker for r in ravdess.records)
    assert set(per_speaker.values()) == {60}
    genders = {r.speaker: r.gender for r in ravdess.records}
    assert genders["ravdess-01"] == "m" and genders["ravdess-02"] == "f"
    assert Counter(genders.values()) == {"m": 12, "f": 12}
    # Actor number in the name agrees with the Actor_NN folder.
    assert all(Path(r.path).parent.name == f"Actor_{r.speaker[-2:]}" for r in ravdess.records)
    intensity = Counter((r.label, r.intensity) for r in ravdess.records)
    assert intensity[("neutral", "normal")] == 96 and intensity[("neutral", "strong")] == 0
    assert intensity[("angry", "normal")] == 96 and intensity[("angry", "strong")] == 96
    assert Counter(r.text for r in ravdess.records) == {
        "Kids are talking by the door": 720,
        "Dogs are sitting by the door": 720,
    }


def test_ravdess_fields_of_one_file(ravdess):
    by_name = {Path(r.path).name: r for r in ravdess.records}
    r = by_name["03-01-06-02-02-01-13.flac"]
    assert (r.corpus, r.speaker, r.gender, r.label, r.intensity, r.text) == (
        "ravdess",
        "ravdess-13",
        "m",
        "fearful",
        "strong",
        "Dogs are sitting by the door",
    )


def test_tess_counts_and_the_two_missing_files(tess):
    assert tess.problems == []
    assert len(tess.records) == 2798
    assert label_histogram(tess.records) == TESS_HIST
    assert tess.speakers == ["tess-OAF", "tess-YAF"]
    assert {r.gender for r in tess.records} == {"f"}
    words = {r.text for r in tess.records}
    assert len(words) == 200
    have = {(r.speaker, r.label, r.text) for r in tess.records}
    missing = {
        (s, lab, w) for s in tess.speakers for lab in TESS_HIST for w in words
    } - have
    assert missing == {
        ("tess-OAF", "angry", "Say the word back"),
        ("tess-YAF", "sad", "Say the word beg"),
    }


def test_tess_misnamed_file_takes_speaker_from_folder(tess):
    (r,) = [r for r in tess.records if Path(r.path).stem == "OA_bite_neutral"]
    assert (r.speaker, r.label, r.text) == ("tess-OAF", "neutral", "Say the word bite")
    # pleasant_surprise folders map to the canonical "surprised"
    assert {Path(r.path).parent.name for r in tess.records if r.label == "surprised"} == {
        "OAF_pleasant_surprise",
        "YAF_pleasant_surprise",
    }


def test_emodb_counts_speakers_genders_texts(emodb):
    assert emodb.problems == []
    assert len(emodb.records) == 535
    assert label_histogram(emodb.records) == EMODB_HIST
    assert emodb.speakers == sorted(EMODB_GENDER)
    assert {r.speaker: r.gender for r in emodb.records} == EMODB_GENDER
    assert {r.text for r in emodb.records} == {
        "a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10"
    }
    by_name = {Path(r.path).stem: r for r in emodb.records}
    assert (by_name["03a01Wa"].label, by_name["03a01Wa"].text) == ("angry", "a01")
    assert by_name["03a01Nc"].label == "neutral"


def test_check_audio_off_gives_the_same_records(emodb_root, emodb):
    fast = read_emodb(emodb_root, check_audio=False)
    assert fast.records == emodb.records and fast.problems == []


def test_original_wav_samples(data_root):
    samples = data_root / "samples"
    rav = read_ravdess(samples / "ravdess-48k")
    assert rav.problems == [] and len(rav.records) == 8
    assert sorted(r.label for r in rav.records) == sorted(RAVDESS_HIST)
    assert all(r.path.endswith(".wav") for r in rav.records)
    tess = read_tess(samples / "tess-24k")
    assert {(r.speaker, r.label) for r in tess.records} == {
        ("tess-YAF", "happy"),
        ("tess-OAF", "angry"),
    }
    emo = read_emodb(samples / "emodb-16k")
    assert sorted(r.label for r in emo.records) == ["angry", "happy"]


def test_read_corpus_uses_the_data_folder(monkeypatch, data_root):
    monkeypatch.setenv("SER_LIVE_DATA", str(data_root))
    assert default_data_root() == data_root
    assert corpus_path("emodb") == data_root / "emodb"
    res = read_corpus("EmoDB", check_audio=False)
    assert res.corpus == "emodb" and len(res.records) == 535


# ---- made-up files: CREMA-D, SAVEE, bad names, unreadable files ------------------------------


@pytest.fixture(scope="module")
def snippet(emodb_root) -> np.ndarray:
    """100 ms of real speech (int16, 16 kHz) cut from an EmoDB file: longer than the 65 ms
    the extractor needs (shorter files are left out when read)."""
    x, sr = sf.read(emodb_root / "wav" / "03a01Fa.flac", dtype="int16", start=8000, frames=1600)
    assert sr == 16000 and x.shape == (1600,)
    return x


def put(path: Path, snippet: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, snippet, 16000)
    return path


def test_cremad_names(tmp_path, snippet):
    for name in [
        "1001_DFA_ANG_XX.wav",
        "1091_IEO_HAP_HI.wav",
        "1002_TIE_NEU_LO.flac",
        "1001_DFA_XYZ_XX.wav",
        "1001_QQQ_ANG_XX.wav",
        "1001_DFA_ANG_ZZ.wav",
        "hello.wav",
    ]:
        put(tmp_path / "AudioWAV" / name, snippet)
    res = read_cremad(tmp_path)
    got = {Path(r.path).name: r for r in res.records}
    assert set(got) == {"1001_DFA_ANG_XX.wav", "1091_IEO_HAP_HI.wav", "1002_TIE_NEU_LO.flac"}
    r = got["1001_DFA_ANG_XX.wav"]
    assert (r.corpus, r.speaker, r.gender, r.label, r.intensity, r.text) == (
        "cremad", "cremad-1001", None, "angry", None, "Don't forget a jacket"
    )
    assert (got["1091_IEO_HAP_HI.wav"].label, got["1091_IEO_HAP_HI.wav"].intensity) == (
        "happy",
        "high",
    )
    assert got["1002_TIE_NEU_LO.flac"].intensity == "low"
    why = reasons(res)
    assert set(why) == {
        "1001_DFA_XYZ_XX.wav",
        "1001_QQQ_ANG_XX.wav",
        "1001_DFA_ANG_ZZ.wav",
        "hello.wav",
    }
    assert "emotion XYZ" in why["1001_DFA_XYZ_XX.wav"]
    assert "sentence code QQQ" in why["1001_QQQ_ANG_XX.wav"]
    assert "level ZZ" in why["1001_DFA_ANG_ZZ.wav"]
    assert "not CREMA-D" in why["hello.wav"]


def test_savee_flat_and_per_speaker_layouts(tmp_path, snippet):
    for rel in [
        "DC_a01.wav",
        "JE_sa15.wav",
        "KL_su03.wav",
        "JK/n30.wav",
        "DC/h02.wav",
        "DC/a01.wav",  # the same recording as DC_a01.wav
        "XX_a01.wav",
        "a05.wav",
        "JE/DC_f01.wav",
        "DC_z01.wav",
    ]:
        put(tmp_path / rel, snippet)
    res = read_savee(tmp_path)
    got = {(r.speaker, r.label) for r in res.records}
    assert got == {
        ("savee-DC", "angry"),
        ("savee-JE", "sad"),
        ("savee-KL", "surprised"),
        ("savee-JK", "neutral"),
        ("savee-DC", "happy"),
    }
    assert {r.gender for r in res.records} == {"m"}
    why = {str(Path(p).relative_to(tmp_path)): w for p, w in res.problems}
    # a folder's files are read before its subfolders': the copy in DC/ is the duplicate
    assert why["DC/a01.wav"] == f"duplicate of {tmp_path / 'DC_a01.wav'} (same recording)"
    assert "unknown SAVEE speaker" in why["XX_a01.wav"]
    assert "no speaker" in why["a05.wav"]
    assert "folder says JE" in why["JE/DC_f01.wav"]
    assert "not SAVEE" in why["DC_z01.wav"]
    assert len(res.problems) == 5


def test_bad_ravdess_names_are_reported_with_reasons(tmp_path, snippet):
    good = "03-01-05-01-01-01-02.wav"
    bad = {
        "03-02-05-01-01-01-02.wav": "not speech",  # song
        "01-01-05-01-01-01-02.wav": "not audio-only",  # video
        "03-01-01-02-01-01-02.wav": "neutral with strong",
        "03-01-09-01-01-01-02.wav": "emotion code 09",
        "03-01-05-01-01-01-25.wav": "actor 25",
        "my_recording.wav": "not RAVDESS",
    }
    for name in [good, *bad]:
        put(tmp_path / name, snippet)
    res = read_ravdess(tmp_path)
    assert [Path(r.path).name for r in res.records] == [good]
    why = reasons(res)
    assert set(why) == set(bad)
    for name, expected in bad.items():
        assert expected in why[name], (name, why[name])


def test_unreadable_empty_unsupported_files_and_junk(tmp_path, snippet, caplog):
    put(tmp_path / "03-01-05-01-01-01-02.wav", snippet)
    (tmp_path / "03-01-05-01-01-02-02.wav").write_bytes(b"RIFF not really a wave file" * 10)
    sf.write(tmp_path / "03-01-05-02-01-01-02.wav", np.zeros(0, dtype=np.int16), 16000)
    (tmp_path / "03-01-04-01-01-01-02.mp3").write_bytes(b"ID3")
    (tmp_path / "notes.txt").write_text("not audio")
    # macOS zip debris: AppleDouble files and __MACOSX folders are not audio
    (tmp_path / "._03-01-05-01-01-01-02.wav").write_bytes(b"\x00\x05\x16\x07")
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "__MACOSX" / "03-01-05-01-01-01-04.wav").write_bytes(b"\x00")
    with caplog.at_level(logging.WARNING, logger="train.corpora"):
        res = read_ravdess(tmp_path)
    assert [Path(r.path).name for r in res.records] == ["03-01-05-01-01-01-02.wav"]
    why = reasons(res)
    assert set(why) == {
        "03-01-05-01-01-02-02.wav",
        "03-01-05-02-01-01-02.wav",
        "03-01-04-01-01-01-02.mp3",
    }
    assert "cannot read" in why["03-01-05-01-01-02-02.wav"]
    assert "empty" in why["03-01-05-02-01-01-02.wav"]
    assert "unsupported format .mp3" in why["03-01-04-01-01-01-02.mp3"]
    assert any("3 problem files" in m for m in caplog.messages)
    # Without the header check the unreadable and empty files pass as records.
    fast = read_ravdess(tmp_path, check_audio=False)
    assert len(fast.records) == 3 and len(fast.problems) == 1


def test_tess_names_and_folders(tmp_path, snippet):
    put(tmp_path / "OAF_neutral" / "OA_bite_neutral.wav", snippet)
    put(tmp_path / "YAF_pleasant_surprised" / "YAF_back_ps.wav", snippet)
    put(tmp_path / "OAF_Fear" / "OAF_dog_fear.wav", snippet)
    put(tmp_path / "OAF_sad" / "OAF_dog_angry.wav", snippet)  # folder disagrees
    put(tmp_path / "YAF_sad" / "OAF_dog_sad.wav", snippet)  # speaker disagrees
    put(tmp_path / "loose" / "OA_x_neutral.wav", snippet)  # no speaker anywhere
    put(tmp_path / "OAF_angry" / "OAF_dog_furious.wav", snippet)
    put(tmp_path / "OAF_angry" / "OAF_angry.wav", snippet)
    res = read_tess(tmp_path)
    got = {(r.speaker, r.label, r.text) for r in res.records}
    assert got == {
        ("tess-OAF", "neutral", "Say the word bite"),
        ("tess-YAF", "surprised", "Say the word back"),
        ("tess-OAF", "fearful", "Say the word dog"),
    }
    why = reasons(res)
    assert "folder OAF_sad says sad" in why["OAF_dog_angry.wav"]
    assert "folder YAF_sad says YAF" in why["OAF_dog_sad.wav"]
    assert "unknown TESS speaker 'OA'" in why["OA_x_neutral.wav"]
    assert "unknown TESS emotion 'furious'" in why["OAF_dog_furious.wav"]
    assert "not TESS" in why["OAF_angry.wav"]


def test_summary_counts_and_lists_five_examples(tmp_path, snippet):
    for i in range(7):
        put(tmp_path / f"bad{i}.wav", snippet)
    put(tmp_path / "03a01Fa.wav", snippet)
    res = read_emodb(tmp_path)
    text = res.summary()
    assert "1 records" in text and "7 problem files" in text
    assert sum(f"bad{i}.wav" in text for i in range(7)) == 5
    assert "and 2 more" in text


def test_too_short_files_are_left_out_and_hour_long_ones_kept_with_a_warning(tmp_path, snippet, emodb_root, caplog):
    """A file shorter than the extractor's minimum cannot give a feature row: a problem, left
    out. A file longer than one utterance is named in the summary but kept (header only)."""
    speech, sr = sf.read(emodb_root / "wav" / "03a01Fa.flac", dtype="int16")
    put(tmp_path / "03a01Fa.flac", speech)
    put(tmp_path / "03a02Fa.flac", snippet[: int(0.05 * sr)])  # 50 ms
    long_one = np.tile(speech, 60 * sr // speech.size + 1)  # just over a minute
    put(tmp_path / "03a04Fa.flac", long_one)
    with caplog.at_level(logging.WARNING, logger="train.corpora"):
        res = read_emodb(tmp_path)
    assert [Path(r.path).name for r in res.records] == ["03a01Fa.flac", "03a04Fa.flac"]
    assert reasons(res) == {"03a02Fa.flac": "too short (50 ms; the extractor needs 65 ms)"}
    assert [(Path(p).name, why) for p, why in res.warnings] == [
        ("03a04Fa.flac", f"{long_one.size / sr:.0f} s long, more than 60 s for one utterance (kept)")
    ]
    text = res.summary()
    assert text.splitlines()[0].endswith("2 records, 1 speakers, 1 problem files left out, e.g.:")
    assert "1 files kept with a warning, e.g.:" in text and "03a04Fa.flac: 6" in text
    assert [m for m in caplog.messages if "problem files" in m] == [text]  # logged once, as a warning
    # without the header check nothing is known of the files' lengths
    assert len(read_emodb(tmp_path, check_audio=False).records) == 3


# ---- user data: label folders and CSV lists ---------------------------------------------------


def test_read_folder(tmp_path, snippet, caplog):
    root = tmp_path / "My Data"
    put(root / "happy" / "a.wav", snippet)
    put(root / "Anger" / "b.flac", snippet)
    put(root / "sad" / "spk1" / "c.wav", snippet)
    put(root / "sad" / "spk2" / "d.ogg", snippet)
    put(root / "excited" / "e.wav", snippet)
    put(root / "loose.wav", snippet)
    put(root / "sad" / "spk1" / "deeper" / "f.wav", snippet)
    (root / "happy" / "readme.txt").write_text("ignored")
    with caplog.at_level(logging.WARNING, logger="train.corpora"):
        res = read_folder(root)
    assert res.corpus == "my-data"
    got = {Path(r.path).name: (r.speaker, r.label, r.corpus) for r in res.records}
    assert got == {
        "a.wav": ("my-data-unknown", "happy", "my-data"),
        "b.flac": ("my-data-unknown", "angry", "my-data"),
        "c.wav": ("my-data-spk1", "sad", "my-data"),
        "d.ogg": ("my-data-spk2", "sad", "my-data"),
        "e.wav": ("my-data-unknown", "excited", "my-data"),
    }
    why = reasons(res)
    assert set(why) == {"loose.wav", "f.wav"}
    assert "<label>/ folder" in why["loose.wav"] and "too deep" in why["f.wav"]
    assert any("excited" in m for m in caplog.messages)
    named = read_folder(root, corpus="Lab", check_audio=False)
    assert {r.speaker for r in named.records} == {"lab-unknown", "lab-spk1", "lab-spk2"}


def test_read_csv(tmp_path, snippet):
    a = put(tmp_path / "audio" / "a.wav", snippet)
    b = put(tmp_path / "elsewhere" / "b.flac", snippet)
    (tmp_path / "audio" / "broken.wav").write_bytes(b"garbage")
    csv_path = tmp_path / "lists" / "Set1.csv"
    csv_path.parent.mkdir()
    csv_path.write_text(
        "path,label,speaker,gender,notes\n"
        "../audio/a.wav,Happiness,p1,female,x\n"
        f"{b},SAD,p2,M,\n"
        "../audio/missing.wav,sad,p2,m,\n"
        "../audio/a.wav,happy,p1,f,\n"
        "../audio/a.wav,,p1,f,\n"
        "../audio/a.mp3,sad,p1,f,\n"
        "../audio/broken.wav,sad,,,\n"
        ",sad,p1,f,\n"
    )
    res = read_csv(csv_path)
    assert res.corpus == "set1"
    assert [(Path(r.path), r.speaker, r.gender, r.label) for r in res.records] == [
        (a, "set1-p1", "f", "happy"),
        (b, "set1-p2", "m", "sad"),
    ]
    why = [w for _, w in res.problems]
    assert len(why) == 6
    for expected in ("no such file", "duplicate of", "empty label", "not a .wav", "cannot read",
                     "empty path"):
        assert sum(expected in w for w in why) == 1, expected
    assert any(w.endswith(":4)") for w in why)  # problems name the CSV line
    bad = tmp_path / "bad.csv"
    bad.write_text("file,emotion\na.wav,happy\n")
    with pytest.raises(ValueError, match="no column path or label"):
        read_csv(bad)


def test_read_csv_without_speaker_column(tmp_path, snippet):
    put(tmp_path / "x.wav", snippet)
    (tmp_path / "list.csv").write_text("label,path\nneutral,x.wav\n")
    res = read_corpus("csv", tmp_path / "list.csv")
    assert [(r.speaker, r.label, r.gender) for r in res.records] == [
        ("list-unknown", "neutral", None)
    ]


# ---- errors and helpers -----------------------------------------------------------------------


def test_missing_or_empty_folder_errors(tmp_path, monkeypatch):
    with pytest.raises(CorpusNotFoundError, match="looked in .*nowhere") as err:
        read_ravdess(tmp_path / "nowhere")
    assert isinstance(err.value, SerLiveError) and isinstance(err.value, FileNotFoundError)
    assert "SER_LIVE_DATA" in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusNotFoundError, match="no audio files"):
        read_tess(tmp_path / "empty")
    with pytest.raises(CorpusNotFoundError, match="CSV list not found"):
        read_csv(tmp_path / "none.csv")
    monkeypatch.setenv("SER_LIVE_DATA", str(tmp_path / "empty"))
    assert default_data_root() == tmp_path / "empty"
    with pytest.raises(CorpusNotFoundError) as err:
        read_corpus("ravdess")
    msg = str(err.value)
    assert str(tmp_path / "empty" / "ravdess") in msg and "SER_LIVE_DATA" in msg


def test_default_data_root_without_env(monkeypatch):
    monkeypatch.delenv("SER_LIVE_DATA", raising=False)
    repo = Path(__file__).resolve().parents[1]
    assert default_data_root() == repo.parent / "shared" / "data"


def test_read_corpus_names():
    with pytest.raises(ValueError, match="ravdess, tess, emodb, cremad, savee, emotiontts_kor, ased, es_uem, folder, csv"):
        read_corpus("iemocap")
    with pytest.raises(ValueError, match=r"read from a folder you name, from Python: read_corpus\(.cremad., root=PATH\)"):
        read_corpus("crema-d")
    with pytest.raises(ValueError, match="CSV file"):
        read_corpus("csv")
    with pytest.raises(ValueError, match="not one of the shipped"):
        corpus_path("savee")


def test_canonical_labels_and_histogram():
    assert canonical_label("Pleasant Surprise") == "surprised"
    assert canonical_label("FEA") == "fearful"
    assert canonical_label("anger") == "angry"
    assert canonical_label("happiness") == "happy"
    assert canonical_label("excited") is None
    recs = [
        Record(path=f"{i}.wav", corpus="x", speaker="x-1", gender=None, label=lab)
        for i, lab in enumerate(["zzz", "sad", "neutral", "sad", "boredom", "aaa"])
    ]
    hist = label_histogram(recs)
    assert hist == {"neutral": 1, "sad": 2, "boredom": 1, "aaa": 1, "zzz": 1}
    assert list(hist) == ["neutral", "sad", "boredom", "aaa", "zzz"]


# ---- emotiontts_kor ---------------------------------------------------------------------------


def test_emotiontts_kor_speakers_labels_groups(data_root):
    from train.corpora import read_emotiontts_kor, speaker_group

    if not (data_root / "emotiontts_kor").is_dir():
        pytest.skip("emotiontts_kor not in the data folder")
    res = read_corpus("emotiontts-kor")
    assert res.problems == [] and len(res.records) == 300
    assert label_histogram(res.records) == {"neutral": 75, "happy": 75, "sad": 75, "angry": 75}
    assert len(res.speakers) == 15
    by_name = {Path(r.path).name: r for r in res.records}
    r = by_name["ema00101.flac"]
    assert (r.corpus, r.speaker, r.gender, r.label) == ("emotiontts_kor", "emotiontts_kor-ema", "f", "happy")
    assert by_name["neo00301.flac"].label == "sad" and by_name["neo00301.flac"].gender == "m"
    assert by_name["nea00201.flac"].label == "angry" and by_name["nea00005.flac"].label == "neutral"
    # every speaker has 5 utterances of each emotion
    assert all(v == 5 for v in Counter((r.speaker, r.label) for r in res.records).values())
    groups = {speaker_group(r.speaker) for r in res.records}
    assert len(groups) == 13
    assert speaker_group("emotiontts_kor-nea") == speaker_group("emotiontts_kor-ema") == "emotiontts_kor-ema"
    assert speaker_group("emotiontts_kor-neb") == "emotiontts_kor-emb"
    assert speaker_group("emodb-03") == "emodb-03"
    assert read_emotiontts_kor(data_root / "emotiontts_kor", check_audio=False).records == res.records


def test_emotiontts_kor_bad_names(tmp_path, snippet):
    from train.corpora import read_emotiontts_kor

    put(tmp_path / "plain-to-emotional" / "ema" / "wav" / "ema00005.flac", snippet)
    put(tmp_path / "plain-to-emotional" / "ema" / "wav" / "ema00405.flac", snippet)
    put(tmp_path / "plain-to-emotional" / "ema" / "wav" / "zzz00005.flac", snippet)
    put(tmp_path / "plain-to-emotional" / "ema" / "wav" / "ema5.flac", snippet)
    res = read_emotiontts_kor(tmp_path)
    assert [r.label for r in res.records] == ["neutral"]
    why = reasons(res)
    assert "outside 00001-00400" in why["ema00405.flac"]
    assert "unknown emotiontts_kor speaker" in why["zzz00005.flac"]
    assert "not emotiontts_kor" in why["ema5.flac"]


# ---- ased and es_uem: Ogg Opus, read from their labels.csv -------------------------------------

# Counts of the data README (shared/data/README.md).
ASED_HIST = {"neutral": 521, "happy": 485, "sad": 469, "angry": 485}
ES_UEM_HIST = {"neutral": 183, "happy": 186, "sad": 192, "angry": 188}


def test_ased_counts_speakers_genders_and_the_text_confound(ased_root):
    from train.corpora import read_ased, speaker_group

    res = read_ased(ased_root)
    assert res.problems == [] and len(res.records) == 1960
    assert label_histogram(res.records) == ASED_HIST
    # The README says 65 participants (25 f, 40 m); the copy's labels.csv names 64: 01-65
    # without 40, 25 female and 39 male (speaker 40 has no neutral/happy/sad/angry file).
    assert res.speakers == [f"ased-{n:02d}" for n in range(1, 66) if n != 40]
    genders = {r.speaker: r.gender for r in res.records}
    assert Counter(genders.values()) == {"f": 25, "m": 39}
    per_speaker = Counter(r.speaker for r in res.records)
    assert min(per_speaker.values()) == 4 and max(per_speaker.values()) == 56
    # the speaker is the last field of the name, the label its first letter and its folder
    folder = {"neutral": "01Neutral", "happy": "03Happy", "sad": "04Sad", "angry": "05Angry"}
    for r in res.records:
        stem = Path(r.path).stem
        assert r.speaker == f"ased-{stem[-2:]}" and Path(r.path).parent.name == folder[r.label]
        assert stem[0].lower() == r.label[0] and r.corpus == "ased"
    # every sentence code is spoken in one emotion only: text and label are confounded
    labels_of_text: dict = {}
    for r in res.records:
        labels_of_text.setdefault(r.text, set()).add(r.label)
    assert len(labels_of_text) == 28 and all(len(v) == 1 for v in labels_of_text.values())
    assert {speaker_group(s) for s in res.speakers} == set(res.speakers)
    assert read_corpus("ased", check_audio=False).records == res.records


def test_es_uem_counts_odd_names_and_the_test_folders_as_one_group(es_uem_root):
    from train.corpora import read_es_uem, speaker_group

    res = read_es_uem(es_uem_root)
    assert res.problems == [] and len(res.records) == 749
    assert label_histogram(res.records) == ES_UEM_HIST
    assert set(res.speakers) == {f"es_uem-{n}" for n in range(14)} | {"es_uem-Test1", "es_uem-Test2"}
    groups = {speaker_group(s) for s in res.speakers}
    assert len(groups) == 15 and "es_uem-tests" in groups
    assert speaker_group("es_uem-Test1") == speaker_group("es_uem-Test2") == "es_uem-tests"
    assert speaker_group("es_uem-1") == "es_uem-1"
    by_rel = {Path(r.path).relative_to(es_uem_root).as_posix(): r for r in res.records}
    assert by_rel["data/0/Ira__1.ogg"].label == "angry"  # double underscore
    assert (by_rel["data/11/Neutro.ogg"].label, by_rel["data/11/Neutro.ogg"].speaker) == ("neutral", "es_uem-11")
    assert (by_rel["tests/Test2/Tristeza_3.ogg"].label, by_rel["tests/Test2/Tristeza_3.ogg"].speaker) == ("sad", "es_uem-Test2")
    assert {r.gender for r in res.records} == {None} and {r.text for r in res.records} == {None}
    assert read_corpus("es-uem", check_audio=False).records == res.records


def test_ogg_opus_files_decode_at_16k_mono(ased_root, es_uem_root):
    """The two Ogg Opus corpora decode through the one audio reader (libsndfile) like the FLAC ones."""
    from ser_live.audiofile import audio_info, load_audio

    for path in (ased_root / "05Angry" / "a5-01-01-01-01.ogg", es_uem_root / "tests" / "Test1" / "Ira_1.ogg"):
        info = audio_info(path)
        assert (info.sample_rate_hz, info.channels, info.format) == (16000, 1, "OGG")
        y = load_audio(path)
        assert y.dtype == np.float32 and y.shape == (info.n_frames,) and 1.0 < y.size / 16000 < 10.0
        assert np.isfinite(y).all() and 0.01 < np.abs(y).max() <= 1.0
        assert float(np.sqrt(np.mean(y**2))) > 1e-3  # speech, not silence


def test_label_list_rows_are_checked_against_their_files(tmp_path, snippet):
    from train.corpora import read_ased, read_es_uem

    ased = tmp_path / "ased"
    for rel in ["01Neutral/n1-01-01-01-07.ogg", "03Happy/h3-01-01-01-07.ogg", "04Sad/s4-01-01-01-08.ogg",
                "05Angry/a5-01-01-01-09.ogg", "05Angry/a5-01-01-01-10.ogg", "05Angry/unlisted.ogg"]:
        put(ased / rel, snippet)
    (ased / "labels.csv").write_text(
        "path,label,speaker,gender,text\n"
        "01Neutral/n1-01-01-01-07.ogg,neutral,07,F,n01\n"
        "03Happy/h3-01-01-01-07.ogg,sad,07,F,h01\n"  # the name says happy
        "04Sad/s4-01-01-01-08.ogg,sad,09,M,s01\n"  # the name says speaker 08
        "05Angry/a5-01-01-01-09.ogg,angry,09,X,a01\n"  # no such gender
        "05Angry/a5-01-01-01-11.ogg,angry,11,M,a01\n"  # no such file
        "05Angry/a5-01-01-01-10.ogg,angry,10,m,a01\n"
    )
    res = read_ased(ased)
    assert [(r.speaker, r.gender, r.label, r.text) for r in res.records] == [
        ("ased-07", "f", "neutral", "n01"), ("ased-10", "m", "angry", "a01")
    ]
    why = reasons(res)
    assert "the name's letter 'h' says happy" in why["h3-01-01-01-07.ogg"] and "labels.csv:3" in why["h3-01-01-01-07.ogg"]
    assert "says speaker '09' but the name's last field says 08" in why["s4-01-01-01-08.ogg"]
    assert "gender 'X'" in why["a5-01-01-01-09.ogg"]
    assert "no such file" in why["a5-01-01-01-11.ogg"]
    assert why["unlisted.ogg"] == "not in labels.csv: no label"
    assert len(res.problems) == 5

    es = tmp_path / "es_uem"
    for rel in ["data/3/Alegria_1.ogg", "data/3/Ira__2.ogg", "tests/Test1/Neutro.ogg", "data/x/Ira_1.ogg"]:
        put(es / rel, snippet)
    (es / "labels.csv").write_text(
        "path,label,speaker,gender,text\n"
        "data/3/Alegria_1.ogg,happy,3,,1\n"
        "data/3/Ira__2.ogg,angry,4,,2\n"  # the folder says speaker 3
        "tests/Test1/Neutro.ogg,sad,Test1,,\n"  # the name says neutral
        "data/x/Ira_1.ogg,angry,x,,1\n"  # not a speaker folder
    )
    res = read_es_uem(es)
    assert [(r.speaker, r.label) for r in res.records] == [("es_uem-3", "happy")]
    why = reasons(res)
    assert "the folder says 3" in why["Ira__2.ogg"]
    assert "the name says Neutro (neutral)" in why["Neutro.ogg"]
    assert "not data/<N> or tests/Test<N>" in why["Ira_1.ogg"]
    # a corpus folder without its list, and a list without its columns
    (tmp_path / "bare").mkdir()
    with pytest.raises(CorpusNotFoundError, match="no labels.csv"):
        read_ased(tmp_path / "bare")
    (tmp_path / "bare" / "labels.csv").write_text("path,label\nx.ogg,sad\n")
    with pytest.raises(ValueError, match="no column speaker, gender, text"):
        read_es_uem(tmp_path / "bare")

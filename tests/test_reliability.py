"""Issue 22 (reliability, round 3): crafted model and profile files, profile contents, and
inputs that used to end in a traceback, a hang or a silent loss.

Every crafted input is made here, in ``tmp_path``: zip bombs are written with a streaming
writer (1.1 GB of zeros or spaces deflate to about 1 MB), never held in memory. Each case
asserts the documented exit status (through ``ser_live.cli.main`` in-process, the public
CLI surface) or the library error with its reason, and no traceback.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

from ser_live.cli import main
from ser_live.errors import ModelError
from ser_live.model import EmotionModel, model_file_types
from ser_live.profile import ProfileError, build_profile, load_profile, profile_path
from ser_live.safezip import MODEL_LIMITS, PROFILE_LIMITS, json_depth, loads_bounded, printable

REPO_ROOT = Path(__file__).resolve().parents[1]
SMALL_MODEL = REPO_ROOT / "models" / "ser-noisy.skops"  # the smallest shipped model (0.3 MB)
DEMO_WAV = REPO_ROOT / "ser_live" / "data" / "demo.wav"
BOMB_BYTES = 1100 * (1 << 20)  # > 1 GB once inflated


# ---------------------------------------------------------------- helpers
def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return code, err


def _stream_member(zf: zipfile.ZipFile, name: str, head: bytes, fill: bytes, n_bytes: int, tail: bytes = b"") -> None:
    """Write member ``name``: ``head``, then ``fill`` repeated to ``n_bytes`` in all, then
    ``tail``, through the zip's streaming writer (constant memory)."""
    chunk = fill * ((1 << 20) // len(fill))
    with zf.open(name, "w", force_zip64=True) as f:
        f.write(head)
        left = n_bytes - len(head) - len(tail)
        while left > 0:
            f.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)
        f.write(tail)


def _npy_header(dtype: str, shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _measure_load(kind: str, path: Path) -> dict:
    """Load ``path`` (``kind`` "model" or "profile") in a fresh interpreter after every
    import, and report the seconds, the growth of peak RSS (MB) and the error message."""
    code = f"""
import json, resource, sys, time
from ser_live.model import EmotionModel, import_skops_io
from ser_live.profile import load_profile
import_skops_io()
peak0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
try:
    {'EmotionModel.load' if kind == 'model' else 'load_profile'}({str(path)!r})
    msg, kind = "", "loaded"
except Exception as exc:
    msg, kind = str(exc), type(exc).__name__
dt = time.perf_counter() - t0
peak1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"s": dt, "rss_mb": (peak1 - peak0) / 1024, "error": kind, "message": msg}}))
"""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def small_model() -> EmotionModel:
    return EmotionModel.load(SMALL_MODEL)


@pytest.fixture(scope="module")
def profile_file(small_model, tmp_path_factory) -> Path:
    """A real profile for the small shipped model, from features near its training prior."""
    m = small_model
    n = m.extractor.n_features
    rng = np.random.default_rng(0)
    centre = m.normalizer.prior_mean_ if m.normalizer is not None else np.zeros(n)
    spread = np.sqrt(m.normalizer.prior_var_) if m.normalizer is not None else np.ones(n)
    k = len(m.labels)
    X = centre + 0.5 * spread * rng.standard_normal((3 * k, n))
    y = np.repeat(np.arange(k), 3)
    prof = build_profile(m, X, y, name="anna")
    return prof.save(tmp_path_factory.mktemp("profiles") / "anna.npz")


def _profile_variant(src: Path, dst: Path, *, meta: dict | None = None, **arrays: np.ndarray) -> Path:
    with np.load(src, allow_pickle=False) as z:
        out = {k: z[k] for k in z.files}
    if meta is not None:
        out["meta"] = np.array(json.dumps(meta) if isinstance(meta, dict) else meta)
    out.update(arrays)
    np.savez(dst, **out)
    return dst


def _meta(src: Path) -> dict:
    with np.load(src, allow_pickle=False) as z:
        return json.loads(str(z["meta"]))


# ---------------------------------------------------------------- 1. bounded loading
def test_the_shipped_files_are_within_the_limits(profile_file):
    """The limits of ser_live/safezip.py leave a wide margin over what ships."""
    for p in sorted((REPO_ROOT / "models").glob("*.skops")):
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
            assert len(infos) * 10 < MODEL_LIMITS.max_members
            assert sum(i.file_size for i in infos) * 10 < MODEL_LIMITS.max_total_bytes
            assert json_depth(zf.read("schema.json")) * 3 < 100
    with zipfile.ZipFile(profile_file) as zf:
        assert sum(i.file_size for i in zf.infolist()) * 10 < PROFILE_LIMITS.max_total_bytes


def _assert_refused_at_once(kind: str, bomb, *, error: str, member: str, capsys) -> None:
    """A bomb file under 8 MB is refused by loading ``kind`` with ``error``, naming
    ``member``, before inflating anything (peak RSS under +100 MB)."""
    assert bomb.stat().st_size < 8 << 20
    seen = _measure_load(kind, bomb)
    with capsys.disabled():
        print(f"\n{kind} bomb ({bomb.stat().st_size / 1e6:.1f} MB file): refused in {seen['s']:.3f} s, "
              f"peak RSS +{seen['rss_mb']:.1f} MB")
    assert seen["error"] == error, seen
    assert "refused before inflating anything" in seen["message"] and member in seen["message"]
    assert seen["rss_mb"] < 100


def test_a_model_whose_schema_inflates_past_1_gb_is_refused_at_once(tmp_path, capsys):
    """Issue 22, case 1: the shipped model with its schema padded by 1.1 GB of spaces
    (valid JSON: it used to load and classify after 4.5 GB and 66-92 s)."""
    bomb = tmp_path / "bomb.skops"
    with zipfile.ZipFile(SMALL_MODEL) as src, zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for info in src.infolist():
            if info.filename == "schema.json":
                schema = src.read("schema.json")
                _stream_member(dst, "schema.json", schema[:-1], b" ", BOMB_BYTES, tail=schema[-1:])
            else:
                dst.writestr(info.filename, src.read(info.filename))
    _assert_refused_at_once("model", bomb, error="ModelError", member="schema.json", capsys=capsys)
    code, err = _run(capsys, "predict", "--model", str(bomb), str(DEMO_WAV))
    assert code == 5 and "refused before inflating anything" in err


def test_a_profile_whose_arrays_inflate_past_1_gb_is_refused_at_once(profile_file, tmp_path, capsys):
    """Issue 22, case 1: a profile whose prior_mean is 1.1 GB of zeros (2 MB on disk; it
    used to take 2.4 GB)."""
    bomb = tmp_path / "bomb.npz"
    n = BOMB_BYTES // 8
    with zipfile.ZipFile(profile_file) as src, zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for name in src.namelist():
            if name == "prior_mean.npy":
                _stream_member(dst, name, _npy_header("<f8", (n,)), b"\0", len(_npy_header("<f8", (n,))) + 8 * n)
            else:
                dst.writestr(name, src.read(name))
    _assert_refused_at_once("profile", bomb, error="ProfileError", member="prior_mean.npy", capsys=capsys)
    code, err = _run(capsys, "predict", "--model", str(SMALL_MODEL), "--profile", str(bomb), str(DEMO_WAV))
    assert code == 2 and "refused before inflating anything" in err


def test_an_npy_member_declaring_more_than_it_holds_is_refused(profile_file, tmp_path):
    """A small member whose header claims a 1.6 GB array (np.load would allocate it)."""
    bad = tmp_path / "liar.npz"
    with zipfile.ZipFile(profile_file) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "prior_var.npy":
                data = _npy_header("<f8", (200_000_000,)) + b"\0" * 64
            dst.writestr(name, data)
    with pytest.raises(ProfileError, match=r"prior_var\.npy.*declares a float64 array of shape \(200000000,\)"):
        load_profile(bad)


def test_a_highly_compressed_member_is_refused_even_when_small_enough(tmp_path):
    """Ratio limit: 60 MB of zeros (under the 64 MiB size limit) deflated 1000-fold."""
    p = tmp_path / "dense.skops"
    with zipfile.ZipFile(SMALL_MODEL) as src, zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
        _stream_member(dst, "pad.bin", b"", b"\0", 60 << 20)
    with pytest.raises(ModelError, match=r"'pad\.bin' inflates \d+-fold"):
        EmotionModel.load(p)


def test_a_deeply_nested_schema_is_refused_without_recursion_error(tmp_path):
    p = tmp_path / "deep.skops"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("schema.json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelError, match="schema.json nests 100000 levels deep, more than 100"):
        model_file_types(p)


def test_bounded_json_reader():
    assert loads_bounded('{"a": [1, {"b": "[[[["}]}', max_bytes=100, max_depth=3, what="x") == {"a": [1, {"b": "[[[["}]}
    assert json_depth(r'{"a": "\"[[[", "b": [[1]]}') == 3
    with pytest.raises(ValueError, match="nests 4 levels deep"):
        loads_bounded("[[[[1]]]]", max_bytes=100, max_depth=3, what="x")
    with pytest.raises(ValueError, match="long, more than"):
        loads_bounded("[1]" * 50, max_bytes=100, max_depth=3, what="x")
    for text in ('{"n": Infinity}', '{"n": NaN}', '{"n": 1e999}'):
        with pytest.raises(ValueError):
            loads_bounded(text, max_bytes=100, max_depth=3, what="x")


# ---------------------------------------------------------------- 4. broken model contents
def _payload(src: Path = SMALL_MODEL) -> dict:
    return sio.load(src, trusted=sorted(model_file_types(src)))


def _first_with(obj, attr: str):
    """The first object reachable from ``obj`` (attributes, lists) having ``attr``."""
    todo, seen = [obj], set()
    while todo:
        o = todo.pop(0)
        if id(o) in seen:
            continue
        seen.add(id(o))
        if hasattr(o, attr):
            return o
        if isinstance(o, (list, tuple)):
            todo += list(o)
        elif hasattr(o, "__dict__"):
            todo += list(vars(o).values())
    raise AssertionError(f"no {attr} in the model")


def test_an_infinite_calibration_temperature_is_refused_at_load(tmp_path, capsys):
    """Issue 22, case 5: it used to classify with "confidence": NaN, exit 0."""
    payload = _payload()
    _first_with(payload["estimator"], "beta_").beta_ = float("inf")
    bad = tmp_path / "inf-temperature.skops"
    sio.dump(payload, bad)
    with pytest.raises(ModelError, match=r"corrupt model file: estimator\..*beta_ holds a non-finite value"):
        EmotionModel.load(bad)
    code, err = _run(capsys, "predict", "--model", str(bad), str(DEMO_WAV))
    assert code == 5 and "beta_ holds a non-finite value" in err


def test_coefficients_of_the_wrong_shape_are_refused_at_load(tmp_path, capsys):
    """Issue 22, case 5: it used to exit 1 blaming the audio file (live: a traceback)."""
    payload = _payload()
    svm = _first_with(payload["estimator"], "coef_")
    svm.coef_ = svm.coef_[:, :-7].copy()
    bad = tmp_path / "wrong-shape.skops"
    sio.dump(payload, bad)
    with pytest.raises(ModelError, match="corrupt model file: its classifier fails on a row of"):
        EmotionModel.load(bad)
    code, err = _run(capsys, "predict", "--model", str(bad), str(DEMO_WAV))
    assert code == 5 and "its classifier fails" in err


def test_classes_outside_the_labels_are_refused_at_load(tmp_path):
    payload = _payload()
    clf = payload["estimator"].classifier  # the model object's classifier (a pipeline, or a noise route)
    clf = getattr(clf, "estimator", clf) if not hasattr(clf, "steps") else clf
    last = clf.steps[-1][1] if hasattr(clf, "steps") else clf  # a pipeline forwards its last step's classes_
    last.classes_ = np.asarray(last.classes_) + 10
    bad = tmp_path / "classes.skops"
    sio.dump(payload, bad)
    with pytest.raises(ModelError, match=r"corrupt model file: .*classes_"):
        EmotionModel.load(bad)


def test_the_shipped_models_pass_the_content_check():
    for p in sorted((REPO_ROOT / "models").glob("*.skops")):
        assert EmotionModel.load(p).labels


# ---------------------------------------------------------------- 2. profile contents
@pytest.mark.parametrize(
    "case, change, match",
    [
        ("empty statistics", lambda m: ({}, {"prior_mean": np.zeros(0), "prior_var": np.zeros(0)}), "empty statistics"),
        ("counts of Infinity", lambda m: (m.replace('"counts": {', '"counts": {"x": Infinity, ', 1), {}),
         "Infinity is not a JSON number"),
        ("counts of 1e999", lambda m: (m.replace('"counts": {', '"counts": {"x": 1e999, ', 1), {}), "out of the range"),
        ("fractional counts", lambda m: (m.replace('"counts": {', '"counts": {"x": 2.5, ', 1), {}),
         "counts are not whole numbers"),
        ("deeply nested metadata", lambda m: (m[:-1] + ', "x": ' + "[" * 50_000 + "]" * 50_000 + "}", {}),
         "nests 50001 levels deep"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_malformed_profile_contents_give_one_line_and_exit_2(profile_file, tmp_path, capsys, case, change, match):
    """Issue 22, case 7: these used to end in a traceback, exit 1."""
    meta_text = json.dumps(_meta(profile_file))
    new_meta, arrays = change(meta_text)
    bad = _profile_variant(profile_file, tmp_path / "bad.npz", meta=new_meta or meta_text, **arrays)
    with pytest.raises(ProfileError, match=match):
        load_profile(bad)
    code, err = _run(capsys, "predict", "--model", str(SMALL_MODEL), "--profile", str(bad), str(DEMO_WAV))
    assert code == 2 and match.split()[0] in err and len(err.strip().splitlines()) == 1, err


def test_profile_names_and_paths(tmp_path, monkeypatch, capsys):
    """`--profile ''` is an error, a folder is "a folder", a dotted bare name stays a name."""
    monkeypatch.setenv("SER_LIVE_PROFILES", str(tmp_path / "store"))
    with pytest.raises(ProfileError, match="empty value"):
        profile_path("")
    with pytest.raises(ProfileError, match="empty value"):
        profile_path("  ")
    assert profile_path("anna.v2") == tmp_path / "store" / "anna.v2.npz"
    assert profile_path("anna.npz") == Path("anna.npz")
    assert profile_path("./anna.v2") == Path("anna.v2")
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(ProfileError, match="is a folder, not a profile file"):
        load_profile(folder)
    code, err = _run(capsys, "predict", "--model", str(SMALL_MODEL), "--profile", str(folder), str(DEMO_WAV))
    assert code == 2 and "is a folder" in err
    code, err = _run(capsys, "predict", "--model", str(SMALL_MODEL), "--profile", "anna.v2", str(DEMO_WAV))
    assert code == 2 and str(tmp_path / "store" / "anna.v2.npz") in err


def test_a_profile_name_with_terminal_escapes_is_printed_clean(profile_file, small_model, tmp_path, capsys):
    meta = _meta(profile_file)
    meta["name"] = "\x1b]0;owned\x07\x1b[2J\x1b[31manna\u202e\x1b[0m"
    bad = _profile_variant(profile_file, tmp_path / "escapes.npz", meta=meta)
    prof = load_profile(bad, model=small_model)
    assert prof.name == "anna"
    code = main(["predict", "--model", str(SMALL_MODEL), "--profile", str(bad), str(DEMO_WAV)])
    out = capsys.readouterr()
    assert code == 0 and '"profile": "anna"' in out.out and "\x1b" not in out.out + out.err
    assert printable("a\x1b[1mb\x9b2Jc\x00d") == "abcd"


# ---------------------------------------------------------------- 3. inputs
def _records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_a_sessions_row_longer_than_its_header_is_a_usage_error(tmp_path, capsys):
    wav = tmp_path / "a.wav"
    wav.write_bytes(DEMO_WAV.read_bytes())
    sessions = tmp_path / "s.csv"
    sessions.write_text("path,session\na.wav,anna,extra\n")
    code, err = _run(capsys, "predict", "--model", str(SMALL_MODEL), "--sessions", str(sessions), str(wav))
    assert code == 2 and "line 2: 3 cells, the header names 2 columns" in err


def test_a_nul_byte_in_a_sessions_or_calibration_path_is_a_usage_error(tmp_path, capsys, small_model):
    wav = tmp_path / "a.wav"
    wav.write_bytes(DEMO_WAV.read_bytes())
    sessions = tmp_path / "s.csv"
    sessions.write_text("path,session\na\x00.wav,anna\n")
    code, err = _run(capsys, "predict", "--model", str(SMALL_MODEL), "--sessions", str(sessions), str(wav))
    assert code == 2 and "NUL byte" in err
    calib = tmp_path / "c.csv"
    calib.write_text(f"path,label\na\x00.wav,{small_model.labels[0]}\n")
    code, err = _run(capsys, "calibrate", "--model", str(SMALL_MODEL), "--from", str(calib),
                     "--profile", str(tmp_path / "p.npz"))
    assert code == 2 and "NUL byte" in err and not (tmp_path / "p.npz").exists()


def test_a_repeated_calibration_row_counts_once(tmp_path, small_model, caplog):
    from ser_live.profile import read_calibration_csv

    wav = tmp_path / "a.wav"
    wav.write_bytes(DEMO_WAV.read_bytes())
    lab = small_model.labels[0]
    calib = tmp_path / "c.csv"
    calib.write_text(f"path,label\na.wav,{lab}\n./a.wav,{lab}\n")
    with caplog.at_level("WARNING"):
        rows = read_calibration_csv(calib, [lab])
    assert rows == [(wav.resolve(), lab)] and "repeats line 2; counted once" in caplog.text
    calib.write_text(f"path,label\na.wav,{lab}\na.wav,{small_model.labels[1]}\n")
    with pytest.raises(ProfileError, match="given two labels"):
        read_calibration_csv(calib, small_model.labels[:2])


def test_an_input_named_twice_with_sessions_counts_once(tmp_path, capsys, data_root):
    """Issue 22, case 8: another file's score used to move (0.375 -> 0.543) when one input
    was named twice; now the duplicate is read once, and still gets its record."""
    actor = data_root / "ravdess" / "Actor_01"
    a, b = sorted(actor.glob("*.flac"))[8:10]
    sessions = tmp_path / "s.csv"
    sessions.write_text(f"path,session\n{a},anna\n{b},anna\n")
    model = REPO_ROOT / "models" / "ser-default.skops"  # has a session normaliser
    code = main(["predict", "--model", str(model), "--sessions", str(sessions), str(a), str(b)])
    first = capsys.readouterr()
    spelt_again = str(a.parent / ".." / a.parent.name / a.name)
    code2 = main(["predict", "--model", str(model), "--sessions", str(sessions), str(a), str(b), spelt_again])
    second = capsys.readouterr()
    assert code == code2 == 0 and "Traceback" not in second.err
    r1, r2 = _records(first.out), _records(second.out)
    assert len(r2) == 3 and r2[2]["path"] == spelt_again  # nothing lost: every mention has its record
    assert r2[0]["probabilities"] == r1[0]["probabilities"] and r2[1]["probabilities"] == r1[1]["probabilities"]
    assert r2[2]["probabilities"] == r1[0]["probabilities"]
    assert "named again" in second.err and "count once" in second.err


def test_a_fifo_is_refused_at_once_not_read(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    res = subprocess.run([sys.executable, "-m", "ser_live", "predict", "--model", str(SMALL_MODEL), str(fifo)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 3 and "not a regular file" in res.stderr and "Traceback" not in res.stderr


def test_a_fifo_in_a_walked_folder_gets_an_error_record_not_read(tmp_path, emodb_root):
    """A FIFO named like audio inside a folder given to predict used to be skipped without a
    word; now it gets the error record a FIFO named on the command line gets (never opened:
    the run would hang), while one named like a text file is left out, as a text file is."""
    import shutil

    folder = tmp_path / "clips"
    folder.mkdir()
    shutil.copy(emodb_root / "wav" / "03a01Fa.flac", folder / "a.flac")
    os.mkfifo(folder / "b.wav")
    os.mkfifo(folder / "notes.txt")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    res = subprocess.run([sys.executable, "-m", "ser_live", "predict", "--model", str(SMALL_MODEL), str(folder)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert "Traceback" not in res.stderr, res.stderr
    records = {Path(r["path"]).name: r for r in _records(res.stdout)}
    assert sorted(records) == ["a.flac", "b.wav"]  # notes.txt: not audio, ignored
    assert records["a.flac"]["error"] is None
    assert "not a regular file" in records["b.wav"]["error"] and "not a regular file" in res.stderr
    assert res.returncode == 3  # as for a FIFO named directly


def test_an_empty_file_says_empty(tmp_path, capsys):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    code, err = _run(capsys, "predict", "--model", str(SMALL_MODEL), str(empty))
    assert code == 3 and "empty file (0 bytes)" in err and "Format not recognised" not in err


def test_a_half_truncated_wav_is_classified_with_a_warning(tmp_path, capsys):
    data = DEMO_WAV.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    code = main(["predict", "--model", str(SMALL_MODEL), str(cut)])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err and len(_records(out)) == 1
    assert "truncated: the header announces" in err and "(50 %)" in err
    whole = tmp_path / "whole.wav"
    whole.write_bytes(data)
    code2, err2 = _run(capsys, "predict", "--model", str(SMALL_MODEL), str(whole))
    assert code2 == 0 and "truncated" not in err2


def test_the_folder_walk_takes_every_readable_format_and_warns_of_dangling_links(tmp_path, capsys):
    import soundfile as sf

    from ser_live.audiofile import AUDIO_SUFFIXES, decode_audio, expand_audio_paths

    y = decode_audio(DEMO_WAV)
    folder = tmp_path / "clips"
    folder.mkdir()
    sf.write(folder / "a.aiff", y, 16000, format="AIFF", subtype="PCM_16")
    made = ["a.aiff"]
    if ".mp3" in AUDIO_SUFFIXES:
        sf.write(folder / "b.mp3", y.astype(np.float32) / 32768, 16000, format="MP3")
        made.append("b.mp3")
    (folder / "gone.wav").symlink_to(tmp_path / "nowhere.wav")
    (folder / "notes.txt").write_text("not audio")
    code = main(["predict", "--model", str(SMALL_MODEL), str(folder)])  # (installs the CLI's log handler)
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "gone.wav: skipped, a symbolic link to a missing file" in err
    assert sorted(Path(r["path"]).name for r in _records(out)) == made  # every readable file scored
    assert code == 0, err
    found = [Path(p).name for p, err in expand_audio_paths([str(folder)])]
    assert found == made


def test_a_steady_tone_is_flagged_not_speech(tmp_path, capsys):
    from ser_live.audiofile import write_wav
    from ser_live.offline import TONE_FRACTION, tone_fraction

    t = np.arange(16000) / 16000
    silence = np.zeros(16000)
    y = np.concatenate([silence, 0.3 * np.sin(2 * np.pi * 1000 * t), silence])  # the VAD takes its onset
    tone = write_wav(tmp_path / "tone.wav", y.astype(np.float32))
    code = main(["predict", "--model", str(SMALL_MODEL), str(tone)])
    out, err = capsys.readouterr()
    assert code == 0 and len(_records(out)) == 1 and "Traceback" not in err
    assert "not speech?" in err and "steady tone at 1000 Hz" in err
    from ser_live.audiofile import load_audio

    assert tone_fraction(load_audio(DEMO_WAV))[0] < TONE_FRACTION
    code, err = _run(capsys, "predict", "--model", str(SMALL_MODEL), str(DEMO_WAV))
    assert code == 0 and "not speech?" not in err

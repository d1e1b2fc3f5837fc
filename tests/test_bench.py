"""Smoke tests of ``python -m benchmarks`` (the ``benchmarks/`` package) and of the session
builder it shares with the tests (:mod:`train.sessions`).

No timing is asserted (speed belongs to the benchmark's own output): the reports must exist,
hold every duration bucket with real, positive numbers, and the soak must follow the replay
to its end. Real RAVDESS/EmoDB/TESS speech throughout.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ser_live.audiofile import SAMPLE_RATE_HZ, load_audio
from train.sessions import build_session, corpus_utterances, room_tone, write_session

REPO_ROOT = Path(__file__).resolve().parents[1]
STATS = {"n", "p50", "p95", "max", "mean"}
DURATIONS_S = [1.0, 2.0, 3.0, 4.0, 6.0, 8.0]


def _bench(args: list[str], *, data_root: Path, timeout_s: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, SER_LIVE_DATA=str(data_root))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout_s)


def _positive(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quick_processing_section_writes_json_and_markdown_with_real_numbers(data_root, ravdess_root, emodb_root,
                                                                              tmp_path):
    out = tmp_path / "bench-results"
    r = _bench(["--quick", "--only", "processing", "--output-dir", str(out), "--n-per-bucket", "2",
                "--repeats", "1", "--no-tutorial-default-runtime"], data_root=data_root, timeout_s=600)
    assert r.returncode == 0, r.stderr[-3000:]
    jsons, mds = sorted(out.glob("bench-quick-*.json")), sorted(out.glob("bench-quick-*.md"))
    assert len(jsons) == len(mds) == 1
    res = json.loads((out / "latest.json").read_text())
    assert res == json.loads(jsons[0].read_text())
    md = (out / "latest.md").read_text()
    assert r.stdout.strip() == md.strip()

    assert res["errors"] == {}
    assert res["settings"]["sections"] == ["processing"] and "listen" not in res
    assert res["machine"]["logical_cores"] >= 1 and res["machine"]["versions"]["numpy"]
    assert set(res["contention"]) == {"processing"} and _positive(res["contention"]["processing"]["wall_s"])
    proc = res["processing"]
    assert [b["duration_s"] for b in proc["buckets"]] == DURATIONS_S
    assert proc["n_features"]["ours"] > proc["n_features"]["tutorial"] == 180
    for b in proc["buckets"]:
        for k in ("ours_ms", "ours_cpu_ms", "features_ms", "classify_ms", "tutorial_ms"):
            assert set(b[k]) == STATS and b[k]["n"] == 2
            assert all(_positive(b[k][s]) for s in ("p50", "p95", "max", "mean"))
            assert b[k]["p50"] <= b[k]["p95"] <= b[k]["max"]
        assert _positive(b["ratio_p50"]) and _positive(b["ratio_p95"])
    # the headline row and the table carry the 4 s figure the JSON holds
    b4 = next(b for b in proc["buckets"] if b["duration_s"] == 4.0)
    row = next(x for x in res["summary"] if x["metric"].startswith("processing p95, 4 s utterance (features"))
    assert row["value"] == b4["ours_ms"]["p95"]
    assert f"| 4 s | 2 | {b4['ours_ms']['p50']:.2f} | {b4['ours_ms']['p95']:.2f} |" in md
    # the cost of --denoise on the same 4 s utterances (the denoise extra is a dev dependency;
    # without it the section leaves these rows out, which is checked too)
    if importlib.util.find_spec("noisereduce") is not None:
        assert b4["ours_denoise_ms"]["n"] == b4["denoise_ms"]["n"] == 2
        assert _positive(b4["denoise_ms"]["p50"]) and b4["ours_denoise_ms"]["p50"] > 0
        assert f"| with --denoise (denoise + features + SVM) | 2 | {b4['ours_denoise_ms']['p50']:.2f} |" in md
    else:
        assert not b4.get("ours_denoise_ms") and "with --denoise (denoise" not in md
    # the shipped default's noise branch on the same utterances in pink noise at 10 dB SNR
    assert b4["ours_noisy_ms"]["n"] == b4["classify_noisy_ms"]["n"] == 2 and _positive(b4["ours_noisy_ms"]["p50"])
    assert b4["noise_branch_fraction"] == 1.0  # both went to the branch
    assert f"| 10 dB SNR pink noise (features + noise-branch SVM) | 2 | {b4['ours_noisy_ms']['p50']:.2f} |" in md
    # speaker turns (--speakers 2) on one long run of the same utterances: the wider extraction
    # and the attribution cost thread CPU on top of the one-session path
    one, turns = b4["one_session_ms"], b4["speaker_turns_ms"]
    assert one["n"] == turns["n"] == 120
    assert turns["p50"] > one["p50"] > 0
    row = next(x for x in res["summary"] if x["metric"].startswith("speaker turns (--speakers 2)"))
    assert row["value"] == round(turns["p95"] - one["p95"], 2)
    assert f"| speaker turns (--speakers 2) | 120 | {turns['p50']:.2f} | {turns['p95']:.2f} |" in md
    auto = b4["speaker_turns_auto_ms"]  # --speakers auto: the same wider extraction, the split test
    assert auto["n"] == 120 and auto["p50"] > one["p50"]
    assert f"| speaker turns (--speakers auto) | 120 | {auto['p50']:.2f} | {auto['p95']:.2f} |" in md


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_listen_startup_throughput_sections_measure_what_they_claim(data_root, ravdess_root, emodb_root, tmp_path):
    """Tiny sizes; facts that do not depend on speed: every utterance of the session is found
    and ends at a pause, silence and noise give none, every file is classified."""
    out = tmp_path / "bench-results"
    r = _bench(["--quick", "--only", "listen", "startup", "throughput", "--output-dir", str(out),
                "--session-s", "4", "--silence-s", "3", "--no-headless", "--startup-runs", "1",
                "--startup-cold-runs", "0", "--throughput-files", "2"], data_root=data_root, timeout_s=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / "latest.json").read_text())
    assert res["errors"] == {} and set(res["contention"]) == {"listen", "startup", "throughput"}

    lis = res["listen"]
    runs = {x["name"]: x for x in lis["runs"]}
    assert set(runs) == {"speech+dashboard", "silence+dashboard", "noise-60dBFS+dashboard"}
    speech = runs["speech+dashboard"]
    assert speech["exit_code"] == 0
    assert speech["utterances"] == speech["expected_utterances"] == lis["session"]["utterances"] >= 2
    assert speech["utterances_ended_by_pause"] == speech["utterances"] == speech["end_of_speech_ms"]["n"]
    for name in ("silence+dashboard", "noise-60dBFS+dashboard"):
        assert runs[name]["utterances"] == 0 and runs[name]["exit_code"] == 4  # no speech detected
    for x in runs.values():
        assert x["cpu_pct_core"] is not None and x["cpu_pct_core"] >= 0
        assert x["peak_rss_mb"] > 20 and x["dropped_samples"] == 0
    eos = lis["end_of_speech"]
    assert eos["vad_hold_ms"] <= eos["hangover_ms"] < eos["target_ms"]
    assert eos["end_of_speech_ms"]["p50"] >= 0.9 * eos["vad_hold_ms"]  # the VAD hold is part of it

    st = res["startup"]
    assert st["warm_s"]["n"] == 1 and st["warm_runs"][0]["exit_code"] == 0 and st["cold_s"] == {"n": 0}
    assert {"numpy", "ser_live modules", "model load", "warm-up"} <= set(st["breakdown_ms"])
    # the shipped model's .npz: the listening path imports no scikit-learn, skops or pandas (issue 23)
    assert not {"sklearn", "skops", "pandas"} & set(st["heavy_modules_imported"]), st["heavy_modules_imported"]

    tp = res["throughput"]
    assert tp["files"] == 2 and tp["cli_1_process"]["exit_code"] == 0
    for k in ("cli_1_process", "api_1_worker", "api_2_workers"):
        assert tp[k]["classified"] == 2 and tp[k]["failed"] == 0 and _positive(tp[k]["files_per_s"])
    md = (out / "latest.md").read_text()
    assert "## Listening" in md and "## Start-up" in md and "## Offline throughput" in md


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_soak_follows_a_replay_at_full_speed_to_its_end(data_root, ravdess_root, emodb_root, tmp_path):
    out = tmp_path / "bench-results"
    r = _bench(["--only", "soak", "--soak-s", "90", "--soak-reference-s", "30", "--output-dir", str(out)],
               data_root=data_root, timeout_s=600)
    assert r.returncode == 0, r.stderr[-3000:]
    soak = json.loads((out / "latest.json").read_text())["soak"]
    run = soak["run"]
    assert run["exit_code"] == 0
    assert soak["session"]["audio_s"] >= 90 and soak["session"]["utterances"] >= 10
    # (nearly) every utterance of the session gets a result: nothing is lost at --speed 0
    assert run["utterances"] >= 0.9 * soak["session"]["utterances"]
    assert soak["reference_stream_s"] == 30
    m = soak["rss_mb"]
    assert _positive(m["at_reference"]) and m["peak"] >= m["at_reference"] > 20
    assert m["growth"] == pytest.approx(m["peak"] - m["at_reference"], abs=0.11)
    # the timeline reaches the end of the stream, and the latency of both ends is measured
    assert soak["timeline"][-1]["stream_s"] > 0.8 * soak["session"]["audio_s"]
    assert soak["end_of_speech_ms"]["first"]["n"] == soak["end_of_speech_ms"]["last"]["n"] == 20


def test_interrupts_harness_counts_what_each_ctrl_c_d_run_did(ravdess_root, capsys):
    """``python -m benchmarks.interrupts``, small: 6 runs of ``ser-live predict`` Ctrl-C'd
    0.1 to 0.6 s after they start (the imports, the model's load, the first segments) all
    exit 130 saying ``interrupted``, no traceback, within 2 s of the signal; the table says so.
    (300 runs: the full harness.)"""
    from benchmarks.interrupts import main

    assert main(["--runs", "6", "--to-s", "0.6"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "| right | 6 |" in out, out


@pytest.mark.microphone
def test_interrupts_harness_stops_microphone_runs_and_checks_portaudio_after_each(capsys):
    """``python -m benchmarks.interrupts --microphone``, small: 4 runs listening to a
    PulseAudio null sink's source, Ctrl-C'd 0.6 to 2.0 s after they start (PortAudio
    initialising, the device opening, listening), all end right (exit 130, no traceback,
    within 2 s) and a fresh PortAudio starts after each; the table accounts for every run.
    (300 runs from 0.1 s: the full harness.)"""
    from benchmarks.interrupts import main
    from tests.pulse import missing_requirements

    missing = missing_requirements()
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    assert main(["--microphone", "--runs", "4", "--from-s", "0.6", "--to-s", "2.0"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "| right | 4 |" in out and "a PulseAudio null sink's source" in out, out


def test_unknown_section_is_a_usage_error(data_root, tmp_path):
    r = _bench(["--only", "nonsense", "--output-dir", str(tmp_path / "out")], data_root=data_root, timeout_s=120)
    assert r.returncode == 2 and "nonsense" in r.stderr
    assert not (tmp_path / "out").exists()


def test_ser_live_has_no_bench_command(capsys):
    """The benchmarks are `python -m benchmarks` (outside the installed package): `ser-live
    bench` is a usage error and `--help` does not list it."""
    from ser_live.cli import main

    assert main(["bench"]) == 2
    assert "invalid choice: 'bench'" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "bench" not in capsys.readouterr().out


# ---------------------------------------------------------------------- sessions
def test_session_holds_each_trimmed_utterance_between_room_tone_pauses(ravdess_root):
    files = sorted(ravdess_root.glob("Actor_01/*.flac"))[:4]
    utts = list(corpus_utterances(files))
    raw = [load_audio(p) for p in files]
    assert all(0 < len(u) < len(y) for u, y in zip(utts, raw))  # trimmed to the speech span
    tone = room_tone(files)
    s = build_session(iter(utts), pauses_s=(1.0, 1.5), pause_fill=tone, tail_s=0.5)
    sr = SAMPLE_RATE_HZ
    assert s.n_utterances == 4
    starts = [a for a, _ in s.spans]
    assert starts[0] == sr and starts[1] - s.spans[0][1] == int(1.5 * sr)
    for (a, b), u in zip(s.spans, utts):
        assert b - a == len(u)
        np.testing.assert_allclose(s.samples[a:b] / 32768.0, u, atol=1 / 32768.0 + 1e-6)
    assert len(s.samples) == s.spans[-1][1] + sr // 2
    pause = s.samples[: s.spans[0][0]].astype(np.float64) / 32768.0
    assert np.any(pause != 0) and s.pause_dbfs is not None and -100 < s.pause_dbfs < -40  # room tone, not zeros
    assert 10 * np.log10(np.mean(pause**2) + 1e-20) < -40


def test_session_stops_at_its_minimum_length_and_streams_to_a_file(ravdess_root, tmp_path):
    files = sorted(ravdess_root.glob("Actor_02/*.flac"))[:3]
    s = build_session(corpus_utterances(files, cycle=True), min_duration_s=20.0)
    assert s.duration_s >= 20.0 and s.n_utterances >= 5  # cycled past the three files
    assert np.all(s.samples[: SAMPLE_RATE_HZ] == 0)  # digital silence without a pause fill
    n, dur = write_session(tmp_path / "s.flac", corpus_utterances(files, cycle=True), duration_s=20.0)
    y = load_audio(tmp_path / "s.flac")
    assert n == s.n_utterances and dur == pytest.approx(len(y) / SAMPLE_RATE_HZ)
    assert dur == pytest.approx(s.duration_s + 1.5)  # write_session ends with a 1.5 s pause


def test_thread_cpu_listens_to_a_microphone_and_to_a_file(data_root, ravdess_root):
    """``python -m benchmarks.thread_cpu``: the same short session replayed from a file and
    played into a PulseAudio null sink that ser-live listens to as its microphone; both report
    the process's and each thread's CPU and every utterance's end-of-speech latency, the
    microphone run with no file-source thread and with the ``--ser-live-args`` it was given."""
    from tests.pulse import missing_requirements

    missing = missing_requirements()
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    env = dict(os.environ, SER_LIVE_DATA=str(data_root))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    runs = {}
    for source in ("file", "microphone"):
        cmd = [sys.executable, "-m", "benchmarks.thread_cpu", "--seconds", "8", "--plain",
               "--ser-live-args", "--block-ms 40", *(["--microphone"] if source == "microphone" else [])]
        res = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stdout + res.stderr
        runs[source] = json.loads(res.stdout.strip().splitlines()[-1])
    for source, r in runs.items():
        assert r["source"] == source and r["exit"] == 0 and r["ser_live_args"] == "--block-ms 40"
        assert r["utterances"] >= 2 and _positive(r["process"]) and _positive(r["ser-live-segmenter"])
        p50, p95 = r["end_of_speech_ms_p50_p95"]
        assert 300 < p50 <= p95 < 2000  # the 400 ms hangover holds each result back
        assert r["process"] >= r["main thread"] + r["ser-live-segmenter"] + r["ser-live-worker"] - 0.05
    assert "ser-live-file-source" in runs["file"] and "ser-live-file-source" not in runs["microphone"]
    assert runs["microphone"]["wall"] > runs["microphone"]["session_s"]  # it listened for the whole session


def test_dashboard_redraw_times_every_redraw_of_a_two_voice_conversation(emodb_root):
    """``benchmarks.dashboard_redraw``: an EmoDB conversation of two voices with ``--speakers
    2``, a result redraw per result and the status redraws after each, every panel alone."""
    from benchmarks.dashboard_redraw import conversation_results, measure

    results = conversation_results(6, speakers=2, data_root=emodb_root.parent)
    assert len(results) >= 5, "the segmenter should cut the six sentences"
    assert {r.speaker for r in results} == {"A", "B"}
    out = measure(results, width=100, height=30, status=3, repeats=2)
    assert out["result_redraw"]["n"] == len(results)
    assert out["status_redraw"]["n"] == 3 * len(results)
    assert set(out["panels"]) == {"timeline", "emotion", "status", "header"}
    for row in [out["result_redraw"], out["status_redraw"], *out["panels"].values()]:
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["max_ms"]
    # a result redraws the panels a status change keeps: it costs more than a status redraw
    assert out["result_redraw"]["p50_ms"] > out["status_redraw"]["p50_ms"]


@pytest.mark.parametrize("tool", ["benchmarks", "benchmarks.live_offline"])
def test_an_output_dir_that_cannot_be_written_is_refused_before_anything_runs(data_root, tmp_path, tool):
    """An ``--output-dir`` under a file was found only when the reports were written: after
    every section had run (minutes; an hour for live_offline), with a traceback and the results
    lost. It is a usage error (exit 2) before the first section, naming the folder and the way out."""
    (tmp_path / "file").write_text("in the way\n")
    bad = tmp_path / "file" / "out"
    args = {"benchmarks": ["--quick", "--only", "processing", "--n-per-bucket", "1", "--repeats", "1",
                           "--no-tutorial-default-runtime"],
            "benchmarks.live_offline": ["--quick", "--corpora", "emodb", "--only-speakers", "emodb-03", "--levels",
                                        "-20", "--floors", "silence", "--per-class", "1", "--no-heard", "--model",
                                        f"emodb={REPO_ROOT / 'models' / 'ser-default.skops'}"]}[tool]
    env = dict(os.environ, SER_LIVE_DATA=str(data_root))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    r = subprocess.run([sys.executable, "-m", tool, *args, "--output-dir", str(bad)], cwd=REPO_ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr[-3000:]
    assert f"cannot write reports to {bad}" in r.stderr and "--output-dir" in r.stderr and "--no-save" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert (tmp_path / "file").read_text() == "in the way\n"


def test_output_dir_problem_creates_a_writable_folder_and_leaves_nothing_in_it(tmp_path):
    from benchmarks.common import output_dir_problem

    out = tmp_path / "a" / "b"
    assert output_dir_problem(out) is None
    assert out.is_dir() and list(out.iterdir()) == []
    (tmp_path / "f").write_text("")
    assert "cannot write reports to" in output_dir_problem(tmp_path / "f")


@pytest.mark.parametrize("tool,args", [
    ("live_offline", ["--quick", "--no-save", "--corpora", "emodb", "nosuch"]),
    ("conversations", ["--corpora", "nosuch"]),
    ("conversations", ["attribution", "--corpora", "nosuch"]),
    ("speaker_encoders", ["--corpora", "emodb", "nosuch", "--encoders", "light"]),
    ("cut_padding", ["--corpora", "emodb", "nosuch"]),
    ("audio_cost", ["--corpora", "emodb", "nosuch"]),
    ("vad_splits", ["--corpus", "nosuch"]),
])
def test_an_unknown_corpus_name_is_a_usage_error_listing_the_known_ones(data_root, monkeypatch, capsys, tool, args):
    """A misspelt corpus was a ValueError traceback (vad_splits, speaker_encoders), advice to
    fit a fold model ``--exclude-corpus nosuch`` (conversations) or a fold-model fit that
    failed with exit 1 (live_offline). Each exits 2 before any work, naming the corpus and the
    known ones."""
    import importlib

    monkeypatch.setenv("SER_LIVE_DATA", str(data_root))
    main = importlib.import_module(f"benchmarks.{tool}").main
    assert main(args) == 2
    captured = capsys.readouterr()
    assert "error: unknown corpus 'nosuch'; choose one of ravdess, tess, emodb" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


@pytest.mark.parametrize("tool,args", [
    ("vad_noise", []), ("vad_splits", ["--corpus", "emodb"]), ("dashboard_redraw", ["--utterances", "2"]),
    ("speaker_encoders", ["--corpora", "emodb", "--encoders", "light"]), ("conversations", ["attribution"]),
    ("cut_padding", ["--corpora", "emodb"]), ("audio_cost", ["--corpora", "emodb"]),
])
def test_a_corpora_folder_without_the_corpus_exits_3_saying_where_it_looked(tmp_path, monkeypatch, capsys, tool,
                                                                             args):
    """An empty corpora folder ($SER_LIVE_DATA, or vad_noise's --data) was a FileNotFoundError or
    CorpusNotFoundError traceback; it is exit 3 (the benchmarks' "corpora missing"), saying
    where it looked and how to point elsewhere."""
    import importlib

    monkeypatch.setenv("SER_LIVE_DATA", str(tmp_path))
    main = importlib.import_module(f"benchmarks.{tool}").main
    assert main(args + (["--data", str(tmp_path)] if tool == "vad_noise" else [])) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(tmp_path) in err and "SER_LIVE_DATA" in err and "Traceback" not in err


def test_a_model_that_cannot_be_loaded_is_a_one_line_error_before_any_section(data_root, tmp_path):
    """``python -m benchmarks --model missing.skops`` was a ModelError traceback (exit 1, the
    status of a failed section); it is exit 2 with the model's own one-line message."""
    r = _bench(["--only", "processing", "--model", str(tmp_path / "missing.skops"), "--output-dir",
                str(tmp_path / "out")], data_root=data_root, timeout_s=120)
    assert r.returncode == 2, r.stderr[-3000:]
    assert r.stderr == (f"benchmarks: error: model file {tmp_path / 'missing.skops'} not found; pass a model file or a "
                        "shipped model's name (7class, default, noisy), or train one with `python -m train fit`\n")
    assert r.stdout == "" and not list((tmp_path / "out").glob("bench-*"))


@pytest.mark.parametrize("tool", ["live_offline", "vad_splits"])
@pytest.mark.parametrize("floor", ["loud:-30", "pink:abc", "pink"])
def test_a_bad_floor_is_a_usage_error_naming_the_option(capsys, tool, floor):
    """``--floors loud:-30`` exited 1 (the status of a failed run) from live_offline and
    ``--floors pink:abc`` was a float() traceback; vad_splits found either only after building
    the first sessions. Each is an argparse usage error (exit 2) naming --floors."""
    import importlib

    main = importlib.import_module(f"benchmarks.{tool}").main
    with pytest.raises(SystemExit) as exc:
        main(["--floors", "silence", floor])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument --floors: bad floor {floor!r}: 'silence' or white|pink|fan:DBFS" in err
    assert "Traceback" not in err


def test_live_offline_model_for_a_corpus_is_checked_before_the_sessions(data_root, monkeypatch, tmp_path, capsys):
    """``--model emodb=missing.skops`` was found by ``ser-live predict`` after the offline
    sessions were built (exit 1), and a model for a corpus not among --corpora was silently
    unused; both are exit 2 before any work."""
    from benchmarks.live_offline import main

    monkeypatch.setenv("SER_LIVE_DATA", str(data_root))
    missing = tmp_path / "missing.skops"
    base = ["--quick", "--no-save", "--corpora", "emodb", "--only-speakers", "emodb-03", "--floors", "silence",
            "--levels", "-20", "--per-class", "1", "--no-heard"]
    assert main([*base, "--model", f"emodb={missing}"]) == 2
    assert capsys.readouterr().err == (f"error: --model emodb={missing}: no such file; pass the fold model's .skops "
                                       "file, or leave --model out to fit one\n")
    shipped = REPO_ROOT / "models" / "ser-default.skops"
    assert main([*base, "--model", f"ravdess={shipped}"]) == 2
    assert capsys.readouterr().err == f"error: --model ravdess={shipped}: ravdess is not among --corpora (emodb)\n"


@pytest.mark.parametrize("tool,args", [
    ("conversations", ["attribution", "--corpora", "emodb", "--pairs", "1", "--utterances", "4"]),
    ("speaker_encoders", ["--corpora", "emodb", "--pairs", "1", "--encoders", "light"]),
    ("cut_padding", ["--corpora", "emodb", "--pairs", "1"]),
    ("audio_cost", ["--corpora", "emodb", "--speakers", "1"]),
])
def test_a_json_path_that_cannot_be_written_is_refused_before_the_run(data_root, monkeypatch, tmp_path, capsys, tool,
                                                                      args):
    """``--json`` under a file was written after the run: a traceback, exit 1, the full result
    lost (only the Markdown table printed). It is exit 2 before any work, saying what is in
    the way."""
    import importlib

    monkeypatch.setenv("SER_LIVE_DATA", str(data_root))
    (tmp_path / "file").write_text("")
    bad = tmp_path / "file" / "result.json"
    assert importlib.import_module(f"benchmarks.{tool}").main([*args, "--json", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"error: cannot write {bad}: {tmp_path / 'file'} is a file, not a folder; pass --json FILE "
                            "in a folder you can write to\n")
    assert captured.out == ""
    assert importlib.import_module(f"benchmarks.{tool}").main([*args, "--json", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: cannot write {tmp_path}: it is a folder")


@pytest.mark.parametrize("tool,args,option,message", [
    ("dashboard_redraw", ["--utterances", "2", "--repeats", "0"], "--repeats", "must be at least 1, got 0"),
    ("dashboard_redraw", ["--utterances", "2", "--status", "0"], "--status", "must be at least 1, got 0"),
    ("ab_inprocess", [str(REPO_ROOT), "--utterances", "0"], "--utterances", "must be at least 1, got 0"),
    ("ab_inprocess", [str(REPO_ROOT), "--rounds", "0"], "--rounds", "must be at least 1, got 0"),
    ("ab_inprocess", [str(REPO_ROOT), "--duration", "0"], "--duration", "must be above 0, got 0"),
    ("ab_inprocess", [str(REPO_ROOT), "--duration", "nan"], "--duration", "must be above 0, got nan"),
])
def test_counts_of_nothing_are_usage_errors_not_tracebacks(data_root, monkeypatch, capsys, tool, args, option,
                                                           message):
    """``dashboard_redraw --repeats 0`` (or ``--status 0``) measured every redraw, then took the
    statistics of none: an IndexError. ``ab_inprocess --utterances 0``, ``--rounds 0`` and
    ``--duration 0`` were an IndexError, a ValueError of min() and of concatenate. Exit 2."""
    import importlib

    monkeypatch.setenv("SER_LIVE_DATA", str(data_root))
    with pytest.raises(SystemExit) as exc:
        importlib.import_module(f"benchmarks.{tool}").main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {option}: {message}" in err and "Traceback" not in err

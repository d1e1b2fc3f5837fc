"""Smoke test of ``ser-live bench`` (:mod:`ser_live.bench`): every section runs, in a tiny
size, on real RAVDESS/EmoDB speech, and the JSON and Markdown reports hold what the issue
asks for. No timing is asserted (speed belongs to the benchmark's own output): only the
structure, the counts of what was measured, and facts that do not depend on speed (the
session's utterances are all found, silence yields none, every file is classified).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from ser_live.bench import DURATION_BUCKETS_S, SECTIONS, add_bench_arguments, run_bench

from .test_pipeline import test_model_path  # noqa: F401 (fixture)

STATS = {"n", "p50", "p95", "max", "mean"}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_bench_tiny_run_writes_complete_json_and_markdown(data_root, ravdess_root, emodb_root,
                                                          test_model_path, tmp_path, capsys):  # noqa: F811
    parser = add_bench_arguments(argparse.ArgumentParser())
    out = tmp_path / "bench-results"
    args = parser.parse_args([
        "--quick", "--data", str(data_root), "--model", str(test_model_path), "--output-dir", str(out),
        "--n-per-bucket", "1", "--repeats", "1", "--tutorial-fit-files", "16", "--no-tutorial-default-runtime",
        "--session-s", "4", "--silence-s", "3", "--no-headless",
        "--startup-runs", "1", "--startup-cold-runs", "0", "--throughput-files", "2",
    ])
    assert run_bench(args) == 0
    printed = capsys.readouterr().out
    res = json.loads((out / "latest.json").read_text())
    md = (out / "latest.md").read_text()
    assert printed.strip() == md.strip()
    assert sorted(out.glob("bench-quick-*.json")) and sorted(out.glob("bench-quick-*.md"))

    assert res["errors"] == {}
    m = res["machine"]
    assert m["cpu_model"] and m["logical_cores"] >= 1
    for lib in ("python", "numpy", "sklearn", "librosa", "ser_live"):
        assert m["versions"][lib]
    assert res["settings"]["sections"] == list(SECTIONS)
    assert set(res["contention"]) == set(SECTIONS)
    for c in res["contention"].values():
        assert {"wall_s", "busy_cores", "ours_cores", "others_cores"} <= set(c)

    # 1. processing: every duration bucket, ours and the tutorial, one timing each
    proc = res["processing"]
    assert [b["duration_s"] for b in proc["buckets"]] == list(DURATION_BUCKETS_S)
    assert proc["n_features"]["ours"] > proc["n_features"]["tutorial"] == 180
    for b in proc["buckets"]:
        for k in ("ours_ms", "ours_cpu_ms", "features_ms", "classify_ms", "tutorial_ms"):
            assert set(b[k]) == STATS and b[k]["n"] == 1
        assert b["ratio_p50"] > 0 and b["ratio_p95"] > 0

    # 2, 3, 6. listening: the session's utterances are all found, silence and noise give none
    lis = res["listen"]
    runs = {r["name"]: r for r in lis["runs"]}
    assert set(runs) == {"speech+dashboard", "silence+dashboard", "noise-60dBFS+dashboard"}
    speech = runs["speech+dashboard"]
    assert speech["exit_code"] == 0
    assert speech["utterances"] == speech["expected_utterances"] == lis["session"]["utterances"] >= 2
    assert speech["utterances_ended_by_pause"] == speech["utterances"]
    assert speech["end_of_speech_ms"]["n"] == speech["utterances"]
    for name in ("silence+dashboard", "noise-60dBFS+dashboard"):
        assert runs[name]["utterances"] == 0 and runs[name]["exit_code"] == 4  # no speech detected
    for r in runs.values():
        assert r["cpu_pct_core"] is not None and r["cpu_pct_core"] >= 0
        assert r["peak_rss_mb"] > 20
        assert r["dropped_samples"] == 0
    eos = lis["end_of_speech"]
    assert eos["hangover_ms"] == 400 and eos["vad_hold_ms"] == 360 and eos["target_ms"] == 420
    assert set(eos["end_of_speech_ms"]) == STATS

    # 4. start-up: the warm run reached "replaying" and the breakdown covers the imports
    st = res["startup"]
    assert st["warm_s"]["n"] == 1 and st["warm_runs"][0]["exit_code"] == 0
    assert st["cold_s"] == {"n": 0}
    assert {"numpy+scipy.fft", "model load", "warm-up"} <= set(st["breakdown_ms"])

    # 5. throughput: both files classified by the CLI and by 1 and 2 workers
    tp = res["throughput"]
    assert tp["files"] == 2
    assert tp["cli_1_process"]["exit_code"] == 0
    for k in ("cli_1_process", "api_1_worker", "api_2_workers"):
        assert tp[k]["classified"] == 2 and tp[k]["failed"] == 0 and tp[k]["files_per_s"] > 0

    # the report: the headline table against the targets, and the per-duration table
    metrics = [r["metric"] for r in res["summary"]]
    assert any("processing p95, 4 s" in x for x in metrics)
    assert any("end-of-speech p95" in x for x in metrics)
    assert any("peak RSS" in x for x in metrics)
    assert "| metric | value | target |" in md
    assert "| 8 s |" in md and "## Start-up" in md and "## Offline throughput" in md


def test_bench_rejects_unknown_sections(tmp_path, capsys):
    parser = add_bench_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--sections", "processing,nonsense", "--output-dir", str(tmp_path)])
    assert run_bench(args) == 2
    assert "nonsense" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())

"""Section ``processing``: features + classification of one utterance, by duration, side by
side with the tutorial recipe.

Each utterance is timed exactly as the worker thread processes it (``extractor.extract`` then
``predict_features``, i.e. :meth:`EmotionModel.predict_signal` on int16 samples), on real
speech of RAVDESS and EmoDB cropped, or joined, to 1, 2, 3, 4, 6 and 8 s. The reference is
:func:`train.tutorial.tutorial_features` (three librosa calls, each with its own STFT, frame
means, 180 values) and an RBF SVM fitted on a few files; wall-clock p50/p95/max, CPU time of
the calling thread, and the ratio. Optionally the tutorial is timed again in a fresh process
(:mod:`benchmarks.child_tutorial`) with the default runtime settings a tutorial script has.
For a model with a noise branch (:mod:`ser_live.route`) the 4 s utterances are timed again
mixed with pink noise at 10 dB SNR, where the branch's classifier runs instead of the main one.
Speaker turns (``ser-live --speakers 2``, issue 25's "live budget": p95 within 1 ms of the same
build without them) are timed on the same 4 s utterances as one long run, each utterance
through the worker's two code paths in turn: :func:`ser_live.offline.classify_utterance` with
the run's one session, and :func:`ser_live.offline.classify_turn` (the wider extraction with the
speaker embedding's columns, attribution and re-clustering, the speaker's session).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from train.augment import colored_noise, mix_at_snr
from train.tutorial import TUTORIAL_N_FEATURES, tutorial_features

from .common import (
    REPO_ROOT, SR, BenchContext, Record, child_env, corpus_utterances, fmt, log, md_table, module_cmd, progress, stats,
    to_int16,
)

NAME = "processing"

#: Utterance durations (s) of the processing-latency table.
DURATION_BUCKETS_S: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)

_INT16_SCALE = np.float32(32768.0)


def _bucket_utterances(segments: Sequence[np.ndarray], *, duration_s: float, n: int, start: int
                       ) -> tuple[list[np.ndarray], int]:
    """``n`` int16 utterances of exactly ``duration_s`` of real speech: a segment cropped, or
    consecutive segments joined, then cropped. Returns them and the next cursor."""
    need = int(round(duration_s * SR))
    out, cur = [], start
    for _ in range(n):
        parts, have = [], 0
        while have < need:
            seg = segments[cur % len(segments)]
            cur += 1
            parts.append(seg)
            have += len(seg)
        out.append(to_int16(np.concatenate(parts)[:need]))
    return out, cur


def _stratified(records: Sequence[Record], n: int, rng: np.random.Generator) -> list[Record]:
    """``n`` records, taking the labels in turn (random records within each)."""
    by_label: dict[str, list[Record]] = {}
    for r in records:
        by_label.setdefault(r.label, []).append(r)
    pools = [[v[i] for i in rng.permutation(len(v))] for _k, v in sorted(by_label.items())]
    out: list[Record] = []
    while len(out) < n and any(pools):
        for pool in pools:
            if pool and len(out) < n:
                out.append(pool.pop())
    return out


def _fit_tutorial_svm(records: Sequence[Record]) -> tuple[Any, int]:
    """The tutorial features of each file (trimmed) and scaler + RBF SVC with probabilities
    (Platt-calibrated by cross-validation) fitted on them. Returns (estimator, n files)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X = [tutorial_features(y) for y in corpus_utterances([r.path for r in records])]
    labels = sorted({r.label for r in records})
    y_arr = np.asarray([labels.index(r.label) for r in records])
    folds = int(max(2, min(3, np.bincount(y_arr).min())))
    est = make_pipeline(
        StandardScaler(),
        CalibratedClassifierCV(SVC(C=10.0, gamma="scale"), method="sigmoid", cv=folds, ensemble=False),
    )
    est.fit(np.asarray(X), y_arr)
    return est, len(X)


def run(ctx: BenchContext, *, seed: int = 0) -> dict[str, Any]:
    """Processing latency per utterance by duration, ours vs the tutorial recipe + SVM.

    Parameters
    ----------
    ctx : BenchContext
        Uses ``model``, ``corpora`` (RAVDESS and EmoDB) and ``sizes``.
    seed : int, default 0

    Returns
    -------
    dict
        ``buckets``: per duration, statistics (ms) of ``ours`` (wall), ``ours_cpu`` (CPU time
        of the calling thread), ``features``, ``classify``, ``tutorial``, ``tutorial_cpu``, and
        ``ratio_p50`` / ``ratio_p95`` (tutorial / ours); for 4 s also ``ours_denoise``,
        ``denoise`` (with noisereduce), ``ours_noisy``, ``classify_noisy`` and
        ``noise_branch_fraction`` (a model with a noise branch), ``one_session`` and
        ``speaker_turns`` (a model with a session normaliser); plus feature counts.
    """
    sizes, model = ctx.sizes, ctx.model
    rav, emo = ctx.corpora.ravdess_paths, ctx.corpora.emodb_paths
    rng = np.random.default_rng(seed)
    n_src = max(4, min(len(rav), len(emo), sizes.n_per_bucket * 4))
    src = [rav[i] for i in rng.choice(len(rav), n_src, replace=False)]
    src_e = [emo[i] for i in rng.choice(len(emo), n_src, replace=False)]
    progress(f"processing: decoding and trimming {2 * n_src} RAVDESS/EmoDB files")
    seg_r, seg_e = list(corpus_utterances(src)), list(corpus_utterances(src_e))
    segments = [s for pair in zip(seg_r, seg_e) for s in pair]  # alternate the corpora
    utts: dict[float, list[np.ndarray]] = {}
    cur = 0
    for d in DURATION_BUCKETS_S:
        utts[d], cur = _bucket_utterances(segments, duration_s=d, n=sizes.n_per_bucket, start=cur)

    fit = _stratified(ctx.corpora.ravdess, max(16, sizes.tutorial_fit_files), rng)  # >= 2 per emotion
    progress(f"processing: fitting the tutorial SVM on {len(fit)} RAVDESS files (librosa; numba compiles)")
    t0 = time.perf_counter()
    tut, n_fit = _fit_tutorial_svm(fit)
    tutorial_setup_s = time.perf_counter() - t0

    fx = model.extractor
    x0 = utts[DURATION_BUCKETS_S[0]][0]
    model.predict_features(fx.extract(x0))  # warm-up, as the Recognizer does before listening
    tut.predict_proba(tutorial_features(x0.astype(np.float32) / _INT16_SCALE)[None])

    keys = ("ours", "ours_cpu", "features", "classify", "tutorial", "tutorial_cpu")
    rec: dict[float, dict[str, list[float]]] = {d: {k: [] for k in keys} for d in DURATION_BUCKETS_S}
    progress(f"processing: timing {sizes.n_per_bucket} utterances x {len(DURATION_BUCKETS_S)} durations "
             f"x {sizes.repeats} repeats, ours and tutorial in alternating blocks")
    pc, tt = time.perf_counter, time.thread_time

    def time_ours(x: np.ndarray, r: dict[str, list[float]]) -> None:
        c0, t0 = tt(), pc()
        v = fx.extract(x)
        t1 = pc()
        model.predict_features(v)
        t2, c2 = pc(), tt()
        r["ours"].append((t2 - t0) * 1e3)
        r["ours_cpu"].append((c2 - c0) * 1e3)
        r["features"].append((t1 - t0) * 1e3)
        r["classify"].append((t2 - t1) * 1e3)

    def time_tutorial(x: np.ndarray, r: dict[str, list[float]]) -> None:
        y = x.astype(np.float32) / _INT16_SCALE
        c0, t0 = tt(), pc()
        tut.predict_proba(tutorial_features(y)[None])
        t1, c1 = pc(), tt()
        r["tutorial"].append((t1 - t0) * 1e3)
        r["tutorial_cpu"].append((c1 - c0) * 1e3)

    # Each recipe runs its utterances of a bucket as one block (as a worker thread would run
    # alone, with its own data in cache); blocks alternate in order between repeats.
    for rep in range(sizes.repeats):
        for d in DURATION_BUCKETS_S:
            for fn in ((time_ours, time_tutorial) if rep % 2 == 0 else (time_tutorial, time_ours)):
                for x in utts[d]:
                    fn(x, rec[d])
    den = _time_denoise(model, utts.get(4.0, []), repeats=sizes.repeats)
    den.update(_time_noise_branch(model, utts.get(4.0, []), repeats=sizes.repeats, seed=seed))
    den.update(_time_speaker_turns(model, utts.get(4.0, [])))
    branch_flags = den.pop("noise_branch", [])
    alone: dict[str, list[float]] = {}
    if sizes.tutorial_default_runtime:
        progress("processing: the tutorial recipe again in a fresh process with default runtime settings")
        alone = _tutorial_in_fresh_process(tut, utts, repeats=sizes.repeats, workdir=ctx.workdir)
    buckets = []
    for d in DURATION_BUCKETS_S:
        b: dict[str, Any] = {"duration_s": d, "n_utterances": len(utts[d])}
        for k, v in rec[d].items():
            b[k + "_ms"] = stats(v)
        b["ratio_p50"] = round(b["tutorial_ms"]["p50"] / b["ours_ms"]["p50"], 2)
        b["ratio_p95"] = round(b["tutorial_ms"]["p95"] / b["ours_ms"]["p95"], 2)
        if d == 4.0 and den:
            b.update({k + "_ms": stats(v) for k, v in den.items()})
        if d == 4.0 and branch_flags:
            b["noise_branch_fraction"] = round(float(np.mean(branch_flags)), 3)
        if alone.get(str(d)):
            b["tutorial_default_runtime_ms"] = stats(alone[str(d)])
            b["ratio_default_runtime_p50"] = round(b["tutorial_default_runtime_ms"]["p50"] / b["ours_ms"]["p50"], 2)
        buckets.append(b)
    return {
        # the columns the model's extractor computes (those the model reads; all when it has no subset)
        "n_features": {"ours": int(fx.n_features if getattr(fx, "columns", None) is None else len(fx.columns)),
                       "of": int(fx.n_features), "tutorial": TUTORIAL_N_FEATURES},
        "tutorial_classifier": "StandardScaler + SVC(rbf, C=10) with sigmoid-calibrated probabilities",
        "tutorial_fit_files": n_fit,
        "tutorial_default_runtime": (
            "the tutorial recipe timed again in a fresh Python process that has not made a "
            "FeatureExtractor, i.e. with the default OpenBLAS threads and glibc allocator, as a "
            "tutorial script runs; 'ratio' uses the tutorial timed in this process (same runtime)"
        ),
        "tutorial_setup_s": round(tutorial_setup_s, 2),
        "sources": {"ravdess_files": len(src), "emodb_files": len(src_e)},
        "buckets": buckets,
    }


def _time_noise_branch(model: Any, utts: Sequence[np.ndarray], *, repeats: int, seed: int) -> dict[str, list[float]]:
    """Milliseconds per utterance of the same utterances mixed with pink noise at 10 dB SNR
    (:func:`train.augment.mix_at_snr`): ``ours_noisy`` (features + classification, wall) and
    ``classify_noisy``, and ``noise_branch`` (1.0 per utterance the noise branch took, else
    0.0); empty for a model without a noise branch."""
    if getattr(model, "noise_route", None) is None or not utts:
        return {}
    noisy = []
    for i, x in enumerate(utts):
        y = x.astype(np.float32) / _INT16_SCALE
        noise = colored_noise("pink", y.size, seed=seed + i)
        noisy.append(to_int16(np.clip(mix_at_snr(y, noise, snr_db=10.0), -1.0, 1.0)))
    progress(f"processing: timing the noise branch on {len(noisy)} utterances of 4 s in pink noise at 10 dB SNR x {repeats} repeats")
    fx, pc = model.extractor, time.perf_counter
    out: dict[str, list[float]] = {"ours_noisy": [], "classify_noisy": [], "noise_branch": []}
    for _ in range(repeats):
        for x in noisy:
            t0 = pc()
            v = fx.extract(x)
            t1 = pc()
            pred = model.predict_features(v)
            t2 = pc()
            out["ours_noisy"].append((t2 - t0) * 1e3)
            out["classify_noisy"].append((t2 - t1) * 1e3)
            out["noise_branch"].append(1.0 if pred.noise_branch else 0.0)
    return out


#: Utterances of the speaker-turns run: the assigner re-clusters the embeddings it keeps (up to
#: 200), so its cost grows with the run; 120 puts most of the timed utterances past 60.
TURNS_RUN_UTTERANCES: int = 120


def _time_speaker_turns(model: Any, utts: Sequence[np.ndarray], *,
                        n_utterances: int = TURNS_RUN_UTTERANCES) -> dict[str, list[float]]:
    """Milliseconds per utterance (CPU time of the calling thread, as the worker thread spends
    it; wall time on a shared machine moves more with the other jobs than with the
    difference measured here) of one run of ``n_utterances`` (the 4 s utterances
    cycled), each through the three worker paths in turn: ``one_session`` (features, the run's
    one session, classification), ``speaker_turns`` (features with the embedding's columns,
    attribution to one of the run's 2 speakers, that speaker's session, classification; the
    :class:`~ser_live.speakers.SpeakerSessions` of ``ser-live --speakers 2``) and
    ``speaker_turns_auto`` (the same with ``--speakers auto``: the split test instead of the
    known count); and ``speaker_turns_after``: what the worker does for ``--speakers 2`` once
    the result is out, off the latency path (the re-clustering's moved labels and the sessions
    following them, :meth:`~ser_live.speakers.SpeakerSessions.follow`). Empty for a model without a session
    normaliser or without utterances."""
    if getattr(model, "normalizer", None) is None or not utts:
        return {}
    from ser_live.offline import classify_turn, classify_utterance
    from ser_live.speakers import SpeakerSessions, speaker_mode

    progress(f"processing: timing speaker turns (--speakers 2) on a run of {n_utterances} utterances of 4 s")
    n_auto, _ = speaker_mode("auto")
    one, turns = model.new_session(), SpeakerSessions(model, max_speakers=2, known=True)
    auto = SpeakerSessions(model, max_speakers=n_auto)
    for warm in (SpeakerSessions(model, max_speakers=2, known=True), SpeakerSessions(model, max_speakers=n_auto)):
        classify_turn(model, utts[0], warm)  # each path's extractor (auto's reads more columns) warmed
    tt = time.thread_time
    out: dict[str, list[float]] = {"one_session": [], "speaker_turns": [], "speaker_turns_auto": [],
                                   "speaker_turns_after": []}
    for i in range(n_utterances):
        x = utts[i % len(utts)]
        t0 = tt()
        classify_utterance(model, x, one)
        t1 = tt()
        _, _, feats, who = classify_turn(model, x, turns)
        t2 = tt()
        turns.follow(i, who, feats)
        t3 = tt()
        classify_turn(model, x, auto)
        t4 = tt()
        out["one_session"].append((t1 - t0) * 1e3)
        out["speaker_turns"].append((t2 - t1) * 1e3)
        out["speaker_turns_after"].append((t3 - t2) * 1e3)
        out["speaker_turns_auto"].append((t4 - t3) * 1e3)
    return out


def _time_denoise(model: Any, utts: Sequence[np.ndarray], *, repeats: int) -> dict[str, list[float]]:
    """Milliseconds per utterance with ``--denoise`` (:func:`ser_live.denoise.with_denoise`):
    ``denoise`` alone and ``ours_denoise`` (denoise + features + SVM, wall), the same
    utterances as the plain rows; empty when ``noisereduce`` is not installed (logged)."""
    from ser_live.denoise import DenoiseUnavailableError, denoise, with_denoise

    try:
        dm = with_denoise(model)
    except DenoiseUnavailableError as exc:
        log.warning("processing: no --denoise row: %s", exc)
        return {}
    if not utts:
        return {}
    progress(f"processing: timing --denoise on {len(utts)} utterances of 4 s x {repeats} repeats")
    dm.predict_features(dm.extractor.extract(utts[0]))  # warm-up
    out: dict[str, list[float]] = {"denoise": [], "ours_denoise": []}
    pc = time.perf_counter
    for _ in range(repeats):
        for x in utts:
            t0 = pc()
            denoise(x)
            t1 = pc()
            dm.predict_features(dm.extractor.extract(x))
            t2 = pc()
            out["denoise"].append((t1 - t0) * 1e3)
            out["ours_denoise"].append((t2 - t1) * 1e3)
    return out


def _tutorial_in_fresh_process(est: Any, utts: dict[float, list[np.ndarray]], *, repeats: int,
                               workdir: Path) -> dict[str, list[float]]:
    """Time the tutorial recipe in ``python -m benchmarks.child_tutorial`` (a fresh interpreter
    with default runtime settings).

    Returns
    -------
    dict of str -> list of float
        Milliseconds per utterance, keyed by ``str(duration_s)``; empty on failure (logged).
    """
    import joblib

    tmp = Path(tempfile.mkdtemp(prefix="tutorial-", dir=workdir))
    try:
        joblib.dump(est, tmp / "tutorial.joblib")  # made by this process, loaded by its child
        np.savez(tmp / "utts.npz", **{str(d): np.stack(v) for d, v in utts.items()})
        out = subprocess.run(
            module_cmd("benchmarks.child_tutorial", str(tmp / "tutorial.joblib"), str(tmp / "utts.npz"), str(repeats)),
            capture_output=True, text=True, timeout=1800, env=child_env(None), cwd=REPO_ROOT,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError, subprocess.SubprocessError, OSError) as exc:
        log.error("tutorial in a fresh process failed: %s", exc)
        return {}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def summary_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Headline rows: processing p95 of a 4 s utterance, the speed-up, feature counts."""
    rows: list[dict[str, Any]] = []
    b4 = next((b for b in res["buckets"] if b["duration_s"] == 4.0), None)
    if b4:
        rows.append({"metric": "processing p95, 4 s utterance (features + SVM, wall)", "value": b4["ours_ms"]["p95"],
                     "unit": "ms", "target": "<= 5 ms", "met": b4["ours_ms"]["p95"] <= 5.0})
        rows.append({"metric": "processing p95, 4 s utterance (CPU time of the thread)",
                     "value": b4["ours_cpu_ms"]["p95"], "unit": "ms", "target": "(contention-free view)", "met": None})
        rows.append({"metric": "speed-up vs tutorial recipe + SVM, 4 s (p50 ratio, same process)",
                     "value": b4["ratio_p50"], "unit": "x", "target": ">= 3x", "met": b4["ratio_p50"] >= 3.0})
        if b4.get("ours_noisy_ms"):
            rows.append({"metric": "processing p95, 4 s utterance at 10 dB SNR pink noise (features + noise-branch SVM, wall)",
                         "value": b4["ours_noisy_ms"]["p95"], "unit": "ms", "target": "(cost of the noise branch)", "met": None})
        if b4.get("ours_denoise_ms"):
            rows.append({"metric": "processing p95, 4 s utterance with --denoise (denoise + features + SVM, wall)",
                         "value": b4["ours_denoise_ms"]["p95"], "unit": "ms", "target": "(cost of --denoise)", "met": None})
        if b4.get("speaker_turns_ms"):
            extra = round(b4["speaker_turns_ms"]["p95"] - b4["one_session_ms"]["p95"], 2)
            rows.append({"metric": "speaker turns (--speakers 2): p95 minus the same run's one-session p95, 4 s, thread CPU",
                         "value": extra, "unit": "ms", "target": "<= 1 ms (issue 25)", "met": extra <= 1.0})
        if b4.get("ratio_default_runtime_p50") is not None:
            rows.append({"metric": "speed-up vs tutorial as a tutorial script runs it (default runtime), 4 s p50",
                         "value": b4["ratio_default_runtime_p50"], "unit": "x", "target": "(context)", "met": None})
    nf = res["n_features"]
    rows.append({"metric": "features computed (ours / tutorial)", "value": f"{nf['ours']} / {nf['tutorial']}",
                 "unit": "", "target": "more than the tutorial", "met": nf["ours"] > nf["tutorial"]})
    return rows


def markdown(res: dict[str, Any]) -> list[str]:
    """The per-duration table."""
    lines = ["", "## Processing latency per utterance (ms; features + classification)", "",
             f"Ours: {res['n_features']['ours']} features computed (the columns the model reads, of "
             f"{res['n_features'].get('of', res['n_features']['ours'])}) + the model's classifier. Tutorial: "
             f"{res['n_features']['tutorial']} features (40 MFCC, chroma_stft, 128 mel, three STFTs) + "
             f"{res['tutorial_classifier']} fitted on {res['tutorial_fit_files']} files. "
             "Wall-clock unless marked CPU (CPU time of the calling thread).", ""]
    rows = []
    for b in res["buckets"]:
        o, t = b["ours_ms"], b["tutorial_ms"]
        rows.append([f"{b['duration_s']:g} s", o["n"], f"{o['p50']:.2f}", f"{o['p95']:.2f}", f"{o['max']:.2f}",
                     f"{b['ours_cpu_ms']['p50']:.2f}", f"{b['features_ms']['p50']:.2f}", f"{b['classify_ms']['p50']:.2f}",
                     f"{t['p50']:.1f}", f"{t['p95']:.1f}", f"{t['max']:.1f}", f"{b['ratio_p50']:.1f}x",
                     f"{b['ratio_p95']:.1f}x", fmt(b.get("tutorial_default_runtime_ms", {}).get("p50")),
                     fmt(b.get("ratio_default_runtime_p50"), "x")])
    lines += md_table(["duration", "n", "ours p50", "ours p95", "ours max", "ours CPU p50", "features p50",
                       "classify p50", "tutorial p50", "tutorial p95", "tutorial max", "ratio p50", "ratio p95",
                       "tutorial, default runtime p50", "ratio"], rows)
    lines += ["", f"'tutorial, default runtime': {res['tutorial_default_runtime']}."]
    b4 = next((b for b in res["buckets"] if b["duration_s"] == 4.0 and b.get("ours_denoise_ms")), None)
    if b4:
        lines += ["", "### With and without --denoise (4 s utterances, ms, wall)", ""]
        rows = [["without --denoise (features + SVM)", b4["ours_ms"]["n"], f"{b4['ours_ms']['p50']:.2f}", f"{b4['ours_ms']['p95']:.2f}"],
                ["with --denoise (denoise + features + SVM)", b4["ours_denoise_ms"]["n"],
                 f"{b4['ours_denoise_ms']['p50']:.2f}", f"{b4['ours_denoise_ms']['p95']:.2f}"],
                ["denoise alone (spectral gating, ser_live/denoise.py)", b4["denoise_ms"]["n"],
                 f"{b4['denoise_ms']['p50']:.2f}", f"{b4['denoise_ms']['p95']:.2f}"]]
        lines += md_table(["", "n", "p50", "p95"], rows)
    b4 = next((b for b in res["buckets"] if b["duration_s"] == 4.0 and b.get("ours_noisy_ms")), None)
    if b4:
        lines += ["", "### The noise branch (4 s utterances, ms, wall)", "",
                  "The same utterances mixed with pink noise at 10 dB SNR; the noise branch classified "
                  f"{100 * b4['noise_branch_fraction']:.0f} % of them.", ""]
        rows = [["clean (features + main SVM)", b4["ours_ms"]["n"], f"{b4['ours_ms']['p50']:.2f}", f"{b4['ours_ms']['p95']:.2f}",
                 f"{b4['classify_ms']['p50']:.2f}"],
                ["10 dB SNR pink noise (features + noise-branch SVM)", b4["ours_noisy_ms"]["n"], f"{b4['ours_noisy_ms']['p50']:.2f}",
                 f"{b4['ours_noisy_ms']['p95']:.2f}", f"{b4['classify_noisy_ms']['p50']:.2f}"]]
        lines += md_table(["", "n", "p50", "p95", "classify p50"], rows)
    b4 = next((b for b in res["buckets"] if b["duration_s"] == 4.0 and b.get("speaker_turns_ms")), None)
    if b4:
        one, turns = b4["one_session_ms"], b4["speaker_turns_ms"]
        lines += ["", "### Speaker turns (4 s utterances, ms, CPU time of the thread)", "",
                  f"One run of {turns['n']} utterances, each through the worker paths in turn.", ""]
        rows = [["one session (--speakers 1)", one["n"], f"{one['p50']:.2f}", f"{one['p95']:.2f}"],
                ["speaker turns (--speakers 2)", turns["n"], f"{turns['p50']:.2f}", f"{turns['p95']:.2f}"]]
        after = b4.get("speaker_turns_after_ms")
        if after:
            rows.append(["--speakers 2 after the result is out (moved labels, sessions following; "
                         "not in the latency)", after["n"], f"{after['p50']:.2f}", f"{after['p95']:.2f}"])
        auto = b4.get("speaker_turns_auto_ms")
        if auto:
            rows.append(["speaker turns (--speakers auto)", auto["n"], f"{auto['p50']:.2f}", f"{auto['p95']:.2f}"])
        lines += md_table(["", "n", "p50", "p95"], rows)
    return lines

"""Live equals offline for a quiet voice in a quiet room (issue 20), the CI version of
``python -m benchmarks.live_offline``.

One EmoDB speaker (emodb-08), unseen by the model: a small ``loco`` fold model of the
pause-gate recipe (``train/recipes/experiments/live-gate.toml``: ser-default with
``features.pause_gate``) on two of its corpora, RAVDESS and es_uem, neither of which holds the
speaker (``python -m train fit --recipe ... --set 'corpora=["ravdess", "es_uem", "emodb"]'
--exclude-corpus emodb``, features from ``$SER_LIVE_CACHE``). The fit took 34 s here (4-5
minutes on a loaded machine), so the model is kept in ``$SER_LIVE_CACHE/live_offline-models``
under the key of :func:`benchmarks.live_offline.fold_model` (the recipe, the overrides and
the source of every module that shapes a model: any such change refits); the whole test took
42 s with the fit. Ten utterances per core class (39: the speaker has nine of one),
shuffled, joined with 1 s pauses, each at a loud-frame level of -38 dBFS over pink noise at
-55 dBFS (17 dB SNR: a laptop microphone, a quiet speaker, a quiet room), replayed through
``ser-live --input S.wav --speed 0 --jsonl --revisions``. Offline, ``ser-live predict
--sessions`` on the same utterances as the live path heard them (cut from the session WAV,
level and floor included: :func:`benchmarks.live_offline.heard_files`), and on the clean
files for the log. The numbers are logged: ``python -m pytest tests/test_live_offline.py
-o log_cli=true --log-cli-level=INFO``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from benchmarks.live_offline import (
    Condition, Floor, fold_model, heard_files, predict_offline, replay_live, revised_results, score_speaker,
    speaker_session, speaker_sets,
)
from train.sessions import Session
from ser_live.audiofile import write_wav

log = logging.getLogger(__name__)

SPEAKER = "emodb-08"
PER_CLASS = 10
COND = Condition(-38.0, Floor("pink", -55.0))
RECIPE = Path(__file__).resolve().parents[1] / "train" / "recipes" / "experiments" / "live-gate.toml"
#: The CI fold model's corpora; --exclude-corpus emodb leaves RAVDESS and es_uem to train on.
OVERRIDES = ('corpora=["ravdess", "es_uem", "emodb"]',)


@pytest.fixture(scope="module")
def scored(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    for name in ("ravdess", "es_uem", "emodb"):
        if not (data_root / name).is_dir():
            pytest.skip(f"{name} corpus not found in {data_root}")
    work = tmp_path_factory.mktemp("live-offline")
    from train.extract import default_cache_dir

    t0 = time.perf_counter()
    model = fold_model("emodb", recipe=str(RECIPE), models_dir=default_cache_dir() / "live_offline-models", jobs=2,
                       overrides=OVERRIDES)
    t_fit = time.perf_counter() - t0
    items = speaker_sets("emodb", per_class=PER_CLASS, seed=0, data_root=data_root, only=[SPEAKER])[SPEAKER]
    offline = predict_offline({SPEAKER: [p for p, _ in items]}, model=model, workdir=work)
    sess = speaker_session([p for p, _ in items], COND, seed=0)
    wav = write_wav(work / "session.wav", sess.samples)
    results = replay_live(wav, model=model, jsonl=work / "live.jsonl")
    files = heard_files(sess, items, work / "heard")
    by_wav = predict_offline({SPEAKER: list(files.values())}, model=model, workdir=work / "heard", allow_failures=True)
    heard = {orig: by_wav.get(str(Path(w).resolve()), {}) for orig, w in files.items()}
    row = score_speaker(items, sess, results, offline, revised=revised_results(results, work / "live.jsonl"),
                        heard=heard)
    log.info("fold model ready in %.0f s; whole fixture %.0f s", t_fit, time.perf_counter() - t0)
    log.info("%s at %s: UA live %.1f at the moment, %.1f revised; offline %.1f on what live heard, %.1f on the "
             "clean files; found %d/%d, %d results (%d split, %d merged, %d spurious); noise branch %.0f %% of live "
             "results, %.0f %% offline heard", SPEAKER, COND.name, row["ua_live"], row["ua_live_revised"],
             row["ua_offline_heard"], row["ua_offline"], row["found"], row["played"], row["results"], row["split"],
             row["merged"], row["spurious"], row["noise_branch_pct"], row["offline_heard_noise_branch_pct"])
    return row


def test_utterances_found_as_played(scored: dict) -> None:
    """The segmenter hears every played utterance and merges none; a sentence may be split at
    a pause longer than the hangover (9 of 39 here: EmoDB reads its sentences with pauses),
    but not into more than 1.5 results per played utterance."""
    assert scored["played"] >= 4 * PER_CLASS - 1  # emodb-08 has 9 of one class
    assert scored["found"] >= scored["played"] - 1
    assert scored["merged"] == 0 and scored["spurious"] <= 1
    assert scored["results"] <= 1.5 * scored["played"]


def test_quiet_room_is_not_sent_to_the_noise_branch(scored: dict) -> None:
    """At most 5 % of the live results come from the noise branch at 17 dB SNR (issue 20's CI
    check; 2 of 53 with this model)."""
    assert scored["noise_branch_pct"] <= 5.0


def test_live_matches_offline_on_the_same_speech(scored: dict) -> None:
    """Live UA, as the session revision leaves it (``ser_live/revision.py``), within 6 points of
    offline ``predict --sessions`` on the same utterances as live heard them, about two of its
    39 utterances (each moves UA by 2.5-2.8 points here). 74.7 against 77.5 when written; 74.7
    against 80.0 with the fold model fitted on the 2026-12-03 machine, with the libraries `make
    test` installed there (numpy 2.4, scipy 1.17, scikit-learn 1.9): one more heard utterance
    right offline, every live figure the same. At the moment, before revision, 75.0; offline
    on the clean files 82.5 (docs/experiments.md, "Session revision").

    Without the pause gate the floor in the utterance's pauses and in the segmenter's pre-roll
    and hangover read as low arousal: live 35 against 65 offline on the previous default's
    (prior weight 10, cap 10) fold model (docs/experiments.md, "Pause gate")."""
    assert scored["ua_live_revised"] >= scored["ua_offline_heard"] - 6.0


def test_revised_results_take_each_utterance_s_last_revision(tmp_path: Path) -> None:
    """The harness reads the ``--revisions`` lines: each result gets the probabilities of the
    last revision that re-scored it; a result never revised stays as shown."""
    from ser_live.jsonl import json_line

    def rec(i: int, lab: str) -> dict:
        return {"index": i, "start_s": i, "end_s": i + 0.5, "label": lab, "probabilities": {lab: 1.0}}

    shown = [rec(0, "sad"), rec(1, "happy"), rec(2, "angry")]
    revs = [{"kind": "revision", "index": 1, "session_utterances": 2, "results": [rec(0, "neutral")]},
            {"kind": "revision", "index": 2, "session_utterances": 3,
             "results": [rec(0, "angry") | {"noise_branch": True}, rec(1, "happy")]}]
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text("".join(json_line(x) for x in [shown[0], shown[1], revs[0], shown[2], revs[1]]))
    out = revised_results(shown, jsonl)
    assert [r["label"] for r in out] == ["angry", "happy", "angry"] and out[0]["noise_branch"] is True
    assert shown[0]["label"] == "sad"  # the records as shown are not changed
    assert [r["start_s"] for r in out] == [0, 1, 2]


def test_heard_files_cut_the_session_with_its_floor(tmp_path: Path) -> None:
    import numpy as np

    from ser_live.audiofile import load_audio

    x = (np.arange(16000 * 4) % 7 - 3).astype(np.int16)
    sess = Session(samples=x, spans=[(16000, 24000), (40000, 48000)])
    files = heard_files(sess, [("/a.wav", "sad"), ("/b.wav", "happy")], tmp_path, pad_s=0.25)
    assert list(files) == [str(Path("/a.wav").resolve()), str(Path("/b.wav").resolve())]
    y = load_audio(files[str(Path("/b.wav").resolve())])
    assert len(y) == 8000 + 2 * 4000


def test_vad_splits_counts_quiet_sentences_split_without_the_vad_gain() -> None:
    """``python -m benchmarks.vad_splits`` on two EmoDB speakers at -40 dBFS over silence: every
    played sentence is accounted for, and the VAD input gain splits fewer sentences than the same
    segmenter with the gain off (the docs/experiments.md "Quiet sessions split" finding)."""
    from dataclasses import replace

    from benchmarks.vad_splits import count_cuts
    from ser_live.vad import VadConfig

    common = dict(levels=[-40.0], floors=["silence"], speakers=2, per_class=5)
    with_gain = count_cuts("emodb", config=VadConfig(), **common)[0]
    without = count_cuts("emodb", config=replace(VadConfig(), max_vad_gain_db=0.0), **common)[0]
    assert with_gain["played"] == without["played"] >= 30
    assert with_gain["missed"] == 0
    assert with_gain["split"] < without["split"], (with_gain, without)
    for row in (with_gain, without):  # one pause per pair of consecutive cuts of one sentence
        assert len(row["pause_split_s"]) == row["cuts"] - row["spurious"] - (row["played"] - row["missed"])
        assert 0 < len(row["pause_next_s"]) <= row["played"] - 1  # at most one per sentence boundary
        assert (row["pause_split_s"] >= 0).all() and (row["pause_next_s"] >= 0).all()


def test_vad_splits_scores_each_split_sentence_once_by_cuts_and_whole() -> None:
    """``vad_splits --model``: every split sentence is scored once, in the group its pauses put
    it in, and the sessions are the harness's (the floor noise seeded by condition position)."""
    from benchmarks.live_offline import Condition, _parse_floor, speaker_session, speaker_sets
    from benchmarks.vad_splits import count_cuts, pool_rows
    from ser_live.model import EmotionModel
    from ser_live.vad import VadConfig, segment_signal

    rows = count_cuts("emodb", levels=[-30.0], floors=["silence", "white:-50"], speakers=2, per_class=5,
                      config=VadConfig(), model=EmotionModel.load(), seed=1)
    noisy = rows[1]
    joined, apart = noisy["split_scores"]["joined"], noisy["split_scores"]["apart"]
    assert joined[0] + apart[0] == noisy["split"] > 0, noisy
    for n, by_cuts, whole in (joined, apart):
        assert 0 <= by_cuts <= n and 0 <= whole <= n
    pooled = pool_rows([rows, rows])  # two seeds' rows: counts and scores summed
    assert pooled[1]["split"] == 2 * noisy["split"] and pooled[1]["split_scores"]["apart"] == [2 * v for v in apart]
    assert len(pooled[1]["pause_split_s"]) == 2 * len(noisy["pause_split_s"])
    # the second condition's sessions are the harness's: its noise seeded with seed + 7919 x 1
    cond = Condition(-30.0, _parse_floor("white:-50"))
    cuts = sum(len(segment_signal(speaker_session([p for p, _ in items], cond, seed=1 + 7919).samples))
               for items in speaker_sets("emodb", per_class=5, speakers=2, seed=1).values())
    assert cuts == noisy["cuts"]


def test_combine_means_runs_per_condition_and_reads_the_acceptance_on_the_means() -> None:
    from benchmarks.live_offline import combine, combined_markdown

    def report(seed: int, rev: float, heard: float, corpora: list[str] = ["emodb"]) -> dict:
        cond = {"snr_db": 20.0, "ua_live": rev - 5, "ua_live_revised": rev, "ua_offline_heard": heard,
                "ua_offline": 75.0, "noise_branch_pct": 10.0 * seed}
        return {"settings": {"corpora": corpora, "seed": seed}, "command": f"run {seed}",
                "conditions": {"-30 dBFS / white -50": cond}}

    comb = combine([report(0, 70.0, 73.0), report(1, 72.0, 72.0)])  # -3.0 and 0.0: -1.5 on the mean
    c = comb["conditions"]["-30 dBFS / white -50"]
    assert c["runs"] == 2 and c["ua_live_revised"] == 71.0 and c["ua_offline_heard"] == 72.5
    assert c["rev_minus_heard"] == [-3.0, 0.0] and c["noise_branch_pct"] == 5.0
    md = "\n".join(combined_markdown(comb))
    assert "over 2 runs (seeds 0, 1)" in md and "**missed** / met" in md and "0 / 1 of 1 met" in md
    # an extra run of another condition only: each condition over the runs that hold it
    extra = report(2, 60.0, 61.0)
    extra["conditions"] = {"-40 dBFS / white -50": extra["conditions"].pop("-30 dBFS / white -50")}
    comb3 = combine([report(0, 70.0, 73.0), extra, report(1, 72.0, 72.0)])
    assert list(comb3["conditions"]) == ["-30 dBFS / white -50", "-40 dBFS / white -50"]
    assert comb3["conditions"]["-30 dBFS / white -50"] == c
    assert comb3["conditions"]["-40 dBFS / white -50"]["runs"] == 1
    assert comb3["conditions"]["-40 dBFS / white -50"]["rev_minus_heard"] == [-1.0]
    with pytest.raises(ValueError, match="different corpora"):
        combine([report(0, 70.0, 73.0), report(1, 70.0, 73.0, ["ravdess"])])
    with pytest.raises(ValueError, match="no report"):
        combine([])


def test_a_fold_model_is_refitted_when_a_recipe_it_is_based_on_changes(tmp_path):
    """The fold-model cache key reads the recipe as loaded: editing its ``base`` (e.g. the
    default's ``ser-default.toml``, which the live-gate recipe of the CI test builds on) is a
    new key. Before, the key hashed the named file's text only, so a cached model of the old
    base was reused."""
    from benchmarks.live_offline import _model_key

    base = tmp_path / "base.toml"
    child = tmp_path / "child.toml"
    base.write_text((Path(__file__).resolve().parents[1] / "train" / "recipes" / "ser-default.toml").read_text())
    child.write_text(f'base = "{base}"\nname = "child"\n[features]\npause_gate = true\n')
    key = _model_key(str(child))
    assert _model_key(str(child)) == key  # stable
    base.write_text(base.read_text().replace("voice_quality = true", "voice_quality = true\nhop_length = 320"))
    assert _model_key(str(child)) != key
    assert _model_key(str(child), ["features.hop_length=160"]) != _model_key(str(child))

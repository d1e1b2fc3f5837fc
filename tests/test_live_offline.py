"""Live equals offline for a quiet voice in a quiet room (issue 20), the CI version of
``python -m benchmarks.live_offline``.

One EmoDB speaker (emodb-08), unseen by the model: a small ``loco`` fold model fitted in the
test session with the pause-gate recipe (``train/recipes/experiments/live-gate.toml``:
ser-default with ``features.pause_gate``) on two of its corpora, RAVDESS and es_uem, neither
of which holds the speaker (``python -m train fit --recipe ... --set 'corpora=["ravdess",
"es_uem", "emodb"]' --exclude-corpus emodb``, features from ``$SER_LIVE_CACHE``; a fraction of the
full fold's extraction, for CI without a feature cache). Five utterances per core class,
shuffled, joined with 1 s pauses, each at a loud-frame level of -38 dBFS over pink noise at
-55 dBFS (17 dB SNR: a laptop microphone, a quiet speaker, a quiet room), replayed through
``ser-live --input S.wav --speed 0 --jsonl``; offline, ``ser-live predict --sessions`` on the
same clean files. The numbers are logged:
``python -m pytest tests/test_live_offline.py -o log_cli=true --log-cli-level=INFO``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from benchmarks.live_offline import (
    Condition, Floor, fold_model, predict_offline, replay_live, score_speaker, speaker_session, speaker_sets,
)
from ser_live.audiofile import write_wav

log = logging.getLogger(__name__)

SPEAKER = "emodb-08"
PER_CLASS = 5
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
    t0 = time.perf_counter()
    model = fold_model("emodb", recipe=str(RECIPE), models_dir=work, jobs=2, overrides=OVERRIDES)
    t_fit = time.perf_counter() - t0
    items = speaker_sets("emodb", per_class=PER_CLASS, seed=0, data_root=data_root, only=[SPEAKER])[SPEAKER]
    offline = predict_offline({SPEAKER: [p for p, _ in items]}, model=model, workdir=work)
    sess = speaker_session([p for p, _ in items], COND, seed=0)
    wav = write_wav(work / "session.wav", sess.samples)
    results = replay_live(wav, model=model, jsonl=work / "live.jsonl")
    row = score_speaker(items, sess, results, offline)
    log.info("fold model fitted in %.0f s; whole fixture %.0f s", t_fit, time.perf_counter() - t0)
    log.info("%s at %s: UA live %.1f offline %.1f; found %d/%d, %d results (%d split, %d merged, %d spurious); "
             "noise branch %.0f %% of live results, %.0f %% offline", SPEAKER, COND.name, row["ua_live"],
             row["ua_offline"], row["found"], row["played"], row["results"], row["split"], row["merged"],
             row["spurious"], row["noise_branch_pct"], row["offline_noise_branch_pct"])
    return row


def test_utterances_found_as_played(scored: dict) -> None:
    """The segmenter hears every played utterance and merges none; a sentence may be split at
    a pause longer than the hangover (5 of 20 here: EmoDB reads its sentences with pauses),
    but not into more than 1.5 results per played utterance."""
    assert scored["played"] == 4 * PER_CLASS
    assert scored["found"] >= scored["played"] - 1
    assert scored["merged"] == 0 and scored["spurious"] <= 1
    assert scored["results"] <= 1.5 * scored["played"]


@pytest.mark.xfail(strict=True, reason="issue 20: with this small two-corpus fold model the pause gate keeps "
                   "routing at 0 % but live scores 70 against 90 offline (the full loco fold model of the same "
                   "recipe: 65 vs 70 at 5 per class, 72.5 vs 72.5 at 10 per class; docs/experiments.md, "
                   "'Pause gate'); the rest of the gap is the session's first utterances")
def test_live_matches_offline(scored: dict) -> None:
    """Live UA within 5 points of offline, and at most 5 % of utterances sent to the noise branch.

    Without the pause gate the floor in the utterance's pauses and in the segmenter's pre-roll
    and hangover read as low arousal: live 35 against 65 offline on the previous default's
    (prior weight 10, cap 10) fold model (docs/experiments.md, "Pause gate")."""
    assert scored["noise_branch_pct"] <= 5.0
    assert scored["ua_live"] >= scored["ua_offline"] - 5.0

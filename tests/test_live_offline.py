"""Live equals offline for a quiet voice in a quiet room (issue 20), the CI version of
``python -m benchmarks.live_offline``.

One EmoDB speaker (emodb-08), unseen by the model: a ``loco`` fold model fitted in the test
session with the shipped recipe on every corpus but EmoDB (``python -m train fit
--exclude-corpus emodb``, features from ``$SER_LIVE_CACHE``). Five utterances per core class,
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
RECIPE = Path(__file__).resolve().parents[1] / "train" / "recipes" / "ser-default.toml"


@pytest.fixture(scope="module")
def scored(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    for name in ("ravdess", "tess", "emodb", "emotiontts_kor"):
        if not (data_root / name).is_dir():
            pytest.skip(f"{name} corpus not found in {data_root}")
    work = tmp_path_factory.mktemp("live-offline")
    t0 = time.perf_counter()
    model = fold_model("emodb", recipe=str(RECIPE), models_dir=work, jobs=2)
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


@pytest.mark.xfail(strict=True, reason="issue 20: the main SVM, trained on studio recordings with digital "
                   "silence, hears a quiet voice over a room's floor (17 dB SNR) as sad: live UA 35 against 65 "
                   "offline with no utterance routed (python -m benchmarks.live_offline); flips when the "
                   "model is trained over realistic floors")
def test_live_matches_offline(scored: dict) -> None:
    """Live UA within 5 points of offline, and at most 5 % of utterances sent to the noise branch."""
    assert scored["noise_branch_pct"] <= 5.0
    assert scored["ua_live"] >= scored["ua_offline"] - 5.0

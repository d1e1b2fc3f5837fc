"""What a researcher reads off the reports and cards says what was measured: the classes a
within-corpus row is scored on, a spread over one fold."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_cards_within_corpus_rows_name_the_classes_scored():
    """ser-default's `ravdess-6fold` row is scored on 4 classes, not the protocol's 8 (DESIGN.md,
    EmoBox): the card gave "ravdess-6fold | speaker | 76.0 ± 5.8" with no word of it, next to
    published 8-class figures a reader would compare it with."""
    from ser_live.features import FeatureExtractor
    from ser_live.model import EmotionModel
    from train.card import protocol_reports, render_card

    model = EmotionModel.load(REPO / "models" / "ser-default.skops", arrays=False)
    meta = dict(model.metadata)
    meta["protocol_scores"] = protocol_reports(meta["recipe"])
    card = render_card(model, meta, FeatureExtractor(model.feature_config).n_features)
    report = json.loads((REPO / "reports" / "ravdess-6fold-ser-default-speaker.json").read_text())
    assert report["labels"] == ["neutral", "happy", "sad", "angry"]
    row = next(line for line in card.splitlines() if line.startswith("| ravdess-6fold |") and "| speaker |" in line)
    assert "| 4: neutral, happy, sad, angry | speaker |" in row, row
    assert "ravdess-6fold has 8" in card

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


def test_a_one_fold_protocol_claims_no_spread(emodb_root, emotiontts_kor_root, tmp_path):
    """`cross:A->B` is one fold: its headline printed "UA 53.3 ± 0.0", a spread no one measured."""
    from train.evaluate import run_recipe, write_reports
    from train.recipe import load_recipe

    path = tmp_path / "tiny.toml"
    path.write_text('name = "tiny"\ncorpora = ["emotiontts_kor"]\nlabels = ["neutral", "happy", "sad", "angry"]\n'
                    '[normalizer]\nenabled = false\n[classifier]\ngrid = ["linear C=1e-3"]\n')
    recipe = load_recipe(path)
    res = next(iter(run_recipe("cross:emotiontts_kor->emodb", recipe, n_jobs=1, progress=False).values()))
    assert len(res.folds) == 1
    assert "±" not in res.headline() and res.headline().endswith("(1 fold)"), res.headline()
    md = write_reports(res, tmp_path, command="test")["md"].read_text()
    assert "one fold: no spread over folds" in md and "± 0.0" not in md


def test_compare_scores_every_row_on_the_recipes_classes(emodb_root, tmp_path, capsys, monkeypatch):
    """`compare --protocol emodb-loso` printed ser-default's 87.6 UA (4 classes, chance 25 %) in one
    table with k-NN's 67.8 (7 classes, chance 14 %), each "UA mean ± std" with no word of it."""
    import shutil

    import train.classifiers
    from train.__main__ import main

    data = tmp_path / "data"
    (data / "emodb").mkdir(parents=True)
    kept: dict[tuple[str, str], int] = {}
    for p in sorted((emodb_root / "wav").glob("*.flac")):  # 3 speakers x (4 core + boredom) x 2
        cell = (p.name[:2], p.name[5])
        if cell[0] in ("03", "08", "09") and cell[1] in "WFTNL" and kept.get(cell, 0) < 2:
            kept[cell] = kept.get(cell, 0) + 1
            shutil.copy(p, data / "emodb" / p.name)
    monkeypatch.setenv("SER_LIVE_DATA", str(data))
    monkeypatch.setattr(train.classifiers, "COMPARE_CLASSIFIERS", {"decision tree": train.classifiers.COMPARE_CLASSIFIERS["decision tree"]})
    recipe = tmp_path / "tiny.toml"
    recipe.write_text('name = "tiny"\ncorpora = ["emodb"]\nlabels = ["neutral", "happy", "sad", "angry"]\n'
                      '[normalizer]\nenabled = false\n[classifier]\ngrid = ["linear C=1e-3"]\n')
    out = tmp_path / "out"
    assert main(["-j", "1", "compare", "--protocol", "emodb-loso", "--only", "decision tree", "--recipe", str(recipe),
                 "--out", str(out)]) == 0
    assert json.loads((out / "emodb-loso-decision_tree.json").read_text())["labels"] == ["neutral", "happy", "sad", "angry"]
    rows = json.loads((out / "compare-emodb-loso.json").read_text())["rows"]
    assert [r["classifier"] for r in rows] == ["tiny", "decision tree"]
    assert all(r["labels"] == ["neutral", "happy", "sad", "angry"] for r in rows), rows
    assert "scored on neutral, happy, sad, angry" in capsys.readouterr().out


def test_a_comparison_row_trained_on_more_classes_is_scored_on_the_protocols_subset(emodb_root, tmp_path):
    """A recipe of five labels on `loco` (scored on the four core ones, DESIGN.md): the comparison
    classifiers' argmax is taken over those four, as the recipe's own row is, never "fearful"."""
    import shutil

    from sklearn.tree import DecisionTreeClassifier

    from train.evaluate import load_protocol_features, run_protocol

    folders = []
    for name, speakers in (("a", ("03", "08")), ("b", ("09", "10"))):
        folder = tmp_path / name
        for p in sorted((emodb_root / "wav").glob("*.flac")):
            label = {"W": "angry", "F": "happy", "T": "sad", "N": "neutral", "A": "fearful"}.get(p.name[5])
            if p.name[:2] in speakers and label:
                (folder / label / p.name[:2]).mkdir(parents=True, exist_ok=True)
                shutil.copy(p, folder / label / p.name[:2] / p.name)
        folders.append(str(folder))
    data = load_protocol_features("loco:" + ",".join(folders), labels=["neutral", "happy", "sad", "angry", "fearful"],
                                  n_jobs=1, progress=False)
    assert "fearful" in data[0].labels and "fearful" not in data[0].score_labels
    res = run_protocol("loco", fit=lambda X, y, g: (DecisionTreeClassifier(random_state=0).fit(X, y), ""),
                       classifier_name="decision tree", data=data)
    assert res.labels == ["neutral", "happy", "sad", "angry"]
    assert res.confusion.shape == (4, 4) and res.confusion.sum() == sum(f.n_test for f in res.folds)


def test_a_room_report_stands_for_another_recipe_only_with_the_same_settings_recorded(tmp_path, monkeypatch):
    """The card's room table (``train/card.py``, ``_room_report``): a recipe's own
    ``room-loco-<name>.json`` first; else a room report of another name (an experiment made the
    default) that recorded exactly the settings the recipe has today. A report whose recorded
    settings differ in one field, or that recorded none, is not taken. The floor-aug-v2
    experiment's settings are ser-default's since the default took its faint-floor copies (7
    December, sixth stop; they differ from the default before it, ser-default-v5, whose settings
    the corpus-balance-grid experiment has), which is what lets its room report, recorded with
    them, stand on the default's card."""
    import json

    import train.recipe_spec as rs
    from train.card import _room_card_lines

    floor = rs.load_recipe("experiments/floor-aug-v2").settings_record()
    assert floor == rs.load_recipe("ser-default").settings_record()
    balance = rs.load_recipe("experiments/corpus-balance-grid").settings_record()
    assert balance == rs.load_recipe("experiments/ser-default-v5").settings_record() != floor
    shipped_room = json.loads((REPO / "reports" / "experiments" / "room-loco-floor-aug-v2.json").read_text())
    assert shipped_room["recipe_settings"] == floor
    lines = "\n".join(_room_card_lines("ser-default", REPO / "reports"))
    assert "measured as recipe `floor-aug-v2`" in lines and "corpus-balance-grid" not in lines

    recipes = tmp_path / "recipes"
    (recipes / "experiments").mkdir(parents=True)
    head = 'corpora = ["ravdess", "emodb"]\nlabels = ["neutral", "happy", "sad", "angry"]\n'
    (recipes / "mine.toml").write_text('name = "mine"\n' + head + "[features]\nedge_trim = true\n")
    (recipes / "experiments" / "twin.toml").write_text('name = "twin"\n' + head + "[features]\nedge_trim = true\n")
    (recipes / "experiments" / "other.toml").write_text('name = "other"\n' + head)
    monkeypatch.setattr(rs, "RECIPES_DIR", recipes)
    reports = tmp_path / "reports"
    (reports / "experiments").mkdir(parents=True)

    def room(name: str, clean: float, settings: dict | None) -> dict:
        d = {"recipe": name, "grouped_mean_ua_pct": {"clean": clean, "noise 20 dB SNR": clean - 5.0},
             "command": f"python -m train evaluate --protocol loco --condition room --recipe {name}"}
        return {**d, "recipe_settings": settings} if settings is not None else d

    twin = rs.load_recipe("experiments/twin").settings_record()
    other = rs.load_recipe("experiments/other").settings_record()
    path = reports / "experiments" / "room-loco-twin.json"
    for settings in (None, other):  # recorded none, or another recipe's
        path.write_text(json.dumps(room("twin", 61.0, settings)))
        assert _room_card_lines("mine", reports) == []
    path.write_text(json.dumps(room("twin", 61.0, twin)))
    text = "\n".join(_room_card_lines("mine", reports))
    assert "| this recipe (measured as recipe `twin`, the same settings) | 61.0 | 56.0 (0.92) |" in text, text
    assert _room_card_lines("other", reports) == []
    (reports / "room-loco-mine.json").write_text(json.dumps(room("mine", 58.0, None)))
    text = "\n".join(_room_card_lines("mine", reports))
    assert "| this recipe | 58.0 |" in text and "twin" not in text, text

"""``python -m train fit`` writes its model, arrays, recipe copy and card as one set: a failure
or an interrupt while writing leaves the earlier set as it was, and a model without an array form
(an RBF SVM) is written with its card instead of failing after the .skops was replaced."""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path

import pytest

SUFFIXES = (".skops", ".npz", ".toml", ".md")


@pytest.fixture(scope="module")
def small_recipe(emodb_root, tmp_path_factory) -> Path:
    """A recipe over 24 EmoDB files (2 speakers, 3 per class) listed in a CSV, no noise branch."""
    root = tmp_path_factory.mktemp("fit-recipe")
    code = {"N": "neutral", "F": "happy", "T": "sad", "W": "angry"}
    rows, seen = [], {}
    for f in sorted((emodb_root / "wav").glob("*.flac")):
        label, speaker = code.get(f.stem[5]), f.stem[:2]
        if label and speaker in ("03", "08") and seen.get((label, speaker), 0) < 3:
            seen[(label, speaker)] = seen.get((label, speaker), 0) + 1
            rows.append(f"{f},{label},{speaker}")
    (root / "list.csv").write_text("path,label,speaker\n" + "\n".join(rows) + "\n")
    recipe = root / "small.toml"
    recipe.write_text(f'''name = "small"
corpora = ["{root / 'list.csv'}"]
labels = ["neutral", "happy", "sad", "angry"]
[normalizer]
enabled = true
[classifier]
grid = ["linear C=1e-3"]
inner_splits = 2
[calibration]
method = "temperature"
''')
    return recipe


def _digests(out: Path) -> dict[str, str | None]:
    return {s: (hashlib.sha256(out.with_suffix(s).read_bytes()).hexdigest() if out.with_suffix(s).exists() else None)
            for s in SUFFIXES}


def _fit(recipe: Path, out: Path, *sets: str) -> int:
    from train.__main__ import main

    return main(["-j", "1", "fit", "--recipe", str(recipe), *[a for s in sets for a in ("--set", s)], "--out", str(out)])


def test_a_failed_write_leaves_the_earlier_model_set_whole(small_recipe, tmp_path, monkeypatch, capsys):
    """The card cannot be written (a full disk): before, the new .skops and .npz had already
    replaced the earlier ones, beside the earlier card and recipe, while the message said the
    earlier model was left as it was."""
    import ser_live.fsutil

    out = tmp_path / "m.skops"
    assert _fit(small_recipe, out) == 0
    before = _digests(out)
    assert all(before.values())
    real = ser_live.fsutil.write_atomic

    def full_for_cards(path, data, **kw):  # noqa: ANN001, ANN003, ANN202
        if Path(path).suffix == ".md":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data, **kw)

    monkeypatch.setattr(ser_live.fsutil, "write_atomic", full_for_cards)
    assert _fit(small_recipe, out, "classifier.grid=['linear C=1e-2']") == 1
    assert "left as it was" in capsys.readouterr().err
    assert _digests(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"m{s}" for s in sorted(SUFFIXES)]  # no staging left


def test_an_interrupt_while_writing_leaves_the_earlier_model_set_whole(small_recipe, tmp_path, monkeypatch):
    import ser_live.model

    out = tmp_path / "m.skops"
    assert _fit(small_recipe, out) == 0
    before = _digests(out)

    def interrupted(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise KeyboardInterrupt

    monkeypatch.setattr(ser_live.model, "export_arrays", interrupted)
    assert _fit(small_recipe, out, "classifier.grid=['linear C=1e-2']") == 130
    assert _digests(out) == before
    assert len(list(tmp_path.iterdir())) == len(SUFFIXES)


def test_a_model_without_an_array_form_is_written_with_its_card(small_recipe, tmp_path, caplog):
    """An RBF SVM has no .npz form: before, fit wrote the .skops, then stopped with 'cannot be
    exported as arrays' (exit 5), leaving the earlier model's .npz, recipe and card beside it."""
    from ser_live.model import EmotionModel

    out = tmp_path / "m.skops"
    assert _fit(small_recipe, out) == 0
    before = _digests(out)
    assert _fit(small_recipe, out, 'classifier.grid=["rbf C=30 gamma=scale"]') == 0
    after = _digests(out)
    assert after[".npz"] is None  # the earlier model's arrays are gone, not left to be passed over
    assert after[".skops"] != before[".skops"] and after[".md"] != before[".md"]
    assert "rbf" in out.with_suffix(".md").read_text()
    caplog.clear()
    model = EmotionModel.load(out)
    assert type(model.estimator).__name__ == "EmotionEstimator" and not caplog.records


def test_card_finds_a_model_by_its_short_name_or_arrays_file_and_writes_beside_it(small_recipe, tmp_path, monkeypatch,
                                                                                 capsys):
    """`train card --model NAME` loaded models/ser-NAME.skops but wrote the card to ./NAME.md in
    the working folder; `--model X.npz` (the arrays file) ended in an AttributeError traceback.
    Both now write the card beside the .skops; an arrays file alone is exit 5 with a message."""
    import shutil

    import ser_live.model
    from train.__main__ import main

    models = tmp_path / "models"
    out = models / "ser-small.skops"
    assert _fit(small_recipe, out) == 0
    monkeypatch.setattr(ser_live.model, "MODELS_DIR", models)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    card = out.with_suffix(".md")
    written = card.read_text()
    for given in ("small", str(out.with_suffix(".npz"))):
        card.write_text("stale")
        capsys.readouterr()
        assert main(["card", "--model", given]) == 0, capsys.readouterr().err
        assert card.read_text() == written, given
        assert list(cwd.iterdir()) == [], given  # nothing written in the working folder
    alone = tmp_path / "alone" / "m.npz"
    alone.parent.mkdir()
    shutil.copy(out.with_suffix(".npz"), alone)
    capsys.readouterr()
    assert main(["card", "--model", str(alone)]) == 5
    err = capsys.readouterr().err
    assert "arrays file" in err and ".skops" in err and "Traceback" not in err
    assert not alone.with_suffix(".md").exists()


def test_the_recipe_copy_beside_a_model_loads_when_the_recipe_names_files_relative_to_itself(small_recipe, tmp_path):
    """A recipe with `base = "parent.toml"` and `corpora = ["../data/list.csv"]` (paths from its
    own folder, as the README allows) was copied as text next to the model, where neither path
    exists: the copy could not be loaded ('base parent.toml not found'). The copy now reads as
    the recipe did; a recipe that names nothing by a relative path is still copied as it is,
    comments included."""
    import dataclasses
    import shutil

    from train.recipe import load_recipe

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(small_recipe.parent / "list.csv", data / "list.csv")
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    parent = small_recipe.read_text().replace(f'corpora = ["{small_recipe.parent / "list.csv"}"]',
                                              'corpora = ["../data/list.csv"]')
    assert parent != small_recipe.read_text()
    (recipes / "parent.toml").write_text(parent)
    child = recipes / "child.toml"
    child.write_text('base = "parent.toml"  # beside this file\nname = "child"\n[normalizer]\nprior_weight = 5.0\n')
    out = tmp_path / "models" / "child.skops"
    assert _fit(child, out) == 0
    copy, orig = load_recipe(out.with_suffix(".toml")), load_recipe(child)
    assert copy.corpora == orig.corpora == (str((recipes / "../data/list.csv").absolute()),)
    assert dataclasses.replace(copy, path=orig.path) == orig  # every setting, the path it was read from aside
    assert copy.normalizer.prior_weight == 5.0 and copy.name == "child"
    assert str(child) in out.with_suffix(".toml").read_text().splitlines()[0]  # where it came from
    # a recipe that needs nothing beside it: its own text, comments kept
    plain = recipes / "plain.toml"
    plain.write_text('base = "ser-default"  # by name\nname = "plain"\n')
    from train.__main__ import copy_recipe

    assert copy_recipe(plain, tmp_path / "models" / "plain.skops").read_text() == plain.read_text()

"""`python -m train` as a newcomer meets it: compare without the `peers` extra, a custom fit's
name and card, a misplaced subcommand or `-j`, option help, loco's data folder, `--dask`
without the `dask` extra. Real EmoDB audio, a 24-file subset so each run takes seconds."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PEERS_HINT = "pip install 'ser-live[peers]'"


@pytest.fixture(scope="module")
def tiny_data(emodb_root, tmp_path_factory) -> Path:
    """A data folder holding only ``emodb/``: 24 real files, 3 speakers x 4 emotions x 2."""
    root = tmp_path_factory.mktemp("newcomer") / "data"
    (root / "emodb").mkdir(parents=True)
    kept: dict[tuple[str, str], int] = {}
    for p in sorted((emodb_root / "wav").glob("*.flac")):
        cell = (p.name[:2], p.name[5])
        if cell[0] in ("03", "08", "09") and cell[1] in "WFTN" and kept.get(cell, 0) < 2:
            kept[cell] = kept.get(cell, 0) + 1
            shutil.copy(p, root / "emodb" / p.name)
    assert sum(kept.values()) == 24
    return root


@pytest.fixture
def tiny_recipe(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text('name = "tiny"\ncorpora = ["emodb"]\nlabels = ["neutral", "happy", "sad", "angry"]\n'
                    '[normalizer]\nenabled = false\n[classifier]\ngrid = ["linear C=1e-3"]\n')
    return path


# ---- 1. compare without opensmile -------------------------------------------------------------


def test_compare_without_opensmile_leaves_the_peer_rows_out_with_one_note(tiny_data, tiny_recipe, tmp_path, capsys,
                                                                           monkeypatch):
    """No `peers` extra: one note saying how to get the openSMILE rows, and the other rows run
    (they used to fail after the work: "feature extraction failed for N files", exit 2)."""
    import train.classifiers
    from train.__main__ import main

    monkeypatch.setitem(sys.modules, "opensmile", None)
    monkeypatch.setenv("SER_LIVE_DATA", str(tiny_data))
    monkeypatch.setattr(train.classifiers, "COMPARE_CLASSIFIERS",  # one cheap row besides the recipe's own
                        {"GMM per class": train.classifiers.COMPARE_CLASSIFIERS["GMM per class"]})
    out = tmp_path / "out"
    assert main(["-j", "1", "compare", "--protocol", "emodb-loso", "--recipe", str(tiny_recipe), "--out", str(out)]) == 0
    cap = capsys.readouterr()
    notes = [line for line in cap.err.splitlines() if "opensmile" in line.lower()]
    assert len(notes) == 1 and notes[0].startswith("note: ") and PEERS_HINT in notes[0], cap.err
    assert "tiny" in cap.out and "GMM per class" in cap.out and "openSMILE" not in cap.out
    assert (out / "compare-emodb-loso.json").exists()


@pytest.mark.parametrize("ask", [["--only", "openSMILE"], ["--only", "GMM", "egemaps"], ["--peer-exclude", "F1"]])
def test_compare_refuses_an_asked_openSMILE_row_without_opensmile_before_any_work(ask, tiny_recipe, tmp_path, capsys,
                                                                                  monkeypatch):
    from train.__main__ import main

    monkeypatch.setitem(sys.modules, "opensmile", None)
    monkeypatch.setattr("train.evaluate.run_recipe", lambda *a, **k: pytest.fail("ran the recipe row before refusing"))
    monkeypatch.setattr("train.peers.run_peer", lambda *a, **k: pytest.fail("ran a peer row"))
    assert main(["compare", "--protocol", "emodb-loso", "--recipe", str(tiny_recipe), "--out", str(tmp_path), *ask]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and PEERS_HINT in err and "openSMILE" in err, err
    assert list(tmp_path.iterdir()) == [tiny_recipe]


# ---- 2. a custom fit is not the shipped model ---------------------------------------------------


def test_fit_of_a_changed_recipe_is_named_after_its_file_and_quotes_no_other_figures(tiny_data, tmp_path, capsys,
                                                                                     monkeypatch):
    """`fit --set ... --out x.skops`: model "x", a card that names the recipe and its changes,
    no loco/room/personal figures of ser-default, and the evaluate command that measures it
    (it was titled "ser-default" and quoted the shipped model's loco UA)."""
    import json

    from ser_live.model import EmotionModel
    from train.__main__ import build_parser, main

    monkeypatch.setenv("SER_LIVE_DATA", str(tiny_data))
    out = tmp_path / "emoonly.skops"
    sets = ["--set", 'corpora=["emodb"]', "--set", "noise_branch=none"]
    assert main(["-j", "1", "fit", *sets, "--out", str(out)]) == 0
    model = EmotionModel.load(out, arrays=False)
    assert model.name == "emoonly"  # ser-live: "with model emoonly"
    assert model.metadata["protocol_scores"] == {} and model.metadata["recipe"] == "ser-default"
    card = out.with_suffix(".md").read_text()
    assert card.startswith("# Model card: emoonly\n")
    loco = json.loads((REPO / "reports" / "loco-ser-default-speaker.json").read_text())
    for heading in ("Leave one corpus out", "In a room", "Within-corpus"):
        assert heading not in card
    assert f"| {loco['ua_pct_mean']:.1f} |" not in card
    evaluate = "python -m train evaluate --protocol emodb-loso --set 'corpora=[\"emodb\"]' --set noise_branch=none"
    assert "recipe `ser-default` with `--set 'corpora=[\"emodb\"]' --set noise_branch=none`" in card
    assert f"To measure this one: `{evaluate}`" in card, card
    build_parser().parse_args(shlex.split(evaluate)[3:])  # a command the parser accepts
    # `card` rewrites it from the metadata: still no recipe's figures
    capsys.readouterr()
    assert main(["card", "--model", str(out)]) == 0
    assert out.with_suffix(".md").read_text() == card


def test_fit_provenance_only_for_a_changed_recipe(tmp_path):
    """The recipe fit unchanged to its own models/ path keeps its name and figures (None);
    --set, --exclude-corpus or another --out make a model of its own."""
    from train.__main__ import fit_provenance
    from train.recipe import load_recipe

    shipped = REPO / "models" / "ser-default.skops"
    recipe = load_recipe("ser-default")
    assert fit_provenance(recipe, out=shipped) is None
    other = fit_provenance(recipe, out=tmp_path / "mine.skops")
    assert other == {"recipe": "ser-default", "changes": "",
                     "evaluate_command": "python -m train evaluate --protocol loco"}
    changed = fit_provenance(load_recipe("ser-default", overrides=["normalizer.prior_weight=5"]), out=shipped)
    assert changed["changes"] == "--set normalizer.prior_weight=5"
    import dataclasses

    fold = fit_provenance(dataclasses.replace(recipe, corpora=("ravdess", "emodb")), out=tmp_path / "f.skops",
                          exclude_corpus=["tess", "ased", "es_uem"], recipe_arg="ser-default")
    assert fold["changes"] == "--exclude-corpus tess ased es_uem"
    assert fold["evaluate_command"] == ("python -m train evaluate --protocol loco --recipe ser-default "
                                        "--set 'corpora=[\"ravdess\", \"emodb\"]'")
    # one corpus of one's own: no protocol measures it (loco needs two), and none is suggested
    alone = fit_provenance(dataclasses.replace(recipe, corpora=("mycalls",)), out=tmp_path / "m.skops")
    assert alone["evaluate_command"] == ""
    from train.card import _unmeasured_lines

    text = "\n".join(_unmeasured_lines("ser-default", alone))
    assert "`loco` needs at least two corpora" in text and "To measure this one" not in text
    ravdess = fit_provenance(dataclasses.replace(recipe, corpora=("ravdess",)), out=tmp_path / "r.skops")
    assert ravdess["evaluate_command"] == "python -m train evaluate --protocol ravdess-6fold"


@pytest.mark.parametrize("name", ["ser-default", "ser-7class", "ser-noisy"])
def test_a_shipped_models_card_renders_unchanged(name):
    """The shipped models' cards, rendered from their metadata and the reports as `fit` and
    `card` render them, are the committed cards byte for byte."""
    from ser_live.features import FeatureExtractor
    from ser_live.model import EmotionModel
    from train.card import protocol_reports, render_card

    model = EmotionModel.load(REPO / "models" / f"{name}.skops", arrays=False)
    meta = dict(model.metadata)
    assert "trained_from" not in meta and model.name == meta["recipe"] == name
    meta["protocol_scores"] = protocol_reports(meta["recipe"])
    card = render_card(model, meta, FeatureExtractor(model.feature_config).n_features)
    assert card == (REPO / "models" / f"{name}.md").read_text(encoding="utf-8")


# ---- 3. a misplaced subcommand, -j after it -----------------------------------------------------


@pytest.mark.parametrize("argv, hint", [
    (["--protocol", "loco"], "did you mean: python -m train evaluate --protocol loco"),
    (["loco"], "did you mean: python -m train evaluate --protocol loco"),
    (["-j", "1", "cross:ravdess->tess"], "did you mean: python -m train -j 1 evaluate --protocol 'cross:ravdess->tess'"),
    (["--recipe", "x", "fit"], "did you mean: python -m train fit --recipe x"),
])
def test_an_option_or_protocol_instead_of_a_subcommand_says_what_was_meant(argv, hint, capsys):
    from train.__main__ import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and hint in err, err


def test_jobs_is_accepted_after_the_subcommand_too():
    from train.__main__ import build_parser

    parser = build_parser()
    for argv, jobs in ((["evaluate", "--protocol", "loco"], 2), (["-j", "1", "evaluate", "--protocol", "loco"], 1),
                       (["evaluate", "--protocol", "loco", "-j", "1"], 1), (["fit", "--jobs", "3"], 3),
                       (["-j", "3", "features", "-j", "1"], 1)):  # in both places: the later one wins
        assert parser.parse_args(argv).jobs == jobs, argv
    with pytest.raises(SystemExit):
        parser.parse_args(["evaluate", "--protocol", "loco", "-j", "0"])


# ---- 4. every option has a help line -------------------------------------------------------------


def test_every_train_option_has_a_help_line():
    import argparse

    from train.__main__ import build_parser

    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [f"{name} {'/'.join(a.option_strings) or a.dest}" for name, sp in [("", parser), *subs.choices.items()]
               for a in sp._actions if not a.help]
    assert missing == []
    # and `python -m train COMMAND --help` says what the command does, not only its options
    assert [name for name, sp in subs.choices.items() if not sp.description] == []
    assert "Train a model from its recipe" in subs.choices["fit"].format_help()


# ---- 5. loco names the data folder it searched ---------------------------------------------------


def test_loco_with_one_corpus_names_the_data_folder(tmp_path, capsys, monkeypatch):
    from train.__main__ import main

    (tmp_path / "ravdess").mkdir()
    monkeypatch.setenv("SER_LIVE_DATA", str(tmp_path))
    assert main(["evaluate", "--protocol", "loco"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs at least two corpora, found ['ravdess']" in err
    assert f"$SER_LIVE_DATA={tmp_path}" in err and "set SER_LIVE_DATA to the folder holding ravdess/, tess/" in err


# ---- 6. --dask without the dask extra ------------------------------------------------------------


def test_features_dask_without_the_extra_is_one_line_exit_2(capsys, monkeypatch):
    from train.__main__ import main

    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setattr("train.corpora.read_corpus", lambda *a, **k: pytest.fail("read a corpus before refusing"))
    assert main(["features", "--corpus", "ravdess", "--dask", "--limit", "3", "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'ser-live[dask]'" in err, err

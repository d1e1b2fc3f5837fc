"""A corpus of one's own, named by its path wherever `python -m train` takes a corpus: a recipe's
`corpora`, `evaluate --corpora` (loco), `cross:A->B`, `fit`. The README said "Your own data:
train/corpora/ (user.py) reads a folder ...", but every command refused a path ("unknown corpus";
"loco: no corpus '/x/mycalls' here"). Real EmoDB audio: a shipped `emodb/` of speakers 03 and 08
and a folder of one's own of speakers 09 and 10, so the two never share a speaker."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

EMOTIONS = {"W": "angry", "F": "happy", "T": "sad", "N": "neutral"}


def _take(emodb_root: Path, speakers: tuple[str, ...], per_cell: int = 2) -> list[Path]:
    kept: dict[tuple[str, str], int] = {}
    out = []
    for p in sorted((emodb_root / "wav").glob("*.flac")):
        cell = (p.name[:2], p.name[5])
        if cell[0] in speakers and cell[1] in EMOTIONS and kept.get(cell, 0) < per_cell:
            kept[cell] = kept.get(cell, 0) + 1
            out.append(p)
    return out


@pytest.fixture(scope="module")
def own_data(emodb_root, tmp_path_factory) -> tuple[Path, Path, Path]:
    """``(data folder with emodb/, own folder <label>/<speaker>/<file>, own folder with labels.csv)``."""
    base = tmp_path_factory.mktemp("own")
    data = base / "data"
    (data / "emodb").mkdir(parents=True)
    for p in _take(emodb_root, ("03", "08")):
        shutil.copy(p, data / "emodb" / p.name)
    folder = base / "My Calls"  # a space and capitals: the corpus is called "my-calls"
    listed = base / "listed"
    listed.mkdir()
    rows = ["path,label,speaker"]
    for p in _take(emodb_root, ("09", "10")):
        label, speaker = EMOTIONS[p.name[5]], p.name[:2]
        (folder / label / f"s{speaker}").mkdir(parents=True, exist_ok=True)
        shutil.copy(p, folder / label / f"s{speaker}" / p.name)
        shutil.copy(p, listed / p.name)
        rows.append(f"{p.name},{label},{speaker}")
    (listed / "labels.csv").write_text("\n".join(rows) + "\n")
    return data, folder, listed


@pytest.fixture
def recipe_of(tmp_path):
    def write(corpora: list[str]) -> Path:
        path = tmp_path / "own.toml"
        path.write_text(f'name = "own"\ncorpora = {json.dumps(corpora)}\nlabels = ["neutral", "happy", "sad", "angry"]\n'
                        '[normalizer]\nenabled = false\n[classifier]\ngrid = ["linear C=1e-3"]\n')
        return path

    return write


def test_read_corpus_takes_a_folder_or_a_labels_csv_by_path(own_data):
    from train.corpora import corpus_name, read_corpus

    _data, folder, listed = own_data
    res = read_corpus(str(folder))
    assert {r.corpus for r in res.records} == {"my-calls"} == {corpus_name(str(folder))}
    assert {r.speaker for r in res.records} == {"my-calls-s09", "my-calls-s10"}
    assert len(res.records) == 16 and not res.problems
    by_csv = read_corpus(str(listed))  # a folder with labels.csv: read from it, named after the folder
    assert {r.speaker for r in by_csv.records} == {"listed-09", "listed-10"} and len(by_csv.records) == 16


def test_loco_with_a_folder_of_ones_own(own_data, recipe_of, tmp_path, capsys, monkeypatch):
    """`evaluate --protocol loco --corpora emodb,<folder>`: each corpus held out in turn, the fold
    of one's own named after its folder and trained on emodb alone (it exited 2: "no corpus")."""
    from train.__main__ import main

    data, folder, _listed = own_data
    monkeypatch.setenv("SER_LIVE_DATA", str(data))
    out = tmp_path / "out"
    recipe = recipe_of(["emodb", str(folder)])
    assert main(["-j", "1", "evaluate", "--protocol", "loco", "--corpora", f"emodb,{folder}",
                 "--recipe", str(recipe), "--out", str(out)]) == 0
    cap = capsys.readouterr()
    report = json.loads(next(out.glob("loco_emodb_*-own-none.json")).read_text())
    assert [f["name"] for f in report["folds"]] == ["emodb", "my-calls"], cap.out
    assert [f["n_test"] for f in report["folds"]] == [16, 16]
    # without --corpora the recipe's own folder joins the shipped corpora present (emodb alone here)
    assert main(["-j", "1", "evaluate", "--protocol", "loco", "--recipe", str(recipe), "--out", str(out)]) == 0
    assert f"loco:emodb,{folder}:" in capsys.readouterr().out


def test_cross_and_fit_with_a_labels_csv_of_ones_own(own_data, recipe_of, tmp_path, capsys, monkeypatch):
    from train.__main__ import main

    data, _folder, listed = own_data
    monkeypatch.setenv("SER_LIVE_DATA", str(data))
    out = tmp_path / "out"
    assert main(["-j", "1", "evaluate", "--protocol", f"cross:{listed}->emodb", "--recipe", str(recipe_of(["emodb"])),
                 "--out", str(out)]) == 0
    assert "listed->emodb" in capsys.readouterr().out
    model = tmp_path / "m.skops"
    assert main(["-j", "1", "fit", "--recipe", str(recipe_of([str(listed)])), "--out", str(model)]) == 0
    from ser_live.model import EmotionModel

    assert EmotionModel.load(model).metadata["n_utterances"] == 16


@pytest.mark.parametrize("case, code, expected", [
    ("empty", 3, "no audio files"),  # CorpusNotFoundError's exit code
    ("no-label-column", 2, "no column label"),
    ("unknown-name", 2, "give the path of a folder of one's own"),
    ("all-listed-files-missing", 3, "no usable file, 16 left out"),  # was "X must be a non-empty 2-D array"
])
def test_a_bad_corpus_of_ones_own_is_one_clear_error(case, code, expected, own_data, recipe_of, tmp_path, capsys, monkeypatch):
    from train.__main__ import main

    data, _folder, listed = own_data
    monkeypatch.setenv("SER_LIVE_DATA", str(data))
    bad = tmp_path / case
    bad.mkdir()
    if case == "no-label-column":
        for p in listed.glob("*.flac"):
            shutil.copy(p, bad / p.name)
        (bad / "labels.csv").write_text("path,emotion\n" + "".join(f"{p.name},angry\n" for p in listed.glob("*.flac")))
    if case == "all-listed-files-missing":
        (bad / "labels.csv").write_text((listed / "labels.csv").read_text())
    spec = "mycalls" if case == "unknown-name" else str(bad)
    assert main(["-j", "1", "fit", "--recipe", str(recipe_of([spec])), "--out", str(tmp_path / "m.skops")]) == code
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err, err


def test_train_warnings_reach_stderr_after_ser_live_ran_in_the_same_process(own_data, recipe_of, tmp_path, capsys,
                                                                           monkeypatch):
    """``ser-live``'s main() puts a log handler on the root logger; it held the stderr of its
    own run, so a later ``python -m train`` in the same process (a notebook, the test suite)
    logged its warnings into that closed stream: "--- Logging error ---" and a traceback on
    stderr, as the fresh-clone CI saw for the all-files-missing case above."""
    import io
    import sys

    from ser_live.cli import main as ser_live_main
    from train.__main__ import main

    data, _folder, listed = own_data
    earlier = io.StringIO()
    monkeypatch.setattr(sys, "stderr", earlier)
    assert ser_live_main(["predict", str(next(listed.glob("*.flac")))]) == 0
    earlier.close()  # that run's stderr is gone, as a test's capture is after the test
    monkeypatch.undo()
    monkeypatch.setenv("SER_LIVE_DATA", str(data))
    bad = tmp_path / "missing"
    bad.mkdir()
    (bad / "labels.csv").write_text((listed / "labels.csv").read_text())
    capsys.readouterr()
    assert main(["-j", "1", "fit", "--recipe", str(recipe_of([str(bad)])), "--out", str(tmp_path / "m.skops")]) == 3
    err = capsys.readouterr().err
    assert "16 problem files left out" in err and "Logging error" not in err and "Traceback" not in err, err


def test_a_relative_folder_in_a_recipe_is_taken_from_the_recipes_folder(own_data, tmp_path, monkeypatch):
    """As `base` is: the recipe reads the same data whatever the working folder (it read
    `./My Calls` from wherever `python -m train` ran)."""
    from train.corpora import read_corpus
    from train.recipe import load_recipe

    _data, folder, _listed = own_data
    recipe = folder.parent / "mine.toml"
    recipe.write_text('name = "mine"\ncorpora = ["emodb", "./My Calls"]\nlabels = ["neutral", "happy", "sad", "angry"]\n')
    monkeypatch.chdir(tmp_path)
    loaded = load_recipe(recipe)
    assert loaded.corpora == ("emodb", str(folder))
    assert len(read_corpus(loaded.corpora[1]).records) == 16


def test_a_corpus_level_inner_cv_keeps_folders_whose_names_hold_a_dash_apart():
    """`inner_cv = "corpus"` cut speaker ids at the first `-`: "my-calls-s09" and "my-other-01"
    were one corpus "my", and a folder named "tess-like" joined TESS."""
    import numpy as np

    from train.recipe import corpus_of_groups

    groups = np.array(["my-calls-s09", "my-other-01", "tess-like-a", "tess-OAF", "emodb-03"], dtype=object)
    got = corpus_of_groups(groups, ["/data/My Calls", "./my-other", "/x/tess-like", "tess", "emodb"])
    assert got.tolist() == ["my-calls", "my-other", "tess-like", "tess", "emodb"]


def test_ablate_with_folders_of_ones_own(own_data, emodb_root, tmp_path, capsys, monkeypatch):
    """`ablate` over emodb and two folders of one's own named by the recipe (it read the shipped
    corpora only and refused the folders: "no corpus ... here")."""
    from train.__main__ import main

    data, folder, _listed = own_data
    other = tmp_path / "other"
    for p in _take(emodb_root, ("11", "12")):
        (other / EMOTIONS[p.name[5]] / p.name[:2]).mkdir(parents=True, exist_ok=True)
        shutil.copy(p, other / EMOTIONS[p.name[5]] / p.name[:2] / p.name)
    monkeypatch.setenv("SER_LIVE_DATA", str(data))
    recipe = tmp_path / "own.toml"
    recipe.write_text(f'name = "own"\ncorpora = {json.dumps(["emodb", str(folder), str(other)])}\n'
                      'labels = ["neutral", "happy", "sad", "angry"]\n[normalizer]\nenabled = false\n'
                      '[classifier]\ngrid = ["linear C=1e-3"]\n')
    assert main(["-j", "1", "ablate", "--recipe", str(recipe), "--without", "my-calls", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "my-calls" in out and "other" in out, out


def test_plots_of_a_folder_of_ones_own_go_to_out(own_data, tmp_path, capsys):
    """`plots --corpus /x/My Calls --out F` wrote `/x/My Calls-waveforms.png` beside the data
    folder (the path joined onto --out replaced it), not into F."""
    pytest.importorskip("matplotlib")
    from train.__main__ import main

    _data, folder, _listed = own_data
    out = tmp_path / "plots"
    assert main(["-j", "1", "plots", "--corpus", str(folder), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["my-calls-features.png", "my-calls-waveforms.png"]
    assert not list(folder.parent.glob("*.png"))


def test_a_folder_of_ones_own_corpus_the_user_may_not_read_is_a_problem_not_a_silent_gap(own_data, tmp_path):
    """The corpus walk skipped a sub-folder it could not list without a word: its
    recordings were missing from training and evaluation, and the summary said nothing. It is
    now one of the corpus's problems, naming the folder and the permission; the rest is read."""
    import subprocess
    import sys

    from tests.test_reliability_io import ENV, _as_a_user

    prefix = _as_a_user(tmp_path)  # as root: without the licence to read any file
    folder = tmp_path / "calls"
    shutil.copytree(own_data[1], folder)
    locked = folder / "angry" / "s09"
    locked.chmod(0)
    try:
        code = ("import json, sys; from train.corpora import read_corpus; r = read_corpus(sys.argv[1]); "
                "print(json.dumps([len(r.records), r.problems]))")
        res = subprocess.run([*prefix, sys.executable, "-c", code, str(folder)], env=ENV, capture_output=True,
                             text=True, timeout=120, stdin=subprocess.DEVNULL)
    finally:
        locked.chmod(0o755)
    assert res.returncode == 0, res.stderr
    n, problems = json.loads(res.stdout.splitlines()[-1])
    assert n == 14  # 16 recordings, 2 of them in the locked folder
    assert [p for p, _ in problems] == [str(locked)] and "Permission denied" in problems[0][1], problems

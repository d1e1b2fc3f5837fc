"""Evaluation protocols: speaker-disjoint folds, each record tested once, EmoBox's RAVDESS split."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from train.corpora import ReadResult, Record, read_emodb, read_ravdess, read_tess
from train.protocols import PROTOCOLS, Fold, FoldSet, make_folds, protocol_classes

WITHIN = {"ravdess-6fold": (6, 8), "emodb-loso": (10, 7), "tess-loso": (2, 7)}
SHIPPED = ("ravdess", "tess", "emodb")
CROSS = [f"cross:{a}->{b}" for a in SHIPPED for b in SHIPPED if a != b]


@pytest.fixture(scope="module")
def corpora(ravdess_root, tess_root, emodb_root) -> dict[str, list[Record]]:
    return {
        "ravdess": read_ravdess(ravdess_root, check_audio=False).records,
        "tess": read_tess(tess_root, check_audio=False).records,
        "emodb": read_emodb(emodb_root, check_audio=False).records,
    }


def check_speaker_disjoint(records, folds) -> None:
    n = len(records)
    for f in folds:
        assert f.train_idx.dtype == np.int64 and f.test_idx.dtype == np.int64
        assert f.train_idx.size and f.test_idx.size
        assert np.all(np.diff(f.train_idx) > 0) and np.all(np.diff(f.test_idx) > 0)
        assert f.train_idx.min() >= 0 and f.test_idx.max() < n
        assert not np.intersect1d(f.train_idx, f.test_idx).size
        train_spk = {records[i].speaker for i in f.train_idx}
        test_spk = {records[i].speaker for i in f.test_idx}
        assert not train_spk & test_spk, f.name
        assert f.test_speakers == tuple(sorted(test_spk))


# ---- on the real corpora ----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", list(WITHIN))
def test_within_corpus_protocols(corpora, protocol):
    n_folds, n_classes = WITHIN[protocol]
    records, labels, folds = make_folds(protocol, corpora)
    corpus = protocol.split("-")[0]
    assert records == corpora[corpus]  # nothing dropped: every label is a class
    assert len(folds) == n_folds and len(labels) == n_classes
    assert set(labels) == {r.label for r in records}
    check_speaker_disjoint(records, folds)
    # every record is tested exactly once, and trains in every other fold
    tested = np.concatenate([f.test_idx for f in folds])
    assert np.array_equal(np.sort(tested), np.arange(len(records)))
    for f in folds:
        assert np.array_equal(np.union1d(f.train_idx, f.test_idx), np.arange(len(records)))


def test_ravdess_6fold_is_the_emobox_split(corpora):
    fs = make_folds("ravdess-6fold", corpora)
    assert fs.folds[0].name == "fold1"
    assert fs.folds[0].test_speakers == ("ravdess-01", "ravdess-07", "ravdess-13", "ravdess-19")
    for k, fold in enumerate(fs.folds, start=1):
        actors = (k, k + 6, k + 12, k + 18)
        assert fold.test_speakers == tuple(f"ravdess-{a:02d}" for a in actors)
        assert len(fold.test_idx) == 4 * 60 and len(fold.train_idx) == 20 * 60
    assert fs.labels == [
        "neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"
    ]


def test_loso_folds_name_their_speaker(corpora):
    emodb = make_folds("emodb-loso", corpora)
    speakers = ("03", "08", "09", "10", "11", "12", "13", "14", "15", "16")
    assert [f.name for f in emodb.folds] == [f"emodb-{s}" for s in speakers]
    assert all(f.test_speakers == (f.name,) for f in emodb.folds)
    tess = make_folds("tess-loso", corpora)
    assert [f.test_speakers for f in tess.folds] == [("tess-OAF",), ("tess-YAF",)]
    assert [len(f.test_idx) for f in tess.folds] == [1399, 1399]


@pytest.mark.parametrize("protocol", CROSS)
def test_cross_protocols_keep_only_shared_labels(corpora, protocol):
    train_c, test_c = protocol[len("cross:"):].split("->")
    fs = make_folds(protocol, corpora)
    records, labels, folds = fs
    shared = {r.label for r in corpora[train_c]} & {r.label for r in corpora[test_c]}
    assert set(labels) == shared
    assert {r.label for r in records} == shared
    (fold,) = folds
    check_speaker_disjoint(records, folds)
    assert {records[i].corpus for i in fold.train_idx} == {train_c}
    assert {records[i].corpus for i in fold.test_idx} == {test_c}
    assert fold.train_idx.size + fold.test_idx.size == len(records)
    kept_train = sum(r.label in shared for r in corpora[train_c])
    kept_test = sum(r.label in shared for r in corpora[test_c])
    assert (fold.train_idx.size, fold.test_idx.size) == (kept_train, kept_test)
    n_all = len(corpora[train_c]) + len(corpora[test_c])
    assert sum(fs.dropped.values()) == n_all - len(records)


def test_cross_ravdess_to_emodb_counts(corpora, caplog):
    with caplog.at_level(logging.INFO, logger="train.protocols"):
        fs = make_folds("cross:ravdess->emodb", corpora)
    assert fs.labels == ["neutral", "happy", "sad", "angry", "fearful", "disgust"]
    assert fs.dropped == {"boredom": 81, "calm": 192, "surprised": 192}
    assert fs.folds[0].name == "ravdess->emodb"
    assert (fs.folds[0].train_idx.size, fs.folds[0].test_idx.size) == (1440 - 384, 535 - 81)
    assert any("465 records left out" in m for m in caplog.messages)


def test_cross_protocol_with_a_recipes_labels_trains_on_them_and_scores_what_the_test_corpus_has(corpora):
    """``evaluate --protocol cross:A->B`` passes the recipe's labels and label map: the
    training corpus gives the mapped labels (RAVDESS calm counted as neutral), the test
    corpus is scored on the trained labels it has, on its own labels only."""
    labels = ["neutral", "happy", "sad", "angry"]
    fs = make_folds("cross:ravdess->emodb", corpora, labels=labels, label_map={"calm": "neutral"})
    (fold,) = fs.folds
    check_speaker_disjoint(fs.records, fs.folds)
    assert fs.labels == labels and fs.score_labels == labels
    train = [fs.records[i] for i in fold.train_idx]
    test = [fs.records[i] for i in fold.test_idx]
    assert {r.corpus for r in train} == {"ravdess"} and {r.corpus for r in test} == {"emodb"}
    assert sum(r.label == "neutral" for r in train) == 96 + 192  # RAVDESS neutral + calm
    assert len(train) == 96 + 192 + 3 * 192
    assert len(test) == sum(r.label in labels for r in corpora["emodb"])
    assert "calm" not in fs.dropped and fs.dropped["boredom"] == 81
    # TESS has no calm: a label the test corpus lacks is trained on but not scored
    fs = make_folds("cross:ravdess->tess", corpora, labels=["neutral", "calm", "sad", "angry"])
    assert fs.labels == ["neutral", "calm", "sad", "angry"]
    assert fs.score_labels == ["neutral", "sad", "angry"]
    with pytest.raises(ValueError, match=r"emodb has 1 of the labels trained on from ravdess"):
        make_folds("cross:ravdess->emodb", corpora, labels=["calm", "surprised", "sad"])


def test_cross_protocol_naming_an_unknown_corpus_says_so(corpora, capsys):
    """A recipe's cross protocol (it has labels) naming a corpus there is no such of: the
    message names that corpus and lists the known ones, instead of blaming the labels."""
    from train.__main__ import main

    labels = ["neutral", "happy", "sad", "angry"]
    with pytest.raises(ValueError) as err:
        make_folds("cross:ravdess->nosuch", corpora, labels=labels)
    assert str(err.value) == "no records given for corpus 'nosuch' (have: ravdess, tess, emodb)"
    with pytest.raises(ValueError) as err:
        make_folds("cross:Emotiontts-Kor->emodb", labels=labels)  # the shipped corpora
    assert str(err.value) == (
        "cross:emotiontts-kor->emodb: unknown corpus 'emotiontts-kor' (not a shipped one); "
        "known: ravdess, tess, emodb, emotiontts_kor, ased, es_uem"
    )
    assert main(["evaluate", "--protocol", "cross:nosuch->emodb"]) == 2  # the default recipe
    err = capsys.readouterr().err
    assert "unknown corpus 'nosuch'" in err and "known: ravdess, tess, emodb" in err and "label" not in err


# ---- on hand-made record lists ------------------------------------------------------------------


def fake(corpus: str, speakers, labels, per_cell: int = 2) -> list[Record]:
    return [
        Record(
            path=f"/x/{corpus}/{s}/{lab}{i}.wav",
            corpus=corpus,
            speaker=f"{corpus}-{s}",
            gender=None,
            label=lab,
        )
        for s in speakers
        for lab in labels
        for i in range(per_cell)
    ]


def test_fake_ravdess_with_an_extra_label_is_dropped_and_counted():
    recs = fake("ravdess", [f"{a:02d}" for a in range(1, 25)], ["happy", "sad", "boredom"])
    fs = make_folds("ravdess-6fold", {"ravdess": recs})
    assert isinstance(fs, FoldSet) and fs.protocol == "ravdess-6fold"
    assert fs.dropped == {"boredom": 48}
    assert fs.labels == ["happy", "sad"] and len(fs.records) == 96
    assert fs.folds[2].test_speakers == ("ravdess-03", "ravdess-09", "ravdess-15", "ravdess-21")
    assert fs.y.dtype == np.int64 and fs.y.tolist() == [0, 0, 1, 1] * 24
    assert fs.speakers.shape == (96,) and fs.speakers[0] == "ravdess-01"
    check_speaker_disjoint(fs.records, fs.folds)


def test_source_may_be_a_loader_returning_records_or_a_read_result():
    calls = []

    def loader(name: str):
        calls.append(name)
        recs = fake(name, ["a", "b"], ["happy", "sad", "angry"])
        return ReadResult(corpus=name, root="/x", records=recs) if name == "emodb" else recs

    fs = make_folds("cross: Emodb -> TESS", loader)
    assert calls == ["emodb", "tess"]
    assert fs.protocol == "cross:emodb->tess"
    assert fs.folds[0].name == "emodb->tess"
    assert len(fs.folds[0].train_idx) == len(fs.folds[0].test_idx) == 12


def test_unknown_protocol_lists_the_valid_ones():
    for bad in ("ravdess-5fold", "cross:ravdess", "loso"):
        with pytest.raises(ValueError) as err:
            make_folds(bad, {})
        for name in PROTOCOLS:
            assert name in str(err.value)
    with pytest.raises(ValueError, match="unknown protocol"):
        protocol_classes("iemocap-5fold")
    assert protocol_classes("emodb-loso") == (
        "neutral", "happy", "sad", "angry", "fearful", "disgust", "boredom"
    )
    assert protocol_classes("cross:a->b") is None


def test_bad_inputs_are_refused():
    emo = fake("emodb", ["03", "08"], ["happy", "sad"])
    with pytest.raises(ValueError, match="same"):
        make_folds("cross:emodb->emodb", {"emodb": emo})
    with pytest.raises(ValueError, match="no records given for corpus 'tess'"):
        make_folds("cross:emodb->tess", {"emodb": emo})
    with pytest.raises(ValueError, match="include records of"):
        make_folds("emodb-loso", {"emodb": emo + fake("tess", ["OAF"], ["sad"])})
    with pytest.raises(ValueError, match="at least two speakers"):
        make_folds("emodb-loso", {"emodb": fake("emodb", ["03"], ["sad"])})
    # four actors leave two of the six RAVDESS folds without test records
    four = fake("ravdess", ["01", "02", "03", "04"], ["sad"])
    with pytest.raises(ValueError, match="fold5 has .* 0 test records"):
        make_folds("ravdess-6fold", {"ravdess": four})
    with pytest.raises(ValueError, match="not ravdess-01"):
        make_folds("ravdess-6fold", {"ravdess": fake("ravdess", ["01", "25"], ["sad"])})
    with pytest.raises(ValueError, match="share 1 label"):
        tess = fake("tess", ["OAF"], ["sad", "angry"])
        make_folds("cross:emodb->tess", {"emodb": emo, "tess": tess})
    # speaker ids that are not corpus-prefixed could collide across corpora
    clash = [
        Record(path=f"/y/{lab}.wav", corpus="tess", speaker="emodb-03", gender=None, label=lab)
        for lab in ("happy", "sad")
    ]
    with pytest.raises(ValueError, match="speakers on both sides"):
        make_folds("cross:emodb->tess", {"emodb": emo, "tess": clash})


def test_fold_coerces_indices_to_int64():
    test_idx = np.array([2], dtype=np.int32)
    f = Fold(name="f", train_idx=[0, 1], test_idx=test_idx, test_speakers=["s"])
    assert f.train_idx.dtype == np.int64 and f.test_idx.dtype == np.int64
    assert f.test_speakers == ("s",)


# ---- loco and emotiontts_kor-loso --------------------------------------------------------------


@pytest.fixture(scope="module")
def four(corpora, data_root):
    from train.corpora import read_emotiontts_kor

    if not (data_root / "emotiontts_kor").is_dir():
        pytest.skip("emotiontts_kor not in the data folder")
    return {**corpora, "emotiontts_kor": read_emotiontts_kor(data_root / "emotiontts_kor", check_audio=False).records}


def test_loco_leaves_one_corpus_out_on_the_core_labels(four):
    from train.protocols import CORE_LABELS

    fs = make_folds("loco", four)
    assert [f.name for f in fs.folds] == list(four)
    assert set(fs.labels) == set(CORE_LABELS) == set(fs.score_labels)
    assert fs.dropped == {"boredom": 81, "calm": 192, "disgust": 638, "fearful": 661, "surprised": 592}
    for f in fs.folds:
        assert {fs.records[i].corpus for i in f.test_idx} == {f.name}
        assert f.name not in {fs.records[i].corpus for i in f.train_idx}
        # the held-out corpus is tested whole (its core-label records), the rest all train
        assert len(f.train_idx) + len(f.test_idx) == len(fs.records)
    assert [len(f.test_idx) for f in fs.folds] == [672, 1598, 339, 300]


def test_loco_label_map_changes_training_labels_only(four):
    seven = ["neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
    fs = make_folds("loco", four, labels=seven, label_map={"calm": "neutral"})
    assert fs.score_labels == ["neutral", "happy", "sad", "angry"]
    assert fs.dropped == {"boredom": 81}
    rav = next(f for f in fs.folds if f.name == "ravdess")
    tested = [fs.records[i] for i in rav.test_idx]
    # calm (mapped to neutral for training) is never a test utterance; neutral ones are
    assert len(tested) == 672 and not any("-02-" in r.path.rsplit("/", 1)[1][:9] for r in tested)
    emo = next(f for f in fs.folds if f.name == "emodb")
    n_calm = sum(
        1 for i in emo.train_idx if fs.records[i].corpus == "ravdess" and fs.records[i].path.rsplit("/", 1)[1][6:8] == "02"
    )
    assert n_calm == 192  # calm trains, as neutral, when RAVDESS is not held out
    assert {fs.records[i].label for i in emo.test_idx} == {"neutral", "happy", "sad", "angry"}


def test_emotiontts_kor_loso_keeps_possible_same_person_together(four):
    fs = make_folds("emotiontts_kor-loso", four)
    assert len(fs.folds) == 13 and fs.labels == ["neutral", "happy", "sad", "angry"]
    for f in fs.folds:
        test = {fs.records[i].speaker for i in f.test_idx}
        train = {fs.records[i].speaker for i in f.train_idx}
        assert not test & train
        if "emotiontts_kor-nea" in test or "emotiontts_kor-ema" in test:
            assert {"emotiontts_kor-nea", "emotiontts_kor-ema"} <= test
    tested = np.sort(np.concatenate([f.test_idx for f in fs.folds]))
    assert np.array_equal(tested, np.arange(len(fs.records)))


def test_within_protocol_restricted_to_a_recipes_labels(corpora):
    fs = make_folds("ravdess-6fold", corpora, labels=["neutral", "happy", "sad", "angry"])
    assert fs.labels == fs.score_labels == ["neutral", "happy", "sad", "angry"]
    assert len(fs.records) == 672
    check_speaker_disjoint(fs.records, fs.folds)


# ---- six-corpus loco (ased and es_uem added), subsets, and the corpus ablation -----------------


@pytest.fixture(scope="module")
def six(four, ased_root, es_uem_root):
    from train.corpora import read_ased, read_es_uem

    return {
        **four,
        "ased": read_ased(ased_root, check_audio=False).records,
        "es_uem": read_es_uem(es_uem_root, check_audio=False).records,
    }


def test_loco_over_six_corpora_one_fold_each_and_no_group_on_both_sides(six):
    fs = make_folds("loco", six)
    assert fs.protocol == "loco" and [f.name for f in fs.folds] == list(six)
    assert [len(f.test_idx) for f in fs.folds] == [672, 1598, 339, 300, 1960, 749]
    groups, corpus = fs.groups, fs.corpora
    for f in fs.folds:
        assert set(corpus[f.test_idx]) == {f.name} and f.name not in set(corpus[f.train_idx])
        assert not set(groups[f.train_idx]) & set(groups[f.test_idx]), f.name
        assert len(f.train_idx) + len(f.test_idx) == len(fs.records)
    es = next(f for f in fs.folds if f.name == "es_uem")
    assert "es_uem-tests" in set(groups[es.test_idx])  # Test1 and Test2: one group
    assert {fs.records[i].speaker for i in es.test_idx if groups[i] == "es_uem-tests"} == {"es_uem-Test1", "es_uem-Test2"}
    assert len(set(groups[es.test_idx])) == 15
    ased = next(f for f in fs.folds if f.name == "ased")
    assert len(ased.test_speakers) == 64


def test_loco_subset_by_name(six):
    from train.protocols import loco_corpora, loco_protocol

    fs = make_folds("loco: ASED, es-uem ,emodb", six)
    assert fs.protocol == "loco:emodb,ased,es_uem"  # the order of the data folder, in the report's name too
    assert [f.name for f in fs.folds] == ["emodb", "ased", "es_uem"]
    assert set(fs.corpora) == {"emodb", "ased", "es_uem"}
    check_speaker_disjoint(fs.records, fs.folds)
    assert make_folds("loco:" + ",".join(reversed(list(six))), six).protocol == "loco"  # all of them
    assert loco_protocol(None, six) == "loco" and loco_protocol(["tess", "ravdess"], six) == "loco:ravdess,tess"
    assert loco_corpora(six, ["Es-Uem", "tess"]) == ["tess", "es_uem"]
    assert protocol_classes("loco:tess,ased") == ("neutral", "happy", "sad", "angry")
    with pytest.raises(ValueError, match="no corpus 'iemocap' here; available: ravdess, tess"):
        make_folds("loco:ravdess,iemocap", six)
    with pytest.raises(ValueError, match="named twice: tess"):
        make_folds("loco:tess,ravdess,tess", six)
    with pytest.raises(ValueError, match="at least two corpora"):
        make_folds("loco:tess", six)
    with pytest.raises(ValueError, match="unknown protocol"):
        make_folds("loco:", six)


def test_ablation_trains_each_subset_on_the_rows_of_its_own_records(six, monkeypatch, tmp_path):
    """run_ablation slices the full run's feature rows for each "without X" run: every row
    must be the row of the same file, every fold its own corpus, X never trained nor tested;
    the runs it writes as parts are read back instead of run again."""
    import dataclasses
    import json

    from train import ablation
    from train.evaluate import FoldScore
    from train.recipe import load_recipe

    recipe = dataclasses.replace(load_recipe("ser-default"), noise_branch=None)
    three = {c: six[c] for c in ("emodb", "emotiontts_kor", "es_uem")}
    rows = {}

    def fake_features(protocol, *, source, labels, label_map, **_):
        fs = make_folds(protocol, source, labels=labels, label_map=label_map)
        rows.update({r.path: i for i, r in enumerate(fs.records)})
        return fs, np.arange(len(fs.records), dtype=np.float32)[:, None], []

    runs = []

    class Result:
        def __init__(self, protocol, folds):
            self.protocol, self.folds = protocol, folds

        def to_json(self):
            return {"protocol": self.protocol, "recipe_summary": recipe.summary(), "folds": [f.__dict__ for f in self.folds]}

    def fake_run(protocol, recipe, *, data, **_):
        fs, X, _aug = data
        assert X[:, 0].tolist() == [rows[r.path] for r in fs.records]  # the same file's row
        folds = []
        for f in fs.folds:
            assert set(fs.corpora[f.test_idx]) == {f.name} and f.name not in set(fs.corpora[f.train_idx])
            # a made-up score that says which corpora trained the fold
            ua = 10.0 * len(set(fs.corpora[f.train_idx])) + len(f.name)
            folds.append(FoldScore(name=f.name, ua_pct=ua, wa_pct=ua, f1_pct=ua, n_test=len(f.test_idx)))
        runs.append(fs.protocol)
        return {"speaker": Result(fs.protocol, folds)}

    monkeypatch.setattr(ablation, "load_protocol_features", fake_features)
    monkeypatch.setattr(ablation, "run_recipe", fake_run)
    seen = []
    res = ablation.run_ablation(recipe, source=three, progress=False, parts_dir=tmp_path, on_row=seen.append)
    assert runs == ["loco:emotiontts_kor,es_uem", "loco:emodb,es_uem", "loco:emodb,emotiontts_kor", "loco"]
    assert len(seen) == 3 and res["reused"] == []
    assert res["full"]["speaker"]["emodb"]["ua_pct"] == 20 + 5
    row = next(r for r in res["rows"] if r["without"] == "emodb")
    assert row["held_out"] == ["emotiontts_kor", "es_uem"]
    # without emodb each held-out corpus trains on one corpus instead of two: 10 points less
    assert row["delta_pts"] == pytest.approx(-10.0) and row["verdict"].startswith("earns its place")
    assert row["six_mean_ua_pct"] == pytest.approx((10 + 14 + 10 + 6 + 25) / 3)
    assert ablation._verdict(1.9).startswith("tie") and ablation._verdict(2.0).startswith("costs")
    # every run was written as a part: a second ablation reads them all and runs nothing
    runs.clear()
    again = ablation.run_ablation(recipe, source=three, progress=False, reuse_dirs=[tmp_path / "none", tmp_path])
    assert runs == [] and again["rows"] == res["rows"] and len(again["reused"]) == 4
    # a full run scored in a session mode the parts were not (a "first-5" report beside parts
    # written before that mode existed): that mode has its full row and no ablated rows
    newer = tmp_path / "loco-ser-default-first-5.json"
    newer.write_text((tmp_path / "loco-ser-default-speaker.json").read_text())
    mixed = ablation.run_ablation(recipe, source=three, progress=False, reuse_dirs=[tmp_path])
    assert runs == [] and mixed["modes"] == ["speaker", "first-5"] and mixed["rows"] == res["rows"]
    md = ablation.write_ablation_report(mixed, tmp_path / "mixed")["md"].read_text()
    assert "## Sessions: first-5" in md and [l[:9] for l in md.splitlines()].count("| emodb |") == 1  # speaker only
    newer.unlink()
    part = ablation.run_ablation(recipe, source=three, progress=False, without=["es_uem"], reuse_dirs=[tmp_path])
    assert [r["without"] for r in part["rows"]] == ["es_uem"] and runs == []
    # one share of a split ablation reads the full run but never runs it: no rows without it
    (tmp_path / "share").mkdir()
    share = ablation.run_ablation(recipe, source=three, progress=False, without=["emodb"], reuse_dirs=[tmp_path / "share"],
                                  parts_dir=tmp_path / "share", run_full=False)
    assert runs == ["loco:emotiontts_kor,es_uem"] and share["rows"] == [] and share["full"] == {}
    runs.clear()
    # a stale part (here: of the full run, with a fold missing) is run again, not reused
    stale = tmp_path / "loco-ser-default-speaker.json"
    d = json.loads(stale.read_text())
    stale.write_text(json.dumps({**d, "folds": d["folds"][:2]}))
    again = ablation.run_ablation(recipe, source=three, progress=False, reuse_dirs=[tmp_path])
    assert runs == ["loco"] and again["rows"] == res["rows"]
    with pytest.raises(ValueError, match="at least three"):
        ablation.run_ablation(recipe, source={c: six[c] for c in ("emodb", "ased")}, progress=False)
    with pytest.raises(ValueError, match="not among the loco corpora"):
        ablation.run_ablation(recipe, source={**three, "ased": six["ased"]}, corpora=["emodb", "es_uem", "ased"],
                              without=["emotiontts_kor"], progress=False)


def test_ablation_reuses_only_reports_of_the_same_recipe_protocol_and_folds(tmp_path):
    import dataclasses
    import json

    from train.ablation import scores_from_reports
    from train.recipe import load_recipe

    recipe = load_recipe("ser-default")
    fold = {"name": "emodb", "ua_pct": 50.0, "wa_pct": 51.0, "f1_pct": 49.0, "n_test": 339, "chosen": ""}
    report = {"protocol": "loco", "recipe_summary": recipe.summary(), "folds": [fold]}
    (tmp_path / "loco-ser-default-speaker.json").write_text(json.dumps(report))
    want = {"speaker": {"emodb": {k: fold[k] for k in ("ua_pct", "wa_pct", "f1_pct", "n_test")}}}
    assert scores_from_reports(tmp_path, "loco", recipe, folds=["emodb"]) == want
    with pytest.raises(FileNotFoundError, match="no loco:emodb,ased report"):
        scores_from_reports(tmp_path, "loco:emodb,ased", recipe, folds=["emodb", "ased"])
    with pytest.raises(ValueError, match="another recipe setting"):
        scores_from_reports(tmp_path, "loco", dataclasses.replace(recipe, grid=("linear C=1",)), folds=["emodb"])
    with pytest.raises(ValueError, match="stale"):  # e.g. the four-corpus loco report
        scores_from_reports(tmp_path, "loco", recipe, folds=["emodb", "ased"])


def test_evaluate_prints_the_loco_mean_without_tess():
    from train.evaluate import FoldScore
    from train.reports import ua_table

    class Result:
        def __init__(self, uas):
            self.folds = [FoldScore(name=n, ua_pct=v, wa_pct=v, f1_pct=v, n_test=1) for n, v in uas]
            self.ua_pct = (float(np.mean([v for _, v in uas])), 0.0)

    table = ua_table([("speaker", Result([("ravdess", 52.0), ("tess", 62.0), ("emodb", 76.0)]))]).splitlines()
    assert table[0].split()[-4:] == ["mean", "mean", "w/o", "TESS"]
    assert table[1].split()[-2:] == ["63.3", "64.0"]  # (52 + 62 + 76) / 3, (52 + 76) / 2
    # tess-loso's folds are its two speakers: no such column
    assert "TESS" not in ua_table([("speaker", Result([("tess-OAF", 50.0), ("tess-YAF", 60.0)]))])


@pytest.mark.parametrize("bad,message", [
    ("nosuch", "unknown protocol 'nosuch'; valid: ravdess-6fold"),
    ("cross:tess->nosuch", "cross:tess->nosuch: unknown corpus 'nosuch' (not a shipped one); known: ravdess"),
    ("cross:tess->tess", "cross:tess->tess: train and test corpus are the same"),
    ("cross:tess", "unknown protocol 'cross:tess'"),
    ("loco:tess", "loco: needs at least two corpora, found ['tess']"),
    ("loco:tess,nosuch", "loco: no corpus 'nosuch' here; available: ravdess"),
])
def test_evaluate_refuses_a_bad_protocol_before_running_the_good_ones_before_it(tess_root, tmp_path, capsys, bad,
                                                                                 message):
    """``evaluate --protocol tess-loso nosuch`` ran tess-loso (loco: an hour) and only then
    said 'unknown protocol'. Every name is checked first: exit 2, nothing run or written."""
    from train.__main__ import main

    out = tmp_path / "reports"
    assert main(["evaluate", "--protocol", "tess-loso", bad, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: {message}") and len(captured.err.splitlines()) == 1, captured.err
    assert captured.out == ""
    assert not out.exists() or not any(out.iterdir())


def test_check_protocol_accepts_every_protocol_make_folds_runs(data_root):
    from train.protocols import check_protocol

    for name in [*(p for p in PROTOCOLS if "<" not in p), *CROSS, "loco:tess,emodb", "LOCO: TESS , EMODB",
                 "cross: Tess -> EmoDB"]:
        check_protocol(name)  # no error
    for name in ("cross:tess->tess", "loco:", "cross:->tess", "tess_loso"):
        with pytest.raises(ValueError):
            check_protocol(name)


def test_evaluate_denoise_without_the_room_conditions_is_a_usage_error(tess_root, tmp_path, capsys):
    """``--denoise`` alone exited 1 (a run that failed) for what is a usage error; exit 2,
    saying what to add, before anything runs."""
    from train.__main__ import main

    assert main(["evaluate", "--protocol", "tess-loso", "--denoise", "--out", str(tmp_path / "r")]) == 2
    captured = capsys.readouterr()
    assert captured.err == "error: --denoise is evaluated on the room conditions: add --condition room\n"
    assert captured.out == ""


def test_a_recipe_with_fewer_than_two_of_a_within_protocols_classes_is_refused_before_training(corpora, tmp_path,
                                                                                                capsys):
    """``evaluate --protocol tess-loso --set 'labels=["happy","boredom"]'`` (TESS has no
    boredom) trained on one class: scikit-learn's "needs samples of at least 2 classes" after
    the features were loaded. The folds are refused, naming the protocol's classes."""
    from train.__main__ import main

    with pytest.raises(ValueError, match=r"tess-loso: the recipe's labels \['happy', 'boredom'\] include fewer than "
                                         r"two of the protocol's classes \(neutral, happy, sad"):
        make_folds("tess-loso", corpora, labels=["happy", "boredom"])
    assert make_folds("tess-loso", corpora, labels=["happy", "sad", "boredom"]).labels == ["happy", "sad"]
    out = tmp_path / "r"
    assert main(["evaluate", "--protocol", "tess-loso", "--set", 'labels=["happy","boredom"]', "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: tess-loso: the recipe's labels") and "scikit" not in err and "solver" not in err
    assert not out.exists() or not any(out.iterdir())

"""The training workspace on a small real subset: cached extraction, speaker-independent
evaluation, reports, augmentation, the tutorial reference recipe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ser_live.audiofile import load_audio
from train.augment import Augmentation, apply_augmentation
from train.corpora import read_corpus
from train.extract import extract_features, prepare_utterance
from train.tutorial import TUTORIAL_N_FEATURES, tutorial_features


@pytest.fixture(scope="module")
def emodb_subset(emodb_root):
    """Four EmoDB speakers, four emotions: 50-odd real utterances."""
    recs = read_corpus("emodb", emodb_root).records
    keep = {"emodb-03", "emodb-08", "emodb-09", "emodb-10"}
    return [r for r in recs if r.speaker in keep and r.label in ("angry", "sad", "neutral", "happy")]


def test_cache_hit_on_second_run_and_same_values(emodb_subset, tmp_path):
    paths = [r.path for r in emodb_subset[:12]]
    X1, rep1 = extract_features(paths, n_jobs=1, cache_dir=tmp_path, progress=False)
    X2, rep2 = extract_features(paths, n_jobs=2, cache_dir=tmp_path, progress=False)
    assert rep1.n_cached == 0 and rep2.n_cached == len(paths)
    assert np.array_equal(X1, X2)
    assert np.isfinite(X1).all()
    # the cache is keyed by the extractor configuration too
    from ser_live.features import FeatureConfig

    _X3, rep3 = extract_features(paths[:2], config=FeatureConfig(n_mels=40), n_jobs=1, cache_dir=tmp_path, progress=False)
    assert rep3.n_cached == 0


def test_unreadable_file_is_reported_not_dropped(emodb_subset, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really")
    X, rep = extract_features([emodb_subset[0].path, str(bad)], n_jobs=1, cache_dir=False, progress=False)
    assert np.isfinite(X[0]).all() and np.isnan(X[1]).all()
    assert len(rep.failures) == 1 and rep.failures[0][0] == str(bad)
    assert "1 failed" in str(rep)


def test_training_trim_is_the_live_segmenter_span(ravdess_root):
    from ser_live.vad import speech_span

    y = load_audio(ravdess_root / "Actor_03" / "03-01-03-01-01-01-03.flac")
    t = prepare_utterance(y)
    a, b = speech_span(y)
    assert np.array_equal(t, y[a:b])
    assert 0.5 * 16000 < t.size < y.size  # RAVDESS files carry ~1 s of leading silence


def _small_recipe(**kw):
    from train.recipe import NormalizerSpec, Recipe

    base = dict(
        name="small", corpora=("emodb",), labels=("neutral", "happy", "sad", "angry"),
        normalizer=NormalizerSpec(enabled=True, prior_weight=10.0), grid=("linear C=1e-3",),
    )
    return Recipe(**{**base, **kw})


def test_evaluation_is_speaker_independent_and_beats_chance(emodb_subset, tmp_path):
    from train.evaluate import SESSION_MODES, run_recipe, write_reports

    results = run_recipe("emodb-loso", _small_recipe(), source={"emodb": emodb_subset}, n_jobs=1, progress=False)
    assert list(results) == list(SESSION_MODES)
    res = results["speaker"]
    assert [f.name for f in res.folds] == sorted(f.name for f in res.folds)
    assert len(res.folds) == 4
    assert res.confusion.sum() == len(emodb_subset)
    # four emotions: chance UA is 25 %; angry vs sad vs neutral vs happy on real speech is far above
    assert res.ua_pct[0] > 45, res.headline()
    assert all(0 <= f.ua_pct <= 100 for r in results.values() for f in r.folds)
    paths = write_reports(res, tmp_path, command="python -m train evaluate --protocol emodb-loso")
    assert paths["json"].name == "emodb-loso-small-speaker.json"
    data = json.loads(paths["json"].read_text())
    assert data["ua_pct_mean"] == pytest.approx(res.ua_pct[0])
    assert data["session_mode"] == "speaker" and data["recipe"] == "small"
    md = paths["md"].read_text()
    assert "UA" in md and "Confusion matrix" in md and "angry" in md and "Recipe" in md
    assert paths["png"].stat().st_size > 1000
    # without a normaliser: one scoring, "none"
    plain = run_recipe(
        "emodb-loso", _small_recipe(normalizer=_small_recipe().normalizer.__class__()), source={"emodb": emodb_subset},
        n_jobs=1, progress=False,
    )
    assert list(plain) == ["none"]


def test_recipe_file_round_trip_and_errors(tmp_path):
    from train.recipe import RECIPES_DIR, load_recipe

    r = load_recipe("ser-default")
    assert r.path == str(RECIPES_DIR / "ser-default.toml")
    assert set(r.labels) == {"neutral", "happy", "sad", "angry"} and r.normalizer.enabled
    # emotiontts_kor is a loco test corpus only (issue 21's corpus ablation): never trained on
    assert "emotiontts_kor" not in r.corpora and {"ravdess", "ased", "es_uem"} <= set(r.corpora)
    # the main SVM's faint-floor copies (7 December), then the noise branch's own, only in all_augmentations
    assert r.noise_branch is not None and r.noise_branch.column == "rms_db_p5_95"
    assert [(a.noise, a.snr_db) for a in r.augmentations] == [("white", 35.0), ("pink", 25.0), ("brown", 30.0)]
    assert [a.snr_db for a in r.noise_branch.augmentations] == [10.0, 10.0, 10.0]
    assert r.all_augmentations == r.augmentations + r.noise_branch.augmentations
    assert load_recipe("experiments/ser-default-v5").augmentations == ()  # the default before them
    with pytest.raises(FileNotFoundError, match="recipes"):
        load_recipe("no-such-recipe")
    head = 'name = "x"\ncorpora = ["emodb"]\nlabels = ["sad", "angry"]\n'
    bad = tmp_path / "bad.toml"
    for body, message in (
        ("classifer = {}\n", r"bad.toml: unknown keys \['classifer'\]"),
        ("[[augmentations]]\nrt60 = 0.3\n", "unknown augmentation keys"),
        ('[noise_branch]\ncolumn = "rms_db_p5_95"\n', "at least one"),
        ("[noise_branch]\ncut = 3\n", r"unknown keys \['cut'\] in \[noise_branch\]"),
        ("[normalizer]\nprior_weight = \"ten\"\n", "normalizer.prior_weight must be a number"),
        ('[normalizer]\nmode = "concat"\n', r"normalizer.mode must be one of \['replace', 'append'\]"),
        ('[classifier]\ninner_cv = "random"\n', "classifier.inner_cv must be one of"),
        ("[normalizer]\nstart_length = 0\n", "normalizer.start_length >= 1"),
        ('base = "no-such-base"\n', "base 'no-such-base': recipe no-such-base not found"),
        ("name = \n", "not valid TOML"),
    ):
        bad.write_text(head + body)
        with pytest.raises(ValueError, match=message):
            load_recipe(bad)


def test_recipe_base_and_command_line_overrides(tmp_path):
    """An experiment states only its change: ``base`` + tables merged key by key, arrays
    replaced; ``--set`` applied last; an unknown key names the file it is in."""
    from train.augment import Augmentation
    from train.recipe import RECIPES_DIR, load_recipe

    default = load_recipe("experiments/ser-default-v2")
    # an experiment three bases away from the default (ser-default-v2 <- voice-noise-branch <- -20)
    b20 = load_recipe("experiments/voice-noise-branch-20")
    assert b20.path == str(RECIPES_DIR / "experiments" / "voice-noise-branch-20.toml")
    assert b20.name == "voice-noise-branch-20" and b20.description == "ser-default plus a noise branch for utterances heard in noise"
    assert (b20.normalizer, b20.exclude, b20.grid, b20.voice_quality) == (default.normalizer, default.exclude, default.grid, True)
    # the array of tables is replaced, not appended to; the table's other key (column) is kept
    assert b20.noise_branch.augmentations == default.noise_branch.augmentations + (Augmentation(snr_db=20.0, noise="pink"),)
    assert b20.noise_branch.column == default.noise_branch.column
    # a chain of experiments: norm-w5-cap15 <- norm-w10-cap10 <- norm-w10 <- baseline
    w5 = load_recipe(RECIPES_DIR / "experiments" / "norm-w5-cap15.toml")
    assert (w5.normalizer.enabled, w5.normalizer.prior_weight, w5.normalizer.session_cap) == (True, 5.0, 15.0)
    assert w5.augmentations == () and len(load_recipe("experiments/baseline").augmentations) == 3

    # --set: section.key=value, values read as TOML; "none" clears an optional setting
    r = load_recipe("ser-default", overrides=["normalizer.prior_weight=5", 'features.exclude=["mel"]', "noise_branch=none",
                                              "normalizer.mode=append", "normalizer.session_cap=15"])
    assert (r.normalizer.prior_weight, r.exclude, r.noise_branch, r.normalizer.mode, r.normalizer.session_cap) == (5.0, ("mel",), None, "append", 15.0)
    assert r.overrides and "command-line overrides normalizer.prior_weight=5" in r.summary()
    assert load_recipe("experiments/ser-default-v2", overrides=["normalizer.session_cap=none"]).normalizer.session_cap is None
    assert load_recipe("ser-default", overrides=[]) == load_recipe("ser-default")
    for text, message in (
        ("normalizer.prior_weight", "expected section.key=value"),
        ("normaliser.prior_weight=3", "unknown key 'normaliser'"),
        ("normalizer.weight=3", r"unknown keys \['weight'\] in \[normalizer\]"),
        ("normalizer.prior_weight=[1,", "is not a TOML value"),
        ("classifier.inner_splits=2.5", "classifier.inner_splits must be an integer"),
    ):
        with pytest.raises(ValueError, match=message):
            load_recipe("ser-default", overrides=[text])

    # a file with a base: merged; an unknown key in the base is reported with the base's name
    base = tmp_path / "mybase.toml"
    base.write_text('name = "b"\ncorpora = ["emodb"]\nlabels = ["sad", "angry"]\n[classifier]\ngrid = ["linear C=1e-3"]\n')
    child = tmp_path / "child.toml"
    child.write_text('base = "mybase.toml"\nname = "c"\n[classifier]\ninner_splits = 5\n')
    c = load_recipe(child)
    assert (c.name, c.corpora, c.grid, c.inner_splits) == ("c", ("emodb",), ("linear C=1e-3",), 5)
    base.write_text(base.read_text() + "speaker_balanse = true\n")
    with pytest.raises(ValueError, match=r"mybase.toml: unknown keys \['speaker_balanse'\] in \[classifier\]"):
        load_recipe(child)
    base.write_text('base = "child.toml"\n')
    with pytest.raises(ValueError, match="base cycle"):
        load_recipe(child)


def test_balance_weights_give_each_speaker_or_corpus_the_same_weight():
    """``classifier.speaker_balance`` / ``corpus_balance``: the rows of each speaker, or of
    each training corpus, sum to the same weight (mean 1 over the rows); neither: no
    weights; both: refused before any work. The default weighs each corpus the same (since 7
    December). A settings record leaves ``corpus_balance`` out while it is false, so the
    reports recorded before it existed still match their recipes."""
    from train.recipe import balance_weights
    from train.recipe_spec import load_recipe

    groups = np.array(["emodb-03"] * 2 + ["emodb-08"] * 4 + ["tess-OAF"] * 12, dtype=object)
    base = load_recipe("experiments/ser-default-v4")  # the default before corpus balance
    assert balance_weights(groups, base) is None
    by_corpus = balance_weights(groups, load_recipe("ser-default"))
    assert by_corpus[:6].sum() == pytest.approx(by_corpus[6:].sum()) and by_corpus.mean() == pytest.approx(1.0)
    assert len(set(by_corpus[:6].round(9))) == 1  # within a corpus every row the same
    by_speaker = balance_weights(groups, load_recipe("experiments/ser-default-v4", overrides=["classifier.speaker_balance=true"]))
    sums = [by_speaker[groups == g].sum() for g in ("emodb-03", "emodb-08", "tess-OAF")]
    assert sums == pytest.approx([sums[0]] * 3) and by_speaker.mean() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="choose one"):
        load_recipe("ser-default", overrides=["classifier.speaker_balance=true"])
    assert "corpus_balance" not in base.settings_record()
    assert load_recipe("ser-default").settings_record()["corpus_balance"] is True


def test_train_cli_bad_set_is_one_line_exit_2(capsys):
    from train.__main__ import main

    assert main(["evaluate", "--protocol", "loco", "--set", "normalizer.prior_weight=ten"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ser-default.toml with --set normalizer.prior_weight=ten:" in err
    assert "normalizer.prior_weight must be a number, got 'ten'" in err
    assert main(["fit", "--recipe", "experiments/no-such", "--set", "x"]) == 2
    assert "recipe experiments/no-such not found" in capsys.readouterr().err


def test_room_reverberation_has_the_asked_rt60():
    from train.augment import rir_bank

    for rt60 in (0.3, 0.6):
        bank = rir_bank(rt60, n=2)
        for h in bank:
            # Schroeder backward integration; T20 extrapolated to 60 dB
            e = np.cumsum(h[::-1].astype(float) ** 2)[::-1]
            edc = 10 * np.log10(e / e[0])
            t5, t25 = np.argmax(edc < -5), np.argmax(edc < -25)
            t60 = 3 * (t25 - t5) / 16000
            assert 0.6 * rt60 < t60 < 1.5 * rt60, (rt60, t60)


def test_augmentation_is_deterministic_and_changes_the_signal(emodb_subset):
    y = load_audio(emodb_subset[0].path)
    aug = Augmentation(snr_db=20.0, gain_db=-6.0)
    a = apply_augmentation(y, aug, seed_key="k")
    b = apply_augmentation(y, aug, seed_key="k")
    assert np.array_equal(a, b)
    assert a.shape == y.shape and not np.allclose(a, y)
    fast = apply_augmentation(y, Augmentation(speed=1.1))
    assert abs(fast.size - y.size / 1.1) < 0.01 * y.size
    # a telephone band: little energy left below 150 Hz and above 5 kHz
    tel = apply_augmentation(y, Augmentation(highpass_hz=300.0, lowpass_hz=3400.0))
    spec_y, spec_t = np.abs(np.fft.rfft(y)) ** 2, np.abs(np.fft.rfft(tel)) ** 2
    f = np.fft.rfftfreq(y.size, 1 / 16000)
    out_band = (f < 150) | (f > 5000)
    assert spec_t[out_band].sum() / spec_t.sum() < 0.2 * spec_y[out_band].sum() / spec_y.sum()
    assert tel.shape == y.shape and np.abs(tel).max() <= 1.0



def test_random_channel_is_drawn_per_file_within_the_stated_ranges(emodb_subset):
    from train.augment import CHANNEL_RT60_S, channel_draw

    draws = [channel_draw(r.path) for r in emodb_subset]
    assert draws == [channel_draw(r.path) for r in emodb_subset]  # seeded by the file
    assert all(d.rt60_s in CHANNEL_RT60_S and 5.0 <= d.snr_db <= 20.0 and not d.channel for d in draws)
    assert {d.rt60_s for d in draws} == set(CHANNEL_RT60_S)  # 50-odd files reach every room bank
    band = [d for d in draws if d.highpass_hz is not None]
    assert 0 < len(band) < len(draws)  # band-limited or tilted, about half each
    assert all(80.0 <= d.highpass_hz <= 300.0 and d.tilt_db_per_octave == 0.0 for d in band)
    assert all(-3.0 <= d.tilt_db_per_octave <= 3.0 for d in draws)
    y = load_audio(emodb_subset[0].path)
    a = apply_augmentation(y, Augmentation(channel=True), seed_key=emodb_subset[0].path)
    assert np.array_equal(a, apply_augmentation(y, channel_draw(emodb_subset[0].path), seed_key=emodb_subset[0].path))
    assert a.shape == y.shape and np.abs(a).max() <= 1.0
    # noise at <= 20 dB SNR and a room: far from the clean signal
    assert np.linalg.norm(a / np.abs(a).max() - y / np.abs(y).max()) > 0.1 * np.linalg.norm(y / np.abs(y).max())
    assert Augmentation.from_dict({"channel": True}).key()["channel"] is True
    assert "channel" not in Augmentation(rt60_s=0.5).key()  # older cache keys unchanged


def test_live_cut_is_the_segmenters_cut_of_the_levelled_file_over_a_floor(emodb_subset):
    from ser_live.features import FeatureConfig, FeatureExtractor
    from ser_live.levels import speech_level_dbfs
    from ser_live.vad import VadConfig
    from train.augment import LIVE_CUT_LEVEL_DBFS, LIVE_CUT_PAUSE_S, LIVE_CUT_SNR_DB, live_cut
    from train.extract import _extract_one, augmentation_seed_key

    rec = emodb_subset[0]
    y = load_audio(rec.path)
    aug = Augmentation(live_cut=True)
    a = apply_augmentation(y, aug, seed_key=rec.path)
    assert np.array_equal(a, live_cut(y, seed_key=rec.path))  # seeded by the file
    assert not np.array_equal(a, live_cut(y, seed_key=rec.path + "x"))
    # the speech at a drawn level, a floor under the pauses, cut with pre-roll and hangover:
    # longer than the file's own trimmed span, shorter than the padded stream
    lo, hi = LIVE_CUT_LEVEL_DBFS
    assert lo - 1.0 <= speech_level_dbfs(a) <= hi + 1.0
    quiet = np.sort(np.sqrt(np.mean(a[: a.size // 400 * 400].reshape(-1, 400) ** 2, axis=1)))[0]
    assert 20 * np.log10(quiet) < speech_level_dbfs(a) - LIVE_CUT_SNR_DB[0] + 6.0  # some frames hold only the floor
    assert 20 * np.log10(quiet) > -100.0  # the floor, not digital silence
    trimmed = prepare_utterance(y)
    assert trimmed.size < a.size < y.size + 2 * LIVE_CUT_PAUSE_S * 16000
    # a copy the segmenter would trim again (a fresh VAD at its start) shows the extraction
    # keeps the cut as it is
    fx = FeatureExtractor(FeatureConfig())
    for r in emodb_subset[:10]:
        # seeded as the extraction seeds it: by the file's place in the corpora folder, not by
        # the path as read (CI reads the corpora from another folder than /work/shared/data)
        c = live_cut(load_audio(r.path), seed_key=augmentation_seed_key(r.path)[0])
        if prepare_utterance(c).size < c.size:
            break
    else:
        pytest.fail("no live cut the trim would shorten among 10 files")
    v, err, *_ = _extract_one(r.path, None, FeatureConfig(), VadConfig(), aug)
    assert err is None
    assert np.array_equal(v, fx.extract(c)) and not np.array_equal(v, fx.extract(prepare_utterance(c)))
    assert "live_cut" not in Augmentation(snr_db=10.0).key()  # older cache keys unchanged
    assert "live cut" in str(aug)


def test_feature_subset_step_keeps_the_named_columns_and_checks_widths():
    from ser_live.columns import FeatureSubset
    from train.recipe import select_columns

    names = ["mfcc0_mean", "mel3_std", "chroma1_mean", "f0_p50_st"]
    cols = select_columns(names, (), ("mel", "chroma"))
    X = np.arange(8.0).reshape(2, 4)
    sub = FeatureSubset(cols).fit(X)
    assert np.array_equal(sub.transform(X), X[:, [0, 3]])
    with pytest.raises(ValueError, match="shape"):
        sub.transform(X[:, :3])
    for bad in (np.array([], dtype=np.int64), np.array([0, 4]), np.array([0.5])):
        with pytest.raises(ValueError, match="columns|indices"):
            FeatureSubset(bad).fit(X)

def test_tutorial_recipe_shape(emodb_subset):
    v = tutorial_features(load_audio(emodb_subset[0].path))
    assert v.shape == (TUTORIAL_N_FEATURES,) and v.dtype == np.float32 and np.isfinite(v).all()


def test_gmm_classifier_learns_real_features(emodb_subset):
    from train.classifiers import GMMClassifier

    X, _ = extract_features([r.path for r in emodb_subset], n_jobs=1, progress=False)
    labels = sorted({r.label for r in emodb_subset})
    y = np.array([labels.index(r.label) for r in emodb_subset])
    clf = GMMClassifier(n_components=2, n_pca=16).fit(X, y)
    p = clf.predict_proba(X)
    assert p.shape == (len(y), len(labels)) and np.allclose(p.sum(axis=1), 1)
    assert (clf.predict(X) == y).mean() > 0.6  # training fit on real features


def test_default_svm_probabilities_keep_the_svm_decision(emodb_subset):
    """Temperature scaling must not move the argmax: the label the protocols score (the SVM's
    decision) is the label the shipped model gives. Fitted on three speakers, checked on the
    fourth, real EmoDB speech."""
    from train.classifiers import fit_default_svm

    X, _ = extract_features([r.path for r in emodb_subset], n_jobs=1, progress=False)
    labels = sorted({r.label for r in emodb_subset})
    y = np.array([labels.index(r.label) for r in emodb_subset])
    g = np.array([r.speaker for r in emodb_subset], dtype=object)
    test = g == "emodb-10"
    pipe, sel = fit_default_svm(X[~test], y[~test], g[~test], candidates=("linear C=1e-4",), n_splits=3, n_jobs=1)
    P = pipe.predict_proba(X[test])
    svm = pipe.named_steps["svm"].calibrated_classifiers_[0].estimator
    D = svm.decision_function(pipe.named_steps["scaler"].transform(X[test]))
    assert np.array_equal(P.argmax(axis=1), D.argmax(axis=1))
    assert np.allclose(P.sum(axis=1), 1.0)
    assert len(np.unique(P.argmax(axis=1))) >= 3  # not one label for everything
    assert (P.argmax(axis=1) == y[test]).mean() > 0.4  # 4 classes: chance is 0.25


def test_fit_refuses_to_overwrite_a_shipped_model_before_training(capsys, tmp_path, monkeypatch):
    """`fit --recipe models/ser-7class.toml` stops at once (exit 2, the model untouched, no
    corpus read), unless --out names another file or --force is given."""
    import train.__main__ as tm
    from train.__main__ import FitOutputError, fit_output_path, main

    shipped = tm.REPO / "models" / "ser-7class.skops"
    before = shipped.stat().st_mtime_ns
    monkeypatch.setattr("train.corpora.read_corpus", lambda *a, **k: pytest.fail("read a corpus before refusing"))
    assert main(["fit", "--recipe", str(tm.REPO / "models" / "ser-7class.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ser-7class.skops is a shipped model" in err and "--force" in err
    assert shipped.stat().st_mtime_ns == before
    with pytest.raises(FitOutputError):  # naming the shipped file with --out is no escape
        fit_output_path("ser-7class", shipped)
    assert fit_output_path("ser-7class", None, force=True) == shipped
    assert fit_output_path("ser-7class", tmp_path / "mine.skops") == tmp_path / "mine.skops"
    assert fit_output_path("ser-brand-new", None) == tm.REPO / "models" / "ser-brand-new.skops"
    (tmp_path / "mine.skops").write_bytes(b"x")  # an existing file outside models/: the user named it
    assert fit_output_path("ser-7class", tmp_path / "mine.skops") == tmp_path / "mine.skops"


def test_fit_and_evaluate_refuse_an_unusable_out_before_any_work(capsys, tmp_path, monkeypatch):
    """`fit --out` that is not a .skops file (it would overwrite a recipe or card with the
    model), a folder, or a file under a file, and `evaluate --out` that is a file: exit 2 at
    once, nothing read or written (they used to fail, or destroy a file, after the work)."""
    import train.__main__ as tm
    from train.__main__ import FitOutputError, fit_output_path, main

    recipe = tmp_path / "victim.toml"
    recipe.write_text("name = 'victim'\n")
    (tmp_path / "adir.skops").mkdir()
    for out, says in ((recipe, "a model file ends in .skops"), (tmp_path / "clash.md", "a model file ends in .skops"),
                      (tmp_path / "adir.skops", "is a folder"), (recipe / "m.skops", "is a file, not a folder")):
        with pytest.raises(FitOutputError, match=says):
            fit_output_path("victim", out)
    assert recipe.read_text() == "name = 'victim'\n"
    monkeypatch.setattr("train.corpora.read_corpus", lambda *a, **k: pytest.fail("read a corpus before refusing"))
    assert main(["fit", "--recipe", str(tm.REPO / "train" / "recipes" / "ser-default.toml"), "--out", str(recipe)]) == 2
    assert main(["evaluate", "--protocol", "emodb-loso", "--out", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert f"{recipe} is a file, not a folder: pass --out FOLDER for the reports" in err, err
    assert recipe.read_text() == "name = 'victim'\n"


def test_a_model_save_that_fails_leaves_the_earlier_model_whole(tmp_path, monkeypatch):
    """A full disk while `fit` saves: the earlier model at that path still loads (it was
    truncated in place before), and no temporary file is left."""
    import errno

    import skops.io

    from ser_live.model import EmotionModel

    import train.__main__ as tm

    model = EmotionModel.load(tm.REPO / "models" / "ser-default.skops", arrays=False)
    out = model.save(tmp_path / "m.skops")
    before = out.read_bytes()

    def full_disk(obj, file, **kw):
        file.write(before[:1000])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(skops.io, "dump", full_disk)
    with pytest.raises(OSError):
        model.save(out)
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["m.skops"]


def test_fit_recipe_copy_of_itself_is_skipped(tmp_path):
    from train.__main__ import copy_recipe

    recipe = tmp_path / "ser-x.toml"
    recipe.write_text("name = 'ser-x'\n")
    assert copy_recipe(recipe, tmp_path / "ser-x.skops") == recipe  # the recipe is its own copy: no SameFileError
    assert recipe.read_text() == "name = 'ser-x'\n"
    other = tmp_path / "out" / "ser-y.skops"
    other.parent.mkdir()
    assert copy_recipe(recipe, other).read_text() == "name = 'ser-x'\n"


def test_evaluate_help_lists_every_protocol(capsys):
    from train.__main__ import main
    from train.protocols import PROTOCOLS

    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "personal" in out and "loco" in out and len(PROTOCOLS) >= 6


def test_a_recipe_sets_the_frame_hop_of_its_features():
    """``[features] hop_length`` reaches the extractor configuration the recipe's features are
    extracted, cached and shipped with; the default keeps the extractor's 10 ms; a hop the
    extractor cannot use is refused before any corpus is read."""
    from ser_live.features import FeatureConfig, FeatureExtractor
    from train.recipe import load_recipe

    assert load_recipe("ser-default").feature_config() == FeatureConfig(voice_quality=True, edge_trim=True)
    hop20 = load_recipe("experiments/hop20")
    assert hop20.feature_config().hop_length == 320 and "(hop 320 samples)" in hop20.summary()
    assert hop20.feature_config().config_hash != load_recipe("ser-default").feature_config().config_hash  # its own cache
    assert load_recipe("ser-default", overrides=["features.hop_length=256"]).feature_config().hop_length == 256
    y = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    frames = {h: FeatureExtractor(FeatureConfig(hop_length=h)).extract(y) for h in (160, 320)}
    assert not np.array_equal(frames[160], frames[320])  # the extractor did take the hop
    for bad, message in (("0", "must be 1 to 400"), ("401", "must be 1 to 400"), ("20.0", "must be an integer")):
        with pytest.raises(ValueError, match=message):
            load_recipe("ser-default", overrides=[f"features.hop_length={bad}"])


def test_recipe_values_and_numeric_options_training_cannot_use_are_refused_up_front(tmp_path, capsys):
    """An empty corpora or labels list, one inner fold, a negative prior weight, a binary
    recipe file, `-j 0`, `--limit -5`, `--per-class -3`: a one-line error naming the value,
    exit 2, before any corpus is read (they were scikit-learn or joblib errors after the
    extraction, or silently "all")."""
    from train.__main__ import main
    from train.recipe import load_recipe

    head = 'name = "r"\n'
    ok = 'corpora = ["emodb"]\nlabels = ["sad", "angry"]\n'
    for text, says in ((head + 'corpora = []\nlabels = ["sad", "angry"]\n', "corpora is empty"),
                       (head + 'corpora = ["emodb"]\nlabels = ["sad"]\n', "at least two emotions"),
                       (head + ok + "[classifier]\ninner_splits = 1\n", "inner_splits must be at least 2"),
                       (head + ok + "[normalizer]\nprior_weight = -5.0\n", "prior_weight must be >= 0")):
        p = tmp_path / "r.toml"
        p.write_text(text)
        with pytest.raises(ValueError, match=says):
            load_recipe(str(p))
    (tmp_path / "bin.toml").write_bytes(b"\x00\xff\xfe")
    with pytest.raises(ValueError, match="not a recipe"):
        load_recipe(str(tmp_path / "bin.toml"))
    for argv, says in ((["-j", "0", "features"], "must be at least 1, got 0"),
                       (["features", "--limit", "-5"], "must be at least 1, got -5"),
                       (["evaluate", "--condition", "room", "--per-class", "-3"], "must be at least 0, got -3")):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2 and says in capsys.readouterr().err


def test_plots_compare_and_export_refuse_what_they_cannot_use_before_the_work(tmp_path, capsys, monkeypatch):
    """`plots --features` with an unknown column, `compare --only` matching no row and
    `export` of a missing file: one-line errors before anything is read or written (plots
    drew its first PNG, compare ran and rewrote its table, export blamed the file format)."""
    from train.__main__ import main

    monkeypatch.setattr("train.corpora.read_corpus", lambda *a, **k: pytest.fail("read a corpus before refusing"))
    assert main(["plots", "--features", "nosuch", "mfcc1_mean", "--out", str(tmp_path / "plots")]) == 2
    assert "unknown column(s) nosuch" in capsys.readouterr().err and not (tmp_path / "plots").exists()
    assert main(["compare", "--only", "zzzz", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--only zzzz matches no row" in err and "random forest" in err and list(tmp_path.iterdir()) == []
    assert main(["export", str(tmp_path / "none.skops")]) == 5
    assert "not found" in capsys.readouterr().err


def test_export_of_a_fifo_says_it_is_not_a_regular_file(tmp_path):
    """`export` of a FIFO said "not found" (it is there); now it says what `--model` says of one,
    with the exit status of a missing file, at once (a subprocess, so a FIFO opened would time out)."""
    import os
    import subprocess
    import sys

    import train.__main__ as tm

    fifo = tmp_path / "pipe.skops"
    os.mkfifo(fifo)
    env = {**os.environ, "PYTHONPATH": str(tm.REPO)}
    res = subprocess.run([sys.executable, "-m", "train", "export", str(fifo)], capture_output=True, text=True,
                         env=env, cwd=tm.REPO, timeout=120)
    assert res.returncode == 5 and "Traceback" not in res.stderr, res.stderr
    assert "not a regular file" in res.stderr and "not found" not in res.stderr


# ---- files that are no utterance: silent, too short, a minute long ---------------------------


def _write(path, samples) -> str:
    import soundfile as sf

    sf.write(path, samples, 16000)
    return str(path)


def test_silent_files_are_left_out_of_extraction_and_normal_ones_unchanged(emodb_subset, ravdess_root, tmp_path):
    """Digital silence and real speech at about -90 dBFS (below the -80 dBFS any voiced frame needs)
    give no feature row, are not cached and are named; a normal file's row is what the live
    path extracts, under the cache key it always had; a whispered RAVDESS take is speech."""
    from ser_live.features import FeatureConfig, FeatureExtractor
    from ser_live.levels import speech_level_dbfs
    from ser_live.vad import VadConfig
    from train.extract import _setup_key

    rec = emodb_subset[0]
    y = load_audio(rec.path)
    silent = _write(tmp_path / "silent.wav", np.zeros(2 * 16000, np.int16))
    faint = _write(tmp_path / "faint.flac", np.round(y * 32768 * 10 ** (-70 / 20)).astype(np.int16))
    cache = tmp_path / "cache"
    X, rep = extract_features([rec.path, silent, faint], n_jobs=1, cache_dir=cache, progress=False)
    assert np.array_equal(X[0], FeatureExtractor(FeatureConfig()).extract(prepare_utterance(y)))
    assert np.isnan(X[1:]).all() and not rep.failures
    assert rep.skipped[0] == (silent, "silent (digital silence, below the -80 dBFS any voiced frame needs)")
    level = speech_level_dbfs(load_audio(faint))
    assert rep.skipped[1] == (faint, f"silent (speech level {level:.0f} dBFS, below the -80 dBFS any voiced frame needs)")
    assert str(rep).endswith("2 left out as silent (e.g. silent.wav: silent (digital silence, below the -80 dBFS any "
                             "voiced frame needs); faint.flac: " + rep.skipped[1][1] + ")")
    setup = _setup_key(FeatureConfig(), VadConfig(), None, "ser-live")
    assert [p.relative_to(cache).parts[0] for p in cache.rglob("*.npy")] == [setup]  # the normal file only
    X2, rep2 = extract_features([rec.path, silent], n_jobs=1, cache_dir=cache, progress=False)
    assert rep2.n_cached == 1 and np.array_equal(X2[0], X[0]) and len(rep2.skipped) == 1
    from train.extract import silence_reason, skipped_summary

    assert skipped_summary(rep.skipped, {silent: "user", faint: "user"}).splitlines() == [
        "2 silent files left out: user 2, e.g.:", f"  {silent}: {rep.skipped[0][1]}", f"  {faint}: {rep.skipped[1][1]}",
    ]
    whisper = load_audio(ravdess_root / "Actor_09" / "03-01-04-01-01-01-09.flac")  # about -62 dBFS
    assert silence_reason(whisper) is None and silence_reason(whisper * np.float32(0.01)) is not None


def test_evaluation_leaves_a_silent_file_out_of_its_folds(emodb_subset, tmp_path, caplog):
    """A silent take among a protocol's records: left out of every fold before any fitting,
    counted per corpus; the feature matrices stay row-aligned with the records."""
    import logging
    from dataclasses import replace

    from train.evaluate import load_protocol_features

    per_speaker: dict[str, list] = {}
    for r in emodb_subset:
        per_speaker.setdefault(r.speaker, []).append(r)
    recs = [r for rs in per_speaker.values() for r in rs[:4]]
    silent = replace(recs[1], path=_write(tmp_path / "silent.wav", np.zeros(3 * 16000, np.int16)))
    recs.insert(2, silent)
    with caplog.at_level(logging.WARNING, logger="train"):
        fs, X, X_aug = load_protocol_features(
            "emodb-loso", source={"emodb": recs}, labels=("neutral", "happy", "sad", "angry"),
            augmentations=(Augmentation(snr_db=10.0),), n_jobs=1, progress=False,
        )
    assert fs.records == [r for r in recs if r is not silent]
    assert X.shape[0] == X_aug[0].shape[0] == len(fs.records) and np.isfinite(X).all() and np.isfinite(X_aug[0]).all()
    tested = np.sort(np.concatenate([f.test_idx for f in fs.folds]))
    assert np.array_equal(tested, np.arange(len(fs.records)))
    assert any(m.startswith("emodb-loso: 1 silent files left out: emodb 1, e.g.:") for m in caplog.messages)


@pytest.fixture(scope="module")
def fit_on_odd_files(emodb_root, tmp_path_factory):
    """`python -m train fit` (a subprocess: its real stdout and stderr) on an EmoDB folder of
    24 real files (3 speakers x 4 emotions x 2) plus a silent, a 50 ms, a minute-long and a
    misnamed file; a recipe whose grid has one setting and asks for corpus folds (one corpus:
    it falls back to speaker folds). Returns (stdout, stderr, model metadata, number of good
    files)."""
    import os
    import shutil
    import subprocess
    import sys

    import soundfile as sf

    from ser_live.model import EmotionModel

    root = tmp_path_factory.mktemp("fit")
    corpus = root / "data" / "emodb"
    corpus.mkdir(parents=True)
    kept: dict[tuple[str, str], int] = {}
    for p in sorted((emodb_root / "wav").glob("*.flac")):
        cell = (p.name[:2], p.name[5])
        if cell[0] in ("03", "08", "09") and cell[1] in "WFTN" and kept.get(cell, 0) < 2:
            kept[cell] = kept.get(cell, 0) + 1
            shutil.copy(p, corpus / p.name)
    speech, _ = sf.read(emodb_root / "wav" / "03a01Fa.flac", dtype="int16")
    _write(corpus / "10a01Nz.flac", np.zeros(2 * 16000, np.int16))  # silent
    _write(corpus / "10a02Nz.flac", speech[8000:8800])  # 50 ms
    _write(corpus / "10a04Nz.flac", np.tile(speech, 60 * 16000 // speech.size + 1))  # just over a minute
    _write(corpus / "notes.wav", speech)  # misnamed
    recipe = root / "tiny.toml"
    recipe.write_text('name = "tiny"\ncorpora = ["emodb"]\nlabels = ["neutral", "happy", "sad", "angry"]\n'
                      '[normalizer]\nenabled = false\n[classifier]\ngrid = ["linear C=1e-3"]\ninner_cv = "corpus"\n')
    out = root / "m.skops"
    env = {**os.environ, "SER_LIVE_DATA": str(root / "data")}
    res = subprocess.run([sys.executable, "-m", "train", "--jobs", "1", "fit", "--recipe", str(recipe), "--out", str(out)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr
    return res.stdout, res.stderr, EmotionModel.load(out, arrays=False).metadata, sum(kept.values())


def test_fit_leaves_out_silent_and_too_short_files_and_warns_of_a_long_one(fit_on_odd_files):
    """The silent and 50 ms files are named and left out, the minute-long one named and kept."""
    _out, err, meta, n_good = fit_on_odd_files
    assert "10a02Nz.flac: too short (50 ms; the extractor needs 65 ms)" in err
    assert "1 files kept with a warning, e.g.:" in err and "10a04Nz.flac: 61 s long, more than 60 s" in err
    assert "1 silent files left out: emodb 1, e.g.:" in err and "10a01Nz.flac: silent (digital silence" in err
    assert meta["n_utterances"] == n_good + 1  # the good files and the long one


def test_fit_model_records_its_commit_libraries_and_corpus_files(fit_on_odd_files):
    """A fitted model said which command and ser-live version made it, not the commit, the
    library versions or which files (how many, which content) it was fitted on."""
    import subprocess

    _out, _err, meta, _n = fit_on_odd_files
    head = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    assert meta["provenance"]["git_commit"] == (head or None)
    assert meta["provenance"]["packages"]["numpy"] == np.__version__
    assert list(meta["corpus_files"]) == ["emodb"] and meta["corpus_files"]["emodb"]["files"] == meta["n_utterances"]
    assert len(meta["corpus_files"]["emodb"]["sha1"]) == 40


def test_fit_logs_the_corpus_problem_summary_once_on_stderr(fit_on_odd_files):
    out, err, _meta, _n = fit_on_odd_files
    assert err.count("problem files left out") == 1 and "notes.wav: name is not" in err
    assert "problem files" not in out and "notes.wav" not in out


def test_fit_with_a_one_setting_grid_prints_no_empty_brackets(fit_on_odd_files):
    out, _err, meta, _n = fit_on_odd_files
    assert "setting: linear C=1e-3, used without a speaker-grouped search\n" in out and "()" not in out
    # inner_cv = "corpus" with one training corpus: the temperature is fitted on speaker folds, and the model says so
    assert meta["inner_cv"] == "speaker"


def test_recipe_not_found_lists_the_experiments_too(capsys):
    """The recipes a name can address, experiments included as `experiments/NAME`."""
    from train.__main__ import main
    from train.recipe import load_recipe

    for call in (lambda: load_recipe("no-such"), lambda: load_recipe("experiments/no-such")):
        with pytest.raises(FileNotFoundError) as err:
            call()
        assert "'ser-default'" in str(err.value) and "'experiments/norm-w10'" in str(err.value)
    assert main(["evaluate", "--protocol", "loco", "--recipe", "norm-w10"]) == 2
    err = capsys.readouterr().err
    assert "recipe norm-w10 not found" in err and "'experiments/norm-w10'" in err
    assert load_recipe("experiments/norm-w10").name == "norm-w10"  # addressed as listed

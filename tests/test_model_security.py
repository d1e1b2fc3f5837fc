"""A model file never runs code: only ``TRUSTED_TYPES`` are loaded, anything else is refused
(ModelError naming the type, exit 5 through ``--model`` and ``$SER_LIVE_MODEL``) before any of
it is built. Incomplete files and other format versions are refused the same way.

The hostile files are the shipped model with one node added to its metadata, as an attacker
would do (issue 8): a skops ``ConstructorFromReduceNode`` calls ``module.class(*args)`` when the
file is loaded. Each payload is first shown to be live (plain skops trusting the file's types
runs it and the marker file appears), so a refusal test here fails if the check is weakened.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

from ser_live.errors import ModelError
from ser_live.model import TRUSTED_TYPES, EmotionModel, model_file_types

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED_MODELS = sorted((REPO_ROOT / "models").glob("*.skops"))
DEMO_WAV = REPO_ROOT / "ser_live" / "data" / "demo.wav"

# ---------------------------------------------------------------- crafting skops schema nodes
_ids = itertools.count(10**15)


def _node(module: str, cls: str, loader: str, **fields) -> dict:
    return {"__class__": cls, "__module__": module, "__loader__": loader, **fields, "__id__": next(_ids)}


def _json(value) -> dict:
    return _node("builtins", "str", "JsonNode", content=json.dumps(value), is_json=True)


def _call(module: str, function: str, *args: dict) -> dict:
    """A node that skops loads as ``module.function(*args)``."""
    return _node(module, function, "ConstructorFromReduceNode", content=_node("builtins", "tuple", "TupleNode", content=list(args)))


def _inject(src: Path, dst: Path, evil: dict) -> Path:
    """Copy of the skops file ``src`` whose payload's ``metadata`` dict gains ``"x": evil``."""
    with zipfile.ZipFile(src) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    schema = json.loads(members["schema.json"])
    meta = schema["content"]["metadata"]
    meta["content"]["x"] = evil
    key_types = meta["key_types"]["content"]
    key_types.append(dict(key_types[0]))  # the new key is a str, like the others
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return dst


def _hostile_nodes(marker: Path) -> dict[str, dict]:
    """Name -> node whose construction creates ``marker`` (getattr: returns a bound method)."""
    m = str(marker)
    return {
        "builtins.exec": _call("builtins", "exec", _json(f"open({m!r}, 'w').close()")),
        "builtins.eval": _call("builtins", "eval", _json(f"open({m!r}, 'w').close()")),
        f"{os.system.__module__}.system": _call(os.system.__module__, "system", _json(f"touch '{m}'")),
        "os.system": _call("os", "system", _json(f"touch '{m}'")),
        "subprocess.Popen": _call("subprocess", "Popen", _json(["touch", m])),
        "builtins.getattr": _call("builtins", "getattr", _json("a"), _json("upper")),
    }


HOSTILE = list(_hostile_nodes(Path("m")))


def _cli(*args: str, env: dict | None = None, cwd: Path) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ser_live", *args], capture_output=True, text=True, timeout=120, env=full_env, cwd=cwd
    )


@pytest.fixture(scope="module")
def shipped() -> Path:
    if not SHIPPED_MODELS:
        pytest.skip("no shipped model in models/ (train one with `python -m train fit`)")
    return REPO_ROOT / "models" / "ser-default.skops"


@pytest.mark.parametrize("type_name", HOSTILE)
def test_hostile_model_file_is_refused_and_runs_nothing(type_name, shipped, tmp_path):
    marker = tmp_path / "marker"
    evil = _inject(shipped, tmp_path / "evil.skops", _hostile_nodes(marker)[type_name])
    assert type_name in model_file_types(evil)

    # the payload is live: skops, trusting what the file names, runs it
    loaded = sio.load(evil, trusted=sio.get_untrusted_types(file=evil))
    if type_name == "builtins.getattr":
        assert loaded["metadata"]["x"]() == "A"
    else:
        if type_name == "subprocess.Popen":
            loaded["metadata"]["x"].wait(timeout=10)
        assert marker.exists(), "crafted payload did not run: the test would prove nothing"
        marker.unlink()

    with pytest.raises(ModelError, match=type_name.replace(".", r"\.")) as err:
        EmotionModel.load(evil)
    assert "does not trust" in str(err.value)
    assert not marker.exists()

    res = _cli("predict", "--model", str(evil), str(DEMO_WAV), cwd=tmp_path)
    assert res.returncode == 5, res.stderr
    assert type_name in res.stderr and "Traceback" not in res.stderr
    assert res.stdout == ""
    assert not marker.exists()


@pytest.mark.parametrize("type_name", ["builtins.exec", "subprocess.Popen"])
def test_hostile_default_model_from_env_is_refused(type_name, shipped, tmp_path):
    marker = tmp_path / "marker"
    evil = _inject(shipped, tmp_path / "evil.skops", _hostile_nodes(marker)[type_name])
    res = _cli("predict", str(DEMO_WAV), env={"SER_LIVE_MODEL": str(evil)}, cwd=tmp_path)
    assert res.returncode == 5, res.stderr
    assert type_name in res.stderr and "Traceback" not in res.stderr
    assert not marker.exists()


# --------------------------------------------------------------- the list is exactly what we use
def _recipe_model_types(tmp_path: Path) -> set[str]:
    """Types in files saved from every variant of the default recipe (train/classifiers.py),
    from a recipe with a feature subset and a session normaliser (train/recipe.py), and from
    the test suite's small model (scaler + logistic regression, tests/test_pipeline.py)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ser_live.features import FeatureConfig
    from train.classifiers import SVM_GRID, fit_default_svm
    from train.recipe import NormalizerSpec, Recipe, RecipeClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(48, 12)).astype(np.float32)
    y = np.repeat(np.arange(4), 12)
    groups = np.tile(np.arange(4), 12)
    estimators = [make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)]
    for name in SVM_GRID:
        for calibrate in (True, False):
            estimators.append(fit_default_svm(X, y, groups, candidates=(name,), calibrate=calibrate, n_jobs=1)[0])
    found: set[str] = set()
    for pipe in estimators:
        model = EmotionModel(pipe, list("abcd"), FeatureConfig(), metadata={"ua": 0.5, "n": 3, "ok": True, "none": None})
        found |= model_file_types(model.save(tmp_path / "recipe.skops"))
    # a recipe that keeps some feature groups ([features] exclude) and normalises sessions
    recipe = Recipe(
        name="subset", corpora=(), labels=tuple("abcd"), exclude=("drop",), grid=("linear C=1e-3",),
        normalizer=NormalizerSpec(enabled=True),
    )
    names = [f"drop{i}" if i % 3 == 0 else f"keep{i}" for i in range(X.shape[1])]
    est = RecipeClassifier(recipe, names, n_jobs=1).fit(X, y, groups=groups)
    assert est.pipeline_.named_steps["select"].columns_.tolist() == [i for i in range(12) if i % 3]
    model = EmotionModel(est.estimator_, list("abcd"), FeatureConfig(), metadata={})
    found |= model_file_types(model.save(tmp_path / "subset.skops"))
    return found


def test_trusted_types_are_exactly_the_shipped_models_and_recipes(shipped, tmp_path):
    shipped_types = set().union(*(model_file_types(p) for p in SHIPPED_MODELS))
    recipe_types = _recipe_model_types(tmp_path)
    assert shipped_types <= TRUSTED_TYPES
    assert recipe_types <= TRUSTED_TYPES, recipe_types - TRUSTED_TYPES
    assert TRUSTED_TYPES == shipped_types | recipe_types, TRUSTED_TYPES - (shipped_types | recipe_types)
    for p in SHIPPED_MODELS:
        model = EmotionModel.load(p)
        assert model.labels and model.estimator is not None
    assert not any(t.startswith(("builtins.exec", "builtins.eval", "builtins.getattr", "os.", "posix.", "subprocess."))
                   for t in TRUSTED_TYPES)


# ----------------------------------------------------------------- incomplete or foreign files
def _payload_variant(shipped: Path, dst: Path, **changes) -> Path:
    payload = sio.load(shipped, trusted=sorted(model_file_types(shipped)))
    for key, value in changes.items():
        if value is None:
            payload.pop(key)
        else:
            payload[key] = value
    sio.dump(payload, dst)
    return dst


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"labels": None}, "missing labels"),
        ({"estimator": None}, "missing estimator"),
        ({"feature_config": None}, "missing feature_config"),
        ({"format_version": 3, "labels": None}, "model file format 3 but this ser-live reads format 2"),
        ({"format_version": 1}, "model file format 1 but this ser-live reads format 2; retrain"),
        ({"format_version": None}, "no format_version"),
        ({"labels": "neutral"}, "'labels' is not a list"),
        ({"estimator": [1, 2]}, "'estimator' is not a fitted ser-live model object"),
    ],
    ids=["no-labels", "no-estimator", "no-feature_config", "format-3", "format-1", "no-format", "labels-str",
         "estimator-list"],
)
def test_incomplete_or_foreign_model_file_exits_5_with_a_message(changes, message, shipped, tmp_path):
    bad = _payload_variant(shipped, tmp_path / "bad.skops", **changes)
    with pytest.raises(ModelError, match=message):
        EmotionModel.load(bad)
    if set(changes) & {"labels", "estimator"} and "format_version" not in changes:
        res = _cli("predict", "--model", str(bad), str(DEMO_WAV), cwd=tmp_path)
        assert res.returncode == 5, res.stderr
        assert message in res.stderr and "Traceback" not in res.stderr


def test_non_zip_and_schema_less_files_are_refused(tmp_path):
    p = tmp_path / "m.skops"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("other.json", "{}")
    with pytest.raises(ModelError, match="not a ser-live model file"):
        EmotionModel.load(p)
    p.write_text("not a zip")
    with pytest.raises(ModelError, match="not a ser-live model file"):
        EmotionModel.load(p)


# ------------------------------------------------------- files beside a model, and where it came from
def test_a_damaged_arrays_file_beside_a_model_falls_back_to_it(tmp_path, caplog):
    """A valid ``.skops`` with a damaged ``.npz`` of its name beside it loads from the skops
    file, with a warning naming the arrays file, as one exported from another model does (it
    used to fail, naming a file the user never passed); the damaged file given itself is
    still refused."""
    src = REPO_ROOT / "models" / "ser-default.skops"
    ref = EmotionModel.load(src, arrays=False)
    x = ref.extractor.extract(np.asarray(np.random.default_rng(0).standard_normal(32000) * 0.05, np.float32))
    for name, data in (("junk", b"not a zip at all"), ("truncated", (src.with_suffix(".npz")).read_bytes()[:5000])):
        folder = tmp_path / name
        folder.mkdir()
        (folder / src.name).write_bytes(src.read_bytes())
        (folder / "ser-default.npz").write_bytes(data)
        caplog.clear()
        with caplog.at_level("WARNING", logger="ser_live.model"):
            m = EmotionModel.load(folder / src.name)
        assert type(m.estimator).__name__ == "EmotionEstimator", name
        assert "ser-default.npz cannot be used" in caplog.text, caplog.text
        assert np.array_equal(m.predict_proba(x[None]), ref.predict_proba(x[None]))
        with pytest.raises(ModelError):
            EmotionModel.load(folder / "ser-default.npz")


def test_a_recipe_or_card_given_as_the_model_names_the_model_file(tmp_path):
    for suffix, what in ((".toml", "training recipe"), (".md", "model card")):
        p = REPO_ROOT / "models" / f"ser-default{suffix}"
        with pytest.raises(ModelError, match=f"is a model's {what}, not a model: pass .*ser-default.skops"):
            EmotionModel.load(p)


def test_a_bad_model_from_the_environment_says_so(tmp_path, monkeypatch):
    bad = tmp_path / "m.skops"
    bad.write_bytes(b"junk")
    monkeypatch.setenv("SER_LIVE_MODEL", str(bad))
    with pytest.raises(ModelError, match=r"named by \$SER_LIVE_MODEL; unset it"):
        EmotionModel.load()
    with pytest.raises(ModelError) as info:  # passed explicitly: the variable is not blamed
        EmotionModel.load(bad)
    assert "SER_LIVE_MODEL" not in str(info.value)


# ------------------------------------------------------------- a model file under another name
def test_a_model_file_under_another_suffix_loads_by_its_content(shipped, tmp_path, capsys):
    """An arrays file renamed (``m.skops``, ``M.NPZ``, no suffix) was read as a skops file and
    refused with "KeyError: There is no item named 'schema.json'"; a .skops renamed ``.npz``
    with "no header". Each now loads as what it holds, and a hostile skops file named ``.npz``
    is still refused by its types, running nothing."""
    from train.__main__ import main as train_main

    npz = shipped.with_suffix(".npz")
    if not npz.is_file():
        pytest.skip("models/ser-default.npz not exported")
    x = np.random.default_rng(1).standard_normal((3, EmotionModel.load(npz).extractor.n_features)).astype(np.float32)
    want = EmotionModel.load(npz).predict_proba(x)
    for name in ("m.skops", "M.NPZ", "m"):
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        (folder / name).write_bytes(npz.read_bytes())
        m = EmotionModel.load(folder / name)
        assert type(m.estimator).__name__ == "CompiledEstimator", name
        assert np.array_equal(m.predict_proba(x), want), name
    (tmp_path / "s.npz").write_bytes(shipped.read_bytes())
    m = EmotionModel.load(tmp_path / "s.npz")
    assert type(m.estimator).__name__ == "EmotionEstimator"
    assert np.allclose(m.predict_proba(x), want, atol=1e-9)
    marker = tmp_path / "marker"
    evil = _inject(shipped, tmp_path / "evil.npz", _hostile_nodes(marker)["builtins.exec"])
    with pytest.raises(ModelError, match=r"does not trust.*builtins\.exec"):
        EmotionModel.load(evil)
    assert not marker.exists()
    # `train export` of an arrays file says what it is (it said "not a ser-live model file")
    capsys.readouterr()
    assert train_main(["export", str(tmp_path / "m_skops" / "m.skops")]) == 5
    err = capsys.readouterr().err
    assert "arrays file already" in err and "Traceback" not in err

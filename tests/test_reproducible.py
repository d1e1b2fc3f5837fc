"""Reproducibility: the same corpus files give the same features, cache entries and reports,
whatever the corpora folder's place, the BLAS thread count, the cache's state or the files' order.

Real EmoDB takes (``$SER_LIVE_DATA/emodb``); every extraction here is a handful of files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from train.augment import Augmentation
from train.extract import extract_features

#: Three EmoDB takes of speaker 03 (happy, neutral, angry).
TAKES = ("03a01Fa", "03a01Nc", "03a01Wa")
#: An augmentation of the shipped recipe's noise branch.
PINK_10DB = Augmentation(snr_db=10.0, noise="pink")


@pytest.fixture
def takes(emodb_root: Path) -> list[str]:
    """Paths of :data:`TAKES` in the corpora folder."""
    paths = [emodb_root / "wav" / f"{t}.flac" for t in TAKES]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        pytest.skip(f"EmoDB takes missing: {missing}")
    return [str(p) for p in paths]



def _copy_corpus(takes: list[str], data: Path) -> list[str]:
    """The takes copied to ``data/emodb/wav`` (newest name first, so the folder lists them in
    another order than the original), as a corpora folder of another machine."""
    wav = data / "emodb" / "wav"
    wav.mkdir(parents=True)
    for p in reversed(takes):
        shutil.copy2(p, wav)
    return [str(wav / Path(p).name) for p in takes]


def test_augmented_copies_do_not_depend_on_where_the_corpora_folder_lies(takes, tmp_path, monkeypatch):
    """The noise of an augmented copy was seeded by the file's path as read, so the same corpus in
    another folder (``$SER_LIVE_DATA`` on another machine) got other noise, and a warm cache
    (keyed by content) disagreed with a cold one: ``evaluate --protocol emodb-loso`` from a copy
    of EmoDB gave one-emotion UA 59.4 cold and 58.8 warm."""
    here, rep = extract_features(takes, augmentation=PINK_10DB, cache_dir=False, n_jobs=1, progress=False)
    assert not rep.failures and np.isfinite(here).all()
    moved = _copy_corpus(takes, tmp_path / "data")
    monkeypatch.setenv("SER_LIVE_DATA", str(tmp_path / "data"))
    there, _ = extract_features(moved, augmentation=PINK_10DB, cache_dir=False, n_jobs=1, progress=False)
    assert np.array_equal(here, there)
    cache = tmp_path / "cache"
    cold, rep_cold = extract_features(moved, augmentation=PINK_10DB, cache_dir=cache, n_jobs=1, progress=False)
    warm, rep_warm = extract_features(moved, augmentation=PINK_10DB, cache_dir=cache, n_jobs=2, progress=False)
    assert rep_cold.n_cached == 0 and rep_warm.n_cached == len(takes)
    assert np.array_equal(cold, here) and np.array_equal(warm, here)


def test_room_conditions_of_two_seeds_keep_their_own_cache_entries(takes, tmp_path, monkeypatch):
    """``evaluate --condition room --seed 1`` after ``--seed 0`` on a corpora folder away from
    the default: the seed of a :class:`~train.conditions.Condition` is part of its cache key;
    the key's note of how a copy is seeded must not take its place."""
    from train.conditions import Condition

    moved = _copy_corpus(takes, tmp_path / "data")
    monkeypatch.setenv("SER_LIVE_DATA", str(tmp_path / "data"))
    cache = tmp_path / "cache"
    rows = {}
    for seed in (0, 1):
        cond = Condition("white-10dB", noise="white", snr_db=10.0, seed=seed)
        cold, _ = extract_features(moved, augmentation=cond, cache_dir=False, n_jobs=1, progress=False)
        rows[seed], rep = extract_features(moved, augmentation=cond, cache_dir=cache, n_jobs=1, progress=False)
        assert rep.n_cached == 0 and np.array_equal(rows[seed], cold)
    assert not np.array_equal(rows[0], rows[1])


def test_features_do_not_depend_on_the_blas_thread_count(takes, monkeypatch):
    """OpenBLAS partitions the filter-bank products by its thread count, which moved the last
    bits of about 4 % of the feature cells (up to 2e-5): ``OPENBLAS_NUM_THREADS=2 python -m
    train evaluate -j 1`` (or joblib workers on a machine with more cores than jobs) cached
    other features than the default run."""
    from threadpoolctl import threadpool_limits

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: BLAS cannot run a second thread here")
    with threadpool_limits(limits=1, user_api="blas"):
        one, _ = extract_features(takes, cache_dir=False, n_jobs=1, progress=False)
    with threadpool_limits(limits=2, user_api="blas"):
        two, _ = extract_features(takes, cache_dir=False, n_jobs=1, progress=False)
    assert np.array_equal(one, two)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):  # what joblib's workers inherit
        monkeypatch.setenv(var, "2")
    workers, _ = extract_features(takes, cache_dir=False, n_jobs=2, progress=False)
    assert np.array_equal(one, workers)
    assert os.environ["OPENBLAS_NUM_THREADS"] == "2"  # the caller's setting is given back


def test_a_damaged_cache_entry_is_recomputed_never_used(takes, tmp_path):
    """A cache entry whose bytes were zeroed (a crash before the data reached the disk), flipped
    or of another shape was read as features (the zeroed one gave half a row of zeros) or, for
    the wrong shape, stopped the run with numpy's broadcast error naming no file."""
    from ser_live.features import FeatureConfig
    from ser_live.vad import VadConfig
    from train.extract import _file_key, _setup_key

    paths = takes + [takes[0].replace("03a01Fa", "03a02Fc")]
    if not Path(paths[-1]).is_file():
        pytest.skip(f"{paths[-1]} missing")
    cache = tmp_path / "cache"
    clean, _ = extract_features(paths, cache_dir=cache, n_jobs=1, progress=False)
    setup = cache / _setup_key(FeatureConfig(), VadConfig(), None, "ser-live")
    entries = [setup / k[:2] / f"{k}.npy" for k in map(_file_key, paths)]
    size = entries[0].stat().st_size
    zeroed = bytearray(entries[0].read_bytes())
    zeroed[size // 2:] = bytes(size - size // 2)
    entries[0].write_bytes(bytes(zeroed))
    flipped = bytearray(entries[1].read_bytes())
    flipped[size // 2] ^= 0x40
    entries[1].write_bytes(bytes(flipped))
    np.save(entries[2], np.zeros(10, np.float32))
    np.save(entries[3], clean[3])  # as written before checksums: still read
    again, rep = extract_features(paths, cache_dir=cache, n_jobs=1, progress=False)
    assert np.array_equal(again, clean)
    assert rep.n_cached == 1 and [p for p, _ in rep.recomputed] == paths[:3]
    assert "damaged cache entries recomputed" in str(rep)
    third, rep3 = extract_features(paths, cache_dir=cache, n_jobs=1, progress=False)
    assert rep3.n_cached == len(paths) and not rep3.recomputed and np.array_equal(third, clean)


def test_tune_process_limits_numpy_blas_even_called_before_numpy_is_imported():
    """``tune_process()`` called before numpy was imported (as tests/conftest.py does) limited
    no library, so numpy's BLAS ran a thread per core and in-process features differed in their
    last bits from those of ``python -m train`` and ``ser-live`` (which import numpy first)."""
    import sys

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: BLAS runs one thread anyway")
    code = ("import sys; from ser_live.runtime import tune_process; assert 'numpy' not in sys.modules; "
            "print(tune_process().blas_one_thread); from threadpoolctl import threadpool_info; import numpy; "
            "print(sorted({d['num_threads'] for d in threadpool_info() if d['user_api'] == 'blas'}))")
    from ser_live.runtime import BLAS_THREAD_VARS

    env = {k: v for k, v in os.environ.items() if k not in BLAS_THREAD_VARS}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.split()
    assert out == ["True", "[1]"]


def test_report_names_the_commit_the_libraries_and_the_corpus_files(emodb_root, tmp_path, monkeypatch):
    """An evaluation report said which command made it, but not the commit, the library
    versions or which corpus files (how many, which content): a number could not be traced
    to what produced it. The corpus checksum is the same from a copy listed in another order."""
    from train.corpora import read_corpus
    from train.evaluate import run_recipe, write_reports
    from train.provenance import corpus_manifest
    from train.recipe import NormalizerSpec, Recipe

    records = [r for r in read_corpus("emodb", emodb_root).records
               if r.speaker in ("emodb-03", "emodb-08", "emodb-09") and r.label in ("angry", "sad")]
    recipe = Recipe(name="small", corpora=("emodb",), labels=("sad", "angry"), grid=("linear C=1e-3",),
                    normalizer=NormalizerSpec(enabled=False))
    res = next(iter(run_recipe("emodb-loso", recipe, source={"emodb": records}, n_jobs=1, progress=False).values()))
    data = json.loads(write_reports(res, tmp_path, command="python -m train evaluate")["json"].read_text())
    head = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    pv = data["provenance"]
    assert pv["git_commit"] == (head or None)
    assert pv["packages"]["numpy"] == np.__version__
    assert pv["packages"]["scikit-learn"] == __import__("sklearn").__version__
    assert pv["blas"] == sorted(pv["blas"], key=lambda b: (b["internal_api"], b["version"]))  # not in load order
    assert all(set(b) == {"internal_api", "version", "architecture"} for b in pv["blas"])  # no thread count of the moment
    cpuinfo = Path("/proc/cpuinfo")
    names = [l.split(":", 1)[1].strip() for l in cpuinfo.read_text().splitlines() if l.startswith("model name")] \
        if cpuinfo.exists() else []
    if names:  # the processor whose kernels rounded the sums
        assert pv["cpu"] == names[0]
    assert data["corpus_files"]["emodb"]["files"] == len(records) == data["n_records"]
    md = (tmp_path / "emodb-loso-small-none.md").read_text()
    assert f"commit {(head or 'unknown')[:12]}" in md and f"emodb {len(records)} files" in md
    moved = _copy_corpus([r.path for r in records], tmp_path / "data")
    copy = read_corpus("emodb", Path(moved[0]).parent)
    assert [Path(r.path).name for r in copy.records] == [Path(r.path).name for r in records]
    assert corpus_manifest(copy.records) == data["corpus_files"]

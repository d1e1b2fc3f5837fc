"""``python -m benchmarks.live_offline`` (or ``python -m benchmarks --only live_offline``): does a
voice heard live score what the same recordings score offline?

Issue 20. For each held-out corpus (default EmoDB and RAVDESS) a ``loco`` fold model is fitted
with the shipped recipe on every other corpus (``python -m train fit --exclude-corpus C``;
cached in ``--models-dir``, keyed by the recipe text and the source of the modules that shape
a model), so the held-out speakers' voices are unseen. Then, per held-out speaker:

* **offline**: ``ser-live predict FILES --sessions S.csv`` on the speaker's clean files (one
  session = the speaker), as a user with recordings would score them;
* **live**: the same files, trimmed to their speech span, shuffled (seeded), joined with
  1 s pauses, each brought to a loud-frame level (90th percentile of 30 ms frame RMS,
  :func:`train.sessions.build_session`) of -20, -30 or -40 dBFS, over a floor of digital
  silence or of stationary noise at -60, -50 or -45 dBFS RMS (white, pink, or a fan-like
  low-pass noise, :func:`fan_noise`) under the whole session, written to a WAV and replayed
  through the real program, ``ser-live --input S.wav --speed 0 --jsonl R.jsonl --plain
  --revisions``;
* **offline on what live heard** (``Settings.heard``, default on): each played utterance cut
  from that session WAV (its span plus :data:`HEARD_PAD_S` of pause either side: the same
  level and floor) and scored with ``ser-live predict --sessions`` (session = the speaker), so
  "live loses nothing against offline on the same speech" is measured apart from "the level
  and the floor cost points" (offline heard minus offline clean).

Live is scored twice: **at the moment** (each result as the user saw it) and **revised** (each
result as the session revision left it, :mod:`ser_live.revision`: the first utterances of a
session re-scored as its statistics settle, read from the ``{"kind": "revision"}`` lines,
:func:`revised_results`).

Each live result is mapped back to the played utterances by time (:func:`match_results`): it
belongs to the played utterance it overlaps most. A played utterance's live label is the
argmax of its results' probabilities averaged with their overlaps (s) as weights; a played
utterance with no result counts as wrong (the user saw nothing). Per speaker: UA live and
offline (balanced accuracy over the speaker's classes, %), utterances found / played, split
(played utterances with two or more results), merged (results overlapping two or more played
utterances by at least :data:`MERGE_MIN_S` each), spurious (results overlapping none) and the
share of results routed to the noise branch (``noise_branch`` in the JSON lines). Means are
over speakers. "SNR" in the tables is the speech level minus the floor level (dB), the
definition of :func:`train.augment.apply_augmentation` (loud-frame level against noise RMS).

The per-utterance records (speaker, order in the session, label, live and offline labels,
results, branch) go to the JSON report so the first utterances of a session (before the
session normaliser's statistics settle) can be compared with the rest (:func:`early_late`).

Printed: one Markdown table per condition (means over speakers) and one per speaker (offline
UA, live UA now and revised and offline heard per level, averaged over floors). Written: ``bench-results/live_offline-<date>.json``
and ``.md`` (also ``live_offline-latest.*``). No target is enforced here; issue 20's acceptance
is shown beside the figures (live within 2 UA points of offline on the same audio, at the
moment and revised; at most 5 % routed at 25 dB SNR or more, at least 80 % at 10 dB or less). The CI version is ``tests/test_live_offline.py``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as _dt
import hashlib
import json
import logging
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ser_live.labels import CORE_LABELS as _CORE_LABELS

from .common import (
    REPO_ROOT, SR, build_session, corpora_problem, corpus_utterances, md_table, output_dir_problem, progress,
    ser_live_cmd, write_wav,
)

__all__ = [
    "NAME", "SESSION_LABELS", "Floor", "Condition", "FLOORS", "QUICK_FLOORS", "LEVELS_DBFS", "Settings",
    "fan_noise", "floor_noise", "speaker_sets", "speaker_session", "fold_model", "replay_live",
    "revised_results", "heard_files", "predict_offline", "match_results", "balanced_accuracy_pct", "score_speaker", "early_late",
    "route_column", "run_harness", "run", "summary_rows", "markdown", "main",
]

log = logging.getLogger("benchmarks.live_offline")

#: Section name in ``python -m benchmarks``.
NAME = "live_offline"
#: The four core classes the fold models are scored on (``loco``), in alphabetical order
#: (the order sessions are built in).
SESSION_LABELS = tuple(sorted(_CORE_LABELS))
#: A result counts as merging two played utterances when it overlaps each by at least this (s).
MERGE_MIN_S = 0.25
#: Played utterances counted as "the first of a session" by :func:`early_late`.
EARLY_K = 5
#: Pause (s) kept on either side of a played utterance when it is cut from the session for
#: offline scoring of what live heard (:func:`heard_files`).
HEARD_PAD_S = 0.3
#: Modules whose source shapes a fitted model: part of a cached fold model's key.
_MODEL_SOURCES = (
    "ser_live/features/config.py", "ser_live/features/extractor.py", "ser_live/features/framewise.py",
    "ser_live/features/pooling.py", "ser_live/features/gating.py", "ser_live/model.py", "ser_live/route.py", "ser_live/normalize.py",
    "ser_live/vad.py", "train/recipe.py", "train/recipe_spec.py", "train/augment.py", "train/extract.py",
    "train/__main__.py",
)


# ---------------------------------------------------------------------------------- conditions
@dataclass(frozen=True)
class Floor:
    """The noise floor of a session.

    Attributes
    ----------
    noise : str or None
        ``"white"``, ``"pink"``, ``"fan"`` (:func:`floor_noise`), or None for digital silence.
    dbfs : float or None
        RMS level of the noise (dBFS); None for digital silence.
    """

    noise: str | None = None
    dbfs: float | None = None

    @property
    def name(self) -> str:
        return "silence" if self.noise is None else f"{self.noise} {self.dbfs:g}"


@dataclass(frozen=True)
class Condition:
    """A speech level over a floor.

    Attributes
    ----------
    level_dbfs : float
        Loud-frame level every utterance is brought to (dBFS).
    floor : Floor
    """

    level_dbfs: float
    floor: Floor

    @property
    def name(self) -> str:
        return f"{self.level_dbfs:g} dBFS / {self.floor.name}"

    @property
    def snr_db(self) -> float | None:
        """Speech level minus floor level (dB); None over digital silence."""
        return None if self.floor.dbfs is None else self.level_dbfs - self.floor.dbfs


#: Speech levels (dBFS, loud-frame) of the sessions: a laptop's range (issue 20).
LEVELS_DBFS: tuple[float, ...] = (-20.0, -30.0, -40.0)
#: Every floor: digital silence, and each noise at -60, -50 and -45 dBFS.
FLOORS: tuple[Floor, ...] = (Floor(),) + tuple(
    Floor(n, d) for d in (-60.0, -50.0, -45.0) for n in ("white", "pink", "fan")
)
#: ``--quick``: one noise per level of floor.
QUICK_FLOORS: tuple[Floor, ...] = (Floor(), Floor("pink", -60.0), Floor("white", -50.0), Floor("fan", -45.0))


def fan_noise(n_samples: int, *, seed: int = 0) -> np.ndarray:
    """A fan-like floor: white noise low-passed at 400 Hz (4th-order Butterworth), plus a
    100 Hz hum and its second harmonic 15 and 20 dB below the broadband part.

    Most of a laptop fan's or a ventilation duct's power sits below a few hundred Hz, with
    tonal components at the blade-pass frequency; this is a stand-in, not a recording.

    Parameters
    ----------
    n_samples : int
    seed : int, default 0

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
        Zero mean, unit RMS.
    """
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(seed)
    sos = butter(4, 400.0, btype="low", fs=SR, output="sos")
    x = sosfilt(sos, rng.standard_normal(n_samples))
    x /= max(float(np.sqrt(np.mean(x**2))), 1e-12)
    t = np.arange(n_samples) / SR
    phase = rng.uniform(0, 2 * np.pi, 2)
    x += np.sqrt(2) * (10 ** (-15 / 20) * np.sin(2 * np.pi * 100 * t + phase[0])
                       + 10 ** (-20 / 20) * np.sin(2 * np.pi * 200 * t + phase[1]))
    x -= x.mean()
    return (x / max(float(np.sqrt(np.mean(x**2))), 1e-12)).astype(np.float32)


def floor_noise(noise: str, n_samples: int, *, seed: int = 0) -> np.ndarray:
    """Unit-RMS noise of a floor: ``"white"`` or ``"pink"`` (:func:`train.augment.colored_noise`)
    or ``"fan"`` (:func:`fan_noise`).

    Parameters
    ----------
    noise : str
    n_samples : int
    seed : int, default 0

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)

    Raises
    ------
    ValueError
        Unknown noise.
    """
    if noise == "fan":
        return fan_noise(n_samples, seed=seed)
    if noise in ("white", "pink"):
        from train.augment import colored_noise

        return colored_noise(noise, n_samples, seed=seed)
    raise ValueError(f"unknown floor noise {noise!r} (white, pink, fan)")


# ---------------------------------------------------------------------------------- settings
@dataclass
class Settings:
    """What the harness runs.

    Attributes
    ----------
    corpora : tuple of str
        Held-out corpora (each gets its own fold model).
    per_class : int
        Utterances per core class and speaker (fewer when a speaker has fewer).
    levels_dbfs : tuple of float
    floors : tuple of Floor
    speakers : int or None
        At most this many speakers per corpus (the first in sorted order); None for all.
    only_speakers : tuple of str
        Only these speakers (e.g. ``emodb-03``); empty for all.
    pause_s : float
        Pause between utterances (s).
    seed : int
        Seeds the file choice, the order and the noise.
    recipe : str
        Recipe of the fold models.
    models_dir : Path
        Where fold models are cached.
    models : dict of str to str
        Fold model given per held-out corpus (``corpus -> path``), not fitted.
    jobs : int
        ``ser-live`` replays run at once, and ``-j`` of ``train fit``.
    refit : bool
        Fit the fold models even when cached.
    diagnose : bool
        Also read the noise route's SNR column of every live-cut utterance in-process
        (:func:`route_column`).
    extra_args : tuple of str
        More ``ser-live`` options for both paths (e.g. ``--no-session-norm``).
    heard : bool
        Also score offline what the live path heard: each played utterance cut from the
        session as mixed (level and floor, :func:`heard_files`), ``predict --sessions``.
    """

    corpora: tuple[str, ...] = ("emodb", "ravdess")
    per_class: int = 10
    levels_dbfs: tuple[float, ...] = LEVELS_DBFS
    floors: tuple[Floor, ...] = FLOORS
    speakers: int | None = None
    only_speakers: tuple[str, ...] = ()
    pause_s: float = 1.0
    seed: int = 0
    recipe: str = str(REPO_ROOT / "train" / "recipes" / "ser-default.toml")
    models_dir: Path = REPO_ROOT / "bench-results" / "live_offline-models"
    models: dict[str, str] = field(default_factory=dict)
    jobs: int = 2
    refit: bool = False
    diagnose: bool = False
    extra_args: tuple[str, ...] = ()
    heard: bool = True

    @property
    def conditions(self) -> list[Condition]:
        return [Condition(lv, fl) for lv in self.levels_dbfs for fl in self.floors]


QUICK = dict(per_class=5, floors=QUICK_FLOORS, speakers=4)


# ---------------------------------------------------------------------------------- data
def speaker_sets(corpus: str, *, per_class: int, seed: int = 0, data_root: str | Path | None = None,
                 speakers: int | None = None, only: Sequence[str] = ()) -> dict[str, list[tuple[str, str]]]:
    """Per held-out speaker, up to ``per_class`` files of each core class, shuffled.

    Parameters
    ----------
    corpus : str
        Corpus name (:func:`train.corpora.read_corpus`).
    per_class : int
    seed : int, default 0
        Seeds the choice within a class and the order of the session.
    data_root : str or Path, optional
        Corpora folder (default :func:`train.corpora.default_data_root`).
    speakers : int, optional
        Keep the first ``speakers`` speakers (sorted).
    only : sequence of str
        Keep only these speakers.

    Returns
    -------
    dict of str to list of (str, str)
        Speaker -> ``(path, label)`` in session order.
    """
    from train.corpora import default_data_root, read_corpus

    root = Path(data_root) if data_root else default_data_root()
    recs = [r for r in read_corpus(corpus, root / corpus, check_audio=False).records if r.label in SESSION_LABELS]
    by: dict[str, dict[str, list[str]]] = {}
    for r in sorted(recs, key=lambda r: r.path):
        by.setdefault(r.speaker, {}).setdefault(r.label, []).append(r.path)
    names = sorted(by)
    if only:
        names = [s for s in names if s in set(only)]
    if speakers is not None:
        names = names[:speakers]
    out = {}
    for spk in names:
        rng = np.random.default_rng([seed, int(hashlib.sha1(spk.encode()).hexdigest()[:8], 16)])
        items = []
        for lab in SESSION_LABELS:
            files = by[spk].get(lab, [])
            pick = rng.permutation(len(files))[:per_class]
            items += [(files[i], lab) for i in sorted(pick)]
        out[spk] = [items[i] for i in rng.permutation(len(items))]
    return out


def floor_seed(seed: int, condition_index: int) -> int:
    """Seed of the floor noise of a run's ``condition_index``-th condition (0-based, in
    :attr:`Settings.conditions` order) with ``--seed seed``: each condition gets its own noise."""
    return seed + 7919 * condition_index


def speaker_session(paths: Sequence[str], cond: Condition, *, pause_s: float = 1.0, seed: int = 0):
    """The live session of one speaker in one condition.

    Parameters
    ----------
    paths : sequence of str
        The speaker's files in session order.
    cond : Condition
    pause_s : float, default 1.0
    seed : int, default 0
        Seed of the floor noise.

    Returns
    -------
    train.sessions.Session
        int16 samples; ``spans`` are the played utterances.
    """
    utts = list(corpus_utterances(paths))
    kw: dict[str, Any] = {}
    if cond.floor.noise is not None:
        n = sum(len(u) for u in utts) + int((len(utts) + 2) * pause_s * SR)
        kw = dict(noise=floor_noise(cond.floor.noise, n, seed=seed), noise_dbfs=cond.floor.dbfs)
    return build_session(utts, pauses_s=(pause_s,), tail_s=1.5, utterance_dbfs=cond.level_dbfs, **kw)


# ---------------------------------------------------------------------------------- models
def _model_key(recipe: str, overrides: Sequence[str] = ()) -> str:
    """The cache key of a fold model: the recipe as loaded (its ``base`` chain merged and the
    overrides applied, so an edit to a base recipe such as ``ser-default.toml`` is a new key,
    not a stale model), the overrides and the sources that shape a model."""
    from train.recipe import load_recipe

    h = hashlib.sha256(Path(recipe).read_bytes())
    h.update("\n".join(overrides).encode())
    h.update(repr(load_recipe(recipe, overrides=list(overrides))).encode())
    for rel in _MODEL_SOURCES:
        p = REPO_ROOT / rel
        if p.exists():
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


def fold_model(corpus: str, *, recipe: str, models_dir: str | Path, jobs: int = 2, refit: bool = False,
               overrides: Sequence[str] = ()) -> Path:
    """A ``loco`` fold model: ``recipe`` fitted on its corpora except ``corpus``.

    Runs ``python -m train -j JOBS fit --recipe RECIPE [--set OVERRIDE ...] --exclude-corpus
    CORPUS --out PATH`` unless a model with the same key (recipe text, overrides and
    model-shaping sources) is cached.

    Parameters
    ----------
    corpus : str
    recipe : str
        Recipe TOML path.
    models_dir : str or Path
    jobs : int, default 2
    refit : bool, default False
    overrides : sequence of str
        ``train fit --set`` overrides, e.g. ``'corpora=["ravdess"]'`` (a smaller fold model
        for the CI test; the held-out corpus stays out either way).

    Returns
    -------
    Path
        The model file.

    Raises
    ------
    RuntimeError
        The fit failed (its output's last lines in the message).
    """
    out = Path(models_dir) / f"loco-{Path(recipe).stem}-{corpus}-{_model_key(recipe, overrides)}.skops"
    if out.exists() and not refit:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "train", "-j", str(jobs), "fit", "--recipe", str(recipe),
           *[a for o in overrides for a in ("--set", o)], "--exclude-corpus", corpus, "--out", str(out)]
    progress(f"fitting the {corpus} fold model: {' '.join(cmd[1:])}")
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
    if p.returncode != 0 or not out.exists():
        tail = "\n".join((p.stdout + p.stderr).strip().splitlines()[-5:])
        raise RuntimeError(f"fitting the {corpus} fold model failed ({p.returncode}): {tail}")
    progress(f"fold model {out.name} in {time.perf_counter() - t0:.0f} s")
    return out


# ---------------------------------------------------------------------------------- runs
def replay_live(wav: Path, *, model: Path, jsonl: Path, extra_args: Sequence[str] = ()) -> list[dict]:
    """``ser-live --input WAV --speed 0 --plain --jsonl JSONL --model MODEL``; its final records.

    Parameters
    ----------
    wav, model, jsonl : Path
    extra_args : sequence of str

    Returns
    -------
    list of dict
        The JSON lines, in order.

    Raises
    ------
    RuntimeError
        ``ser-live`` exited with a non-zero status.
    """
    cmd = [*ser_live_cmd(), "--input", str(wav), "--speed", "0", "--plain", "--jsonl", str(jsonl), "--overwrite",
           "--model", str(model), "--revisions", *extra_args]
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"ser-live exited {p.returncode} on {wav.name}: {p.stderr.strip()[-300:]}")
    recs = [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]
    return [r for r in recs if r.get("final", True) and r.get("kind", "utterance") == "utterance"]


def revised_results(results: Sequence[dict], jsonl: Path) -> list[dict]:
    """The live results as the session revision left them (:mod:`ser_live.revision`): each
    result's probabilities replaced by those of the last ``{"kind": "revision"}`` line of
    ``JSONL`` that re-scored it; results never revised are as shown.

    Parameters
    ----------
    results : sequence of dict
        :func:`replay_live`'s records (at the moment).
    jsonl : Path
        The same run's JSON lines (written with ``--revisions``).

    Returns
    -------
    list of dict
        Copies of ``results`` in the same order.
    """
    last: dict[int, dict] = {}
    for line in jsonl.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            if rec.get("kind") == "revision":
                for r in rec["results"]:
                    last[int(r["index"])] = r
    out = []
    for r in results:
        rev = last.get(int(r["index"]))
        out.append(dict(r) if rev is None else {**r, "label": rev["label"], "probabilities": rev["probabilities"],
                                                **({"noise_branch": rev["noise_branch"]} if "noise_branch" in rev else {})})
    return out


def heard_files(session, items: Sequence[tuple[str, str]], folder: Path, *, pad_s: float = HEARD_PAD_S) -> dict[str, str]:
    """Write each played utterance as the live path heard it: its span of the session (at the
    session's level, over its floor) with ``pad_s`` of the pause on either side.

    Parameters
    ----------
    session : train.sessions.Session
    items : sequence of (str, str)
        ``(path, label)`` in session order.
    folder : Path
    pad_s : float

    Returns
    -------
    dict of str to str
        Resolved original path -> the written WAV.
    """
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for k, ((path, _), samples) in enumerate(zip(items, heard_cuts(session, pad_s=pad_s))):
        wav = folder / f"u{k:03d}.wav"
        write_wav(wav, samples)
        out[str(Path(path).resolve())] = str(wav)
    return out


def heard_cuts(session, *, pad_s: float = HEARD_PAD_S) -> list[np.ndarray]:
    """Each played utterance's span of the session with ``pad_s`` of the pause on either side
    (int16 views of ``session.samples``, in order): what :func:`heard_files` writes."""
    pad, x = int(round(pad_s * SR)), session.samples
    return [x[max(0, a - pad):min(len(x), b + pad)] for a, b in session.spans]


def predict_offline(sessions: dict[str, Sequence[str]], *, model: Path, workdir: Path,
                    extra_args: Sequence[str] = (), allow_failures: bool = False) -> dict[str, dict]:
    """``ser-live predict FILES --sessions S.csv --model MODEL --output R.jsonl``.

    Parameters
    ----------
    sessions : dict of str to sequence of str
        Session name -> its files.
    model, workdir : Path
    extra_args : sequence of str
    allow_failures : bool, default False
        Accept files ``predict`` fails on (exit 3 or 4, e.g. "no speech detected" in a quiet
        utterance over a floor): their records carry no probabilities and score as wrong.

    Returns
    -------
    dict of str to dict
        Resolved path -> its record.

    Raises
    ------
    RuntimeError
        ``ser-live predict`` exited with a non-zero status (other than a per-file failure with
        ``allow_failures``).
    """
    csv_path, out = workdir / "sessions.csv", workdir / "offline.jsonl"
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "session"])
        for s, paths in sessions.items():
            w.writerows([str(Path(p).resolve()), s] for p in paths)
    files = [str(Path(p).resolve()) for paths in sessions.values() for p in paths]
    cmd = [*ser_live_cmd(), "predict", *files, "--sessions", str(csv_path), "--model", str(model),
           "--output", str(out), *extra_args]
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0 and not (allow_failures and p.returncode in (3, 4) and out.exists()):
        raise RuntimeError(f"ser-live predict exited {p.returncode}: {p.stderr.strip()[-300:]}")
    recs = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return {str(Path(r["path"]).resolve()): r for r in recs}


# ---------------------------------------------------------------------------------- scoring
def match_results(spans_s: Sequence[tuple[float, float]], results: Sequence[dict]) -> dict[str, Any]:
    """Map live results to the played utterances by time.

    Parameters
    ----------
    spans_s : sequence of (float, float)
        Start and end (s) of each played utterance in the session.
    results : sequence of dict
        Live records with ``start_s`` and ``end_s`` (s).

    Returns
    -------
    dict
        ``assigned`` (per played utterance, a list of ``(result index, overlap s)``: the
        results whose largest overlap is with it), ``spurious`` (results overlapping no played
        utterance), ``merged`` (results overlapping two or more played utterances by at least
        :data:`MERGE_MIN_S` each).
    """
    spans = np.asarray(spans_s, dtype=np.float64).reshape(-1, 2)
    assigned: list[list[tuple[int, float]]] = [[] for _ in range(len(spans))]
    spurious = merged = 0
    for i, r in enumerate(results):
        ov = np.minimum(spans[:, 1], r["end_s"]) - np.maximum(spans[:, 0], r["start_s"])
        if len(ov) == 0 or ov.max() <= 0:
            spurious += 1
            continue
        merged += int((ov >= MERGE_MIN_S).sum() >= 2)
        j = int(ov.argmax())
        assigned[j].append((i, float(ov[j])))
    return {"assigned": assigned, "spurious": spurious, "merged": merged}


def balanced_accuracy_pct(y_true: Sequence[str], y_pred: Sequence[str | None]) -> float:
    """UA: the mean over the true classes present of their recall (%); a None prediction is
    wrong.

    Parameters
    ----------
    y_true, y_pred : sequence of str (y_pred may hold None)

    Returns
    -------
    float
        Percent; NaN when ``y_true`` is empty.
    """
    yt, yp = list(y_true), list(y_pred)
    classes = sorted(set(yt))
    if not classes:
        return float("nan")
    rec = [np.mean([p == c for t, p in zip(yt, yp) if t == c]) for c in classes]
    return float(100.0 * np.mean(rec))


def _core_argmax(probs: dict[str, float]) -> str:
    return max(SESSION_LABELS, key=lambda k: probs.get(k, -1.0))


def _live_label(results: Sequence[dict], asg: Sequence[tuple[int, float]]) -> str | None:
    """A played utterance's live label: the argmax of its results' probabilities weighted by
    their overlaps; None without results."""
    if not asg:
        return None
    w = np.array([ov for _, ov in asg])
    p = {c: float(np.dot(w, [results[i]["probabilities"].get(c, 0.0) for i, _ in asg])) for c in SESSION_LABELS}
    return _core_argmax(p)


def score_speaker(items: Sequence[tuple[str, str]], session, results: Sequence[dict],
                  offline: dict[str, dict], *, revised: Sequence[dict] | None = None,
                  heard: dict[str, dict] | None = None) -> dict[str, Any]:
    """Score one speaker's live session against the offline records of the same files.

    Parameters
    ----------
    items : sequence of (str, str)
        ``(path, label)`` in session order (as played).
    session : train.sessions.Session
    results : sequence of dict
        The live JSON lines.
    offline : dict of str to dict
        Resolved path -> ``predict`` record (the clean files).
    revised : sequence of dict, optional
        ``results`` as the session revision left them (:func:`revised_results`), same order.
    heard : dict of str to dict, optional
        Resolved original path -> ``predict --sessions`` record of the utterance as the live
        path heard it (:func:`heard_files`).

    Returns
    -------
    dict
        ``ua_live`` (at the moment: each result as it was shown), ``ua_offline`` (clean files)
        (%), ``played``, ``found``, ``results``, ``split``, ``merged``, ``spurious``,
        ``noise_branch_pct`` (of the results), ``offline_noise_branch_pct`` and ``utterances``
        (per played utterance: ``order``, ``label``, ``live``, ``offline``, ``n_results``,
        ``noise_branch`` (any of its results), ``first_session_utterances``); with
        ``revised`` also ``ua_live_revised`` and per utterance ``live_revised``; with ``heard``
        also ``ua_offline_heard``, ``offline_heard_noise_branch_pct`` and per utterance
        ``offline_heard``.
    """
    spans_s = [(a / SR, b / SR) for a, b in session.spans]
    m = match_results(spans_s, results)
    utts, y_true, y_live, y_off = [], [], [], []
    for k, ((path, lab), asg) in enumerate(zip(items, m["assigned"])):
        off = offline.get(str(Path(path).resolve()), {})
        off_lab = _core_argmax(off["probabilities"]) if off.get("probabilities") else None
        live_lab = _live_label(results, asg)
        utts.append({
            "order": k, "path": path, "label": lab, "live": live_lab, "offline": off_lab,
            "n_results": len(asg),
            "noise_branch": any(bool(results[i].get("noise_branch")) for i, _ in asg),
            "offline_noise_branch": bool(off.get("noise_branch", False)),
            "session_utterances": [results[i].get("session_utterances") for i, _ in asg],
        })
        y_true.append(lab)
        y_live.append(live_lab)
        y_off.append(off_lab)
        if revised is not None:
            utts[-1]["live_revised"] = _live_label(revised, asg)
        if heard is not None:
            h = heard.get(str(Path(path).resolve()), {})
            utts[-1]["offline_heard"] = _core_argmax(h["probabilities"]) if h.get("probabilities") else None
            utts[-1]["offline_heard_noise_branch"] = bool(h.get("noise_branch", False))
    n_res = len(results)
    branch = sum(bool(r.get("noise_branch")) for r in results)
    extra: dict[str, Any] = {}
    if revised is not None:
        extra["ua_live_revised"] = balanced_accuracy_pct(y_true, [u["live_revised"] for u in utts])
    if heard is not None:
        extra["ua_offline_heard"] = balanced_accuracy_pct(y_true, [u["offline_heard"] for u in utts])
        extra["offline_heard_found"] = sum(u["offline_heard"] is not None for u in utts)
        extra["offline_heard_noise_branch_pct"] = (100.0 * np.mean([u["offline_heard_noise_branch"] for u in utts])
                                                   if utts else float("nan"))
    return {**extra,
        "ua_live": balanced_accuracy_pct(y_true, y_live),
        "ua_offline": balanced_accuracy_pct(y_true, y_off),
        "played": len(items),
        "found": sum(1 for a in m["assigned"] if a),
        "results": n_res,
        "split": sum(1 for a in m["assigned"] if len(a) >= 2),
        "merged": m["merged"],
        "spurious": m["spurious"],
        "noise_branch_pct": 100.0 * branch / n_res if n_res else float("nan"),
        "offline_noise_branch_pct": 100.0 * np.mean([u["offline_noise_branch"] for u in utts]) if utts else float("nan"),
        "utterances": utts,
    }


def early_late(rows: Iterable[dict], *, k: int = EARLY_K) -> dict[str, float]:
    """Accuracy (%) of the first ``k`` played utterances of each session against the rest,
    live and offline, pooled over the given speaker rows.

    Offline scores every utterance with all of its session's statistics, so its early/late gap
    is the utterances' own difficulty; live's gap beyond it is what unsettled running
    statistics cost.

    Parameters
    ----------
    rows : iterable of dict
        :func:`score_speaker` outputs.
    k : int, default 5

    Returns
    -------
    dict
        ``live_first``, ``live_rest``, ``offline_first``, ``offline_rest``,
        ``live_revised_first``, ``live_revised_rest``, ``offline_heard_first``,
        ``offline_heard_rest`` (%; NaN when the rows lack them), ``n_first``, ``n_rest``.
    """
    first, rest = [], []
    for r in rows:
        for u in r["utterances"]:
            (first if u["order"] < k else rest).append(u)

    def acc(us: list[dict], key: str) -> float:
        us = [u for u in us if key in u]
        return float(100.0 * np.mean([u[key] == u["label"] for u in us])) if us else float("nan")

    return {"live_first": acc(first, "live"), "live_rest": acc(rest, "live"),
            "offline_first": acc(first, "offline"), "offline_rest": acc(rest, "offline"),
            "live_revised_first": acc(first, "live_revised"), "live_revised_rest": acc(rest, "live_revised"),
            "offline_heard_first": acc(first, "offline_heard"), "offline_heard_rest": acc(rest, "offline_heard"),
            "n_first": len(first), "n_rest": len(rest)}


def route_column(session, model_path: Path) -> dict[str, Any]:
    """The noise route's SNR column of every utterance the live segmenter cuts from a session
    (in-process, :func:`ser_live.vad.segment_signal` and the model's extractor), for diagnosis.

    Parameters
    ----------
    session : train.sessions.Session
    model_path : Path

    Returns
    -------
    dict
        ``column``, ``threshold_db`` and ``values_db`` (one per cut utterance); empty for a
        model without a noise route.
    """
    from ser_live.features import FeatureExtractor
    from ser_live.model import EmotionModel
    from ser_live.vad import segment_signal

    model = EmotionModel.load(model_path)
    route = getattr(model, "noise_route", None)
    if route is None:
        return {}
    fx = FeatureExtractor(model.feature_config)
    vals = []
    for u in segment_signal(session.samples):
        vals.append(float(route.snr_db(fx.extract(u.samples)[None, :])[0]))
    return {"column": route.column_name, "threshold_db": float(route.threshold_db), "values_db": vals}


# ---------------------------------------------------------------------------------- the run
def _mean(xs: Iterable[float]) -> float:
    a = np.array([x for x in xs if x is not None and np.isfinite(x)], dtype=np.float64)
    return float(a.mean()) if a.size else float("nan")


def _aggregate(rows: list[dict]) -> dict[str, Any]:
    return {
        "speakers": len(rows),
        "ua_live": _mean(r["ua_live"] for r in rows),
        "ua_offline": _mean(r["ua_offline"] for r in rows),
        "ua_live_revised": _mean(r.get("ua_live_revised", float("nan")) for r in rows),
        "ua_offline_heard": _mean(r.get("ua_offline_heard", float("nan")) for r in rows),
        "offline_heard_noise_branch_pct": _mean(r.get("offline_heard_noise_branch_pct", float("nan")) for r in rows),
        "played": int(sum(r["played"] for r in rows)),
        "offline_heard_found": int(sum(r.get("offline_heard_found", 0) for r in rows)),
        "found": int(sum(r["found"] for r in rows)),
        "results": int(sum(r["results"] for r in rows)),
        "split": int(sum(r["split"] for r in rows)),
        "merged": int(sum(r["merged"] for r in rows)),
        "spurious": int(sum(r["spurious"] for r in rows)),
        "noise_branch_pct": _mean(r["noise_branch_pct"] for r in rows),
        "early_late": early_late(rows),
    }


def run_harness(settings: Settings, *, workdir: Path | None = None, data_root: str | Path | None = None) -> dict[str, Any]:
    """Fit (or reuse) the fold models, build and replay every session, score them.

    Parameters
    ----------
    settings : Settings
    workdir : Path, optional
        Scratch folder for sessions and records (a temporary one, removed, when None).
    data_root : str or Path, optional
        Corpora folder.

    Returns
    -------
    dict
        ``settings``, ``corpora`` (per corpus: ``model``, ``speakers`` (speaker -> its files
        and labels), ``conditions`` (condition name -> ``snr_db``, ``rows`` (speaker -> its
        :func:`score_speaker` result), ``mean``)), ``conditions`` (condition name -> the mean
        over every speaker of every corpus) and ``elapsed_s``.
    """
    import shutil

    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="ser-live-live-offline-")) if own else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    s = settings
    out: dict[str, Any] = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(s).items()},
                           "corpora": {}, "conditions": {}}
    out["settings"]["floors"] = [f.name for f in s.floors]
    try:
        for corpus in s.corpora:
            model = Path(s.models[corpus]) if corpus in s.models else fold_model(
                corpus, recipe=s.recipe, models_dir=s.models_dir, jobs=s.jobs, refit=s.refit)
            sets = speaker_sets(corpus, per_class=s.per_class, seed=s.seed, data_root=data_root,
                                speakers=s.speakers, only=s.only_speakers)
            cdir = work / corpus
            cdir.mkdir(exist_ok=True)
            offline = predict_offline({spk: [p for p, _ in items] for spk, items in sets.items()}, model=model,
                                      workdir=cdir, extra_args=s.extra_args)
            progress(f"{corpus}: offline scored, {len(sets)} speakers, {sum(map(len, sets.values()))} files")
            res_c: dict[str, Any] = {"model": str(model), "speakers": sets, "conditions": {}}
            for ci, cond in enumerate(s.conditions):
                t_c = time.perf_counter()

                def one(spk: str, cond: Condition = cond, ci: int = ci) -> tuple[str, dict]:
                    items = sets[spk]
                    sess = speaker_session([p for p, _ in items], cond, pause_s=s.pause_s, seed=floor_seed(s.seed, ci))
                    tag = f"{spk}-{ci}"
                    wav = cdir / f"{tag}.wav"
                    write_wav(wav, sess.samples)
                    jsonl = cdir / f"{tag}.jsonl"
                    results = replay_live(wav, model=model, jsonl=jsonl, extra_args=s.extra_args)
                    heard = None
                    if s.heard:
                        hdir = cdir / f"{tag}-heard"
                        files = heard_files(sess, items, hdir)
                        by_wav = predict_offline({spk: list(files.values())}, model=model, workdir=hdir,
                                                 extra_args=s.extra_args, allow_failures=True)
                        heard = {orig: by_wav.get(str(Path(w).resolve()), {}) for orig, w in files.items()}
                        shutil.rmtree(hdir, ignore_errors=True)
                    row = score_speaker(items, sess, results, offline, revised=revised_results(results, jsonl),
                                        heard=heard)
                    if s.diagnose:
                        row["route_column"] = route_column(sess, model)
                    wav.unlink()
                    return spk, row

                with ThreadPoolExecutor(max_workers=max(1, s.jobs)) as ex:
                    rows = dict(ex.map(one, list(sets)))
                mean = _aggregate(list(rows.values()))
                res_c["conditions"][cond.name] = {"level_dbfs": cond.level_dbfs, "floor": cond.floor.name,
                                                  "snr_db": cond.snr_db, "rows": rows, "mean": mean}
                progress(f"{corpus} {cond.name}: UA live {mean['ua_live']:.1f} revised {mean['ua_live_revised']:.1f} "
                         f"offline heard {mean['ua_offline_heard']:.1f} clean {mean['ua_offline']:.1f}, "
                         f"found {mean['found']}/{mean['played']}, branch {mean['noise_branch_pct']:.0f} % "
                         f"({time.perf_counter() - t_c:.0f} s)")
            out["corpora"][corpus] = res_c
        for cond in s.conditions:
            rows = [r for c in out["corpora"].values() for r in c["conditions"][cond.name]["rows"].values()]
            out["conditions"][cond.name] = {"level_dbfs": cond.level_dbfs, "floor": cond.floor.name,
                                            "snr_db": cond.snr_db, **_aggregate(rows)}
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    out["elapsed_s"] = round(time.perf_counter() - t0, 1)
    return out


# ---------------------------------------------------------------------------------- reporting
def _f(x: Any, nd: int = 1) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{nd}f}"


def _ref_offline(c: dict) -> float:
    """The offline UA live is held to: on what live heard when the harness scored it, else
    on the clean files."""
    h = c.get("ua_offline_heard", float("nan"))
    return h if h is not None and np.isfinite(h) else c["ua_offline"]


def _acceptance(c: dict, live_key: str = "ua_live") -> str:
    ok_ua = c[live_key] >= _ref_offline(c) - 2.0
    snr = c["snr_db"]
    ok_route = True
    if snr is None or snr >= 25:
        ok_route = c["noise_branch_pct"] <= 5.0
    elif snr <= 10:
        ok_route = c["noise_branch_pct"] >= 80.0
    return "met" if ok_ua and ok_route else "**missed**"


def combine(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of the harness (other ``--seed``: other sentences and noise) as one: per
    condition the mean over runs of live now, live revised and offline heard UA, and of the
    noise-branch share, with each run's revised - heard beside the mean.

    A condition's UA moves by about 2 points from one draw of sentences and noise to the next
    (188 EmoDB sentences per condition), as much as issue 20's margin; the mean over runs is
    what the acceptance is read on.

    A run may hold fewer conditions than another (extra runs of one condition, e.g. ``--levels
    -30 --floors white:-50 --seed 3``): each condition is the mean over the runs that hold it.

    Parameters
    ----------
    reports : sequence of dict
        The JSON reports of the runs (``live_offline-*.json``), each with the same corpora.

    Returns
    -------
    dict
        ``runs`` (each run's command and seed) and ``conditions``: condition name (in order of
        first appearance) -> ``snr_db``, ``runs`` (int: the runs holding it), ``ua_live``,
        ``ua_live_revised``, ``ua_offline_heard``, ``ua_offline``, ``noise_branch_pct`` (means
        over those runs) and ``rev_minus_heard`` (list, one per run).

    Raises
    ------
    ValueError
        No report, or reports of different corpora.
    """
    if not reports:
        raise ValueError("no report to combine")
    corpora = {tuple(r["settings"]["corpora"]) for r in reports}
    if len(corpora) != 1:
        raise ValueError(f"the reports hold different corpora: {sorted(corpora)}")
    names = list(dict.fromkeys(name for r in reports for name in r["conditions"]))
    out: dict[str, Any] = {"runs": [{"command": r.get("command"), "seed": r["settings"].get("seed")} for r in reports],
                           "conditions": {}, "split": {}}
    for name in names:
        cs = [r["conditions"][name] for r in reports if name in r["conditions"]]
        out["conditions"][name] = {
            "snr_db": cs[0]["snr_db"], "runs": len(cs),
            **{k: _mean(c.get(k, float("nan")) for c in cs)
               for k in ("ua_live", "ua_live_revised", "ua_offline_heard", "ua_offline", "noise_branch_pct")},
            "rev_minus_heard": [c.get("ua_live_revised", float("nan")) - _ref_offline(c) for c in cs],
        }
        out["split"][name] = _split_breakdown([r["corpora"][k]["conditions"][name] for r in reports
                                               for k in r.get("corpora", {}) if name in r["corpora"][k]["conditions"]])
    return out


def _split_breakdown(conds: Sequence[dict]) -> dict[str, dict[str, float]]:
    """Played sentences pooled over ``conds`` (a condition's per-corpus records, one per run),
    by how live cut them: ``whole`` (one result) and ``split`` (two or more); per kind the
    count ``n``, the share right (%) live revised and offline heard, and the share (%) routed
    to the noise branch live (any of its results) and offline heard."""
    acc: dict[str, list] = {"whole": [], "split": []}
    for c in conds:
        for row in c.get("rows", {}).values():
            for u in row.get("utterances", []):
                if u.get("n_results", 0) >= 1 and "live_revised" in u and "offline_heard" in u:
                    acc["whole" if u["n_results"] == 1 else "split"].append(u)
    out = {}
    for kind, us in acc.items():
        n = len(us)
        pct = (lambda f: 100.0 * sum(1 for u in us if f(u)) / n) if n else (lambda f: float("nan"))
        out[kind] = {"n": n, "live_revised_pct": pct(lambda u: u["live_revised"] == u["label"]),
                     "heard_pct": pct(lambda u: u["offline_heard"] == u["label"]),
                     "branch_live_pct": pct(lambda u: bool(u.get("noise_branch"))),
                     "branch_heard_pct": pct(lambda u: bool(u.get("offline_heard_noise_branch")))}
    return out


def combined_markdown(comb: dict[str, Any]) -> list[str]:
    """The Markdown of :func:`combine`: one row per condition, the acceptance read on the means."""
    rows = []
    for name, c in comb["conditions"].items():
        ref = _ref_offline(c)
        rows.append([name, "-" if c["snr_db"] is None else f"{c['snr_db']:g}", _f(c["ua_live"]),
                     _f(c["ua_live_revised"]), _f(ref), _f(c["ua_live"] - ref), _f(c["ua_live_revised"] - ref),
                     ", ".join(_f(d) for d in c["rev_minus_heard"]), _f(c["noise_branch_pct"], 0),
                     f"{_acceptance(c)} / {_acceptance(c, 'ua_live_revised')}"])
    conds = list(comb["conditions"].values())
    rows.append(["mean", "", _f(_mean(c["ua_live"] for c in conds)), _f(_mean(c["ua_live_revised"] for c in conds)),
                 _f(_mean(_ref_offline(c) for c in conds)), "", "", "", "",
                 f"{sum(_acceptance(c) == 'met' for c in conds)} / {sum(_acceptance(c, 'ua_live_revised') == 'met' for c in conds)}"
                 f" of {len(conds)} met"])
    seeds = ", ".join(str(r["seed"]) for r in comb["runs"])
    split_rows = []
    for name, b in comb.get("split", {}).items():
        w, sp = b["whole"], b["split"]
        split_rows.append([name, w["n"], f"{_f(w['live_revised_pct'])} / {_f(w['heard_pct'])}",
                           f"{_f(w['branch_live_pct'], 0)} / {_f(w['branch_heard_pct'], 0)}", sp["n"],
                           f"{_f(sp['live_revised_pct'])} / {_f(sp['heard_pct'])}",
                           f"{_f(sp['branch_live_pct'], 0)} / {_f(sp['branch_heard_pct'], 0)}"])
    return ["", f"## Live vs offline over {len(comb['runs'])} runs (seeds {seeds})", "",
            "Means over the runs of each condition's UA (%; each run's own table has the per-speaker means), "
            "live now, live revised and offline on what live heard; rev - heard per run beside the mean; "
            "issue 20 read on the means.", "",
            *md_table(["level / floor", "SNR dB", "UA live now", "UA live revised", "UA offline heard", "now - heard",
                       "rev - heard", "rev - heard per run", "branch % live", "issue 20 now / rev"], rows),
            "", "Played sentences pooled over the runs, by how live cut them (whole: one result; split: two or "
                "more): share right (%) live revised / offline heard, and share (%) sent to the noise branch live "
                "(any of its results) / offline heard.", "",
            *md_table(["level / floor", "whole", "right rev / heard", "branch live / heard", "split",
                       "right rev / heard", "branch live / heard"], split_rows)]


def summary_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Headline rows for ``python -m benchmarks``: mean live and offline UA over every condition."""
    conds = list(res["conditions"].values())
    if not conds:
        return []
    live, off = _mean(c["ua_live"] for c in conds), _mean(_ref_offline(c) for c in conds)
    rev = _mean(c.get("ua_live_revised", float("nan")) for c in conds)
    worst = min(c["ua_live"] - _ref_offline(c) for c in conds)
    return [
        {"metric": "live UA (at the moment), mean over conditions (loco fold models)", "value": live, "unit": "%",
         "target": f">= offline on the same audio - 2 ({off:.1f} - 2)", "met": bool(live >= off - 2.0)},
        {"metric": "live UA (revised), mean over conditions", "value": rev, "unit": "%",
         "target": f">= offline on the same audio - 2 ({off:.1f} - 2)", "met": bool(rev >= off - 2.0)},
        {"metric": "live (at the moment) - offline UA on the same audio, worst condition", "value": worst,
         "unit": "points", "target": ">= -2", "met": bool(worst >= -2.0)},
    ]


def markdown(res: dict[str, Any]) -> list[str]:
    """The section's Markdown: a table per condition (means over speakers) and per speaker."""
    s = res["settings"]
    lines = ["", "## Live vs offline (issue 20)", "",
             f"Held-out corpora {', '.join(s['corpora'])}, each with its `loco` fold model "
             f"(recipe `{Path(s['recipe']).name}` fitted without it); up to {s['per_class']} utterances per core class "
             f"and speaker, seed {s['seed']}, {s['pause_s']:g} s pauses; live = `ser-live --input S.wav --speed 0 --jsonl "
             "--revisions`. UA in %, means over speakers. Live *now*: each result as it was shown; live *revised*: as the "
             "session revision left it (`ser_live/revision.py`: the first 20 utterances of a session re-scored as its "
             "statistics settle). Offline = `ser-live predict --sessions` (session = speaker): *heard* on each played "
             f"utterance cut from the session as live heard it (level, floor, {HEARD_PAD_S:g} s of pause either side), "
             "*clean* on the corpus files (found/played: in brackets the heard utterances offline `predict` found speech in; "
             "one it refuses counts as wrong). now/rev - heard: live minus offline on the same audio (what the live path "
             "loses); heard - clean: what the level and floor cost offline. found/played, split, merged and spurious "
             "are counts over all speakers; branch = share of live results (offline heard utterances) from the noise "
             f"branch. First {EARLY_K} / rest: accuracy (%) of each session's first {EARLY_K} played utterances and of "
             "the rest, live now, live revised, offline heard. issue 20: live within 2 of offline heard and the "
             "routing rule, for now / revised.", ""]
    rows = []
    for name, c in res["conditions"].items():
        el = c["early_late"]
        ref = _ref_offline(c)
        rows.append([name, "-" if c["snr_db"] is None else f"{c['snr_db']:g}", c["speakers"], _f(c["ua_live"]),
                     _f(c.get("ua_live_revised")), _f(c.get("ua_offline_heard")), _f(c["ua_offline"]),
                     _f(c["ua_live"] - ref), _f(c.get("ua_live_revised", float("nan")) - ref),
                     _f(c.get("ua_offline_heard", float("nan")) - c["ua_offline"]),
                     f"{c['found']}/{c['played']} ({c.get('offline_heard_found', '-')})",
                     c["results"], c["split"], c["merged"], c["spurious"],
                     f"{_f(c['noise_branch_pct'], 0)} ({_f(c.get('offline_heard_noise_branch_pct'), 0)})",
                     f"{_f(el['live_first'], 0)}/{_f(el.get('live_revised_first'), 0)}/{_f(el.get('offline_heard_first'), 0)}"
                     f" - {_f(el['live_rest'], 0)}/{_f(el.get('live_revised_rest'), 0)}/{_f(el.get('offline_heard_rest'), 0)}",
                     f"{_acceptance(c)} / {_acceptance(c, 'ua_live_revised')}"])
    lines += md_table(["level / floor", "SNR dB", "speakers", "UA live now", "UA live revised", "UA offline heard",
                       "UA offline clean", "now - heard", "rev - heard", "heard - clean", "found/played (heard)", "results",
                       "split", "merged", "spurious", "branch % live (heard)", f"first {EARLY_K} - rest (now/rev/heard)",
                       "issue 20 now / rev"], rows)
    levels = sorted({c["level_dbfs"] for c in res["conditions"].values()}, reverse=True)
    lines += ["", "Per speaker: offline UA on the clean files, and per speech level (mean over the floors) live UA "
              "now / revised / offline on what live heard; noise-branch share of live results (mean over all "
              "conditions).", ""]
    prow = []
    for corpus, cres in res["corpora"].items():
        for spk in cres["speakers"]:
            per = [(c["level_dbfs"], c["rows"][spk]) for c in cres["conditions"].values()]
            off = per[0][1]["ua_offline"] if per else float("nan")
            cells = []
            for L in levels:
                rs = [r for lv, r in per if lv == L]
                cells.append("/".join(_f(_mean(r.get(k, float("nan")) for r in rs))
                                      for k in ("ua_live", "ua_live_revised", "ua_offline_heard")))
            prow.append([spk, _f(off)] + cells + [_f(_mean(r["noise_branch_pct"] for _, r in per), 0)])
    lines += md_table(["speaker", "UA offline clean"] + [f"{L:g} dBFS now/rev/heard" for L in levels] + ["branch %"],
                      prow)
    lines.append(f"\nElapsed {res['elapsed_s']:.0f} s.")
    return lines


def run(ctx: Any) -> dict[str, Any]:
    """The section as ``python -m benchmarks`` runs it: ``--quick`` (detected from the session
    size) runs :data:`QUICK`; ``--model`` is not used (the fold models are fitted here).

    Parameters
    ----------
    ctx : benchmarks.common.BenchContext

    Returns
    -------
    dict
        :func:`run_harness`'s result.
    """
    from .common import is_quick

    s = Settings(**(QUICK if is_quick(ctx) else {}))
    return run_harness(s, workdir=ctx.workdir / NAME, data_root=ctx.corpora.root)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m benchmarks.live_offline`` options."""
    d = Settings()
    p = argparse.ArgumentParser(prog="python -m benchmarks.live_offline", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK['per_class']} per class, {QUICK['speakers']} speakers per corpus, floors "
                        + ", ".join(f.name for f in QUICK_FLOORS))
    p.add_argument("--corpora", nargs="+", default=list(d.corpora), help="held-out corpora (default: emodb ravdess)")
    p.add_argument("--per-class", type=int, default=None, help=f"utterances per class and speaker (default {d.per_class})")
    p.add_argument("--speakers", type=int, default=None, help="at most this many speakers per corpus")
    p.add_argument("--only-speakers", nargs="+", default=[], metavar="SPEAKER", help="e.g. emodb-03")
    p.add_argument("--levels", nargs="+", type=float, default=None, metavar="DBFS", help="speech levels (default -20 -30 -40)")
    p.add_argument("--floors", nargs="+", type=floor_argument, default=None, metavar="FLOOR",
                   help="'silence' or NOISE:DBFS with NOISE white, pink or fan (default: silence and all nine)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--recipe", default=d.recipe, help="recipe of the fold models (default ser-default)")
    p.add_argument("--model", action="append", default=[], metavar="CORPUS=PATH",
                   help="use this fold model for a held-out corpus instead of fitting one")
    p.add_argument("--models-dir", default=str(d.models_dir))
    p.add_argument("--refit", action="store_true")
    p.add_argument("--diagnose", action="store_true", help="also read the route's SNR column of every live-cut utterance")
    p.add_argument("-j", "--jobs", type=int, default=d.jobs)
    p.add_argument("--output-dir", default="bench-results")
    p.add_argument("--no-save", action="store_true")
    p.add_argument("--no-heard", dest="heard", action="store_false",
                   help="do not also score offline the utterances as live heard them (level and floor)")
    p.add_argument("--ser-live-args", default="", help="more ser-live options for both paths, as one string")
    p.add_argument("--combine", nargs="+", default=[], metavar="JSON",
                   help="run nothing: print the mean over these reports (runs with other --seed) per condition")
    return p


def _parse_floor(text: str) -> Floor:
    """``"silence"`` or ``"white|pink|fan:DBFS"`` as a :class:`Floor`; ValueError otherwise."""
    if text == "silence":
        return Floor()
    noise, _, db = text.partition(":")
    try:
        if noise not in ("white", "pink", "fan"):
            raise ValueError
        return Floor(noise, float(db))
    except ValueError:
        raise ValueError(f"bad floor {text!r}: 'silence' or white|pink|fan:DBFS (e.g. pink:-60)") from None


def floor_argument(text: str) -> str:
    """An argparse ``type`` for ``--floors``: ``text`` unchanged if :func:`_parse_floor` reads
    it, else a usage error (exit 2) naming the option."""
    try:
        _parse_floor(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.live_offline [options]``; returns the exit status (0 ran, 2 bad
    options, 3 corpora missing, 1 a run failed)."""
    import shlex

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.combine:
        try:
            comb = combine([json.loads(Path(f).read_text()) for f in args.combine])
        except (OSError, ValueError, KeyError) as exc:
            sys.stderr.write(f"error: cannot combine the reports: {exc}\n")
            return 2
        print("\n".join([f"Command: `python -m benchmarks.live_offline {' '.join(argv)}`."] + combined_markdown(comb)))
        return 0
    logging.basicConfig(level=logging.WARNING, format="benchmarks: %(levelname)s: %(message)s")
    kw: dict[str, Any] = dict(QUICK) if args.quick else {}
    kw.update(corpora=tuple(args.corpora), seed=args.seed, recipe=args.recipe, models_dir=Path(args.models_dir),
              refit=args.refit, diagnose=args.diagnose, jobs=args.jobs, heard=args.heard, only_speakers=tuple(args.only_speakers),
              extra_args=tuple(shlex.split(args.ser_live_args)))
    if args.per_class is not None:
        kw["per_class"] = args.per_class
    if args.speakers is not None:
        kw["speakers"] = args.speakers
    if args.levels:
        kw["levels_dbfs"] = tuple(args.levels)
    if args.floors:
        kw["floors"] = tuple(_parse_floor(f) for f in args.floors)
    try:
        kw["models"] = dict(m.split("=", 1) for m in args.model)
    except ValueError:
        sys.stderr.write("error: --model takes CORPUS=PATH\n")
        return 2
    for corpus, path in kw["models"].items():  # not found only by ser-live predict, after the sessions are built
        if corpus not in args.corpora:
            sys.stderr.write(f"error: --model {corpus}={path}: {corpus} is not among --corpora "
                             f"({' '.join(args.corpora)})\n")
            return 2
        if not Path(path).is_file():
            sys.stderr.write(f"error: --model {corpus}={path}: no such file; pass the fold model's .skops file, or "
                             "leave --model out to fit one\n")
            return 2
    if not args.no_save:  # found now, not after an hour of replays (their results would be lost)
        problem = output_dir_problem(Path(args.output_dir))
        if problem:
            sys.stderr.write(f"error: {problem}; pass --output-dir DIR (a folder you can write to) or --no-save\n")
            return 2
    problem = corpora_problem(args.corpora)  # not a fold-model fit that fails on the unknown name
    if problem:
        sys.stderr.write(problem[1] + "\n")
        return problem[0]
    from train.corpora import CorpusNotFoundError

    try:
        res = run_harness(Settings(**kw))
    except CorpusNotFoundError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 3
    except RuntimeError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    res["command"] = " ".join(["python -m benchmarks.live_offline", *argv])
    md = "\n".join([f"# ser-live live vs offline - {_dt.datetime.now():%Y-%m-%d %H:%M}", "",
                    f"Command: `{res['command']}`."] + markdown(res)) + "\n"
    status = 0
    if not args.no_save:
        out = Path(args.output_dir)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        try:
            out.mkdir(parents=True, exist_ok=True)
            for name in (f"live_offline-{stamp}", "live_offline-latest"):
                (out / f"{name}.json").write_text(json.dumps(res, indent=1, default=str))
                (out / f"{name}.md").write_text(md)
        except OSError as exc:  # e.g. the disk filled during the run: the Markdown below still has the results
            sys.stderr.write(f"error: the reports could not be written to {out}: {exc}\n")
            status = 1
        else:
            progress(f"wrote {out / f'live_offline-{stamp}.json'} and .md (also live_offline-latest.*)")
    print(md, flush=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())

"""The ``room`` condition set: test utterances heard in a room, for any protocol.

``python -m train evaluate --protocol loco --condition room`` trains each fold exactly as the
recipe says (clean training audio, the recipe's own augmentations), then scores the fold's
test utterances clean and degraded:

* additive noise -- white, pink (1/f), brown (1/f^2) and babble -- at 20, 10 and 5 dB SNR
  (:func:`train.augment.mix_at_snr`, the training mixer: speech level = 90th percentile of
  the 25 ms frame RMS);
* reverberation -- convolution with a simulated room impulse response of RT60 0.3 and
  0.6 s (:func:`train.augment.rir_bank`, pyroomacoustics image-source shoeboxes).

Babble is 4-6 overlapped utterances of speakers who are *not* in the fold's test set (any
corpus of the protocol), each scaled to the same speech level.

Every degradation is seeded by ``(file, condition, seed)``: the same seed gives the same
degraded audio, so a row can be reproduced. Degraded audio goes through the path of live
audio (VAD trimming, optionally :func:`ser_live.denoise.denoise`, the extractor), and its
features are cached like training features (keyed by file content, condition and seed).

References
----------
.. [1] Scheibler et al., "Pyroomacoustics", ICASSP 2018 (image-source RIRs).
.. [2] N. J. Kasdin, "Discrete simulation of colored noise and stochastic processes and
   1/f^alpha power law noise generation", Proc. IEEE 83(5), 1995 (noise shaped in the
   frequency domain).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .augment import COLORED_FLOOR_HZ, NOISE_ALPHA, Augmentation, apply_augmentation, colored_noise, mix_at_snr, speech_rms

__all__ = [
    "Condition", "NOISE_TYPES", "ROOM_SNRS_DB", "ROOM_RT60S_S", "room_conditions", "colored_noise", "babble_noise",
    "babble_pool", "stratified_subset", "RoomResult", "run_room", "write_room_reports",
]

log = logging.getLogger(__name__)

_SR = 16000
#: Additive noises of the room set.
NOISE_TYPES = ("white", "pink", "brown", "babble")
#: SNRs (dB) of the room set.
ROOM_SNRS_DB = (20.0, 10.0, 5.0)
#: Reverberation times (s) of the room set.
ROOM_RT60S_S = (0.3, 0.6)
#: Babble talkers per utterance (inclusive range).
BABBLE_TALKERS = (4, 6)


def _rng(*parts: object) -> np.random.Generator:
    h = hashlib.sha1("|".join(str(p) for p in parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def babble_noise(n_samples: int, pool: Sequence[str], *, rng: np.random.Generator) -> np.ndarray:
    """Babble: 4-6 utterances of the pool overlapped, each at the same speech level.

    Parameters
    ----------
    n_samples : int
    pool : sequence of str
        Audio files of speakers who must not be heard in the test set (:func:`babble_pool`).
    rng : np.random.Generator
        Chooses the talkers and their circular offsets.

    Returns
    -------
    np.ndarray, float64, shape (n_samples,)
        Each talker trimmed to its speech span, looped to ``n_samples`` and scaled to unit
        :func:`~train.augment.speech_rms`.

    Raises
    ------
    ValueError
        The pool holds fewer than :data:`BABBLE_TALKERS`\\[1] files.
    """
    from ser_live.audiofile import load_audio

    from .extract import prepare_utterance

    lo, hi = BABBLE_TALKERS
    if len(pool) < hi:
        raise ValueError(f"babble needs at least {hi} pool files, got {len(pool)}")
    k = int(rng.integers(lo, hi + 1))
    out = np.zeros(n_samples)
    for i in rng.choice(len(pool), size=k, replace=False):
        y = prepare_utterance(load_audio(pool[int(i)])).astype(np.float64)
        y = np.roll(np.resize(y, n_samples), int(rng.integers(0, n_samples)))
        out += y / max(speech_rms(y), 1e-9)
    return out


def babble_pool(records: Sequence[Any], exclude_groups: Sequence[str], *, seed: int = 0, size: int = 64) -> tuple[str, ...]:
    """Files for babble from speakers outside a fold's test set.

    Parameters
    ----------
    records : sequence of Record
        The protocol's records (every corpus).
    exclude_groups : sequence of str
        Speaker groups (:func:`train.corpora.speaker_group`) of the test set: never in babble.
    seed : int, default 0
    size : int, default 64
        Files drawn (seeded) from the other speakers.

    Returns
    -------
    tuple of str
        Sorted paths.
    """
    from .corpora import speaker_group

    ex = set(exclude_groups)
    cands = sorted(r.path for r in records if speaker_group(r.speaker) not in ex)
    if len(cands) <= size:
        return tuple(cands)
    pick = _rng("babble-pool", seed, *sorted(ex)).choice(len(cands), size=size, replace=False)
    return tuple(sorted(cands[int(i)] for i in pick))


@dataclass(frozen=True)
class Condition:
    """One way a test utterance is degraded.

    Attributes
    ----------
    name : str
        ``"clean"``, ``"pink-10dB"``, ``"reverb-0.6s"``.
    noise : str or None
        One of :data:`NOISE_TYPES`.
    snr_db : float or None
    rt60_s : float or None
    seed : int
    babble : tuple of str
        Babble pool (files of non-test speakers); only for ``noise == "babble"``.

    Notes
    -----
    Has ``key()`` and ``apply(y, seed_key=...)``, as :class:`~train.augment.Augmentation`:
    :func:`train.extract.extract_features` takes either and caches by ``key()``.
    """

    name: str
    noise: str | None = None
    snr_db: float | None = None
    rt60_s: float | None = None
    seed: int = 0
    babble: tuple[str, ...] = field(default=(), repr=False)

    @property
    def clean(self) -> bool:
        """No degradation."""
        return self.noise is None and self.rt60_s is None

    def key(self) -> dict:
        """JSON-able identity for the feature cache (the babble pool by its hash)."""
        pool = hashlib.sha1("\n".join(self.babble).encode()).hexdigest()[:16] if self.babble else None
        return {"v": 2, "condition": self.name, "noise": self.noise, "snr_db": self.snr_db, "rt60_s": self.rt60_s, "seed": self.seed, "pool": pool}

    def apply(self, y: np.ndarray, *, seed_key: str = "") -> np.ndarray:
        """Degraded copy of one utterance.

        Parameters
        ----------
        y : np.ndarray, float32, shape (n_samples,)
            16 kHz mono audio in [-1, 1] (the whole file, silences included).
        seed_key : str
            Identifies the file (:func:`train.extract.augmentation_seed_key`, the same wherever
            the corpora folder lies): with the condition's name and seed it seeds
            the noise, the babble talkers and the room.

        Returns
        -------
        np.ndarray, float32, shape (n_samples,)
            Clipped to [-1, 1].

        Raises
        ------
        ValueError
            Unknown noise type, or babble without a pool.
        """
        out = np.asarray(y, dtype=np.float32)
        if self.rt60_s is not None:
            out = apply_augmentation(out, Augmentation(rt60_s=self.rt60_s), seed_key=f"{seed_key}|{self.seed}")
        if self.noise is not None:
            rng = _rng(seed_key, self.noise, self.seed)  # the same noise at every SNR
            if self.noise == "babble":
                if not self.babble:
                    raise ValueError("babble condition without a pool of other speakers' files")
                noise = babble_noise(out.size, self.babble, rng=rng)
            elif self.noise in NOISE_ALPHA:
                noise = colored_noise(self.noise, out.size, rng=rng, floor_hz=COLORED_FLOOR_HZ)
            else:
                raise ValueError(f"unknown noise {self.noise!r}; known: {NOISE_TYPES}")
            out = mix_at_snr(out, noise, snr_db=float(self.snr_db))
        return np.clip(out, -1.0, 1.0).astype(np.float32)

    def __str__(self) -> str:
        return self.name


def room_conditions(*, seed: int = 0, babble: tuple[str, ...] = ()) -> list[Condition]:
    """The room set: clean, each noise at each SNR, each RT60.

    Parameters
    ----------
    seed : int, default 0
    babble : tuple of str
        Babble pool of the fold (:func:`babble_pool`).

    Returns
    -------
    list of Condition
        ``clean``, ``white-20dB`` ... ``babble-5dB`` (noise-major), ``reverb-0.3s``,
        ``reverb-0.6s``.
    """
    out = [Condition("clean", seed=seed)]
    for noise in NOISE_TYPES:
        for snr in ROOM_SNRS_DB:
            out.append(Condition(f"{noise}-{snr:g}dB", noise=noise, snr_db=snr, seed=seed, babble=babble if noise == "babble" else ()))
    for rt in ROOM_RT60S_S:
        out.append(Condition(f"reverb-{rt:g}s", rt60_s=rt, seed=seed))
    return out


def stratified_subset(y: np.ndarray, groups: np.ndarray, idx: np.ndarray, *, per_class: int, seed: int) -> np.ndarray:
    """A seeded, class-stratified subset of test utterances, spread evenly over speakers.

    Parameters
    ----------
    y : np.ndarray, int64, shape (n_records,)
        Class per record.
    groups : np.ndarray, object, shape (n_records,)
        Speaker group per record.
    idx : np.ndarray, int64, shape (n_test,)
        The fold's test records.
    per_class : int
        Utterances per class (all of a class when it has fewer); 0 or less keeps every one.
    seed : int

    Returns
    -------
    np.ndarray, int64, shape (n_subset,)
        Ascending record indices: per class, speakers in turn (round robin, seeded order).
    """
    if per_class <= 0:
        return np.sort(idx)
    rng = _rng("subset", seed)
    keep: list[int] = []
    for c in np.unique(y[idx]):
        by_spk: dict[str, list[int]] = {}
        for i in idx[y[idx] == c]:
            by_spk.setdefault(str(groups[i]), []).append(int(i))
        queues = [list(rng.permutation(v)) for _, v in sorted(by_spk.items())]
        taken: list[int] = []
        while len(taken) < per_class and any(queues):
            for q in queues:
                if q and len(taken) < per_class:
                    taken.append(int(q.pop()))
        keep += taken
    return np.array(sorted(keep), dtype=np.int64)


@dataclass
class RoomResult:
    """UA per condition and held-out fold.

    Attributes
    ----------
    protocol, recipe : str
    conditions : list of str
    folds : list of str
    ua_pct : dict of str to dict of str to float
        ``ua_pct[condition][fold]`` in percent.
    n_test : dict of str to int
        Test utterances scored per fold (the same subset under every condition).
    settings : dict
        Seed, subset size, session mode, denoise, command.
    noise_branch_pct : dict of str to dict of str to float
        For a recipe with a noise branch, ``noise_branch_pct[condition][fold]``: percent of
        the test utterances the branch classified; empty otherwise.
    """

    protocol: str
    recipe: str
    conditions: list[str]
    folds: list[str]
    ua_pct: dict[str, dict[str, float]]
    n_test: dict[str, int]
    settings: dict[str, Any]
    noise_branch_pct: dict[str, dict[str, float]] = field(default_factory=dict)

    def mean(self, condition: str) -> float:
        """Mean UA over folds (percent)."""
        return float(np.mean([self.ua_pct[condition][f] for f in self.folds]))

    def relative(self, condition: str, fold: str | None = None) -> float:
        """``UA_condition / UA_clean`` (of one fold, or of the means)."""
        if fold is None:
            return self.mean(condition) / self.mean("clean")
        return self.ua_pct[condition][fold] / self.ua_pct["clean"][fold]

    def grouped(self) -> dict[str, list[str]]:
        """README rows: each SNR over the four noises, and reverberation over both RT60s."""
        out = {"clean": ["clean"]}
        for snr in ROOM_SNRS_DB:
            out[f"noise {snr:g} dB SNR"] = [f"{n}-{snr:g}dB" for n in NOISE_TYPES]
        out["reverberant"] = [f"reverb-{rt:g}s" for rt in ROOM_RT60S_S]
        return out

    def to_json(self) -> dict[str, Any]:
        """JSON-able record: per-fold UA, means, ratios to clean, grouped rows, settings."""
        return {
            "protocol": self.protocol, "recipe": self.recipe, "conditions": self.conditions, "folds": self.folds,
            "ua_pct": self.ua_pct, "n_test": self.n_test,
            "mean_ua_pct": {c: self.mean(c) for c in self.conditions},
            "relative_to_clean": {c: self.relative(c) for c in self.conditions},
            "grouped_mean_ua_pct": {g: float(np.mean([self.mean(c) for c in cs])) for g, cs in self.grouped().items()},
            **({"noise_branch_pct": self.noise_branch_pct} if self.noise_branch_pct else {}),
            **self.settings,
        }


def run_room(
    protocol: str,
    recipe: Any,
    *,
    seed: int = 0,
    per_class: int = 50,
    denoise: bool = False,
    n_jobs: int = 2,
    progress: bool = True,
    source: Any = None,
) -> RoomResult:
    """Evaluate a recipe on a protocol under the room conditions.

    Each fold is trained once, as :func:`train.evaluate.run_recipe` trains it; its test
    subset is scored under every condition with offline session normalisation, the session
    being one test speaker's utterances *in one condition* (a speaker in one room:
    ``"speaker"`` mode of :data:`train.engine.SESSION_MODES`).

    Parameters
    ----------
    protocol : str
    recipe : Recipe
    seed : int, default 0
        Seeds the subset, the noises, babble and rooms.
    per_class : int, default 50
        Test utterances per class and fold (:func:`stratified_subset`); 0 for all.
    denoise : bool, default False
        Denoise each degraded test utterance after VAD trimming
        (:func:`ser_live.denoise.denoise`); training features stay as the recipe has them.
    n_jobs, progress, source : see :func:`train.evaluate.load_protocol_features`

    Returns
    -------
    RoomResult

    Raises
    ------
    ValueError
        Unknown protocol, or feature extraction failed for a clean record.
    DenoiseUnavailableError
        ``denoise`` without ``noisereduce``.
    """
    from ser_live.features import FeatureConfig, FeatureExtractor

    from .engine import check_features, evaluate_test_sets
    from .evaluate import load_protocol_features
    from .extract import extract_features
    from .recipe import RecipeClassifier

    if denoise:
        from ser_live.denoise import require_noisereduce

        require_noisereduce()
    t0 = time.perf_counter()
    # a recipe may set its own extractor configuration (Recipe.feature_config, where it exists)
    config = recipe.feature_config() if hasattr(recipe, "feature_config") else FeatureConfig()
    data = load_protocol_features(
        protocol, augmentations=recipe.all_augmentations, labels=recipe.labels, label_map=recipe.label_map,
        n_jobs=n_jobs, progress=progress, source=source, config=config,
    )
    fs, X, X_aug = data
    check_features(fs, X)
    y, groups = fs.y, fs.groups
    base = RecipeClassifier(recipe, FeatureExtractor(config).feature_names(), n_jobs=n_jobs)
    n_test: dict[str, int] = {}
    names: list[str] = []

    def condition_sets(fold: Any) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """The fold's stratified test subset in every room condition (the engine's test sets)."""
        te = stratified_subset(y, groups, fold.test_idx, per_class=per_class, seed=seed)
        n_test[fold.name] = int(te.size)
        pool = babble_pool(fs.records, sorted(set(groups[fold.test_idx])), seed=seed)
        paths = [fs.records[i].path for i in te]
        conds = room_conditions(seed=seed, babble=pool)
        names[:] = [c.name for c in conds]
        for cond in conds:
            if cond.clean and not denoise:
                Xc = X[te]
            else:
                Xc, rep = extract_features(
                    paths, config=config, augmentation=None if cond.clean else cond, denoise=denoise, n_jobs=n_jobs, progress=progress,
                    description=f"{fold.name}: {cond}" + (" + denoise" if denoise else ""),
                )
                log.info("%s %s: %s", fold.name, cond, rep)
                if rep.failures:
                    raise ValueError(f"{fold.name} {cond}: feature extraction failed: {rep}")
            yield cond.name, te, Xc

    # one session mode: a test speaker's utterances in one condition are one session (offline)
    scorers, branch = evaluate_test_sets(fs, X, X_aug, base, test_sets=condition_sets, modes=("speaker",), seed=seed,
                                         progress=False, name=f"room {fs.protocol}")
    ua = {c: {f.name: f.ua_pct for f in by_mode["speaker"].folds} for c, by_mode in scorers.items()}
    routed = {c: {fold: d["test_routed_pct"] for fold, d in per_fold.items()} for c, per_fold in branch.items()}
    settings = {
        "seed": seed, "per_class": per_class, "denoise": denoise, "session_mode": "speaker",
        "session_mode_doc": "offline: each test speaker's subset utterances in one condition are one session",
        "training": "the recipe's own (clean audio plus its augmentations); training features not denoised",
        "seconds": time.perf_counter() - t0,
        "recipe_settings": recipe.settings_record(),
    }
    return RoomResult(fs.protocol, recipe.name, names, [f.name for f in fs.folds], ua, n_test, settings, routed)


def write_room_reports(result: RoomResult, out_dir: str | Path, *, command: str = "") -> dict[str, Path]:
    """Write ``room-<protocol>-<recipe>[-denoise].json`` and ``.md`` into ``out_dir``.

    Returns
    -------
    dict
        ``{"json": path, "md": path}``.
    """
    from .reports import slug, write_json_and_md

    stem = slug(f"room-{result.protocol}-{result.recipe}" + ("-denoise" if result.settings["denoise"] else ""))
    data = result.to_json()
    data["command"] = command
    s = result.settings
    per = f"{s['per_class']} per class and held-out fold" if s["per_class"] > 0 else "all"
    lines = [
        f"# {result.protocol}: {result.recipe} in a room" + (" (with --denoise)" if s["denoise"] else ""),
        "",
        f"Command: `{command}`" if command else "",
        "",
        f"Training: {s['training']}. Test utterances: a seeded class-stratified subset ({per}, spread over the "
        f"speakers; the same subset under every condition, clean included): "
        + ", ".join(f"{f} {n}" for f, n in result.n_test.items()) + f". Seed {s['seed']}. "
        f"Sessions: **speaker** ({s['session_mode_doc']}). "
        + ("Each test utterance denoised (ser_live/denoise.py) after VAD trimming. " if s["denoise"] else "")
        + "SNR = speech level (90th percentile of 25 ms frame RMS) over noise RMS. Babble: 4-6 overlapped utterances "
        "of speakers outside the test fold. Reverberation: pyroomacoustics shoebox RIRs (train/augment.py rir_bank).",
        "",
        "| condition | " + " | ".join(result.folds) + " | mean UA | UA / clean |",
        "|---" * (len(result.folds) + 3) + "|",
    ]
    for c in result.conditions:
        lines.append(f"| {c} | " + " | ".join(f"{result.ua_pct[c][f]:.1f}" for f in result.folds)
                     + f" | {result.mean(c):.1f} | {result.relative(c):.2f} |")
    lines += ["", "## Grouped (mean over noises / rooms)", "", "| condition | " + " | ".join(result.folds) + " | mean UA | UA / clean |",
              "|---" * (len(result.folds) + 3) + "|"]
    for g, cs in result.grouped().items():
        per_fold = [float(np.mean([result.ua_pct[c][f] for c in cs])) for f in result.folds]
        m = float(np.mean([result.mean(c) for c in cs]))
        lines.append(f"| {g} | " + " | ".join(f"{v:.1f}" for v in per_fold) + f" | {m:.1f} | {m / result.mean('clean'):.2f} |")
    if result.noise_branch_pct:
        nb = result.noise_branch_pct
        lines += ["", "## Utterances the noise branch classified (percent)", "",
                  "| condition | " + " | ".join(result.folds) + " | mean |", "|---" * (len(result.folds) + 2) + "|"]
        for c in result.conditions:
            lines.append(f"| {c} | " + " | ".join(f"{nb[c][f]:.0f}" for f in result.folds)
                         + f" | {float(np.mean([nb[c][f] for f in result.folds])):.0f} |")
    lines += ["", f"UA in percent (balanced accuracy, chance 25 % on 4 classes); {s['seconds']:.0f} s."]
    return write_json_and_md(out_dir, stem, data, lines)

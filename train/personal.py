"""The ``personal`` protocol: how much a user's calibration (a profile) helps on an unseen voice.

For each ``loco`` fold (the recipe trained on all the other corpora, every step inside the
fold), for every speaker of the held-out corpus:

1. per scored class, the speaker's utterances are shuffled with a fixed seed and the first
   ``min(5, n_c - 1)`` form the *calibration pool* (``n_c``: the speaker's utterances of that
   class), so at least one utterance per class is always left to test;
2. the rest of the speaker's utterances are the *test* utterances: the same for every ``k``;
3. for ``k`` in ``(0, 1, 3, 5)``: the first ``min(k, pool)`` utterances per class of the pool
   build a profile (:func:`ser_live.profile.build_profile`, exactly what ``ser-live
   calibrate`` builds), and the test utterances are classified as ``ser-live --profile`` does:
   one live session in a seeded random order, each utterance normalised with the running
   statistics of the utterances so far (itself included) shrunk towards the profile's person
   prior, then the profile's adaptation of the probabilities. ``k = 0`` is the
   session-normalised model with the same online statistics and no profile (the training
   prior), on the same test utterances.

UA (balanced accuracy) per speaker on its test utterances, restricted to the protocol's scored
classes; mean over the speakers of a corpus, then over corpora (also: the UA of each corpus's
test predictions pooled). A speaker with fewer than two utterances of some scored class has no
calibration and test utterance of it and is left out (counted in the report; none on the
shipped corpora). Where a class has fewer than ``k + 1`` utterances (RAVDESS neutral: 4 per
actor; some EmoDB speakers) its calibration holds ``n_c - 1`` of them: the report gives the
calibration utterances actually used per ``k``.

Besides the default :class:`~ser_live.profile.ProfileConfig`, ``variants`` scores other
profile settings on the same folds and utterances; the default was chosen on this table
(``reports/personal-<recipe>.md``).

Runs in about a minute with cached features: one fit per fold (as ``loco``), and a profile is
a mean, a variance and a 4 x 4 affine map fitted on at most 20 utterances.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ser_live.profile import ProfileConfig, build_profile

from .results import ua_pct

__all__ = ["K_VALUES", "POOL_PER_CLASS", "DEFAULT_VARIANTS", "card_lines", "print_personal", "run_personal", "write_personal_reports"]

log = logging.getLogger(__name__)

#: Calibration utterances per class scored.
K_VALUES: tuple[int, ...] = (0, 1, 3, 5)
#: Size of the calibration pool per class (the largest k).
POOL_PER_CLASS = 5

#: Profile settings scored besides the default (name -> config).
DEFAULT_VARIANTS: dict[str, ProfileConfig] = {
    "stats only (w=0)": ProfileConfig(adaptation="none", prior_weight=0.0),
    "stats only (w=2)": ProfileConfig(adaptation="none", prior_weight=2.0),
    "stats only (w=10)": ProfileConfig(adaptation="none", prior_weight=10.0),
    "no stats (training prior) + affine (reg 0.1)": ProfileConfig(adaptation="affine", prior_weight=1e9, reg=0.1),
    "stats (w=2) + bias (reg 0.1)": ProfileConfig(adaptation="bias", prior_weight=2.0, reg=0.1),
    "stats (w=2) + bias (reg 1)": ProfileConfig(adaptation="bias", prior_weight=2.0, reg=1.0),
    "stats (w=0) + affine (reg 0.1)": ProfileConfig(adaptation="affine", prior_weight=0.0, reg=0.1),
    "stats (w=10) + affine (reg 0.1)": ProfileConfig(adaptation="affine", prior_weight=10.0, reg=0.1),
    "stats (w=2) + affine (reg 0)": ProfileConfig(adaptation="affine", prior_weight=2.0, reg=0.0),
    "stats (w=2) + affine (reg 0.03)": ProfileConfig(adaptation="affine", prior_weight=2.0, reg=0.03),
    "stats (w=2) + affine (reg 0.3)": ProfileConfig(adaptation="affine", prior_weight=2.0, reg=0.3),
    "stats (w=2) + affine (reg 1)": ProfileConfig(adaptation="affine", prior_weight=2.0, reg=1.0),
}


@dataclass
class _Split:
    corpus: str
    speaker: str
    pool: dict[int, np.ndarray]  # class index -> pool row indices (seeded order)
    test: np.ndarray  # row indices, in the seeded live order


def _splits(fs: Any, fold: Any, score_idx: np.ndarray, rng: np.random.Generator) -> tuple[list[_Split], list[str]]:
    """Calibration pools and test utterances of every held-out speaker of a fold."""
    y, groups = fs.y, fs.groups
    te = fold.test_idx
    out, skipped = [], []
    for spk in sorted(set(groups[te].tolist()), key=str):
        rows = te[groups[te] == spk]
        pool, test = {}, []
        ok = True
        for c in score_idx:
            idx = rows[y[rows] == c]
            if len(idx) < 2:
                ok = False
                break
            idx = rng.permutation(idx)
            n_pool = min(POOL_PER_CLASS, len(idx) - 1)
            pool[int(c)] = idx[:n_pool]
            test.append(idx[n_pool:])
        if not ok:
            skipped.append(str(spk))
            continue
        order = rng.permutation(np.concatenate(test))
        out.append(_Split(corpus=fold.name, speaker=str(spk), pool=pool, test=order))
    return out, skipped


def run_personal(
    recipe: Any,
    *,
    k_values: tuple[int, ...] = K_VALUES,
    variants: dict[str, ProfileConfig] | None = None,
    seed: int = 0,
    n_jobs: int = 2,
    progress: bool = True,
    source: Any = None,
    data: Any = None,
) -> dict[str, Any]:
    """Score the ``personal`` protocol for a recipe.

    Parameters
    ----------
    recipe : train.recipe.Recipe
        Must have a session normaliser (a profile's statistics replace its prior).
    k_values : tuple of int
        Calibration utterances per class (0: no profile).
    variants : dict of str to ProfileConfig, optional
        Profile settings to score besides the default (:data:`DEFAULT_VARIANTS` when None;
        ``{}`` for the default only).
    seed : int
        Seeds the calibration pools and the live order of the test utterances.
    n_jobs, progress, source, data
        As :func:`train.evaluate.run_recipe`.

    Returns
    -------
    dict
        JSON-able: ``rows`` (one per setting: UA mean over speakers then corpora per k, per
        corpus, pooled), ``speakers`` (per speaker UA of the default), counts, settings.

    Raises
    ------
    ValueError
        A recipe without a session normaliser, or feature extraction failures.
    """
    from ser_live.features import FeatureExtractor
    from ser_live.model import EmotionModel

    from .engine import check_features, fit_fold, score_label_indices
    from .evaluate import load_protocol_features
    from .recipe import RecipeClassifier, display_path

    if not recipe.normalizer.enabled:
        raise ValueError(f"recipe {recipe.name}: the personal protocol needs a session normaliser")
    t0 = time.perf_counter()
    fs, X, X_aug = data or load_protocol_features(
        "loco", augmentations=recipe.all_augmentations, labels=recipe.labels, label_map=recipe.label_map,
        n_jobs=n_jobs, progress=progress, source=source, config=recipe.feature_config(),
    )
    check_features(fs, X)
    settings = {"default": ProfileConfig()}
    settings.update(DEFAULT_VARIANTS if variants is None else variants)
    y = fs.y
    score = list(fs.score_labels)
    score_idx = score_label_indices(fs)
    cfg = recipe.feature_config()
    names = FeatureExtractor(cfg).feature_names()
    base = RecipeClassifier(recipe, names, n_jobs=n_jobs, calibrate=True)
    rng = np.random.default_rng(seed)
    # per setting, k, corpus: list of per-speaker UA, and pooled (true, pred)
    ua: dict[str, dict[int, dict[str, list[float]]]] = {s: {k: {} for k in k_values} for s in settings}
    pooled: dict[str, dict[int, dict[str, list[np.ndarray]]]] = {s: {k: {} for k in k_values} for s in settings}
    n_cal: dict[int, list[int]] = {k: [] for k in k_values}
    speakers_out, skipped_all, n_test = [], {}, {}
    for fold in fs.folds:
        est = fit_fold(base, fs, X, X_aug, fold)
        model = EmotionModel(est.estimator_.set_params(n_labels=len(fs.labels)), list(fs.labels), cfg,
                             name=f"{recipe.name}-without-{fold.name}")
        splits, skipped = _splits(fs, fold, score_idx, rng)
        skipped_all[fold.name] = skipped
        n_test[fold.name] = int(sum(len(s.test) for s in splits))
        for sp in splits:
            yt = y[sp.test]
            row = {"corpus": sp.corpus, "speaker": sp.speaker, "n_test": int(len(sp.test))}
            for k in k_values:
                cal = np.concatenate([p[: min(k, len(p))] for p in sp.pool.values()]) if k else np.zeros(0, int)
                n_cal[k].append(int(len(cal)))
                for sname, pcfg in settings.items():
                    if k == 0:
                        m: Any = model
                    else:
                        m = build_profile(model, X[cal], y[cal], name="eval", config=pcfg).apply(model)
                    # one live session in the test order (update, then normalise), noise branch
                    # included: the model object's own path (ser_live/estimator.py)
                    proba = m.predict_proba(X[sp.test], online=True)
                    pred = score_idx[np.argmax(proba[:, score_idx], axis=1)]
                    u = ua_pct(yt, pred)
                    ua[sname][k].setdefault(sp.corpus, []).append(u)
                    pooled[sname][k].setdefault(sp.corpus, []).append(np.stack([yt, pred]))
                    if sname == "default":
                        row[f"ua_k{k}"] = u
            speakers_out.append(row)
        log.info("personal %s: %d speakers (%d left out)", fold.name, len(splits), len(skipped))
    corpora = [f.name for f in fs.folds]
    rows = []
    for sname, pcfg in settings.items():
        r: dict[str, Any] = {"setting": sname, "config": asdict(pcfg), "ua_pct": {}, "per_corpus": {}, "pooled_ua_pct": {}}
        for k in k_values:
            per_c = {c: float(np.mean(ua[sname][k][c])) for c in corpora if ua[sname][k].get(c)}
            pool_c = {}
            for c in corpora:
                if pooled[sname][k].get(c):
                    tp = np.concatenate(pooled[sname][k][c], axis=1)
                    pool_c[c] = ua_pct(tp[0], tp[1])
            r["per_corpus"][str(k)] = per_c
            r["ua_pct"][str(k)] = float(np.mean(list(per_c.values())))
            r["pooled_ua_pct"][str(k)] = float(np.mean(list(pool_c.values())))
        rows.append(r)
    return {
        "protocol": "personal",
        "recipe": recipe.name,
        "recipe_path": display_path(recipe.path),
        "recipe_settings": recipe.settings_record(),
        "labels": score,
        "k_values": list(k_values),
        "pool_per_class": POOL_PER_CLASS,
        "seed": seed,
        "corpora": corpora,
        "n_speakers": {c: sum(1 for s in speakers_out if s["corpus"] == c) for c in corpora},
        "speakers_left_out": skipped_all,
        "n_test": n_test,
        "calibration_utterances_mean": {str(k): float(np.mean(v)) if v else 0.0 for k, v in n_cal.items()},
        "rows": rows,
        "speakers": speakers_out,
        "seconds": time.perf_counter() - t0,
    }


def write_personal_reports(result: dict[str, Any], out_dir: str | Path, *, command: str = "") -> dict[str, Path]:
    """Write ``personal-<recipe>.json`` and ``.md`` into ``out_dir``.

    Returns
    -------
    dict
        ``{"json": path, "md": path}``.
    """
    from .reports import write_json_and_md

    data = dict(result, command=command)
    stem = f"personal-{result['recipe']}"
    ks = [str(k) for k in result["k_values"]]
    default = result["rows"][0]
    lines = [
        f"# personal: {result['recipe']}",
        "",
        f"Command: `{command}`" if command else "",
        "",
        "Protocol (train/personal.py): for each `loco` fold, every speaker of the held-out corpus; per "
        f"class a calibration pool of min({result['pool_per_class']}, n_c - 1) utterances drawn with seed "
        f"{result['seed']}, the rest of the speaker's utterances are the test (the same for every k); k "
        "utterances per class of the pool build a profile; the test utterances are one live session "
        "(seeded order, online statistics). k = 0: no profile (training prior), same test utterances. "
        "UA (balanced accuracy, percent) per speaker, mean over speakers, then over corpora.",
        "",
        f"Speakers: {', '.join(f'{c} {n}' for c, n in result['n_speakers'].items())}; test utterances: "
        f"{', '.join(f'{c} {n}' for c, n in result['n_test'].items())}; left out (a class with < 2 "
        f"utterances): {sum(len(v) for v in result['speakers_left_out'].values())}. Calibration "
        "utterances used per speaker, mean over speakers (fewer than 4k where a speaker has few "
        f"utterances of a class): {', '.join(f'k={k}: {v:.1f}' for k, v in result['calibration_utterances_mean'].items())}.",
        "",
        "## Default profile (ser_live.profile.ProfileConfig())",
        "",
        f"Settings: {default['config']}",
        "",
        "| k (per class) | " + " | ".join(result["corpora"]) + " | mean UA | pooled UA |",
        "|---" * (len(result["corpora"]) + 3) + "|",
    ]
    for k in ks:
        pc = default["per_corpus"][k]
        lines.append(
            f"| {k} | " + " | ".join(f"{pc.get(c, float('nan')):.1f}" for c in result["corpora"])
            + f" | **{default['ua_pct'][k]:.1f}** | {default['pooled_ua_pct'][k]:.1f} |"
        )
    lines += [
        "",
        "## Every setting scored (mean UA over speakers then corpora, percent)",
        "",
        "| setting | " + " | ".join(f"k={k}" for k in ks) + " | gain k=3 over k=0 |",
        "|---" * (len(ks) + 2) + "|",
    ]
    for r in result["rows"]:
        gain = r["ua_pct"].get("3", float("nan")) - r["ua_pct"].get("0", float("nan"))
        lines.append(f"| {r['setting']} | " + " | ".join(f"{r['ua_pct'][k]:.1f}" for k in ks) + f" | {gain:+.1f} |")
    lines += ["", f"Run time: {result['seconds']:.0f} s."]
    return write_json_and_md(out_dir, stem, data, lines)


def print_personal(recipe: Any, args: Any, command: str, emit: Any) -> None:
    """``python -m train evaluate --protocol personal``: run, print the UA-vs-k table, write
    the reports (``args``: ``jobs``, ``seed``, ``out`` of the evaluate command)."""
    res = run_personal(recipe, n_jobs=args.jobs, seed=args.seed)
    ks = [str(k) for k in res["k_values"]]
    emit(f"personal: recipe {recipe.name}, {sum(res['n_speakers'].values())} held-out speakers in "
         f"{len(res['corpora'])} corpora, {res['seconds']:.0f} s; UA % (mean over speakers, then corpora)")
    width = max(len(r["setting"]) for r in res["rows"])
    emit("  ".join(["setting".ljust(width)] + [f"k={k}".rjust(6) for k in ks]))
    for r in res["rows"]:
        emit("  ".join([r["setting"].ljust(width)] + [f"{r['ua_pct'][k]:6.1f}" for k in ks]))
    paths = write_personal_reports(res, args.out, command=command)
    emit(f"reports: {paths['md']}, {paths['json']}")


def card_lines(recipe_name: str, reports_dir: str | Path) -> list[str]:
    """The model card's section on the ``personal`` protocol, from
    ``<reports_dir>/personal-<recipe>.json`` (empty when there is no such report).

    Returns
    -------
    list of str
        Markdown lines.
    """
    import json

    p = Path(reports_dir) / f"personal-{recipe_name}.json"
    if not p.exists():
        return []
    d = json.loads(p.read_text())
    row = d["rows"][0]
    ks = [str(k) for k in d["k_values"]]
    return [
        "## One person, calibrated (`personal`)",
        "",
        "`ser-live calibrate` makes a profile from k takes per label (`ser_live/profile.py`: the person's "
        "feature statistics as the session prior, and an affine recalibration of the log-probabilities "
        "fitted on the takes). Protocol `personal` (`train/personal.py`): per `loco` fold, every speaker of "
        "the held-out corpus; k utterances per class calibrate, the rest of the speaker's utterances (the "
        "same for every k) are one live session; k = 0 is the recipe's online session normalisation without "
        "a profile. UA in percent, mean over speakers, then corpora.",
        "",
        "| k per class | " + " | ".join(d["corpora"]) + " | mean UA | command |",
        "|---" * (len(d["corpora"]) + 3) + "|",
        *[
            f"| {k} | " + " | ".join(f"{row['per_corpus'][k].get(c, float('nan')):.1f}" for c in d["corpora"])
            + f" | {row['ua_pct'][k]:.1f} | `{d.get('command', '')}` |"
            for k in ks
        ],
        "",
        f"The profile settings were chosen on this protocol among the {len(d['rows']) - 1} others listed in "
        f"`reports/personal-{recipe_name}.md` (a choice made on these speakers: the gain is optimistic by "
        "that choice).",
        "",
    ]

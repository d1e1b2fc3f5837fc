"""The model card: ``train/templates/model_card.md`` filled from a model's metadata and the
reports (``python -m train fit`` and ``python -m train card`` write it next to the model).

The template holds the card's prose (:class:`string.Template` fields, ``${name}``); the score
tables (``loco``, room conditions, ``personal``, within-corpus protocols) are rendered here
from the report JSON files of ``reports/`` (``python -m train reports`` regenerates them).
"""

from __future__ import annotations

import json
from pathlib import Path
from string import Template
from typing import Any

from ser_live.affect import affect_formula

from . import REPORTS
from .engine import SESSION_MODES
from .recipe_spec import CV_FOLDS_TEXT

#: The card's template (package data of ``train``).
TEMPLATE = Path(__file__).resolve().parent / "templates" / "model_card.md"

__all__ = ["TEMPLATE", "protocol_reports", "render_card"]


def protocol_reports(recipe_name: str, reports_dir: str | Path = REPORTS) -> dict:
    """Scores of a recipe from ``<reports_dir>/*.json`` (written by ``evaluate --recipe``),
    keyed ``"<protocol> [<session mode>]"``, each with its per-fold UA and the command.

    Parameters
    ----------
    recipe_name : str
    reports_dir : str or Path, default the repository's ``reports/``

    Returns
    -------
    dict of str to dict
        JSON-able; stored in a model's metadata (``protocol_scores``) by ``train fit``.
    """
    reports = {}
    for p in sorted(Path(reports_dir).glob("*.json")):
        try:
            d = json.loads(p.read_text())
        except Exception:
            continue
        if d.get("recipe") != recipe_name or "ua_pct_mean" not in d:
            continue
        reports[f"{d['protocol']} [{d['session_mode']}]"] = {
            **{k: d[k] for k in ("protocol", "session_mode", "ua_pct_mean", "ua_pct_std", "wa_pct_mean", "wa_pct_std", "f1_pct_mean", "f1_pct_std", "command")},
            "labels": d.get("labels", []),  # the classes scored: not always the protocol's own
            "folds": {f["name"]: {k: f[k] for k in ("ua_pct", "wa_pct", "f1_pct")} for f in d["folds"]},
        }
    return reports



#: Corpus -> citation and licence for the model card (from ../shared/data/README.md).
_LICENCES = {
    "ravdess": "RAVDESS (Livingstone & Russo 2018, CC BY-NC-SA 4.0)",
    "tess": "TESS (Dupuis & Pichora-Fuller 2010, CC BY-NC-ND 4.0)",
    "emodb": "Berlin EmoDB (Burkhardt et al. 2005, free for research)",
    "emotiontts_kor": "emotiontts_kor (KAIST/Selvas AI emotiontts_open_db public sample, research only, CC BY-NC-SA)",
    "ased": "ASED, Amharic Speech Emotion Dataset (Retta et al., ACM TALLIP 2022; no licence stated, cite the paper)",
    "es_uem": "Spanish students' emotional speech (Universidad Europea de Madrid 2020; no licence stated, research use)",
}


def _table_head(title: str, prose: str | None, columns: list[str]) -> list[str]:
    """A card section's heading, its prose (if any) and its Markdown table header."""
    return [f"## {title}", "", *([prose, ""] if prose else []), "| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]


def recipe_settings(recipe_name: str) -> dict | None:
    """The settings record (:meth:`~train.recipe_spec.Recipe.settings_record`) of the recipe of
    ``train/recipes/`` named ``recipe_name`` (its ``name`` field), as they read today; None when
    no recipe has that name."""
    from .recipe_spec import load_recipe, recipe_names

    try:
        r = load_recipe(recipe_name)
        if r.name == recipe_name:
            return r.settings_record()
    except (OSError, ValueError):
        pass
    for n in recipe_names():
        try:
            r = load_recipe(n)
        except (OSError, ValueError):
            continue
        if r.name == recipe_name:
            return r.settings_record()
    return None


def _room_report(recipe_name: str, reports_dir: Path, suffix: str) -> tuple[Path, str | None] | None:
    """``room-loco-<recipe><suffix>.json`` of ``reports_dir``; else a room report in
    ``reports_dir`` or its ``experiments/`` that recorded the settings this recipe has today
    (``recipe_settings``: a recipe of another name measured with the same settings, e.g. the
    experiment a default was made from), with the name it was measured under. None when there
    is neither. The room conditions take over an hour to measure; a report made before the
    settings were recorded, or under settings that differ in any field (a base recipe changed
    since), is never taken for another name's."""
    own = reports_dir / f"room-loco-{recipe_name}{suffix}.json"
    if own.exists():
        return own, None
    mine = recipe_settings(recipe_name)
    if mine is None:
        return None
    for folder in (reports_dir, reports_dir / "experiments"):
        for p in sorted(folder.glob(f"room-loco-*{suffix}.json")):
            try:
                d = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            if p.name == f"room-loco-{d.get('recipe')}{suffix}.json" and d.get("recipe_settings") == mine:
                return p, d["recipe"]
    return None


def _room_card_lines(recipe_name: str, reports_dir: Path) -> list[str]:
    """The model card's "In a room" table from ``reports/room-loco-<recipe>[-denoise].json``
    (``evaluate --protocol loco --condition room [--denoise]``), or a recipe's of the same
    settings (:func:`_room_report`: the row says which); nothing when there is neither."""
    rows = []
    for suffix, what in (("", "this recipe"), ("-denoise", "this recipe, `--denoise`")):
        found = _room_report(recipe_name, Path(reports_dir), suffix)
        if found:
            path, other = found
            if other:
                what += f" (measured as recipe `{other}`, the same settings)"
            rows.append((what, json.loads(path.read_text())))
    if not rows:
        return []
    groups = list(rows[0][1]["grouped_mean_ua_pct"])
    lines = _table_head(
        "In a room (`loco`, room conditions)",
        "Each held-out corpus's 50 utterances per class, clean, with white, pink, brown or babble noise (\"n dB\": the "
        "mean over the four) and in two simulated rooms (\"reverberant\"); UA in percent, the ratio to clean in brackets "
        "(`train/conditions.py`; each `loco` fold trains the recipe on the other corpora, as in the table above).",
        ["model", *groups, "command"],
    )
    for what, d in rows:
        g = d["grouped_mean_ua_pct"]
        clean = g["clean"]
        cells = [f"{g[k]:.1f}" if k == "clean" else f"{g[k]:.1f} ({g[k] / clean:.2f})" for k in groups]
        lines.append(f"| {what} | " + " | ".join(cells) + f" | `{d.get('command', '')}` |")
    return lines + [""]


_MODE_TEXT = {
    "speaker": "with session normalisation, offline (session = speaker, all its utterances)",
    "online": "with session normalisation, online (each utterance with the speaker's utterances so far, seeded order)",
    "first-5": "with session normalisation, online, a session's start (each speaker's first 5 utterances, 10 seeded orders)",
    "utterance": "without session normalisation (each utterance its own session)",
    "one-emotion": "stress test: each speaker's utterances of one emotion as one session",
    "none": "no session normaliser",
}


def _feature_subset(model):  # noqa: ANN001, ANN202
    """The model pipeline's ``select`` step (a ``FeatureSubset``), or None."""
    steps = getattr(model.estimator.main_classifier, "named_steps", {})
    return steps.get("select") if hasattr(steps, "get") else None


def _confidence_card_lines(recipe_name: str, reports_dir: Path) -> list[str]:
    """The model card's "Confidence on a new voice" table, from the calibration
    (:func:`train.roc.calibration_summary`) of ``reports/loco-<recipe>-<mode>.json`` for the
    online (live) and speaker (offline) session modes; nothing when no such report has it."""
    rows, narrowed = [], None
    for mode in ("online", "speaker"):
        path = reports_dir / f"loco-{recipe_name}-{mode}.json"
        report = json.loads(path.read_text()) if path.exists() else {}
        if report.get("calibration"):
            rows.append((mode, report["calibration"]))
            scored, trained = report.get("labels") or [], report.get("trained_labels") or []
            if trained and set(scored) != set(trained):
                narrowed = (scored, trained)
    if not rows:
        return []
    # reports made before the rule was measured (5 December) have no "uncertain": no such columns
    with_rule = any(cal.get("uncertain") for _, cal in rows)
    prose = ("How often the shown label is right at the confidence shown beside it (the largest probability), over "
             "the held-out corpora's utterances pooled: expected calibration error over 10 confidence bins "
             "(Naeini et al. 2015, Guo et al. 2017) and the share of utterances at a confidence of 0.9 or more"
             + (", and the share the default \"uncertain\" rule flags (`--uncertain-below auto`, `--uncertain-margin "
                "0.05`) with how often the labels it lets through are right." if with_rule else "."))
    if narrowed:
        prose += (f" Measured on the {len(narrowed[0])} classes `loco` scores ({', '.join(narrowed[0])}): the model's "
                  f"probabilities over those, renormalised, not over the {len(narrowed[1])} it shows"
                  + (f" (and the \"uncertain\" rule for {len(narrowed[0])} classes)." if with_rule else "."))
    lines = _table_head(
        "Confidence on a new voice (`loco`)",
        prose,
        ["sessions", "label right %", "mean confidence %", "ECE %", "Brier", "confidence >= 0.9: share %",
         "confidence >= 0.9: right %", *(["uncertain %", "shown labels right %"] if with_rule else []), "report"])

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.1f}"

    for mode, cal in rows:
        top = next((t for t in cal["thresholds"] if t["at_least"] == 0.9), {})
        unc = cal.get("uncertain") or {}
        rule = f"{pct(unc.get('share_pct'))} | {pct(unc.get('shown_accuracy_pct'))} | " if with_rule else ""
        lines.append(
            f"| {_MODE_TEXT[mode]} | {cal['accuracy_pct']:.1f} | {cal['mean_confidence_pct']:.1f} | {cal['ece_pct']:.1f} | "
            f"{cal['brier']:.3f} | {pct(top.get('share_pct'))} | {pct(top.get('accuracy_pct'))} | "
            f"{rule}`reports/loco-{recipe_name}-{mode}.md` |")
    return lines + [""]


def _score_sections(scores: dict, recipe: str, reports_dir: Path) -> list[str]:
    """Markdown lines of the card's score sections (each ending in an empty line)."""
    lines: list[str] = []
    loco = {d["session_mode"]: d for d in scores.values() if d["protocol"] == "loco"}
    if loco:
        first = next(iter(loco.values()))
        folds = list(first["folds"])
        lines += _table_head(
            "Leave one corpus out (`loco`): the number to believe",
            "Each corpus held out in turn: train on the recipe's training corpora except the held-out one, "
            "test on the held-out one (a corpus the model never trains on is a test corpus only); scored on "
            "angry, happy, neutral, sad (argmax restricted to those four). UA in percent.",
            ["sessions", *folds, "mean UA", "mean WA", "mean macro-F1", "command"],
        )
        for mode in (*SESSION_MODES, "none"):
            if mode in loco:
                d = loco[mode]
                lines.append(
                    f"| {_MODE_TEXT[mode]} | " + " | ".join(f"{d['folds'][f]['ua_pct']:.1f}" for f in folds)
                    + f" | {d['ua_pct_mean']:.1f} | {d['wa_pct_mean']:.1f} | {d['f1_pct_mean']:.1f} | `{d['command']}` |"
                )
        base = reports_dir / "experiments" / "loco-baseline-none.json"
        if base.exists():
            b = json.loads(base.read_text())
            lines += [
                "",
                "Before (the pre-issue-10 recipe: scaler + SVM chosen by speaker-grouped CV + the three default "
                "augmentations, 4 classes, no session normalisation), "
                + (f"held out in turn from the {len(b['folds'])} corpora of its run: " if len(b["folds"]) != len(folds)
                   else "same protocol: ")
                + ", ".join(f"{f['name']} {f['ua_pct']:.1f}" for f in b["folds"])
                + f"; mean UA {b['ua_pct_mean']:.1f} (`reports/experiments/loco-baseline-none.md`, `{b['command']}`).",
            ]
        lines.append("")
    lines += _confidence_card_lines(recipe, reports_dir)
    lines += _room_card_lines(recipe, reports_dir)
    from .personal import card_lines

    lines += card_lines(recipe, reports_dir)
    within = {k: d for k, d in scores.items() if d["protocol"] != "loco"}
    if within:
        lines += _table_head(
            "Within-corpus, speaker-independent (percent, mean ± std over folds)",
            "Scored on the recipe's classes that the corpus has (`classes`), not on every class of the protocol "
            "(ravdess-6fold has 8): not comparable with published figures on the full class set.",
            ["protocol", "classes", "sessions", "UA", "WA", "macro-F1", "command"])
        for d in within.values():
            classes = d.get("labels") or []
            lines.append(
                f"| {d['protocol']} | {f'{len(classes)}: ' + ', '.join(classes) if classes else ''} | {d['session_mode']} | "
                f"{d['ua_pct_mean']:.1f} ± {d['ua_pct_std']:.1f} | "
                f"{d['wa_pct_mean']:.1f} ± {d['wa_pct_std']:.1f} | {d['f1_pct_mean']:.1f} ± {d['f1_pct_std']:.1f} | `{d['command']}` |"
            )
        lines.append("")
    return lines


def _unmeasured_lines(recipe: str, trained_from: dict) -> list[str]:
    """The card's score section of a model fit from a changed recipe (``train fit --set``,
    ``--exclude-corpus`` or ``--out``; ``trained_from`` of its metadata): no figures, since
    the reports of ``recipe`` measure another model, and the command that measures this one."""
    how = (f"with `{trained_from['changes']}`" if trained_from["changes"]
           else f"unchanged, into a file of its own (`--out`) rather than `models/{recipe}.skops`")
    return [
        "## Scores: not measured", "",
        f"This model was fit from recipe `{recipe}` {how}: the scores reported for `{recipe}` (its card, `reports/`) "
        f"measure another model and are not quoted here. "
        + (f"To measure this one: `{trained_from['evaluate_command']}`." if trained_from["evaluate_command"] else
           "No `python -m train evaluate` protocol measures a recipe of this one corpus (`loco` needs at least "
           "two corpora: add others to measure it on a corpus it has not heard)."), "",
    ]


def render_card(model: Any, meta: dict, n_features: int, *, reports_dir: str | Path = REPORTS) -> str:
    """The model card of a fitted model, as Markdown.

    Parameters
    ----------
    model : ser_live.model.EmotionModel
    meta : dict
        The model's metadata (``train fit`` writes it; ``protocol_scores`` from
        :func:`protocol_reports`). With ``trained_from`` (a model fit from a changed recipe:
        ``train.__main__.fit_provenance``) the card quotes no scores, not even the room and
        ``personal`` reports of its recipe, and says how to measure it instead.
    n_features : int
        Columns of the model's feature configuration.
    reports_dir : str or Path, default the repository's ``reports/``
        Where the room, ``personal`` and baseline reports are read.

    Returns
    -------
    str
        The card (``TEMPLATE`` with its fields filled), ending in a newline.

    Raises
    ------
    KeyError
        ``meta`` lacks a field the card needs (``command``, ``trained_at``, ``svm``, ...).
    """
    reports_dir = Path(reports_dir)
    recipe = meta.get("recipe", model.name)
    sel = _feature_subset(model)
    nb = meta.get("noise_branch")
    noise_branch = (
        "Noise branch (`ser_live/route.py`): a second SVM, `" + nb["svm"] + "`, trained on the same utterances plus "
        "one copy of each per noise (" + "; ".join(nb["augmentations"]) + "), classifies every utterance whose `" + nb["column"]
        + f"` (95th minus 5th percentile of the frame RMS level: the utterance's SNR as the extractor sees it) "
        f"is below {nb['cut_db']:.1f} dB; the cut best tells the clean training utterances from their "
        "noise copies (balanced accuracy on the training rows; the column reads "
        f"{nb['clean_db_p5_p95'][0]:.1f}-{nb['clean_db_p5_p95'][1]:.1f} dB over the clean training utterances and "
        f"{nb['noisy_db_p5_p95'][0]:.1f}-{nb['noisy_db_p5_p95'][1]:.1f} dB over the copies, 5th-95th percentiles; "
        f"{nb['clean_below_cut_pct']:.1f} % of the clean ones fall below the cut, {nb['noisy_above_cut_pct']:.1f} % "
        "of the copies above it). Above it the main SVM, trained on clean speech only, decides alone. "
        "The prediction records say which branch spoke (`noise_branch`).\n\n"
    ) if nb else ""
    normaliser = (
        "Session normalisation (`ser_live/normalize.py`): features are standardised per speaker in training and per "
        "session at inference, with the session's mean m and variance v shrunk towards the training prior "
        "(mu0, var0: the training speakers' average mean and within-speaker variance): "
        + ("k = n" if model.normalizer.session_cap is None else "k = min(n, c)")
        + ", mu = (k m + w mu0) / (k + w), var = (k v + w var0) / (k + w), z = (x - mu) / sqrt(var); "
        f"w = {model.normalizer.prior_weight:g} utterances (prior weight), "
        + ("no session cap" if model.normalizer.session_cap is None
           else f"c = {model.normalizer.session_cap:g} (session cap, utterances)")
        + ", n = the session's utterances so far (live) or all of them (offline)."
    ) if model.normalizer is not None else "No session normaliser."
    trained_from = meta.get("trained_from")
    sections = (_score_sections(meta.get("protocol_scores", {}), recipe, reports_dir) if trained_from is None
                else _unmeasured_lines(recipe, trained_from))
    fields = {
        "name": model.name,
        "command": meta["command"],
        "trained_at": meta["trained_at"],
        "ser_live_version": meta["ser_live_version"],
        "recipe": recipe,
        "recipe_summary": meta.get("recipe_summary", ""),
        "svm": meta["svm"],
        "cv_folds": CV_FOLDS_TEXT[meta.get("inner_cv", "speaker")],  # a model fitted before 5 December: speaker folds
        "n_features": n_features,
        "voice_group": ", and the eGeMAPS-like voice group" if model.feature_config.voice_quality else "",
        "feature_subset": f"; the recipe's feature subset keeps {len(sel.columns_)} of them." if sel is not None else ".",
        "labels": ", ".join(model.labels),
        "affect": affect_formula(model.labels),
        "normaliser": normaliser,
        "noise_branch": noise_branch,
        "label_map": ", ".join(f"{k} trained as {v}" for k, v in meta.get("label_map", {}).items()) or "as the corpora name them",
        "dropped_labels": ", ".join(f"{k} ({v})" for k, v in meta.get("dropped_labels", {}).items()) or "none",
        "n_utterances": meta["n_utterances"],
        "corpora": ", ".join(meta["corpora"]),
        "augmentations": (
            f" plus one augmented copy each per augmentation ({'; '.join(meta['augmentations'])})" if meta.get("augmentations") else ""
        ),
        "label_counts": "\n".join(f"| {k} | {v} |" for k, v in meta["label_counts"].items()),
        "licences": "; ".join(_LICENCES.get(c, f"{c} (see ../shared/data/README.md)") for c in meta["corpora"]),
        "score_sections": "\n".join(sections) + "\n" if sections else "",
    }
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(fields)

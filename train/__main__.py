"""``python -m train``: features, speaker-independent evaluation, comparison, fitting, plots.

Examples
--------
python -m train evaluate --protocol loco
python -m train evaluate --protocol loco --recipe train/recipes/ser-7class.toml
python -m train evaluate --protocol loco --recipe experiments/norm-w10 --set normalizer.prior_weight=3
python -m train evaluate --protocol loco --corpora ravdess,tess,emodb,emotiontts_kor
python -m train ablate --recipe train/recipes/ser-default.toml
python -m train evaluate --protocol ravdess-6fold emodb-loso
python -m train evaluate --protocol loco --condition room [--denoise]
python -m train compare --protocol ravdess-6fold
python -m train compare --protocol ravdess-6fold --classifiers cnn cnn-lstm
python -m train compare --protocol loco --only openSMILE
python -m train fit --recipe train/recipes/ser-default.toml
python -m train reports --list
python -m train reports --only ser-default card
python -m train features --corpus ravdess
python -m train plots --corpus ravdess
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ser_live.cli.options import int_at_least
from ser_live.errors import SerLiveError

from . import REPO, REPORTS

#: ``--recipe``'s default (the shipped default model's recipe).
DEFAULT_RECIPE = str(Path(__file__).resolve().parent / "recipes" / "ser-default.toml")  # installed too


def _command(argv: list[str]) -> str:
    return "python -m train " + " ".join(shlex.quote(a) for a in argv)


def _print(s: str = "") -> None:
    sys.stdout.write(s + "\n")
    sys.stdout.flush()


def cmd_features(args: argparse.Namespace) -> int:
    """``python -m train features``: extract (and cache) the features of each ``--corpus``'s
    files, at most ``--limit`` each, and print the files per second. Returns exit status 0;
    raises what :func:`train.corpora.read_corpus` (``CorpusNotFoundError``) and
    :func:`ser_live.batch.require_dask` (with ``--dask``: ``DaskUnavailableError``) raise."""
    from .corpora import read_corpus
    from .extract import extract_features

    if args.dask is not None:  # the dask extra, before any corpus is read: exit 2, "pip install 'ser-live[dask]'"
        from ser_live.batch import require_dask

        require_dask()
    for name in args.corpus:
        res = read_corpus(name)
        paths = [r.path for r in res.records][: args.limit]
        _X, rep = extract_features(paths, n_jobs=args.jobs, cache_dir=False if args.no_cache else None, description=name,
                                   dask=args.dask)
        where = f"{args.jobs} workers" if args.dask is None else f"Dask {args.dask or 'local cluster'}"
        rate = len(paths) / max(rep.seconds, 1e-9)
        _print(f"{name}: {rep}; {rate:.1f} files/s with {where}")
        _summary(f"{name}: {len(paths)} files ({len(rep.failures)} failed) in {rep.seconds:.1f} s, {rate:.1f} files/s")
    return 0


def _summary(line: str) -> None:
    """A closing summary line on stderr (stdout keeps the results)."""
    sys.stderr.write(f"done: {line}\n")
    sys.stderr.flush()


_MODE_ROWS = {
    "speaker": "with session normalisation (offline, session = speaker)",
    "online": "with session normalisation (online, live order)",
    "first-5": "with session normalisation (online, a session's first 5 utterances)",
    "utterance": "without session normalisation (each utterance alone)",
    "one-emotion": "one-emotion sessions (stress test: speaker x emotion)",
    "none": "no session normaliser in the recipe",
}


def cmd_evaluate(args: argparse.Namespace, argv: list[str]) -> int:
    """``python -m train evaluate``: the recipe's speaker-independent evaluation on each
    ``--protocol`` (UA, WA and macro-F1 per session mode; ``--condition room``: per room
    condition), printed and written to ``--out``. Returns exit status 0. Raises ValueError
    (``--corpora`` with a protocol other than ``loco``, a bad protocol or recipe; every
    ``--protocol`` is checked before the first runs),
    :class:`FitOutputError` (``--out`` not writable); ``--denoise`` without ``--condition
    room`` is a ValueError too (exit 2)."""
    from .evaluate import run_recipe, write_reports
    from .recipe import load_recipe
    from .reports import ua_table

    from .protocols import check_protocol

    recipe = load_recipe(args.recipe, overrides=args.set)
    args.protocol = _with_corpora(args.protocol, args.corpora, recipe)
    for protocol in args.protocol:  # every name before the first protocol runs (loco: an hour)
        check_protocol(protocol)
    if getattr(args, "out", None):
        _check_writable_folder(Path(args.out), hint="pass --out FOLDER for the reports")  # before the work
    if args.condition or args.denoise:
        return _evaluate_room(args, argv, recipe)
    for protocol in args.protocol:
        if protocol.strip().lower() == "personal":  # per-speaker profiles: train/personal.py
            from .personal import print_personal

            print_personal(recipe, args, _command(argv), _print)
            continue
        results = run_recipe(protocol, recipe, n_jobs=args.jobs, seed=args.seed)
        first = next(iter(results.values()))
        _print(
            f"{first.protocol}: recipe {recipe.name} ({recipe.path}), {len(first.folds)} folds, "
            f"scored on {', '.join(first.labels)}, {first.seconds:.0f} s"
        )
        _print(ua_table([(_MODE_ROWS[m].split(" (")[0] + f" ({m})", r) for m, r in results.items()]))
        for res in results.values():
            paths = write_reports(res, args.out, command=_command(argv))
            _print(f"{_MODE_ROWS[res.extra['session_mode']]}: {res.headline()}; reports: {paths['json']}")
    return 0


def _with_corpora(protocols: list[str], corpora: str | None, recipe: Any = None) -> list[str]:
    """``--corpora a,b,...``: ``loco`` becomes ``loco:a,b,...`` (train/protocols.py); refused
    with the other protocols, whose corpora are fixed. Without ``--corpora``, a recipe that
    trains on corpora of one's own (paths) makes ``loco`` hold those out too, beside the
    shipped ones (else they would neither train nor test)."""
    from .corpora import is_corpus_path
    from .protocols import loco_corpora, loco_protocol

    own = [c for c in (recipe.corpora if recipe is not None else ()) if is_corpus_path(c)]
    if corpora is None:
        return [loco_protocol(loco_corpora() + own) if own and p.strip().lower() == "loco" else p for p in protocols]
    names = [c for c in corpora.split(",") if c.strip()]
    out = []
    for p in protocols:
        if p.strip().lower() != "loco":
            raise ValueError(f"--corpora picks the corpora of loco only, not of {p!r}")
        out.append(loco_protocol(names))
    return out


def _evaluate_room(args: argparse.Namespace, argv: list[str], recipe) -> int:  # noqa: ANN001
    """``evaluate --condition room [--denoise]``: train/conditions.py, one table per protocol."""
    from .conditions import run_room, write_room_reports

    if args.condition != "room":  # a usage error (exit 2), as argparse's own
        raise ValueError("--denoise is evaluated on the room conditions: add --condition room")
    for protocol in args.protocol:
        res = run_room(protocol, recipe, seed=args.seed, per_class=args.per_class, denoise=args.denoise, n_jobs=args.jobs)
        paths = write_room_reports(res, args.out, command=_command(argv))
        _print(paths["md"].read_text())
        _print(f"reports: {paths['json']}, {paths['md']}")
    return 0


def cmd_compare(args: argparse.Namespace, argv: list[str]) -> int:
    """``python -m train compare``: the recipe, the openSMILE peer feature sets and the
    comparison classifiers (or ``--classifiers``' deep rows) on one protocol, as a table of
    UA, WA and macro-F1 (mean ± std over folds, %) and ``compare-<protocol>.json`` in
    ``--out``. Returns exit status 0. Raises ValueError: an ``--only`` that matches no row,
    ``--corpora`` with a protocol other than ``loco``, or a peer row asked for without
    :mod:`opensmile`."""
    from rich.console import Console
    from rich.table import Table

    from ser_live.fsutil import write_atomic

    from .classifiers import COMPARE_CLASSIFIERS
    from .evaluate import load_protocol_features, run_protocol, write_reports
    from .reports import ua_table

    if args.classifiers:  # the deep rows (train/deep.py, extra `deep`)
        from .deep import compare_deep

        compare_deep(args.protocol, args.classifiers, out_dir=args.out, command=_command(argv), n_threads=args.jobs, emit=_print)
        return 0
    from .evaluate import run_recipe
    from .recipe import load_recipe

    args.protocol = _with_corpora([args.protocol], args.corpora)[0]
    data: dict = {}  # feature matrices per feature recipe, loaded when a row needs them
    rows = []
    recipe_ = load_recipe(args.recipe, overrides=args.set)
    from .peers import PEER_SETS, run_peer

    peers = {f"openSMILE {s} {f} + {recipe_.name}": f for f, (s, _n) in PEER_SETS.items()}  # what --only matches
    if args.only:  # a filter that matches no row is a mistake, found before any work
        names = [*peers, *COMPARE_CLASSIFIERS]
        if not any(o.lower() in n.lower() for o in args.only for n in names):
            raise ValueError(f"--only {' '.join(args.only)} matches no row; the rows: {'; '.join(names)}")
    peers = _runnable_peers(peers, only=args.only, peer_exclude=args.peer_exclude)
    for res in run_recipe(args.protocol, recipe_, n_jobs=args.jobs).values():
        if res.extra["session_mode"] in ("none", "speaker"):
            write_reports(res, args.out, command=_command(argv))
            rows.append(res)
    for name, feature_set in peers.items():  # openSMILE peers, the recipe's settings
        if args.only and not any(o.lower() in name.lower() for o in args.only):
            continue
        for res in run_peer(args.protocol, recipe_, feature_set, n_jobs=args.jobs, exclude=tuple(args.peer_exclude or ())).values():
            if res.extra["session_mode"] in ("none", "speaker"):
                write_reports(res, args.out, command=_command(argv))
                rows.append(res)
    for name, (factory, recipe) in COMPARE_CLASSIFIERS.items():
        if args.only and not any(o.lower() in name.lower() for o in args.only):
            continue
        if recipe not in data:  # the recipe row's classes and test utterances, so the rows compare
            data[recipe] = load_protocol_features(args.protocol, recipe=recipe, labels=recipe_.labels,
                                                  label_map=recipe_.label_map, n_jobs=args.jobs)

        def fit(X, y, g, factory=factory):  # noqa: ANN001
            return factory().fit(X, y), ""

        res = run_protocol(args.protocol, fit=fit, classifier_name=name, data=data[recipe])
        write_reports(res, args.out, command=_command(argv))
        rows.append(res)
    classes = sorted({tuple(r.labels) for r in rows})
    scored = f"scored on {', '.join(classes[0])}" if len(classes) == 1 else "classes per row"
    table = Table(title=f"{args.protocol}: speaker-independent, {scored}, mean ± std over folds (%)")
    for col in ("classifier", "features", "sessions", "UA", "WA", "macro-F1", "time (s)"):
        table.add_column(col, justify="left" if col in ("classifier", "features", "sessions") else "right")
    for r in rows:
        recipe = r.extra.get("feature_set") or ("tutorial (180)" if "tutorial" in r.classifier else "ser-live")
        sessions = {"speaker": "normalised per speaker", None: "none"}.get(r.extra.get("session_mode"), r.extra.get("session_mode"))
        table.add_row(r.classifier, recipe, sessions, "{:.1f} ± {:.1f}".format(*r.ua_pct), "{:.1f} ± {:.1f}".format(*r.wa_pct), "{:.1f} ± {:.1f}".format(*r.f1_pct), f"{r.seconds:.0f}")
    Console(width=120).print(table)
    _print(ua_table([(r.classifier, r) for r in rows]))
    summary = [
        {"classifier": r.classifier, "labels": list(r.labels), "session_mode": r.extra.get("session_mode"),
         "ua_pct": r.ua_pct, "wa_pct": r.wa_pct, "f1_pct": r.f1_pct,
         "folds": {f.name: {"ua_pct": f.ua_pct, "wa_pct": f.wa_pct, "f1_pct": f.f1_pct} for f in r.folds}}
        for r in rows
    ]
    out = Path(args.out) / f"compare-{args.protocol.replace(':', '_').replace('>', '')}.json"
    write_atomic(out, json.dumps({"protocol": args.protocol, "command": _command(argv), "rows": summary}, indent=2))
    _print(f"table: {out}")
    return 0


def _runnable_peers(peers: dict[str, str], *, only: list[str] | None, peer_exclude: list[str] | None) -> dict[str, str]:
    """The openSMILE peer rows ``compare`` can run here, decided before any work.

    Parameters
    ----------
    peers : dict of str to str
        Row name (what ``--only`` matches) -> feature set (:data:`train.peers.PEER_SETS`).
    only : list of str or None
        ``--only``.
    peer_exclude : list of str or None
        ``--peer-exclude`` (it configures the peer rows only).

    Returns
    -------
    dict of str to str
        ``peers`` when :mod:`opensmile` imports; else empty, with one note on stderr saying
        how to get them.

    Raises
    ------
    ValueError
        :mod:`opensmile` is missing and the command asks for a peer row: an ``--only`` term
        that matches a peer row and no other row, or ``--peer-exclude``.
    """
    from .classifiers import COMPARE_CLASSIFIERS
    from .peers import opensmile_missing

    missing = opensmile_missing()
    if missing is None:
        return peers
    asked = [o for o in only or () if any(o.lower() in n.lower() for n in peers)
             and not any(o.lower() in n.lower() for n in COMPARE_CLASSIFIERS)]
    if asked or peer_exclude:
        what = f"--only {' '.join(asked)}" if asked else "--peer-exclude"
        raise ValueError(f"{what}: {missing}")
    sys.stderr.write(f"note: {missing}; running the other rows without them\n")
    return {}


def cmd_ablate(args: argparse.Namespace, argv: list[str]) -> int:
    """``python -m train ablate``: train without each corpus in turn, loco on the rest (train/ablation.py)."""
    from .ablation import run_ablation, write_ablation_report
    from .recipe import load_recipe

    def names(arg: str | None) -> list[str] | None:
        return [c for c in arg.split(",") if c.strip()] if arg else None

    parts = Path(args.out) / "ablation"
    reuse = [Path(args.out), parts] if args.reuse_reports else []

    def write(res: dict) -> dict:
        return write_ablation_report(res, args.out, command=_command(argv))

    res = run_ablation(load_recipe(args.recipe), corpora=names(args.corpora), without=names(args.without), n_jobs=args.jobs,
                       seed=args.seed, reuse_dirs=reuse, parts_dir=parts, command=_command(argv), on_row=write,
                       run_full=args.without is None)
    paths = write(res)
    _print(paths["md"].read_text())
    _print(f"reports: {paths['md']}, {paths['json']}")
    return 0


class FitOutputError(SerLiveError, ValueError):
    """``train fit`` would overwrite a shipped model without ``--force``, or its ``--out``
    cannot be a model file (not ``.skops``, a folder, an unwritable folder); or the
    ``--out`` folder of ``evaluate``/``plots`` cannot be written (exit 2)."""

    exit_code = 2


def _models_dirs() -> list[Path]:
    """The folders of shipped models: the repository's ``models/`` and ``$SER_LIVE_MODELS``."""
    from ser_live.model import MODELS_DIR

    return [d.resolve() for d in {REPO / "models", Path(MODELS_DIR)}]


def fit_output_path(recipe_name: str, out: str | Path | None, *, force: bool = False) -> Path:
    """Where ``python -m train fit`` writes its model, checked before any training.

    Parameters
    ----------
    recipe_name : str
        The recipe's name (default output ``models/<recipe_name>.skops``).
    out : str or Path or None
        ``--out``.
    force : bool, default False
        ``--force``: replacing a shipped model is allowed.

    Returns
    -------
    Path
        The model file to write (its recipe copy and card go next to it).

    Raises
    ------
    FitOutputError
        The model file exists in a folder of shipped models (``models/``,
        ``$SER_LIVE_MODELS``) and ``force`` is False: a shipped model is never overwritten
        by accident (``--out OTHER.skops`` writes elsewhere; ``--force`` replaces it); or
        ``out`` does not end in ``.skops``, is a folder, or lies in a folder that cannot be
        made or written (all found before any training).
    """
    path = Path(out) if out else REPO / "models" / f"{recipe_name}.skops"
    if path.suffix != ".skops":
        raise FitOutputError(f"--out {path}: a model file ends in .skops (its recipe copy and card are "
                             "written beside it as .toml and .md); pass e.g. --out "
                             f"{path.with_suffix('.skops')}")
    if path.is_dir():
        raise FitOutputError(f"--out {path} is a folder: pass a model file name, e.g. {path / (recipe_name + '.skops')}")
    _check_writable_folder(path.parent, hint="pass --out a .skops file in a folder you can write")
    if path.exists() and not force and path.resolve().parent in _models_dirs():
        raise FitOutputError(
            f"{path} is a shipped model; not overwriting it: pass --out OTHER.skops to write a new model "
            "elsewhere, or --force to replace it"
        )
    return path


def _check_writable_folder(folder: Path, *, hint: str) -> None:
    """Make ``folder`` and write (then remove) a file in it, so an output that cannot be
    written fails now, not after the work; FitOutputError says why and, with ``hint``, what
    to do."""
    import tempfile

    from ser_live.errors import os_error_text

    if folder.exists() and not folder.is_dir():
        raise FitOutputError(f"{folder} is a file, not a folder: {hint}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".ser-live-check-"):
            pass
    except OSError as exc:
        raise FitOutputError(f"cannot write to {folder}: {os_error_text(exc)}; {hint}") from exc


def copy_recipe(recipe_path: str | Path, model_path: Path, *, folder: Path | None = None) -> Path:
    """Copy the recipe next to the model (``<model>.toml``); nothing to do when the recipe
    read is that very file (``fit --recipe models/ser-7class.toml``).

    The copy is the file's text when that reads the same from the model's folder; a recipe
    that names its ``base`` or a corpus by a path relative to its own folder is written as
    read instead, base chain merged and paths absolute
    (:func:`train.recipe_spec.recipe_copy_text`), so the copy loads beside the model.

    Parameters
    ----------
    recipe_path : str or Path
    model_path : Path
    folder : Path, optional
        Where the copy will finally lie, when ``model_path`` is staged elsewhere first;
        default ``model_path``'s folder.

    Returns
    -------
    Path
        The recipe copy.

    Raises
    ------
    ValueError
        The recipe cannot be read (as :func:`train.recipe.load_recipe`).
    """
    from ser_live.fsutil import write_atomic

    from .recipe_spec import recipe_copy_text

    dst = model_path.with_suffix(".toml")
    src = Path(recipe_path)
    if not (dst.exists() and src.exists() and src.resolve() == dst.resolve()):
        text = recipe_copy_text(src, model_path.parent if folder is None else folder)
        write_atomic(dst, text.encode("utf-8"))  # a full disk leaves an earlier copy whole
    return dst


def cmd_fit(args: argparse.Namespace, argv: list[str]) -> int:
    """``python -m train fit``: fit the recipe on all of its corpora (less
    ``--exclude-corpus``) and write the model, its arrays, recipe copy and card. Returns exit
    status 0. Raises ValueError (an ``--exclude-corpus`` not among the recipe's corpora, or
    one that leaves none) and :class:`FitOutputError` (:func:`fit_output_path`), both before
    any training."""
    from ser_live import __version__
    from ser_live.features import FeatureExtractor
    from ser_live.model import EmotionModel

    from .card import protocol_reports, render_card
    from .corpora import label_histogram, read_corpus, speaker_group
    from .extract import extract_features, skipped_summary
    from .provenance import corpus_manifest, run_provenance
    from .recipe import RecipeClassifier, load_recipe

    import dataclasses

    t0 = time.perf_counter()
    recipe = load_recipe(args.recipe, overrides=args.set)
    if args.exclude_corpus:  # a `loco` fold model: the held-out corpora's voices stay unseen
        unknown = sorted(set(args.exclude_corpus) - set(recipe.corpora))
        if unknown:
            raise ValueError(f"--exclude-corpus: {', '.join(unknown)} not among the recipe's corpora "
                               f"({', '.join(recipe.corpora)})")
        kept = tuple(c for c in recipe.corpora if c not in args.exclude_corpus)
        if not kept:
            raise ValueError("--exclude-corpus leaves no corpus to fit on")
        recipe = dataclasses.replace(recipe, corpora=kept)
    out = fit_output_path(recipe.name, args.out, force=args.force)  # before minutes of training
    recipe_arg = None if args.recipe == DEFAULT_RECIPE else args.recipe
    provenance = fit_provenance(recipe, out=out, exclude_corpus=args.exclude_corpus, recipe_arg=recipe_arg)
    records = []
    for name in recipe.corpora:  # a corpus' problems are logged (stderr) by its reader
        records.extend(read_corpus(name).records)
    labels = list(recipe.labels)
    mapped = [recipe.label_map.get(r.label, r.label) for r in records]
    keep = [i for i, lab in enumerate(mapped) if lab in labels]
    dropped = label_histogram([r for r, lab in zip(records, mapped) if lab not in labels])
    records = [records[i] for i in keep]
    y = np.array([labels.index(mapped[i]) for i in keep])
    groups = np.array([speaker_group(r.speaker) for r in records], dtype=object)
    paths = [r.path for r in records]
    config = recipe.feature_config()
    X, rep = extract_features(paths, config=config, n_jobs=args.jobs, description="features")
    _print(f"features: {rep}")
    if rep.skipped:
        logging.getLogger("train").warning("%s", skipped_summary(rep.skipped, {r.path: r.corpus for r in records}))
    ok = np.isfinite(X).all(axis=1)
    X_aug = []
    for aug in recipe.all_augmentations:
        Xa, rep = extract_features(paths, config=config, augmentation=aug, n_jobs=args.jobs, description=f"augment: {aug}")
        ok &= np.isfinite(Xa).all(axis=1)
        X_aug.append(Xa)
    if not ok.all():
        _print(f"leaving out {int((~ok).sum())} files whose features failed or that are silent")
    names = FeatureExtractor(config).feature_names()
    est = RecipeClassifier(recipe, names, n_jobs=args.jobs).fit(
        X[ok], y[ok], groups=groups[ok], augmented=[Xa[ok] for Xa in X_aug]
    )
    sel = est.selection_
    _print(_chosen_line(sel, est.inner_cv_used_))
    hist = label_histogram([r for r, k in zip(records, ok) if k])
    meta = {
        "recipe": recipe.name,
        "recipe_summary": recipe.summary(),
        "corpora": list(recipe.corpora),
        "labels": labels,
        "label_map": dict(recipe.label_map),
        "dropped_labels": dropped,
        "n_utterances": int(ok.sum()),
        "label_counts": hist,
        "augmentations": [str(a) for a in recipe.augmentations],
        "noise_branch": None if est.route_ is None else {
            "augmentations": [str(a) for a in recipe.noise_branch.augmentations], **est.route_stats_,
        },
        "svm": sel.best,
        "inner_cv": est.inner_cv_used_,  # the folds the setting was chosen and the temperature fitted on
        "inner_cv_ua_pct": {k: 100 * v for k, v in sel.scores.items()},
        # another model's figures are never quoted: a changed recipe's card says how to measure it
        "protocol_scores": protocol_reports(recipe.name) if provenance is None else {},
        "command": _command(argv),
        "trained_at": time.strftime("%Y-%m-%d"),
        "ser_live_version": __version__,
        "provenance": run_provenance(),  # commit, local changes, library versions
        "corpus_files": corpus_manifest([r for r, k in zip(records, ok) if k]),  # the files fitted on, per corpus
        **({} if provenance is None else {"trained_from": provenance}),
    }
    name = recipe.name if provenance is None else out.stem  # what ser-live shows ("with model <name>")
    # exactly the object `evaluate` scores (RecipeClassifier.estimator_), with the label width
    model = EmotionModel(est.estimator_.set_params(n_labels=len(labels)), labels, config, name=name, metadata=meta)
    card = render_card(model, meta, FeatureExtractor(config).n_features)
    arrays = write_model_set(model, out, recipe_path=recipe.path, card=card)
    wrote = ", ".join(str(out.with_suffix(s)) for s in (".npz", ".toml", ".md") if s != ".npz" or arrays)
    _print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB), {wrote} in {time.perf_counter() - t0:.0f} s"
           + ("" if arrays else " (no .npz: this classifier has no array form; ser-live scores the .skops)"))
    return 0


def write_model_set(model: Any, out: Path, *, recipe_path: str | Path, card: str) -> bool:
    """Write a fitted model's files as one set: ``out`` (.skops), its arrays (.npz, when the
    classifier has an array form), the recipe copy (.toml) and the card (.md).

    All four are written first into a temporary folder beside ``out`` and only then renamed
    over the old ones, the .skops last, so a full disk, an error or Ctrl-C while writing leaves
    the earlier set at ``out`` as it was (never a new .skops with the old model's card, recipe
    or arrays beside it). A model without an array form (a kernel SVM) gets no .npz, and an
    earlier model's .npz at ``out`` is removed, since it no longer describes the .skops.

    Parameters
    ----------
    model : EmotionModel
        The fitted model (its ``path`` becomes ``out``).
    out : Path
        The model file (``.skops``; :func:`fit_output_path`).
    recipe_path : str or Path
        The recipe file fitted (copied as ``out`` with suffix ``.toml``).
    card : str
        The model card's text (``.md``).

    Returns
    -------
    bool
        Whether an arrays file (.npz) was written.

    Raises
    ------
    OSError
        A file could not be written (the earlier files at ``out`` are then unchanged).
    """
    import shutil
    import tempfile

    from ser_live.errors import ModelError
    from ser_live.fsutil import write_atomic
    from ser_live.model import export_arrays

    stage = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.stem}.fit-"))
    try:
        model.save(stage / out.name)
        try:
            export_arrays(model)  # the .npz beside it: the arrays ser-live scores with (ser_live/fastpath.py)
            arrays = True
        except ModelError:  # no array form (e.g. an RBF SVM): the .skops is scored as it is
            arrays = False
        copy_recipe(recipe_path, stage / out.name, folder=out.parent)
        write_atomic(stage / f"{out.stem}.md", card)
        for suffix in (".npz", ".toml", ".md", ".skops"):
            staged = stage / f"{out.stem}{suffix}"
            if staged.exists():
                staged.replace(out.with_suffix(suffix))
            elif suffix == ".npz":
                out.with_suffix(suffix).unlink(missing_ok=True)  # an earlier model's arrays
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    model.path = out
    return arrays


def fit_provenance(recipe: Any, *, out: Path, exclude_corpus: list[str] | tuple[str, ...] = (),
                   recipe_arg: str | None = None) -> dict | None:
    """What ``fit`` trains, when it is not the named recipe's own (shipped) model.

    Parameters
    ----------
    recipe : train.recipe.Recipe
        The recipe as trained: ``--set`` applied (``recipe.overrides``), ``--exclude-corpus``
        applied to ``recipe.corpora``.
    out : Path
        The model file (:func:`fit_output_path`).
    exclude_corpus : list of str, default ()
        ``--exclude-corpus``.
    recipe_arg : str, optional
        ``--recipe`` as given; None when it was the default (ser-default).

    Returns
    -------
    dict or None
        None when the recipe is fit unchanged to its own path (``models/<recipe name>.skops``):
        the model is named after the recipe and its card quotes the recipe's reports.
        Otherwise (any ``--set``, ``--exclude-corpus``, or another ``--out``) a JSON-able
        dict stored in the model's metadata as ``trained_from``: ``recipe`` (its name),
        ``changes`` (the options that changed it, as typed, ``""`` for none) and
        ``evaluate_command`` (the ``python -m train evaluate`` that measures this model's
        recipe: ``loco``, or the within-corpus protocol of a one-corpus recipe; ``""`` for one
        corpus with no protocol of its own, which ``loco`` cannot leave out); the model is
        then named after ``out``'s stem and its card quotes no figures.
    """
    from .protocols import PROTOCOLS

    own = any(out.resolve() == (d / f"{recipe.name}.skops").resolve() for d in _models_dirs())
    if own and not recipe.overrides and not exclude_corpus:
        return None
    sets = [a for o in recipe.overrides for a in ("--set", o)]
    changes = sets + (["--exclude-corpus", *exclude_corpus] if exclude_corpus else [])
    if exclude_corpus:  # evaluate's equivalent: the kept corpora
        sets += ["--set", "corpora=" + json.dumps(list(recipe.corpora))]
    within = [p for p in PROTOCOLS if len(recipe.corpora) == 1 and p.startswith(f"{recipe.corpora[0]}-")]
    changes_text = " ".join(shlex.quote(a) for a in changes)
    if len(recipe.corpora) == 1 and not within:  # loco needs two corpora, and this one has no protocol of its own
        return {"recipe": recipe.name, "changes": changes_text, "evaluate_command": ""}
    evaluate = ["evaluate", "--protocol", (within or ["loco"])[0], *(["--recipe", recipe_arg] if recipe_arg else []), *sets]
    return {"recipe": recipe.name, "changes": changes_text, "evaluate_command": _command(evaluate)}


def _chosen_line(selection: Any, inner_cv: str = "speaker") -> str:
    """The line ``fit`` prints about the classifier setting it trained.

    Parameters
    ----------
    selection : train.classifiers.SvmSelection
        ``RecipeClassifier.selection_``.
    inner_cv : {"speaker", "corpus"}
        The folds used (``RecipeClassifier.inner_cv_used_``).

    Returns
    -------
    str
        ``"chosen by speaker-grouped CV: <best> (<setting>: UA <x> %, ...)"`` after a search
        (``leave-one-corpus-out`` for corpus folds); ``"setting: <best>, used without a
        speaker-grouped search"`` when there was none (a one-setting grid, or one training
        speaker): no empty brackets.
    """
    from .recipe_spec import CV_FOLDS_TEXT

    folds = CV_FOLDS_TEXT[inner_cv]
    if not selection.scores:
        return f"setting: {selection.best}, used without a {folds} search"
    scores = ", ".join(f"{k}: UA {v * 100:.1f} %" for k, v in selection.scores.items())
    return f"chosen by {folds} CV: {selection.best} ({scores})"


def cmd_export(args: argparse.Namespace) -> int:
    """Write each model's ``.npz`` (:func:`ser_live.model.export_arrays`)."""
    from ser_live.errors import ModelError
    from ser_live.model import export_arrays

    for path in args.models:
        if not Path(path).exists():
            raise ModelError(f"model file {path} not found (export takes the .skops files `fit` writes)")
        if not Path(path).is_file():  # never opened: reading a FIFO blocks for ever
            what = "a folder" if Path(path).is_dir() else "not a regular file (a FIFO or device?)"
            raise ModelError(f"model {path} is {what}; export takes the .skops files `fit` writes")
        _print(f"wrote {export_arrays(path)}")
    return 0


def cmd_card(args: argparse.Namespace) -> int:
    """Rewrite a model's card from its metadata and the current reports (no refit).

    ``--model`` is a model file or a shipped model's short name (as ``ser-live --model``
    takes it); the card is written beside the ``.skops`` it names. Raises ModelError (exit
    5): no such model, or an arrays file (``.npz``) with no ``.skops`` beside it (a card
    reads the fitted scikit-learn chain, which only the ``.skops`` holds)."""
    from ser_live.errors import ModelError
    from ser_live.features import FeatureExtractor
    from ser_live.fastpath import CompiledEstimator
    from ser_live.model import EmotionModel, resolve_model_path

    from .card import protocol_reports, render_card

    path = resolve_model_path(args.model)  # "7class" is models/ser-7class.skops, not ./7class
    if path.suffix.lower() == ".npz" and path.with_suffix(".skops").is_file():
        path = path.with_suffix(".skops")  # the arrays' own model
    model = EmotionModel.load(path, arrays=False)  # the card reads the fitted scikit-learn chain
    if isinstance(model.estimator, CompiledEstimator):
        raise ModelError(f"{path} is a model's arrays file: a card is written from the .skops it was exported "
                         "from (the fitted scikit-learn chain); pass that file")
    meta = dict(model.metadata)
    if "trained_from" not in meta:  # a changed recipe's model quotes no recipe's figures (fit_provenance)
        meta["protocol_scores"] = protocol_reports(meta.get("recipe", model.name))
    card = path.with_suffix(".md")
    card.write_text(render_card(model, meta, FeatureExtractor(model.feature_config).n_features))
    _print(f"wrote {card}")
    return 0


def cmd_reports(args: argparse.Namespace) -> int:
    """``python -m train reports [--only NAME ...] [--list]``: regenerate the committed
    ``reports/`` and the model cards (train/regenerate.py lists the commands)."""
    from .regenerate import regenerate, select_commands

    commands = select_commands(args.only)
    if args.list:
        for name, cmd in commands.items():
            _print(f"{name}: python -m train {' '.join(shlex.quote(a) for a in cmd)}")
        return 0
    import os

    os.chdir(REPO)  # the commands name files relative to the repository, as their reports record them
    return regenerate(commands, run=main, emit=_print)


def cmd_plots(args: argparse.Namespace) -> int:
    """``python -m train plots``: two PNGs of a corpus in ``--out``, one waveform per emotion
    (``<corpus>-waveforms.png``) and the distribution of each ``--features`` column per
    emotion (``<corpus>-features.png``, box plots). Returns
    exit status 0. Raises ValueError (a ``--features`` column the extractor does not give) and
    :class:`FitOutputError` (``--out`` not writable), before anything is read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ser_live.audiofile import load_audio
    from ser_live.features import FeatureExtractor

    from .corpora import read_corpus
    from .extract import extract_features
    from .reports import save_png

    names = FeatureExtractor().feature_names()
    unknown = [n for n in args.features if n not in names]
    if unknown:  # before anything is read or drawn
        raise ValueError(f"--features: unknown column(s) {', '.join(unknown)} (names as `python -m train "
                         f"features` writes them, e.g. {', '.join(names[:3])})")
    out = Path(args.out)
    _check_writable_folder(out, hint="pass --out FOLDER for the plots")
    res = read_corpus(args.corpus)
    stem = res.corpus  # a folder of one's own by its name: its path would put the PNGs beside it, not in --out
    labels = sorted({r.label for r in res.records})
    fig, axes = plt.subplots(len(labels), 1, figsize=(9, 1.4 * len(labels)), sharex=True)
    for ax, lab in zip(np.atleast_1d(axes), labels):
        rec = next(r for r in res.records if r.label == lab)
        y = load_audio(rec.path)
        ax.plot(np.arange(y.size) / 16000, y, lw=0.4)
        ax.set_ylabel(lab, rotation=0, ha="right")
        ax.set_ylim(-1, 1)
    np.atleast_1d(axes)[-1].set_xlabel("seconds")
    fig.suptitle(f"{stem}: one waveform per emotion")
    fig.tight_layout()
    save_png(fig, out / f"{stem}-waveforms.png", dpi=100)
    plt.close(fig)
    X, _ = extract_features([r.path for r in res.records], n_jobs=args.jobs, description="features")
    show = list(args.features)
    fig, axes = plt.subplots(1, len(show), figsize=(4 * len(show), 3.5))
    for ax, n in zip(np.atleast_1d(axes), show):
        j = names.index(n)
        ax.boxplot([X[[r.label == lab for r in res.records], j] for lab in labels], showfliers=False)
        ax.set_xticks(range(1, len(labels) + 1), labels, rotation=60)
        ax.set_title(n, fontsize=9)
    fig.tight_layout()
    save_png(fig, out / f"{stem}-features.png", dpi=100)
    plt.close(fig)
    _print(f"wrote {out / (stem + '-waveforms.png')} and {out / (stem + '-features.png')}")
    return 0


def _add_set(s: argparse.ArgumentParser) -> None:
    """``--set section.key=value``: a recipe override (train/recipe_spec.py), repeatable."""
    s.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one recipe setting, the value read as TOML (e.g. --set normalizer.prior_weight=3 "
                        "--set 'features.exclude=[\"mel\"]'); repeatable, applied after the file")


def _add_jobs(parser: argparse.ArgumentParser, *, default: Any) -> None:
    """``-j/--jobs N``, before the subcommand (``default`` 2) and after it (``default``
    ``argparse.SUPPRESS``: the value before it stands unless given again; given in both places,
    the later one, after the subcommand, wins)."""
    parser.add_argument("-j", "--jobs", type=int_at_least(1), default=default, help="worker processes (default 2)")


def _command_hint(argv: list[str], parser: argparse.ArgumentParser) -> str | None:
    """``"did you mean: python -m train evaluate --protocol loco"`` for a command line without
    its subcommand, or None.

    Parameters
    ----------
    argv : list of str
        The command line after ``python -m train``.
    parser : argparse.ArgumentParser
        :func:`build_parser`'s parser.

    Returns
    -------
    str or None
        When the first word that is no top-level option (``-v``, ``-j N``) is an option of a
        subcommand (``--protocol loco``): the command line with the first subcommand that has
        it inserted; when it is a protocol name (``loco``, ``cross:A->B``): with
        ``evaluate --protocol`` inserted. None otherwise.
    """
    from .protocols import PROTOCOLS

    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    i = 0
    while i < len(argv):
        word = argv[i].split("=", 1)[0]
        action = parser._option_string_actions.get(word)
        if action is None:
            break
        i += 1 + int(action.nargs is None and "=" not in argv[i])  # -j N takes the next word
    else:
        return None
    word = argv[i].split("=", 1)[0]
    if word.startswith("-"):
        later = next((w for w in argv[i:] if w in subs), None)  # `--recipe x evaluate`: the subcommand came late
        owners = [name for name, sp in subs.items() if word in sp._option_string_actions and later in (None, name)]
        if not owners:
            return None
        rest = list(argv[i:])
        if later is not None:
            rest.remove(later)
        also = f" ({word} is also an option of {', '.join(owners[1:])})" if owners[1:] else ""
        return "did you mean: " + _command(argv[:i] + [owners[0]] + rest) + also
    if word.lower() in PROTOCOLS or word.lower().startswith(("cross:", "loco:")):
        return "did you mean: " + _command(argv[:i] + ["evaluate", "--protocol"] + argv[i:])
    return None


class _TrainParser(argparse.ArgumentParser):
    """The top-level parser: an invalid or missing subcommand gets :func:`_command_hint`'s
    "did you mean" (the subcommands' own parsers are plain ones)."""

    def parse_known_args(self, args=None, namespace=None):  # noqa: ANN001, ANN201
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str):  # noqa: ANN201
        hint = _command_hint(getattr(self, "_argv", []), self) if "command" in message else None
        super().error(f"{message}; {hint}" if hint else message)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m train`` parser, one subcommand per ``cmd_*`` function."""
    p = _TrainParser(
        prog="python -m train",
        description="ser-live training workspace: corpora -> features -> speaker-independent evaluation -> models/.",
        epilog=__doc__.split("Examples\n--------\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log progress per fold")
    _add_jobs(p, default=2)
    sub = p.add_subparsers(dest="command", required=True, parser_class=argparse.ArgumentParser,
                           help="the step to run; `python -m train COMMAND --help` lists its options")
    s = sub.add_parser("features", help="extract (and cache) features of corpora; prints time and throughput")
    s.add_argument("--corpus", nargs="+", default=["ravdess"], help="corpus names (ravdess, tess, emodb, ...) or paths of folders of one's own")
    s.add_argument("--no-cache", action="store_true", help="ignore and do not write the feature cache")
    s.add_argument("--limit", type=int_at_least(1), default=None, metavar="N", help="only the first N files of each corpus")
    s.add_argument("--dask", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="extract on a Dask cluster (tcp://host:port; without ADDRESS a local one); same cache")
    s = sub.add_parser("evaluate", help="speaker-independent evaluation of a training recipe on a protocol")
    from .protocols import PROTOCOLS

    s.add_argument("--protocol", nargs="+", required=True,
                   help="one or more of: " + ", ".join(n.replace("<train>-><test>", "A->B") for n in PROTOCOLS))
    s.add_argument("--recipe", default=DEFAULT_RECIPE, help="recipe TOML file or name in train/recipes/ (default ser-default)")
    _add_set(s)
    s.add_argument("--seed", type=int, default=0, help="seeds the order of the online (live) scoring, and the room conditions")
    s.add_argument("--corpora", default=None, metavar="A,B,...",
                   help="loco over these corpora only (comma-separated, at least two; names or paths of folders of one's own; "
                        "default: every corpus in the data folder and the recipe's own folders)")
    s.add_argument("--out", default=str(REPORTS), help="report folder (default reports/)")
    s.add_argument("--condition", choices=["room"], default=None,
                   help="score test utterances clean and degraded: noise (white, pink, brown, babble) at 20/10/5 dB SNR, "
                        "RT60 0.3/0.6 s rooms (train/conditions.py; reports/room-*.md)")
    s.add_argument("--denoise", action="store_true", help="with --condition room: denoise test utterances (ser_live/denoise.py)")
    s.add_argument("--per-class", type=int_at_least(0), default=50,
                   help="with --condition room: test utterances per class and fold, seeded and stratified (0: all; default 50)")
    s = sub.add_parser("compare", help="the default recipe against other classifiers, the tutorial recipe and the openSMILE "
                                       "peers (eGeMAPSv02, ComParE_2016 with the recipe's normaliser and SVM grid; extra `peers`, left out without it), "
                                       "every row on the recipe's classes")
    s.add_argument("--protocol", default="ravdess-6fold", help="evaluation protocol (default ravdess-6fold; "
                   "`evaluate --help` lists them)")
    s.add_argument("--only", nargs="*", help="run only classifiers whose name contains one of these")
    s.add_argument("--recipe", default=DEFAULT_RECIPE, help="recipe TOML file or name in train/recipes/ (default ser-default): "
                   "its own row, and the normaliser and SVM grid of the openSMILE peer rows")
    _add_set(s)
    s.add_argument("--peer-exclude", nargs="+", metavar="PREFIX",
                   help="leave these column-name prefixes out of the openSMILE peer rows (which groups matter), e.g. F1 F2 F3")
    s.add_argument("--classifiers", nargs="+", choices=["cnn", "cnn-lstm"], help="run these deep models instead (pip install '.[deep]'; -j sets PyTorch threads)")
    s.add_argument("--corpora", default=None, metavar="A,B,...", help="with --protocol loco: these corpora only")
    s.add_argument("--out", default=str(REPORTS), help="report folder (default reports/)")
    s = sub.add_parser("ablate", help="train without each corpus in turn, loco on the rest: does every training corpus earn its place?")
    s.add_argument("--recipe", default=DEFAULT_RECIPE, help="recipe TOML (default ser-default)")
    s.add_argument("--corpora", default=None, metavar="A,B,...", help="the loco corpora (default: every corpus in the data folder; at least three)")
    s.add_argument("--without", default=None, metavar="A,B,...",
                   help="the corpora to drop in turn (default: each of them); the full run is then only read, not run "
                        "(one share of an ablation split over processes: assemble with --reuse-reports)")
    s.add_argument("--reuse-reports", action="store_true",
                   help="read finished runs of this recipe instead of running them again: `evaluate`'s reports in --out, and "
                        "the per-run parts every ablation writes to --out/ablation/ (a split or interrupted ablation resumes)")
    s.add_argument("--seed", type=int, default=0, help="seeds the order of the online (live) scoring")
    s.add_argument("--out", default=str(REPORTS), help="report folder (default reports/)")
    s = sub.add_parser("fit", help="train a model from its recipe; writes the model, a copy of the recipe and its card")
    s.add_argument("--recipe", default=DEFAULT_RECIPE, help="recipe TOML (default ser-default)")
    _add_set(s)
    s.add_argument("--out", default=None, help="model file (default models/<recipe name>.skops); a model that "
                   "already exists in models/ is replaced only with --force")
    s.add_argument("--force", action="store_true", help="replace an existing model in models/ (a shipped model)")
    s.add_argument("--exclude-corpus", nargs="+", default=[], metavar="CORPUS",
                   help="fit on the recipe's corpora except these (a `loco` fold model, e.g. for "
                        "benchmarks/live_offline.py; give --out so the shipped model is not overwritten)")
    s = sub.add_parser("export", help="write each model's arrays (the .npz beside it, what ser-live scores with) from its .skops")
    s.add_argument("models", nargs="+", metavar="MODEL", help="model files (.skops)")
    s = sub.add_parser("card", help="rewrite a model's card from its metadata and the reports in reports/")
    s.add_argument("--model", default=str(REPO / "models" / "ser-default.skops"),
                   help="model file (.skops) or a shipped model's name (7class); default models/ser-default.skops; "
                        "its card is written beside the .skops as .md")
    s = sub.add_parser("reports", help="regenerate the committed reports/ and the model cards: the commands of "
                                       "train/regenerate.py in order (--list shows them)")
    s.add_argument("--only", nargs="+", metavar="NAME", help="only the commands whose name contains one of these")
    s.add_argument("--list", action="store_true", help="print the commands and exit")
    s = sub.add_parser("plots", help="waveform and feature-distribution plots per emotion")
    s.add_argument("--corpus", default="ravdess", help="corpus to plot: a name or the path of a folder of one's own (default ravdess)")
    s.add_argument("--features", nargs="+", default=["f0_st_p50", "rms_db_p90", "mfcc1_mean", "centroid_mean", "hnr_db_mean"],
                   metavar="NAME", help="feature columns whose distributions per emotion are plotted (names as in "
                                        "`features`' output; default f0_st_p50 rms_db_p90 mfcc1_mean centroid_mean hnr_db_mean)")
    s.add_argument("--out", default=str(REPORTS / "plots"), help="folder for the PNGs (default reports/plots)")
    for name in ("features", "evaluate", "compare", "ablate", "fit", "plots"):  # the subcommands that use workers
        _add_jobs(sub.choices[name], default=argparse.SUPPRESS)
    for action in sub._choices_actions:  # `python -m train COMMAND --help` says what COMMAND does
        command = sub.choices[action.dest]
        if command.description is None:
            command.description = action.help[:1].upper() + action.help[1:] + "."
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m train`` with ``argv`` (default ``sys.argv[1:]``; then SIGTERM, SIGHUP
    and SIGQUIT stop it as Ctrl-C does).

    Returns
    -------
    int
        The exit status: the command's (0); a ``SerLiveError``'s ``exit_code``, or 2 for a
        ValueError or FileNotFoundError (e.g. ``--recipe`` not found), the message on stderr;
        1 for another OSError (a full disk); 130 after Ctrl-C. A usage error exits 2
        (``SystemExit`` from argparse).
    """
    if argv is None:  # the program itself: SIGTERM, SIGHUP and SIGQUIT stop it as Ctrl-C does
        from ser_live.signals import stop_signals_as_interrupt_from_now

        stop_signals_as_interrupt_from_now()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import rich

    # progress bars (rich's global console) go to stderr, on a terminal only: stdout keeps the results
    rich.reconfigure(stderr=True)
    from ser_live.runtime import tune_process  # heap and BLAS settings for extraction

    tune_process()
    try:
        if args.command == "features":
            return cmd_features(args)
        if args.command == "evaluate":
            return cmd_evaluate(args, argv)
        if args.command == "compare":
            return cmd_compare(args, argv)
        if args.command == "ablate":
            return cmd_ablate(args, argv)
        if args.command == "fit":
            return cmd_fit(args, argv)
        if args.command == "export":
            return cmd_export(args)
        if args.command == "card":
            return cmd_card(args)
        if args.command == "reports":
            return cmd_reports(args)
        if args.command == "plots":
            return cmd_plots(args)
    except (SerLiveError, ValueError, FileNotFoundError) as exc:  # FileNotFoundError: --recipe not found
        sys.stderr.write(f"error: {exc}\n")
        return getattr(exc, "exit_code", 2)
    except OSError as exc:  # a full disk, a read-only folder: outputs are written whole or not at all
        from ser_live.errors import os_error_text

        sys.stderr.write(f"error: {os_error_text(exc)} (an earlier model or report at the same path is left "
                         "as it was)\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())

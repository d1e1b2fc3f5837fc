"""``python -m train``: features, speaker-independent evaluation, comparison, fitting, plots.

Examples
--------
python -m train evaluate --protocol ravdess-6fold
python -m train evaluate --protocol "cross:ravdess->emodb"
python -m train compare --protocol ravdess-6fold
python -m train compare --protocol ravdess-6fold --classifiers cnn cnn-lstm
python -m train fit --corpora ravdess tess emodb --out models/ser-default.skops
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

import numpy as np

from ser_live.errors import SerLiveError

REPO = Path(__file__).resolve().parent.parent
REPORTS = REPO / "reports"


def _command(argv: list[str]) -> str:
    return "python -m train " + " ".join(shlex.quote(a) for a in argv)


def _print(s: str = "") -> None:
    sys.stdout.write(s + "\n")
    sys.stdout.flush()


def cmd_features(args: argparse.Namespace) -> int:
    from .corpora import read_corpus
    from .extract import extract_features

    for name in args.corpus:
        res = read_corpus(name)
        paths = [r.path for r in res.records]
        _X, rep = extract_features(paths, n_jobs=args.jobs, cache_dir=False if args.no_cache else None, description=name,
                                   dask=args.dask)
        where = f"{args.jobs} workers" if args.dask is None else f"Dask {args.dask or 'local cluster'}"
        _print(f"{name}: {rep}; {len(paths) / max(rep.seconds, 1e-9):.1f} files/s with {where}")
    return 0


_MODE_ROWS = {
    "speaker": "with session normalisation (offline, session = speaker)",
    "online": "with session normalisation (online, live order)",
    "utterance": "without session normalisation (each utterance alone)",
    "none": "no session normaliser in the recipe",
}


def cmd_evaluate(args: argparse.Namespace, argv: list[str]) -> int:
    from .evaluate import run_recipe, write_reports
    from .recipe import load_recipe

    recipe = load_recipe(args.recipe)
    for protocol in args.protocol:
        results = run_recipe(protocol, recipe, n_jobs=args.jobs, seed=args.seed)
        first = next(iter(results.values()))
        _print(
            f"{first.protocol}: recipe {recipe.name} ({recipe.path}), {len(first.folds)} folds, "
            f"scored on {', '.join(first.labels)}, {first.seconds:.0f} s"
        )
        _print(_ua_table(results))
        for res in results.values():
            paths = write_reports(res, args.out, command=_command(argv))
            _print(f"{_MODE_ROWS[res.extra['session_mode']]}: {res.headline()}; reports: {paths['json']}")
    return 0


def _ua_table(results: dict) -> str:
    """Per-fold and mean UA (percent), one row per session mode, as aligned text."""
    first = next(iter(results.values()))
    names = [f.name for f in first.folds]
    head = ["UA %"] + names + ["mean"]
    rows = [head]
    for mode, res in results.items():
        rows.append([_MODE_ROWS[mode].split(" (")[0] + f" ({mode})"] + [f"{f.ua_pct:.1f}" for f in res.folds] + [f"{res.ua_pct[0]:.1f}"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows)


def cmd_compare(args: argparse.Namespace, argv: list[str]) -> int:
    from rich.console import Console
    from rich.table import Table

    from .classifiers import COMPARE_CLASSIFIERS
    from .evaluate import load_protocol_features, run_protocol, write_reports

    if args.classifiers:  # the deep rows (train/deep.py, extra `deep`)
        from .deep import compare_deep

        compare_deep(args.protocol, args.classifiers, out_dir=args.out, command=_command(argv), n_threads=args.jobs, emit=_print)
        return 0
    from .evaluate import run_recipe
    from .recipe import load_recipe

    data = {"ser-live": load_protocol_features(args.protocol, n_jobs=args.jobs)}
    rows = []
    for res in run_recipe(args.protocol, load_recipe(args.recipe), n_jobs=args.jobs).values():
        if res.extra["session_mode"] in ("none", "speaker"):
            write_reports(res, args.out, command=_command(argv))
            rows.append(res)
    for name, (factory, recipe) in COMPARE_CLASSIFIERS.items():
        if args.only and not any(o.lower() in name.lower() for o in args.only):
            continue
        if recipe not in data:
            data[recipe] = load_protocol_features(args.protocol, recipe=recipe, n_jobs=args.jobs)

        def fit(X, y, g, factory=factory):  # noqa: ANN001
            return factory().fit(X, y), ""

        res = run_protocol(args.protocol, fit=fit, classifier_name=name, data=data[recipe])
        write_reports(res, args.out, command=_command(argv))
        rows.append(res)
    table = Table(title=f"{args.protocol}: speaker-independent, mean ± std over folds (%)")
    for col in ("classifier", "features", "UA", "WA", "macro-F1", "time (s)"):
        table.add_column(col, justify="left" if col in ("classifier", "features") else "right")
    for r in rows:
        recipe = "tutorial (180)" if "tutorial" in r.classifier else "ser-live"
        table.add_row(r.classifier, recipe, "{:.1f} ± {:.1f}".format(*r.ua_pct), "{:.1f} ± {:.1f}".format(*r.wa_pct), "{:.1f} ± {:.1f}".format(*r.f1_pct), f"{r.seconds:.0f}")
    Console(width=120).print(table)
    summary = [{"classifier": r.classifier, "ua_pct": r.ua_pct, "wa_pct": r.wa_pct, "f1_pct": r.f1_pct} for r in rows]
    out = Path(args.out) / f"compare-{args.protocol.replace(':', '_').replace('>', '')}.json"
    out.write_text(json.dumps({"protocol": args.protocol, "command": _command(argv), "rows": summary}, indent=2))
    _print(f"table: {out}")
    return 0


def cmd_fit(args: argparse.Namespace, argv: list[str]) -> int:
    from ser_live import __version__
    from ser_live.features import FeatureConfig, FeatureExtractor
    from ser_live.model import EmotionModel

    from .augment import DEFAULT_AUGMENTATIONS
    from .classifiers import fit_default_svm
    from .corpora import CANONICAL_LABELS, label_histogram, read_corpus
    from .extract import extract_features

    t0 = time.perf_counter()
    records = []
    for name in args.corpora:
        res = read_corpus(name)
        if res.problems:
            _print(res.summary())
        records.extend(res.records)
    labels = [lab for lab in CANONICAL_LABELS if any(r.label == lab for r in records)]
    y = np.array([labels.index(r.label) for r in records])
    groups = np.array([r.speaker for r in records], dtype=object)
    paths = [r.path for r in records]
    X, rep = extract_features(paths, n_jobs=args.jobs, description="features")
    _print(f"features: {rep}")
    ok = np.isfinite(X).all(axis=1)
    if not ok.all():
        _print(f"leaving out {int((~ok).sum())} files whose features failed")
    X, y, groups = X[ok], y[ok], groups[ok]
    Xs, ys, gs = [X], [y], [groups]
    if args.augment:
        for aug in DEFAULT_AUGMENTATIONS:
            Xa, rep = extract_features(paths, augmentation=aug, n_jobs=args.jobs, description=f"augment: {aug}")
            Xs.append(Xa[ok])
            ys.append(y)
            gs.append(groups)
    Xt, yt, gt = np.vstack(Xs), np.concatenate(ys), np.concatenate(gs)
    original = np.zeros(len(yt), dtype=bool)
    original[: len(y)] = True
    pipe, sel = fit_default_svm(Xt, yt, gt, n_jobs=args.jobs, select_rows=original)
    _print(f"chosen by speaker-grouped CV: {sel.best} ({', '.join(f'{k}: UA {v*100:.1f}' for k, v in sel.scores.items())})")
    reports = _protocol_reports()
    hist = label_histogram([r for r, k in zip(records, ok) if k])
    meta = {
        "corpora": args.corpora,
        "n_utterances": int(ok.sum()),
        "label_counts": hist,
        "augmented": bool(args.augment),
        "svm": sel.best,
        "inner_cv_ua": sel.scores,
        "protocol_scores": reports,
        "command": _command(argv),
        "trained_at": time.strftime("%Y-%m-%d"),
        "ser_live_version": __version__,
    }
    model = EmotionModel(pipe, labels, FeatureConfig(), name=Path(args.out).stem, metadata=meta)
    out = model.save(args.out)
    card = Path(args.out).with_suffix(".md")
    card.write_text(_model_card(model, meta, FeatureExtractor().n_features))
    _print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {card} in {time.perf_counter() - t0:.0f} s")
    return 0


def _protocol_reports() -> dict:
    """Scores of the default SVM recipe from ``reports/*.json``, with the command of each."""
    reports = {}
    for p in sorted(REPORTS.glob("*.json")):
        try:
            d = json.loads(p.read_text())
        except Exception:
            continue
        if d.get("classifier") == "svm" and "ua_mean" in d:
            reports[d["protocol"] + (" (augmented)" if d.get("augmented") else "")] = {
                k: d[k] for k in ("ua_mean", "ua_std", "wa_mean", "wa_std", "f1_mean", "f1_std", "command")
            }
    return reports


def cmd_card(args: argparse.Namespace) -> int:
    """Rewrite a model's card from its metadata and the current reports (no refit)."""
    from ser_live.features import FeatureExtractor
    from ser_live.model import EmotionModel

    model = EmotionModel.load(args.model)
    meta = dict(model.metadata)
    meta["protocol_scores"] = _protocol_reports()
    card = Path(args.model).with_suffix(".md")
    card.write_text(_model_card(model, meta, FeatureExtractor(model.feature_config).n_features))
    _print(f"wrote {card}")
    return 0


def _model_card(model, meta: dict, n_features: int) -> str:  # noqa: ANN001
    lines = [
        f"# Model card: {model.name}",
        "",
        f"Made by: `{meta['command']}` on {meta['trained_at']} (ser-live {meta['ser_live_version']}).",
        "",
        "## What it is",
        f"Standard scaler + {meta['svm']} SVM (chosen by speaker-grouped cross-validation among "
        "linear and RBF settings), sigmoid-calibrated probabilities, on "
        f"{n_features} utterance-level functionals of framewise MFCC (+deltas), mel bands, chroma, "
        "spectral shape and contrast, energy, pitch and voicing (`ser_live/features.py`).",
        f"Labels: {', '.join(model.labels)}.",
        "",
        "## Training data",
        f"{meta['n_utterances']} utterances of acted speech from {', '.join(meta['corpora'])}"
        + (" plus augmented copies (noise, gain, speed)" if meta["augmented"] else "")
        + ", each trimmed by the live VAD segmenter exactly as live audio is cut.",
        "",
        "| label | utterances |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in meta["label_counts"].items()],
        "",
        "Corpora and licences: RAVDESS (Livingstone & Russo 2018, CC BY-NC-SA 4.0), TESS (Dupuis & "
        "Pichora-Fuller 2010, CC BY-NC-ND 4.0), Berlin EmoDB (Burkhardt et al. 2005, free for research). "
        "The model inherits their non-commercial terms.",
        "",
        "## How it scores (speaker-independent; percent, mean ± std over folds)",
        "",
        "| protocol | UA | WA | macro-F1 | command |",
        "|---|---|---|---|---|",
    ]
    for proto, d in meta["protocol_scores"].items():
        lines.append(
            f"| {proto} | {d['ua_mean']:.1f} ± {d['ua_std']:.1f} | {d['wa_mean']:.1f} ± {d['wa_std']:.1f} | "
            f"{d['f1_mean']:.1f} ± {d['f1_std']:.1f} | `{d['command']}` |"
        )
    lines += [
        "",
        "Protocol scores train on the protocol's training folds only (never this file's model); "
        "they describe the recipe. The file itself is trained on all the data above.",
        "",
        "## Limits",
        "Acted, studio-quality English (and German) speech from a few dozen speakers. Expect lower "
        "accuracy on spontaneous speech, other languages, far-field laptop microphones and noise. "
        "Not for decisions about people.",
    ]
    return "\n".join(lines) + "\n"


def cmd_plots(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ser_live.audiofile import load_audio
    from ser_live.features import FeatureExtractor

    from .corpora import read_corpus
    from .extract import extract_features

    res = read_corpus(args.corpus)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    labels = sorted({r.label for r in res.records})
    fig, axes = plt.subplots(len(labels), 1, figsize=(9, 1.4 * len(labels)), sharex=True)
    for ax, lab in zip(np.atleast_1d(axes), labels):
        rec = next(r for r in res.records if r.label == lab)
        y = load_audio(rec.path)
        ax.plot(np.arange(y.size) / 16000, y, lw=0.4)
        ax.set_ylabel(lab, rotation=0, ha="right")
        ax.set_ylim(-1, 1)
    np.atleast_1d(axes)[-1].set_xlabel("seconds")
    fig.suptitle(f"{args.corpus}: one waveform per emotion")
    fig.tight_layout()
    fig.savefig(out / f"{args.corpus}-waveforms.png", dpi=100)
    plt.close(fig)
    X, _ = extract_features([r.path for r in res.records], n_jobs=args.jobs, description="features")
    names = FeatureExtractor().feature_names()
    show = [n for n in args.features if n in names]
    fig, axes = plt.subplots(1, len(show), figsize=(4 * len(show), 3.5))
    for ax, n in zip(np.atleast_1d(axes), show):
        j = names.index(n)
        ax.boxplot([X[[r.label == lab for r in res.records], j] for lab in labels], showfliers=False)
        ax.set_xticks(range(1, len(labels) + 1), labels, rotation=60)
        ax.set_title(n, fontsize=9)
    fig.tight_layout()
    fig.savefig(out / f"{args.corpus}-features.png", dpi=100)
    plt.close(fig)
    _print(f"wrote {out / (args.corpus + '-waveforms.png')} and {out / (args.corpus + '-features.png')}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train",
        description="ser-live training workspace: corpora -> features -> speaker-independent evaluation -> models/.",
        epilog=__doc__.split("Examples\n--------\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log progress per fold")
    p.add_argument("-j", "--jobs", type=int, default=2, help="worker processes (default 2)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("features", help="extract (and cache) features of corpora; prints time and throughput")
    s.add_argument("--corpus", nargs="+", default=["ravdess"], help="corpus names (ravdess, tess, emodb, ...)")
    s.add_argument("--no-cache", action="store_true", help="ignore and do not write the feature cache")
    s.add_argument("--dask", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="extract on a Dask cluster (tcp://host:port; without ADDRESS a local one); same cache")
    s = sub.add_parser("evaluate", help="speaker-independent evaluation of a training recipe on a protocol")
    s.add_argument("--protocol", nargs="+", required=True, help="loco, ravdess-6fold, emodb-loso, tess-loso, emotiontts_kor-loso, cross:A->B")
    s.add_argument("--recipe", default=str(REPO / "train" / "recipes" / "ser-default.toml"), help="recipe TOML file or name in train/recipes/ (default ser-default)")
    s.add_argument("--seed", type=int, default=0, help="seeds the order of the online (live) scoring")
    s.add_argument("--out", default=str(REPORTS), help="report folder (default reports/)")
    s = sub.add_parser("compare", help="the default SVM against other classifiers and the tutorial recipe")
    s.add_argument("--protocol", default="ravdess-6fold")
    s.add_argument("--only", nargs="*", help="run only classifiers whose name contains one of these")
    s.add_argument("--recipe", default=str(REPO / "train" / "recipes" / "ser-default.toml"))
    s.add_argument("--classifiers", nargs="+", choices=["cnn", "cnn-lstm"], help="run these deep models instead (pip install '.[deep]'; -j sets PyTorch threads)")
    s.add_argument("--out", default=str(REPORTS))
    s = sub.add_parser("fit", help="train the shipped model on whole corpora and write its model card")
    s.add_argument("--corpora", nargs="+", default=["ravdess", "tess", "emodb"])
    s.add_argument("--augment", action="store_true")
    s.add_argument("--out", default=str(REPO / "models" / "ser-default.skops"))
    s = sub.add_parser("card", help="rewrite a model's card from its metadata and the reports in reports/")
    s.add_argument("--model", default=str(REPO / "models" / "ser-default.skops"))
    s = sub.add_parser("plots", help="waveform and feature-distribution plots per emotion")
    s.add_argument("--corpus", default="ravdess")
    s.add_argument("--features", nargs="+", default=["f0_st_p50", "rms_db_p90", "mfcc1_mean", "centroid_mean", "hnr_db_mean"])
    s.add_argument("--out", default=str(REPORTS / "plots"))
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from ser_live.runtime import tune_process  # heap and BLAS settings for extraction

    tune_process()
    try:
        if args.command == "features":
            return cmd_features(args)
        if args.command == "evaluate":
            return cmd_evaluate(args, argv)
        if args.command == "compare":
            return cmd_compare(args, argv)
        if args.command == "fit":
            return cmd_fit(args, argv)
        if args.command == "card":
            return cmd_card(args)
        if args.command == "plots":
            return cmd_plots(args)
    except (SerLiveError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return getattr(exc, "exit_code", 2)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""Does every training corpus earn its place? Train without corpus X, ``loco`` on the rest.

For each corpus X of the ``loco`` corpora, ``loco`` is run over the others (X then never
trains a fold, and is not tested); each held-out corpus's score is compared with the same
held-out corpus's score in the full ``loco`` run (where X trains every fold but its own).
The difference of their means over the held-out corpora other than X is what X costs or
brings. The six-corpus mean "X never in a training fold" is also given: X's own fold never
trains on X anyway, so it is the ablated folds plus the full run's fold of X.

Rule (``verdict``): dropping X changes the mean UA over the other held-out corpora (speaker
sessions) by ``delta``. ``delta <= -2`` points: X earns its place (keep). ``delta >= +2``:
X costs the other corpora at least two points (drop it). In between: a tie, and ties keep the
data (more speakers, languages and rooms). Differences under 2 UA points are ties
(the project's standard).

Every run trains and scores exactly as ``python -m train evaluate`` (:func:`train.evaluate.run_recipe`);
features are extracted (or read from the cache) once for the full run and sliced for the others.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .corpora import corpus_name, is_corpus_path, read_corpus
from .engine import SESSION_MODES
from .evaluate import load_protocol_features, run_recipe
from .reports import write_json_and_md
from .protocols import loco_corpora, loco_protocol, make_folds

__all__ = ["TIE_PTS", "run_ablation", "scores_from_reports", "write_ablation_report"]

log = logging.getLogger(__name__)

#: Differences of mean UA under this many points are ties (the project's standard).
TIE_PTS = 2.0
#: The two-speaker corpus left out of the "mean without TESS" (DESIGN.md).
_TESS = "tess"


def _report_name(protocol: str, recipe_name: str, mode: str) -> str:
    """``<protocol>-<recipe>-<mode>.json`` as :func:`train.evaluate.write_reports` names a
    recipe's report (characters other than letters, digits, ``-`` and ``_`` become ``_``)."""
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{protocol}-{recipe_name}-{mode}").strip("_")
    return f"{stem}.json"


def _verdict(delta: float) -> str:
    if delta <= -TIE_PTS:
        return "earns its place (keep)"
    if delta >= TIE_PTS:
        return "costs the others (drop)"
    return "tie (keep: ties keep the data)"


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


Scores = dict[str, dict[str, dict[str, float]]]


def run_ablation(
    recipe: Any,
    *,
    corpora: Sequence[str] | None = None,
    n_jobs: int = 2,
    progress: bool = True,
    seed: int = 0,
    source: Any = None,
    without: Sequence[str] | None = None,
    reuse_dirs: Sequence[str | Path] = (),
    parts_dir: str | Path | None = None,
    command: str = "",
    on_row: Callable[[dict[str, Any]], None] | None = None,
    run_full: bool = True,
) -> dict[str, Any]:
    """Score a recipe on ``loco`` with each corpus in turn left out of training and testing.

    Parameters
    ----------
    recipe : train.recipe.Recipe
    corpora : sequence of str, optional
        The ``loco`` corpora: names, or paths of folders of one's own (named after their
        folders, :func:`train.corpora.corpus_name`, as ``without`` names them too); default
        every corpus in the data folder and the recipe's folders of one's own; at least three.
    n_jobs : int, default 2
        Worker processes (extraction, model selection).
    progress : bool, default True
        Progress bars on stderr.
    seed : int, default 0
        Seeds the ``online`` session mode's order (as ``evaluate --seed``).
    source : mapping, optional
        ``{corpus: records}`` instead of the data folder (tests).
    without : sequence of str, optional
        The corpora to drop in turn (default: each of the ``loco`` corpora).
    reuse_dirs : sequence of str or Path
        Folders holding finished runs (``<protocol>-<recipe>-<mode>.json``, as ``evaluate``
        and ``parts_dir`` write them) of this recipe: such a run is read
        (:func:`scores_from_reports`), not run again; a stale one (another recipe setting,
        other folds) is logged and run. Empty: run everything.
    parts_dir : str or Path, optional
        Where each run is written as it finishes (one JSON per session mode), so an
        interrupted or split ablation resumes from them.
    command : str
        Written into each part.
    on_row : callable, optional
        Called with the result so far after each dropped corpus (to write a partial report).
    run_full : bool, default True
        Run the full ``loco`` when no report of it is found; False: leave it (and the rows) to
        a later run (one share of an ablation split over processes with ``without``).

    Returns
    -------
    dict
        JSON-able: ``corpora``, ``protocol`` (of the full run), ``modes``, ``full``
        (``{mode: {corpus: {"ua_pct", "wa_pct", "f1_pct", "n_test"}}}``), ``ablated``
        (``{X: {mode: {corpus: scores}}}``, the held-out corpora other than X), ``rows``
        (per X and mode: ``mean_ua_pct`` over the other held-out corpora, ``full_mean_ua_pct``
        over the same ones, ``delta_pts``, the same without TESS, ``six_mean_ua_pct`` with X
        never in a training fold, ``verdict``; once the full run is known), ``reused`` (the
        runs read from reports), ``seconds``, and the recipe's name and summary.

    Raises
    ------
    ValueError
        Fewer than three corpora, an unknown corpus, or failed feature extraction.
    """
    t0 = time.perf_counter()
    if source is None:  # the shipped corpora present and the recipe's folders of one's own, or those named
        own = [c for c in recipe.corpora if is_corpus_path(c)]
        specs = loco_corpora(None, corpora) if corpora is not None else loco_corpora() + own
        source = {corpus_name(c): read_corpus(c).records for c in specs}
        corpora = None if corpora is None else [corpus_name(c) for c in specs]
        without = None if without is None else [corpus_name(c) for c in without]
    full_set = loco_corpora(source, corpora)
    if len(full_set) < 3:
        raise ValueError(f"ablate: needs at least three loco corpora (two remain when one is dropped), got {full_set}")
    drop = full_set if without is None else loco_corpora(source, without)
    missing = [c for c in drop if c not in full_set]
    if missing:
        raise ValueError(f"ablate: --without {', '.join(missing)}: not among the loco corpora {full_set}")
    full_name = loco_protocol(full_set, source)
    kw = dict(labels=recipe.labels, label_map=recipe.label_map)
    loaded: list = []

    def features() -> tuple:
        if not loaded:
            fs_full, X, X_aug = load_protocol_features(
                full_name, augmentations=recipe.all_augmentations, n_jobs=n_jobs, progress=progress, source=source,
                config=recipe.feature_config(), **kw,
            )
            loaded.extend([fs_full, X, X_aug, {r.path: i for i, r in enumerate(fs_full.records)}])
        return tuple(loaded)

    reused: list[str] = []

    def lookup(name: str, corpora_: list[str]) -> Scores | None:
        for d in reuse_dirs:
            try:
                got = scores_from_reports(d, name, recipe, folds=corpora_)
            except FileNotFoundError:
                continue
            except ValueError as exc:  # stale (e.g. a report of fewer corpora): not reused
                log.warning("ablate: not reused: %s", exc)
                continue
            reused.append(name)
            return got
        return None

    def run(name: str, corpora_: list[str]) -> Scores:
        got = lookup(name, corpora_)
        if got is not None:
            return got
        fs_full, X, X_aug, row_of = features()
        if name == full_name:
            fs, idx = fs_full, np.arange(len(fs_full.records))
        else:
            fs = make_folds(name, source, **kw)
            idx = np.array([row_of[r.path] for r in fs.records], dtype=np.int64)
        log.info("ablate: %s", name)
        results = run_recipe(name, recipe, n_jobs=n_jobs, progress=progress, seed=seed, data=(fs, X[idx], [Xa[idx] for Xa in X_aug]))
        if parts_dir is not None:
            for mode, res in results.items():
                path = Path(parts_dir) / _report_name(res.protocol, recipe.name, mode)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({**res.to_json(), "command": command}, indent=2))
        return {
            mode: {f.name: {"ua_pct": f.ua_pct, "wa_pct": f.wa_pct, "f1_pct": f.f1_pct, "n_test": f.n_test} for f in res.folds}
            for mode, res in results.items()
        }

    ablated: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    out: dict[str, Any] = {
        "recipe": recipe.name, "recipe_summary": recipe.summary(), "protocol": full_name, "corpora": full_set,
        "modes": [], "full": {}, "ablated": ablated, "rows": rows, "reused": reused,
        "tie_pts": TIE_PTS, "seconds": 0.0, "online_seed": seed,
    }

    def fill_rows() -> None:
        full = out["full"]
        rows.clear()
        for dropped, by_mode in ablated.items():
            rest = [c for c in full_set if c != dropped]
            no_tess = [c for c in rest if c != _TESS]
            for mode in out["modes"]:
                if mode not in by_mode:  # a part from before the full run's mode existed ("first-5")
                    continue
                abl, base = by_mode[mode], full[mode]
                mean, full_mean = _mean([abl[c]["ua_pct"] for c in rest]), _mean([base[c]["ua_pct"] for c in rest])
                mean_nt, full_nt = _mean([abl[c]["ua_pct"] for c in no_tess]), _mean([base[c]["ua_pct"] for c in no_tess])
                six = [abl[c]["ua_pct"] for c in rest] + [base[dropped]["ua_pct"]]
                six_nt = [abl[c]["ua_pct"] for c in no_tess] + ([base[dropped]["ua_pct"]] if dropped != _TESS else [])
                rows.append({
                    "without": dropped, "mode": mode, "held_out": rest,
                    "mean_ua_pct": mean, "full_mean_ua_pct": full_mean, "delta_pts": mean - full_mean,
                    "mean_ua_pct_no_tess": mean_nt, "full_mean_ua_pct_no_tess": full_nt, "delta_pts_no_tess": mean_nt - full_nt,
                    "six_mean_ua_pct": _mean(six), "six_mean_ua_pct_no_tess": _mean(six_nt),
                    "verdict": _verdict(mean - full_mean),
                })

    def set_full(full: Scores) -> None:
        out["full"], out["modes"] = full, list(full)

    full_now = lookup(full_name, full_set)  # the full run first when it is already there (rows as they come)
    if full_now is not None:
        set_full(full_now)
    for dropped in drop:
        rest = [c for c in full_set if c != dropped]
        ablated[dropped] = run(loco_protocol(rest, source), rest)
        if out["full"]:
            fill_rows()
        out["seconds"] = time.perf_counter() - t0
        if on_row is not None:
            on_row(out)
    if not out["full"]:
        full_now = lookup(full_name, full_set) if not run_full else None
        if full_now is None and run_full:
            full_now = run(full_name, full_set)
        if full_now is not None:
            set_full(full_now)
            fill_rows()
        else:
            log.warning("ablate: no %s run of %s yet: the rows need it (run ablate --reuse-reports without --without)",
                        full_name, recipe.name)
    out["seconds"] = time.perf_counter() - t0
    return out


def scores_from_reports(reports_dir: str | Path, protocol: str, recipe: Any, *, folds: Sequence[str]) -> Scores:
    """A finished run's scores from its reports (``evaluate``'s, or an ablation's parts).

    Parameters
    ----------
    reports_dir : str or Path
        Where ``<protocol>-<recipe>-<mode>.json`` were written (``reports/``).
    protocol : str
        The run's protocol (``"loco"`` or ``"loco:<a>,<b>,..."``).
    recipe : train.recipe.Recipe
        The reports must describe this recipe (same name and summary).
    folds : sequence of str
        The folds (held-out corpora) the run must have.

    Returns
    -------
    dict
        ``{mode: {corpus: {"ua_pct", "wa_pct", "f1_pct", "n_test"}}}`` for every session mode
        found.

    Raises
    ------
    FileNotFoundError
        No report of ``protocol`` for this recipe name in ``reports_dir``.
    ValueError
        A report of another protocol, another recipe setting or other folds (stale).
    """
    out: Scores = {}
    for mode in [*SESSION_MODES, "none"]:
        path = Path(reports_dir) / _report_name(protocol, recipe.name, mode)
        if not path.exists():
            continue
        d = json.loads(path.read_text())
        if d.get("protocol") != protocol or d.get("recipe_summary") != recipe.summary():
            raise ValueError(f"{path}: a report of {d.get('protocol')!r} with another recipe setting; re-run the evaluation")
        names = [f["name"] for f in d["folds"]]
        if sorted(names) != sorted(folds):
            raise ValueError(f"{path}: folds {names}, not {list(folds)}; a stale report: re-run it")
        out[mode] = {f["name"]: {k: f[k] for k in ("ua_pct", "wa_pct", "f1_pct", "n_test")} for f in d["folds"]}
    if not out:
        raise FileNotFoundError(f"no {protocol} report of recipe {recipe.name} in {reports_dir}")
    return out


def write_ablation_report(res: dict[str, Any], out_dir: Any, *, command: str = "") -> dict[str, Any]:
    """Write ``ablation-<protocol>-<recipe>.json`` and ``.md`` into ``out_dir``.

    Parameters
    ----------
    res : dict
        :func:`run_ablation`'s output.
    out_dir : str or Path
    command : str
        The command that produced it (written into both files).

    Returns
    -------
    dict
        ``{"json": path, "md": path}``.
    """
    corpora = res["corpora"]
    stem = f"ablation-{res['protocol'].replace(':', '_').replace(',', '_')}-{res['recipe']}"
    full_mean = {m: _mean([res["full"][m][c]["ua_pct"] for c in corpora]) for m in res["modes"]}
    lines = [
        f"# Ablation on {res['protocol']}: {res['recipe']}, train without corpus X, loco on the rest",
        "",
        f"Command: `{command}`" if command else "",
        "",
        f"Recipe: {res['recipe_summary']}",
        "",
        "For each corpus X, `loco` over the other corpora (X never trains and is not tested), against the full "
        f"`{res['protocol']}` run (X trains every fold but its own). UA in percent per held-out corpus; "
        "`mean` and `full` are means over the held-out corpora other than X; delta = mean - full (negative: "
        f"dropping X costs the others, X earns its place). Verdict: delta <= -{TIE_PTS:g} keep (earns its place), "
        f">= +{TIE_PTS:g} drop, otherwise a tie and ties keep the data. `six` is the mean over all {len(corpora)} "
        "held-out corpora with X never in a training fold (X's own fold as in the full run).",
        "",
    ]
    if res.get("reused"):
        lines += ["Read from finished runs' reports (`--reuse-reports`: those `python -m train evaluate` and earlier "
                  "ablations wrote in the report folder or its `ablation/` folder, each JSON with its command; the same "
                  "training and scoring, not run again): "
                  + ", ".join(f"`{p}`" for p in res["reused"]) + ".", ""]
    done = sorted({r["without"] for r in res["rows"]}, key=corpora.index)
    if len(done) < len(corpora):
        lines += [f"Partial: dropped so far {', '.join(done) or 'none'} of {', '.join(corpora)}.", ""]
    for mode in res["modes"]:
        lines += [f"## Sessions: {mode}", ""]
        head = "| without | " + " | ".join(corpora) + " | mean | full | delta | mean w/o TESS | full w/o TESS | delta w/o TESS | six | verdict |"
        lines += [head, "|---" * (len(corpora) + 9) + "|"]
        fm = res["full"][mode]
        lines.append(
            "| (nothing: full run) | " + " | ".join(f"{fm[c]['ua_pct']:.1f}" for c in corpora)
            + f" | {full_mean[mode]:.1f} | | | {_mean([fm[c]['ua_pct'] for c in corpora if c != _TESS]):.1f} | | | {full_mean[mode]:.1f} | |"
        )
        for row in (r for r in res["rows"] if r["mode"] == mode):
            abl = res["ablated"][row["without"]][mode]
            cells = [f"{abl[c]['ua_pct']:.1f}" if c in abl else "-" for c in corpora]
            lines.append(
                f"| {row['without']} | " + " | ".join(cells)
                + f" | {row['mean_ua_pct']:.1f} | {row['full_mean_ua_pct']:.1f} | {row['delta_pts']:+.1f}"
                + f" | {row['mean_ua_pct_no_tess']:.1f} | {row['full_mean_ua_pct_no_tess']:.1f} | {row['delta_pts_no_tess']:+.1f}"
                + f" | {row['six_mean_ua_pct']:.1f} | {row['verdict']} |"
            )
        lines.append("")
    lines.append(f"{res['seconds']:.0f} s.")
    return write_json_and_md(out_dir, stem, {**res, "command": command}, lines)

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

from .corpora import read_corpus
from .evaluate import SESSION_MODES, load_protocol_features, run_recipe, write_json_and_md
from .protocols import loco_corpora, loco_protocol, make_folds

__all__ = ["TIE_PTS", "run_ablation", "full_from_reports", "write_ablation_report"]

log = logging.getLogger(__name__)

#: Differences of mean UA under this many points are ties (the project's standard).
TIE_PTS = 2.0
#: The two-speaker corpus left out of the "mean without TESS" (DESIGN.md).
_TESS = "tess"


def _verdict(delta: float) -> str:
    if delta <= -TIE_PTS:
        return "earns its place (keep)"
    if delta >= TIE_PTS:
        return "costs the others (drop)"
    return "tie (keep: ties keep the data)"


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def run_ablation(
    recipe: Any,
    *,
    corpora: Sequence[str] | None = None,
    n_jobs: int = 2,
    progress: bool = True,
    seed: int = 0,
    source: Any = None,
    without: Sequence[str] | None = None,
    full: dict[str, dict[str, dict[str, float]]] | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Score a recipe on ``loco`` with each corpus in turn left out of training and testing.

    Parameters
    ----------
    recipe : train.recipe.Recipe
    corpora : sequence of str, optional
        The ``loco`` corpora (default: every corpus in the data folder); at least three.
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
    full : dict, optional
        The full run's scores, ``{mode: {corpus: {"ua_pct", "wa_pct", "f1_pct", "n_test"}}}``
        (:func:`full_from_reports`), instead of running it again.
    on_row : callable, optional
        Called with the result so far after each dropped corpus (to write a partial report).

    Returns
    -------
    dict
        JSON-able: ``corpora``, ``protocol`` (of the full run), ``modes``, ``full``
        (``{mode: {corpus: {"ua_pct", "wa_pct", "f1_pct", "n_test"}}}``), ``ablated``
        (``{X: {mode: {corpus: scores}}}``, the held-out corpora other than X), ``rows``
        (per X and mode: ``mean_ua_pct`` over the other held-out corpora, ``full_mean_ua_pct``
        over the same ones, ``delta_pts``, the same without TESS, ``six_mean_ua_pct`` with X
        never in a training fold, ``verdict``), ``seconds``, and the recipe's name and summary.

    Raises
    ------
    ValueError
        Fewer than three corpora, an unknown corpus, or failed feature extraction.
    """
    t0 = time.perf_counter()
    if source is None:
        source = {c: read_corpus(c).records for c in loco_corpora()}
    full_set = loco_corpora(source, corpora)
    if len(full_set) < 3:
        raise ValueError(f"ablate: needs at least three loco corpora (two remain when one is dropped), got {full_set}")
    full_name = loco_protocol(full_set, source)
    kw = dict(labels=recipe.labels, label_map=recipe.label_map)
    fs_full, X, X_aug = load_protocol_features(
        full_name, augmentations=recipe.all_augmentations, n_jobs=n_jobs, progress=progress, source=source,
        config=recipe.feature_config(), **kw,
    )
    row_of = {r.path: i for i, r in enumerate(fs_full.records)}

    def scores(results: dict) -> dict[str, dict[str, dict[str, float]]]:
        return {
            mode: {f.name: {"ua_pct": f.ua_pct, "wa_pct": f.wa_pct, "f1_pct": f.f1_pct, "n_test": f.n_test} for f in res.folds}
            for mode, res in results.items()
        }

    full_reused = full is not None
    for mode, folds in (full or {}).items():
        if sorted(folds) != sorted(full_set):
            raise ValueError(f"ablate: the full run's {mode} folds are {sorted(folds)}, not the loco corpora {full_set}; re-run it")
    if full is None:
        log.info("ablate: full run %s", full_name)
        full = scores(run_recipe(full_name, recipe, n_jobs=n_jobs, progress=progress, seed=seed, data=(fs_full, X, X_aug)))
    modes = list(full)
    ablated: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    drop = full_set if without is None else loco_corpora(source, without)
    missing = [c for c in drop if c not in full_set]
    if missing:
        raise ValueError(f"ablate: --without {', '.join(missing)}: not among the loco corpora {full_set}")
    out: dict[str, Any] = {
        "recipe": recipe.name, "recipe_summary": recipe.summary(), "protocol": full_name, "corpora": full_set,
        "modes": modes, "full": full, "full_reused_from_reports": full_reused, "ablated": ablated, "rows": rows,
        "tie_pts": TIE_PTS, "seconds": 0.0, "online_seed": seed,
    }
    for dropped in drop:
        rest = [c for c in full_set if c != dropped]
        name = loco_protocol(rest, source)
        fs = make_folds(name, source, **kw)
        idx = np.array([row_of[r.path] for r in fs.records], dtype=np.int64)
        log.info("ablate: without %s: %s", dropped, name)
        ablated[dropped] = scores(
            run_recipe(name, recipe, n_jobs=n_jobs, progress=progress, seed=seed, data=(fs, X[idx], [Xa[idx] for Xa in X_aug]))
        )
        for mode in modes:
            abl, base = ablated[dropped][mode], full[mode]
            no_tess = [c for c in rest if c != _TESS]
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
        out["seconds"] = time.perf_counter() - t0
        if on_row is not None:
            on_row(out)
    return out


def full_from_reports(reports_dir: str | Path, protocol: str, recipe: Any) -> dict[str, dict[str, dict[str, float]]]:
    """The full run's scores from the reports ``python -m train evaluate`` wrote for it.

    Parameters
    ----------
    reports_dir : str or Path
        Where ``evaluate`` wrote ``<protocol>-<recipe>-<mode>.json`` (``reports/``).
    protocol : str
        The full run's protocol (``"loco"`` or ``"loco:<a>,<b>,..."``).
    recipe : train.recipe.Recipe
        Its reports must describe this recipe (same name and summary).

    Returns
    -------
    dict
        ``{mode: {corpus: {"ua_pct", "wa_pct", "f1_pct", "n_test"}}}`` for every session mode
        found.

    Raises
    ------
    ValueError
        No report, or a report of another protocol or another recipe setting.
    """
    from .evaluate import _slug

    out: dict[str, dict[str, dict[str, float]]] = {}
    for mode in [*SESSION_MODES, "none"]:
        path = Path(reports_dir) / f"{_slug(f'{protocol}-{recipe.name}-{mode}')}.json"
        if not path.exists():
            continue
        d = json.loads(path.read_text())
        if d.get("protocol") != protocol or d.get("recipe_summary") != recipe.summary():
            raise ValueError(f"{path}: a report of {d.get('protocol')!r} with another recipe setting; re-run the evaluation")
        out[mode] = {f["name"]: {k: f[k] for k in ("ua_pct", "wa_pct", "f1_pct", "n_test")} for f in d["folds"]}
    if not out:
        raise ValueError(f"no {protocol} report of recipe {recipe.name} in {reports_dir}: run `python -m train evaluate` first")
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
    if res.get("full_reused_from_reports"):
        lines += [f"The full run's scores are those of the `python -m train evaluate` reports of `{res['protocol']}` "
                  "for this recipe (`--reuse-reports`: the same training and scoring, not run again).", ""]
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

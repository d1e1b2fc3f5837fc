"""What a report needs to be reproduced: the code's commit, the libraries, the corpora's files.

Every report (:func:`train.reports.write_json_and_md`) carries :func:`run_provenance` under
``"provenance"``; an evaluation's reports also carry :func:`corpus_manifest` of the records it
scored under ``"corpus_files"``. With the report's ``"command"``, the recipe file and these,
someone on another machine can tell whether a run of theirs should give the same numbers: same
commit (and no local changes), same library versions, same files with the same labels.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
from functools import lru_cache
from typing import Any, Sequence

from . import REPO

__all__ = ["run_provenance", "corpus_manifest", "cpu_model", "PROVENANCE_PACKAGES"]

#: Distributions whose versions decide the numbers (features, fitting, decoding), in the report's order.
PROVENANCE_PACKAGES: tuple[str, ...] = ("ser-live", "numpy", "scipy", "librosa", "scikit-learn", "joblib", "threadpoolctl",
                                        "soundfile", "soxr", "webrtcvad-wheels", "skops")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


@lru_cache(maxsize=1)
def run_provenance() -> dict[str, Any]:
    """The code and libraries this process runs, for a report.

    Returns
    -------
    dict
        ``git_commit`` (str, the checkout's ``HEAD``; None outside a git checkout or without
        git), ``git_changes`` (list of str: tracked files changed since that commit, as
        ``git status --porcelain`` prints them, at most 20; empty when the checkout is clean,
        None without git), ``python`` (str), ``platform`` (str), ``packages`` (dict of
        distribution name to version, None when not installed: :data:`PROVENANCE_PACKAGES`),
        ``libsndfile`` (str or None), ``blas`` (list of dict: each BLAS library loaded in
        this process, ``internal_api``, ``version`` and ``architecture`` (the CPU kernels it
        chose, e.g. OpenBLAS's ``SkylakeX`` or ``Zen``; None where not reported) as
        threadpoolctl names them, sorted; not their thread counts, which vary with the moment
        and do not reach the features: extraction runs BLAS on one thread,
        :mod:`train.extract`) and ``cpu`` (the processor's model name, None where not known).
        Computed once per process.

    Notes
    -----
    The CPU and the BLAS kernels are recorded because they can move the last bits: BLAS and
    NumPy pick their kernels (AVX2, AVX-512) by processor, and OpenBLAS's ``SkylakeX`` and
    ``Haswell`` kernels give matrix products that differ in the last bits on this project's
    machine. (The default's ``loco`` reports came out the same to the bit with either, README
    "Scores", but another recipe near a decision boundary need not.)
    """
    from importlib import metadata

    packages: dict[str, str | None] = {}
    for name in PROVENANCE_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    try:
        import soundfile

        libsndfile = str(soundfile.__libsndfile_version__)
    except Exception:  # noqa: BLE001 - not installed or no library
        libsndfile = None
    try:
        from threadpoolctl import threadpool_info

        blas = sorted(({k: d.get(k) for k in ("internal_api", "version", "architecture")} for d in threadpool_info()
                       if d.get("user_api") == "blas"), key=lambda b: (str(b["internal_api"]), str(b["version"])))
    except Exception:  # noqa: BLE001 - threadpoolctl missing
        blas = []
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "git_changes": None if status is None else status.splitlines()[:20],
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "packages": packages,
        "libsndfile": libsndfile,
        "blas": blas,
        "cpu": cpu_model(),
    }


def cpu_model() -> str | None:
    """The processor's model name (``/proc/cpuinfo``'s first ``model name``; else what
    :func:`platform.processor` says), or None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip() or None
    except OSError:
        pass
    return platform.processor() or None


def corpus_manifest(records: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Per corpus, how many files a run used and one checksum of their content and labels.

    Parameters
    ----------
    records : sequence of train.corpora.Record
        The records scored or trained on (``path``, ``corpus``, ``speaker``, ``label``).

    Returns
    -------
    dict of str to dict
        ``{corpus: {"files": int, "sha1": str}}``, corpora in first-seen order. ``sha1`` is
        the SHA-1 (hex) of the sorted lines ``"<file content SHA-1> <speaker> <label>"``, one
        per record: the same whatever folder the corpus is read from or the order its files
        are listed in, and another one when a file's bytes, speaker or label differ.

    Raises
    ------
    OSError
        A file cannot be read.
    """
    from .extract import _file_key

    lines: dict[str, list[str]] = {}
    for r in records:
        lines.setdefault(r.corpus, []).append(f"{_file_key(r.path)} {r.speaker} {r.label}")
    return {c: {"files": len(v), "sha1": hashlib.sha1("\n".join(sorted(v)).encode()).hexdigest()} for c, v in lines.items()}

"""Shared pytest fixtures.

Real audio comes from the corpora folder: ``$SER_LIVE_DATA``, default ``<repo>/../shared/data``
(see that folder's README.md). Tests needing a corpus skip with a clear reason where it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest



def pytest_configure(config: pytest.Config) -> None:
    """Run the tests in the process configuration `ser-live` and `python -m train` run in
    (one BLAS thread, glibc heap thresholds): in-process results are then bit-identical to
    those of the `ser-live` subprocesses the tests compare them with, whatever test ran
    first."""
    from ser_live.runtime import tune_process

    tune_process()
    _children_start_with_default_stop_signals()


def _ignore(_signum: int, _frame: object) -> None:
    """A handler that does nothing (:func:`_children_start_with_default_stop_signals`)."""


def _children_start_with_default_stop_signals() -> None:
    """The programs the tests start get SIGINT, SIGTERM, SIGHUP and SIGQUIT at their default
    dispositions, as from a terminal, whatever this runner inherited. A runner started in the
    background (``cmd &`` ignores SIGINT and SIGQUIT) or under ``nohup`` (SIGHUP) passes an
    ignored signal on to every child, and ``ser-live`` keeps a stop signal it was started with
    ignored (so ``nohup ser-live`` outlives its terminal): the tests' signals would then not
    end the runs they test. An ignored signal is given a handler that does nothing instead:
    this process still ignores it, and a child starts with the default (exec resets handlers,
    not an ignored disposition). A test that wants one ignored sets it in the child
    (``test_sighup_is_ignored_under_nohup``)."""
    import signal

    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) == signal.SIG_IGN:
            signal.signal(signum, _ignore)

# ---- corpora (data_root and one fixture per shipped corpus) --------------------------------


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Folder holding ``ravdess/``, ``tess/``, ``emodb/``, ``samples/``; skip if absent."""
    from train.corpora import DATA_ENV_VAR, default_data_root

    env = os.environ.get(DATA_ENV_VAR)
    root = default_data_root()
    if not root.is_dir():
        source = "$SER_LIVE_DATA" if env else "default <repo>/../shared/data"
        pytest.skip(f"corpora folder {root} ({source}) not found; set SER_LIVE_DATA to it")
    return root


def _corpus_dir(data_root: Path, name: str) -> Path:
    path = data_root / name
    if not path.is_dir():
        pytest.skip(f"{name} corpus not found at {path} (set SER_LIVE_DATA to the corpora folder)")
    return path


def _corpus_root_fixture(name: str, doc: str):  # noqa: ANN202
    """A session fixture ``<name>_root``: the corpus folder, or skip where it is absent."""

    def root(data_root: Path) -> Path:
        return _corpus_dir(data_root, name)

    root.__doc__ = doc
    return pytest.fixture(scope="session", name=f"{name}_root")(root)


ravdess_root = _corpus_root_fixture("ravdess", "RAVDESS speech, ``Actor_NN/*.flac`` (1440 files).")
tess_root = _corpus_root_fixture("tess", "TESS, ``<SPK>_<emotion>/*.flac`` (2798 files).")
emodb_root = _corpus_root_fixture("emodb", "Berlin EmoDB, ``wav/*.flac`` (535 files).")
emotiontts_kor_root = _corpus_root_fixture("emotiontts_kor", "Korean emotiontts_kor sample, ``<set>/<SPK>/wav/*.flac`` (300 files).")
ased_root = _corpus_root_fixture("ased", "ASED (Amharic), ``<NNEmotion>/*.ogg`` (Ogg Opus) and ``labels.csv`` (1960 files).")
es_uem_root = _corpus_root_fixture(
    "es_uem", "es_uem (Spanish), ``data/<N>/*.ogg``, ``tests/Test1|Test2/*.ogg`` (Ogg Opus) and ``labels.csv`` (749 files)."
)


# ---- sessions (corpus files joined by pauses, built by train.sessions) ---------------------


@pytest.fixture(scope="session")
def corpus_session():
    """Factory of test sessions: corpus files joined by pauses of digital silence.

    ``corpus_session(root, relpaths, *, gap_s=1.0, pause_first=False, tail_s=0.0)`` decodes
    ``root / rel`` for each of ``relpaths`` (untrimmed) and joins them with
    :func:`train.sessions.build_session`: ``gap_s`` of silence between files, also before the
    first one when ``pause_first``, and ``tail_s`` after the last. Returns a
    :class:`train.sessions.Session` (``samples`` int16, ``spans`` of each file). Skips the
    test when a file is missing.
    """
    from train.sessions import build_session, corpus_utterances

    def make(root: Path, relpaths, *, gap_s: float = 1.0, pause_first: bool = False, tail_s: float = 0.0):
        paths = [root / rel for rel in relpaths]
        for path in paths:
            if not path.exists():
                pytest.skip(f"{path} not found (set SER_LIVE_DATA to the corpora folder)")
        return build_session(
            corpus_utterances(paths, trim=False), pauses_s=(gap_s,), pause_first=pause_first, tail_s=tail_s
        )

    return make


# ---- end of corpora fixtures ----------------------------------------------------------------


@pytest.fixture
def home_and_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A new, empty home folder (``$HOME``) and working folder (the current one) under
    ``tmp_path``: ``(tmp_path / "home", tmp_path / "work")``. For paths written with a ``~``
    the shell left as it is: where they land, and that no folder named ``~`` appears in the
    working one."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    return home, work

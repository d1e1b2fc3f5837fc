"""Where the shipped corpora live: ``$SER_LIVE_DATA``, else ``../shared/data`` next to the repository."""

from __future__ import annotations

import os
from pathlib import Path

from .records import CorpusNotFoundError

__all__ = ["DATA_ENV_VAR", "SHIPPED_CORPORA", "corpus_path", "data_root_note", "default_data_root"]

#: Environment variable naming the folder that holds ``ravdess/``, ``tess/``, ``emodb/`` ...
DATA_ENV_VAR = "SER_LIVE_DATA"

#: Corpora present in the project's shared data folder (see ``shared/data/README.md``), in
#: the order ``loco`` leaves them out.
SHIPPED_CORPORA: tuple[str, ...] = ("ravdess", "tess", "emodb", "emotiontts_kor", "ased", "es_uem")


def default_data_root() -> Path:
    """The folder that holds the shipped corpora.

    Returns
    -------
    Path
        ``$SER_LIVE_DATA`` when set, else ``<repo>/../shared/data`` (the project's shared
        data folder next to the repository; ``<repo>`` is :func:`train.workspace_root`, the
        current folder for an installed package). The folder may not exist.
    """
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser()
    from .. import REPO  # the checkout, or the current folder for an installed train package

    return REPO.parent / "shared" / "data"


def corpus_path(name: str) -> Path:
    """Folder of a shipped corpus (:data:`SHIPPED_CORPORA`) under :func:`default_data_root`.

    Parameters
    ----------
    name : str
        One of :data:`SHIPPED_CORPORA`: ``"ravdess"``, ``"tess"``, ``"emodb"``,
        ``"emotiontts_kor"``, ``"ased"`` or ``"es_uem"``.

    Returns
    -------
    Path
        An existing folder.

    Raises
    ------
    ValueError
        ``name`` is not a shipped corpus.
    CorpusNotFoundError
        The folder does not exist.
    """
    if name not in SHIPPED_CORPORA:
        raise ValueError(
            f"{name!r} is not one of the shipped corpora {SHIPPED_CORPORA}; "
            "give the folder where it lives explicitly"
        )
    root = default_data_root()
    path = root / name
    if not path.is_dir():
        raise CorpusNotFoundError(missing_message(name, path, from_default=True))
    return path


def data_root_note() -> str:
    """Where :func:`default_data_root` came from and how to point it elsewhere, for messages.

    Returns
    -------
    str
        ``"$SER_LIVE_DATA=<folder>; set SER_LIVE_DATA to the folder holding ravdess/, ..."``,
        or ``"the default <folder> ($SER_LIVE_DATA unset); set ..."`` when it is unset.
    """
    env = os.environ.get(DATA_ENV_VAR)
    where = f"${DATA_ENV_VAR}={env}" if env else f"the default {default_data_root()} (${DATA_ENV_VAR} unset)"
    return f"{where}; set {DATA_ENV_VAR} to the folder holding {', '.join(s + '/' for s in SHIPPED_CORPORA)}"


def missing_message(name: str, path: Path, *, from_default: bool) -> str:
    """The message of a :class:`CorpusNotFoundError`: where it looked and how to point elsewhere."""
    msg = f"{name} corpus not found: looked in {path}, which is not a folder. "
    if from_default:
        msg += f"The data folder came from {data_root_note()} (or, from Python, name the folder: read_corpus(name, root=FOLDER))."
    else:
        msg += f"Pass the folder that holds the {name} audio files (or set {DATA_ENV_VAR})."
    return msg


def check_root(root: str | Path, corpus: str) -> Path:
    """``root`` as an absolute path; :class:`CorpusNotFoundError` when it is not a folder."""
    path = Path(root).expanduser().absolute()
    if not path.is_dir():
        raise CorpusNotFoundError(missing_message(corpus, path, from_default=False))
    return path

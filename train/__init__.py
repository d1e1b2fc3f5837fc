"""The training and evaluation workspace of ser-live (``python -m train``).

Run from a checkout of the repository, it reads and writes the checkout's folders. ``pip
install`` installs the package too (its recipes and card template as package data); run from
there, the current folder is the workspace: models, reports and the feature cache are written
under it, never into ``site-packages``.
"""

from pathlib import Path


def workspace_root(package_parent: Path | None = None, cwd: Path | None = None) -> Path:
    """The folder ``python -m train`` reads and writes its ``models/``, ``reports/`` and
    ``.cache/`` under.

    Parameters
    ----------
    package_parent : Path, optional
        The folder the ``train`` package lies in (default: this package's).
    cwd : Path, optional
        The current folder (default: :meth:`Path.cwd`).

    Returns
    -------
    Path
        ``package_parent`` when it is a checkout of the repository (it holds
        ``pyproject.toml`` and ``ser_live/``); otherwise (an installed package, e.g. in
        ``site-packages``) ``cwd``, resolved.
    """
    parent = Path(__file__).resolve().parent.parent if package_parent is None else Path(package_parent)
    if (parent / "pyproject.toml").is_file() and (parent / "ser_live").is_dir():
        return parent
    return (Path.cwd() if cwd is None else Path(cwd)).resolve()


#: The workspace (:func:`workspace_root`): the repository's root folder, the one ``train/``
#: lies in, when run from a checkout; where reports, the feature cache and fitted models go.
REPO = workspace_root()

#: Where evaluation reports are written and model cards read them from (``reports/``).
REPORTS = REPO / "reports"

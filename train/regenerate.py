"""``python -m train reports``: the commands that regenerate the committed ``reports/``.

A user's run writes its reports where ``--out`` says (``reports/`` by default); the committed
reports and the model cards that quote them are made by the commands of
:data:`REPORT_COMMANDS`, run in that order (the cards last, since they read the reports).
Each command is recorded in its reports exactly as listed here, so a report names the
command that made it.

Not regenerated (their commands are gone; kept as history, and said so in their own files):
``reports/ravdess-6fold-svm*``, ``reports/emodb-loso-svm-aug*``, ``reports/cross_*-svm-aug*``
(the pre-recipe SVM, ``evaluate --augment``), ``reports/cnn-framework-choice.md`` (prose),
and ``reports/experiments/`` (each experiment's report names its own command).
"""

from __future__ import annotations

from typing import Callable, Sequence

__all__ = ["REPORT_COMMANDS", "select_commands", "regenerate"]

_WITHIN = ["--protocol", "ravdess-6fold", "emodb-loso", "tess-loso", "emotiontts_kor-loso"]

#: Name -> ``python -m train`` arguments, in the order they run.
REPORT_COMMANDS: dict[str, list[str]] = {
    "ser-default-within": ["evaluate", *_WITHIN],
    "ser-default-loco": ["evaluate", "--protocol", "loco"],
    "ser-7class-within": ["evaluate", *_WITHIN, "--recipe", "train/recipes/ser-7class.toml"],
    "ser-7class-loco": ["evaluate", "--protocol", "loco", "--recipe", "train/recipes/ser-7class.toml"],
    "ser-noisy-loco": ["evaluate", "--protocol", "loco", "--recipe", "ser-noisy"],
    "personal": ["evaluate", "--protocol", "personal"],
    "room": ["evaluate", "--protocol", "loco", "--condition", "room"],
    "room-denoise": ["evaluate", "--protocol", "loco", "--condition", "room", "--denoise"],
    "room-ser-noisy": ["-j", "1", "evaluate", "--protocol", "loco", "--condition", "room", "--recipe", "ser-noisy"],
    "compare": ["compare", "--protocol", "ravdess-6fold"],
    "compare-deep": ["-v", "-j", "1", "compare", "--protocol", "ravdess-6fold", "--classifiers", "cnn", "cnn-lstm"],
    "ablation-c1e-3": ["ablate", "--reuse-reports", "--recipe", "train/recipes/experiments/ser-default-c1e-3-clean.toml"],
    "ablation-c1e-4": ["ablate", "--reuse-reports", "--recipe", "train/recipes/experiments/ser-default-c1e-4-clean.toml"],
    "card-ser-default": ["card", "--model", "models/ser-default.skops"],
    "card-ser-7class": ["card", "--model", "models/ser-7class.skops"],
    "card-ser-noisy": ["card", "--model", "models/ser-noisy.skops"],
}


def select_commands(only: Sequence[str] | None) -> dict[str, list[str]]:
    """The commands whose name contains one of ``only`` (all of them when ``only`` is empty).

    Parameters
    ----------
    only : sequence of str or None

    Returns
    -------
    dict of str to list of str
        In :data:`REPORT_COMMANDS` order.

    Raises
    ------
    ValueError
        A name in ``only`` matches no command.
    """
    if not only:
        return dict(REPORT_COMMANDS)
    unknown = [o for o in only if not any(o in name for name in REPORT_COMMANDS)]
    if unknown:
        raise ValueError(f"reports --only: no command named like {', '.join(unknown)} (one of {', '.join(REPORT_COMMANDS)})")
    return {name: argv for name, argv in REPORT_COMMANDS.items() if any(o in name for o in only)}


def regenerate(
    commands: dict[str, list[str]], *, run: Callable[[list[str]], int], emit: Callable[[str], None]
) -> int:
    """Run the commands in order; stop at the first that fails.

    Parameters
    ----------
    commands : dict of str to list of str
        :func:`select_commands`' output.
    run : callable
        ``run(argv) -> exit code`` (``train.__main__.main``).
    emit : callable
        Prints one line.

    Returns
    -------
    int
        0, or the exit code of the command that failed.
    """
    for name, argv in commands.items():
        emit(f"== {name}: python -m train {' '.join(argv)}")
        code = run(list(argv))
        if code:
            emit(f"{name} failed (exit {code}); the reports after it were not regenerated")
            return code
    return 0

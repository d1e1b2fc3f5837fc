"""ser-live: real-time speech emotion recognition from a microphone.

The public namespace re-exports the pieces a user scripts with, and the results and errors
they give (``Result``, ``Prediction``, ``SerLiveError`` and its subclasses); each lives in its
own module and is imported on first access (PEP 562 module ``__getattr__``), so
``import ser_live`` and the CLI's start-up stay fast.

Examples
--------
>>> from ser_live import EmotionModel, FileSource, Recognizer
>>> with Recognizer(FileSource("speech.wav", speed=0), EmotionModel.load()) as rec:  # doctest: +SKIP
...     for result in rec:
...         print(result.label, result.confidence)
"""

from __future__ import annotations

import sys as _sys


def _program_starting() -> bool:
    """Whether this import is the ``ser-live`` program starting (its console script, the
    capture tests' ``runpy`` launcher, or ``python -m ser_live``), not a script that uses
    the package."""
    import os

    if _sys.argv and os.path.basename(_sys.argv[0]) in ("ser-live", "ser-live.exe"):
        return True
    orig = list(getattr(_sys, "orig_argv", ()))  # Python 3.10+: the command line as given
    return any(a == "-mser_live" or (a == "-m" and orig[i + 1:i + 2] == ["ser_live"]) for i, a in enumerate(orig))


def _interrupted_at_start(signum: int, frame: object) -> None:
    """Ctrl-C or a stop signal before the program's own handling is in place: nothing is
    under way that could be saved, so say so and exit 130 at once (``os._exit``), where
    Python's default would raise KeyboardInterrupt inside an import (a traceback, and the
    process killed by SIGINT). :func:`ser_live.signals.stop_signals_as_interrupt_from_now`,
    the program's first step, takes over from it."""
    import os

    try:
        os.write(2, b"ser-live: interrupted\n")
    except OSError:  # stderr closed
        pass
    os._exit(130)


if _program_starting():
    # The first thing the program runs: its modules (this package's, then the command's)
    # import for about 0.1 s before ser_live.entry puts its handling in place, and a Ctrl-C
    # there ended in a traceback, exit -2 (benchmarks/interrupts --microphone: 2 and 3 runs
    # of 300). Signals ignored when the program starts (nohup, a background job) stay ignored.
    import _signal

    for _name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"):
        _num = getattr(_signal, _name, None)
        if _num is not None and _signal.getsignal(_num) in (_signal.default_int_handler, _signal.SIG_DFL):
            _signal.signal(_num, _interrupted_at_start)

import importlib  # noqa: E402 (after the start-up handler: as early as possible)
from typing import TYPE_CHECKING, Any  # noqa: E402

__version__ = "0.1.0"

#: Public name -> module that defines it.
_EXPORTS: dict[str, str] = {
    "Recognizer": "ser_live.pipeline",
    "EmotionModel": "ser_live.model",
    "FeatureExtractor": "ser_live.features",
    "VadConfig": "ser_live.vad",
    "FileSource": "ser_live.audio",
    "MicrophoneSource": "ser_live.audio",
    "PushSource": "ser_live.audio",
    "Predictor": "ser_live.offline",
    # what a script receives and catches
    "Result": "ser_live.types",
    "Prediction": "ser_live.types",
    "SerLiveError": "ser_live.errors",
    "AudioFileError": "ser_live.errors",
    "NoSpeechError": "ser_live.errors",
    "ModelError": "ser_live.errors",
    "DeviceError": "ser_live.errors",
    "CaptureError": "ser_live.errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .audio import FileSource, MicrophoneSource, PushSource
    from .errors import AudioFileError, CaptureError, DeviceError, ModelError, NoSpeechError, SerLiveError
    from .features import FeatureExtractor
    from .model import EmotionModel
    from .offline import Predictor
    from .pipeline import Recognizer
    from .types import Prediction, Result
    from .vad import VadConfig


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'ser_live' has no attribute {name!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # a dependency of the module is missing: say which
        raise ImportError(f"ser_live.{name} needs the module {module_name}, which this installation lacks") from exc
    value = getattr(module, name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    """The public names only (:data:`__all__`): what ``dir(ser_live)`` and completion show,
    not the helpers this module imports (``importlib``, ``Any``, ``TYPE_CHECKING``)."""
    return sorted(__all__)

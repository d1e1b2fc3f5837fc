"""Stop signals while a command runs: the CLI's names for :mod:`ser_live.signals` (the one
place they are defined, shared with :mod:`ser_live.batch`)."""

from __future__ import annotations

from ..signals import STOP_SIGNALS as _STOP_SIGNALS
from ..signals import signals_deferred as _signals_deferred
from ..signals import stop_signals_as_interrupt as _stop_signals_as_interrupt
from ..signals import stop_signals_ignored as _stop_signals_ignored
from ..signals import time_limited as _at_most

__all__ = ["_STOP_SIGNALS", "_at_most", "_signals_deferred", "_stop_signals_as_interrupt", "_stop_signals_ignored"]

"""Calibration workflows: the labelled takes a personal profile is built from.

Two ways to collect them, one result (a :class:`~ser_live.profile.Profile` built by
:func:`~ser_live.profile.build_profile`):

* :class:`LiveCalibration`, guided: prompts (a sentence and the emotion to say it in, ``per_class``
  times per label) are answered through a :class:`~ser_live.pipeline.Recognizer`; each take is
  one utterance cut by the live segmenter, checked (:class:`~ser_live.profile.TakeCheck`) and
  kept with the features the recogniser's worker extracted for it
  (:attr:`~ser_live.types.Result.features`: no second extraction).
* :func:`read_calibration_takes` and :func:`profile_from_takes` (:func:`calibrate_from_csv`
  does both): recordings listed in a ``path,label`` CSV, each trimmed to its speech span as
  training files are and checked as a guided take is (a take that fails is left out, with
  the guided flow's reason).

Either way each kept take carries what the model heard in it without a profile (its label
and probability), and :func:`takes_read_as_labels` counts the takes the profile reads as their
labels, and the model without it (on the takes the profile was fitted on: not a held-out score).

Showing the progress is the caller's (``ser-live calibrate``: :mod:`ser_live.cli.calibrate`
with the renderers of :mod:`ser_live.dashboard`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import SerLiveError
from .profile import (
    ProfileConfig, ProfileError, TakeCheck, _name_some, build_profile, calibration_prompts, read_calibration_csv, too_few,
)

if TYPE_CHECKING:  # pragma: no cover
    from .model import EmotionModel
    from .profile import Profile
    from .types import Result
    from .vad import VadConfig

__all__ = ["FileTake", "LiveCalibration", "calibrate_from_csv", "check_profile_destination", "profile_from_takes",
           "read_calibration_takes", "takes_read_as_labels"]

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # absent on Windows


def check_profile_destination(path: str | Path) -> None:
    """Check, before any take is recorded or read, that a profile can be saved at ``path``:
    it is not a folder or a special file (a device, a FIFO), and its folder exists (created
    here when missing) and takes a new file (a probe file of an unguessable name is created
    with ``O_EXCL | O_NOFOLLOW`` and removed at once). A target that fails only after
    a minute of takes would lose the session.

    Parameters
    ----------
    path : str or Path
        Where :meth:`~ser_live.profile.Profile.save` will write.

    Raises
    ------
    ProfileError
        The profile could not be saved there (exit 2); the message names the path and the
        reason. A full disk is found only when saving (the profile is a few kB).
    """
    p = Path(path)
    cannot = f"cannot save the profile to {p}"
    probe = p.parent / f".{p.name}.{secrets.token_hex(8)}.probe"
    try:  # a stat can fail too (a name too long for the file system)
        if p.is_dir():
            raise ProfileError(f"{cannot}: it is a folder; give a file path or a bare name")
        if p.exists() and not p.is_file():
            raise ProfileError(f"{cannot}: it is not a regular file")
        folder = p.parent
        broken = folder.is_symlink() and not folder.exists()
        if broken or folder.exists() and not folder.is_dir():  # mkdir(2) would say only "File exists"
            what = "a broken symlink" if broken else "a file"
            raise ProfileError(f"{cannot}: {folder} is {what}, not a folder; nothing recorded (choose another --profile)")
        p.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o600))
        os.unlink(probe)
    except OSError as exc:
        raise ProfileError(f"{cannot}: {exc.strerror or exc}; nothing recorded (choose another --profile)") from exc


class LiveCalibration:
    """Guided calibration: prompted takes from a live source, each checked and kept.

    Parameters
    ----------
    model : EmotionModel
        The model the profile is for; its labels are prompted in order.
    source : audio source
        :class:`~ser_live.audio.MicrophoneSource` or :class:`~ser_live.audio.FileSource`
        (a replayed file answers the prompts in order: label by label).
    per_class : int
        Takes per label (at least 1).
    vad_config : VadConfig
        The segmenter's configuration (its ``min_utterance_s`` names the "too short" reason).
    source_name : str
        Shown to the user.
    profile_path : str or Path
        Where the profile will be saved (shown to the user).

    Attributes
    ----------
    state : CalibrationState
        Prompts, accepted and rejected takes (what :mod:`ser_live.dashboard` renders).
    features : list of np.ndarray, float, shape (n_features,)
        Features of each accepted take, as the recogniser's worker extracted them.
    label_indices : list of int
        Index into ``model.labels`` of each accepted take.
    route_db : list of float
        The SNR (dB) the noise route decided each accepted take by (NaN: its own column).
    recognizer : Recognizer
        The live pipeline (no session normalisation: a take is classified on its own).
    """

    def __init__(
        self, model: "EmotionModel", source: Any, *, per_class: int, vad_config: "VadConfig",
        source_name: str, profile_path: str | Path,
    ) -> None:
        from .calibration_view import CalibrationState
        from .pipeline import Recognizer

        self.model = model
        self.vad_config = vad_config
        self.prompts = calibration_prompts(model.labels, per_class=per_class)
        self.recognizer = Recognizer(source, model, vad_config=vad_config, session_norm=False,
                                     source_name=source_name)
        self.state: CalibrationState = CalibrationState(
            self.prompts, model_name=model.name, source_name=source_name, profile_path=str(profile_path))
        self.check = TakeCheck()
        self.features: list[np.ndarray] = []
        self.label_indices: list[int] = []
        self.route_db: list[float] = []

    @property
    def complete(self) -> bool:
        """Every prompt has its accepted take."""
        return self.state.current is None

    def take(self, result: "Result") -> None:
        """Judge one final utterance as the answer to the current prompt: accept it (its
        features kept) or reject it with the reason.

        Parameters
        ----------
        result : Result
            A final result of :attr:`recognizer` (``result.features`` set by its worker).
        """
        vad = self.vad_config
        reason = self.check.reason(result.utterance.samples, aggressiveness=vad.aggressiveness, frame_ms=vad.frame_ms)
        if reason is None and result.features is None:
            reason = "unusable (no features)"
        if reason is not None:
            self.state.reject(str(reason))
            return
        self.features.append(np.asarray(result.features))
        self.label_indices.append(self.model.labels.index(self.state.current[0]))  # type: ignore[index]
        self.route_db.append(np.nan if result.route_db is None else float(result.route_db))
        self.state.accept(result.utterance.duration_s, heard=(result.label, float(result.confidence)))

    def run(self, show: Callable[[bool], None], *, watch: Callable[[Any], None] | None = None) -> None:
        """Collect takes until every prompt is answered or the source ends.

        The recogniser must be started (:meth:`Recognizer.start`); stopping it is the
        caller's (a ``KeyboardInterrupt`` passes through, takes kept so far stay in
        :attr:`features`).

        Parameters
        ----------
        show : callable(bool)
            Called after each change of :attr:`state`: with True for an event (a take
            accepted or rejected), False for a status change only (level, noise floor).
        watch : callable(RecognizerStatus), optional
            Called with the recogniser's status at every poll (about 20 times a second), e.g.
            to tell a muted input (``ser-live calibrate``: :class:`~ser_live.cli.stream_events.StreamEvents`).
        """
        rec = self.recognizer
        show(True)
        shown_version, short_seen = self.state.version, 0
        while not self.complete:
            r = rec.get_result(timeout_s=0.05)
            st = rec.status()
            if watch is not None:
                watch(st)
            if st.dropped_short > short_seen:  # a burst the VAD dropped as too short
                short_seen = st.dropped_short
                self.state.reject(f"too short (under {self.vad_config.min_utterance_s:g} s)")
                show(True)
            if r is None:
                self.state.set_status(st)
                if self.state.version != shown_version:
                    shown_version = self.state.version
                    show(False)
                if rec.finished:
                    break
                continue
            if not r.final:
                continue
            self.take(r)
            shown_version = self.state.version
            show(True)

    def profile(self, *, name: str) -> "Profile":
        """The profile of the accepted takes (:func:`~ser_live.profile.build_profile`).

        Parameters
        ----------
        name : str
            The profile's name (``ser-live calibrate``: the file's stem).

        Returns
        -------
        Profile
            Built from :attr:`features` and :attr:`label_indices`.

        Raises
        ------
        ProfileError
            The takes are not complete (the source ended first: how many were done is said),
            or :func:`~ser_live.profile.build_profile` refuses them.
        """
        s = self.state
        if not self.complete:
            raise ProfileError(
                f"{s.source_name} ended after {s.done} of {s.total} takes ({s.rejected} rejected); "
                "no profile written"
            )
        return build_profile(self.model, np.stack(self.features), np.array(self.label_indices), name=name)

    def read_as_labels(self, profile: "Profile") -> tuple[int, int]:
        """How many accepted takes ``profile`` reads as their labels, and the model without
        it (:func:`takes_read_as_labels`, with each take's noise route as live decided it).

        Returns
        -------
        (int, int)
            With the profile, without it.
        """
        return takes_read_as_labels(self.model, profile, X=np.stack(self.features), y=np.array(self.label_indices),
                                    route_db=np.array(self.route_db, dtype=np.float64))


def takes_read_as_labels(model: "EmotionModel", profile: "Profile", *, X: np.ndarray, y: np.ndarray,
                         route_db: np.ndarray | None = None) -> tuple[int, int]:
    """How many calibration takes the model reads as their labels with ``profile`` and without.

    Counted on the takes the profile was fitted on, each its own session: how the profile
    fits them, not a held-out score (``python -m train evaluate --protocol personal`` gives one).

    Parameters
    ----------
    model : EmotionModel
        The model without a profile.
    profile : Profile
        Made for ``model``.
    X : np.ndarray, float, shape (n_takes, n_features)
    y : np.ndarray, int, shape (n_takes,)
        Index into ``model.labels`` of each take's label.
    route_db : np.ndarray, float, shape (n_takes,), optional
        The SNR (dB) the noise route decides each take by (NaN: its own column), as
        :meth:`EmotionModel.predict_proba <ser_live.model.EmotionModel.predict_proba>`.

    Returns
    -------
    (int, int)
        Takes whose top label is their label, with the profile and without it.

    Raises
    ------
    ProfileError
        ``profile`` was made for another model.
    """
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=int)
    with_profile = profile.apply(model).predict_proba(X, route_db=route_db)
    without = model.predict_proba(X, route_db=route_db)
    return int(np.sum(with_profile.argmax(axis=1) == y)), int(np.sum(without.argmax(axis=1) == y))


@dataclass(frozen=True, eq=False)
class FileTake:
    """One recording of a calibration list, judged as a guided take is.

    Attributes
    ----------
    path : Path
    label : str
        Its label in the list.
    duration_s : float
        Its speech span as the live segmenter would cut it (pre-roll and hangover included;
        the whole file when the VAD finds no utterance), in seconds.
    reason : str or None
        Why it is left out (:meth:`TakeCheck.reason <ser_live.profile.TakeCheck.reason>`, the
        guided flow's reason), None when it is kept.
    features : np.ndarray or None, float, shape (n_features,)
        The features of its speech span; None when left out.
    heard : (str, float) or None
        What the model heard in it without a profile: the top label and its probability;
        None when left out.
    """

    path: Path
    label: str
    duration_s: float
    reason: str | None = None
    features: np.ndarray | None = None
    heard: tuple[str, float] | None = None


def read_calibration_takes(
    model: "EmotionModel", csv_path: str | Path, *, vad_config: "VadConfig", check: TakeCheck | None = None
) -> list[FileTake]:
    """Read and judge the recordings listed in a ``path,label`` CSV, as guided takes are judged.

    Each file is decoded (at most :data:`~ser_live.offline.WHOLE_FILE_MAX_S` seconds) and
    trimmed to the speech span the VAD finds (as training files are); the span (the whole file
    when there is none) is checked by ``check`` as the guided flow checks a take (clipped, too
    short, too quiet, not speech); a take that passes gets its features and what the model
    heard in it.

    Parameters
    ----------
    model : EmotionModel
    csv_path : str or Path
        Header ``path,label`` (:func:`~ser_live.profile.read_calibration_csv`).
    vad_config : VadConfig
        The segmenter's parameters (trim, and the VAD mode and frame of the check).
    check : TakeCheck, optional
        Default :class:`~ser_live.profile.TakeCheck` ``()``, the guided flow's.

    Returns
    -------
    list of FileTake
        One per listed recording, in list order; those that fail the check have a ``reason``.

    Raises
    ------
    ProfileError
        A bad CSV (header, unknown label, a label with no recording, a missing file), or
        recordings that cannot be read (the first few are named); nothing is judged then.
    """
    from .audiofile import SAMPLE_RATE_HZ, decode_audio
    from .offline import WHOLE_FILE_MAX_S
    from .vad import speech_span

    check = check or TakeCheck()
    rows = read_calibration_csv(csv_path, model.labels, min_per_label=1)
    takes: list[FileTake] = []
    bad = []
    for f, lab in rows:
        try:
            y = decode_audio(f, max_duration_s=WHOLE_FILE_MAX_S)
            span = speech_span(y, config=vad_config, sample_rate_hz=SAMPLE_RATE_HZ)
            x = y if span is None else y[span[0]:span[1]]
            reason = check.reason(x, aggressiveness=vad_config.aggressiveness, frame_ms=vad_config.frame_ms,
                                  sample_rate_hz=SAMPLE_RATE_HZ)
            if reason is None and span is None:
                reason = "no speech detected"
            feats = None if reason is not None else model.extractor.extract(x)
            takes.append(FileTake(f, lab, len(x) / SAMPLE_RATE_HZ, reason=reason, features=feats))
        except (SerLiveError, ValueError) as exc:
            bad.append(f"{f.name} ({str(exc).removeprefix(str(f) + ': ')})")
    if bad:
        raise ProfileError(f"calibration list {csv_path}: {len(bad)} unusable recording(s): "
                           f"{_name_some(bad)}; nothing written")
    kept = [i for i, t in enumerate(takes) if t.reason is None]
    if kept:
        proba = model.predict_proba(np.stack([takes[i].features for i in kept]))  # type: ignore[misc]
        for i, p in zip(kept, proba):
            top = int(np.argmax(p))
            takes[i] = replace(takes[i], heard=(model.labels[top], float(p[top])))
    return takes


def profile_from_takes(model: "EmotionModel", takes: Sequence[FileTake], *, name: str,
                       source: str | Path) -> "Profile":
    """Build a profile from the kept takes of a calibration list (those without a ``reason``).

    Parameters
    ----------
    model : EmotionModel
    takes : sequence of FileTake
        :func:`read_calibration_takes`.
    name : str
        The profile's name.
    source : str or Path
        The calibration list (named in a refusal).

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        A label left with fewer kept takes than :attr:`ProfileConfig.min_per_label
        <ser_live.profile.ProfileConfig.min_per_label>`: the takes left out and why are
        named; nothing written.
    """
    kept = [t for t in takes if t.reason is None]
    need = ProfileConfig().min_per_label
    short = too_few("takes", model.labels, counts=[sum(t.label == lab for t in kept) for lab in model.labels], need=need)
    if short:
        left = [f"{t.path.name} ({t.reason})" for t in takes if t.reason is not None]
        raise ProfileError(f"calibration list {source}: {len(left)} take(s) left out: {_name_some(left)}; "
                           f"{short}; nothing written")
    return build_profile(model, np.stack([t.features for t in kept]),  # type: ignore[misc]
                         np.array([model.labels.index(t.label) for t in kept]), name=name)


def calibrate_from_csv(
    model: "EmotionModel", csv_path: str | Path, *, vad_config: "VadConfig", name: str
) -> "Profile":
    """Build a profile from recordings listed in a ``path,label`` CSV:
    :func:`read_calibration_takes`, then :func:`profile_from_takes`.

    Parameters
    ----------
    model : EmotionModel
    csv_path : str or Path
        Header ``path,label`` (:func:`~ser_live.profile.read_calibration_csv`).
    vad_config : VadConfig
    name : str
        The profile's name.

    Returns
    -------
    Profile
        Built from one feature row per kept recording (a take that fails the guided flow's
        checks is left out).

    Raises
    ------
    ProfileError
        A bad CSV (header, unknown label, a label with no recording, a missing file),
        recordings that cannot be read, or a label left with no kept take (the first few
        are named).
    """
    takes = read_calibration_takes(model, csv_path, vad_config=vad_config)
    return profile_from_takes(model, takes, name=name, source=csv_path)

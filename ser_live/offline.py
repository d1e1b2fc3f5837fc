"""Offline prediction: one object, :class:`Predictor`, with uniform verbs.

As opensmile's ``Smile`` (``process_signal``, ``process_file``, ``process_files``), one
object holds the model and the segmenter settings and each verb takes a signal, a file or
many files, whole (one prediction, the speech span trimmed as training files are trimmed)
or cut into utterances (``segments=True``, exactly as the live recogniser cuts them).

Files are decoded by :func:`~ser_live.audiofile.decode_audio`, the one decoder the replay,
``ser-live predict`` (whole or ``--segments``) and training share, so a whole-file
prediction, the segments and a replay see the same samples at any original sample rate.

Sessions
--------
A model with a session normaliser (:mod:`ser_live.normalize`) standardises each utterance's
features with statistics of its *session* (one speaker through one microphone), shrunk
towards the training prior. Here:

* a whole file with no ``sessions`` is its own session of one utterance (the normaliser's
  ``groups=None``: the prior with the utterance's own values weighted as one utterance);
* ``segments=True`` makes each file one session, normalised online in utterance order with
  a :class:`~ser_live.normalize.SessionState`, exactly as the live recogniser does
  (:func:`classify_utterance` is the one place both call);
* ``process_files(paths, sessions=mapping)`` normalises the files of one session together,
  with all of that session's utterances (two passes: extract everything, then
  ``model.predict_proba(X, groups=sessions)``); :func:`read_sessions_csv` reads the mapping
  from a ``path,session`` CSV;
* ``segments=True`` with ``speakers`` of 2 or more or ``"auto"`` (``predict --segments
  --speakers N``) attributes each utterance of a file to a voice (:mod:`ser_live.speakers`) and normalises
  it online with that voice's own session (:func:`classify_turn`, shared with live).

References
----------
opensmile-python, ``opensmile/core/smile.py``: https://github.com/audeering/opensmile-python
"""

from __future__ import annotations

import csv
import logging
import math
import numbers
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from .audiofile import SAMPLE_RATE_HZ, AudioInfo, audio_info, decode_audio, to_int16, warn_if_narrowband
from .denoise import with_denoise
from .features import FeatureExtractor
from .errors import AudioFileError, NoSpeechError, SerLiveError
from .levels import MAX_CLIPPED_FRACTION, clipped_fraction
from .model import EmotionModel, require_model
from .fastpath import SessionState
from .forksafe import fork_guard
from .rolling import DEFAULT_HALF_LIFE_S, RollingEstimate
from .speakers import SpeakerRolling, SpeakerSessions, speaker_mode
from .types import Prediction, Result, Utterance
from .vad import Segmenter, VadConfig, resample_signal, segment_signal, speech_span

__all__ = [
    "Predictor",
    "SessionsError",
    "SpeechStretch",
    "WHOLE_FILE_MAX_S",
    "classify_turn",
    "classify_utterance",
    "read_sessions_csv",
    "tone_fraction",
    "TONE_FRACTION",
]

log = logging.getLogger(__name__)

#: The samples of an utterance whose audio is not kept (``keep_audio=False``).
_NO_SAMPLES = np.zeros(0, np.int16)
_NO_SAMPLES.flags.writeable = False

#: Longest file (s) taken as one utterance; longer ones need ``segments=True``.
WHOLE_FILE_MAX_S: float = 60.0
#: How many offending paths a sessions error names before "and N more".
_NAMED_PATHS = 3
#: :func:`tone_fraction` at or above which a whole-file prediction is logged as "not
#: speech?". A pure or lightly noisy tone gives 0.999-1.0; speech reached at most 0.967
#: (a sung-like ASED "sad" take) and mostly below 0.8 over about 170 files of RAVDESS, TESS,
#: ASED and es_uem measured when this was set (issue 22).
TONE_FRACTION: float = 0.99


class SessionsError(SerLiveError, ValueError):
    """A sessions mapping or ``path,session`` CSV that does not fit the inputs: unreadable,
    no ``path,session`` header, an empty cell, a path given two sessions, an input file it
    lacks, or a path that is not among the inputs. Exit status 2 (a usage error)."""

    exit_code = 2


#: Longest pause (s, from an utterance's last voiced sample to the next one's first sample)
#: after which :class:`SpeechStretch` still reads the next utterance's SNR together with
#: it. Between the cuts of one split sentence the pause has a median of 0.36-0.51 s, between
#: consecutive sentences a 10th percentile of 0.66-0.96 s (``python -m benchmarks.vad_splits
#: --seed 0 1 2``: EmoDB sessions at -20 to -40 dBFS over silence and 5-40 dB SNR floors).
JOIN_PAUSE_S: float = 0.6
#: Most audio (s) a stretch holds; older utterances drop out of it first.
MAX_STRETCH_S: float = 12.0


class SpeechStretch:
    """The SNR a live listener reads over the stretch of speech an utterance ends: the
    utterance joined with the ones just before it, for the noise route.

    Over a noise floor the segmenter cuts some sentences in two at a pause inside them (the
    floor masks the soft parts of words). A piece holds fewer of the sentence's loud frames
    than the whole, so its own SNR column (``rms_db_p5_95``) reads lower: at -30 dBFS over a
    white -50 dBFS floor live sent 9 % of its results to the noise branch where offline,
    scoring each whole sentence, sent 0-1 % (``python -m benchmarks.live_offline``,
    docs/experiments.md, "The route over a stretch"). Here the column is read
    over the utterance joined with the utterances before it that followed one another with
    pauses of at most ``join_pause_s``, up to ``max_s`` of audio: the SNR over the stretch
    of speech, as a listener would judge it. An utterance after a longer pause (or the first)
    is read alone, exactly as offline; the classifier's own input is always the utterance's
    features. Used by the live worker and by offline segments alike (one state per stream).

    Parameters
    ----------
    model : EmotionModel
        Its noise route names the column; a model without one gets None for every utterance.
    join_pause_s : float, default JOIN_PAUSE_S
        Seconds.
    max_s : float, default MAX_STRETCH_S
        Seconds.
    """

    def __init__(self, model: EmotionModel, *, join_pause_s: float = JOIN_PAUSE_S,
                 max_s: float = MAX_STRETCH_S) -> None:
        route = getattr(model, "noise_route", None)
        self.column = None if route is None else int(route.column)
        self.join_pause_samples = int(round(float(join_pause_s) * SAMPLE_RATE_HZ))
        self.max_samples = int(round(float(max_s) * SAMPLE_RATE_HZ))
        fx = model.extractor
        # the level spread alone where the route reads it (a denoising extractor: whole)
        self._spread = (type(fx) is FeatureExtractor and route is not None
                        and fx.feature_names()[self.column] == "rms_db_p5_95")
        self._fx = fx
        self._pieces: list[np.ndarray] = []
        self._last_voiced: int | None = None

    def route_db(self, utt: Utterance) -> float | None:
        """Add the next utterance of the stream; the SNR (dB) to route it by.

        Parameters
        ----------
        utt : Utterance
            The stream's next utterance (sample indices of the same stream as the ones
            before it).

        Returns
        -------
        float or None
            The route's column over the stretch the utterance ends; None when the stretch is
            the utterance alone (route by its own column) or the model has no noise route.
        """
        if self.column is None:
            return None
        follows = self._last_voiced is not None and utt.start_sample - self._last_voiced <= self.join_pause_samples
        if not follows:
            self._pieces = []
        self._pieces.append(utt.samples)
        self._last_voiced = utt.last_voiced_sample
        while len(self._pieces) > 1 and sum(len(p) for p in self._pieces) > self.max_samples:
            self._pieces.pop(0)
        if len(self._pieces) == 1:
            return None
        y = np.concatenate(self._pieces)
        try:
            return self._fx.level_spread_db(y) if self._spread else float(self._fx.extract(y)[self.column])
        except ValueError:  # pragma: no cover - cannot happen: longer than the utterance the extractor took
            return None


def classify_utterance(
    model: EmotionModel, samples: np.ndarray, session: SessionState | None = None, *,
    route_db: float | None = None,
) -> tuple[Prediction, int | None, np.ndarray]:
    """Classify one utterance, normalised with a live session's running statistics.

    The one code path of the live worker (:class:`~ser_live.pipeline.Recognizer`) and of
    offline segments, so both give identical predictions.

    Parameters
    ----------
    model : EmotionModel
    samples : np.ndarray, int16 or float32 in [-1, 1], shape (n_samples,)
        16 kHz mono utterance.
    session : SessionState, optional
        The session's running statistics (:meth:`EmotionModel.new_session`); the utterance's
        features are added to them (``session.update(x)``) before it is normalised with
        them. None: the utterance is its own session (or the model has no normaliser).
    route_db : float, optional
        The SNR (dB) the noise route decides by (:meth:`SpeechStretch.route_db`); None: the
        utterance's own column.

    Returns
    -------
    (Prediction, int or None, np.ndarray)
        The prediction, the utterances the session statistics rest on (this one included;
        None without a session), and the utterance's features before any normalisation
        (float, shape (n_features,): what :attr:`~ser_live.types.Result.features` carries).

    Raises
    ------
    ValueError
        Audio the extractor cannot take (too short); the session is then left unchanged.
    """
    return _predict_in_session(model, model.extractor.extract(samples), session, route_db)


def _predict_in_session(
    model: EmotionModel, x: np.ndarray, session: SessionState | None, route_db: float | None = None
) -> tuple[Prediction, int | None, np.ndarray]:
    """``x`` joins ``session`` (when there is one) and is classified with it: the tail
    :func:`classify_utterance` and :func:`classify_turn` share."""
    if session is None:
        return model.predict_features(x, route_db=route_db), None, x
    session.update(x)
    return model.predict_features(x, session=session, route_db=route_db), session.n_utterances, x


def _set_revised_speakers(results: list[Result]) -> None:
    """Set :attr:`Result.speaker_revised` on a file's results (in order of arrival): each
    utterance's speaker after the last re-clustering that held it, i.e. its speaker at the
    moment moved by every :attr:`Result.speakers_moved` after it. For the utterances the
    speakers' latest re-clustering holds (the assigner's latest ``history``) that is its
    label there (:meth:`SpeakerSessions.revised_labels
    <ser_live.speakers.SpeakerSessions.revised_labels>`); an older one keeps the label it had
    when it dropped out of the history, so every utterance of a long call has one."""
    labels: dict[int, str | None] = {}
    for res in results:
        labels[res.utterance.index] = res.speaker
        labels.update(res.speakers_moved or {})
    for res in results:
        res.speaker_revised = labels.get(res.utterance.index)


def classify_turn(
    model: EmotionModel, samples: np.ndarray, speakers: SpeakerSessions, *, route_db: float | None = None
) -> tuple[Prediction, int | None, np.ndarray, str]:
    """Classify one utterance of a run with speaker turns: attribute it to a speaker, then
    normalise it with that speaker's session (:class:`~ser_live.speakers.SpeakerSessions`),
    and report the prediction back to the speakers (:meth:`SpeakerSessions.observe
    <ser_live.speakers.SpeakerSessions.observe>`: with a known count, the clustering's shared
    arousal offset reads it).

    The one code path of the live worker and of offline segments with speaker turns. With
    ``SpeakerSessions(max_speakers=1)`` the prediction and session count are exactly those of
    :func:`classify_utterance` with the run's one session.

    Parameters
    ----------
    model : EmotionModel
    samples : np.ndarray, int16 or float32 in [-1, 1], shape (n_samples,)
        16 kHz mono utterance.
    speakers : SpeakerSessions
        The run's speakers; the utterance joins its speaker's statistics and session.
    route_db : float, optional
        As :func:`classify_utterance`.

    Returns
    -------
    (Prediction, int or None, np.ndarray, str)
        As :func:`classify_utterance`, plus the speaker's label (``"A"``, ``"B"``, ...).

    Raises
    ------
    ValueError
        Audio the extractor cannot take (too short), or features with non-finite values
        while sessions are normalised; the speakers are then left unchanged.
    """
    x, frames = speakers.extract(samples)
    return classify_turn_features(model, x, speakers, frames=frames, route_db=route_db)


def classify_turn_features(
    model: EmotionModel, x: np.ndarray, speakers: SpeakerSessions, *,
    frames: tuple[np.ndarray, np.ndarray] | None = None, route_db: float | None = None
) -> tuple[Prediction, int | None, np.ndarray, str]:
    """:func:`classify_turn` from the utterance's raw features (``speakers.extractor``'s
    output, float32 (n_features,)) and, for the supervector embedding of a known count, its
    framewise MFCCs and voicing (``frames``, :meth:`SpeakerSessions.extract
    <ser_live.speakers.SpeakerSessions.extract>`) instead of its samples: attribute, classify
    in the speaker's session, report the prediction back (:meth:`SpeakerSessions.observe
    <ser_live.speakers.SpeakerSessions.observe>`). Same returns; ``ValueError`` for
    non-finite features while sessions are normalised, or frames missing where needed (the
    speakers then left unchanged)."""
    if speakers.session_norm and model.normalizer is not None and not np.isfinite(x).all():
        raise ValueError("features hold NaN or infinite values")
    with fork_guard():  # the speakers' clustering runs OpenBLAS products (ser_live.forksafe)
        speaker, session = speakers.assign(x, frames)
    pred, n, x = _predict_in_session(model, x, session, route_db)
    speakers.observe(pred)  # its arousal (or posteriors) feeds the shared offsets of a known count
    return pred, n, x, speaker


def read_sessions_csv(path: str | Path) -> dict[Path, str]:
    """Read a sessions file: CSV with header ``path,session``, one audio file per row.

    Relative paths are relative to the CSV file's folder (so the CSV can sit beside the
    audio and be used from any working directory); every path is resolved
    (:meth:`pathlib.Path.resolve`), and inputs are compared with it after resolving too.
    Extra columns are ignored; blank lines are skipped.

    Parameters
    ----------
    path : str or Path
        The CSV file (UTF-8, a BOM allowed).

    Returns
    -------
    dict of Path to str
        Resolved audio path -> session name.

    Raises
    ------
    SessionsError
        Unreadable file, no ``path`` and ``session`` columns in the header, a row with more
        cells than the header (an unquoted comma in a path?), an empty cell, a NUL byte in
        a path, no rows, or one path given two different sessions.
    """
    p = Path(path)
    try:
        with open(p, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            fields = {h.strip() for h in (reader.fieldnames or [])}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SessionsError(f"sessions file {p}: cannot read it ({exc})") from exc
    if not rows:
        raise SessionsError(f"sessions file {p}: no rows (expected a header `path,session` and one row per file)")
    if not {"path", "session"} <= fields:
        raise SessionsError(
            f"sessions file {p}: the header must name the columns `path` and `session`, got {sorted(fields)}"
        )
    base = p.resolve().parent
    out: dict[Path, str] = {}
    for line, row in enumerate(rows, start=2):
        if None in row:  # DictReader files surplus cells under the key None
            raise SessionsError(
                f"sessions file {p}, line {line}: {len(reader.fieldnames or []) + len(row[None])} cells, the header "
                f"names {len(reader.fieldnames or [])} columns (a comma in a path? quote the path)"
            )
        raw, name = (row.get("path") or "").strip(), (row.get("session") or "").strip()
        if not raw or not name:
            raise SessionsError(f"sessions file {p}, line {line}: empty path or session")
        if "\x00" in raw:
            raise SessionsError(f"sessions file {p}, line {line}: the path holds a NUL byte")
        key = (base / raw).resolve()
        if out.setdefault(key, name) != name:
            raise SessionsError(
                f"sessions file {p}, line {line}: {raw} is in two sessions ({out[key]!r} and {name!r})"
            )
    return out


def tone_fraction(y: np.ndarray, *, frame: int = 512, sample_rate_hz: int = SAMPLE_RATE_HZ) -> tuple[float, float]:
    """How much of a signal is one steady tone.

    The long-term power spectrum (mean over Hann-windowed frames of ``frame`` samples,
    bins below 80 Hz ignored: hum and DC) and the share of its power within +-2 bins of
    its strongest bin. Speech spreads its power over harmonics and formants and moves its
    pitch; a test tone puts nearly all of it in one place.

    Parameters
    ----------
    y : np.ndarray, float32 in [-1, 1] or int16, shape (n_samples,)
        Mono audio at ``sample_rate_hz``.
    frame : int, default 512
        Frame length (samples; 31.25 Hz bins at 16 kHz).
    sample_rate_hz : int, default 16000

    Returns
    -------
    (float, float)
        The share in [0, 1] (0 for a signal shorter than a frame or silent) and the
        strongest frequency (Hz).
    """
    x = np.asarray(y, dtype=np.float64)
    m = len(x) // frame
    if m < 1:
        return 0.0, 0.0
    spec = np.abs(np.fft.rfft(x[: m * frame].reshape(m, frame) * np.hanning(frame), axis=1)) ** 2
    power = spec.mean(axis=0)
    power[: int(np.ceil(80.0 * frame / sample_rate_hz))] = 0.0
    total = float(power.sum())
    if total <= 0:
        return 0.0, 0.0
    k = int(np.argmax(power))
    return float(power[max(k - 2, 0) : k + 3].sum() / total), k * sample_rate_hz / frame


def _name_some(paths: list[str]) -> str:
    more = len(paths) - _NAMED_PATHS
    return ", ".join(paths[:_NAMED_PATHS]) + (f" (and {more} more)" if more > 0 else "")


def _warn_if_narrowband(path: str | Path, *, channel: int | None = None) -> AudioInfo:
    """Warn when a file's sample rate is below
    :data:`~ser_live.audiofile.MIN_FULL_BAND_HZ` (e.g. 8 kHz telephone audio,
    :func:`~ser_live.audiofile.warn_if_narrowband`); and, unless one ``channel`` is read, when it has
    more than one channel (a call recorder's agent and caller): they are averaged into one
    line. Returns the header read, for the decoder (which then does not read it again);
    raises AudioFileError as :func:`audio_info`."""
    info = audio_info(path)
    warn_if_narrowband(path, info.sample_rate_hz)
    if info.channels > 1 and channel is None:
        log.warning("%s: %d channels, averaged into one line (each voice on a channel of its own is then "
                    "%.0f dB lower); a call with the agent and the caller on channels of their own is "
                    "scored as one mixed line: to score each side alone, "
                    "give predict --channel 1, then --channel 2",
                    path, info.channels, 20 * np.log10(info.channels))
    return info


class _ClippedSpeech:
    """Counts the samples at full scale over a file's utterances (``--segments``) and warns
    once, at the file's end, when more than :data:`~ser_live.levels.MAX_CLIPPED_FRACTION` of
    them are (the whole-file prediction's warning, over the utterances)."""

    def __init__(self) -> None:
        self.clipped = 0.0
        self.samples = 0
        self.utterances = 0
        self.clipped_utterances = 0

    def add(self, samples: np.ndarray) -> None:
        """Count one utterance's samples (int16 or float32 in [-1, 1], shape (n,))."""
        share = clipped_fraction(samples)
        self.clipped += share * len(samples)
        self.samples += len(samples)
        self.utterances += 1
        self.clipped_utterances += share > MAX_CLIPPED_FRACTION

    def warn(self, what: str | Path) -> None:
        """Log the warning when the file's speech is clipped."""
        if self.samples:
            _warn_clipped(what, self.clipped / self.samples, utterances=(self.clipped_utterances, self.utterances))


def _warn_clipped(what: str | Path, share: float, *, utterances: tuple[int, int] | None = None) -> None:
    """Warn when more than :data:`~ser_live.levels.MAX_CLIPPED_FRACTION` of the speech's
    samples (``share``, 0..1) are at full scale; ``utterances``: (clipped, all) when the file
    was cut into utterances (``--segments``), None for a whole file's speech span."""
    if share <= MAX_CLIPPED_FRACTION:
        return
    where = "" if utterances is None else f", in {utterances[0]} of {utterances[1]} utterances"
    log.warning("%s: clipped (%.1f %% of the speech's samples at full scale%s); the prediction%s may be off: "
                "record with less gain", what, 100 * share, where, "" if utterances is None else "s")


class Predictor:
    """Classify signals and files offline with a model and the live segmenter.

    Parameters
    ----------
    model : EmotionModel
        Classifier (with its feature extractor): ``EmotionModel.load()`` or
        ``EmotionModel.load("7class")``, not a name or path (TypeError).
    vad_config : VadConfig, optional
        Segmenter parameters (trimming and segments); defaults when None.
    half_life_s : float, default 20.0
        Half-life (stream seconds) of the :class:`~ser_live.rolling.RollingEstimate` put on
        each segment's result.
    max_duration_s : float, default 60.0
        Longest file or signal (s) classified as one utterance; longer ones are refused
        unless cut with ``segments=True``.
    session_norm : bool, default True
        With a model that has a session normaliser: normalise the utterances of a file cut
        with ``segments=True`` online as one session (as live). False: each utterance is
        its own session (``ser-live --no-session-norm``). No effect on whole files (each is
        its own session) or ``process_files(..., sessions=...)``.
    denoise : bool, default False
        Denoise each utterance before feature extraction (``predict --denoise``:
        :func:`ser_live.denoise.with_denoise`; raises ``DenoiseUnavailableError`` here when
        ``noisereduce`` is missing).
    speakers : int or "auto", default 1
        Speaker turns in ``segments=True`` (``predict --segments --speakers N``): with a
        count N of 2 or more each utterance of a file is attributed to one of its N voices,
        with ``"auto"`` to one of at most four (:func:`~ser_live.speakers.speaker_mode`)
        (:class:`~ser_live.speakers.SpeakerSessions`, new for each file) and normalised with
        that speaker's session; results carry ``speaker`` and ``speaker_rolling``, and once
        the file (or signal) ends ``speaker_revised`` (its last re-clustering). 1: no
        attribution, each file one session. No effect on whole files or ``sessions=...``.
    channel : int, optional
        Read files' channel ``channel`` alone (0-based: 0 the left, a call recorder's agent
        or caller), not the average of their channels (None); a file without it fails
        with :class:`~ser_live.errors.AudioFileError`. Files only, not signals.

    Raises
    ------
    TypeError
        ``model`` is a name or path (or None), not a loaded model.
    ValueError
        A ``vad_config`` field out of range (:meth:`VadConfig.validate
        <ser_live.vad.VadConfig.validate>`), a ``speakers`` value
        :func:`~ser_live.speakers.speaker_mode` refuses, or, with speaker turns, a model
        whose features lack the speaker embedding's columns, a ``half_life_s`` that is not
        positive (infinite: no decay), a ``max_duration_s`` that is not a positive, finite
        number of seconds, or a ``channel`` that is not None or an integer of at least 0.
    DenoiseUnavailableError
        ``denoise=True`` without ``noisereduce`` installed.

    Notes
    -----
    Thread-safe: each call makes its own session statistics, rolling estimate and speakers,
    so one Predictor may serve any number of threads at once, each call giving, to the bit,
    what it gives alone. It pickles, for process pools of any start method. See
    ``docs/concurrency.md``.

    Examples
    --------
    >>> from ser_live.model import EmotionModel
    >>> p = Predictor(EmotionModel.load())                          # doctest: +SKIP
    >>> p.process_file("clip.wav").label                            # doctest: +SKIP
    'angry'
    >>> [r.label for r in p.process_file("call.wav", segments=True)]  # doctest: +SKIP
    ['neutral', 'angry', 'angry']
    """

    def __init__(
        self,
        model: EmotionModel,
        *,
        vad_config: VadConfig | None = None,
        half_life_s: float = DEFAULT_HALF_LIFE_S,
        max_duration_s: float = WHOLE_FILE_MAX_S,
        session_norm: bool = True,
        denoise: bool = False,
        speakers: int | str = 1,
        channel: int | None = None,
    ) -> None:
        model = require_model(model, where="Predictor")
        self.model = with_denoise(model) if denoise else model
        self.vad_config = (vad_config or VadConfig()).validate()
        self.half_life_s = float(half_life_s)
        self.max_duration_s = float(max_duration_s)
        # refused here, as Recognizer does, not at the first file (an infinite half-life, no
        # decay, is a rolling estimate's choice; an infinite duration is not a length)
        if not self.half_life_s > 0:
            raise ValueError(f"half_life_s must be a positive number of seconds, got {half_life_s}")
        if not (0 < self.max_duration_s < math.inf):
            raise ValueError(f"max_duration_s must be a positive number of seconds, got {max_duration_s}")
        self.session_norm = bool(session_norm)
        self.speakers, self.speakers_known = speaker_mode(speakers)
        # refused here, not at each file ("has 2 channels, no channel 0" for -1), nor rounded
        # (1.5 read channel 1) or taken from a str or bool ("1", True)
        if channel is not None and (isinstance(channel, (bool, np.bool_)) or not isinstance(channel, numbers.Integral)
                                    or channel < 0):
            raise ValueError(f"channel must be None (the channels averaged) or a channel's index counted from 0 "
                             f"(0 = left, 1 = right), got {channel!r}")
        self.channel = None if channel is None else int(channel)
        if self.speakers > 1:  # fail now on a model without the embedding's columns
            self._new_turns()

    def _new_turns(self) -> tuple[SpeakerSessions, SpeakerRolling] | None:
        """A file's speakers and their rolling estimates (None without speaker turns)."""
        if self.speakers <= 1:
            return None
        return (SpeakerSessions(self.model, max_speakers=self.speakers, known=self.speakers_known,
                                session_norm=self.session_norm),
                SpeakerRolling(self.model.labels, half_life_s=self.half_life_s))

    def _classify(self, utt: Utterance, session: SessionState | None, turns: tuple | None,
                  rolling: RollingEstimate, stretch: SpeechStretch, *, keep_audio: bool = True) -> Result:
        """One utterance of a file cut into segments -> its Result (live's worker does the same)."""
        speaker = None
        route_db = stretch.route_db(utt)
        if turns is None:
            pred, n, x = classify_utterance(self.model, utt.samples, session, route_db=route_db)
        else:
            pred, n, x, speaker = classify_turn(self.model, utt.samples, turns[0], route_db=route_db)
        features = x
        if not keep_audio:
            utt.samples, x = _NO_SAMPLES, None
        res = Result(utterance=utt, prediction=pred, session_utterances=n, features=x, speaker=speaker,
                     route_db=route_db)
        if turns is not None:
            # as live: the moved utterances change sessions too
            res.speakers_moved = {i: to for i, _, to in turns[0].follow(utt.index, speaker, features)}
        res.rolling = rolling.update(res)
        if turns is not None:
            res.speaker_rolling = turns[1].update(res)
        return res

    # ------------------------------------------------------------------ verbs
    def process_signal(
        self, y: np.ndarray, *, sample_rate_hz: float = SAMPLE_RATE_HZ, segments: bool = False
    ) -> Prediction | list[Result]:
        """Classify a signal, whole or cut into utterances.

        Parameters
        ----------
        y : array-like, float in [-1, 1] or int16, shape (n_samples,)
            Mono audio at ``sample_rate_hz`` (e.g. ``soundfile.read(path)[0]`` of a mono
            file). Float samples of int16 range are refused: divide them by 32768.
        sample_rate_hz : float, default 16000
            Sample rate of ``y`` (Hz). Another rate is resampled to 16 kHz as a file is
            (:func:`~ser_live.vad.resample_signal`: soxr "HQ", then int16; at 16 kHz float
            samples are clipped at full scale and rounded to int16 alone), so the array of a
            file gives :meth:`process_file`'s result; results' samples and sample indices
            are then those of the 16 kHz signal. Below 16 kHz a warning is logged, as for
            files.
        segments : bool, default False
            False: trim ``y`` to the speech span the live segmenter finds
            (:func:`~ser_live.vad.speech_span`, pre-roll and hangover included, as
            ``train/extract.py`` trims every training file) and classify it as one
            utterance. True: cut it with :func:`~ser_live.vad.segment_signal` (the live
            segmenter fed from sample 0) and classify each utterance's int16 samples, with
            the rolling estimate and (``session_norm``) the signal as one online session;
            every field but the latencies then equals what
            :class:`~ser_live.pipeline.Recognizer` gives for the same samples streamed from
            the start.

        Returns
        -------
        Prediction
            With ``segments=False``.
        list of Result
            With ``segments=True``: one per utterance, in order (possibly empty);
            ``processing_ms`` and ``end_of_speech_ms`` are 0.

        Raises
        ------
        NoSpeechError
            ``segments=False`` and the VAD finds no speech (digital silence included).
        ValueError
            Audio :func:`~ser_live.vad.check_signal` refuses (not of shape (n_samples,), a
            dtype other than int16 or float, NaN or infinite samples, a float peak above
            :data:`~ser_live.vad.MAX_FLOAT_PEAK`, 2.0), ``sample_rate_hz`` not positive, or
            (``segments=False``) longer than ``max_duration_s``.
        """
        y = resample_signal(y, sample_rate_hz=sample_rate_hz)
        warn_if_narrowband("the signal", sample_rate_hz)
        if segments:
            return self._segments(y)
        n_max = int(self.max_duration_s * SAMPLE_RATE_HZ)
        if len(y) > n_max:
            raise ValueError(
                f"{len(y) / SAMPLE_RATE_HZ:.1f} s of audio, more than the {self.max_duration_s:.0f} s "
                "taken as one utterance; use segments=True"
            )
        return self._whole(y, what="the signal")

    def process_file(self, path: str | Path, *, segments: bool = False) -> Prediction | list[Result]:
        """Decode a file (:func:`~ser_live.audiofile.decode_audio`) and classify it.

        Parameters
        ----------
        path : str or Path
            Audio file of any rate and channel count (WAV, FLAC, OGG, ...).
        segments : bool, default False
            As in :meth:`process_signal`. Without segments the file must be at most
            ``max_duration_s`` long (checked on the header, before decoding).

        Returns
        -------
        Prediction or list of Result
            As :meth:`process_signal`.

        Raises
        ------
        AudioFileError
            Missing, unreadable or empty file, a ``channel`` the file does not have, or
            (whole) longer than ``max_duration_s``.
        NoSpeechError
            Whole file and the VAD finds no speech (or too short for an utterance).
        """
        if segments:
            return list(self.iter_file_segments(path))
        return self._whole(self._decode_file(path), what=str(path))

    def iter_file_segments(self, path: str | Path, *, keep_audio: bool = True) -> Iterator[Result]:
        """Cut a file into utterances and classify each as the segmenter closes it, decoding
        block by block (:func:`~ser_live.audiofile.iter_audio_blocks`): memory does not grow
        with the file's length, as in a live run (``python -m benchmarks.segments_memory``).

        The blocks are converted to int16 (:func:`~ser_live.audiofile.to_int16`) and fed
        frame by frame from sample 0 through one :class:`~ser_live.vad.Segmenter`, flushed
        at the end: the very samples and boundaries of
        ``process_signal(decode_audio(path), segments=True)``.

        Parameters
        ----------
        path : str or Path
            Audio file of any rate and channel count, any length.
        keep_audio : bool, default True
            Keep each utterance's samples (``utterance.samples``) and features
            (``Result.features``). False drops them once classified (``samples`` becomes an
            empty int16 array; spans, predictions and the rolling estimate stay), so that a
            caller holding every result (``predict --segments``) holds no audio.

        Yields
        ------
        Result
            One per utterance, in order; with a session normaliser the file is one session
            normalised online, as :meth:`process_signal`.

        Raises
        ------
        AudioFileError
            Missing, unreadable or empty file, a ``channel`` the file does not have, or a
            block with NaN/infinite samples or that cannot be decoded (raised when that block
            is reached; a file cut short is warned of, not raised).
        """
        rolling = RollingEstimate(self.model.labels, half_life_s=self.half_life_s)
        session = self.model.new_session() if self.session_norm else None
        turns = self._new_turns()
        stretch = SpeechStretch(self.model)
        attributed: list[Result] = []  # every result with a speaker, in order
        for utt in self._iter_file_utterances(path):
            res = self._classify(utt, session, turns, rolling, stretch, keep_audio=keep_audio)
            if turns is not None:
                attributed.append(res)
            yield res
        if turns is not None:
            _set_revised_speakers(attributed)

    def _iter_file_utterances(self, path: str | Path) -> Iterator[Utterance]:
        """The utterances of a file as the live segmenter cuts it (int16 samples), decoded
        block by block (:func:`~ser_live.audiofile.iter_audio_blocks`) and fed frame by frame
        from sample 0 through one :class:`~ser_live.vad.Segmenter`, flushed at the end: the
        utterances of ``segment_signal(decode_audio(path))`` in constant memory. The file's
        warnings are logged (its header's: rate, channels; at its end: clipped speech).
        Raises AudioFileError as :meth:`iter_file_segments`."""
        from .audiofile import iter_audio_blocks

        info = _warn_if_narrowband(path, channel=self.channel)
        seg = Segmenter(self.vad_config, sample_rate_hz=SAMPLE_RATE_HZ)
        fl = seg.frame_length
        clipped = _ClippedSpeech()
        carry = _NO_SAMPLES
        pos = 0
        heard = False
        for block in iter_audio_blocks(info, sample_rate_hz=SAMPLE_RATE_HZ, on_truncated="warn", channel=self.channel):
            heard = True
            buf = np.concatenate([carry, to_int16(block)]) if carry.size else to_int16(block)
            n_full = len(buf) - len(buf) % fl
            for i in range(0, n_full, fl):
                for utt in seg.process_frame(buf[i : i + fl], pos):
                    clipped.add(utt.samples)
                    yield utt
                pos += fl
            carry = buf[n_full:]
        if not heard:
            raise AudioFileError(f"{path}: the file holds no audio samples (empty)")
        for utt in seg.flush():  # a tail shorter than a frame is ignored, as live
            clipped.add(utt.samples)
            yield utt
        clipped.warn(path)

    def process_files(
        self,
        paths: Iterable[str | Path],
        *,
        segments: bool = False,
        errors: str = "raise",
        sessions: Mapping[str | Path, Hashable] | None = None,
        on_segment: Callable[[str, Result], None] | None = None,
    ) -> Iterator[tuple[str, Prediction | list[Result] | SerLiveError]]:
        """:meth:`process_file` on each path, in order; with ``sessions``, files of one
        session normalised together.

        Parameters
        ----------
        paths : iterable of str or Path
        segments : bool, default False
            As in :meth:`process_signal`.
        errors : {"raise", "return"}, default "raise"
            ``"raise"``: the first :class:`~ser_live.errors.SerLiveError` (bad file, no
            speech) propagates. ``"return"``: it is yielded in place of the result and the
            other files are still processed (audio the extractor cannot take, a
            ``ValueError``, is then yielded as a ``SerLiveError`` too); with ``segments``
            and no ``sessions``, an error after some of the file's utterances were
            classified (a damaged file, found where the decoder reaches it) carries them as
            its attribute ``partial_results``: ``(path, list of Result)``.
        sessions : mapping of (str or Path) to hashable, optional
            Session of every input file (e.g. :func:`read_sessions_csv`); keys and inputs
            are compared after :meth:`pathlib.Path.resolve`. Two passes: every file is
            decoded and its utterances' features extracted, then each utterance is
            normalised with the statistics of all utterances of its session
            (``model.predict_proba(X, groups=...)``; a file that fails contributes none).
            Segment results then carry ``session_utterances``, the size of their session
            (None for a model without a normaliser); files are cut block by block and each
            utterance's samples dropped once its features are taken (its ``samples`` is an
            empty int16 array, as without ``sessions``), so memory grows with the number of
            utterances, not with the audio's length. An input named twice (compared
            after resolving) is read once and counts once in its session's statistics,
            with a logged warning; each mention still gets its result. None: files
            are processed lazily, one at a time, each its own session. A model without a
            session normaliser ignores the sessions (a warning is logged).
        on_segment : callable, optional
            With ``segments`` and no ``sessions``: called with the path (as given) and each
            utterance's result as soon as it is classified, before the file's results are
            yielded (e.g. progress inside an hour-long file: ``result.utterance.end_s``).

        Yields
        ------
        (str, Prediction or list of Result or SerLiveError)
            The path as given and its result. With ``segments`` and no ``sessions``, a
            ``KeyboardInterrupt`` (Ctrl-C) inside a file carries the utterances of it
            classified so far as its attribute ``partial_results``: ``(path, list of
            Result)``.

        Raises
        ------
        TypeError
            ``paths`` is one path (str, bytes or Path), not an iterable of them.
        ValueError
            Unknown ``errors``; or, with ``errors="raise"``, audio the extractor cannot take
            (as is, not wrapped in a ``SerLiveError``).
        SessionsError
            ``sessions`` lacks an input or names a path that is not an input (the first few
            of each are named); raised before any file is processed.
        SerLiveError
            With ``errors="raise"``.
        """
        if isinstance(paths, (str, bytes, Path)):  # iterated, a path is its characters: 'l: no such file', ...
            raise TypeError(f"process_files takes a list of paths, got the single path {paths!r}: pass "
                            f"[{paths!r}], or call process_file({paths!r}) for one file")
        if errors not in ("raise", "return"):
            raise ValueError(f"errors must be 'raise' or 'return', got {errors!r}")
        if sessions is None:
            return self._each_file(paths, segments=segments, errors=errors, on_segment=on_segment)
        paths = [str(p) for p in paths]
        groups = self._session_of(paths, sessions)
        if self.model.normalizer is None:
            log.warning("model %s has no session normaliser: the sessions have no effect", self.model.name)
        return self._by_session(paths, groups, segments=segments, errors=errors)

    def _each_file(
        self, paths: Iterable[str | Path], *, segments: bool, errors: str,
        on_segment: Callable[[str, Result], None] | None = None,
    ) -> Iterator[tuple[str, Prediction | list[Result] | SerLiveError]]:
        for path in paths:
            done: list[Result] = []
            try:
                if segments:
                    for res in self.iter_file_segments(path, keep_audio=False):
                        done.append(res)
                        if on_segment is not None:
                            on_segment(str(path), res)
                    out: Prediction | list[Result] | SerLiveError = done
                else:
                    out = self.process_file(path)
            except (SerLiveError, ValueError) as exc:
                out = self._failed(path, exc, errors)
                if done:  # a file that fails midway (damaged): its utterances before go with the error
                    if self.speakers > 1:
                        _set_revised_speakers(done)
                    out.partial_results = (str(path), done)  # type: ignore[attr-defined]
            except KeyboardInterrupt as exc:
                # Ctrl-C inside a long file: its utterances classified so far go with the
                # interrupt, for the caller to keep (as live keeps every utterance)
                if done:
                    exc.partial_results = (str(path), done)  # type: ignore[attr-defined]
                raise
            yield str(path), out

    @staticmethod
    def _failed(path: str | Path, exc: Exception, errors: str) -> SerLiveError:
        if errors == "raise":
            raise exc
        log.info("%s: %s", path, exc)
        return exc if isinstance(exc, SerLiveError) else SerLiveError(f"{path}: {exc}")

    @staticmethod
    def _session_of(paths: list[str], sessions: Mapping[str | Path, Hashable]) -> list[str]:
        """Session name of each input (resolved paths compared); SessionsError on a mismatch."""
        table = {Path(k).resolve(): str(v) for k, v in sessions.items()}
        resolved = [Path(p).resolve() for p in paths]
        missing = [p for p, r in zip(paths, resolved) if r not in table]
        if missing:
            raise SessionsError(f"{len(missing)} input file(s) have no session: {_name_some(missing)}")
        inputs = set(resolved)
        extra = [str(k) for k in table if k not in inputs]
        if extra:
            raise SessionsError(f"{len(extra)} path(s) of the sessions are not among the inputs: {_name_some(extra)}")
        return [table[r] for r in resolved]

    def _by_session(
        self, paths: list[str], groups: list[str], *, segments: bool, errors: str
    ) -> Iterator[tuple[str, Prediction | list[Result] | SerLiveError]]:
        # pass 1: the utterances of every file (whole: the trimmed file) and their features
        # (an input named twice, however spelt, is read once and counted once in its
        # session's statistics; each mention still gets its result)
        found: list[list[Utterance] | SerLiveError] = []
        first_row: list[int] = []
        rows: list[np.ndarray] = []
        row_group: list[str] = []
        seen: dict[Path, int] = {}
        for path, group in zip(paths, groups):
            key = Path(path).resolve()
            if key in seen:
                j = seen[key]
                log.warning("%s: named again (as %s): its utterances count once in session %r",
                            path, paths[j], group)
                found.append(found[j])
                first_row.append(first_row[j])
                continue
            seen[key] = len(found)
            first_row.append(len(rows))
            try:
                utts, feats = [], []
                for utt in self._file_utterances(path, segments=segments):
                    feats.append(self.model.extractor.extract(utt.samples))
                    utt.samples = _NO_SAMPLES  # its features are what pass 2 needs
                    utts.append(utt)
            except (SerLiveError, ValueError) as exc:
                found.append(self._failed(path, exc, errors))
                continue
            found.append(utts)
            rows += feats
            row_group += [group] * len(feats)
        # pass 2: normalise each session with all of its rows, classify
        proba = self.model.predict_proba(np.array(rows), groups=np.array(row_group)) if rows else None
        branch = self.model.noise_branch_flags(np.array(rows)) if rows else []
        normalised = self.model.normalizer is not None
        sizes = {g: row_group.count(g) if normalised else None for g in set(row_group)}
        for path, group, item, i in zip(paths, groups, found, first_row):
            if isinstance(item, SerLiveError):
                yield path, item
                continue
            preds = [self.model.prediction_from_proba(p, noise_branch=b)
                     for p, b in zip(proba[i : i + len(item)], branch[i : i + len(item)])]
            if not segments:
                yield path, preds[0]
                continue
            rolling = RollingEstimate(self.model.labels, half_life_s=self.half_life_s)
            results = []
            for utt, pred in zip(item, preds):
                res = Result(utterance=utt, prediction=pred, session_utterances=sizes[group])
                res.rolling = rolling.update(res)
                results.append(res)
            yield path, results

    def _file_utterances(self, path: str | Path, *, segments: bool) -> Iterable[Utterance]:
        """The utterances of a file: segments (streamed), or the trimmed whole file as one;
        the file's warnings logged as without sessions."""
        if segments:
            return self._iter_file_utterances(path)
        y = self._decode_file(path)
        a, b = self._span(y, what=str(path))
        return [Utterance(index=0, samples=y[a:b], start_sample=a, end_sample=b, last_voiced_sample=b,
                          sample_rate_hz=SAMPLE_RATE_HZ)]

    # ------------------------------------------------------------------ internals
    def _decode_file(self, path: str | Path) -> np.ndarray:
        """A whole file as ``predict`` reads it (int16, shape (n,), 16 kHz): its header's
        warnings logged (rate, channels), the chosen channel or their average, at most
        ``max_duration_s``. Raises AudioFileError as :func:`decode_audio`."""
        info = _warn_if_narrowband(path, channel=self.channel)
        return decode_audio(info, max_duration_s=self.max_duration_s, channel=self.channel)

    def _span(self, y: np.ndarray, *, what: str) -> tuple[int, int]:
        """The speech span ``[a, b)`` (samples) of a whole file's audio ``y``, its warnings
        logged (a steady tone, clipping: :meth:`_warn_of_speech`). Raises NoSpeechError."""
        span = speech_span(y, config=self.vad_config)
        if span is None:
            dur_s, need_s = len(y) / SAMPLE_RATE_HZ, self.vad_config.min_utterance_s
            if dur_s < need_s:  # not "silent": too short for an utterance whatever it holds
                raise NoSpeechError(
                    f"{what}: too short ({dur_s:.2f} s of audio; an utterance needs at least "
                    f"{need_s:g} s of speech)"
                )
            raise NoSpeechError(
                f"{what}: no speech detected (silent or noise-only; "
                f"{dur_s:.2f} s of audio checked by the VAD)"
            )
        self._warn_of_speech(y[span[0] : span[1]], what=what)
        return span

    def _whole(self, y: np.ndarray, *, what: str) -> Prediction:
        a, b = self._span(y, what=what)
        return self.model.predict_signal(y[a:b])

    @staticmethod
    def _warn_of_speech(y: np.ndarray, *, what: str) -> None:
        """Warn of a whole file's speech span ``y`` that is a steady tone or clipped."""
        share, hz = tone_fraction(y)
        if share >= TONE_FRACTION:
            log.warning("%s: not speech? %.1f %% of the power is a steady tone at %.0f Hz; the prediction "
                        "means little", what, 100 * share, hz)
        _warn_clipped(what, clipped_fraction(y))

    def _segments(self, y: np.ndarray) -> list[Result]:
        rolling = RollingEstimate(self.model.labels, half_life_s=self.half_life_s)
        session = self.model.new_session() if self.session_norm else None
        turns, stretch = self._new_turns(), SpeechStretch(self.model)
        results = [self._classify(utt, session, turns, rolling, stretch)
                   for utt in segment_signal(y, config=self.vad_config, sample_rate_hz=SAMPLE_RATE_HZ)]
        if turns is not None:
            _set_revised_speakers(results)
        return results

"""Offline prediction: one object, :class:`Predictor`, with uniform verbs.

As opensmile's ``Smile`` (``process_signal``, ``process_file``, ``process_files``), one
object holds the model and the segmenter settings and each verb takes a signal, a file or
many files, whole (one prediction, the speech span trimmed as training files are trimmed)
or cut into utterances (``segments=True``, exactly as the live recogniser cuts them).

Files are decoded by :func:`~ser_live.audiofile.decode_audio`, the one decoder the replay,
``ser-live predict`` (whole or ``--segments``) and training share, so a whole-file
prediction, the segments and a replay see the same samples at any original sample rate.

References
----------
opensmile-python, ``opensmile/core/smile.py``: https://github.com/audeering/opensmile-python
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from .audiofile import SAMPLE_RATE_HZ, decode_audio
from .errors import NoSpeechError, SerLiveError
from .model import EmotionModel
from .rolling import DEFAULT_HALF_LIFE_S, RollingEstimate
from .types import Prediction, Result
from .vad import VadConfig, segment_signal, speech_span

__all__ = ["Predictor", "WHOLE_FILE_MAX_S"]

log = logging.getLogger(__name__)

#: Longest file (s) taken as one utterance; longer ones need ``segments=True``.
WHOLE_FILE_MAX_S: float = 60.0


class Predictor:
    """Classify signals and files offline with a model and the live segmenter.

    Parameters
    ----------
    model : EmotionModel
        Classifier (with its feature extractor).
    vad_config : VadConfig, optional
        Segmenter parameters (trimming and segments); defaults when None.
    half_life_s : float, default 20.0
        Half-life (stream seconds) of the :class:`~ser_live.rolling.RollingEstimate` put on
        each segment's result.
    max_duration_s : float, default 60.0
        Longest file or signal (s) classified as one utterance; longer ones are refused
        unless cut with ``segments=True``.

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
    ) -> None:
        self.model = model
        self.vad_config = (vad_config or VadConfig()).validate()
        self.half_life_s = float(half_life_s)
        self.max_duration_s = float(max_duration_s)

    # ------------------------------------------------------------------ verbs
    def process_signal(self, y: np.ndarray, *, segments: bool = False) -> Prediction | list[Result]:
        """Classify a signal, whole or cut into utterances.

        Parameters
        ----------
        y : np.ndarray, float32 in [-1, 1] or int16, shape (n_samples,)
            Mono audio at 16 kHz.
        segments : bool, default False
            False: trim ``y`` to the speech span the live segmenter finds
            (:func:`~ser_live.vad.speech_span`, pre-roll and hangover included, as
            ``train/extract.py`` trims every training file) and classify it as one
            utterance. True: cut it with :func:`~ser_live.vad.segment_signal` (the live
            segmenter fed from sample 0) and classify each utterance's int16 samples, with
            the rolling estimate; every field but the latencies then equals what
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
            ``segments=False`` and the VAD finds no speech.
        ValueError
            Not mono, an unsupported dtype, or (``segments=False``) longer than
            ``max_duration_s``.
        """
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
            Missing, unreadable or empty file, or (whole) longer than ``max_duration_s``.
        NoSpeechError
            Whole file and the VAD finds no speech.
        """
        if segments:
            return self._segments(decode_audio(path))
        x = decode_audio(path, max_duration_s=self.max_duration_s)
        return self._whole(x, what=str(path))

    def process_files(
        self,
        paths: Iterable[str | Path],
        *,
        segments: bool = False,
        errors: str = "raise",
    ) -> Iterator[tuple[str, Prediction | list[Result] | SerLiveError]]:
        """:meth:`process_file` on each path, lazily, in order.

        Parameters
        ----------
        paths : iterable of str or Path
        segments : bool, default False
            As in :meth:`process_signal`.
        errors : {"raise", "return"}, default "raise"
            ``"raise"``: the first :class:`~ser_live.errors.SerLiveError` (bad file, no
            speech) propagates. ``"return"``: it is yielded in place of the result and the
            other files are still processed.

        Yields
        ------
        (str, Prediction or list of Result or SerLiveError)
            The path as given and its result.

        Raises
        ------
        ValueError
            Unknown ``errors``.
        SerLiveError
            With ``errors="raise"``.
        """
        if errors not in ("raise", "return"):
            raise ValueError(f"errors must be 'raise' or 'return', got {errors!r}")
        for path in paths:
            try:
                out: Prediction | list[Result] | SerLiveError = self.process_file(path, segments=segments)
            except SerLiveError as exc:
                if errors == "raise":
                    raise
                log.info("%s: %s", path, exc)
                out = exc
            yield str(path), out

    # ------------------------------------------------------------------ internals
    def _whole(self, y: np.ndarray, *, what: str) -> Prediction:
        span = speech_span(y, config=self.vad_config)
        if span is None:
            raise NoSpeechError(
                f"{what}: no speech detected (silent or noise-only; "
                f"{len(y) / SAMPLE_RATE_HZ:.1f} s of audio checked by the VAD)"
            )
        return self.model.predict_signal(y[span[0] : span[1]])

    def _segments(self, y: np.ndarray) -> list[Result]:
        rolling = RollingEstimate(self.model.labels, half_life_s=self.half_life_s)
        out = []
        for utt in segment_signal(y, config=self.vad_config, sample_rate_hz=SAMPLE_RATE_HZ):
            res = Result(utterance=utt, prediction=self.model.predict_signal(utt.samples))
            res.rolling = rolling.update(res)
            out.append(res)
        return out

"""The one feature extractor of ser-live, shared by training and live recognition.

One short-time Fourier transform per utterance; every framewise descriptor is derived from
it (mel bands, MFCC and their deltas, chroma, spectral shape, spectral contrast, and pitch
and voicing from the autocorrelation that the power spectrum already holds) or from the same
frames (zero-crossing rate, RMS energy). The framewise descriptors, shape
``(n_descriptors, n_frames)`` as in librosa, are then pooled over the utterance by statistics
into one fixed-length ``float32`` vector with a name per column. The vector's layout is one
table (:func:`_layout`, a tuple of :class:`LayoutEntry`: column group, contour rows,
statistics) from which both :meth:`FeatureExtractor.feature_names` and the pooled values are
generated; :meth:`FeatureExtractor.groups` gives each group's column indices.

The extractor changes no process-wide setting; programs call
:func:`ser_live.runtime.tune_process` for fast extraction (see that module).

The package's modules follow the computation: :mod:`.config` (:class:`FeatureConfig`),
:mod:`.filterbanks` (mel, chroma, DCT, deltas), :mod:`.framewise` (descriptors per frame),
:mod:`.pooling` (functionals, the layout table, the pooling plan) and :mod:`.extractor`
(:class:`FeatureExtractor`); every public name is importable from ``ser_live.features``.

The filter banks are computed here with numpy (they equal librosa's, which the tests check),
so the live recogniser does not import librosa (and numba) at start-up.

References
----------
.. [1] S. Davis and P. Mermelstein, "Comparison of parametric representations for
   monosyllabic word recognition in continuously spoken sentences", IEEE TASSP 28(4), 1980
   (MFCC).
.. [2] M. Slaney, "Auditory Toolbox", Technical Report 1998-010, Interval Research, 1998
   (the mel scale and area-normalised triangular filters used here, as in librosa).
.. [3] D. Ellis, "Chroma feature analysis and synthesis", 2007 (the chroma filter bank, as
   in ``librosa.filters.chroma``).
.. [4] S. Young et al., "The HTK Book", section 5.6 (regression formula for delta features).
.. [5] D.-N. Jiang et al., "Music type classification by spectral contrast feature",
   ICME 2002 (spectral contrast: peak minus valley per sub-band).
.. [6] P. Boersma, "Accurate short-term analysis of the fundamental frequency and the
   harmonics-to-noise ratio of a sampled sound", IFA Proceedings 17, 1993 (pitch from the
   autocorrelation divided by the window's autocorrelation).
"""

from __future__ import annotations

from .config import FEATURE_VERSION, FeatureConfig
from .extractor import FeatureExtractor
from .filterbanks import chroma_filterbank, mel_filterbank
from .framewise import VOICE_ROWS, framewise_descriptors, voice_descriptors
from .pooling import LayoutEntry, functional_names

__all__ = [
    "FEATURE_VERSION",
    "FeatureConfig",
    "FeatureExtractor",
    "LayoutEntry",
    "VOICE_ROWS",
    "mel_filterbank",
    "chroma_filterbank",
    "framewise_descriptors",
    "voice_descriptors",
    "functional_names",
]

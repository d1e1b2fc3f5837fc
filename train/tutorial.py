"""The feature recipe most speech-emotion tutorials use, kept as a reference to compare against.

Three separate librosa calls, each computing its own STFT: 40 MFCC, ``chroma_stft`` (12) and a
128-band mel spectrogram, each averaged over frames: 180 values per utterance, no trimming, no
scaling. It is the recipe of the widely copied "speech emotion recognition with librosa" MLP
tutorials (``extract_feature(file, mfcc, chroma, mel)``), reproduced here for
``python -m train compare`` and for the latency benchmark.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TUTORIAL_N_FEATURES", "tutorial_features"]

#: 40 MFCC + 12 chroma + 128 mel band means.
TUTORIAL_N_FEATURES: int = 180


def tutorial_features(y: np.ndarray, *, sample_rate_hz: int = 16000) -> np.ndarray:
    """The tutorial's utterance features.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
        Mono audio.
    sample_rate_hz : int, default 16000

    Returns
    -------
    np.ndarray, float32, shape (180,)
        Frame means of 40 MFCC, 12 chroma and 128 mel bands (power), in that order.
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    mfcc = np.mean(librosa.feature.mfcc(y=y, sr=sample_rate_hz, n_mfcc=40).T, axis=0)
    chroma = np.mean(librosa.feature.chroma_stft(S=np.abs(librosa.stft(y)), sr=sample_rate_hz).T, axis=0)
    mel = np.mean(librosa.feature.melspectrogram(y=y, sr=sample_rate_hz).T, axis=0)
    return np.concatenate([mfcc, chroma, mel]).astype(np.float32)

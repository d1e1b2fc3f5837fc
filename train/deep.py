"""Deep models beside the SVM: a CNN and a CNN-LSTM on log-mel spectrograms (issue 14).

Input: the log-mel spectrogram (dB, 64 bands, 25 ms window, 10 ms hop) of the project's own
front end (:meth:`ser_live.features.FeatureExtractor.framewise`, level-normalised as live audio
is), of each corpus file trimmed as every training file is
(:func:`train.extract.prepare_utterance`), centre-cropped or padded to a fixed number of frames
(padding: the utterance's own quietest value per band, i.e. its silence). Log-mel arrays are
cached on disk beside the feature cache, keyed by file content and front-end settings.

Two networks (PyTorch, CPU), both behind an average of frame pairs (a 20 ms frame rate):

``cnn``
    Four blocks of 3x3 convolution (16, 32, 64, 128 channels), batch norm, ReLU and 2x2 max
    pooling over (band, frame), then global average and max pooling, dropout and a linear layer.
``cnn-lstm``
    Three such blocks (16, 32, 64 channels; the last pools bands only, keeping 37 time steps of
    80 ms for 300 input frames), then a bidirectional LSTM (64 units each way) over time, its
    outputs mean and max pooled, dropout, linear.

Training inside a fold: the training speakers are split into fitting and validation speakers
(speaker-grouped, seeded); each mel band is standardised with the mean and standard deviation
of the fitting utterances; AdamW on class-weighted cross-entropy (weights balanced, as UA is
the target) with a one-cycle learning-rate schedule [2]_; SpecAugment-style frequency and time
masks [1]_ on each training batch; early stopping on the validation speakers' UA, measured on an
exponential moving average of the weights (the raw weights' UA swung by 10 points from epoch to
epoch) and counted after the schedule's warm-up (its first 30 %), keeping the best epoch's
averaged weights. Seeds fixed; the split is the protocol's ([3]_ for ``ravdess-6fold``).

PyTorch is an optional dependency (``pip install '.[deep]'``); the live path never imports
this module.

References
----------
.. [1] D. S. Park et al., "SpecAugment: A simple data augmentation method for automatic speech
   recognition", Interspeech 2019 (frequency and time masking).
.. [2] L. N. Smith and N. Topin, "Super-convergence: very fast training of neural networks
   using large learning rates", 2019 (the one-cycle schedule).
.. [3] Z. Ma et al., "EmoBox: Multilingual multi-corpus speech emotion recognition toolkit and
   benchmark", Interspeech 2024 (the ``ravdess-6fold`` split).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ser_live.audiofile import load_audio
from ser_live.features import FeatureConfig, FeatureExtractor
from ser_live.vad import VadConfig, trim_settings

from .extract import _file_key, default_cache_dir, prepare_utterance

__all__ = [
    "DEEP_MODELS",
    "DeepConfig",
    "DeepClassifier",
    "logmel_spectrogram",
    "fix_length",
    "load_logmels",
    "run_deep_protocol",
    "compare_deep",
]

log = logging.getLogger(__name__)

#: Architecture name (as given to ``compare --classifiers``) -> row name in reports.
DEEP_MODELS: dict[str, str] = {"cnn": "CNN (log-mel)", "cnn-lstm": "CNN-LSTM (log-mel)"}

_NO_TORCH = "PyTorch is not installed: pip install '.[deep]' (a CPU build, see pyproject.toml)"


@dataclass(frozen=True)
class DeepConfig:
    """Settings of a deep model and its training.

    Attributes
    ----------
    architecture : str
        ``"cnn"`` or ``"cnn-lstm"`` (see the module docstring).
    n_frames : int
        Frames per input (10 ms hop): 300 = 3.0 s, longer than 95 % of trimmed RAVDESS files.
    input_time_pool : int
        Frames averaged before the first convolution (2: a 20 ms frame rate inside the
        network, which halves training time).
    channels : tuple of int
        Output channels of the convolution blocks (the CNN uses four, the CNN-LSTM three).
    lstm_units : int
        Hidden units per direction of the CNN-LSTM's bidirectional LSTM.
    max_epochs : int
        Upper bound on training epochs.
    patience_epochs : int
        Stop after this many epochs without a better validation UA.
    batch_size : int
    learning_rate : float
        AdamW peak step size of the one-cycle schedule over ``max_epochs``.
    weight_decay : float
        AdamW decoupled weight decay.
    dropout : float
        Dropout probability before the output layer.
    ema_half_life_epochs : float
        Half-life (epochs) of the exponential moving average of the weights that is validated
        and kept (1: a decay of 0.981 per step on a RAVDESS training fold of 36 batches).
    validation_fraction : float
        Share of the training speakers held out for early stopping (at least one speaker).
    freq_masks, freq_mask_bands : int
        Number of frequency masks per training example and their maximum width (mel bands).
    time_masks, time_mask_frames : int
        Number of time masks per training example and their maximum width (frames).
    utterance_mean : bool
        Subtract each utterance's own mean per mel band before the fold's standardisation
        (removes the speaker's and microphone's spectral colouring along with the utterance's
        average spectral balance).
    seed : int
        Seed of the weight initialisation, the validation split, batching and masking.
    n_threads : int
        PyTorch intra-op threads.
    max_train_s : float or None
        Stop training after this many seconds (wall time) whatever the validation curve says;
        None for no limit.
    """

    architecture: str = "cnn"
    n_frames: int = 300
    input_time_pool: int = 2
    channels: tuple[int, ...] = (16, 32, 64, 128)
    lstm_units: int = 64
    max_epochs: int = 18
    patience_epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 3e-3
    weight_decay: float = 1e-2
    dropout: float = 0.3
    ema_half_life_epochs: float = 1.0
    validation_fraction: float = 0.2
    freq_masks: int = 1
    freq_mask_bands: int = 8
    time_masks: int = 1
    time_mask_frames: int = 20
    utterance_mean: bool = False
    seed: int = 0
    n_threads: int = 1
    max_train_s: float | None = None

    def __post_init__(self) -> None:
        if self.architecture not in DEEP_MODELS:
            raise ValueError(f"unknown deep architecture {self.architecture!r}; choose from {sorted(DEEP_MODELS)}")
        if self.n_frames < 16:
            raise ValueError(f"n_frames must be at least 16 (got {self.n_frames})")


# --------------------------------------------------------------------------- input


def logmel_spectrogram(y: np.ndarray, *, config: FeatureConfig | None = None) -> np.ndarray:
    """Log-mel spectrogram of one utterance from the live feature extractor's front end.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
        16 kHz mono audio in [-1, 1] (level-normalised inside, as the extractor does).
    config : FeatureConfig, optional
        Front-end settings (default: the shipped ones: 64 bands, 400-sample window, 160-sample
        hop = 10 ms, 1024-point FFT).

    Returns
    -------
    np.ndarray, float32, shape (n_mels, n_frames)
        Power in dB per mel band and frame.

    Raises
    ------
    ValueError
        ``y`` is not 1-D, too short for the extractor (65 ms), or not finite.
    """
    return FeatureExtractor(config).framewise(y)["logmel"]


def fix_length(m: np.ndarray, n_frames: int) -> np.ndarray:
    """Centre-crop or pad a spectrogram to ``n_frames`` frames.

    Parameters
    ----------
    m : np.ndarray, float32, shape (n_bands, n)
    n_frames : int

    Returns
    -------
    np.ndarray, float32, shape (n_bands, n_frames)
        The middle ``n_frames`` frames when ``n > n_frames``; otherwise ``m`` centred, padded
        on both sides with each band's minimum over ``m`` (the utterance's own silence level).
    """
    n = m.shape[1]
    if n >= n_frames:
        start = (n - n_frames) // 2
        return np.ascontiguousarray(m[:, start : start + n_frames], dtype=np.float32)
    out = np.repeat(m.min(axis=1, keepdims=True), n_frames, axis=1).astype(np.float32)
    start = (n_frames - n) // 2
    out[:, start : start + n] = m
    return out


def _cache_root(config: FeatureConfig, vad_config: VadConfig, cache_dir: Path | None) -> Path:
    setup = {"logmel": config.to_dict(), "vad": trim_settings(vad_config)}
    key = hashlib.sha1(json.dumps(setup, sort_keys=True).encode()).hexdigest()[:16]
    return (Path(cache_dir) if cache_dir else default_cache_dir()) / f"logmel-{key}"


def load_logmels(
    paths: Sequence[str],
    *,
    n_frames: int = 300,
    config: FeatureConfig | None = None,
    vad_config: VadConfig | None = None,
    cache_dir: Path | None | bool = None,
    progress: bool = True,
) -> np.ndarray:
    """Fixed-length log-mel spectrograms of many files, trimmed as training files are, cached.

    The cache holds each file's whole (untrimmed-length) spectrogram of the trimmed utterance,
    one ``.npy`` per file under ``<cache>/logmel-<settings hash>/``, keyed by the file's SHA-1,
    so a change of ``n_frames`` reuses it.

    Parameters
    ----------
    paths : sequence of str
        Audio files (any format/rate soundfile reads; decoded to 16 kHz mono).
    n_frames : int, default 300
        Frames per output (10 ms hop); see :func:`fix_length`.
    config : FeatureConfig, optional
        Front-end settings (default: the shipped ones).
    vad_config : VadConfig, optional
        Segmenter settings for trimming (default: the live ones).
    cache_dir : Path, optional
        Cache root (default :func:`train.extract.default_cache_dir`); ``False`` disables it.
    progress : bool
        Show a progress bar (stderr).

    Returns
    -------
    np.ndarray, float32, shape (len(paths), n_mels, n_frames)

    Raises
    ------
    ValueError
        A file could not be decoded or is too short (all failures listed, up to three named).
    """
    from rich.progress import Progress

    config = config or FeatureConfig()
    vad_config = vad_config or VadConfig()
    root = None if cache_dir is False else _cache_root(config, vad_config, None if cache_dir is None else Path(cache_dir))
    out = np.empty((len(paths), config.n_mels, n_frames), dtype=np.float32)
    failures: list[str] = []
    fx = FeatureExtractor(config)
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("log-mel", total=len(paths))
        for i, p in enumerate(paths):
            f = None
            if root is not None:
                k = _file_key(p)
                f = root / k[:2] / f"{k}.npy"
            m = None
            if f is not None and f.exists():
                try:
                    m = np.load(f)
                except Exception:  # a torn write: recompute
                    m = None
            if m is None:
                try:
                    m = fx.framewise(prepare_utterance(load_audio(p), vad_config=vad_config))["logmel"]
                except Exception as exc:
                    failures.append(f"{p}: {type(exc).__name__}: {exc}")
                    out[i] = np.nan
                    bar.advance(task)
                    continue
                if f is not None:
                    f.parent.mkdir(parents=True, exist_ok=True)
                    tmp = f.with_suffix(f".{os.getpid()}.tmp.npy")
                    np.save(tmp, m.astype(np.float32))
                    os.replace(tmp, f)
            out[i] = fix_length(m, n_frames)
            bar.advance(task)
    if failures:
        raise ValueError(f"log-mel extraction failed for {len(failures)} files: " + "; ".join(failures[:3]))
    return out


# --------------------------------------------------------------------------- networks


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(_NO_TORCH) from exc
    return torch


def _build_network(
    architecture: str,
    *,
    n_mels: int,
    n_classes: int,
    dropout: float,
    channels: tuple[int, ...],
    input_time_pool: int,
    lstm_units: int,
):
    """The torch module of an architecture; input (batch, 1, n_mels, n_frames) float32,
    output (batch, n_classes) logits."""
    torch = _torch()
    nn = torch.nn

    def block(c_in: int, c_out: int, pool: tuple[int, int]) -> Any:
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(pool)
        )

    c = channels
    stem = [nn.AvgPool2d((1, input_time_pool))] if input_time_pool > 1 else []

    class CNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                *stem, block(1, c[0], (2, 2)), block(c[0], c[1], (2, 2)), block(c[1], c[2], (2, 2)), block(c[2], c[3], (2, 2))
            )
            self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * c[3], n_classes))

        def forward(self, x):  # noqa: ANN001, ANN202
            h = self.features(x).flatten(2)  # (B, c[3], bands x frames)
            return self.head(torch.cat([h.mean(2), h.amax(2)], dim=1))

    class CNNLSTM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(*stem, block(1, c[0], (2, 2)), block(c[0], c[1], (2, 2)), block(c[1], c[2], (4, 1)))
            self.lstm = nn.LSTM(c[2] * (n_mels // 16), lstm_units, batch_first=True, bidirectional=True)
            self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * lstm_units, n_classes))

        def forward(self, x):  # noqa: ANN001, ANN202
            h = self.features(x)  # (B, c[2], n_mels / 16, frames / (4 input_time_pool))
            b, ch, f, t = h.shape
            h, _ = self.lstm(h.reshape(b, ch * f, t).transpose(1, 2))  # (B, t, 2 lstm_units)
            return self.head(torch.cat([h.mean(1), h.amax(1)], dim=1))

    return CNN() if architecture == "cnn" else CNNLSTM()


def _validation_speakers(groups: np.ndarray, y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of the rows of the held-out validation speakers (>= 1 speaker, every
    class present on both sides when possible: a few seeded draws are tried)."""
    speakers = np.unique(groups)
    if speakers.size < 2:
        raise ValueError("early stopping needs at least two training speakers")
    n_val = max(1, int(round(fraction * speakers.size)))
    best = None
    for _ in range(20):
        val = np.isin(groups, rng.permutation(speakers)[:n_val])
        if best is None:
            best = val
        if np.unique(y[val]).size == np.unique(y).size and np.unique(y[~val]).size == np.unique(y).size:
            return val
    return best


def _mask_batch(x, cfg: DeepConfig, gen) -> Any:  # noqa: ANN001
    """SpecAugment masks in place on a standardised batch (B, 1, F, T): masked cells -> 0,
    the band mean."""
    torch = _torch()
    b, _, n_f, n_t = x.shape
    for n_masks, width, size, axis in ((cfg.freq_masks, cfg.freq_mask_bands, n_f, 2), (cfg.time_masks, cfg.time_mask_frames, n_t, 3)):
        for _ in range(n_masks):
            w = torch.randint(0, width + 1, (b,), generator=gen)
            start = (torch.rand(b, generator=gen) * (size - w).clamp(min=1)).long()
            pos = torch.arange(size)
            m = (pos[None, :] >= start[:, None]) & (pos[None, :] < (start + w)[:, None])  # (B, size)
            if axis == 2:
                x.masked_fill_(m[:, None, :, None], 0.0)
            else:
                x.masked_fill_(m[:, None, None, :], 0.0)
    return x


class DeepClassifier:
    """A CNN or CNN-LSTM on fixed-length log-mel spectrograms, with scikit-learn manners.

    Parameters
    ----------
    config : DeepConfig, optional
        Architecture and training settings.
    n_mels : int, default 64
        Mel bands of the input (rows may be given flattened, see :meth:`fit`).

    Attributes
    ----------
    classes_ : np.ndarray, int64, shape (n_classes,)
    mean_, std_ : np.ndarray, float32, shape (n_mels,)
        Per-band standardisation, fitted on the fitting speakers' utterances.
    network_ : torch.nn.Module
        Weights of the best validation epoch.
    history_ : list of dict
        Per epoch: ``epoch``, ``loss``, ``val_ua`` (0..1), ``seconds``.
    best_epoch_ : int
    train_seconds_ : float
        Wall time of :meth:`fit`.
    """

    def __init__(self, config: DeepConfig | None = None, *, n_mels: int = 64) -> None:
        self.config = config or DeepConfig()
        self.n_mels = n_mels

    def _as_images(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim == 2:
            if X.shape[1] % self.n_mels:
                raise ValueError(f"rows of {X.shape[1]} values are not n_mels={self.n_mels} bands of frames")
            X = X.reshape(X.shape[0], self.n_mels, -1)
        if X.ndim != 3 or X.shape[1] != self.n_mels:
            raise ValueError(f"expected spectrograms of shape (n, {self.n_mels}, n_frames), got {X.shape}")
        return X

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> "DeepClassifier":
        """Train with early stopping on held-out training speakers.

        Parameters
        ----------
        X : np.ndarray, float32, shape (n, n_mels, n_frames) or (n, n_mels * n_frames)
            Log-mel spectrograms (dB), e.g. from :func:`load_logmels`.
        y : np.ndarray, int, shape (n,)
            Class indices.
        groups : np.ndarray, shape (n,)
            Speaker of each row; validation speakers are drawn from these.

        Returns
        -------
        self

        Raises
        ------
        ImportError
            PyTorch is not installed.
        ValueError
            Bad shapes, or fewer than two speakers.
        """
        torch = _torch()
        from sklearn.metrics import balanced_accuracy_score

        cfg = self.config
        t0 = time.perf_counter()
        torch.set_num_threads(cfg.n_threads)
        torch.manual_seed(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        X = self._as_images(X)
        y = np.asarray(y)
        groups = np.asarray(groups)
        self.classes_ = np.unique(y)
        yi = np.searchsorted(self.classes_, y)
        val = _validation_speakers(groups, yi, cfg.validation_fraction, rng)
        fit_rows = ~val
        Xc = self._centre(X[fit_rows])
        self.mean_ = Xc.mean(axis=(0, 2)).astype(np.float32)
        self.std_ = (Xc.std(axis=(0, 2)) + 1e-3).astype(np.float32)
        del Xc
        xf = torch.from_numpy(self._standardise(X[fit_rows]))
        yf = torch.from_numpy(yi[fit_rows].astype(np.int64))
        xv = self._standardise(X[val])
        yv = yi[val]
        counts = np.bincount(yi[fit_rows], minlength=self.classes_.size).astype(np.float64)
        weights = torch.tensor(counts.sum() / (self.classes_.size * np.maximum(counts, 1)), dtype=torch.float32)
        net = _build_network(
            cfg.architecture, n_mels=self.n_mels, n_classes=self.classes_.size, dropout=cfg.dropout,
            channels=cfg.channels, input_time_pool=cfg.input_time_pool, lstm_units=cfg.lstm_units,
        )
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        steps = max(1, -(-len(yf) // cfg.batch_size))
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.learning_rate, total_steps=cfg.max_epochs * steps + 1)
        loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
        # validation and prediction use an exponential moving average of the weights (and of
        # the batch-norm statistics): on a few thousand utterances the raw weights swing from
        # epoch to epoch, the average does not
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        warmup_epochs = int(0.3 * cfg.max_epochs)  # OneCycleLR's default pct_start
        decay = 0.5 ** (1.0 / (cfg.ema_half_life_epochs * steps))
        ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
        best_ua, best_state, self.best_epoch_, self.history_ = -1.0, None, 0, []
        for epoch in range(1, cfg.max_epochs + 1):
            te = time.perf_counter()
            net.train()
            order = torch.randperm(len(yf), generator=gen)
            total = 0.0
            for s in range(0, len(order), cfg.batch_size):
                idx = order[s : s + cfg.batch_size]
                if idx.numel() < 2:  # batch norm needs two examples
                    continue
                xb = _mask_batch(xf[idx].clone(), cfg, gen)
                opt.zero_grad()
                loss = loss_fn(net(xb), yf[idx])
                loss.backward()
                opt.step()
                sched.step()
                ema.update_parameters(net)
                total += loss.item() * idx.numel()
            self.network_ = ema.module
            ua = float(balanced_accuracy_score(yv, self._predict_index(xv)))
            self.history_.append({"epoch": epoch, "loss": total / len(yf), "val_ua": ua, "seconds": time.perf_counter() - te})
            log.info("%s epoch %d: loss %.3f, validation UA %.1f %%", cfg.architecture, epoch, total / len(yf), ua * 100)
            if epoch <= warmup_epochs:  # the rising part of the schedule: not a candidate
                pass
            elif ua > best_ua:
                best_ua, self.best_epoch_ = ua, epoch
                best_state = {k: v.detach().clone() for k, v in ema.module.state_dict().items()}
            elif epoch - self.best_epoch_ >= cfg.patience_epochs:
                break
            if cfg.max_train_s is not None and time.perf_counter() - t0 > cfg.max_train_s:
                log.info("%s: time budget of %.0f s reached after epoch %d", cfg.architecture, cfg.max_train_s, epoch)
                break
        net = ema.module
        net.load_state_dict(best_state)
        net.eval()
        self.network_ = net
        self.best_val_ua_ = best_ua
        self.train_seconds_ = time.perf_counter() - t0
        return self

    def _centre(self, X: np.ndarray) -> np.ndarray:
        return X - X.mean(axis=2, keepdims=True) if self.config.utterance_mean else X

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return ((self._centre(X) - self.mean_[None, :, None]) / self.std_[None, :, None])[:, None].astype(np.float32)

    def _logits(self, images: np.ndarray) -> np.ndarray:
        torch = _torch()
        self.network_.eval()
        out = []
        with torch.no_grad():
            for s in range(0, len(images), 64):
                out.append(self.network_(torch.from_numpy(images[s : s + 64])).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.classes_.size), dtype=np.float32)

    def _predict_index(self, images: np.ndarray) -> np.ndarray:
        return self._logits(images).argmax(axis=1)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (softmax of the network's outputs).

        Parameters
        ----------
        X : np.ndarray, float32, shape (n, n_mels, n_frames) or (n, n_mels * n_frames)

        Returns
        -------
        np.ndarray, float32, shape (n, n_classes)
            Columns in the order of :attr:`classes_`.
        """
        z = self._logits(self._standardise(self._as_images(X)))
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class of each row, shape (n,), values from :attr:`classes_`."""
        return self.classes_[self._predict_index(self._standardise(self._as_images(X)))]


# --------------------------------------------------------------------------- evaluation


def run_deep_protocol(
    protocol: str,
    *,
    config: DeepConfig | None = None,
    progress: bool = True,
    source: Any = None,
    cache_dir: Path | None | bool = None,
):
    """Evaluate a deep model on a protocol, speaker-independently, like the classical rows.

    Each fold trains a fresh :class:`DeepClassifier` on the fold's training speakers only (its
    validation speakers for early stopping are drawn from them) and scores the held-out ones,
    through :func:`train.evaluate.run_protocol`.

    Parameters
    ----------
    protocol : str
        A protocol of :mod:`train.protocols` (e.g. ``"ravdess-6fold"``).
    config : DeepConfig, optional
    progress : bool
    source : optional
        Records per corpus (see :func:`train.protocols.make_folds`), for tests.
    cache_dir : optional
        See :func:`load_logmels`.

    Returns
    -------
    train.evaluate.EvaluationResult
        Classifier named after :data:`DEEP_MODELS`; ``extra["fold_train_s"]`` holds the
        training time of each fold (s), ``extra["deep_config"]`` the settings; each fold's
        ``chosen`` notes the best epoch and the training time.

    Raises
    ------
    ImportError
        PyTorch is not installed.
    ValueError
        Unknown protocol, or a file that cannot be read.
    """
    _torch()
    from .evaluate import run_protocol
    from .protocols import make_folds

    config = config or DeepConfig()
    fs = make_folds(protocol, source)
    X = load_logmels([r.path for r in fs.records], n_frames=config.n_frames, cache_dir=cache_dir, progress=progress)
    n_mels = X.shape[1]
    fold_s: list[float] = []

    def fit(Xtr: np.ndarray, ytr: np.ndarray, gtr: np.ndarray) -> tuple[DeepClassifier, str]:
        est = DeepClassifier(config, n_mels=n_mels).fit(Xtr, ytr, gtr)
        fold_s.append(est.train_seconds_)
        note = f"best epoch {est.best_epoch_}/{len(est.history_)}, validation UA {est.best_val_ua_ * 100:.1f}, {est.train_seconds_:.0f} s"
        return est, note

    res = run_protocol(
        protocol, fit=fit, classifier_name=DEEP_MODELS[config.architecture], data=(fs, X.reshape(len(X), -1), []), progress=progress
    )
    res.extra["fold_train_s"] = fold_s
    res.extra["deep_config"] = asdict(config)
    return res


def compare_deep(
    protocol: str,
    architectures: Sequence[str],
    *,
    out_dir: str | Path,
    command: str,
    n_threads: int = 1,
    emit: Callable[[str], None] = lambda s: None,
) -> list:
    """``python -m train compare --classifiers cnn cnn-lstm``: evaluate, write reports, summarise.

    Parameters
    ----------
    protocol : str
    architectures : sequence of str
        Keys of :data:`DEEP_MODELS`.
    out_dir : str or Path
        Report folder: per model ``<protocol>-<row>.json/.md/-confusion.png`` (as the other
        rows) and ``compare-<protocol>-deep.json`` (rows of models not run now are kept).
    command : str
        The command line, recorded in the reports.
    n_threads : int
        PyTorch threads.
    emit : callable
        Receives the printable summary lines.

    Returns
    -------
    list of train.evaluate.EvaluationResult

    Raises
    ------
    SerLiveError
        PyTorch is not installed (exit code 1 of ``python -m train``, with the install line).
    ValueError
        An unknown architecture name.
    """
    from ser_live.errors import SerLiveError

    from .evaluate import write_reports

    try:
        _torch()
    except ImportError as exc:
        raise SerLiveError(str(exc)) from None

    unknown = [a for a in architectures if a not in DEEP_MODELS]
    if unknown:
        raise ValueError(f"unknown deep classifier(s) {unknown}; choose from {sorted(DEEP_MODELS)}")
    rows = []
    for arch in architectures:
        res = run_deep_protocol(protocol, config=replace(DeepConfig(), architecture=arch, n_threads=n_threads))
        paths = write_reports(res, out_dir, command=command)
        per_fold = ", ".join(f"{s:.0f}" for s in res.extra["fold_train_s"])
        emit(f"{res.classifier} on {res.protocol}: {res.headline()}")
        emit(f"  training time per fold (s): {per_fold}; mean {np.mean(res.extra['fold_train_s']):.0f}; run {res.seconds:.0f} s")
        emit(f"  reports: {paths['json']}")
        rows.append(res)
    summary = []
    for r in rows:
        d = r.to_json()
        summary.append({"classifier": r.classifier, **{k: v for k, v in d.items() if k[:3] in ("ua_", "wa_", "f1_")}, "fold_train_s": r.extra["fold_train_s"]})
    out = Path(out_dir) / f"compare-{protocol.replace(':', '_').replace('>', '')}-deep.json"
    if out.exists():  # keep the rows of the other model from an earlier run
        done = {r["classifier"] for r in summary}
        summary = [r for r in json.loads(out.read_text()).get("rows", []) if r.get("classifier") not in done] + summary
    out.write_text(json.dumps({"protocol": protocol, "command": command, "rows": summary}, indent=2))
    emit(f"table: {out}")
    return rows

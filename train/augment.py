"""Training-time augmentation: additive noise at a given SNR, gain, speed perturbation, room
reverberation and microphone responses (band limits, spectral tilt).

Applied to training-fold audio only (never to test speakers), before the VAD trimming and
the extractor, so augmented copies see the same path as live audio. Each copy is
deterministic: its random stream is seeded from the file's key (its place in the corpora folder,
:func:`train.extract.augmentation_seed_key`) and the augmentation.

References
----------
.. [1] T. Ko et al., "Audio augmentation for speech recognition", Interspeech 2015
   (speed perturbation by resampling, factors 0.9 and 1.1).
.. [2] R. Scheibler, E. Bezzam, I. Dokmanic, "Pyroomacoustics: a Python package for audio
   room simulations and array processing algorithms", ICASSP 2018 (image-source room impulse
   responses; ``inverse_sabine`` for the absorption giving a target RT60).
.. [3] T. Ko et al., "A study on data augmentation of reverberant speech for robust speech
   recognition", ICASSP 2017 (simulated RIRs for training).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields
from functools import lru_cache

import numpy as np

from ser_live.levels import speech_rms

__all__ = [
    "Augmentation", "apply_augmentation", "colored_noise", "mix_at_snr", "speech_rms", "NOISE_ALPHA",
    "AUGMENT_NOISES", "self_babble",
    "DEFAULT_AUGMENTATIONS", "rir_bank", "RIR_BANK_SIZE", "CHANNEL_RT60_S", "channel_draw",
]

#: Room impulse responses simulated per RT60 (the bank is seeded: the same rooms every run).
RIR_BANK_SIZE = 8
_SR = 16000
#: Exponent alpha of the 1/f^alpha power spectrum of each coloured noise (white 0).
NOISE_ALPHA = {"white": 0.0, "pink": 1.0, "brown": 2.0}
#: Noise kinds an :class:`Augmentation` may add: the coloured noises, and ``"babble"``
#: (:func:`self_babble`).
AUGMENT_NOISES: tuple[str, ...] = (*NOISE_ALPHA, "babble")
#: Talkers of a :func:`self_babble` (fewest, most), as the room conditions' babble has.
SELF_BABBLE_TALKERS: tuple[int, int] = (4, 6)
#: Below this frequency (Hz) coloured noise is flat (:func:`colored_noise` ``floor_hz`` in the
#: room conditions and training copies): subsonic power would otherwise dominate the RMS of
#: brown noise while no microphone or feature sees it.
COLORED_FLOOR_HZ = 20.0


@dataclass(frozen=True)
class Augmentation:
    """One augmented copy of each training file.

    Attributes
    ----------
    snr_db : float or None
        Add white noise at this signal-to-noise ratio (dB, against the speech's loud-frame
        RMS); None for no noise.
    gain_db : float
        Gain applied (dB); the result is clipped to [-1, 1].
    speed : float
        Speed factor (>1 faster and higher, by resampling [1]_); 1.0 for none.
    rt60_s : float or None
        Convolve with a simulated room impulse response of this RT60 (s) [2]_ [3]_: one of a
        seeded bank of :data:`RIR_BANK_SIZE` shoebox rooms (3-8 m x 3-6 m x 2.5-3.5 m), the
        room chosen per file; None for none.
    highpass_hz, lowpass_hz : float or None
        Band-limited microphone: 4th-order Butterworth high-pass / low-pass (Hz).
    tilt_db_per_octave : float
        Microphone spectral tilt: gain ``tilt * log2(f / 1 kHz)`` dB (positive brightens).
    channel : bool
        A random channel per file (issue 10 item 4), drawn from a stream seeded by the file
        and replacing the room, microphone and noise fields: RT60 one of
        :data:`CHANNEL_RT60_S` (0.2-0.8 s, a room of that bank chosen per file); a microphone
        that is band-limited (high-pass 80-300 Hz and low-pass 3.4-8 kHz) or tilted
        (-3..+3 dB/octave), each with probability 1/2; white noise at an SNR uniform in
        5-20 dB. See :func:`channel_draw`.
    noise : {"white", "pink", "brown", "babble"}
        Colour of the noise added at ``snr_db`` (:func:`colored_noise`, flat below
        :data:`COLORED_FLOOR_HZ` for pink and brown), or babble made from the utterance
        itself (:func:`self_babble`).
    live_cut : bool
        The file as the live segmenter cuts it in a quiet room (:func:`live_cut`): levelled,
        between pauses over a room floor, cut by :func:`ser_live.vad.segment_signal` (the
        live settings), its longest utterance. Applied last; the extraction does not trim
        this copy again (the cut is what the live worker extracts).

    Order: speed, reverberation, microphone response, noise, gain, live cut.
    """

    snr_db: float | None = None
    gain_db: float = 0.0
    speed: float = 1.0
    rt60_s: float | None = None
    highpass_hz: float | None = None
    lowpass_hz: float | None = None
    tilt_db_per_octave: float = 0.0
    channel: bool = False
    noise: str = "white"
    live_cut: bool = False

    def __post_init__(self) -> None:
        if self.noise not in AUGMENT_NOISES:
            raise ValueError(f"augmentation noise must be one of {sorted(AUGMENT_NOISES)}, got {self.noise!r}")

    def key(self) -> dict:
        """JSON-able identity (part of the feature-cache key); fields at their default that
        were added later are left out, so older cache entries stay valid."""
        d = asdict(self)
        for f in fields(self)[3:]:
            if d[f.name] == f.default:
                del d[f.name]
        return d

    def __str__(self) -> str:
        parts = []
        if self.snr_db is not None:
            parts.append(f"{'' if self.noise == 'white' else self.noise + ' '}noise {self.snr_db:g} dB SNR")
        if self.gain_db:
            parts.append(f"gain {self.gain_db:+g} dB")
        if self.speed != 1.0:
            parts.append(f"speed x{self.speed:g}")
        if self.rt60_s is not None:
            parts.append(f"room RT60 {self.rt60_s:g} s")
        if self.highpass_hz is not None or self.lowpass_hz is not None:
            parts.append(f"band {self.highpass_hz or 0:g}-{self.lowpass_hz or _SR / 2:g} Hz")
        if self.tilt_db_per_octave:
            parts.append(f"tilt {self.tilt_db_per_octave:+g} dB/oct")
        if self.channel:
            parts.append("random channel (RT60 0.2-0.8 s, band limit or tilt, noise 5-20 dB SNR)")
        if self.live_cut:
            lo, hi = LIVE_CUT_LEVEL_DBFS
            parts.append(f"live cut (level {lo:g} to {hi:g} dBFS, floor {LIVE_CUT_SNR_DB[0]:g}-{LIVE_CUT_SNR_DB[1]:g} dB below)")
        return ", ".join(parts) or "none"

    def apply(self, y: np.ndarray, *, seed_key: str = "") -> np.ndarray:
        """This copy of one utterance (:func:`apply_augmentation`)."""
        return apply_augmentation(y, self, seed_key=seed_key)

    @classmethod
    def from_dict(cls, d: dict) -> "Augmentation":
        """Build from a recipe table; unknown keys raise ``ValueError`` naming them."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown augmentation keys {unknown}; known: {sorted(names)}")
        return cls(**d)


#: The copies added per training file when augmentation is on.
DEFAULT_AUGMENTATIONS: tuple[Augmentation, ...] = (
    Augmentation(snr_db=20.0, gain_db=-6.0),
    Augmentation(speed=0.9),
    Augmentation(speed=1.1, snr_db=30.0),
)


def colored_noise(
    kind: str,
    n_samples: int,
    *,
    seed: int = 0,
    rng: np.random.Generator | None = None,
    floor_hz: float | None = None,
    sample_rate_hz: int = _SR,
) -> np.ndarray:
    """Stationary Gaussian noise with a power spectrum ``1/f**alpha``, unit RMS (shaped in the frequency domain: Kasdin 1995, Timmer & Koenig 1995).

    Parameters
    ----------
    kind : {"white", "pink", "brown"}
        alpha = 0, 1 or 2 (flat, -3 dB and -6 dB per octave).
    n_samples : int
        Length (samples).
    seed : int, default 0
        Seed of ``numpy.random.default_rng`` (when ``rng`` is not given).
    rng : np.random.Generator, optional
    floor_hz : float, optional
        Flat below this frequency (Hz): without it brown noise puts most of its power below
        20 Hz, where no microphone or feature hears it. None: the power law down to the
        lowest bin (DC set to zero).
    sample_rate_hz : int, default 16000

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
        Zero mean, RMS 1.

    Raises
    ------
    ValueError
        Unknown ``kind``.
    """
    if kind not in NOISE_ALPHA:
        raise ValueError(f"noise kind must be one of {sorted(NOISE_ALPHA)} (got {kind!r})")
    rng = rng if rng is not None else np.random.default_rng(seed)
    x = rng.standard_normal(n_samples)
    if NOISE_ALPHA[kind]:
        spec = np.fft.rfft(x)
        f = np.fft.rfftfreq(n_samples, 1.0 / sample_rate_hz)
        if floor_hz is None:
            scale = np.zeros_like(f)
            scale[1:] = f[1:] ** (-NOISE_ALPHA[kind] / 2.0)
        else:
            scale = np.maximum(f, floor_hz) ** (-NOISE_ALPHA[kind] / 2.0)
        x = np.fft.irfft(spec * scale, n_samples)
    x = x - x.mean()
    return (x / np.sqrt(np.mean(x**2))).astype(np.float32)


def apply_augmentation(y: np.ndarray, aug: Augmentation, *, seed_key: str = "") -> np.ndarray:
    """Augmented copy of one utterance.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
        16 kHz mono audio in [-1, 1].
    aug : Augmentation
    seed_key : str
        Seeds the noise (with ``aug``) so the copy is reproducible.

    Returns
    -------
    np.ndarray, float32, shape (n_samples',)
        ``n_samples' = round(n_samples / speed)``.
    """
    out = np.asarray(y, dtype=np.float32)
    if aug.channel:
        aug = channel_draw(seed_key, speed=aug.speed, gain_db=aug.gain_db)
    if aug.speed != 1.0:
        import soxr

        # resample as if recorded at sr*speed, played at sr: faster and higher
        out = soxr.resample(out, 16000 * aug.speed, 16000, quality="HQ").astype(np.float32)
    if aug.rt60_s is not None:
        from scipy.signal import fftconvolve

        bank = rir_bank(float(aug.rt60_s))
        pick = int.from_bytes(hashlib.sha1(f"{seed_key}|rir".encode()).digest()[:4], "little") % len(bank)
        peak_before = float(np.max(np.abs(out))) or 1.0
        out = fftconvolve(out, bank[pick])[: out.size].astype(np.float32)
        out *= np.float32(peak_before / max(float(np.max(np.abs(out))), 1e-9))
    if aug.highpass_hz is not None or aug.lowpass_hz is not None or aug.tilt_db_per_octave:
        out = _mic_response(out, aug)
    if aug.snr_db is not None:
        seed = int.from_bytes(hashlib.sha1(f"{seed_key}|{aug}".encode()).digest()[:8], "little")
        rng = np.random.default_rng(seed)
        if aug.noise == "white":
            out = mix_at_snr(out, rng.standard_normal(out.size), snr_db=aug.snr_db, noise_rms=1.0)
        elif aug.noise == "babble":
            out = mix_at_snr(out, self_babble(out, rng=rng), snr_db=aug.snr_db)
        else:
            noise = colored_noise(aug.noise, out.size, rng=rng, floor_hz=COLORED_FLOOR_HZ)
            out = mix_at_snr(out, noise, snr_db=aug.snr_db)
    if aug.gain_db:
        out = out * np.float32(10.0 ** (aug.gain_db / 20.0))
    out = np.clip(out, -1.0, 1.0).astype(np.float32)
    if aug.live_cut:
        out = live_cut(out, seed_key=seed_key)
    return out


#: Loud-frame speech level (dBFS) of a :func:`live_cut` copy: drawn uniformly in this range
#: (a laptop microphone at arm's length to a headset).
LIVE_CUT_LEVEL_DBFS: tuple[float, float] = (-38.0, -20.0)
#: How far (dB) the room floor of a :func:`live_cut` copy lies below the speech level: drawn
#: uniformly in this range (quiet rooms; noisier ones go to the noise branch).
LIVE_CUT_SNR_DB: tuple[float, float] = (25.0, 45.0)
#: Pause (s) of floor before and after the utterance in a :func:`live_cut` copy.
LIVE_CUT_PAUSE_S: float = 1.0


def live_cut(y: np.ndarray, *, seed_key: str = "") -> np.ndarray:
    """One utterance as the live path hears and cuts it in a quiet room.

    The training corpora are studio files; live, the segmenter cuts an utterance out of a
    stream at the microphone's level over the room's floor, its pre-roll and hangover
    carrying that floor, and its VAD (with the live input gain) deciding the boundaries.
    Here ``y`` is brought to a loud-frame level drawn from :data:`LIVE_CUT_LEVEL_DBFS`, put
    between pauses of :data:`LIVE_CUT_PAUSE_S`, a floor (white, pink or brown, drawn; RMS
    drawn :data:`LIVE_CUT_SNR_DB` below the speech) laid under the whole, and the result cut
    by :func:`ser_live.vad.segment_signal` with the live :class:`~ser_live.vad.VadConfig`.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
        16 kHz mono audio in [-1, 1].
    seed_key : str
        Seeds the draws (level, floor colour and level, noise).

    Returns
    -------
    np.ndarray, float32, shape (n_cut,)
        The longest utterance of the cut (its int16 samples, :func:`ser_live.audiofile.to_float32`); the levelled
        file with its floor when the segmenter finds none.
    """
    from ser_live.audiofile import to_float32
    from ser_live.vad import VadConfig, segment_signal

    seed = int.from_bytes(hashlib.sha1(f"{seed_key}|live-cut".encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    level_db = rng.uniform(*LIVE_CUT_LEVEL_DBFS)
    snr_db = rng.uniform(*LIVE_CUT_SNR_DB)
    kind = ("white", "pink", "brown")[int(rng.integers(3))]
    ref = speech_rms(y)
    x = np.asarray(y, dtype=np.float32) * np.float32(10.0 ** (level_db / 20.0) / max(ref, 1e-9))
    pad = np.zeros(int(LIVE_CUT_PAUSE_S * _SR), dtype=np.float32)
    x = np.concatenate([pad, x, pad])
    floor = colored_noise(kind, x.size, rng=rng, floor_hz=COLORED_FLOOR_HZ)
    x = np.clip(x + floor * np.float32(10.0 ** ((level_db - snr_db) / 20.0)), -1.0, 1.0).astype(np.float32)
    utts = segment_signal(x, config=VadConfig(), sample_rate_hz=_SR)
    if not utts:
        return x
    return to_float32(max(utts, key=lambda u: u.samples.size).samples)


def self_babble(y: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Babble made from one utterance: 4-6 time-reversed copies of it, each circularly
    shifted by a random offset, at equal level, summed.

    Time-reversed speech keeps the long-term spectrum and the syllable-rate envelope of
    speech but carries no words, and is a standard speech masker (Rhebergen, Versfeld &
    Dreschler, "Release from informational masking by time reversal of native and non-native
    interfering speech", J. Acoust. Soc. Am. 118(3), 2005). Built from the training utterance
    itself, the babble holds no other speaker's voice, so no speaker held out by a protocol
    is ever heard in training. The room conditions' babble (:func:`train.conditions.babble_noise`)
    is made of other speakers instead.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
        The utterance, 16 kHz mono.
    rng : np.random.Generator
        Chooses the number of talkers (:data:`SELF_BABBLE_TALKERS`) and their offsets.

    Returns
    -------
    np.ndarray, float64, shape (n_samples,)
        Each copy scaled to unit :func:`speech_rms` before the sum; zeros for silent input.
    """
    y = np.asarray(y, dtype=np.float64)
    out = np.zeros(y.size)
    if y.size == 0:
        return out
    level = speech_rms(y)
    if level <= 0.0:
        return out
    rev = y[::-1] / level
    lo, hi = SELF_BABBLE_TALKERS
    for _ in range(int(rng.integers(lo, hi + 1))):
        out += np.roll(rev, int(rng.integers(0, y.size)))
    return out


#: RT60 values (s) of the room banks a random channel (``Augmentation.channel``) draws from.
CHANNEL_RT60_S: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)


def channel_draw(seed_key: str, *, speed: float = 1.0, gain_db: float = 0.0) -> Augmentation:
    """The fixed augmentation a random channel (``Augmentation(channel=True)``) applies to one
    file.

    Parameters
    ----------
    seed_key : str
        The file's key (its path); the same key always draws the same channel.
    speed : float, default 1.0
    gain_db : float, default 0.0
        Kept from the calling augmentation.

    Returns
    -------
    Augmentation
        With ``rt60_s`` one of :data:`CHANNEL_RT60_S`; with probability 1/2 a band-limited
        microphone (high-pass uniform 80-300 Hz, low-pass uniform 3.4-8 kHz, 8 kHz meaning
        none), else a tilt uniform in -3..+3 dB/octave; ``snr_db`` uniform in 5-20 dB.
    """
    seed = int.from_bytes(hashlib.sha1(f"{seed_key}|channel".encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    rt60 = float(CHANNEL_RT60_S[int(rng.integers(len(CHANNEL_RT60_S)))])
    band = bool(rng.random() < 0.5)
    hp = float(rng.uniform(80.0, 300.0))
    lp = float(rng.uniform(3400.0, 8000.0))
    tilt = float(rng.uniform(-3.0, 3.0))
    snr = float(rng.uniform(5.0, 20.0))
    return Augmentation(
        snr_db=round(snr, 2), gain_db=gain_db, speed=speed, rt60_s=rt60,
        highpass_hz=round(hp, 1) if band else None,
        lowpass_hz=round(lp, 1) if band and lp < 7900.0 else None,
        tilt_db_per_octave=0.0 if band else round(tilt, 2),
    )


def mix_at_snr(y: np.ndarray, noise: np.ndarray, *, snr_db: float, noise_rms: float | None = None) -> np.ndarray:
    """Add noise at a signal-to-noise ratio: the one noise mixer of training and evaluation.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
        Speech in [-1, 1].
    noise : np.ndarray, float, shape (n_samples,)
        Noise of any level (white, coloured, babble, ...).
    snr_db : float
        Target SNR (dB): :func:`speech_rms` of ``y`` over the RMS of the added noise.
    noise_rms : float, optional
        The noise's nominal RMS (1.0 for ``standard_normal`` draws); None measures it.

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
        ``y`` plus the scaled noise (not clipped: :func:`apply_augmentation` clips at the end).

    Raises
    ------
    ValueError
        ``noise`` is not as long as ``y``.
    """
    noise = np.asarray(noise)
    if noise.shape != np.shape(y):
        raise ValueError(f"noise of shape {noise.shape} for speech of shape {np.shape(y)}")
    ref = float(np.sqrt(np.mean(noise.astype(np.float64) ** 2))) if noise_rms is None else float(noise_rms)
    scale = speech_rms(y) / (10.0 ** (snr_db / 20.0)) / max(ref, 1e-20)
    return y + (scale * noise).astype(np.float32)


@lru_cache(maxsize=8)
def rir_bank(rt60_s: float, *, n: int = RIR_BANK_SIZE, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Seeded room impulse responses with a target RT60, simulated once per process.

    Parameters
    ----------
    rt60_s : float
        Target reverberation time (s), e.g. 0.2-0.8.
    n : int, default :data:`RIR_BANK_SIZE`
        Rooms in the bank.
    seed : int, default 0
        Seeds room sizes and source/microphone positions (with ``rt60_s``).

    Returns
    -------
    tuple of np.ndarray, float32, shape (n_taps,)
        16 kHz impulse responses, each normalised to unit peak, direct path first.

    Raises
    ------
    ValueError
        The RT60 cannot be reached in a room (``pyroomacoustics.inverse_sabine`` fails).

    References
    ----------
    .. [1] Scheibler et al. (2018), pyroomacoustics ``ShoeBox`` and ``inverse_sabine``.
    """
    import pyroomacoustics as pra

    rng = np.random.default_rng([seed, int(round(rt60_s * 1000))])
    out = []
    for _ in range(n):
        dims = np.array([rng.uniform(3, 8), rng.uniform(3, 6), rng.uniform(2.5, 3.5)])
        e_absorption, max_order = pra.inverse_sabine(rt60_s, dims)
        room = pra.ShoeBox(dims, fs=_SR, materials=pra.Material(e_absorption), max_order=max_order)
        margin = 0.5
        src = rng.uniform(margin, dims - margin)
        mic = rng.uniform(margin, dims - margin)
        room.add_source(src)
        room.add_microphone(mic)
        room.compute_rir()
        h = np.asarray(room.rir[0][0], dtype=np.float64)
        h = h[np.argmax(np.abs(h)) - 20 if np.argmax(np.abs(h)) > 20 else 0 :]
        out.append((h / np.max(np.abs(h))).astype(np.float32))
    return tuple(out)


def _mic_response(y: np.ndarray, aug: Augmentation) -> np.ndarray:
    """Band limits (Butterworth, zero extra delay not needed) and spectral tilt of a microphone."""
    from scipy.signal import butter, sosfilt

    out = y.astype(np.float64)
    if aug.highpass_hz is not None:
        out = sosfilt(butter(4, aug.highpass_hz, btype="highpass", fs=_SR, output="sos"), out)
    if aug.lowpass_hz is not None:
        out = sosfilt(butter(4, aug.lowpass_hz, btype="lowpass", fs=_SR, output="sos"), out)
    if aug.tilt_db_per_octave:
        spec = np.fft.rfft(out)
        f = np.fft.rfftfreq(out.size, 1.0 / _SR)
        gain_db = aug.tilt_db_per_octave * np.log2(np.maximum(f, 50.0) / 1000.0)
        out = np.fft.irfft(spec * 10.0 ** (gain_db / 20.0), n=out.size)
    peak_in = float(np.max(np.abs(y))) or 1.0
    out *= peak_in / max(float(np.max(np.abs(out))), 1e-9)
    return out.astype(np.float32)

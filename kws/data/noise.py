"""Noise generators for the synthetic set's `_background_noise_/` recordings and clip noise floors.

Functions of a `numpy.random.Generator` (numpy, and scipy.signal for one filter), so the same seed
gives the same samples:

    rng = np.random.default_rng(1234)
    pink = normalise(colored_noise(rng, 16000 * 60, exponent=1.0), rms_dbfs=-20.0)
    hum = normalise(mains_hum(rng, 16000 * 60, 16000, mains_hz=50.0), rms_dbfs=-24.0)

Outputs are float64 in [-1, 1] once normalised; `kws.data.audio.to_int16` turns them into PCM.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def db_to_gain(db: float) -> float:
    """Amplitude ratio of a level in dB."""
    return float(10.0 ** (db / 20.0))


def normalise(audio: np.ndarray, *, rms_dbfs: float | None = None, peak_dbfs: float = -1.0) -> np.ndarray:
    """Scale to an RMS level (dB re full scale), then down if needed so the peak stays below peak_dbfs."""
    audio = np.asarray(audio, dtype=np.float64)
    if rms_dbfs is not None:
        rms = float(np.sqrt(np.mean(audio * audio))) if audio.size else 0.0
        if rms > 0:
            audio = audio * (db_to_gain(rms_dbfs) / rms)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    limit = db_to_gain(peak_dbfs)
    if peak > limit:
        audio = audio * (limit / peak)
    return audio


def white_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Gaussian white noise, unit variance."""
    return rng.standard_normal(n)


def colored_noise(rng: np.random.Generator, n: int, exponent: float, *, sample_rate: int = 16000,
                  highpass_hz: float = 0.0) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown), shaped in the frequency domain.

    highpass_hz removes the lowest frequencies, where brown noise would otherwise drift like a DC offset.
    """
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, d=1.0 / sample_rate)
    shape = np.zeros_like(freqs)
    shape[1:] = freqs[1:] ** (-exponent / 2.0)
    if highpass_hz > 0:
        shape[freqs < highpass_hz] = 0.0
    out = np.fft.irfft(spectrum * shape, n)
    return out / (np.std(out) or 1.0)


def mains_hum(rng: np.random.Generator, n: int, sample_rate: int, *, mains_hz: float,
              harmonics: int = 9) -> np.ndarray:
    """Electrical hum: the mains frequency and its harmonics (odd ones stronger, like transformer buzz),
    with a slow random drift of frequency and level, over a faint hiss."""
    t = np.arange(n) / sample_rate
    # The grid frequency wanders by a few hundredths of a hertz; integrate it into a phase.
    drift = 0.03 * np.sin(2 * np.pi * rng.uniform(0.01, 0.05) * t + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * np.cumsum(mains_hz + drift) / sample_rate
    out = np.zeros(n)
    for k in range(1, harmonics + 1):
        if k * mains_hz >= sample_rate / 2:
            break
        amplitude = (1.0 if k % 2 else 0.45) / k ** 0.8 * rng.uniform(0.6, 1.0)
        out += amplitude * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    tremolo = 1.0 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 2 * np.pi))
    out *= tremolo
    out /= np.std(out) or 1.0
    return out + 0.03 * rng.standard_normal(n)


def noise_floor(rng: np.random.Generator, n: int, rms_dbfs: float) -> np.ndarray:
    """A faint, randomly tilted noise floor (white through to muffled) at rms_dbfs, as a microphone has."""
    from scipy.signal import lfilter

    pole = rng.uniform(0.0, 0.95)  # one-pole low-pass: 0 keeps it white, near 1 makes it rumble
    noise = lfilter([1.0 - pole], [1.0, -pole], rng.standard_normal(n))
    rms = float(np.sqrt(np.mean(noise * noise))) or 1.0
    return noise * (db_to_gain(rms_dbfs) / rms)


def mix_talkers(rng: np.random.Generator, talkers: Sequence[Sequence[np.ndarray]], n: int,
                sample_rate: int) -> np.ndarray:
    """Babble: each talker's utterances one after another with short pauses, all talkers overlapping.

    Talkers start at random points of their first utterance so they never begin in unison; each
    utterance gets a random level within +-6 dB.
    """
    out = np.zeros(n)
    for utterances in talkers:
        position = -int(rng.uniform(0.0, 2.0) * sample_rate)
        for utterance in utterances:
            if position >= n:
                break
            gain = db_to_gain(rng.uniform(-6.0, 6.0))
            start, end = max(position, 0), min(position + len(utterance), n)
            if end > start:
                out[start:end] += gain * utterance[start - position:end - position]
            position += len(utterance) + int(rng.uniform(0.08, 0.6) * sample_rate)
    return out


__all__ = ["colored_noise", "db_to_gain", "mains_hum", "mix_talkers", "noise_floor", "normalise", "white_noise"]

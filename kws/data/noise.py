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




def _band_noise(rng: np.random.Generator, n: int, sample_rate: int, centre_hz: np.ndarray,
                bandwidth_octaves: float) -> np.ndarray:
    """Noise through a band-pass whose centre follows centre_hz (one value per 1,024-sample block: a slowly
    wandering resonance), filtered block by block in the frequency domain with 50 % overlap-add."""
    block, hop = 1024, 512
    window = np.hanning(block + 1)[:block]  # periodic Hann: overlap-adds to a constant at hop = block / 2
    freqs = np.fft.rfftfreq(block, 1.0 / sample_rate)
    out = np.zeros(n + block)
    source = rng.standard_normal(n + block)
    for k, start in enumerate(range(0, n, hop)):
        centre = float(centre_hz[min(k, len(centre_hz) - 1)])
        octaves = np.log2(np.maximum(freqs, 1.0) / centre) / bandwidth_octaves
        gain = np.exp(-0.5 * octaves ** 2)
        out[start:start + block] += np.fft.irfft(np.fft.rfft(source[start:start + block] * window) * gain, block)
    out = out[:n]
    return out / (np.std(out) or 1.0)


def running_water(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """A running tap: broadband hiss through a resonance that wanders between ~0.6 and 3 kHz, its level
    fluctuating quickly, with bubbles (short rising, decaying tones of 0.5-3 kHz) a few dozen per second."""
    blocks = n // 512 + 2
    walk = np.cumsum(rng.normal(0.0, 0.04, blocks))
    centre = np.exp(np.log(1300.0) + 0.7 * np.tanh(walk - walk.mean()))
    out = _band_noise(rng, n, sample_rate, centre, bandwidth_octaves=1.2)
    flutter = np.repeat(np.exp(rng.normal(0.0, 0.25, n // 160 + 1)), 160)[:n]
    out *= flutter
    t = np.arange(int(0.03 * sample_rate)) / sample_rate
    for start in rng.integers(0, max(1, n - t.size), size=int(30 * n / sample_rate)):
        f0 = rng.uniform(500.0, 3000.0)
        chirp = np.sin(2 * np.pi * f0 * (t + 4.0 * t * t)) * np.exp(-t / rng.uniform(0.003, 0.01))
        out[start:start + t.size] += rng.uniform(0.5, 2.0) * chirp
    return out / (np.std(out) or 1.0)


def machine(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """A motor or exercise bike: a whir of harmonics of a drifting 25-120 Hz rotation, band noise that pulses
    with the rotation, and a slow rhythm (pedalling, a compressor cycle) of 0.5-2 Hz."""
    t = np.arange(n) / sample_rate
    rotation = rng.uniform(25.0, 120.0) * (1.0 + 0.05 * np.sin(2 * np.pi * rng.uniform(0.02, 0.1) * t))
    phase = 2 * np.pi * np.cumsum(rotation) / sample_rate
    whir = np.zeros(n)
    for k in range(1, 30):
        if k * rotation.max() >= sample_rate / 2:
            break
        whir += rng.uniform(0.2, 1.0) / k ** 0.7 * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    whir /= np.std(whir) or 1.0
    centre = np.full(n // 512 + 2, rng.uniform(400.0, 2500.0))
    hiss = _band_noise(rng, n, sample_rate, centre, bandwidth_octaves=1.5)
    hiss *= 1.0 + 0.5 * np.sin(phase)  # the noise pulses once per turn
    rhythm = 1.0 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t + rng.uniform(0, 2 * np.pi))
    out = (whir + rng.uniform(0.5, 1.5) * hiss) * rhythm
    return out / (np.std(out) or 1.0)


def clatter(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """Doing the dishes: impacts (about three a second, in bursts) that each ring a few high resonances of
    1-7 kHz for 20-200 ms, over a quiet bed of band noise (water in the sink)."""
    out = 0.05 * _band_noise(rng, n, sample_rate, np.full(n // 512 + 2, rng.uniform(800.0, 2000.0)), 1.5)
    length = int(0.25 * sample_rate)
    t = np.arange(length) / sample_rate
    position = 0.0
    while True:
        position += rng.exponential(1.0 / 3.0) if rng.random() < 0.7 else rng.uniform(0.5, 2.5)
        start = int(position * sample_rate)
        if start >= n:
            break
        ring = np.zeros(length)
        for _ in range(int(rng.integers(2, 6))):
            ring += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * rng.uniform(1000.0, 7000.0) * t
                                                   + rng.uniform(0, 2 * np.pi)) * np.exp(-t / rng.uniform(0.02, 0.2))
        end = min(n, start + length)
        out[start:end] += db_to_gain(rng.uniform(-12.0, 0.0)) * ring[:end - start]
    return out / (np.std(out) or 1.0)


__all__ = ["clatter", "colored_noise", "db_to_gain", "machine", "mains_hum", "mix_talkers", "noise_floor", "normalise",
           "running_water", "white_noise"]

"""Rooms, microphones and voices for synthetic speech: simulated impulse responses, channel EQ, speed perturbation.

Synthetic speech is dry, full-band and spoken by a few synthesiser voices; real recordings are made in rooms,
through phone and laptop microphones, by people with every vocal-tract length. These numpy functions give
training audio those traits (kws.data.augment applies them per batch when the [data] fields ask for it):

    rng = np.random.default_rng(1)
    rir = room_impulse_response(rng, 16000, rt60_s=0.5, drr_db=3.0)      # direct path at sample 0
    measure_rt60(rir, 16000)                                               # ~0.5 (Schroeder, T20 x 3)
    gain = channel_response(rng, np.fft.rfftfreq(24000, 1 / 16000), max_db=8.0)   # |H(f)| of a random mic
    faster = speed_perturb(batch, np.array([1.1, 0.9]))                   # pitch, formants and tempo x factor

Every function takes its randomness from the generator it is given, so the caller decides reproducibility.
"""

from __future__ import annotations

import numpy as np

RIR_MAX_SECONDS = 0.6
"""Longest impulse response kept: the tail beyond is below -40 dB for RT60 <= 0.9 s and barely moves features."""


def room_impulse_response(rng: np.random.Generator, sample_rate: int, rt60_s: float, drr_db: float,
                          *, length_s: float | None = None) -> np.ndarray:
    """A simulated room impulse response: a unit direct path at sample 0, a few early reflections, then
    exponentially decaying Gaussian noise (energy -60 dB after rt60_s; Polack's statistical model of a diffuse
    field). drr_db sets the direct-to-reverberant energy ratio; the direct path stays 1 so the dry level is
    kept. float64, 1.0 * rt60_s + 50 ms long (at most RIR_MAX_SECONDS) unless length_s says otherwise."""
    if not rt60_s > 0:
        raise ValueError(f"rt60_s must be positive, got {rt60_s}")
    length_s = min(RIR_MAX_SECONDS, 1.0 * rt60_s + 0.05) if length_s is None else length_s
    n = max(2, int(round(length_s * sample_rate)))
    t = np.arange(n) / sample_rate
    decay = np.exp(-3.0 * np.log(10.0) * t / rt60_s)  # amplitude: 10^(-3 t / rt60) is -60 dB energy at rt60
    tail = rng.standard_normal(n) * decay
    onset = int(0.0025 * sample_rate)  # the diffuse field builds up after the first few milliseconds
    tail[:onset] = 0.0
    for _ in range(int(rng.integers(3, 8))):  # early reflections: sparse taps 2.5-40 ms after the direct sound
        k = int(rng.integers(onset, max(onset + 1, min(n, int(0.04 * sample_rate)))))
        tail[k] += rng.uniform(-1.0, 1.0) * decay[k]
    reverberant = float(np.sum(tail * tail)) or 1.0
    tail *= np.sqrt(10.0 ** (-drr_db / 10.0) / reverberant)
    tail[0] = 1.0
    return tail


def measure_rt60(rir: np.ndarray, sample_rate: int) -> float:
    """RT60 by Schroeder backward integration of the reverberant part (direct path excluded): the
    -5 to -25 dB slope of the energy decay curve (T20), extrapolated to 60 dB."""
    energy = np.asarray(rir, dtype=np.float64)[1:] ** 2
    edc = np.cumsum(energy[::-1])[::-1]
    edc_db = 10.0 * np.log10(np.maximum(edc / edc[0], 1e-30))
    fit = np.flatnonzero((edc_db <= -5.0) & (edc_db >= -25.0))
    if fit.size < 2:
        raise ValueError("the impulse response does not decay by 25 dB")
    slope, _ = np.polyfit(fit / sample_rate, edc_db[fit], 1)
    return float(-60.0 / slope)


def channel_response(rng: np.random.Generator, freqs: np.ndarray, *, max_db: float,
                     highpass_hz: tuple[float, float] = (40.0, 400.0),
                     lowpass_hz: tuple[float, float] = (3000.0, 8000.0)) -> np.ndarray:
    """|H(f)| of a random microphone and channel at `freqs` (Hz): a 2nd-order high-pass (cut-off drawn
    log-uniform in highpass_hz), a 4th-order low-pass (lowpass_hz; above Nyquist means none), and a smooth
    tilt plus three resonances or dips of up to +-max_db. Zero-phase: the features only see magnitudes."""
    f = np.asarray(freqs, dtype=np.float64)
    octave = np.log2(np.maximum(f, 1.0) / 1000.0)
    hp = float(np.exp(rng.uniform(np.log(highpass_hz[0]), np.log(highpass_hz[1]))))
    lp = float(np.exp(rng.uniform(np.log(lowpass_hz[0]), np.log(lowpass_hz[1]))))
    tilt = rng.uniform(-0.5, 0.5) * max_db / 2.0  # dB per octave around 1 kHz, within +-max_db/4 per octave
    db = np.clip(tilt * octave, -max_db, max_db)
    for _ in range(3):
        centre, width = rng.uniform(-3.0, 2.5), rng.uniform(0.3, 1.2)  # octaves re 1 kHz: 125 Hz .. 5.7 kHz
        db += rng.uniform(-max_db, max_db) * np.exp(-0.5 * ((octave - centre) / width) ** 2)
    gain = 10.0 ** (np.clip(db, -2 * max_db, 2 * max_db) / 20.0)
    ratio_hp = np.maximum(f, 1e-3) / hp
    gain *= ratio_hp ** 2 / np.sqrt(1.0 + ratio_hp ** 4)  # |Butterworth 2nd-order high-pass|
    gain /= np.sqrt(1.0 + (f / lp) ** 8)  # |Butterworth 4th-order low-pass|
    return gain


def formant_resample(audio: np.ndarray, rate_in: int, rate_out: int, factor: float) -> np.ndarray:
    """Audio at rate_in as audio at rate_out with every frequency (formants and pitch) scaled by `factor` and
    the duration by 1/factor: a vocal-tract-length change when the synthesiser's pitch and rate are drawn
    independently. FFT resampling (scipy.signal.resample) to round(len * rate_out / (rate_in * factor))."""
    from scipy.signal import resample

    x = np.asarray(audio, dtype=np.float64)
    n_out = max(1, int(round(len(x) * rate_out / (rate_in * factor))))
    return resample(x, n_out)


def speed_perturb(audio: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Resample each row about its centre: row b plays factors[b] times faster, so its pitch and formants
    rise by that factor and it lasts 1/factor as long (Kaldi-style speed perturbation; with the synthesiser's
    own random pitch and rate this is a vocal-tract-length change). Linear interpolation, zeros outside the
    clip; float32 [B, S] -> float32 [B, S]."""
    x = np.asarray(audio, dtype=np.float32)
    b, s = x.shape
    factors = np.asarray(factors, dtype=np.float64).reshape(b)
    centre = (s - 1) / 2.0
    grid = np.arange(s, dtype=np.float64)
    out = np.empty((b, s), dtype=np.float32)
    for row in range(b):  # np.interp per row: 5x faster than one gather over the batch
        out[row] = np.interp(centre + (grid - centre) * factors[row], grid, x[row], left=0.0, right=0.0)
    return out


__all__ = ["RIR_MAX_SECONDS", "channel_response", "formant_resample", "measure_rt60", "room_impulse_response",
           "speed_perturb"]

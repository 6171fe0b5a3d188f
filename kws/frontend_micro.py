"""TFLM's micro frontend (feature_type 'tflm_micro') in numpy: the definition, bit for bit with TFLM.

micro_speech's audio preprocessor (TFLM examples/micro_speech/audio_preprocessor.py, shipped as
audio_preprocessor_int8.tflite) is a graph of signal-library ops run once per 30 ms window. This module
computes the same integers with numpy, for every frame of a clip at once where an op is stateless and
frame after frame where it carries state (the noise estimate). The batched torch version
(kws/frontend_micro_torch.py) and the device's C (firmware/core/kws_micro_frontend.c) compute the same
integers from the same tables (`micro_tables`), which kws/frontend_tables.py prints into the C header.

    from kws.config import ConfigError, FrontendConfig
    from kws.frontend_micro import micro_features_int8
    q = micro_features_int8(audio_int16, FrontendConfig(feature_type="tflm_micro"))   # (49, 40) int8

One frame (480 int16 samples at 16 kHz; frame t starts at sample t * stride, 1 + (len - 480) // 320 frames):
1. window: (x * w) >> 12 clamped to int16, w = round(4096 * Hann(n + 0.5)) (TFLM's window_op weights).
2. auto scale: shift every sample left by 15 - bit length of the frame's largest magnitude (none if 0).
3. rfft: kissfft v130 in 16-bit fixed point (kiss_fftr over a 256-point complex FFT of radix-4/2
   stages; every butterfly divides its inputs by its radix with rounding), the 480 samples zero-padded
   to 512. int16 results wrap as the C stores do.
4. energy: re^2 + im^2 (uint32) of bins [start_index, end_index) = the filterbank's bins, 0 elsewhere.
5. filterbank: 40 triangular mel channels (HTK mel 1127 ln(1 + f/700), 125..7500 Hz) with 12-bit integer
   weights/unweights, accumulated in 64 bits; then the rounded integer square root >> the auto-scale shift.
6. noise reduction (state): per channel noise += smoothing (0.025 even, 0.06 odd channels, 14-bit
   fixed point) of the signal scaled up by 10 bits; out = max((signal - noise) >> 10, 0.05 * signal).
7. PCAN: gain = the 125-entry piecewise-quadratic table of 2^21 (noise / 2^7 + 80)^-0.95 at the
   noise estimate; snr = (out * gain) >> 6; shrink: snr^2 / 4 below 2 (12 fractional bits), snr - 1 above.
8. log: Log32 of (pcan << 3): 2^16 log2 from a 129-entry interpolation table, times ln 2, times 64.
9. int8: q = trunc((log * 256 + 333) / 666) - 128 clamped to int8: micro_speech's scaling of its int16
   features (/ 25.6, then 0..26 onto -128..127). The micro_speech model reads them with scale
   0.10171568, zero point -128 (its input tensor), which FrontendConfig.micro_quant_* hold.
The noise estimate starts at 0 for each clip (TFLM resets op state when the interpreter is reset or
built; micro_speech builds one per clip) and every frame updates it before its own subtraction.

Where the tables come from: each is recomputed here from its defining formula with the arithmetic of
TFLM's generator (float32 where it uses float, numpy.round where it rounds, int() where it truncates);
tests/test_frontend_micro.py checks them against the constants inside audio_preprocessor_int8.tflite.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from kws.config import FrontendConfig
from kws.errors import DataError
from kws.typed_toml import ConfigError

__all__ = [
    "LOG_COEFF", "LOG_OUTPUT_SCALE", "LOG_SCALE_BITS", "LOG_SEGMENTS_BITS", "MicroTables", "OUTPUT_DIV",
    "OUTPUT_OFFSET", "OUTPUT_SCALE", "PCAN_LUT_SIZE", "PCAN_OUTPUT_BITS", "PCAN_SNR_BITS", "SUBTRACTION_BITS",
    "WEIGHT_BITS", "WINDOW_BITS", "fft_auto_scale", "filterbank_log", "filterbank_sqrt", "micro_features_int16",
    "micro_features_int8", "micro_tables", "noise_reduction", "pcan", "rfft_int16", "sequential_max_abs",
    "spectrum_energy", "to_int8", "window_frames",
]

# Fixed-point constants of TFLM's signal library and micro_speech's FeatureParams: they fix the
# number formats between the ops, so they are constants here, not config fields.
WINDOW_BITS = 12
"""Window weights are Q12 (FeatureParams.window_scaling_bits)."""
WEIGHT_BITS = 12
"""Filterbank weights are Q12 (filter_bank_ops.FILTER_BANK_WEIGHT_SCALING_BITS)."""
SUBTRACTION_BITS = 14
"""Noise smoothing coefficients are Q14 (FeatureParams.filter_bank_spectral_subtraction_bits)."""
PCAN_SNR_BITS = 12
"""Fractional bits of PCAN's snr (kPcanSnrBits)."""
PCAN_OUTPUT_BITS = 6
"""Fractional bits of PCAN's output (kPcanOutputBits = FeatureParams.filter_bank_post_scaling_bits)."""
LOG_OUTPUT_SCALE = 1 << PCAN_OUTPUT_BITS
"""The log's output scale (filter_bank_log output_scale = 1 << post_scaling_bits = 64)."""
LOG_SCALE_BITS = 16
"""Log32 works in Q16 (kLogScaleLog2)."""
LOG_SEGMENTS_BITS = 7
"""The log table has 2^7 segments (kLogSegmentsLog2)."""
LOG_COEFF = round(2 ** LOG_SCALE_BITS * math.log(2.0))
"""ln 2 in Q16 (45426, kLogCoeff): log2 -> natural log."""
OUTPUT_SCALE = 256
"""micro_speech's int8 formula: q = trunc((feature * 256 + 333) / 666) - 128 (value_scale)."""
OUTPUT_DIV = int(25.6 * 26 + 0.5)
"""... its value_div, 666: features / 25.6 (legacy float scaling) mapped from 0..26 onto 256 steps."""
OUTPUT_OFFSET = -128
"""... and its offset."""
PCAN_LUT_SIZE = 4 * 32 - 3
"""Entries of the PCAN gain table: gain(0), gain(1), then 4 per bit length 2..32 (the last one cut)."""


def _s16(v: np.ndarray) -> np.ndarray:
    """Wrap to int16 as a C store of an int into int16_t does (two's complement), kept in int64."""
    return ((v + 32768) & 0xFFFF) - 32768


def _s32(v: np.ndarray) -> np.ndarray:
    """Wrap to int32 (what an int32_t overflow does on the compilers TFLM is built with), kept in int64."""
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _u32(v: np.ndarray) -> np.ndarray:
    """Wrap to uint32 (C's unsigned arithmetic), kept in int64."""
    return v & 0xFFFFFFFF


def _bit_length(v: np.ndarray) -> np.ndarray:
    """Bit length of non-negative int64 values below 2^53 (0 for 0): TFLM's MostSignificantBit32/64."""
    v = np.asarray(v, dtype=np.int64)
    _, exponent = np.frexp(v.astype(np.float64))  # exact: frexp(2^k) = (0.5, k + 1), below 2^53 no rounding
    return np.where(v > 0, exponent, 0).astype(np.int64)


# --------------------------------------------------------------------------------------------- tables

@dataclass(frozen=True)
class MicroTables:
    """Every integer constant of one tflm_micro config: what numpy, torch and the C all use."""

    window: np.ndarray
    """Q12 Hann window, int16 (window_samples,)."""
    fft_size: int
    """Real FFT length (n_fft); the complex FFT inside has fft_size / 2 points."""
    fft_stages: tuple[tuple[int, int], ...]
    """kissfft's factorisation of fft_size / 2, outermost first: (radix p, sub-length m) per stage."""
    fft_order: np.ndarray
    """Input index of each position before the butterflies (kissfft's decimation), int64 (fft_size / 2,)."""
    twiddles: np.ndarray
    """Complex FFT twiddles (re, im) Q15, int16 (fft_size / 2, 2)."""
    super_twiddles: np.ndarray
    """Real-FFT split twiddles (re, im) Q15, int16 (fft_size / 4, 2)."""
    start_index: int
    """First FFT bin whose energy is computed."""
    end_index: int
    """One past the last FFT bin whose energy is computed."""
    channel_frequency_starts: np.ndarray
    """Per accumulation channel (num_channels + 1) its first FFT bin, int16 (TFLM's layout)."""
    channel_weight_starts: np.ndarray
    """Per accumulation channel its offset into weights/unweights, int16."""
    channel_widths: np.ndarray
    """Per accumulation channel its bin count, int16."""
    weights: np.ndarray
    """Q12 rising-edge weights, int16."""
    unweights: np.ndarray
    """Q12 falling-edge weights (1 - weight), int16."""
    filterbank: np.ndarray
    """The same filterbank as one dense float64 matrix (num_channels, fft_size / 2 + 1) of integers."""
    smoothing: tuple[int, int]
    """Q14 noise smoothing of even and odd channels."""
    one_minus_smoothing: tuple[int, int]
    """Q14 1 - smoothing of even and odd channels."""
    min_signal_remaining: int
    """Q14 floor of the noise-reduced signal relative to the signal."""
    smoothing_bits: int
    """Extra fractional bits of the noise estimate."""
    correction_bits: int
    """log2(fft_size) - WEIGHT_BITS / 2: the filterbank output's scale below PCAN's input scale."""
    snr_shift: int
    """gain_bits - correction_bits - PCAN_SNR_BITS: PCAN's shift from gain * signal to snr."""
    pcan_lut: np.ndarray
    """PCAN gain table, int16 (PCAN_LUT_SIZE,)."""
    log_lut: np.ndarray
    """Log32 correction table, int64 (2^7 + 2,), the last entry padding."""

    @property
    def num_channels(self) -> int:
        """Filterbank channels (features per frame)."""
        return int(self.filterbank.shape[0])


def _freq_to_mel(freq: Any) -> np.ndarray:
    """TFLM's FreqToMel in float32: 1127 * log1p(freq / 700)."""
    return np.float32(1127.0) * np.log1p(np.float32(freq) / np.float32(700.0))


def _kiss_factors(n: int) -> tuple[tuple[int, int], ...]:
    """kissfft's kf_factor for a power of two: radix 4 while it divides, then one radix 2."""
    stages = []
    while n > 1:
        p = 4 if n % 4 == 0 else 2
        n //= p
        stages.append((p, n))
    return tuple(stages)


def _kiss_order(n: int, stages: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Where kf_work's recursion puts each input sample before the butterflies (mixed-radix reversal)."""
    order = np.zeros(n, dtype=np.int64)

    def place(out: int, start: int, stride: int, level: int) -> None:
        p, m = stages[level]
        for q in range(p):
            if m == 1:
                order[out + q] = start + q * stride
            else:
                place(out + q * m, start + q * stride, stride * p, level + 1)

    place(0, 0, 1, 0)
    return order


def _q15_cexp(phase: np.ndarray) -> np.ndarray:
    """kissfft's fixed-point twiddle: floor(0.5 + 32767 * cos/sin(phase)) in double, as int16 pairs."""
    return np.stack([np.floor(0.5 + 32767 * np.cos(phase)), np.floor(0.5 + 32767 * np.sin(phase))],
                    axis=-1).astype(np.int16)


def _filterbank_layout(cfg: FrontendConfig, spectrum_size: int) -> dict[str, Any]:
    """TFLM's filter_bank_ops._init_filter_bank_weights, same float32 arithmetic, alignment 4 bytes and
    channel blocks of 4 (micro_speech's FeatureParams); raises ValueError where TFLM does."""
    channels, lower, upper = cfg.n_mels, cfg.micro_lower_band_hz, cfg.micro_upper_band_hz
    index_alignment, block = 2, 4  # 4-byte alignment of int16 weights, 4-channel blocks
    mel_lower, mel_upper = _freq_to_mel(lower), _freq_to_mel(upper)
    spacing = (mel_upper - mel_lower) / np.float32(channels + 1)
    centers = mel_lower + spacing * np.arange(1, channels + 2, dtype=np.float32)
    hz_per_bin = (cfg.sample_rate / 2) / (spectrum_size - 1)  # float64, as in TFLM's Python
    start_index = round(1 + lower / hz_per_bin)
    starts = np.zeros(channels + 1, dtype=np.int16)
    weight_starts = np.zeros(channels + 1, dtype=np.int16)
    widths = np.zeros(channels + 1, dtype=np.int16)
    actual = []
    freq_start, weight_index, needs_zeros = start_index, 0, False
    for chan in range(channels + 1):
        freq = freq_start
        while _freq_to_mel(freq * hz_per_bin) <= centers[chan]:
            freq += 1
        width = freq - freq_start
        actual.append((freq_start, width))
        if width == 0:  # an empty channel reads `block` zero weights placed at the front
            starts[chan], weight_starts[chan], widths[chan] = 0, 0, block
            if not needs_zeros:
                needs_zeros = True
                weight_starts[:chan] += block
                weight_index += block
        else:
            aligned = freq_start // index_alignment * index_alignment
            padded = ((freq_start - aligned + width - 1) // block + 1) * block
            starts[chan], weight_starts[chan], widths[chan] = aligned, weight_index, padded
            weight_index += padded
        freq_start = freq
    weights = np.zeros(weight_index, dtype=np.int16)
    unweights = np.zeros(weight_index, dtype=np.int16)
    end_index = 0
    for chan, (first, count) in enumerate(actual):
        below = np.float32(_freq_to_mel(lower)) if chan == 0 else centers[chan - 1]
        for j in range(count):
            freq = first + j
            weight = np.float32(centers[chan] - _freq_to_mel(freq * hz_per_bin)) / np.float32(centers[chan] - below)
            at = int(weight_starts[chan]) + first - int(starts[chan]) + j
            weights[at] = int(weight * (1 << WEIGHT_BITS))
            unweights[at] = int((1 - weight) * (1 << WEIGHT_BITS))
        end_index = max(end_index, first + count)
    if end_index >= spectrum_size:
        raise ValueError(f"the filterbank reaches FFT bin {end_index}, beyond the {spectrum_size} bins")
    return {"start_index": start_index, "end_index": end_index, "channel_frequency_starts": starts,
            "channel_weight_starts": weight_starts, "channel_widths": widths, "weights": weights,
            "unweights": unweights}


def _dense_filterbank(layout: dict[str, Any], channels: int, bins: int) -> np.ndarray:
    """Channel c = weights of accumulation channel c + 1 plus unweights of channel c (TFLM's
    FilterbankAccumulateChannels, whose output 0 is scratch)."""
    rising = np.zeros((channels + 1, bins), dtype=np.float64)
    falling = np.zeros((channels + 1, bins), dtype=np.float64)
    for chan in range(channels + 1):
        first, at, width = (int(layout[key][chan]) for key in
                            ("channel_frequency_starts", "channel_weight_starts", "channel_widths"))
        rising[chan, first:first + width] += layout["weights"][at:at + width]
        falling[chan, first:first + width] += layout["unweights"][at:at + width]
    return rising[1:] + falling[:-1]


def _pcan_gain(cfg: FrontendConfig, input_bits: int, x: np.ndarray) -> np.ndarray:
    """TFLM's PcanGainLookupFunction in float32: 2^gain_bits * (x / 2^input_bits + offset)^-strength."""
    xf = np.asarray(x, dtype=np.uint32).astype(np.float32) / np.float32(1 << input_bits)
    with np.errstate(over="ignore"):
        gain = np.float32(1 << cfg.micro_pcan_gain_bits) * np.power(
            xf + np.float32(cfg.micro_pcan_offset), np.float32(-cfg.micro_pcan_strength))
    return np.where(gain > 32767, 32767, np.trunc(gain + np.float32(0.5))).astype(np.int64)


def _pcan_lut(cfg: FrontendConfig, input_bits: int) -> np.ndarray:
    """The piecewise-quadratic gain table (TFLM's WideDynamicFuncLut): per bit length b of x, the
    gain at x0 = 2^(b-1) and the two coefficients through x0 * 1.5 and x0 * 2."""
    lut = np.zeros(PCAN_LUT_SIZE + 1, dtype=np.int64)
    lut[:2] = _pcan_gain(cfg, input_bits, np.array([0, 1]))
    for interval in range(2, 33):
        x0 = 1 << (interval - 1)
        x2 = x0 + (x0 - 1) if interval == 32 else 2 * x0
        y0, y1, y2 = _pcan_gain(cfg, input_bits, np.array([x0, x0 + (x0 >> 1), x2]))
        a1 = 4 * (y1 - y0) - (y2 - y0)
        lut[4 * interval - 6:4 * interval - 2] = (y0, a1, (y2 - y0) - a1, 0)
    return _s16(lut[:PCAN_LUT_SIZE]).astype(np.int16)


def _log_lut() -> np.ndarray:
    """Log32's table: 2^16 (log2(1 + t) - t) at t = i / 128, i = 0..128, plus one padding zero."""
    t = np.arange(2 ** LOG_SEGMENTS_BITS + 1) / 2 ** LOG_SEGMENTS_BITS
    return np.append(np.round(2 ** LOG_SCALE_BITS * (np.log2(1 + t) - t)), 0).astype(np.int64)


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


@functools.lru_cache(maxsize=8)
def micro_tables(cfg: FrontendConfig) -> MicroTables:
    """Build (once per config) every table of the tflm_micro frontend; ConfigError for a bad config."""
    cfg.validate()
    n = cfg.n_fft
    half = n // 2
    n_window = cfg.window_samples
    window = np.round((0.5 - 0.5 * np.cos(np.pi * 2 / n_window * (np.arange(n_window) + 0.5)))
                      * (1 << WINDOW_BITS)).astype(np.int16)
    stages = _kiss_factors(half)
    pi = 3.141592653589793  # kissfft's pi literals round to this double
    twiddles = _q15_cexp(-2 * pi * np.arange(half) / half)
    super_twiddles = _q15_cexp(-pi * ((np.arange(half // 2) + 1) / half + 0.5))
    try:
        layout = _filterbank_layout(cfg, half + 1)
    except ValueError as exc:
        raise ConfigError(f"frontend: the tflm_micro filterbank does not fit: {exc}") from None
    smoothing = tuple(int(s * (1 << SUBTRACTION_BITS)) for s in (cfg.micro_even_smoothing, cfg.micro_odd_smoothing))
    correction_bits = int(math.log2(n)) - WEIGHT_BITS // 2
    tables = MicroTables(
        window=window, fft_size=n, fft_stages=stages, fft_order=_kiss_order(half, stages), twiddles=twiddles,
        super_twiddles=super_twiddles, filterbank=_dense_filterbank(layout, cfg.n_mels, half + 1),
        smoothing=(smoothing[0], smoothing[1]),
        one_minus_smoothing=((1 << SUBTRACTION_BITS) - smoothing[0], (1 << SUBTRACTION_BITS) - smoothing[1]),
        min_signal_remaining=int(cfg.micro_min_signal_remaining * (1 << SUBTRACTION_BITS)),
        smoothing_bits=cfg.micro_smoothing_bits, correction_bits=correction_bits,
        snr_shift=cfg.micro_pcan_gain_bits - correction_bits - PCAN_SNR_BITS,
        pcan_lut=_pcan_lut(cfg, cfg.micro_smoothing_bits - correction_bits), log_lut=_log_lut(), **layout)
    for value in vars(tables).values():
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
    return tables


# ------------------------------------------------------------------------------------------ the ops

def window_frames(frames: np.ndarray, tables: MicroTables) -> np.ndarray:
    """SignalWindow: (x * w) >> 12 clamped to int16; int16 frames (..., window_samples) -> int64."""
    return np.clip((frames.astype(np.int64) * tables.window) >> WINDOW_BITS, -32768, 32767)


def sequential_max_abs(values: np.ndarray) -> int:
    """TFLM's MaxAbs16 loop as written, for a frame holding -32768: its negation, 32768, stored back
    into the int16 maximum wraps to -32768, after which any larger sample replaces the maximum."""
    peak = 0
    for value in values.tolist():
        if value > peak:
            peak = value
        elif -value > peak:
            peak = int(_s16(np.int64(-value)))
    return peak


def _auto_scale_shift(peak: np.ndarray) -> np.ndarray:
    # 16 - MostSignificantBit32((uint32_t)peak) - 1, floored at 0; a negative peak (see above) has bit
    # length 32 as uint32, and gcc's MostSignificantBit32(0) is 32: both give shift 0.
    return np.where(peak > 0, np.maximum(15 - _bit_length(np.maximum(peak, 0)), 0), 0)


def fft_auto_scale(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SignalFftAutoScale on windowed int16 frames (..., n): (scaled frames int64, shift per frame)."""
    peak = np.abs(frames).max(axis=-1)
    odd = np.argwhere((frames == -32768).any(axis=-1))
    if odd.size:
        peak = peak.copy()
        for index in map(tuple, odd):
            peak[index] = sequential_max_abs(frames[index])
    shift = _auto_scale_shift(peak)
    return _s16(frames * (np.int64(1) << shift)[..., None]), shift


def _sround(v: np.ndarray) -> np.ndarray:
    """kissfft's sround: (x + 2^14) >> 15 stored to int16."""
    return _s16((v + (1 << 14)) >> 15)


def _fixdiv(re: np.ndarray, im: np.ndarray, div: int) -> tuple[np.ndarray, np.ndarray]:
    """C_FIXDIV: multiply by 32767 / div (integer) with sround."""
    k = 32767 // div
    return _sround(re * k), _sround(im * k)


def _cmul(re: np.ndarray, im: np.ndarray, tw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """C_MUL by Q15 twiddles tw (..., 2): each part rounded once."""
    tr, ti = tw[..., 0].astype(np.int64), tw[..., 1].astype(np.int64)
    return _sround(re * tr - im * ti), _sround(re * ti + im * tr)


def _butterflies(re: np.ndarray, im: np.ndarray, tables: MicroTables) -> None:
    """kissfft's kf_bfly4/kf_bfly2 stages (forward), innermost stage first, in place on (rows, n/2)."""
    n = re.shape[-1]
    for p, m in reversed(tables.fft_stages):
        fstride = n // (p * m)
        shape = (re.shape[0], n // (p * m), p, m)
        r, i = re.reshape(shape), im.reshape(shape)  # views: element [b, block, j, k] = F[block*p*m + j*m + k]
        k = np.arange(m)
        parts = [_fixdiv(r[:, :, j], i[:, :, j], p) for j in range(p)]
        if p == 2:
            (r0, i0), (r1, i1) = parts
            tr, ti = _cmul(r1, i1, tables.twiddles[k * fstride])
            r[:, :, 1], i[:, :, 1] = _s16(r0 - tr), _s16(i0 - ti)
            r[:, :, 0], i[:, :, 0] = _s16(r0 + tr), _s16(i0 + ti)
            continue
        (r0, i0), (r1, i1), (r2, i2), (r3, i3) = parts
        s0r, s0i = _cmul(r1, i1, tables.twiddles[k * fstride])
        s1r, s1i = _cmul(r2, i2, tables.twiddles[2 * k * fstride])
        s2r, s2i = _cmul(r3, i3, tables.twiddles[3 * k * fstride])
        s5r, s5i = _s16(r0 - s1r), _s16(i0 - s1i)
        r0, i0 = _s16(r0 + s1r), _s16(i0 + s1i)
        s3r, s3i = _s16(s0r + s2r), _s16(s0i + s2i)
        s4r, s4i = _s16(s0r - s2r), _s16(s0i - s2i)
        r[:, :, 2], i[:, :, 2] = _s16(r0 - s3r), _s16(i0 - s3i)
        r[:, :, 0], i[:, :, 0] = _s16(r0 + s3r), _s16(i0 + s3i)
        r[:, :, 1], i[:, :, 1] = _s16(s5r + s4i), _s16(s5i - s4r)
        r[:, :, 3], i[:, :, 3] = _s16(s5r - s4i), _s16(s5i + s4r)


def rfft_int16(frames: np.ndarray, tables: MicroTables) -> tuple[np.ndarray, np.ndarray]:
    """SignalRfft (kiss_fftr, FIXED_POINT 16) of int16 frames (..., window) zero-padded to fft_size:
    (re, im) int64 (..., fft_size / 2 + 1) holding int16 values."""
    lead = frames.shape[:-1]
    n = tables.fft_size
    half = n // 2
    x = np.zeros((int(np.prod(lead, dtype=np.int64)), n), dtype=np.int64)
    x[:, :frames.shape[-1]] = frames.reshape(-1, frames.shape[-1])
    re, im = x[:, 0::2][:, tables.fft_order], x[:, 1::2][:, tables.fft_order]  # z[n] = x[2n] + i x[2n+1]
    _butterflies(re, im, tables)
    out_re = np.zeros((re.shape[0], half + 1), dtype=np.int64)
    out_im = np.zeros_like(out_re)
    dc_r, dc_i = _fixdiv(re[:, 0], im[:, 0], 2)
    out_re[:, 0], out_re[:, half] = _s16(dc_r + dc_i), _s16(dc_r - dc_i)
    k = np.arange(1, half // 2 + 1)
    fpk_r, fpk_i = _fixdiv(re[:, k], im[:, k], 2)
    fpnk_r, fpnk_i = _fixdiv(re[:, half - k], _s16(-im[:, half - k]), 2)
    f1_r, f1_i = _s16(fpk_r + fpnk_r), _s16(fpk_i + fpnk_i)
    f2_r, f2_i = _s16(fpk_r - fpnk_r), _s16(fpk_i - fpnk_i)
    tw_r, tw_i = _cmul(f2_r, f2_i, tables.super_twiddles[k - 1])
    out_re[:, k], out_im[:, k] = (f1_r + tw_r) >> 1, (f1_i + tw_i) >> 1
    # For k = half / 2 both writes hit the same bin; kiss_fftr's second one wins, as here.
    out_re[:, half - k], out_im[:, half - k] = (f1_r - tw_r) >> 1, (tw_i - f1_i) >> 1
    return out_re.reshape(*lead, half + 1), out_im.reshape(*lead, half + 1)


def spectrum_energy(re: np.ndarray, im: np.ndarray, tables: MicroTables) -> np.ndarray:
    """SignalEnergy over [start_index, end_index) as uint32 (int32 products wrap), 0 elsewhere (the
    preprocessor zeroes the bins the op leaves unwritten)."""
    energy = _u32(re * re + im * im)
    bins = np.arange(re.shape[-1])
    return np.where((bins >= tables.start_index) & (bins < tables.end_index), energy, 0)


def _isqrt_rounded(x: np.ndarray) -> np.ndarray:
    """TFLM's Sqrt32/Sqrt64: floor(sqrt(x)) plus 1 when the remainder exceeds the root (round to
    nearest), except at the type's maximum (0xFFFF below 2^32, where the 32-bit path is taken)."""
    root = np.floor(np.sqrt(x.astype(np.float64))).astype(np.int64)
    root -= root * root > x  # float64 sqrt of an integer < 2^53 is off by at most one
    root += (root + 1) * (root + 1) <= x
    cap = np.where(x >> 32 == 0, 0xFFFF, 0xFFFFFFFF)
    return root + ((x - root * root > root) & (root != cap))


def filterbank_sqrt(energy: np.ndarray, shift: np.ndarray, tables: MicroTables) -> np.ndarray:
    """SignalFilterBank then SignalFilterBankSquareRoot: channels (..., num_channels) as int64 uint32 values.

    The accumulation is a float64 matrix product of integers: every partial sum is below 2^53
    (Q12 weights * uint32 energies * < 2^9 bins), so it is exact whatever order BLAS adds in."""
    accumulated = (energy.astype(np.float64) @ tables.filterbank.T).astype(np.int64)
    return _isqrt_rounded(accumulated) >> np.asarray(shift)[..., None]


def noise_reduction(signal: np.ndarray, noise: np.ndarray, tables: MicroTables) -> tuple[np.ndarray, np.ndarray]:
    """SignalFilterBankSpectralSubtraction for one frame (..., channels): (output, the new noise estimate)."""
    channels = signal.shape[-1]
    even = np.arange(channels) % 2 == 0
    smoothing = np.where(even, tables.smoothing[0], tables.smoothing[1])
    one_minus = np.where(even, tables.one_minus_smoothing[0], tables.one_minus_smoothing[1])
    scaled = _u32(signal << tables.smoothing_bits)
    noise = _u32((scaled * smoothing + noise * one_minus) >> SUBTRACTION_BITS)
    floor = _u32((signal * tables.min_signal_remaining) >> SUBTRACTION_BITS)
    subtracted = (scaled - np.minimum(noise, scaled)) >> tables.smoothing_bits
    return np.maximum(subtracted, floor), noise


def _wide_dynamic_function(x: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """TFLM's WideDynamicFunction: the PCAN table evaluated at x (uint32), as int16 values."""
    interval = np.maximum(_bit_length(x), 2)  # x <= 2 reads lut[x] directly
    base = 4 * interval - 6
    frac = np.where(interval < 11, x << np.maximum(11 - interval, 0), x >> np.maximum(interval - 11, 0)) & 0x3FF
    lut = lut.astype(np.int64)
    result = _s32((lut[base + 2] * frac) >> 5) + lut[base + 1] * 32
    result = _s32(_s32(_s32(result) * frac) + (1 << 14)) >> 15
    return np.where(x <= 2, lut[np.minimum(x, 2)], _s16(result + lut[base]))


def pcan(signal: np.ndarray, noise: np.ndarray, tables: MicroTables) -> np.ndarray:
    """SignalPCAN: per-channel automatic gain from the noise estimate, then the shrink curve."""
    gain = _u32(_wide_dynamic_function(noise, tables.pcan_lut))  # int16 -> uint32 as C converts it
    product = signal.astype(np.uint64) * gain.astype(np.uint64)  # uint64, wrapping as C's does
    snr = (product >> np.uint64(tables.snr_shift)).astype(np.int64) & 0xFFFFFFFF
    small = (snr * snr) >> (2 + 2 * PCAN_SNR_BITS - PCAN_OUTPUT_BITS)
    large = (snr >> (PCAN_SNR_BITS - PCAN_OUTPUT_BITS)) - (1 << PCAN_OUTPUT_BITS)
    return np.where(snr < (2 << PCAN_SNR_BITS), small, large)


def _log32(x: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """TFLM's Log32(x, 64) for x > 1: natural log in Q6 from a Q16 log2 with table correction."""
    integer = _bit_length(x) - 1
    frac = x - (np.int64(1) << integer)
    frac = np.where(integer < LOG_SCALE_BITS, frac << np.maximum(LOG_SCALE_BITS - integer, 0),
                    frac >> np.maximum(integer - LOG_SCALE_BITS, 0))
    segment = frac >> (LOG_SCALE_BITS - LOG_SEGMENTS_BITS)
    c0, c1 = lut[segment], lut[segment + 1]
    unit = (1 << LOG_SCALE_BITS) >> LOG_SEGMENTS_BITS
    log2 = (integer << LOG_SCALE_BITS) + frac + c0 + (((c1 - c0) * (frac - unit * segment)) >> LOG_SCALE_BITS)
    half = 1 << (LOG_SCALE_BITS - 1)
    loge = _u32((LOG_COEFF * log2 + half) >> LOG_SCALE_BITS)
    return _u32((LOG_OUTPUT_SCALE * loge + half) >> LOG_SCALE_BITS)


def filterbank_log(signal: np.ndarray, tables: MicroTables) -> np.ndarray:
    """SignalFilterBankLog: (x << correction_bits), its scaled log capped at 32767, 0 for inputs <= 1."""
    scaled = _u32(signal << tables.correction_bits)
    return np.where(scaled > 1, np.minimum(_log32(np.maximum(scaled, 2), tables.log_lut), 32767), 0)


def to_int8(features: np.ndarray) -> np.ndarray:
    """micro_speech's int16 -> int8: trunc((f * 256 + 333) / 666) - 128, clamped (f >= 0: trunc = floor)."""
    q = (features * OUTPUT_SCALE + OUTPUT_DIV // 2) // OUTPUT_DIV + OUTPUT_OFFSET
    return np.clip(q, -128, 127).astype(np.int8)


# ------------------------------------------------------------------------------------ one clip

def _int16_audio(audio: Any, cfg: FrontendConfig) -> np.ndarray:
    a = np.asarray(audio)
    if a.ndim != 1:
        raise DataError(f"audio must be one channel (a 1-D array), got shape {a.shape}")
    if np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise DataError("audio contains NaN or infinite samples")
        # The micro frontend reads int16 PCM; float audio in [-1, 1) is its int16 / 32768 (kws.data's
        # convention), so this is exact for every float that came from int16.
        a = np.clip(np.round(a.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)
    elif a.dtype != np.int16:
        raise DataError(f"audio must be float in [-1, 1) or int16, got dtype {a.dtype}")
    if a.shape[0] < cfg.frame_samples:
        raise DataError(f"audio has {a.shape[0]} samples; the frontend needs at least {cfg.frame_samples}")
    return a


def micro_features_int16(audio: Any, cfg: FrontendConfig, noise: np.ndarray | None = None,
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The micro frontend's int16 features (frames, channels) of one clip (or stream), and the noise
    estimate after its last frame. `noise` continues a stream (None: a fresh one, as after a reset)."""
    tables = micro_tables(cfg)
    pcm = _int16_audio(audio, cfg)
    count = 1 + (pcm.shape[0] - cfg.window_samples) // cfg.stride_samples
    frames = np.lib.stride_tricks.sliding_window_view(pcm, cfg.window_samples)[::cfg.stride_samples][:count]
    scaled, shift = fft_auto_scale(window_frames(frames, tables))
    re, im = rfft_int16(scaled, tables)
    channels = filterbank_sqrt(spectrum_energy(re, im, tables), shift, tables)
    state = np.zeros(tables.num_channels, dtype=np.int64) if noise is None else np.asarray(noise, dtype=np.int64)
    out = np.empty_like(channels)
    for t in range(count):  # the noise estimate runs through the frames in order
        reduced, state = noise_reduction(channels[t], state, tables)
        out[t] = filterbank_log(pcan(reduced, state, tables), tables)
    return out, state


def micro_features_int8(audio: Any, cfg: FrontendConfig) -> np.ndarray:
    """The int8 features of one clip (frames, channels), exactly as micro_speech's preprocessor gives them."""
    features, _ = micro_features_int16(audio, cfg)
    return to_int8(features)

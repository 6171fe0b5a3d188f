"""TFLM's micro frontend batched in torch, for training: the integers of kws/frontend_micro.py, bit for bit.

    from kws.frontend_micro_torch import TorchMicroFrontend
    frontend = TorchMicroFrontend(FrontendConfig(feature_type="tflm_micro"))
    q = frontend.features_int8(audio)      # (B, samples) float in [-1, 1) or int16 -> (B, 49, 40) torch.int8
    x = frontend(audio)                     # the same dequantized: (q - zero_point) * scale, float32

Every op is the numpy definition's, on int32/int64 tensors over all frames of all clips at once; only
the noise estimate runs frame after frame (vectorised over clips and channels). The tables are the numpy
module's (`micro_tables`), held as non-persistent buffers so a checkpoint never carries stale ones.
Speed, one thread: ~500 clips per CPU second (the 16-bit FFT's per-butterfly rounding is what costs;
log-mel runs ~3,500): a 32-clip training batch adds ~0.07 s. With OpenMP threads spinning on a busy
machine it is several times slower: run under `kws` (OMP_WAIT_POLICY=PASSIVE).
"""

from __future__ import annotations

import numpy as np
import torch

from kws.config import FrontendConfig
from kws.errors import DataError
from kws.frontend_micro import (
    LOG_COEFF,
    LOG_OUTPUT_SCALE,
    LOG_SCALE_BITS,
    LOG_SEGMENTS_BITS,
    OUTPUT_DIV,
    OUTPUT_OFFSET,
    OUTPUT_SCALE,
    PCAN_OUTPUT_BITS,
    PCAN_SNR_BITS,
    SUBTRACTION_BITS,
    WINDOW_BITS,
    MicroTables,
    micro_tables,
)

__all__ = ["TorchMicroFrontend"]


def _s16(v: torch.Tensor) -> torch.Tensor:
    return ((v + 32768) & 0xFFFF) - 32768


def _s32(v: torch.Tensor) -> torch.Tensor:
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _u32(v: torch.Tensor) -> torch.Tensor:
    return v & 0xFFFFFFFF


def _bit_length(v: torch.Tensor) -> torch.Tensor:
    """Bit length of non-negative int64 values below 2^53 (0 for 0), exact via frexp."""
    _, exponent = torch.frexp(v.to(torch.float64))
    return torch.where(v > 0, exponent.to(torch.int64), 0)


def _sround(v: torch.Tensor) -> torch.Tensor:
    return _s16((v + (1 << 14)) >> 15)


def _fixdiv(z: torch.Tensor, div: int) -> torch.Tensor:
    """C_FIXDIV on (re, im) stacked: int16 values times 32767 // div (div >= 2), rounded back by 2^15,
    stay within int16, so there is nothing to wrap."""
    return (z * (32767 // div) + (1 << 14)) >> 15


def _cmul(z: torch.Tensor, tw: torch.Tensor) -> torch.Tensor:
    """C_MUL of (re, im) stacked on dim 0 by Q15 twiddles (re, im) on dim 0. int32 is enough:
    |re * tr - im * ti| + 2^14 <= 2 * 32768 * 32767 + 2^14 < 2^31 (twiddles are at most 32767)."""
    re, im, tr, ti = z[0], z[1], tw[0], tw[1]
    return torch.stack([_sround(re * tr - im * ti), _sround(re * ti + im * tr)])


def _wrapped_max_abs(frames: torch.Tensor) -> torch.Tensor:
    """sequential_max_abs for every row holding -32768, without a loop over samples.

    Storing -(-32768) wraps the running maximum to -32768; from there (the last -32768 in the row) the
    rule "v > peak: peak = v; else -v > peak: peak = -v" keeps the peak negative while the samples
    are negative and rising, and from the first sample that breaks that run on it is the largest
    magnitude of the rest (that sample included). With no sample after the last -32768 the peak is
    -32768; with an unbroken run to the end it is the last (negative) sample."""
    n = frames.shape[-1]
    index = torch.arange(n, device=frames.device)
    last_min = torch.where(frames == -32768, index, -1).amax(dim=-1, keepdim=True)
    tail = index > last_min
    previous = torch.nn.functional.pad(frames[:, :-1], (1, 0), value=-32768)
    in_run = (frames < 0) & ((frames > previous) | (index == last_min + 1))
    broken = tail & ~in_run
    first_break = torch.where(broken, index, n).amin(dim=-1, keepdim=True)
    after = index >= first_break
    peak = torch.where(after, frames.abs(), 0).amax(dim=-1)
    no_break = first_break.squeeze(-1) == n
    peak = torch.where(no_break, frames[:, -1], peak)
    return torch.where(last_min.squeeze(-1) == n - 1, -32768, peak)


class TorchMicroFrontend(torch.nn.Module):
    """micro_speech's audio preprocessor for batches of clips (see the module docstring)."""

    def __init__(self, cfg: FrontendConfig, chunk_clips: int = 64) -> None:
        super().__init__()
        if cfg.feature_type != "tflm_micro":
            raise ValueError(f"TorchMicroFrontend computes feature_type 'tflm_micro', not {cfg.feature_type!r}")
        tables = micro_tables(cfg)
        self.cfg = cfg
        self.tables: MicroTables = tables
        self.chunk_clips = chunk_clips
        half = tables.fft_size // 2

        def buffer(name: str, array: np.ndarray, dtype: torch.dtype = torch.int64) -> None:
            self.register_buffer(name, torch.from_numpy(np.array(array)).to(dtype), persistent=False)

        # The FFT side runs in int32 (int16 values, products below 2^31: see _cmul), the rest in int64.
        buffer("window", tables.window, torch.int32)
        buffer("fft_order", tables.fft_order)
        buffer("twiddles", tables.twiddles, torch.int32)
        buffer("super_twiddles", tables.super_twiddles, torch.int32)
        buffer("filterbank_t", tables.filterbank.T, torch.float64)
        buffer("pcan_lut", tables.pcan_lut)
        buffer("log_lut", tables.log_lut)
        even = np.arange(tables.num_channels) % 2 == 0
        buffer("smoothing", np.where(even, *tables.smoothing))
        buffer("one_minus_smoothing", np.where(even, *tables.one_minus_smoothing))
        bins = np.arange(half + 1)
        buffer("energy_mask", (bins >= tables.start_index) & (bins < tables.end_index), torch.bool)

    # ------------------------------------------------------------------------------ stateless ops

    def _auto_scale(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        peak = frames.abs().amax(dim=-1)
        odd = (frames == -32768).any(dim=-1)
        if odd.any():  # clipped audio: a -32768 sample on a peak window weight
            peak = torch.where(odd, _wrapped_max_abs(frames), peak)
        shift = torch.where(peak > 0, torch.clamp(15 - _bit_length(peak.clamp(min=0)), min=0), 0)
        factor = torch.bitwise_left_shift(torch.ones_like(shift), shift).to(frames.dtype)
        return _s16(frames * factor.unsqueeze(-1)), shift

    def _butterflies(self, z: torch.Tensor) -> torch.Tensor:
        """kissfft's stages on z = (2, rows, n/2) (re, im), innermost first; returns the same layout."""
        rows, n = z.shape[1], z.shape[2]
        for p, m in reversed(self.tables.fft_stages):
            fstride = n // (p * m)
            # Legs first and contiguous: legs[j] = F[block * p * m + j * m + k] as (2, rows, blocks, m).
            legs = z.reshape(2, rows, n // (p * m), p, m).permute(3, 0, 1, 2, 4).contiguous()
            legs = _fixdiv(legs, p)
            k = torch.arange(m, device=z.device)
            tw = [self.twiddles[j * k * fstride].T.reshape(2, 1, 1, m) for j in range(p)]  # W^(j k fstride)
            if p == 2:
                t = _cmul(legs[1], tw[1])
                outs = [_s16(legs[0] + t), _s16(legs[0] - t)]
            else:
                s0, s1, s2 = _cmul(legs[1], tw[1]), _cmul(legs[2], tw[2]), _cmul(legs[3], tw[3])
                s5, f0 = _s16(legs[0] - s1), _s16(legs[0] + s1)
                s3, s4 = _s16(s0 + s2), _s16(s0 - s2)
                rot = torch.stack([s4[1], -s4[0]])  # -i * s4: (s4.i, -s4.r)
                outs = [_s16(f0 + s3), _s16(s5 + rot), _s16(f0 - s3), _s16(s5 - rot)]
            z = torch.stack(outs, dim=3).reshape(2, rows, n)
        return z

    def _rfft(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.tables.fft_size
        half = n // 2
        x = torch.nn.functional.pad(frames, (0, n - frames.shape[-1]))
        z = self._butterflies(torch.stack([x[:, 0::2][:, self.fft_order], x[:, 1::2][:, self.fft_order]]))
        k = torch.arange(1, half // 2 + 1, device=frames.device)
        dc = _fixdiv(z[:, :, :1], 2)
        fpk = _fixdiv(z[:, :, k], 2)
        fpnk = _fixdiv(torch.stack([z[0][:, half - k], _s16(-z[1][:, half - k])]), 2)
        f1 = _s16(fpk + fpnk)
        tw = _cmul(_s16(fpk - fpnk), self.super_twiddles[k - 1].T.reshape(2, 1, -1))
        out_re = torch.zeros(frames.shape[0], half + 1, dtype=torch.int32, device=frames.device)
        out_im = torch.zeros_like(out_re)
        out_re[:, :1], out_re[:, half:] = _s16(dc[0] + dc[1]), _s16(dc[0] - dc[1])
        out_re[:, k], out_im[:, k] = (f1[0] + tw[0]) >> 1, (f1[1] + tw[1]) >> 1
        out_re[:, half - k], out_im[:, half - k] = (f1[0] - tw[0]) >> 1, (tw[1] - f1[1]) >> 1
        return out_re, out_im

    def _filterbank_sqrt(self, re: torch.Tensor, im: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        re, im = re.to(torch.int64), im.to(torch.int64)
        energy = torch.where(self.energy_mask, _u32(re * re + im * im), 0)
        # Integers below 2^53 throughout: the float64 product is exact (see kws/frontend_micro.py).
        x = (energy.to(torch.float64) @ self.filterbank_t).to(torch.int64)
        root = torch.sqrt(x.to(torch.float64)).floor().to(torch.int64)
        root = root - (root * root > x).to(torch.int64)
        root = root + ((root + 1) * (root + 1) <= x).to(torch.int64)
        cap = torch.where(x >> 32 == 0, 0xFFFF, 0xFFFFFFFF)
        root = root + ((x - root * root > root) & (root != cap)).to(torch.int64)
        return root >> shift.unsqueeze(-1)

    def _pcan(self, signal: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        lut = self.pcan_lut
        interval = torch.clamp(_bit_length(noise), min=2)
        base = 4 * interval - 6
        frac = torch.where(interval < 11, noise << torch.clamp(11 - interval, min=0),
                           noise >> torch.clamp(interval - 11, min=0)) & 0x3FF
        result = _s32((lut[base + 2] * frac) >> 5) + lut[base + 1] * 32
        result = _s32(_s32(_s32(result) * frac) + (1 << 14)) >> 15
        gain = _u32(torch.where(noise <= 2, lut[noise.clamp(max=2)], _s16(result + lut[base])))
        # (signal * gain) >> shift in uint64, mod 2^32: gain split in 16-bit halves so no int64 overflows
        # (signal < 2^32; shift <= 16 by config validation).
        shift = self.tables.snr_shift
        snr = _u32(_u32((signal * (gain >> 16)) << (16 - shift)) + ((signal * (gain & 0xFFFF)) >> shift))
        small = (snr * snr) >> (2 + 2 * PCAN_SNR_BITS - PCAN_OUTPUT_BITS)
        large = (snr >> (PCAN_SNR_BITS - PCAN_OUTPUT_BITS)) - (1 << PCAN_OUTPUT_BITS)
        return torch.where(snr < (2 << PCAN_SNR_BITS), small, large)

    def _log(self, signal: torch.Tensor) -> torch.Tensor:
        scaled = _u32(signal << self.tables.correction_bits)
        x = scaled.clamp(min=2)
        integer = _bit_length(x) - 1
        frac = x - torch.bitwise_left_shift(torch.ones_like(integer), integer)
        frac = torch.where(integer < LOG_SCALE_BITS, frac << torch.clamp(LOG_SCALE_BITS - integer, min=0),
                           frac >> torch.clamp(integer - LOG_SCALE_BITS, min=0))
        segment = frac >> (LOG_SCALE_BITS - LOG_SEGMENTS_BITS)
        c0, c1 = self.log_lut[segment], self.log_lut[segment + 1]
        unit = (1 << LOG_SCALE_BITS) >> LOG_SEGMENTS_BITS
        log2 = (integer << LOG_SCALE_BITS) + frac + c0 + (((c1 - c0) * (frac - unit * segment)) >> LOG_SCALE_BITS)
        half = 1 << (LOG_SCALE_BITS - 1)
        loge = _u32((LOG_COEFF * log2 + half) >> LOG_SCALE_BITS)
        value = _u32((LOG_OUTPUT_SCALE * loge + half) >> LOG_SCALE_BITS)
        return torch.where(scaled > 1, value.clamp(max=32767), 0)

    # ---------------------------------------------------------------------------------- per clip

    def _int16(self, audio: torch.Tensor) -> torch.Tensor:
        if audio.ndim != 2:
            raise ValueError(f"TorchMicroFrontend expects (batch, samples) audio, got shape {tuple(audio.shape)}")
        if audio.shape[1] < self.cfg.window_samples:
            raise DataError(f"audio has {audio.shape[1]} samples; the frontend needs at least "
                            f"{self.cfg.window_samples}")
        if audio.dtype == torch.int16:
            return audio.to(torch.int32)
        if not audio.is_floating_point():
            raise DataError(f"audio must be float in [-1, 1) or int16, got dtype {audio.dtype}")
        return torch.round(audio.to(torch.float64) * 32768.0).clamp(-32768, 32767).to(torch.int32)

    def _chunk(self, pcm: torch.Tensor) -> torch.Tensor:
        clips = pcm.shape[0]
        frames = pcm.unfold(-1, self.cfg.window_samples, self.cfg.stride_samples)
        count = frames.shape[1]
        flat = frames.reshape(-1, self.cfg.window_samples)
        windowed = torch.clamp((flat * self.window) >> WINDOW_BITS, -32768, 32767)
        scaled, shift = self._auto_scale(windowed)
        re, im = self._rfft(scaled)
        channels = self._filterbank_sqrt(re, im, shift).reshape(clips, count, -1)
        bits = self.tables.smoothing_bits
        noise = torch.zeros_like(channels[:, 0])
        reduced, noises = torch.empty_like(channels), torch.empty_like(channels)
        for t in range(count):  # the noise estimate: frame after frame, all clips and channels at once
            signal = channels[:, t]
            up = _u32(signal << bits)
            noise = _u32((up * self.smoothing + noise * self.one_minus_smoothing) >> SUBTRACTION_BITS)
            floor = _u32((signal * self.tables.min_signal_remaining) >> SUBTRACTION_BITS)
            reduced[:, t] = torch.maximum((up - torch.minimum(noise, up)) >> bits, floor)
            noises[:, t] = noise
        return self._log(self._pcan(reduced, noises))

    @torch.no_grad()
    def features_int16(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, samples) audio -> (B, frames, channels) int64 tensor of the frontend's int16 features."""
        pcm = self._int16(audio)
        return torch.cat([self._chunk(chunk) for chunk in pcm.split(self.chunk_clips)])

    def features_int8(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, samples) audio -> (B, frames, channels) torch.int8, micro_speech's int8 formula."""
        f = self.features_int16(audio)
        q = torch.div(f * OUTPUT_SCALE + OUTPUT_DIV // 2, OUTPUT_DIV, rounding_mode="floor") + OUTPUT_OFFSET
        return q.clamp(-128, 127).to(torch.int8)

    def dequantize(self, q: torch.Tensor) -> torch.Tensor:
        """int8 features -> float32 as the model reads them: (q - zero_point) * scale."""
        return (q.to(torch.float32) - self.cfg.input_zero_point) * self.cfg.input_scale

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, samples) audio -> (B, frames, channels) float32: the dequantized int8 features, which are
        this frontend's float features (its definition is integer; the model reads them at input_scale)."""
        return self.dequantize(self.features_int8(audio))

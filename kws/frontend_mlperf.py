"""MLPerf Tiny's KWS features (feature_type 'mlperf_mfcc'): numpy definition and batched torch, host only.

MLPerf Tiny's keyword-spotting training scripts (mlcommons/tiny benchmark/training/keyword_spotting,
get_dataset.py, feature_type 'mfcc'; the reference DS-CNN was trained and is benchmarked on these)
compute, per 1 s clip of 16 kHz audio:
1. x = audio / max(audio): each clip scaled by its largest sample (tf.reduce_max, not the largest
   magnitude), then zero-padded to the clip length.
2. tf.signal.stft(frame_length=480, frame_step=320, fft_length=None -> 512, window_fn=hann_window):
   frame t is samples [t*320, t*320 + 480) times a periodic Hann window, zero-padded at its end to 512;
   49 frames per second; magnitudes |X_k| (tf.abs), not powers.
3. tf.signal.linear_to_mel_weight_matrix(40, 257, 16000, 20.0, 4000.0): HTK mel 1127 ln(1 + f/700),
   triangles with peak 1 on the mel axis, bin 0 (DC) zeroed; mel = |X| @ matrix.
4. log(mel + 1e-6), then tf.signal.mfccs_from_log_mel_spectrograms: DCT-II scaled by 1/sqrt(2 * 40),
   i.e. sqrt(2/40) sum_m logmel[m] cos(pi k (2m + 1) / 80) for every k (c0 too: TF's MFCC is not the
   orthonormal DCT, whose c0 would be sqrt(1/40) sum), first 10 coefficients -> (49, 10).
Config: window_ms 30, stride_ms 20, n_fft 512, n_mels 40, fmin_hz 20, fmax_hz 4000, log_floor 1e-6, n_mfcc 10
(the FrontendConfig defaults) describe steps 2-4; mlperf_quant_scale / mlperf_quant_zero_point are the
reference model's input quantization (0.5847029, 83 in kws_ref_model.tflite), applied as TFLite's
Quantize does: q = round_half_away(x / scale) + zero_point, clamped to int8. (MLPerf's make_bin_files.py
writes its benchmark inputs with np.array(x / scale + zero_point, dtype=np.int8), which truncates toward
zero instead of rounding: up to one step lower or higher than TFLite's own quantization of the same value.)

Where this differs from TensorFlow, on purpose: a clip whose largest sample is 0 (digital silence, or
all samples negative or zero) is left unscaled, where TF divides by 0 and yields NaN/inf features.
The definition computes in float64 with the tables below; tests/test_frontend_mlperf.py measures it
against TensorFlow's own ops. The tables follow TF's float32 formulas (window, mel matrix).

    from kws.frontend_mlperf import mlperf_features
    x = mlperf_features(audio, FrontendConfig(feature_type="mlperf_mfcc"))   # (49, 10) float64
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from kws.config import FrontendConfig
from kws.errors import DataError

__all__ = ["MlperfTables", "TorchMlperfFrontend", "mlperf_features", "mlperf_tables", "peak_normalize"]


@dataclass(frozen=True)
class MlperfTables:
    """The constants of one mlperf_mfcc config, shared by numpy and torch."""

    window: np.ndarray
    """Periodic Hann window as tf.signal.hann_window computes it (float32), (window_samples,)."""
    mel: np.ndarray
    """tf.signal.linear_to_mel_weight_matrix, float32 (n_fft // 2 + 1, n_mels)."""
    dct: np.ndarray
    """TF's MFCC DCT rows: sqrt(2 / n_mels) cos(pi k (2m + 1) / (2 n_mels)), float64 (n_mfcc, n_mels)."""


def _hertz_to_mel(hz: Any) -> np.ndarray:
    """TF's _hertz_to_mel in float32: 1127 * ln(1 + f / 700)."""
    return np.float32(1127.0) * np.log(np.float32(1.0) + np.asarray(hz, dtype=np.float32) / np.float32(700.0))


def _linspace32(start: Any, stop: Any, num: int) -> np.ndarray:
    """TF's LinSpace kernel in float32: start + i * ((stop - start) / (num - 1)), the last one exact."""
    start, stop = np.float32(start), np.float32(stop)
    step = (stop - start) / np.float32(num - 1)
    values = start + np.arange(num, dtype=np.float32) * step
    values[-1] = stop
    return values


@functools.lru_cache(maxsize=8)
def mlperf_tables(cfg: FrontendConfig) -> MlperfTables:
    """Build (once per config) the window, mel matrix and DCT; ConfigError for a bad config."""
    cfg.validate()
    n = cfg.window_samples
    arg = np.float32(2 * np.pi) * np.arange(n, dtype=np.float32) / np.float32(n)  # periodic: divide by n
    window = np.float32(0.5) - np.float32(0.5) * np.cos(arg)
    bins = cfg.n_fft // 2 + 1
    spectrum_mel = _hertz_to_mel(_linspace32(0.0, cfg.sample_rate / 2.0, bins)[1:])[:, None]
    edges = _linspace32(_hertz_to_mel(cfg.fmin_hz), _hertz_to_mel(cfg.fmax_hz), cfg.n_mels + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (spectrum_mel - lower) / (center - lower)
    falling = (upper - spectrum_mel) / (upper - center)
    mel = np.zeros((bins, cfg.n_mels), dtype=np.float32)
    mel[1:] = np.maximum(np.float32(0.0), np.minimum(rising, falling))
    k = np.arange(cfg.n_mfcc)[:, None]
    m = np.arange(cfg.n_mels)
    dct = math.sqrt(2.0 / cfg.n_mels) * np.cos(np.pi * k * (2 * m + 1) / (2 * cfg.n_mels))
    dct[np.abs(dct) < 1e-9] = 0.0  # exact zeros where cos(pi/2 * odd) is 0, not libm's residue
    for array in (window, mel, dct):
        array.setflags(write=False)
    return MlperfTables(window=window, mel=mel, dct=dct)


def peak_normalize(audio: np.ndarray) -> np.ndarray:
    """Divide by the largest sample (MLPerf's audio / tf.reduce_max(audio)); unchanged when it is 0."""
    peak = audio.max()
    return audio / peak if peak != 0 else audio


def mlperf_features(audio: Any, cfg: FrontendConfig) -> np.ndarray:
    """THE definition of the mlperf_mfcc features: float64 (frames, n_mfcc); see the module docstring."""
    a = np.asarray(audio)
    if a.ndim != 1:
        raise DataError(f"audio must be one channel (a 1-D array), got shape {a.shape}")
    if a.dtype == np.int16:
        a = a.astype(np.float64) / 32768.0  # the scale cancels in the peak normalisation anyway
    elif np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    else:
        raise DataError(f"audio must be float in [-1, 1) or int16, got dtype {a.dtype}")
    if a.shape[0] < cfg.window_samples:
        raise DataError(f"audio has {a.shape[0]} samples; the frontend needs at least {cfg.window_samples}")
    if not np.all(np.isfinite(a)):
        raise DataError("audio contains NaN or infinite samples")
    tables = mlperf_tables(cfg)
    x = peak_normalize(a)
    count = 1 + (x.shape[0] - cfg.window_samples) // cfg.stride_samples
    frames = np.lib.stride_tricks.sliding_window_view(x, cfg.window_samples)[::cfg.stride_samples][:count]
    magnitude = np.abs(np.fft.rfft(frames * tables.window.astype(np.float64), n=cfg.n_fft))
    logmel = np.log(magnitude @ tables.mel.astype(np.float64) + cfg.log_floor)
    return logmel @ tables.dct.T


class TorchMlperfFrontend(torch.nn.Module):
    """The mlperf_mfcc features batched in float32 with torch ops, for training on the fly.

        frontend = TorchMlperfFrontend(cfg)
        x = frontend(audio)                  # (B, samples) float in [-1, 1) or int16 -> (B, 49, 10) float32
        q = frontend.features_int8(audio)    # torch.int8 with the reference model's input quantization
    """

    def __init__(self, cfg: FrontendConfig, chunk_clips: int = 64) -> None:
        super().__init__()
        if cfg.feature_type != "mlperf_mfcc":
            raise ValueError(f"TorchMlperfFrontend computes feature_type 'mlperf_mfcc', not {cfg.feature_type!r}")
        tables = mlperf_tables(cfg)
        self.cfg = cfg
        self.chunk_clips = chunk_clips
        used = np.flatnonzero(tables.mel.any(axis=1))
        self._bin_lo, self._bin_hi = int(used[0]), int(used[-1]) + 1  # only bins with mel weight matter
        self.register_buffer("window", torch.from_numpy(tables.window.copy()), persistent=False)
        mel = tables.mel[self._bin_lo:self._bin_hi].copy()
        self.register_buffer("mel", torch.from_numpy(mel), persistent=False)
        dct_t = np.array(tables.dct.T, dtype=np.float32, order="C")  # a writable copy for torch
        self.register_buffer("dct_t", torch.from_numpy(dct_t), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, samples) audio -> (B, frames, n_mfcc) float32 features."""
        if audio.ndim != 2:
            raise ValueError(f"TorchMlperfFrontend expects (batch, samples) audio, got shape {tuple(audio.shape)}")
        if audio.shape[1] < self.cfg.window_samples:
            raise DataError(f"audio has {audio.shape[1]} samples; the frontend needs at least "
                            f"{self.cfg.window_samples}")
        return torch.cat([self._features(chunk.to(torch.float32)) for chunk in audio.split(self.chunk_clips)])

    def _features(self, audio: torch.Tensor) -> torch.Tensor:
        peak = audio.amax(dim=1, keepdim=True)
        x = audio / torch.where(peak != 0, peak, torch.ones_like(peak))
        frames = x.unfold(-1, self.cfg.window_samples, self.cfg.stride_samples) * self.window
        spectrum = torch.fft.rfft(frames, n=self.cfg.n_fft)[..., self._bin_lo:self._bin_hi]
        logmel = torch.log(spectrum.abs() @ self.mel + self.cfg.log_floor)
        return logmel @ self.dct_t

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """float features -> torch.int8: round half away from zero (float64 division), clamped."""
        v = x.to(torch.float64) / self.cfg.input_scale
        magnitude = v.abs()
        whole = magnitude.floor()
        rounded = torch.copysign(whole + (magnitude - whole >= 0.5).to(torch.float64), v)
        return (rounded + self.cfg.input_zero_point).clamp(-128, 127).to(torch.int8)

    def dequantize(self, q: torch.Tensor) -> torch.Tensor:
        """int8 features -> float32 on the quantization grid."""
        return (q.to(torch.float32) - self.cfg.input_zero_point) * self.cfg.input_scale

    def features_int8(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, samples) audio -> (B, frames, n_mfcc) torch.int8."""
        return self.quantize(self.forward(audio))

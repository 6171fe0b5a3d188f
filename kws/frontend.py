"""The audio feature frontend: int8 features of one spec (FrontendConfig), implementations that agree.

Four kinds (FrontendConfig.feature_type), one dispatch (this module): `reference_features` /
`reference_features_int8` (the definition, numpy) and `torch_frontend` (batched torch, for training):
- 'logmel', 'mfcc': defined below (numpy + librosa; TorchFrontend; the C in firmware/core/kws_frontend.c).
- 'tflm_micro': TFLM's micro frontend, integer arithmetic bit for bit with micro_speech's
  audio_preprocessor_int8.tflite: kws/frontend_micro.py (numpy), kws/frontend_micro_torch.py,
  firmware/core/kws_micro_frontend.c. Its float features are its int8 ones dequantized.
- 'mlperf_mfcc': MLPerf Tiny KWS's tf.signal MFCC, host only: kws/frontend_mlperf.py.

The rest of this docstring defines 'logmel' and 'mfcc'.

`FrontendConfig` (kws/config_frontend.py) is the spec; `reference_features` below is its definition
(numpy + librosa, float64 arithmetic). `TorchFrontend` computes the same features batched in float32
for training on the fly, and the C tables of the device come from `frontend_tables` here, via
kws/frontend_tables.py. All three use the very same float32 tables, so any difference between them is
arithmetic (float32 vs float64), never a table (DESIGN.md contract 1).

    from kws.config import FrontendConfig
    from kws.frontend import reference_features_int8, TorchFrontend
    q = reference_features_int8(audio_16k, FrontendConfig())      # (49, 40) int8 for 1 s
    feats = TorchFrontend(FrontendConfig())(batch)                # (B, 49, 40) float32
    kws features clip.wav --png clip.png                          # the same from the command line

The definition, step by step (defaults in brackets):
1. audio: float in [-1, 1), or int16 divided by 32768; any length >= n_fft.
2. frames: frame t is samples [t*stride, t*stride + n_fft) with no centre padding (librosa
   center=False), so frames = 1 + (len - n_fft) // stride [49 per 16000 samples].
3. window: periodic Hann of window_samples [480], zero-padded centrally to n_fft [512]; its first
   non-zero-padded sample sits at offset (n_fft - window_samples) // 2 [16] in the frame.
4. power spectrum |X_k|^2 of the rfft of each windowed frame (no scaling).
5. mel: librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=True, norm=None) [40 x 257].
   htk=True: the HTK mel scale 2595*log10(1 + f/700), the scale of TensorFlow's audio_ops.mfcc and
   of the micro_speech features tiny_conv was designed with (librosa's default, Slaney's scale, is
   linear below 1 kHz). norm=None: triangles with peak 1, so channels stay in the units of the power
   spectrum and log_floor means the same absolute power in every channel; Slaney's area
   normalisation would multiply each channel by 2 / its bandwidth in Hz (69..415 Hz here), shifting
   the log by -3.5..-5.3 per channel and moving the floor relative to the signal channel by channel.
   With fmin 20 Hz and 31.25 Hz FFT bins no channel is empty (the lowest spans bins 1..2).
6. log-mel: natural log(mel power + log_floor).
7. MFCC (feature_type 'mfcc'): orthonormal DCT-II of the log-mel (scipy.fft.dct(type=2,
   norm='ortho')) as a matrix, keeping the first n_mfcc coefficients.
8. int8: q = round_half_away_from_zero(x / scale) + zero_point, clamped to [-128, 127]. This is
   TFLite's Quantize (TfLiteRound is std::round: halves go away from zero, unlike numpy/torch
   round-half-to-even); the division is done in float64 here, float32 in TFLite, which can differ
   only for values within ~1e-7 of a rounding boundary.

Choosing the int8 scale/zero point (measured with `reference_features` on all 2,748 real clips of
../shared/data/sc-real-dev, each zero-padded to 1 s like training does; 134,652 frames):
- log-mel: min -13.8155 (= log(1e-6), digital silence and padding), 1st percentile -13.8155,
  5th -13.00, median -6.10, 95th 3.08, 99th 5.13, 99.9th 7.00, 99.99th 8.22, max 10.056
  (per-clip maxima: median 6.23, 99th 8.91). The worst full-scale synthetic signals (square waves
  and sines swept 20 Hz..8 kHz, +-1 random signs) reach 10.45. scale 0.1, zero point 10 covers
  [-13.8, 11.7]: log(log_floor)/0.1 = -138.16 rounds to -138, +10 = -128 exactly, so silence is
  the int8 minimum without clipping, and the top leaves 1.25 (12 steps) above any full-scale signal.
  Clipping on the real clips: 0 values of 5,389,080 (1.56 % sit at -128: silence, not clipping).
  A span of 25.5 over 255 steps makes 0.1 the finest round step that covers it.
- MFCC (10 coefficients): c0 min -87.377 (= sqrt(40) * log(1e-6), digital silence), c0 max 37.1;
  c1..c9 lie in [-29.1, 37.8]; 99.9th percentiles: c0 27.4, c1 32.0, others <= 20.5. Full-scale
  synthetic signals reach [-87.4, 39.4]. One per-tensor scale must cover c0's silence floor, so
  scale 0.55, zero point 31 covers [-87.45, 52.8]: silence lands on -128 (-87.377/0.55 = -158.87
  -> -159 + 31), with 15 of headroom above every real clip. Clipping on the real clips: 0 values
  of 1,346,520. (0.5 with zero point 47 would reach only 40.0, 2.2 above the real maximum.)
Re-measure when n_mels, log_floor or the frame sizes change: these ranges move with them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kws.config import FrontendConfig
from kws.errors import DataError
from kws.frontend_micro import OUTPUT_DIV, OUTPUT_OFFSET, OUTPUT_SCALE, micro_features_int16, to_int8
from kws.frontend_micro_torch import TorchMicroFrontend
from kws.frontend_mlperf import TorchMlperfFrontend, mlperf_features
from kws.typed_toml import ConfigError

__all__ = [
    "FrontendTables", "TorchFrontend", "dequantize_features", "describe_features", "frontend_tables",
    "quantize_features", "reference_features", "reference_features_int8", "round_half_away_from_zero",
    "torch_frontend",
]

KIND_NAMES = {"logmel": "log-mel", "mfcc": "MFCC", "tflm_micro": "TFLM micro frontend",
              "mlperf_mfcc": "MLPerf Tiny MFCC"}
"""How `kws features` names each feature_type."""


# --------------------------------------------------------------------------------------------- tables

@dataclass(frozen=True)
class FrontendTables:
    """The float32 constants of one FrontendConfig: what the reference, torch and C all use.

    Arrays are read-only because one instance is cached and shared per config.
    """

    window: np.ndarray
    """Periodic Hann window, float32 (window_samples,)."""
    window_offset: int
    """Index of window[0] inside the n_fft frame (the central zero-padding on the left)."""
    padded_window: np.ndarray
    """The window zero-padded centrally to n_fft, float32 (n_fft,)."""
    mel: np.ndarray
    """Mel filterbank, float32 (n_mels, n_fft // 2 + 1)."""
    dct: np.ndarray
    """Orthonormal DCT-II rows, float32 (n_mfcc, n_mels)."""

    @property
    def mel_bin_range(self) -> tuple[int, int]:
        """[first, stop) FFT bins carrying any mel weight: the only bins worth computing."""
        used = np.flatnonzero(self.mel.any(axis=0))
        return int(used[0]), int(used[-1]) + 1

    def mel_sparse(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The mel filterbank in the device's compact form: per channel first bin, bin count and
        offset into one weights array (each channel's weights from its first to last non-zero bin)."""
        first, count, offset, weights = [], [], [], []
        position = 0
        for row in self.mel:
            nonzero = np.flatnonzero(row)
            lo, hi = (int(nonzero[0]), int(nonzero[-1]) + 1) if nonzero.size else (0, 0)
            first.append(lo)
            count.append(hi - lo)
            offset.append(position)
            weights.append(row[lo:hi])
            position += hi - lo
        return (np.array(first, dtype=np.int64), np.array(count, dtype=np.int64),
                np.array(offset, dtype=np.int64), np.concatenate(weights).astype(np.float32))


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=np.float32)
    array.setflags(write=False)
    return array


@functools.lru_cache(maxsize=16)
def frontend_tables(cfg: FrontendConfig) -> FrontendTables:
    """Build (once per config) the window, mel and DCT tables; raises ConfigError for a bad config.

    librosa's mel filterbank compiles with numba on first use in a fresh environment (~15 s, then
    cached on disk), which is why this is cached and why tests build it in a session fixture.
    """
    import librosa

    cfg.validate()
    window = librosa.filters.get_window("hann", cfg.window_samples, fftbins=True)  # fftbins: periodic
    offset = (cfg.n_fft - cfg.window_samples) // 2  # librosa.util.pad_center's left padding
    padded = np.zeros(cfg.n_fft, dtype=np.float32)
    padded[offset:offset + cfg.window_samples] = window
    mel = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin_hz,
                              fmax=cfg.fmax_hz, htk=True, norm=None, dtype=np.float32)
    n = np.arange(cfg.n_mels)
    k = np.arange(cfg.n_mfcc)[:, None]
    dct = np.sqrt(2.0 / cfg.n_mels) * np.cos(np.pi * k * (2 * n + 1) / (2 * cfg.n_mels))
    dct[0] /= math.sqrt(2.0)  # orthonormal scaling of the DC row, as scipy's norm='ortho'
    # Exact zeros where cos(pi/2 * odd) is mathematically 0: the libm residue (~1e-17) would
    # otherwise survive the float32 cast and differ from machine to machine.
    dct[np.abs(dct) < 1e-9] = 0.0
    return FrontendTables(window=_readonly(window), window_offset=offset, padded_window=_readonly(padded),
                          mel=_readonly(mel), dct=_readonly(dct))


# ------------------------------------------------------------------------------------- the reference

def _as_float_audio(audio: Any, cfg: FrontendConfig) -> np.ndarray:
    a = np.asarray(audio)
    if a.ndim != 1:
        raise DataError(f"audio must be one channel (a 1-D array), got shape {a.shape}")
    if a.dtype == np.int16:
        a = a.astype(np.float64) / 32768.0
    elif np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    else:
        raise DataError(f"audio must be float in [-1, 1) or int16, got dtype {a.dtype}")
    if a.shape[0] < cfg.n_fft:
        raise DataError(f"audio has {a.shape[0]} samples; the frontend needs at least n_fft={cfg.n_fft}")
    if not np.all(np.isfinite(a)):
        raise DataError("audio contains NaN or infinite samples")
    return a


def reference_features(audio: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """THE definition of the features: float64 (frames, num_features) of any feature_type (for
    'tflm_micro' the dequantized int8 features, its definition being integer)."""
    if cfg.feature_type == "tflm_micro":
        return dequantize_features(reference_features_int8(audio, cfg), cfg)
    if cfg.feature_type == "mlperf_mfcc":
        return mlperf_features(audio, cfg)
    return _logmel_features(audio, cfg)


def _logmel_features(audio: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """The log-mel / MFCC definition (see the module docstring)."""
    import librosa

    y = _as_float_audio(audio, cfg)
    tables = frontend_tables(cfg)
    spectrum = librosa.stft(y, n_fft=cfg.n_fft, hop_length=cfg.stride_samples, win_length=cfg.window_samples,
                            window=tables.window.astype(np.float64), center=False)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    logmel = np.log(tables.mel.astype(np.float64) @ power + cfg.log_floor).T
    if cfg.feature_type == "mfcc":
        return logmel @ tables.dct.astype(np.float64).T
    return logmel


def round_half_away_from_zero(v: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, halves away from zero (C's round(), TFLite's TfLiteRound).

    Not floor(|v| + 0.5): that adds a rounding error of its own (0.49999999999999994 + 0.5 == 1.0).
    The fraction |v| - floor(|v|) is exact in floating point, so this is too.
    """
    v = np.asarray(v, dtype=np.float64)
    magnitude = np.abs(v)
    whole = np.floor(magnitude)
    return np.copysign(whole + (magnitude - whole >= 0.5), v)


def quantize_features(x: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """float features -> int8 with the spec's input scale and zero point (see the module docstring)."""
    x = np.asarray(x, dtype=np.float64)
    if np.isnan(x).any():
        raise ValueError("features contain NaN; they cannot be quantized")
    q = round_half_away_from_zero(x / cfg.input_scale) + cfg.input_zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize_features(q: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """int8 features -> float64 values on the quantization grid: (q - zero_point) * scale."""
    return (np.asarray(q, dtype=np.float64) - cfg.input_zero_point) * cfg.input_scale


def reference_features_int8(audio: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """The int8 features the model and the device see: quantize_features(reference_features(...)), or
    for 'tflm_micro' micro_speech's integer formula over the frontend's int16 output."""
    if cfg.feature_type == "tflm_micro":
        features, _ = micro_features_int16(audio, cfg)
        return to_int8(features)
    return quantize_features(reference_features(audio, cfg), cfg)


def torch_frontend(cfg: FrontendConfig, chunk_clips: int = 64) -> torch.nn.Module:
    """The batched torch frontend of cfg's feature_type: TorchFrontend, TorchMicroFrontend or
    TorchMlperfFrontend. Each has forward (float features), features_int8 and dequantize."""
    cfg.validate()
    if cfg.feature_type == "tflm_micro":
        return TorchMicroFrontend(cfg, chunk_clips)
    if cfg.feature_type == "mlperf_mfcc":
        return TorchMlperfFrontend(cfg, chunk_clips)
    return TorchFrontend(cfg, chunk_clips)


# ------------------------------------------------------------------------------------ torch, batched

class TorchFrontend(torch.nn.Module):
    """The same features, batched in float32 with torch ops, for training on the fly.

        frontend = TorchFrontend(cfg)
        x = frontend(audio)               # (B, samples) float in [-1, 1) or int16 -> (B, frames, features)
        q = frontend.features_int8(audio) # torch.int8, equal to reference_features_int8 on >= 99.9 %

    Framing is unfold + rfft with the padded window (the reference's frames exactly); only the FFT
    bins that carry mel weight are squared and summed. The tables are non-persistent buffers: they
    always come from the config, never from a checkpoint that might hold stale ones.
    """

    def __init__(self, cfg: FrontendConfig, chunk_clips: int = 64) -> None:
        super().__init__()
        if cfg.feature_type not in ("logmel", "mfcc"):
            raise ConfigError(f"TorchFrontend computes 'logmel' and 'mfcc' features, not {cfg.feature_type!r}: "
                              f"use kws.frontend.torch_frontend(cfg)")
        tables = frontend_tables(cfg)
        self.cfg = cfg
        self.chunk_clips = chunk_clips
        self._bin_lo, self._bin_hi = tables.mel_bin_range
        self.register_buffer("window", torch.from_numpy(tables.padded_window.copy()), persistent=False)
        mel = tables.mel[:, self._bin_lo:self._bin_hi]
        self.register_buffer("mel_t", torch.from_numpy(np.ascontiguousarray(mel.T)), persistent=False)
        self.register_buffer("dct_t", torch.from_numpy(np.ascontiguousarray(tables.dct.T)), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, samples) audio, float in [-1, 1) or int16 -> (B, frames, num_features) float32 features."""
        if audio.ndim != 2:
            raise ValueError(f"TorchFrontend expects (batch, samples) audio, got shape {tuple(audio.shape)}")
        if audio.shape[1] < self.cfg.n_fft:
            raise DataError(f"audio has {audio.shape[1]} samples; the frontend needs at least n_fft={self.cfg.n_fft}")
        if audio.dtype == torch.int16:
            # int16 * (window / 32768) is bit-identical to (int16 / 32768) * window (a power-of-two
            # scale is exact) and saves a full pass over the audio.
            window = self.window / 32768.0
        else:
            audio = audio.to(torch.float32)
            window = self.window
        # Chunks keep every intermediate (frames, spectrum, power) of one chunk in cache; one pass
        # over 1,000 clips would stream ~100 MB per stage through memory instead.
        return torch.cat([self._features(chunk, window) for chunk in audio.split(self.chunk_clips)])

    def _features(self, audio: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        frames = audio.unfold(-1, self.cfg.n_fft, self.cfg.stride_samples) * window
        spectrum = torch.view_as_real(torch.fft.rfft(frames)[..., self._bin_lo:self._bin_hi])
        power = spectrum[..., 0].square() + spectrum[..., 1].square()
        logmel = torch.log(power @ self.mel_t + self.cfg.log_floor)
        if self.cfg.feature_type == "mfcc":
            return logmel @ self.dct_t
        return logmel

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """float features -> torch.int8, rounding halves away from zero like quantize_features.

        The division runs in float64, as in the reference, so equal inputs give equal int8.
        """
        v = x.to(torch.float64) / self.cfg.input_scale
        magnitude = v.abs()
        whole = magnitude.floor()
        rounded = torch.copysign(whole + (magnitude - whole >= 0.5).to(torch.float64), v)
        return (rounded + self.cfg.input_zero_point).clamp(-128, 127).to(torch.int8)

    def dequantize(self, q: torch.Tensor) -> torch.Tensor:
        """int8 features -> float32 on the quantization grid (what the int8 model sees, as floats)."""
        return (q.to(torch.float32) - self.cfg.input_zero_point) * self.cfg.input_scale

    def features_int8(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, samples) audio -> (B, frames, num_features) torch.int8."""
        return self.quantize(self.forward(audio))


# --------------------------------------------------------------------------------------- inspection

def describe_features(wav: Path, cfg: FrontendConfig, png: Path | None = None) -> str:
    """Compute one WAV's int8 features; return a short summary and optionally plot them to `png`.

    A file shorter than one clip is zero-padded to clip length first, as training does; a longer one
    is described whole.
    """
    from kws.data.audio import load_audio

    wav = Path(wav)
    audio, fixes = load_audio(wav, cfg.sample_rate)
    notes = []
    if audio.shape[0] < cfg.clip_samples:
        notes.append(f"zero-padded from {audio.shape[0]} samples")
        audio = np.concatenate([audio, np.zeros(cfg.clip_samples - audio.shape[0], dtype=audio.dtype)])
    if getattr(fixes, "any", False):
        notes.append(", ".join(f"{name.replace('_', ' ')} {value}" for name, value in vars(fixes).items() if value))
    if cfg.feature_type == "tflm_micro":
        q, stats, quantization = _describe_micro(audio, cfg)
    else:
        x = reference_features(audio, cfg)
        q = quantize_features(x, cfg)
        unclamped = round_half_away_from_zero(x / cfg.input_scale) + cfg.input_zero_point
        clipped = int(np.count_nonzero((unclamped < -128) | (unclamped > 127)))
        stats = f"float: min {x.min():.3f}, max {x.max():.3f}, mean {x.mean():.3f}"
        quantization = (f"quantization: q = round_half_away(x / {cfg.input_scale:g}) + {cfg.input_zero_point}, "
                        f"clamped to [-128, 127]; {clipped} of {q.size} values clipped")
    frame = (f"window {cfg.window_ms} ms, stride {cfg.stride_ms} ms, n_fft {cfg.n_fft}"
             + (", the window at the frame's start" if cfg.frame_samples == cfg.window_samples else ""))
    lines = [
        f"{wav.name}: {audio.shape[0]} samples ({audio.shape[0] / cfg.sample_rate:.3f} s at {cfg.sample_rate} Hz)"
        + (f"; {'; '.join(notes)}" if notes else ""),
        f"features: int8 {KIND_NAMES[cfg.feature_type]}, {q.shape[0]} frames x {q.shape[1]} ({frame})",
        f"int8: min {int(q.min())}, max {int(q.max())}, mean {q.mean():.2f}; {stats}",
        quantization,
        f"spec hash: {cfg.spec_hash()}",
    ]
    if png is not None:
        _plot_features(q, cfg, wav.name, Path(png))
        lines.append(f"plot: {png}")
    return "\n".join(lines)


def _describe_micro(audio: np.ndarray, cfg: FrontendConfig) -> tuple[np.ndarray, str, str]:
    """tflm_micro's int8 features, its int16 statistics line and its quantization line."""
    features, _ = micro_features_int16(audio, cfg)
    q = to_int8(features)
    clipped = int(np.count_nonzero((features * OUTPUT_SCALE + OUTPUT_DIV // 2) // OUTPUT_DIV + OUTPUT_OFFSET > 127))
    stats = f"int16 frontend output: min {int(features.min())}, max {int(features.max())}, mean {features.mean():.1f}"
    quantization = (f"quantization: q = trunc((f * {OUTPUT_SCALE} + {OUTPUT_DIV // 2}) / {OUTPUT_DIV}) "
                    f"- {-OUTPUT_OFFSET} (micro_speech), clamped to [-128, 127]; {clipped} of {q.size} values "
                    f"clipped; the model reads them at scale {cfg.input_scale:g}, zero point {cfg.input_zero_point}")
    return q, stats, quantization


def _plot_features(q: np.ndarray, cfg: FrontendConfig, title: str, png: Path) -> None:
    # Figure + Agg canvas directly: no pyplot, so no global backend switch or figure registry.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from kws.fsutil import atomic_path

    figure = Figure(figsize=(7.0, 4.0), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(q.T, origin="lower", aspect="auto", interpolation="nearest", cmap="magma",
                        vmin=-128, vmax=127)
    axes.set_xlabel(f"frame ({cfg.stride_ms} ms stride)")
    axes.set_ylabel("MFCC coefficient" if cfg.num_features == cfg.n_mfcc and "mfcc" in cfg.feature_type
                    else "mel channel")
    axes.set_title(f"{title}: int8 {cfg.feature_type} features")
    bar = figure.colorbar(image, ax=axes)
    bar.set_label(f"int8 (scale {cfg.input_scale:g}, zero point {cfg.input_zero_point})")
    with atomic_path(png) as tmp:
        figure.savefig(tmp, format="png")

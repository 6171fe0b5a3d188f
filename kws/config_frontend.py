"""The [frontend] section: the audio feature spec shared by training, export and the device.

`FrontendConfig` (one docstring per field), the feature kinds it names and the fields only one kind reads.
kws.config assembles it into `KwsConfig` and re-exports every name here. No side effects at import.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from kws.typed_toml import ConfigError

FEATURE_TYPES: tuple[str, ...] = ("logmel", "mfcc", "tflm_micro", "mlperf_mfcc")
"""The frontend kinds (FrontendConfig.feature_type)."""
DEVICE_FEATURE_TYPES: tuple[str, ...] = ("logmel", "mfcc", "tflm_micro")
"""The kinds the device core computes from audio (mlperf_mfcc is host-only: boards get its features)."""
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "tflm_micro": ("micro_lower_band_hz", "micro_upper_band_hz", "micro_smoothing_bits", "micro_even_smoothing",
                   "micro_odd_smoothing", "micro_min_signal_remaining", "micro_pcan_strength", "micro_pcan_offset",
                   "micro_pcan_gain_bits", "micro_quant_scale", "micro_quant_zero_point"),
    "mlperf_mfcc": ("mlperf_quant_scale", "mlperf_quant_zero_point"),
}
"""FrontendConfig fields that only one feature_type reads (spec_hash leaves them out for the others)."""


@dataclass(frozen=True)
class FrontendConfig:
    """The audio feature spec shared by training, export and the device (DESIGN.md contract 1)."""

    sample_rate: int = 16000
    """Audio sample rate in Hz; every clip is resampled or rejected to match it."""
    clip_duration_ms: int = 1000
    """Length of one training/evaluation clip in milliseconds (shorter clips are zero-padded)."""
    window_ms: int = 30
    """Analysis window length in milliseconds (480 samples at 16 kHz); a periodic Hann window."""
    stride_ms: int = 20
    """Hop between frames in milliseconds (320 samples at 16 kHz)."""
    n_fft: int = 512
    """FFT size; each frame is n_fft samples with the window zero-padded to n_fft in its centre."""
    n_mels: int = 40
    """Number of mel filterbank channels."""
    fmin_hz: float = 20.0
    """Lowest mel filter edge in Hz (TensorFlow's audio_ops.mfcc default)."""
    fmax_hz: float = 4000.0
    """Highest mel filter edge in Hz (TensorFlow's audio_ops.mfcc default)."""
    log_floor: float = 1e-6
    """Added to the mel power before the natural log, so silence gives log(log_floor) not -inf."""
    quant_scale: float = 0.1
    """int8 scale of the log-mel features: q = round_half_away(x / scale) + zero_point, clamped to int8.
    Part of the spec: it must equal the input quantization of the exported model."""
    quant_zero_point: int = 10
    """int8 zero point of the log-mel features (see quant_scale)."""
    feature_type: str = "logmel"
    """Which features (FEATURE_TYPES): 'logmel' (tiny_conv), 'mfcc' (DCT-II of the log-mel, for DS-CNN-style
    models), 'tflm_micro' (TFLM's micro frontend, bit for bit: micro_speech's audio preprocessor, the micro_*
    fields) or 'mlperf_mfcc' (MLPerf Tiny KWS's tf.signal MFCC, host only: the mlperf_* fields)."""
    n_mfcc: int = 10
    """Number of MFCC coefficients kept when feature_type = 'mfcc'."""
    mfcc_quant_scale: float = 0.55
    """int8 scale of MFCC features (feature_type = 'mfcc')."""
    mfcc_quant_zero_point: int = 31
    """int8 zero point of MFCC features (feature_type = 'mfcc')."""
    micro_lower_band_hz: float = 125.0
    """tflm_micro: lowest filterbank edge in Hz (micro_speech's FeatureParams.filter_bank_lower_band_limit_hz)."""
    micro_upper_band_hz: float = 7500.0
    """tflm_micro: highest filterbank edge in Hz (filter_bank_upper_band_limit_hz); n_mels channels between."""
    micro_smoothing_bits: int = 10
    """tflm_micro: extra fractional bits of the noise estimate (filter_bank_smoothing_bits; PCAN's too)."""
    micro_even_smoothing: float = 0.025
    """tflm_micro: noise estimate smoothing of even channels, per frame (filter_bank_even_smoothing)."""
    micro_odd_smoothing: float = 0.06
    """tflm_micro: noise estimate smoothing of odd channels (filter_bank_odd_smoothing)."""
    micro_min_signal_remaining: float = 0.05
    """tflm_micro: noise reduction never takes a channel below this share of its signal."""
    micro_pcan_strength: float = 0.95
    """tflm_micro: PCAN gain = (noise + offset) ^ -strength (pcan_strength)."""
    micro_pcan_offset: float = 80.0
    """tflm_micro: PCAN offset (pcan_offset), in the noise estimate's units."""
    micro_pcan_gain_bits: int = 21
    """tflm_micro: fractional bits of the PCAN gain (pcan_gain_bits)."""
    micro_quant_scale: float = 0.10171568393707275
    """tflm_micro: int8 scale the model reads the features with: the micro_speech model's input scale (its
    int8 values come from TFLM's integer formula, see kws/frontend_micro.py)."""
    micro_quant_zero_point: int = -128
    """tflm_micro: int8 zero point of the features (the micro_speech model's input zero point)."""
    mlperf_quant_scale: float = 0.5847029089927673
    """mlperf_mfcc: int8 scale of the features: the MLPerf Tiny DS-CNN reference model's input scale."""
    mlperf_quant_zero_point: int = 83
    """mlperf_mfcc: int8 zero point of the features (the MLPerf Tiny reference model's input zero point)."""

    @property
    def window_samples(self) -> int:
        """Window length in samples."""
        return self.sample_rate * self.window_ms // 1000

    @property
    def stride_samples(self) -> int:
        """Hop length in samples."""
        return self.sample_rate * self.stride_ms // 1000

    @property
    def clip_samples(self) -> int:
        """Samples in one clip."""
        return self.sample_rate * self.clip_duration_ms // 1000

    @property
    def frame_samples(self) -> int:
        """Samples one frame spans: n_fft for log-mel/MFCC (the window sits inside the FFT frame),
        window_samples for tflm_micro and mlperf_mfcc (their windows start the frame, the FFT zero-pads)."""
        return self.window_samples if self.feature_type in ("tflm_micro", "mlperf_mfcc") else self.n_fft

    @property
    def num_frames(self) -> int:
        """Frames in one clip: no centre padding, frame t spans [t * stride, t * stride + frame_samples)."""
        return 1 + (self.clip_samples - self.frame_samples) // self.stride_samples

    @property
    def num_features(self) -> int:
        """Values per frame: n_mfcc for MFCC kinds, n_mels (filterbank channels) otherwise."""
        return self.n_mfcc if self.feature_type in ("mfcc", "mlperf_mfcc") else self.n_mels

    @property
    def input_scale(self) -> float:
        """int8 scale of the features the model sees."""
        return {"mfcc": self.mfcc_quant_scale, "tflm_micro": self.micro_quant_scale,
                "mlperf_mfcc": self.mlperf_quant_scale}.get(self.feature_type, self.quant_scale)

    @property
    def input_zero_point(self) -> int:
        """int8 zero point of the features the model sees."""
        return {"mfcc": self.mfcc_quant_zero_point, "tflm_micro": self.micro_quant_zero_point,
                "mlperf_mfcc": self.mlperf_quant_zero_point}.get(self.feature_type, self.quant_zero_point)

    def spec_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the fields: stable across runs and machines.

        The device reports this hash in its INFO frame, so host and board can prove they agree.
        The fields of a feature_type other than this one (micro_*, mlperf_*: KIND_FIELDS) cannot change
        these features and are left out: so log-mel and MFCC configs keep the hashes they had before
        those kinds existed (checkpoints, cached banks and boards record them), and every field that can
        change the features of this kind is in.
        """
        fields = dataclasses.asdict(self)
        for kind, names in KIND_FIELDS.items():
            if kind != self.feature_type:
                for name in names:
                    del fields[name]
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def validate(self) -> None:
        """Raise ConfigError for values that cannot describe a working frontend."""
        if self.sample_rate <= 0:
            raise ConfigError(f"frontend.sample_rate must be positive, got {self.sample_rate}")
        if not 0 < self.window_samples <= self.n_fft:
            raise ConfigError(
                f"frontend.window_ms={self.window_ms} gives {self.window_samples} samples; "
                f"it must be between 1 and n_fft={self.n_fft}")
        if self.n_fft & (self.n_fft - 1):
            raise ConfigError(f"frontend.n_fft must be a power of two, got {self.n_fft}")
        if self.stride_samples <= 0:
            raise ConfigError(f"frontend.stride_ms must be positive, got {self.stride_ms}")
        if self.feature_type not in FEATURE_TYPES:
            names = ", ".join(repr(name) for name in FEATURE_TYPES)
            raise ConfigError(f"frontend.feature_type must be one of {names}, got {self.feature_type!r}")
        if self.clip_samples < self.frame_samples:
            raise ConfigError(f"frontend.clip_duration_ms={self.clip_duration_ms} is shorter than one frame "
                              f"({self.frame_samples} samples)")
        if not 0 <= self.fmin_hz < self.fmax_hz <= self.sample_rate / 2:
            raise ConfigError(
                f"frontend needs 0 <= fmin_hz < fmax_hz <= sample_rate/2, got {self.fmin_hz}, {self.fmax_hz}")
        if self.n_mels < 1:
            raise ConfigError(f"frontend.n_mels must be at least 1, got {self.n_mels}")
        if not 0 < self.n_mfcc <= self.n_mels:
            raise ConfigError(f"frontend.n_mfcc must be in 1..n_mels ({self.n_mels}), got {self.n_mfcc}")
        if not self.log_floor > 0:
            raise ConfigError(f"frontend.log_floor must be positive, got {self.log_floor}")
        self._validate_quantization()
        if self.feature_type in ("tflm_micro", "mlperf_mfcc"):
            self._validate_fft_length()
        if self.feature_type == "tflm_micro":
            self._validate_micro()

    def _validate_quantization(self) -> None:
        for name in ("quant_scale", "mfcc_quant_scale", "micro_quant_scale", "mlperf_quant_scale"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"frontend.{name} must be positive, got {getattr(self, name)}")
        for name in ("quant_zero_point", "mfcc_quant_zero_point", "micro_quant_zero_point",
                     "mlperf_quant_zero_point"):
            if not -128 <= getattr(self, name) <= 127:
                raise ConfigError(f"frontend.{name} must be an int8, got {getattr(self, name)}")

    def _validate_fft_length(self) -> None:
        # TFLM (fft_ops.get_pow2_fft_length) and tf.signal.stft (fft_length=None) both take the smallest
        # power of two that holds the window; another n_fft would be another frontend.
        pow2 = 1 << max(self.window_samples - 1, 1).bit_length()
        if self.n_fft != pow2:
            raise ConfigError(f"frontend.n_fft must be {pow2} for feature_type {self.feature_type!r} (the smallest "
                              f"power of two >= window_samples={self.window_samples}), got {self.n_fft}")

    def _validate_micro(self) -> None:
        # 64..1024: the filterbank output's correction shift log2(n_fft) - 6 must not be negative, and the
        # torch/numpy filterbank sums (Q12 weights * 31-bit energies * n_fft / 2 bins) stay below 2^53.
        if not 64 <= self.n_fft <= 1024:
            raise ConfigError(f"feature_type 'tflm_micro' needs n_fft in 64..1024 (window_ms 2..64 at 16 kHz), "
                              f"got {self.n_fft}")
        if not 0 <= self.micro_lower_band_hz < self.micro_upper_band_hz < self.sample_rate / 2:
            raise ConfigError(f"frontend needs 0 <= micro_lower_band_hz < micro_upper_band_hz < sample_rate/2, "
                              f"got {self.micro_lower_band_hz}, {self.micro_upper_band_hz}")
        for name in ("micro_even_smoothing", "micro_odd_smoothing", "micro_min_signal_remaining"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigError(f"frontend.{name} must be in (0, 1), got {getattr(self, name)}")
        if not 1 <= self.micro_smoothing_bits <= 16:
            raise ConfigError(f"frontend.micro_smoothing_bits must be in 1..16, got {self.micro_smoothing_bits}")
        if not 0 < self.micro_pcan_strength <= 4 or not self.micro_pcan_offset > 0:
            raise ConfigError(f"frontend needs 0 < micro_pcan_strength <= 4 and micro_pcan_offset > 0, got "
                              f"{self.micro_pcan_strength}, {self.micro_pcan_offset}")
        # PCAN shifts gain * signal right by gain_bits - correction_bits - 12, correction_bits = log2(n_fft) - 6
        # (TFLM's pcan_op refuses a shift below 1; above 16 the torch version could not keep it exact).
        correction_bits = self.n_fft.bit_length() - 1 - 6
        snr_shift = self.micro_pcan_gain_bits - correction_bits - 12
        if not 1 <= snr_shift <= 16 or self.micro_pcan_gain_bits > 31:
            raise ConfigError(f"frontend.micro_pcan_gain_bits={self.micro_pcan_gain_bits} gives PCAN a shift of "
                              f"{snr_shift} for n_fft {self.n_fft}; it must be 1..16 (and gain_bits at most 31)")
        if self.micro_smoothing_bits < correction_bits:
            raise ConfigError(f"frontend.micro_smoothing_bits must be at least {correction_bits} for n_fft "
                              f"{self.n_fft}, got {self.micro_smoothing_bits}")


__all__ = ["DEVICE_FEATURE_TYPES", "FEATURE_TYPES", "KIND_FIELDS", "FrontendConfig"]

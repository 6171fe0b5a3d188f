"""One configuration tree for the whole pipeline: frozen dataclasses, loaded from TOML plus overrides.

Every stage reads the same `KwsConfig`. Defaults live here (one docstring per field); a TOML file
overrides any subset; `--set section.key=value` on the command line overrides the file. Unknown keys
are errors that name the key. Each run writes its resolved config to `runs/<name>/config.toml`.

    python -m kws config show --config kws/configs/demo.toml --set training.steps=200

No side effects at import; nothing here reads files until asked to.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import tomli_w

from kws.model_names import MODEL_NAMES
from kws.typed_toml import ConfigError, build_dataclass, config_to_dict, deep_merge, parse_override

# The Speech Commands v0.02 vocabulary (35 words). v0.01 has the first 30.
SPEECH_COMMANDS_WORDS_V1: tuple[str, ...] = (
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
)
SPEECH_COMMANDS_WORDS_V2: tuple[str, ...] = SPEECH_COMMANDS_WORDS_V1 + (
    "backward", "forward", "follow", "learn", "visual",
)
SILENCE_LABEL = "_silence_"
UNKNOWN_LABEL = "_unknown_"
BACKGROUND_NOISE_DIR = "_background_noise_"


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


@dataclass(frozen=True)
class DataConfig:
    """Which dataset, which labels, and the TensorFlow speech_commands training recipe."""

    data_dir: str = "data/synth"
    """Dataset root in Speech Commands layout (word folders, _background_noise_, optional lists),
    or in the canonical test-set layout (twelve folders including _silence_ and _unknown_)."""
    wanted_words: tuple[str, ...] = ("yes", "no")
    """Keywords the model recognises; labels are [_silence_, _unknown_, *wanted_words]."""
    silence_percentage: float = 10.0
    """Silence examples added per split, as a percentage of that split's keyword examples."""
    unknown_percentage: float = 10.0
    """Unknown-word examples kept per split, as a percentage of that split's keyword examples."""
    validation_percentage: float = 10.0
    """Share of speakers in the validation split (hash split)."""
    testing_percentage: float = 10.0
    """Share of speakers in the testing split (hash split)."""
    split_method: str = "auto"
    """'hash' (SHA-1 of the name before _nohash_), 'lists' (testing_list.txt / validation_list.txt),
    or 'auto' (lists when both files exist, hash otherwise)."""
    background_frequency: float = 0.8
    """Probability that a training clip gets background noise mixed in."""
    background_volume: float = 0.1
    """Maximum volume of that noise (uniform in [0, background_volume])."""
    silence_volume: float = 1.0
    """Maximum noise volume of silence examples (uniform in [0, silence_volume])."""
    time_shift_ms: float = 100.0
    """Training clips are shifted by a uniform random offset in [-time_shift_ms, time_shift_ms]."""
    speed_perturbation: float = 0.0
    """Realism (0 = off): each training clip is resampled by a factor drawn log-uniform in
    [1/(1+x), 1+x], moving pitch, formants and tempo together (vocal-tract-length and speed perturbation;
    kws.data.acoustics.speed_perturb)."""
    reverb_probability: float = 0.0
    """Realism: probability that a training word is played through a simulated room (before noise mixing)."""
    min_rt60_s: float = 0.1
    """Shortest reverberation time (RT60, seconds) of the simulated rooms."""
    max_rt60_s: float = 0.8
    """Longest reverberation time; rooms are drawn log-uniform between the two."""
    channel_probability: float = 0.0
    """Realism: probability that a training word goes through a random microphone/channel response
    (high-pass, low-pass, tilt and resonances; kws.data.acoustics.channel_response)."""
    channel_max_db: float = 8.0
    """Largest boost or cut of the channel's tilt and resonances, in dB."""
    min_level_db: float = 0.0
    """Realism: every training clip (silence included) is scaled by a gain drawn uniformly in
    [min_level_db, max_level_db] dB after mixing, before clipping (recording level; 0, 0 = off)."""
    max_level_db: float = 0.0
    """Loudest recording level change in dB (see min_level_db)."""
    on_bad_audio: str = "error"
    """'error': stop at the first unreadable or malformed WAV, naming it; 'skip': leave it out and
    report the count. Resampling, down-mixing and sample-format conversion are always done and counted."""
    cache_dir: str = "runs/cache"
    """Where decoded int16 audio of a split is cached (keyed by a hash of the file list and frontend)."""
    seed: int = 59185
    """Seed for the split selection (unknown/silence sampling) and augmentation."""

    def labels(self) -> tuple[str, ...]:
        """Label order used by models and the device: silence, unknown, then the wanted words."""
        return (SILENCE_LABEL, UNKNOWN_LABEL, *self.wanted_words)

    def validate(self) -> None:
        """Raise ConfigError for values the loader cannot honour."""
        if not self.wanted_words:
            raise ConfigError("data.wanted_words is empty: name at least one keyword")
        if len(set(self.wanted_words)) != len(self.wanted_words):
            raise ConfigError(f"data.wanted_words has duplicates: {list(self.wanted_words)}")
        for word in self.wanted_words:
            if word.startswith("_"):
                raise ConfigError(f"data.wanted_words: {word!r} is reserved for silence/unknown/noise")
        for name in ("silence_percentage", "unknown_percentage", "validation_percentage", "testing_percentage"):
            if not 0 <= getattr(self, name) <= 100:
                raise ConfigError(f"data.{name} must be in [0, 100], got {getattr(self, name)}")
        if self.validation_percentage + self.testing_percentage >= 100:
            raise ConfigError("data.validation_percentage + data.testing_percentage must be below 100")
        if self.split_method not in ("auto", "hash", "lists"):
            raise ConfigError(f"data.split_method must be 'auto', 'hash' or 'lists', got {self.split_method!r}")
        if self.on_bad_audio not in ("error", "skip"):
            raise ConfigError(f"data.on_bad_audio must be 'error' or 'skip', got {self.on_bad_audio!r}")
        if not 0 <= self.background_frequency <= 1:
            raise ConfigError(f"data.background_frequency must be in [0, 1], got {self.background_frequency}")
        for name in ("background_volume", "silence_volume", "time_shift_ms"):
            if getattr(self, name) < 0:
                raise ConfigError(f"data.{name} must not be negative, got {getattr(self, name)}")
        self._validate_realism()

    def _validate_realism(self) -> None:
        for name in ("speed_perturbation", "channel_max_db"):
            if getattr(self, name) < 0:
                raise ConfigError(f"data.{name} must not be negative, got {getattr(self, name)}")
        if self.speed_perturbation >= 1:
            raise ConfigError(f"data.speed_perturbation must be below 1 (a factor range [1/(1+x), 1+x]), "
                              f"got {self.speed_perturbation}")
        for name in ("reverb_probability", "channel_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"data.{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0 < self.min_rt60_s <= self.max_rt60_s <= 2.0:
            raise ConfigError(f"data rooms need 0 < min_rt60_s <= max_rt60_s <= 2 s, got {self.min_rt60_s}, "
                              f"{self.max_rt60_s}")
        if not -60 <= self.min_level_db <= self.max_level_db <= 20:
            raise ConfigError(f"data levels need -60 <= min_level_db <= max_level_db <= 20 dB, got "
                              f"{self.min_level_db}, {self.max_level_db}")


@dataclass(frozen=True)
class SynthConfig:
    """The offline synthetic keyword set (`kws data synth`): text-to-speech in Speech Commands layout."""

    out_dir: str = "data/synth"
    """Where the dataset is written (atomically: built under a temporary name, then renamed)."""
    keywords: tuple[str, ...] = ("yes", "no")
    """Words synthesised with many clips each (the keywords a model will learn)."""
    unknown_words: tuple[str, ...] = tuple(w for w in SPEECH_COMMANDS_WORDS_V2 if w not in ("yes", "no"))
    """Other words, fewer clips each, that feed the _unknown_ label."""
    clips_per_keyword: int = 400
    """Clips per keyword."""
    clips_per_unknown_word: int = 25
    """Clips per unknown word."""
    extra_unknown_words: int = 0
    """Words drawn (seeded) from kws.data.vocabulary's common English words that join unknown_words, with
    clips_per_unknown_word clips each: the keywords' near neighbours as negatives (yet, now, town, goat ...).
    Keywords, listed unknown words and the keywords' homophones are never drawn."""
    background_seconds: float = 60.0
    """Length of each synthesised _background_noise_ recording (white, pink, brown, hum, babble)."""
    everyday_noises: bool = False
    """Also synthesise recordings like the real set's household ones: running_water.wav, machine.wav (a motor
    or exercise bike) and clatter.wav (doing the dishes); kws.data.noise."""
    min_speed_wpm: int = 110
    """Slowest speaking rate (espeak-ng words per minute)."""
    max_speed_wpm: int = 220
    """Fastest speaking rate."""
    min_pitch: int = 20
    """Lowest espeak-ng base pitch (0-99)."""
    max_pitch: int = 80
    """Highest espeak-ng base pitch (0-99)."""
    min_gain_db: float = -18.0
    """Quietest clip gain relative to full scale peak."""
    max_gain_db: float = -1.0
    """Loudest clip gain."""
    flite_speakers: float = 0.0
    """Share of the speaker pool voiced by CMU Flite's recorded-voice models (awb, rms, slt, kal16, kal;
    kws.data.flite) instead of espeak-ng; > 0 needs the flite command (Debian: apt-get install flite)."""
    festival_speakers: float = 0.0
    """Share of the speaker pool voiced by Festival's English voices (kal and ked diphones, slt HTS;
    kws.data.festival) instead of espeak-ng; > 0 needs festival and its voices (kws.data.festival.APT_PACKAGES).
    flite_speakers + festival_speakers <= 1."""
    min_formant_factor: float = 1.0
    """Smallest vocal-tract factor of a speaker: every frequency of its voice (formants and pitch) is scaled by
    a factor drawn log-uniform in [min_formant_factor, max_formant_factor] by resampling; 1, 1 = off."""
    max_formant_factor: float = 1.0
    """Largest vocal-tract factor of a speaker (see min_formant_factor)."""
    workers: int = 0
    """Worker processes; 0 means one per CPU core."""
    seed: int = 1234
    """Seed: the same seed and config give byte-identical files."""

    def validate(self) -> None:
        """Raise ConfigError for impossible synthesis settings."""
        if not self.keywords:
            raise ConfigError("synth.keywords is empty")
        overlap = set(self.keywords) & set(self.unknown_words)
        if overlap:
            raise ConfigError(f"synth.keywords and synth.unknown_words overlap: {sorted(overlap)}")
        if self.clips_per_keyword < 1 or self.clips_per_unknown_word < 0:
            raise ConfigError("synth.clips_per_keyword must be >= 1 and clips_per_unknown_word >= 0")
        if not 80 <= self.min_speed_wpm <= self.max_speed_wpm <= 450:
            raise ConfigError("synth speeds must satisfy 80 <= min_speed_wpm <= max_speed_wpm <= 450")
        if not 0 <= self.min_pitch <= self.max_pitch <= 99:
            raise ConfigError("synth pitches must satisfy 0 <= min_pitch <= max_pitch <= 99")
        if not self.min_gain_db <= self.max_gain_db <= 0:
            raise ConfigError("synth gains must satisfy min_gain_db <= max_gain_db <= 0")
        if self.workers < 0:
            raise ConfigError(f"synth.workers must be >= 0, got {self.workers}")
        if self.extra_unknown_words < 0:
            raise ConfigError(f"synth.extra_unknown_words must be >= 0, got {self.extra_unknown_words}")
        if not 0 <= self.flite_speakers <= 1:
            raise ConfigError(f"synth.flite_speakers must be in [0, 1], got {self.flite_speakers}")
        if not 0 <= self.festival_speakers <= 1 - self.flite_speakers:
            raise ConfigError(f"synth.festival_speakers must be in [0, 1 - synth.flite_speakers], got "
                              f"{self.festival_speakers} (flite_speakers {self.flite_speakers})")
        if not 0.5 <= self.min_formant_factor <= self.max_formant_factor <= 2.0:
            raise ConfigError("synth formant factors must satisfy 0.5 <= min_formant_factor <= max_formant_factor <= 2")


@dataclass(frozen=True)
class ModelConfig:
    """Which network to build (the registry arrives with the training issue)."""

    name: str = "tiny_conv"
    """Registered model name: 'tiny_conv' or 'ds_cnn'."""
    dropout: float = 0.5
    """Dropout probability during training (TensorFlow's tiny_conv recipe uses keep_prob 0.5)."""
    width: int = 64
    """Channels of DS-CNN blocks (ignored by tiny_conv)."""
    filters: int = 8
    """Convolution filters of tiny_conv (ignored by DS-CNN); TensorFlow's tiny_conv has 8. A structurally
    pruned checkpoint records its smaller count here, in its own `model` settings."""
    kernel: tuple[int, ...] = (10, 8)
    """tiny_conv's convolution kernel, (time, frequency) in frames and feature channels; TensorFlow's is 10x8."""
    stride: tuple[int, ...] = (2, 2)
    """tiny_conv's convolution stride, (time, frequency); TensorFlow's is 2x2."""
    depth: int = 4
    """Depthwise-separable blocks of DS-CNN (ignored by tiny_conv); Hello Edge / MLPerf Tiny have 4."""

    def validate(self) -> None:
        """Raise ConfigError for a network that cannot be built."""
        if self.name not in MODEL_NAMES:
            raise ConfigError(f"model.name={self.name!r} is not a registered model; choose one of "
                              f"{', '.join(MODEL_NAMES)}")
        for name in ("filters", "width"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name} must be >= 1, got {getattr(self, name)}")
        if self.depth < 0:
            raise ConfigError(f"model.depth must be >= 0, got {self.depth}")
        for name in ("kernel", "stride"):
            value = getattr(self, name)
            if len(value) != 2 or min(value) < 1:
                raise ConfigError(f"model.{name} must be two positive integers (time, frequency), got {list(value)}")


@dataclass(frozen=True)
class TrainingConfig:
    """The TensorFlow speech_commands recipe as defaults."""

    batch_size: int = 100
    """Clips per step."""
    steps: tuple[int, ...] = (15000, 3000)
    """Steps per learning-rate stage."""
    learning_rates: tuple[float, ...] = (1e-3, 1e-4)
    """Learning rate of each stage (same length as steps)."""
    eval_every: int = 400
    """Validate every N steps; the best validation checkpoint is kept."""
    checkpoint_every: int = 200
    """Write a resumable checkpoint every N steps."""
    seed: int = 0
    """Seed for weights, batches and augmentation."""
    teacher: str = ""
    """Checkpoint of a teacher model to distil from (e.g. runs/dscnn/model_float.pt); "" = no distillation.
    It must share this run's labels and frontend spec."""
    distill_temperature: float = 4.0
    """Softmax temperature of knowledge distillation (Hinton et al. 2015)."""
    distill_weight: float = 0.5
    """Weight of the soft-target loss; the hard-label cross-entropy gets 1 - distill_weight."""
    spec_time_masks: int = 0
    """SpecAugment (Park et al. 2019): time masks per training example (0 = off); each hides up to
    spec_time_mask_frames consecutive frames, replaced by the example's mean feature value."""
    spec_time_mask_frames: int = 8
    """Widest time mask, in frames (20 ms each by default)."""
    spec_freq_masks: int = 0
    """SpecAugment: frequency masks per training example (0 = off)."""
    spec_freq_mask_bins: int = 6
    """Widest frequency mask, in feature channels (mel bands or MFCC coefficients)."""
    label_smoothing: float = 0.0
    """Label smoothing of the cross-entropy (0 = off; e.g. 0.1 moves 10 % of each target's weight evenly onto
    every label): less confident training targets, a common guard against over-fitting the training voices."""
    ema_decay: float = 0.0
    """Exponential moving average of the weights (0 = off; e.g. 0.995 averages over ~200 steps): validation,
    the best checkpoint and so every later stage use the averaged weights, which land in a flatter minimum
    and hold up better on data unlike the training set (weight averaging for domain generalisation)."""
    device: str = "auto"
    """Where training steps run: 'auto' (a GPU when torch sees one, else the CPU), 'cpu' or 'cuda'. Features are
    computed on the CPU either way; a GPU run resumes exactly only on a GPU (its dropout draws from the CUDA RNG)."""

    def validate(self) -> None:
        """Raise ConfigError for an unusable schedule."""
        if len(self.steps) != len(self.learning_rates) or not self.steps:
            raise ConfigError("training.steps and training.learning_rates must be non-empty and equally long")
        if any(s <= 0 for s in self.steps) or any(lr <= 0 for lr in self.learning_rates):
            raise ConfigError("training.steps and training.learning_rates must be positive")
        if self.batch_size <= 0:
            raise ConfigError(f"training.batch_size must be positive, got {self.batch_size}")
        for name in ("eval_every", "checkpoint_every"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"training.{name} must be positive, got {getattr(self, name)}")
        if self.distill_temperature <= 0:
            raise ConfigError(f"training.distill_temperature must be positive, got {self.distill_temperature}")
        if not 0 <= self.distill_weight <= 1:
            raise ConfigError(f"training.distill_weight must be in [0, 1], got {self.distill_weight}")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"training.label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"training.ema_decay must be in [0, 1), got {self.ema_decay}")
        for name in ("spec_time_masks", "spec_time_mask_frames", "spec_freq_masks", "spec_freq_mask_bins"):
            if getattr(self, name) < 0:
                raise ConfigError(f"training.{name} must not be negative, got {getattr(self, name)}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"training.device must be 'auto', 'cpu' or 'cuda', got {self.device!r}")


@dataclass(frozen=True)
class QuantizationConfig:
    """int8 quantization: post-training (export default) or quantization-aware training."""

    method: str = "ptq"
    """'ptq' (post-training, with the calibration set) or 'qat' (quantization-aware fine-tuning)."""
    calibration_size: int = 500
    """Clips in the recorded calibration set, drawn from the training split."""
    qat_steps: int = 2000
    """Fine-tuning steps for QAT."""
    qat_learning_rate: float = 1e-4
    """QAT learning rate."""

    def validate(self) -> None:
        """Raise ConfigError for an unknown method or empty calibration set."""
        if self.method not in ("ptq", "qat"):
            raise ConfigError(f"quantization.method must be 'ptq' or 'qat', got {self.method!r}")
        if self.calibration_size <= 0:
            raise ConfigError("quantization.calibration_size must be positive")


@dataclass(frozen=True)
class PruningConfig:
    """Iterative magnitude pruning with fine-tuning between rounds."""

    target_sparsity: float = 0.5
    """Fraction of weights set to zero after the last round, in [0, 1)."""
    rounds: int = 4
    """Prune/fine-tune rounds."""
    finetune_steps: int = 1000
    """Fine-tuning steps per round."""
    structured: bool = False
    """Remove whole convolution filters (and the next layer's matching inputs) instead of single weights."""
    schedule: str = "cubic"
    """Sparsity after round r of R: 'cubic' (Zhu & Gupta 2017: target * (1 - (1 - r/R)^3), large steps
    early while the network is most redundant, small ones near the target) or 'linear' (target * r/R).
    Both reach target_sparsity exactly at the last round."""
    finetune_learning_rate: float = 1e-4
    """Adam learning rate of the fine-tuning steps after each round (the training recipe's final rate)."""
    rewind: str = "none"
    """'none': fine-tune the surviving trained weights. 'init': lottery-ticket rewinding (Frankle & Carbin
    2019): after each round's pruning the survivors are reset to their values before training
    (runs/<run>/checkpoints/init.pt, written by `kws train`) and retrained for finetune_steps, which then
    needs to be close to the training length."""

    def validate(self) -> None:
        """Raise ConfigError for sparsity outside [0, 1), no rounds, or an unknown schedule or rewind."""
        if not 0 <= self.target_sparsity < 1:
            raise ConfigError(f"pruning.target_sparsity must be in [0, 1), got {self.target_sparsity} "
                              f"(it is the fraction of weights removed: 0.5 removes half)")
        if self.rounds < 1:
            raise ConfigError(f"pruning.rounds must be >= 1, got {self.rounds}")
        if self.finetune_steps < 0:
            raise ConfigError(f"pruning.finetune_steps must be >= 0, got {self.finetune_steps}")
        if not self.finetune_learning_rate > 0:
            raise ConfigError(f"pruning.finetune_learning_rate must be positive, got {self.finetune_learning_rate}")
        if self.schedule not in ("cubic", "linear"):
            raise ConfigError(f"pruning.schedule must be 'cubic' or 'linear', got {self.schedule!r}")
        if self.rewind not in ("none", "init"):
            raise ConfigError(f"pruning.rewind must be 'none' or 'init', got {self.rewind!r}")


REC_MAX_MS = 600_000
"""KWS_REC_MAX_MS of kws_recognizer.h: longest window or suppression the C recognizer accepts (keeps every
interval it measures below 2^31 us)."""
REC_MAX_RESULTS = 64
"""KWS_REC_MAX_RESULTS of kws_recognizer.h: results the C recognizer's queue holds."""


@dataclass(frozen=True)
class RecognizerSettings:
    """The recognizer's four knobs (TFLM RecognizeCommands defaults), defined once.

    The config's [deploy] section (DeployConfig), the Python recognizer (kws.recognizer.RecognizerConfig),
    the protocol's PARAMS block (kws.device.protocol.Params) and the generated kws_settings.h
    (`c_defines`) are all made from these fields.
    """

    average_window_ms: int = 1000
    """Posterior averaging window."""
    suppression_ms: int = 1500
    """Time after a detection during which no new detection (of any label) is reported."""
    minimum_count: int = 3
    """Fewest inferences in the averaging window before any decision."""
    detection_threshold: int = 200
    """Averaged score (0-255) a keyword must exceed (strictly) to be detected."""

    def recognizer_settings(self) -> "RecognizerSettings":
        """Just the four knobs (from a DeployConfig, a RecognizerConfig or protocol Params)."""
        return RecognizerSettings(**{f.name: getattr(self, f.name) for f in dataclasses.fields(RecognizerSettings)})

    def check_recognizer(self, prefix: str = "recognizer ", max_results: int = REC_MAX_RESULTS) -> None:
        """Raise ConfigError where the C recognizer would refuse a value (kws_recognizer_check_config)."""
        for name in ("average_window_ms", "suppression_ms"):
            value = getattr(self, name)
            if not 0 <= value <= REC_MAX_MS:
                raise ConfigError(f"{prefix}{name} must be in 0..{REC_MAX_MS}, got {value}")
        if not 0 <= self.detection_threshold <= 255:
            raise ConfigError(f"{prefix}detection_threshold must be in 0..255, got {self.detection_threshold}")
        if not 0 <= self.minimum_count <= max_results:
            raise ConfigError(f"{prefix}minimum_count must be in 0..{max_results} (the queue size), "
                              f"got {self.minimum_count}")

    def c_defines(self) -> list[tuple[str, str, str]]:
        """(name, value, comment) of the four #defines in the generated kws_settings.h."""
        return [
            ("KWS_AVERAGE_WINDOW_MS", str(self.average_window_ms), "posterior averaging window"),
            ("KWS_DETECTION_THRESHOLD", str(self.detection_threshold), "averaged score 0..255 to detect"),
            ("KWS_SUPPRESSION_MS", str(self.suppression_ms), "no new detection for this long after one"),
            ("KWS_MINIMUM_COUNT", str(self.minimum_count), "fewest results in the window before deciding"),
        ]

    @staticmethod
    def from_c_defines(defines: Mapping[str, str]) -> "RecognizerSettings":
        """The settings a generated kws_settings.h states (KeyError names a missing #define)."""
        return RecognizerSettings(average_window_ms=int(defines["KWS_AVERAGE_WINDOW_MS"]),
                                  suppression_ms=int(defines["KWS_SUPPRESSION_MS"]),
                                  minimum_count=int(defines["KWS_MINIMUM_COUNT"]),
                                  detection_threshold=int(defines["KWS_DETECTION_THRESHOLD"]))


@dataclass(frozen=True)
class DeployConfig(RecognizerSettings):
    """The board and the on-device recognizer (its four settings come from RecognizerSettings)."""

    board: str = "nano33ble"
    """Target board: 'nano33ble' (Arduino Nano 33 BLE Sense) or 'host' (the emulated board)."""
    arena_margin_bytes: int = 1024
    """Bytes added to the measured minimum tensor arena."""

    def validate(self) -> None:
        """Raise ConfigError for a board or recognizer values the firmware cannot use."""
        if self.board not in ("nano33ble", "host"):
            raise ConfigError(f"deploy.board must be 'nano33ble' or 'host', got {self.board!r}")
        if self.arena_margin_bytes < 0:
            raise ConfigError(f"deploy.arena_margin_bytes must not be negative, got {self.arena_margin_bytes}")
        self.check_recognizer("deploy.")


@dataclass(frozen=True)
class KwsConfig:
    """The whole pipeline's configuration; `runs/<name>/config.toml` is this, resolved."""

    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    """Audio features (the spec shared with the device)."""
    data: DataConfig = field(default_factory=DataConfig)
    """Dataset and training recipe."""
    synth: SynthConfig = field(default_factory=SynthConfig)
    """Offline synthetic dataset."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """Network architecture."""
    training: TrainingConfig = field(default_factory=TrainingConfig)
    """Optimiser schedule."""
    quantization: QuantizationConfig = field(default_factory=QuantizationConfig)
    """int8 quantization."""
    pruning: PruningConfig = field(default_factory=PruningConfig)
    """Pruning."""
    deploy: DeployConfig = field(default_factory=DeployConfig)
    """Board and recognizer."""

    def validate(self) -> "KwsConfig":
        """Validate every section; returns self so calls chain."""
        for f in dataclasses.fields(self):
            section = getattr(self, f.name)
            if hasattr(section, "validate"):
                section.validate()
        return self


# ---------------------------------------------------------------------------------------------
# Loading, overriding, writing


def load_config(path: str | os.PathLike[str] | None = None, overrides: typing.Sequence[str] = ()) -> KwsConfig:
    """Defaults, then the TOML file at `path` (if any), then `section.key=value` overrides; validated."""
    layers: list[tuple[Path, Mapping[str, Any]]] = []
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            layers.append((path, tomllib.loads(path.read_text(encoding="utf-8"))))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        except UnicodeDecodeError:
            raise ConfigError(f"config file {path} is not a text file (not UTF-8): pass a TOML config") from None
    return load_config_values(layers, overrides)


def load_config_values(layers: typing.Sequence[tuple[Path, Mapping[str, Any]]],
                       overrides: typing.Sequence[str] = ()) -> KwsConfig:
    """Defaults, then each (source, values) layer in order (later wins), then the overrides; validated.
    Errors name the layer files."""
    values: dict[str, Any] = {}
    for _source, layer in layers:
        values = deep_merge(values, layer)
    for text in overrides:
        values = deep_merge(values, parse_override(text))
    try:
        config = build_dataclass(KwsConfig, values, "")
        config.validate()
    except ConfigError as exc:
        where = f" (in {' + '.join(str(source) for source, _ in layers)})" if layers else ""
        raise ConfigError(f"{exc}{where}") from None
    return config


def config_to_toml(config: KwsConfig) -> str:
    """The resolved config as TOML text; load_config() of it gives the same config back."""
    return tomli_w.dumps(config_to_dict(config))


def write_resolved_config(config: KwsConfig, run_dir: str | os.PathLike[str]) -> Path:
    """Write `run_dir/config.toml` atomically and return its path."""
    from kws.fsutil import atomic_write_text  # local import keeps this module dependency-light

    target = Path(run_dir) / "config.toml"
    text = config_to_toml(config)
    # Leave an identical file untouched: its mtime is what Make's file targets compare.
    if not (target.exists() and target.read_text(encoding="utf-8") == text):
        atomic_write_text(target, text)
    return target


def replace(config: Any, **changes: Any) -> Any:
    """dataclasses.replace, re-exported so callers need not import dataclasses for frozen edits."""
    return dataclasses.replace(config, **changes)


__all__ = [
    "BACKGROUND_NOISE_DIR", "ConfigError", "DataConfig", "DeployConfig", "FrontendConfig", "KwsConfig",
    "ModelConfig", "PruningConfig", "QuantizationConfig", "REC_MAX_MS", "REC_MAX_RESULTS",
    "RecognizerSettings", "SILENCE_LABEL", "SPEECH_COMMANDS_WORDS_V1",
    "SPEECH_COMMANDS_WORDS_V2", "SynthConfig", "TrainingConfig", "UNKNOWN_LABEL", "config_to_dict",
    "config_to_toml", "load_config", "load_config_values", "parse_override", "replace", "write_resolved_config",
]

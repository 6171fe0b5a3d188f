"""The [model], [training], [quantization] and [pruning] sections: the network and how it is made.

`ModelConfig`, `TrainingConfig`, `QuantizationConfig` and `PruningConfig` (one docstring per field).
kws.config assembles them into `KwsConfig` and re-exports every name here. No side effects at import; no torch
(model names come from the light kws.model_names).
"""

from __future__ import annotations

from dataclasses import dataclass

from kws.model_names import MODEL_NAMES
from kws.typed_toml import ConfigError


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
    validation_copies: int = 0
    """0: validate on the clean validation clips (the recipe). N > 0: on N copies of each, every copy through the
    training augmentations (noise, rooms, microphones, level, speed, shift; drawn from data.seed, so the same on
    every run), so the kept checkpoint is the one that holds up under them rather than on clean speech."""
    ema_decay: float = 0.0
    """Exponential moving average of the weights (0 = off; e.g. 0.995 averages over ~200 steps): validation,
    the best checkpoint and so every later stage use the averaged weights, which land in a flatter minimum
    and hold up better on data unlike the training set (weight averaging for domain generalisation)."""
    mixup_alpha: float = 0.0
    """Mixup (Zhang et al. 2018; 0 = off; e.g. 0.2): each training batch is mixed with a shuffled copy of itself,
    features and targets alike, with a weight drawn from Beta(alpha, alpha) per batch; smoother decision
    boundaries between the training voices. Not with a teacher (its soft targets would need mixing too)."""
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
        # Closed ranges [low, high]; label_smoothing and ema_decay must stay below 1 (1 would erase the targets or
        # freeze the average), written as their own checks below.
        for name, low, high in (("distill_weight", 0, 1), ("validation_copies", 0, 16), ("mixup_alpha", 0, 10)):
            if not low <= getattr(self, name) <= high:
                raise ConfigError(f"training.{name} must be in [{low}, {high}], got {getattr(self, name)}")
        for name in ("label_smoothing", "ema_decay"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"training.{name} must be in [0, 1), got {getattr(self, name)}")
        if self.mixup_alpha and self.teacher:
            raise ConfigError("training.mixup_alpha and training.teacher cannot be combined: set mixup_alpha = 0 "
                              "to distil, or teacher = \"\" to mix")
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


__all__ = ["ModelConfig", "PruningConfig", "QuantizationConfig", "TrainingConfig"]

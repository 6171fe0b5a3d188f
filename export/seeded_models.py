"""Untrained models with seeded weights, built straight in TensorFlow and converted by the export stage's own
converter: what the device tests (tests/tiny_export.py), the compiler's model tests (tests/compile_models.py)
and the board benchmark (tools/bench_models.py) build, from one place. Never used by a training run.

    from export.seeded_models import convert_module, noise_and_tone_features, tiny_conv_module
    module = tiny_conv_module(config, seed=4, filters=8)             # a tf.Module: features -> {"scores"}
    tflite = convert_module(module, config, folder / "tiny_conv", noise_and_tone_features(config, seed=4))

tiny_conv is TensorFlow's (10x8 conv, stride 2, SAME, ReLU, FC to the labels, softmax); DS-CNN the README's
(10x4 stride-2 conv, four depthwise-separable blocks, average pool, FC; batch norm folded into the convs).
Accuracy means nothing here; the draws are fixed per seed, so the same seed gives the same flatbuffer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kws.config import KwsConfig


def _tf() -> Any:
    from export.tfenv import import_tensorflow

    return import_tensorflow()


def noise_and_tone_features(config: KwsConfig, clips: int = 16, seed: int = 3) -> np.ndarray:
    """Float features [clips, frames, features] of noise bursts and tones at several levels, for calibration
    when there is no data (the quantization ranges then cover quiet to loud input)."""
    from kws.frontend import dequantize_features, reference_features_int8

    cfg = config.frontend
    rng = np.random.default_rng(seed)
    t = np.arange(cfg.clip_samples) / cfg.sample_rate
    out = []
    for i in range(clips):
        level = 10 ** rng.uniform(-3.5, -0.5)
        audio = level * rng.standard_normal(cfg.clip_samples)
        if i % 2:
            audio += level * np.sin(2 * np.pi * rng.uniform(150, 3000) * t)
        envelope = np.clip(np.sin(np.pi * (t - rng.uniform(0, 0.4)) / rng.uniform(0.3, 0.8)), 0.05, 1.0)
        pcm = np.clip(audio * envelope * 32767, -32768, 32767).astype(np.int16)
        out.append(dequantize_features(reference_features_int8(pcm, cfg), cfg).astype(np.float32))
    return np.stack(out)


def seeded_weights(rng: np.random.Generator, shape: tuple[int, ...], gain: float = 1.0,
                   axis: int = -1) -> np.ndarray:
    """Seeded normals scaled by 1/sqrt(fan-in), per-channel magnitudes (along `axis`) spread over a decade, so
    per-channel quantization scales really differ."""
    w = rng.normal(0.0, 1.0, shape)
    axis %= len(shape)
    spread = (10 ** rng.uniform(-1, 0, shape[axis])).reshape([shape[axis] if d == axis else 1
                                                               for d in range(len(shape))])
    fan_in = np.prod([s for d, s in enumerate(shape) if d not in (len(shape) - 1, axis)] or [1])
    return (w * spread / np.sqrt(fan_in) * gain).astype(np.float32)


def tiny_conv_module(config: KwsConfig, *, seed: int = 4, filters: int = 8, kernel_std: float = 0.15,
                     fc_std: float = 0.03, fc_bias: float | Sequence[float] = 0.3, depthwise: bool = False) -> Any:
    """tiny_conv on the config's frontend and labels. fc_bias: the standard deviation of seeded output biases,
    or the biases themselves. depthwise=True writes the first layer as the depthwise convolution with multiplier
    `filters` that TFLite made of it in TFLM's shipped micro_speech model (1 input channel)."""
    tf = _tf()
    cfg = config.frontend
    frames, feats, labels = cfg.num_frames, cfg.num_features, len(config.data.labels())
    rng = np.random.default_rng(seed)
    oh, ow = -(-frames // 2), -(-feats // 2)
    kernel = rng.normal(0, kernel_std, (10, 8, 1, filters)).astype(np.float32)
    conv_b = rng.normal(0, 0.1, filters).astype(np.float32)
    fc = rng.normal(0, fc_std, (oh * ow * filters, labels)).astype(np.float32)
    if isinstance(fc_bias, (int, float)):
        fc_b = rng.normal(0, fc_bias, labels).astype(np.float32)
    else:
        fc_b = np.asarray(fc_bias, dtype=np.float32)
        if fc_b.shape != (labels,):
            raise ValueError(f"fc_bias has {fc_b.shape} values; the model has {labels} labels")

    class TinyConv(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.kernel, self.conv_b = tf.Variable(kernel), tf.Variable(conv_b)
            self.fc, self.fc_b = tf.Variable(fc), tf.Variable(fc_b)

        @tf.function(input_signature=[tf.TensorSpec([1, frames, feats], tf.float32, name="features")])
        def __call__(self, features):
            x = tf.reshape(features, [1, frames, feats, 1])
            if depthwise:
                x = tf.nn.depthwise_conv2d(x, self.kernel, [1, 2, 2, 1], "SAME")
            else:
                x = tf.nn.conv2d(x, self.kernel, 2, "SAME")
            x = tf.reshape(tf.nn.relu(x + self.conv_b), [1, -1])  # H, W, C order, as the PyTorch export flattens
            return {"scores": tf.nn.softmax(tf.matmul(x, self.fc) + self.fc_b)}

    return TinyConv()


def ds_cnn_module(config: KwsConfig, *, seed: int = 5, width: int = 64, fc_bias_std: float = 0.3,
                  labels: int | None = None) -> Any:
    """The README's DS-CNN on the config's frontend (`width` channels throughout); `labels` outputs (None: the
    config's labels)."""
    tf = _tf()
    cfg = config.frontend
    frames, feats = cfg.num_frames, cfg.num_features
    labels = len(config.data.labels()) if labels is None else labels
    rng = np.random.default_rng(seed)
    oh, ow = -(-frames // 2), -(-feats // 2)

    def var(shape: tuple[int, ...], axis: int = -1) -> Any:
        return tf.Variable(seeded_weights(rng, shape, 2.0, axis))

    def bias(n: int, std: float = 0.2) -> Any:
        return tf.Variable(rng.normal(0, std, n).astype(np.float32))

    class DSCNN(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.conv_b = var((10, 4, 1, width)), bias(width)
            self.dw = [var((3, 3, width, 1), axis=2) for _ in range(4)]
            self.dw_b = [bias(width) for _ in range(4)]
            self.pw = [var((1, 1, width, width)) for _ in range(4)]
            self.pw_b = [bias(width) for _ in range(4)]
            self.fc, self.fc_b = var((width, labels)), bias(labels, fc_bias_std)

        @tf.function(input_signature=[tf.TensorSpec([1, frames, feats], tf.float32, name="features")])
        def __call__(self, features):
            x = tf.reshape(features, [1, frames, feats, 1])
            x = tf.nn.relu(tf.nn.conv2d(x, self.conv, 2, "SAME") + self.conv_b)
            for i in range(4):
                x = tf.nn.relu(tf.nn.depthwise_conv2d(x, self.dw[i], [1, 1, 1, 1], "SAME") + self.dw_b[i])
                x = tf.nn.relu(tf.nn.conv2d(x, self.pw[i], 1, "SAME") + self.pw_b[i])
            x = tf.reshape(tf.nn.avg_pool2d(x, [oh, ow], [oh, ow], "VALID"), [1, width])
            return {"scores": tf.nn.softmax(tf.matmul(x, self.fc) + self.fc_b)}

    return DSCNN()


def save_module(module: Any, folder: Path) -> Path:
    """The module as a SavedModel in `folder` (its serving signature is __call__); returns folder."""
    _tf().saved_model.save(module, str(folder), signatures={"serving_default": module.__call__})
    return Path(folder)


def convert_module(module: Any, config: KwsConfig, folder: Path, calibration: np.ndarray) -> bytes:
    """The module saved to `folder` and converted to a full-int8 TFLite flatbuffer by the export stage
    (input pinned to the frontend's int8 quantization), calibrated on `calibration`."""
    from export.tf_convert import convert_int8

    return convert_int8(save_module(module, folder), calibration, config.frontend).model


__all__ = ["convert_module", "ds_cnn_module", "noise_and_tone_features", "save_module", "seeded_weights",
           "tiny_conv_module"]

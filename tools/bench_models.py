"""Untrained models for the board benchmark (tools/bench_board.py): seeded weights, the TFLite converter, and the
files the M4 board's firmware is built from. TensorFlow (export.tfenv); a tool, never imported by `kws`.

    from bench_models import tiny_conv, ds_cnn, mlperf_ds_cnn, board_files
    model = tiny_conv(folder)                          # BenchModel: name, int8 flatbuffer, config, note
    files = board_files(model, folder)                 # settings, frontend tables, `kws compile` output

tiny_conv is TensorFlow's (10x8 conv, 8 filters, stride 2, SAME, ReLU, FC to 4 labels, softmax) on the default
log-mel frontend; DS-CNN the README's (64 channels, 10x4 stride-2 conv, four depthwise-separable blocks, average
pool, FC to 12 labels) on log-mel features. Both go through the export stage's converter (input pinned to the
frontend's int8), calibrated on synthetic noise-and-tone features. The MLPerf Tiny DS-CNN (../shared/models)
is taken as it is, on the device MFCC frontend quantized to its input (scale 0.5847, zero point 83).
Accuracy means nothing here: sizes and instruction counts do not depend on the weights' values.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kws.config import KwsConfig, load_config

SHARED = Path(__file__).resolve().parents[2] / "shared"
MLPERF_MODEL = SHARED / "models" / "mlperf_tiny_kws_ref_model.tflite"
TEN_WORDS = '["yes","no","up","down","left","right","on","off","stop","go"]'
"""The twelve-label task (with _silence_ and _unknown_) of DS-CNN and MLPerf Tiny."""


@dataclass(frozen=True)
class BenchModel:
    name: str
    tflite: bytes
    config: KwsConfig
    """Frontend (features the model reads), labels and recognizer defaults of its firmware."""
    note: str


def _tf() -> Any:
    from export.tfenv import import_tensorflow

    return import_tensorflow()


def calibration(config: KwsConfig, clips: int = 16, seed: int = 3) -> np.ndarray:
    """Float features [clips, frames, features] of noise bursts and tones at several levels (no data needed)."""
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


def _convert(module: Any, config: KwsConfig, folder: Path, name: str, seed: int) -> bytes:
    from export.tf_convert import convert_int8

    tf = _tf()
    saved = Path(folder) / f"{name}_saved_model"
    tf.saved_model.save(module, str(saved), signatures={"serving_default": module.__call__})
    return convert_int8(saved, calibration(config, seed=seed), config.frontend).model


def tiny_conv(folder: Path, seed: int = 4, filters: int = 8) -> BenchModel:
    """TensorFlow's tiny_conv with seeded weights (labels _silence_, _unknown_, yes, no; log-mel 49 x 40)."""
    tf = _tf()
    config = load_config(None, [])
    cfg = config.frontend
    frames, feats, labels = cfg.num_frames, cfg.num_features, len(config.data.labels())
    rng = np.random.default_rng(seed)
    oh, ow = -(-frames // 2), -(-feats // 2)
    kernel = rng.normal(0, 0.15, (10, 8, 1, filters)).astype(np.float32)
    conv_b = rng.normal(0, 0.1, filters).astype(np.float32)
    fc = rng.normal(0, 0.03, (oh * ow * filters, labels)).astype(np.float32)
    fc_b = rng.normal(0, 0.3, labels).astype(np.float32)

    class Tiny(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.kernel, self.conv_b = tf.Variable(kernel), tf.Variable(conv_b)
            self.fc, self.fc_b = tf.Variable(fc), tf.Variable(fc_b)

        @tf.function(input_signature=[tf.TensorSpec([1, frames, feats], tf.float32, name="features")])
        def __call__(self, features):
            x = tf.reshape(features, [1, frames, feats, 1])
            x = tf.nn.relu(tf.nn.conv2d(x, self.kernel, 2, "SAME") + self.conv_b)
            x = tf.reshape(x, [1, -1])  # H, W, C order, as the PyTorch export flattens
            return {"scores": tf.nn.softmax(tf.matmul(x, self.fc) + self.fc_b)}

    model = _convert(Tiny(), config, folder, "tiny_conv", seed)
    return BenchModel("tiny_conv", model, config, f"{filters} filters, seeded (seed {seed}), log-mel 49x40")


def _weights(rng: np.random.Generator, shape: tuple[int, ...], gain: float, axis: int = -1) -> np.ndarray:
    """Seeded normals, per-channel magnitudes spread over a decade (per-channel scales really differ)."""
    w = rng.normal(0.0, 1.0, shape)
    axis %= len(shape)
    spread = (10 ** rng.uniform(-1, 0, shape[axis])).reshape([shape[axis] if d == axis else 1
                                                               for d in range(len(shape))])
    fan_in = np.prod([s for d, s in enumerate(shape) if d not in (len(shape) - 1, axis)] or [1])
    return (w * spread / np.sqrt(fan_in) * gain).astype(np.float32)


def ds_cnn(folder: Path, seed: int = 5, width: int = 64) -> BenchModel:
    """The README's DS-CNN with seeded weights (batch norm folded), twelve labels, log-mel 49 x 40."""
    tf = _tf()
    config = load_config(None, [f"data.wanted_words={TEN_WORDS}"])
    cfg = config.frontend
    frames, feats, labels = cfg.num_frames, cfg.num_features, len(config.data.labels())
    rng = np.random.default_rng(seed)
    oh, ow = -(-frames // 2), -(-feats // 2)

    def var(shape: tuple[int, ...], axis: int = -1) -> Any:
        return tf.Variable(_weights(rng, shape, 2.0, axis))

    def bias(n: int) -> Any:
        return tf.Variable(rng.normal(0, 0.2, n).astype(np.float32))

    class DSCNN(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.conv_b = var((10, 4, 1, width)), bias(width)
            self.dw = [var((3, 3, width, 1), axis=2) for _ in range(4)]
            self.dw_b = [bias(width) for _ in range(4)]
            self.pw = [var((1, 1, width, width)) for _ in range(4)]
            self.pw_b = [bias(width) for _ in range(4)]
            self.fc, self.fc_b = var((width, labels)), bias(labels)

        @tf.function(input_signature=[tf.TensorSpec([1, frames, feats], tf.float32, name="features")])
        def __call__(self, features):
            x = tf.reshape(features, [1, frames, feats, 1])
            x = tf.nn.relu(tf.nn.conv2d(x, self.conv, 2, "SAME") + self.conv_b)
            for i in range(4):
                x = tf.nn.relu(tf.nn.depthwise_conv2d(x, self.dw[i], [1, 1, 1, 1], "SAME") + self.dw_b[i])
                x = tf.nn.relu(tf.nn.conv2d(x, self.pw[i], 1, "SAME") + self.pw_b[i])
            x = tf.reshape(tf.nn.avg_pool2d(x, [oh, ow], [oh, ow], "VALID"), [1, width])
            return {"scores": tf.nn.softmax(tf.matmul(x, self.fc) + self.fc_b)}

    model = _convert(DSCNN(), config, folder, "ds_cnn", seed)
    return BenchModel("ds_cnn", model, config, f"width {width}, seeded (seed {seed}), log-mel 49x40")


def mlperf_ds_cnn(path: Path = MLPERF_MODEL) -> BenchModel | None:
    """The MLPerf Tiny reference DS-CNN as published (None when the file is absent), on the device MFCC frontend
    (49 x 10) quantized to the model's own input scale and zero point."""
    if not path.is_file():
        return None
    from kws.compile.tflite_reader import read_tflite

    raw = path.read_bytes()
    graph = read_tflite(raw)
    q = graph.tensors[graph.inputs[0]].quantization
    config = load_config(None, [f"data.wanted_words={TEN_WORDS}", 'frontend.feature_type="mfcc"',
                                f"frontend.mfcc_quant_scale={float(q.scale[0])!r}",
                                f"frontend.mfcc_quant_zero_point={int(q.zero_point[0])}"])
    return BenchModel("mlperf_ds_cnn", raw, config, f"{path.name} (trained), device MFCC 49x10")


@dataclass(frozen=True)
class BoardFiles:
    """What kws.device.m4.build_board_elf(backend="aot") builds a model's firmware from."""

    settings_dir: Path
    """kws_settings.h and kws_frontend_tables.h, as `kws export` writes them."""
    aot_dir: Path
    """kws_model_aot.c/.h, as `kws compile` writes them."""
    macs: int


def board_files(model: BenchModel, folder: Path) -> BoardFiles:
    """The model's firmware files under folder/<name>/: settings, frontend tables, the compiled model."""
    from kws.compile import compile_tflite
    from kws.compile.tflite_reader import read_tflite
    from kws.device.settings_header import SETTINGS_HEADER, DeviceSettings, render_settings
    from kws.frontend_tables import HEADER_NAME, render_header

    folder = Path(folder) / model.name
    tflite = folder / "model_int8.tflite"
    folder.mkdir(parents=True, exist_ok=True)
    tflite.write_bytes(model.tflite)
    aot = folder / "aot"
    result = compile_tflite(tflite, aot)
    graph = read_tflite(model.tflite)
    qin = graph.tensors[graph.inputs[0]].quantization
    qout = graph.tensors[graph.outputs[0]].quantization
    cfg = model.config.frontend
    settings = DeviceSettings(
        model_name=model.name, source="seeded" if model.name != "mlperf_ds_cnn" else "mlperf",
        sha256=hashlib.sha256(model.tflite).hexdigest(), frames=cfg.num_frames, features=cfg.num_features,
        input_scale=float(qin.scale[0]), input_zero_point=int(qin.zero_point[0]), output_scale=float(qout.scale[0]),
        output_zero_point=int(qout.zero_point[0]), labels=tuple(model.config.data.labels()),
        arena_measured=result.arena_bytes, arena_margin=0, arena_size=result.arena_bytes, op_names=(),
        resolver_methods=(), board="mps2-an386")
    generated = folder / "generated"
    generated.mkdir(exist_ok=True)
    (generated / SETTINGS_HEADER).write_text(render_settings(model.config, settings, "tools/bench_board.py"))
    (generated / HEADER_NAME).write_text(render_header(cfg))
    return BoardFiles(generated, aot, result.macs)


__all__ = ["BenchModel", "BoardFiles", "MLPERF_MODEL", "board_files", "calibration", "ds_cnn", "mlperf_ds_cnn",
           "tiny_conv"]

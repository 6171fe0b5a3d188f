"""Untrained models for the board benchmark (tools/bench_board.py): seeded weights, the TFLite converter, and the
files the M4 board's firmware is built from (the graphs: export.seeded_models). TensorFlow; a tool, never
imported by `kws`.

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


def tiny_conv(folder: Path, seed: int = 4, filters: int = 8) -> BenchModel:
    """TensorFlow's tiny_conv with seeded weights (labels _silence_, _unknown_, yes, no; log-mel 49 x 40)."""
    from export.seeded_models import convert_module, noise_and_tone_features, tiny_conv_module

    config = load_config(None, [])
    model = convert_module(tiny_conv_module(config, seed=seed, filters=filters), config,
                           Path(folder) / "tiny_conv_saved_model", noise_and_tone_features(config, seed=seed))
    return BenchModel("tiny_conv", model, config, f"{filters} filters, seeded (seed {seed}), log-mel 49x40")


def ds_cnn(folder: Path, seed: int = 5, width: int = 64) -> BenchModel:
    """The README's DS-CNN with seeded weights (batch norm folded), twelve labels, log-mel 49 x 40."""
    from export.seeded_models import convert_module, ds_cnn_module, noise_and_tone_features

    config = load_config(None, [f"data.wanted_words={TEN_WORDS}"])
    model = convert_module(ds_cnn_module(config, seed=seed, width=width, fc_bias_std=0.2), config,
                           Path(folder) / "ds_cnn_saved_model", noise_and_tone_features(config, seed=seed))
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


__all__ = ["BenchModel", "BoardFiles", "MLPERF_MODEL", "board_files", "ds_cnn", "mlperf_ds_cnn", "tiny_conv"]

"""The compiler's parts: flatbuffer reader, TFLM quantization arithmetic, planner, errors, generated files, CLI.

Fast: the MLPerf Tiny model (../shared/models) is the fixture model; TensorFlow is used only to make the
unsupported-op and float models.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO_ROOT, fail_or_skip

MLPERF_MODEL = REPO_ROOT.parent / "shared" / "models" / "mlperf_tiny_kws_ref_model.tflite"


@pytest.fixture(scope="module")
def mlperf_model():
    if not MLPERF_MODEL.exists():
        fail_or_skip(f"{MLPERF_MODEL} is absent (../shared/models)")
    return MLPERF_MODEL


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    from kws.compile.host_runner import kernel_library
    from kws.device.cbuild import CBuildError

    try:
        lib = ctypes.CDLL(str(kernel_library(tmp_path_factory.mktemp("kernels"))))
    except CBuildError as exc:
        fail_or_skip(str(exc))
    lib.kws_requantize.argtypes = [ctypes.c_int32, ctypes.c_int32, ctypes.c_int32]
    lib.kws_requantize.restype = ctypes.c_int32
    return lib


# ------------------------------------------------------------------------------------------ quantization

def test_quantize_multiplier_matches_tflite_definition():
    from kws.compile.quant import quantize_multiplier

    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(1.0) == (1 << 30, 1)
    assert quantize_multiplier(2.0 ** -40) == (0, 0)          # flushed below 2^-31, as TFLM does
    m, s = quantize_multiplier(0.0123)
    assert 1 << 30 <= m < 1 << 31 and abs(m * 2.0 ** (s - 31) - 0.0123) < 1e-11
    # A fraction that rounds up to 2^31 moves to the next exponent.
    m, s = quantize_multiplier(1.0 - 2.0 ** -40)
    assert (m, s) == (1 << 30, 1)


def test_activation_range_rounds_in_float32_half_away():
    from kws.compile.quant import ACT_NONE, ACT_RELU, ACT_RELU6, activation_range

    assert activation_range(ACT_NONE, 0.1, 5) == (-128, 127)
    assert activation_range(ACT_RELU, 0.1, -7) == (-7, 127)
    assert activation_range(ACT_RELU6, 6.0 / 255, -128) == (-128, 127)
    assert activation_range(ACT_RELU6, 0.048, -128) == (-128, -3)   # 6/0.048 = 125 -> -3
    with pytest.raises(ValueError, match="TANH"):
        activation_range(4, 0.1, 0)


def test_python_and_c_requantization_agree_on_ties_and_extremes(kernels):
    """The C kernels' MultiplyByQuantizedMultiplier equals the Python twin (gemmlowp's definition)."""
    from kws.compile.quant import mbqm

    rng = np.random.default_rng(0)
    cases = [(x, m, s) for x in (0, 1, -1, 2**31 - 1, -2**31, 2**30, -2**30, 3 << 20, -(3 << 20))
             for m in (1 << 30, (1 << 31) - 1, 1518500250) for s in (-31, -12, -1, 0, 1, 4)]
    for _ in range(3000):
        s = int(rng.integers(-20, 3))
        m = int(rng.integers(1 << 30, 1 << 31))
        x = int(rng.integers(-(1 << 20), 1 << 20)) if s > 0 else int(rng.integers(-2**31, 2**31))
        cases.append((x, m, s))
    # Exact ties of the second rounding: x * m / 2^31 == (k + 1/2) * 2^-s.
    for k in range(-50, 50):
        cases.append(((2 * k + 1) << 3, 1 << 30, -3))
    for x, m, s in cases:
        assert kernels.kws_requantize(x, m, s) == mbqm(x, m, s), (x, m, s)


def test_mean_multiplier_folds_count_like_the_kernel():
    from kws.compile.quant import mean_multiplier, quantize_multiplier

    m0, s0 = quantize_multiplier(float(np.float32(0.08)) / float(np.float32(0.07)))
    m, s = mean_multiplier(0.08, 0.07, 125)
    assert s == s0 - 6 and m == (m0 << 6) // 125


# ------------------------------------------------------------------------------------------- reader

def test_reader_decodes_the_mlperf_model(mlperf_model):
    from kws.compile.tflite_reader import read_tflite

    model = read_tflite(mlperf_model.read_bytes())
    assert [op.opcode for op in model.operators] == (["CONV_2D"] + ["DEPTHWISE_CONV_2D", "CONV_2D"] * 4 +
                                                     ["AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"])
    first = model.operators[0]
    assert first.options["stride_h"] == 2 and first.options["activation"] == 1
    weights = model.tensors[first.inputs[1]]
    assert weights.shape == (64, 10, 4, 1) and weights.data.dtype == np.int8
    assert len(weights.quantization.scale) == 64


def test_reader_rejects_other_files(tmp_path):
    from kws.compile import CompileError, compile_tflite
    from kws.compile.tflite_reader import TfliteFormatError, read_tflite

    with pytest.raises(TfliteFormatError, match="not a TFLite flatbuffer"):
        read_tflite(b"\x00" * 64, "x.bin")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x10\x00\x00\x00TFL3" + b"\xff" * 8)
    with pytest.raises(TfliteFormatError, match="bad.tflite"):
        compile_tflite(bad, tmp_path / "out")
    with pytest.raises(CompileError, match="cannot read"):
        compile_tflite(tmp_path / "missing.tflite", tmp_path / "out")


# ------------------------------------------------------------------------------------------ errors

def test_unsupported_op_is_named(tmp_path):
    from compile_models import convert, tf

    from kws.compile import CompileError, compile_tflite

    model = tmp_path / "tanh.tflite"
    model.write_bytes(convert(lambda x: tf().nn.tanh(x), (1, 8), (-1.0, 1.0)))
    with pytest.raises(CompileError, match=r"operator 0 TANH \(output '.*'\): operator TANH is not supported"):
        compile_tflite(model, tmp_path / "out")


def test_float_model_names_the_tensor(tmp_path):
    from compile_models import tf

    from kws.compile import CompileError, compile_tflite

    t = tf()
    w = t.constant(np.ones((4, 3), np.float32))
    function = t.function(lambda x: t.matmul(x, w))
    converter = t.lite.TFLiteConverter.from_concrete_functions(
        [function.get_concrete_function(t.TensorSpec((1, 4), t.float32))], function)
    model = tmp_path / "float.tflite"
    model.write_bytes(converter.convert())
    with pytest.raises(CompileError, match=r"FULLY_CONNECTED .*input tensor '.*' is FLOAT32, a float tensor"):
        compile_tflite(model, tmp_path / "out")


def test_bad_name_is_refused(mlperf_model, tmp_path):
    from kws.compile import CompileError, compile_tflite

    with pytest.raises(CompileError, match="not a C identifier"):
        compile_tflite(mlperf_model, tmp_path, name="my-model")


# ------------------------------------------------------------------------------- plan and generated files

def test_plan_and_header_figures(mlperf_model, tmp_path):
    from kws.compile import compile_tflite

    result = compile_tflite(mlperf_model, tmp_path)
    assert result.macs == 2_656_768 == sum(layer.macs for layer in result.layers)
    assert (result.input_bytes, result.output_bytes) == (490, 12)
    # Greedy (TFLM's planner) needs two 25x5x64 maps; overlapping a layer's output with its dying input
    # saves a third of it. Model input and output live in the caller's buffers.
    assert result.greedy_arena_bytes == 16_000
    assert result.arena_bytes <= 8_640  # one 25x5x64 map plus two rows: outputs alternate below/above inputs
    header = result.header.read_text()
    macros = dict(re.findall(r"#define (KWS_MODEL_AOT_\w+) (\S+)", header))
    assert macros["KWS_MODEL_AOT_ARENA_BYTES_PORTABLE"] == str(result.arena_bytes)
    assert macros["KWS_MODEL_AOT_MACS"] == "2656768u"
    assert "512000" in header  # per-layer MAC table
    text = result.source.read_text()
    assert "malloc" not in text and "tflite" not in text.split("*/", 1)[1].lower()


def test_overlap_distances_of_a_3x3_same_convolution():
    from kws.compile.graph import Layer
    from kws.compile.planner import overlap_distance

    p = dict(batches=1, in_h=25, in_w=5, in_c=64, out_h=25, out_w=5, out_c=64, k_h=3, k_w=3, stride_h=1,
             stride_w=1, dil_h=1, dil_w=1, pad_h=1, pad_w=1)
    # Going forward output row y may land on input rows < y - 1; going backward on rows > y + 1: two rows.
    assert overlap_distance(Layer("depthwise", 0, "DEPTHWISE_CONV_2D", [0], 1, p), 8000, 8000) == (640, 640)
    pointwise = dict(p, k_h=1, k_w=1, pad_h=0, pad_w=0)
    assert overlap_distance(Layer("conv", 0, "CONV_2D", [0], 1, pointwise), 8000, 8000) == (320, 320)
    assert overlap_distance(Layer("fc", 0, "FULLY_CONNECTED", [0], 1, {}), 64, 12) == (None, None)
    assert overlap_distance(Layer("softmax", 0, "SOFTMAX", [0], 1, {}), 12, 12) == (0, None)


def test_planner_alternates_directions_and_marks_reversed_layers(mlperf_model, tmp_path):
    from kws.compile.graph import lower
    from kws.compile.planner import plan_memory
    from kws.compile.tflite_reader import read_tflite

    graph = lower(read_tflite(mlperf_model.read_bytes()))
    plan = plan_memory(graph, {1: 64})
    conv_like = {i for i, layer in enumerate(graph.layers) if layer.kind in ("conv", "depthwise")}
    assert plan.reverse and set(plan.reverse) <= conv_like
    for i in plan.reverse:  # a reversed layer's output starts above its input
        layer = graph.layers[i]
        assert plan.storage[layer.output][1] > plan.storage[layer.inputs[0]][1]
    # The scratch buffer of layer 1 overlaps no tensor alive at layer 1.
    start = plan.scratch[1]
    for t in (graph.layers[1].inputs[0], graph.layers[1].output):
        kind, offset = plan.storage[t]
        size = graph.tensors[t].size
        assert kind != "arena" or start >= offset + size or start + 64 <= offset


def test_unchanged_output_keeps_timestamps(mlperf_model, tmp_path):
    from kws.compile import compile_tflite

    first = compile_tflite(mlperf_model, tmp_path)
    stamp = first.source.stat().st_mtime_ns
    compile_tflite(mlperf_model, tmp_path)
    assert first.source.stat().st_mtime_ns == stamp


def test_hal_hook_fits_the_model_backend_interface(mlperf_model, tmp_path):
    """<name>_hal_invoke has exactly kws_hal's model_invoke type (a mismatch is a -Werror failure)."""
    from kws.compile import compile_tflite
    from kws.compile.host_runner import KERNELS_DIR, kernel_sources
    from kws.device.cbuild import WARNING_FLAGS, compiler

    result = compile_tflite(mlperf_model, tmp_path / "gen")
    driver = tmp_path / "hal_driver.c"
    driver.write_text('#include "kws_hal.h"\n#include "kws_model_aot.h"\n'
                      "int main(void) {\n    static int8_t in[KWS_MODEL_AOT_INPUT_BYTES], out[12];\n"
                      "    kws_hal hal = {0, 0, 0, 0, 0, 0, 0};\n    hal.model_invoke = kws_model_hal_invoke;\n"
                      "    if (hal.model_invoke(0, in, 3, out, 12) != -1) return 1;\n"
                      "    return hal.model_invoke(0, in, sizeof in, out, sizeof out);\n}\n")
    exe = tmp_path / "hal"
    build = subprocess.run([compiler(), *WARNING_FLAGS, "-O1", f"-I{REPO_ROOT / 'firmware' / 'core'}",
                            f"-I{KERNELS_DIR}", f"-I{tmp_path / 'gen'}", str(driver), str(result.source),
                            *map(str, kernel_sources()), "-o", str(exe)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    assert subprocess.run([str(exe)]).returncode == 0


# ----------------------------------------------------------------------------------------- CLI, imports

def test_cli_register_and_json(mlperf_model, tmp_path, capsys):
    from kws.compile import register

    parser = argparse.ArgumentParser(prog="kws")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["compile", str(mlperf_model), "--out", str(tmp_path), "--json"])
    assert args.handler(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["macs"] == 2_656_768 and (tmp_path / "kws_model_aot.c").exists()
    args = parser.parse_args(["compile", str(mlperf_model), "--out", str(tmp_path), "--name", "kws_ref"])
    assert args.handler(args) == 0
    assert "activation buffer" in capsys.readouterr().out and (tmp_path / "kws_ref_aot.h").exists()


def test_compiler_never_imports_tensorflow(mlperf_model, tmp_path):
    code = ("import sys\nfrom kws.compile import compile_tflite\nimport kws.compile.host_runner\n"
            f"compile_tflite({str(mlperf_model)!r}, {str(tmp_path)!r})\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tflite_micro', 'flatbuffers')]\n"
            "assert not bad, bad\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stderr

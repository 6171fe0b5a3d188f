"""Compiled single-op models equal the tflite_micro runtime byte for byte (host build, ASan + UBSan).

Random seeded models of every supported op through the TFLite converter (tests/compile_models.py): shapes,
strides, dilations, SAME/VALID, depth multipliers, per-channel scales, fused activations, extreme zero
points. Inputs are random int8 plus the two extremes (all -128, all 127).
"""

from __future__ import annotations

import numpy as np
import pytest
from compile_models import convert, random_op_models, tf, tflm_outputs
from conftest import fail_or_skip

CASES_PER_KIND = {"conv": 10, "depthwise": 10, "fc": 6, "avgpool": 5, "maxpool": 5, "softmax": 5, "add": 6,
                  "mean": 5, "chain": 12}
SEEDS = {kind: 11 + i for i, kind in enumerate(CASES_PER_KIND)}


@pytest.fixture(scope="module")
def aot_run(tmp_path_factory):
    """Compile flatbuffers, link them into one sanitized executable (ASan + UBSan, cached kernel objects) and
    run each on its inputs: aot_run([(model, inputs), ...]) -> [outputs, ...]."""
    from kws.compile import compile_tflite
    from kws.compile.host_runner import build_programs, run_program
    from kws.device.cbuild import CBuildError, compiler, sanitizer_support

    try:
        ok, reason = sanitizer_support(compiler())
    except CBuildError as exc:
        fail_or_skip(str(exc))
    if not ok:
        fail_or_skip(f"sanitizers unavailable: {reason}")
    root = tmp_path_factory.mktemp("aot_ops")
    build = root / "build"
    counter = iter(range(10**6))

    def run(cases: list[tuple[bytes, np.ndarray]]) -> list[np.ndarray]:
        results = []
        for model, _ in cases:
            n = next(counter)
            folder = root / f"m{n}"
            folder.mkdir()
            (folder / "model.tflite").write_bytes(model)
            results.append(compile_tflite(folder / "model.tflite", folder / "generated", name=f"m{n}"))
        exe = build_programs(results, sanitize=True, build_dir=build)
        return [run_program(r, x, exe=exe, index=i) for i, (r, (_, x)) in enumerate(zip(results, cases))]

    return run


def _inputs(model: bytes, count: int = 12, seed: int = 0) -> np.ndarray:
    from kws.compile.tflite_reader import read_tflite

    raw = read_tflite(model)
    size = int(np.prod(raw.tensors[raw.inputs[0]].shape))
    x = np.random.default_rng(seed).integers(-128, 128, size=(count, size), dtype=np.int8)
    x[0], x[1] = -128, 127
    return x


def _check(aot_run, models: list[tuple[str, bytes]]) -> None:
    inputs = [_inputs(model) for _, model in models]
    outputs = aot_run([(model, x) for (_, model), x in zip(models, inputs)])
    for (name, model), x, got in zip(models, inputs, outputs):
        golden = tflm_outputs(model, x)
        diff = np.argwhere(got != golden)
        assert not len(diff), (f"{name}: {len(diff)} of {golden.size} outputs differ from TFLM, first at "
                               f"{diff[0].tolist()}: {int(got[tuple(diff[0])])} vs {int(golden[tuple(diff[0])])}")


@pytest.mark.parametrize("kind", list(CASES_PER_KIND))
def test_random_single_op_models_are_bit_exact(aot_run, kind):
    _check(aot_run, random_op_models(kind, CASES_PER_KIND[kind], SEEDS[kind]))


def test_tiny_conv_first_layer_depthwise_multiplier_8(aot_run):
    """The TFLM tiny_conv's first layer: 1 input channel, 8 filters 10x8, stride 2 SAME, ReLU, as depthwise."""
    t = tf()
    kernel = t.constant(np.random.default_rng(3).normal(0, 0.1, (10, 8, 1, 8)).astype(np.float32))
    bias = t.constant(np.linspace(-0.2, 0.2, 8, dtype=np.float32))
    model = convert(lambda x: t.nn.relu(t.nn.depthwise_conv2d(x, kernel, [1, 2, 2, 1], "SAME") + bias),
                    (1, 49, 40, 1), (-2.0, 6.0), seed=3)
    _check(aot_run, [("tiny_conv depthwise x8", model)])


def test_per_channel_fully_connected(aot_run):
    t = tf()
    w = t.constant((np.random.default_rng(4).normal(0, 1, (40, 7)) * np.logspace(-1, 0, 7)).astype(np.float32))
    model = convert(lambda x: t.nn.relu(t.matmul(x, w)), (1, 40), (-1.0, 1.0), seed=4, per_channel_dense=True)
    _check(aot_run, [("per-channel FC", model)])


def test_residual_add_and_reshape_chain(aot_run):
    """Two activations into ADD (output may land on an input in place), then RESHAPE, FC and SOFTMAX."""
    t = tf()
    rng = np.random.default_rng(5)
    k = t.constant(rng.normal(0, 0.3, (3, 3, 6, 6)).astype(np.float32))
    w = t.constant(rng.normal(0, 0.3, (5 * 4 * 6, 4)).astype(np.float32))

    def fn(x):
        y = t.nn.relu(t.nn.conv2d(x, k, 1, "SAME"))
        z = t.nn.relu(t.nn.conv2d(y, k, 1, "SAME")) + y
        return t.nn.softmax(t.matmul(t.reshape(z, [1, -1]), w))

    _check(aot_run, [("residual", convert(fn, (1, 5, 4, 6), (-1.0, 2.0), seed=5))])


def test_reshape_only_model_copies_input_to_output(aot_run):
    t = tf()
    model = convert(lambda x: t.reshape(x, [1, 12]), (1, 3, 4), (-1.0, 1.0))
    _check(aot_run, [("reshape only", model)])

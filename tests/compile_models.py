"""Models for the compiler's bit-exactness tests, made with the TFLite converter in seconds (TensorFlow).

    from compile_models import convert, random_op_models, ds_cnn_tflite, tflm_outputs
    model = convert(lambda x: tf.nn.relu(x), (1, 4, 4, 3), (-1.0, 1.0), seed=0)   # full-int8 flatbuffer bytes
    cases = random_op_models("conv", count=6, seed=1)                                # [(id, bytes)]
    y = tflm_outputs(model, x_int8)                                                   # the golden outputs

Random single-op models draw shapes, kernel sizes, strides, dilations, SAME/VALID padding, depth
multipliers, fused activations and the calibration range (a range on one side of zero gives the extreme
zero points -128 and 127). Weights are seeded normals; the converter quantizes per channel. DS-CNN (the
README's shape: 64 channels, 10x4 stride-2 conv, 4 depthwise-separable blocks, average pool, FC) goes through
the export stage's own converter (`export.tf_convert.convert_int8`, input pinned to the frontend's int8).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

import numpy as np

RANGES = ((-1.0, 1.0), (0.05, 4.0), (-4.0, -0.05), (-0.2, 6.0), (-3.0, 0.5))
"""Calibration ranges: symmetric, all positive (zero point -128), all negative (127), skewed."""


@functools.lru_cache(maxsize=1)
def tf() -> Any:
    from export.tfenv import import_tensorflow

    return import_tensorflow()


def convert(fn: Callable, input_shape: tuple[int, ...], value_range: tuple[float, float], seed: int = 0,
            per_channel_dense: bool = False) -> bytes:
    """A full-int8 (int8 in and out) flatbuffer of the float function `fn`, calibrated on uniform data."""
    from export.tfenv import captured_output, quiet_warnings

    t = tf()
    rng = np.random.default_rng(seed)
    lo, hi = value_range

    def representative():
        for _ in range(8):
            yield [rng.uniform(lo, hi, size=input_shape).astype(np.float32)]

    function = t.function(fn)
    concrete = function.get_concrete_function(t.TensorSpec(input_shape, t.float32))
    converter = t.lite.TFLiteConverter.from_concrete_functions([concrete], function)
    converter.optimizations = [t.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [t.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = t.int8
    converter.inference_output_type = t.int8
    if per_channel_dense:
        converter._experimental_disable_per_channel_quantization_for_dense_layers = False
    with quiet_warnings(), captured_output():
        return bytes(converter.convert())


def tflm_outputs(model: bytes, inputs: np.ndarray) -> np.ndarray:
    """Outputs [N, out] of the tflite_micro runtime (TFLM's reference kernels): the golden vectors."""
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model, arena_size=1 << 20)
    shape = tuple(interpreter.get_input_details(0)["shape"])
    out = []
    for x in inputs:
        interpreter.set_input(np.asarray(x, np.int8).reshape(shape), 0)
        interpreter.invoke()
        out.append(np.array(interpreter.get_output(0)).reshape(-1).copy())
    return np.stack(out)


def random_inputs(model: bytes, count: int, seed: int = 0) -> np.ndarray:
    """`count` seeded int8 inputs for the model, the first all -128 and the second all 127 (the extremes)."""
    from kws.compile.tflite_reader import read_tflite

    raw = read_tflite(model)
    size = int(np.prod(raw.tensors[raw.inputs[0]].shape))
    x = np.random.default_rng(seed).integers(-128, 128, size=(count, size), dtype=np.int8)
    x[0], x[1] = -128, 127
    return x


def m4_compiler(root: Path) -> Callable[..., tuple[list[Any], Any]]:
    """compile_and_run(models, inputs, flavour, *, mode, cflag, profile) -> (compile results, run_on_m4's
    outputs): every flatbuffer compiled under a distinct name in root/, all run in one M4 program."""
    from kws.compile import compile_tflite
    from kws.compile.m4_runner import run_on_m4

    counter = iter(range(10**6))

    def compile_and_run(models: list[bytes], inputs: list[np.ndarray], flavour: str, *, mode: str = "balanced",
                        cflag: str = "-O2", profile: bool = False) -> tuple[list[Any], Any]:
        results = []
        for model in models:
            n = next(counter)
            folder = root / f"m{n}"
            folder.mkdir()
            (folder / "model.tflite").write_bytes(model)
            results.append(compile_tflite(folder / "model.tflite", folder / "generated", name=f"m{n}",
                                          optimize=mode))
        return results, run_on_m4(results, inputs, portable=flavour == "portable", profile=profile,
                                  build_dir=root / f"build{cflag}", optimize=cflag)

    return compile_and_run


def input_shape(model: bytes) -> tuple[int, ...]:
    from kws.compile.tflite_reader import read_tflite

    raw = read_tflite(model)
    return raw.tensors[raw.inputs[0]].shape


def _weights(rng: np.random.Generator, shape: tuple[int, ...], per_channel_axis: int = -1) -> np.ndarray:
    from export.seeded_models import seeded_weights

    return seeded_weights(rng, shape, 1.0, per_channel_axis)


def _activation(t: Any, rng: np.random.Generator) -> tuple[str, Callable]:
    name = ("none", "relu", "relu6")[int(rng.integers(3))]
    return name, {"none": lambda v: v, "relu": t.nn.relu, "relu6": t.nn.relu6}[name]


def _conv_case(rng: np.random.Generator, depthwise: bool) -> tuple[str, Callable, tuple[int, ...]]:
    t = tf()
    h, w = int(rng.integers(1, 13)), int(rng.integers(1, 13))
    c = int(rng.integers(1, 9))
    kh, kw = int(rng.integers(1, min(h, 5) + 1)), int(rng.integers(1, min(w, 5) + 1))
    padding = ("SAME", "VALID")[int(rng.integers(2))]
    dilated = rng.random() < 0.25
    stride = 1 if dilated else int(rng.integers(1, 4))
    dil = 2 if dilated and min(h - (kh - 1) * 2, w - (kw - 1) * 2) >= 1 else 1
    act_name, act = _activation(t, rng)
    bias = rng.normal(0, 0.3, 1).astype(np.float32)
    if depthwise:
        mult = int(rng.choice([1, 1, 2, 3, 8]))
        kernel = t.constant(_weights(rng, (kh, kw, c, mult), per_channel_axis=2))
        b = t.constant(np.repeat(bias, c * mult) + rng.normal(0, 0.2, c * mult).astype(np.float32))

        def fn(x):
            y = t.nn.depthwise_conv2d(x, kernel, [1, stride, stride, 1], padding, dilations=[dil, dil])
            return act(y + b)

        name = f"dw{h}x{w}x{c}_k{kh}x{kw}_m{mult}_s{stride}_d{dil}_{padding}_{act_name}"
    else:
        oc = int(rng.integers(1, 9))
        sh, sw = (stride, stride) if dilated else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        kernel = t.constant(_weights(rng, (kh, kw, c, oc)))
        b = t.constant(rng.normal(0, 0.3, oc).astype(np.float32))

        def fn(x):
            return act(t.nn.conv2d(x, kernel, [1, sh, sw, 1], padding, dilations=[dil, dil]) + b)

        name = f"conv{h}x{w}x{c}_k{kh}x{kw}x{oc}_s{sh}{sw}_d{dil}_{padding}_{act_name}"
    return name, fn, (1, h, w, c)


def _fc_case(rng: np.random.Generator) -> tuple[str, Callable, tuple[int, ...]]:
    t = tf()
    batches = int(rng.choice([1, 1, 2]))
    n, out = int(rng.integers(1, 200)), int(rng.integers(1, 20))
    act_name, act = _activation(t, rng)
    w = t.constant(_weights(rng, (n, out)))
    b = t.constant(rng.normal(0, 0.3, out).astype(np.float32))
    return f"fc{batches}x{n}_to_{out}_{act_name}", (lambda x: act(t.matmul(x, w) + b)), (batches, n)


def _pool_case(rng: np.random.Generator, kind: str) -> tuple[str, Callable, tuple[int, ...]]:
    t = tf()
    h, w, c = int(rng.integers(1, 14)), int(rng.integers(1, 14)), int(rng.integers(1, 9))
    kh, kw = int(rng.integers(1, min(h, 6) + 1)), int(rng.integers(1, min(w, 6) + 1))
    sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    padding = ("SAME", "VALID")[int(rng.integers(2))]
    op = t.nn.avg_pool2d if kind == "avgpool" else t.nn.max_pool2d
    return (f"{kind}{h}x{w}x{c}_k{kh}x{kw}_s{sh}{sw}_{padding}",
            lambda x: op(x, [kh, kw], [sh, sw], padding), (1, h, w, c))


def _softmax_case(rng: np.random.Generator) -> tuple[str, Callable, tuple[int, ...]]:
    flat, rows = (1, int(rng.integers(1, 40))), (1, int(rng.integers(1, 5)), int(rng.integers(2, 20)))
    shape = (flat, rows)[int(rng.integers(2))]
    return f"softmax{'x'.join(map(str, shape))}", (lambda x: tf().nn.softmax(x)), shape


def _add_case(rng: np.random.Generator) -> tuple[str, Callable, tuple[int, ...]]:
    h, w, c = int(rng.integers(1, 7)), int(rng.integers(1, 7)), int(rng.integers(1, 9))
    act_name, act = _activation(tf(), rng)
    other = [(1, 1, 1, c), (1, h, w, c), (1, 1, w, 1), (1, h, 1, c)][int(rng.integers(4))]
    const = tf().constant(rng.normal(0, 1.5, other).astype(np.float32))
    return f"add{h}x{w}x{c}_plus_{'x'.join(map(str, other))}_{act_name}", (lambda x: act(x + const)), (1, h, w, c)


def _mean_case(rng: np.random.Generator) -> tuple[str, Callable, tuple[int, ...]]:
    h, w, c = int(rng.integers(2, 9)), int(rng.integers(2, 9)), int(rng.integers(2, 9))
    axes = [[1, 2], [1, 2], [3], [1], [2, 3]][int(rng.integers(5))]  # reduced sizes > 1: else TF drops the op
    keep = bool(rng.integers(2))
    return (f"mean{h}x{w}x{c}_axes{''.join(map(str, axes))}_{'keep' if keep else 'drop'}",
            lambda x: tf().reduce_mean(x, axis=axes, keepdims=keep), (1, h, w, c))


_BUILDERS: dict[str, Callable[[np.random.Generator], tuple[str, Callable, tuple[int, ...]]]] = {
    "conv": lambda rng: _conv_case(rng, False), "depthwise": lambda rng: _conv_case(rng, True), "fc": _fc_case,
    "avgpool": lambda rng: _pool_case(rng, "avgpool"), "maxpool": lambda rng: _pool_case(rng, "maxpool"),
    "softmax": _softmax_case, "add": _add_case, "mean": _mean_case,
}


def random_op_models(kind: str, count: int, seed: int) -> list[tuple[str, bytes]]:
    """`count` seeded models of `kind`: single ops (conv, depthwise, fc, avgpool, maxpool, softmax, add, mean)
    or "chain" (conv -> depthwise -> pool -> 1x1 conv, for the planner's overlaps)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        name, fn, shape = _BUILDERS[kind](rng)
        value_range = RANGES[int(rng.integers(len(RANGES)))]
        out.append((f"{name}_r{value_range[0]:g}..{value_range[1]:g}",
                    convert(fn, shape, value_range, seed=seed * 100 + i)))
    return out


def _chain_case(rng: np.random.Generator) -> tuple[str, Callable, tuple[int, ...]]:
    """conv -> depthwise -> pool -> 1x1 conv with random geometry: every intermediate lives in the arena, so
    the planner overlaps outputs with their inputs (forward and reversed rows) in many shapes."""
    t = tf()
    h, w, c = int(rng.integers(6, 17)), int(rng.integers(4, 13)), int(rng.integers(1, 5))
    c1, mult = int(rng.integers(2, 9)), int(rng.choice([1, 1, 2]))
    k1 = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    s1 = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    pads = [("SAME", "VALID")[int(rng.integers(2))] for _ in range(3)]
    kd = int(rng.integers(1, 4))
    dil = 2 if rng.random() < 0.3 else 1
    pool = (t.nn.max_pool2d, t.nn.avg_pool2d)[int(rng.integers(2))]
    kp, sp = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    def out_size(n: int, k: int, stride: int, padding: str) -> int:
        return -(-n // stride) if padding == "SAME" else (n - k) // stride + 1

    hw = [min(out_size(n, k, st, pads[0]), n) for n, k, st in zip((h, w), k1, s1)]
    if min(hw) < (kd - 1) * dil + 1:
        pads[1] = "SAME"  # VALID would leave nothing for the depthwise window
    if pads[1] == "VALID":
        hw = [n - (kd - 1) * dil for n in hw]
    if min(hw) < kp:
        pads[2] = "SAME"
    w1 = t.constant(_weights(rng, (*k1, c, c1)))
    wd = t.constant(_weights(rng, (kd, kd, c1, mult), per_channel_axis=2))
    w2 = t.constant(_weights(rng, (1, 1, c1 * mult, int(rng.integers(2, 9)))))
    b1 = t.constant(rng.normal(0, 0.2, c1).astype(np.float32))

    def fn(x):
        y = t.nn.relu(t.nn.conv2d(x, w1, [1, *s1, 1], pads[0]) + b1)
        y = t.nn.relu6(t.nn.depthwise_conv2d(y, wd, [1, 1, 1, 1], pads[1], dilations=[dil, dil]))
        y = pool(y, kp, sp, pads[2])
        return t.nn.conv2d(y, w2, 1, "VALID")

    name = f"chain{h}x{w}x{c}_c{k1[0]}{k1[1]}s{s1[0]}{s1[1]}{pads[0][0]}_dw{kd}m{mult}d{dil}{pads[1][0]}_p{kp}s{sp}"
    return name, fn, (1, h, w, c)


_BUILDERS["chain"] = _chain_case


# ------------------------------------------------------------------------------------- tiny_conv

def tiny_conv_tflite(folder: Path, depthwise: bool = False, seed: int = 4, filters: int = 8) -> bytes:
    """TensorFlow's tiny_conv (10x8 conv, 8 filters, stride 2, SAME, ReLU; FC to the 4 labels; softmax) with
    seeded weights on the default log-mel frontend, through the export stage's converter. depthwise=True
    writes the first layer as the depthwise convolution with multiplier 8 that TFLite made of it in TFLM's
    shipped micro_speech model (1 input channel)."""
    from export.seeded_models import convert_module, noise_and_tone_features, tiny_conv_module
    from kws.config import load_config

    config = load_config(None, [])
    module = tiny_conv_module(config, seed=seed, filters=filters, depthwise=depthwise)
    return convert_module(module, config, Path(folder) / f"tiny_conv_{'dw' if depthwise else 'conv'}",
                          noise_and_tone_features(config, seed=seed))


# ------------------------------------------------------------------------------------------- DS-CNN

def ds_cnn_tflite(folder: Path, feature_type: str, seed: int = 5, width: int = 64, labels: int = 12) -> bytes:
    """The README's DS-CNN on `feature_type` features with seeded weights (batch norm folded into the convs),
    converted by the export stage (input pinned to the frontend's int8 quantization), calibrated on noise and
    tones (export.seeded_models)."""
    from export.seeded_models import convert_module, ds_cnn_module, noise_and_tone_features
    from kws.config import load_config

    config = load_config(None, [f"frontend.feature_type={feature_type!r}".replace("'", '"')])
    module = ds_cnn_module(config, seed=seed, width=width, labels=labels)
    return convert_module(module, config, Path(folder) / f"ds_cnn_{feature_type}",
                          noise_and_tone_features(config, seed=seed))


def real_features(root: Path, feature_type: str, count: int = 8) -> np.ndarray:
    """int8 features [count, frames, features] of real clips (one per keyword folder, in a fixed order)."""
    import torch

    from kws.config import load_config
    from kws.data.audio import fit_length, load_audio, to_int16
    from kws.frontend import TorchFrontend

    cfg = load_config(None, [f'frontend.feature_type="{feature_type}"']).frontend
    clips = []
    folders = sorted(p for p in Path(root).iterdir() if p.is_dir())
    for i in range(count):
        wavs = sorted(folders[i % len(folders)].glob("*.wav"))
        audio, _ = load_audio(wavs[(i // len(folders)) % len(wavs)], cfg.sample_rate)
        clips.append(to_int16(fit_length(audio, cfg.clip_samples)))
    with torch.no_grad():
        return TorchFrontend(cfg).features_int8(torch.from_numpy(np.stack(clips))).numpy()

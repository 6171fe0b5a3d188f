"""Hops 2 and 3: ONNX -> TensorFlow SavedModel (onnx2tf) -> full-integer int8 TFLite (TFLiteConverter).

    from export.tf_convert import onnx_to_saved_model, saved_model_scores, convert_int8
    onnx_to_saved_model(Path("model.onnx"), Path("saved_model"), scratch=Path(tmp))
    scores = saved_model_scores(Path("saved_model"), features)
    result = convert_int8(Path("saved_model"), calibration_features, config.frontend, unit_ranges=None)

onnx2tf options, and why:
- keep_shape_absolutely_input_names=['features']: the input is [1, frames, features]; onnx2tf would
  otherwise read a 3-D input as NCW and transpose it to NWC, so the device would have to feed
  features transposed.
- not_use_onnxsim=True: onnxsim is not installed (and our graph is already simplified by the exporter).
- onnxruntime_output_memmap=False: small model; no temporary memmap folders left behind.
- its own int8 output is not used (it calibrates on downloaded images by default); its test-image
  download, which only triggers for image-like inputs, is disabled outright while it runs.

The int8 conversion calibrates on the recorded calibration set (representative dataset), then, before
the quantizer runs, writes two kinds of ranges into the calibration statistics:
- the input (and RESHAPEs of it): exactly the frontend's int8 range, [(-128 - zp) * s, (127 - zp) * s],
  so the converter derives the frontend's own scale and zero point and the device feeds its int8
  features straight in (calibration data alone rarely spans the whole int8 range);
- for a PTQ/QAT checkpoint: each fused unit's output (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, in
  graph order) gets the activation range recorded by `kws quantize`, so the int8 model is the one that
  was simulated (QAT's ranges are moving averages the converter's calibrator cannot reproduce).
This uses the converter's calibrate-only mode and its MLIR quantizer directly (the same two steps
`convert()` runs), because the public API has no way to give ranges.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from export.errors import ExportError, InputQuantizationError
from export.onnx_export import INPUT_NAME
from export.tflite_model import ModelInfo, describe
from kws.config import FrontendConfig

# Relative tolerance on the model's input scale vs the frontend's. The converter stores the scale as a
# float32 computed as (max - min) / 255 from the pinned range, which can land a few float32 ulps
# (1.2e-7 relative each) away from float32(frontend scale). 1e-6 (about 8 ulps) allows that rounding and
# nothing else: a wrong config differs by percents. Its effect is nil: the model would read int8 feature
# q as (q - zp) * s * (1 +- 1e-6), off by at most 1.4e-4 of one quantization step at q = -128.
INPUT_SCALE_RTOL = 1e-6

COMPUTE_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
# Ops whose int8 output must share its input's scale and zero point; pinned ranges flow through them.
SAME_SCALE_OPS = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS", "AVERAGE_POOL_2D", "MAX_POOL_2D")


@contextlib.contextmanager
def _no_onnx2tf_download() -> Iterator[None]:
    """onnx2tf downloads sample images for image-shaped inputs; a keyword model must never reach the network."""
    def refuse(*_args: Any, **_kwargs: Any) -> np.ndarray:
        raise ExportError("onnx2tf tried to download its sample images; the export passes its own data and "
                          "must not use the network")

    modules = [importlib.import_module(name) for name in ("onnx2tf.onnx2tf", "onnx2tf.utils.common_functions")]
    saved = [getattr(m, "download_test_image_data", None) for m in modules]
    for module in modules:
        module.download_test_image_data = refuse
    try:
        yield
    finally:
        for module, original in zip(modules, saved):
            if original is not None:
                module.download_test_image_data = original


def _tail(text: str, lines: int = 15) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n".join(kept)


def onnx_to_saved_model(onnx_path: Path, saved_model_dir: Path, scratch: Path) -> dict[str, Any]:
    """Convert with onnx2tf into `saved_model_dir` (which must not exist); returns the options used."""
    from export.tfenv import import_tensorflow, quiet_warnings

    import_tensorflow()
    import onnx2tf

    work = scratch / "onnx2tf"
    work.mkdir(parents=True)
    source = work / "model.onnx"
    shutil.copyfile(onnx_path, source)  # onnx2tf may rewrite the file it is given
    options = {
        "keep_shape_absolutely_input_names": [INPUT_NAME],
        "not_use_onnxsim": True,
        "onnxruntime_output_memmap": False,
        "non_verbose": True,
        "verbosity": "error",
    }
    chatter = io.StringIO()
    try:
        with _no_onnx2tf_download(), quiet_warnings(), contextlib.redirect_stdout(chatter), \
                contextlib.redirect_stderr(chatter):
            onnx2tf.convert(input_onnx_file_path=str(source), output_folder_path=str(work / "out"), **options)
    except ExportError:
        raise
    except (Exception, SystemExit) as exc:  # onnx2tf calls sys.exit(1) on some failures
        raise ExportError(f"onnx2tf {onnx2tf.__version__} could not convert {onnx_path} "
                          f"({type(exc).__name__}: {exc}).\n{_tail(chatter.getvalue())}") from None
    out = work / "out"
    if not (out / "saved_model.pb").is_file():
        raise ExportError(f"onnx2tf {onnx2tf.__version__} wrote no SavedModel for {onnx_path}:\n"
                          f"{_tail(chatter.getvalue())}")
    saved_model_dir.mkdir(parents=True)
    for name in ("saved_model.pb", "fingerprint.pb", "variables", "assets"):
        if (out / name).exists():
            shutil.move(str(out / name), str(saved_model_dir / name))
    return {"onnx2tf": onnx2tf.__version__, **options}


def saved_model_scores(saved_model_dir: Path, features: np.ndarray) -> np.ndarray:
    """Scores [N, labels] from the SavedModel's serving signature, one clip at a time (batch 1)."""
    from export.tfenv import import_tensorflow

    tf = import_tensorflow()
    loaded = tf.saved_model.load(str(saved_model_dir))
    serve = loaded.signatures["serving_default"]
    (key,) = serve.structured_input_signature[1].keys()
    x = np.asarray(features, dtype=np.float32)
    out = []
    for i in range(x.shape[0]):
        result = serve(**{key: tf.constant(x[i:i + 1])})
        (value,) = result.values()
        out.append(value.numpy()[0])
    return np.stack(out) if out else np.zeros((0, 0), np.float32)


def frontend_input_range(frontend: FrontendConfig) -> tuple[float, float]:
    """The float range the int8 features cover: q = -128 .. 127 dequantized."""
    scale, zero_point = frontend.input_scale, frontend.input_zero_point
    return (-128 - zero_point) * scale, (127 - zero_point) * scale


@dataclass
class Int8Conversion:
    """The int8 model and what was decided on the way."""

    model: bytes
    info: ModelInfo
    ranges: list[dict[str, Any]] = field(default_factory=list)
    """Per pinned tensor: name, calibrated (min, max), used (min, max), why."""


def _op_name(model: Any, op: Any) -> str:
    from tensorflow.lite.python import schema_py_generated as tfl_schema

    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    names = {v: k for k, v in vars(tfl_schema.BuiltinOperator).items() if not k.startswith("_")}
    return names.get(builtin, str(builtin))


def pin_ranges(calibrated: bytes, input_range: tuple[float, float],
               unit_ranges: Sequence[tuple[str, tuple[float, float]]] | None) -> tuple[bytes, list[dict[str, Any]]]:
    """Overwrite calibration statistics (see the module docstring); returns the new model and a report."""
    from tensorflow.lite.python import schema_py_generated as tfl_schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(calibrated)
    subgraph = model.subgraphs[0]
    pins: dict[int, tuple[tuple[float, float], str]] = {int(subgraph.inputs[0]): (input_range, "frontend int8 range")}
    if unit_ranges is not None:
        compute = [op for op in subgraph.operators if _op_name(model, op) in COMPUTE_OPS]
        if len(compute) != len(unit_ranges):
            raise ExportError(
                f"the converted graph has {len(compute)} conv/fully-connected ops but the checkpoint recorded "
                f"{len(unit_ranges)} activation ranges ({', '.join(n for n, _ in unit_ranges)}); re-run kws quantize")
        for op, (unit, rng) in zip(compute, unit_ranges):
            pins[int(op.outputs[0])] = ((float(rng[0]), float(rng[1])), f"checkpoint range of {unit!r}")
    for op in subgraph.operators:  # operators are stored in execution order
        if _op_name(model, op) in SAME_SCALE_OPS and int(op.inputs[0]) in pins:
            rng, why = pins[int(op.inputs[0])]
            pins[int(op.outputs[0])] = (rng, f"{why} (through {_op_name(model, op)})")
    report = []
    for index, ((lo, hi), why) in pins.items():
        tensor = subgraph.tensors[index]
        quant = tensor.quantization
        if quant is None:
            quant = tensor.quantization = tfl_schema.QuantizationParametersT()
        before = None
        if quant.min is not None and len(quant.min) == 1:
            before = [float(quant.min[0]), float(quant.max[0])]
        quant.min = np.array([lo], dtype=np.float32)
        quant.max = np.array([hi], dtype=np.float32)
        name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
        report.append({"tensor": name, "calibrated": before, "used": [float(lo), float(hi)], "why": why})
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), report


def convert_int8(saved_model_dir: Path, calibration: np.ndarray, frontend: FrontendConfig,
                 unit_ranges: Sequence[tuple[str, tuple[float, float]]] | None = None) -> Int8Conversion:
    """Full-integer int8 TFLite (int8 input and output, TFLITE_BUILTINS_INT8 only), input pinned, verified."""
    from export.tfenv import captured_output, import_tensorflow, quiet_warnings

    tf = import_tensorflow()
    from tensorflow.lite.python import convert as tfl_convert
    from tensorflow.lite.python import lite as tfl_lite

    x = np.asarray(calibration, dtype=np.float32)
    if x.ndim != 3 or x.shape[0] == 0:
        raise ExportError(f"the calibration set must be [clips, frames, features] features, got shape {x.shape}")

    def representative() -> Iterator[list[np.ndarray]]:
        for i in range(x.shape[0]):
            yield [x[i:i + 1]]

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    if not hasattr(converter, "_experimental_calibrate_only") or not hasattr(tfl_convert, "mlir_quantize"):
        raise ExportError(f"TensorFlow {tf.__version__} lacks the converter's calibrate-only mode or mlir_quantize; "
                          f"the exporter is tested with TensorFlow 2.21 (tools/constraints.txt)")
    converter._experimental_calibrate_only = True
    log = None
    try:
        # The converter and quantizer print from C++ straight to the descriptors: keep it for errors only.
        with quiet_warnings(), captured_output() as log:
            calibrated = converter.convert()
            pinned, ranges = pin_ranges(calibrated, frontend_input_range(frontend), unit_ranges)
            quantized = tfl_convert.mlir_quantize(pinned, disable_per_channel=False,
                                                  input_data_type=tf.int8, output_data_type=tf.int8)
    except ExportError:
        raise
    except Exception as exc:  # converter errors are long; the first line names the op
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ExportError(f"TFLite int8 conversion of {saved_model_dir} failed: {type(exc).__name__}: {first}\n"
                          f"{_tail(log.text if log else '')}") from exc
    dedup = getattr(tfl_lite, "_deduplicate_readonly_buffers", None)
    if dedup is not None:  # what convert() does last: identical constant buffers stored once
        quantized = dedup(quantized)
    model = bytes(quantized)
    info = describe(model)
    check_input_quantization(info, frontend)
    return Int8Conversion(model, info, ranges)


def check_input_quantization(info: ModelInfo, frontend: FrontendConfig) -> None:
    """The model must take and give int8, with the frontend's input scale and zero point (see INPUT_SCALE_RTOL)."""
    if info.input.dtype != "INT8" or info.output.dtype != "INT8":
        raise ExportError(f"the TFLite model takes {info.input.dtype} and gives {info.output.dtype}; "
                          f"the device needs int8 in and out")
    want_scale, want_zero = float(np.float32(frontend.input_scale)), frontend.input_zero_point
    got_scale, got_zero = info.input.scale, info.input.zero_point
    if (got_scale is None or got_zero is None or abs(got_scale - want_scale) > INPUT_SCALE_RTOL * want_scale
            or got_zero != want_zero):
        raise InputQuantizationError(
            f"the int8 model's input quantization is scale={got_scale!r}, zero_point={got_zero!r}, but the "
            f"frontend's int8 features use scale={frontend.input_scale!r}, zero_point={want_zero!r} "
            f"(frontend.{'mfcc_' if frontend.feature_type == 'mfcc' else ''}quant_scale / "
            f"{'mfcc_' if frontend.feature_type == 'mfcc' else ''}quant_zero_point); the device feeds those "
            f"features straight in, so they must be equal. Re-export with the run's own config")

"""The export chain, one function per hop, each checked as it goes (export.pipeline runs them in order).

    reference = pytorch_float(source, data)                              # the scores every hop is held to
    onnx = to_onnx(source, folder.onnx)                                  # hop 1: PyTorch -> ONNX
    ort = check_onnxruntime(onnx, data, reference, say)                  #        ONNX Runtime vs PyTorch
    saved = to_saved_model(onnx, folder.saved_model, scratch)            # hop 2: onnx2tf
    tf = check_tensorflow(saved, data, reference, say)                   #        TensorFlow vs PyTorch
    int8 = to_int8(saved, data, config, source, folder.model_int8, say)  # hop 3: full-integer TFLite
    ops = audit(int8, config, folder.ops, say)                           # op audit -> ops.json
    tflm = check_tflm(int8, data, config, say)                           # hop 4: TFLite Micro + arena
    budget = check_fit(board, int8, tflm, say)                           # does it fit the board?
    settings = generate_c(folder.generated, config, source, int8, ops, tflm, budget, regenerate)

Each takes and returns small typed objects; the modules named in each function do the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from export.audit import OpAudit
from export.errors import ParityError
from export.inputs import ExportData, SourceModel
from export.onnx_export import OnnxReport
from export.tf_convert import Int8Conversion
from export.tflm_check import ArenaReport, TflmComparison
from kws.config import KwsConfig
from kws.device.budget import BoardBudget, BudgetReport
from kws.device.settings_header import DeviceSettings
from kws.fsutil import write_json

Say = Callable[[str], None]


@dataclass(frozen=True)
class FloatScores:
    """A float hop's scores on the test clips, and how far they are from PyTorch's."""

    scores: np.ndarray
    max_abs_diff: float

    @property
    def predictions(self) -> np.ndarray:
        return self.scores.argmax(axis=1)


@dataclass(frozen=True)
class SavedModel:
    """Hop 2's SavedModel and the onnx2tf options that made it."""

    path: Path
    options: dict[str, Any]


@dataclass(frozen=True)
class TflmCheck:
    """Hop 4: the int8 outputs of both interpreters, their comparison, and the arena the device needs."""

    golden: np.ndarray
    """TFLite's reference kernels (BUILTIN_REF), int8 [clips, labels]."""
    device: np.ndarray
    """The TFLite Micro interpreter, int8 [clips, labels]."""
    comparison: TflmComparison
    arena: ArenaReport
    arena_size: int
    """The measured arena plus deploy.arena_margin_bytes, rounded up to 16."""


def pytorch_float(source: SourceModel, data: ExportData) -> FloatScores:
    """The network as the device runs it, in float: the reference of every hop."""
    return FloatScores(source.deploy.scores(data.features), 0.0)


def to_onnx(source: SourceModel, path: Path) -> OnnxReport:
    """Hop 1: torch.onnx.export (dynamo) and the padding pass, checked by the ONNX checker."""
    from export.onnx_export import export_onnx

    return export_onnx(source.deploy, path)


def check_onnxruntime(onnx: OnnxReport, data: ExportData, reference: FloatScores, say: Say) -> FloatScores:
    """ONNX Runtime's scores; ParityError beyond the float tolerance."""
    from export.onnx_export import check_float_scores, run_onnxruntime

    scores = run_onnxruntime(onnx.path, data.features)
    diff = check_float_scores("ONNX Runtime", reference.scores, scores)
    say(f"onnx: {onnx.path.name} opset {onnx.opset}, ops {' '.join(onnx.ops)}; max |ORT - PyTorch| = {diff:.3g}")
    return FloatScores(scores, diff)


def to_saved_model(onnx: OnnxReport, path: Path, scratch: Path) -> SavedModel:
    """Hop 2: onnx2tf, with its scratch files kept out of the export."""
    from export.tf_convert import onnx_to_saved_model

    return SavedModel(path, onnx_to_saved_model(onnx.path, path, scratch))


def check_tensorflow(saved: SavedModel, data: ExportData, reference: FloatScores, say: Say) -> FloatScores:
    """TensorFlow's scores from the SavedModel; ParityError beyond the float tolerance."""
    from export.onnx_export import check_float_scores
    from export.tf_convert import saved_model_scores

    scores = saved_model_scores(saved.path, data.features)
    diff = check_float_scores("TensorFlow (onnx2tf SavedModel)", reference.scores, scores)
    say(f"tensorflow: {saved.path.name}/ by onnx2tf {saved.options['onnx2tf']}; max |TF - PyTorch| = {diff:.3g}")
    return FloatScores(scores, diff)


def to_int8(saved: SavedModel, data: ExportData, config: KwsConfig, source: SourceModel, path: Path,
            say: Say) -> Int8Conversion:
    """Hop 3: full-integer int8 TFLite with the frontend's input quantization (verified), written to `path`."""
    from export.tf_convert import convert_int8

    frontend = config.frontend
    conversion = convert_int8(saved.path, data.calibration, frontend, source.unit_ranges)
    if frontend.feature_type == "tflm_micro":  # TFLM's micro_speech example takes int8 [1, 1960] exactly
        from dataclasses import replace as dc_replace

        from export.flat_input import flatten_input
        from export.tflite_model import describe

        flat = flatten_input(conversion.model)
        conversion = dc_replace(conversion, model=flat, info=describe(flat))
    path.write_bytes(conversion.model)
    info = conversion.info
    say(f"int8: {path.name} {len(conversion.model):,} B; input scale {info.input.scale:.9g} zero point "
        f"{info.input.zero_point} (frontend {frontend.input_scale:g}, {frontend.input_zero_point})")
    return conversion


def audit(conversion: Int8Conversion, config: KwsConfig, path: Path, say: Say) -> OpAudit:
    """The op audit (UnsupportedOpError for an op the device must not or cannot run), written to `path`."""
    from export.audit import audit_ops

    result = audit_ops(conversion.model, config.model.name)
    write_json(path, result.to_json())
    say("ops: " + ", ".join(f"{op.name} v{op.version}" for op in result.ops) + " (all registered by TFLite Micro)")
    return result


def check_tflm(conversion: Int8Conversion, data: ExportData, config: KwsConfig, say: Say) -> TflmCheck:
    """Hop 4: TFLite Micro equals the reference kernels (but for verified FC rounding ties); the arena it needs."""
    from export.tflm_check import compare_with_reference, find_arena, reference_outputs, tflm_outputs

    model = conversion.model
    golden = reference_outputs(model, data.int8)
    arena = find_arena(model, data.int8[:1])
    arena_size = -(-(max(arena.minimum, arena.report_total) + config.deploy.arena_margin_bytes) // 16) * 16
    device = tflm_outputs(model, data.int8, arena_size)
    comparison = compare_with_reference(model, data.int8, golden, device)
    exactness = ("bit-exact with the reference kernels" if comparison.bit_exact else
                 f"equal to the reference kernels except {comparison.mismatching_clips} FULLY_CONNECTED rounding "
                 f"ties (each verified; max {comparison.max_output_lsb} LSB)")
    say(f"tflite-micro: {exactness} on {len(data.int8)} clips; arena {arena.minimum:,} B measured, "
        f"{arena_size:,} B with margin")
    return TflmCheck(golden, device, comparison, arena, arena_size)


@dataclass(frozen=True)
class AotCheck:
    """The model compiled to plain C, built on the host and run on the test clips."""

    outputs: np.ndarray
    """int8 outputs [clips, labels]: equal to TFLite Micro's, byte for byte."""
    compiled: Any
    """kws.compile.command.CompileResult."""


def compile_aot(conversion: Int8Conversion, model_path: Path, out: Path, data: ExportData, tflm: TflmCheck,
                scratch: Path, say: Say) -> AotCheck:
    """The compiled model (kws compile) beside the flatbuffer, equal to TFLite Micro on every test clip
    (DESIGN contract 4; ParityError otherwise: the compiler is wrong, nothing is written)."""
    from kws.compile.command import compile_tflite
    from kws.compile.host_runner import HostModel

    compiled = compile_tflite(model_path, out)
    outputs = HostModel.build(compiled, build_dir=scratch / "aot-build")(data.int8)
    differ = np.flatnonzero((outputs != tflm.device).any(axis=1))
    if differ.size:
        raise ParityError(f"the compiled C model differs from TFLite Micro on {differ.size} of {len(outputs)} test "
                          f"clips (first: clip {int(differ[0])}); this is a kws compile bug: please report it with "
                          f"{model_path.name}")
    say(f"aot-c: {out.name}/{compiled.name}_aot.c equals TFLite Micro on all {len(outputs)} clips; activations "
        f"{compiled.arena_bytes:,} B (TFLM arena {tflm.arena_size:,} B), weights {compiled.weight_bytes:,} B")
    return AotCheck(outputs, compiled)


def check_fit(board: BoardBudget, conversion: Int8Conversion, tflm: TflmCheck, say: Say) -> BudgetReport:
    """Model flash and arena RAM against the board's budget (BudgetError: nothing is written)."""
    from kws.device.budget import check_budget

    budget = check_budget(board, len(conversion.model), tflm.arena_size)
    say(f"budget: {budget.board.name}: flash {budget.flash_used:,}/{budget.flash_limit:,} B, "
        f"RAM {budget.ram_used:,}/{budget.ram_limit:,} B")
    return budget


def generate_c(path: Path, config: KwsConfig, source: SourceModel, conversion: Int8Conversion, ops: OpAudit,
               tflm: TflmCheck, budget: BudgetReport, regenerate: str) -> DeviceSettings:
    """The firmware's generated C (model array, kws_settings.h, frontend tables, device_settings.json)."""
    from kws.device.generated_c import sha256_hex, write_generated

    frontend, info = config.frontend, conversion.info
    settings = DeviceSettings(
        model_name=ops.model_name, source=source.source, sha256=sha256_hex(conversion.model),
        frames=frontend.num_frames, features=frontend.num_features, input_scale=float(info.input.scale),
        input_zero_point=int(info.input.zero_point), output_scale=float(info.output.scale),
        output_zero_point=int(info.output.zero_point), labels=tuple(config.data.labels()),
        arena_measured=tflm.arena.minimum, arena_margin=config.deploy.arena_margin_bytes,
        arena_size=tflm.arena_size, op_names=tuple(op.name for op in ops.ops), resolver_methods=ops.resolver_methods,
        board=budget.board.name)
    write_generated(path, config, conversion.model, settings, regenerate)
    return settings


__all__ = ["AotCheck", "FloatScores", "SavedModel", "TflmCheck", "audit", "check_fit", "check_onnxruntime",
           "check_tensorflow", "check_tflm", "compile_aot", "generate_c", "pytorch_float", "to_int8", "to_onnx",
           "to_saved_model"]

"""The last hop: the parity report of a finished chain, written as parity.json (strict JSON) and parity.md.

    from export.report import Chain, parity_report, write_parity
    report = write_parity(folder, parity_report(run, config, source, data, chain, seconds))

`Chain` holds what every hop returned (export.hops); `parity_report` turns it into the dict of
export.parity.build_report_dict (hop table, targets, sizes, arena, budget, route, versions).
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from export.audit import OpAudit
from export.hops import AotCheck, FloatScores, SavedModel, TflmCheck
from export.inputs import ExportData, SourceModel, float_checkpoint_accuracy, simulated_int8
from export.layout import ExportFolder
from export.onnx_export import OnnxReport
from export.parity import Hop, build_report_dict, render_markdown
from export.tf_convert import Int8Conversion
from kws.config import KwsConfig, config_to_dict
from kws.device.budget import BudgetReport
from kws.device.settings_header import DeviceSettings
from kws.fsutil import json_safe, write_json
from kws.run import Run

VERSIONED_PACKAGES = ("torch", "onnx", "onnxruntime", "onnxscript", "onnx2tf", "tensorflow-cpu", "tflite-micro")
"""The packages whose versions parity.json records (the route depends on each)."""


@dataclass(frozen=True)
class Chain:
    """Every hop's result, in chain order."""

    reference: FloatScores
    onnx: OnnxReport
    onnxruntime: FloatScores
    saved_model: SavedModel
    tensorflow: FloatScores
    int8: Int8Conversion
    ops: OpAudit
    tflm: TflmCheck
    budget: BudgetReport
    settings: DeviceSettings
    aot: AotCheck


def _versions() -> dict[str, str]:
    out = {}
    for package in VERSIONED_PACKAGES:
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = "absent"
    return out


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _sizes(folder: ExportFolder) -> dict[str, int]:
    """Bytes of every file written so far; the SavedModel as one entry."""
    saved_model = folder.saved_model.name
    sizes = {str(p.relative_to(folder.root)): _size(p) for p in sorted(folder.root.rglob("*"))
             if p.is_file() and saved_model not in p.parts}
    sizes[f"{saved_model}/"] = _size(folder.saved_model)
    return sizes


def _hops(source: SourceModel, chain: Chain) -> list[Hop]:
    """The parity table's rows: every hop's predictions and its max abs score difference from PyTorch."""
    out_q = chain.int8.info.output
    reference = chain.reference.scores

    def dequantized_diff(outputs: np.ndarray) -> float:
        return float(np.max(np.abs((outputs.astype(np.float32) - out_q.zero_point) * out_q.scale - reference)))

    return [
        Hop("pytorch_float", chain.reference.predictions, 0.0, "DeployModel: folded batch norm"
            + (", int8-grid weights" if source.source == "qat" else "")),
        Hop("onnxruntime", chain.onnxruntime.predictions, chain.onnxruntime.max_abs_diff),
        Hop("tensorflow", chain.tensorflow.predictions, chain.tensorflow.max_abs_diff),
        Hop("tflite_int8", chain.tflm.golden.argmax(axis=1), dequantized_diff(chain.tflm.golden),
            "dequantized int8 scores"),
        Hop("tflite_micro", chain.tflm.device.argmax(axis=1), dequantized_diff(chain.tflm.device),
            "TFLite Micro interpreter"),
        Hop("aot_c", chain.aot.outputs.argmax(axis=1), dequantized_diff(chain.aot.outputs),
            "compiled C, equal to TFLite Micro byte for byte"),
    ]


def parity_report(run: Run, config: KwsConfig, source: SourceModel, data: ExportData, chain: Chain,
                  folder: ExportFolder, seconds: float) -> dict[str, Any]:
    """The parity.json dict: the hop table on the test clips, targets, sizes, arena, budget, route, versions."""
    frontend, info, tflm = config.frontend, chain.int8.info, chain.tflm
    return build_report_dict(
        run=run.name, source=source.source, checkpoint=str(source.checkpoint), model=chain.ops.model_name,
        labels=list(config.data.labels()), test_labels=data.labels, reference_pred=chain.reference.predictions,
        hops=_hops(source, chain), simulated=simulated_int8(config, run, source, data, tflm.golden.argmax(axis=1)),
        float_checkpoint_accuracy=float_checkpoint_accuracy(config, run, source, data), sizes=_sizes(folder),
        arena={"minimum": tflm.arena.minimum, "report_total": tflm.arena.report_total,
               "margin": config.deploy.arena_margin_bytes, "size": tflm.arena_size,
               "allocation_report": tflm.arena.report},
        budget=chain.budget.to_json(), ops=chain.ops.to_json()["ops"],
        input_quantization={"scale": info.input.scale, "zero_point": info.input.zero_point,
                            "frontend_scale": frontend.input_scale, "frontend_zero_point": frontend.input_zero_point},
        output_quantization={"scale": info.output.scale, "zero_point": info.output.zero_point},
        route={"onnx": {"opset": chain.onnx.opset, "ops": list(chain.onnx.ops),
                        "padding_pass": chain.onnx.padding_pass},
               "onnx2tf": chain.saved_model.options, "int8_ranges": chain.int8.ranges},
        tflm=tflm.comparison.to_json(), sha256=chain.settings.sha256, versions=_versions(), seconds=seconds,
        config=config_to_dict(config), aot=_aot_json(chain))


def _aot_json(chain: Chain) -> dict[str, Any]:
    c = chain.aot.compiled
    return {"bit_exact_with_tflite_micro": bool((chain.aot.outputs == chain.tflm.device).all()),
            "activation_bytes": c.arena_bytes, "activation_bytes_dsp": c.arena_bytes_dsp,
            "tflm_arena_bytes": chain.tflm.arena_size, "weight_bytes": c.weight_bytes,
            "weight_bytes_dsp": c.weight_bytes_dsp, "macs": c.macs,
            "layers": [{"op": la.opcode, "output": list(la.output_shape), "macs": la.macs} for la in c.layers]}


def write_parity(folder: ExportFolder, report: dict[str, Any]) -> dict[str, Any]:
    """parity.json through the strict writer (NaN -> null) and parity.md; returns the report as written."""
    written = json_safe(report)
    write_json(folder.parity, written)
    folder.parity_markdown.write_text(render_markdown(written))
    return written


__all__ = ["Chain", "VERSIONED_PACKAGES", "parity_report", "write_parity"]

"""`kws export`: the whole chain for one run, every hop checked, all artifacts or none.

    from export.pipeline import export_run
    result = export_run(config, Path("runs/demo"), source="float")      # or "ptq", "qat", "pruned"

Reads runs/<run>/model_<source>.pt (model_float.pt for 'float'), calibration.json and the dataset.
Writes runs/<run>/export/ as a whole (built under a temporary name, renamed on success; a failure at any
hop leaves the previous export untouched and no partial files):
  model.onnx                 hop 1: PyTorch -> ONNX (dynamo, opset 18), checked with ONNX Runtime
  saved_model/               hop 2: onnx2tf, checked with TensorFlow
  model_int8.tflite          hop 3: full-integer int8, input quantization = the frontend's
  ops.json                   the op audit (ops, versions, TFLM resolver methods)
  generated/                 model_data.cc/.h, kws_settings.h, kws_frontend_tables.h (for the firmware)
  parity.json, parity.md     the parity table (hop 4, TFLite Micro, is checked bit for bit against TFLite)

Sources: 'float' (model_float.pt, the converter calibrates on the recorded calibration set), 'ptq' and
'qat' (model_ptq.pt / model_qat.pt from `kws quantize`: their recorded activation ranges are used, and
QAT weights are snapped to the int8 grid), 'pruned' (model_pruned.pt, possibly with fewer filters).
"""

from __future__ import annotations

import importlib.metadata
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from export.errors import ExportError
from kws.config import KwsConfig, config_to_dict

SOURCES: dict[str, tuple[str, str]] = {
    # --from value: (checkpoint file, the `kind` recorded in it)
    "float": ("model_float.pt", "float"),
    "ptq": ("model_ptq.pt", "ptq"),
    "qat": ("model_qat.pt", "qat"),
    "pruned": ("model_pruned.pt", "pruned"),
}
EXPORT_DIR = "export"


@dataclass(frozen=True)
class ExportResult:
    """A finished export."""

    export_dir: Path
    report: dict[str, Any]
    """The parity report (parity.json)."""

    @property
    def targets_met(self) -> bool:
        return all(t["ok"] for t in self.report["targets"])


def _versions() -> dict[str, str]:
    out = {}
    for package in ("torch", "onnx", "onnxruntime", "onnxscript", "onnx2tf", "tensorflow-cpu", "tflite-micro"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = "absent"
    return out


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _quantize_features(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    # The features are dequantized int8 values, so this recovers the device's int8 exactly.
    return np.clip(np.rint(x / scale) + zero_point, -128, 127).astype(np.int8)


def load_source(config: KwsConfig, run_dir: Path, source: str) -> tuple[torch.nn.Module, dict[str, Any], Path]:
    """(model with weights, checkpoint payload, path) for a --from value; clear errors for anything amiss."""
    from kws.checkpoint import CheckpointError, load_checkpoint_model

    if source not in SOURCES:
        raise ExportError(f"unknown export source {source!r}; choose one of {', '.join(SOURCES)}")
    name, kind = SOURCES[source]
    path = run_dir / name
    if not path.is_file():
        hint = {"float": "kws train", "ptq": "kws quantize --method ptq", "qat": "kws quantize --method qat",
                "pruned": "kws prune"}[source]
        raise CheckpointError(f"{path} does not exist; run `{hint} --run {run_dir.name}` first")
    model, payload = load_checkpoint_model(path, expect=config)
    if payload["model"]["name"] != config.model.name:
        raise CheckpointError(f"{path} holds a {payload['model']['name']!r} model but the config asks for "
                              f"{config.model.name!r}")
    if payload.get("kind", "float") != kind:
        raise CheckpointError(f"{path} is a {payload.get('kind')!r} checkpoint, not {kind!r}; it does not belong "
                              f"under that name")
    if source in ("ptq", "qat") and not payload.get("activation_ranges"):
        raise CheckpointError(f"{path} records no activation ranges; re-run `kws quantize --method {source}`")
    model.eval()
    return model, payload, path


def export_run(config: KwsConfig, run_dir: str | Path, source: str = "float", *, board: Any = None,
               progress: bool = True, log: Callable[[str], None] | None = None) -> ExportResult:
    """Export a run (see the module docstring). Every KwsError names the hop and the file at fault."""
    from export.audit import audit_ops
    from export.budget import board_budget, check_budget
    from export.c_array import DeviceSettings, sha256_hex, write_generated
    from export.onnx_export import DeployModel, check_float_scores, export_onnx, run_onnxruntime
    from export.parity import Hop, build_report_dict, render_markdown
    from export.tflm_check import compare_with_reference, find_arena, reference_outputs, tflm_outputs
    from kws.compress.quantize import calibration_audio
    from kws.fsutil import atomic_directory
    from kws.prepared_data import FeatureExtractor, prepare_data

    say = log or (lambda _text: None)
    run_dir = Path(run_dir)
    config.validate()
    budget_spec = board_budget(board if board is not None else config.deploy.board)  # unknown board: fail first
    model, payload, checkpoint = load_source(config, run_dir, source)
    deploy = DeployModel(model, snap_weights=(source == "qat"))
    frontend = config.frontend
    started = time.perf_counter()

    say(f"data: loading splits of {config.data.data_dir} and the calibration set")
    extractor = FeatureExtractor(config)
    data = prepare_data(config, extractor, progress=progress)
    if data.test_features.shape[0] == 0:
        raise ExportError(f"the test split of {config.data.data_dir} is empty; the parity table needs test clips")
    audio = calibration_audio(config, run_dir, data.batches.bank, data.batches.augmenter)
    calibration = np.concatenate([extractor(audio[i:i + 100]).numpy() for i in range(0, len(audio), 100)])
    test_x = data.test_features.numpy().astype(np.float32)
    test_y = data.test_labels.numpy()
    test_q = _quantize_features(test_x, frontend.input_scale, frontend.input_zero_point)
    reference = deploy.scores(test_x)
    reference_pred = reference.argmax(axis=1)
    regenerate = f"kws export --run {run_dir.name} --from {source}"

    with atomic_directory(run_dir / EXPORT_DIR, replace=True) as out, \
            tempfile.TemporaryDirectory(prefix="kws-export-") as scratch_name:
        scratch = Path(scratch_name)

        onnx_report = export_onnx(deploy, out / "model.onnx")
        ort_scores = run_onnxruntime(out / "model.onnx", test_x)
        ort_diff = check_float_scores("ONNX Runtime", reference, ort_scores)
        say(f"onnx: model.onnx opset {onnx_report.opset}, ops {' '.join(onnx_report.ops)}; "
            f"max |ORT - PyTorch| = {ort_diff:.3g}")

        from export.tf_convert import convert_int8, onnx_to_saved_model, saved_model_scores

        onnx2tf_options = onnx_to_saved_model(out / "model.onnx", out / "saved_model", scratch)
        tf_scores = saved_model_scores(out / "saved_model", test_x)
        tf_diff = check_float_scores("TensorFlow (onnx2tf SavedModel)", reference, tf_scores)
        say(f"tensorflow: saved_model/ by onnx2tf {onnx2tf_options['onnx2tf']}; max |TF - PyTorch| = {tf_diff:.3g}")

        unit_ranges = list(payload["activation_ranges"].items()) if source in ("ptq", "qat") else None
        conversion = convert_int8(out / "saved_model", calibration, frontend, unit_ranges)
        (out / "model_int8.tflite").write_bytes(conversion.model)
        info = conversion.info
        say(f"int8: model_int8.tflite {len(conversion.model):,} B; input scale {info.input.scale:.9g} zero point "
            f"{info.input.zero_point} (frontend {frontend.input_scale:g}, {frontend.input_zero_point})")

        audit = audit_ops(conversion.model, config.model.name)
        (out / "ops.json").write_text(json.dumps(audit.to_json(), indent=1) + "\n")
        say("ops: " + ", ".join(f"{op.name} v{op.version}" for op in audit.ops) + " (all registered by TFLite Micro)")

        golden = reference_outputs(conversion.model, test_q)
        arena = find_arena(conversion.model, test_q[:1])
        margin = config.deploy.arena_margin_bytes
        arena_size = -(-(max(arena.minimum, arena.report_total) + margin) // 16) * 16
        device = tflm_outputs(conversion.model, test_q, arena_size)
        tflm = compare_with_reference(conversion.model, test_q, golden, device)
        exactness = ("bit-exact with the reference kernels" if tflm.bit_exact else
                     f"equal to the reference kernels except {tflm.mismatching_clips} FULLY_CONNECTED rounding ties "
                     f"(each verified; max {tflm.max_output_lsb} LSB)")
        say(f"tflite-micro: {exactness} on {len(test_q)} clips; arena {arena.minimum:,} B measured, "
            f"{arena_size:,} B with margin")

        budget = check_budget(budget_spec, len(conversion.model), arena_size)
        say(f"budget: {budget.board.name}: flash {budget.flash_used:,}/{budget.flash_limit:,} B, "
            f"RAM {budget.ram_used:,}/{budget.ram_limit:,} B")

        out_q = info.output
        settings = DeviceSettings(
            model_name=audit.model_name, source=source, sha256=sha256_hex(conversion.model),
            frames=frontend.num_frames, features=frontend.num_features, input_scale=float(info.input.scale),
            input_zero_point=int(info.input.zero_point), output_scale=float(out_q.scale),
            output_zero_point=int(out_q.zero_point), labels=tuple(config.data.labels()),
            arena_measured=arena.minimum, arena_margin=margin, arena_size=arena_size,
            op_names=tuple(op.name for op in audit.ops), resolver_methods=audit.resolver_methods,
            board=budget.board.name)
        write_generated(out / "generated", config, conversion.model, settings, regenerate)

        dequantized = (golden.astype(np.float32) - out_q.zero_point) * out_q.scale
        int8_diff = float(np.max(np.abs(dequantized - reference)))
        hops = [
            Hop("pytorch_float", reference_pred, 0.0, "DeployModel: folded batch norm"
                + (", int8-grid weights" if source == "qat" else "")),
            Hop("onnxruntime", ort_scores.argmax(axis=1), ort_diff),
            Hop("tensorflow", tf_scores.argmax(axis=1), tf_diff),
            Hop("tflite_int8", golden.argmax(axis=1), int8_diff, "dequantized int8 scores"),
            Hop("tflite_micro", device.argmax(axis=1),
                float(np.max(np.abs((device.astype(np.float32) - out_q.zero_point) * out_q.scale - reference))),
                "TFLite Micro interpreter"),
        ]
        simulated = _simulated(config, run_dir, source, model, payload, test_x, golden.argmax(axis=1))
        float_checkpoint_accuracy = None
        if source == "qat":
            float_checkpoint_accuracy = _float_checkpoint_accuracy(config, run_dir, test_x, test_y)
        sizes = {str(p.relative_to(out)): _size(p) for p in sorted(out.rglob("*"))
                 if p.is_file() and "saved_model" not in p.parts}
        sizes["saved_model/"] = _size(out / "saved_model")
        report = build_report_dict(
            run=run_dir.name, source=source, checkpoint=str(checkpoint), model=audit.model_name,
            labels=list(config.data.labels()), test_labels=test_y, reference_pred=reference_pred, hops=hops,
            simulated=simulated, float_checkpoint_accuracy=float_checkpoint_accuracy, sizes=sizes,
            arena={"minimum": arena.minimum, "report_total": arena.report_total, "margin": margin,
                   "size": arena_size, "allocation_report": arena.report},
            budget=budget.to_json(), ops=audit.to_json()["ops"],
            input_quantization={"scale": info.input.scale, "zero_point": info.input.zero_point,
                                "frontend_scale": frontend.input_scale,
                                "frontend_zero_point": frontend.input_zero_point},
            output_quantization={"scale": out_q.scale, "zero_point": out_q.zero_point},
            route={"onnx": {"opset": onnx_report.opset, "ops": list(onnx_report.ops),
                            "padding_pass": onnx_report.padding_pass},
                   "onnx2tf": onnx2tf_options, "int8_ranges": conversion.ranges},
            tflm=tflm.to_json(),
            sha256=settings.sha256, versions=_versions(), seconds=time.perf_counter() - started,
            config=config_to_dict(config))
        (out / "parity.json").write_text(json.dumps(report, indent=1, allow_nan=True) + "\n")
        (out / "parity.md").write_text(render_markdown(report))
    return ExportResult(run_dir / EXPORT_DIR, report)


def _simulated(config: KwsConfig, run_dir: Path, source: str, model: torch.nn.Module, payload: dict[str, Any],
               test_x: np.ndarray, tflite_pred: np.ndarray) -> dict[str, Any] | None:
    """For ptq/qat: the simulated int8 model (kws quantize) on the same clips, next to the TFLite model."""
    if source not in ("ptq", "qat"):
        return None
    import copy

    from kws.compress.qat import QatModel
    from kws.inference import predict

    summary_path = run_dir / f"quant_{source}.json"
    recorded = json.loads(summary_path.read_text())["int8_test_accuracy"] if summary_path.exists() else None
    # Rebuilt from the model already loaded (its own architecture), as kws.compress.quantize.load_quantized does.
    sim = QatModel(copy.deepcopy(model), config.frontend.input_scale, config.frontend.input_zero_point)
    sim.load_state_dict({**{f"model.{k}": v for k, v in payload["state_dict"].items()}, **payload["observers"]})
    sim.freeze_ranges()
    sim_pred = predict(sim.eval(), torch.as_tensor(test_x)).numpy()
    return {"file": summary_path.name, "recorded_test_accuracy": recorded,
            "predictions": sim_pred, "agreement_with_tflite": float(np.mean(sim_pred == tflite_pred))}


def _float_checkpoint_accuracy(config: KwsConfig, run_dir: Path, test_x: np.ndarray,
                               test_y: np.ndarray) -> float | None:
    path = run_dir / "model_float.pt"
    if not path.exists():
        return None
    from kws.checkpoint import load_checkpoint_model
    from kws.inference import predict

    model, _ = load_checkpoint_model(path, expect=config)
    return float(np.mean(predict(model, torch.as_tensor(test_x)).numpy() == test_y))


__all__ = ["EXPORT_DIR", "ExportResult", "SOURCES", "export_run", "load_source"]

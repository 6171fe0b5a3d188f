"""The parity table: every hop on the same test clips, against PyTorch float, plus artifact sizes.

    from export.parity import build_report, render_markdown, print_summary
    report = build_report(...)        # the dict written to runs/<run>/export/parity.json
    text = render_markdown(report)    # parity.md, kept for the final report

Targets (the issue's): int8 vs float top-1 agreement >= 99 %; accuracy drop int8 vs float <= 1 point
for post-training quantization, <= 0.3 points for QAT (and the TFLite int8 accuracy within 0.3 points
of QAT's simulated accuracy). A missed target does not stop the export: it is marked MISSED, in red,
in the CLI output and in parity.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

AGREEMENT_MIN = 0.99
PTQ_DROP_MAX = 0.01
QAT_DROP_MAX = 0.003
QAT_SIM_GAP_MAX = 0.003

HOP_TITLES = {
    "pytorch_float": "PyTorch float",
    "onnxruntime": "ONNX Runtime",
    "tensorflow": "TensorFlow SavedModel",
    "tflite_int8": "TFLite int8 (reference kernels)",
    "tflite_micro": "TFLite Micro",
    "aot_c": "AOT C (kws compile)",
}


def accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Top-1 accuracy (NaN for no clips)."""
    return float(np.mean(labels == predictions)) if labels.size else math.nan


@dataclass(frozen=True)
class Hop:
    """One hop's outputs on the test clips."""

    name: str
    predictions: np.ndarray
    max_abs_diff: float | None
    """Max |scores - PyTorch float scores| (int8 hops: dequantized), None if not comparable."""
    note: str = ""


def hop_rows(labels: np.ndarray, reference: np.ndarray, hops: Sequence[Hop]) -> list[dict[str, Any]]:
    """Accuracy, agreement with the reference predictions, and max abs diff per hop."""
    return [{"hop": hop.name, "title": HOP_TITLES.get(hop.name, hop.name),
             "accuracy": accuracy(labels, hop.predictions),
             "agreement_with_float": accuracy(reference, hop.predictions),
             "max_abs_diff": hop.max_abs_diff, "note": hop.note} for hop in hops]


def evaluate_targets(source: str, float_accuracy: float, int8_accuracy: float, agreement: float,
                     simulated_accuracy: float | None, float_checkpoint_accuracy: float | None) -> list[dict[str, Any]]:
    """The targets that apply to `source`, each with its value, limit and whether it was met."""
    targets = [{"name": "int8 vs float top-1 agreement", "value": agreement, "limit": AGREEMENT_MIN,
                "comparison": ">=", "ok": bool(agreement >= AGREEMENT_MIN)}]
    if source == "qat":
        base = float_checkpoint_accuracy if float_checkpoint_accuracy is not None else float_accuracy
        drop = base - int8_accuracy
        targets.append({"name": "accuracy drop, TFLite int8 vs float model (QAT)", "value": drop,
                        "limit": QAT_DROP_MAX, "comparison": "<=", "ok": bool(drop <= QAT_DROP_MAX + 1e-12)})
        if simulated_accuracy is not None:
            gap = abs(int8_accuracy - simulated_accuracy)
            targets.append({"name": "|TFLite int8 - QAT simulated int8| accuracy", "value": gap,
                            "limit": QAT_SIM_GAP_MAX, "comparison": "<=", "ok": bool(gap <= QAT_SIM_GAP_MAX + 1e-12)})
    else:
        drop = float_accuracy - int8_accuracy
        targets.append({"name": "accuracy drop, TFLite int8 vs float (PTQ)", "value": drop,
                        "limit": PTQ_DROP_MAX, "comparison": "<=", "ok": bool(drop <= PTQ_DROP_MAX + 1e-12)})
    return targets


def _pct(value: float | None) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.2f} %"


def _diff(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _target_value(target: dict[str, Any]) -> str:
    if "agreement" in target["name"]:
        return f"{100 * target['value']:.2f} % (>= {100 * target['limit']:.0f} %)"
    return f"{100 * target['value']:+.2f} points (<= {100 * target['limit']:.1f})"


def render_markdown(report: dict[str, Any]) -> str:
    """parity.md: the hop table, the targets (missed ones in red), sizes, arena, budget, ops."""
    lines = [f"# Export parity: run `{report['run']}` ({report['model']}, from {report['source']})", "",
             f"{report['test_clips']} test clips; labels {', '.join(report['labels'])}. "
             f"Reference: PyTorch float ({report['reference']}).", "",
             "| Hop | Accuracy | Top-1 agreement with PyTorch float | Max abs diff vs PyTorch (scores) |",
             "|---|---:|---:|---:|"]
    for row in report["hops"]:
        lines.append(f"| {row['title']} | {_pct(row['accuracy'])} | {_pct(row['agreement_with_float'])} | "
                     f"{_diff(row['max_abs_diff'])} |")
    tflm = report["tflite_micro"]
    if tflm["bit_exact"]:
        lines += ["", f"TFLite Micro vs TFLite reference kernels: bit-exact on all {report['test_clips']} clips."]
    else:
        lines += ["", f"TFLite Micro vs TFLite reference kernels: {tflm['mismatching_clips']} of "
                      f"{report['test_clips']} clips differ, each verified to be a FULLY_CONNECTED rounding tie "
                      f"(reference: one rounding, TFLite Micro: two; max {tflm['max_output_lsb']} LSB in the scores); "
                      f"all else bit-exact."]
    if report.get("simulated_int8"):
        sim = report["simulated_int8"]
        lines += [f"Simulated int8 ({sim['file']}): recorded test accuracy {_pct(sim['recorded_test_accuracy'])}, "
                  f"recomputed {_pct(sim['test_accuracy'])}, top-1 agreement with TFLite int8 "
                  f"{_pct(sim['agreement_with_tflite'])}."]
    if report.get("float_checkpoint_accuracy") is not None:
        lines += [f"Float checkpoint (model_float.pt) test accuracy: {_pct(report['float_checkpoint_accuracy'])}."]
    lines += ["", "## Targets", ""]
    for target in report["targets"]:
        mark = "met" if target["ok"] else '<span style="color:red">**MISSED**</span>'
        lines.append(f"- {target['name']}: {_target_value(target)}: {mark}")
    lines += ["", "## Artifacts", "", "| File | Bytes |", "|---|---:|"]
    for name, size in report["sizes"].items():
        lines.append(f"| `{name}` | {size:,} |")
    arena = report["arena"]
    budget = report["budget"]
    lines += ["", f"Tensor arena: {arena['minimum']:,} B smallest that ran (TFLM report: {arena['report_total']:,} B), "
                  f"+ {arena['margin']:,} B margin = **{arena['size']:,} B**.",
              f"Budget ({budget['board']['name']}): flash {budget['flash_used']:,} / {budget['flash_limit']:,} B, "
              f"RAM {budget['ram_used']:,} / {budget['ram_limit']:,} B (code and reserved RAM are estimates).",
              "", "Ops: " + ", ".join(f"{op['name']} v{op['version']} x{op['count']}" for op in report["ops"]), ""]
    return "\n".join(lines)


def print_summary(report: dict[str, Any], console: Any = None) -> None:
    """The hop table and targets on the terminal; missed targets in red."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title=f"export parity: {report['run']} ({report['model']}, from {report['source']}), "
                        f"{report['test_clips']} test clips")
    table.add_column("hop")
    table.add_column("accuracy", justify="right")
    table.add_column("agreement w/ float", justify="right")
    table.add_column("max |diff|", justify="right")
    for row in report["hops"]:
        table.add_row(row["title"], _pct(row["accuracy"]), _pct(row["agreement_with_float"]),
                      _diff(row["max_abs_diff"]))
    console.print(table)
    tflm = report["tflite_micro"]
    if tflm["bit_exact"]:
        console.print(f"TFLite Micro: bit-exact with the reference kernels on all {report['test_clips']} clips")
    else:
        console.print(f"TFLite Micro: {tflm['mismatching_clips']} clips differ from the reference kernels, each a "
                      f"verified FULLY_CONNECTED rounding tie (max {tflm['max_output_lsb']} LSB); all else bit-exact")
    for target in report["targets"]:
        style = "green" if target["ok"] else "bold red"
        word = "met" if target["ok"] else "MISSED"
        console.print(f"[{style}]{word}[/{style}]: {target['name']}: {_target_value(target)}")


def build_report_dict(*, run: str, source: str, checkpoint: str, model: str, labels: list[str],
                      test_labels: np.ndarray, reference_pred: np.ndarray, hops: Sequence[Hop],
                      simulated: dict[str, Any] | None, float_checkpoint_accuracy: float | None,
                      sizes: dict[str, int], arena: dict[str, Any], budget: dict[str, Any], ops: list[dict[str, Any]],
                      input_quantization: dict[str, Any], output_quantization: dict[str, Any], route: dict[str, Any],
                      tflm: dict[str, Any], sha256: str, versions: dict[str, str], seconds: float,
                      config: dict[str, Any], aot: dict[str, Any] | None = None) -> dict[str, Any]:
    """parity.json: everything the final report needs about this export."""
    rows = hop_rows(test_labels, reference_pred, hops)
    by_name = {row["hop"]: row for row in rows}
    int8 = by_name["tflite_int8"]
    sim_out = None
    if simulated is not None:
        sim_pred = simulated["predictions"]
        sim_out = {"file": simulated["file"], "recorded_test_accuracy": simulated["recorded_test_accuracy"],
                   "test_accuracy": accuracy(test_labels, sim_pred),
                   "agreement_with_tflite": simulated["agreement_with_tflite"]}
    targets = evaluate_targets(source, by_name["pytorch_float"]["accuracy"], int8["accuracy"],
                               int8["agreement_with_float"], sim_out["test_accuracy"] if sim_out else None,
                               float_checkpoint_accuracy)
    return {
        "run": run, "source": source, "checkpoint": checkpoint, "model": model, "labels": labels,
        "test_clips": int(test_labels.size),
        "reference": ("the exported network in float: batch norm folded"
                      + (", int8-grid weights" if source == "qat" else "")),
        "hops": rows,
        "tflite_micro": tflm,
        "simulated_int8": sim_out, "float_checkpoint_accuracy": float_checkpoint_accuracy,
        "targets": targets, "all_targets_met": all(t["ok"] for t in targets),
        "sizes": sizes, "arena": arena, "budget": budget, "ops": ops,
        "input_quantization": input_quantization, "output_quantization": output_quantization,
        "route": route, "model_sha256": sha256, "versions": versions, "seconds": round(seconds, 1),
        "config": config, "aot": aot,
    }

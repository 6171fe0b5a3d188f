"""`kws export`: the whole chain for one run, every hop checked, all artifacts or none.

    from export.pipeline import export_run
    from kws.run import Run
    result = export_run(config, Run.named("demo"), source="float")      # or "ptq", "qat", "pruned"

Reads the run's model_<source>.pt, calibration.json and the dataset. Writes the run's export folder as a
whole (built under a temporary name, renamed on success; a failure at any hop leaves the previous export
untouched and no partial files):
  model.onnx                 hop 1: PyTorch -> ONNX (dynamo, opset 18), checked with ONNX Runtime
  saved_model/               hop 2: onnx2tf, checked with TensorFlow
  model_int8.tflite          hop 3: full-integer int8, input quantization = the frontend's
  ops.json                   the op audit (ops, versions, TFLM resolver methods)
  aot/                       kws_model_aot.c/.h: the model compiled to plain C (kws compile), equal to TFLite
                             Micro on every test clip (the "AOT C" row); the boards' default backend
  generated/                 model_data.cc/.h, kws_settings.h, kws_frontend_tables.h, device_settings.json
  parity.json, parity.md     the parity table (hop 4, TFLite Micro, is checked bit for bit against TFLite)

Sources: 'float' (model_float.pt, the converter calibrates on the recorded calibration set), 'ptq' and
'qat' (model_ptq.pt / model_qat.pt from `kws quantize`: their recorded activation ranges are used, and
QAT weights are snapped to the int8 grid), 'pruned' (model_pruned.pt, possibly with fewer filters).
The hops are export.hops, their inputs export.inputs, the report export.report.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from export import hops
from export.inputs import load_data, load_source
from export.layout import ExportFolder
from export.report import Chain, parity_report, write_parity
from kws.config import KwsConfig
from kws.device.budget import BoardBudget, board_budget
from kws.fsutil import atomic_directory
from kws.run import Run


@dataclass(frozen=True)
class ExportResult:
    """A finished export."""

    export_dir: Path
    report: dict[str, Any]
    """The parity report, as written to parity.json."""

    @property
    def targets_met(self) -> bool:
        return all(t["ok"] for t in self.report["targets"])


def export_run(config: KwsConfig, run: Run, source: str = "float", *, board: str | BoardBudget | None = None,
               progress: bool = True, log: Callable[[str], None] | None = None) -> ExportResult:
    """Export a run (see the module docstring). Every KwsError names the hop and the file at fault."""
    if not isinstance(run, Run):
        raise TypeError(f"export_run takes a kws.run.Run, not {type(run).__name__} (Run.named(name) or Run.at(path))")
    say = log or (lambda _text: None)
    config.validate()
    # Refusals that need no work come first: an unknown board, then a missing or foreign checkpoint.
    budget_spec = board_budget(board if board is not None else config.deploy.board)
    model = load_source(config, run, source)
    started = time.perf_counter()
    data = load_data(config, run, progress=progress, say=say)
    reference = hops.pytorch_float(model, data)

    with atomic_directory(run.export_dir, replace=True) as building, \
            tempfile.TemporaryDirectory(prefix="kws-export-") as scratch:
        folder = ExportFolder(building, run)
        onnx = hops.to_onnx(model, folder.onnx)
        onnxruntime = hops.check_onnxruntime(onnx, data, reference, say)
        saved = hops.to_saved_model(onnx, folder.saved_model, Path(scratch))
        tensorflow = hops.check_tensorflow(saved, data, reference, say)
        int8 = hops.to_int8(saved, data, config, model, folder.model_int8, say)
        ops = hops.audit(int8, config, folder.ops, say)
        tflm = hops.check_tflm(int8, data, config, say)
        aot = hops.compile_aot(int8, folder.model_int8, folder.aot, data, tflm, Path(scratch), say)
        budget = hops.check_fit(budget_spec, int8, tflm, say)
        settings = hops.generate_c(folder.generated, config, model, int8, ops, tflm, budget,
                                   regenerate=f"kws export --run {run.name} --from {source}")
        chain = Chain(reference, onnx, onnxruntime, saved, tensorflow, int8, ops, tflm, budget, settings, aot)
        report = write_parity(folder, parity_report(run, config, model, data, chain, folder,
                                                    time.perf_counter() - started))
    return ExportResult(run.export_dir, report)


__all__ = ["ExportResult", "export_run", "load_source"]

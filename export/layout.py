"""The files of one export folder: what the Run names, plus the few names only the export knows.

    from export.layout import ExportFolder
    folder = ExportFolder(building, run)     # `building` becomes run.export_dir when the export succeeds
    folder.onnx, folder.saved_model, folder.model_int8, folder.ops, folder.generated, folder.parity

Other stages read model_int8.tflite, generated/ and parity.json, so the Run names those (kws/run.py); the
intermediate files below are the export's own. The export is built under a temporary name and renamed
on success, so each Run path is taken relative to run.export_dir and moved into the folder being built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kws.run import Run

ONNX_MODEL = "model.onnx"
"""Hop 1's output (PyTorch -> ONNX)."""
SAVED_MODEL = "saved_model"
"""Hop 2's output (onnx2tf), a folder."""
OPS_AUDIT = "ops.json"
"""The op audit of the int8 model."""
PARITY_MARKDOWN = "parity.md"
"""parity.json as a table for people (parity.json itself is the Run's: Make's target)."""


@dataclass(frozen=True)
class ExportFolder:
    """Paths inside the export folder being built (`root`) for `run`."""

    root: Path
    run: Run

    def _moved(self, run_path: Path) -> Path:
        return self.root / run_path.relative_to(self.run.export_dir)

    @property
    def aot(self) -> Path:
        """The model compiled to plain C (kws compile): the boards' default backend."""
        return self._moved(self.run.aot_dir)

    @property
    def onnx(self) -> Path:
        return self.root / ONNX_MODEL

    @property
    def saved_model(self) -> Path:
        return self.root / SAVED_MODEL

    @property
    def model_int8(self) -> Path:
        return self._moved(self.run.export_model)

    @property
    def ops(self) -> Path:
        return self.root / OPS_AUDIT

    @property
    def generated(self) -> Path:
        return self._moved(self.run.generated_dir)

    @property
    def parity(self) -> Path:
        return self._moved(self.run.parity)

    @property
    def parity_markdown(self) -> Path:
        return self.root / PARITY_MARKDOWN


__all__ = ["ExportFolder", "ONNX_MODEL", "OPS_AUDIT", "PARITY_MARKDOWN", "SAVED_MODEL"]

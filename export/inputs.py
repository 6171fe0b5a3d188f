"""What the export starts from: the checkpoint (`--from`), the test split and the calibration set of a run.

    from export.inputs import load_source, load_data
    source = load_source(config, run, "qat")     # CheckpointError for a missing, foreign or mislabelled file
    data = load_data(config, run)                 # test features (float and int8), labels, calibration features

Also the two figures the parity table sets beside the exported model: the simulated int8 model of
`kws quantize` (ptq/qat) and the float checkpoint's accuracy (qat), on the same test clips.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from export.errors import ExportError
from kws.config import KwsConfig
from kws.run import CHECKPOINT_SOURCES, Run

if TYPE_CHECKING:
    import torch

    from export.onnx_export import DeployModel

# `kws` commands that write each checkpoint (named in the error when it is missing).
_MAKES = {"float": "kws train", "ptq": "kws quantize --method ptq", "qat": "kws quantize --method qat",
          "pruned": "kws prune"}


@dataclass(frozen=True)
class SourceModel:
    """The checkpoint an export starts from, and the network as the device will run it."""

    source: str
    """The --from value: float, ptq, qat or pruned."""
    checkpoint: Path
    model: "torch.nn.Module"
    payload: dict[str, Any]
    """The checkpoint as saved (kws.checkpoint): weights, kind, activation ranges, observers."""
    deploy: "DeployModel"
    """Batch norm folded, softmax on top, QAT weights on the int8 grid (export.onnx_export)."""

    @property
    def unit_ranges(self) -> list[tuple[str, tuple[float, float]]] | None:
        """The activation ranges `kws quantize` recorded (ptq/qat), which the int8 model must use."""
        return list(self.payload["activation_ranges"].items()) if self.source in ("ptq", "qat") else None


def load_source(config: KwsConfig, run: Run, source: str) -> SourceModel:
    """The run's model_<source>.pt, checked against the config; clear errors for anything amiss."""
    from export.onnx_export import DeployModel
    from kws.checkpoint import CheckpointError, load_checkpoint_model

    if source not in CHECKPOINT_SOURCES:
        raise ExportError(f"unknown export source {source!r}; choose one of {', '.join(CHECKPOINT_SOURCES)}")
    path = run.model_checkpoint(source)
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist; run `{_MAKES[source]} --run {run.name}` first")
    model, payload = load_checkpoint_model(path, expect=config)
    if payload["model"]["name"] != config.model.name:
        raise CheckpointError(f"{path} holds a {payload['model']['name']!r} model but the config asks for "
                              f"{config.model.name!r}")
    if payload.get("kind", "float") != source:  # the kind recorded in a checkpoint is the name it belongs under
        raise CheckpointError(f"{path} is a {payload.get('kind')!r} checkpoint, not {source!r}; it does not belong "
                              f"under that name")
    if source in ("ptq", "qat") and not payload.get("activation_ranges"):
        raise CheckpointError(f"{path} records no activation ranges; re-run `kws quantize --method {source}`")
    model.eval()
    return SourceModel(source, path, model, payload, DeployModel(model, snap_weights=(source == "qat")))


@dataclass(frozen=True)
class ExportData:
    """The clips every hop is checked on, and the features the int8 converter calibrates on."""

    features: np.ndarray
    """Test split, float32 [clips, frames, features]: dequantized int8 features, as the device computes them."""
    labels: np.ndarray
    int8: np.ndarray
    """The same features as the device's int8 (the int8 hops' input)."""
    calibration: np.ndarray
    """The recorded calibration clips (calibration.json) through the same frontend, float32."""


def _quantize_features(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    # The features are dequantized int8 values, so this recovers the device's int8 exactly.
    return np.clip(np.rint(x / scale) + zero_point, -128, 127).astype(np.int8)


def load_data(config: KwsConfig, run: Run, *, progress: bool = True,
              say: Callable[[str], None] = lambda _text: None) -> ExportData:
    """Test split and calibration features of the run's dataset; ExportError for an empty test split."""
    from kws.compress.quantize import calibration_audio
    from kws.prepared_data import FeatureExtractor, prepare_data

    say(f"data: loading splits of {config.data.data_dir} and the calibration set")
    extractor = FeatureExtractor(config)
    data = prepare_data(config, extractor, progress=progress)
    if data.test_features.shape[0] == 0:
        raise ExportError(f"the test split of {config.data.data_dir} is empty; the parity table needs test clips")
    audio = calibration_audio(config, run, data.batches.bank, data.batches.augmenter)
    calibration = np.concatenate([extractor(audio[i:i + 100]).numpy() for i in range(0, len(audio), 100)])
    features = data.test_features.numpy().astype(np.float32)
    frontend = config.frontend
    return ExportData(features, data.test_labels.numpy(),
                      _quantize_features(features, frontend.input_scale, frontend.input_zero_point), calibration)


def simulated_int8(config: KwsConfig, run: Run, source: SourceModel, data: ExportData,
                   tflite_pred: np.ndarray) -> dict[str, Any] | None:
    """For ptq/qat: the simulated int8 model (kws quantize) on the same clips, next to the TFLite model."""
    if source.source not in ("ptq", "qat"):
        return None
    import copy
    import json

    import torch

    from kws.compress.qat import QatModel
    from kws.inference import predict

    summary_path = run.quant_report(source.source)
    recorded = json.loads(summary_path.read_text())["int8_test_accuracy"] if summary_path.exists() else None
    # Rebuilt from the model already loaded (its own architecture), as kws.compress.quantize.load_quantized does.
    sim = QatModel(copy.deepcopy(source.model), config.frontend.input_scale, config.frontend.input_zero_point)
    sim.load_state_dict({**{f"model.{k}": v for k, v in source.payload["state_dict"].items()},
                         **source.payload["observers"]})
    sim.freeze_ranges()
    sim_pred = predict(sim.eval(), torch.as_tensor(data.features)).numpy()
    return {"file": summary_path.name, "recorded_test_accuracy": recorded,
            "predictions": sim_pred, "agreement_with_tflite": float(np.mean(sim_pred == tflite_pred))}


def float_checkpoint_accuracy(config: KwsConfig, run: Run, source: SourceModel, data: ExportData) -> float | None:
    """For qat: the float checkpoint's test accuracy (QAT's accuracy drop is measured from it)."""
    if source.source != "qat" or not run.float_model.exists():
        return None
    import torch

    from kws.checkpoint import load_checkpoint_model
    from kws.inference import predict

    model, _ = load_checkpoint_model(run.float_model, expect=config)
    return float(np.mean(predict(model, torch.as_tensor(data.features)).numpy() == data.labels))


__all__ = ["ExportData", "SourceModel", "float_checkpoint_accuracy", "load_data", "load_source", "simulated_int8"]

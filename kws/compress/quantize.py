"""`kws quantize`: simulate post-training quantization, or fine-tune with quantization-aware training.

    kws quantize --run demo --method ptq     # calibrate int8 ranges on the recorded calibration set
    kws quantize --run demo --method qat     # fine-tune model_float.pt with int8 simulation in the loop

Reads runs/<run>/model_float.pt and calibration.json (written by `kws train`), writes
runs/<run>/model_<method>.pt (float weights + observed activation ranges) and
runs/<run>/quant_<method>.json with the simulated int8 accuracy on the validation and test splits
next to the float accuracy. The export stage later converts to a real int8 TFLite model and checks
its accuracy against these simulated figures (QAT: within 0.3 points).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from kws.checkpoint import load_checkpoint, restore_model, save_checkpoint
from kws.compress.qat import QatModel
from kws.config import KwsConfig, replace
from kws.errors import KwsError
from kws.fsutil import write_json
from kws.prepared_data import data_root, dataset_relative, same_clip
from kws.run import Run, as_run


@dataclass(frozen=True)
class QuantResult:
    """Simulated int8 accuracy next to float."""

    method: str
    """'ptq' or 'qat'."""
    float_test_accuracy: float
    """model_float.pt on the test split."""
    int8_test_accuracy: float
    """The simulated int8 model on the test split."""
    int8_val_accuracy: float
    """The simulated int8 model on the validation split."""
    checkpoint: Path
    """The written model_<method>.pt."""


def calibration_audio(config: KwsConfig, run: Run, bank: Any, augmenter: Any) -> np.ndarray:
    """The recorded calibration clips (training split, no augmentation), float32 [N, samples]."""
    path = run.calibration_clips
    if not path.exists():
        raise KwsError(f"{path} is missing; run `kws train --run {run.name}` first (it records the calibration set)")
    recorded = json.loads(path.read_text())
    rows = np.asarray(recorded["rows"], dtype=np.int64)
    if rows.size == 0 or rows.max() >= len(bank):
        raise KwsError(f"{path} does not match the training split of {config.data.data_dir}; retrain or restore "
                       f"the data")
    root = data_root(config)
    for row, example in zip(rows, recorded["examples"]):
        if not same_clip(example["path"], bank.examples[row].path, root):
            raise KwsError(f"{path}: row {row} was {example['path']!r} but the dataset in {root} now has "
                           f"{dataset_relative(bank.examples[row].path, root)!r} there: the clip list changed "
                           f"since training (other files or data settings); retrain, or point data.data_dir at "
                           f"the dataset the run was trained on")
    return augmenter.eval_audio(np.asarray(bank.audio[rows]), bank.generated_silence[rows], rows)


def quantize(config: KwsConfig, run: "Run | str | Path", method: str | None = None, *,
             progress: bool = True) -> QuantResult:
    """Run PTQ calibration or QAT fine-tuning for the run; see the module docstring."""
    from tqdm import tqdm

    from kws.data.augment import TrainingBatches
    from kws.inference import evaluate_accuracy
    from kws.models import build_model
    from kws.prepared_data import FeatureExtractor, prepare_data

    run = as_run(run)
    method = method or config.quantization.method
    config = replace(config, quantization=replace(config.quantization, method=method))
    config.validate()
    payload = load_checkpoint(run.float_model, expect=config)
    model = build_model(config.model, config.frontend, len(config.data.labels()))
    restore_model(payload, model, run.float_model)

    extractor = FeatureExtractor(config)
    data = prepare_data(config, extractor, progress=progress)
    float_test = evaluate_accuracy(model, data.test_features, data.test_labels)

    qat = QatModel(model, config.frontend.input_scale, config.frontend.input_zero_point)
    batches: TrainingBatches = data.batches
    calib = calibration_audio(config, run, batches.bank, batches.augmenter)
    # Calibrate ranges on the recorded set first (this alone is PTQ; QAT starts from these ranges).
    qat.use_minmax()
    qat.train()
    model.eval()  # dropout off and batch-norm statistics frozen while calibrating
    with torch.no_grad():
        for start in range(0, len(calib), 100):
            qat(extractor(calib[start:start + 100]))
    started = time.perf_counter()
    steps = 0
    if method == "qat":
        steps = config.quantization.qat_steps
        qat.use_moving_average()
        optimizer = torch.optim.Adam(model.parameters(), lr=config.quantization.qat_learning_rate)
        freeze_at = int(steps * 0.9)  # last 10 %: ranges frozen so weights settle against fixed quantizers
        for step in tqdm(range(steps), desc="QAT fine-tune", unit="step", disable=not progress, dynamic_ncols=True):
            if step == freeze_at:
                qat.freeze_ranges()
            audio, y = batches.batch(10_000_000 + step)  # a stream disjoint from the float run's steps
            qat.train()  # batch norm stays fixed anyway: QuantOps folds it with its running statistics
            loss = F.cross_entropy(qat(extractor(audio)), torch.as_tensor(y))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    qat.freeze_ranges()
    qat.eval()
    int8_val = evaluate_accuracy(qat, data.val_features, data.val_labels)
    int8_test = evaluate_accuracy(qat, data.test_features, data.test_labels)
    checkpoint = run.model_checkpoint(method)
    save_checkpoint(checkpoint, model=model, config=config, step=steps, kind=method,
                    extra={"activation_ranges": qat.activation_ranges(),
                           "observers": {k: v for k, v in qat.state_dict().items() if k.startswith("observers.")}})
    report = {
        "method": method, "float_test_accuracy": float_test, "int8_val_accuracy": int8_val,
        "int8_test_accuracy": int8_test, "calibration_clips": int(len(calib)), "finetune_steps": steps,
        "seconds": time.perf_counter() - started, "activation_ranges": qat.activation_ranges(),
        "quantized_outputs": list(qat.quantized_outputs),
    }
    write_json(run.quant_report(method), report)
    return QuantResult(method, float_test, int8_test, int8_val, checkpoint)


def load_quantized(config: KwsConfig, checkpoint: str | Path) -> QatModel:
    """Rebuild the simulated int8 model from model_ptq.pt / model_qat.pt."""
    from kws.models import build_model

    payload = load_checkpoint(checkpoint, expect=config)
    model = build_model(config.model, config.frontend, len(config.data.labels()))
    restore_model(payload, model, checkpoint)
    qat = QatModel(model, config.frontend.input_scale, config.frontend.input_zero_point)
    qat.load_state_dict({**{f"model.{k}": v for k, v in payload["state_dict"].items()}, **payload["observers"]})
    qat.freeze_ranges()
    return qat.eval()

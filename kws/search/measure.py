"""A trial's objectives, from what its stages wrote: the last step of every trial's chain.

    python -m kws.search.measure --run t0007        # in the search folder; writes runs/t0007/search_trial.json

- val_accuracy: the exported int8 model (model_int8.tflite) on the run's validation split, run by the TensorFlow
  Lite Micro runtime on the int8 features the device computes. The compiled C model equals TFLite Micro on every
  test clip (the export checks it), so this is the board's accuracy, without feeding a thousand clips to QEMU.
- instructions: the M4 board's inference time from `kws eval --board m4` (QEMU -icount shift=0: 1 us of board time
  is 1,000 instructions, so +-1,000); frontend_instructions_per_frame the same for the firmware frontend.
- flash, ram: the linker's figures of that firmware (the Nano 33 BLE Sense's memory map, no mbed core).
Also recorded: the float checkpoint's validation accuracy, the TFLite int8 test accuracy, MACs, parameters,
model bytes, activation and weight bytes of the compiled model.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from kws.errors import KwsError
from kws.fsutil import write_json
from kws.run import Run

INSTRUCTIONS_PER_US = 1000
"""-icount shift=0: one instruction advances the board's clock 1 ns."""


def validation_accuracy(run: Run) -> tuple[float, int]:
    """(accuracy, clips) of the run's exported int8 model on its validation split (TFLite Micro runtime)."""
    from kws.device.artifacts import ExportedModel
    from kws.device.emulator import TflmModel
    from kws.eval.metrics import accuracy
    from kws.prepared_data import FeatureExtractor, prepare_data

    config = run.config()
    exported = ExportedModel.load(run, config=config)
    data = prepare_data(config, FeatureExtractor(config), progress=False)
    frontend = config.frontend
    features = data.val_features.numpy()
    q = np.clip(np.rint(features / frontend.input_scale) + frontend.input_zero_point, -128, 127).astype(np.int8)
    model = TflmModel(exported.model, exported.arena_bytes)
    scores = np.stack([model(x) for x in q]) if len(q) else np.zeros((0, len(exported.labels)), np.int8)
    truth = data.val_labels.numpy()
    return float(accuracy(truth, scores.argmax(axis=1))), int(len(q))


def _read(path: Any, what: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KwsError(f"{path} is missing: {what} did not finish") from None


def measure(run: Run) -> dict[str, Any]:
    """Every figure of the module docstring, as written to search_trial.json."""
    summary = _read(run.eval_summary, "kws eval --board m4")
    parity = _read(run.parity, "kws export")
    metrics = _read(run.metrics, "kws train")
    firmware = summary.get("firmware")
    if not firmware:
        raise KwsError(f"{run.eval_summary} has no firmware figures: the evaluation did not run on the M4 board")
    latency = summary["latency"]
    val_accuracy, val_clips = validation_accuracy(run)
    hops = {hop["hop"]: hop for hop in parity["hops"]}
    aot = parity.get("aot") or {}
    return {
        "val_accuracy": val_accuracy,
        "val_clips": val_clips,
        "instructions": int(round(latency["inference"]["p50"] * INSTRUCTIONS_PER_US)),
        "frontend_instructions_per_frame": int(round(latency["frontend"]["p50"] * INSTRUCTIONS_PER_US)),
        "flash": int(firmware["flash_used"]),
        "ram": int(firmware["ram_used"]),
        "float_val_accuracy": metrics.get("best_val_accuracy"),
        "test_accuracy_int8": hops.get("tflite_int8", {}).get("accuracy"),
        "test_clips": parity.get("test_clips"),
        "board_clips": summary.get("clips", int(latency["inference"]["count"])),
        "macs": aot.get("macs"),
        "weight_bytes": aot.get("weight_bytes_dsp"),
        "activation_bytes": aot.get("activation_bytes_dsp"),
        "model_bytes": parity.get("sizes", {}).get("model_int8.tflite"),
        "export_source": parity.get("source"),
        "clock": summary.get("clock"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kws.search.measure", description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="the trial's run name (in the search folder's runs/)")
    args = parser.parse_args(argv)
    try:
        run = Run.named(args.run)
        write_json(run.search_trial, measure(run))
    except KwsError as exc:
        print(f"kws: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

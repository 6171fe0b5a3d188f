"""A small exported run for device tests, made in seconds: runs/<run>/ exactly as `kws export` lays it out.

    from tiny_export import build_tiny_export
    run_dir = build_tiny_export(tmp_path / "runs" / "tiny")     # config.toml + export/ (model, generated C)

Why not the trained run of tests/test_export.py: that fixture is module-scoped there and costs ~45 s
(synthetic set, training, onnx2tf), too slow to share with the emulator and flash tests (< 90 s each).
This builds the graph tiny_conv converts to (RESHAPE, CONV_2D 10x8 stride 2 SAME + ReLU, RESHAPE,
FULLY_CONNECTED, SOFTMAX) straight in TensorFlow with seeded weights (export.seeded_models), then goes
through the export stage's own code for everything after hop 2: `export.tf_convert.convert_int8` (input pinned to the
frontend's quantization), `export.audit.audit_ops`, `export.tflm_check.find_arena` and
`kws.device.generated_c.write_generated` (which also writes generated/device_settings.json); paths come from
`kws.run.Run`. The weights are random but the "yes" output has a bias, so scores vary from clip to clip
and the recognizer still detects "yes" on speech (what the monitor test needs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kws.config import KwsConfig, load_config, write_resolved_config
from kws.fsutil import write_json
from kws.run import Run

FILTERS = 4
# Recognizer defaults for this model: a low threshold so its biased, noisy "yes" is detected on speech.
DEPLOY = ["deploy.detection_threshold=90", "deploy.minimum_count=2", "deploy.suppression_ms=1000"]


def tiny_config() -> KwsConfig:
    """The config of the tiny run (labels _silence_, _unknown_, yes, no; default log-mel frontend)."""
    return load_config(None, DEPLOY)


def build_tiny_export(run_dir: Path, seed: int = 11) -> Path:
    """Write run_dir/config.toml and run_dir/export/ (model_int8.tflite, ops.json, parity.json with the
    arena figures, generated/); returns run_dir."""
    from export.audit import audit_ops
    from export.layout import OPS_AUDIT
    from export.seeded_models import noise_and_tone_features, save_module, tiny_conv_module
    from export.tf_convert import convert_int8
    from export.tflm_check import find_arena
    from kws.device.budget import check_budget
    from kws.device.generated_c import DeviceSettings, sha256_hex, write_generated

    config = tiny_config()
    run = Run.at(run_dir)
    run.export_dir.mkdir(parents=True)
    write_resolved_config(config, run.dir)
    fc_bias = np.zeros(len(config.data.labels()), np.float32)
    fc_bias[2] = 1.0  # "yes"
    module = tiny_conv_module(config, seed=seed, filters=FILTERS, kernel_std=0.05, fc_std=0.02, fc_bias=fc_bias)
    saved_model = save_module(module, run.dir / "saved_model")  # scratch of this helper, outside the export folder
    calibration = noise_and_tone_features(config, clips=24)
    conversion = convert_int8(saved_model, calibration, config.frontend)
    model = conversion.model
    run.export_model.write_bytes(model)
    audit = audit_ops(model, "tiny_conv")
    write_json(run.export_dir / OPS_AUDIT, audit.to_json())
    q = np.clip(np.rint(calibration / config.frontend.input_scale) + config.frontend.input_zero_point,
                -128, 127).astype(np.int8)
    arena = find_arena(model, q[:1])
    margin = config.deploy.arena_margin_bytes
    arena_size = -(-(max(arena.minimum, arena.report_total) + margin) // 16) * 16
    budget = check_budget("nano33ble", len(model), arena_size)
    info = conversion.info
    settings = DeviceSettings(
        model_name=audit.model_name, source="float", sha256=sha256_hex(model), frames=config.frontend.num_frames,
        features=config.frontend.num_features, input_scale=float(info.input.scale),
        input_zero_point=int(info.input.zero_point), output_scale=float(info.output.scale),
        output_zero_point=int(info.output.zero_point), labels=tuple(config.data.labels()),
        arena_measured=arena.minimum, arena_margin=margin, arena_size=arena_size,
        op_names=tuple(op.name for op in audit.ops), resolver_methods=audit.resolver_methods, board="nano33ble")
    write_generated(run.generated_dir, config, model, settings, f"tests/tiny_export.py (seed {seed})")
    write_json(run.parity, {
        "model_sha256": settings.sha256, "arena": {"minimum": arena.minimum, "size": arena_size},
        "budget": budget.to_json(), "note": "tiny test export: no parity table"})
    return run.dir

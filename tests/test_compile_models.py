"""Whole models compiled to C equal the tflite_micro runtime byte for byte on real features.

tiny_conv (the exported test run, tests/tiny_export.py), DS-CNN on log-mel and on MFCC (seeded weights, the
export stage's converter), and MLPerf Tiny's DS-CNN int8 reference model (../shared/models). Features come
from real Speech Commands clips (../shared/data/sc-real-dev); host builds run with ASan + UBSan.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from compile_models import ds_cnn_tflite, real_features, tflm_outputs
from conftest import REPO_ROOT, fail_or_skip

MLPERF_MODEL = REPO_ROOT.parent / "shared" / "models" / "mlperf_tiny_kws_ref_model.tflite"


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> Path:
    from kws.device.cbuild import CBuildError, compiler, sanitizer_support

    try:
        ok, reason = sanitizer_support(compiler())
    except CBuildError as exc:
        fail_or_skip(str(exc))
    if not ok:
        fail_or_skip(f"sanitizers unavailable: {reason}")
    return tmp_path_factory.mktemp("aot_models_build")


def _compile_and_check(model_path: Path, features: np.ndarray, build_dir: Path, out: Path) -> None:
    from kws.compile import compile_tflite
    from kws.compile.host_runner import HostModel, run_program

    result = compile_tflite(model_path, out)
    x = features.reshape(len(features), -1).astype(np.int8)
    golden = tflm_outputs(model_path.read_bytes(), x)
    sanitized = run_program(result, x, sanitize=True, build_dir=build_dir)
    np.testing.assert_array_equal(sanitized, golden, err_msg=f"{model_path.name}: ASan build differs from TFLM")
    fast = HostModel.build(result, build_dir=build_dir)(x)  # -O2 shared library (what `aot_outputs` uses)
    np.testing.assert_array_equal(fast, golden, err_msg=f"{model_path.name}: -O2 build differs from TFLM")
    assert len(np.unique(golden, axis=0)) > 1, "degenerate test: every clip gave the same scores"


def test_tiny_conv_export_on_real_logmel(tiny_export, sc_real_dev, build_dir, tmp_path):
    features = real_features(sc_real_dev, "logmel", count=12)
    _compile_and_check(tiny_export / "export" / "model_int8.tflite", features, build_dir, tmp_path / "gen")


@pytest.mark.parametrize("feature_type", ["logmel", "mfcc"])
def test_ds_cnn_on_real_features(feature_type, sc_real_dev, build_dir, tmp_path):
    model = tmp_path / "ds_cnn.tflite"
    model.write_bytes(ds_cnn_tflite(tmp_path, feature_type))
    features = real_features(sc_real_dev, feature_type, count=8)
    _compile_and_check(model, features, build_dir, tmp_path / "gen")


def test_mlperf_tiny_reference_model(sc_real_dev, build_dir, tmp_path):
    """The MLPerf Tiny DS-CNN on our real MFCCs requantized to its input (scale 0.585, zero point 83)."""
    if not MLPERF_MODEL.exists():
        fail_or_skip(f"{MLPERF_MODEL} is absent (../shared/models)")
    from kws.compile.tflite_reader import read_tflite
    from kws.config import load_config

    raw = read_tflite(MLPERF_MODEL.read_bytes())
    q = raw.tensors[raw.inputs[0]].quantization
    cfg = load_config(None, ['frontend.feature_type="mfcc"']).frontend
    ours = real_features(sc_real_dev, "mfcc", count=12).astype(np.float64)
    real = (ours - cfg.input_zero_point) * cfg.input_scale
    theirs = np.clip(np.round(real / float(q.scale[0])) + int(q.zero_point[0]), -128, 127).astype(np.int8)
    _compile_and_check(MLPERF_MODEL, theirs, build_dir, tmp_path / "gen")


def test_aot_outputs_helper_for_the_export_parity_row(tmp_path):
    """kws.compile.host_runner.aot_outputs: compile + host build + run in one call (what `kws export` uses)."""
    if not MLPERF_MODEL.exists():
        fail_or_skip(f"{MLPERF_MODEL} is absent (../shared/models)")
    from kws.compile.host_runner import aot_outputs

    x = np.random.default_rng(9).integers(-128, 128, (5, 490), dtype=np.int8)
    np.testing.assert_array_equal(aot_outputs(MLPERF_MODEL, x, build_dir=tmp_path),
                                  tflm_outputs(MLPERF_MODEL.read_bytes(), x))

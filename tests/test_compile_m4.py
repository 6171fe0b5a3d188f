"""Compiled models on the Cortex-M4 (QEMU mps2-an386) equal the tflite_micro runtime byte for byte, with the
DSP kernels (SMLAD; the default on the M4) and with the portable ones (KWS_KERNELS_PORTABLE).

The same kinds of models as the host tests: random single-op models of every op (tests/compile_models.py),
DS-CNN on real MFCCs and the MLPerf Tiny model. Needs arm-none-eabi-gcc and qemu-system-arm: fails in CI
when they are missing, skips elsewhere.

    .venv/bin/python -m pytest -q tests/test_compile_m4.py -s     # -s prints instructions per inference
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from compile_models import ds_cnn_tflite, random_op_models, real_features, tflm_outputs, tiny_conv_tflite
from conftest import REPO_ROOT, fail_or_skip

FLAVOURS = ("dsp", "portable")
CASES_PER_KIND = {"conv": 8, "depthwise": 10, "fc": 6, "avgpool": 4, "maxpool": 4, "softmax": 3, "add": 4, "mean": 3,
                  "chain": 10}
MLPERF_MODEL = REPO_ROOT.parent / "shared" / "models" / "mlperf_tiny_kws_ref_model.tflite"


@pytest.fixture(scope="module")
def m4_run(tmp_path_factory):
    """Compile flatbuffers (distinct names), run them all in one M4 program: m4_run(models, inputs, flavour)."""
    from compile_models import m4_compiler

    from kws.device import m4

    problem = m4.toolchain_problem()
    if problem:
        fail_or_skip(problem)
    compile_and_run = m4_compiler(tmp_path_factory.mktemp("aot_m4"))

    def run(models: list[bytes], inputs: list[np.ndarray], flavour: str, profile: bool = False):
        return compile_and_run(models, inputs, flavour, profile=profile)[1]

    return run


def _inputs(model: bytes, count: int = 6, seed: int = 0) -> np.ndarray:
    from compile_models import random_inputs

    return random_inputs(model, count, seed)


def _assert_equal(name: str, got: np.ndarray, golden: np.ndarray) -> None:
    diff = np.argwhere(got != golden)
    assert not len(diff), (f"{name}: {len(diff)} of {golden.size} outputs differ from TFLM, first at "
                           f"{diff[0].tolist()}: {int(got[tuple(diff[0])])} vs {int(golden[tuple(diff[0])])}")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_random_single_op_models_on_the_m4(m4_run, flavour):
    cases = [case for i, (kind, n) in enumerate(CASES_PER_KIND.items()) for case in random_op_models(kind, n, 31 + i)]
    inputs = [_inputs(model) for _, model in cases]
    runs = m4_run([model for _, model in cases], inputs, flavour)
    for (name, model), x, run in zip(cases, inputs, runs):
        _assert_equal(f"{name} ({flavour})", run.outputs, tflm_outputs(model, x))


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_project_models_and_mlperf_model_on_the_m4(m4_run, flavour, sc_real_dev, tmp_path):
    """tiny_conv (as CONV_2D and as TFLite's depthwise x8), DS-CNN on log-mel and MFCC, on real features;
    the MLPerf Tiny DS-CNN on random inputs."""
    if not MLPERF_MODEL.exists():
        fail_or_skip(f"{MLPERF_MODEL} is absent (../shared/models)")
    logmel = real_features(sc_real_dev, "logmel", count=3).reshape(3, -1)
    mfcc = real_features(sc_real_dev, "mfcc", count=3).reshape(3, -1)
    models = {"tiny_conv": (tiny_conv_tflite(tmp_path), logmel),
              "tiny_conv depthwise x8": (tiny_conv_tflite(tmp_path, depthwise=True), logmel),
              "DS-CNN log-mel": (ds_cnn_tflite(tmp_path, "logmel"), logmel[:2]),
              "DS-CNN mfcc": (ds_cnn_tflite(tmp_path, "mfcc"), mfcc),
              "MLPerf Tiny DS-CNN": (Path(MLPERF_MODEL).read_bytes(),
                                     np.random.default_rng(2).integers(-128, 128, size=(3, 490), dtype=np.int8))}
    runs = m4_run([m for m, _ in models.values()], [x for _, x in models.values()], flavour)
    print()
    for (name, (model, x)), run in zip(models.items(), runs):
        _assert_equal(f"{name} ({flavour})", run.outputs, tflm_outputs(model, x))
        print(f"{flavour}: {name} {np.mean(run.instructions):,.0f} instructions per inference, "
              f"stack {run.stack_bytes} B")

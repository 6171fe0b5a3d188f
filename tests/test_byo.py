"""Bring your own model: a full-int8 model no one here trained (MLPerf Tiny's DS-CNN) evaluated with kws's boards
and metrics, and every way of describing it wrongly refused before any audio is sent.

    .venv/bin/python -m pytest tests/test_byo.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kws.cli import main
from kws.run import Run

MLPERF_LABELS = "down,go,left,no,off,on,right,stop,up,yes,_silence_,_unknown_"  # MLPerf Tiny's order


def mlperf_model() -> Path:
    from conftest import REPO_ROOT, fail_or_skip

    path = REPO_ROOT.parent / "shared" / "models" / "mlperf_tiny_kws_ref_model.tflite"
    if not path.is_file():
        fail_or_skip(f"{path} is absent (../shared/models holds it in CI)")
    return path


def _eval(*args: str) -> int:
    return main(["eval", "--quiet", *args])


@pytest.fixture()
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.shared_data
def test_the_mlperf_model_on_real_speech_with_host_features(workdir, sc_real_dev, capsys):
    model = mlperf_model()
    assert _eval("--run", "mlperf", "--model", str(model), "--frontend", "mlperf_mfcc", "--labels", MLPERF_LABELS,
                 "--data", str(sc_real_dev), "--select", "all", "--feed", "features", "--emulate",
                 "--limit", "120") == 0
    out = capsys.readouterr().out
    run = Run.named("mlperf")
    summary = json.loads(run.eval_summary.read_text())
    source = json.loads((run.export_dir / "source.json").read_text())
    assert source["imported_from"] == str(model.resolve()) and source["frontend"] == "mlperf_mfcc"
    assert summary["labels"] == MLPERF_LABELS.split(",") and summary["clips"] == 120
    # MLPerf's quality target is 90 % top-1; 120 clips spread over all 12 folders land near it.
    assert summary["accuracy"] >= 0.85, out
    assert (run.aot_dir / "kws_model_aot.c").is_file(), "every op of the reference model compiles to C"
    assert main(["report", "--run", "mlperf"]) == 0  # the report of an imported run builds
    md = (run.report_dir / "report.md").read_text()
    assert "Imported model" in md and "on device (emulated, features feed)" in md


@pytest.mark.shared_data
def test_the_mlperf_model_scores_the_same_on_the_m4_board(workdir, sc_real_dev):
    from m4_support import require_m4

    require_m4()
    model = mlperf_model()
    common = ["--run", "mlperf", "--data", str(sc_real_dev), "--select", "all", "--feed", "features", "--limit", "12",
              "--restart"]
    assert _eval("--model", str(model), "--frontend", "mlperf_mfcc", "--labels", MLPERF_LABELS, "--emulate",
                 *common) == 0
    host = np.load(Run.named("mlperf").eval_scores)["scores"]
    assert _eval("--board", "m4", *common) == 0
    m4 = np.load(Run.named("mlperf").eval_scores)["scores"]
    np.testing.assert_array_equal(m4, host)  # the compiled C model is TFLite Micro, byte for byte


BAD = [
    (["--frontend", "mlperf_mfcc", "--labels", "down,go"], r"gives 12 scores, --labels names 2"),
    (["--frontend", "tflm_micro", "--labels", MLPERF_LABELS], r"takes input \[1, 49, 10, 1\] \(490 values\); the "
                                                              r"tflm_micro frontend makes 49 x 40 = 1960"),
    (["--frontend", "wavelets", "--labels", MLPERF_LABELS], r"--frontend must be one of logmel, mfcc, tflm_micro"),
    (["--frontend", "mlperf_mfcc", "--labels", MLPERF_LABELS.replace("_silence_", "silence")],
     r"--labels has no '_silence_'"),
    (["--frontend", "mlperf_mfcc"], r"--model needs --frontend .* and --labels"),
]


@pytest.mark.shared_data
@pytest.mark.parametrize("args, message", BAD)
def test_a_wrong_description_is_refused_before_anything_is_written(workdir, capsys, args, message):
    import re

    assert _eval("--run", "x", "--model", str(mlperf_model()), "--emulate", *args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err), err
    assert not (workdir / "runs").exists()


def test_a_float_model_and_a_host_only_frontend_on_audio_are_refused(workdir, capsys):
    from export.tfenv import import_tensorflow

    tf = import_tensorflow()
    inputs = tf.keras.Input((490,))
    keras = tf.keras.Model(inputs, tf.keras.layers.Dense(12, activation="softmax")(inputs))
    float_model = workdir / "float.tflite"
    float_model.write_bytes(tf.lite.TFLiteConverter.from_keras_model(keras).convert())
    assert _eval("--run", "f", "--model", str(float_model), "--frontend", "mlperf_mfcc", "--labels", MLPERF_LABELS,
                 "--emulate") == 2
    assert "is FLOAT32, not quantized int8" in capsys.readouterr().err
    assert not (workdir / "runs").exists()


@pytest.mark.shared_data
def test_host_only_features_cannot_be_sent_as_audio(workdir, sc_real_dev, capsys):
    assert _eval("--run", "m", "--model", str(mlperf_model()), "--frontend", "mlperf_mfcc", "--labels",
                 MLPERF_LABELS, "--data", str(sc_real_dev), "--emulate", "--limit", "2") == 2
    assert "the board has no mlperf_mfcc frontend: evaluate with host features (--feed features)" in \
        capsys.readouterr().err
    assert not Run.named("m").journal.exists()


def test_a_trained_run_is_not_overwritten_by_an_import(workdir, capsys, tmp_path):
    run = Run.named("demo")
    run.dir.mkdir(parents=True)
    run.float_model.write_bytes(b"weights")
    assert _eval("--run", "demo", "--model", str(tmp_path / "m.tflite"), "--frontend", "logmel", "--labels",
                 "_silence_,_unknown_,yes,no", "--emulate") == 2
    assert "run demo was trained here" in capsys.readouterr().err

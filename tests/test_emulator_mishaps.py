"""`kws emulate` given the wrong thing: an empty file, not a TFLite model, a float model, another run's model
without its labels; and stopped with SIGTERM (it must clean up as on Ctrl-C).

    .venv/bin/python -m pytest tests/test_emulator_mishaps.py -q
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kws.cli import main


@pytest.fixture()
def project(tiny_export, tmp_path, monkeypatch) -> Path:
    """A folder with runs/tiny (a copy of the tiny export) as the current directory."""
    shutil.copytree(tiny_export, tmp_path / "runs" / "tiny", ignore=shutil.ignore_patterns("saved_model"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _emulate(capsys, *args: str) -> tuple[int, str]:
    code = main(["emulate", "--run", "tiny", *args])
    err = capsys.readouterr().err
    return code, err


def _one_clear_line(err: str) -> str:
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("content, message", [
    (b"", r"empty\.tflite is empty: pass a full-int8 \.tflite"),
    (b"PK\x03\x04 this is a zip file, not a model" * 4, r"not a TFLite flatbuffer \(no 'TFL3' identifier\)"),
    (b"\x10\x00\x00\x00TFL3" + b"\xff" * 8, r"bad.tflite: corrupt TFLite flatbuffer"),
])
def test_a_file_that_is_not_a_model_is_one_clear_line(project, capsys, content, message):
    import re

    model = project / ("empty.tflite" if not content else "bad.tflite")
    model.write_bytes(content)
    code, err = _emulate(capsys, "--model", str(model), "--labels", "a,b,c,d")
    assert code == 2 and re.search(message, _one_clear_line(err)), err


def test_a_float_model_is_called_a_float_model_not_an_arena_problem(project, capsys):
    from export.tfenv import import_tensorflow

    tf = import_tensorflow()
    inputs = tf.keras.Input((49 * 40,))
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(4, activation="softmax")(inputs))
    path = project / "float.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    code, err = _emulate(capsys, "--model", str(path), "--labels", "_silence_,_unknown_,yes,no")
    assert code == 2 and "is FLOAT32, the board exchanges int8 (a float model" in _one_clear_line(err), err
    assert "arena" not in err


def test_another_model_needs_its_labels(project, capsys):
    other = project / "other.tflite"
    other.write_bytes((project / "runs" / "tiny" / "export" / "model_int8.tflite").read_bytes() + bytes(16))
    code, err = _emulate(capsys, "--model", str(other))
    assert code == 2
    assert "is not run tiny's exported model" in _one_clear_line(err) and "--labels a,b,c" in err
    code, err = _emulate(capsys, "--model", str(other), "--labels", "a,b,c")
    assert code == 2 and "gives 4 scores, the labels are 3 (a,b,c)" in _one_clear_line(err)


def test_sigterm_stops_the_board_like_ctrl_c_and_removes_its_port_file(project):
    port_file = project / "runs" / "tiny" / "emulator.port"
    port_file.write_text("/dev/pts/999\n")  # left by a board killed with SIGKILL
    process = subprocess.Popen([sys.executable, "-m", "kws", "emulate", "--run", "tiny", "--port-file",
                                str(port_file)], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        port = process.stdout.readline().strip()
        assert port.startswith("/dev/") and port_file.read_text().strip() == port
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert not port_file.exists()
    assert "emulated board stopped" in process.stderr.read()


def test_the_identity_of_another_model_with_labels_is_announced(project):
    from kws.device.serve import served_model

    other = project / "other.tflite"
    other.write_bytes((project / "runs" / "tiny" / "export" / "model_int8.tflite").read_bytes() + bytes(16))
    exported = served_model(Path("runs/tiny"), other, ["s", "u", "up", "down"])
    assert exported.labels == ("s", "u", "up", "down") and exported.model_path == other
    assert np.frombuffer(exported.model[-16:], np.uint8).sum() == 0

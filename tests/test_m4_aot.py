"""The model compiled by `kws compile` on the Cortex-M4 board under QEMU equals TensorFlow Lite Micro, bit
for bit (DESIGN.md contract 4), through the whole firmware: BoardLink -> UART -> kws_app -> the aot-c
backend on firmware/kernels -> SCORES.

    .venv/bin/python -m pytest -q tests/test_m4_aot.py      # -s prints instructions per inference

Uses the tiny exported run of tests/tiny_export.py (TensorFlow, ~15 s) and kws.compile.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from m4_support import require_m4

from kws.config import load_config
from kws.device import m4
from kws.device.link import BoardLink
from kws.run import Run

compile_tflite = pytest.importorskip("kws.compile", reason="kws.compile (kws compile) is not in this tree yet") \
    .compile_tflite


@pytest.fixture(scope="module")
def compiled(tiny_export: Path, tmp_path_factory) -> tuple[Run, Path, str]:
    """The tiny run, the folder `kws compile` wrote its model to, the model's SHA-256."""
    run = Run.at(tiny_export)
    out = tmp_path_factory.mktemp("aot")
    return run, out, compile_tflite(run.export_model, out).sha256


def tflm_scores(model: bytes, inputs: np.ndarray) -> list[tuple[int, ...]]:
    """TensorFlow Lite Micro's output for each (49, 40) int8 input (the golden vectors)."""
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model, arena_size=64 * 1024)
    scores = []
    for x in inputs:
        interpreter.set_input(x.reshape(1, *x.shape), 0)
        interpreter.invoke()
        scores.append(tuple(int(v) for v in np.asarray(interpreter.get_output(0)).reshape(-1)))
    return scores


@pytest.mark.parametrize("kernels", [
    "portable",
    "dsp",
])
def test_compiled_model_on_the_m4_equals_tflm(kernels, compiled, tmp_path_factory):
    require_m4()
    run, aot_dir, sha256 = compiled
    config = load_config(run.config_path)
    defines = {"KWS_KERNELS_PORTABLE": None} if kernels == "portable" else {}
    frames = np.random.default_rng(5).integers(-128, 128, (49 + 11, 40)).astype(np.int8)
    with m4.M4Board(config.frontend, backend="aot", settings_dir=run.generated_dir, aot_dir=aot_dir, defines=defines,
                    build_dir=tmp_path_factory.mktemp(f"m4_aot_{kernels}")) as board:
        with BoardLink.open(board.port, timeout=10.0) as link:
            info = link.hello()
            assert info.backend == "aot-c" and info.labels == tuple(config.data.labels())
            assert info.model_sha256 == sha256
            link.reset()
            result = link.feed_features(frames)
        board.check()
    device = [s.scores for s in result.scores]
    expected = tflm_scores(run.export_model.read_bytes(), np.stack([frames[k:k + 49] for k in range(12)]))
    assert device == expected  # bit for bit, no tolerance: the compiled model is TFLM's arithmetic
    invoke = np.median([t.invoke_us for t in result.timings]) * 1000  # shift 0: 1 us = 1000 instructions
    print(f"\nM4 aot-c ({kernels} kernels): {invoke:,.0f} instructions per inference")


def test_aot_backend_refuses_a_model_other_than_the_settings_describe(tmp_path):
    aot, settings = tmp_path / "aot", tmp_path / "generated"
    aot.mkdir()
    settings.mkdir()
    (aot / "kws_model_aot.h").write_text('#define KWS_MODEL_AOT_SHA256 "' + "a" * 64 + '"\n', encoding="utf-8")
    (settings / "kws_settings.h").write_text('#define KWS_SETTINGS_MODEL_SHA256 "' + "b" * 64 + '"\n',
                                             encoding="utf-8")
    with pytest.raises(m4.M4Error, match="compiled from model a+, but .* describes b+"):
        m4.build_board_elf(backend="aot", settings_dir=settings, aot_dir=aot, out_dir=tmp_path / "build")

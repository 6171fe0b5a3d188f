"""The M4 board (the whole firmware with the compiled model, on QEMU) through everything that talks to a board:
`kws eval --board m4` (clips), parity with the host board byte for byte, and `kws emulate --board m4`.

    .venv/bin/python -m pytest tests/test_m4_eval.py -q
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from m4_support import require_m4

from kws.device.link import BoardLink
from kws.eval.device_eval import evaluate_clips
from kws.eval.options import EvalOptions
from kws.run import Run

CLIPS = 6


@pytest.fixture(scope="module")
def project(tiny_export, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("m4_eval")
    shutil.copytree(tiny_export, root / "runs" / "tiny", ignore=shutil.ignore_patterns("saved_model"))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        yield root


def _eval(sc_real_dev: Path, feed: str, **where) -> np.ndarray:
    options = EvalOptions(data_dir=str(sc_real_dev), limit=CLIPS, restart=True, progress=False, feed=feed,
                          emulate=True, timeout=10.0, **where)
    return evaluate_clips(Run.named("tiny"), options)


@pytest.mark.parametrize("feed", ["audio", "features"])
def test_m4_scores_equal_the_host_boards_byte_for_byte(project, sc_real_dev, feed):
    require_m4()
    host = _eval(sc_real_dev, feed, board="host")
    m4 = _eval(sc_real_dev, feed, board="m4")
    assert m4.summary["board"].startswith("mps2-an386 (aot-c")
    assert m4.scores.dtype == np.int8 and m4.scores.shape == (CLIPS, 4)
    np.testing.assert_array_equal(m4.scores, host.scores)  # no tolerance: same integer arithmetic
    if feed == "audio":  # the board's clock counts instructions (icount): 1 us = 1,000 instructions
        assert m4.summary["latency"]["frontend"]["count"] == CLIPS
        assert 20 < m4.summary["latency"]["frontend"]["p50"] < 200  # ~55,000 instructions per 20 ms frame
        assert m4.summary["clock"].startswith("QEMU instruction count")
        fw = m4.summary["firmware"]
        assert 0 < fw["flash_used"] <= fw["flash_size"] == 1024 * 1024 and 0 < fw["ram_used"] <= 256 * 1024
        from kws.eval.report import build_report

        run = Run.named("tiny")
        md = build_report(run.config(), run)["md"].read_text()
        assert "| stage | instructions (median) | max | at 64 MHz (estimate) | real-time share |" in md
        assert f"| flash total | {fw['flash_used']:,} (" in md


def test_kws_emulate_board_m4_serves_the_runs_compiled_model(project):
    require_m4()
    process = subprocess.Popen([sys.executable, "-m", "kws", "emulate", "--run", "tiny", "--board", "m4"],
                               cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = process.stdout.readline().strip()
        assert port.startswith("/dev/"), process.stderr.read() if process.poll() is not None else port
        with BoardLink.open(port, timeout=10.0) as link:
            info = link.hello()
        model = (project / "runs" / "tiny" / "export" / "model_int8.tflite").read_bytes()
        import hashlib

        assert (info.board, info.backend) == ("mps2-an386", "aot-c")
        assert info.model_sha256 == hashlib.sha256(model).hexdigest()
        process.terminate()
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_the_m4_boards_recognizer_decides_a_stream_as_the_python_model_does(project, sc_real_dev, sc_mini):
    from kws.eval.stream import StreamOptions, evaluate_stream

    require_m4()
    options = EvalOptions(data_dir=str(sc_real_dev), progress=False, emulate=True, board="m4", timeout=10.0)
    stream = StreamOptions(minutes=0.1, snr_db=(10.0,), seed=3, noise_dir=str(sc_mini / "_background_noise_"))
    summary = evaluate_stream(Run.named("tiny"), options, stream)
    assert summary["board"].startswith("mps2-an386 (aot-c")
    assert summary["inferences"] > 250  # 6 s at one inference per 20 ms hop
    assert summary["replay_matches_device"], "the board's detections differ from kws.recognizer on its own scores"

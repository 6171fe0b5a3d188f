"""The KWS firmware on the Cortex-M4 board under QEMU (kws.device.m4.M4Board), driven by the host's
BoardLink over its pty: the handshake, FEATURES and AUDIO feeds, detections. Fake model backend: its
scores are a known function of the model input (kws.device.m4.fake_model_scores), so every SCORES frame
is predicted exactly.

    .venv/bin/python -m pytest -q tests/test_m4_board.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, sigint_ignored
from m4_support import ended, gone, require_m4

from kws.config import FrontendConfig
from kws.device import m4
from kws.device.link import BoardLink

CFG = FrontendConfig()


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    require_m4()
    with m4.M4Board(CFG, build_dir=tmp_path_factory.mktemp("m4_board")) as running:
        yield running


@pytest.fixture()
def link(board):
    with BoardLink.open(board.port, timeout=5.0) as session:
        session.hello()
        yield session
    board.check()  # still running: no HardFault, no exit


def host_features(c_build, audio: np.ndarray, tmp_path: Path) -> np.ndarray:
    """The host C frontend's int8 features (equal to the M4's: tests/test_m4_frontend.py)."""
    raw, out = tmp_path / "clip.raw", tmp_path / "clip.i8"
    raw.write_bytes(audio.astype("<i2").tobytes())
    subprocess.run([str(c_build("frontend_dump", CFG, sanitize=False)), str(raw), str(out), "0", "160"], check=True,
                   timeout=60)
    return np.fromfile(out, dtype=np.int8).reshape(-1, CFG.num_features)


def test_handshake_names_the_board(link):
    info = link.info
    assert (info.board, info.backend, info.model_sha256) == ("mps2-an386", "fake", m4.FAKE_MODEL_SHA256)
    assert info.labels == m4.DEFAULT_LABELS and info.frontend_hash == CFG.spec_hash()
    assert (info.num_frames, info.num_features, info.sample_rate) == (49, 40, 16000)
    assert info.output_zero_point == -128 and info.arena_bytes == 0


def test_features_give_the_predicted_scores(link):
    frames = np.random.default_rng(3).integers(-128, 128, (52, 40)).astype(np.int8)
    link.reset()
    result = link.feed_features(frames)
    assert [s.inference for s in result.scores] == [0, 1, 2, 3]  # frame 49, then every new frame
    for k, scores in enumerate(result.scores):
        expected = m4.fake_model_scores(frames[k:k + 49], len(m4.DEFAULT_LABELS))
        assert scores.scores == tuple(int(v) for v in expected)
    assert result.timings and result.timings[0].invoke_us > 0  # the SysTick clock through the HAL


def test_audio_runs_the_m4_frontend_into_the_model(link, sc_real_dev, c_build, tmp_path):
    """A real clip as AUDIO: one inference whose scores are the fake model of the host C frontend's
    features, i.e. the M4's frontend, ring and slice timing are exactly right."""
    from kws.data.audio import fit_length, load_audio, to_int16

    path = sorted((sc_real_dev / "yes").glob("*.wav"))[0]
    clip = to_int16(fit_length(load_audio(path, 16000)[0], 16000))
    result = link.run_clip(clip)
    assert len(result.scores) == 1 and result.count == 16000
    expected = m4.fake_model_scores(host_features(c_build, clip, tmp_path), len(m4.DEFAULT_LABELS))
    assert result.scores[0].scores == tuple(int(v) for v in expected)
    timing = result.timings[0]
    assert timing.frames == 49 and timing.frontend_us > 0
    # shift 0: 1 us = 1000 instructions; measured ~55,000 instructions per frame (tests/test_m4_frontend.py).
    print(f"\nM4 board: frontend {timing.frontend_us * 1000 / timing.frames:,.0f} instructions/frame, "
          f"fake invoke {timing.invoke_us * 1000:,} instructions")


def test_detection_from_a_steered_input(link):
    """Frames that make the fake model score "yes" 127 (255 after the zero point) and every other label
    below zero: the M4's recognizer detects "yes"."""
    frame = np.zeros(40, dtype=np.int8)
    frame[3::5], frame[4::5] = 127, -128  # weight +2 and -2 of label 2 ("yes"); 1960 = 49 x 40 keeps the phase
    scores = m4.fake_model_scores(np.tile(frame, (49, 1)), 4)
    assert scores[2] == 127 and scores[[0, 1, 3]].max() < 0
    link.reset()
    result = link.feed_features(np.tile(frame, (49 + 30, 1)))
    assert len(result.scores) == 31 and all(s.scores == tuple(int(v) for v in scores) for s in result.scores)
    assert result.detections and result.detections[0].name == "yes" and result.detections[0].score == 255


def start_board_command(tmp_path: Path, *, ignore_sigint: bool = False) -> tuple[subprocess.Popen, Path]:
    """`python -m kws.device.m4 board` in tmp_path, optionally started with SIGINT ignored; (process, port file)."""
    port_file = tmp_path / "port"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with sigint_ignored(ignore_sigint):
        process = subprocess.Popen([sys.executable, "-m", "kws.device.m4", "board", "--port-file", str(port_file)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    return process, port_file


@pytest.mark.parametrize("ignore_sigint", [False, True], ids=["plain", "started-with-sigint-ignored"])
def test_board_command_serves_until_interrupted(tmp_path, ignore_sigint):
    """`python -m kws.device.m4 board` (what `kws emulate --board m4` will run): prints the port, stops on
    Ctrl-C with status 0, and takes QEMU with it; also when started as a script's background job, which
    inherits an ignored SIGINT."""
    require_m4()
    process, port_file = start_board_command(tmp_path, ignore_sigint=ignore_sigint)
    try:
        port = process.stdout.readline().strip()
        assert port.startswith("/dev/pts/") and port_file.read_text().strip() == port
        with BoardLink.open(port, timeout=5.0) as session:
            assert session.hello().board == "mps2-an386"
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        assert len(children) == 1  # QEMU
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        assert not port_file.exists() and gone(int(children[0]))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_qemu_dies_with_a_board_process_killed_by_sigkill(tmp_path):
    """SIGKILL leaves no finalizer to run: the kernel ends QEMU (prctl PDEATHSIG) instead of leaving it to spin
    on a core in its own session."""
    require_m4()
    process, _ = start_board_command(tmp_path)
    qemu = None
    try:
        assert process.stdout.readline().strip().startswith("/dev/pts/")
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        assert len(children) == 1
        qemu = int(children[0])
        process.kill()
        process.wait()
        deadline = time.monotonic() + 10
        while not ended(qemu) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ended(qemu), "QEMU outlived the board process that started it"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if qemu is not None and not ended(qemu):
            os.killpg(qemu, signal.SIGKILL)

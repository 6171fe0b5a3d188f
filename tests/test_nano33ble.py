"""The Nano 33 BLE Sense sketch, compiled for the host against stand-in Arduino/PDM/TFLM headers and run on a
simulated board (firmware/host/arduino_stubs): its sources compile warning-free with the mbed core's C++
flags, the PDM -> ring -> frontend path delivers every sample once and in order (no audio "from the
future"), across the 2^32 us wrap and through stalls of the main loop, overruns are counted and logged
instead of stopping the microphone, and the HAL answers the protocol and lights the LED per keyword (with
the TFLM backend on an "echo" stand-in interpreter). The sketch as `kws flash` stages it with the default
aot backend (the compiled model on the portable kernels) answers with TFLite Micro's scores, bit for bit.

    .venv/bin/python -m pytest tests/test_nano33ble.py -q

The ARM build of the same sources is tests/test_nano33ble_arm.py; the real library and core are only
compiled by `kws flash`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import fail_or_skip

from kws.config import load_config
from kws.device import protocol as P

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "firmware" / "core"
SKETCH = REPO / "firmware" / "nano33ble"
STUBS = REPO / "firmware" / "host" / "arduino_stubs"
DRIVER = REPO / "firmware" / "host" / "tests" / "nano33ble_sim.cpp"
CORE_SOURCES = ("kws_fft.c", "kws_frontend.c", "kws_features.c", "kws_recognizer.c", "kws_frame.c", "kws_msg.c",
                "kws_app.c", "kws_app_io.c", "kws_app_pipeline.c", "kws_app_binary.c", "kws_app_console.c")
# The mbed core's flags that change C/C++ semantics (variants/ARDUINO_NANO33BLE/c(xx)flags.txt), plus
# warnings as errors so a typo in the sketch fails here.
CXXFLAGS = ["-std=gnu++14", "-fno-exceptions", "-fno-rtti", "-funsigned-char", "-Wall", "-Wextra", "-Werror",
            "-Wvla", "-O1", "-g"]
CFLAGS = ["-std=c99", "-funsigned-char", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O1", "-g"]
SHA = "5e" * 32


def generated_headers(folder: Path) -> Path:
    """model_data.h/.cc, kws_settings.h and kws_frontend_tables.h as the export writes them (kws/device/generated_c.py),
    for a stand-in model (the stub interpreter does not parse it): no TensorFlow needed."""
    from kws.device.generated_c import DeviceSettings, render_model_header, render_model_source, render_settings
    from kws.frontend_tables import render_header

    config = load_config(None)
    model = bytes(range(256)) * 4
    import hashlib

    sha = hashlib.sha256(model).hexdigest()
    fe = config.frontend
    settings = DeviceSettings(model_name="tiny_conv", source="float", sha256=sha, frames=fe.num_frames,
                              features=fe.num_features, input_scale=fe.input_scale,
                              input_zero_point=fe.input_zero_point, output_scale=1 / 256, output_zero_point=-128,
                              labels=config.data.labels(), arena_measured=9000, arena_margin=1024, arena_size=10032,
                              op_names=("RESHAPE", "CONV_2D", "FULLY_CONNECTED", "SOFTMAX"),
                              resolver_methods=("AddReshape", "AddConv2D", "AddFullyConnected", "AddSoftmax"),
                              board="nano33ble")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_data.h").write_text(render_model_header(len(model), sha, "test"))
    (folder / "model_data.cc").write_text(render_model_source(model, sha, "test"))
    (folder / "kws_settings.h").write_text(render_settings(config, settings, "test"))
    (folder / "kws_frontend_tables.h").write_text(render_header(fe))
    return folder


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> tuple[Path, str]:
    """(executable, model sha) of the sketch + HAL + backend + core on the simulated board."""
    import shutil

    cc, cxx = os.environ.get("CC", "cc"), os.environ.get("CXX", "c++")
    if shutil.which(cc) is None or shutil.which(cxx) is None:
        fail_or_skip(f"no host C/C++ compiler ({cc}, {cxx})")
    root = tmp_path_factory.mktemp("nano_sim")
    generated = generated_headers(root / "generated")
    include = [f"-I{d}" for d in (generated, CORE, SKETCH, STUBS)]
    objects = []

    def build(command: list[str], source: Path, lang: list[str] = ()) -> None:
        obj = root / f"{source.name}.o"
        run = subprocess.run([*command, *include, *lang, "-c", str(source), "-o", str(obj)], capture_output=True,
                             text=True, timeout=300)
        assert run.returncode == 0, f"{source.name} does not compile:\n{run.stderr}"
        objects.append(str(obj))

    for name in CORE_SOURCES:
        build([cc, *CFLAGS], CORE / name)
    for source in (SKETCH / "kws_hal_nano33ble.cpp", SKETCH / "kws_model_tflm.cpp", STUBS / "sim.cpp", DRIVER):
        build([cxx, *CXXFLAGS], source)
    build([cxx, *CXXFLAGS], SKETCH / "nano33ble.ino", ["-x", "c++"])
    build([cxx, *CXXFLAGS], generated / "model_data.cc", ["-x", "c++"])
    exe = root / "nano33ble_sim"
    link = subprocess.run([cxx, *objects, "-lm", "-o", str(exe)], capture_output=True, text=True, timeout=300)
    assert link.returncode == 0, link.stderr
    import hashlib

    return exe, hashlib.sha256(bytes(range(256)) * 4).hexdigest()


def run_sim(exe: Path, tmp: Path, audio: np.ndarray | None, *, start_us: int = 0, loops: int = 1,
            stall_every: int = 0, stall_blocks: int = 0, stdin: bytes = b"", idle: int = 400):
    raw = "-"
    if audio is not None:
        raw = str(tmp / "audio.raw")
        audio.astype("<i2").tofile(raw)
    inputs = tmp / "inputs.i8"
    run = subprocess.run([str(exe), raw, str(inputs), str(start_us), str(loops), str(stall_every),
                          str(stall_blocks), str(idle)], input=stdin, capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr.decode()
    stderr = run.stderr.decode()
    summary = dict(kv.split("=") for kv in stderr.splitlines()[-1].split()[1:])
    dumped = np.fromfile(inputs, dtype=np.int8).reshape(-1, 49, 40)
    return run.stdout, stderr, {k: int(v) for k, v in summary.items()}, dumped


def c_frames(c_build, audio: np.ndarray, tmp: Path) -> np.ndarray:
    """The C frontend's frames of the whole stream (firmware/host/tests/frontend_dump.c), the expectation."""
    from kws.config import FrontendConfig

    exe = c_build("frontend_dump", FrontendConfig(), sanitize="auto")
    audio.astype("<i2").tofile(tmp / "stream.raw")
    subprocess.run([str(exe), str(tmp / "stream.raw"), str(tmp / "frames.i8"), "0", "1,7,160"], check=True,
                   timeout=120)
    return np.fromfile(tmp / "frames.i8", dtype=np.int8).reshape(-1, 40)


@pytest.fixture(scope="module")
def speech(sc_real_dev) -> np.ndarray:
    """About 3 s of real speech: three clips of the test set, one after the other."""
    from kws.data.audio import load_audio, to_int16

    wavs = [sorted((sc_real_dev / word).glob("*.wav"))[0] for word in ("yes", "no", "go")]
    return np.concatenate([to_int16(load_audio(w, 16000)[0]) for w in wavs])


def test_every_pdm_sample_reaches_the_model_once_and_in_order_across_the_clock_wrap(sim, speech, c_build, tmp_path):
    exe, sha = sim
    audio = speech[: (speech.size // 256) * 256]  # whole PDM blocks
    # Start 1 s before the uint32 microsecond counter wraps; the loop stalls for 5 blocks (80 ms, a slow
    # inference) out of every 12, so the ring holds a backlog that the next loop turns drain.
    out, _, summary, inputs = run_sim(exe, tmp_path, audio, start_us=2**32 - 1_000_000, stall_every=12,
                                      stall_blocks=5)
    frames = c_frames(c_build, audio, tmp_path)
    expected = np.stack([frames[k:k + 49] for k in range(frames.shape[0] - 48)])
    assert summary["dropped"] == 0 and summary["pdm_stopped"] == 0 and summary["blocks"] == audio.size // 256
    assert inputs.shape == expected.shape and summary["invokes"] == expected.shape[0]
    np.testing.assert_array_equal(inputs, expected)  # exactly the stream's frames: nothing early, late or twice
    text = out.decode("ascii", "replace")
    assert text.startswith(f"KWS ready firmware=0.1.0 board=nano33ble protocol=1 model={sha[:16]} "
                           f"labels=_silence_,_unknown_,yes,no\r\n")
    assert "LOG tflm: arena used 1964 of 10032 B\r\n" in text


def test_a_loop_stalled_over_a_second_drops_old_audio_counts_and_logs_it(sim, speech, tmp_path):
    exe, _ = sim
    audio = np.tile(speech, 2)[: 160 * 256]  # 2.56 s
    # The loop does not run for 100 blocks (1.6 s): more than the 1.024 s ring.
    _, _, summary, _ = run_sim(exe, tmp_path, audio, stall_every=1000, stall_blocks=100)
    assert summary["pdm_stopped"] == 0  # the interrupt always took its block: the microphone kept running
    assert 0 < summary["dropped"] < 100 * 256
    out, _, _, _ = run_sim(exe, tmp_path, audio, stall_every=1000, stall_blocks=100, idle=1200)
    assert b"LOG audio overrun: dropped samples total " in out


def test_the_hal_speaks_the_protocol_and_lights_the_keywords_colour(sim, tmp_path):
    exe, sha = sim
    frame = np.full(40, -128, np.int8)
    frame[2] = 127  # echo model: score("yes") = 255
    host = P.encode_messages([P.Hello(), P.SetParams(P.Params(40, 1500, 1, 200, 1, int(P.FLAG_DEFAULT))),
                              P.Features.from_array(np.tile(frame, (49, 1))),
                              P.Features.from_array(np.tile(frame, (3, 1)))])
    out, stderr, _, _ = run_sim(exe, tmp_path, None, stdin=host, idle=800)
    messages = [m for m in P.decode_stream(out) if isinstance(m, P.Message)]
    info = next(m for m in messages if isinstance(m, P.Info))
    assert (info.board, info.backend, info.firmware_version, info.model_sha256) == ("nano33ble", "tflm", "0.1.0", sha)
    assert info.arena_bytes == 10032 and info.labels == ("_silence_", "_unknown_", "yes", "no")
    detections = [m for m in messages if isinstance(m, P.Detection)]
    assert detections and detections[0].name == "yes"
    leds = [line for line in stderr.splitlines() if line.startswith("LED ")]
    assert "LED 0 1 0" in leds  # "yes", the first keyword: green only (the pins are active low)
    assert leds[-1] == "LED 0 0 0"  # and off again after KWS_APP_LED_US


def test_the_staged_aot_sketch_on_the_simulated_board_answers_with_tflm_s_scores(tiny_export, tmp_path):
    """The sketch folder of `kws flash` (aot: HAL + glue + compiled model + kernels + core), every .c/.cpp/.ino
    of it built for the host with the simulated board's runtime, fed features over the protocol."""
    import shutil

    from kws.compile.command import compile_tflite
    from kws.device import flash as F
    from kws.device.artifacts import ExportedModel
    from kws.run import Run

    cc, cxx = os.environ.get("CC", "cc"), os.environ.get("CXX", "c++")
    if shutil.which(cc) is None or shutil.which(cxx) is None:
        fail_or_skip(f"no host C/C++ compiler ({cc}, {cxx})")
    run = Run.at(tiny_export)
    compile_tflite(run.export_model, tmp_path / "aot")
    sketch = F.stage_sketch(ExportedModel.load(run), tmp_path / "sketch", backend="aot", aot_dir=tmp_path / "aot")
    objects = []
    for source in [*sorted(sketch.iterdir()), STUBS / "sim.cpp", DRIVER]:
        if source.suffix == ".c":
            command = [cc, *CFLAGS]
        elif source.suffix in (".cpp", ".ino"):
            command = [cxx, *CXXFLAGS, "-x", "c++"]
        else:
            continue
        obj = tmp_path / f"{source.name}.o"
        built = subprocess.run([*command, f"-I{sketch}", f"-I{STUBS}", "-c", str(source), "-o", str(obj)],
                               capture_output=True, text=True, timeout=300)
        assert built.returncode == 0, f"{source.name} does not compile:\n{built.stderr}"
        objects.append(str(obj))
    exe = tmp_path / "nano33ble_aot_sim"
    link = subprocess.run([cxx, *objects, "-lm", "-o", str(exe)], capture_output=True, text=True, timeout=300)
    assert link.returncode == 0, link.stderr

    frames = np.random.default_rng(7).integers(-128, 128, (49 + 11, 40)).astype(np.int8)
    host = P.encode_messages([P.Hello(), P.SetParams(P.Params(infer_every=1)),
                              P.Features.from_array(frames[:49]), P.Features.from_array(frames[49:])])
    out, stderr, _, _ = run_sim(exe, tmp_path, None, stdin=host, idle=800)
    messages = [m for m in P.decode_stream(out) if isinstance(m, P.Message)]
    info = next(m for m in messages if isinstance(m, P.Info))
    assert (info.board, info.backend) == ("nano33ble", "aot-c")
    assert info.model_sha256 == ExportedModel.load(run).sha256 and info.labels == ("_silence_", "_unknown_", "yes",
                                                                                      "no")
    header = (tmp_path / "aot" / "kws_model_aot.h").read_text()
    assert f"KWS_MODEL_AOT_ARENA_BYTES_PORTABLE {info.arena_bytes}\n" in header  # the host has no DSP kernels
    device = [m.scores for m in messages if isinstance(m, P.Scores)]
    expected = tflm_scores(run.export_model.read_bytes(), np.stack([frames[k:k + 49] for k in range(12)]))
    assert device == expected  # bit for bit: the compiled model is TFLM's arithmetic
    assert not [m for m in messages if isinstance(m, P.Error)]


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

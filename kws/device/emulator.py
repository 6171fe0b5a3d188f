"""The emulated board: the firmware's C core on a pseudo-terminal, the model run by TensorFlow Lite Micro.

    kws emulate --run demo                       # prints the port (a pty path), runs until Ctrl-C
    kws emulate --run demo --mic clip.wav --loop --realtime    # a "microphone" for kws monitor
    kws monitor --port /dev/pts/7                # anything that talks to a board works on it unchanged

    from kws.device.emulator import Emulator
    with Emulator("runs/demo") as board:         # in-process (a thread); Emulator(...).start() also works
        with BoardLink.open(board.port) as link: ...

It is the same core the Nano runs (firmware/core, built by kws.device.cbuild as a shared library and
driven through ctypes, kws.device.ccore), with a host HAL: the serial line is the master side of a pty
pair (both ends raw), time is the monotonic clock, the LED is a log line, and `model_invoke` runs the
run's model_int8.tflite in the tflite-micro Python interpreter (the same TFLM reference kernels, in the
tensor arena size of generated/kws_settings.h). Its identity (model SHA-256, labels, arena, frontend
spec hash, recognizer defaults) comes from the run's export (kws.device.artifacts), so `kws flash`'s
handshake check and evaluation code cannot tell it from a board, except that INFO says board "host" and
backend "tflite-micro-py".

The microphone: optional int16 audio (`mic=`, or `--mic WAV...`) fed to the core's audio_read hook,
either as fast as the loop turns (default; a bounded amount per turn so serial input is never starved)
or at 16 kHz wall-clock pace (`realtime=True`), once or looped. Like the board, the core listens to it
in text mode and ignores it in binary mode unless LIVE_AUDIO is set.

`EmulatorProcess` runs `kws emulate` as a subprocess (what a person does) and reads the port it prints.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from kws.device.artifacts import FIRMWARE_VERSION, ExportedModel
from kws.device.model_check import check_board_model
from kws.device.rawpty import open_raw_pty
from kws.errors import KwsError
from kws.run import Run

BOARD_NAME = "host"
BACKEND = "tflite-micro-py"
SAMPLE_RATE = 16000
FAST_MIC_SAMPLES_PER_TURN = 3200
"""Microphone samples per loop turn when not in real time: 200 ms of audio, then serial input again."""
WRITE_STALL_S = 2.0
"""A write to the pty that cannot proceed this long (nobody reads the port) is dropped, as a UART would."""


class EmulatorError(KwsError):
    """The emulated board cannot start or stopped; the message says why."""


class TflmModel:
    """model_invoke through the tflite-micro Python interpreter (TFLM's kernels) in a fixed-size arena."""

    def __init__(self, model: bytes, arena_bytes: int) -> None:
        from tflite_micro.python.tflite_micro import runtime  # lazily: kws never imports it at module level

        try:
            self._interpreter = runtime.Interpreter.from_bytes(model, arena_size=int(arena_bytes))
        except (RuntimeError, ValueError) as exc:
            raise EmulatorError(f"TensorFlow Lite Micro cannot set the model up in the {arena_bytes}-byte arena "
                                f"that kws_settings.h gives ({exc}); re-export the run or check --model") from None
        details = self._interpreter.get_input_details(0)
        self.input_shape = tuple(int(d) for d in details["shape"])
        if details["dtype"] != np.int8:
            raise EmulatorError(f"the model's input is {details['dtype']}, the board feeds int8 features")

    def __call__(self, features: np.ndarray) -> np.ndarray:
        self._interpreter.set_input(np.asarray(features, dtype=np.int8).reshape(self.input_shape), 0)
        self._interpreter.invoke()
        return np.asarray(self._interpreter.get_output(0)).reshape(-1)


def load_mic(paths: Sequence[str | Path], sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """WAV files, one after the other, as one int16 stream (resampled/down-mixed as the dataset loader does)."""
    from kws.data.audio import load_audio, to_int16

    parts = [to_int16(load_audio(path, sample_rate)[0]) for path in paths]
    return np.concatenate(parts) if parts else np.zeros(0, np.int16)


class Emulator:
    """One emulated board (see the module docstring). start() returns the port; stop() always cleans up."""

    def __init__(self, run: "Run | str | Path | None" = None, *, exported: ExportedModel | None = None,
                 model_path: str | Path | None = None, build_dir: str | Path | None = None,
                 mic: np.ndarray | None = None, realtime: bool = False, loop_mic: bool = False,
                 record_inputs: bool = False, on_led: Callable[[bool, str], None] | None = None) -> None:
        if exported is None:
            if run is None:
                raise ValueError("give a run or exported=")
            exported = ExportedModel.load(run, model_path)
        self.exported = exported
        self._build_dir = Path(build_dir) if build_dir is not None else None
        self._mic = np.ascontiguousarray(mic, dtype=np.int16) if mic is not None else None
        self._mic_pos = 0
        self._mic_pos_total = 0
        self._mic_t0 = 0.0
        self._mic_budget = 0
        self.realtime = realtime
        self.loop_mic = loop_mic
        self.mic_done = threading.Event()
        self._record = record_inputs
        self.inputs: list[np.ndarray] = []
        """Every model input (the board's own int8 features, frames x features) when record_inputs."""
        self.outputs: list[np.ndarray] = []
        self._on_led = on_led
        self.led_events: list[tuple[bool, str]] = []
        self._led_pending: bool | None = None
        self._rx = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._master = self._slave = -1
        self._wake_r = self._wake_w = -1
        self._app = None
        self._failure: BaseException | None = None
        self.dropped_bytes = 0
        self._stalled = False
        self.port = ""

    # ------------------------------------------------------------------------------------ HAL hooks

    def _write(self, data: bytes) -> None:
        # Like USB CDC with no host attached: output nobody reads is dropped rather than blocking the board.
        # The first stall waits WRITE_STALL_S for a slow reader; while it lasts, later writes drop at once.
        view = memoryview(data)
        deadline = time.monotonic() + (0.0 if self._stalled else WRITE_STALL_S)
        while view and not self._stop.is_set():
            try:
                view = view[os.write(self._master, view):]
                self._stalled = False
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._stalled = True
                    break
                select.select([], [self._master], [], 0.05)
            except OSError:
                break
        self.dropped_bytes += len(view)

    def _read(self, cap: int) -> bytes:
        chunk = bytes(self._rx[:cap])
        del self._rx[:cap]
        return chunk

    def _audio(self, cap: int) -> np.ndarray:
        mic = self._mic
        if mic is None or mic.size == 0:
            return np.zeros(0, np.int16)
        if self.realtime:
            due = int((time.monotonic() - self._mic_t0) * SAMPLE_RATE)
            n = min(cap, due - self._mic_pos_total)
        else:
            n = min(cap, self._mic_budget)
        if n <= 0:
            return np.zeros(0, np.int16)
        if self._mic_pos >= mic.size:
            if not self.loop_mic:
                self.mic_done.set()
                return np.zeros(0, np.int16)
            self._mic_pos = 0
        out = mic[self._mic_pos:self._mic_pos + n]
        self._mic_pos += out.size
        self._mic_pos_total += out.size
        self._mic_budget -= out.size
        if self._mic_pos >= mic.size and not self.loop_mic:
            self.mic_done.set()
        return out

    def _time_us(self) -> int:
        return time.monotonic_ns() // 1000

    def _led(self, on: bool) -> None:
        self._led_pending = on  # the label is read after poll returns: hooks must not call into the core

    def _model(self, features: np.ndarray) -> np.ndarray:
        scores = self._tflm(features)
        if self._record:
            self.inputs.append(features.reshape(self.exported.frontend.num_frames, -1).copy())
            self.outputs.append(scores.copy())
        return scores

    # ------------------------------------------------------------------------------------ life cycle

    def start(self) -> str:
        """Build the core, open the pty, boot the app (its ready line goes out), start the loop; the port."""
        from kws.device.cbuild import build_shared_library
        from kws.device.ccore import CoreApp

        if self._thread is not None:
            return self.port
        exported = self.exported
        check_board_model(exported.model, exported.model_path, labels=exported.labels,
                          frames=exported.frontend.num_frames, features=exported.frontend.num_features)
        library = build_shared_library(exported.frontend, self._build_dir)
        self._tflm = TflmModel(exported.model, exported.arena_bytes)
        self._master, self._slave, self.port = open_raw_pty()
        try:
            self._wake_r, self._wake_w = os.pipe()
            self._mic_t0 = time.monotonic()
            self._mic_pos_total = 0
            self._app = CoreApp(library, labels=exported.labels, model=self._model, write=self._write,
                                read=self._read, audio=self._audio if self._mic is not None else None,
                                time_us=self._time_us, led=self._led, firmware_version=FIRMWARE_VERSION,
                                board=BOARD_NAME, backend=BACKEND, model_sha256=exported.sha256,
                                arena_bytes=exported.arena_bytes, output_scale=exported.output_scale,
                                output_zero_point=exported.output_zero_point, recognizer=exported.recognizer)
        except BaseException:
            self._close_fds()
            raise
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"kws-emulator {self.port}", daemon=True)
        self._thread.start()
        return self.port

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                readable, _, _ = select.select([self._master, self._wake_r], [], [], 0.005)
                if self._master in readable:
                    try:
                        self._rx += os.read(self._master, 65536)
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        time.sleep(0.005)  # EIO while no process has the slave open: nothing to read
                if self._wake_r in readable:
                    os.read(self._wake_r, 64)
                self._mic_budget = FAST_MIC_SAMPLES_PER_TURN
                with self._lock:
                    self._app.poll()
                    pending, self._led_pending = self._led_pending, None
                    if pending is not None:
                        label, _ = self._app.last_detection()
                        name = self.exported.labels[label] if pending and 0 <= label < len(self.exported.labels) \
                            else ""
                        self.led_events.append((pending, name))
                        if self._on_led is not None:
                            self._on_led(pending, name)
        except BaseException as exc:  # reported by stop()/check(); the thread must not die silently
            self._failure = exc

    def check(self) -> None:
        """Raise EmulatorError if the loop died (e.g. the model raised)."""
        if self._failure is not None:
            raise EmulatorError(f"the emulated board stopped: {type(self._failure).__name__}: {self._failure}")

    def stats(self) -> dict[str, int]:
        """The core's counters (kws_app_get_stats)."""
        if self._app is None:
            return {}
        with self._lock:
            return self._app.stats()

    def stop(self) -> None:
        """Stop the loop, close the pty; safe to call twice."""
        self._stop.set()
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._close_fds()

    def _close_fds(self) -> None:
        for name in ("_master", "_slave", "_wake_r", "_wake_w"):
            fd = getattr(self, name)
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, name, -1)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the loop ends (stop() or a failure); True if it ended."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def __enter__(self) -> "Emulator":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmulatorProcess:
    """`kws emulate` as a child process: start() returns the port it printed, stop() sends Ctrl-C (SIGINT)."""

    def __init__(self, run: str, *, cwd: str | Path, model: str | Path | None = None,
                 mic: Sequence[str | Path] = (), realtime: bool = False, loop_mic: bool = False,
                 env: dict[str, str] | None = None) -> None:
        self.command = [sys.executable, "-m", "kws", "emulate", "--run", run]
        if model is not None:
            self.command += ["--model", str(model)]
        for path in mic:
            self.command += ["--mic", str(path)]
        if realtime:
            self.command.append("--realtime")
        if loop_mic:
            self.command.append("--loop")
        self.cwd = Path(cwd)
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None
        self.port = ""
        self.stderr = ""

    def start(self, timeout: float = 180.0) -> str:
        self.process = subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                line = self.process.stdout.readline().strip()
                if line:
                    self.port = line
                    return line
            if self.process.poll() is not None:
                break
        self.stop()
        raise EmulatorError(f"`{' '.join(self.command)}` printed no port within {timeout:g} s "
                            f"(exit {self.process.returncode}): {self.stderr.strip()[-2000:]}")

    def stop(self, timeout: float = 15.0) -> int | None:
        """Ctrl-C, then kill if it does not exit; returns the exit status."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if process.stderr is not None:
            self.stderr = process.stderr.read()
            process.stderr.close()
        if process.stdout is not None:
            process.stdout.close()
        return process.returncode

    def __enter__(self) -> "EmulatorProcess":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["BACKEND", "BOARD_NAME", "Emulator", "EmulatorError", "EmulatorProcess", "TflmModel", "load_mic"]

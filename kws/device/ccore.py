"""The C core's app (firmware/core/kws_app.h) loaded into Python with ctypes, its HAL implemented in Python.

    from kws.device.cbuild import build_shared_library
    from kws.device.ccore import CoreApp
    app = CoreApp(build_shared_library(cfg), labels=("_silence_", "_unknown_", "yes", "no"),
                  model=lambda features: my_int8_scores(features),    # (frames, features) int8 -> int8 scores
                  write=serial_out.append)                              # bytes the board sends
    app.receive(frames_from_host)     # or: app.poll() with read=... and audio=... hooks

This is the seam for the emulated board: the real firmware core, byte for byte the code that runs
on the Nano, with the model invoked through any Python callable (e.g. the tflite-micro Python
interpreter) and the serial line wired to a pty. The struct layouts below mirror kws_hal.h,
kws_model.h, kws_recognizer.h and kws_app.h; tests/test_protocol_app.py exercises them.

Callbacks run on the calling thread inside the C code; an exception raised by `model` is caught,
reported to the core as a failed invocation (an ERROR frame), and re-raised when the C call returns.
The core requires a clock (kws_hal.h): without `time_us` the host's monotonic microseconds are used.
"""

from __future__ import annotations

import ctypes
import time
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_float,
    c_int,
    c_int8,
    c_int16,
    c_int32,
    c_size_t,
    c_uint8,
    c_uint16,
    c_uint32,
    c_void_p,
)
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from kws.errors import KwsError
from kws.recognizer import RecognizerConfig

TIME_FN = CFUNCTYPE(c_uint32, c_void_p)
WRITE_FN = CFUNCTYPE(None, c_void_p, POINTER(c_uint8), c_size_t)
READ_FN = CFUNCTYPE(c_size_t, c_void_p, POINTER(c_uint8), c_size_t)
AUDIO_FN = CFUNCTYPE(c_size_t, c_void_p, POINTER(c_int16), c_size_t)
LED_FN = CFUNCTYPE(None, c_void_p, c_int)
INVOKE_FN = CFUNCTYPE(c_int, c_void_p, POINTER(c_int8), c_size_t, POINTER(c_int8), c_size_t)


class Hal(Structure):
    """kws_hal."""

    _fields_ = [("ctx", c_void_p), ("time_us", TIME_FN), ("serial_write", WRITE_FN), ("serial_read", READ_FN),
                ("audio_read", AUDIO_FN), ("led", LED_FN), ("model_invoke", INVOKE_FN)]


class ModelInfo(Structure):
    """kws_model_info."""

    _fields_ = [("backend", c_char_p), ("sha256", c_char_p), ("labels", POINTER(c_char_p)), ("num_labels", c_uint8),
                ("arena_bytes", c_uint32), ("output_scale", c_float), ("output_zero_point", c_int32)]


class RecognizerConfigC(Structure):
    """kws_recognizer_config."""

    _fields_ = [("average_window_ms", c_uint32), ("suppression_ms", c_uint32), ("minimum_count", c_uint16),
                ("detection_threshold", c_uint8)]


class BuildInfo(Structure):
    """kws_build_info."""

    _fields_ = [("firmware_version", c_char_p), ("board", c_char_p), ("model", ModelInfo),
                ("recognizer", RecognizerConfigC), ("infer_every", c_uint8)]


class ProtoStats(Structure):
    """kws_proto_stats."""

    _fields_ = [("frames", c_uint32), ("bad_crc", c_uint32), ("bad_header", c_uint32), ("too_large", c_uint32),
                ("text_bytes", c_uint32), ("rescan_bytes", c_uint32)]


class AppStats(Structure):
    """kws_app_stats."""

    _fields_ = [("inferences", c_uint32), ("detections", c_uint32), ("model_errors", c_uint32),
                ("samples", c_uint32), ("frames", c_uint32), ("audio_dropped", c_uint32), ("naks_withheld", c_uint32),
                ("link", ProtoStats)]


def _monotonic_us() -> int:
    return time.monotonic_ns() // 1000


class CoreError(KwsError):
    """The C core refused its configuration (the reason is what it printed)."""


class CoreApp:
    """One kws_app instance in a loaded core library, with Python hooks."""

    def __init__(self, library: str | Path, *, labels: Sequence[str],
                 model: Callable[[np.ndarray], Sequence[int] | np.ndarray],
                 write: Callable[[bytes], None],
                 read: Callable[[int], bytes] | None = None,
                 audio: Callable[[int], np.ndarray] | None = None,
                 time_us: Callable[[], int] | None = None,
                 led: Callable[[bool], None] | None = None,
                 firmware_version: str = "0.1.0-host", board: str = "host", backend: str = "python",
                 model_sha256: str = "", arena_bytes: int = 0, output_scale: float = 1.0 / 256.0,
                 output_zero_point: int = -128, recognizer: RecognizerConfig = RecognizerConfig(),
                 infer_every: int = 1) -> None:
        self._lib = lib = ctypes.CDLL(str(library))
        lib.kws_app_sizeof.restype = c_size_t
        lib.kws_app_init.argtypes = [c_void_p, POINTER(Hal), POINTER(BuildInfo)]
        lib.kws_app_init.restype = c_int
        lib.kws_app_poll.argtypes = [c_void_p]
        lib.kws_app_audio_overrun.argtypes = [c_void_p, c_uint32]
        lib.kws_app_receive.argtypes = [c_void_p, POINTER(c_uint8), c_size_t]
        lib.kws_app_audio.argtypes = [c_void_p, POINTER(c_int16), c_size_t]
        lib.kws_app_log.argtypes = [c_void_p, c_uint8, c_char_p]
        lib.kws_app_reset.argtypes = [c_void_p, c_uint32]
        lib.kws_app_mode.argtypes = [c_void_p]
        lib.kws_app_mode.restype = c_int
        lib.kws_app_get_stats.argtypes = [c_void_p]
        lib.kws_app_get_stats.restype = AppStats
        lib.kws_app_last_detection.argtypes = [c_void_p, POINTER(c_uint8)]
        lib.kws_app_last_detection.restype = c_int

        self._model = model
        self._error: BaseException | None = None
        # uint64 cells: the struct holds uint64_t fields, so 8-byte alignment is required.
        self._storage = (ctypes.c_uint64 * ((lib.kws_app_sizeof() + 7) // 8))()
        self._app = ctypes.cast(self._storage, c_void_p)

        # Every object C keeps a pointer to must stay referenced from self.
        self._label_bytes = [label.encode("utf-8") for label in labels]
        self._labels = (c_char_p * len(labels))(*self._label_bytes)
        self._strings = [s.encode("utf-8") for s in (firmware_version, board, backend, model_sha256)]
        self._info = BuildInfo(self._strings[0], self._strings[1],
                               ModelInfo(self._strings[2], self._strings[3], self._labels, len(labels), arena_bytes,
                                         output_scale, output_zero_point),
                               RecognizerConfigC(recognizer.average_window_ms, recognizer.suppression_ms,
                                                 recognizer.minimum_count, recognizer.detection_threshold),
                               infer_every)
        if time_us is None:  # the core refuses a HAL without a clock
            time_us = _monotonic_us
        self._callbacks = self._make_callbacks(write, read, audio, time_us, led)
        self._hal = Hal()
        # Hooks the caller did not give stay NULL, so the core skips them (kws_hal.h).
        for name, given in (("time_us", time_us), ("serial_write", write), ("serial_read", read),
                            ("audio_read", audio), ("led", led), ("model_invoke", model)):
            if given is not None:
                setattr(self._hal, name, self._callbacks[name])
        if lib.kws_app_init(self._app, ctypes.byref(self._hal), ctypes.byref(self._info)) != 0:
            raise CoreError("kws_app_init refused the configuration (see the ERROR line it wrote)")
        self._raise_pending()

    def _make_callbacks(self, write, read, audio, time_us, led) -> dict:
        def c_time(_ctx):
            return int(time_us()) & 0xFFFFFFFF

        def c_write(_ctx, data, length):
            write(ctypes.string_at(data, length))

        def c_read(_ctx, buf, cap):
            chunk = read(cap)
            n = min(len(chunk), cap)
            ctypes.memmove(buf, chunk, n)
            return n

        def c_audio(_ctx, buf, cap):
            samples = np.ascontiguousarray(audio(cap), dtype=np.int16)[:cap]
            ctypes.memmove(buf, samples.ctypes.data, samples.nbytes)
            return samples.size

        def c_led(_ctx, on):
            led(bool(on))

        def c_invoke(_ctx, inp, in_len, out, out_len):
            try:
                features = np.ctypeslib.as_array(inp, shape=(in_len,)).copy()
                scores = np.asarray(self._model(features), dtype=np.int64).ravel()
                if scores.size != out_len:
                    raise ValueError(f"the model returned {scores.size} scores, the core expects {out_len}")
                if scores.min() < -128 or scores.max() > 127:
                    raise ValueError("the model's scores must be int8")
                np.ctypeslib.as_array(out, shape=(out_len,))[:] = scores.astype(np.int8)
                return 0
            except BaseException as exc:  # reported to the core as a failure, re-raised after the C call
                self._error = exc
                return 1

        return {"time_us": TIME_FN(c_time), "serial_write": WRITE_FN(c_write), "serial_read": READ_FN(c_read),
                "audio_read": AUDIO_FN(c_audio), "led": LED_FN(c_led), "model_invoke": INVOKE_FN(c_invoke)}

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def receive(self, data: bytes) -> None:
        """Bytes from the host (kws_app_receive)."""
        buf = (c_uint8 * len(data)).from_buffer_copy(data) if data else (c_uint8 * 1)()
        self._lib.kws_app_receive(self._app, buf, len(data))
        self._raise_pending()

    def audio(self, pcm: np.ndarray) -> None:
        """Live microphone samples (kws_app_audio)."""
        samples = np.ascontiguousarray(pcm, dtype=np.int16)
        self._lib.kws_app_audio(self._app, samples.ctypes.data_as(POINTER(c_int16)), samples.size)
        self._raise_pending()

    def poll(self) -> None:
        """One main-loop turn (kws_app_poll): read, audio, LED."""
        self._lib.kws_app_poll(self._app)
        self._raise_pending()

    def audio_overrun(self, dropped_total: int) -> None:
        """The audio source's free-running count of lost samples, after poll() (kws_app_audio_overrun)."""
        self._lib.kws_app_audio_overrun(self._app, dropped_total & 0xFFFFFFFF)

    def log(self, level: int, text: str) -> None:
        """kws_app_log."""
        self._lib.kws_app_log(self._app, level, text.encode("utf-8"))

    def reset(self, start_us: int = 0) -> None:
        """kws_app_reset."""
        self._lib.kws_app_reset(self._app, start_us & 0xFFFFFFFF)

    @property
    def binary_mode(self) -> bool:
        """True after a HELLO (until BYE)."""
        return self._lib.kws_app_mode(self._app) == 1

    def last_detection(self) -> tuple[int, int]:
        """(label index, score) of the newest detection since RESET, (-1, 0) for none (kws_app_last_detection)."""
        score = c_uint8(0)
        label = self._lib.kws_app_last_detection(self._app, ctypes.byref(score))
        return int(label), int(score.value)

    def stats(self) -> dict[str, int]:
        """kws_app_get_stats as a flat dict (link counters prefixed link_)."""
        s = self._lib.kws_app_get_stats(self._app)
        out = {name: int(getattr(s, name)) for name, _ in AppStats._fields_ if name != "link"}
        out.update({f"link_{name}": int(getattr(s.link, name)) for name, _ in ProtoStats._fields_})
        return out

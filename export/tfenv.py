"""Import TensorFlow quietly, once, only when a hop needs it.

    from export.tfenv import import_tensorflow
    tf = import_tensorflow()

TensorFlow logs pages of INFO/WARNING lines from C++ on import and on every conversion; the export
output should show our checks, not those. Nothing happens at import of this module.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from types import ModuleType
from typing import Iterator


def import_tensorflow() -> ModuleType:
    """TensorFlow with C++ INFO/WARNING logs off (errors still print) and Python loggers at ERROR."""
    # Must be set before the first `import tensorflow`; a user's own setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    return tf


@contextlib.contextmanager
def quiet_warnings() -> Iterator[None]:
    """Silence Python warnings from TF/onnx2tf/torch.onnx inside the block (deprecations we cannot act on)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def quiet_loggers(*names: str, level: int = logging.ERROR) -> Iterator[None]:
    """Raise the level of the named Python loggers inside the block, then restore them."""
    loggers = [logging.getLogger(name) for name in names]
    saved = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, old in zip(loggers, saved):
            logger.setLevel(old)


class CapturedOutput:
    """Text written to the process's stdout/stderr file descriptors inside `captured_output()`."""

    def __init__(self) -> None:
        self.text = ""


@contextlib.contextmanager
def captured_output(streams: tuple[int, ...] = (1, 2)) -> Iterator[CapturedOutput]:
    """Redirect file descriptors 1 and 2 into a temporary file for the block.

    C++ code (the TFLite converter, the TFLite Micro interpreter) prints straight to the descriptors,
    past Python's sys.stdout; this is the only way to keep it off the terminal or to read it (TFLM's
    arena report). The captured text is available after the block as `.text`.
    """
    import sys
    import tempfile

    result = CapturedOutput()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in streams]
    with tempfile.TemporaryFile(mode="w+b") as sink:
        try:
            for fd in streams:
                os.dup2(sink.fileno(), fd)
            yield result
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in zip(streams, saved):
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            result.text = sink.read().decode("utf-8", errors="replace")

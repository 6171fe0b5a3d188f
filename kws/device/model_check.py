"""Before a board runs a .tflite: is it a TFLite flatbuffer, full int8, shaped for the frontend's features and
one score per label? Each problem is one clear line naming the file (no struct.error, no arena blame).

    from kws.device.model_check import check_board_model
    check_board_model(model_bytes, path, labels=("_silence_", "_unknown_", "yes", "no"), frames=49, features=40)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from kws.compile.tflite_reader import TfliteFormatError, read_tflite
from kws.errors import KwsError


class BoardModelError(KwsError):
    """The model cannot run on the board as the run describes it."""


def check_board_model(model: bytes, path: str | Path, *, labels: Sequence[str], frames: int, features: int) -> None:
    """BoardModelError unless `model` is an int8 TFLite model taking frames x features and giving len(labels)."""
    if not model:
        raise BoardModelError(f"{path} is empty: pass a full-int8 .tflite (runs/<run>/export/model_int8.tflite)")
    try:
        raw = read_tflite(model, str(path))
    except TfliteFormatError as exc:
        raise BoardModelError(f"{exc}") from None
    if len(raw.inputs) != 1 or len(raw.outputs) != 1:
        raise BoardModelError(f"{path} has {len(raw.inputs)} inputs and {len(raw.outputs)} outputs; a keyword model "
                              f"has one of each")
    floats = sorted({t.type_name for t in raw.tensors if t.type_name.startswith("FLOAT")})
    inp, out = raw.tensors[raw.inputs[0]], raw.tensors[raw.outputs[0]]
    for what, tensor in (("input", inp), ("output", out)):
        if tensor.type_name != "INT8":
            kind = " (a float model: export it with full-int8 quantization, `kws export`)" if floats else ""
            raise BoardModelError(f"{path}: the model's {what} {tensor.name!r} is {tensor.type_name}, the board "
                                  f"exchanges int8{kind}")
    if floats:
        raise BoardModelError(f"{path} holds {', '.join(floats)} tensors: the board runs full-int8 models only "
                              f"(export with `kws export`)")
    if math.prod(inp.shape) != frames * features:
        raise BoardModelError(f"{path} takes input {list(inp.shape)} ({math.prod(inp.shape)} values), the board's "
                              f"frontend gives {frames}x{features} = {frames * features}")
    if math.prod(out.shape) != len(labels):
        raise BoardModelError(f"{path} gives {math.prod(out.shape)} scores, the labels are {len(labels)} "
                              f"({','.join(labels)}): give the model's own labels")


__all__ = ["BoardModelError", "check_board_model"]

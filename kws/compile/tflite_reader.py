"""Read a TFLite flatbuffer into plain Python objects, without TensorFlow or the flatbuffers package.

    from kws.compile.tflite_reader import read_tflite
    model = read_tflite(Path("model_int8.tflite").read_bytes(), source="model_int8.tflite")
    for op in model.operators: print(op.opcode, [model.tensors[i].name for i in op.inputs])

Only what the compiler needs is decoded: the first subgraph's tensors (shape, type, buffer data,
quantization), its operators with their builtin options, and the graph inputs/outputs. Field numbers are
those of tensorflow/lite/schema/schema.fbs (a flatbuffer table finds field n at vtable slot 4 + 2n).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kws.errors import KwsError

# TensorType enum (schema.fbs) -> (name, numpy dtype or None when we never need the data)
TENSOR_TYPES: dict[int, tuple[str, Any]] = {
    0: ("FLOAT32", np.float32), 1: ("FLOAT16", np.float16), 2: ("INT32", np.int32), 3: ("UINT8", np.uint8),
    4: ("INT64", np.int64), 5: ("STRING", None), 6: ("BOOL", np.bool_), 7: ("INT16", np.int16),
    8: ("COMPLEX64", None), 9: ("INT8", np.int8), 10: ("FLOAT64", np.float64), 11: ("COMPLEX128", None),
    12: ("UINT64", np.uint64), 13: ("RESOURCE", None), 14: ("VARIANT", None), 15: ("UINT32", np.uint32),
    16: ("UINT16", np.uint16), 17: ("INT4", None), 18: ("BFLOAT16", None),
}

# BuiltinOperator codes we compile, plus a few common ones so errors can name them.
BUILTIN_NAMES: dict[int, str] = {
    0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 6: "DEQUANTIZE",
    9: "FULLY_CONNECTED", 14: "LOGISTIC", 17: "MAX_POOL_2D", 18: "MUL", 19: "RELU", 21: "RELU6", 22: "RESHAPE",
    25: "SOFTMAX", 28: "TANH", 32: "CUSTOM", 34: "PAD", 39: "TRANSPOSE", 40: "MEAN", 41: "SUB", 43: "SQUEEZE",
    45: "STRIDED_SLICE", 49: "SPLIT", 70: "EXPAND_DIMS", 83: "PACK", 97: "HARD_SWISH", 114: "QUANTIZE",
}

# Builtin options tables: field name per field number, and the flatbuffer scalar format of each.
_OPTION_FIELDS: dict[str, tuple[tuple[str, str, Any], ...]] = {
    "CONV_2D": (("padding", "b", 0), ("stride_w", "i", 0), ("stride_h", "i", 0), ("activation", "b", 0),
                ("dilation_w", "i", 1), ("dilation_h", "i", 1)),
    "DEPTHWISE_CONV_2D": (("padding", "b", 0), ("stride_w", "i", 0), ("stride_h", "i", 0),
                          ("depth_multiplier", "i", 0), ("activation", "b", 0), ("dilation_w", "i", 1),
                          ("dilation_h", "i", 1)),
    "FULLY_CONNECTED": (("activation", "b", 0), ("weights_format", "b", 0), ("keep_num_dims", "?", False)),
    "AVERAGE_POOL_2D": (("padding", "b", 0), ("stride_w", "i", 0), ("stride_h", "i", 0), ("filter_w", "i", 0),
                        ("filter_h", "i", 0), ("activation", "b", 0)),
    "SOFTMAX": (("beta", "f", 0.0),),
    "ADD": (("activation", "b", 0),),
    "MEAN": (("keep_dims", "?", False),),
}
_OPTION_FIELDS["MAX_POOL_2D"] = _OPTION_FIELDS["AVERAGE_POOL_2D"]


class TfliteFormatError(KwsError):
    """The file is not a readable TFLite flatbuffer; the message names the file and the problem."""


@dataclass(frozen=True)
class Quantization:
    """Affine quantization of one tensor, as stored (float32 scales, int64 zero points)."""

    scale: np.ndarray
    zero_point: np.ndarray
    quantized_dimension: int = 0


@dataclass(frozen=True)
class RawTensor:
    """One tensor of the subgraph: shape, type name, constant data (None for activations)."""

    index: int
    name: str
    shape: tuple[int, ...]
    type_name: str
    data: np.ndarray | None
    quantization: Quantization | None


@dataclass(frozen=True)
class RawOperator:
    """One operator: its builtin code name, input/output tensor indices (-1 = absent), parsed options."""

    index: int
    opcode: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RawModel:
    """The first subgraph of a TFLite model."""

    tensors: tuple[RawTensor, ...]
    operators: tuple[RawOperator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


class _Table:
    """A flatbuffer table at absolute position `pos` of `buf` (little-endian, per the flatbuffers spec)."""

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf = buf
        self.pos = pos
        vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vtable = vtable
        self.vtable_len = struct.unpack_from("<H", buf, vtable)[0]

    def _field(self, n: int) -> int:
        slot = 4 + 2 * n
        if slot >= self.vtable_len:
            return 0
        return struct.unpack_from("<H", self.buf, self.vtable + slot)[0]

    def scalar(self, n: int, fmt: str, default: Any) -> Any:
        off = self._field(n)
        return default if off == 0 else struct.unpack_from("<" + fmt, self.buf, self.pos + off)[0]

    def _indirect(self, n: int) -> int | None:
        off = self._field(n)
        if off == 0:
            return None
        at = self.pos + off
        return at + struct.unpack_from("<I", self.buf, at)[0]

    def table(self, n: int) -> _Table | None:
        at = self._indirect(n)
        return None if at is None else _Table(self.buf, at)

    def vector(self, n: int, fmt: str) -> np.ndarray | None:
        """A vector of scalars of struct format `fmt` (e.g. 'i', 'f', 'q', 'B')."""
        at = self._indirect(n)
        if at is None:
            return None
        count = struct.unpack_from("<I", self.buf, at)[0]
        return np.frombuffer(self.buf, dtype=np.dtype("<" + fmt), count=count, offset=at + 4).copy()

    def tables(self, n: int) -> list[_Table]:
        at = self._indirect(n)
        if at is None:
            return []
        count = struct.unpack_from("<I", self.buf, at)[0]
        out = []
        for i in range(count):
            item = at + 4 + 4 * i
            out.append(_Table(self.buf, item + struct.unpack_from("<I", self.buf, item)[0]))
        return out

    def string(self, n: int) -> str:
        at = self._indirect(n)
        if at is None:
            return ""
        count = struct.unpack_from("<I", self.buf, at)[0]
        return self.buf[at + 4:at + 4 + count].decode("utf-8", errors="replace")


def _opcode_name(code: _Table) -> str:
    # Codes above 127 live only in the int32 field; older files fill only the int8 one.
    deprecated = code.scalar(0, "b", 0)
    builtin = code.scalar(3, "i", 0)
    value = max(int(deprecated), int(builtin))
    if value == 32:
        return "CUSTOM:" + code.string(1)
    return BUILTIN_NAMES.get(value, f"BUILTIN_{value}")


def _options(name: str, op: _Table) -> dict[str, Any]:
    fields = _OPTION_FIELDS.get(name)
    table = op.table(4)
    if name == "RESHAPE":
        shape = table.vector(0, "i") if table is not None else None
        return {"new_shape": None if shape is None else tuple(int(s) for s in shape)}
    if fields is None:
        return {}
    if table is None:
        return {key: default for key, _, default in fields}
    return {key: table.scalar(i, fmt, default) for i, (key, fmt, default) in enumerate(fields)}


def _buffer_data(buffer: _Table, raw: bytes) -> bytes | None:
    data = buffer.vector(0, "B")
    if data is not None and len(data):
        return data.tobytes()
    # Models over 2 GB keep buffers after the flatbuffer (offset/size from the file start).
    offset, size = buffer.scalar(1, "Q", 0), buffer.scalar(2, "Q", 0)
    if offset > 1 and size:
        return raw[offset:offset + size]
    return None


def read_tflite(raw: bytes, source: str = "model") -> RawModel:
    """Decode the first subgraph of a TFLite flatbuffer. TfliteFormatError when it is not one."""
    if len(raw) < 8 or raw[4:8] != b"TFL3":
        raise TfliteFormatError(f"{source}: not a TFLite flatbuffer (no 'TFL3' identifier); pass a .tflite file")
    try:
        root = _Table(raw, struct.unpack_from("<I", raw, 0)[0])
        codes = [_opcode_name(c) for c in root.tables(1)]
        subgraphs = root.tables(2)
        buffers = root.tables(4)
        if not subgraphs:
            raise TfliteFormatError(f"{source}: the model has no subgraph")
        graph = subgraphs[0]
        tensors = []
        for index, t in enumerate(graph.tables(0)):
            shape = t.vector(0, "i")
            type_code = t.scalar(1, "b", 0)
            type_name, dtype = TENSOR_TYPES.get(type_code, (f"TYPE_{type_code}", None))
            buffer_index = t.scalar(2, "I", 0)
            data = None
            if 0 < buffer_index < len(buffers):
                blob = _buffer_data(buffers[buffer_index], raw)
                if blob is not None and dtype is not None:
                    dims = tuple(int(s) for s in shape) if shape is not None else ()
                    data = np.frombuffer(blob, dtype=np.dtype(dtype).newbyteorder("<")).reshape(dims).copy()
            quant = None
            q = t.table(4)
            if q is not None:
                scale = q.vector(2, "f")
                zero = q.vector(3, "q")
                if scale is not None and len(scale):
                    quant = Quantization(scale.astype(np.float32), (zero if zero is not None else
                                                                    np.zeros(len(scale), np.int64)),
                                         int(q.scalar(6, "i", 0)))
            tensors.append(RawTensor(index, t.string(3), tuple(int(s) for s in (shape if shape is not None else ())),
                                     type_name, data, quant))
        operators = []
        for index, op in enumerate(graph.tables(3)):
            code_index = op.scalar(0, "I", 0)
            name = codes[code_index] if code_index < len(codes) else f"OPCODE_{code_index}"
            ins = op.vector(1, "i")
            outs = op.vector(2, "i")
            operators.append(RawOperator(index, name, tuple(int(i) for i in (ins if ins is not None else ())),
                                         tuple(int(o) for o in (outs if outs is not None else ())),
                                         _options(name, op)))
        inputs = graph.vector(1, "i")
        outputs = graph.vector(2, "i")
    except (struct.error, IndexError, ValueError) as exc:
        raise TfliteFormatError(f"{source}: corrupt TFLite flatbuffer ({exc})") from None
    return RawModel(tuple(tensors), tuple(operators), tuple(int(i) for i in inputs),
                    tuple(int(o) for o in outputs))

"""The micro_speech input layout: a model whose input is [1, frames, features] rewritten to take [1, frames *
features] (TFLM's micro_speech example checks exactly `dims == {1, 1960}`), when its input feeds a RESHAPE only.

    from export.flat_input import flatten_input
    model = flatten_input(model)        # same ops, same weights; the input tensor's shape is [1, 1960]

The first RESHAPE reshapes to its own target shape whatever the input's layout, so the graph computes the same
integers; only the declared input shape changes (a row-major flattening of the same 1960 bytes).
"""

from __future__ import annotations

import math

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from export.errors import ExportError

_RESHAPE = 22  # BuiltinOperator.RESHAPE


def flatten_input(model: bytes) -> bytes:
    """`model` with its single input declared as [1, N]; ExportError unless only RESHAPEs read that input."""
    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    graph = tree.subgraphs[0]
    (index,) = graph.inputs
    tensor = graph.tensors[index]
    shape = [int(d) for d in tensor.shape]
    readers = [op for op in graph.operators if index in list(op.inputs)]
    codes = [max(tree.operatorCodes[op.opcodeIndex].builtinCode,
                 tree.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode) for op in readers]
    if not readers or any(code != _RESHAPE for code in codes):
        raise ExportError("the model's input feeds more than a RESHAPE: it cannot take a flat [1, N] input as "
                          "the micro_speech example wants")
    flat = [1, math.prod(shape)]
    tensor.shape = np.array(flat, dtype=np.int32)
    if tensor.shapeSignature is not None:
        tensor.shapeSignature = np.array(flat, dtype=np.int32)
    builder = flatbuffers.Builder(len(model) + 1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


__all__ = ["flatten_input"]

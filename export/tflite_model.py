"""Read a .tflite flatbuffer the way the device does: TFLite Micro's own schema, no TensorFlow import.

    from export.tflite_model import describe
    info = describe(Path("runs/demo/export/model_int8.tflite").read_bytes())
    info.ops, info.input.scale, info.input.zero_point

Used by the op audit, the input-quantization check and the C generators, so all three read the
same facts from the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from export.errors import ExportError

# Builtin operator code -> name (CONV_2D, ...), and tensor type code -> name (INT8, ...), from the schema.
BUILTIN_NAMES: dict[int, str] = {
    value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
TENSOR_TYPE_NAMES: dict[int, str] = {
    value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")}


@dataclass(frozen=True)
class TensorQuant:
    """One graph input or output: type, shape and (per-tensor) quantization."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    scale: float | None
    zero_point: int | None


@dataclass(frozen=True)
class OpUse:
    """One operator code of the model: name, version, and how many nodes use it."""

    name: str
    version: int
    count: int


@dataclass(frozen=True)
class ModelInfo:
    """What the audit and the generators need to know about a .tflite model."""

    ops: tuple[OpUse, ...]
    """Operator codes in first-use order."""
    op_sequence: tuple[str, ...]
    """Op name of every node of subgraph 0, in execution order."""
    input: TensorQuant
    output: TensorQuant
    subgraphs: int


def _model(data: bytes) -> "schema.ModelT":
    try:
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise ValueError("no TFL3 file identifier")
        return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    except Exception as exc:  # flatbuffers raises assorted errors on garbage
        raise ExportError(f"not a TFLite flatbuffer ({type(exc).__name__}: {exc})") from None


def _op_name(code: "schema.OperatorCodeT") -> str:
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    if builtin == schema.BuiltinOperator.CUSTOM:
        custom = code.customCode.decode() if isinstance(code.customCode, bytes) else str(code.customCode)
        return f"CUSTOM:{custom}"
    return BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}")


def _tensor(subgraph: "schema.SubGraphT", index: int) -> TensorQuant:
    tensor = subgraph.tensors[index]
    quant = tensor.quantization
    scale = zero_point = None
    if quant is not None and quant.scale is not None and len(quant.scale) == 1:
        scale = float(quant.scale[0])
        zero_point = int(quant.zeroPoint[0])
    name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
    shape = tuple(int(d) for d in tensor.shape) if tensor.shape is not None else ()
    return TensorQuant(name, TENSOR_TYPE_NAMES.get(tensor.type, str(tensor.type)), shape, scale, zero_point)


@dataclass(frozen=True)
class Node:
    """One operator of subgraph 0, in execution order."""

    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    fused_activation: str
    """NONE, RELU, RELU6, ... for ops with a fused activation, else NONE."""


@dataclass(frozen=True)
class TensorInfo:
    """A tensor's type, shape and (possibly per-channel) quantization."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    scales: tuple[float, ...]
    zero_points: tuple[int, ...]


ACTIVATION_NAMES: dict[int, str] = {
    value: name for name, value in vars(schema.ActivationFunctionType).items() if not name.startswith("_")}


def graph(data: bytes) -> tuple[tuple[Node, ...], tuple[TensorInfo, ...]]:
    """Nodes (execution order) and tensors of subgraph 0, for per-op parity diagnosis."""
    model = _model(data)
    subgraph = model.subgraphs[0]
    codes = model.operatorCodes or []
    nodes = []
    for op in subgraph.operators or []:
        options = op.builtinOptions
        activation = getattr(options, "fusedActivationFunction", 0) if options is not None else 0
        nodes.append(Node(_op_name(codes[op.opcodeIndex]), tuple(int(i) for i in op.inputs),
                          tuple(int(i) for i in op.outputs), ACTIVATION_NAMES.get(activation, str(activation))))
    tensors = []
    for tensor in subgraph.tensors:
        quant = tensor.quantization
        scales = tuple(float(v) for v in quant.scale) if quant is not None and quant.scale is not None else ()
        zeros = tuple(int(v) for v in quant.zeroPoint) if quant is not None and quant.zeroPoint is not None else ()
        name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
        shape = tuple(int(d) for d in tensor.shape) if tensor.shape is not None else ()
        tensors.append(TensorInfo(name, TENSOR_TYPE_NAMES.get(tensor.type, str(tensor.type)), shape, scales, zeros))
    return tuple(nodes), tuple(tensors)


def describe(data: bytes) -> ModelInfo:
    """Ops (with versions and counts), node order, and the input/output tensors of a one-input model."""
    model = _model(data)
    if not model.subgraphs:
        raise ExportError("the TFLite model has no subgraph")
    subgraph = model.subgraphs[0]
    codes = model.operatorCodes or []
    order: list[int] = []
    counts: dict[int, int] = {}
    sequence: list[str] = []
    for op in subgraph.operators or []:
        counts[op.opcodeIndex] = counts.get(op.opcodeIndex, 0) + 1
        if op.opcodeIndex not in order:
            order.append(op.opcodeIndex)
        sequence.append(_op_name(codes[op.opcodeIndex]))
    ops = tuple(OpUse(_op_name(codes[i]), int(codes[i].version), counts[i]) for i in order)
    if len(subgraph.inputs) != 1 or len(subgraph.outputs) != 1:
        raise ExportError(f"the model has {len(subgraph.inputs)} inputs and {len(subgraph.outputs)} outputs; "
                          f"a keyword model has one of each")
    return ModelInfo(ops, tuple(sequence), _tensor(subgraph, int(subgraph.inputs[0])),
                     _tensor(subgraph, int(subgraph.outputs[0])), len(model.subgraphs))

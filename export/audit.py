"""Op audit of the int8 model: which ops (and versions) it holds, whether the device can run them,
and the op-resolver list the firmware compiles in.

    from export.audit import audit_ops
    audit = audit_ops(model_bytes, "tiny_conv")     # UnsupportedOpError names the op and why
    audit.resolver_methods                            # ('AddConv2D', 'AddFullyConnected', ...)

Rules, for every model:
- no TRANSPOSE (a layout conversion left over from NCHW), no PAD/PADV2 (padding not folded into the
  convolution: an extra copy of the activations in the arena), no QUANTIZE/DEQUANTIZE (the graph must be
  int8 from the input features to the scores: the device feeds int8 features straight in);
- every op must be one TFLite Micro registers (`MicroMutableOpResolver::Add...`);
- per model, the ops its architecture explains (tiny_conv: CONV_2D or DEPTHWISE_CONV_2D, RESHAPE,
  FULLY_CONNECTED, optionally SOFTMAX); anything else means the conversion went somewhere unexpected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from export.errors import UnsupportedOpError
from export.tflite_model import ModelInfo, OpUse, describe

# TFLite builtin op -> the MicroMutableOpResolver method that registers it (tflite-micro,
# tensorflow/lite/micro/micro_mutable_op_resolver.h). Ops missing here are refused: if TFLM gains one
# a model needs, add it here with its method name.
TFLM_RESOLVER_METHODS: dict[str, str] = {
    "ABS": "AddAbs", "ADD": "AddAdd", "ADD_N": "AddAddN", "ARG_MAX": "AddArgMax", "ARG_MIN": "AddArgMin",
    "ASSIGN_VARIABLE": "AddAssignVariable", "AVERAGE_POOL_2D": "AddAveragePool2D",
    "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd", "BROADCAST_ARGS": "AddBroadcastArgs",
    "BROADCAST_TO": "AddBroadcastTo", "CALL_ONCE": "AddCallOnce", "CAST": "AddCast", "CEIL": "AddCeil",
    "CONCATENATION": "AddConcatenation", "CONV_2D": "AddConv2D", "COS": "AddCos", "CUMSUM": "AddCumSum",
    "DEPTH_TO_SPACE": "AddDepthToSpace", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEQUANTIZE": "AddDequantize", "DIV": "AddDiv", "ELU": "AddElu", "EQUAL": "AddEqual", "EXP": "AddExp",
    "EXPAND_DIMS": "AddExpandDims", "FILL": "AddFill", "FLOOR": "AddFloor", "FLOOR_DIV": "AddFloorDiv",
    "FLOOR_MOD": "AddFloorMod", "FULLY_CONNECTED": "AddFullyConnected", "GATHER": "AddGather",
    "GATHER_ND": "AddGatherNd", "GREATER": "AddGreater", "GREATER_EQUAL": "AddGreaterEqual",
    "HARD_SWISH": "AddHardSwish", "IF": "AddIf", "L2_NORMALIZATION": "AddL2Normalization",
    "L2_POOL_2D": "AddL2Pool2D", "LEAKY_RELU": "AddLeakyRelu", "LESS": "AddLess", "LESS_EQUAL": "AddLessEqual",
    "LOG": "AddLog", "LOGICAL_AND": "AddLogicalAnd", "LOGICAL_NOT": "AddLogicalNot",
    "LOGICAL_OR": "AddLogicalOr", "LOGISTIC": "AddLogistic", "LOG_SOFTMAX": "AddLogSoftmax",
    "MAXIMUM": "AddMaximum", "MAX_POOL_2D": "AddMaxPool2D", "MEAN": "AddMean", "MINIMUM": "AddMinimum",
    "MIRROR_PAD": "AddMirrorPad", "MUL": "AddMul", "NEG": "AddNeg", "NOT_EQUAL": "AddNotEqual",
    "PACK": "AddPack", "PAD": "AddPad", "PADV2": "AddPadV2", "PRELU": "AddPrelu", "QUANTIZE": "AddQuantize",
    "READ_VARIABLE": "AddReadVariable", "REDUCE_MAX": "AddReduceMax", "RELU": "AddRelu", "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape", "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor", "ROUND": "AddRound", "RSQRT": "AddRsqrt",
    "SELECT_V2": "AddSelectV2", "SHAPE": "AddShape", "SIN": "AddSin", "SLICE": "AddSlice",
    "SOFTMAX": "AddSoftmax", "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd", "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SPLIT": "AddSplit", "SPLIT_V": "AddSplitV", "SQRT": "AddSqrt", "SQUARE": "AddSquare",
    "SQUARED_DIFFERENCE": "AddSquaredDifference", "SQUEEZE": "AddSqueeze", "STRIDED_SLICE": "AddStridedSlice",
    "SUB": "AddSub", "SUM": "AddSum", "SVDF": "AddSvdf", "TANH": "AddTanh", "TRANSPOSE": "AddTranspose",
    "TRANSPOSE_CONV": "AddTransposeConv", "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
    "UNPACK": "AddUnpack", "VAR_HANDLE": "AddVarHandle", "WHILE": "AddWhile", "ZEROS_LIKE": "AddZerosLike",
}

FORBIDDEN_OPS: dict[str, str] = {
    "TRANSPOSE": "a layout transpose survived the NCHW->NHWC conversion",
    "PAD": "padding was not folded into the convolution (SAME)",
    "PADV2": "padding was not folded into the convolution (SAME)",
    "QUANTIZE": "the graph is not int8 end to end (a requantization or a float boundary)",
    "DEQUANTIZE": "the graph is not int8 end to end (a float boundary)",
}

# Ops each registered architecture explains. A model name not listed gets only the rules above.
EXPECTED_OPS: dict[str, frozenset[str]] = {
    "tiny_conv": frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"}),
    "ds_cnn": frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MEAN", "RESHAPE",
                         "FULLY_CONNECTED", "SOFTMAX"}),
}


@dataclass(frozen=True)
class OpAudit:
    """The audited op list of an int8 model."""

    model_name: str
    ops: tuple[OpUse, ...]
    """Op codes in first-use order, with versions and node counts."""
    op_sequence: tuple[str, ...]
    """Every node's op, in execution order."""

    @property
    def resolver_methods(self) -> tuple[str, ...]:
        """MicroMutableOpResolver methods the firmware calls, one per op code."""
        return tuple(TFLM_RESOLVER_METHODS[op.name] for op in self.ops)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "ops": [{"name": op.name, "version": op.version, "count": op.count,
                     "tflm_resolver_method": TFLM_RESOLVER_METHODS[op.name]} for op in self.ops],
            "op_sequence": list(self.op_sequence),
            "resolver_size": len(self.ops),
            "forbidden": sorted(FORBIDDEN_OPS),
            "expected": sorted(EXPECTED_OPS.get(self.model_name, ())),
        }


def check_ops(info: ModelInfo, model_name: str) -> OpAudit:
    """Apply the rules of the module docstring to a parsed model; UnsupportedOpError on the first breach."""
    if info.subgraphs != 1:
        raise UnsupportedOpError(f"the int8 model has {info.subgraphs} subgraphs; the firmware runs exactly one")
    names = [op.name for op in info.ops]
    for name in names:
        if name in FORBIDDEN_OPS:
            raise UnsupportedOpError(
                f"the int8 {model_name} graph contains {name}: {FORBIDDEN_OPS[name]}. Ops: {', '.join(names)}. "
                f"See export/README.md (conversion route) before changing the model")
    for name in names:
        if name not in TFLM_RESOLVER_METHODS:
            raise UnsupportedOpError(
                f"the int8 {model_name} graph contains {name}, which TFLite Micro does not register "
                f"(no MicroMutableOpResolver method known for it). Ops: {', '.join(names)}")
    expected = EXPECTED_OPS.get(model_name)
    if expected is not None:
        extra = [name for name in names if name not in expected]
        if extra:
            raise UnsupportedOpError(
                f"the int8 {model_name} graph contains {', '.join(extra)}, which a {model_name} should not need "
                f"(expected only {', '.join(sorted(expected))}). Ops: {', '.join(names)}")
    return OpAudit(model_name, info.ops, info.op_sequence)


def audit_ops(model_bytes: bytes, model_name: str) -> OpAudit:
    """Parse a .tflite model and audit its ops (see the module docstring)."""
    return check_ops(describe(model_bytes), model_name)

"""The compiler's IR: a TFLite subgraph lowered to a list of kernel calls with TFLM-exact int8 parameters.

    from kws.compile.graph import lower
    graph = lower(read_tflite(raw, source), source)     # CompileError naming op and tensor if unsupported
    for layer in graph.layers: print(layer.kind, layer.macs)

Each Layer holds the activation tensors it reads and writes, its scalar kernel parameters (the C struct
fields of firmware/kernels/kws_kernels.h) and its constant arrays (weights, biases, multipliers, shifts).
All quantization arithmetic is TFLM's Prepare, done here once (kws/compile/quant.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kws.compile import quant
from kws.compile.tflite_reader import RawModel, RawOperator, RawTensor
from kws.errors import KwsError

SUPPORTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "SOFTMAX",
                 "RESHAPE", "ADD", "MEAN")
PADDING_SAME, PADDING_VALID = 0, 1


class CompileError(KwsError):
    """The model cannot be compiled; the message names the operator and tensor and what to do."""


@dataclass(frozen=True)
class Tensor:
    """An int8 tensor of the graph (activation or constant operand of ADD)."""

    index: int
    name: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int
    data: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


@dataclass
class Layer:
    """One kernel call: kind in conv|depthwise|fc|avgpool|maxpool|softmax|add|mean|reshape."""

    kind: str
    op_index: int
    opcode: str
    inputs: list[int]
    output: int
    params: dict[str, Any] = field(default_factory=dict)
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    macs: int = 0


@dataclass
class Graph:
    """Layers in execution order, the int8 tensors they use, and the graph's input and output."""

    tensors: dict[int, Tensor]
    layers: list[Layer]
    input: int
    output: int


class _Lowering:
    def __init__(self, model: RawModel, source: str) -> None:
        self.model = model
        self.source = source
        self.tensors: dict[int, Tensor] = {}

    def fail(self, op: RawOperator, what: str) -> CompileError:
        out = self.model.tensors[op.outputs[0]].name if op.outputs else "?"
        return CompileError(f"{self.source}: operator {op.index} {op.opcode} (output '{out}'): {what}")

    def raw(self, op: RawOperator, position: int, *, optional: bool = False) -> RawTensor | None:
        if position >= len(op.inputs) or op.inputs[position] < 0:
            if optional:
                return None
            raise self.fail(op, f"input {position} is missing")
        return self.model.tensors[op.inputs[position]]

    def int8(self, op: RawOperator, raw: RawTensor, role: str, *, per_tensor: bool = True) -> Tensor:
        if raw.type_name != "INT8":
            hint = ("a float tensor: convert with full-integer quantization (inference_input/output_type int8)"
                    if raw.type_name.startswith("FLOAT") else "only int8 activations are supported")
            raise self.fail(op, f"{role} tensor '{raw.name}' is {raw.type_name}, {hint}")
        q = raw.quantization
        if q is None:
            raise self.fail(op, f"{role} tensor '{raw.name}' has no quantization parameters")
        if per_tensor and len(q.scale) != 1:
            raise self.fail(op, f"{role} tensor '{raw.name}' is per-channel quantized; activations must be per-tensor")
        tensor = Tensor(raw.index, raw.name, raw.shape, float(q.scale[0]), int(q.zero_point[0]), raw.data)
        self.tensors.setdefault(raw.index, tensor)
        return tensor

    def activation_range(self, op: RawOperator, out: Tensor) -> tuple[int, int]:
        try:
            return quant.activation_range(int(op.options.get("activation", 0)), out.scale, out.zero_point)
        except ValueError as exc:
            raise self.fail(op, f"{exc} (TFLM int8 kernels support NONE, RELU, RELU6, RELU_N1_TO_1)") from None

    def const(self, op: RawOperator, raw: RawTensor, role: str, type_name: str) -> np.ndarray:
        if raw.type_name != type_name:
            raise self.fail(op, f"{role} tensor '{raw.name}' is {raw.type_name}, expected {type_name}")
        if raw.data is None:
            raise self.fail(op, f"{role} tensor '{raw.name}' is not a constant (the compiler needs it in flash)")
        return raw.data

    # ------------------------------------------------------------------------------------------ ops

    def conv(self, op: RawOperator, depthwise: bool) -> Layer:
        inp = self.int8(op, self.raw(op, 0), "input")
        w_raw = self.raw(op, 1)
        weights = self.const(op, w_raw, "filter", "INT8")
        b_raw = self.raw(op, 2, optional=True)
        bias = self.const(op, b_raw, "bias", "INT32") if b_raw is not None else None
        out = self.int8(op, self.model.tensors[op.outputs[0]], "output")
        if len(inp.shape) != 4 or len(out.shape) != 4 or weights.ndim != 4:
            raise self.fail(op, f"expects 4-D NHWC tensors, got input {inp.shape}, filter {weights.shape}")
        n, h, w, c = inp.shape
        _, oh, ow, oc = out.shape
        o = op.options
        if depthwise:
            _, kh, kw, w_oc = weights.shape
            filter_c = 1
            if c == 0 or w_oc != oc or oc % c:
                raise self.fail(op, f"filter {weights.shape} does not match input {inp.shape} / output {out.shape}")
            depth_mult = oc // c
        else:
            w_oc, kh, kw, filter_c = weights.shape
            if w_oc != oc or filter_c == 0 or c % filter_c or oc % (c // filter_c):
                raise self.fail(op, f"filter {weights.shape} does not match input {inp.shape} / output {out.shape}")
            depth_mult = 1
        if bias is not None and bias.size != oc:
            raise self.fail(op, f"bias '{b_raw.name}' has {bias.size} values for {oc} output channels")
        sh, sw, dh, dw = int(o["stride_h"]), int(o["stride_w"]), int(o["dilation_h"]), int(o["dilation_w"])
        pad_h, want_h = _padding(int(o["padding"]), h, kh, sh, dh)
        pad_w, want_w = _padding(int(o["padding"]), w, kw, sw, dw)
        if (want_h, want_w) != (oh, ow) or out.shape[0] != n:
            raise self.fail(op, f"output shape {out.shape} disagrees with the padding/strides (expected "
                                f"{(n, want_h, want_w, oc)})")
        fq = w_raw.quantization
        if fq is None or len(fq.scale) not in (1, oc):
            raise self.fail(op, f"filter '{w_raw.name}' needs one scale or one per output channel")
        mults, shifts = quant.conv_multipliers(inp.scale, fq.scale, out.scale, oc)
        act_min, act_max = self.activation_range(op, out)
        params = dict(batches=n, in_h=h, in_w=w, in_c=c, out_h=oh, out_w=ow, out_c=oc, k_h=kh, k_w=kw,
                      filter_c=filter_c, stride_h=sh, stride_w=sw, dil_h=dh, dil_w=dw, pad_h=pad_h, pad_w=pad_w,
                      depth_mult=depth_mult, in_offset=-inp.zero_point, out_offset=out.zero_point,
                      act_min=act_min, act_max=act_max, reverse=0)
        consts = {"weights": weights.astype(np.int8), "mult": np.array(mults, np.int32),
                  "shift": np.array(shifts, np.int8)}
        if bias is not None:
            consts["bias"] = bias.astype(np.int32)
        macs = n * oh * ow * oc * kh * kw * filter_c
        return Layer("depthwise" if depthwise else "conv", op.index, op.opcode, [inp.index], out.index, params,
                     consts, macs)

    def fully_connected(self, op: RawOperator) -> Layer:
        inp = self.int8(op, self.raw(op, 0), "input")
        w_raw = self.raw(op, 1)
        weights = self.const(op, w_raw, "weights", "INT8")
        b_raw = self.raw(op, 2, optional=True)
        bias = self.const(op, b_raw, "bias", "INT32") if b_raw is not None else None
        out = self.int8(op, self.model.tensors[op.outputs[0]], "output")
        if int(op.options.get("weights_format", 0)) != 0:
            raise self.fail(op, "shuffled weights format is not supported (use DEFAULT)")
        if weights.ndim != 2:
            raise self.fail(op, f"weights '{w_raw.name}' must be 2-D, got {weights.shape}")
        out_c, accum = weights.shape
        if accum == 0 or inp.size % accum or out.shape[-1] != out_c:
            raise self.fail(op, f"input {inp.shape} / output {out.shape} do not fit weights {weights.shape}")
        batches = out.size // out_c
        if batches * accum != inp.size:
            raise self.fail(op, f"input {inp.shape} holds {inp.size / accum:g} rows, output {out.shape} {batches}")
        if bias is not None and bias.size != out_c:
            raise self.fail(op, f"bias '{b_raw.name}' has {bias.size} values for {out_c} outputs")
        fq = w_raw.quantization
        if fq is None:
            raise self.fail(op, f"weights '{w_raw.name}' have no quantization parameters")
        if len(fq.scale) > 1:
            if len(fq.scale) != out_c:
                raise self.fail(op, f"weights '{w_raw.name}' have {len(fq.scale)} scales for {out_c} outputs")
            mults, shifts = quant.conv_multipliers(inp.scale, fq.scale, out.scale, out_c)
            weights_offset = 0  # per-channel FC ignores the (symmetric) weights zero point, as TFLM does
        else:
            m, s = quant.fc_multiplier(inp.scale, float(fq.scale[0]), out.scale)
            mults, shifts = [m] * out_c, [s] * out_c
            weights_offset = -int(fq.zero_point[0])
        act_min, act_max = self.activation_range(op, out)
        params = dict(batches=batches, accum=accum, out_c=out_c, in_offset=-inp.zero_point,
                      weights_offset=weights_offset, out_offset=out.zero_point, act_min=act_min, act_max=act_max)
        consts = {"weights": weights.astype(np.int8), "mult": np.array(mults, np.int32),
                  "shift": np.array(shifts, np.int8)}
        if bias is not None:
            consts["bias"] = bias.astype(np.int32)
        return Layer("fc", op.index, op.opcode, [inp.index], out.index, params, consts, batches * out_c * accum)

    def pool(self, op: RawOperator, kind: str) -> Layer:
        inp = self.int8(op, self.raw(op, 0), "input")
        out = self.int8(op, self.model.tensors[op.outputs[0]], "output")
        if len(inp.shape) != 4 or len(out.shape) != 4:
            raise self.fail(op, f"expects 4-D NHWC tensors, got input {inp.shape}")
        if abs(np.float32(inp.scale) - np.float32(out.scale)) > 1e-6 or inp.zero_point != out.zero_point:
            raise self.fail(op, f"input '{inp.name}' and output quantization differ (TFLM requires them equal)")
        n, h, w, c = inp.shape
        o = op.options
        kh, kw, sh, sw = int(o["filter_h"]), int(o["filter_w"]), int(o["stride_h"]), int(o["stride_w"])
        pad_h, want_h = _padding(int(o["padding"]), h, kh, sh, 1)
        pad_w, want_w = _padding(int(o["padding"]), w, kw, sw, 1)
        if out.shape != (n, want_h, want_w, c):
            raise self.fail(op, f"output shape {out.shape} disagrees with the window "
                                f"(expected {(n, want_h, want_w, c)})")
        act_min, act_max = self.activation_range(op, out)
        params = dict(batches=n, in_h=h, in_w=w, channels=c, out_h=want_h, out_w=want_w, k_h=kh, k_w=kw,
                      stride_h=sh, stride_w=sw, pad_h=pad_h, pad_w=pad_w, act_min=act_min, act_max=act_max,
                      reverse=0)
        return Layer(kind, op.index, op.opcode, [inp.index], out.index, params, {}, 0)

    def softmax(self, op: RawOperator) -> Layer:
        inp = self.int8(op, self.raw(op, 0), "input")
        out = self.int8(op, self.model.tensors[op.outputs[0]], "output")
        if out.zero_point != -128 or np.float32(out.scale) != np.float32(1.0 / 256):
            raise self.fail(op, f"output '{out.name}' must have scale 1/256 and zero point -128 (TFLM int8 softmax)")
        if not inp.shape:
            raise self.fail(op, "input must have at least one dimension")
        depth = inp.shape[-1]
        try:
            mult, left_shift, diff_min = quant.softmax_params(float(op.options.get("beta", 1.0)), inp.scale)
        except ValueError as exc:
            raise self.fail(op, str(exc)) from None
        params = dict(outer=inp.size // depth, depth=depth, input_mult=mult, input_left_shift=left_shift,
                      diff_min=diff_min)
        return Layer("softmax", op.index, op.opcode, [inp.index], out.index, params, {}, 0)

    def reshape(self, op: RawOperator) -> Layer:
        inp = self.int8(op, self.raw(op, 0), "input")
        out = self.int8(op, self.model.tensors[op.outputs[0]], "output")
        if inp.size != out.size:
            raise self.fail(op, f"input {inp.shape} and output {out.shape} differ in size")
        if (inp.scale, inp.zero_point) != (out.scale, out.zero_point):
            raise self.fail(op, "input and output quantization differ (RESHAPE cannot requantize)")
        return Layer("reshape", op.index, op.opcode, [inp.index], out.index, {}, {}, 0)

    def add(self, op: RawOperator) -> Layer:
        a = self.int8(op, self.raw(op, 0), "input 1")
        b = self.int8(op, self.raw(op, 1), "input 2")
        out = self.int8(op, self.model.tensors[op.outputs[0]], "output")
        rank = max(len(a.shape), len(b.shape), len(out.shape))
        if rank > 6:
            raise self.fail(op, f"rank {rank} is above the 6 dimensions TFLM broadcasts")
        try:
            shape = np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise self.fail(op, f"shapes {a.shape} and {b.shape} do not broadcast") from None
        if tuple(shape) != out.shape:
            raise self.fail(op, f"output {out.shape} is not the broadcast shape {tuple(shape)}")
        try:
            q = quant.add_params(a.scale, b.scale, out.scale)
        except ValueError as exc:
            raise self.fail(op, f"scales give {exc}") from None
        act_min, act_max = self.activation_range(op, out)
        params = dict(size=out.size, ndims=0, dims=[0] * 6, stride1=[0] * 6, stride2=[0] * 6,
                      in1_offset=-a.zero_point, in2_offset=-b.zero_point, left_shift=q["left_shift"],
                      mult1=q["mult1"], shift1=q["shift1"], mult2=q["mult2"], shift2=q["shift2"],
                      out_mult=q["out_mult"], out_shift=q["out_shift"], out_offset=out.zero_point,
                      act_min=act_min, act_max=act_max)
        if a.shape != b.shape:
            dims = list(out.shape)
            params.update(ndims=len(dims), dims=dims + [0] * (6 - len(dims)),
                          stride1=_broadcast_strides(a.shape, dims), stride2=_broadcast_strides(b.shape, dims))
        return Layer("add", op.index, op.opcode, [a.index, b.index], out.index, params, {}, 0)

    def mean(self, op: RawOperator) -> Layer:
        inp = self.int8(op, self.raw(op, 0), "input")
        axes_raw = self.raw(op, 1)
        axes = self.const(op, axes_raw, "axis", "INT32").reshape(-1)
        out = self.int8(op, self.model.tensors[op.outputs[0]], "output")
        rank = len(inp.shape)
        if rank > 6 or rank == 0:
            raise self.fail(op, f"input rank {rank} is not supported (1 to 6)")
        reduce = [0] * rank
        for axis in axes:
            axis = int(axis)
            if not -rank <= axis < rank:
                raise self.fail(op, f"axis {axis} is out of range for input {inp.shape}")
            reduce[axis % rank] = 1
        count = int(np.prod([inp.shape[d] for d in range(rank) if reduce[d]], dtype=np.int64))
        if count == 0 or out.size != inp.size // count:
            raise self.fail(op, f"output {out.shape} does not match reducing {inp.shape} over {list(axes)}")
        mult, shift = quant.mean_multiplier(inp.scale, out.scale, count)
        params = dict(ndims=rank, dims=list(inp.shape) + [0] * (6 - rank), reduce=reduce + [0] * (6 - rank),
                      num_elements=count, in_zero_point=inp.zero_point, out_zero_point=out.zero_point, mult=mult,
                      shift=shift)
        return Layer("mean", op.index, op.opcode, [inp.index], out.index, params, {}, 0)


def _padding(padding: int, size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """(pad_before, output_size) as TFLM's ComputePaddingHeightWidth computes them."""
    effective = (kernel - 1) * dilation + 1
    if stride <= 0:
        return 0, 0
    out = (size + stride - 1) // stride if padding == PADDING_SAME else (size + stride - effective) // stride
    total = max(0, (out - 1) * stride + effective - size)
    return total // 2, out


def _broadcast_strides(shape: tuple[int, ...], out_dims: list[int]) -> list[int]:
    full = [1] * (len(out_dims) - len(shape)) + list(shape)
    strides, stride = [0] * len(full), 1
    for d in range(len(full) - 1, -1, -1):
        strides[d] = 0 if full[d] == 1 and out_dims[d] != 1 else stride
        stride *= full[d]
    return strides + [0] * (6 - len(full))


def lower(model: RawModel, source: str = "model") -> Graph:
    """Lower the subgraph to kernel calls; CompileError for any op, type or shape the compiler cannot do."""
    lowering = _Lowering(model, source)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise CompileError(f"{source}: the model has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                           f"the model-backend interface takes exactly one of each")
    layers = []
    for op in model.operators:
        if op.opcode not in SUPPORTED_OPS:
            raise lowering.fail(op, f"operator {op.opcode} is not supported (supported: {', '.join(SUPPORTED_OPS)})")
        if len(op.outputs) != 1:
            raise lowering.fail(op, f"has {len(op.outputs)} outputs, expected 1")
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            layers.append(lowering.conv(op, op.opcode == "DEPTHWISE_CONV_2D"))
        elif op.opcode == "FULLY_CONNECTED":
            layers.append(lowering.fully_connected(op))
        elif op.opcode in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            layers.append(lowering.pool(op, "avgpool" if op.opcode == "AVERAGE_POOL_2D" else "maxpool"))
        elif op.opcode == "SOFTMAX":
            layers.append(lowering.softmax(op))
        elif op.opcode == "RESHAPE":
            layers.append(lowering.reshape(op))
        elif op.opcode == "ADD":
            layers.append(lowering.add(op))
        else:
            layers.append(lowering.mean(op))
    graph_in = model.tensors[model.inputs[0]]
    graph_out = model.tensors[model.outputs[0]]
    for raw, role in ((graph_in, "model input"), (graph_out, "model output")):
        if raw.type_name != "INT8":
            raise CompileError(f"{source}: {role} '{raw.name}' is {raw.type_name}; the compiler needs a full-int8 "
                               f"model (convert with inference_input_type/inference_output_type int8)")
        lowering.tensors.setdefault(raw.index, Tensor(raw.index, raw.name, raw.shape,
                                                      float(raw.quantization.scale[0]) if raw.quantization else 1.0,
                                                      int(raw.quantization.zero_point[0]) if raw.quantization else 0))
    return Graph(lowering.tensors, layers, model.inputs[0], model.outputs[0])

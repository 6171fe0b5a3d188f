"""Hop 1: PyTorch -> ONNX (dynamo exporter, opset 18, one file), checked with ONNX Runtime.

    from export.onnx_export import DeployModel, export_onnx, run_onnxruntime
    deploy = DeployModel(model, snap_weights=False)          # what the device computes, in float
    report = export_onnx(deploy, Path("model.onnx"), frames=49, features=40)
    scores = run_onnxruntime(Path("model.onnx"), features)     # [N, labels] softmax scores

`DeployModel` is the network as the device runs it: batch norm folded into the convolutions (the
converter would fold it too; doing it here keeps one source of truth for QAT), optionally weights
snapped to the per-channel int8 grid (a QAT checkpoint: the converter's own per-channel quantization
then reproduces the QAT weights exactly), and a softmax on top, so the int8 scores are probabilities
in 1/256 steps, as the recognizer's threshold (200 of 255) expects.

The exported graph is rewritten by one small pass, `fold_padding`: a Pad feeding a Conv is merged into
the Conv's pads, and a Conv whose explicit pads equal TensorFlow's SAME geometry (extra row/column
after) gets auto_pad=SAME_UPPER instead. onnx2tf turns SAME_UPPER into a TF 'SAME' convolution; with
explicit asymmetric pads it would emit a separate PAD op, which the op audit forbids.
"""

from __future__ import annotations

import contextlib
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from export.errors import ExportError, ParityError
from kws.compress.qat import fake_quant_weight, fold_batchnorm
from kws.models.ops import FloatOps, conv_parts

OPSET = 18
INPUT_NAME = "features"
OUTPUT_NAME = "scores"
# ONNX Runtime vs PyTorch on softmax scores. Both are float32; they differ only by the order of the
# additions in the convolution / matmul reductions (<= 4000 terms): about 1e-6 relative in the logits,
# far below 1e-4 in the scores. A real conversion fault (layout, padding, weights) moves scores by > 1e-2.
FLOAT_SCORE_TOLERANCE = 1e-4


def _key(name: str) -> str:
    return name.replace(".", "_") or "unnamed"


class _CollectOps(FloatOps):
    """Runs the model's forward once to compute each fused unit's deployable weight and bias."""

    def __init__(self, snap_weights: bool) -> None:
        self.snap = snap_weights
        self.params: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def _store(self, name: str, weight: torch.Tensor, bias: torch.Tensor) -> None:
        if self.snap:
            weight = fake_quant_weight(weight)
        key = _key(name)
        if key in self.params:
            raise ExportError(f"two layers of the model share the unit name {name!r}; the export needs unique names")
        self.params[key] = (weight.detach().clone(), bias.detach().clone())

    def conv(self, layer, x, *, bn=None, relu=False, name=""):  # type: ignore[override]
        conv, _ = conv_parts(layer)
        weight, bias = fold_batchnorm(conv, bn)
        self._store(name, weight, bias)
        return super().conv(layer, x, bn=bn, relu=relu, name=name)

    def linear(self, layer, x, *, name=""):  # type: ignore[override]
        bias = layer.bias if layer.bias is not None else torch.zeros(layer.out_features)
        self._store(name, layer.weight, bias)
        return super().linear(layer, x, name=name)


class _DeployOps(FloatOps):
    """Float execution with the precomputed (folded, optionally snapped) weights of `DeployModel`."""

    def __init__(self, owner: "DeployModel") -> None:
        self.owner = owner

    def _params(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        key = _key(name)
        return getattr(self.owner, f"w_{key}"), getattr(self.owner, f"b_{key}")

    def conv(self, layer, x, *, bn=None, relu=False, name=""):  # type: ignore[override]
        conv, pad = conv_parts(layer)
        weight, bias = self._params(name)
        if any(pad):
            x = F.pad(x, pad)
        y = F.conv2d(x, weight, bias, conv.stride, 0, conv.dilation, conv.groups)
        return torch.relu(y) if relu else y

    def linear(self, layer, x, *, name=""):  # type: ignore[override]
        weight, bias = self._params(name)
        return F.linear(x, weight, bias)


class DeployModel(nn.Module):
    """The network the device runs, in float: folded batch norm, optional int8-grid weights, softmax."""

    def __init__(self, model: nn.Module, *, snap_weights: bool = False) -> None:
        super().__init__()
        self.model = model.eval()
        self.input_shape = tuple(model.input_shape)
        collect = _CollectOps(snap_weights)
        with torch.no_grad():
            model(torch.zeros(1, *self.input_shape), collect)
        self.units = tuple(collect.params)
        for key, (weight, bias) in collect.params.items():
            self.register_buffer(f"w_{key}", weight)
            self.register_buffer(f"b_{key}", bias)
        self.eval()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(features, _DeployOps(self)), dim=-1)

    @torch.no_grad()
    def scores(self, features: np.ndarray | torch.Tensor, batch: int = 500) -> np.ndarray:
        """Softmax scores [N, labels] (float32) for dequantized features [N, frames, features]."""
        x = torch.as_tensor(features, dtype=torch.float32)
        out = [self(x[i:i + batch]) for i in range(0, x.shape[0], batch)]
        return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


# ------------------------------------------------------------------------------------------ graph pass

def _attr(node, name: str, default=None):
    import onnx

    for attribute in node.attribute:
        if attribute.name == name:
            value = onnx.helper.get_attribute_value(attribute)
            return value.decode() if isinstance(value, bytes) else value
    return default


def _set_attr(node, name: str, value) -> None:
    import onnx

    for attribute in list(node.attribute):
        if attribute.name == name:
            node.attribute.remove(attribute)
    if value is not None:
        node.attribute.append(onnx.helper.make_attribute(name, value))


def _constant(graph, name: str) -> np.ndarray | None:
    import onnx

    for init in graph.initializer:
        if init.name == name:
            return onnx.numpy_helper.to_array(init)
    for node in graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            value = _attr(node, "value")
            return None if value is None else onnx.numpy_helper.to_array(value)
    return None


def same_upper_pads(size: list[int], kernel: list[int], strides: list[int], dilations: list[int]) -> list[int]:
    """ONNX pads [begins..., ends...] of auto_pad=SAME_UPPER (TF's SAME: the extra row/column at the end)."""
    begins, ends = [], []
    for n, k, s, d in zip(size, kernel, strides, dilations):
        out = math.ceil(n / s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        begins.append(total // 2)
        ends.append(total - total // 2)
    return begins + ends


def fold_padding(model) -> dict[str, int]:
    """Merge Pad->Conv and turn SAME-shaped Conv pads into auto_pad=SAME_UPPER, in place.

    Returns counts {'pads_merged': n, 'convs_same_upper': m}. Only constant zero padding of spatial axes
    whose result feeds nothing but the Conv's data input is merged; anything else is left alone (and
    the op audit will say so if a PAD reaches the int8 graph).
    """
    import onnx

    graph = model.graph
    graph_outputs = {o.name for o in graph.output}
    merged = 0
    for pad in [n for n in graph.node if n.op_type == "Pad"]:
        users = [n for n in graph.node if pad.output[0] in n.input]
        if (len(users) != 1 or users[0].op_type != "Conv" or users[0].input[0] != pad.output[0]
                or pad.output[0] in graph_outputs or _attr(pad, "mode", "constant") != "constant"):
            continue
        pads = _constant(graph, pad.input[1]) if len(pad.input) > 1 else None
        if pads is None:
            continue
        if len(pad.input) > 2 and pad.input[2]:
            value = _constant(graph, pad.input[2])
            if value is None or np.any(value != 0):
                continue
        if len(pad.input) > 3 and pad.input[3]:
            continue  # explicit axes: rare; not worth the generality
        conv = users[0]
        rank = len(pads) // 2
        begins, ends = [int(v) for v in pads[:rank]], [int(v) for v in pads[rank:]]
        if begins[:2] != [0, 0] or ends[:2] != [0, 0] or _attr(conv, "auto_pad", "NOTSET") != "NOTSET":
            continue
        old = list(_attr(conv, "pads", [0] * (2 * (rank - 2))))
        _set_attr(conv, "pads", [a + b for a, b in zip(begins[2:] + ends[2:], old)])
        conv.input[0] = pad.input[0]
        graph.node.remove(pad)
        merged += 1
    _drop_unused(graph)

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # without shapes no SAME rewrite; a PAD left in the graph is refused by the op audit
        return {"pads_merged": merged, "convs_same_upper": 0}
    shapes = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.input):
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = [d.dim_value if d.HasField("dim_value") else 0 for d in dims]
    weights = {init.name: list(init.dims) for init in graph.initializer}
    same = 0
    for conv in [n for n in graph.node if n.op_type == "Conv"]:
        if _attr(conv, "auto_pad", "NOTSET") != "NOTSET":
            continue
        shape = shapes.get(conv.input[0])
        kernel = _attr(conv, "kernel_shape") or weights.get(conv.input[1], [])[2:]
        if not shape or not kernel or 0 in shape[2:]:
            continue
        spatial = len(kernel)
        pads = list(_attr(conv, "pads", [0] * (2 * spatial)))
        strides = list(_attr(conv, "strides", [1] * spatial))
        dilations = list(_attr(conv, "dilations", [1] * spatial))
        if any(pads) and pads == same_upper_pads(shape[2:], list(kernel), strides, dilations):
            _set_attr(conv, "pads", None)
            _set_attr(conv, "auto_pad", "SAME_UPPER")
            same += 1
    return {"pads_merged": merged, "convs_same_upper": same}


def _drop_unused(graph) -> None:
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)


# -------------------------------------------------------------------------------------------- export

@dataclass(frozen=True)
class OnnxReport:
    """What hop 1 produced."""

    path: Path
    opset: int
    ops: tuple[str, ...]
    """ONNX node types in graph order, after the padding pass."""
    padding_pass: dict[str, int]


def export_onnx(deploy: DeployModel, path: Path) -> OnnxReport:
    """torch.onnx.export (dynamo, opset 18, external_data=False) of `deploy` with batch 1, then the padding pass."""
    import logging

    import onnx

    from export.tfenv import quiet_loggers, quiet_warnings

    sample = torch.zeros(1, *deploy.input_shape)
    chatter = io.StringIO()
    try:
        with quiet_warnings(), quiet_loggers("torch.onnx", "torch.export", "onnxscript", level=logging.ERROR), \
                contextlib.redirect_stdout(chatter):
            torch.onnx.export(deploy, (sample,), str(path), dynamo=True, opset_version=OPSET,
                              external_data=False, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              verbose=False)
    except Exception as exc:  # the exporter raises many types; the message is what helps
        raise ExportError(f"torch.onnx.export (dynamo, opset {OPSET}) failed for {path}: "
                          f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
    model = onnx.load(str(path))
    counts = fold_padding(model)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"{path} fails the ONNX checker after the padding pass: {exc}") from None
    onnx.save_model(model, str(path))  # small model: one self-contained file
    return OnnxReport(path, OPSET, tuple(n.op_type for n in model.graph.node), counts)


def run_onnxruntime(path: Path, features: np.ndarray) -> np.ndarray:
    """Scores [N, labels] from ONNX Runtime (CPU), one clip at a time (the graph has batch 1)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = np.asarray(features, dtype=np.float32)
    out = [session.run(None, {INPUT_NAME: x[i:i + 1]})[0][0] for i in range(x.shape[0])]
    return np.stack(out) if out else np.zeros((0, 0), np.float32)


def check_float_scores(name: str, reference: np.ndarray, candidate: np.ndarray,
                       tolerance: float = FLOAT_SCORE_TOLERANCE) -> float:
    """Max |reference - candidate|; ParityError above `tolerance` (see FLOAT_SCORE_TOLERANCE)."""
    if reference.shape != candidate.shape:
        raise ParityError(f"{name} gives scores of shape {candidate.shape}, PyTorch {reference.shape}")
    diff = float(np.max(np.abs(reference - candidate))) if reference.size else 0.0
    if not diff <= tolerance:
        raise ParityError(f"{name} scores differ from PyTorch by up to {diff:.3g} (tolerance {tolerance:g}): "
                          f"the conversion changed the network")
    return diff

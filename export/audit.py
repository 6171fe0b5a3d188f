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
from kws.device.tflm_ops import TFLM_RESOLVER_METHODS

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

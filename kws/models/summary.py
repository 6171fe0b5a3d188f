"""Per-layer parameters, MACs and int8 activation memory of a model, measured by tracing one forward pass.

    kws models                      # every registered model at the configured frontend
    kws models --config my.toml

MACs count multiply-accumulates of convolutions and fully connected layers (batch norm is folded into
the convolution at export, ReLU/dropout/pooling are not counted). Activation memory is what the
layer's output needs as int8 on the device; the peak is the largest input+output pair, a lower bound
for TFLite Micro's arena (which also holds scratch buffers).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LayerInfo:
    """One traced layer."""

    name: str
    """Module path inside the model."""
    kind: str
    """Module class name."""
    output_shape: tuple[int, ...]
    """Output shape for one clip (batch dimension removed)."""
    params: int
    """Trainable parameters owned directly by the layer."""
    macs: int
    """Multiply-accumulates for one clip."""
    activation_bytes: int
    """int8 bytes of the output for one clip."""
    input_bytes: int
    """int8 bytes of the input for one clip."""


@dataclass(frozen=True)
class ModelSummary:
    """All layers plus totals."""

    layers: tuple[LayerInfo, ...]
    """Traced leaf layers in execution order."""
    total_params: int
    """All trainable parameters of the model."""

    @property
    def total_macs(self) -> int:
        """Sum of the layers' MACs."""
        return sum(layer.macs for layer in self.layers)

    @property
    def peak_activation_bytes(self) -> int:
        """Largest input+output int8 pair over the layers."""
        return max((layer.input_bytes + layer.activation_bytes for layer in self.layers), default=0)


def _macs(module: nn.Module, output: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return int(output[0].numel() * (module.in_channels // module.groups) * kh * kw)
    if isinstance(module, nn.Linear):
        return int(module.in_features * module.out_features)
    return 0


def summarize(model: nn.Module, input_shape: tuple[int, ...]) -> ModelSummary:
    """Trace `model` on zeros of [1, *input_shape] in eval mode and collect per-layer figures."""
    layers: list[LayerInfo] = []
    hooks = []

    def hook(name: str):
        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            params = sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)
            layers.append(LayerInfo(
                name=name, kind=type(module).__name__, output_shape=tuple(output.shape[1:]), params=params,
                macs=_macs(module, output), activation_bytes=int(output[0].numel()),
                input_bytes=int(inputs[0][0].numel()) if inputs else 0))
        return record

    for name, module in model.named_modules():
        if not list(module.children()):  # leaves only: containers would count twice
            hooks.append(module.register_forward_hook(hook(name)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for handle in hooks:
            handle.remove()
        model.train(was_training)
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return ModelSummary(tuple(layers), total)


def print_summary(name: str, summary: ModelSummary) -> None:
    """A rich table of the layers and the totals."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{name}: {summary.total_params:,} parameters, {summary.total_macs:,} MACs, "
                        f"peak activations {summary.peak_activation_bytes:,} B (int8)")
    for column in ("layer", "kind", "output", "params", "MACs", "act. bytes"):
        table.add_column(column, justify="right" if column in ("params", "MACs", "act. bytes") else "left")
    for layer in summary.layers:
        table.add_row(layer.name, layer.kind, "x".join(map(str, layer.output_shape)), f"{layer.params:,}",
                      f"{layer.macs:,}", f"{layer.activation_bytes:,}")
    Console().print(table)

"""TensorFlow's `tiny_conv` (speech_commands models.py, create_tiny_conv_model) in PyTorch.

Conv2D 8 filters of 10x8 (time x frequency), stride 2x2, SAME, ReLU, dropout, fully connected to the
labels. For a 49x40 input: conv output 25x20x8, 648 + 4000*labels + labels parameters
(16,652 for 4 labels), 320,000 + 4,000*labels MACs (336,000 for 4 labels).

Input: [batch, frames, features] dequantized int8 features. The flatten is in H,W,C order
(`permute(0, 2, 3, 1)`) so the exported NHWC graph has no TRANSPOSE and TF weights map 1:1.
"""

from __future__ import annotations

import torch
from torch import nn

from kws.models.layers import SamePadConv2d
from kws.models.ops import FLOAT_OPS, FloatOps


class TinyConv(nn.Module):
    """tiny_conv: one strided convolution and one fully connected layer."""

    def __init__(self, num_frames: int, num_features: int, num_labels: int, dropout: float = 0.5,
                 filters: int = 8, kernel: tuple[int, int] = (10, 8), stride: tuple[int, int] = (2, 2)) -> None:
        super().__init__()
        self.input_shape = (num_frames, num_features)
        self.conv = SamePadConv2d(1, filters, kernel, stride, (num_frames, num_features))
        self.dropout = nn.Dropout(dropout)
        out_h, out_w = self.conv.output_hw
        self.fc = nn.Linear(out_h * out_w * filters, num_labels)

    def forward(self, features: torch.Tensor, ops: FloatOps = FLOAT_OPS) -> torch.Tensor:
        x = ops.input(features).unsqueeze(1)                      # [B, 1, T, F]
        x = self.dropout(ops.conv(self.conv, x, relu=True, name="conv"))  # [B, C, T', F']
        x = x.permute(0, 2, 3, 1).flatten(1)                      # H,W,C order, as TF flattens NHWC
        return ops.linear(self.fc, x, name="fc")

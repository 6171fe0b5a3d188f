"""DS-CNN of Hello Edge (Zhang et al. 2017) as used by MLPerf Tiny keyword spotting, in PyTorch.

A 10x4 stride-2 convolution with `width` channels, four depthwise-separable blocks (3x3 depthwise +
1x1 pointwise, each with batch norm and ReLU), average pooling over the whole map, dropout, and a
fully connected layer. Runs on log-mel (49x40) or MFCC (49x10) input: [batch, frames, features].
"""

from __future__ import annotations

import torch
from torch import nn

from kws.models.layers import SamePadConv2d
from kws.models.ops import FLOAT_OPS, FloatOps


class DepthwiseSeparable(nn.Module):
    """3x3 depthwise conv + BN + ReLU, then 1x1 pointwise conv + BN + ReLU (SAME, stride 1)."""

    def __init__(self, channels: int, input_hw: tuple[int, int]) -> None:
        super().__init__()
        self.depthwise = SamePadConv2d(channels, channels, (3, 3), (1, 1), input_hw, groups=channels, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.pointwise = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor, ops: FloatOps = FLOAT_OPS, name: str = "block") -> torch.Tensor:
        x = ops.conv(self.depthwise, x, bn=self.bn1, relu=True, name=f"{name}.depthwise")
        return ops.conv(self.pointwise, x, bn=self.bn2, relu=True, name=f"{name}.pointwise")


class DSCNN(nn.Module):
    """DS-CNN (MLPerf Tiny KWS reference shape, width configurable)."""

    def __init__(self, num_frames: int, num_features: int, num_labels: int, width: int = 64,
                 blocks: int = 4, dropout: float = 0.4) -> None:
        super().__init__()
        self.input_shape = (num_frames, num_features)
        self.conv = SamePadConv2d(1, width, (10, 4), (2, 2), (num_frames, num_features), bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.dropout1 = nn.Dropout(min(dropout, 0.2))
        hw = self.conv.output_hw
        self.blocks = nn.Sequential(*[DepthwiseSeparable(width, hw) for _ in range(blocks)])
        self.pool = nn.AvgPool2d(hw)
        self.dropout2 = nn.Dropout(dropout)
        self.fc = nn.Linear(width, num_labels)

    def forward(self, features: torch.Tensor, ops: FloatOps = FLOAT_OPS) -> torch.Tensor:
        x = ops.input(features).unsqueeze(1)
        x = self.dropout1(ops.conv(self.conv, x, bn=self.bn, relu=True, name="conv"))
        for i, block in enumerate(self.blocks):
            x = block(x, ops, name=f"blocks.{i}")
        x = self.dropout2(ops.avgpool(self.pool, x, name="pool"))
        return ops.linear(self.fc, x.flatten(1), name="fc")

"""Name -> model builder, with a tiny config per model (fast tests) and the input geometry.

    from kws.models.registry import build_model
    model = build_model(config.model, config.frontend, num_labels=len(config.data.labels()))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from kws.config import ConfigError, FrontendConfig, ModelConfig
from kws.model_names import MODEL_NAMES


@dataclass(frozen=True)
class ModelSpec:
    """A registered model."""

    name: str
    """Registry name (ModelConfig.name)."""
    build: Callable[[ModelConfig, FrontendConfig, int], nn.Module]
    """Builds the network for a frontend and a label count."""
    tiny: ModelConfig
    """A small config of it, for tests."""
    description: str
    """One line for `kws models`."""


def _tiny_conv(model: ModelConfig, frontend: FrontendConfig, num_labels: int) -> nn.Module:
    from kws.models.tiny_conv import TinyConv

    return TinyConv(frontend.num_frames, frontend.num_features, num_labels, dropout=model.dropout,
                    filters=model.filters, kernel=(model.kernel[0], model.kernel[1]),
                    stride=(model.stride[0], model.stride[1]))


def _ds_cnn(model: ModelConfig, frontend: FrontendConfig, num_labels: int) -> nn.Module:
    from kws.models.ds_cnn import DSCNN

    return DSCNN(frontend.num_frames, frontend.num_features, num_labels, width=model.width, blocks=model.depth,
                 dropout=min(model.dropout, 0.4))


_REGISTRY: dict[str, ModelSpec] = {
    "tiny_conv": ModelSpec("tiny_conv", _tiny_conv, ModelConfig(name="tiny_conv", dropout=0.5),
                           "TensorFlow micro_speech tiny_conv: 10x8 conv (8 filters, stride 2) + FC"),
    "ds_cnn": ModelSpec("ds_cnn", _ds_cnn, ModelConfig(name="ds_cnn", dropout=0.4, width=8),
                        "DS-CNN (Hello Edge / MLPerf Tiny): 10x4 conv + 4 depthwise-separable blocks"),
}
if tuple(_REGISTRY) != MODEL_NAMES:  # kws.config validates model.name against the light list
    raise ImportError(f"kws.models.registry holds {tuple(_REGISTRY)} but kws.model_names.MODEL_NAMES is "
                      f"{MODEL_NAMES}; update the list when a model is registered or removed")


def model_spec(name: str) -> ModelSpec:
    """The registered model called `name`, or a ConfigError listing the names that exist."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"model.name={name!r} is not a registered model; choose one of "
                          f"{', '.join(MODEL_NAMES)}") from None


def build_model(model: ModelConfig, frontend: FrontendConfig, num_labels: int) -> nn.Module:
    """Build the configured network for a frontend and label count."""
    if num_labels < 2:
        raise ConfigError(f"a classifier needs at least 2 labels, got {num_labels}")
    return model_spec(model.name).build(model, frontend, num_labels)


def tiny_model_config(name: str) -> ModelConfig:
    """The tiny test config of a registered model."""
    return model_spec(name).tiny

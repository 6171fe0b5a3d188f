"""The model registry: every network the toolchain trains, each with a tiny config for tests.

    from kws.models import build_model, MODEL_NAMES
    model = build_model(config.model, config.frontend, num_labels=4)

`kws models` prints parameters, MACs and activation memory per layer for each registered model.
"""

from kws.models.registry import MODEL_NAMES, build_model, model_spec, tiny_model_config

__all__ = ["MODEL_NAMES", "build_model", "model_spec", "tiny_model_config"]

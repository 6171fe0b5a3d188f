"""The names of the registered models, importable without torch.

    from kws.model_names import MODEL_NAMES

kws.config validates `model.name` against this list at load time (it must not import torch), and
kws.models.registry refuses to import if its table holds other names, so the two cannot drift apart.
"""

from __future__ import annotations

MODEL_NAMES: tuple[str, ...] = ("tiny_conv", "ds_cnn")
"""Registered model names, in the order `kws models` lists them."""

"""Checkpoints that know what they are: model name and config, labels, frontend spec hash.

    from kws.checkpoint import save_checkpoint, load_checkpoint
    state = load_checkpoint("runs/demo/model_float.pt", expect=config)   # clear error on any mismatch

A checkpoint of another model, label set or feature spec is refused with a message naming both
values, before any work starts. Files are written atomically, so a run killed mid-save keeps its
previous checkpoint.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch

from kws.config import KwsConfig, config_to_dict
from kws.errors import KwsError

CHECKPOINT_FORMAT = "kws-checkpoint/1"


class CheckpointError(KwsError):
    """A checkpoint is missing, foreign, or does not fit the config."""


def save_checkpoint(path: str | os.PathLike[str], *, model: torch.nn.Module, config: KwsConfig, step: int,
                    kind: str = "float", extra: dict[str, Any] | None = None) -> Path:
    """Write model weights plus identity (model config, labels, frontend hash) atomically."""
    from kws.fsutil import atomic_path

    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "kind": kind,
        "model": config_to_dict(config.model),
        "labels": list(config.data.labels()),
        "frontend": config_to_dict(config.frontend),
        "frontend_hash": config.frontend.spec_hash(),
        "step": int(step),
        "state_dict": model.state_dict(),
    }
    payload.update(extra or {})
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike[str], *, expect: KwsConfig | None = None) -> dict[str, Any]:
    """Read a checkpoint; with `expect`, refuse one whose model, labels or frontend differ from it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; train first (make train or kws train)")
    remedy = f"retrain to write it again (kws train), or restore {path.name} from a backup"
    try:
        with warnings.catch_warnings():  # a foreign pickle's protocol warning only adds noise to the error
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise CheckpointError(f"could not read {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # torch raises many types for a foreign or corrupt file
        # Never pass on torch's text: it suggests weights_only=False, which runs whatever code the file holds.
        raise CheckpointError(f"{path} is not a kws checkpoint or is damaged (it is not a readable PyTorch "
                              f"checkpoint: {type(exc).__name__}); {remedy}") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a kws checkpoint or is damaged (format {CHECKPOINT_FORMAT} expected); "
                              f"{remedy}")
    if expect is not None:
        check_compatible(payload, expect, path)
    return payload


def check_compatible(payload: dict[str, Any], expect: KwsConfig, path: str | os.PathLike[str]) -> None:
    """Raise CheckpointError naming the first difference between a checkpoint and a config."""
    from kws.config import ModelConfig

    wanted_model = config_to_dict(expect.model)
    if payload["model"]["name"] != wanted_model["name"]:
        raise CheckpointError(
            f"{path} holds a {payload['model']['name']!r} model but the config asks for {wanted_model['name']!r}")
    known = {k: v for k, v in payload["model"].items() if k in wanted_model}
    # Settings added after the checkpoint was written take their defaults, so old checkpoints stay usable.
    if len(known) != len(payload["model"]) or config_to_dict(ModelConfig(**known)) != wanted_model:
        raise CheckpointError(f"{path} was built with model settings {payload['model']} "
                              f"but the config has {wanted_model}")
    labels = list(expect.data.labels())
    if payload["labels"] != labels:
        raise CheckpointError(f"{path} was trained on labels {payload['labels']} but the config has {labels} "
                              f"(data.wanted_words)")
    if payload["frontend_hash"] != expect.frontend.spec_hash():
        raise CheckpointError(f"{path} was trained with another feature spec (frontend hash "
                              f"{payload['frontend_hash'][:12]} vs {expect.frontend.spec_hash()[:12]}); "
                              f"the [frontend] section of the config differs")


def load_checkpoint_model(path: str | os.PathLike[str], *, expect: KwsConfig) -> tuple[torch.nn.Module, dict[str, Any]]:
    """(model, payload): the network built from the checkpoint's OWN model settings, weights restored.

    For checkpoints whose architecture legitimately differs from the run config, such as a structurally
    pruned tiny_conv with fewer filters (model_pruned.pt). Labels and the frontend hash are still checked
    against `expect`, with load_checkpoint's messages.
    """
    from kws.config import ModelConfig, replace
    from kws.models import build_model

    payload = load_checkpoint(path)
    try:
        model_config = ModelConfig(**payload["model"])
    except TypeError as exc:  # a key this version does not know: name it instead of a bare TypeError
        raise CheckpointError(f"{path} has model settings {payload['model']} that this version cannot build "
                              f"({exc})") from None
    # Compare against the checkpoint's own (defaults-filled) model settings: only labels and frontend can differ.
    check_compatible({**payload, "model": config_to_dict(model_config)}, replace(expect, model=model_config), path)
    model = build_model(model_config, expect.frontend, len(expect.data.labels()))
    restore_model(payload, model, path)
    return model, payload


def restore_model(payload: dict[str, Any], model: torch.nn.Module, path: str | os.PathLike[str] = "checkpoint") -> None:
    """Load weights, turning shape mismatches into a CheckpointError instead of a torch traceback."""
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path} does not fit the configured model: {str(exc).splitlines()[0]}") from None

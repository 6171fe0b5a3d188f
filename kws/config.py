"""One configuration tree for the whole pipeline: frozen dataclasses, loaded from TOML plus overrides.

Every stage reads the same `KwsConfig`. Defaults live in the section modules (one docstring per field);
a TOML file overrides any subset; `--set section.key=value` on the command line overrides the file.
Unknown keys are errors that name the key. Each run writes its resolved config to `runs/<name>/config.toml`.

    python -m kws config show --config kws/configs/demo.toml --set training.steps=200

The sections live in kws.config_frontend ([frontend]), kws.config_data ([data], [synth]),
kws.config_training ([model], [training], [quantization], [pruning]) and kws.config_deploy ([deploy]);
this module assembles them into `KwsConfig`, loads and writes it, and re-exports every section name.

No side effects at import; nothing here reads files until asked to.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import tomli_w

from kws.config_data import (
    BACKGROUND_NOISE_DIR,
    SILENCE_LABEL,
    SPEECH_COMMANDS_WORDS_V1,
    SPEECH_COMMANDS_WORDS_V2,
    UNKNOWN_LABEL,
    DataConfig,
    SynthConfig,
)
from kws.config_deploy import REC_MAX_MS, REC_MAX_RESULTS, DeployConfig, RecognizerSettings
from kws.config_frontend import DEVICE_FEATURE_TYPES, FEATURE_TYPES, KIND_FIELDS, FrontendConfig
from kws.config_training import ModelConfig, PruningConfig, QuantizationConfig, TrainingConfig
from kws.typed_toml import ConfigError, build_dataclass, config_to_dict, deep_merge, parse_override


@dataclass(frozen=True)
class KwsConfig:
    """The whole pipeline's configuration; `runs/<name>/config.toml` is this, resolved."""

    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    """Audio features (the spec shared with the device)."""
    data: DataConfig = field(default_factory=DataConfig)
    """Dataset and training recipe."""
    synth: SynthConfig = field(default_factory=SynthConfig)
    """Offline synthetic dataset."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """Network architecture."""
    training: TrainingConfig = field(default_factory=TrainingConfig)
    """Optimiser schedule."""
    quantization: QuantizationConfig = field(default_factory=QuantizationConfig)
    """int8 quantization."""
    pruning: PruningConfig = field(default_factory=PruningConfig)
    """Pruning."""
    deploy: DeployConfig = field(default_factory=DeployConfig)
    """Board and recognizer."""

    def validate(self) -> "KwsConfig":
        """Validate every section; returns self so calls chain."""
        for f in dataclasses.fields(self):
            section = getattr(self, f.name)
            if hasattr(section, "validate"):
                section.validate()
        return self


# ---------------------------------------------------------------------------------------------
# Loading, overriding, writing


def load_config(path: str | os.PathLike[str] | None = None, overrides: typing.Sequence[str] = ()) -> KwsConfig:
    """Defaults, then the TOML file at `path` (if any), then `section.key=value` overrides; validated."""
    layers: list[tuple[Path, Mapping[str, Any]]] = []
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            layers.append((path, tomllib.loads(path.read_text(encoding="utf-8"))))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        except UnicodeDecodeError:
            raise ConfigError(f"config file {path} is not a text file (not UTF-8): pass a TOML config") from None
    return load_config_values(layers, overrides)


def load_config_values(layers: typing.Sequence[tuple[Path, Mapping[str, Any]]],
                       overrides: typing.Sequence[str] = ()) -> KwsConfig:
    """Defaults, then each (source, values) layer in order (later wins), then the overrides; validated.
    Errors name the layer files."""
    values: dict[str, Any] = {}
    for _source, layer in layers:
        values = deep_merge(values, layer)
    for text in overrides:
        values = deep_merge(values, parse_override(text))
    try:
        config = build_dataclass(KwsConfig, values, "")
        config.validate()
    except ConfigError as exc:
        where = f" (in {' + '.join(str(source) for source, _ in layers)})" if layers else ""
        raise ConfigError(f"{exc}{where}") from None
    return config


def config_to_toml(config: KwsConfig) -> str:
    """The resolved config as TOML text; load_config() of it gives the same config back."""
    return tomli_w.dumps(config_to_dict(config))


def write_resolved_config(config: KwsConfig, run_dir: str | os.PathLike[str]) -> Path:
    """Write `run_dir/config.toml` atomically and return its path."""
    from kws.fsutil import atomic_write_text  # local import keeps this module dependency-light

    target = Path(run_dir) / "config.toml"
    text = config_to_toml(config)
    # Leave an identical file untouched: its mtime is what Make's file targets compare.
    if not (target.exists() and target.read_text(encoding="utf-8") == text):
        atomic_write_text(target, text)
    return target


def replace(config: Any, **changes: Any) -> Any:
    """dataclasses.replace, re-exported so callers need not import dataclasses for frozen edits."""
    return dataclasses.replace(config, **changes)


__all__ = [
    "BACKGROUND_NOISE_DIR", "ConfigError", "DEVICE_FEATURE_TYPES", "DataConfig", "DeployConfig", "FEATURE_TYPES",
    "FrontendConfig", "KIND_FIELDS", "KwsConfig", "ModelConfig", "PruningConfig", "QuantizationConfig",
    "REC_MAX_MS", "REC_MAX_RESULTS", "RecognizerSettings", "SILENCE_LABEL", "SPEECH_COMMANDS_WORDS_V1",
    "SPEECH_COMMANDS_WORDS_V2", "SynthConfig", "TrainingConfig", "UNKNOWN_LABEL", "config_to_dict",
    "config_to_toml", "load_config", "load_config_values", "parse_override", "replace", "write_resolved_config",
]

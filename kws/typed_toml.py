"""Frozen dataclasses from TOML values and back: type-checked coercion, unknown keys refused with a suggestion,
`section.key=value` overrides. Generic: it knows nothing of the pipeline's sections (kws.config does).

    config = build_dataclass(KwsConfig, tomllib.loads(text), "")      # ConfigError names a bad key or value
    values = deep_merge(values, parse_override("training.steps=[100]"))
    config_to_dict(config)                                             # plain dict for TOML / JSON
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
import typing
from typing import Any, Mapping

from kws.errors import KwsError


class ConfigError(KwsError, ValueError):
    """A configuration problem a person can fix: the message names the key or value."""


def coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check a TOML value against a field's annotation; convert lists to tuples, ints to floats."""
    origin = typing.get_origin(annotation)
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        if not math.isfinite(float(value)):
            raise ConfigError(f"{key} must be finite, got {value!r}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return value
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        return tuple(coerce(v, item_type, f"{key}[{i}]") for i, v in enumerate(value))
    raise ConfigError(f"{key}: unsupported field type {annotation!r}")  # pragma: no cover


def build_dataclass(cls: type, values: Mapping[str, Any], prefix: str) -> Any:
    """Build dataclass `cls` from a mapping, rejecting unknown keys with a suggestion."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown config key '{dotted}'{hint}; known keys: "
                              f"{', '.join(prefix + k for k in known)}")
        annotation = hints[key]
        if dataclasses.is_dataclass(annotation):
            if not isinstance(value, Mapping):
                raise ConfigError(f"'{dotted}' must be a table of settings, got {value!r}")
            kwargs[key] = build_dataclass(annotation, value, f"{dotted}.")
        else:
            kwargs[key] = coerce(value, annotation, dotted)
    return cls(**kwargs)


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def parse_override(text: str) -> dict[str, Any]:
    """Turn 'section.key=value' into a nested dict; the value is read as TOML, else as a bare string."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    dotted, raw = text.split("=", 1)
    parts = [p.strip() for p in dotted.strip().split(".")]
    if not all(parts):
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word such as data.data_dir=data/synth
    nested: dict[str, Any] = {parts[-1]: value}
    for part in reversed(parts[:-1]):
        nested = {part: nested}
    return nested


def config_to_dict(config: Any) -> dict[str, Any]:
    """A plain dict (tuples become lists) suitable for TOML or JSON."""
    def plain(value: Any) -> Any:
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        out[f.name] = config_to_dict(value) if dataclasses.is_dataclass(value) else plain(value)
    return out


__all__ = ["ConfigError", "build_dataclass", "coerce", "config_to_dict", "deep_merge", "parse_override"]

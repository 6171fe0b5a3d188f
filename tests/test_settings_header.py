"""kws_settings.h without TensorFlow: rendered from DeviceSettings + the config, re-rendered from device_settings.json.

    .venv/bin/python -m pytest tests/test_settings_header.py -q
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kws.config import load_config
from kws.device.settings_header import (
    SETTINGS_HEADER,
    SETTINGS_JSON,
    DeviceSettings,
    read_device_settings,
    render_settings,
    rerender_settings,
    write_device_settings,
)
from kws.errors import KwsError

REGENERATE = "make export RUN=tiny"


def _settings(config) -> DeviceSettings:
    fe = config.frontend
    return DeviceSettings(model_name="tiny_conv", source="float", sha256="5e" * 32, frames=fe.num_frames,
                          features=fe.num_features, input_scale=fe.input_scale, input_zero_point=fe.input_zero_point,
                          output_scale=1 / 256, output_zero_point=-128, labels=tuple(config.data.labels()),
                          arena_measured=9001, arena_margin=1024, arena_size=10032,
                          op_names=("RESHAPE", "CONV_2D", "FULLY_CONNECTED", "SOFTMAX"),
                          resolver_methods=("AddReshape", "AddConv2D", "AddFullyConnected", "AddSoftmax"),
                          board="nano33ble")


def _defines(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "#define":
            out[parts[1]] = parts[2]
    return out


def test_recognizer_defines_come_from_the_deploy_config():
    config = load_config(None, ["deploy.average_window_ms=500", "deploy.detection_threshold=225",
                                "deploy.suppression_ms=750", "deploy.minimum_count=4"])
    defines = _defines(render_settings(config, _settings(config), REGENERATE))
    expected = {name: value for name, value, _ in config.deploy.c_defines()}
    assert expected == {"KWS_AVERAGE_WINDOW_MS": "500", "KWS_DETECTION_THRESHOLD": "225", "KWS_SUPPRESSION_MS": "750",
                        "KWS_MINIMUM_COUNT": "4"}
    assert {name: defines[name] for name in expected} == expected


def test_device_settings_json_round_trips_as_strict_json(tmp_path):
    config = load_config(None)
    settings = _settings(config)
    path = write_device_settings(tmp_path, settings)
    assert path == tmp_path / SETTINGS_JSON
    json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(f"non-strict JSON constant {name}"))
    assert read_device_settings(tmp_path, REGENERATE) == settings


def test_rerendered_header_equals_a_fresh_render_for_the_new_config(tmp_path):
    exported = load_config(None)
    settings = _settings(exported)
    write_device_settings(tmp_path, settings)
    (tmp_path / SETTINGS_HEADER).write_text(render_settings(exported, settings, REGENERATE))
    calibrated = load_config(None, ["deploy.average_window_ms=500", "deploy.detection_threshold=225",
                                    "deploy.suppression_ms=500"])
    path = rerender_settings(tmp_path, calibrated, REGENERATE)
    assert path == tmp_path / SETTINGS_HEADER
    assert path.read_text() == render_settings(calibrated, settings, REGENERATE)
    assert _defines(path.read_text())["KWS_DETECTION_THRESHOLD"] == "225"
    assert sorted(p.name for p in tmp_path.iterdir()) == [SETTINGS_JSON, SETTINGS_HEADER]  # no temporary left


def test_rerender_after_write_generated_changes_nothing_for_the_same_config(tmp_path):
    from kws.device.generated_c import sha256_hex, write_generated

    config = load_config(None)
    model = bytes(range(256)) * 3
    settings = DeviceSettings(**{**_settings(config).to_json(), "sha256": sha256_hex(model)})
    written = write_generated(tmp_path, config, model, settings, REGENERATE)
    assert tmp_path / SETTINGS_JSON in written
    before = (tmp_path / SETTINGS_HEADER).read_bytes()
    rerender_settings(tmp_path, config, REGENERATE)
    assert (tmp_path / SETTINGS_HEADER).read_bytes() == before


def test_missing_or_foreign_device_settings_name_the_file_and_the_export_command(tmp_path):
    config = load_config(None)
    with pytest.raises(KwsError, match=rf"{SETTINGS_JSON} is missing.*re-export with `make export RUN=tiny`"):
        rerender_settings(tmp_path, config, REGENERATE)
    assert not (tmp_path / SETTINGS_HEADER).exists()
    (tmp_path / SETTINGS_JSON).write_text(json.dumps({"model_name": "tiny_conv"}))
    with pytest.raises(KwsError, match=rf"{SETTINGS_JSON} is not the device settings.*make export RUN=tiny"):
        rerender_settings(tmp_path, config, REGENERATE)


def test_settings_header_imports_neither_tensorflow_nor_export():
    code = ("import sys, kws.device.settings_header\n"
            "bad = [m for m in sys.modules if m in ('tensorflow', 'export') or m.startswith('export.')]\n"
            "assert not bad, bad\nprint('ok')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr

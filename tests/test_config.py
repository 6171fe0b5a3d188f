"""The configuration tree: defaults, TOML round trip, overrides, and errors that name the key."""

from __future__ import annotations

import dataclasses

import pytest

from kws.config import (
    ConfigError,
    FrontendConfig,
    KwsConfig,
    config_to_toml,
    load_config,
    parse_override,
    write_resolved_config,
)


def test_defaults_validate_and_give_49_frames():
    config = KwsConfig().validate()
    assert config.frontend.window_samples == 480
    assert config.frontend.stride_samples == 320
    assert config.frontend.num_frames == 49
    assert config.data.labels() == ("_silence_", "_unknown_", "yes", "no")


def test_every_field_has_a_docstring():
    import ast
    import inspect
    import sys

    import kws.config as config

    # The sections live in their own modules (kws.config_frontend, ...): read every module that defines a
    # *Config class kws.config exports, and check that each of those classes was seen.
    exported = {name for name in config.__all__ if name.endswith("Config") and isinstance(getattr(config, name), type)}
    modules = sorted({getattr(config, name).__module__ for name in exported})
    seen = set()
    for module in modules:
        tree = ast.parse(inspect.getsource(sys.modules[module]))
        for node in tree.body:
            if not (isinstance(node, ast.ClassDef) and node.name.endswith("Config")):
                continue
            seen.add(node.name)
            body = node.body
            for i, stmt in enumerate(body):
                if isinstance(stmt, ast.AnnAssign):
                    following = body[i + 1] if i + 1 < len(body) else None
                    assert isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant), (
                        f"{module}: {node.name}.{stmt.target.id} has no docstring")
    assert exported <= seen, f"not checked: {sorted(exported - seen)}"


def test_toml_round_trip(tmp_path):
    config = load_config(None, ["training.batch_size=7", "data.wanted_words=['up','down']"])
    path = write_resolved_config(config, tmp_path / "run")
    assert path.name == "config.toml"
    assert load_config(path) == config
    assert config.training.batch_size == 7
    assert config.data.wanted_words == ("up", "down")


def test_file_then_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[training]\nbatch_size = 50\n[data]\ndata_dir = "x"\n')
    config = load_config(path, ["training.batch_size=25", "data.data_dir=some/dir"])
    assert config.training.batch_size == 25
    assert config.data.data_dir == "some/dir"


def test_unknown_key_is_named_with_a_suggestion(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[training]\nbatch_sise = 50\n")
    with pytest.raises(ConfigError, match=r"training\.batch_sise.*did you mean 'training\.batch_size'.*c\.toml"):
        load_config(path)


def test_unknown_section_and_override():
    with pytest.raises(ConfigError, match="unknown config key 'nonsense'"):
        load_config(None, ["nonsense.x=1"])
    with pytest.raises(ConfigError, match="must look like"):
        parse_override("training.batch_size")


@pytest.mark.parametrize("override, message", [
    ("training.batch_size='ten'", "training.batch_size must be an integer"),
    ("frontend.quant_zero_point=300", "int8"),
    ("pruning.target_sparsity=1.0", r"\[0, 1\)"),
    ("data.wanted_words=[]", "empty"),
    ("frontend.feature_type='mel'", "logmel"),
    ("deploy.detection_threshold=256", "0..255"),
])
def test_bad_values_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_zero_mel_channels_are_named_as_such():
    with pytest.raises(ConfigError, match=r"^frontend\.n_mels must be at least 1, got 0$"):
        load_config(None, ["frontend.n_mels=0"])
    with pytest.raises(ConfigError, match=r"frontend\.n_mfcc must be in 1\.\.n_mels \(8\), got 10"):
        load_config(None, ["frontend.n_mels=8"])


def test_unregistered_model_name_is_refused_at_load():
    with pytest.raises(ConfigError, match=r"model\.name='resnet' is not a registered model; choose one of "
                                          r"tiny_conv, ds_cnn"):
        load_config(None, ["model.name=resnet"])


def test_cli_config_show_refuses_an_unregistered_model(capsys):
    from kws.cli import main

    assert main(["config", "show", "--set", "model.name=resnet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kws: error: model.name='resnet' is not a registered model")


def test_config_module_does_not_load_torch():
    # The model names it validates against come from a light module, not the (torch) registry.
    import subprocess
    import sys

    code = "import sys, kws.config; assert 'torch' not in sys.modules, 'kws.config imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        FrontendConfig().n_mels = 20  # type: ignore[misc]


def test_frontend_hash_is_stable_and_sensitive():
    # Golden value: a change here means the feature spec changed, and every model and board with it.
    assert FrontendConfig().spec_hash() == FrontendConfig().spec_hash()
    assert FrontendConfig(n_mels=41).spec_hash() != FrontendConfig().spec_hash()
    assert len(FrontendConfig().spec_hash()) == 64


def test_demo_config_loads():
    from pathlib import Path

    demo = Path(__file__).resolve().parents[1] / "kws" / "configs" / "demo.toml"
    config = load_config(demo)
    assert "wanted_words" in config_to_toml(config)

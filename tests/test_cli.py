"""The `kws` command: help lists the pipeline, errors are one clear line with exit status 2,
and the host package never imports TensorFlow."""

from __future__ import annotations

import subprocess
import sys

from kws.cli import build_parser, main


def test_help_lists_the_pipeline(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for stage in ("data", "features", "train", "export", "flash", "eval"):
        assert stage in out


def test_config_error_is_one_line_and_exit_2(capsys):
    assert main(["config", "show", "--set", "training.batch_sise=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kws: error: unknown config key 'training.batch_sise'")
    assert "\n" not in err


def test_config_show_writes_the_resolved_run_config(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["config", "show", "--set", "training.batch_size=12", "--run", "r1"]) == 0
    written = (tmp_path / "runs" / "r1" / "config.toml").read_text()
    assert "batch_size = 12" in written
    assert written == capsys.readouterr().out


def test_every_subcommand_has_help():
    parser = build_parser()
    text = parser.format_help()
    assert "config" in text and "data" in text


def test_python_m_kws_and_no_tensorflow_at_import():
    # Importing every host module must not drag TensorFlow in: only export/ may import it.
    code = (
        "import sys, importlib, pkgutil, kws\n"
        "for m in pkgutil.walk_packages(kws.__path__, 'kws.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('tensorflow', 'tf_keras', 'onnx2tf'))\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    help_run = subprocess.run([sys.executable, "-m", "kws", "--help"], capture_output=True, text=True, timeout=60)
    assert help_run.returncode == 0 and "pipeline" in help_run.stdout

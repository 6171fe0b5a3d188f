"""The house's walls: ruff (style, complexity, length) and the import rules pass on the repo, and each rule
really fires on a violation (a rule that cannot fail protects nothing).

    .venv/bin/python -m pytest tests/test_house_rules.py -q
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import import_rules  # noqa: E402  (tools/ is not a package)


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", *args],
                          capture_output=True, text=True, cwd=REPO)


def test_ruff_passes_on_the_repo():
    result = _ruff("kws", "export", "tools", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_ruff_rule_family_fires(tmp_path):
    branches = "\n".join(f"    if x == {i}:\n        return {i}" for i in range(16))
    statements = "\n".join(f"    v{i} = {i}" for i in range(81))
    bad = tmp_path / "bad.py"
    bad.write_text(textwrap.dedent('''\
        import sys
        import os

        LONG = "''' + "x" * 130 + '''"


        def tangled(x):
        ''') + branches + "\n    return -1\n\n\ndef endless():\n" + statements + "\n")
    out = _ruff("--config", str(REPO / "pyproject.toml"), str(bad)).stdout
    for code in ("F401", "I001", "E501", "C901", "PLR0915"):
        assert code in out, f"{code} did not fire:\n{out}"


def test_import_rules_pass_on_the_repo():
    assert [str(v) for v in import_rules.check(REPO)] == []


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_every_import_rule_fires(tmp_path):
    root = _tree(tmp_path, {
        "kws/__init__.py": "",
        "kws/a.py": "from kws import b\n",
        "kws/b.py": "def f():\n    import kws.a  # lazy, still a cycle\n",
        "kws/tf.py": "def f():\n    import tensorflow as tf\n",
        "kws/uses_export.py": "from export.pipeline import run\n",
        "kws/commands/__init__.py": "",
        "kws/commands/export_cmd.py": "from export.pipeline import run  # the CLI edge may\n",
        "kws/device/__init__.py": "",
        "kws/device/link.py": "from kws.eval.report import build\n",
        "kws/eval/__init__.py": "",
        "kws/eval/report.py": "from kws.b import _private\nbuild = 1\n",
        "kws/typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import tensorflow\n",
        "export/__init__.py": "",
        "export/pipeline.py": "import tensorflow\nrun = 1\n",
    })
    found = {(v.rule, v.module) for v in import_rules.check(root)}
    assert found == {("cycle", "kws.a"), ("tensorflow", "kws.tf"), ("export-edge", "kws.uses_export"),
                     ("device-eval", "kws.device.link"), ("private", "kws.eval.report")}, found


@pytest.mark.parametrize("module", ["kws.cli", "kws.commands.eval_cmd", "kws.device.session", "kws.run"])
def test_the_cli_and_the_device_layer_load_without_torch_or_tensorflow(module):
    code = f"import sys, {module}; bad = [m for m in ('torch', 'tensorflow') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"

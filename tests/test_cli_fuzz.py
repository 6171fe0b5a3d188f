"""A property of the whole CLI: given random bad arguments and files, every `kws` command answers with exit
status 2 and one clear line (no traceback), and leaves nothing behind (no run folder, no partial file).

    .venv/bin/python -m pytest tests/test_cli_fuzz.py -q

The commands run in an empty folder (no data, no runs), so none of them can do real work: each one must
fail, and fail cleanly, wherever in its path the bad input is noticed (argument parsing, config, run name,
files, the data set). Nothing here reaches the network: no generated URL has a scheme.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kws.cli import main

# Bad values: words, numbers out of range, path tricks, unicode, TOML fragments.
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=0, max_size=12)
VALUES = st.one_of(
    TEXT, st.sampled_from(["", "-1", "0", "1e309", "nan", "[1,", "'x'", "..", "/", "../../etc", "a/b", "true",
                           "99999999999999999999", "[]", "{}", "runs", "☃", " ", "-"]),
    st.integers(-10**12, 10**12).map(str), st.floats(allow_nan=True, allow_infinity=True).map(str))
# data.data_dir is left out on purpose: a value like "/" would make a command index the whole disk.
KEYS = st.sampled_from(["training.steps", "training.batch_size", "frontend.n_mels", "frontend.sample_rate",
                        "data.wanted_words", "deploy.detection_threshold", "deploy.board",
                        "model.name", "quantization.method", "synth.seed", "nosuch.key", "training", "a.b.c",
                        "frontend.feature_type", "pruning.target_sparsity", "deploy.average_window_ms"])
FILES = st.sampled_from(["missing.toml", "garbage.bin", "empty.wav", "bad.toml", "bad.tflite", "folder"])

# Each command with the options a user is likely to get wrong; `{v}` a bad value, `{f}` a bad file.
COMMANDS = [
    ["config", "show", "--set", "{k}={v}"],
    ["config", "show", "--config", "{f}"],
    ["config", "show", "--run", "{v}", "--set", "{k}={v}"],
    ["data", "stats", "--data", "{f}"],
    ["data", "stats", "--set", "{k}={v}", "--quiet"],
    ["data", "synth", "--out", "{f}", "--set", "synth.clips_per_keyword=-{v}", "--quiet"],
    ["data", "synth", "--out", "folder", "--seed", "{v}", "--workers", "{v}", "--quiet"],
    ["data", "download", "--dest", "{f}", "--url", "not-a-url-{v}", "--quiet"],
    ["data", "download", "--version", "{v}"],
    ["features", "{f}"],
    ["features", "{f}", "--set", "{k}={v}"],
    ["frontend", "tables", "--set", "{k}={v}", "--out", "garbage.bin/x"],
    ["models", "{v}"],
    ["models", "--set", "{k}={v}"],
    ["train", "--run", "{v}", "--quiet"],
    ["train", "--run", "r", "--set", "{k}={v}", "--quiet"],
    ["train", "--run", "r", "--config", "{f}", "--quiet"],
    ["quantize", "--run", "{v}", "--method", "ptq", "--quiet"],
    ["prune", "--run", "r", "--set", "{k}={v}", "--quiet"],
    ["export", "--run", "{v}", "--quiet"],
    ["export", "--run", "r", "--from", "{v}"],
    ["report", "--run", "{v}"],
    ["eval", "--run", "r", "--emulate", "--limit", "{v}", "--quiet"],
    ["eval", "--run", "{v}", "--port", "{f}", "--quiet"],
    ["eval", "--run", "r", "--emulate", "--stream", "--minutes", "{v}", "--quiet"],
    ["calibrate", "--run", "{v}", "--target-fa-per-hour", "{v}"],
    ["emulate", "--run", "r", "--model", "{f}"],
    ["emulate", "--run", "{v}"],
    ["flash", "--run", "{v}", "--stage-only"],
    ["monitor", "--port", "no-such-port", "--duration", "{v}"],
    ["compile", "{f}", "--out", "out"],
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """An empty project folder with a few bad files in it."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "garbage.bin").write_bytes(bytes(range(256)) * 3)
    (root / "empty.wav").write_bytes(b"")
    (root / "bad.toml").write_text("[training\nsteps = ")
    (root / "bad.tflite").write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(40))
    (root / "folder").mkdir()
    return root


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _fill(template: list[str], values: list[str], key: str, file: str) -> list[str]:
    it = iter(values)
    return [part.replace("{v}", next(it, "x")).replace("{k}", key).replace("{f}", file) for part in template]


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(template=st.sampled_from(COMMANDS), values=st.lists(VALUES, min_size=4, max_size=4), key=KEYS, file=FILES)
def test_bad_input_is_exit_2_one_line_and_leaves_nothing(workdir, capsys, template, values, key, file):
    args = _fill(template, values, key, file)
    if any("://" in a for a in args):
        return  # never reach the network
    before = _tree(workdir)
    old = Path.cwd()
    os.chdir(workdir)
    try:
        try:
            code = main(args)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    if code == 0:  # a bad-looking value that is in fact valid, for a command that cannot do harm (config show)
        assert args[0] in ("config", "models"), (args, out, err)
        for leftover in _tree(workdir) - before:  # config show --run writes runs/<name>/config.toml, nothing else
            assert leftover.startswith("runs"), leftover
        return
    assert code == 2, (args, code, err)
    assert "Traceback" not in err, (args, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and " error: " in lines[0], (args, err)
    assert _tree(workdir) == before, (args, sorted(_tree(workdir) - before))

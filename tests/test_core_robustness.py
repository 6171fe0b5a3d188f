"""Robustness of the firmware core found by reading (the fuzzer never hit them): the codec on NULL data.

    .venv/bin/python -m pytest tests/test_core_robustness.py -q

Drivers: firmware/host/tests/core_checks.c (named checks without a conversation), built with ASan/UBSan.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import SANITIZER_ENV


def run(exe: Path, *args: object, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *map(str, args)], input=stdin, capture_output=True,
                          env={**os.environ, **SANITIZER_ENV}, timeout=120)


@pytest.fixture(scope="module")
def checks_exe(c_build) -> Path:
    return c_build("core_checks", sanitize=True)


# ------------------------------------------------------------------------------------- the codec

def test_encoding_a_null_array_with_a_count_is_refused_not_dereferenced(checks_exe):
    """kws_msg_encode with AUDIO/FEATURES/SCORES data NULL and a non-zero count returned a length after
    memcpy from NULL (a crash on the board); it must return -1, and encode NULL with count 0 as empty."""
    result = run(checks_exe, "encode_null")
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()[-2000:]
    assert result.stdout.decode().strip() == "ok encode_null"

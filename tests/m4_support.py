"""Helpers for the M4 (QEMU mps2-an386) tests: the toolchain gate, result parsing, whether QEMU is gone.

    from m4_support import require_m4
    require_m4()      # fails in CI (CI=true) without arm-none-eabi-gcc/newlib/qemu-system-arm, skips elsewhere
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from conftest import fail_or_skip

from kws.device.m4 import toolchain_problem


def require_m4() -> None:
    """Fail (CI) or skip (elsewhere) when the Arm toolchain or QEMU is missing, saying which and how to install."""
    problem = toolchain_problem()
    if problem is not None:
        fail_or_skip(problem)


def key_values(text: str) -> dict[str, int]:
    """`key=123` pairs of a test program's text output."""
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", text)}


def gone(pid: int) -> bool:
    """True when the process no longer exists (ended and reaped: not even a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def ended(pid: int) -> bool:
    """True when the process has ended: gone, or a zombie its new parent (after its own died) has not reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True

"""Helpers for the M4 (QEMU mps2-an386) tests: the toolchain gate and result parsing.

    from m4_support import require_m4
    require_m4()      # fails in CI (CI=true) without arm-none-eabi-gcc/newlib/qemu-system-arm, skips elsewhere
"""

from __future__ import annotations

import re

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

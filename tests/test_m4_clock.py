"""The board's SysTick clock against known instruction counts under QEMU -icount, and its wrap.

    .venv/bin/python -m pytest -q tests/test_m4_clock.py

firmware/mps2_an386/tests/clock_test.c runs spin(n): exactly 2000 n + 1 instructions (n bodies of 1998
NOPs, SUBS, BNE; then BX). With -icount shift=S an instruction is 2^S ns and SysTick ticks at 25 MHz, so
2,000,000 instructions are 50,000 ticks at S=0.
"""

from __future__ import annotations

import pytest
from m4_support import key_values, require_m4

from kws.device import m4

PROGRAM = m4.BOARD_DIR / "tests" / "clock_test.c"


@pytest.fixture(scope="module")
def clock_elf(tmp_path_factory):
    require_m4()
    return m4.build_elf([PROGRAM], out_dir=tmp_path_factory.mktemp("m4_clock"))


@pytest.mark.parametrize("shift", [0, 2, 4])
def test_systick_counts_instructions(shift, clock_elf):
    result = m4.run_elf(clock_elf, timeout=60, icount_shift=shift)
    assert result.exit_code == 0, result.text
    v = key_values(result.text)
    per_instruction = 2 ** shift / 40  # ticks
    # Each reading is a whole number of ticks, so a difference of two readings is the true interval
    # rounded down or up: 1 tick either way. empty_ticks (two back-to-back readings) removes the
    # readings' own instructions; the 2 instructions of the call itself stay in (< 0.1 tick at S=0).
    assert abs((v["ticks_1000"] - v["empty_ticks"]) - 2_000_001 * per_instruction) <= 1 + 2 * per_instruction
    # The same readings around twice the work: the overheads cancel, 2,000,000 instructions remain.
    assert abs((v["ticks_2000"] - v["ticks_1000"]) - 2_000_000 * per_instruction) <= 1
    if shift == 0:
        assert v["ticks_1000"] - v["empty_ticks"] in (50_000, 50_001)  # the headline: 2 M instructions
    # The microsecond clock: 2,000,001 instructions of 2^S ns, floor-divided into whole us (1 either way).
    assert abs(v["us_1000"] - 2_000_001 * 2 ** shift / 1000) <= 1


def test_microsecond_clock_is_wrap_safe(tmp_path):
    """Started 524 ms before the 2^32 us wrap, one virtual second of back-to-back readings: every
    wrap-safe difference is forward, the raw value wraps exactly once, and 1 s is measured as 1 s."""
    require_m4()
    elf = m4.build_elf([PROGRAM], defines={"CLOCK_TEST_WRAP": None, "M4_CLOCK_START_PERIODS": "8191u"},
                       out_dir=tmp_path, name="clock_wrap")
    result = m4.run_elf(elf, timeout=60, icount_shift=6)  # 64 ns per instruction: 1 s is ~16 M instructions
    assert result.exit_code == 0, result.text
    v = key_values(result.text)
    assert v["start_us"] == 8191 * 2 ** 19 and v["end_us"] < v["start_us"]
    assert v["wraps"] == 1 and v["backwards"] == 0 and v["reads"] > 100_000
    # The loop stops at the first reading >= 1 s after the start; one reading takes ~2 us here.
    assert 1_000_000 <= v["elapsed_us"] <= 1_000_010
    period = 25 * 2 ** 19  # SysTick ticks per period (M4_SYSTICK_PERIOD): exactly 2^19 us
    assert v["ticks_hi"] == (8192 * period) >> 32  # the 64-bit tick count carried past 2^32

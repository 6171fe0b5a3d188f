"""Running programs on the Cortex-M4 under QEMU (kws.device.m4.run_elf): UART both ways, exit codes,
faults reported instead of hangs, timeouts that leave no process behind.

    .venv/bin/python -m pytest -q tests/test_m4_run.py
"""

from __future__ import annotations

import os
import struct

import pytest
from m4_support import gone, key_values, require_m4

from kws.device import m4

TESTS = m4.BOARD_DIR / "tests"


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    require_m4()
    return tmp_path_factory.mktemp("m4_run")


def test_uart_round_trip_is_binary_safe(out):
    elf = m4.build_elf([TESTS / "uart_echo.c"], out_dir=out)
    data = bytes(range(256)) * 8 + b"\r\n\r\x00\x11\x13\xff"  # every byte value, CR/LF, XON/XOFF
    result = m4.run_elf(elf, timeout=60, stdin_bytes=struct.pack("<I", len(data)) + data)
    assert result.exit_code == 0
    assert result.output[:len(data)] == data
    assert key_values(result.output[len(data):].decode())["ticks"] > 0


def test_main_return_value_is_the_exit_status(tmp_path, out):
    source = tmp_path / "ret.c"
    source.write_text('#include "m4_board.h"\nint main(void) { m4_uart_puts("hi"); return 42; }\n', encoding="utf-8")
    result = m4.run_elf(m4.build_elf([source], out_dir=out), timeout=30)
    assert (result.exit_code, result.output) == (42, b"hi") and not result.faulted


@pytest.mark.parametrize("fault, expect", [("FAULT_UDF", "cfsr=0x00010000"),            # UNDEFINSTR
                                           ("FAULT_FLASH_WRITE", "mmfar=0x00000100"),    # MPU: flash is read-only
                                           ("FAULT_STACK", "stack overflow")])           # MPU guard below RAM
def test_faults_are_reported_and_exit(fault, expect, out):
    elf = m4.build_elf([TESTS / "fault.c"], defines={fault: None}, out_dir=out, name=f"fault_{fault.lower()}")
    result = m4.run_elf(elf, timeout=30)
    assert result.faulted and result.exit_code == m4.EXIT_HARDFAULT, result.text
    assert "about to fault" in result.text and "HARDFAULT" in result.text and expect in result.text
    if fault != "FAULT_STACK":
        assert " pc=0x" in result.text  # the faulting instruction, for addr2line


def test_timeout_kills_qemu_and_keeps_the_output(out):
    elf = m4.build_elf([TESTS / "uart_echo.c"], out_dir=out)  # waits forever for a length that never comes
    with pytest.raises(m4.M4Timeout) as info:
        m4.run_elf(elf, timeout=1.5)
    assert "did not exit within 1.5 s" in str(info.value) and info.value.output == b""
    assert gone(info.value.pid)


def test_pty_board_starts_and_stops_cleanly(out):
    elf = m4.build_elf([TESTS / "uart_echo.c"], out_dir=out)
    with m4.start_pty(elf) as running:
        assert running.port.startswith("/dev/pts/") and os.path.exists(running.port)
        assert running.poll() is None
        pid = running.pid
    assert gone(pid)

"""Cross-building for the Cortex-M4 board (kws.device.m4): the memory budget at link time, no heap, the
content-digest cache, the size report, and a clear error when the toolchain is missing.

    .venv/bin/python -m pytest -q tests/test_m4_build.py
"""

from __future__ import annotations

from pathlib import Path

import pytest
from m4_support import require_m4

from kws.device import m4
from kws.errors import KwsError

TESTS = m4.BOARD_DIR / "tests"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("m4_build")


def test_missing_toolchain_says_how_to_install(monkeypatch):
    monkeypatch.setenv("KWS_ARM_GCC", "/nonexistent/arm-none-eabi-gcc")
    with pytest.raises(m4.M4ToolchainMissing) as info:
        m4.build_elf([TESTS / "overflow.c"])
    assert isinstance(info.value, KwsError)
    assert "apt-get install" in str(info.value) and all(p in str(info.value) for p in m4.APT_PACKAGES)
    monkeypatch.delenv("KWS_ARM_GCC")
    monkeypatch.setenv("KWS_QEMU_ARM", "/nonexistent/qemu-system-arm")
    with pytest.raises(m4.M4ToolchainMissing, match="qemu-system-arm"):
        m4.run_elf("unused.elf", timeout=1)
    assert "apt-get install" in m4.toolchain_problem()


@pytest.mark.parametrize("region, defines", [("FLASH", {"BIG_FLASH_BYTES": 1024 * 1024}),
                                             ("RAM", {"BIG_RAM_BYTES": 250 * 1024})])
def test_too_large_fails_the_link_naming_the_region(region, defines, out):
    """1 MB of const data cannot join the code in the Nano's 1 MB flash; 250 KB of buffers cannot join
    the 17 KB of stacks in its 256 KB RAM."""
    require_m4()
    with pytest.raises(m4.M4MemoryOverflow) as info:
        m4.build_elf([TESTS / "overflow.c"], defines=defines, out_dir=out)
    assert isinstance(info.value, KwsError) and info.value.region == region
    assert info.value.overflow_bytes is not None and info.value.overflow_bytes > 0
    assert f"region {region}" in str(info.value) and "Nano 33 BLE Sense" in str(info.value)


def test_just_fitting_program_links_and_runs(out):
    require_m4()
    elf = m4.build_elf([TESTS / "overflow.c"], defines={"BIG_FLASH_BYTES": 900 * 1024, "BIG_RAM_BYTES": 200 * 1024},
                       out_dir=out)
    report = m4.size_report(elf)
    assert 900 * 1024 < report.flash_used <= m4.FLASH_BYTES and 200 * 1024 < report.ram_used <= m4.RAM_BYTES
    assert m4.run_elf(elf, timeout=30).exit_code == 0


def test_heap_use_fails_the_link(out):
    require_m4()
    with pytest.raises(m4.M4BuildError, match="heap"):
        m4.build_elf([TESTS / "heap.c"], out_dir=out)


def test_compile_error_shows_the_compiler_output(tmp_path, out):
    require_m4()
    bad = tmp_path / "bad.c"
    bad.write_text("int main(void) { return undeclared; }\n", encoding="utf-8")
    with pytest.raises(m4.M4BuildError, match="undeclared"):
        m4.build_elf([bad], out_dir=out)


def test_build_is_cached_by_content(tmp_path, out):
    require_m4()
    source = tmp_path / "prog.c"
    source.write_text("int main(void) { return VALUE; }\n", encoding="utf-8")
    first = m4.build_elf([source], defines={"VALUE": 3}, out_dir=out)
    stamp = first.stat().st_mtime_ns
    assert m4.build_elf([source], defines={"VALUE": 3}, out_dir=out) == first and first.stat().st_mtime_ns == stamp
    other = m4.build_elf([source], defines={"VALUE": 4}, out_dir=out)
    assert other != first and first.with_suffix(".map").is_file()
    source.write_text("int main(void) { return VALUE + 1; }\n", encoding="utf-8")
    assert m4.build_elf([source], defines={"VALUE": 3}, out_dir=out) not in (first, other)
    assert m4.run_elf(other, timeout=30).exit_code == 4


def test_board_firmware_size_report(out):
    """The KWS firmware (core + fake backend) fits the Nano's memories with room for a model; the report's
    numbers agree with arm-none-eabi-size and name where the bytes go."""
    require_m4()
    report = m4.size_report(m4.build_board_elf(out_dir=out))
    assert report.text + report.data == report.flash_used and report.data + report.bss == report.ram_used
    assert report.code > 10_000 and report.rodata > 2_000          # the core; the frontend tables
    assert report.flash_used < 64 * 1024 and report.ram_used < 64 * 1024
    assert report.stack_reserved >= 16 * 1024
    by_object = {name.split("-")[0]: kinds for name, kinds in report.objects.items()}
    assert by_object["main"]["bss"] >= 17_000                      # the static kws_app
    assert by_object["kws_frontend"]["rodata"] > 0
    frame = report.max_stack_frame
    assert frame is not None and 0 < frame.bytes < report.stack_reserved
    assert all(f.function != "m4_never_linked" for f in report.stack_frames)
    assert "flash" in report.summary() and "largest stack frame" in report.summary()

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
    # The stacks are the measured need plus a margin (tests/test_m4_stack.py measures it), not 16 + 1 KB.
    assert report.stack_reserved == m4.FIRMWARE_STACK_BYTES + m4.FIRMWARE_HANDLER_STACK_BYTES == 3584
    by_object = {name.split("-")[0]: kinds for name, kinds in report.objects.items()}
    # The static kws_app, sized for its 4 labels: two 2 KB receive buffers, the frontend's 3 KB, the 49 x 40 ring
    # and model input, the recognizer's 64 x 4 queue, a 384 B transmit buffer.
    assert 12_000 <= by_object["main"]["bss"] <= 13_500
    assert by_object["kws_frontend"]["rodata"] > 0
    frame = report.max_stack_frame
    assert frame is not None and 0 < frame.bytes < report.stack_reserved
    assert all(f.function != "m4_never_linked" for f in report.stack_frames)
    assert "flash" in report.summary() and "largest stack frame" in report.summary()


def test_buffer_sizes_follow_the_labels():
    """Label slots for exactly the model's labels; a transmit buffer that holds the INFO of those labels (the
    largest frame the board sends), whatever their number and length; the 2 KB receive side never changes."""
    assert m4.firmware_sizes(m4.DEFAULT_LABELS) == {"KWS_MAX_LABELS": 4, "KWS_PROTO_MAX_LABELS": 4,
                                                     "KWS_APP_TX_PAYLOAD": 384}
    many = [f"keyword_number_{i:02d}_with_a_long_name" for i in range(40)]
    assert m4.firmware_sizes(many)["KWS_APP_TX_PAYLOAD"] == 1728  # 320 + 40 x 35, rounded up to 64
    assert m4.firmware_sizes(["x" * 255] * 40)["KWS_APP_TX_PAYLOAD"] == 2048  # never above the protocol's


def test_forty_long_labels_still_fit_the_info_the_board_sends(out):
    from kws.device.link import BoardLink

    require_m4()
    labels = ("_silence_", "_unknown_", *(f"keyword_number_{i:02d}_with_a_long_name" for i in range(38)))
    with m4.M4Board(labels=labels, build_dir=out) as board:
        with BoardLink.open(board.port, timeout=10.0) as link:
            assert link.hello().labels == labels
        board.check()


def test_an_info_too_large_for_the_transmit_buffer_stops_the_board_saying_why(out):
    require_m4()
    elf = m4.build_board_elf(out_dir=out, defines={"KWS_APP_TX_PAYLOAD": 128})  # INFO needs ~205 bytes
    result = m4.run_elf(elf, timeout=30)
    assert result.exit_code == 4, result.text  # main: kws_app_init refused
    assert "ERROR init: INFO does not fit in one frame" in result.text

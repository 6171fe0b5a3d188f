"""Robustness of the firmware core found by reading (the fuzzer never hit them): the codec on NULL data,
text mode after a binary session, the inter-byte timeout and a board without a clock.

    .venv/bin/python -m pytest tests/test_core_robustness.py -q

Drivers, built with ASan/UBSan: firmware/host/tests/core_checks.c (named checks without a conversation)
and app_script.c (the whole app on a fake board whose clock, serial input and polls follow a script).
"""

from __future__ import annotations

import os
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import SANITIZER_ENV

from kws.device import framing as F
from kws.device import protocol as P


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


# ----------------------------------------------------------------------------- scripted conversations

@dataclass
class Script:
    """Input of app_script: serial bytes, clock jumps and polls, in order."""

    parts: list[bytes] = field(default_factory=list)

    def send(self, data: bytes) -> "Script":
        self.parts.append(b"S" + struct.pack("<I", len(data)) + data)
        return self

    def frames(self, *messages: P.Message, seq: int = 0) -> "Script":
        return self.send(P.encode_messages(list(messages), P.SequenceCounter(seq)))

    def wait(self, us: int) -> "Script":
        self.parts.append(b"T" + struct.pack("<I", us))
        return self

    def poll(self, n: int = 1) -> "Script":
        self.parts.append(b"P" + struct.pack("<I", n))
        return self

    def encode(self) -> bytes:
        return b"".join(self.parts)


@dataclass
class Board:
    """What app_script reported: the board's output decoded, LED changes, statistics, exit status."""

    events: list
    led: list[tuple[int, int]]
    stats: dict[str, int]
    returncode: int
    stderr: str

    @property
    def messages(self) -> list[P.Message]:
        return [e for e in self.events if isinstance(e, P.Message)]

    @property
    def text(self) -> str:
        return b"".join(e.data for e in self.events if isinstance(e, F.Text)).decode("ascii", "replace")


@pytest.fixture(scope="module")
def script_exe(c_build) -> Path:
    return c_build("app_script", sanitize=True)


def play(exe: Path, script: Script, *args: object) -> Board:
    result = run(exe, *args, stdin=script.encode())
    stderr = result.stderr.decode()
    assert result.returncode in (0, 3, 4), f"app_script exited {result.returncode}: {stderr[-3000:]}"
    led, stats = [], {}
    for line in stderr.splitlines():
        if line.startswith("led "):
            on, t = line.split()[1:]
            led.append((int(on), int(t.split("=")[1])))
        elif line.startswith("mode="):
            stats = {k: int(v) for k, v in (kv.split("=") for kv in line.split())}
    return Board(P.decode_stream(result.stdout), led, stats, result.returncode, stderr)


# ----------------------------------------------------------------------------------- text mode

def test_a_long_line_before_a_binary_session_does_not_spoil_the_next_command(script_exe):
    """HELLO cleared the text line but not its overflow flag: the first command after BYE was answered
    "line too long". Text typed before a session is abandoned whole."""
    script = Script().send(b"x" * 40).poll(3).frames(P.Hello(), P.Bye()).poll(3).send(b"info\r\n").poll(3)
    board = play(script_exe, script)
    assert [type(m).__name__ for m in board.messages] == ["Info", "Ack"]
    lines = board.text.split("\r\n")
    assert lines[0].startswith("KWS ready")
    assert lines[1].startswith("firmware 0.1.0-host board host-script"), lines
    assert "too long" not in board.text


# ---------------------------------------------------------------------------- the inter-byte timeout

FALSE_HEADER = F.encode_frame(P.MsgType.AUDIO, 5, bytes(2000))[:F.HEADER_SIZE]  # valid check byte, 2,000 to come


def test_a_stale_false_header_expires_before_new_bytes_join_it(script_exe):
    """The timeout was checked after the poll had read new bytes, which restarted the quiet period: a
    false header left over from long ago swallowed the next frame. The silence before new bytes counts."""
    script = Script().send(FALSE_HEADER).poll(2).wait(150_000).frames(P.Hello()).poll(1)
    board = play(script_exe, script)
    assert [type(m).__name__ for m in board.messages] == ["Info"]
    assert board.stats["bad_header"] == 0 and board.stats["link_frames"] == 1


def test_a_false_header_followed_at_once_by_a_frame_is_not_expired(script_exe):
    """Bytes that keep coming are not a stale candidate: the false header holds the frame until its 2,000
    bytes are complete (and fail their CRC), as the protocol says; only a quiet line expires it."""
    script = Script().send(FALSE_HEADER).poll(1).wait(50_000).frames(P.Hello()).poll(3)
    assert play(script_exe, script).messages == []
    script.wait(150_000).poll(1)
    assert [type(m).__name__ for m in play(script_exe, script).messages] == ["Info"]


def test_a_board_without_a_clock_is_refused_at_init(script_exe):
    """Without time_us every timeout was silently off (a false header held frames until 2 KB arrived, the
    LED never went out, TIMING said 0). A clock is required: init refuses the HAL and says why."""
    board = play(script_exe, Script().frames(P.Hello()).poll(3), "--no-time")
    assert board.returncode == 3 and board.messages == []
    assert board.text == "ERROR init: the HAL needs time_us (the inter-byte timeout, the LED and TIMING use it)\r\n"


def test_the_ctypes_core_without_a_time_hook_gets_the_host_clock(tmp_path):
    """kws.device.ccore.CoreApp keeps time_us optional: the host's monotonic clock stands in for it."""
    from kws.config import FrontendConfig
    from kws.device.cbuild import CBuildError, build_shared_library
    from kws.device.ccore import CoreApp

    try:
        library = build_shared_library(FrontendConfig(), tmp_path)
    except CBuildError as exc:
        from conftest import fail_or_skip

        fail_or_skip(str(exc))
    sent: list[bytes] = []
    app = CoreApp(library, labels=("_silence_", "yes"), model=lambda x: [0, 0], write=sent.append)
    assert b"".join(sent).startswith(b"KWS ready")
    app.receive(P.encode_message(P.Hello(), 0))
    assert isinstance(P.decode_stream(b"".join(sent)[b"".join(sent).index(b"\xa5"):])[0], P.Info)

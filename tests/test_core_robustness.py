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

import numpy as np
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


# ------------------------------------------------------------------- a slow model on a live microphone

def test_a_microphone_that_always_has_data_does_not_hold_the_poll(script_exe):
    """kws_app_poll drained the audio source with no bound: a source that always has data never let it
    return. Each poll now takes a bounded amount of audio, so typed commands are answered meanwhile."""
    script = Script().poll(20).send(b"info\r\n").poll(5)
    board = play(script_exe, script, "--mic", "endless", "--poll-guard", 20_000)
    assert board.returncode == 0, board.stderr[-500:]
    assert "firmware 0.1.0-host board host-script" in board.text
    assert 0 < board.stats["max_mic_per_poll"] <= 640 and board.stats["max_invokes_per_poll"] == 1


def test_a_model_slower_than_real_time_keeps_the_board_responsive_and_reports_dropped_audio(script_exe):
    """A model taking 100 ms per 20 ms frame on a microphone paced by the board's clock (a 16,384-sample
    ring, as on the Nano): at most one inference per poll, so serial input is read between inferences
    (text "info", HELLO, SET_PARAMS to listen in binary mode, BYE all answered), and the audio the ring
    lost is counted (stats.audio_dropped) and reported: a LOG line in text mode, a LOG frame in binary
    mode, the first at once and then once per further second of lost audio."""
    live = P.Params(flags=int(P.Flag.LIVE_AUDIO | P.Flag.SCORES))
    script = Script().wait(1_000_000).poll(250).send(b"info\r\n").poll(5).frames(P.Hello(), P.SetParams(live))
    script.poll(150)
    script.frames(P.Bye(), seq=2).poll(5)
    board = play(script_exe, script, "--mic", "paced:16384", "--model-us", 100_000, "--poll-us", 1000,
                 "--poll-guard", 40_000)
    assert board.returncode == 0, board.stderr[-500:]
    stats = board.stats
    assert stats["max_invokes_per_poll"] == 1 and stats["max_mic_per_poll"] <= 16384
    assert "firmware 0.1.0-host board host-script" in board.text  # "info" answered
    kinds = [type(m).__name__ for m in board.messages]
    assert kinds[0] == "Info" and kinds[1] == "Ack" and kinds[-1] == "Ack" and "Scores" in kinds
    logs = [m for m in board.messages if isinstance(m, P.Log)]
    lines = [line for line in board.text.split("\r\n") if line.startswith("LOG audio overrun")]
    assert lines and logs and all(m.level == P.LogLevel.WARNING for m in logs)
    totals = [int(t.rsplit(" ", 1)[1]) for t in lines + [m.text for m in logs]]
    assert totals == sorted(totals) and totals[-1] <= stats["audio_dropped"] <= stats["mic_dropped"]
    assert all(b - a >= 16000 for a, b in zip(totals, totals[1:]))  # at most one report per second lost
    # 100 ms per 20 ms of audio: four fifths of what the microphone heard while listening is lost.
    assert stats["audio_dropped"] > 0.6 * (stats["audio_dropped"] + stats["samples"])


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
    """The timeout was checked only after a poll had read new bytes, which restarted the quiet spell: a
    false header that had sat 90 ms when the board last looked swallowed a frame arriving 25 ms later.
    The board kept looking, so the silence before those bytes is known and counts."""
    script = Script().send(FALSE_HEADER).poll(2)
    for _ in range(3):
        script.wait(30_000).poll(1)  # the board looks at 30, 60, 90 ms: nothing yet, not 100 ms yet
    script.wait(25_000).frames(P.Hello()).poll(1)
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


def test_bytes_that_waited_while_the_board_was_busy_continue_their_frame(script_exe):
    """The board busy for 150 ms (a slow inference) between two reads of one frame: the rest may have
    waited in the buffer all along, so the frame is completed, not cut (only silence the board saw
    counts)."""
    hello = P.encode_message(P.Hello(), 0)
    script = Script().send(hello[:6]).poll(2).wait(150_000).send(hello[6:]).poll(1)
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


# ---------------------------------------------------------------------------- the 2^32 us clock wrap

WRAP = 1 << 32


def yes_frames(n: int) -> np.ndarray:
    """Feature frames that make the echo model score "yes" 248 and everything else 0."""
    frames = np.full((n, 40), -128, dtype=np.int8)
    frames[:, 2] = 120
    return frames


def test_the_led_stays_on_for_its_time_across_the_clock_wrap(script_exe):
    """A detection 300 ms before the board's clock wraps: the LED is still on 400 ms later (past the wrap)
    and goes out at the first look after KWS_APP_LED_US (500 ms)."""
    frames = yes_frames(70)
    script = Script().frames(P.Hello(), P.Features.from_array(frames[:35]), P.Features.from_array(frames[35:]))
    script.poll(4)
    script.wait(400_000).poll(1).wait(150_000).poll(1)
    board = play(script_exe, script, "--clock-start", WRAP - 300_000)
    assert any(isinstance(m, P.Detection) for m in board.messages)
    (on, t_on), (off, t_off) = board.led
    assert (on, off) == (1, 0) and t_on > WRAP - 300_000 and t_off < t_on, "the LED time must cross the wrap"
    assert 550_000 <= (t_off - t_on) % WRAP < 560_000  # still on at the look 400 ms later, off at 550 ms


def test_timing_is_right_wherever_the_clock_wraps(script_exe):
    """TIMING's invoke_us and frontend_us are unsigned differences of the board's clock: the same small
    numbers wherever the 2^32 wrap falls (inside an invocation, inside a frontend step, between)."""
    audio = np.random.default_rng(3).integers(-3000, 3000, 16000 + 4 * 320).astype(np.int16)
    script = Script().frames(P.Hello(), P.Reset(), *P.audio_chunks(audio)).poll(60)
    total = None
    for fraction in (0.0, 0.03, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95):
        start = 0 if total is None else (WRAP - int(total * fraction) - 5) % WRAP
        board = play(script_exe, script, "--model-us", 50_000, "--clock-start", start)
        timings = [m for m in board.messages if isinstance(m, P.Timing)]
        assert [t.inference for t in timings] == [0, 1, 2, 3, 4]
        assert all(t.invoke_us == 50_013 for t in timings), timings  # 50 ms, plus one 13 us clock step
        assert all(t.frontend_us % 13 == 0 and 0 < t.frontend_us < 20_000 for t in timings), timings
        assert [t.frames for t in timings] == [49, 1, 1, 1, 1]
        if total is None:
            total = board.stats["clock"]  # how far the clock runs in this conversation
            assert total > 250_000
        else:
            assert board.stats["clock"] < start, "the clock must wrap during the conversation"


# ------------------------------------------------------------------------------- resynchronisation

def header_flood(n: int, length: int = F.MAX_PAYLOAD) -> bytes:
    """n back-to-back frame headers with valid check bytes, each announcing `length` payload bytes."""
    out = []
    for i in range(n):
        fields = struct.pack("<BHH", P.MsgType.AUDIO, i & 0xFFFF, length)
        out.append(F.SYNC + fields + bytes([F.crc32(fields) & 0xFF]))
    return b"".join(out)


def bad_crc_flood(n: int) -> bytes:
    """n back-to-back 12-byte frames (BYE) whose CRC is wrong."""
    return b"".join(P.encode_message(P.Bye(), i)[:-1] + b"\x00" for i in range(n))


FLOODS = {
    "headers announcing 2 KB": header_flood(4096),                     # 32 KiB
    "headers announcing too much": header_flood(4096, 0xFFFF),
    "12-byte frames with a bad CRC": bad_crc_flood(2731),
}


@pytest.fixture(scope="module")
def roundtrip_exe(c_build) -> Path:
    return c_build("protocol_roundtrip", sanitize=True)


@pytest.mark.parametrize("flood", FLOODS, ids=["2k-headers", "too-large", "bad-crc"])
def test_resynchronisation_work_is_linear_on_floods_of_valid_headers(flood, roundtrip_exe):
    """Back-to-back valid headers announcing 2 KB each made every 8 input bytes cost a 2 KB rescan: the
    work (bytes run through the parser again) was 241 times the input. Rescans now nest at most
    RESCAN_DEPTH deep, so each byte is scanned again at most once per level below the deepest, in C and
    in the Python decoder alike (they agree event for event and count for count)."""
    stream = FLOODS[flood]
    result = run(roundtrip_exe, stdin=stream)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    c_stats = {k: int(v) for k, v in (kv.split("=") for kv in result.stderr.decode().split())}
    decoder = F.FrameDecoder()
    decoder.feed(stream)
    assert c_stats == vars(decoder.stats)
    assert c_stats["rescan_bytes"] <= (F.RESCAN_DEPTH - 1) * len(stream), c_stats


@pytest.fixture(scope="module")
def pipe_exe(c_build) -> Path:
    return c_build("app_pipe", sanitize=True)


@pytest.mark.parametrize("flood", FLOODS, ids=["2k-headers", "too-large", "bad-crc"])
def test_the_board_answers_a_flood_with_at_most_half_its_size_in_naks(flood, pipe_exe):
    """Each failed candidate with a valid header is answered NAK (16 bytes): a flood of 8-byte headers drew
    twice its size back. NAK bytes are limited to half the bytes received (plus a 64-byte allowance), and
    after the flood (and 2 KB of padding that ends any candidate) a real frame is still answered."""
    stream = FLOODS[flood]
    wire = P.encode_message(P.Hello(), 0) + stream + bytes(2100) + P.encode_message(P.Reset(), 1)
    result = run(pipe_exe, stdin=wire)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    messages = [m for m in P.decode_stream(result.stdout) if isinstance(m, P.Message)]
    naks = [m for m in messages if isinstance(m, P.Nak)]
    assert isinstance(messages[0], P.Info) and messages[-1] == P.Ack(1, P.MsgType.RESET, 0, 0)
    assert len(naks) >= 1  # a flood is still answered, only not in kind
    nak_bytes = len(naks) * (F.HEADER_SIZE + 4 + F.CRC_SIZE)
    assert nak_bytes <= len(stream) // 2 + 64, f"{nak_bytes} NAK bytes for {len(stream)} flood bytes"
    stats = {k: int(v) for k, v in (kv.split("=") for kv in result.stderr.decode().split())}
    assert stats["rescan_bytes"] <= (F.RESCAN_DEPTH - 1) * len(wire) and stats["naks_withheld"] > 0


def nesting_stream(seed: int, parts: int) -> bytes:
    """Real frames among short floods of valid headers, truncated and corrupted frames, runs of sync
    bytes and garbage: candidates inside failed candidates, several levels deep."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(parts):
        kind = int(rng.integers(0, 6))
        frame = P.encode_message(P.Audio.from_samples(rng.integers(-99, 99, int(rng.integers(0, 40)), np.int16)), i)
        if kind == 0:
            out.append(frame)
        elif kind == 1:
            out.append(header_flood(int(rng.integers(1, 6)), int(rng.choice([0, 30, 300, F.MAX_PAYLOAD]))))
        elif kind == 2:
            out.append(frame[:int(rng.integers(8, len(frame)))])
        elif kind == 3:
            out.append(frame[:-1] + bytes([frame[-1] ^ 0x10]))
        elif kind == 4:
            out.append(bytes(rng.choice([0xA5, 0x5A], int(rng.integers(1, 9))).astype(np.uint8)))
        else:
            out.append(bytes(rng.integers(0, 256, int(rng.integers(0, 30))).astype(np.uint8)))
    return b"".join(out)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_c_and_python_agree_on_nested_failed_candidates(seed, roundtrip_exe):
    """The depth limit, event for event and count for count. These streams are floods in earnest (a few
    valid headers announcing up to 2 KB every ~6 parts): finding all ~240 real frames took the unlimited
    rescan ~11 times the input in work; within the limit a quarter to a third of them are found."""
    from test_protocol import expected_roundtrip_output

    stream = nesting_stream(seed, 1500)
    result = run(roundtrip_exe, stdin=stream)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert result.stdout == expected_roundtrip_output(stream)
    decoder = F.FrameDecoder()
    decoder.feed(stream)
    assert {k: int(v) for k, v in (kv.split("=") for kv in result.stderr.decode().split())} == vars(decoder.stats)
    assert decoder.stats.frames > 40 and decoder.stats.rescan_bytes <= (F.RESCAN_DEPTH - 1) * len(stream)

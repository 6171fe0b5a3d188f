"""The serial protocol's wire format from both ends: constants (header vs Python), golden frames, Python
round trips of every message, the resynchronising decoder, and Python -> C -> Python round trips with the
C parser against the Python decoder on garbage. The board's side of the conversation is
tests/test_protocol_app.py; helpers shared by the two are in tests/protocol_support.py.

    .venv/bin/python -m pytest tests/test_protocol.py -q
"""

from __future__ import annotations

import ast
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from protocol_support import every_message, hostile_stream, run

from kws.device import framing as F
from kws.device import protocol as P
from kws.device.cbuild import CORE_DIR

HEADER = CORE_DIR / "kws_protocol.h"


# ------------------------------------------------------------------------------------ the constants

def _evaluate(expression: str, known: dict[str, int]) -> int:
    """A C constant expression of ints, names, +, | and parentheses, without eval."""
    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            return known[node.id]
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.BitOr)):
            left, right = walk(node.left), walk(node.right)
            return left + right if isinstance(node.op, ast.Add) else left | right
        raise ValueError(f"unsupported expression {expression!r}")
    return walk(ast.parse(expression, mode="eval"))


def header_defines() -> dict[str, int]:
    known: dict[str, int] = {}
    for line in HEADER.read_text(encoding="utf-8").splitlines():
        match = re.match(r"#define\s+(KWS_\w+)\s+(.+?)\s*(/\*.*)?$", line)
        if match and not match.group(1).endswith("_H"):
            known[match.group(1)] = _evaluate(match.group(2).rstrip("u"), known)
    return known


def test_header_and_python_constants_are_the_same_spec():
    header, python = header_defines(), P.header_constants()
    assert set(header) == set(python), (f"only in the header: {sorted(set(header) - set(python))}; "
                                        f"only in Python: {sorted(set(python) - set(header))}")
    assert {k: v for k, v in header.items() if python[k] != v} == {}
    assert F.crc32(b"123456789") == 0xCBF43926  # the CRC-32 check value named in the header


def test_the_header_documents_every_message_type():
    text = HEADER.read_text(encoding="utf-8")
    for member in P.MsgType:
        assert re.search(rf"\*\s+{member.name}\s+0x{member.value:02X}\b", text), f"{member.name} not in the table"


# Golden frames, also printed in firmware/core/README.md: bytes a C or Python implementation must produce.
GOLDEN = [
    (P.Hello(), 0, "A5 5A 01 00 00 02 00 2F 01 00 0B BC 42 F9"),
    (P.Reset(), 1, "A5 5A 02 01 00 00 00 18 4E B1 06 D2"),
    (P.Audio.from_samples(np.array([0, 1, -1, 32767], np.int16)), 2,
     "A5 5A 04 02 00 08 00 5E 00 00 01 00 FF FF FF 7F 50 48 47 50"),
    (P.Ack(2, P.MsgType.AUDIO, P.AckStatus.OK, 4), 1, "A5 5A 82 01 00 08 00 82 02 00 04 00 04 00 00 00 BD 90 86 CA"),
    (P.Nak(2, P.MsgType.AUDIO, P.ErrorCode.BAD_CRC), 1, "A5 5A 83 01 00 04 00 3E 02 00 04 01 DA D1 FF AA"),
    (P.Detection(12, 1_240_000, 2, 231, "yes"), 4,
     "A5 5A 86 04 00 0E 00 F6 0C 00 00 00 C0 EB 12 00 02 E7 03 79 65 73 98 02 F2 B9"),
]


def test_golden_frames_in_python_and_in_the_readme():
    readme = (CORE_DIR / "README.md").read_text(encoding="utf-8")
    for message, seq, hex_bytes in GOLDEN:
        assert P.encode_message(message, seq) == bytes.fromhex(hex_bytes)
        assert hex_bytes in readme


# ------------------------------------------------------------------------------- Python round trips

def test_every_message_type_is_covered():
    assert {m.TYPE for m in every_message()} == set(P.MsgType)


def test_python_round_trip_of_every_message():
    counter = P.SequenceCounter(0xFFF0)  # the seq wraps inside the stream
    wire = P.encode_messages(every_message(), counter)
    events = F.FrameDecoder().feed(wire)
    assert all(isinstance(e, F.Frame) for e in events)
    assert [P.decode_message(e) for e in events] == every_message()
    assert [e.seq for e in events][15:18] == [0xFFFF, 0, 1]


@pytest.mark.parametrize("message_type, payload, match", [
    (P.MsgType.HELLO, b"\x01", "too short"),
    (P.MsgType.HELLO, b"\x01\x00\x00", "trailing"),
    (P.MsgType.RESET, b"\x00\x00", "0 or 4"),
    (P.MsgType.AUDIO, b"\x00\x00\x00", "whole int16"),
    (P.MsgType.BYE, b"\x00", "empty"),
    (P.MsgType.SCORES, struct.pack("<IIfbB", 0, 0, 1.0, 0, 3) + b"\x00", "too short"),
    (P.MsgType.INFO, b"", "too short"),
    (0x42, b"", "unknown message type"),
])
def test_malformed_payloads_are_protocol_errors(message_type, payload, match):
    with pytest.raises(F.ProtocolError, match=match):
        P.decode_message(F.Frame(message_type, 0, payload))


def test_encoding_refuses_what_the_wire_cannot_carry():
    with pytest.raises(F.ProtocolError, match="exceeds"):
        F.encode_frame(P.MsgType.AUDIO, 0, bytes(F.MAX_PAYLOAD + 2))
    with pytest.raises(F.ProtocolError, match="255"):
        P.encode_message(P.Detection(name="x" * 256), 0)
    with pytest.raises(F.ProtocolError, match="labels"):
        P.encode_message(P.Info(labels=("a",) * 65), 0)
    with pytest.raises(F.ProtocolError, match="int16"):
        P.Audio.from_samples(np.zeros(4, dtype=np.float32))


def test_decoder_finds_frames_split_anywhere_and_hidden_in_garbage():
    rng = np.random.default_rng(9)
    frames = [P.encode_message(m, i) for i, m in enumerate(every_message())]
    garbage = [bytes(rng.integers(0, 256, rng.integers(0, 40)).astype(np.uint8)) + b"\xa5\x5a\xa5" for _ in frames]
    stream = b"".join(g + f for g, f in zip(garbage, frames))
    decoder = F.FrameDecoder()
    events = []
    position = 0
    while position < len(stream):  # slices of 1..300 bytes
        step = int(rng.integers(1, 300))
        events += decoder.feed(stream[position:position + step])
        position += step
    found = [P.decode_message(e) for e in events if isinstance(e, F.Frame)]
    assert found == every_message()
    text = b"".join(e.data for e in events if isinstance(e, F.Text))
    assert text == b"".join(garbage)  # every non-frame byte comes out as text, in order


def test_a_false_header_does_not_swallow_the_next_frame():
    # A header with a valid check byte announcing 2,000 bytes, then a real frame at once.
    false = F.encode_frame(P.MsgType.AUDIO, 5, bytes(2000))[:F.HEADER_SIZE]
    real = P.encode_message(P.Hello(), 6)
    decoder = F.FrameDecoder()
    assert decoder.feed(false + real) == []          # held: it may still be a frame
    events = decoder.expire()                        # the line went quiet: give up on it
    assert events[0] == F.Text(false) and F.Frame(P.MsgType.HELLO, 6, P.Hello().payload()) in events
    # Without expiry the real frame is found once enough bytes arrive to fail the false candidate.
    decoder = F.FrameDecoder()
    events = decoder.feed(false + real + bytes(2100))
    assert [e for e in events if isinstance(e, F.BadFrame)] == [F.BadFrame("bad_crc", P.MsgType.AUDIO, 5, 2000)]
    assert F.Frame(P.MsgType.HELLO, 6, P.Hello().payload()) in events


# ---------------------------------------------------------------------------- Python -> C -> Python

@pytest.fixture(scope="module")
def roundtrip_exe(c_build) -> Path:
    return c_build("protocol_roundtrip", sanitize="auto")


def test_golden_frames_in_c(roundtrip_exe):
    wire = b"".join(bytes.fromhex(h) for _, _, h in GOLDEN)
    assert run(roundtrip_exe, stdin=wire).stdout == wire  # the C encoder writes the same bytes


def test_python_to_c_to_python_round_trip_of_every_message(roundtrip_exe):
    messages = every_message()
    wire = P.encode_messages(messages, P.SequenceCounter(100))
    out = run(roundtrip_exe, stdin=wire)
    assert out.stdout == wire  # the C codec re-encodes every layout byte for byte
    events = F.FrameDecoder().feed(out.stdout)
    assert [P.decode_message(e) for e in events] == messages
    assert [e.seq for e in events] == list(range(100, 100 + len(messages)))
    assert out.stderr.decode().startswith(f"frames={len(messages)} bad_crc=0 bad_header=0 too_large=0 text_bytes=0")


def expected_roundtrip_output(stream: bytes) -> bytes:
    """What protocol_roundtrip must write, computed with the Python decoder: text as is, NAK for bad
    candidates, the frame itself when its layout decodes, ERROR(code) when it does not."""
    out = []
    for event in F.FrameDecoder().feed(stream):
        if isinstance(event, F.Text):
            out.append(event.data)
        elif isinstance(event, F.BadFrame):
            code = P.ErrorCode.BAD_CRC if event.kind == "bad_crc" else P.ErrorCode.TOO_LARGE
            out.append(P.encode_message(P.Nak(event.seq, event.type, code), event.seq))
        else:
            try:
                P.decode_message(event)
                out.append(F.encode_frame(event.type, event.seq, event.payload))
            except F.ProtocolError:
                code = P.ErrorCode.UNKNOWN_TYPE if event.type not in P.MESSAGE_CLASSES else P.ErrorCode.BAD_PAYLOAD
                out.append(P.encode_message(P.Error(code, "decode failed"), event.seq))
    return b"".join(out)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_c_parser_and_python_decoder_agree_byte_for_byte_on_hostile_streams(seed, roundtrip_exe):
    stream = hostile_stream(seed, 600)
    out = run(roundtrip_exe, stdin=stream)
    assert out.stdout == expected_roundtrip_output(stream)
    stats = dict(kv.split("=") for kv in out.stderr.decode().split())
    decoder = F.FrameDecoder()
    decoder.feed(stream)
    assert {k: int(v) for k, v in stats.items()} == vars(decoder.stats)
    assert decoder.stats.frames > 100 and decoder.stats.bad_crc > 20 and decoder.stats.too_large > 5

"""Shared by the protocol tests (tests/test_protocol.py, tests/test_protocol_app.py): running the C
test programs, one message of every type, and hostile byte streams.

    from protocol_support import every_message, hostile_stream, run
    result = run(exe, "--flag", stdin=wire)          # sanitizer environment, asserts exit 0 unless check=False
    wire = P.encode_messages(every_message())        # every message type, with edge values
    stream = hostile_stream(seed=1, count=600)       # valid, corrupt, truncated and false frames, garbage
"""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

import numpy as np
from conftest import SANITIZER_ENV

from kws.device import framing as F
from kws.device import protocol as P


def run(exe: Path, *args: object, stdin: bytes = b"", check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(exe), *map(str, args)], input=stdin, capture_output=True,
                            env={**os.environ, **SANITIZER_ENV}, timeout=120)
    if check:
        assert result.returncode == 0, f"{exe.name} exited {result.returncode}: {result.stderr.decode()[-3000:]}"
    return result


def every_message() -> list[P.Message]:
    """At least one message of every type, with edge values."""
    rng = np.random.default_rng(3)
    labels = tuple(f"word{i}" for i in range(P.MAX_LABELS - 2)) + ("_silence_", "ü")
    return [
        P.Hello(), P.Hello(version=0xFFFF),
        P.Reset(), P.Reset(stream_time_us=0xFFFFFFFF),
        P.SetParams(), P.SetParams(P.Params(600_000, 0, 64, 255, 255, int(P.Flag.LIVE_AUDIO))),
        P.Audio(), P.Audio.from_samples(np.array([-32768, -1, 0, 1, 32767], dtype=np.int16)),
        P.Audio.from_samples(rng.integers(-32768, 32768, F.MAX_PAYLOAD // 2).astype(np.int16)),
        P.Features(), P.Features.from_array(rng.integers(-128, 128, (49, 40)).astype(np.int8)),
        P.Bye(),
        P.Info(), P.Info(arena_bytes=0xFFFFFFFF, input_scale=0.5, input_zero_point=-128, output_scale=2.0 ** -8,
                         output_zero_point=127, firmware_version="0.1.0", board="nano33ble", backend="tflm",
                         model_sha256="ab" * 32, frontend_hash="cd" * 32, feature_type="mfcc", labels=labels),
        P.Ack(), P.Ack(0xFFFF, 0x05, P.AckStatus.DUPLICATE, 0xFFFFFFFF),
        P.Nak(), P.Nak(12, 0x04, P.ErrorCode.BAD_CRC),
        P.Scores(), P.Scores(7, 0xFFFFFFFF, 0.00390625, -128, (-128, 127, 0, -1)),
        P.Timing(), P.Timing(1, 2, 3, 0xFFFF),
        P.Detection(), P.Detection(99, 123456, 3, 255, "no"),
        P.Log(), P.Log(P.LogLevel.WARNING, "arena: 10 KB ✓"),
        P.Error(), P.Error(P.ErrorCode.MODEL, "model invoke failed, code 3"),
    ]


def hostile_stream(seed: int, count: int) -> bytes:
    """Valid frames, random-payload frames of random types, truncated and bad-CRC frames, false
    headers, lone sync bytes and random garbage, shuffled together."""
    rng = np.random.default_rng(seed)
    valid = every_message()
    parts = []
    for i in range(count):
        kind = rng.integers(0, 8)
        frame = P.encode_message(valid[rng.integers(0, len(valid))], i)
        if kind == 0:
            parts.append(frame)
        elif kind == 1:  # random type and payload, correct framing
            payload = bytes(rng.integers(0, 256, rng.integers(0, 64)).astype(np.uint8))
            parts.append(F.encode_frame(int(rng.integers(0, 256)), i, payload))
        elif kind == 2:  # truncated
            parts.append(frame[:rng.integers(1, len(frame))])
        elif kind == 3:  # one flipped bit anywhere
            b = bytearray(frame)
            b[rng.integers(0, len(b))] ^= 1 << int(rng.integers(0, 8))
            parts.append(bytes(b))
        elif kind == 4:  # false header announcing too much or a bit
            length = int(rng.choice([F.MAX_PAYLOAD + 1, 0xFFFF, int(rng.integers(0, 50))]))
            header = struct.pack("<BHH", int(rng.integers(0, 256)), i, length)
            parts.append(F.SYNC + header + bytes([F.crc32(header) & 0xFF]))
        elif kind == 5:
            parts.append(bytes(rng.choice([0xA5, 0x5A, 0x00, 0x0A], rng.integers(1, 6)).astype(np.uint8)))
        else:
            parts.append(bytes(rng.integers(0, 256, rng.integers(0, 80)).astype(np.uint8)))
    return b"".join(parts)

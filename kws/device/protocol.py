"""The serial protocol's messages, host side: the same spec as firmware/core/kws_protocol.h, in Python.

    from kws.device.framing import Frame, FrameDecoder, Text
    from kws.device.protocol import Hello, Audio, encode_message, decode_message
    wire = encode_message(Hello(), seq=0) + encode_message(Audio.from_samples(pcm), seq=1)
    for event in FrameDecoder().feed(serial_bytes):
        if isinstance(event, Frame):
            message = decode_message(event)      # Info, Ack, Scores, Detection, ...
        elif isinstance(event, Text):
            print(event.data.decode("ascii", "replace"), end="")   # text-mode lines, garbage

The header is the spec (frame layout, message table, payload layouts, flow); firmware/core/README.md
explains it with byte dumps. Every constant here and in kws.device.framing (the byte layer: frames,
CRCs, the resynchronising decoder) is checked against the header by tests/test_protocol.py, which
parses kws_protocol.h.

This module is the one to import: it holds the codec (the type -> class table, whole frames to and from
messages, sequence numbers) and re-exports the numbers of kws.device.protocol_spec (MsgType, ErrorCode,
Flag, ...), the messages of kws.device.protocol_messages (Hello, Audio, Info, ...) and the framing names
it was always read with (Frame, FrameDecoder, Text, BadFrame, ProtocolError, ...).

Data frames (AUDIO, FEATURES) are stop-and-wait: send the next one only after the previous one's ACK;
resend with the same seq after NAK(BAD_CRC) or a timeout. The board ACKs a resend of any of its last
DUP_WINDOW accepted data frames as DUPLICATE and keeps no reordering window, so a host that pipelines
and resends gets chunks processed out of order. kws.device.link.BoardLink follows the rule.
"""

from __future__ import annotations

from typing import Iterable

from kws.device.framing import (
    CRC_SIZE,
    HEADER_SIZE,
    MAX_FRAME,
    MAX_PAYLOAD,
    RESCAN_DEPTH,
    SYNC,
    BadFrame,
    Frame,
    FrameDecoder,
    ProtocolError,
    Text,
    encode_frame,
)
from kws.device.protocol_messages import (
    Ack,
    Audio,
    Bye,
    Detection,
    Error,
    Features,
    Hello,
    Info,
    Log,
    Message,
    Nak,
    Params,
    Reset,
    Scores,
    SetParams,
    Timing,
    audio_chunks,
)
from kws.device.protocol_spec import (
    DUP_WINDOW,
    FLAG_DEFAULT,
    MAX_LABELS,
    PARAMS_SIZE,
    VERSION,
    AckStatus,
    ErrorCode,
    Flag,
    LogLevel,
    MsgType,
    header_constants,
)

MESSAGE_CLASSES: dict[int, type[Message]] = {
    cls.TYPE: cls for cls in (Hello, Reset, SetParams, Audio, Features, Bye, Info, Ack, Nak, Scores, Timing,
                              Detection, Log, Error)
}


def encode_message(message: Message, seq: int) -> bytes:
    """The whole frame for `message` with sequence number `seq`."""
    return encode_frame(message.TYPE, seq, message.payload())


def decode_message(frame: Frame) -> Message:
    """The message a good frame carries; ProtocolError for an unknown type or a malformed payload."""
    cls = MESSAGE_CLASSES.get(frame.type)
    if cls is None:
        raise ProtocolError(f"unknown message type 0x{frame.type:02x}")
    return cls.from_payload(frame.payload)


def decode_stream(data: bytes) -> list[Message | Text | BadFrame]:
    """Every message, text run and bad candidate in a complete byte stream (tests, logs)."""
    out: list[Message | Text | BadFrame] = []
    for event in FrameDecoder().feed(data):
        out.append(decode_message(event) if isinstance(event, Frame) else event)
    return out


class SequenceCounter:
    """The host's u16 frame numbering: 0, 1, ..., 65535, 0, ..."""

    def __init__(self, start: int = 0) -> None:
        self._next = start & 0xFFFF

    def __call__(self) -> int:
        seq = self._next
        self._next = (self._next + 1) & 0xFFFF
        return seq


def encode_messages(messages: Iterable[Message], counter: SequenceCounter | None = None) -> bytes:
    """Frames for several messages, numbered by `counter` (a fresh one from 0 by default)."""
    counter = counter or SequenceCounter()
    return b"".join(encode_message(m, counter()) for m in messages)


__all__ = [
    # kws.device.protocol_spec
    "DUP_WINDOW", "FLAG_DEFAULT", "MAX_LABELS", "PARAMS_SIZE", "VERSION", "AckStatus", "ErrorCode", "Flag",
    "LogLevel", "MsgType", "header_constants",
    # kws.device.protocol_messages
    "Ack", "Audio", "Bye", "Detection", "Error", "Features", "Hello", "Info", "Log", "Message", "Nak", "Params",
    "Reset", "Scores", "SetParams", "Timing", "audio_chunks",
    # kws.device.framing
    "CRC_SIZE", "HEADER_SIZE", "MAX_FRAME", "MAX_PAYLOAD", "RESCAN_DEPTH", "SYNC", "BadFrame", "Frame",
    "FrameDecoder", "ProtocolError", "Text", "encode_frame",
    # the codec, here
    "MESSAGE_CLASSES", "SequenceCounter", "decode_message", "decode_stream", "encode_message", "encode_messages",
]

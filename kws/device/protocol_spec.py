"""The serial protocol's numbers: version, sizes, message types, error codes, ACK statuses, flags and log levels.

    from kws.device.protocol_spec import MsgType, ErrorCode, Flag, header_constants

The same values as the #defines of firmware/core/kws_protocol.h; header_constants() maps every #define to
its Python value and tests/test_protocol.py checks it against the parsed header. The byte layer's sizes
(sync, header, CRC, payload limit) live in kws.device.framing; the messages built on these numbers in
kws.device.protocol_messages. Callers import them all from kws.device.protocol, which re-exports them.
"""

from __future__ import annotations

import enum

from kws.device.framing import CRC_SIZE, HEADER_SIZE, MAX_FRAME, MAX_PAYLOAD, RESCAN_DEPTH, SYNC

VERSION = 1
PARAMS_SIZE = 13
MAX_LABELS = 64
DUP_WINDOW = 8
"""The board remembers the seqs of this many accepted data frames: resending one of them is ACKed DUPLICATE."""


class MsgType(enum.IntEnum):
    """Message types: host -> board below 0x80, board -> host from 0x80."""

    HELLO = 0x01
    RESET = 0x02
    SET_PARAMS = 0x03
    AUDIO = 0x04
    FEATURES = 0x05
    BYE = 0x06
    INFO = 0x81
    ACK = 0x82
    NAK = 0x83
    SCORES = 0x84
    TIMING = 0x85
    DETECTION = 0x86
    LOG = 0x87
    ERROR = 0x88


class ErrorCode(enum.IntEnum):
    """NAK and ERROR codes."""

    NONE = 0
    BAD_CRC = 1
    TOO_LARGE = 2
    UNKNOWN_TYPE = 3
    BAD_PAYLOAD = 4
    BAD_STATE = 5
    BAD_PARAM = 6
    MODEL = 7
    VERSION = 8


class AckStatus(enum.IntEnum):
    """ACK status."""

    OK = 0
    DUPLICATE = 1


class Flag(enum.IntFlag):
    """PARAMS flags."""

    SCORES = 0x01
    TIMING = 0x02
    LIVE_AUDIO = 0x04


FLAG_DEFAULT = Flag.SCORES | Flag.TIMING


class LogLevel(enum.IntEnum):
    """LOG levels."""

    DEBUG = 0
    INFO = 1
    WARNING = 2


def header_constants() -> dict[str, int]:
    """Every #define of kws_protocol.h with the value this module gives it (checked by a test)."""
    values = {
        "KWS_PROTO_VERSION": VERSION, "KWS_PROTO_SYNC0": SYNC[0], "KWS_PROTO_SYNC1": SYNC[1],
        "KWS_PROTO_HEADER_SIZE": HEADER_SIZE, "KWS_PROTO_CRC_SIZE": CRC_SIZE, "KWS_PROTO_MAX_PAYLOAD": MAX_PAYLOAD,
        "KWS_PROTO_MAX_FRAME": MAX_FRAME, "KWS_PROTO_PARAMS_SIZE": PARAMS_SIZE, "KWS_PROTO_MAX_LABELS": MAX_LABELS,
        "KWS_PROTO_DUP_WINDOW": DUP_WINDOW, "KWS_PROTO_RESCAN_DEPTH": RESCAN_DEPTH,
        "KWS_FLAG_DEFAULT": int(FLAG_DEFAULT),
        "KWS_PROTO_EV_FRAME": 0, "KWS_PROTO_EV_BAD_CRC": 1, "KWS_PROTO_EV_TOO_LARGE": 2,
    }
    for prefix, enum_type in (("KWS_MSG_", MsgType), ("KWS_ERR_", ErrorCode), ("KWS_ACK_", AckStatus),
                              ("KWS_FLAG_", Flag), ("KWS_LOG_", LogLevel)):
        for member in enum_type:
            values[prefix + str(member.name)] = int(member)
    return values

"""Framing of the serial protocol: the byte layer under the messages of kws.device.protocol.

    from kws.device.framing import Frame, FrameDecoder, Text, encode_frame
    wire = encode_frame(msg_type=0x06, seq=0, payload=b"")
    for event in FrameDecoder().feed(serial_bytes):   # Frame, Text (bytes outside frames) or BadFrame
        ...

Frames are `A5 5A | type u8 | seq u16 | len u16 | hcrc u8 | payload | crc32 u32`, little-endian, where
hcrc is the low byte of CRC-32 of type..len and crc32 (zlib's) covers type..payload; the spec is
firmware/core/kws_protocol.h. A receiver hunts for the sync, checks the header, waits for the payload,
checks the CRC; a failed candidate is rescanned from the byte after its first sync byte, so a real
frame hidden in garbage is found. Rescans nest at most RESCAN_DEPTH deep: a candidate that deep which
fails its CRC is skipped whole, which keeps the work linear on a flood of valid headers. `FrameDecoder`
does exactly what the C parser does, event for event and count for count.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Union

from kws.errors import KwsError

SYNC = b"\xa5\x5a"
HEADER_SIZE = 8
CRC_SIZE = 4
MAX_PAYLOAD = 2048
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE
RESCAN_DEPTH = 4
"""Rescans of failed candidates nest at most this deep (kws_protocol.h, Receiving)."""


class ProtocolError(KwsError):
    """A payload that does not follow its message's layout, or a message that cannot be encoded."""


def crc32(data: bytes) -> int:
    """CRC-32 as the wire uses it (zlib's: reflected 0xEDB88320, init and final XOR 0xFFFFFFFF)."""
    return zlib.crc32(data) & 0xFFFFFFFF


def encode_frame(msg_type: int, seq: int, payload: bytes = b"") -> bytes:
    """One whole frame; raises ProtocolError for a payload above MAX_PAYLOAD."""
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(payload)} bytes exceeds the protocol's {MAX_PAYLOAD}")
    header = struct.pack("<BHH", msg_type & 0xFF, seq & 0xFFFF, len(payload))
    body = header + bytes([crc32(header) & 0xFF]) + payload
    return SYNC + body + struct.pack("<I", crc32(body))


@dataclass(frozen=True)
class Frame:
    """A frame that passed both checks."""

    type: int
    seq: int
    payload: bytes


@dataclass(frozen=True)
class Text:
    """Bytes outside frames: text-mode lines, or garbage."""

    data: bytes


@dataclass(frozen=True)
class BadFrame:
    """A candidate with a valid header that failed: 'bad_crc' or 'too_large' (the C parser's events)."""

    kind: str
    type: int
    seq: int
    length: int


Event = Union[Frame, Text, BadFrame]


@dataclass
class DecoderStats:
    """Counters, named as in kws_proto_stats."""

    frames: int = 0
    bad_crc: int = 0
    bad_header: int = 0
    too_large: int = 0
    text_bytes: int = 0
    rescan_bytes: int = 0
    """Bytes the C parser runs through again after failed candidates (its resynchronisation work)."""


class FrameDecoder:
    """Streaming receiver with resynchronisation: feed it any slices of the byte stream.

    Bytes that can still become a frame are held until they can be decided, so events come out in
    stream order and a frame split across reads is found whole.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        # The C parser's rescan regions (kws_frame.c) as [end, depth], newest last; `end` counts bytes
        # from the front of _buf. A region is the tail of a failed candidate, which C scans again.
        self._regions: list[list[int]] = []
        self.stats = DecoderStats()

    def reset(self) -> None:
        """Drop held bytes (e.g. after reopening the port); statistics stay."""
        self._buf.clear()
        self._regions.clear()

    def expire(self) -> list[Event]:
        """Give up on a partial candidate after an inter-byte timeout (kws_proto_parser_expire): its
        first byte becomes text and the rest is scanned again."""
        if not self._buf:
            return []
        first = bytes(self._buf[:1])
        self._fail(len(self._buf), self._candidate_depth(), bytearray())
        self.stats.text_bytes += 1
        events = self.feed(b"")
        if events and isinstance(events[0], Text):
            return [Text(first + events[0].data), *events[1:]]
        return [Text(first), *events]

    @property
    def pending(self) -> int:
        """Bytes held because they may start a frame."""
        return len(self._buf)

    # ------------------------------------------------------------------ the C parser's rescan regions

    def _depth_at(self, pos: int) -> int:
        """Rescan depth of the byte at `pos` (0: new input); regions that end before it are done."""
        regions = self._regions
        while regions and regions[-1][0] <= pos:
            regions.pop()
        return regions[-1][1] if regions else 0

    def _candidate_depth(self, pos: int = 0) -> int:
        return min(self._depth_at(pos) + 1, RESCAN_DEPTH)

    def _consume(self, n: int) -> None:
        del self._buf[:n]
        for region in self._regions:
            region[0] -= n

    def _fail(self, held: int, depth: int, text: bytearray) -> None:
        """A failed candidate of `held` bytes at the front: its sync byte is text, the rest is scanned again."""
        self.stats.rescan_bytes += held - 1
        if held > 1:
            regions = self._regions
            while regions and regions[-1][0] <= held:
                regions.pop()
            if len(regions) < RESCAN_DEPTH + 1:  # never full; as in C
                regions.append([held, depth])
        text.extend(self._buf[:1])
        self._consume(1)

    def _text(self, n: int, text: bytearray) -> None:
        """The first n bytes are text. Each 0xA5 among them is a candidate the C parser dropped at its
        second byte (not 0x5A), which it scans again."""
        buf = self._buf
        j = buf.find(SYNC[0], 0, n)
        while j >= 0:
            depth = self._candidate_depth(j)
            self.stats.rescan_bytes += 1
            regions = self._regions
            while regions and regions[-1][0] <= j + 2:
                regions.pop()
            if len(regions) < RESCAN_DEPTH + 1:
                regions.append([j + 2, depth])
            j = buf.find(SYNC[0], j + 1, n)
        text.extend(buf[:n])
        self._consume(n)

    # ------------------------------------------------------------------------------------ decoding

    def feed(self, data: bytes) -> list[Event]:
        """Consume `data`; return the frames, text and bad candidates it completed, in order."""
        buf = self._buf
        buf += data
        events: list[Event] = []
        text = bytearray()

        def flush_text() -> None:
            if text:
                self.stats.text_bytes += len(text)
                events.append(Text(bytes(text)))
                text.clear()

        while True:
            start = buf.find(SYNC)
            self._text(start if start >= 0 else len(buf) - (1 if buf.endswith(SYNC[:1]) else 0), text)
            if start < 0 or len(buf) < HEADER_SIZE:  # (a lone 0xA5 at the end may be half a sync)
                break
            depth = self._candidate_depth()
            msg_type, seq, length = struct.unpack_from("<BHH", buf, 2)
            if crc32(bytes(buf[2:7])) & 0xFF != buf[7]:
                self.stats.bad_header += 1
                self._fail(HEADER_SIZE, depth, text)
                continue
            if length > MAX_PAYLOAD:
                self.stats.too_large += 1
                flush_text()
                events.append(BadFrame("too_large", msg_type, seq, length))
                self._fail(HEADER_SIZE, depth, text)
                continue
            need = HEADER_SIZE + length + CRC_SIZE
            if len(buf) < need:
                break
            (crc,) = struct.unpack_from("<I", buf, need - CRC_SIZE)
            if crc32(bytes(buf[2:need - CRC_SIZE])) != crc:
                self.stats.bad_crc += 1
                flush_text()
                events.append(BadFrame("bad_crc", msg_type, seq, length))
                if depth >= RESCAN_DEPTH:  # as deep as rescans go: skipped whole, nothing scanned again
                    text.extend(buf[:need])
                    self._consume(need)
                else:
                    self._fail(need, depth, text)
                continue
            flush_text()
            self.stats.frames += 1
            events.append(Frame(msg_type, seq, bytes(buf[HEADER_SIZE:HEADER_SIZE + length])))
            self._consume(need)
        flush_text()
        return events

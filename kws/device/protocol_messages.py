"""The serial protocol's messages: one frozen dataclass per message type, each with payload() and from_payload().

    from kws.device.protocol_messages import Hello, Audio, Info
    payload = Audio.from_samples(pcm).payload()          # the bytes a frame of type AUDIO carries
    info = Info.from_payload(frame.payload)              # ProtocolError when the layout does not decode

The payload layouts are those of firmware/core/kws_protocol.h (little-endian, u8-length-prefixed UTF-8
strings, float32 scales). Framing (sync, header, CRC) is kws.device.framing's job and the type -> class
table with encode/decode of whole frames is kws.device.protocol's, which re-exports every name here.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass, field
from typing import ClassVar

from kws.config import RecognizerSettings
from kws.device.framing import MAX_PAYLOAD, ProtocolError
from kws.device.protocol_spec import FLAG_DEFAULT, MAX_LABELS, VERSION, AckStatus, ErrorCode, LogLevel, MsgType


class _Reader:
    def __init__(self, payload: bytes, what: str) -> None:
        self.data = payload
        self.pos = 0
        self.what = what

    def take(self, n: int) -> bytes:
        if n > len(self.data) - self.pos:
            raise ProtocolError(f"{self.what} payload is too short ({len(self.data)} bytes)")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def string(self) -> str:
        (n,) = self.unpack("B")
        return self.take(n).decode("utf-8", "replace")

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.pos)

    def done(self) -> None:
        if self.pos != len(self.data):
            raise ProtocolError(f"{self.what} payload has {len(self.data) - self.pos} trailing bytes")


def _f32(value: float) -> float:
    """The float32 the wire carries for `value` (so a message equals itself after a round trip)."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def _str(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 255:
        raise ProtocolError(f"string of {len(raw)} bytes is longer than the protocol's 255: {text[:40]!r}...")
    return bytes([len(raw)]) + raw


class Message:
    """Base of every message: TYPE, payload() and from_payload()."""

    TYPE: ClassVar[MsgType]

    def payload(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def from_payload(cls, payload: bytes) -> "Message":
        raise NotImplementedError


@dataclass(frozen=True)
class Hello(Message):
    """Host -> board: the handshake; the board answers INFO and enters binary mode."""

    TYPE: ClassVar[MsgType] = MsgType.HELLO
    version: int = VERSION

    def payload(self) -> bytes:
        return struct.pack("<H", self.version)

    @classmethod
    def from_payload(cls, payload: bytes) -> "Hello":
        r = _Reader(payload, "HELLO")
        (version,) = r.unpack("H")
        r.done()
        return cls(version)


@dataclass(frozen=True)
class Reset(Message):
    """Host -> board: clear the pipeline; optionally start the stream clock at stream_time_us."""

    TYPE: ClassVar[MsgType] = MsgType.RESET
    stream_time_us: int | None = None

    def payload(self) -> bytes:
        return b"" if self.stream_time_us is None else struct.pack("<I", self.stream_time_us & 0xFFFFFFFF)

    @classmethod
    def from_payload(cls, payload: bytes) -> "Reset":
        if len(payload) == 0:
            return cls(None)
        if len(payload) == 4:
            return cls(struct.unpack("<I", payload)[0])
        raise ProtocolError(f"RESET payload must be 0 or 4 bytes, got {len(payload)}")


@dataclass(frozen=True)
class Params(RecognizerSettings):
    """The 13-byte PARAMS block: the recognizer settings (kws.config.RecognizerSettings, in their order),
    inference cadence and report flags."""

    infer_every: int = 1
    flags: int = int(FLAG_DEFAULT)

    _FORMAT: ClassVar[str] = "IIHBBB"

    def pack(self) -> bytes:
        try:
            return struct.pack("<" + self._FORMAT, self.average_window_ms, self.suppression_ms, self.minimum_count,
                               self.detection_threshold, self.infer_every, int(self.flags))
        except struct.error as exc:
            raise ProtocolError(f"PARAMS field out of range: {exc}") from None

    @classmethod
    def unpack_from(cls, r: _Reader) -> "Params":
        return cls(*r.unpack(cls._FORMAT))


@dataclass(frozen=True)
class SetParams(Message):
    """Host -> board: new recognizer parameters (resets the recognizer's history)."""

    TYPE: ClassVar[MsgType] = MsgType.SET_PARAMS
    params: Params = field(default_factory=Params)

    def payload(self) -> bytes:
        return self.params.pack()

    @classmethod
    def from_payload(cls, payload: bytes) -> "SetParams":
        r = _Reader(payload, "SET_PARAMS")
        params = Params.unpack_from(r)
        r.done()
        return cls(params)


@dataclass(frozen=True)
class Audio(Message):
    """Host -> board: int16 PCM, little-endian bytes (use from_samples / samples for arrays)."""

    TYPE: ClassVar[MsgType] = MsgType.AUDIO
    pcm: bytes = b""

    @classmethod
    def from_samples(cls, samples) -> "Audio":
        import numpy as np

        array = np.asarray(samples)
        if array.dtype != np.int16:
            raise ProtocolError(f"AUDIO carries int16 samples, got dtype {array.dtype}")
        return cls(array.astype("<i2").tobytes())

    @property
    def samples(self):
        """The samples as a numpy int16 array."""
        import numpy as np

        return np.frombuffer(self.pcm, dtype="<i2").astype(np.int16)

    def payload(self) -> bytes:
        if len(self.pcm) % 2:
            raise ProtocolError("AUDIO payload must hold whole int16 samples (an even byte count)")
        return self.pcm

    @classmethod
    def from_payload(cls, payload: bytes) -> "Audio":
        if len(payload) % 2:
            raise ProtocolError(f"AUDIO payload of {len(payload)} bytes is not whole int16 samples")
        return cls(bytes(payload))


def audio_chunks(samples, samples_per_frame: int = MAX_PAYLOAD // 2) -> list[Audio]:
    """int16 audio cut into AUDIO messages of at most samples_per_frame samples (default: the most
    one frame carries, 1,024 = 64 ms at 16 kHz)."""
    import numpy as np

    if not 1 <= samples_per_frame <= MAX_PAYLOAD // 2:
        raise ProtocolError(f"samples_per_frame must be in 1..{MAX_PAYLOAD // 2}, got {samples_per_frame}")
    array = np.asarray(samples)
    return [Audio.from_samples(array[i:i + samples_per_frame]) for i in range(0, array.size, samples_per_frame)]


@dataclass(frozen=True)
class Features(Message):
    """Host -> board: whole int8 feature frames (raw bytes, frames x features, oldest first)."""

    TYPE: ClassVar[MsgType] = MsgType.FEATURES
    values: bytes = b""

    @classmethod
    def from_array(cls, frames) -> "Features":
        import numpy as np

        array = np.asarray(frames)
        if array.dtype != np.int8:
            raise ProtocolError(f"FEATURES carries int8 values, got dtype {array.dtype}")
        return cls(array.tobytes())

    def payload(self) -> bytes:
        return self.values

    @classmethod
    def from_payload(cls, payload: bytes) -> "Features":
        return cls(bytes(payload))


@dataclass(frozen=True)
class Bye(Message):
    """Host -> board: back to text mode."""

    TYPE: ClassVar[MsgType] = MsgType.BYE

    def payload(self) -> bytes:
        return b""

    @classmethod
    def from_payload(cls, payload: bytes) -> "Bye":
        if payload:
            raise ProtocolError(f"BYE payload must be empty, got {len(payload)} bytes")
        return cls()


@dataclass(frozen=True)
class Info(Message):
    """Board -> host: who the firmware is (the answer to HELLO)."""

    TYPE: ClassVar[MsgType] = MsgType.INFO
    protocol_version: int = VERSION
    max_payload: int = MAX_PAYLOAD
    arena_bytes: int = 0
    sample_rate: int = 16000
    stride_samples: int = 320
    num_frames: int = 49
    num_features: int = 40
    input_scale: float = 0.1
    input_zero_point: int = 10
    output_scale: float = 1.0 / 256.0
    output_zero_point: int = -128
    params: Params = field(default_factory=Params)
    firmware_version: str = ""
    board: str = ""
    backend: str = ""
    model_sha256: str = ""
    frontend_hash: str = ""
    feature_type: str = "logmel"
    labels: tuple[str, ...] = ()

    _FIXED: ClassVar[str] = "BHIIHHHfbfb"

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_scale", _f32(self.input_scale))
        object.__setattr__(self, "output_scale", _f32(self.output_scale))
        object.__setattr__(self, "labels", tuple(self.labels))

    def payload(self) -> bytes:
        if len(self.labels) > MAX_LABELS:
            raise ProtocolError(f"INFO carries at most {MAX_LABELS} labels, got {len(self.labels)}")
        try:
            fixed = struct.pack("<" + self._FIXED, self.protocol_version, self.max_payload, self.arena_bytes,
                                self.sample_rate, self.stride_samples, self.num_frames, self.num_features,
                                self.input_scale, self.input_zero_point, self.output_scale, self.output_zero_point)
        except struct.error as exc:
            raise ProtocolError(f"INFO field out of range: {exc}") from None
        strings = b"".join(_str(s) for s in (self.firmware_version, self.board, self.backend, self.model_sha256,
                                             self.frontend_hash, self.feature_type))
        return (fixed + self.params.pack() + strings + bytes([len(self.labels)])
                + b"".join(_str(label) for label in self.labels))

    @classmethod
    def from_payload(cls, payload: bytes) -> "Info":
        r = _Reader(payload, "INFO")
        fixed = r.unpack(cls._FIXED)
        params = Params.unpack_from(r)
        strings = [r.string() for _ in range(6)]
        (count,) = r.unpack("B")
        if count > MAX_LABELS:
            raise ProtocolError(f"INFO announces {count} labels, more than {MAX_LABELS}")
        labels = tuple(r.string() for _ in range(count))
        r.done()
        return cls(*fixed, params, *strings, labels)

    @property
    def score_scale(self) -> tuple[float, int]:
        """(scale, zero point) of the model's output."""
        return self.output_scale, self.output_zero_point


@dataclass(frozen=True)
class _FixedMessage(Message):
    """A message whose payload is its fields, in declaration order, packed little-endian with FORMAT."""

    FORMAT: ClassVar[str] = ""

    def payload(self) -> bytes:
        return struct.pack("<" + self.FORMAT, *(getattr(self, f.name) for f in dataclasses.fields(self)))

    @classmethod
    def from_payload(cls, payload: bytes):  # type: ignore[override]
        r = _Reader(payload, cls.TYPE.name)
        fields = r.unpack(cls.FORMAT)
        r.done()
        return cls(*fields)


@dataclass(frozen=True)
class Ack(_FixedMessage):
    """Board -> host: the frame (seq, type) was accepted; count = samples/frames since RESET."""

    FORMAT: ClassVar[str] = "HBBI"
    TYPE: ClassVar[MsgType] = MsgType.ACK
    acked_seq: int = 0
    acked_type: int = 0
    status: int = AckStatus.OK
    count: int = 0



@dataclass(frozen=True)
class Nak(_FixedMessage):
    """Board -> host: the frame (seq, type) was refused with an ErrorCode."""

    FORMAT: ClassVar[str] = "HBB"
    TYPE: ClassVar[MsgType] = MsgType.NAK
    acked_seq: int = 0
    acked_type: int = 0
    code: int = ErrorCode.NONE



@dataclass(frozen=True)
class Scores(Message):
    """Board -> host: one inference's raw int8 scores and their quantization."""

    TYPE: ClassVar[MsgType] = MsgType.SCORES
    inference: int = 0
    time_us: int = 0
    scale: float = 1.0 / 256.0
    zero_point: int = -128
    scores: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", _f32(self.scale))
        object.__setattr__(self, "scores", tuple(int(s) for s in self.scores))

    def payload(self) -> bytes:
        try:
            return (struct.pack("<IIfbB", self.inference, self.time_us, self.scale, self.zero_point,
                                len(self.scores)) + struct.pack(f"<{len(self.scores)}b", *self.scores))
        except struct.error as exc:
            raise ProtocolError(f"SCORES field out of range: {exc}") from None

    @classmethod
    def from_payload(cls, payload: bytes) -> "Scores":
        r = _Reader(payload, "SCORES")
        inference, time_us, scale, zero_point, n = r.unpack("IIfbB")
        scores = r.unpack(f"{n}b")
        r.done()
        return cls(inference, time_us, scale, zero_point, tuple(scores))

    def dequantized(self) -> list[float]:
        """Scores as floats: (q - zero_point) * scale."""
        return [(q - self.zero_point) * self.scale for q in self.scores]


@dataclass(frozen=True)
class Timing(_FixedMessage):
    """Board -> host: device-timed latency of one inference (frontend and model separately)."""

    FORMAT: ClassVar[str] = "IIIH"
    TYPE: ClassVar[MsgType] = MsgType.TIMING
    inference: int = 0
    frontend_us: int = 0
    invoke_us: int = 0
    frames: int = 0



@dataclass(frozen=True)
class Detection(Message):
    """Board -> host: the recognizer reported a keyword."""

    TYPE: ClassVar[MsgType] = MsgType.DETECTION
    inference: int = 0
    time_us: int = 0
    label: int = 0
    score: int = 0
    name: str = ""

    def payload(self) -> bytes:
        return struct.pack("<IIBB", self.inference, self.time_us, self.label, self.score) + _str(self.name)

    @classmethod
    def from_payload(cls, payload: bytes) -> "Detection":
        r = _Reader(payload, "DETECTION")
        fields = r.unpack("IIBB")
        name = r.string()
        r.done()
        return cls(*fields, name)


@dataclass(frozen=True)
class Log(Message):
    """Board -> host: a log line."""

    TYPE: ClassVar[MsgType] = MsgType.LOG
    level: int = LogLevel.INFO
    text: str = ""

    def payload(self) -> bytes:
        return bytes([self.level]) + self.text.encode("utf-8")

    @classmethod
    def from_payload(cls, payload: bytes) -> "Log":
        r = _Reader(payload, "LOG")
        (level,) = r.unpack("B")
        return cls(level, r.rest().decode("utf-8", "replace"))


@dataclass(frozen=True)
class Error(Message):
    """Board -> host: something went wrong on the board (code, text)."""

    TYPE: ClassVar[MsgType] = MsgType.ERROR
    code: int = ErrorCode.NONE
    text: str = ""

    def payload(self) -> bytes:
        return bytes([self.code]) + self.text.encode("utf-8")

    @classmethod
    def from_payload(cls, payload: bytes) -> "Error":
        r = _Reader(payload, "ERROR")
        (code,) = r.unpack("B")
        return cls(code, r.rest().decode("utf-8", "replace"))

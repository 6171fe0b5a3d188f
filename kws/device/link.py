"""The host end of a board link: open a serial port, handshake, feed audio or features, collect what comes back.

    from kws.device.link import BoardLink
    with BoardLink.open("/dev/ttyACM0") as link:         # or the emulator's pty, or a UART adapter
        info = link.hello()                                # HELLO -> INFO (identity, labels, quantization)
        link.reset()
        result = link.feed_audio(pcm_int16)                # AUDIO chunks, each ACKed (resent on NAK/timeout)
        result.scores, result.timings, result.detections   # what those chunks caused, in order

Used by `kws monitor`, `kws flash` (the handshake after upload) and on-device evaluation. It speaks the
protocol of firmware/core/kws_protocol.h (kws.device.protocol) stop-and-wait, as the protocol requires
of data frames: one data frame, then its ACK; a NAK(BAD_CRC) or no answer within `timeout` resends the
same frame with the same seq (the board acknowledges a repeat as DUPLICATE and does not process it
twice), at most `retries` times, then LinkTimeout names what was awaited, from which port, and the last
text the board printed.

It works whatever mode the board is in: HELLO is accepted in text and binary mode (text and stale
frames before the INFO are skipped), so a board that just booted, one left in binary mode by a crashed
session, and the emulator all answer the same way. Closing the link says BYE (best effort) so a person
with a serial monitor sees text again. The line must be raw (pyserial configures it so); the port is
never opened at 1200 baud, which on Arduino boards means "reset into the bootloader".
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from kws.device import framing as F
from kws.device import protocol as P
from kws.errors import KwsError

DEFAULT_BAUDRATE = 115200
DIALOUT_HINT = ("add yourself to the group that owns it (usually dialout: `sudo usermod -a -G dialout $USER`, "
                "then log out and back in) or fix its udev rule")


class LinkError(KwsError):
    """The board link failed; the message names the port and what to do."""


class PortError(LinkError):
    """The serial port cannot be opened (missing, busy, not a serial port)."""


class PortPermissionError(PortError):
    """The serial port exists but this user may not open it (the dialout hint)."""


class LinkTimeout(LinkError):
    """The board did not answer in time; the message names what was awaited."""


class BoardRefused(LinkError):
    """The board answered NAK (or ERROR) to a request; `code` is the ErrorCode."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _serial_module() -> Any:
    import serial  # pyserial; imported lazily so `import kws.device.link` stays cheap

    return serial


def open_serial(port: str, baudrate: int = DEFAULT_BAUDRATE, *, read_timeout: float = 0.02) -> Any:
    """A pyserial port, raw 8N1, exclusive; PortError / PortPermissionError with the fix in the message."""
    serial = _serial_module()
    if baudrate == 1200:
        raise PortError(f"refusing to open {port} at 1200 baud: Arduino boards reset into their bootloader on it")
    if port.startswith("/dev/") and not os.path.exists(port):
        raise PortError(f"serial port {port} does not exist: is the board plugged in (with a data cable)? "
                        f"`arduino-cli board list` shows the ports; for the emulator use the path "
                        f"`kws emulate` printed")
    try:
        return serial.Serial(port, baudrate=baudrate, timeout=read_timeout, write_timeout=10.0, exclusive=True)
    except serial.SerialException as exc:
        code = getattr(exc, "errno", None)
        text = str(exc)
        if code == errno.EACCES or "Permission denied" in text:
            raise PortPermissionError(f"no permission to open {port}: {DIALOUT_HINT}") from None
        if code == errno.ENOENT or "No such file" in text:
            raise PortError(f"serial port {port} does not exist: is the board plugged in? "
                            f"(`arduino-cli board list` shows the ports)") from None
        if code in (errno.EBUSY, errno.EAGAIN) or "lock" in text.lower():
            raise PortError(f"serial port {port} is busy: close the other program using it (a serial monitor, "
                            f"the Arduino IDE, another kws command)") from None
        raise PortError(f"cannot open serial port {port}: {text}") from None


@dataclass
class FeedResult:
    """Everything the board sent while a feed (or any request) was in flight, in arrival order per kind."""

    scores: list[P.Scores] = field(default_factory=list)
    timings: list[P.Timing] = field(default_factory=list)
    detections: list[P.Detection] = field(default_factory=list)
    logs: list[P.Log] = field(default_factory=list)
    errors: list[P.Error] = field(default_factory=list)
    acks: list[P.Ack] = field(default_factory=list)
    count: int = 0
    """The last ACK's count: samples (AUDIO) or frames (FEATURES) accepted since RESET."""
    resends: int = 0

    def take(self, message: P.Message) -> None:
        """File a board message under its kind (INFO, NAK and ACK are handled by the caller)."""
        for kind, bucket in ((P.Scores, self.scores), (P.Timing, self.timings), (P.Detection, self.detections),
                             (P.Log, self.logs), (P.Error, self.errors)):
            if isinstance(message, kind):
                bucket.append(message)
                return

    def merge(self, other: "FeedResult") -> None:
        for name in ("scores", "timings", "detections", "logs", "errors", "acks"):
            getattr(self, name).extend(getattr(other, name))
        self.count = other.count
        self.resends += other.resends

    def score_array(self) -> np.ndarray:
        """int8 [inferences, labels] of the raw scores."""
        if not self.scores:
            return np.zeros((0, 0), np.int8)
        return np.array([s.scores for s in self.scores], dtype=np.int8)


@dataclass
class LinkStats:
    """Counters of one link (since open)."""

    frames_sent: int = 0
    resends: int = 0
    naks: int = 0
    timeouts: int = 0
    board_frames: int = 0
    lost_board_frames: int = 0
    """Gaps in the board's own seq: board frames that never arrived whole."""
    bad_frames: int = 0
    text_bytes: int = 0


class BoardLink:
    """A conversation with one board over one serial line (see the module docstring)."""

    def __init__(self, port: Any, *, name: str | None = None, timeout: float = 2.0, retries: int = 3,
                 chunk_samples: int = F.MAX_PAYLOAD // 2,
                 tamper: Callable[[bytes, int], bytes] | None = None) -> None:
        """`port` is an open pyserial-like object (read/write/in_waiting/reset_input_buffer/close).
        `tamper(frame, attempt)` may rewrite an outgoing frame (tests: drop or corrupt the first attempt)."""
        if retries < 0 or timeout <= 0:
            raise ValueError("retries must be >= 0 and timeout > 0")
        self._port = port
        self.name = name or str(getattr(port, "port", None) or "the board")
        self.timeout = timeout
        self.retries = retries
        self.chunk_samples = chunk_samples
        self._tamper = tamper
        self._decoder = F.FrameDecoder()
        self._seq = P.SequenceCounter()
        self._inbox: list[P.Message] = []
        self._text = bytearray()
        self._last_board_seq: int | None = None
        self.stats = LinkStats()
        self.info: P.Info | None = None
        self._binary = False

    # ------------------------------------------------------------------------------------ open / close

    @classmethod
    def open(cls, port: str, *, baudrate: int = DEFAULT_BAUDRATE, **kwargs: Any) -> "BoardLink":
        """Open `port` (a device path, the emulator's pty, or a pyserial URL) and wrap it."""
        return cls(open_serial(port, baudrate), name=port, **kwargs)

    def close(self) -> None:
        """Say BYE if the board is in binary mode (so it prints text again), then close the port."""
        try:
            if self._binary:
                self.bye(timeout=min(self.timeout, 0.5), retries=0)
        except (LinkError, OSError):
            pass  # closing must not fail because the board went away
        finally:
            self._port.close()

    def __enter__(self) -> "BoardLink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ receiving

    @property
    def text(self) -> str:
        """Text the board printed outside frames (text-mode lines, logs of TFLM, garbage), as received."""
        return self._text.decode("utf-8", "replace")

    def _last_text(self, limit: int = 120) -> str:
        lines = [line.strip() for line in self.text.splitlines() if line.strip()]
        return lines[-1][:limit] if lines else ""

    def _pump(self) -> bool:
        """Read what the port has (the port's read timeout, 20 ms, is the wait); decode into the inbox."""
        try:
            waiting = getattr(self._port, "in_waiting", 0) or 0
            data = self._port.read(max(1, min(waiting, 65536)))
        except OSError as exc:  # pyserial's SerialException is an OSError
            raise PortError(f"{self.name} went away while reading ({exc}): the board reset or was unplugged") \
                from None
        if not data:
            return False
        for event in self._decoder.feed(bytes(data)):
            self._event(event)
        return True

    def _event(self, event: F.Event) -> None:
        if isinstance(event, F.Text):
            self._text += event.data
            self.stats.text_bytes += len(event.data)
            del self._text[:-65536]  # keep the recent past for error messages and monitors
        elif isinstance(event, F.BadFrame):
            self.stats.bad_frames += 1
        else:
            self.stats.board_frames += 1
            if self._last_board_seq is not None:
                gap = (event.seq - self._last_board_seq - 1) & 0xFFFF
                if gap < 0x8000:  # a board reboot restarts at 0; do not count that as 65,000 losses
                    self.stats.lost_board_frames += gap
            self._last_board_seq = event.seq
            try:
                self._inbox.append(P.decode_message(event))
            except F.ProtocolError:
                self.stats.bad_frames += 1

    def _next(self, deadline: float) -> P.Message | None:
        """The next board message, or None at the deadline."""
        while not self._inbox:
            if time.monotonic() >= deadline:
                return None
            self._pump()
        return self._inbox.pop(0)

    def read_text(self, timeout: float) -> str:
        """Read for `timeout` s and return the text that arrived meanwhile (frames go to the inbox)."""
        before = self.stats.text_bytes
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._pump()
        new = self.stats.text_bytes - before
        return bytes(self._text[-new:]).decode("utf-8", "replace") if new else ""

    def messages(self, timeout: float) -> Iterator[P.Message]:
        """Board messages as they arrive, until `timeout` s pass without one (None never yielded)."""
        while True:
            message = self._next(time.monotonic() + timeout)
            if message is None:
                return
            yield message

    def poll(self, timeout: float) -> list[P.Message | F.Text]:
        """Whatever arrived within `timeout` s (returns early once something did): messages, and text as
        F.Text, in arrival order per kind (for monitors)."""
        deadline = time.monotonic() + timeout
        before = self.stats.text_bytes
        while time.monotonic() < deadline and not self._inbox and self.stats.text_bytes == before:
            self._pump()
        out: list[P.Message | F.Text] = []
        new = self.stats.text_bytes - before
        if new:
            out.append(F.Text(bytes(self._text[-new:])))
        out.extend(self._inbox)
        self._inbox.clear()
        return out

    # ------------------------------------------------------------------------------------ sending

    def send_raw(self, data: bytes) -> None:
        """Bytes onto the line as they are (text commands for text mode, tests)."""
        try:
            self._port.write(data)
            flush = getattr(self._port, "flush", None)
            if flush is not None:
                flush()
        except OSError as exc:  # pyserial's SerialException / SerialTimeoutException are OSErrors
            raise PortError(f"{self.name}: writing failed ({exc}): the board reset, was unplugged, or stopped "
                            f"reading") from None

    def _send(self, message: P.Message, seq: int, attempt: int) -> None:
        frame = P.encode_message(message, seq)
        if self._tamper is not None:
            frame = self._tamper(frame, attempt)
        self.stats.frames_sent += 1
        if frame:
            self.send_raw(frame)

    def _what(self, message: P.Message, seq: int) -> str:
        return f"{P.MsgType(message.TYPE).name} seq {seq}"

    def _timeout_error(self, waited_for: str, attempts: int, timeout: float) -> LinkTimeout:
        last = self._last_text()
        seen = f"; the last text it printed: {last!r}" if last else "; it printed nothing"
        return LinkTimeout(f"{self.name}: no {waited_for} after {attempts} attempt{'s' * (attempts > 1)} of "
                           f"{timeout:g} s{seen}. Is the kws firmware running on it and is this its port?")

    def request(self, message: P.Message, *, timeout: float | None = None,
                retries: int | None = None) -> tuple[P.Ack, FeedResult]:
        """Send one host -> board message and wait for its ACK, resending on NAK(BAD_CRC) or timeout.

        Returns the ACK and everything else the board sent meanwhile. BoardRefused for any other NAK
        (BAD_STATE means the board is in text mode: it rebooted, say hello() again)."""
        timeout = self.timeout if timeout is None else timeout
        retries = self.retries if retries is None else retries
        seq = self._seq()
        result = FeedResult()
        what = self._what(message, seq)
        for attempt in range(retries + 1):
            if attempt:
                result.resends += 1
                self.stats.resends += 1
            self._send(message, seq, attempt)
            deadline = time.monotonic() + timeout
            while True:
                reply = self._next(deadline)
                if reply is None:
                    self.stats.timeouts += 1
                    break  # resend
                if isinstance(reply, P.Ack) and reply.acked_seq == seq and reply.acked_type == message.TYPE:
                    result.acks.append(reply)
                    result.count = reply.count
                    return reply, result
                if isinstance(reply, P.Nak) and reply.acked_seq == seq and reply.acked_type == message.TYPE:
                    self.stats.naks += 1
                    if reply.code == P.ErrorCode.BAD_CRC:
                        break  # corrupted on the way: resend
                    raise self._refused(what, reply.code)
                if isinstance(reply, (P.Ack, P.Nak, P.Info)):
                    continue  # a late answer to an earlier attempt or request
                result.take(reply)
        raise self._timeout_error(f"ACK for {what}", retries + 1, timeout)

    def _refused(self, what: str, code: int) -> BoardRefused:
        try:
            name = P.ErrorCode(code).name
        except ValueError:
            name = str(code)
        hint = {
            P.ErrorCode.BAD_STATE: ("the board is not in binary mode (it rebooted, or a monitor said BYE): call "
                                    "hello() again; or LIVE_AUDIO is set and AUDIO is refused: set_params()"),
            P.ErrorCode.BAD_PARAM: "a parameter is out of range (kws_recognizer.h lists the limits)",
            P.ErrorCode.BAD_PAYLOAD: "the payload does not fit the message's layout",
            P.ErrorCode.TOO_LARGE: f"payloads are limited to {F.MAX_PAYLOAD} bytes",
            P.ErrorCode.VERSION: f"the firmware does not speak protocol version {P.VERSION}: flash a matching one",
        }.get(code, "see firmware/core/kws_protocol.h")
        return BoardRefused(f"{self.name}: the board refused {what} with NAK {name}: {hint}", code)

    # ------------------------------------------------------------------------------------ the protocol

    def hello(self, *, timeout: float | None = None) -> P.Info:
        """Handshake: HELLO until INFO (text, stale frames and old answers are skipped). Sets self.info."""
        timeout = self.timeout if timeout is None else timeout
        reset_input = getattr(self._port, "reset_input_buffer", None)
        if reset_input is not None:
            reset_input()  # stale output of an earlier session (or of nobody listening) is not an answer
        self._decoder.reset()
        self._inbox.clear()
        seq = self._seq()
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.resends += 1
            self._send(P.Hello(), seq, attempt)
            deadline = time.monotonic() + timeout
            while True:
                reply = self._next(deadline)
                if reply is None:
                    self.stats.timeouts += 1
                    break
                if isinstance(reply, P.Info):
                    if reply.protocol_version != P.VERSION:
                        raise BoardRefused(f"{self.name}: the board speaks protocol {reply.protocol_version}, "
                                           f"this host {P.VERSION}: flash matching firmware", P.ErrorCode.VERSION)
                    self.info = reply
                    self._binary = True
                    return reply
                if isinstance(reply, P.Nak) and reply.acked_type == P.MsgType.HELLO:
                    if reply.code == P.ErrorCode.BAD_CRC:
                        break
                    raise self._refused(f"HELLO seq {seq}", reply.code)
        raise self._timeout_error("INFO in answer to HELLO", self.retries + 1, timeout)

    def reset(self, stream_time_us: int | None = None) -> FeedResult:
        """RESET: clear frontend, ring, recognizer and counters; start the stream clock at stream_time_us."""
        return self.request(P.Reset(stream_time_us))[1]

    def set_params(self, params: P.Params) -> FeedResult:
        """SET_PARAMS (recognizer, cadence, report flags); keeps self.info's params in step."""
        _, result = self.request(P.SetParams(params))
        if self.info is not None:
            from dataclasses import replace

            self.info = replace(self.info, params=params)
        return result

    def bye(self, *, timeout: float | None = None, retries: int | None = None) -> None:
        """BYE: back to text mode."""
        try:
            self.request(P.Bye(), timeout=timeout, retries=retries)
        finally:
            self._binary = False

    def feed_audio(self, samples: np.ndarray, chunk_samples: int | None = None) -> FeedResult:
        """int16 PCM as AUDIO frames of chunk_samples (default: the link's, at most 1,024), each ACKed."""
        pcm = np.asarray(samples)
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError(f"feed_audio takes 1-D int16 samples, got {pcm.dtype} {pcm.shape}")
        chunk = chunk_samples or self.chunk_samples
        result = FeedResult()
        for message in P.audio_chunks(pcm, chunk):
            result.merge(self.request(message)[1])
        return result

    def feed_features(self, frames: np.ndarray, frames_per_chunk: int | None = None) -> FeedResult:
        """int8 feature frames [n, features] as FEATURES frames (default: as many as fit 2 KB), each ACKed."""
        q = np.asarray(frames)
        if q.dtype != np.int8 or q.ndim != 2:
            raise ValueError(f"feed_features takes int8 [frames, features], got {q.dtype} {q.shape}")
        per = frames_per_chunk or max(1, F.MAX_PAYLOAD // q.shape[1])
        result = FeedResult()
        for start in range(0, q.shape[0], per):
            result.merge(self.request(P.Features.from_array(np.ascontiguousarray(q[start:start + per])))[1])
        return result

    def run_clip(self, samples: np.ndarray, *, start_us: int | None = None) -> FeedResult:
        """RESET then the whole clip as AUDIO: for a one-second clip, exactly one inference (kws_app.h)."""
        result = self.reset(start_us)
        result.merge(self.feed_audio(samples))
        return result


def port_exists(port: str) -> bool:
    """True for an existing device path (or anything that is not a path, e.g. a pyserial URL)."""
    return not port.startswith("/") or Path(port).exists()


__all__ = ["BoardLink", "BoardRefused", "DIALOUT_HINT", "FeedResult", "LinkError", "LinkStats", "LinkTimeout",
           "PortError", "PortPermissionError", "open_serial", "port_exists"]


"""`kws monitor`: live detections from a board (or the emulator), each with the host's and the device's time.

    kws monitor --port /dev/ttyACM0              # text mode: the board's own DETECT lines, time-stamped
    kws monitor --port /dev/pts/7 --binary       # binary mode: HELLO, listen to the microphone, DETECTION frames
    kws monitor --port P --count 3 --duration 60 # stop after 3 detections (exit 1 if 60 s pass first)
    make monitor PORT=/dev/ttyACM0

Text mode is what any serial monitor shows, parsed: first a BYE frame (a board left in binary mode by a
crashed session goes back to text; one already in text mode answers NAK(BAD_STATE), which is ignored)
and the typed command `info`, so the board's identity is printed; then every line, with DETECT lines
reformatted. Binary mode says HELLO, sets LIVE_AUDIO (the board listens to its microphone instead of
AUDIO frames; --scores also streams every inference's scores) and prints DETECTION frames; on exit it
restores the board's parameters and says BYE. Output lines look like

    12:04:31.207  DETECT yes        score=231  device_t=12.340s

where the first time is when the host received it and device_t is the board's stream time (audio time
since boot or the last reset).
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import replace
from typing import Callable, TextIO

from kws.device import framing as F
from kws.device import protocol as P
from kws.device.link import DEFAULT_BAUDRATE, BoardLink
from kws.device.session import BoardSession

_DETECT = re.compile(r"^DETECT\s+(\S+)\s+score=(\d+)\s+t_ms=(\d+)\s*$")


def host_time(now: float | None = None) -> str:
    """HH:MM:SS.mmm local time."""
    now = time.time() if now is None else now
    return time.strftime("%H:%M:%S", time.localtime(now)) + f".{int((now % 1) * 1000):03d}"


def format_detection(label: str, score: int, device_s: float, now: float | None = None) -> str:
    return f"{host_time(now)}  DETECT {label:<10} score={score:3d}  device_t={device_s:.3f}s"


class Monitor:
    """Reads one port and prints; stop after `count` detections or `duration` seconds (either optional)."""

    def __init__(self, link: BoardLink, *, out: TextIO = sys.stdout, count: int | None = None,
                 duration: float | None = None, scores: bool = False) -> None:
        self.link = link
        self.out = out
        self.count = count
        self.duration = duration
        self.scores = scores
        self.detections = 0
        self._partial = b""

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _done(self, deadline: float | None) -> bool:
        if self.count is not None and self.detections >= self.count:
            return True
        return deadline is not None and time.monotonic() >= deadline

    def _lines(self, data: bytes) -> list[str]:
        text = self._partial + data
        *lines, self._partial = re.split(rb"\r?\n", text)
        return [line.decode("utf-8", "replace").strip() for line in lines if line.strip()]

    def run_text(self) -> int:
        """Text mode (module docstring); returns 0, or 1 when --count was not reached in --duration."""
        deadline = time.monotonic() + self.duration if self.duration is not None else None
        reset_input = getattr(self.link._port, "reset_input_buffer", None)
        if reset_input is not None:
            reset_input()  # lines printed before we listened (the emulator's pty keeps them) are not live
        self.link.send_raw(P.encode_message(P.Bye(), 0xFFFF))
        self.link.send_raw(b"\r\ninfo\r\n")
        while not self._done(deadline):
            for item in self.link.poll(0.1):
                if not isinstance(item, F.Text):
                    continue  # the answer to our BYE, or stray frames
                for line in self._lines(item.data):
                    match = _DETECT.match(line)
                    if match:
                        self.detections += 1
                        self._print(format_detection(match.group(1), int(match.group(2)),
                                                     int(match.group(3)) / 1000.0))
                    else:
                        self._print(f"{host_time()}  {line}")
                    if self._done(deadline):
                        break
        return 0 if self.count is None or self.detections >= self.count else 1

    def run_binary(self) -> int:
        """Binary mode (module docstring); returns 0, or 1 when --count was not reached in --duration."""
        deadline = time.monotonic() + self.duration if self.duration is not None else None
        info = self.link.hello()
        self._print(f"{host_time()}  board {info.board} firmware {info.firmware_version} backend {info.backend} "
                    f"model {info.model_sha256[:16]} labels {','.join(info.labels)}")
        original = info.params
        flags = int(P.Flag.LIVE_AUDIO) | (int(P.Flag.SCORES) if self.scores else 0)
        self.link.set_params(replace(original, flags=flags))
        try:
            while not self._done(deadline):
                for item in self.link.poll(0.1):
                    if isinstance(item, P.Detection):
                        self.detections += 1
                        self._print(format_detection(item.name, item.score, item.time_us / 1e6)
                                    + f"  inference={item.inference}")
                    elif isinstance(item, P.Scores) and self.scores:
                        self._print(f"{host_time()}  SCORES {' '.join(f'{q + 128:3d}' for q in item.scores)}  "
                                    f"device_t={item.time_us / 1e6:.3f}s")
                    elif isinstance(item, P.Log):
                        self._print(f"{host_time()}  LOG {item.text}")
                    elif isinstance(item, P.Error):
                        self._print(f"{host_time()}  ERROR {item.code} {item.text}")
                    elif isinstance(item, F.Text):
                        for line in self._lines(item.data):
                            self._print(f"{host_time()}  {line}")
                    if self._done(deadline):
                        break
        finally:
            self.link.set_params(original)  # AUDIO must work for the next session (LIVE_AUDIO refuses it)
        return 0 if self.count is None or self.detections >= self.count else 1


def run_monitor(port: str, *, binary: bool = False, count: int | None = None, duration: float | None = None,
                scores: bool = False, baudrate: int = DEFAULT_BAUDRATE, out: TextIO = sys.stdout,
                say: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)) -> int:
    """`kws monitor`; Ctrl-C ends it cleanly (exit 0). The session does no handshake of its own: text mode
    must not start a binary session, and binary mode's HELLO is the monitor's."""
    with BoardSession(None, port=port, baudrate=baudrate, handshake=False) as session:
        assert session.link is not None
        monitor = Monitor(session.link, out=out, count=count, duration=duration, scores=scores)
        say(f"monitoring {port} ({'binary' if binary else 'text'} mode); Ctrl-C to stop")
        try:
            status = monitor.run_binary() if binary else monitor.run_text()
        except KeyboardInterrupt:
            return 0
        if status:
            say(f"{monitor.detections} detection(s) in {duration:g} s, fewer than the {count} asked for")
        return status


__all__ = ["Monitor", "format_detection", "host_time", "run_monitor"]

"""A fault-injecting serial relay: a pty for the host on one side, a board's port on the other, faults between.

    from kws.device.faultproxy import FaultProxy, Faults
    with RestartableEmulator("runs/demo") as board, \\             # tests/board_harness.py
         FaultProxy(board.port, Faults(drop=0.01, corrupt=0.01, duplicate=0.01), seed=1,
                    restart=board.restart, reset_after_bytes=200_000) as proxy:
        evaluate_clips(run_dir, EvalOptions(port=proxy.port))     # the host talks to proxy.port as to a board
        proxy.stats()                                              # what was dropped, flipped, duplicated, reset

    python -m kws.device.faultproxy --board-port /dev/pts/7 --drop 0.01 --corrupt 0.01 --duplicate 0.01
        # prints the port to use instead of the board's; Ctrl-C stops it

A thread relays both directions and, with seeded generators (one per direction), drops a byte, flips one
bit of a byte, or sends a byte twice. `Faults.per` says what the rates count: 'transfer' (default: each
read of the relay, on a pty usually one frame or one burst of frames, suffers at most one fault, at a
random byte) or 'byte' (every byte independently). Why 'transfer' is the default: the protocol is
stop-and-wait with frames of up to 2,060 bytes and a clip is only whole when its SCORES frame arrives
intact, so at 1 % per byte for each of the three faults a full AUDIO frame arrives intact with probability
0.97^2060 ~ 1e-27; per byte, only rates around 1e-4 leave a line that can carry audio at all.

It can also stall (stop forwarding in both directions, discarding: a board that stopped answering) and
reset the board in the middle of a run: `restart` is a callable that power-cycles the board and returns
its (possibly new) port; the tests' RestartableEmulator.restart (tests/board_harness.py) stops the
emulated board and boots a fresh one on a new pty, so the host sees exactly what a reset Nano does: its
ready line in text mode, binary frames answered NAK(BAD_STATE) until a new HELLO, the board's frame
numbering restarting at 0.
"""

from __future__ import annotations

import argparse
import os
import select
import threading
import time
import tty
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np

from kws.device.rawpty import open_raw_pty
from kws.errors import KwsError

WRITE_STALL_S = 2.0
"""A side that does not read for this long loses what was written to it (as a UART with nobody listening)."""
READ_BYTES = 4096


class FaultProxyError(KwsError):
    """The relay cannot start or its board went away; the message says which port."""


@dataclass(frozen=True)
class Faults:
    """Fault rates of one relay (both directions)."""

    drop: float = 0.0
    """Probability that a byte is lost."""
    corrupt: float = 0.0
    """Probability that a byte has one bit flipped."""
    duplicate: float = 0.0
    """Probability that a byte is sent twice."""
    per: str = "transfer"
    """What the probabilities count: 'transfer' (each relayed read, at most one fault) or 'byte'."""

    def validate(self) -> None:
        if self.per not in ("transfer", "byte"):
            raise FaultProxyError(f"Faults.per must be 'transfer' or 'byte', got {self.per!r}")
        rates = (self.drop, self.corrupt, self.duplicate)
        if any(r < 0 for r in rates) or sum(rates) > 1:
            raise FaultProxyError(f"fault rates must be >= 0 and add up to at most 1, got {rates}")


@dataclass
class DirectionStats:
    """Counters of one direction."""

    bytes_in: int = 0
    bytes_out: int = 0
    transfers: int = 0
    dropped: int = 0
    corrupted: int = 0
    duplicated: int = 0
    discarded: int = 0
    """Bytes thrown away while stalled, during a reset, or because the other side did not read."""


@dataclass
class ProxyStats:
    """Counters of the relay: host -> board ('up') and board -> host ('down')."""

    up: DirectionStats = field(default_factory=DirectionStats)
    down: DirectionStats = field(default_factory=DirectionStats)
    resets: int = 0

    def total(self, name: str) -> int:
        return getattr(self.up, name) + getattr(self.down, name)


def inject(data: bytes, faults: Faults, rng: np.random.Generator, stats: DirectionStats) -> bytes:
    """`data` with faults drawn from `rng` (counted in `stats`)."""
    if not data:
        return data
    d, c, u = faults.drop, faults.corrupt, faults.duplicate
    arr = np.frombuffer(data, dtype=np.uint8).copy()
    if faults.per == "transfer":
        draw = float(rng.random())
        position = int(rng.integers(arr.size))
        bit = int(rng.integers(8))
        if draw < d:
            stats.dropped += 1
            return bytes(np.delete(arr, position))
        if draw < d + c:
            stats.corrupted += 1
            arr[position] ^= np.uint8(1 << bit)
            return arr.tobytes()
        if draw < d + c + u:
            stats.duplicated += 1
            return bytes(np.insert(arr, position, arr[position]))
        return data
    draws = rng.random(arr.size)
    bits = rng.integers(0, 8, arr.size)
    drop = draws < d
    corrupt = (draws >= d) & (draws < d + c)
    duplicate = (draws >= d + c) & (draws < d + c + u)
    if not (drop.any() or corrupt.any() or duplicate.any()):
        return data
    arr[corrupt] ^= (np.uint8(1) << bits[corrupt].astype(np.uint8))
    repeats = np.where(drop, 0, np.where(duplicate, 2, 1))
    stats.dropped += int(drop.sum())
    stats.corrupted += int(corrupt.sum())
    stats.duplicated += int(duplicate.sum())
    return np.repeat(arr, repeats).tobytes()


def _open_raw(port: str) -> int:
    """A board's serial port (a pty slave or a tty) as a raw, non-blocking file descriptor."""
    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        raise FaultProxyError(f"cannot open the board's port {port}: {exc}") from None
    try:
        tty.setraw(fd)
    except OSError:
        pass  # not a terminal (a FIFO in a test): nothing to configure
    return fd


class FaultProxy:
    """The relay (see the module docstring). start() returns the host's port; stop() always cleans up."""

    def __init__(self, board_port: str, faults: Faults = Faults(), *, seed: int = 0,
                 restart: Callable[[], str] | None = None, reset_after_bytes: int | None = None,
                 injector: Callable[[bytes, str], bytes] | None = None) -> None:
        """`injector(data, direction)` ('up': host -> board, 'down') may rewrite each transfer after the
        random faults: a targeted fault for tests (e.g. damage the first SCORES frame)."""
        faults.validate()
        if reset_after_bytes is not None and restart is None:
            raise FaultProxyError("reset_after_bytes needs a restart callable (RestartableEmulator.restart)")
        self.board_port = board_port
        self.faults = faults
        self.seed = seed
        self._restart = restart
        self._reset_after = reset_after_bytes
        self._injector = injector
        self._rng = {"up": np.random.default_rng([seed, 0]), "down": np.random.default_rng([seed, 1])}
        self._stats = ProxyStats()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stalled = threading.Event()
        self._reset_requested = threading.Event()
        self.reset_done = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._master = self._slave = self._board = -1
        self._wake_r = self._wake_w = -1
        self.port = ""

    # ---------------------------------------------------------------------------------- life cycle

    def start(self) -> str:
        """Open the host's pty and the board's port, start relaying; the host's port."""
        if self._thread is not None:
            return self.port
        self._board = _open_raw(self.board_port)
        try:
            self._master, self._slave, self.port = open_raw_pty()
            self._wake_r, self._wake_w = os.pipe()
        except BaseException:
            self._close_fds()
            raise
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"kws-faultproxy {self.port}", daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        """Stop relaying and close every descriptor; safe to call twice."""
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._close_fds()

    def __enter__(self) -> "FaultProxy":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _close_fds(self) -> None:
        for name in ("_master", "_slave", "_board", "_wake_r", "_wake_w"):
            fd = getattr(self, name)
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, name, -1)

    def _wake(self) -> None:
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass

    # ---------------------------------------------------------------------------------- controls

    def stall(self, stalled: bool = True) -> None:
        """Stop (or resume) forwarding in both directions; what arrives meanwhile is discarded."""
        if stalled:
            self._stalled.set()
        else:
            self._stalled.clear()

    def request_reset(self) -> None:
        """Reset the board at the relay's next turn (reset_done is set when it is back)."""
        if self._restart is None:
            raise FaultProxyError("this relay has no restart callable: it cannot reset the board")
        self.reset_done.clear()
        self._reset_requested.set()
        self._wake()

    def stats(self) -> ProxyStats:
        """A copy of the counters."""
        with self._lock:
            return ProxyStats(DirectionStats(**asdict(self._stats.up)), DirectionStats(**asdict(self._stats.down)),
                              self._stats.resets)

    def check(self) -> None:
        """FaultProxyError if the relay thread died."""
        if self._failure is not None:
            raise FaultProxyError(f"the fault proxy on {self.port} stopped: {type(self._failure).__name__}: "
                                  f"{self._failure}")

    # ---------------------------------------------------------------------------------- the relay

    def _write_all(self, fd: int, data: bytes, stats: DirectionStats) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + WRITE_STALL_S
        while view and not self._stop.is_set():
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                select.select([], [fd], [], 0.05)
            except OSError:
                break  # the other side went away (a board being reset): what was in flight is lost
        stats.discarded += len(view)
        stats.bytes_out += len(data) - len(view)

    def _relay(self, source: int, target: int, direction: str) -> None:
        try:
            data = os.read(source, READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            time.sleep(0.005)  # EIO while nobody has the host's end open: nothing to read yet
            return
        if not data:
            return
        with self._lock:
            stats = getattr(self._stats, direction)
            stats.bytes_in += len(data)
            stats.transfers += 1
            if self._stalled.is_set():
                stats.discarded += len(data)
                return
            out = inject(data, self.faults, self._rng[direction], stats)
            if self._injector is not None:
                out = self._injector(out, direction)
        self._write_all(target, out, stats)

    def _do_reset(self) -> None:
        assert self._restart is not None
        port = self._restart()
        old, self._board = self._board, -1
        try:
            os.close(old)
        except OSError:
            pass
        self.board_port = port
        self._board = _open_raw(port)
        with self._lock:
            self._stats.resets += 1
        self._reset_requested.clear()
        self.reset_done.set()

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                if self._reset_after is not None and self._stats.resets == 0 \
                        and self._stats.up.bytes_in >= self._reset_after:
                    self._reset_after = None
                    self._reset_requested.set()
                if self._reset_requested.is_set():
                    self._do_reset()
                readable, _, _ = select.select([self._master, self._board, self._wake_r], [], [], 0.05)
                if self._wake_r in readable:
                    os.read(self._wake_r, 64)
                if self._master in readable:
                    self._relay(self._master, self._board, "up")
                if self._board in readable:
                    self._relay(self._board, self._master, "down")
        except BaseException as exc:  # reported by check(); the thread must not die silently
            self._failure = exc


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: relay a board's port with faults; prints the host's port, runs until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m kws.device.faultproxy", description=__doc__.split("\n")[0])
    parser.add_argument("--board-port", required=True, help="the board's serial port (e.g. kws emulate's pty)")
    parser.add_argument("--drop", type=float, default=0.0, help="probability of losing a byte")
    parser.add_argument("--corrupt", type=float, default=0.0, help="probability of flipping a bit of a byte")
    parser.add_argument("--duplicate", type=float, default=0.0, help="probability of sending a byte twice")
    parser.add_argument("--per", choices=("transfer", "byte"), default="transfer",
                        help="what the probabilities count (default: each relayed transfer, at most one fault)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    faults = Faults(args.drop, args.corrupt, args.duplicate, args.per)
    with FaultProxy(args.board_port, faults, seed=args.seed) as proxy:
        print(proxy.port, flush=True)
        try:
            while True:
                time.sleep(1.0)
                proxy.check()
        except KeyboardInterrupt:
            stats = proxy.stats()
            print(f"relayed {stats.up.bytes_in} bytes up, {stats.down.bytes_in} down; dropped "
                  f"{stats.total('dropped')}, corrupted {stats.total('corrupted')}, duplicated "
                  f"{stats.total('duplicated')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["DirectionStats", "FaultProxy", "FaultProxyError", "Faults", "ProxyStats", "inject"]

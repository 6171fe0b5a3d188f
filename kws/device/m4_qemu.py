"""Running an ELF on QEMU's Cortex-M4 board (mps2-an386): to its exit, or served with UART0 on a pty.

    from kws.device.m4_qemu import run_elf, start_pty
    result = run_elf(elf, timeout=30, stdin_bytes=b"...")   # result.output (UART0), result.exit_code
    with start_pty(elf) as board:                           # QemuPty: board.port is the pty's path
        board.read_memory(address, size)                    # the running board's memory, through QMP

Time under `-icount shift=S`: one instruction advances virtual time 2^S ns, so the board's microsecond
clock counts 1000 / 2^S instructions per us and SysTick (25 MHz) 40 / 2^S per tick. Instructions, not
a real M4's cycles. kws.device.m4 re-exports all of this.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from kws.device.m4_build import M4Error, qemu

QEMU_MACHINE = "mps2-an386"
EXIT_HARDFAULT = 240
"""Exit status of a program that took a HardFault (m4_board.h M4_EXIT_HARDFAULT)."""
EXIT_UNEXPECTED_IRQ = 241
_PTY_LINE = re.compile(rb"char device redirected to (/dev/pts/\d+)")
_QEMU_NOISE = ("has no peer",)  # mps2's built-in ethernet warns when no network is configured


class M4Timeout(M4Error):
    """A program ran past its timeout; QEMU (process `pid`) was killed and reaped. `output`: the UART bytes."""

    def __init__(self, message: str, output: bytes, pid: int) -> None:
        super().__init__(message)
        self.output = output
        self.pid = pid


# ------------------------------------------------------------------------------------------ running

@dataclass(frozen=True)
class RunResult:
    """A test program's run: what it wrote to UART0, its exit status (semihosting), QEMU's stderr."""

    output: bytes
    exit_code: int
    stderr: str
    wall_s: float

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    @property
    def faulted(self) -> bool:
        """True when the program took a HardFault (its report line is in `text`)."""
        return self.exit_code == EXIT_HARDFAULT


def qemu_command(elf: str | Path, *, serial: str, icount_shift: int | None = 0,
                 extra_args: Sequence[str] = ()) -> list[str]:
    """The qemu-system-arm command line for the board; `serial` is a -serial backend (stdio, pty, ...)."""
    command = [qemu(), "-M", QEMU_MACHINE, "-nodefaults", "-display", "none", "-monitor", "none",
               "-serial", serial, "-semihosting-config", "enable=on,target=native"]
    if icount_shift is not None:
        command += ["-icount", f"shift={int(icount_shift)}"]
    return [*command, *extra_args, "-kernel", str(elf)]


_PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal the kernel sends a process when the thread that started it ends."""


def _dies_with_its_starter() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGKILL QEMU when the thread that starts it ends, even when its process is
    SIGKILLed (no finalizer of ours runs then, and QEMU, in its own session, would run on at 100 % of a core).
    QEMU is always started, and stopped, from the thread that runs the board. None without prctl (not Linux)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    starter = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
        if os.getppid() != starter:  # the starter died before prctl took effect
            os._exit(1)

    return arm


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL QEMU's process group (it was started in its own session), then reap it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def _qemu_failure(stderr: str) -> str | None:
    lines = [line for line in stderr.splitlines()
             if line.startswith("qemu-system-arm:") and not any(n in line for n in _QEMU_NOISE)]
    return "\n".join(lines) or None


def run_elf(elf: str | Path, *, timeout: float, stdin_bytes: bytes | None = None, icount_shift: int | None = 0,
            extra_args: Sequence[str] = ()) -> RunResult:
    """Run a test program on the board until it exits (semihosting); its UART0 output and exit status.

    `stdin_bytes` are served to UART0's receiver (QEMU delivers ~20 KB/s to its 1-byte register).
    icount_shift=None runs without -icount (the clock then follows the host's). M4Timeout (with the
    output so far) when it runs past `timeout` seconds: QEMU is killed and reaped first.
    """
    command = qemu_command(elf, serial="stdio", icount_shift=icount_shift, extra_args=extra_args)
    t0 = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                               preexec_fn=_dies_with_its_starter())
    try:
        out, err = process.communicate(stdin_bytes, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        out, err = process.communicate()
        raise M4Timeout(f"{Path(elf).name} did not exit within {timeout:g} s under QEMU (killed); it wrote "
                        f"{len(out)} bytes: {out[-300:].decode('utf-8', 'replace')!r}", out, process.pid) from None
    finally:
        _kill_group(process)  # also on KeyboardInterrupt: never leave QEMU behind
    stderr = err.decode("utf-8", "replace")
    failure = _qemu_failure(stderr)
    if failure and process.returncode != 0 and not out:
        raise M4Error(f"QEMU could not run {elf}: {failure}")
    return RunResult(out, process.returncode, stderr, time.monotonic() - t0)


def _qmp(path: Path, command: dict, timeout: float) -> dict:
    """One QMP command on QEMU's monitor socket (a fresh connection: greeting, capabilities, the command);
    its "return" value. M4Error on a QMP error or no answer within `timeout`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
            stream = sock.makefile("rwb")
            answer: dict = {}
            for request in (None, {"execute": "qmp_capabilities"}, command):
                if request is not None:
                    stream.write(json.dumps(request).encode() + b"\n")
                    stream.flush()
                while True:  # skip asynchronous events; the greeting is {"QMP": ...}
                    line = stream.readline()
                    if not line:
                        raise M4Error(f"QEMU closed its monitor socket {path} during {command['execute']}")
                    answer = json.loads(line)
                    if "error" in answer:
                        raise M4Error(f"QEMU refused {command['execute']}: {answer['error'].get('desc', answer)}")
                    if "return" in answer or "QMP" in answer:
                        break
            return answer["return"]
        except (OSError, ValueError) as exc:
            raise M4Error(f"QEMU's monitor socket {path} did not answer {command['execute']}: {exc}") from None


class QemuPty:
    """QEMU running an ELF with UART0 on a pseudo-terminal (`port`); stop() (or the with block) ends it.

    QEMU's own output (and the line announcing the pty) goes to `log_path`. The UART bytes the board
    wrote are also kept in `serial_log` when given. read_memory() reads the running board's memory through
    QEMU's QMP socket (in a private temporary folder). QEMU is killed if this object is garbage-collected
    or the interpreter exits while it runs.
    """

    def __init__(self, elf: str | Path, *, icount_shift: int | None = 0, log_path: str | Path | None = None,
                 serial_log: str | Path | None = None, start_timeout: float = 30.0,
                 extra_args: Sequence[str] = ()) -> None:
        self.elf = Path(elf)
        self._tmp: tempfile.TemporaryDirectory | None = tempfile.TemporaryDirectory(prefix="kws-m4-")
        self.log_path = Path(log_path) if log_path is not None else Path(self._tmp.name) / "qemu.log"
        self.serial_log = Path(serial_log) if serial_log is not None else None
        self._qmp = Path(self._tmp.name) / "qmp.sock"
        chardev = "pty,id=uart0" + (f",logfile={self.serial_log},logappend=off" if self.serial_log else "")
        command = qemu_command(elf, serial="chardev:uart0", icount_shift=icount_shift,
                               extra_args=["-chardev", chardev, "-qmp", f"unix:{self._qmp},server=on,wait=off",
                                           *extra_args])
        self.command = command
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True, preexec_fn=_dies_with_its_starter())
        self._finalizer = weakref.finalize(self, _kill_group, self._process)
        try:
            self.port = self._wait_for_port(start_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_for_port(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            found = _PTY_LINE.search(self.log_path.read_bytes())
            if found:
                return found.group(1).decode()
            if self._process.poll() is not None:
                raise M4Error(f"QEMU exited with status {self._process.returncode} before opening the pty: "
                              f"{self.log()[-1500:]}")
            if time.monotonic() > deadline:
                raise M4Error(f"QEMU did not announce a pty within {timeout:g} s: {self.log()[-1500:]}")
            time.sleep(0.02)

    def log(self) -> str:
        """What QEMU printed (not the UART)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def pid(self) -> int:
        return self._process.pid

    def read_memory(self, address: int, size: int, timeout: float = 10.0) -> bytes:
        """`size` bytes of the running board's memory from `address` (QEMU's QMP pmemsave), the guest untouched:
        how the host reads what the firmware keeps to itself, e.g. the painted stack (M4Board.stack_use)."""
        if self._tmp is None or self._process.poll() is not None:
            raise M4Error(f"QEMU is not running: cannot read the board's memory ({self.log()[-300:]})")
        dump = Path(self._tmp.name) / "memory.bin"
        _qmp(self._qmp, {"execute": "pmemsave", "arguments": {"val": address, "size": size, "filename": str(dump)}},
             timeout)
        data = dump.read_bytes()
        dump.unlink()
        if len(data) != size:
            raise M4Error(f"QEMU saved {len(data)} of {size} bytes from {address:#x}")
        return data

    def poll(self) -> int | None:
        """QEMU's exit status (the firmware's semihosting exit, e.g. 240 after a HardFault), None while it runs."""
        return self._process.poll()

    def stop(self, timeout: float = 5.0) -> int | None:
        """End QEMU: SIGTERM (a clean exit), SIGKILL after `timeout`; reaped either way. Its exit status."""
        if self._process.poll() is None:
            try:
                os.killpg(self._process.pid, signal.SIGTERM)
                self._process.wait(timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                pass
        _kill_group(self._process)
        self._finalizer.detach()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        return self._process.returncode

    def __enter__(self) -> "QemuPty":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_pty(elf: str | Path, **kwargs: object) -> QemuPty:
    """Start QEMU on `elf` with UART0 on a new pty; QemuPty(...).port is its path (see QemuPty)."""
    return QemuPty(elf, **kwargs)  # type: ignore[arg-type]

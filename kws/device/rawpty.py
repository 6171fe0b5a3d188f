"""A raw pseudo-terminal pair: the serial port the emulated board and the fault proxy offer.

    from kws.device.rawpty import open_raw_pty
    master, slave, port = open_raw_pty()      # port: the slave's path, e.g. /dev/pts/7

Both ends are put in raw mode (no echo, no CR/LF translation: a 0x0D inside a binary frame must stay
0x0D) and the master is non-blocking, for a select() loop. The caller owns and closes both descriptors.
"""

from __future__ import annotations

import contextlib
import os
import tty


def open_raw_pty() -> tuple[int, int, str]:
    """(master fd, slave fd, slave path) of a new raw pty; nothing is left open if it fails."""
    master, slave = os.openpty()
    try:
        tty.setraw(master)
        tty.setraw(slave)
        os.set_blocking(master, False)
        return master, slave, os.ttyname(slave)
    except BaseException:
        for fd in (master, slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        raise

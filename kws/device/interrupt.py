"""Ctrl-C for the programs that serve until Ctrl-C (`kws emulate`, `python -m kws.device.m4 board`).

    from kws.device.interrupt import hear_ctrl_c
    hear_ctrl_c()      # before serving: SIGINT raises KeyboardInterrupt even where it arrived ignored

A shell script's background job (`kws emulate ... &` in a script, where bash has no job control) starts with
SIGINT ignored, and Python keeps an inherited ignore. Such a board would never hear the Ctrl-C that stops it,
only SIGKILL, which leaves its port file behind. These programs exist to be stopped with Ctrl-C, so they take
SIGINT back; every other kws command keeps what it inherited.
"""

from __future__ import annotations

import signal
import threading


def hear_ctrl_c() -> None:
    """SIGINT raises KeyboardInterrupt again if it was ignored (main thread only: signal handlers live there)."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


__all__ = ["hear_ctrl_c"]

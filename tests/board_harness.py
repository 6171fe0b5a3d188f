"""Test harness: an emulated board that can be power-cycled (what a board reset looks like to the host).

    from board_harness import RestartableEmulator
    with RestartableEmulator("runs/demo") as board:
        board.port; board.restart(); board.restarts
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class RestartableEmulator:
    """An emulated board that can be power-cycled: restart() stops it and boots a fresh one on a new pty.

        with RestartableEmulator("runs/demo") as board:
            board.port; board.restart(); board.restarts
    """

    def __init__(self, run_dir: str | Path | None = None, **emulator_kwargs: Any) -> None:
        from kws.device.artifacts import ExportedModel

        if "exported" not in emulator_kwargs:
            if run_dir is None:
                raise ValueError("give run_dir or exported=")
            emulator_kwargs["exported"] = ExportedModel.load(run_dir, emulator_kwargs.pop("model_path", None))
        self._kwargs = emulator_kwargs
        self.board: Any = None
        self.restarts = 0
        self.port = ""

    def start(self) -> str:
        from kws.device.emulator import Emulator

        if self.board is None:
            self.board = Emulator(**self._kwargs)
            self.port = self.board.start()
        return self.port

    def restart(self) -> str:
        """Stop the board (what it was doing is lost) and boot a new one; its port."""
        if self.board is not None:
            self.board.stop()
            self.board = None
        self.restarts += 1
        return self.start()

    def stop(self) -> None:
        if self.board is not None:
            self.board.stop()
            self.board = None

    def __enter__(self) -> "RestartableEmulator":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

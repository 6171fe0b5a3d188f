"""The options of `kws eval` (clips and streams): where the board is, what to feed it, how patient to be.

    options = EvalOptions(port="/dev/ttyACM0", feed="audio", limit=200)
    options.validate(); options.link_settings      # kws.device.session.LinkSettings
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kws.device.boards import BOARDS
from kws.device.session import FEEDS, LinkSettings
from kws.eval.errors import DeviceEvalError

_LINK = LinkSettings()


# ------------------------------------------------------------------------------------------- options

@dataclass(frozen=True)
class EvalOptions:
    """How to reach the board and what to feed it (the `kws eval` options)."""

    port: str | None = None
    """Serial port of the board (a device path, a pty); None with emulate=True."""
    emulate: bool = False
    """Start the emulated board for the run (kws.device.boards) and stop it at the end."""
    board: str = "host"
    """Which emulated board: 'host' (TFLite Micro runtime on the host) or 'm4' (the firmware on QEMU's M4)."""
    feed: str = "audio"
    """'audio' (the whole device pipeline) or 'features' (int8 reference features: the model alone)."""
    data_dir: str | None = None
    """Dataset root (default: the run's data.data_dir)."""
    split: str = "testing"
    selection: str = "recipe"
    """Which clips of the split: 'recipe' (the training recipe's sample), 'labelled' (every clip of the folders
    the labels name), 'all' (every clip; other words count as unknown). kws.data.index.SELECTIONS."""
    limit: int | None = None
    """Evaluate an evenly spread subset of this many clips of the split (every label keeps its share)."""
    restart: bool = False
    """Start a new journal even if one exists (default: resume it)."""
    progress: bool = True
    target_far: float = 0.01
    """Clip-level false accept rate of the ROC operating point in the summary."""
    timeout: float = _LINK.timeout
    """Seconds to wait for each answer of the board before resending (kws.device.session.LinkSettings)."""
    retries: int = _LINK.retries
    """Resends of one frame before the link gives up (then a new handshake and the clip again)."""
    chunk_samples: int = _LINK.chunk_samples
    """Samples per AUDIO frame (at most 1,024)."""
    max_attempts: int = _LINK.max_attempts
    """Times one clip is tried (after a damaged result, a reboot or a link that gave up)."""
    build_dir: Path | None = None
    """Build folder of the emulated board's core (default: kws.device.cbuild's)."""

    def validate(self) -> None:
        """DeviceEvalError (or SessionError) naming the option that cannot work."""
        if self.feed not in FEEDS:
            raise DeviceEvalError(f"--feed must be one of {', '.join(FEEDS)}, got {self.feed!r}")
        if self.emulate == bool(self.port):
            raise DeviceEvalError("give either a port (--port) or --emulate, not both and not neither")
        if self.board not in BOARDS:
            raise DeviceEvalError(f"--board must be one of {', '.join(BOARDS)}, got {self.board!r}")
        if self.limit is not None and self.limit < 1:
            raise DeviceEvalError(f"--limit must be at least 1, got {self.limit}")
        if not 0.0 <= self.target_far <= 1.0:
            raise DeviceEvalError(f"--target-far is a share of clips in 0..1, got {self.target_far}")
        self.link_settings.validate()

    @property
    def link_settings(self) -> LinkSettings:
        """The session's patience with the line."""
        return LinkSettings(self.timeout, self.retries, self.chunk_samples, self.max_attempts)


__all__ = ["EvalOptions"]

"""The [deploy] section: the board and the on-device recognizer, whose four settings are defined once here.

`RecognizerSettings` (shared by DeployConfig, kws.recognizer, the device protocol and kws_settings.h),
`DeployConfig` and the C recognizer's limits. kws.config assembles it into `KwsConfig` and re-exports every
name here. No side effects at import.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

from kws.typed_toml import ConfigError

REC_MAX_MS = 600_000
"""KWS_REC_MAX_MS of kws_recognizer.h: longest window or suppression the C recognizer accepts (keeps every
interval it measures below 2^31 us)."""
REC_MAX_RESULTS = 64
"""KWS_REC_MAX_RESULTS of kws_recognizer.h: results the C recognizer's queue holds."""


@dataclass(frozen=True)
class RecognizerSettings:
    """The recognizer's four knobs (TFLM RecognizeCommands defaults), defined once.

    The config's [deploy] section (DeployConfig), the Python recognizer (kws.recognizer.RecognizerConfig),
    the protocol's PARAMS block (kws.device.protocol.Params) and the generated kws_settings.h
    (`c_defines`) are all made from these fields.
    """

    average_window_ms: int = 1000
    """Posterior averaging window."""
    suppression_ms: int = 1500
    """Time after a detection during which no new detection (of any label) is reported."""
    minimum_count: int = 3
    """Fewest inferences in the averaging window before any decision."""
    detection_threshold: int = 200
    """Averaged score (0-255) a keyword must exceed (strictly) to be detected."""

    def recognizer_settings(self) -> "RecognizerSettings":
        """Just the four knobs (from a DeployConfig, a RecognizerConfig or protocol Params)."""
        return RecognizerSettings(**{f.name: getattr(self, f.name) for f in dataclasses.fields(RecognizerSettings)})

    def check_recognizer(self, prefix: str = "recognizer ", max_results: int = REC_MAX_RESULTS) -> None:
        """Raise ConfigError where the C recognizer would refuse a value (kws_recognizer_check_config)."""
        for name in ("average_window_ms", "suppression_ms"):
            value = getattr(self, name)
            if not 0 <= value <= REC_MAX_MS:
                raise ConfigError(f"{prefix}{name} must be in 0..{REC_MAX_MS}, got {value}")
        if not 0 <= self.detection_threshold <= 255:
            raise ConfigError(f"{prefix}detection_threshold must be in 0..255, got {self.detection_threshold}")
        if not 0 <= self.minimum_count <= max_results:
            raise ConfigError(f"{prefix}minimum_count must be in 0..{max_results} (the queue size), "
                              f"got {self.minimum_count}")

    def c_defines(self) -> list[tuple[str, str, str]]:
        """(name, value, comment) of the four #defines in the generated kws_settings.h."""
        return [
            ("KWS_AVERAGE_WINDOW_MS", str(self.average_window_ms), "posterior averaging window"),
            ("KWS_DETECTION_THRESHOLD", str(self.detection_threshold), "averaged score 0..255 to detect"),
            ("KWS_SUPPRESSION_MS", str(self.suppression_ms), "no new detection for this long after one"),
            ("KWS_MINIMUM_COUNT", str(self.minimum_count), "fewest results in the window before deciding"),
        ]

    @staticmethod
    def from_c_defines(defines: Mapping[str, str]) -> "RecognizerSettings":
        """The settings a generated kws_settings.h states (KeyError names a missing #define)."""
        return RecognizerSettings(average_window_ms=int(defines["KWS_AVERAGE_WINDOW_MS"]),
                                  suppression_ms=int(defines["KWS_SUPPRESSION_MS"]),
                                  minimum_count=int(defines["KWS_MINIMUM_COUNT"]),
                                  detection_threshold=int(defines["KWS_DETECTION_THRESHOLD"]))


@dataclass(frozen=True)
class DeployConfig(RecognizerSettings):
    """The board and the on-device recognizer (its four settings come from RecognizerSettings)."""

    board: str = "nano33ble"
    """Target board: 'nano33ble' (Arduino Nano 33 BLE Sense) or 'host' (the emulated board)."""
    arena_margin_bytes: int = 1024
    """Bytes added to the measured minimum tensor arena."""

    def validate(self) -> None:
        """Raise ConfigError for a board or recognizer values the firmware cannot use."""
        if self.board not in ("nano33ble", "host"):
            raise ConfigError(f"deploy.board must be 'nano33ble' or 'host', got {self.board!r}")
        if self.arena_margin_bytes < 0:
            raise ConfigError(f"deploy.arena_margin_bytes must not be negative, got {self.arena_margin_bytes}")
        self.check_recognizer("deploy.")


__all__ = ["DeployConfig", "REC_MAX_MS", "REC_MAX_RESULTS", "RecognizerSettings"]

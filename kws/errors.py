"""User-facing errors: the CLI prints their message (which names the file or value and what to do)
and exits with status 2, without a traceback. Anything else is a bug and keeps its traceback."""

from __future__ import annotations


class KwsError(Exception):
    """Base class of errors a user can act on."""


class DataError(KwsError):
    """A dataset is missing, empty, incomplete or laid out wrongly."""


class AudioFormatError(DataError):
    """One audio file cannot be used; the message names the file and the reason."""

    def __init__(self, path: object, reason: str, hint: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.hint = hint
        text = f"{self.path}: {reason}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class DownloadError(KwsError):
    """A download failed, was truncated or did not match its checksum."""

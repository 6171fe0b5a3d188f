"""Errors of the export chain: each names the file or value at fault and what to do about it.

They are `KwsError`s, so `kws export` prints one line and exits 2 instead of a traceback.
"""

from __future__ import annotations

from kws.errors import KwsError


class ExportError(KwsError):
    """A hop of the conversion chain failed, or one of its checks did not hold."""


class InputQuantizationError(ExportError):
    """The int8 model's input scale/zero point differ from the frontend's feature quantization."""


class UnsupportedOpError(ExportError):
    """The int8 graph holds an op that is forbidden for this model or that TFLite Micro does not register."""


class ParityError(ExportError):
    """Two hops that must agree (within a stated tolerance, or bit for bit) do not."""

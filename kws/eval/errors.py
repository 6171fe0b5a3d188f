"""The evaluation layer's error: what stops `kws eval` / `kws calibrate`, with a message that says what to do."""

from kws.errors import KwsError


class DeviceEvalError(KwsError):
    """On-device evaluation cannot go on; the message names the port, clip or file and what to do."""


__all__ = ["DeviceEvalError"]

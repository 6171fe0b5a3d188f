"""The host end of the board: the serial protocol (`framing`, `protocol`), the C core's host build (`cbuild`) and its
ctypes binding (`ccore`), the link to a board (`link`), the emulated board (`emulator`), `kws monitor`
(`monitor`), `kws flash` (`flash`) and what both boards read from a run's export (`artifacts`).

    from kws.device.framing import FrameDecoder
    from kws.device.protocol import Hello, encode_message
    from kws.device.link import BoardLink
    from kws.device.emulator import Emulator

Nothing is imported here eagerly: `import kws.device` has no side effects and pulls in no numpy.
"""

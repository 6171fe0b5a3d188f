"""The host end of the board: the serial protocol (`protocol`), the C core's host build (`cbuild`)
and its ctypes binding (`ccore`).

    from kws.device.protocol import FrameDecoder, Hello, encode_message
    from kws.device.cbuild import build_program

Nothing is imported here eagerly: `import kws.device` has no side effects and pulls in no numpy.
"""

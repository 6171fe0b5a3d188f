"""kws: the host toolchain for keyword spotting on microcontrollers.

    kws --help          # or: python -m kws --help

Never imports TensorFlow (that lives in the `export` package) and has no side effects at import.
"""

__version__ = "0.1.0"

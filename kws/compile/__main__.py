"""`python -m kws.compile MODEL.tflite --out DIR` (the same as `kws compile`)."""

import sys

from kws.compile.command import main

if __name__ == "__main__":
    sys.exit(main())

"""`python -m kws.compile MODEL.tflite --out DIR` (the same as `kws compile`)."""

import sys

from kws.compile.command import main

sys.exit(main())

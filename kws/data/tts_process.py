"""Running an external text-to-speech command (flite, festival's text2wave) on one word: the text goes in a
file, never on the command line (so no word can be read as an option), the speech comes back from a WAV.

    from kws.data.tts_process import speak_with_command
    samples, rate = speak_with_command("flite", ["flite", "-voice", "slt"], "yes", "slt",
                                       lambda text, out: ["-f", str(text), "-o", str(out)])
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from kws.errors import KwsError


def speak_with_command(engine: str, command: Sequence[str], text: str, voice: str,
                       io_args: Callable[[Path, Path], list[str]]) -> tuple[np.ndarray, int]:
    """Run `command` + io_args(text file, output WAV) in a scratch folder; the samples (float64 in [-1, 1],
    mono) and their rate. KwsError naming the engine, word and voice when it fails or writes nothing."""
    import soundfile

    with tempfile.TemporaryDirectory(prefix=f"kws-{engine}-") as tmp:
        text_file, out = Path(tmp) / "text.txt", Path(tmp) / "speech.wav"
        text_file.write_text(text, encoding="utf-8")
        result = subprocess.run([*command, *io_args(text_file, out)], capture_output=True, text=True, check=False,
                                env={**os.environ, "LC_ALL": "C"})
        if result.returncode != 0 or not out.is_file():
            raise KwsError(f"{engine} could not speak {text!r} with voice {voice} (exit status "
                           f"{result.returncode}): {result.stderr.strip()[:200]}")
        samples, rate = soundfile.read(out, dtype="float64")
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    return samples, int(rate)


__all__ = ["speak_with_command"]

"""A third text-to-speech engine for the synthetic keyword set: the Festival Speech Synthesis System's English
voices that Debian ships in main.

Flite has five recorded voices; every one more is a new speaker for the keywords. Festival brings the diphone
voices kal (US male, the speaker of Flite's kal) and ked (US male, a speaker Flite does not have), and the HTS
statistical voice of slt (US female, a different model of Flite's slt). Debian: `apt-get install festival
festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts` (free licences: the University of Edinburgh, CMU and
OGI; see /usr/share/doc/festvox-*/copyright). Only `synth.festival_speakers > 0` needs it.

    from kws.data.festival import find_festival, festival_speak
    binary = find_festival()                          # KwsError saying what to install when absent
    samples, rate = festival_speak(binary, "yes", "ked_diphone", duration_stretch=1.1, f0_mean=120)

Festival has no random state: the same text, voice and settings give the same samples (tested).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from kws.data.tts_process import speak_with_command
from kws.errors import KwsError

VOICES: tuple[str, ...] = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
"""The English voices used, by the name festival's voice_<name> function takes."""
PITCHED_VOICES: tuple[str, ...] = ("kal_diphone", "ked_diphone")
"""Voices whose mean pitch follows int_lr_params' target_f0_mean (the HTS voice has its own pitch model)."""
APT_PACKAGES: tuple[str, ...] = ("festival", "festvox-kallpc16k", "festvox-kdlpc16k", "festvox-us-slt-hts")
INSTALL_HINT = f"install it with `apt-get install {' '.join(APT_PACKAGES)}` (Debian/Ubuntu), or set " \
               "synth.festival_speakers = 0"
VOICE_FOLDERS: tuple[Path, ...] = (Path("/usr/share/festival/voices"), Path("/usr/lib/festival/voices"))
"""Where Debian's festvox packages put the voices (one folder per voice, under a language folder)."""


def find_festival() -> str:
    """The text2wave command (festival's), with every voice of VOICES; KwsError naming what to install."""
    binary = shutil.which("text2wave")
    if binary is None:
        raise KwsError(f"synth.festival_speakers needs festival's text2wave command, which is not installed; "
                       f"{INSTALL_HINT}")
    missing = sorted(set(VOICES) - set(festival_voices()))
    if missing:
        raise KwsError(f"festival lacks the voices {', '.join(missing)}; {INSTALL_HINT}")
    return binary


def festival_voices(folders: tuple[Path, ...] = VOICE_FOLDERS) -> list[str]:
    """The installed voices (voices/<language>/<voice>/ folders)."""
    return sorted({voice.name for folder in folders if folder.is_dir() for language in folder.iterdir()
                   if language.is_dir() for voice in language.iterdir() if voice.is_dir()})


def festival_version() -> str:
    """festival's version line, e.g. 'Festival Speech Synthesis System 2.5.0:release December 2017'."""
    binary = shutil.which("festival")
    if binary is None:
        return "unknown"
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return out.splitlines()[0].strip() if out else "unknown"


def festival_speak(binary: str, text: str, voice: str, *, duration_stretch: float,
                   f0_mean: int) -> tuple[np.ndarray, int]:
    """Samples of `text` (float64 in [-1, 1]) and their rate. duration_stretch > 1 speaks slower; f0_mean
    (Hz, 0 = the voice's own) sets the mean pitch of the voices in PITCHED_VOICES."""
    if voice not in VOICES:
        raise KwsError(f"festival voice {voice!r} is not one of {', '.join(VOICES)}")
    # Only numbers we format go into the Scheme expressions; the text goes in a file, never an expression.
    command = [binary, "-eval", f"(voice_{voice})"]
    if voice.endswith("_hts"):  # the HTS engine ignores Duration_Stretch; its own -r is a speed (1 / stretch)
        command += ["-eval", f"(set! hts_engine_params (append hts_engine_params (list (list \"-r\" "
                             f"{1.0 / float(duration_stretch):.4f}))))"]
    else:
        command += ["-eval", f"(Parameter.set 'Duration_Stretch {float(duration_stretch):.4f})"]
    if f0_mean > 0 and voice in PITCHED_VOICES:
        command += ["-eval", f"(set! int_lr_params (cons (list 'target_f0_mean {int(f0_mean)}) int_lr_params))"]
    return speak_with_command("festival", command, text, voice, lambda text_file, out: [str(text_file), "-o",
                                                                                         str(out)])


__all__ = ["APT_PACKAGES", "INSTALL_HINT", "PITCHED_VOICES", "VOICES", "find_festival", "festival_speak",
           "festival_version", "festival_voices"]

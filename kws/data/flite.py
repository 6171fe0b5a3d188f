"""A second text-to-speech engine for the synthetic keyword set: CMU Flite and its English voices.

espeak-ng is a formant synthesiser: every one of its voices shares the same few formant recipes. Flite's
CMU voices are built from recordings of real people (awb: Scottish English male, rms: US male, slt: US female,
clustergen statistical voices; kal16 and kal: US male diphone voices, kal at 8 kHz), so a keyword set that
mixes both engines has voices much closer to real speech. Debian ships them: `apt-get install flite`
(BSD-style licence, CMU and the University of Edinburgh). Only `synth.flite_speakers > 0` needs it.

    from kws.data.flite import find_flite, flite_speak
    binary = find_flite()                                  # KwsError saying what to install when absent
    samples, rate = flite_speak(binary, "yes", "slt", duration_stretch=1.1, f0_mean=0)  # float64, 16000

Flite has no random state: the same text, voice and settings give the same samples (tested).
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np

from kws.data.tts_process import speak_with_command
from kws.errors import KwsError

VOICES: tuple[str, ...] = ("awb", "rms", "slt", "kal16", "kal")
"""The English voices used (awb_time, a talking clock, is left out)."""
PITCHED_VOICES: tuple[str, ...] = ("kal16", "kal")
"""Diphone voices: every speaker of theirs gets a mean pitch (int_f0_target_mean)."""
CLUSTERGEN_F0_HZ: dict[str, tuple[int, int]] = {"awb": (85, 170), "slt": (150, 250)}
"""Clustergen voices that follow int_f0_target_mean too (rms does not), with the mean-pitch range of their
speakers under synth.flite_voice_pitch: around the recorded speaker's own (awb about 130 Hz, slt about 180 Hz),
within an adult man's and an adult woman's range."""
INSTALL_HINT = "install it with `apt-get install flite` (Debian/Ubuntu), or set synth.flite_speakers = 0"


def find_flite() -> str:
    """The flite command, with every voice of VOICES; KwsError naming what to install otherwise."""
    binary = shutil.which("flite")
    if binary is None:
        raise KwsError(f"synth.flite_speakers needs the flite command, which is not installed; {INSTALL_HINT}")
    missing = sorted(set(VOICES) - set(flite_voices(binary)))
    if missing:
        raise KwsError(f"{binary} lacks the voices {', '.join(missing)}; {INSTALL_HINT}")
    return binary


def flite_voices(binary: str) -> list[str]:
    """The voices `flite -lv` lists."""
    out = subprocess.run([binary, "-lv"], capture_output=True, text=True, check=False).stdout
    return out.split(":", 1)[1].split() if ":" in out else []


def flite_version(binary: str) -> str:
    """flite's version, e.g. 'flite-2.2-current Sep 2018'."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout
    lines = [line.split(":", 1)[1].split("(")[0].strip() for line in out.splitlines() if "version:" in line]
    return lines[0] if lines else "unknown"


def flite_speak(binary: str, text: str, voice: str, *, duration_stretch: float, f0_mean: int) -> tuple[np.ndarray, int]:
    """Samples of `text` (float64 in [-1, 1]) and their rate. duration_stretch > 1 speaks slower; f0_mean
    (Hz, 0 = the voice's own) sets the mean pitch of the voices in PITCHED_VOICES and CLUSTERGEN_F0_HZ."""
    if voice not in VOICES:
        raise KwsError(f"flite voice {voice!r} is not one of {', '.join(VOICES)}")
    command = [binary, "-voice", voice, "--setf", f"duration_stretch={duration_stretch:.4f}"]
    if f0_mean > 0 and (voice in PITCHED_VOICES or voice in CLUSTERGEN_F0_HZ):
        command += ["--setf", f"int_f0_target_mean={int(f0_mean)}"]
    return speak_with_command("flite", command, text, voice, lambda text_file, out: ["-f", str(text_file), "-o",
                                                                                      str(out)])


__all__ = ["CLUSTERGEN_F0_HZ", "INSTALL_HINT", "PITCHED_VOICES", "VOICES", "find_flite", "flite_speak", "flite_version",
           "flite_voices"]

"""Reading WAV files the way the whole toolchain expects them: mono float32 at the spec's sample rate.

    from kws.data.audio import load_audio
    audio, fixes = load_audio("yes/0a7c2a8d_nohash_0.wav", 16000)

Policy (documented in the README):
- Not a WAV, unreadable, truncated, empty, or an encoding libsndfile cannot decode: AudioFormatError
  naming the file (the dataset loader either stops or skips it and counts it: data.on_bad_audio).
- Another sample rate: resampled (polyphase, scipy) and counted in `fixes.resampled`.
- Stereo or more channels: averaged to mono and counted in `fixes.downmixed`.
- 8-bit, 24-bit, 32-bit or float samples: converted to float32 in [-1, 1) and counted in `fixes.converted`.
- Longer than one clip: the dataset loader (kws.data.clips) keeps only the first clip_duration_ms and
  counts it as `trimmed`; `kws data stats --check-audio` names such files.
Speech Commands itself is 16 kHz mono 16-bit, so none of these fire on it.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kws.errors import AudioFormatError


@dataclass(frozen=True)
class AudioFixes:
    """What had to be done to a file to make it mono float32 at the wanted rate."""

    resampled_from: int | None = None
    """Original sample rate when it differed from the wanted one."""
    downmixed_from: int | None = None
    """Original channel count when it was more than one."""
    converted_from: str | None = None
    """Original sample format (e.g. 'PCM_U8', 'PCM_24', 'FLOAT') when it was not 16-bit PCM."""
    trimmed_from: int | None = None
    """Length in samples (at the wanted rate) of a clip longer than the clip length, which was cut to its
    start. Set by kws.data.clips when it fits a file to one clip; load_audio itself never cuts."""

    @property
    def any(self) -> bool:
        """True when the file needed any format conversion (trimming is not one)."""
        return bool(self.resampled_from or self.downmixed_from or self.converted_from)


def _check_riff_length(path: Path, raw: bytes) -> None:
    """Reject WAVs whose data chunk claims more bytes than the file holds (a truncated copy).

    libsndfile quietly returns the frames that exist, so without this a cut-off download would
    silently train on half a word.
    """
    if len(raw) < 12 or raw[:4] not in (b"RIFF", b"RIFX") or raw[8:12] != b"WAVE":
        raise AudioFormatError(path, "not a WAV file (no RIFF/WAVE header)", "Speech Commands clips are .wav files")
    endian = "<" if raw[:4] == b"RIFF" else ">"
    offset = 12
    while offset + 8 <= len(raw):
        chunk_id = raw[offset:offset + 4]
        (size,) = struct.unpack(endian + "I", raw[offset + 4:offset + 8])
        if chunk_id == b"data":
            available = len(raw) - (offset + 8)
            if size > available and size != 0xFFFFFFFF:  # 0xFFFFFFFF: streamed WAV of unknown length
                raise AudioFormatError(
                    path, f"truncated: the data chunk declares {size} bytes but only {available} are present",
                    "the file was cut off; copy or download it again")
            return
        offset += 8 + size + (size & 1)
    raise AudioFormatError(path, "no data chunk: the WAV header is incomplete or the file is truncated",
                           "copy or download it again")


def load_audio(path: str | Path, sample_rate: int) -> tuple[np.ndarray, AudioFixes]:
    """Read a WAV as mono float32 in [-1, 1) at `sample_rate`; see the module docstring for the policy."""
    import soundfile  # imported here: libsndfile loads at first use, not at `import kws`

    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AudioFormatError(path, "file not found") from None
    except OSError as exc:
        raise AudioFormatError(path, f"cannot be read: {exc.strerror or exc}") from None
    if not raw:
        raise AudioFormatError(path, "empty file (0 bytes)", "remove it or copy it again")
    _check_riff_length(path, raw)
    try:
        info = soundfile.info(path)
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise AudioFormatError(path, f"cannot be decoded: {exc}") from None
    if data.shape[0] == 0:
        raise AudioFormatError(path, "contains no samples", "remove it or record it again")
    converted = None if info.subtype == "PCM_16" else info.subtype
    downmixed = data.shape[1] if data.shape[1] > 1 else None
    mono = data.mean(axis=1, dtype=np.float32) if downmixed else data[:, 0]
    resampled = None
    if rate != sample_rate:
        from scipy.signal import resample_poly

        g = math.gcd(int(rate), int(sample_rate))
        mono = resample_poly(mono, sample_rate // g, int(rate) // g).astype(np.float32)
        resampled = int(rate)
    if not np.all(np.isfinite(mono)):
        raise AudioFormatError(path, "contains NaN or infinite samples")
    return np.ascontiguousarray(mono, dtype=np.float32), AudioFixes(resampled, downmixed, converted)


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Zero-pad at the end or cut to exactly `length` samples (Speech Commands clips can be shorter than 1 s)."""
    if audio.shape[0] >= length:
        return audio[:length]
    out = np.zeros(length, dtype=audio.dtype)
    out[: audio.shape[0]] = audio
    return out


def to_int16(audio: np.ndarray) -> np.ndarray:
    """float [-1, 1) -> int16 with rounding and clipping (how clips are cached and sent to the board)."""
    return np.clip(np.rint(audio * 32768.0), -32768, 32767).astype(np.int16)


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write mono 16-bit PCM atomically (float input is converted with `to_int16`)."""
    import soundfile

    from kws.fsutil import atomic_path

    samples = audio if audio.dtype == np.int16 else to_int16(audio)
    with atomic_path(path) as tmp:
        soundfile.write(tmp, samples, sample_rate, subtype="PCM_16", format="WAV")

"""Tiny Speech Commands folders written in milliseconds, for the loader's tests.

    from fake_datasets import make_full, make_testset
    root = make_full(tmp_path / "ds")        # yes/no/cat/dog, two speakers per hash split, 2 s of noise
    ts = make_testset(tmp_path / "ts")       # the test-set layout: yes/no/up, _unknown_, _silence_
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from kws.data.split import which_set

SR = 16000
SPLITS = ("training", "validation", "testing")


def write_wav(path: Path, samples: np.ndarray, rate: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, samples, rate, subtype="PCM_16", format="WAV")
    return path


def hash_speakers(per_split: int = 2, validation: float = 10, testing: float = 10) -> dict[str, list[str]]:
    """Speaker ids that the hash puts in each split (found by search, so the fake set has every split)."""
    found: dict[str, list[str]] = {s: [] for s in SPLITS}
    i = 0
    while any(len(v) < per_split for v in found.values()):
        speaker = f"{i:08x}"
        split = which_set(f"{speaker}_nohash_0.wav", validation, testing)
        if len(found[split]) < per_split:
            found[split].append(speaker)
        i += 1
    return found


def make_full(root: Path, words=("yes", "no", "cat", "dog"), speakers: list[str] | None = None,
              noise: bool = True, seed: int = 0) -> Path:
    """A tiny full-layout dataset: 0.25 s int16 clips per (word, speaker), optional noise."""
    rng = np.random.default_rng(seed)
    speakers = speakers or [s for v in hash_speakers().values() for s in v]
    for word in words:
        for speaker in speakers:
            write_wav(root / word / f"{speaker}_nohash_0.wav", (0.2 * rng.standard_normal(SR // 4)).astype(np.float32))
    if noise:
        write_wav(root / "_background_noise_" / "noise.wav", (0.1 * rng.standard_normal(SR * 2)).astype(np.float32))
    return root


def make_testset(root: Path) -> Path:
    rng = np.random.default_rng(1)
    for word in ("yes", "no", "up"):
        for i in range(5):
            write_wav(root / word / f"{i:08x}_nohash_0.wav", (0.2 * rng.standard_normal(SR // 4)).astype(np.float32))
    for i, word in enumerate(("cat", "dog", "cat", "marvin")):
        clip = (0.2 * rng.standard_normal(SR // 4)).astype(np.float32)
        write_wav(root / "_unknown_" / f"{word}_{i:08x}_nohash_0.wav", clip)
    for i in range(3):
        write_wav(root / "_silence_" / f"{i}.wav", (0.05 * rng.standard_normal(SR)).astype(np.float32))
    return root

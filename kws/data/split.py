"""The Speech Commands train/validation/test split: the canonical hash split and the official lists.

The hash split (TensorFlow speech_commands `which_set`) hashes the file name with everything from
`_nohash_` on removed, so all clips of one speaker land in the same split whatever the word:

    from kws.data.split import which_set
    which_set("yes/0a7c2a8d_nohash_0.wav", 10, 10)   # -> 'training' | 'validation' | 'testing'

The official v0.02 release also ships testing_list.txt / validation_list.txt; `compare_hash_split_to_lists`
measures how well the hash reproduces them (see tests/test_split.py for the figures).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

# 2**27 - 1, as in TensorFlow's input_data.py: the hash is taken mod this many "buckets" so the split
# does not move when files are added.
MAX_NUM_WAVS_PER_CLASS = 2**27 - 1

SPLITS: tuple[str, ...] = ("training", "validation", "testing")

_NOHASH = re.compile(r"_nohash_.*$")


def speaker_key(filename: str) -> str:
    """The part of a file's base name the split hashes: everything before `_nohash_`."""
    return _NOHASH.sub("", Path(filename).name)


def which_set(filename: str, validation_percentage: float, testing_percentage: float) -> str:
    """'training', 'validation' or 'testing' for a clip, stable for a speaker across words and releases."""
    digest = hashlib.sha1(speaker_key(filename).encode("utf-8")).hexdigest()
    percentage = (int(digest, 16) % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)
    if percentage < validation_percentage:
        return "validation"
    if percentage < testing_percentage + validation_percentage:
        return "testing"
    return "training"


def read_list(path: str | Path) -> set[str]:
    """Entries of a testing_list.txt / validation_list.txt ('word/file.wav', POSIX separators)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return {line.strip().replace("\\", "/") for line in lines if line.strip()}


@dataclass(frozen=True)
class SplitComparison:
    """How the hash split agrees with official lists, counted over the listed files."""

    testing_listed: int
    """Files in testing_list.txt."""
    validation_listed: int
    """Files in validation_list.txt."""
    testing_mismatches: int
    """Listed test files the hash assigns elsewhere."""
    validation_mismatches: int
    """Listed validation files the hash assigns elsewhere."""

    @property
    def total_mismatches(self) -> int:
        """Mismatches over both lists."""
        return self.testing_mismatches + self.validation_mismatches


def compare_hash_split_to_lists(list_dir: str | Path, validation_percentage: float = 10.0,
                                testing_percentage: float = 10.0) -> SplitComparison:
    """Count listed files whose hash split differs from the list they are in.

    Training files are not listed in the release, so this measures agreement on the two lists only.
    """
    list_dir = Path(list_dir)
    testing = read_list(list_dir / "testing_list.txt")
    validation = read_list(list_dir / "validation_list.txt")
    test_bad = sum(which_set(f, validation_percentage, testing_percentage) != "testing" for f in testing)
    val_bad = sum(which_set(f, validation_percentage, testing_percentage) != "validation" for f in validation)
    return SplitComparison(len(testing), len(validation), test_bad, val_bad)

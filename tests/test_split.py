"""The Speech Commands split: hand-checked hash cases, agreement with the official lists, speakers stay put.

    .venv/bin/python -m pytest tests/test_split.py -q -s     # -s shows the measured mismatch counts
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

import pytest

from kws.data.split import MAX_NUM_WAVS_PER_CLASS, compare_hash_split_to_lists, read_list, speaker_key, which_set


def _percentage(speaker: str) -> float:
    """TF's formula written out again, independently of kws.data.split."""
    value = int(hashlib.sha1(speaker.encode()).hexdigest(), 16)
    return (value % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)


# (file name, validation %, testing %, expected split). The hash percentages were computed by hand
# with hashlib.sha1 (e.g. sha1("0a7c2a8d") mod 2**27 = 76284507 -> 56.84%), and cross-checked against
# the official lists: 439c84f4 is in validation_list.txt, 97f4c236 in testing_list.txt, and 0cb74144
# is a speaker of the canonical test set.
HAND_CHECKED = [
    ("yes/0a7c2a8d_nohash_0.wav", 10, 10, "training"),      # 56.84%
    ("yes/0cb74144_nohash_0.wav", 10, 10, "testing"),       # 19.31%: in [10, 20)
    ("right/439c84f4_nohash_1.wav", 10, 10, "validation"),  # 1.23%: below 10
    ("eight/97f4c236_nohash_2.wav", 10, 10, "testing"),     # 14.78%
    ("b87bdb22_nohash_1.wav", 10, 10, "training"),          # 92.93%
    ("0cb74144_nohash_0.wav", 20, 10, "validation"),        # 19.31% < 20
    ("439c84f4_nohash_1.wav", 1, 1, "testing"),             # 1.23% in [1, 2)
    ("439c84f4_nohash_1.wav", 0, 0, "training"),            # no validation or testing share at all
    ("6a27a9bf_nohash_0.wav", 1.5, 10, "validation"),       # 1.41% < 1.5
]


@pytest.mark.parametrize("name, val, test, expected", HAND_CHECKED)
def test_which_set_hand_checked(name, val, test, expected):
    assert which_set(name, val, test) == expected


def test_hand_checked_percentages_match_the_formula():
    assert _percentage("0a7c2a8d") == pytest.approx(56.8364, abs=1e-4)
    assert _percentage("0cb74144") == pytest.approx(19.3065, abs=1e-4)
    assert _percentage("439c84f4") == pytest.approx(1.2318, abs=1e-4)


def test_speaker_key_ignores_folder_word_and_clip_number():
    assert speaker_key("yes/0a7c2a8d_nohash_0.wav") == "0a7c2a8d"
    assert speaker_key("/abs/path/no/0a7c2a8d_nohash_4.wav") == "0a7c2a8d"
    assert speaker_key("no_marker.wav") == "no_marker.wav"  # no _nohash_: the whole name is hashed
    assert which_set("yes/0a7c2a8d_nohash_0.wav", 10, 10) == which_set("/x/stop/0a7c2a8d_nohash_3.wav", 10, 10)


def test_read_list_normalises_separators_and_blank_lines(tmp_path):
    path = tmp_path / "testing_list.txt"
    path.write_text("yes\\a_nohash_0.wav\n\n  no/b_nohash_1.wav  \n", encoding="utf-8")
    assert read_list(path) == {"yes/a_nohash_0.wav", "no/b_nohash_1.wav"}


@pytest.mark.shared_data
def test_hash_split_reproduces_the_official_lists(official_lists):
    result = compare_hash_split_to_lists(official_lists)
    print(f"\nhash vs official v0.02 lists: {result.testing_mismatches} of {result.testing_listed} testing, "
          f"{result.validation_mismatches} of {result.validation_listed} validation entries disagree")
    assert (result.testing_listed, result.validation_listed) == (11005, 9981)
    # Measured: 0 mismatches on both lists (the release's lists were made by this very hash).
    assert result.total_mismatches == 0


@pytest.mark.shared_data
def test_hash_split_reproduces_the_sc_mini_lists(sc_mini):
    result = compare_hash_split_to_lists(sc_mini)
    print(f"\nhash vs sc-mini lists: {result.total_mismatches} mismatches over "
          f"{result.testing_listed + result.validation_listed} entries")
    assert (result.testing_listed, result.validation_listed) == (31, 45)
    assert result.total_mismatches == 0  # measured: 0


@pytest.mark.shared_data
def test_a_speaker_never_crosses_splits_in_the_official_lists(official_lists):
    where: dict[str, set[str]] = defaultdict(set)
    for split, name in (("testing", "testing_list.txt"), ("validation", "validation_list.txt")):
        for entry in read_list(official_lists / name):
            where[speaker_key(entry)].add(split)
    crossing = {speaker: splits for speaker, splits in where.items() if len(splits) > 1}
    assert not crossing
    # And the hash gives every clip of a speaker the same split, whatever the word.
    for speaker in list(where)[:500]:
        assert len({which_set(f"{w}/{speaker}_nohash_{n}.wav", 10, 10) for w in ("yes", "cat") for n in (0, 7)}) == 1

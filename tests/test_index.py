"""The Speech Commands index: both real layouts with independently computed counts, the recipe,
determinism, and every DataError a user can meet (clip banks: test_clips.py; stats: test_stats.py).

    .venv/bin/python -m pytest tests/test_index.py -q -s     # -s shows the observed label counts
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from fake_datasets import SPLITS, hash_speakers, make_full, make_testset, write_wav

from kws.config import DataConfig, FrontendConfig, replace
from kws.data.index import Example, build_splits, detect_layout
from kws.data.stats import dataset_stats
from kws.errors import DataError

FRONTEND = FrontendConfig()
TF_KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")


def _label_counts(examples: list[Example], labels: tuple[str, ...]) -> dict[str, int]:
    counts = Counter(labels[e.label] for e in examples)
    return {label: counts.get(label, 0) for label in labels}


# ------------------------------------------------------------------------------------ sc-mini (full layout)

def _expected_full(root: Path, wanted: tuple[str, ...], unknown_pct: float, silence_pct: float):
    """The recipe's counts, computed from the folders and lists without the loader."""
    testing = set((root / "testing_list.txt").read_text().split())
    validation = set((root / "validation_list.txt").read_text().split())
    keyword = {s: Counter() for s in SPLITS}
    pool = Counter()
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name.startswith("_"):
            continue
        for wav in folder.glob("*.wav"):
            rel = f"{folder.name}/{wav.name}"
            split = "testing" if rel in testing else "validation" if rel in validation else "training"
            if folder.name in wanted:
                keyword[split][folder.name] += 1
            else:
                pool[split] += 1
    expected = {}
    for split in SPLITS:
        n = sum(keyword[split].values())
        expected[split] = {"_silence_": math.ceil(n * silence_pct / 100),
                           "_unknown_": min(math.ceil(n * unknown_pct / 100), pool[split]),
                           **{w: keyword[split][w] for w in wanted}}
    return expected


@pytest.mark.shared_data
def test_sc_mini_full_layout_counts_follow_the_recipe(sc_mini):
    assert detect_layout(sc_mini) == "full"
    data = DataConfig(data_dir=str(sc_mini), wanted_words=TF_KEYWORDS)
    splits = build_splits(data, FRONTEND)
    expected = _expected_full(sc_mini, TF_KEYWORDS, 10, 10)
    observed = {s: _label_counts(splits[s], data.labels()) for s in SPLITS}
    print("\nsc-mini label counts (10 TF keywords, lists):", observed)
    assert observed == expected
    # Measured figures, so a change to the recipe shows up here too.
    assert [len(splits[s]) for s in SPLITS] == [70, 23, 4]
    lists = {"testing": set((sc_mini / "testing_list.txt").read_text().split()),
             "validation": set((sc_mini / "validation_list.txt").read_text().split())}
    for split in SPLITS:
        for ex in splits[split]:
            assert ex.split == split
            if ex.path:
                rel = "/".join(Path(ex.path).parts[-2:])
                assert Path(ex.path).is_absolute() and Path(ex.path).is_file()
                assert (split == "training") == all(rel not in v for v in lists.values())
                assert split == "training" or rel in lists[split]
                label = data.labels()[ex.label]
                assert label == (ex.word if ex.word in TF_KEYWORDS else "_unknown_")
            else:
                assert ex.label == 0 and ex.word == "_silence_"


@pytest.mark.shared_data
def test_sc_mini_hash_split_equals_its_lists(sc_mini):
    base = DataConfig(data_dir=str(sc_mini), wanted_words=TF_KEYWORDS)
    by_lists = build_splits(replace(base, split_method="lists"), FRONTEND)
    by_hash = build_splits(replace(base, split_method="hash"), FRONTEND)
    assert by_lists == by_hash


@pytest.mark.shared_data
def test_sc_mini_recipe_percentages(sc_mini):
    wanted = ("one", "two", "three")
    for unknown_pct, silence_pct in ((0, 0), (25, 50), (100, 100)):
        data = DataConfig(data_dir=str(sc_mini), wanted_words=wanted, unknown_percentage=unknown_pct,
                          silence_percentage=silence_pct)
        splits = build_splits(data, FRONTEND)
        observed = {s: _label_counts(splits[s], data.labels()) for s in SPLITS}
        assert observed == _expected_full(sc_mini, wanted, unknown_pct, silence_pct)


# --------------------------------------------------------------------------------- sc-real-dev (test set)

def _testset_files(root: Path) -> dict[str, int]:
    return {d.name: len(list(d.glob("*.wav"))) for d in root.iterdir() if d.is_dir()}


@pytest.mark.shared_data
def test_sc_real_dev_all_twelve_classes(sc_real_dev):
    assert detect_layout(sc_real_dev) == "testset"
    data = DataConfig(data_dir=str(sc_real_dev), wanted_words=TF_KEYWORDS)
    splits = build_splits(data, FRONTEND)
    assert splits["training"] == [] and splits["validation"] == []
    files = _testset_files(sc_real_dev)
    n = sum(files[w] for w in TF_KEYWORDS)
    expected = {"_silence_": min(math.ceil(n * 0.1), files["_silence_"]),
                "_unknown_": min(math.ceil(n * 0.1), files["_unknown_"]),
                **{w: files[w] for w in TF_KEYWORDS}}
    observed = _label_counts(splits["testing"], data.labels())
    print("\nsc-real-dev label counts (10 keywords):", observed)
    assert observed == expected
    # Measured: the whole canonical subset (10% of 2,314 keywords exceeds what exists of both).
    assert len(splits["testing"]) == 2748 and observed["_unknown_"] == 231 and observed["_silence_"] == 203


@pytest.mark.shared_data
def test_sc_real_dev_two_keywords_samples_unknown_and_real_silence(sc_real_dev):
    data = DataConfig(data_dir=str(sc_real_dev), wanted_words=("yes", "no"), unknown_percentage=25,
                      silence_percentage=5)
    testing = build_splits(data, FRONTEND)["testing"]
    files = _testset_files(sc_real_dev)
    n = files["yes"] + files["no"]
    observed = _label_counts(testing, data.labels())
    print("\nsc-real-dev label counts (yes, no; 25% unknown, 5% silence):", observed)
    assert observed == {"_silence_": math.ceil(n * 5 / 100), "_unknown_": math.ceil(n * 25 / 100),
                        "yes": files["yes"], "no": files["no"]}
    assert observed == {"_silence_": 23, "_unknown_": 114, "yes": 232, "no": 224}
    for ex in testing:
        folder = Path(ex.path).parent.name
        if ex.label == 0:
            assert folder == "_silence_"
        elif ex.label == 1:
            # Other keyword folders and the _unknown_ folder feed _unknown_; word comes from the name there.
            assert folder not in ("yes", "no") and ex.word not in ("yes", "no")
            assert folder == ex.word or (folder == "_unknown_" and Path(ex.path).name.startswith(ex.word + "_"))


# ----------------------------------------------------------------------------------------- determinism

@pytest.mark.shared_data
def test_selection_is_deterministic_for_a_seed(sc_real_dev):
    data = DataConfig(data_dir=str(sc_real_dev), wanted_words=("yes",))
    first = build_splits(data, FRONTEND)["testing"]
    assert build_splits(data, FRONTEND)["testing"] == first
    other = build_splits(replace(data, seed=data.seed + 1), FRONTEND)["testing"]
    unknown = lambda xs: [e.path for e in xs if e.label == 1]  # noqa: E731
    assert [e for e in other if e.label == 2] == [e for e in first if e.label == 2]  # keywords never sampled
    assert len(unknown(other)) == len(unknown(first)) and unknown(other) != unknown(first)


def test_fake_full_layout_hash_split(tmp_path):
    root = make_full(tmp_path / "ds")
    data = DataConfig(data_dir=str(root), split_method="auto")  # no lists: hash
    splits = build_splits(data, FRONTEND)
    # 2 speakers per split, yes+no = 4 keyword clips; unknown ceil(0.4)=1 of the 4 cat/dog; silence 1.
    for split in SPLITS:
        assert _label_counts(splits[split], data.labels()) == {"_silence_": 1, "_unknown_": 1, "yes": 2, "no": 2}
    speakers = {s: {Path(e.path).name.split("_")[0] for e in splits[s] if e.path} for s in SPLITS}
    assert not (speakers["training"] & speakers["validation"] or speakers["training"] & speakers["testing"]
                or speakers["validation"] & speakers["testing"])
    assert dataset_stats(data, FRONTEND, progress=False).split_method == "hash"


def test_fake_testset_layout(tmp_path):
    root = make_testset(tmp_path / "ts")
    assert detect_layout(root) == "testset"
    data = DataConfig(data_dir=str(root), wanted_words=("yes", "no"), unknown_percentage=50, silence_percentage=100)
    testing = build_splits(data, FRONTEND)["testing"]
    # 10 keyword clips; unknown min(5, 5 up + 4 _unknown_) = 5; silence min(10, 3 real files) = 3.
    assert _label_counts(testing, data.labels()) == {"_silence_": 3, "_unknown_": 5, "yes": 5, "no": 5}
    words = Counter(e.word for e in build_splits(replace(data, unknown_percentage=100), FRONTEND)["testing"]
                    if e.label == 1)
    assert words == {"up": 5, "cat": 2, "dog": 1, "marvin": 1}


# ----------------------------------------------------------------------------------------- DataErrors

def test_error_missing_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist") as info:
        build_splits(DataConfig(data_dir=str(tmp_path / "nowhere")), FRONTEND)
    assert "nowhere" in str(info.value)


def test_error_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="is empty") as info:
        build_splits(DataConfig(data_dir=str(tmp_path / "empty")), FRONTEND)
    assert "expected either the full layout" in str(info.value)


def test_error_neither_layout(tmp_path):
    root = tmp_path / "flat"
    write_wav(root / "a_nohash_0.wav", np.zeros(100, np.float32))  # clips in the root, no word folders
    (root / "notes").mkdir()
    with pytest.raises(DataError, match="no word folders") as info:
        detect_layout(root)
    message = str(info.value)
    assert "flat" in message and "a_nohash_0.wav" in message and "test-set layout" in message


def test_error_wanted_word_without_clips(tmp_path):
    root = make_full(tmp_path / "ds")
    with pytest.raises(DataError, match="'marvin' has no clips") as info:
        build_splits(DataConfig(data_dir=str(root), wanted_words=("yes", "marvin")), FRONTEND)
    assert "words found: cat, dog, no, yes" in str(info.value)
    ts = make_testset(tmp_path / "ts")
    with pytest.raises(DataError, match="'cat' has no clips") as info:
        build_splits(DataConfig(data_dir=str(ts), wanted_words=("cat",)), FRONTEND)
    assert "words found: no, up, yes" in str(info.value)


def test_error_no_background_noise_says_how_to_turn_it_off(tmp_path):
    root = make_full(tmp_path / "ds", noise=False)
    with pytest.raises(DataError, match="no background noise") as info:
        build_splits(DataConfig(data_dir=str(root)), FRONTEND)
    assert "data.silence_percentage=0" in str(info.value) and "data.background_frequency=0" in str(info.value)
    quiet = DataConfig(data_dir=str(root), silence_percentage=0, background_frequency=0)
    splits = build_splits(quiet, FRONTEND)
    assert all(e.path for s in SPLITS for e in splits[s])


def test_error_split_ends_up_empty(tmp_path):
    only_training = hash_speakers(per_split=3)["training"]
    root = make_full(tmp_path / "ds", speakers=only_training)
    with pytest.raises(DataError, match="validation split .* is empty") as info:
        build_splits(DataConfig(data_dir=str(root)), FRONTEND)
    assert "validation_percentage" in str(info.value)
    # Asking for no validation/testing share makes the empty splits deliberate.
    splits = build_splits(DataConfig(data_dir=str(root), validation_percentage=0, testing_percentage=0), FRONTEND)
    assert splits["validation"] == [] == splits["testing"] and len(splits["training"]) == 6 + 1 + 1


def test_error_lists_requested_but_missing(tmp_path):
    root = make_full(tmp_path / "ds")
    (root / "testing_list.txt").write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="validation_list.txt"):
        build_splits(DataConfig(data_dir=str(root), split_method="lists"), FRONTEND)
    # 'auto' with one list only falls back to the hash.
    assert dataset_stats(DataConfig(data_dir=str(root)), FRONTEND, progress=False).split_method == "hash"


def test_error_lists_leave_a_split_empty(tmp_path):
    root = make_full(tmp_path / "ds")
    (root / "testing_list.txt").write_text("cat/00000000_nohash_0.wav\n", encoding="utf-8")
    (root / "validation_list.txt").write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="validation split .*validation_list.txt lists none"):
        build_splits(DataConfig(data_dir=str(root)), FRONTEND)



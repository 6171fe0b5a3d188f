"""Whole-folder evaluation: which clips each selection takes and the label each folder is scored as, checked by
hand on tiny fake datasets (tests/fake_datasets.py), and the counts of the real test set.

    .venv/bin/python -m pytest tests/test_selection.py -q
"""

from __future__ import annotations

from collections import Counter

import pytest
from fake_datasets import make_full, make_testset

from kws.config import load_config
from kws.data.clip_selection import ClipSelectionError, select_clips
from kws.data.index import index_dataset, select_examples, selection_mapping
from kws.data.kind import REAL, SYNTHETIC, dataset_kind
from kws.errors import DataError


def _data(root, *extra):
    return load_config(None, [f"data.data_dir={root}", "data.wanted_words=['yes','no']", *extra]).data


def test_testset_layout_by_hand(tmp_path):
    # yes/no/up: 5 clips each; _unknown_: cat, dog, cat, marvin; _silence_: 3 clips.
    data = _data(make_testset(tmp_path / "ts"))
    index = index_dataset(data)

    def counts(selection):
        return Counter((e.word, e.label) for e in select_examples(data, index, "testing", selection))

    # labelled: the folders the labels name. up (another keyword's folder) is left out.
    assert counts("labelled") == Counter({("yes", 2): 5, ("no", 3): 5, ("cat", 1): 2, ("dog", 1): 1,
                                          ("marvin", 1): 1, ("_silence_", 0): 3})
    # all: every clip; up counts as unknown.
    assert counts("all") == counts("labelled") + Counter({("up", 1): 5})
    # recipe: 10 keyword clips, then ceil(10 % of 10) = 1 unknown and 1 silence, sampled.
    recipe = counts("recipe")
    assert sum(recipe.values()) == 12 and recipe[("yes", 2)] == 5 and recipe[("no", 3)] == 5
    assert selection_mapping(data, index, "testing", "all") == {
        "_silence_/": "_silence_", "_unknown_/": "_unknown_", "no": "no", "up": "_unknown_", "yes": "yes"}
    assert selection_mapping(data, index, "testing", "labelled") == {
        "_silence_/": "_silence_", "_unknown_/": "_unknown_", "no": "no", "yes": "yes"}


def test_full_layout_all_takes_every_clip_of_the_split(tmp_path):
    data = _data(make_full(tmp_path / "full"))
    index = index_dataset(data)
    testing = select_examples(data, index, "testing", "all")
    words = Counter(e.word for e in testing if not e.generated)
    assert words == Counter({"yes": 2, "no": 2, "cat": 2, "dog": 2})  # two test speakers per word
    assert {e.label for e in testing if e.word in ("cat", "dog")} == {1}
    with pytest.raises(DataError, match=r"full-layout dataset: it has no _unknown_/ and _silence_/ folders for "
                                        r"'labelled'; use 'all'"):
        select_examples(data, index, "testing", "labelled")


def test_select_clips_states_the_mapping_and_refuses_unknown_selections(tmp_path):
    config = load_config(None, [f"data.data_dir={make_testset(tmp_path / 'ts')}", "data.wanted_words=['yes','no']"])
    clips = select_clips(config.data, config.frontend, "testing", selection="all", progress=False)
    assert len(clips) == 22 and clips.selection == "all" and clips.mapping["up"] == "_unknown_"
    with pytest.raises(ClipSelectionError, match="--select must be one of recipe, labelled, all"):
        select_clips(config.data, config.frontend, "testing", selection="everything", progress=False)


@pytest.mark.shared_data
def test_the_real_test_set_counts(sc_real_dev):
    data = _data(sc_real_dev)
    index = index_dataset(data)
    assert len(select_examples(data, index, "testing", "labelled")) == 890  # yes, no, _unknown_, _silence_
    assert len(select_examples(data, index, "testing", "all")) == 2748     # all twelve folders
    assert dataset_kind(sc_real_dev) == REAL


def test_a_synthetic_set_is_named_as_such(tiny_synth):
    assert dataset_kind(tiny_synth) == SYNTHETIC

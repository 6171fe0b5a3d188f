"""The large unknown vocabulary (kws.data.vocabulary) and synth.extra_unknown_words.

    .venv/bin/python -m pytest tests/test_vocabulary.py -q
"""

from __future__ import annotations

import json

import pytest

from kws.config import SPEECH_COMMANDS_WORDS_V2, ConfigError, FrontendConfig, SynthConfig
from kws.data import synth
from kws.data.vocabulary import HOMOPHONES, extra_unknown_words, vocabulary


def test_vocabulary_is_large_unique_and_free_of_speech_commands_words_and_their_homophones():
    words = vocabulary()
    assert len(words) >= 500 and len(set(words)) == len(words)
    banned = set(SPEECH_COMMANDS_WORDS_V2) | {h for hs in HOMOPHONES.values() for h in hs}
    assert not banned & set(words)
    assert all(w.isalpha() and w.islower() for w in words)
    # Near neighbours of several keyword pairs are there (the list is generic, not tuned to one pair).
    assert {"yet", "less", "now", "note", "goat", "town", "cup", "lift", "light", "shop", "of"} <= set(words)


def test_extra_words_are_a_seeded_sample_that_avoids_keywords_unknowns_and_homophones():
    cfg = SynthConfig(keywords=("no", "yet"), unknown_words=("now",), extra_unknown_words=40, seed=3)
    picked = extra_unknown_words(cfg)
    assert len(picked) == 40 and list(picked) == sorted(picked)
    assert not {"no", "yet", "now", "know"} & set(picked)
    assert extra_unknown_words(cfg) == picked
    assert extra_unknown_words(SynthConfig(keywords=("no", "yet"), unknown_words=("now",), extra_unknown_words=40,
                                           seed=4)) != picked
    assert extra_unknown_words(SynthConfig()) == ()
    everything = extra_unknown_words(SynthConfig(extra_unknown_words=10_000))
    assert len(everything) == len(vocabulary())  # the defaults' keywords and unknowns are not in the list


def test_negative_extra_words_are_a_config_error():
    with pytest.raises(ConfigError, match="extra_unknown_words"):
        SynthConfig(extra_unknown_words=-1).validate()


def test_synth_speaks_the_extra_words_as_unknown_words(tmp_path):
    cfg = SynthConfig(out_dir=str(tmp_path / "set"), keywords=("yes",), unknown_words=("up",),
                      clips_per_keyword=2, clips_per_unknown_word=1, extra_unknown_words=3, background_seconds=1.0,
                      workers=1, seed=11)
    report = synth.synthesize(cfg, FrontendConfig(), progress=False)
    extra = extra_unknown_words(cfg)
    assert set(report.counts) == {"yes", "up", *extra} and all(report.counts[w] == 1 for w in extra)
    for word in extra:
        assert len(list((tmp_path / "set" / word).glob("*.wav"))) == 1
    manifest = json.loads((tmp_path / "set" / "manifest.json").read_text())
    assert manifest["config"]["synth"]["extra_unknown_words"] == 3
    assert manifest["config"]["synth"]["unknown_words"] == ["up", *extra]

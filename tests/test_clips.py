"""Decoded clip banks: rows equal the decoder's output, generated silence is zeros, and the cache is
reused, invalidated by a new frontend spec, written atomically and never trusted when damaged.

    .venv/bin/python -m pytest tests/test_clips.py -q
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from fake_datasets import SR, make_full

from kws.config import DataConfig, FrontendConfig, replace
from kws.data.audio import fit_length, load_audio, to_int16
from kws.data.clips import load_background_noise, load_clips
from kws.data.index import build_splits

FRONTEND = FrontendConfig()


@pytest.mark.shared_data
def test_sc_mini_clip_bank_with_generated_silence(sc_mini, tmp_path):
    data = DataConfig(data_dir=str(sc_mini), wanted_words=("one", "two"), cache_dir=str(tmp_path / "cache"))
    examples = build_splits(data, FRONTEND)["training"]
    bank = load_clips(examples, data, FRONTEND, progress=False)
    generated = np.array([e.path == "" for e in examples])
    assert generated.sum() == math.ceil(16 * 0.1)  # 7 'one' + 9 'two' in training
    np.testing.assert_array_equal(bank.generated_silence, generated)
    assert not bank.audio[generated].any()  # zeros here; the augmenter adds their noise
    assert all(bank.audio[~generated].any(axis=1))
    noise = load_background_noise(sc_mini, FRONTEND)
    assert len(noise) == 6 and all(n.dtype == np.float32 and n.ndim == 1 for n in noise)
    assert sum(len(n) for n in noise) / SR == pytest.approx(399.4, abs=0.1)


@pytest.mark.shared_data
def test_sc_real_dev_clip_bank_and_cache(sc_real_dev, tmp_path):
    data = DataConfig(data_dir=str(sc_real_dev), wanted_words=("yes", "no"), cache_dir=str(tmp_path / "cache"))
    examples = build_splits(data, FRONTEND)["testing"]
    bank = load_clips(examples, data, FRONTEND, progress=False)
    assert not bank.from_cache and bank.audio.dtype == np.int16 and bank.audio.shape == (548, 16000)
    assert bank.labels.dtype == np.int64 and bank.labels.tolist() == [e.label for e in examples]
    assert not bank.generated_silence.any()  # real _silence_ recordings are ordinary rows
    assert bank.fixes == {"resampled": 0, "downmixed": 0, "converted": 0, "trimmed": 0} and bank.skipped == ()
    for i in (0, 250, 500, 547):
        audio, _ = load_audio(examples[i].path, SR)
        np.testing.assert_array_equal(bank.audio[i], to_int16(fit_length(audio, 16000)))
    again = load_clips(examples, data, FRONTEND, progress=False)
    assert again.from_cache and again.cache_path == bank.cache_path
    np.testing.assert_array_equal(np.asarray(again.audio), bank.audio)
    assert sorted(p.suffix for p in (tmp_path / "cache").iterdir()) == [".json", ".npy"]  # no temp leftovers
    # A different frontend spec (clip length) must not reuse the cache.
    longer = replace(FRONTEND, clip_duration_ms=500)
    half = load_clips(examples[:3], data, longer, progress=False)
    assert not half.from_cache and half.audio.shape == (3, 8000)


def test_cache_write_is_atomic_when_interrupted(tmp_path, monkeypatch):
    root = make_full(tmp_path / "ds")
    cache = tmp_path / "cache"
    data = DataConfig(data_dir=str(root), cache_dir=str(cache))
    examples = build_splits(data, FRONTEND)["training"]

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as if Ctrl-C arrived while the .npy was being written

    monkeypatch.setattr(np, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        load_clips(examples, data, FRONTEND, progress=False)
    assert not cache.exists() or list(cache.iterdir()) == []  # no half cache under any name
    monkeypatch.undo()
    bank = load_clips(examples, data, FRONTEND, progress=False)
    assert not bank.from_cache and load_clips(examples, data, FRONTEND, progress=False).from_cache
    # A damaged cache is ignored and rewritten, never trusted.
    Path(bank.cache_path).with_suffix(".json").write_text("{not json", encoding="utf-8")
    assert not load_clips(examples, data, FRONTEND, progress=False).from_cache

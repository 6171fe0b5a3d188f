"""Rooms, microphones, voices (kws.data.acoustics) and the realism steps of the training augmentation.

    .venv/bin/python -m pytest tests/test_acoustics.py -q

Measured on synthetic signals whose answer is known: a tone's frequency after speed perturbation, the RT60
of a simulated room by Schroeder integration, a channel's gain at chosen frequencies.
"""

from __future__ import annotations

import numpy as np
import pytest

from kws.config import ConfigError, DataConfig, FrontendConfig, TrainingConfig
from kws.data.acoustics import channel_response, measure_rt60, room_impulse_response, speed_perturb
from kws.data.augment import Augmenter, spec_augment_masks

RATE = 16000
FRONTEND = FrontendConfig()


def _peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), 8 * len(x)))  # zero-padded: 0.25 Hz bins at 8,000
    return float(np.fft.rfftfreq(8 * len(x), 1.0 / RATE)[np.argmax(spectrum)])


@pytest.mark.parametrize("factor", [0.87, 0.95, 1.0, 1.08, 1.15])
def test_speed_perturbation_moves_a_tone_by_the_factor(factor):
    t = np.arange(RATE) / RATE
    tone = np.sin(2 * np.pi * 440.0 * t).astype(np.float32)[None, :]
    out = speed_perturb(tone, np.array([factor]))
    # The middle half is inside the clip for every factor here; 0.25 Hz bins and a 4,000-sample Hann
    # window put the peak within 1 Hz of 440 * factor (linear interpolation does not move a peak).
    assert abs(_peak_hz(out[0, 6000:10000]) - 440.0 * factor) < 1.0
    assert out.dtype == np.float32 and out.shape == tone.shape


def test_speed_perturbation_keeps_the_centre_and_shortens_the_word():
    x = np.zeros((2, RATE), np.float32)
    x[:, 4000:12000] = 1.0  # a 0.5 s "word" centred in the clip
    out = speed_perturb(x, np.array([1.25, 0.8]))
    fast, slow = (np.flatnonzero(r > 0.5) for r in out)
    assert abs(len(fast) - 8000 / 1.25) <= 2 and abs(len(slow) - 8000 / 0.8) <= 2  # +-2: interpolated edges
    assert abs(fast.mean() - 7999.5) <= 1 and abs(slow.mean() - 7999.5) <= 1
    assert np.array_equal(speed_perturb(x, np.ones(2)), x)


@pytest.mark.parametrize("rt60", [0.15, 0.3, 0.5, 0.8])
def test_room_has_the_requested_rt60(rt60):
    rng = np.random.default_rng(7)
    measured = [measure_rt60(room_impulse_response(rng, RATE, rt60, drr_db=float(rng.uniform(0, 12))), RATE)
                for _ in range(8)]
    # One response is one draw of decaying noise: its T20 fit scatters by a few percent (measured: within
    # 5 % of the request for 0.15-0.8 s over 20 draws each); 10 % leaves room for the seed, not for a bug.
    assert all(abs(m / rt60 - 1.0) < 0.10 for m in measured), measured


def test_room_keeps_the_direct_path_and_sets_the_direct_to_reverberant_ratio():
    rng = np.random.default_rng(3)
    for drr in (0.0, 6.0, 12.0):
        rir = room_impulse_response(rng, RATE, 0.4, drr)
        assert rir[0] == 1.0
        reverberant = float(np.sum(rir[1:] ** 2))
        assert abs(10 * np.log10(1.0 / reverberant) - drr) < 1e-6  # scaled exactly, by construction
    assert len(room_impulse_response(rng, RATE, 0.4, 0.0)) == int(0.45 * RATE)
    with pytest.raises(ValueError):
        room_impulse_response(rng, RATE, 0.0, 0.0)


def test_channel_response_is_band_limited_and_bounded():
    freqs = np.fft.rfftfreq(16000, 1.0 / RATE)
    for seed in range(20):
        # max_db=0: the filters alone. A 2nd-order high-pass with its cut-off in 100-200 Hz is >= 28 dB down at
        # 20 Hz ((20/100)^2); a 4th-order low-pass with its cut-off in 3-4 kHz is >= 21.9 dB down at 7.5 kHz
        # ((7.5/4)^4), and both are within 3.02 dB (their -3 dB points) of unity from 400 Hz to 3 kHz.
        flat = channel_response(np.random.default_rng(seed), freqs, max_db=0.0, highpass_hz=(100.0, 200.0),
                                lowpass_hz=(3000.0, 4000.0))
        db = 20 * np.log10(np.maximum(flat, 1e-12))
        assert flat[0] < 1e-3
        assert db[freqs == 20].item() < -27.9 and db[freqs == 7500].item() < -21.8
        assert np.all(np.abs(db[(freqs >= 400) & (freqs <= 3000)]) <= 3.02)
        # With max_db=8 the tilt and three resonances change the pass band by at most 2 x max_db each way.
        shaped = channel_response(np.random.default_rng(seed), freqs, max_db=8.0, highpass_hz=(100.0, 200.0),
                                  lowpass_hz=(3000.0, 4000.0))
        band = (freqs >= 400) & (freqs <= 3000)
        assert np.all(np.abs(20 * np.log10(shaped[band] / flat[band])) <= 16.0 + 1e-9)
        assert np.ptp(20 * np.log10(shaped[band] / flat[band])) > 0.5  # and it does colour the sound


def test_realism_is_off_by_default_and_changes_nothing():
    noise = [np.random.default_rng(1).standard_normal(RATE * 3).astype(np.float32) * 0.1]
    aug = Augmenter(DataConfig(), FRONTEND, noise)
    params = aug.draw(np.zeros(8, bool), np.random.default_rng(2))
    assert params.speed is None and params.room is None and params.channel is None and params.level is None


def test_realism_draws_after_the_recipe_and_is_reproducible():
    silence = np.zeros(64, bool)
    silence[:8] = True
    noise = [np.random.default_rng(1).standard_normal(RATE * 3).astype(np.float32) * 0.1]
    plain = Augmenter(DataConfig(), FRONTEND, noise).draw(silence, np.random.default_rng(5))
    data = DataConfig(speed_perturbation=0.2, reverb_probability=0.5, channel_probability=0.5, min_level_db=-12,
                      max_level_db=6)
    aug = Augmenter(data, FRONTEND, noise)
    params = aug.draw(silence, np.random.default_rng(5))
    for name in ("shifts", "noise_index", "noise_offset", "volume", "foreground"):  # the recipe's choices stay
        assert np.array_equal(getattr(params, name), getattr(plain, name))
    assert np.all((params.speed >= 1 / 1.2 - 1e-6) & (params.speed <= 1.2 + 1e-6))
    assert np.all(params.room[:8] == -1) and np.all(params.channel[:8] == -1)  # silence is not a word
    assert 0 < np.mean(params.room[8:] >= 0) < 1 and 0 < np.mean(params.channel[8:] >= 0) < 1
    db = 20 * np.log10(params.level)
    assert np.all((db >= -12 - 1e-4) & (db <= 6 + 1e-4))
    clips = (np.random.default_rng(0).standard_normal((64, RATE)) * 2000).astype(np.int16)
    a = aug.apply(clips, params)
    b = Augmenter(data, FRONTEND, noise).apply(clips, params)  # a fresh bank from the same data.seed
    assert np.array_equal(a, b) and a.dtype == np.float32 and np.abs(a).max() <= 1.0


def test_a_room_adds_a_tail_and_a_level_scales():
    data = DataConfig(reverb_probability=1.0, min_rt60_s=0.5, max_rt60_s=0.5, background_frequency=0.0)
    aug = Augmenter(data, FRONTEND, [])
    click = np.zeros((1, RATE), np.int16)
    click[0, 1000] = 16000
    params = aug.draw(np.zeros(1, bool), np.random.default_rng(0))
    params = type(params)(np.zeros(1, np.int64), *(getattr(params, f) for f in ("noise_index", "noise_offset",
                                                                                   "volume", "foreground")),
                          speed=np.ones(1, np.float32), room=np.array([3]), channel=np.array([-1]),
                          level=np.array([0.5], np.float32))
    out = aug.apply(click, params)[0]
    assert abs(out[1000] - 0.5 * 16000 / 32768) < 1e-3  # the direct path, at half the level
    assert np.all(np.abs(out[:1000]) < 1e-6)  # causal (FFT filtering leaves ~1e-10 of round-off)
    tail = out[1100:1000 + int(0.4 * RATE)]
    assert np.sqrt(np.mean(tail ** 2)) > 1e-4  # the room's decay follows the click


def test_spec_augment_masks_have_the_requested_spans():
    rng = np.random.default_rng(0)
    mask = spec_augment_masks(rng, (200, 49, 40), 2, 8, 1, 6)
    assert mask.shape == (200, 49, 40) and mask.dtype == bool
    time_hidden = mask.all(axis=2).sum(axis=1)  # frames hidden across every channel
    freq_hidden = mask.all(axis=1).sum(axis=1)  # channels hidden across every frame
    assert time_hidden.max() <= 16 and freq_hidden.max() <= 6
    assert time_hidden.mean() > 3 and freq_hidden.mean() > 1.5  # spans are drawn 0..max: mean ~max/2 per mask
    assert not spec_augment_masks(rng, (4, 49, 40), 0, 8, 0, 6).any()
    again = spec_augment_masks(np.random.default_rng(0), (200, 49, 40), 2, 8, 1, 6)
    assert np.array_equal(mask, again)


@pytest.mark.parametrize("section, values", [
    (DataConfig, {"speed_perturbation": 1.0}), (DataConfig, {"speed_perturbation": -0.1}),
    (DataConfig, {"reverb_probability": 1.5}), (DataConfig, {"channel_probability": -0.1}),
    (DataConfig, {"min_rt60_s": 0.0}), (DataConfig, {"min_rt60_s": 0.9, "max_rt60_s": 0.5}),
    (DataConfig, {"min_level_db": 3.0, "max_level_db": 0.0}), (DataConfig, {"channel_max_db": -1.0}),
    (TrainingConfig, {"spec_time_masks": -1}), (TrainingConfig, {"spec_freq_mask_bins": -2}),
])
def test_bad_realism_settings_are_config_errors(section, values):
    with pytest.raises(ConfigError):
        section(**values).validate()


def test_training_applies_spec_augment_per_step_with_the_example_mean():
    import torch

    from kws.config import KwsConfig
    from kws.train import _spec_augment

    x = torch.randn(4, 49, 40)
    off = KwsConfig()
    assert _spec_augment(x, off, 3) is x
    on = KwsConfig(training=TrainingConfig(spec_time_masks=2, spec_time_mask_frames=8, spec_freq_masks=1,
                                           spec_freq_mask_bins=6))
    a, b, c = _spec_augment(x, on, 3), _spec_augment(x, on, 3), _spec_augment(x, on, 4)
    assert torch.equal(a, b) and not torch.equal(a, c)  # a resumed run draws the same masks for a step
    changed = a != x
    assert changed.any()
    mean = x.mean(dim=(1, 2), keepdim=True).expand_as(x)
    assert torch.equal(a[changed], mean[changed])

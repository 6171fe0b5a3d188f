"""`kws data synth`: the synthetic keyword set is laid out like Speech Commands, reproducible and atomic.

    .venv/bin/python -m pytest tests/test_synth.py -q

A tiny config (2 keywords x 6 clips, 3 unknown words x 2 clips, 2 s of background noise) keeps the
whole file to a few seconds; the dataset is built once per module and shared by the read-only tests.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from kws.cli import main
from kws.config import BACKGROUND_NOISE_DIR, FrontendConfig, SynthConfig, replace
from kws.data import synth, synth_plan, synth_render
from kws.data.audio import load_audio
from kws.data.espeak import Synthesizer, find_espeak
from kws.data.split import read_list, which_set
from kws.errors import DataError, KwsError

TINY = SynthConfig(keywords=("yes", "no"), unknown_words=("up", "down", "marvin"), clips_per_keyword=6,
                   clips_per_unknown_word=2, background_seconds=2.0, workers=1, seed=7)
FRONTEND = FrontendConfig()
CLIP_NAME = re.compile(r"^[0-9a-f]{8}_nohash_\d+\.wav$")
BACKGROUND_FILES = {"white_noise.wav", "pink_noise.wav", "brown_noise.wav", "mains_hum_50hz.wav",
                    "mains_hum_60hz.wav", "babble.wav"}


def _tiny(out: Path, **changes: object) -> SynthConfig:
    return replace(TINY, out_dir=str(out), **changes)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, synth.SynthReport]:
    out = tmp_path_factory.mktemp("synth") / "tiny"
    report = synth.synthesize(_tiny(out), FRONTEND, progress=False)
    return out, report


def _clips(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*.wav") if p.parent.name != BACKGROUND_NOISE_DIR)


def _leftovers(parent: Path) -> list[str]:
    """Temporary folders atomic_directory would leave behind if clean-up failed."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_layout_matches_speech_commands(dataset):
    root, report = dataset
    words = ["yes", "no", "up", "down", "marvin"]
    top = {p.name for p in root.iterdir()}
    assert top == {*words, BACKGROUND_NOISE_DIR, "testing_list.txt", "validation_list.txt", "README.md",
                   "manifest.json"}
    for word in words:
        names = [p.name for p in (root / word).iterdir()]
        assert all(CLIP_NAME.match(n) for n in names), names
        assert len(names) == (6 if word in ("yes", "no") else 2)
    assert {p.name for p in (root / BACKGROUND_NOISE_DIR).glob("*.wav")} == BACKGROUND_FILES
    assert report.counts == {"yes": 6, "no": 6, "up": 2, "down": 2, "marvin": 2}
    assert report.total_clips == 18 and sum(report.split_counts.values()) == 18
    assert set(report.background) == BACKGROUND_FILES
    summary = report.summary()
    assert "18 clips" in summary and str(root) in summary and "seed 7" in summary


def test_speakers_say_several_clips_and_words(dataset):
    root, report = dataset
    speakers: dict[str, set[str]] = {}
    for clip in _clips(root):
        speakers.setdefault(clip.name[:8], set()).add(clip.parent.name)
    # 18 clips from a pool of synth_plan.MIN_SPEAKERS speakers: some speaker must say more than one word.
    assert len(speakers) <= report.speakers == synth_plan.MIN_SPEAKERS
    assert max(len(words) for words in speakers.values()) >= 2
    # The nohash index counts one speaker's repetitions of one word: 0, 1, 2, ... without gaps.
    for word_dir in {c.parent for c in _clips(root)}:
        for sid in {c.name[:8] for c in word_dir.iterdir()}:
            indices = sorted(int(c.stem.split("_")[-1]) for c in word_dir.glob(f"{sid}_nohash_*.wav"))
            assert indices == list(range(len(indices)))
    assert all("+" in v or v in synth_plan.ACCENTS for v in report.voices)


def test_lists_follow_the_hash_split(dataset):
    root, _ = dataset
    testing, validation = read_list(root / "testing_list.txt"), read_list(root / "validation_list.txt")
    expected = {"testing": set(), "validation": set()}
    for clip in _clips(root):
        relpath = f"{clip.parent.name}/{clip.name}"
        split = which_set(relpath, 10, 10)
        if split != "training":
            expected[split].add(relpath)
    assert testing == expected["testing"] and validation == expected["validation"]
    for entry in testing | validation:
        assert (root / entry).is_file(), entry
    for name in ("testing_list.txt", "validation_list.txt"):
        text = (root / name).read_text()
        assert text == "" or (text.endswith("\n") and "\\" not in text)


def test_every_wav_is_16k_mono_pcm16_of_the_right_length(dataset):
    root, _ = dataset
    for path in sorted(root.rglob("*.wav")):
        info = soundfile.info(path)
        assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV"), path
        audio, fixes = load_audio(path, FRONTEND.sample_rate)
        assert not fixes.any, path
        expected = 2 * 16000 if path.parent.name == BACKGROUND_NOISE_DIR else FRONTEND.clip_samples
        assert info.frames == len(audio) == expected, path
        assert path.stat().st_size == 44 + 2 * expected, path  # canonical header, no extra chunks


def test_clips_hold_speech_that_is_neither_clipped_nor_cut_off(dataset):
    root, _ = dataset
    for path in _clips(root):
        samples, _ = soundfile.read(path, dtype="int16")
        peak_db = 20 * np.log10(np.abs(samples.astype(np.int32)).max() / 32768)
        # Peak-normalised to [min_gain_db, max_gain_db]; the noise floor may add a fraction of a dB.
        assert TINY.min_gain_db - 1 <= peak_db <= TINY.max_gain_db + 0.5, (path, peak_db)
        frames = (samples / 32768.0).reshape(-1, 160)  # 10 ms frames
        level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
        assert level.max() > -50, (path, level.max())                # speech energy is there
        assert level.max() - np.percentile(level, 10) > 20, path     # ... well above the floor
        # Never cut off: the first and last 10 ms are quiet compared with the word.
        assert max(level[0], level[-1]) < level.max() - 25, path


def test_background_noise_is_loud_enough_and_varied(dataset):
    root, _ = dataset
    levels = {}
    for name in BACKGROUND_FILES:
        audio, _ = load_audio(root / BACKGROUND_NOISE_DIR / name, 16000)
        levels[name] = 10 * np.log10(np.mean(audio.astype(np.float64) ** 2))
        assert np.abs(audio).max() < 1.0
    assert all(-30 < level < -10 for level in levels.values()), levels
    white, _ = load_audio(root / BACKGROUND_NOISE_DIR / "white_noise.wav", 16000)
    brown, _ = load_audio(root / BACKGROUND_NOISE_DIR / "brown_noise.wav", 16000)
    # Brown noise is a rumble: far less energy above 2 kHz than white noise.
    def high_share(x: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(x)) ** 2
        return float(spectrum[len(spectrum) // 4:].sum() / spectrum.sum())
    assert high_share(brown) < 0.01 < 0.5 < high_share(white)


def test_manifest_hashes_every_file_sorted(dataset):
    root, _ = dataset
    manifest = json.loads((root / "manifest.json").read_text())
    paths = [entry["path"] for entry in manifest["files"]]
    on_disk = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert paths == sorted(paths) == [p for p in on_disk if p != "manifest.json"]
    for entry in manifest["files"]:
        data = (root / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
    assert manifest["seed"] == 7 and manifest["counts"]["yes"] == 6
    assert "out_dir" not in manifest["config"]["synth"] and "workers" not in manifest["config"]["synth"]
    readme = (root / "README.md").read_text()
    assert "Seed: 7" in readme and "espeak-ng" in readme and "Licence" in readme


def test_same_seed_same_bytes_whatever_the_worker_count(dataset, tmp_path):
    root, _ = dataset
    synth.synthesize(_tiny(tmp_path / "two", workers=2), FRONTEND, progress=False)
    assert (tmp_path / "two" / "manifest.json").read_bytes() == (root / "manifest.json").read_bytes()


def test_a_different_seed_gives_different_clips(dataset, tmp_path):
    root, _ = dataset
    other = tmp_path / "other"
    synth.synthesize(_tiny(other, seed=8), FRONTEND, progress=False)
    def wav_hashes(root: Path) -> set[str]:
        files = json.loads((root / "manifest.json").read_text())["files"]
        return {e["sha256"] for e in files if e["path"].endswith(".wav")}
    assert len(wav_hashes(other)) == 18 + len(BACKGROUND_FILES)
    assert not wav_hashes(root) & wav_hashes(other)


def test_espeak_utterances_do_not_depend_on_what_came_before():
    # espeak-ng carries state between utterances inside one process; the helper forks per utterance.
    with Synthesizer(find_espeak()) as tts:
        first = tts.synth("seven", "en+whisper", rate=170, pitch=40, pitch_range=50, seed=3)
        tts.synth("house", "en-us+klatt", rate=120, pitch=70, pitch_range=80, seed=9)
        again = tts.synth("seven", "en+whisper", rate=170, pitch=40, pitch_range=50, seed=3)
        # The seed drives espeak-ng's breath noise (whispered voices), so it matters there.
        reseeded = tts.synth("seven", "en+whisper", rate=170, pitch=40, pitch_range=50, seed=4)
        assert tts.sample_rate == 22050
    assert np.array_equal(first, again) and len(first) > 2000
    assert not np.array_equal(first, reseeded)
    with Synthesizer(find_espeak()) as tts, pytest.raises(KwsError, match="no voice"):
        tts.synth("yes", "xx-nosuch", rate=170, pitch=40, pitch_range=50, seed=3)


def test_refuses_to_overwrite_without_replace(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(KwsError, match="--replace") as caught:
        synth.synthesize(_tiny(out), FRONTEND, progress=False)
    assert str(out) in str(caught.value)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert _leftovers(tmp_path) == []


def test_replace_swaps_in_a_complete_dataset(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "old.txt").write_text("old")
    synth.synthesize(_tiny(out, keywords=("yes",), unknown_words=(), clips_per_keyword=2), FRONTEND,
                     replace=True, progress=False)
    assert not (out / "old.txt").exists() and (out / "manifest.json").is_file()
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_a_failure_midway_leaves_nothing_behind(tmp_path, monkeypatch, error):
    real = synth_render._render_clip
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(synth_render, "_render_clip", failing)
    with pytest.raises(type(error)):
        synth.synthesize(_tiny(tmp_path / "data"), FRONTEND, progress=False)
    assert len(calls) == 5
    assert list(tmp_path.iterdir()) == []


def test_a_word_too_long_for_the_window_is_sped_up_and_never_cut(tmp_path):
    word = "antidisestablishmentarianism"
    out = tmp_path / "long"
    synth.synthesize(_tiny(out, keywords=(word,), unknown_words=(), clips_per_keyword=2, min_speed_wpm=80,
                           max_speed_wpm=80), FRONTEND, progress=False)
    for path in (out / word).iterdir():
        samples, _ = soundfile.read(path, dtype="float64")
        level = 10 * np.log10(np.mean(samples.reshape(-1, 160) ** 2, axis=1) + 1e-12)
        assert len(samples) == 16000 and max(level[0], level[-1]) < level.max() - 25


def test_a_sentence_that_cannot_fit_is_a_clear_error_even_from_a_worker(tmp_path):
    sentence = "this sentence is far too long to be spoken in one short second even at top speed"
    with pytest.raises(DataError, match="words per minute"):
        synth.synthesize(_tiny(tmp_path / "s", keywords=(sentence,), unknown_words=(), clips_per_keyword=1,
                               workers=2), FRONTEND, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_bad_words_are_config_errors(tmp_path):
    for words in (("../evil",), ("_silence_",), ("yes", "YES")):
        with pytest.raises(KwsError):
            synth.synthesize(_tiny(tmp_path / "x", keywords=words, unknown_words=()), FRONTEND, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_missing_espeak_says_what_to_install(monkeypatch):
    import ctypes.util

    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # makes `import espeakng_loader` fail
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    with pytest.raises(KwsError, match="pip install espeakng-loader"):
        find_espeak()


def test_trim_silence_keeps_the_sound_and_a_margin():
    audio = np.zeros(16000)
    audio[5000:8000] = np.sin(np.arange(3000) * 0.3)
    trimmed = synth_render.trim_silence(audio, 16000, margin_ms=10)
    assert 3000 <= len(trimmed) <= 3000 + 2 * 160 + 2 * 160
    assert len(synth_render.trim_silence(np.zeros(100), 16000)) == 0


def test_cli_writes_the_dataset_and_refuses_a_second_time(tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["data", "synth", "--out", str(out), "--quiet", "--workers", "1", "--seed", "3",
            "--set", 'synth.keywords=["yes"]', "--set", "synth.unknown_words=[]",
            "--set", "synth.clips_per_keyword=2", "--set", "synth.background_seconds=1.0"]
    assert main(args) == 0
    assert "2 clips" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["counts"] == {"yes": 2}
    assert main(args) == 2
    assert "--replace" in capsys.readouterr().err
    assert main([*args, "--replace"]) == 0


def test_espeak_module_lists_voices():
    result = subprocess.run([sys.executable, "-m", "kws.data.espeak"], capture_output=True, text=True, check=True)
    assert "espeak-ng" in result.stdout and "en-us" in result.stdout and "whisper" in result.stdout


def test_everyday_noises_join_the_background_and_leave_the_rest_unchanged(dataset, tmp_path):
    root, _ = dataset
    report = synth.synthesize(_tiny(tmp_path / "everyday", everyday_noises=True), FRONTEND, progress=False)
    extra = {"running_water.wav", "machine.wav", "clatter.wav"}
    assert set(report.background) == BACKGROUND_FILES | extra
    noise = tmp_path / "everyday" / BACKGROUND_NOISE_DIR
    for name in BACKGROUND_FILES:  # their own random streams: the six recordings are byte for byte the same
        assert (noise / name).read_bytes() == (root / BACKGROUND_NOISE_DIR / name).read_bytes(), name
    assert "running_water.wav" in (noise / "README.md").read_text()
    audio = {name: load_audio(noise / name, 16000)[0].astype(np.float64) for name in extra}
    level = {name: 10 * np.log10(np.mean(x ** 2)) for name, x in audio.items()}
    # Normalised to -20 dBFS RMS (+-0.5 dB: int16 rounding), unless the peak would pass -1 dBFS: then scaled
    # down to that peak, as the dishes' impacts are.
    assert all(abs(level[name] + 20) < 0.5 for name in ("running_water.wav", "machine.wav")), level
    assert -35 < level["clatter.wav"] <= -19.5 and np.abs(audio["clatter.wav"]).max() <= 10 ** (-1 / 20) + 1e-4
    # Dishes are impacts: a far higher peak-to-RMS ratio than a steady tap or motor.
    crest = {name: np.abs(x).max() / np.sqrt(np.mean(x ** 2)) for name, x in audio.items()}
    assert crest["clatter.wav"] > 2 * max(crest["running_water.wav"], crest["machine.wav"])
    # The motor's rotation is a strong low tone: most of its energy below 1 kHz sits in a few narrow peaks.
    spectrum = np.abs(np.fft.rfft(audio["machine.wav"])) ** 2
    low = spectrum[:len(spectrum) * 1000 // 8000]
    assert np.sort(low)[-200:].sum() > 0.3 * low.sum()

"""load_audio on awkward inputs (other rates, stereo, sample formats, broken files), alone and via the loader.

    .venv/bin/python -m pytest tests/test_audio.py -q
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from kws.config import DataConfig, FrontendConfig
from kws.data.audio import fit_length, load_audio, to_int16
from kws.data.clips import load_clips
from kws.data.index import build_splits
from kws.data.split import which_set
from kws.data.stats import dataset_stats
from kws.errors import AudioFormatError

SR = 16000


def _tone(rate: int, seconds: float = 1.0, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _write(path, audio, rate=SR, subtype="PCM_16"):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, audio, rate, subtype=subtype, format="WAV")
    return path


def _dominant_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    return float(np.argmax(spectrum) * rate / len(audio))


def test_clean_16k_file_needs_no_fix(tmp_path):
    audio, fixes = load_audio(_write(tmp_path / "a.wav", _tone(SR)), SR)
    assert audio.dtype == np.float32 and audio.shape == (SR,)
    assert not fixes.any


@pytest.mark.parametrize("rate", [8000, 44100])
def test_other_rates_are_resampled_to_the_right_length(tmp_path, rate):
    audio, fixes = load_audio(_write(tmp_path / "r.wav", _tone(rate), rate), SR)
    assert fixes.resampled_from == rate and fixes.downmixed_from is None and fixes.converted_from is None
    assert audio.shape == (SR,)  # 1 s stays 1 s
    assert _dominant_hz(audio, SR) == pytest.approx(440.0, abs=2.0)  # the pitch survives resampling


def test_stereo_is_downmixed_to_the_mean(tmp_path):
    left, right = _tone(SR, freq=300), _tone(SR, freq=500, amp=0.25)
    audio, fixes = load_audio(_write(tmp_path / "s.wav", np.stack([left, right], axis=1)), SR)
    assert fixes.downmixed_from == 2 and fixes.resampled_from is None
    np.testing.assert_allclose(audio, (left + right) / 2, atol=2 / 32768)  # 16-bit storage


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_24", "PCM_32", "FLOAT"])
def test_other_sample_formats_are_converted(tmp_path, subtype):
    tone = _tone(SR)
    audio, fixes = load_audio(_write(tmp_path / "f.wav", tone, subtype=subtype), SR)
    assert fixes.converted_from == subtype
    tolerance = 1 / 64 if subtype == "PCM_U8" else 1e-4  # 8-bit keeps ~1/128 of resolution
    np.testing.assert_allclose(audio, tone, atol=tolerance)


def test_truncated_file_is_rejected_by_name(tmp_path):
    path = _write(tmp_path / "cut.wav", _tone(SR))
    path.write_bytes(path.read_bytes()[:-5000])  # the data chunk now says more than the file holds
    with pytest.raises(AudioFormatError, match="truncated") as info:
        load_audio(path, SR)
    assert info.value.path == str(path) and "cut.wav" in str(info.value)


def test_header_without_data_chunk_is_rejected(tmp_path):
    path = _write(tmp_path / "hdr.wav", _tone(SR))
    path.write_bytes(path.read_bytes()[:36])  # RIFF + fmt chunk only
    with pytest.raises(AudioFormatError, match="no data chunk"):
        load_audio(path, SR)


def test_text_file_named_wav_is_rejected(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio, just a text file with the wrong extension\n", encoding="utf-8")
    with pytest.raises(AudioFormatError, match="not a WAV") as info:
        load_audio(path, SR)
    assert "notes.wav" in str(info.value)


def test_empty_file_is_rejected(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioFormatError, match="empty") as info:
        load_audio(path, SR)
    assert "empty.wav" in str(info.value)


def test_missing_file_is_rejected(tmp_path):
    with pytest.raises(AudioFormatError, match="not found") as info:
        load_audio(tmp_path / "ghost.wav", SR)
    assert "ghost.wav" in str(info.value)


def test_nan_samples_are_rejected(tmp_path):
    tone = _tone(SR)
    tone[100] = np.nan
    with pytest.raises(AudioFormatError, match="NaN"):
        load_audio(_write(tmp_path / "nan.wav", tone, subtype="FLOAT"), SR)


def test_fit_length_and_to_int16():
    assert fit_length(np.ones(5, np.float32), 8).tolist() == [1, 1, 1, 1, 1, 0, 0, 0]
    assert fit_length(np.arange(10, dtype=np.float32), 4).tolist() == [0, 1, 2, 3]
    assert to_int16(np.array([-1.5, -1.0, 0.0, 0.5, 1.0], np.float32)).tolist() == [-32768, -32768, 0, 16384, 32767]


# ------------------------------------------------------------------------------------------- via the loader

def _speakers_per_split(n: int = 2) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"training": [], "validation": [], "testing": []}
    i = 0
    while any(len(v) < n for v in found.values()):
        speaker = f"{i:08x}"
        split = which_set(f"{speaker}_nohash_0.wav", 10, 10)
        if len(found[split]) < n:
            found[split].append(speaker)
        i += 1
    return found


@pytest.fixture()
def dataset_with_bad_files(tmp_path):
    """A small full-layout set: yes/no clips of six speakers, one 8 kHz clip, one text file, noise."""
    root = tmp_path / "ds"
    rng = np.random.default_rng(0)
    for speakers in _speakers_per_split().values():
        for speaker in speakers:
            for word in ("yes", "no", "cat"):
                _write(root / word / f"{speaker}_nohash_0.wav", 0.1 * rng.standard_normal(SR // 4).astype(np.float32))
    training = _speakers_per_split()["training"]
    _write(root / "yes" / f"{training[0]}_nohash_1.wav", _tone(8000, 0.5), 8000)
    bad = root / "no" / f"{training[1]}_nohash_1.wav"
    bad.write_text("not audio", encoding="utf-8")
    _write(root / "_background_noise_" / "noise.wav", 0.1 * rng.standard_normal(SR * 2).astype(np.float32))
    return root, bad


def test_loader_stops_at_a_bad_file_and_names_it(dataset_with_bad_files, tmp_path):
    root, bad = dataset_with_bad_files
    data = DataConfig(data_dir=str(root), cache_dir=str(tmp_path / "cache"), on_bad_audio="error")
    splits = build_splits(data, FrontendConfig())
    with pytest.raises(AudioFormatError, match="on_bad_audio='skip'") as info:
        load_clips(splits["training"], data, FrontendConfig(), progress=False)
    assert info.value.path == str(bad)


def test_loader_skips_and_counts_bad_files_and_fixes(dataset_with_bad_files, tmp_path):
    root, bad = dataset_with_bad_files
    data = DataConfig(data_dir=str(root), cache_dir=str(tmp_path / "cache"), on_bad_audio="skip")
    frontend = FrontendConfig()
    examples = build_splits(data, frontend)["training"]
    bank = load_clips(examples, data, frontend, progress=False)
    assert [p for p, _ in bank.skipped] == [str(bad)]
    assert len(bank) == len(examples) - 1 and str(bad) not in {e.path for e in bank.examples}
    assert bank.fixes == {"resampled": 1, "downmixed": 0, "converted": 0, "trimmed": 0}
    assert bank.audio.shape == (len(examples) - 1, frontend.clip_samples)
    # The resampled 0.5 s clip is padded with zeros to one clip.
    row = [i for i, e in enumerate(bank.examples) if e.path.endswith("_nohash_1.wav") and "/yes/" in e.path][0]
    assert np.any(bank.audio[row, :7000]) and not np.any(bank.audio[row, 8100:])

    again = load_clips(examples, data, frontend, progress=False)
    assert again.from_cache and again.skipped == bank.skipped and again.fixes == bank.fixes
    # A cache made while skipping must not hide the bad file from a run that asks to stop on it.
    strict = DataConfig(data_dir=str(root), cache_dir=str(tmp_path / "cache"), on_bad_audio="error")
    with pytest.raises(AudioFormatError) as info:
        load_clips(examples, strict, frontend, progress=False)
    assert info.value.path == str(bad)


def test_stats_check_audio_reports_fixes_and_bad_files(dataset_with_bad_files):
    root, bad = dataset_with_bad_files
    stats = dataset_stats(DataConfig(data_dir=str(root)), FrontendConfig(), check_audio=True, progress=False)
    assert stats.audio_checked and stats.bad_files == 1 and stats.first_bad[0][0] == str(bad)
    assert stats.fixes == {"resampled": 1, "downmixed": 0, "converted": 0, "trimmed": 0}
    assert stats.files_checked == 6 * 3 + 2 + 1  # clips + the two extra + one noise file


@pytest.fixture()
def dataset_with_long_clip(tmp_path):
    """Short clips of six speakers, one 30 s recording among them, and 2 s of (rightly long) noise."""
    root = tmp_path / "long"
    rng = np.random.default_rng(1)
    speakers = _speakers_per_split()
    for split_speakers in speakers.values():
        for speaker in split_speakers:
            for word in ("yes", "no"):
                _write(root / word / f"{speaker}_nohash_0.wav", 0.1 * rng.standard_normal(SR // 4).astype(np.float32))
    long = _write(root / "yes" / f"{speakers['training'][0]}_nohash_1.wav", _tone(SR, 30.0))
    _write(root / "_background_noise_" / "noise.wav", 0.1 * rng.standard_normal(SR * 2).astype(np.float32))
    return root, long


def test_loader_counts_and_warns_about_clips_longer_than_a_clip(dataset_with_long_clip, tmp_path, caplog):
    root, long = dataset_with_long_clip
    data = DataConfig(data_dir=str(root), cache_dir=str(tmp_path / "cache"))
    frontend = FrontendConfig()
    examples = build_splits(data, frontend)["training"]
    with caplog.at_level("WARNING", logger="kws.data.clips"):
        bank = load_clips(examples, data, frontend, progress=False)
    assert bank.fixes["trimmed"] == 1
    assert "only the first 1 s" in bank.summary()
    assert str(long) in caplog.text and "30.0 s" in caplog.text and "only the first 1 s" in caplog.text
    again = load_clips(examples, data, frontend, progress=False)
    assert again.from_cache and again.fixes["trimmed"] == 1


def test_stats_check_audio_reports_long_clips_but_not_long_noise(dataset_with_long_clip, capsys):
    from kws.cli import main

    root, long = dataset_with_long_clip
    stats = dataset_stats(DataConfig(data_dir=str(root)), FrontendConfig(), check_audio=True, progress=False)
    assert stats.fixes is not None and stats.fixes["trimmed"] == 1  # the 2 s noise file is meant to be long
    assert stats.first_long == ((str(long), 30.0),)
    assert main(["data", "stats", "--data", str(root), "--check-audio", "--quiet"]) == 0
    captured = capsys.readouterr()
    out = " ".join(captured.out.split())
    assert "1 clip is longer than 1 s" in out and "only the first 1 s" in out
    assert str(long) in "".join(captured.out.split())  # rich wraps long lines
    assert captured.err == ""


def test_cli_stats_check_audio_fails_on_unusable_files(dataset_with_bad_files, capsys):
    from kws.cli import main

    root, bad = dataset_with_bad_files
    assert main(["data", "stats", "--data", str(root), "--quiet"]) == 0  # counting alone reads no audio
    capsys.readouterr()
    assert main(["data", "stats", "--data", str(root), "--check-audio", "--quiet"]) == 2
    captured = capsys.readouterr()
    assert str(bad) in "".join(captured.out.split())  # the report is still printed (rich wraps long lines)
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kws: error: 1 of 21 audio files is unusable")
    assert f"first: {bad}" in lines[0] and "Traceback" not in captured.err

"""The feature frontend: shapes, torch-vs-reference int8 parity on real speech, TFLite rounding, the
spec hash, the generated C header (compiled and run), the MFCC path and the feature plot.

    .venv/bin/python -m pytest tests/test_frontend.py -q

librosa's mel filterbank compiles with numba on its first call in a fresh environment (~15 s): the
session fixture `default_tables` pays that once, before any test that needs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from kws.config import FrontendConfig, replace
from kws.errors import DataError
from kws.frontend import (
    TorchFrontend,
    dequantize_features,
    describe_features,
    frontend_tables,
    quantize_features,
    reference_features,
    reference_features_int8,
    round_half_away_from_zero,
)
from kws.frontend_tables import HEADER_NAME, c_float, write_c_tables

# A deliberate change of any FrontendConfig default must update this (and the device reports it).
GOLDEN_SPEC_HASH = "56bf11d6598f27c8923a854e24de9434b93552cf21f52ec91fde0103dc0d5900"

LOGMEL = FrontendConfig()
MFCC = FrontendConfig(feature_type="mfcc")


@pytest.fixture(scope="session")
def default_tables():
    """The default tables, built once per session (this is where numba compiles, if it must)."""
    return frontend_tables(LOGMEL)


def _spread(files: list[Path], n: int) -> list[Path]:
    """n files spread evenly over a sorted list: different speakers, deterministic."""
    files = sorted(files)
    return [files[i] for i in np.linspace(0, len(files) - 1, num=min(n, len(files))).round().astype(int)]


@pytest.fixture(scope="session")
def real_clips(sc_real_dev: Path, sc_mini: Path, default_tables) -> tuple[np.ndarray, list[str]]:
    """54 real 1 s clips as int16 (n, 16000): 3 per label of the twelve test-set folders (incl.
    _silence_), 12 words of sc-mini, and the first second of each _background_noise_ recording."""
    from kws.data.audio import fit_length, load_audio, to_int16

    chosen: list[tuple[Path, str]] = []
    for folder in sorted(p for p in sc_real_dev.iterdir() if p.is_dir()):
        chosen += [(f, folder.name) for f in _spread(list(folder.glob("*.wav")), 3)]
    words = sorted(p for p in sc_mini.iterdir() if p.is_dir() and not p.name.startswith("_"))
    chosen += [(sorted(w.glob("*.wav"))[0], w.name) for w in words[:12]]
    chosen += [(f, "_background_noise_") for f in sorted((sc_mini / "_background_noise_").glob("*.wav"))]
    clips, labels = [], []
    for path, label in chosen:
        audio, _fixes = load_audio(path, LOGMEL.sample_rate)
        clips.append(to_int16(fit_length(audio, LOGMEL.clip_samples)))
        labels.append(label)
    return np.stack(clips), labels


# ------------------------------------------------------------------------------------------ (a) shapes

def test_one_second_gives_49_by_40(default_tables):
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, 16000)
    features = reference_features(audio, LOGMEL)
    assert features.shape == (49, 40) and features.dtype == np.float64
    batch = torch.from_numpy(np.stack([audio, audio[::-1].copy()])).float()
    assert TorchFrontend(LOGMEL)(batch).shape == (2, 49, 40)
    assert reference_features_int8(audio, LOGMEL).dtype == np.int8


@pytest.mark.parametrize("length", [512, 831, 832, 1000, 16319, 16320, 24000])
def test_frames_formula_for_other_lengths(length, default_tables):
    expected = 1 + (length - 512) // 320
    audio = np.random.default_rng(length).uniform(-0.5, 0.5, length).astype(np.float32)
    assert reference_features(audio, LOGMEL).shape == (expected, 40)
    assert TorchFrontend(LOGMEL)(torch.from_numpy(audio)[None]).shape == (1, expected, 40)


def test_too_short_or_wrong_audio_is_a_data_error(default_tables):
    with pytest.raises(DataError, match="at least n_fft=512"):
        reference_features(np.zeros(511, dtype=np.float32), LOGMEL)
    with pytest.raises(DataError, match="at least n_fft=512"):
        TorchFrontend(LOGMEL)(torch.zeros(1, 511))
    with pytest.raises(DataError, match="dtype"):
        reference_features(np.zeros(16000, dtype=np.int32), LOGMEL)
    with pytest.raises(DataError, match="NaN"):
        reference_features(np.full(16000, np.nan), LOGMEL)


def test_reference_matches_a_hand_written_numpy_frontend(default_tables):
    """librosa.stft with center=False and the padded window is exactly the framing the spec states."""
    rng = np.random.default_rng(1)
    audio = rng.integers(-8000, 8000, 16000).astype(np.int16)
    x = audio / 32768.0
    window = np.zeros(512)
    window[16:496] = default_tables.window  # central zero-padding: (512 - 480) // 2 = 16
    frames = np.stack([x[t * 320:t * 320 + 512] for t in range(49)]) * window
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    expected = np.log(power @ default_tables.mel.T.astype(np.float64) + 1e-6)
    # Two float64 FFT implementations (pocketfft orderings) differ by rounding only.
    np.testing.assert_allclose(reference_features(audio, LOGMEL), expected, rtol=0, atol=1e-9)
    import librosa

    np.testing.assert_array_equal(
        default_tables.padded_window,
        librosa.util.pad_center(librosa.filters.get_window("hann", 480, fftbins=True), size=512).astype(np.float32))


def test_tables_are_shared_read_only_and_not_in_checkpoints(default_tables):
    assert frontend_tables(FrontendConfig()) is default_tables
    assert not default_tables.mel.flags.writeable
    assert default_tables.mel.shape == (40, 257) and default_tables.dct.shape == (10, 40)
    assert (default_tables.mel.max(axis=1) > 0).all(), "an empty mel channel"
    assert TorchFrontend(LOGMEL).state_dict() == {}


# ----------------------------------------------------------------------------------- (b) parity

def _parity(reference: np.ndarray, candidate: np.ndarray) -> tuple[float, int]:
    diff = np.abs(reference.astype(np.int16) - candidate.astype(np.int16))
    return float((diff == 0).mean()), int(diff.max())


@pytest.mark.parametrize("cfg", [LOGMEL, MFCC], ids=["logmel", "mfcc"])
def test_torch_matches_reference_int8_on_real_clips(cfg, real_clips):
    clips, labels = real_clips
    assert {"_silence_", "_unknown_", "yes", "_background_noise_"} <= set(labels) and len(clips) >= 48
    reference = np.stack([reference_features_int8(clip, cfg) for clip in clips])
    with torch.no_grad():
        candidate = TorchFrontend(cfg).features_int8(torch.from_numpy(clips)).numpy()
    assert candidate.dtype == np.int8 and candidate.shape == reference.shape
    equal, worst = _parity(reference, candidate)
    # float32 (torch) vs float64 (reference) can only move a value lying within ~1e-5 of a rounding
    # boundary by one step; on all 2,748 sc-real-dev clips 20 of 5.4 million log-mel values did.
    assert equal >= 0.999 and worst <= 1, f"{cfg.feature_type}: {equal:.5%} equal, max diff {worst}"


def test_torch_float_features_track_the_reference(real_clips):
    clips, _ = real_clips
    reference = np.stack([reference_features(clip, LOGMEL) for clip in clips[:12]])
    with torch.no_grad():
        candidate = TorchFrontend(LOGMEL)(torch.from_numpy(clips[:12])).double().numpy()
    # float32 FFT rounding is relative to the frame's loudest bin, so quiet channels of loud frames
    # carry the largest log error (3.6e-4 measured over sc-real-dev); 0.01 is a tenth of an int8 step.
    np.testing.assert_allclose(candidate, reference, rtol=0, atol=0.01)


# ---------------------------------------------------------------------------------- (c) quantization

def test_round_half_away_from_zero_hand_cases():
    values = np.array([0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, 1.4999999999999998, 0.0, -0.0, 3.7])
    expected = np.array([1, -1, 2, -2, 3, -3, 0, 1, 0, 0, 4])
    np.testing.assert_array_equal(round_half_away_from_zero(values), expected)


def test_quantize_hand_cases():
    cfg = replace(LOGMEL, quant_scale=0.5, quant_zero_point=10)  # 0.5 is exact in binary
    x = np.array([0.25, -0.25, 0.75, 1.25, -1.25, 0.2, -0.3, 0.0, 58.25, 58.75, 100.0, -69.0, -69.25, -1e9])
    # x/0.5:      0.5   -0.5  1.5   2.5   -2.5   0.4  -0.6  0   116.5  117.5  200    -138   -138.5  ...
    expected = np.array([11, 9, 12, 13, 7, 10, 9, 10, 127, 127, 127, -128, -128, -128], dtype=np.int8)
    np.testing.assert_array_equal(quantize_features(x, cfg), expected)
    frontend = TorchFrontend(cfg)
    np.testing.assert_array_equal(frontend.quantize(torch.from_numpy(x)).numpy(), expected)
    assert quantize_features(x, cfg).dtype == np.int8
    on_grid = np.array([-128, -1, 0, 10, 127], dtype=np.int8)
    np.testing.assert_array_equal(quantize_features(dequantize_features(on_grid, cfg), cfg), on_grid)
    np.testing.assert_array_equal(frontend.dequantize(torch.from_numpy(on_grid)).numpy(),
                                  dequantize_features(on_grid, cfg).astype(np.float32))
    with pytest.raises(ValueError, match="NaN"):
        quantize_features(np.array([np.nan]), cfg)


@pytest.mark.parametrize("cfg, silence_row", [
    (LOGMEL, [-128] * 40),
    (MFCC, [-128] + [31] * 9),  # c0 = sqrt(40) * log(1e-6) -> -128; the rest of a flat log-mel is 0
], ids=["logmel", "mfcc"])
def test_digital_silence_is_the_int8_floor_not_clipped(cfg, silence_row, default_tables):
    silence = np.zeros(16000, dtype=np.int16)
    np.testing.assert_array_equal(reference_features_int8(silence, cfg), np.tile(silence_row, (49, 1)))
    floor = reference_features(silence, cfg).min()
    assert round_half_away_from_zero(floor / cfg.input_scale) + cfg.input_zero_point == -128  # no clamp


# ------------------------------------------------------------------------------------ (d) spec hash

def test_spec_hash_is_golden():
    assert FrontendConfig().spec_hash() == GOLDEN_SPEC_HASH
    assert MFCC.spec_hash() != GOLDEN_SPEC_HASH


# ------------------------------------------------------------------------------- (e) the C header

C_PROGRAM = r"""
#include <math.h>
#include <stdio.h>
#include "kws_frontend_tables.h"

static double sum_floats(const float *v, int n)
{
    double s = 0.0;
    int i;
    for (i = 0; i < n; ++i) {
        s += (double)v[i];
    }
    return s;
}

static void print_floats(const char *name, const float *v, int n)
{
    int i;
    printf("%s", name);
    for (i = 0; i < n; ++i) {
        printf(" %.9g", (double)v[i]);
    }
    printf("\n");
}

static void print_u16(const char *name, const uint16_t *v, int n)
{
    int i;
    printf("%s", name);
    for (i = 0; i < n; ++i) {
        printf(" %u", (unsigned)v[i]);
    }
    printf("\n");
}

/* The header's own recipe, in double precision with a naive DFT: proves the tables suffice. */
static void features(const short *audio)
{
    static double cos_table[KWS_FE_FFT_SIZE];
    static double power[KWS_FE_MEL_BIN_STOP];
    double logmel[KWS_FE_NUM_MELS];
    int t, k, n, m, c;
    for (n = 0; n < KWS_FE_FFT_SIZE; ++n) {
        cos_table[n] = cos(2.0 * 3.14159265358979323846 * n / KWS_FE_FFT_SIZE);
    }
    printf("q");
    for (t = 0; t < KWS_FE_NUM_FRAMES; ++t) {
        const short *frame = audio + t * KWS_FE_STRIDE_SAMPLES;
        for (k = 0; k < KWS_FE_MEL_BIN_STOP; ++k) {
            double re = 0.0, im = 0.0;
            for (n = KWS_FE_WINDOW_OFFSET; n < KWS_FE_WINDOW_OFFSET + KWS_FE_WINDOW_SAMPLES; ++n) {
                double v = frame[n] / 32768.0 * kws_fe_window[n - KWS_FE_WINDOW_OFFSET];
                int j = (k * n) % KWS_FE_FFT_SIZE;
                re += v * cos_table[j];
                im -= v * cos_table[(j + 3 * KWS_FE_FFT_SIZE / 4) % KWS_FE_FFT_SIZE]; /* sin */
            }
            power[k] = re * re + im * im;
        }
        for (m = 0; m < KWS_FE_NUM_MELS; ++m) {
            double mel = 0.0;
            for (k = 0; k < kws_fe_mel_num_bins[m]; ++k) {
                mel += kws_fe_mel_weights[kws_fe_mel_offset[m] + k] * power[kws_fe_mel_first_bin[m] + k];
            }
            logmel[m] = log(mel + KWS_FE_LOG_FLOOR);
        }
        for (c = 0; c < KWS_FE_NUM_FEATURES; ++c) {
            double value = logmel[c], q;
#if KWS_FE_FEATURE_TYPE == KWS_FE_FEATURE_TYPE_MFCC
            value = 0.0;
            for (m = 0; m < KWS_FE_NUM_MELS; ++m) {
                value += kws_fe_dct[c][m] * logmel[m];
            }
#endif
            q = round(value / KWS_FE_QUANT_SCALE) + KWS_FE_QUANT_ZERO_POINT;
            printf(" %d", (int)(q < -128 ? -128 : q > 127 ? 127 : q));
        }
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    static short audio[KWS_FE_CLIP_SAMPLES];
    printf("hash %s\n", KWS_FE_SPEC_HASH);
    printf("type %s\n", KWS_FE_FEATURE_TYPE_NAME);
    printf("ints %d %d %d %d %d %d %d %d %d %d %d %d %d %d\n", KWS_FE_SAMPLE_RATE, KWS_FE_CLIP_SAMPLES,
           KWS_FE_WINDOW_SAMPLES, KWS_FE_WINDOW_OFFSET, KWS_FE_STRIDE_SAMPLES, KWS_FE_FFT_SIZE, KWS_FE_FFT_BINS,
           KWS_FE_NUM_MELS, KWS_FE_NUM_FRAMES, KWS_FE_NUM_FEATURES, KWS_FE_FEATURE_SIZE, KWS_FE_QUANT_ZERO_POINT,
           KWS_FE_NUM_MFCC, KWS_FE_FEATURE_TYPE);
    printf("floats %.9g %.9g %.9g %.9g\n", (double)KWS_FE_QUANT_SCALE, (double)KWS_FE_LOG_FLOOR,
           (double)KWS_FE_FMIN_HZ, (double)KWS_FE_FMAX_HZ);
    print_floats("window", kws_fe_window, KWS_FE_WINDOW_SAMPLES);
    print_u16("first", kws_fe_mel_first_bin, KWS_FE_NUM_MELS);
    print_u16("count", kws_fe_mel_num_bins, KWS_FE_NUM_MELS);
    print_u16("offset", kws_fe_mel_offset, KWS_FE_NUM_MELS);
    print_floats("weights", kws_fe_mel_weights, KWS_FE_MEL_NUM_WEIGHTS);
    print_floats("dct", &kws_fe_dct[0][0], KWS_FE_NUM_MFCC * KWS_FE_NUM_MELS);
    printf("sums %.17g %.17g %.17g\n", sum_floats(kws_fe_window, KWS_FE_WINDOW_SAMPLES),
           sum_floats(kws_fe_mel_weights, KWS_FE_MEL_NUM_WEIGHTS),
           sum_floats(&kws_fe_dct[0][0], KWS_FE_NUM_MFCC * KWS_FE_NUM_MELS));
    if (argc > 1) {
        FILE *f = fopen(argv[1], "rb");
        if (f == NULL || fread(audio, sizeof audio[0], KWS_FE_CLIP_SAMPLES, f) != KWS_FE_CLIP_SAMPLES) {
            return 1;
        }
        fclose(f);
        features(audio);
    }
    return 0;
}
"""


def _compiler() -> str:
    cc = shutil.which("cc")
    if cc is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("no C compiler (cc) on PATH: CI must have one")
        pytest.skip("no C compiler (cc) on PATH")
    return cc


def _sequential_sum(values: np.ndarray) -> float:
    total = 0.0  # the same double additions, in the same order, as the C program's loop
    for v in values.ravel().tolist():
        total += v
    return total


@pytest.mark.parametrize("cfg", [LOGMEL, MFCC], ids=["logmel", "mfcc"])
def test_generated_header_compiles_and_holds_the_python_tables(cfg, tmp_path, real_clips):
    cc = _compiler()
    written = write_c_tables(cfg, tmp_path / "gen")
    assert written == [tmp_path / "gen" / HEADER_NAME]
    header = written[0].read_text(encoding="utf-8")
    assert "GENERATED by kws frontend tables — do not edit" in header
    assert header == (write_c_tables(cfg, tmp_path / "again")[0]).read_text(encoding="utf-8"), "not deterministic"
    assert sorted(p.name for p in (tmp_path / "gen").iterdir()) == [HEADER_NAME], "temporary files left behind"

    source = tmp_path / "main.c"
    source.write_text(C_PROGRAM, encoding="utf-8")
    binary = tmp_path / "main"
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{tmp_path / 'gen'}",
                    str(source), "-o", str(binary), "-lm"], check=True, capture_output=True, text=True, timeout=60)
    clips, labels = real_clips
    clip = clips[labels.index("yes")]
    raw = tmp_path / "clip.raw"
    raw.write_bytes(clip.astype("<i2").tobytes())
    run = subprocess.run([str(binary), str(raw)], check=True, capture_output=True, text=True, timeout=60)
    out = {line.split(" ", 1)[0]: line.split(" ")[1:] for line in run.stdout.splitlines()}

    tables = frontend_tables(cfg)
    first, count, offset, weights = tables.mel_sparse()
    assert out["hash"] == [cfg.spec_hash()]
    assert out["type"] == [cfg.feature_type]
    assert [int(v) for v in out["ints"]] == [
        16000, 16000, 480, 16, 320, 512, 257, 40, 49, cfg.num_features, 49 * cfg.num_features,
        cfg.input_zero_point, 10, int(cfg.feature_type == "mfcc")]
    assert [np.float32(float(v)) for v in out["floats"]] == [
        np.float32(cfg.input_scale), np.float32(1e-6), np.float32(20.0), np.float32(4000.0)]

    def floats(name: str) -> np.ndarray:
        return np.array([float(v) for v in out[name]]).astype(np.float32)

    # %.9g round-trips float32, so these comparisons are exact.
    np.testing.assert_array_equal(floats("window"), tables.window)
    np.testing.assert_array_equal(floats("weights"), weights)
    np.testing.assert_array_equal(floats("dct"), tables.dct.ravel())
    for name, expected in (("first", first), ("count", count), ("offset", offset)):
        np.testing.assert_array_equal([int(v) for v in out[name]], expected)
    assert [float(v) for v in out["sums"]] == [
        _sequential_sum(tables.window), _sequential_sum(weights), _sequential_sum(tables.dct)]

    # The sparse form is lossless: it rebuilds the dense filterbank exactly.
    dense = np.zeros_like(tables.mel)
    for m in range(cfg.n_mels):
        dense[m, first[m]:first[m] + count[m]] = weights[offset[m]:offset[m] + count[m]]
    np.testing.assert_array_equal(dense, tables.mel)

    # The header's recipe reproduces the reference int8: C sums in double but with the float32 scale
    # (0.100000001f), which can move a value sitting on a rounding boundary by one step.
    c_features = np.array([int(v) for v in out["q"]]).reshape(49, cfg.num_features)
    equal, worst = _parity(reference_features_int8(clip, cfg), c_features)
    assert equal >= 0.999 and worst <= 1, f"C vs reference: {equal:.5%} equal, max diff {worst}"


def test_c_float_literals_round_trip():
    assert [c_float(v) for v in (1.0, 0.0, 0.5, 1e-6, 4000.0)] == ["1.0f", "0.0f", "0.5f", "9.99999997e-07f", "4000.0f"]
    assert all(np.float32(float(c_float(v)[:-1])) == np.float32(v) for v in (0.1, 1 / 3, 2.0 ** -140))


def test_cli_writes_the_tables(tmp_path, default_tables):
    from kws.cli import main

    assert main(["frontend", "tables", "--out", str(tmp_path)]) == 0
    assert "#define KWS_FE_SPEC_HASH" in (tmp_path / HEADER_NAME).read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------ (f) MFCC

def test_mfcc_shape_and_definition(default_tables):
    from scipy.fft import dct

    audio = np.random.default_rng(2).uniform(-0.3, 0.3, 16000)
    mfcc = reference_features(audio, MFCC)
    assert mfcc.shape == (49, 10)
    assert TorchFrontend(MFCC)(torch.from_numpy(audio)[None]).shape == (1, 49, 10)
    expected = dct(reference_features(audio, LOGMEL), type=2, norm="ortho", axis=1)[:, :10]
    # The DCT table is float32 (shared with torch and C): 6e-8 relative on 40 terms of |log-mel| < 15.
    np.testing.assert_allclose(mfcc, expected, rtol=0, atol=1e-5)
    assert reference_features_int8(audio, MFCC).shape == (49, 10)


# -------------------------------------------------------------------------------------- (g) plot

def test_describe_features_writes_a_png(tmp_path, default_tables):
    import soundfile

    wav = tmp_path / "tone.wav"
    t = np.arange(12000) / 16000
    soundfile.write(wav, (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16), 16000, subtype="PCM_16")
    png = tmp_path / "plots" / "tone.png"
    summary = describe_features(wav, LOGMEL, png=png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in png.parent.iterdir()) == ["tone.png"], "temporary files left behind"
    assert "49 frames x 40" in summary and "zero-padded from 12000 samples" in summary
    assert GOLDEN_SPEC_HASH in summary and "0 of 1960 values clipped" in summary
    assert describe_features(wav, MFCC).count("\n") == 4  # no png: five lines, no plot line

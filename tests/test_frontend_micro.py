"""feature_type 'tflm_micro': TFLM's micro frontend, bit for bit at every hop.

    .venv/bin/python -m pytest tests/test_frontend_micro.py -q

- numpy (kws/frontend_micro.py) == micro_speech's audio_preprocessor_int8.tflite run by the tflite_micro
  runtime, one 30 ms window per invoke with the op state carried, reset per clip (as micro_speech does);
- its tables == the constants inside that .tflite;
- torch (kws/frontend_micro_torch.py) == numpy, int16 and int8;
- the device core's C (firmware/core/kws_micro_frontend.c, host build under ASan/UBSan) == numpy, directly
  and through kws_frontend_push, whatever the chunking;
all with zero tolerance, on real clips and on signals built to hit the wrapping corners.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SANITIZER_ENV

from kws.config import FrontendConfig, replace
from kws.errors import DataError
from kws.frontend import describe_features, reference_features, reference_features_int8, torch_frontend
from kws.frontend_micro import (
    fft_auto_scale,
    micro_features_int8,
    micro_features_int16,
    micro_tables,
    pcan,
    sequential_max_abs,
    to_int8,
    window_frames,
)
from kws.frontend_micro_torch import TorchMicroFrontend
from kws.typed_toml import ConfigError

MICRO = FrontendConfig(feature_type="tflm_micro")
MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
PREPROCESSOR = MODELS / "tflm_audio_preprocessor_int8.tflite"


def _spread(files: list[Path], n: int) -> list[Path]:
    files = sorted(files)
    return [files[i] for i in np.linspace(0, len(files) - 1, num=min(n, len(files))).round().astype(int)]


@pytest.fixture(scope="module")
def real_clips(sc_real_dev: Path, sc_mini: Path) -> tuple[np.ndarray, list[str]]:
    """42 real 1 s int16 clips: 3 per folder of sc-real-dev (twelve labels incl. _silence_ and
    _unknown_) and the first second of each _background_noise_ recording of sc-mini."""
    from kws.data.audio import fit_length, load_audio, to_int16

    chosen = []
    for folder in sorted(p for p in sc_real_dev.iterdir() if p.is_dir()):
        chosen += [(f, folder.name) for f in _spread(list(folder.glob("*.wav")), 3)]
    chosen += [(f, "_background_noise_") for f in sorted((sc_mini / "_background_noise_").glob("*.wav"))]
    clips = [to_int16(fit_length(load_audio(path, 16000)[0], 16000)) for path, _ in chosen]
    return np.stack(clips), [label for _, label in chosen]


def _corner_signals() -> dict[str, np.ndarray]:
    """int16 signals for the fixed-point corners: full scale, -32768 on the window's peak weights
    (TFLM's MaxAbs16 wraps there), silence, one-LSB noise, sines up to Nyquist, a long stream."""
    rng = np.random.default_rng(14)
    t = np.arange(16000)
    signals = {
        "square": np.where((t // 20) % 2 == 0, 32767, -32768),
        "extremes": np.tile([-32768, 32767], 8000),
        "all_min": np.full(16000, -32768),
        "silence": np.zeros(16000),
        "lsb": rng.integers(-1, 2, 16000),
        "full_noise": rng.integers(-32768, 32768, 16000),
        "nyquist": 32767 * np.cos(np.pi * t),
        "eight_seconds": rng.integers(-3000, 3000, 8 * 16000),
    }
    for hz in (31, 1000, 7999):
        signals[f"sine_{hz}"] = np.round(32000 * np.sin(2 * np.pi * hz * t / 16000))
    peak = rng.integers(-200, 200, 16000)
    for frame in range(49):  # window weights 238..241 are 4096: (-32768 * 4096) >> 12 = -32768
        peak[frame * 320 + 239] = -32768
        peak[frame * 320 + 240 + frame % 2] = -32768 if frame % 3 else 30000
    signals["min_on_window_peak"] = peak
    for k in range(6):
        signals[f"noise_{k}"] = (rng.standard_normal(16000) * 10 ** rng.uniform(0, 4.5)).clip(-32768, 32767)
    return {name: np.asarray(s).astype(np.int16) for name, s in signals.items()}


def _tflm_features(interpreter, audio: np.ndarray) -> np.ndarray:
    """micro_speech's GenerateFeatures: a fresh state, then one invoke per 480-sample window every 320."""
    interpreter.reset()
    frames = []
    for start in range(0, audio.size - 480 + 1, 320):
        interpreter.set_input(audio[None, start:start + 480], 0)
        interpreter.invoke()
        frames.append(interpreter.get_output(0).copy())
    return np.stack(frames)


@pytest.fixture(scope="module")
def preprocessor():
    if not PREPROCESSOR.exists():
        pytest.skip(f"{PREPROCESSOR} is absent (see ../shared/models/SOURCES.md)")
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(PREPROCESSOR.read_bytes())


# ---------------------------------------------------------------------------------------- config

def test_config_kind_shape_and_quantization():
    MICRO.validate()
    assert (MICRO.num_frames, MICRO.num_features, MICRO.frame_samples) == (49, 40, 480)
    assert MICRO.num_frames * MICRO.num_features == 1960
    # The micro_speech model's input tensor (micro_speech_quantized.tflite, TFLM 90b983c2): float32
    # scale 0.10171568393707275 (printed 0.10171568 in ../shared/models/SOURCES.md), zero point -128.
    assert f"{np.float32(MICRO.input_scale):.8g}" == "0.10171568" and MICRO.input_zero_point == -128
    assert np.float32(MICRO.input_scale) == np.float32(0.10171568393707275)


def test_spec_hash_covers_the_kind_fields_and_only_for_their_kind():
    logmel = FrontendConfig()
    # A micro_* field cannot change log-mel features, so it leaves the log-mel hash alone ...
    assert replace(logmel, micro_pcan_strength=0.9).spec_hash() == logmel.spec_hash()
    # ... and changes the micro hash, as every micro_* field does.
    for name, value in (("micro_pcan_strength", 0.9), ("micro_lower_band_hz", 100.0), ("micro_quant_zero_point", 0),
                        ("micro_smoothing_bits", 9), ("micro_odd_smoothing", 0.05)):
        assert replace(MICRO, **{name: value}).spec_hash() != MICRO.spec_hash(), name
    assert MICRO.spec_hash() != logmel.spec_hash()


@pytest.mark.parametrize("change, message", [
    ({"feature_type": "micro"}, "one of 'logmel', 'mfcc', 'tflm_micro', 'mlperf_mfcc'"),
    ({"n_fft": 1024}, "n_fft must be 512"),
    ({"micro_upper_band_hz": 9000.0}, "micro_upper_band_hz"),
    ({"micro_even_smoothing": 1.5}, "micro_even_smoothing"),
    ({"micro_pcan_gain_bits": 12}, "shift of"),
    ({"micro_quant_zero_point": 200}, "int8"),
])
def test_bad_micro_configs_are_clear_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        replace(MICRO, **change).validate()


# ------------------------------------------------------------------------------ numpy == TFLM

def test_tables_are_the_ones_inside_the_tflm_preprocessor(preprocessor):
    from kws.compile.tflite_reader import read_tflite

    model = read_tflite(PREPROCESSOR.read_bytes(), source=PREPROCESSOR.name)
    const = {t.name: t.data for t in model.tensors if t.data is not None}
    tables = micro_tables(MICRO)
    np.testing.assert_array_equal(const["Const"], tables.window)
    np.testing.assert_array_equal(const["signal_pcan/Const"], tables.pcan_lut)
    for suffix, ours in (("", tables.weights), ("_1", tables.unweights), ("_2", tables.channel_frequency_starts),
                         ("_3", tables.channel_weight_starts), ("_4", tables.channel_widths)):
        np.testing.assert_array_equal(const[f"signal_filter_bank/Const{suffix}"], ours)
    # The energy slice [start, end) and micro_speech's int8 formula constants.
    assert (int(const["strided_slice/stack"][0]), int(const["strided_slice/stack_1"][0])) == (
        tables.start_index, tables.end_index) == (5, 241)
    assert [int(const[name]) for name in ("Const1", "Cast_3", "Const_1", "Const_2")] == [256, 333, 666, -128]
    # Log32's table is C code in TFLM (signal/src/log.cc kLogLut), not in the model: spot values from there.
    assert tables.log_lut.size == 130 and tables.log_lut[[1, 2, 57, 64, 127, 128, 129]].tolist() == [
        224, 442, 5641, 5568, 142, 0, 0]


@pytest.mark.shared_data
def test_numpy_equals_tflm_on_real_clips(real_clips, preprocessor):
    clips, labels = real_clips
    assert {"_silence_", "_unknown_", "yes", "_background_noise_"} <= set(labels)
    ours = np.stack([micro_features_int8(clip, MICRO) for clip in clips])
    tflm = np.stack([_tflm_features(preprocessor, clip) for clip in clips])
    assert ours.shape == tflm.shape == (len(clips), 49, 40)
    # Zero tolerance. Measured on all 2,748 sc-real-dev clips: 5,386,080 values, 0 different.
    np.testing.assert_array_equal(ours, tflm)
    assert (ours > -128).mean() > 0.3, "the clips should exercise more than the silence floor"


def test_numpy_equals_tflm_on_fixed_point_corners(preprocessor):
    for name, signal in _corner_signals().items():
        np.testing.assert_array_equal(micro_features_int8(signal, MICRO), _tflm_features(preprocessor, signal),
                                      err_msg=name)


def test_the_corner_signals_reach_the_wrapping_max_abs():
    """-32768 on a 4096 window weight stays -32768; MaxAbs16 then wraps and the auto scale shifts by
    more than the largest magnitude allows (TFLM's behaviour, which numpy and C follow)."""
    tables = micro_tables(MICRO)
    frame = _corner_signals()["min_on_window_peak"][320:800]  # frame 1: -32768 at 239 and 241, small noise
    windowed = window_frames(frame[None], tables)
    assert windowed[0, 239] == -32768
    assert sequential_max_abs(windowed[0]) != 32768
    _, shift = fft_auto_scale(windowed)
    assert shift[0] > 0


def test_state_carries_across_frames_and_resets_per_clip():
    clip = _corner_signals()["noise_3"]
    first, noise = micro_features_int16(clip, MICRO)
    again, _ = micro_features_int16(clip, MICRO)
    np.testing.assert_array_equal(first, again)  # a fresh estimate per call
    continued, _ = micro_features_int16(clip, MICRO, noise=noise)
    assert not np.array_equal(continued, first), "the noise estimate should change the next clip's features"
    whole, _ = micro_features_int16(np.concatenate([clip, clip[:160]]), MICRO)
    np.testing.assert_array_equal(whole[:49], first)


def test_audio_forms_and_errors():
    clip = _corner_signals()["noise_1"]
    np.testing.assert_array_equal(micro_features_int8(clip.astype(np.float32) / 32768, MICRO),
                                  micro_features_int8(clip, MICRO))
    assert micro_features_int8(clip[:480], MICRO).shape == (1, 40)
    assert micro_features_int8(clip[:16319], MICRO).shape == (49, 40)
    with pytest.raises(DataError, match="at least 480"):
        micro_features_int8(clip[:479], MICRO)
    with pytest.raises(DataError, match="dtype"):
        micro_features_int8(clip.astype(np.int32), MICRO)
    with pytest.raises(DataError, match="NaN"):
        micro_features_int8(np.full(16000, np.nan), MICRO)


def test_dispatch_float_features_are_the_dequantized_int8():
    clip = _corner_signals()["noise_2"]
    q = reference_features_int8(clip, MICRO)
    np.testing.assert_array_equal(q, micro_features_int8(clip, MICRO))
    np.testing.assert_allclose(reference_features(clip, MICRO), (q.astype(np.float64) + 128) * MICRO.input_scale)


# ------------------------------------------------------------------------------- torch == numpy

@pytest.mark.shared_data
def test_torch_equals_numpy_on_real_clips(real_clips):
    clips, _ = real_clips
    corners = _corner_signals()
    batch = np.concatenate([clips, np.stack([s for s in corners.values() if s.size == 16000])])
    expected = np.stack([micro_features_int16(c, MICRO)[0] for c in batch])
    frontend = torch_frontend(MICRO, chunk_clips=16)
    assert isinstance(frontend, TorchMicroFrontend)
    audio = torch.from_numpy(batch)
    np.testing.assert_array_equal(frontend.features_int16(audio).numpy(), expected)
    q = frontend.features_int8(audio)
    assert q.dtype == torch.int8
    np.testing.assert_array_equal(q.numpy(), to_int8(expected))
    np.testing.assert_array_equal(frontend.features_int8(audio.to(torch.float32) / 32768).numpy(), q.numpy())
    x = frontend(audio)
    assert x.dtype == torch.float32 and torch.equal(x, frontend.dequantize(q))
    assert frontend.state_dict() == {}, "tables come from the config, never from a checkpoint"


def test_torch_pcan_equals_numpy_over_the_whole_uint32_range():
    """PCAN's gain table, its int32 wraps and the uint64 product, on noise estimates far beyond speech."""
    rng = np.random.default_rng(3)
    noise = np.concatenate([np.arange(0, 70), rng.integers(0, 2 ** 32, 4000), 2 ** np.arange(32) - 1,
                            2 ** np.arange(32)]).astype(np.int64)
    signal = rng.integers(0, 2 ** 32, noise.size).astype(np.int64)
    tables = micro_tables(MICRO)
    frontend = TorchMicroFrontend(MICRO)
    np.testing.assert_array_equal(frontend._pcan(torch.from_numpy(signal), torch.from_numpy(noise)).numpy(),
                                  pcan(signal, noise, tables))


def test_torch_wrapped_max_abs_is_the_sequential_loop():
    """The torch version's loop-free MaxAbs16 for rows holding -32768, on short adversarial rows."""
    from kws.frontend_micro_torch import _wrapped_max_abs

    rng = np.random.default_rng(5)
    rows = []
    for _ in range(5000):
        n = int(rng.integers(1, 12))
        row = np.clip(rng.integers(-6, 6, n) * rng.choice([1, 1000, 5000]), -32767, 32767)
        row[rng.integers(0, n, rng.integers(1, 3))] = -32768
        rows.append(np.pad(row, (12 - n, 0)))
    rows = np.array(rows, dtype=np.int64)
    np.testing.assert_array_equal(_wrapped_max_abs(torch.from_numpy(rows)).numpy(),
                                  [sequential_max_abs(row) for row in rows])


# ----------------------------------------------------------------------------------- C == numpy

def _run(exe: Path, *args: object) -> None:
    result = subprocess.run([str(exe), *map(str, args)], capture_output=True, env={**os.environ, **SANITIZER_ENV},
                            timeout=120)
    assert result.returncode == 0, f"{exe.name} exited {result.returncode}: {result.stderr.decode()[-3000:]}"


def _c_features(exe: Path, audio: np.ndarray, tmp_path: Path, clip_samples: int, chunks: str = "160",
                with_int16: bool = False):
    raw = tmp_path / "in.raw"
    raw.write_bytes(np.ascontiguousarray(audio, dtype="<i2").tobytes())
    _run(exe, raw, tmp_path / "out.i8", clip_samples, chunks, *([tmp_path / "out.i16"] if with_int16 else []))
    q = np.fromfile(tmp_path / "out.i8", dtype=np.int8).reshape(-1, 40)
    return (q, np.fromfile(tmp_path / "out.i16", dtype="<i2").reshape(-1, 40)) if with_int16 else q


@pytest.mark.shared_data
def test_c_equals_numpy_on_real_clips_and_corners(real_clips, c_build, tmp_path):
    clips, _ = real_clips
    corners = [s for s in _corner_signals().values() if s.size == 16000]
    batch = np.concatenate([clips, np.stack(corners)])
    expected = np.concatenate([micro_features_int16(c, MICRO)[0] for c in batch])
    direct = c_build("micro_frontend_dump", MICRO, sanitize=True)
    q, f = _c_features(direct, batch, tmp_path, 16000, chunks="rand:5:1500", with_int16=True)
    np.testing.assert_array_equal(f, expected)  # the int16 frontend output, zero tolerance
    np.testing.assert_array_equal(q, to_int8(expected))
    through_app_api = c_build("frontend_dump", MICRO, sanitize=True)  # kws_frontend_push's dispatch
    np.testing.assert_array_equal(_c_features(through_app_api, batch, tmp_path, 16000), to_int8(expected))


@pytest.mark.parametrize("chunks", ["1", "7", "320", "16000", "1,479,2,480,4096", "rand:9:3000"])
def test_c_streaming_is_chunk_invariant_and_the_numpy_framing(chunks, c_build, tmp_path):
    stream = _corner_signals()["eight_seconds"][:7 * 16000 + 4801]  # odd length, noise state over 7 s
    exe = c_build("micro_frontend_dump", MICRO, sanitize=True)
    q, f = _c_features(exe, stream, tmp_path, 0, chunks=chunks, with_int16=True)
    expected, _ = micro_features_int16(stream, MICRO)
    assert f.shape == expected.shape == (1 + (stream.size - 480) // 320, 40)
    np.testing.assert_array_equal(f, expected)


@pytest.mark.parametrize("length", [0, 479, 480, 799, 800, 16000])
def test_c_frame_count_for_any_length(length, c_build, tmp_path):
    exe = c_build("micro_frontend_dump", MICRO, sanitize=True)
    audio = np.random.default_rng(length).integers(-3000, 3000, length).astype(np.int16)
    q = _c_features(exe, audio, tmp_path, 0, chunks="97")
    assert q.shape == (0 if length < 480 else 1 + (length - 480) // 320, 40)
    if q.size:
        np.testing.assert_array_equal(q, micro_features_int8(audio, MICRO))


@pytest.mark.shared_data
def test_the_app_feeds_the_model_the_latest_49_micro_frames(real_clips, c_build, tmp_path):
    """Through the whole device app (AUDIO frames in, kws_frontend_push, the feature ring): at each
    inference the model sees the newest 49 frames of the stream's features, the noise estimate carried
    across clip boundaries (the app resets the frontend only on RESET)."""
    from kws.device import protocol as P

    clips, _ = real_clips
    stream = clips[:3].ravel()
    exe = c_build("app_pipe", MICRO, sanitize=True)
    messages = [P.Hello(), P.Reset(), *(P.Audio.from_samples(stream[i:i + 1000]) for i in range(0, stream.size, 1000))]
    dump = tmp_path / "inputs.i8"
    result = subprocess.run([str(exe), "--dump-input", str(dump), "--infer-every", "2"],
                            input=P.encode_messages(messages), capture_output=True,
                            env={**os.environ, **SANITIZER_ENV}, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    inputs = np.fromfile(dump, dtype=np.int8).reshape(-1, 49, 40)
    reference = micro_features_int8(stream, MICRO)
    starts = range(0, reference.shape[0] - 49 + 1, 2)
    np.testing.assert_array_equal(inputs, np.stack([reference[s:s + 49] for s in starts]))
    # Each score's stream time is the last sample of its newest frame: a micro frame spans the 480-sample
    # window (30 ms), not the 512-point FFT (the log-mel frontend's frame; tests/test_protocol.py).
    scores = [m for m in P.decode_stream(result.stdout) if isinstance(m, P.Scores)]
    assert [m.time_us for m in scores] == [((s + 48) * 320 + 480) * 1_000_000 // 16000 for s in starts]


@pytest.mark.shared_data
def test_m4_equals_numpy_under_qemu(real_clips, tmp_path):
    """The same C on the Cortex-M4 (QEMU mps2-an386, arm-none-eabi-gcc -O2, through kws_frontend_push as
    the app calls it): every int8 value equals the numpy definition's. Prints the cost per frame."""
    from m4_support import key_values, require_m4

    from kws.device import m4

    require_m4()
    clips, _ = real_clips
    clips = clips[::3][:12]
    rows = ",\n".join(", ".join(str(int(v)) for v in clips.ravel()[i:i + 24]) for i in range(0, clips.size, 24))
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "m4_test_audio.h").write_text(
        "#include <stdint.h>\n"
        f"#define M4_TEST_NUM_CLIPS {clips.shape[0]}u\n#define M4_TEST_CLIP_SAMPLES {clips.shape[1]}u\n"
        f"static const int16_t m4_test_audio[{clips.size}] = {{\n{rows}\n}};\n", encoding="utf-8")
    sources = m4.core_sources(("kws_fft.c", "kws_frontend.c", "kws_micro_frontend.c", "kws_features.c"))
    program = m4.BOARD_DIR / "tests" / "frontend_features.c"
    includes = [tmp_path / "audio", *m4.frontend_include_dirs(MICRO, tmp_path)]
    result = m4.run_elf(m4.build_elf([*sources, program], includes, out_dir=tmp_path), timeout=120, icount_shift=0)
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.text[-500:]}"
    begin = re.search(rb"BEGIN (\d+)\r\n", result.output)
    n = int(begin.group(1))
    device = np.frombuffer(result.output[begin.end():begin.end() + n], dtype=np.int8).reshape(len(clips), 49, 40)
    np.testing.assert_array_equal(device, np.stack([micro_features_int8(c, MICRO) for c in clips]))
    stats = key_values(result.output[begin.end() + n:].decode())
    print(f"\nM4 tflm_micro frontend: {stats['ticks'] * 40 / stats['frames']:,.0f} instructions per 20 ms frame, "
          f"stack high-water {stats['stack']} B")


def test_generated_header_has_the_micro_tables():
    from kws.frontend_tables import render_header

    header = render_header(MICRO)
    assert re.search(r"#define KWS_FE_FEATURE_TYPE +KWS_FE_FEATURE_TYPE_TFLM_MICRO ", header)
    assert "kws_fe_micro_pcan_lut[KWS_FE_MICRO_PCAN_LUT_SIZE]" in header and "kws_fe_mel_weights" not in header
    assert re.search(r"#define KWS_FE_FRAME_SAMPLES +480 ", header)


# ------------------------------------------------------------------------------ the pipeline

def test_training_features_and_kws_features(tmp_path):
    """FeatureExtractor (what kws train uses) gives the exact int8 features, dequantized; the model
    registry sizes models from the config; `kws features` describes the kind."""
    import wave

    from kws.config import KwsConfig
    from kws.models.registry import build_model
    from kws.prepared_data import FeatureExtractor

    config = KwsConfig(frontend=MICRO)
    clip = _corner_signals()["noise_4"]
    extractor = FeatureExtractor(config)
    features = extractor(clip[None].astype(np.float32) / 32768)
    expected = micro_features_int8(clip, MICRO)
    np.testing.assert_array_equal(extractor.int8(clip[None].astype(np.float32) / 32768)[0].numpy(), expected)
    np.testing.assert_allclose(features[0].numpy(), (expected.astype(np.float32) + 128) * np.float32(MICRO.input_scale),
                               rtol=1e-6)
    model = build_model(config.model, config.frontend, num_labels=4)
    assert model.input_shape == (49, 40) and model(features).shape == (1, 4)

    wav = tmp_path / "clip.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(clip.astype("<i2").tobytes())
    summary = describe_features(wav, MICRO, png=tmp_path / "clip.png")
    assert "int8 TFLM micro frontend, 49 frames x 40" in summary and "trunc((f * 256 + 333) / 666) - 128" in summary
    assert (tmp_path / "clip.png").stat().st_size > 0


@pytest.mark.slow
def test_kws_train_learns_on_micro_features(tiny_synth, tmp_path):
    """The existing training pipeline (FeatureExtractor -> torch_frontend) trains on this kind as is."""
    from kws.config import load_config
    from kws.train import train

    config = load_config(None, [
        "training.batch_size=32", "training.steps=[120,40]", "training.eval_every=40", "training.checkpoint_every=40",
        f"data.data_dir={tiny_synth}", f"data.cache_dir={tmp_path / 'cache'}", "frontend.feature_type=tflm_micro"])
    result = train(config, tmp_path / "run", progress=False)
    # 4 labels: as tests/test_train.py, 160 tiny steps give far more than guessing (measured: 0.8).
    assert result.best_val_accuracy >= 0.7

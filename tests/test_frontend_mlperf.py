"""feature_type 'mlperf_mfcc': MLPerf Tiny's KWS features against TensorFlow's own ops, torch against numpy,
the int8 quantization of the MLPerf reference model's input, and that model reading our features.

    .venv/bin/python -m pytest tests/test_frontend_mlperf.py -q

TensorFlow is imported only here (export.tfenv), never by kws.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from kws.config import FrontendConfig, replace
from kws.errors import DataError
from kws.frontend import (
    describe_features,
    quantize_features,
    reference_features,
    reference_features_int8,
    torch_frontend,
)
from kws.frontend_mlperf import TorchMlperfFrontend, mlperf_features, mlperf_tables
from kws.typed_toml import ConfigError

MLPERF = FrontendConfig(feature_type="mlperf_mfcc")
MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
REFERENCE_MODEL = MODELS / "mlperf_tiny_kws_ref_model.tflite"
# MLPerf Tiny's label order (benchmark/training/keyword_spotting/get_dataset.py word_labels), in the
# folder names of the Speech Commands test set.
MLPERF_LABELS = ("down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "_silence_", "_unknown_")


def _spread(files: list[Path], n: int) -> list[Path]:
    files = sorted(files)
    return [files[i] for i in np.linspace(0, len(files) - 1, num=min(n, len(files))).round().astype(int)]


@pytest.fixture(scope="module")
def real_clips(sc_real_dev: Path) -> tuple[np.ndarray, list[str]]:
    """48 real 1 s int16 clips: 4 per folder of sc-real-dev (the ten keywords, _silence_, _unknown_)."""
    from kws.data.audio import fit_length, load_audio, to_int16

    chosen = []
    for folder in sorted(p for p in sc_real_dev.iterdir() if p.is_dir()):
        chosen += [(f, folder.name) for f in _spread(list(folder.glob("*.wav")), 4)]
    clips = [to_int16(fit_length(load_audio(path, 16000)[0], 16000)) for path, _ in chosen]
    return np.stack(clips), [label for _, label in chosen]


@pytest.fixture(scope="module")
def tf():
    from export.tfenv import import_tensorflow

    return import_tensorflow()


def _tf_mfcc(tf, audio_int16: np.ndarray) -> np.ndarray:
    """get_dataset.py's 'mfcc' branch, verbatim in its TF calls (one clip, no augmentation)."""
    wav = tf.cast(audio_int16, tf.float32)
    wav = wav / tf.reduce_max(wav)
    stfts = tf.signal.stft(wav, frame_length=480, frame_step=320, fft_length=None, window_fn=tf.signal.hann_window)
    spectrograms = tf.abs(stfts)
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(40, stfts.shape[-1], 16000, 20.0, 4000.0)
    mel = tf.tensordot(spectrograms, mel_matrix, 1)
    return tf.signal.mfccs_from_log_mel_spectrograms(tf.math.log(mel + 1e-6))[..., :10].numpy()


def _parity(reference: np.ndarray, candidate: np.ndarray) -> tuple[float, int]:
    diff = np.abs(reference.astype(np.int16) - candidate.astype(np.int16))
    return float((diff == 0).mean()), int(diff.max())


# ---------------------------------------------------------------------------------------- config

def test_config_shape_and_validation():
    MLPERF.validate()
    assert (MLPERF.num_frames, MLPERF.num_features, MLPERF.frame_samples) == (49, 10, 480)
    assert replace(MLPERF, mlperf_quant_scale=0.5).spec_hash() != MLPERF.spec_hash()
    assert replace(FrontendConfig(), mlperf_quant_scale=0.5).spec_hash() == FrontendConfig().spec_hash()
    with pytest.raises(ConfigError, match="n_fft must be 512"):
        replace(MLPERF, n_fft=1024).validate()
    with pytest.raises(ConfigError, match="mlperf_quant_scale must be positive"):
        replace(MLPERF, mlperf_quant_scale=0.0).validate()


def test_quantization_is_the_reference_models_input():
    if not REFERENCE_MODEL.exists():
        pytest.skip(f"{REFERENCE_MODEL} is absent (see ../shared/models/SOURCES.md)")
    from kws.compile.tflite_reader import read_tflite

    model = read_tflite(REFERENCE_MODEL.read_bytes(), source=REFERENCE_MODEL.name)
    tensor = model.tensors[model.inputs[0]]
    assert tensor.shape == (1, MLPERF.num_frames, MLPERF.num_features, 1) and tensor.type_name == "INT8"
    assert np.float32(MLPERF.input_scale) == tensor.quantization.scale[0]
    assert MLPERF.input_zero_point == int(tensor.quantization.zero_point[0]) == 83


# -------------------------------------------------------------------------------- against TF

def test_tables_match_tensorflows(tf):
    tables = mlperf_tables(MLPERF)
    # float32 cos and log: numpy's (libm) and TF's (Eigen) differ in the last bit for a few arguments.
    # Measured: window 18 of 480 entries 1 ulp apart (5.96e-8); mel matrix 38 of 10,280 entries apart,
    # at most 4.8e-6 (a 1-ulp mel value near 2,000 divided by a ~50 mel triangle side).
    np.testing.assert_allclose(tables.window, tf.signal.hann_window(480).numpy(), rtol=0, atol=1.2e-7)
    np.testing.assert_allclose(tables.mel, tf.signal.linear_to_mel_weight_matrix(40, 257, 16000, 20.0, 4000.0).numpy(),
                               rtol=0, atol=1e-5)
    x = np.random.default_rng(0).standard_normal((3, 40)).astype(np.float32)
    np.testing.assert_allclose(x @ tables.dct.T, tf.signal.mfccs_from_log_mel_spectrograms(x).numpy()[:, :10],
                               rtol=0, atol=1e-5)  # TF's DCT is a float32 FFT of length 80


@pytest.mark.shared_data
def test_features_match_tensorflows_ops_on_real_clips(real_clips, tf):
    clips, labels = real_clips
    assert set(labels) == set(MLPERF_LABELS)
    ours = np.stack([mlperf_features(clip, MLPERF) for clip in clips])
    theirs = np.stack([_tf_mfcc(tf, clip) for clip in clips])
    assert ours.shape == theirs.shape == (len(clips), 49, 10)
    # TF computes in float32 (STFT, |X|, the mel product, log, an FFT-based DCT); the definition in
    # float64 from the same tables. Measured over all 2,748 sc-real-dev clips: max |diff| 1.8e-4 on
    # features spanning [-123.6, 30.0], far inside one int8 step (0.58).
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-3)
    equal, worst = _parity(quantize_features(ours, MLPERF), quantize_features(theirs, MLPERF))
    # A float32 difference can move a value lying on a rounding boundary by one step (measured on all
    # 2,748 clips: 1 of 1,346,520 int8 values, by one step).
    assert equal >= 0.999 and worst <= 1, f"{equal:.5%} equal, max diff {worst}"


# ----------------------------------------------------------------------------- torch and the model

@pytest.mark.shared_data
def test_torch_matches_the_definition(real_clips):
    clips, _ = real_clips
    frontend = torch_frontend(MLPERF)
    assert isinstance(frontend, TorchMlperfFrontend) and frontend.state_dict() == {}
    with torch.no_grad():
        q = frontend.features_int8(torch.from_numpy(clips)).numpy()
        q_float = frontend.features_int8(torch.from_numpy(clips.astype(np.float32) / 32768)).numpy()
    reference = np.stack([reference_features_int8(clip, MLPERF) for clip in clips])
    np.testing.assert_array_equal(q, q_float)  # the peak normalisation makes the input scale irrelevant
    equal, worst = _parity(reference, q)
    # float32 (torch) vs float64 (definition): only values within ~1e-4 of a rounding boundary can move
    # (measured on all 2,748 clips: 1 of 1,346,520 int8 values, by one step).
    assert equal >= 0.999 and worst <= 1, f"{equal:.5%} equal, max diff {worst}"


@pytest.mark.shared_data
def test_the_mlperf_reference_model_reads_our_features(real_clips):
    """End to end: the int8 DS-CNN MLPerf trained on its own features classifies ours (tflite_micro runtime).
    Measured on all 2,748 sc-real-dev clips: 92.7 % correct (MLPerf's published int8 accuracy is ~91 %)."""
    if not REFERENCE_MODEL.exists():
        pytest.skip(f"{REFERENCE_MODEL} is absent (see ../shared/models/SOURCES.md)")
    from tflite_micro.python.tflite_micro import runtime

    clips, labels = real_clips
    interpreter = runtime.Interpreter.from_bytes(REFERENCE_MODEL.read_bytes())
    correct = 0
    for clip, label in zip(clips, labels):
        interpreter.set_input(reference_features_int8(clip, MLPERF).reshape(1, 49, 10, 1), 0)
        interpreter.invoke()
        correct += MLPERF_LABELS[int(np.argmax(interpreter.get_output(0)))] == label
    assert correct >= 0.8 * len(clips), f"{correct} of {len(clips)} correct"


def test_peak_normalisation_and_its_silence_exception():
    rng = np.random.default_rng(1)
    clip = rng.standard_normal(16000) * 0.1
    np.testing.assert_allclose(mlperf_features(clip * 0.25, MLPERF), mlperf_features(clip, MLPERF), atol=1e-9)
    silence = mlperf_features(np.zeros(16000), MLPERF)  # TF: 0 / 0 = NaN; here left unscaled
    assert np.isfinite(silence).all()
    np.testing.assert_allclose(silence[:, 0], np.sqrt(2 / 40) * 40 * np.log(1e-6))
    with pytest.raises(DataError, match="at least 480"):
        mlperf_features(np.zeros(479), MLPERF)
    assert mlperf_features(np.ones(16159) * 0.1, MLPERF).shape == (49, 10)  # 1 + (len - 480) // 320 frames
    assert mlperf_features(np.ones(16160) * 0.1, MLPERF).shape == (50, 10)


def test_dispatch_and_kws_features(tmp_path):
    import wave

    clip = (np.random.default_rng(2).standard_normal(16000) * 3000).astype(np.int16)
    np.testing.assert_array_equal(reference_features(clip, MLPERF), mlperf_features(clip, MLPERF))
    wav = tmp_path / "clip.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(clip.astype("<i2").tobytes())
    summary = describe_features(wav, MLPERF)
    assert "int8 MLPerf Tiny MFCC, 49 frames x 10" in summary and "+ 83" in summary


def test_host_only_header(tmp_path):
    from kws.frontend_tables import render_header

    header = render_header(MLPERF)
    assert re.search(r"#define KWS_FE_HAS_AUDIO_FRONTEND +0 ", header)
    assert re.search(r"#define KWS_FE_NUM_FEATURES +10 ", header)
    # No frontend tables: only the FFT twiddles that kws_fft.c, compiled on every board, reads.
    arrays = re.findall(r"static const \w+ (\w+)\[", header)
    assert arrays == ["kws_fe_fft_cos", "kws_fe_fft_sin"], arrays


@pytest.mark.slow
def test_kws_train_learns_on_mlperf_features(tiny_synth, tmp_path):
    """The existing training pipeline (FeatureExtractor -> torch_frontend) trains on this kind as is."""
    from kws.config import load_config
    from kws.train import train

    config = load_config(None, [
        "training.batch_size=32", "training.steps=[120,40]", "training.eval_every=40", "training.checkpoint_every=40",
        f"data.data_dir={tiny_synth}", f"data.cache_dir={tmp_path / 'cache'}", "frontend.feature_type=mlperf_mfcc"])
    result = train(config, tmp_path / "run", progress=False)
    # 4 labels: as tests/test_train.py, 160 tiny steps give far more than guessing (measured: 0.9).
    assert result.best_val_accuracy >= 0.7

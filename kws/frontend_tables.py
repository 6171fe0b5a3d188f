"""Generate the device's frontend header from the config: constants and float32 tables, never typed by hand.

    kws frontend tables --config runs/demo/config.toml --out runs/demo/frontend
    # or: from kws.frontend_tables import write_c_tables; write_c_tables(cfg, Path("out"))

Writes `kws_frontend_tables.h` (C99, no other includes than <stdint.h>): `#define`s for every
frontend constant, the spec hash, and the `static const` tables of the config's feature_type:
- 'logmel'/'mfcc': the analysis window with its offset in the n_fft frame, the mel filterbank in sparse
  form and the DCT matrix, the float32 tables kws.frontend uses (`frontend_tables`), printed with 9
  significant digits, which round-trips every float32 exactly;
- 'tflm_micro': the integer tables of kws/frontend_micro.py (`micro_tables`: Q12 window, kissfft order
  and twiddles, filterbank in TFLM's layout, PCAN and log tables) and its fixed-point constants;
- 'mlperf_mfcc': none (host only; KWS_FE_HAS_AUDIO_FRONTEND is 0).
So the device, the torch frontend and the reference share the same numbers. The output is
deterministic (no dates), so rebuilding an unchanged config changes nothing.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from kws.config import FrontendConfig
from kws.frontend import frontend_tables
from kws.frontend_micro import (
    LOG_COEFF,
    LOG_OUTPUT_SCALE,
    LOG_SCALE_BITS,
    LOG_SEGMENTS_BITS,
    OUTPUT_DIV,
    OUTPUT_OFFSET,
    OUTPUT_SCALE,
    PCAN_OUTPUT_BITS,
    PCAN_SNR_BITS,
    SUBTRACTION_BITS,
    WINDOW_BITS,
    micro_tables,
)
from kws.fsutil import atomic_write_text

HEADER_NAME = "kws_frontend_tables.h"

__all__ = ["FEATURE_TYPE_CODES", "HEADER_NAME", "c_float", "render_header", "write_c_tables"]


def c_float(value: float) -> str:
    """A C float literal that reads back as exactly this float32 (e.g. 0.5f, 1.0f, 1e-06f)."""
    text = f"{float(np.float32(value)):.9g}"
    if not any(c in text for c in ".enEN"):
        text += ".0"  # "1f" is not a C literal; "1.0f" is
    return text + "f"


def _c_array(c_type: str, name: str, size: str, values: list[str], per_line: int) -> str:
    rows = [", ".join(values[i:i + per_line]) for i in range(0, len(values), per_line)]
    body = ",\n".join(f"    {row}" for row in rows)
    return f"static const {c_type} {name}[{size}] = {{\n{body}\n}};\n"


def _c_row(values: list[str], per_line: int) -> str:
    rows = [", ".join(values[i:i + per_line]) for i in range(0, len(values), per_line)]
    return "    {" + ",\n     ".join(rows) + "}"


FEATURE_TYPE_CODES = {"logmel": 0, "mfcc": 1, "tflm_micro": 2, "mlperf_mfcc": 3}
"""KWS_FE_FEATURE_TYPE of each feature_type (KWS_FE_FEATURE_TYPE_<NAME> in the header)."""


def _common_defines(cfg: FrontendConfig) -> list[tuple[str, str, str]]:
    kinds = [(f"KWS_FE_FEATURE_TYPE_{name.upper()}", str(code), "") for name, code in FEATURE_TYPE_CODES.items()]
    return [
        ("KWS_FE_SPEC_HASH", f'"{cfg.spec_hash()}"', "SHA-256 of the FrontendConfig (the device reports it)"),
        ("KWS_FE_SAMPLE_RATE", str(cfg.sample_rate), "Hz"),
        ("KWS_FE_CLIP_SAMPLES", str(cfg.clip_samples), "samples in one clip"),
        ("KWS_FE_WINDOW_SAMPLES", str(cfg.window_samples), "analysis window length"),
        ("KWS_FE_STRIDE_SAMPLES", str(cfg.stride_samples), "hop between frames"),
        ("KWS_FE_FFT_SIZE", str(cfg.n_fft), "FFT size"),
        ("KWS_FE_FFT_BINS", str(cfg.n_fft // 2 + 1), "bins of the real FFT"),
        ("KWS_FE_FRAME_SAMPLES", str(cfg.frame_samples), "samples one frame spans (frame t starts at t * stride)"),
        ("KWS_FE_NUM_MELS", str(cfg.n_mels), "mel (filterbank) channels"),
        *kinds,
        ("KWS_FE_FEATURE_TYPE", f"KWS_FE_FEATURE_TYPE_{cfg.feature_type.upper()}", f"'{cfg.feature_type}'"),
        ("KWS_FE_FEATURE_TYPE_NAME", f'"{cfg.feature_type}"', ""),
        ("KWS_FE_HAS_AUDIO_FRONTEND", "0" if cfg.feature_type == "mlperf_mfcc" else "1",
         "0: host-computed features only (the board takes FEATURES, not audio)"),
        ("KWS_FE_NUM_FRAMES", str(cfg.num_frames), "frames in one clip"),
        ("KWS_FE_NUM_FEATURES", str(cfg.num_features), "values per frame"),
        ("KWS_FE_FEATURE_SIZE", str(cfg.num_frames * cfg.num_features), "int8 values per clip (model input)"),
        ("KWS_FE_QUANT_SCALE", c_float(cfg.input_scale), "int8 scale of the features (= model input scale)"),
        ("KWS_FE_QUANT_ZERO_POINT", str(cfg.input_zero_point), "int8 zero point (= model input zero point)"),
    ]


def _float_parts(cfg: FrontendConfig) -> tuple[list[tuple[str, str, str]], list[str], str]:
    """log-mel / MFCC: their defines, tables and recipe."""
    tables = frontend_tables(cfg)
    first, count, offset, weights = tables.mel_sparse()
    _, mel_bin_stop = tables.mel_bin_range
    defines = [
        ("KWS_FE_WINDOW_OFFSET", str(tables.window_offset), "index of kws_fe_window[0] in the n_fft frame"),
        ("KWS_FE_MEL_BIN_STOP", str(mel_bin_stop), "FFT bins >= this carry no mel weight"),
        ("KWS_FE_MEL_NUM_WEIGHTS", str(weights.size), "length of kws_fe_mel_weights"),
        ("KWS_FE_FMIN_HZ", c_float(cfg.fmin_hz), "lowest mel edge"),
        ("KWS_FE_FMAX_HZ", c_float(cfg.fmax_hz), "highest mel edge"),
        ("KWS_FE_LOG_FLOOR", c_float(cfg.log_floor), "added to mel power before logf"),
        ("KWS_FE_NUM_MFCC", str(cfg.n_mfcc), "rows of kws_fe_dct"),
        ("KWS_FE_LOGMEL_QUANT_SCALE", c_float(cfg.quant_scale), ""),
        ("KWS_FE_LOGMEL_QUANT_ZERO_POINT", str(cfg.quant_zero_point), ""),
        ("KWS_FE_MFCC_QUANT_SCALE", c_float(cfg.mfcc_quant_scale), ""),
        ("KWS_FE_MFCC_QUANT_ZERO_POINT", str(cfg.mfcc_quant_zero_point), ""),
    ]
    arrays = [
        "/* Periodic Hann window; sample n of the n_fft frame uses kws_fe_window[n - KWS_FE_WINDOW_OFFSET]. */\n",
        _c_array("float", "kws_fe_window", "KWS_FE_WINDOW_SAMPLES", [c_float(v) for v in tables.window], 6),
        "\n/* Mel filterbank (HTK mel scale, triangles with peak 1), non-zero span of each channel. */\n",
        _c_array("uint16_t", "kws_fe_mel_first_bin", "KWS_FE_NUM_MELS", [str(v) for v in first], 12),
        _c_array("uint16_t", "kws_fe_mel_num_bins", "KWS_FE_NUM_MELS", [str(v) for v in count], 12),
        _c_array("uint16_t", "kws_fe_mel_offset", "KWS_FE_NUM_MELS", [str(v) for v in offset], 12),
        _c_array("float", "kws_fe_mel_weights", "KWS_FE_MEL_NUM_WEIGHTS", [c_float(v) for v in weights], 6),
        "\n/* Orthonormal DCT-II rows (MFCC): mfcc[c] = sum_m kws_fe_dct[c][m] * logmel[m]. */\n",
        "static const float kws_fe_dct[KWS_FE_NUM_MFCC][KWS_FE_NUM_MELS] = {\n"
        + ",\n".join(_c_row([c_float(v) for v in row], 6) for row in tables.dct)
        + "\n};\n",
    ]
    recipe = (
        " * The feature spec (kws/frontend.py, the definition), for frame t of the audio x[] in [-1, 1):\n"
        " *   frame[n] = x[t * KWS_FE_STRIDE_SAMPLES + n], n = 0 .. KWS_FE_FFT_SIZE - 1 (no centre padding)\n"
        " *   windowed[n] = frame[n] * kws_fe_window[n - KWS_FE_WINDOW_OFFSET] inside the window, else 0\n"
        " *   power[k] = |rfft(windowed)[k]|^2 (unscaled), k < KWS_FE_MEL_BIN_STOP is enough\n"
        " *   mel[m] = sum_{j < kws_fe_mel_num_bins[m]} kws_fe_mel_weights[kws_fe_mel_offset[m] + j]\n"
        " *                                       * power[kws_fe_mel_first_bin[m] + j]\n"
        " *   logmel[m] = logf(mel[m] + KWS_FE_LOG_FLOOR)\n"
        " *   mfcc[c] = sum_m kws_fe_dct[c][m] * logmel[m]   (only when KWS_FE_FEATURE_TYPE is MFCC)\n"
        " *   q = (int)roundf(value / KWS_FE_QUANT_SCALE) + KWS_FE_QUANT_ZERO_POINT, clamped to [-128, 127]\n"
        " *       (roundf rounds halves away from zero, as TFLite does)\n")
    return defines, arrays, recipe


def _int_array(c_type: str, name: str, size: str, values: np.ndarray, per_line: int = 12) -> str:
    return _c_array(c_type, name, size, [str(int(v)) for v in np.asarray(values).ravel()], per_line)


def _pairs(name: str, size: str, values: np.ndarray) -> str:
    lines = [", ".join(f"{{{int(a)}, {int(b)}}}" for a, b in values[i:i + 8]) for i in range(0, len(values), 8)]
    return f"static const int16_t {name}[{size}][2] = {{\n    " + ",\n    ".join(lines) + "\n};\n"


def _micro_parts(cfg: FrontendConfig) -> tuple[list[tuple[str, str, str]], list[str], str]:
    """tflm_micro: its fixed-point constants, integer tables and recipe (kws/frontend_micro.py)."""
    t = micro_tables(cfg)
    half = t.fft_size // 2
    defines = [
        ("KWS_FE_MICRO_WINDOW_BITS", str(WINDOW_BITS), "Q12 window"),
        ("KWS_FE_MICRO_FFT_HALF", str(half), "points of the complex FFT inside the real one"),
        ("KWS_FE_MICRO_FFT_STAGES", str(len(t.fft_stages)), "kissfft radix stages"),
        ("KWS_FE_MICRO_START_INDEX", str(t.start_index), "first FFT bin whose energy is used"),
        ("KWS_FE_MICRO_END_INDEX", str(t.end_index), "one past the last"),
        ("KWS_FE_MICRO_NUM_WEIGHTS", str(t.weights.size), "length of the filterbank (un)weights"),
        ("KWS_FE_MICRO_SMOOTHING_EVEN", str(t.smoothing[0]), "Q14 noise smoothing, even channels"),
        ("KWS_FE_MICRO_SMOOTHING_ODD", str(t.smoothing[1]), "Q14 noise smoothing, odd channels"),
        ("KWS_FE_MICRO_ONE_MINUS_SMOOTHING_EVEN", str(t.one_minus_smoothing[0]), ""),
        ("KWS_FE_MICRO_ONE_MINUS_SMOOTHING_ODD", str(t.one_minus_smoothing[1]), ""),
        ("KWS_FE_MICRO_MIN_SIGNAL_REMAINING", str(t.min_signal_remaining), "Q14"),
        ("KWS_FE_MICRO_SMOOTHING_BITS", str(t.smoothing_bits), "fractional bits of the noise estimate"),
        ("KWS_FE_MICRO_SUBTRACTION_BITS", str(SUBTRACTION_BITS), ""),
        ("KWS_FE_MICRO_CORRECTION_BITS", str(t.correction_bits), "log2(FFT size) - 6"),
        ("KWS_FE_MICRO_SNR_SHIFT", str(t.snr_shift), "PCAN: (signal * gain) >> this"),
        ("KWS_FE_MICRO_PCAN_SNR_BITS", str(PCAN_SNR_BITS), ""),
        ("KWS_FE_MICRO_PCAN_OUTPUT_BITS", str(PCAN_OUTPUT_BITS), ""),
        ("KWS_FE_MICRO_PCAN_LUT_SIZE", str(t.pcan_lut.size), ""),
        ("KWS_FE_MICRO_LOG_SCALE_BITS", str(LOG_SCALE_BITS), ""),
        ("KWS_FE_MICRO_LOG_SEGMENTS_BITS", str(LOG_SEGMENTS_BITS), ""),
        ("KWS_FE_MICRO_LOG_LUT_SIZE", str(t.log_lut.size), ""),
        ("KWS_FE_MICRO_LOG_COEFF", str(LOG_COEFF), "ln 2 in Q16"),
        ("KWS_FE_MICRO_LOG_OUTPUT_SCALE", str(LOG_OUTPUT_SCALE), ""),
        ("KWS_FE_MICRO_OUTPUT_SCALE", str(OUTPUT_SCALE), "q = (f * 256 + 666 / 2) / 666 - 128"),
        ("KWS_FE_MICRO_OUTPUT_DIV", str(OUTPUT_DIV), ""),
        ("KWS_FE_MICRO_OUTPUT_OFFSET", f"({OUTPUT_OFFSET})", ""),
    ]
    n_acc = "(KWS_FE_NUM_MELS + 1)"
    arrays = [
        "/* Q12 Hann window (TFLM window_op): round(4096 * (0.5 - 0.5 cos(2 pi (n + 0.5) / N))). */\n",
        _int_array("int16_t", "kws_fe_micro_window", "KWS_FE_WINDOW_SAMPLES", t.window),
        "\n/* kissfft: radix of each stage (outermost first), the input order before the butterflies, Q15\n"
        " * twiddles of the complex FFT and of the real FFT's split step, as kiss_fft(r)_alloc makes them. */\n",
        _int_array("uint8_t", "kws_fe_micro_fft_radix", "KWS_FE_MICRO_FFT_STAGES", [p for p, _ in t.fft_stages]),
        _int_array("uint16_t", "kws_fe_micro_fft_order", "KWS_FE_MICRO_FFT_HALF", t.fft_order),
        _pairs("kws_fe_micro_twiddles", "KWS_FE_MICRO_FFT_HALF", t.twiddles),
        _pairs("kws_fe_micro_super_twiddles", "KWS_FE_MICRO_FFT_HALF / 2", t.super_twiddles),
        "\n/* Filterbank in TFLM's layout: NUM_MELS + 1 accumulation channels (0 is scratch), Q12 weights. */\n",
        _int_array("int16_t", "kws_fe_micro_channel_starts", n_acc, t.channel_frequency_starts),
        _int_array("int16_t", "kws_fe_micro_weight_starts", n_acc, t.channel_weight_starts),
        _int_array("int16_t", "kws_fe_micro_channel_widths", n_acc, t.channel_widths),
        _int_array("int16_t", "kws_fe_micro_weights", "KWS_FE_MICRO_NUM_WEIGHTS", t.weights),
        _int_array("int16_t", "kws_fe_micro_unweights", "KWS_FE_MICRO_NUM_WEIGHTS", t.unweights),
        "\n/* PCAN gain table (TFLM WideDynamicFuncLut) and Log32's correction table. */\n",
        _int_array("int16_t", "kws_fe_micro_pcan_lut", "KWS_FE_MICRO_PCAN_LUT_SIZE", t.pcan_lut),
        _int_array("uint16_t", "kws_fe_micro_log_lut", "KWS_FE_MICRO_LOG_LUT_SIZE", t.log_lut),
    ]
    recipe = (" * The feature spec: TFLM's micro frontend (micro_speech's audio preprocessor) in integer\n"
              " * arithmetic, defined in kws/frontend_micro.py and run by firmware/core/kws_micro_frontend.c.\n")
    return defines, arrays, recipe


def fft_twiddles(n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of 2 pi k / n_fft for k < n_fft / 2, each rounded once from double to float32: the values
    firmware/core/kws_fft.c used to compute at start-up with libm (now generated, so the board needs no
    double-precision sin/cos: ~10 KB of flash on a Cortex-M4)."""
    two_pi = 6.283185307179586476925286766559
    k = range(n_fft // 2)
    cos = np.array([math.cos(two_pi * float(i) / float(n_fft)) for i in k], dtype=np.float64).astype(np.float32)
    sin = np.array([math.sin(two_pi * float(i) / float(n_fft)) for i in k], dtype=np.float64).astype(np.float32)
    return cos, sin


def _fft_twiddles(n_fft: int) -> list[str]:
    cos, sin = fft_twiddles(n_fft)
    return ["\n/* FFT twiddles W_N^k = cos(2 pi k / N) - i sin(2 pi k / N), k < N/2 (kws_fft.c). */\n",
            _c_array("float", "kws_fe_fft_cos", "KWS_FE_FFT_SIZE / 2", [c_float(v) for v in cos], 6),
            _c_array("float", "kws_fe_fft_sin", "KWS_FE_FFT_SIZE / 2", [c_float(v) for v in sin], 6)]


def render_header(cfg: FrontendConfig) -> str:
    """The text of kws_frontend_tables.h for `cfg` (raises ConfigError for an invalid config)."""
    cfg.validate()
    defines = _common_defines(cfg)
    if cfg.feature_type == "tflm_micro":
        extra, arrays, recipe = _micro_parts(cfg)
    elif cfg.feature_type == "mlperf_mfcc":
        extra, arrays = [], []
        recipe = (" * feature_type 'mlperf_mfcc' is host only (kws/frontend_mlperf.py: each clip is scaled by its\n"
                  " * largest sample, which a stream cannot know): the board takes FEATURES, never audio.\n")
    else:
        extra, arrays, recipe = _float_parts(cfg)
    defines += extra
    arrays = [*arrays, *_fft_twiddles(cfg.n_fft)]
    width = max(len(name) for name, _, _ in defines)
    define_lines = []
    for name, value, comment in defines:
        line = f"#define {name.ljust(width)} {value}"
        define_lines.append(f"{line}  /* {comment} */" if comment else line)
    spec_hash = cfg.spec_hash()
    parts = [
        "/* GENERATED by kws frontend tables — do not edit.\n"
        " *\n"
        f" * Regenerate with: kws frontend tables --out <dir>   (spec hash {spec_hash[:16]}...)\n"
        + recipe + " */\n",
        "#ifndef KWS_FRONTEND_TABLES_H\n#define KWS_FRONTEND_TABLES_H\n\n#include <stdint.h>\n\n",
        "\n".join(define_lines) + "\n\n",
        *arrays,
        "\n#endif /* KWS_FRONTEND_TABLES_H */\n",
    ]
    return "".join(parts)


def write_c_tables(cfg: FrontendConfig, out_dir: Path) -> list[Path]:
    """Write kws_frontend_tables.h into `out_dir` atomically; returns the paths written."""
    path = Path(out_dir) / HEADER_NAME
    atomic_write_text(path, render_header(cfg))
    return [path]

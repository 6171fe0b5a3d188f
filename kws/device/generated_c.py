"""Generated C for the firmware: the model as a C array, and every setting the device needs.

    from kws.device.generated_c import write_generated
    paths = write_generated(out_dir, config, model_bytes, settings, "make export RUN=demo")

Writes (build products: generated, never hand-edited, never committed):
  model_data.h / model_data.cc   alignas(16) const unsigned char g_kws_model_data[], its length, and the
                                 model's SHA-256 (the device reports it in its handshake)
  kws_settings.h                 input/output quantization, labels, tensor arena size, recognizer defaults,
                                 the op list (an X-macro for MicroMutableOpResolver), the board
  kws_frontend_tables.h          the frontend constants and tables (kws.frontend_tables, included by
                                 kws_settings.h)
  device_settings.json           the DeviceSettings behind kws_settings.h, so `kws calibrate` can re-render
                                 it without TensorFlow (kws.device.settings_header.rerender_settings)
The headers are C99 and C++ compatible; model_data.cc is C++ (alignas). Output is deterministic.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from kws.config import KwsConfig
from kws.device.settings_header import (
    SETTINGS_HEADER,
    DeviceSettings,
    generated_banner,
    render_settings,
    write_device_settings,
)
from kws.frontend_tables import HEADER_NAME as FRONTEND_HEADER
from kws.frontend_tables import render_header
from kws.fsutil import atomic_write_text

MODEL_HEADER = "model_data.h"
MODEL_SOURCE = "model_data.cc"
BYTES_PER_LINE = 12


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of the model bytes."""
    return hashlib.sha256(data).hexdigest()


def _banner(what: str, regenerate: str) -> str:
    return generated_banner(what, regenerate, "kws/device/generated_c.py")


def render_model_header(length: int, sha256: str, regenerate: str) -> str:
    """model_data.h: declarations, length and hash (usable from C and C++)."""
    return (
        _banner("the int8 TFLite model as a C array", regenerate)
        + "#ifndef KWS_MODEL_DATA_H\n#define KWS_MODEL_DATA_H\n\n"
        + f"#define KWS_MODEL_DATA_LEN {length}\n"
        + f'#define KWS_MODEL_SHA256 "{sha256}"\n\n'
        + "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
        + "/* The flatbuffer, 16-byte aligned: TFLite Micro reads it in place. */\n"
        + "extern const unsigned char g_kws_model_data[];\n"
        + "extern const unsigned int g_kws_model_data_len;\n"
        + "/* SHA-256 of g_kws_model_data as 64 lowercase hex digits (KWS_MODEL_SHA256). */\n"
        + "extern const char g_kws_model_sha256[];\n\n"
        + "#ifdef __cplusplus\n}\n#endif\n\n#endif /* KWS_MODEL_DATA_H */\n"
    )


def render_model_source(data: bytes, sha256: str, regenerate: str) -> str:
    """model_data.cc: the bytes, 16-byte aligned, with a compile-time length check against the header."""
    rows = []
    for start in range(0, len(data), BYTES_PER_LINE):
        rows.append("    " + ", ".join(f"0x{b:02x}" for b in data[start:start + BYTES_PER_LINE]) + ",")
    return (
        _banner("the int8 TFLite model as a C array", regenerate)
        + f'#include "{MODEL_HEADER}"\n\n'
        + "alignas(16) const unsigned char g_kws_model_data[] = {\n" + "\n".join(rows) + "\n};\n"
        + f"const unsigned int g_kws_model_data_len = {len(data)};\n"
        + f'const char g_kws_model_sha256[] = "{sha256}";\n\n'
        + "static_assert(sizeof(g_kws_model_data) == KWS_MODEL_DATA_LEN, "
        + '"model_data.cc and model_data.h come from different exports");\n'
    )


def write_generated(out_dir: Path, config: KwsConfig, model: bytes, settings: DeviceSettings,
                    regenerate: str) -> list[Path]:
    """Write the four files and device_settings.json into `out_dir`, each atomically; returns their paths."""
    sha = sha256_hex(model)
    if sha != settings.sha256:
        raise ValueError("settings.sha256 is not the hash of the model bytes")
    files = {
        MODEL_HEADER: render_model_header(len(model), sha, regenerate),
        MODEL_SOURCE: render_model_source(model, sha, regenerate),
        SETTINGS_HEADER: render_settings(config, settings, regenerate),
        FRONTEND_HEADER: render_header(config.frontend),
    }
    paths = [atomic_write_text(Path(out_dir) / name, text) for name, text in files.items()]
    return [*paths, write_device_settings(Path(out_dir), settings)]


# DeviceSettings and render_settings live in kws.device.settings_header (kws calibrate re-renders without TensorFlow);
# they stay importable from here, where the export's C generation is.
__all__ = ["BYTES_PER_LINE", "DeviceSettings", "MODEL_HEADER", "MODEL_SOURCE", "SETTINGS_HEADER",
           "render_model_header", "render_model_source", "render_settings", "sha256_hex", "write_generated"]

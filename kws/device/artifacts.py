"""What a board needs from a run's export, read once and checked: the model, its hash and the generated settings.

    from kws.device.artifacts import ExportedModel
    exported = ExportedModel.load(Path("runs/demo"))          # runs/demo/export/ + runs/demo/config.toml
    exported.sha256, exported.labels, exported.arena_bytes, exported.recognizer

The emulator and `kws flash` both read the export through this, so the emulated board and the real one
announce the same identity: the SHA-256 of model_int8.tflite, the labels, the tensor arena and the
recognizer defaults of generated/kws_settings.h (the header the sketch compiles), and the frontend spec
hash of generated/kws_frontend_tables.h. Every mismatch between those files (an export interrupted or
mixed by hand) is a DeviceArtifactError that says to re-export. Reads files only; no TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from kws.config import FrontendConfig, KwsConfig, RecognizerSettings
from kws.errors import KwsError
from kws.recognizer import RecognizerConfig
from kws.run import Run

FIRMWARE_VERSION = "0.1.0"
"""The firmware version both boards report (firmware/nano33ble/nano33ble.ino states the same string)."""
SETTINGS_HEADER = "kws_settings.h"
TABLES_HEADER = "kws_frontend_tables.h"
MODEL_HEADER = "model_data.h"
MODEL_SOURCE = "model_data.cc"
GENERATED_FILES = (SETTINGS_HEADER, TABLES_HEADER, MODEL_HEADER, MODEL_SOURCE)

_DEFINE = re.compile(r"^#define\s+(\w+)\s+(.*?)\s*(?:/\*.*)?$")
_LABELS = re.compile(r"kws_labels\s*\[[^\]]*\]\s*=\s*\{(.*?)\};", re.S)


class DeviceArtifactError(KwsError):
    """The run's export is missing or inconsistent; the message names the file and how to regenerate it."""


def parse_defines(text: str) -> dict[str, str]:
    """`#define NAME value` lines of a generated header (comments stripped), value as text."""
    out = {}
    for line in text.splitlines():
        match = _DEFINE.match(line.strip())
        if match and "(" not in match.group(1):
            out[match.group(1)] = match.group(2)
    return out


def _c_number(text: str, what: str, path: Path) -> float:
    try:
        return float(text.rstrip("fFuU"))
    except ValueError:
        raise DeviceArtifactError(f"{path}: {what} is {text!r}, not a number; re-run kws export") from None


def _c_string(text: str, what: str, path: Path) -> str:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, str):
        raise DeviceArtifactError(f"{path}: {what} is {text!r}, not a string literal; re-run kws export")
    return value


@dataclass(frozen=True)
class ExportedModel:
    """The identity and settings of one run's export, as a board built from it reports them."""

    run_dir: Path
    model_path: Path
    model: bytes
    sha256: str
    labels: tuple[str, ...]
    arena_bytes: int
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    recognizer: RecognizerConfig
    op_names: tuple[str, ...]
    frontend: FrontendConfig
    generated_dir: Path
    settings_sha256: str
    """KWS_SETTINGS_MODEL_SHA256: the model the generated C describes (equals sha256 unless --model)."""

    @property
    def export_dir(self) -> Path:
        return Run.at(self.run_dir).export_dir

    @classmethod
    def load(cls, run: "Run | str | Path", model_path: str | Path | None = None,
             config: KwsConfig | None = None) -> "ExportedModel":
        """Read runs/<run>/export (and config.toml unless `config` is given). `model_path` replaces
        model_int8.tflite (the emulator's --model); the generated settings still come from the run."""
        run = run if isinstance(run, Run) else Run.at(run)
        run_dir = run.dir
        export_dir = run.export_dir
        generated = run.generated_dir
        regenerate = f"run `kws export --run {run.name}`"
        if not export_dir.is_dir():
            raise DeviceArtifactError(f"{export_dir} does not exist{run.where()}: {regenerate} first")
        for name in GENERATED_FILES:
            if not (generated / name).is_file():
                raise DeviceArtifactError(f"{generated / name} is missing: {regenerate} again")
        path = Path(model_path) if model_path is not None else run.export_model
        if not path.is_file():
            raise DeviceArtifactError(f"{path} does not exist" + ("" if model_path else f": {regenerate} first"))
        model = path.read_bytes()
        sha = hashlib.sha256(model).hexdigest()

        settings_path = generated / SETTINGS_HEADER
        settings_text = settings_path.read_text(encoding="utf-8")
        d = parse_defines(settings_text)
        required = ("KWS_SETTINGS_MODEL_SHA256", "KWS_TENSOR_ARENA_SIZE", "KWS_MODEL_OUTPUT_SCALE",
                    "KWS_MODEL_OUTPUT_ZERO_POINT", "KWS_MODEL_INPUT_SCALE", "KWS_MODEL_INPUT_ZERO_POINT",
                    "KWS_AVERAGE_WINDOW_MS", "KWS_DETECTION_THRESHOLD", "KWS_SUPPRESSION_MS", "KWS_MINIMUM_COUNT",
                    "KWS_OP_NAMES", "KWS_NUM_LABELS")
        missing = [name for name in required if name not in d]
        if missing:
            raise DeviceArtifactError(f"{settings_path} lacks {', '.join(missing)}: it is from another version of "
                                      f"kws export; {regenerate} again")
        settings_sha = _c_string(d["KWS_SETTINGS_MODEL_SHA256"], "KWS_SETTINGS_MODEL_SHA256", settings_path)
        header_defines = parse_defines((generated / MODEL_HEADER).read_text(encoding="utf-8"))
        header_sha = _c_string(header_defines.get("KWS_MODEL_SHA256", "null"), "KWS_MODEL_SHA256",
                               generated / MODEL_HEADER)
        if header_sha != settings_sha:
            raise DeviceArtifactError(f"{generated / MODEL_HEADER} and {settings_path} describe different models "
                                      f"({header_sha[:16]}... vs {settings_sha[:16]}...): {regenerate} again")
        if model_path is None and sha != settings_sha:
            raise DeviceArtifactError(f"{path} (SHA-256 {sha[:16]}...) is not the model the generated C holds "
                                      f"({settings_sha[:16]}...): {regenerate} again")

        match = _LABELS.search(settings_text)
        try:
            labels = tuple(json.loads("[" + match.group(1) + "]")) if match else ()
        except json.JSONDecodeError:
            labels = ()
        if not labels or len(labels) != int(_c_number(d["KWS_NUM_LABELS"], "KWS_NUM_LABELS", settings_path)):
            raise DeviceArtifactError(f"{settings_path}: cannot read the kws_labels array; {regenerate} again")

        if config is None:
            if not run.config_path.is_file():
                raise DeviceArtifactError(f"{run.config_path} does not exist: the run's config is needed for the "
                                          f"frontend (train or export the run first)")
            config = run.config()
        frontend = config.frontend
        tables = parse_defines((generated / TABLES_HEADER).read_text(encoding="utf-8"))
        spec = tables.get("KWS_FE_SPEC_HASH", "null")
        if _c_string(spec, "KWS_FE_SPEC_HASH", generated / TABLES_HEADER) != frontend.spec_hash():
            raise DeviceArtifactError(f"{generated / TABLES_HEADER} was generated for another frontend than "
                                      f"{run.config_path} describes (spec hash {spec[1:17]}... vs "
                                      f"{frontend.spec_hash()[:16]}...): {regenerate} again")
        number = lambda name: _c_number(d[name], name, settings_path)  # noqa: E731
        settings = RecognizerSettings.from_c_defines({name: str(int(number(name))) for name, _, _ in
                                                      RecognizerSettings().c_defines()})
        recognizer = RecognizerConfig.from_deploy(settings)
        op_names = tuple(n for n in _c_string(d["KWS_OP_NAMES"], "KWS_OP_NAMES", settings_path).split(",") if n)
        return cls(run_dir=run_dir, model_path=path, model=model, sha256=sha, labels=labels,
                   arena_bytes=int(number("KWS_TENSOR_ARENA_SIZE")), input_scale=number("KWS_MODEL_INPUT_SCALE"),
                   input_zero_point=int(number("KWS_MODEL_INPUT_ZERO_POINT")),
                   output_scale=number("KWS_MODEL_OUTPUT_SCALE"),
                   output_zero_point=int(number("KWS_MODEL_OUTPUT_ZERO_POINT")), recognizer=recognizer,
                   op_names=op_names, frontend=frontend, generated_dir=generated, settings_sha256=settings_sha)

"""The export chain end to end on a tiny model trained here, plus the checks that need its output.

One trained run and one float export are shared by the module (TensorFlow's import and the
conversions are the slow part); each failure test works on its own copy or fails before any work.
The export stage's checks that need no trained run (parity targets, board budget, TFLM rounding,
the padding pass, the CLI and lazy imports) are tests/test_export_unit.py.

    .venv/bin/python -m pytest tests/test_export.py -q
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from kws.config import FrontendConfig, load_config
from kws.run import Run

TINY = [
    "training.batch_size=32", "training.steps=[120,40]", "training.eval_every=40", "training.checkpoint_every=40",
    "quantization.calibration_size=40", "quantization.qat_steps=30",
]
RUN_FILES = ("config.toml", "calibration.json", "model_float.pt")


def _config(data_dir: Path, cache: Path, *extra: str):
    return load_config(None, TINY + [f"data.data_dir={data_dir}", f"data.cache_dir={cache}", *extra])


@pytest.fixture(scope="module")
def trained(tiny_synth, tmp_path_factory):
    """(config, run_dir): a tiny_conv trained for 160 steps on the tiny synthetic set."""
    from kws.train import train

    root = tmp_path_factory.mktemp("export")
    config = _config(tiny_synth, root / "cache")
    train(config, root / "run", progress=False)
    return config, root / "run"


@pytest.fixture(scope="module")
def exported(trained):
    """The ExportResult of `kws export --from float` on the trained run."""
    from export.pipeline import export_run

    config, run = trained
    return export_run(config, Run.at(run), "float", progress=False)


def _copy_run(run: Path, dest: Path, extra: tuple[str, ...] = ()) -> Path:
    dest.mkdir(parents=True)
    for name in RUN_FILES + extra:
        shutil.copy2(run / name, dest / name)
    return dest


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------------ end to end

def test_every_hop_is_checked_and_recorded(exported, trained):
    config, run = trained
    out = exported.export_dir
    assert out == run / "export"
    for name in ("model.onnx", "saved_model/saved_model.pb", "model_int8.tflite", "ops.json", "parity.json",
                 "parity.md", "generated/model_data.cc", "generated/model_data.h", "generated/kws_settings.h",
                 "generated/kws_frontend_tables.h", "aot/kws_model_aot.c", "aot/kws_model_aot.h"):
        assert (out / name).is_file(), name
    assert not list(run.glob(".export*")), "no temporary export folder may remain"

    report = json.loads((out / "parity.json").read_text())
    assert report == json.loads(json.dumps(exported.report, allow_nan=True))
    hops = {row["hop"]: row for row in report["hops"]}
    assert list(hops) == ["pytorch_float", "onnxruntime", "tensorflow", "tflite_int8", "tflite_micro", "aot_c"]
    # The compiled C model is TFLite Micro, byte for byte (DESIGN contract 4): same predictions, same scores.
    assert report["aot"]["bit_exact_with_tflite_micro"]
    assert hops["aot_c"]["accuracy"] == hops["tflite_micro"]["accuracy"]
    assert hops["aot_c"]["max_abs_diff"] == hops["tflite_micro"]["max_abs_diff"]
    assert report["aot"]["activation_bytes"] <= report["arena"]["size"]
    assert report["test_clips"] > 0
    # Float hops: same network, float32 reassociation only (tolerance reasoning in export/onnx_export.py).
    assert hops["onnxruntime"]["max_abs_diff"] < 1e-4 and hops["tensorflow"]["max_abs_diff"] < 1e-4
    assert hops["onnxruntime"]["agreement_with_float"] == 1.0 and hops["tensorflow"]["agreement_with_float"] == 1.0
    # TFLite Micro equals the reference kernels on the whole test split, except verified FULLY_CONNECTED
    # rounding ties (export/tflm_check.py); on this split there are none, so its row equals int8's.
    tflm = report["tflite_micro"]
    assert tflm["mismatching_clips"] == tflm["explained_fc_rounding_ties"] == 0 and tflm["bit_exact"]
    assert hops["tflite_micro"]["accuracy"] == hops["tflite_int8"]["accuracy"]
    assert hops["tflite_micro"]["agreement_with_float"] == hops["tflite_int8"]["agreement_with_float"]
    # int8 scores are probabilities in 1/256 steps: a healthy PTQ model stays within a few steps of float.
    assert hops["tflite_int8"]["max_abs_diff"] < 0.1
    # The tiny test split has ~10 clips, so one disagreement is 10 %: the 99 % target is for real splits.
    assert hops["tflite_int8"]["agreement_with_float"] >= 0.8
    assert {t["name"] for t in report["targets"]} == {"int8 vs float top-1 agreement",
                                                      "accuracy drop, TFLite int8 vs float (PTQ)"}
    assert report["all_targets_met"] == all(t["ok"] for t in report["targets"])
    for name in ("model.onnx", "model_int8.tflite", "generated/model_data.cc", "saved_model/", "ops.json"):
        assert report["sizes"][name] > 0
    assert report["sizes"]["model_int8.tflite"] == (out / "model_int8.tflite").stat().st_size
    markdown = (out / "parity.md").read_text()
    assert "| Hop | Accuracy | Top-1 agreement with PyTorch float |" in markdown
    assert "TFLite Micro" in markdown and "model_int8.tflite" in markdown


def test_export_json_is_strict_and_device_settings_rebuild_the_header(exported, trained, tmp_path):
    from kws.device.settings_header import rerender_settings

    config, run = trained
    out = exported.export_dir
    for name in ("parity.json", "ops.json", "generated/device_settings.json"):
        json.loads((out / name).read_text(), parse_constant=lambda c, n=name: pytest.fail(f"{n} holds {c}"))
    # device_settings.json holds everything kws_settings.h states but the recognizer, which the config gives.
    copy = shutil.copytree(out / "generated", tmp_path / "generated")
    rerender_settings(copy, config, f"kws export --run {run.name} --from float")
    assert (copy / "kws_settings.h").read_bytes() == (out / "generated" / "kws_settings.h").read_bytes()


def test_int8_model_takes_the_frontend_features_as_they_are(exported, trained):
    from export.tflite_model import describe

    config, _ = trained
    info = describe((exported.export_dir / "model_int8.tflite").read_bytes())
    assert info.input.dtype == "INT8" and info.output.dtype == "INT8"
    assert info.input.shape == (1, config.frontend.num_frames, config.frontend.num_features)
    assert info.input.zero_point == config.frontend.input_zero_point
    assert info.input.scale == pytest.approx(config.frontend.input_scale, rel=1e-6)  # INPUT_SCALE_RTOL
    # Softmax output: the converter's fixed int8 quantization, so score = q + 128 in 0..255.
    assert (info.output.scale, info.output.zero_point) == (1 / 256, -128)


def test_tiny_conv_graph_has_no_pad_transpose_or_quantize(exported):
    import onnx

    ops = json.loads((exported.export_dir / "ops.json").read_text())
    assert [op["name"] for op in ops["ops"]] == ["RESHAPE", "CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]
    assert ops["op_sequence"] == ["RESHAPE", "CONV_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    assert [op["tflm_resolver_method"] for op in ops["ops"]] == ["AddReshape", "AddConv2D", "AddFullyConnected",
                                                                 "AddSoftmax"]
    # The route that gets there: the ONNX Conv carries SAME_UPPER instead of asymmetric pads.
    model = onnx.load(str(exported.export_dir / "model.onnx"))
    assert "Pad" not in {n.op_type for n in model.graph.node}
    (conv,) = [n for n in model.graph.node if n.op_type == "Conv"]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in conv.attribute}
    assert attrs["auto_pad"] == b"SAME_UPPER" and "pads" not in attrs
    assert exported.report["route"]["onnx"]["opset"] >= 18


def test_tflm_arena_is_measured_with_a_margin(exported, trained):
    config, _ = trained
    arena = exported.report["arena"]
    assert 0 < arena["minimum"] <= 64 * 1024
    assert arena["size"] % 16 == 0
    assert arena["size"] >= max(arena["minimum"], arena["report_total"]) + config.deploy.arena_margin_bytes
    assert "Arena allocation total" in arena["allocation_report"]


def test_ds_cnn_route_folds_batch_norm_and_passes_the_audit(exported, tmp_path):
    """DS-CNN (tiny width, random weights, random batch-norm statistics) through hops 1-4 without training."""
    import torch

    from export.audit import audit_ops
    from export.onnx_export import DeployModel, check_float_scores, export_onnx, run_onnxruntime
    from export.tf_convert import convert_int8, onnx_to_saved_model, saved_model_scores
    from export.tflm_check import compare_with_reference, reference_outputs, tflm_outputs
    from kws.models import build_model, tiny_model_config

    torch.manual_seed(0)
    frontend = FrontendConfig()
    model = build_model(tiny_model_config("ds_cnn"), frontend, 4)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):  # non-trivial statistics, so folding is exercised
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    deploy = DeployModel(model.eval())
    q = np.random.default_rng(0).integers(-128, 128, size=(16, frontend.num_frames, frontend.num_features))
    x = ((q - frontend.input_zero_point) * frontend.input_scale).astype(np.float32)
    with torch.no_grad():
        unfolded = torch.softmax(model(torch.as_tensor(x)), dim=-1).numpy()
    reference = deploy.scores(x)
    assert np.max(np.abs(unfolded - reference)) < 1e-5  # folding batch norm changes nothing but rounding
    report = export_onnx(deploy, tmp_path / "ds_cnn.onnx")
    assert report.padding_pass["convs_same_upper"] == 5 and "BatchNormalization" not in report.ops
    check_float_scores("ONNX Runtime", reference, run_onnxruntime(tmp_path / "ds_cnn.onnx", x))
    onnx_to_saved_model(tmp_path / "ds_cnn.onnx", tmp_path / "saved_model", tmp_path / "scratch")
    check_float_scores("TensorFlow", reference, saved_model_scores(tmp_path / "saved_model", x))
    conversion = convert_int8(tmp_path / "saved_model", x, frontend)
    audit = audit_ops(conversion.model, "ds_cnn")
    assert [op.name for op in audit.ops] == ["RESHAPE", "CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D",
                                             "FULLY_CONNECTED", "SOFTMAX"]
    q8 = q.astype(np.int8)
    golden = reference_outputs(conversion.model, q8)
    result = compare_with_reference(conversion.model, q8, golden, tflm_outputs(conversion.model, q8, 128 * 1024))
    assert result.mismatching_clips == len(result.explained)


# ------------------------------------------------------------------------------------------ C output

def _compile(tmp: Path, sources: list[Path], compiler: str, std: str, include: Path) -> Path:
    exe = tmp / f"prog_{std.replace('+', 'p')}"
    command = [compiler, f"-std={std}", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{include}",
               *map(str, sources), "-o", str(exe)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return exe


DUMP_MAIN = r"""
#include <cstdint>
#include <cstdio>
#include <cstring>
#include "model_data.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  if (reinterpret_cast<std::uintptr_t>(g_kws_model_data) % 16 != 0) return 3;
  if (g_kws_model_data_len != KWS_MODEL_DATA_LEN) return 4;
  if (std::strcmp(g_kws_model_sha256, KWS_MODEL_SHA256) != 0) return 5;
  std::FILE* out = std::fopen(argv[1], "wb");
  if (out == nullptr) return 6;
  std::fwrite(g_kws_model_data, 1, g_kws_model_data_len, out);
  std::fclose(out);
  std::printf("%s\n", g_kws_model_sha256);
  return 0;
}
"""


def _dump_array(generated: Path, tmp: Path) -> tuple[bytes, str]:
    main = tmp / "dump.cc"
    main.write_text(DUMP_MAIN)
    exe = _compile(tmp, [main, generated / "model_data.cc"], "c++", "c++17", generated)
    result = subprocess.run([str(exe), str(tmp / "dumped.bin")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"exit {result.returncode}"
    return (tmp / "dumped.bin").read_bytes(), result.stdout.strip()


def test_c_array_unit_compiles_and_round_trips(tmp_path):
    from kws.device.generated_c import render_model_header, render_model_source, sha256_hex

    data = bytes(range(256)) + b"\x00\xff" * 7 + b"\x2a"  # not a multiple of the 12 bytes per line
    sha = sha256_hex(data)
    (tmp_path / "model_data.h").write_text(render_model_header(len(data), sha, "test"))
    (tmp_path / "model_data.cc").write_text(render_model_source(data, sha, "test"))
    dumped, printed = _dump_array(tmp_path, tmp_path)
    assert dumped == data and printed == hashlib.sha256(data).hexdigest()


def test_generated_model_data_compiles_and_equals_the_tflite(exported, tmp_path):
    tflite = (exported.export_dir / "model_int8.tflite").read_bytes()
    dumped, printed = _dump_array(exported.export_dir / "generated", tmp_path)
    assert dumped == tflite
    assert printed == hashlib.sha256(tflite).hexdigest() == exported.report["model_sha256"]


SETTINGS_C = r"""
#include <stdio.h>
#include "kws_settings.h"
#include "model_data.h"

int main(void) {
  int i;
  printf("%d %d %d %d\n", KWS_TENSOR_ARENA_SIZE, KWS_NUM_LABELS, KWS_MODEL_INPUT_ZERO_POINT, KWS_OP_COUNT);
  for (i = 0; i < KWS_NUM_LABELS; ++i) printf("%s\n", kws_labels[i]);
  printf("%s\n", KWS_SETTINGS_MODEL_SHA256);
  printf("%d %d %d %d\n", KWS_AVERAGE_WINDOW_MS, KWS_DETECTION_THRESHOLD, KWS_SUPPRESSION_MS, KWS_MINIMUM_COUNT);
  return 0;
}
"""


def test_settings_header_compiles_as_c_and_registers_the_ops_in_cpp(exported, trained, tmp_path):
    config, _ = trained
    generated = exported.export_dir / "generated"
    (tmp_path / "settings.c").write_text(SETTINGS_C)
    exe = _compile(tmp_path, [tmp_path / "settings.c"], "cc", "c99", generated)
    lines = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()
    report = exported.report
    assert lines[0] == f"{report['arena']['size']} 4 {config.frontend.input_zero_point} 4"
    assert lines[1:5] == list(config.data.labels())
    assert lines[5] == report["model_sha256"]
    deploy = config.deploy
    assert lines[6] == f"{deploy.average_window_ms} {deploy.detection_threshold} {deploy.suppression_ms} " \
                       f"{deploy.minimum_count}"
    # The X-macro registers exactly the audited ops, in order, on a MicroMutableOpResolver look-alike.
    methods = [op["tflm_resolver_method"] for op in report["ops"]]
    fake = "\n".join(f"  int {m}() {{ std::printf(\"{m}\\n\"); return 0; }}" for m in methods)
    (tmp_path / "ops.cc").write_text(
        "#include <cstdio>\n#include \"kws_settings.h\"\nstruct Resolver {\n" + fake + "\n};\n"
        "int main() {\n  Resolver resolver;\n#define KWS_ADD_OP(method) if (resolver.method() != 0) return 1;\n"
        "  KWS_FOR_EACH_OP(KWS_ADD_OP)\n  return 0;\n}\n")
    exe = _compile(tmp_path, [tmp_path / "ops.cc"], "c++", "c++17", generated)
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert out == methods


# ------------------------------------------------------------------------------------------ refusals

def _with_opcode(model: bytes, old: str, new: str) -> bytes:
    """The model with every node of op `old` relabelled as op `new` (for audit tests only)."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    obj = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    old_code, new_code = getattr(schema.BuiltinOperator, old), getattr(schema.BuiltinOperator, new)
    for code in obj.operatorCodes:
        if max(code.builtinCode, code.deprecatedBuiltinCode) == old_code:
            code.builtinCode = new_code
            code.deprecatedBuiltinCode = min(new_code, 127)  # 127: placeholder for codes above int8
    builder = flatbuffers.Builder(1024)
    builder.Finish(obj.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize("op, message", [
    ("TRANSPOSE", "contains TRANSPOSE: a layout transpose"),
    ("PAD", "contains PAD: padding was not folded"),
    ("DEQUANTIZE", "contains DEQUANTIZE: the graph is not int8"),
    ("ADD", "contains ADD, which a tiny_conv should not need"),
    ("NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V4, which TFLite Micro does not register"),
])
def test_op_audit_refuses_forbidden_and_unregistered_ops(exported, op, message):
    from export.audit import audit_ops
    from export.errors import UnsupportedOpError

    model = (exported.export_dir / "model_int8.tflite").read_bytes()
    assert audit_ops(model, "tiny_conv").resolver_methods  # the real model passes
    with pytest.raises(UnsupportedOpError, match=message):
        audit_ops(_with_opcode(model, "RESHAPE", op), "tiny_conv")


def test_input_quantization_mismatch_names_both_values(exported):
    from export.errors import InputQuantizationError
    from export.tf_convert import check_input_quantization
    from export.tflite_model import describe

    info = describe((exported.export_dir / "model_int8.tflite").read_bytes())
    check_input_quantization(info, FrontendConfig())  # the run's own frontend passes
    with pytest.raises(InputQuantizationError, match=r"scale=0\.10000000149011612, zero_point=10, but the "
                                                     r"frontend's int8 features use scale=0\.2, zero_point=5"):
        check_input_quantization(info, FrontendConfig(quant_scale=0.2, quant_zero_point=5))
    with pytest.raises(InputQuantizationError, match="zero_point=11"):
        check_input_quantization(info, FrontendConfig(quant_zero_point=11))


def test_budget_refusal_keeps_the_previous_export_and_leaves_nothing_partial(exported, trained):
    from export.pipeline import export_run
    from kws.device.budget import BoardBudget, BudgetError

    config, run = trained
    before = _tree_digest(run / "export")
    small = BoardBudget("tiny", "a board too small for any model", flash_bytes=16 * 1024, ram_bytes=8 * 1024,
                        code_flash_estimate=4 * 1024, ram_reserved_estimate=2 * 1024, headroom=0.1)
    with pytest.raises(BudgetError, match=r"does not fit a board too small for any model \[tiny\]: flash: model "):
        export_run(config, Run.at(run), "float", board=small, progress=False)
    assert _tree_digest(run / "export") == before
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []


def test_missing_foreign_and_mislabelled_checkpoints_are_refused_before_any_work(trained, tiny_synth, tmp_path):
    from export.pipeline import export_run
    from kws.checkpoint import CheckpointError

    config, run = trained
    copy = _copy_run(run, tmp_path / "run")
    with pytest.raises(CheckpointError, match=r"model_qat\.pt does not exist; run `kws quantize --method qat"):
        export_run(config, Run.at(copy), "qat", progress=False)
    other_labels = _config(tiny_synth, tmp_path / "cache", "data.wanted_words=['yes']")
    with pytest.raises(CheckpointError, match=r"labels \['_silence_', '_unknown_', 'yes', 'no'\] but the config"):
        export_run(other_labels, Run.at(copy), "float", progress=False)
    other_model = _config(tiny_synth, tmp_path / "cache", "model.name=ds_cnn")
    with pytest.raises(CheckpointError, match="holds a 'tiny_conv' model but the config asks for 'ds_cnn'"):
        export_run(other_model, Run.at(copy), "float", progress=False)
    shutil.copy2(copy / "model_float.pt", copy / "model_ptq.pt")  # a float checkpoint under the PTQ name
    with pytest.raises(CheckpointError, match=r"model_ptq\.pt is a 'float' checkpoint, not 'ptq'"):
        export_run(config, Run.at(copy), "ptq", progress=False)
    (copy / "model_float.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="is not a readable PyTorch checkpoint"):
        export_run(config, Run.at(copy), "float", progress=False)
    assert not (copy / "export").exists() and not list(copy.glob(".export*"))


def test_qat_export_uses_the_recorded_ranges_and_int8_grid_weights(trained, tmp_path):
    from export.pipeline import export_run
    from kws.compress.quantize import quantize

    config, run = trained
    copy = _copy_run(run, tmp_path / "run")
    quantize(config, copy, "qat", progress=False)
    report = export_run(config, Run.at(copy), "qat", progress=False).report
    tflm = report["tflite_micro"]
    assert report["source"] == "qat" and tflm["mismatching_clips"] == tflm["explained_fc_rounding_ties"]
    whys = [r["why"] for r in report["route"]["int8_ranges"]]
    assert "checkpoint range of 'conv'" in whys and "checkpoint range of 'fc'" in whys
    names = {t["name"] for t in report["targets"]}
    assert {"accuracy drop, TFLite int8 vs float model (QAT)", "|TFLite int8 - QAT simulated int8| accuracy"} <= names
    sim = report["simulated_int8"]
    assert sim["recorded_test_accuracy"] == pytest.approx(sim["test_accuracy"])
    # The TFLite model is the simulated one: same weights, same ranges; only the requantization arithmetic
    # (float in the simulation, fixed point in TFLite) and the softmax on top can move a near-tie.
    assert sim["agreement_with_tflite"] >= 0.8


# ------------------------------------------------------------------------------------------ TFLM rounding

@pytest.mark.filterwarnings("ignore:Statistics for quantized inputs")
def test_tflm_vs_reference_fully_connected_ties_are_explained_and_nothing_else(exported):
    from export.errors import ParityError
    from export.tfenv import import_tensorflow
    from export.tflm_check import compare_with_reference, reference_outputs, tflm_outputs

    tf = import_tensorflow()
    rng = np.random.default_rng(0)
    weights = (rng.standard_normal((64, 256)) * 0.1).astype(np.float32)
    bias = (rng.standard_normal(256) * 0.1).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, 64], tf.float32)])
    def dense(x):
        return tf.matmul(x, weights) + bias

    converter = tf.lite.TFLiteConverter.from_concrete_functions([dense.get_concrete_function()], dense)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([rng.standard_normal((1, 64)).astype(np.float32)] for _ in range(50))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    model = converter.convert()
    inputs = rng.integers(-128, 128, size=(100, 64)).astype(np.int8)
    golden, device = reference_outputs(model, inputs), tflm_outputs(model, inputs, 64 * 1024)
    result = compare_with_reference(model, inputs, golden, device)
    # 256 outputs per clip: ties are common here (rare in tiny_conv's 4-output FC); each is 1 LSB.
    assert result.mismatching_clips == len(result.explained) > 0 and result.max_output_lsb == 1
    assert {t["op"] for t in result.explained} == {"FULLY_CONNECTED"}
    equal = int(np.flatnonzero(np.all(golden == device, axis=1))[0])
    tampered = device.copy()
    tampered[equal, 0] ^= 1
    with pytest.raises(ParityError, match=f"differs from the reference kernels on clip {equal}, but not when re-run"):
        compare_with_reference(model, inputs, golden, tampered)


def test_report_of_an_exported_run(exported, trained):
    """The report fills every section the run has inputs for, names the command for the rest, embeds its plots."""
    from kws.eval.report import build_report, missing_sections

    config, run = trained
    paths = build_report(config, run)
    html = paths["html"].read_text()
    assert html.count("data:image/png;base64,") >= 3  # training curves, confusion matrix, budget bars
    missing = missing_sections(paths["json"])
    assert set(missing) == {"On-device detection: confusion, ROC/DET, operating point",
                            "Streaming: false accepts per hour vs false rejects, calibration", "Latency (device clock)"}
    md = paths["md"].read_text()
    assert "Parity at every hop" in md and "TFLite Micro" in md
    assert "| total |  |  | 16,652 | 336,000 |" in md  # the per-layer table of the 4-label tiny_conv
    assert "Not available yet: run `kws eval" in md

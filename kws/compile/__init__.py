"""Ahead-of-time compiler: full-int8 TFLite -> plain C99 bit-exact with TensorFlow Lite Micro (`kws compile`).

    from kws.compile import compile_tflite
    result = compile_tflite("model_int8.tflite", "out/")     # out/kws_model_aot.c, out/kws_model_aot.h

Modules: tflite_reader (flatbuffer), graph (IR + TFLM quantization), planner (arena), codegen (C),
dsp_layout (Cortex-M4 weight layouts), host_runner (host build + run), command (CLI + API).
"""

from kws.compile.command import CompileResult, compile_tflite, register
from kws.compile.graph import CompileError

__all__ = ["CompileError", "CompileResult", "compile_tflite", "register"]

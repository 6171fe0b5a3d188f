"""The conversion chain PyTorch -> ONNX -> TensorFlow -> int8 TFLite -> C array, with a check at every hop.

    kws export --run demo [--from float|ptq|qat|pruned] [--board nano33ble|host]
    from export.pipeline import export_run

This is the only package that imports TensorFlow, and only inside the functions that need it, so
importing `export` (or `kws`) stays cheap. pipeline.export_run runs the hops of `hops` in order (one function
per hop) on the inputs of `inputs` (checkpoint, test and calibration clips) into the folder `layout` names,
and `report` writes the parity table. The work of each hop: onnx_export (hop 1), tf_convert (hops 2-3),
audit (op audit), tflm_check (hop 4), parity (the table); cli; the board budget and the generated C come
from kws (kws.device.budget, kws.device.generated_c, kws.device.settings_header); helpers: tflite_model
(reads .tflite with TFLM's schema), tfenv (quiet TensorFlow, captured C++ output), errors. The route and
its reasons: export/README.md.
"""

"""The conversion chain PyTorch -> ONNX -> TensorFlow -> int8 TFLite -> C array, with a check at every hop.

This is the only package that imports TensorFlow. The chain itself arrives with the export issue;
`kws` never imports this package at module level.
"""

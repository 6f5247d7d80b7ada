"""ONNX export and the per-precision ONNX -> ONNX transforms."""

"""onnxruntime backend: the runner and its execution providers."""

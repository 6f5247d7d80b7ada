"""Inference backends. Each runner is a context manager: activate -> infer(batch) -> deactivate.

Heavy or optional dependencies (onnxruntime, tensorrt, cuda-python) are imported when a runner is
activated, never at import time.
"""

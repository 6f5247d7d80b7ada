"""Inference backends. Each runner is a context manager: activate -> infer(batch) -> deactivate.

Which backends there are, how each is installed, which options it takes and what it can do is the
registry's (``registry.py``: ``BackendSpec``, ``open_runner``). Heavy or optional dependencies
(onnxruntime, openvino, tensorrt, cuda-python) are imported when a runner is activated, never at import time.
"""

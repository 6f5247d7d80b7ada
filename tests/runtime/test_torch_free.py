"""The runtime is what ships to the edge: it must import and run with torch (and onnx tooling) unimportable."""

import subprocess
import sys
import textwrap


def test_runtime_runs_an_onnx_model_without_torch(exported):
    script = textwrap.dedent(
        f"""
        import sys

        class Block:
            blocked = ("torch", "onnx", "onnxsim", "onnxslim", "onnxconverter_common", "onnxscript", "matplotlib")
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in self.blocked:
                    raise ImportError(f"blocked for this test: {{name}}")
                return None

        sys.meta_path.insert(0, Block())
        import numpy as np
        from alexnet_edge.runtime import OnnxRuntimeRunner, normalize_uint8
        from alexnet_edge.runtime.backends.tensorrt import builder as trt_builder  # importable without tensorrt too
        from alexnet_edge.runtime.backends.tensorrt import runner as trt_runner
        with OnnxRuntimeRunner({str(exported.out / "model.int8.onnx")!r}) as runner:
            out = runner.infer(normalize_uint8(np.zeros((2, 3, 32, 32), np.uint8)))
        assert out.shape == (2, 10)
        assert not [m for m in sys.modules if m.split(".")[0] in Block.blocked]
        print("ok")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"

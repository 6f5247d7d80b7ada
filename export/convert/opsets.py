"""Which ONNX opset the export writes by default: policy, kept apart from the exporter so that the
configuration (and ``export-alexnet --help``) can name it without importing torch and onnx."""

# TensorRT 8.6 (JetPack 5) parses ONNX up to opset 17; later versions take it too.
DEFAULT_OPSET = 17

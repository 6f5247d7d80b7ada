"""TensorRT backend: builder, runner, DLA, version features and compatibility (tensorrt imported lazily)."""

"""PyTorch side of the pipeline: the model, training, checkpoints, ONNX export, precision
transforms, the export pipeline and its report. Needs the ``export`` extra (torch, onnx, ...)."""

"""GPU deployment targets: requirement sets per target and the trtexec lines per TensorRT release."""

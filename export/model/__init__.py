"""The network: architecture as data, the torch model, checkpoints, training and the PyTorch reference runner."""

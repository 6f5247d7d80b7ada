"""Cross-target fidelity: the shipped models on each (CPU, onnxruntime) pair, native or under qemu-user."""

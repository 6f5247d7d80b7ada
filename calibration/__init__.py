"""CIFAR-10 data and INT8 calibration: md5-checked dataset files, a class-balanced calibration set
drawn from the train split, and calibration tables reused while model and set are unchanged."""

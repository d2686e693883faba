"""Object detectors (torchvision architectures, the dataset's own categories): presets, data, training, inference."""

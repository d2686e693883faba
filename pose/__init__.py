"""posepipe: 2D keypoint models from labelled images to a published, scheduled pipeline."""

__version__ = "0.1.0"

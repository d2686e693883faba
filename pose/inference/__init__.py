"""Inference: load models, detect, top-down pose on all boxes of a frame, draw, read/write media."""

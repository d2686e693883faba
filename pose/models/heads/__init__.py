"""Heads: feature map -> the raw outputs a codec decodes.

Every head exposes ``target_keys``: the codec target names its outputs are compared with,
in output order. Flipping outputs back is the codec's job (``codec.flip_outputs``), since
the right shift depends on the codec's pixel convention, not on the head.
"""

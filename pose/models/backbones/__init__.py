"""Backbones: one file per family, each variant a builder ``() -> nn.Module``.

Every backbone maps (B, 3, H, W) to one feature map and exposes ``out_channels`` and
``stride`` (input pixels per feature pixel).
"""

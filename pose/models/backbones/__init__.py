"""Backbones: one file per family, each variant a builder ``() -> nn.Module``.

Every backbone maps (B, 3, H, W) to one feature map and exposes ``out_channels`` and
``stride`` (input pixels per feature pixel); a backbone whose pretrained weights expect
another input normalisation than ImageNet's mean / std (0-255 scale, RGB) sets ``mean`` and
``std``, which the estimator's preprocessing then uses.
"""

"""Kept for pose models registered before ``pose.modelio``: their stored pyfunc code imports
``load_published`` from here (new versions import it from ``pose.modelio``)."""

from pose.modelio.published import load_published

__all__ = ["load_published"]

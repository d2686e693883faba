"""The codec factory in pose/codecs/__init__.py: names, errors, config round trip."""

from __future__ import annotations

import pytest

from pose.codecs import CODECS, MSRAHeatmap, build_codec, codec_config
from pose.errors import ConfigError


@pytest.mark.parametrize("name", sorted(CODECS))
def test_every_codec_builds_and_round_trips_its_config(name: str) -> None:
    codec = build_codec(name, input_size=(96, 128))
    config = codec_config(codec)
    assert config["name"] == name and config["input_size"] == (96, 128)
    assert build_codec(**config) == codec


def test_build_with_parameters() -> None:
    codec = build_codec("msra", dark=True, sigma=3.0)
    assert isinstance(codec, MSRAHeatmap) and codec.dark and codec.blur_kernel_size == 17


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(ConfigError, match="codec.name.*msra, udp, simcc, regression"):
        build_codec("rle")


def test_unknown_parameter_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="codec: bad parameters for codec 'simcc'.*heatmap_size"):
        build_codec("simcc", heatmap_size=(48, 64))

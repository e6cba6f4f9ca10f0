"""The in-process deployer's physical names, as Pulumi's AWS provider makes them."""

import re

import pytest

from localaws.deploy.errors import NameTooLong
from localaws.deploy.handlers.base import physical_name


def test_an_auto_name_is_the_logical_name_a_dash_and_7_random_hex_characters():
    assert re.fullmatch(r"faces-rekognition-[0-9a-f]{7}", physical_name("faces-rekognition", 64))
    assert len(physical_name("r" * 56, 64)) == 64  # the longest that fits


def test_an_auto_name_longer_than_the_service_allows_is_refused_as_pulumi_refuses_it():
    """It was cut short, so a program whose names AWS refuses deployed locally."""
    with pytest.raises(
        NameTooLong, match=r"^'r{57}' plus a dash and 7 random characters is longer than 64, the longest"
    ):
        physical_name("r" * 57, 64)

"""vh.core.io.clip: frame ranges and ClipInfo."""

from __future__ import annotations

from fractions import Fraction

import pytest

from vh.core.errors import InputError
from vh.core.io import ClipInfo, parse_frame_range


@pytest.mark.parametrize(
    "text, expect",
    [
        ("1001-1100", (1001, 1100)),
        ("1050", (1050, 1050)),
        (" 1 - 10 ", (1, 10)),
        ("1001:1100", (1001, 1100)),
        ("-5--1", (-5, -1)),
        ("0..3", (0, 3)),
        (None, None),
        ("", None),
    ],
)
def test_parse_frame_range(text, expect):
    assert parse_frame_range(text) == expect


@pytest.mark.parametrize("text", ["10-1", "a-b", "1-2-3", "1001-"])
def test_parse_frame_range_rejects(text):
    with pytest.raises(InputError, match="frame range"):
        parse_frame_range(text)


def test_make():
    info = ClipInfo.make(1920, 1080, 4, 10, first=1001, fps="24000/1001")
    assert info.frames == tuple(range(1001, 1011)) and len(info) == 10
    assert info.has_alpha and info.alpha_channel == 3 and info.channel_names == ("R", "G", "B", "A")
    assert info.fps == Fraction(24000, 1001) and info.is_float and info.size == "1920x1080"
    assert not ClipInfo.make(8, 8, 3).has_alpha

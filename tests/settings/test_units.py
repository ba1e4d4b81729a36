"""settings.units: durations and sizes as people write them in config.toml."""

from __future__ import annotations

import pytest

from settings.units import format_age, format_duration, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("5m", 300), ("2h", 7200), ("2d", 172800), ("1.5h", 5400), ("0s", 0),
     (" 5m ", 300), ("5 m", 300)],
)
def test_durations_read_as_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("number", [0, 45, 2.5])
def test_a_bare_number_is_seconds(number):
    assert parse_duration(number) == float(number)


@pytest.mark.parametrize("text", ["5 minutes", "5", "m", "", "-5m", "5M", "5w", "1h30m"])
def test_text_that_is_not_a_duration_is_refused_with_an_example(text):
    with pytest.raises(ValueError, match=r'is not a duration like "90s"'):
        parse_duration(text)


@pytest.mark.parametrize("value", [True, False, -1, -0.5])
def test_booleans_and_negative_numbers_are_not_durations(value):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("text", "size"),
    [("25MB", 25_000_000), ("512KB", 512_000), ("1GB", 10**9), ("10MiB", 10 * 1024**2),
     ("4KiB", 4096), ("1GiB", 1024**3), ("100B", 100), ("100", 100), ("1.5KB", 1500),
     ("25mb", 25_000_000), (" 25 MB ", 25_000_000)],
)
def test_sizes_read_as_bytes_decimal_and_binary_units(text, size):
    assert parse_size(text) == size


def test_a_bare_integer_is_bytes():
    assert parse_size(2048) == 2048


@pytest.mark.parametrize("text", ["25 megabytes", "MB", "", "-1KB", "25TB", "ten"])
def test_text_that_is_not_a_size_is_refused_with_an_example(text):
    with pytest.raises(ValueError, match=r'is not a size like "25MB"'):
        parse_size(text)


@pytest.mark.parametrize("value", [True, -1])
def test_booleans_and_negative_numbers_are_not_sizes(value):
    with pytest.raises(ValueError, match="size"):
        parse_size(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (60, "1m"), (90, "1.5m"), (300, "5m"), (45 * 60, "45m"),
     (3600, "1h"), (5400, "1.5h"), (36000, "10h"), (86400, "1d"), (172800, "2d"),
     (30 * 86400, "30d")],
)
def test_format_duration_says_it_in_the_largest_unit(seconds, text):
    assert format_duration(seconds) == text


def test_format_duration_of_a_negative_age_is_zero():
    assert format_duration(-5) == "0s"


def test_format_age_says_a_duration_or_a_dash_for_nothing_to_age():
    assert (format_age(5400), format_age(None)) == ("1.5h", "-")


@pytest.mark.parametrize("text", ["90s", "5m", "2h", "2d", "30d"])
def test_formatted_durations_read_back_as_the_same_seconds(text):
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)

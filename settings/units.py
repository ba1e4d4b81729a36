"""Durations, sizes and listening addresses as people write them in config.toml.

parse_duration("90s" | "5m" | "2h" | "2d") -> seconds; parse_size("25MB") -> bytes;
parse_listen("127.0.0.1:2526" | "[::1]:25") -> (host, port).
Each raises ValueError with a message saying what was expected. format_duration,
format_age and format_size go the other way, for people (the CLI and the site alike).
"""

import math
import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def parse_duration(text: str | int | float) -> float:
    """Seconds in a duration like "90s", "5m", "2h", "2d" (a bare number is seconds)."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"{text!r} is not a duration like \"5m\"")
    if isinstance(text, int | float):
        if not math.isfinite(text) or text < 0:
            raise ValueError(f"{text!r} is negative; a duration is like \"5m\"")
        return float(text)
    match = _DURATION.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like \"90s\", \"5m\", \"2h\" or \"2d\"")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_size(text: str | int) -> int:
    """Bytes in a size like "25MB" (decimal units), "10MiB" (binary) or a bare byte count."""
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise ValueError(f"{text!r} is not a size like \"25MB\"")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"{text!r} is negative; a size is like \"25MB\"")
        return text
    match = _SIZE.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a size like \"25MB\", \"512KB\" or \"10MiB\"")
    unit = (match.group(2) or "B").lower()
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def parse_listen(text: str) -> tuple[str, int]:
    """(host, port) of an address to listen on: "127.0.0.1:2526", "0.0.0.0:25", "[::]:25"."""
    host, colon, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        host = ""   # an IPv6 address needs its brackets, or its port is ambiguous
    if not colon or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not an address to listen on like \"127.0.0.1:2526\", "
                         "\"0.0.0.0:25\" or \"[::]:25\"")
    return host, int(port)


def format_duration(seconds: float) -> str:
    """A short human form of a duration: 59s, 5m, 2.5h, 3d."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            value = seconds / size
            whole = value >= 10 or value == int(value)
            return f"{value:.0f}{unit}" if whole else f"{value:.1f}{unit}"
    return f"{seconds:.0f}s"


def format_age(seconds: float | None) -> str:
    """How old something is, as format_duration says it; "-" when there is nothing to age."""
    return "-" if seconds is None else format_duration(seconds)


def format_size(size: int) -> str:
    """A short human form of a byte count, in decimal units: 512 B, 2.3 KB, 79.0 GB."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"

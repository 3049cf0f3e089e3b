"""Numbers as a person reads them. Sizes are binary (KiB, MiB, GiB: what disks are sized in), speeds decimal MB/s
(the agent reports ``throughput_mbps`` as 10^6 bytes per second)."""
from __future__ import annotations

_BINARY = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(value) -> str:
    if value is None or value == "":
        return "-"
    size = float(value)
    unit = 0
    while abs(size) >= 1024 and unit < len(_BINARY) - 1:
        size /= 1024
        unit += 1
    if unit == 0:
        return f"{int(size)} bytes"
    return f"{size:.1f} {_BINARY[unit]}".replace(".0 ", " ")


def human_speed(mb_per_second) -> str:
    if mb_per_second in (None, ""):
        return "-"
    return f"{float(mb_per_second):.1f} MB/s"


def human_seconds(value) -> str:
    if value in (None, ""):
        return "-"
    seconds = int(value)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} days {hours % 24} h"


def percent(value) -> str:
    """A bar width: a number from 0 to 100 with a dot as the decimal mark, whatever the locale."""
    try:
        number = min(100.0, max(0.0, float(value or 0)))
    except (TypeError, ValueError):
        number = 0.0
    return f"{number:.1f}"

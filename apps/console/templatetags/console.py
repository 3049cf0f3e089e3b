"""Human units for the console's pages: sizes in GiB/MiB (binary), speeds in MB/s (decimal, as the agent reports
them), durations in h/m/s."""
from __future__ import annotations

from django import template

from apps.console import units

register = template.Library()

register.filter("bytes", units.human_bytes)
register.filter("speed", units.human_speed)
register.filter("seconds", units.human_seconds)
register.filter("percent", units.percent)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None

"""Human units for the console's pages: sizes in GiB/MiB (binary), speeds in MB/s (decimal, as the agent reports
them), durations in h/m/s."""
from __future__ import annotations

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from apps.console import units

register = template.Library()

register.filter("bytes", units.human_bytes)
register.filter("speed", units.human_speed)
register.filter("seconds", units.human_seconds)
register.filter("percent", units.percent)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<!\w)_(.+?)_(?!\w)")
_CODE = re.compile(r"`([^`]+)`")


@register.filter
def answer_html(text: str) -> str:
    """The copilot's answer (apps/copilot: markdown with bold, italics and code only) as HTML, escaped first so
    nothing the cloud's names hold becomes markup; the lines stay as written (the block is pre-wrap)."""
    html = str(escape(text or ""))
    html = _CODE.sub(r"<code>\1</code>", html)
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    return mark_safe(_ITALIC.sub(r"<em>\1</em>", html))  # noqa: S308 -- escaped above, only our tags added

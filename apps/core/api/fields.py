"""Fields the answer serializers of every app share."""
from __future__ import annotations

from rest_framework import serializers

from apps.core.utils import iso


class IsoDateTimeField(serializers.DateTimeField):
    """A timestamp as ``apps.core.utils.iso`` writes it: UTC with a Z.

    DRF's own field renders in the current time zone (``TIME_ZONE``), which would change answers on a host not set
    to UTC. A string (a time an agent already formatted) is relayed as it came.
    """

    def to_representation(self, value):
        if value is None or isinstance(value, str):
            return value
        return iso(value)


class RoundedFloatField(serializers.FloatField):
    """A number rounded for people (``round(value, decimals)``), as the job summaries show rates and percents."""

    def __init__(self, *, decimals: int = 2, **kwargs):
        self.decimals = decimals
        super().__init__(**kwargs)

    def to_representation(self, value):
        return round(value, self.decimals)


class BlankAsNullCharField(serializers.CharField):
    """Text that answers null when empty (the model stores a blank string for "none")."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return str(value) if value else None


class ConstantField(serializers.Field):
    """A read-only field whose answer is always `constant`, whatever the object holds."""

    constant = None

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(source="*", **kwargs)

    def to_representation(self, value):
        return self.constant


class TrueField(ConstantField, serializers.BooleanField):
    """``"success": true`` on an answer read from an object rather than built as a dict."""

    constant = True

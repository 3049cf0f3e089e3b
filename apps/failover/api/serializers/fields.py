"""The pieces the failover answers are built from: the answer base and timestamps (core's, shared), and the
small field shapes (a string from a fixed set, a string that is null when empty, a key absent when None)."""
from __future__ import annotations

from rest_framework import serializers
from rest_framework.fields import SkipField

from apps.core.api.fields import IsoDateTimeField


class BlankAsNullMixin:
    """A blank value (an empty model field) answers null."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, **kwargs)

    def to_representation(self, value):
        return super().to_representation(value) if value else None


class TextOrNullField(BlankAsNullMixin, serializers.CharField):
    """A string that is null when there is none."""


class ChoiceOrNullField(BlankAsNullMixin, serializers.ChoiceField):
    """One of the choices, null when the field is blank."""


class ProgressField(serializers.FloatField):
    """A percentage to one decimal."""

    def to_representation(self, value):
        return round(value, 1)


class NanosecondsAsMillisecondsField(serializers.FloatField):
    """A duration kept in nanoseconds (seed 003's Go durations) shown in milliseconds, beside the seed's key."""

    def to_representation(self, value):
        return round(value / 1_000_000, 3)


class AbsentWhenNoneMixin:
    """The key is left out of the answer, rather than null, when the value is None."""

    def get_attribute(self, instance):
        value = super().get_attribute(instance)
        if value is None:
            raise SkipField()
        return value


class OptionalBooleanField(AbsentWhenNoneMixin, serializers.BooleanField):
    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)


class OptionalIntegerField(AbsentWhenNoneMixin, serializers.IntegerField):
    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)


def one_of(values, **kwargs) -> serializers.CharField:
    """A string from a fixed set, documented in its description: an enum component would be named after the field
    ("status", "job_type") and collide with the other sets of that name in the schema."""
    return serializers.CharField(help_text="One of: " + ", ".join(values), **kwargs)


def strings(**kwargs) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(), **kwargs)


def text(**kwargs) -> serializers.CharField:
    """A string that is null when there is none."""
    return serializers.CharField(allow_null=True, **kwargs)


def when(**kwargs) -> IsoDateTimeField:
    """An RFC 3339 time in UTC, null when it has not happened."""
    return IsoDateTimeField(allow_null=True, **kwargs)

"""The pieces the failover answers are built from: the answer base, timestamps as the seeds write them, and the
small field shapes (a string from a fixed set, a string that is null when empty, a key absent when None)."""
from __future__ import annotations

from rest_framework import serializers
from rest_framework.fields import SkipField

from apps.core.api.schemas import SuccessMessageSerializer
from apps.core.utils import iso


class MessageField(serializers.CharField):
    """The answer's message, which the view gives in the serializer's context (``answer(..., message=...)``)."""

    def get_attribute(self, instance):
        return self.context["message"]


class AnswerSerializer(SuccessMessageSerializer):
    """A successful answer: ``{"success": true, "message": ...}`` and its own fields."""

    success = serializers.BooleanField(read_only=True, default=True, help_text="Always true")
    message = MessageField()


def answer(serializer_class: type[serializers.Serializer], instance, message: str) -> dict:
    """The body of an answer: ``serializer_class`` renders ``instance`` under ``message``."""
    return serializer_class(instance, context={"message": message}).data


class IsoDateTimeField(serializers.DateTimeField):
    """A time as ``apps.core.utils.iso`` writes it (UTC with a Z); DRF's own field would follow ``TIME_ZONE``.

    A string (a time already written into a stored record) is relayed as it is.
    """

    def to_representation(self, value):
        if value is None or isinstance(value, str):
            return value
        return iso(value)


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

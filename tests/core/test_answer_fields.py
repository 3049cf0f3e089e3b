"""The shared answer fields render as the answers always did: ``iso`` timestamps, rounded rates, blank as null."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework import serializers

from apps.core.api.fields import BlankAsNullCharField, IsoDateTimeField, RoundedFloatField
from apps.core.api.serializers import Plain, PlainSerializer, plain_answer, plain_fields
from apps.core.utils import iso


def test_iso_datetime_field_answers_utc_with_a_z_whatever_the_time_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=dt.timezone.utc)
    with timezone.override("Europe/Paris"):
        assert IsoDateTimeField().to_representation(moment) == iso(moment) == "2026-01-02T03:04:05.000678Z"
    # A time an agent already formatted is relayed as it came.
    assert IsoDateTimeField().to_representation("2025-08-01T10:00:00Z") == "2025-08-01T10:00:00Z"


def test_rounded_float_and_blank_as_null():
    assert RoundedFloatField().to_representation(49.3333) == 49.33
    assert RoundedFloatField(decimals=1).to_representation(0.06) == 0.1
    assert BlankAsNullCharField().to_representation("") is None
    assert BlankAsNullCharField().to_representation("disk changed") == "disk changed"


class _Owned(PlainSerializer):
    plain = Plain("tenant_name")
    id = serializers.CharField(source="cloud_id")


class _Volume(_Owned):
    plain = Plain("size_gb:int usage:float?")
    state = serializers.CharField(source="status")
    plain_tail = Plain("thin:bool created_at:datetime?")


def test_plain_fields_render_their_kinds_where_they_are_declared_after_the_inherited_ones():
    row = {"cloud_id": "v-1", "tenant_name": "acme", "size_gb": "20", "usage": None, "status": "Ready", "thin": 1,
           "created_at": dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)}
    # A Plain before an explicit field stays before it; an explicit field between two Plain groups stays between.
    assert list(_Owned(row).data) == ["tenant_name", "id"]
    assert list(_Volume(row).data.items()) == [("tenant_name", "acme"), ("id", "v-1"), ("size_gb", 20), ("usage", None),
                                               ("state", "Ready"), ("thin", True),
                                               ("created_at", "2026-01-02T00:00:00Z")]
    # The markers' own names are no fields, and the base keeps its own fields.
    assert "plain" not in _Volume().fields and "plain_tail" not in _Volume().fields
    assert list(_Owned._declared_fields) == ["tenant_name", "id"]
    # Null only where the word says so.
    assert not _Volume().fields["size_gb"].allow_null and _Volume().fields["usage"].allow_null


def test_plain_answer_builds_a_named_class_of_this_module():
    disk = plain_answer("DiskAnswer", "label capacity_gb:float")
    assert (disk.__name__, disk.__module__) == ("DiskAnswer", __name__)
    assert disk({"label": "Hard disk 1", "capacity_gb": 2}).data == {"label": "Hard disk 1", "capacity_gb": 2.0}


def test_a_bad_plain_word_or_a_field_declared_twice_is_refused_at_import():
    with pytest.raises(ValueError, match="size:gb"):
        plain_fields("size:gb")
    with pytest.raises(ValueError, match="name"):
        plain_fields("name name")
    with pytest.raises(TypeError, match="declared twice"):
        type(_Owned)("_Twice", (_Owned,), {"plain": Plain("id"), "__module__": __name__})
    with pytest.raises(TypeError, match=r"\['size_gb'\] declared twice"):
        type(_Owned)("_TwiceOwn", (_Owned,), {"plain": Plain("size_gb"), "more": Plain("size_gb:int"),
                                              "__module__": __name__})


def test_plain_outside_a_plain_serializer_is_refused():
    class Loose(serializers.Serializer):
        plain = Plain("name")

    with pytest.raises(TypeError, match="needs a PlainSerializer"):
        Loose({"name": "web-1"}).to_representation({"name": "web-1"})


def test_a_plain_word_may_read_another_attribute():
    answer = plain_answer("RenamedAnswer", "vm_id=cloud_id status=state vm_name=vm.name size_gb=size:int?")
    row = {"cloud_id": "i-1", "state": "Running", "vm": {"name": "web-1"}, "size": None}
    assert answer(row).data == {"vm_id": "i-1", "status": "Running", "vm_name": "web-1", "size_gb": None}
    with pytest.raises(ValueError, match="vm_id="):
        plain_fields("vm_id=")

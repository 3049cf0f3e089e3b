"""The shared answer fields render as the answers always did: ``iso`` timestamps, rounded rates, blank as null."""
from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.core.api.fields import BlankAsNullCharField, IsoDateTimeField, RoundedFloatField
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

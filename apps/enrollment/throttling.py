"""Throttles of the public enrollment endpoints, per client address (core's ClientAddressThrottle)."""
from django.conf import settings

from apps.core.throttling import ClientAddressThrottle


class _PerAddressThrottle(ClientAddressThrottle):
    """Per client address; the rate comes from REST_FRAMEWORK's rates if set there, else from ``setting_name``."""

    setting_name = ""
    default_rate = ""

    def get_rate(self):
        rates = getattr(settings, "REST_FRAMEWORK", {}).get("DEFAULT_THROTTLE_RATES", {})
        return rates.get(self.scope) or getattr(settings, self.setting_name, self.default_rate)


class EnrollRateThrottle(_PerAddressThrottle):
    """Enroll and verify: each guess at a pairing code costs one of these."""

    scope = "vma_enroll"
    setting_name = "MP_ENROLL_THROTTLE_RATE"
    default_rate = "10/min"


class EnrollResultRateThrottle(_PerAddressThrottle):
    """Result polling: an agent waiting for approval polls every few seconds."""

    scope = "vma_enroll_result"
    setting_name = "MP_ENROLL_RESULT_THROTTLE_RATE"
    default_rate = "60/min"

"""Waves' fixtures: the lab peers of the failover tests (CloudStack emulator, its replicated VMs), and wave bodies."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.core.utils import iso
from tests.failover.conftest import client, cloud, cloud_config, networks  # noqa: F401  (fixtures)


def window(start_in: timedelta = timedelta(hours=1), length: timedelta = timedelta(hours=2)) -> dict:
    start = timezone.now() + start_in
    return {"window_start": iso(start), "deadline": iso(start + length)}


def no_power(*names: str, **options) -> list[dict]:
    """Wave VM entries that neither power the source off nor run a final sync (the lab has no agent here)."""
    return [{"vm": name, "power_off_source": False, "final_sync": False, **options} for name in names]

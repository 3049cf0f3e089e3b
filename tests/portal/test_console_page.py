"""The console's page of the destination cloud: the collected figures, each tenant's health as a bar (worst first)
and the capacity trend, after a real collection from the emulator."""
from __future__ import annotations

import re

import pytest

from tests.console.conftest import console_client, console_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_the_cloud_page_shows_what_was_collected(collected):
    from apps.core.choices import Role
    from apps.portal import models, tenant_health

    client = console_client(console_user("viewer-cloud", Role.VIEWER))
    page = client.get("/console/console/cloud/")
    assert page.status_code == 200, page.content[:500]
    html = page.content.decode()
    # The VMs as collected (acme-db-1 stopped), every tenant with a bar whose length is its score.
    summary = re.search(r"<th>VMs \(running\)</th><td>(\d+) \((\d+)\)</td>", html)
    servers = models.Server.objects
    assert summary and summary.groups() == (str(servers.count()), str(servers.filter(status="ACTIVE").count()))
    assert servers.count() >= 5 and servers.filter(name="acme-db-1", status="SHUTOFF").exists()
    rows = tenant_health.overview()
    scores = [int(s) for s in re.findall(r'class="tenant" data-score="(\d+)"', html)]
    assert sorted(scores) == scores and len(scores) == len(rows) >= 3  # worst first, one row a tenant
    for name in ("acme", "globex", "payroll"):
        assert name in html
    assert 'id="storage-line"' in html and "collected " in html
    # The dashboard links to it; a user without a console role is refused.
    assert "/console/console/cloud/" in client.get("/console/").content.decode()
    stranger = console_client(console_user("nobody-cloud"))
    assert stranger.get("/console/console/cloud/").status_code in (302, 403)

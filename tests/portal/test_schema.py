"""Every portal answer over a real collection matches the published schema (closed objects: no undocumented field)."""
from __future__ import annotations

import re

import pytest
from django.urls import resolve

from apps.portal import collector, models
from tests.openapi import assert_matches_schema, openapi

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def portal_reads() -> list[str]:
    """The root paths the portal app serves (accounts and snapshots serve root paths of seed 004 too)."""
    def served_by_portal(path: str) -> bool:
        view = resolve(re.sub(r"\{(\w+)\}", "x", path)).func
        return getattr(view, "cls", view).__module__.startswith("apps.portal.")

    return sorted(path for path, ops in openapi()["paths"].items()
                  if "get" in ops and not path.startswith(("/api/", "/health")) and served_by_portal(path))


def test_every_portal_read_answers_as_its_schema(collected, admin_client_api):
    client = collected.client
    client.change_service_offering(collected.vms["acme-db-1"]["id"], collected.offerings["Medium Instance"]["id"])
    client.destroy_virtual_machine(collected.vms["globex-app-1"]["id"])
    collector.collect()
    db = collected.vms["acme-db-1"]["id"]
    changes = list(models.Change.objects.filter(resource_id=db).order_by("-detected_at", "-id"))
    ids = {"sg_id": models.SecurityGroup.objects.get().cloud_id, "resource_type": "server", "resource_id": db,
           "id": str(models.DriftEvent.objects.first().pk), "project_id": collected.accounts["acme"]["id"],
           "volume_id": models.Volume.objects.get(name="acme-data-1").cloud_id}
    query = {"/history/compare/{resource_type}/{resource_id}": {"current_hash": changes[0].change_hash,
                                                               "previous_hash": changes[1].change_hash}}
    paths = portal_reads()
    assert len(paths) >= 40
    for path in paths:
        url = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
        answer = admin_client_api.get(url, query.get(path, {}))
        assert answer.status_code == 200, (path, answer.content)
        assert_matches_schema(answer, path, "get")
    deletion = admin_client_api.get(f"/history/resource/deletion/{collected.vms['globex-app-1']['id']}")
    assert_matches_schema(deletion, "/history/resource/{resource_type}/{resource_id}", "get")

"""A project made through the API, and one with a generated RVTools export of 300 VMs uploaded."""
from __future__ import annotations

import functools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.failover.conftest import client, cloud, cloud_config, networks  # noqa: F401 (the CloudStack emulator)
from tests.planner.rvtools import workbook

BASE = "/api/migration/projects"


@functools.cache
def export(vms: int = 300, **options) -> bytes:
    return workbook(vms, **options)


def upload(api, project_id: str, data: bytes, name: str = "RVTools_export_all.xlsx"):
    return api.post(f"{BASE}/{project_id}/upload", {"file": SimpleUploadedFile(name, data)}, format="multipart")


@pytest.fixture
def project(operator_client) -> dict:
    response = operator_client.post(BASE, {"name": "Acme Corp VMware Migration",
                                           "description": "Q2 2026 migration from vSphere 7"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["project"]


@pytest.fixture
def loaded(operator_client, project) -> dict:
    response = upload(operator_client, project["project_id"], export())
    assert response.status_code == 200, response.content
    return project


@pytest.fixture
def assessed(operator_client, loaded) -> dict:
    response = operator_client.post(f"{BASE}/{loaded['project_id']}/assess", format="json")
    assert response.status_code == 200, response.content
    return loaded

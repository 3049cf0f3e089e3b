"""The failover answers are rendered by the serializers the schema documents: their keys come in the documented
order, and their times are written as ``apps.core.utils.iso`` writes them whatever the server's time zone."""
from __future__ import annotations

import pytest
from django.utils import timezone

from apps.core.utils import iso
from apps.failover.api.serializers import (
    FailoverJobListSerializer,
    FailoverJobStatusSerializer,
    FailoverRollbackDecisionSerializer,
    NetworkMappingListAnswerSerializer,
)
from apps.failover.api.serializers.jobs import FailoverJobSummarySerializer
from apps.failover.api.serializers.mappings import NetworkMappingRowSerializer
from apps.failover.models import FailoverJob, NetworkMapping
from tests.factories import vm_with_disks

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(db):
    vm = vm_with_disks(1, vm_name="answers-01")
    NetworkMapping.objects.create(vm_context=vm, source_network_name="VM Network", destination_network_id="net-1")
    return FailoverJob.objects.create(job_id="test-failover-answers-1", vm_context=vm, job_type="test",
                                      status="completed", started_at=timezone.now(), completed_at=timezone.now())


def keys(serializer_class) -> list[str]:
    return list(serializer_class().fields)


def test_answers_keep_the_documented_key_order(viewer_client, job):
    status = viewer_client.get(f"/api/v1/failover/{job.job_id}/status").json()
    assert list(status) == keys(FailoverJobStatusSerializer)
    jobs = viewer_client.get("/api/v1/failover/jobs").json()
    assert list(jobs) == keys(FailoverJobListSerializer) and list(jobs["jobs"][0]) == keys(FailoverJobSummarySerializer)
    mappings = viewer_client.get("/api/v1/network-mappings").json()
    assert list(mappings) == keys(NetworkMappingListAnswerSerializer)
    assert list(mappings["mappings"][0]) == keys(NetworkMappingRowSerializer)


def test_rollback_decision_without_a_job_leaves_the_source_power_keys_out(viewer_client, job):
    decision = viewer_client.get("/api/v1/failover/rollback/decision/live/answers-01").json()
    assert decision["job_id"] is None
    assert list(decision) == [k for k in keys(FailoverRollbackDecisionSerializer)
                              if k not in ("source_vm_powered_off", "source_power_uncertain")]


def test_times_are_utc_with_a_z_whatever_the_time_zone(viewer_client, job, settings):
    settings.TIME_ZONE = "America/New_York"
    summary = viewer_client.get("/api/v1/failover/jobs").json()["jobs"][0]
    assert summary["created_at"] == iso(job.created_at) and summary["created_at"].endswith("Z")
    assert summary["started_at"] == iso(job.started_at)
    status = viewer_client.get(f"/api/v1/failover/{job.job_id}/status").json()
    assert status["start_time"] == iso(job.started_at)
    mapping = viewer_client.get("/api/v1/network-mappings").json()["mappings"][0]
    row = NetworkMapping.objects.get()
    assert mapping["created_at"] == iso(row.created_at) and mapping["updated_at"] == iso(row.updated_at)

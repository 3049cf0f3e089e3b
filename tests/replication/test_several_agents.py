"""Several agents: a vCenter's credentials name its agent; discovery, copies and power calls go to it, a handed-over
job's status, progress and cleanup go to the agent it was handed to, and an agent that is offline fails only its own
jobs. The agents are real HTTP servers started by the test (stand-ins answering like the agent API)."""
from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from apps.enrollment.choices import ApplianceStatus
from apps.enrollment.models import Appliance
from apps.inventory import services as inventory
from apps.inventory.selectors import agent_endpoint, agent_source
from apps.replication import recovery
from apps.replication.choices import ReplicationStatus
from apps.replication.models import ChangeIdRecord, ReplicationJob
from tests.factories import CredentialFactory, VMContextFactory

pytestmark = pytest.mark.django_db
MiB = 1024 * 1024


class StandInAgent:
    """Answers discover, status and progress like the agent API; records what it was asked."""

    def __init__(self, name: str):
        self.name, self.calls, self.finished, self.leave_out = name, [], set(), ()
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, body: dict, status: int = 200):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                agent.calls.append(("GET", self.path))
                job_id = self.path.rsplit("/", 1)[-1]
                done = job_id in agent.finished
                self._answer({key: value for key, value in {"job_id": job_id, "status": "completed" if done else "running",
                              "current_operation": f"copying on {agent.name}",
                              "replication_type": "initial", "sync_type": "full", "cbt_enabled_by_job": False,
                              "full_sync_reason": None, "vm": {"path": "/DC0/vm/x", "id": "vm-1"},
                              "progress_percent": 100.0 if done else 42.0, "bytes_total": 2 * MiB,
                              "bytes_transferred": 2 * MiB if done else MiB,
                              "throughput_mbps": 1.0, "eta_seconds": None, "disks": {}, "started_at": None,
                              "updated_at": None, "finished_at": None, "error": None, "warnings": []}.items()
                              if key not in agent.leave_out})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                agent.calls.append(("POST", self.path, body))
                self._answer({"vcenter": {"host": body.get("vcenter")}, "vms": [{"name": f"vm-of-{agent.name}"}]})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def agents(settings):
    a, b, default = StandInAgent("site-a"), StandInAgent("site-b"), StandInAgent("default")
    settings.AGENT_API_URL = default.url
    yield a, b, default
    for agent in (a, b, default):
        agent.stop()


def appliance(appliance_id: str, url: str) -> Appliance:
    return Appliance.objects.create(appliance_id=appliance_id, status=ApplianceStatus.APPROVED, api_url=url)


def test_each_vcenter_is_reached_through_its_own_agent(agents):
    a, b, default = agents
    site_a = CredentialFactory(vcenter_host="vc-a.example", agent=appliance("vma-a", a.url))
    site_b = CredentialFactory(vcenter_host="vc-b.example", agent=appliance("vma-b", b.url), is_default=False)
    plain = CredentialFactory(vcenter_host="vc-c.example", is_default=False)
    assert inventory.discover(credential=site_a)["vms"] == [{"name": "vm-of-site-a"}]
    assert inventory.discover(credential=site_b)["vms"] == [{"name": "vm-of-site-b"}]
    assert inventory.discover(credential=plain)["vms"] == [{"name": "vm-of-default"}]  # no agent named: the default
    assert [c[2]["vcenter"] for c in a.calls] == ["vc-a.example"] and [c[2]["vcenter"] for c in b.calls] == \
        ["vc-b.example"]
    vm = VMContextFactory(credential=site_b)
    assert agent_endpoint(vm).url == b.url and agent_endpoint(vm).appliance.appliance_id == "vma-b"
    assert agent_source(vm).login.agent.url == b.url
    assert "agent" not in agent_source(vm).power_payload()  # the route is not sent to the agent


def test_an_agent_without_a_connection_is_a_clear_503_for_its_own_vms(operator_client, agents):
    a, _, _ = agents
    site = CredentialFactory(agent=Appliance.objects.create(appliance_id="vma-down", status=ApplianceStatus.APPROVED))
    response = operator_client.post("/api/v1/discovery/discover-vms", {"credential_id": site.pk}, format="json")
    assert response.status_code == 503, response.json()
    assert "Agent 'vma-down' is not connected" in response.json()["error"]


def handed_over(job_id: str, appliance_id: str) -> ReplicationJob:
    long_ago = timezone.now() - timedelta(hours=2)
    job = ReplicationJob.objects.create(job_id=job_id, vm_context=VMContextFactory(), replication_type="initial",
                                        status=ReplicationStatus.REPLICATING, appliance_id=appliance_id,
                                        last_heartbeat_at=long_ago)
    ReplicationJob.objects.filter(pk=job.pk).update(updated_at=long_ago)
    job.refresh_from_db()
    return job


def test_an_offline_agent_fails_only_its_own_jobs(operator_client, agents):
    a, b, _ = agents
    appliance("vma-a", a.url)
    appliance("vma-b", b.url)
    on_a, on_b = handed_over("job-on-a", "vma-a"), handed_over("job-on-b", "vma-b")
    b.stop()  # site B's agent goes away
    assert recovery.reconcile(on_a, stale=True) == "adopted"
    assert recovery.reconcile(on_b, stale=True) == "failed: agent unreachable"
    on_a.refresh_from_db()
    on_b.refresh_from_db()
    assert on_a.status == "replicating" and on_b.status == "failed"
    assert ("GET", "/api/v1/status/job-on-a") in a.calls
    progress = operator_client.get("/api/v1/progress/job-on-a")
    assert progress.status_code == 200 and "copying on site-a" in json.dumps(progress.json())
    gone = operator_client.get("/api/v1/progress/job-on-b")
    assert gone.status_code == 503


def test_credentials_name_their_agent_through_the_api(operator_client, agents):
    a, _, _ = agents
    appliance("vma-a", a.url)
    body = {"name": "site-a", "vcenter_host": "vc-a.example", "username": "u", "password": "p", "datacenter": "DC0"}
    unknown = operator_client.post("/api/v1/vmware-credentials", {**body, "agent_appliance_id": "nope"},
                                   format="json")
    assert unknown.status_code == 400 and "agent_appliance_id" in str(unknown.json())
    created = operator_client.post("/api/v1/vmware-credentials", {**body, "agent_appliance_id": "vma-a"},
                                   format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["agent_appliance_id"] == "vma-a"
    cleared = operator_client.put(f"/api/v1/vmware-credentials/{created.json()['id']}", {"agent_appliance_id": None},
                                  format="json")
    assert cleared.status_code == 200, cleared.json()
    assert cleared.json()["agent_appliance_id"] is None


def test_a_copy_that_finished_unreported_keeps_its_figures(agents):
    """The agent finished but its last push never arrived (web down, or a restart's reconciliation got there first):
    the job completes with what the agent copied on record, which the planner's measured bandwidth reads."""
    a, _, _ = agents
    appliance("vma-a", a.url)
    job = handed_over("job-done-on-a", "vma-a")
    ReplicationJob.objects.filter(pk=job.pk).update(bytes_transferred=0)
    for disk in job.vm_context.disks.all():
        ChangeIdRecord.objects.create(job=job, vm_context=job.vm_context, vm_path="/DC0/vm/x", disk_id=disk.disk_id,
                                      change_id="52 1/2")
    a.finished.add(job.job_id)
    assert recovery.reconcile(job, stale=False) == "completed"
    job.refresh_from_db()
    assert job.status == "completed" and job.bytes_transferred == 2 * MiB and job.progress_percent == 100.0
    assert ("GET", "/api/v1/progress/job-done-on-a") in a.calls


def test_an_agent_answering_another_shape_is_a_clear_502(operator_client, agents):
    a, _, _ = agents
    appliance("vma-a", a.url)
    handed_over("job-old-agent", "vma-a")
    a.leave_out = ("bytes_total", "warnings")  # an agent of an older version
    response = operator_client.get("/api/v1/progress/job-old-agent")
    assert response.status_code == 502, response.content
    assert response.json()["error_code"] == "AGENT_ANSWER" and "bytes_total, warnings" in response.json()["error"]
    a.leave_out = ()
    assert operator_client.get("/api/v1/progress/job-old-agent").status_code == 200

"""Discovery through the agent API: the agent and vcsim run as real processes."""

from __future__ import annotations

import re
import socket
import statistics
import time
from typing import Any

import pytest
import requests

from tests.agent.vmlab import find_vm, wait_task

pytestmark = pytest.mark.integration

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def post(api: requests.Session, path: str, body: Any) -> requests.Response:
    return api.post(f"{api.base}{path}", json=body, timeout=60)  # type: ignore[attr-defined]


def assert_error(response: requests.Response, status: int, code: str, contains: str = "") -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "code", "timestamp"}
    assert body["code"] == code
    assert TIMESTAMP.match(body["timestamp"])
    assert contains.lower() in body["error"].lower(), body["error"]
    return body


def test_health_answers_seed_shape_fast(api: requests.Session) -> None:
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        response = api.get(f"{api.base}/api/v1/health", timeout=5)  # type: ignore[attr-defined]
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert TIMESTAMP.match(body["timestamp"])
    assert re.match(r"^[\d.]+(ns|µs|ms|s)$|^\d+m[\d.]+s$|^\d+h\d+m[\d.]+s$", body["uptime"])
    assert body["uptime_seconds"] > 0
    assert statistics.median(timings) < 0.1


def test_discover_all_vms_with_seed_fields(api: requests.Session, vcenter: dict) -> None:
    response = post(api, "/api/v1/discover", {**vcenter, "datacenter": "DC0"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["vcenter"] == {"host": vcenter["vcenter"], "datacenter": "DC0"}
    names = {vm["name"] for vm in body["vms"]}
    assert {"web-01", "db-01", "app-01"} <= names
    assert body["count"] == len(body["vms"])
    for vm in body["vms"]:
        assert re.match(r"^vm-\d+$", vm["id"])
        assert vm["path"].startswith("/DC0/vm/") and vm["path"].endswith("/" + vm["name"])
        assert vm["power_state"] in ("poweredOn", "poweredOff", "suspended")
        assert isinstance(vm["memory_mb"], int) and isinstance(vm["num_cpu"], int)
        assert vm["guest_os"]


def test_discover_filter_substring_glob_and_no_match(api: requests.Session, vcenter: dict) -> None:
    sub = post(api, "/api/v1/discover", {**vcenter, "datacenter": "DC0", "filter": "WEB"}).json()
    assert [vm["name"] for vm in sub["vms"]] == ["web-01"]
    glob = post(api, "/api/v1/discover", {**vcenter, "datacenter": "DC0", "filter": "*-01"}).json()
    assert {vm["name"] for vm in glob["vms"]} >= {"web-01", "db-01", "app-01"}
    assert all(vm["name"].endswith("-01") for vm in glob["vms"])
    none = post(api, "/api/v1/discover", {**vcenter, "datacenter": "DC0", "filter": "no-such-vm"}).json()
    assert none["vms"] == [] and none["count"] == 0


def test_discover_rich_fields(api: requests.Session, vcenter: dict, si: Any, lab_vms: dict) -> None:
    vms = {vm["name"]: vm for vm in post(api, "/api/v1/discover", {**vcenter, "datacenter": "DC0"}).json()["vms"]}
    web, db, app = vms["web-01"], vms["db-01"], vms["app-01"]
    real = lab_vms["web-01"]
    assert web["id"] == real._moId
    assert web["uuid"] == real.config.instanceUuid and web["bios_uuid"] == real.config.uuid
    assert web["num_cpu"] == 2 and web["memory_mb"] == 2048 and web["firmware"] == "bios"
    assert web["guest_os"] == "otherLinux64Guest" and web["guest_os_name"]
    assert web["cbt_enabled"] is False

    disks = web["disks"]
    assert [d["capacity_bytes"] for d in disks] == [8 << 20, 16 << 20, 4 << 20]
    assert [(d["controller_type"], d["bus_number"], d["unit_number"]) for d in disks] == [
        ("pvscsi", 0, 0), ("pvscsi", 0, 1), ("lsilogic", 1, 0)]
    assert len({d["id"] for d in disks}) == 3  # unit 0 twice: ids are qualified to stay unique
    assert disks[1]["id"] == "disk-1"
    assert all(d["datastore"] == "LocalDS_0" for d in disks)
    assert disks[0]["path"] == "[LocalDS_0] web-01/web-01.vmdk"
    assert all(d["cbt_enabled"] is False and d["thin_provisioned"] is True for d in disks)
    assert {d["key"] for d in disks} == {d.key for d in real.config.hardware.device if hasattr(d, "capacityInKB")}

    nics = web["nics"]
    assert [(n["network"], n["adapter_type"]) for n in nics] == [("VM Network", "vmxnet3"), ("DC0_DVPG0", "e1000e")]
    assert all(re.match(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$", n["mac_address"]) for n in nics)
    assert len({n["mac_address"] for n in nics}) == 2

    assert db["firmware"] == "efi" and db["num_cpu"] == 4 and db["memory_mb"] == 8192
    assert db["guest_os"] == "windows2019srv_64Guest"
    assert [(n["network"], n["adapter_type"]) for n in db["nics"]] == [("DC0_DVPG0", "e1000")]
    assert app["path"] == "/DC0/vm/Prod/app-01"
    assert len(app["nics"]) == 2


def test_discover_reports_existing_snapshots(api: requests.Session, vcenter: dict, si: Any, lab_vms: dict) -> None:
    vm = find_vm(si, "app-01")
    snap = wait_task(vm.CreateSnapshot_Task(name="before-upgrade", description="ops", memory=False, quiesce=False))
    try:
        body = post(api, "/api/v1/discover", {**vcenter, "datacenter": "DC0", "filter": "app-01"}).json()
        snaps = body["vms"][0]["snapshots"]
        assert [(s["name"], s["id"], s["description"]) for s in snaps] == [("before-upgrade", snap._moId, "ops")]
        assert TIMESTAMP.match(snaps[0]["created_at"])
    finally:
        wait_task(snap.RemoveSnapshot_Task(removeChildren=False))


def test_bad_credentials_is_operation_failed(api: requests.Session, vcenter: dict) -> None:
    body = {**vcenter, "password": "wrong-password-123", "datacenter": "DC0"}
    response = post(api, "/api/v1/discover", body)
    err = assert_error(response, 502, "OPERATION_FAILED", "invalid credentials")
    assert vcenter["username"] in err["error"]
    assert "wrong-password-123" not in response.text and vcenter["password"] not in response.text


def test_unreachable_vcenter_is_operation_failed(api: requests.Session, vcenter: dict) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    response = post(api, "/api/v1/discover", {**vcenter, "vcenter": f"127.0.0.1:{closed_port}"})
    assert_error(response, 502, "OPERATION_FAILED", "unreachable")


def test_silent_vcenter_times_out(api: requests.Session, vcenter: dict) -> None:
    # Accepts TCP connections but never answers: the agent gives up after vcenter.timeout (5 s here).
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        started = time.monotonic()
        response = post(api, "/api/v1/discover", {**vcenter, "vcenter": f"127.0.0.1:{silent.getsockname()[1]}"})
        assert time.monotonic() - started < 20
    assert_error(response, 502, "OPERATION_FAILED", "timed out")


def test_wrong_thumbprint_is_refused(api: requests.Session, vcenter: dict) -> None:
    response = post(api, "/api/v1/discover", {**vcenter, "thumbprint": "AA:" * 19 + "AA"})
    assert_error(response, 502, "OPERATION_FAILED", "does not match the pinned thumbprint")


@pytest.mark.parametrize("body, message", [
    ({"username": "u", "password": "p"}, "vcenter is required"),
    ({"vcenter": "h", "username": "u"}, "username and password must be given together"),
    ({"vcenter": 12, "username": "u", "password": "p"}, "vcenter"),
    ({"vcenter": "h", "username": "u", "password": "p", "filtr": "x"}, "filtr"),
    ({"vcenter": "h:notaport", "username": "u", "password": "p"}, "invalid port"),
])
def test_discover_bad_input_is_invalid_request(api: requests.Session, body: dict, message: str) -> None:
    response = post(api, "/api/v1/discover", body)
    assert_error(response, 400, "INVALID_REQUEST", message)
    assert '"p"' not in response.json()["error"]


def test_malformed_json_is_invalid_request(api: requests.Session) -> None:
    response = api.post(f"{api.base}/api/v1/discover", data=b"{not json",  # type: ignore[attr-defined]
                        headers={"Content-Type": "application/json"}, timeout=5)
    assert_error(response, 400, "INVALID_REQUEST")


def test_unknown_datacenter_is_invalid_request(api: requests.Session, vcenter: dict) -> None:
    response = post(api, "/api/v1/discover", {**vcenter, "datacenter": "NoSuchDC"})
    assert_error(response, 400, "INVALID_REQUEST", "datacenter 'NoSuchDC' not found")


def test_unknown_job_is_job_not_found(api: requests.Session) -> None:
    for path in ("/api/v1/status/repl-nope-1", "/api/v1/progress/repl-nope-1"):
        response = api.get(f"{api.base}{path}", timeout=5)  # type: ignore[attr-defined]
        assert_error(response, 404, "JOB_NOT_FOUND", "repl-nope-1")
    bad = api.get(f"{api.base}/api/v1/status/bad%20id!", timeout=5)  # type: ignore[attr-defined]
    assert_error(bad, 400, "INVALID_REQUEST", "Invalid job_id format")


def test_unknown_route_uses_error_shape(api: requests.Session) -> None:
    response = api.get(f"{api.base}/api/v1/nothing-here", timeout=5)  # type: ignore[attr-defined]
    assert_error(response, 404, "NOT_FOUND")


def test_put_config_stores_seed_fields(api: requests.Session) -> None:
    url = f"{api.base}/api/v1/config"  # type: ignore[attr-defined]
    body = {"nbd_port": 10813, "export_name": "migration-repl-vm-1", "target_device": "/dev/vdi"}
    started = time.perf_counter()
    response = api.put(url, json=body, timeout=5)
    assert time.perf_counter() - started < 0.5
    assert response.status_code == 200
    assert response.json() == {"status": "updated", "config": body}
    response = api.put(url, json={"nbd_port": 10814}, timeout=5)
    assert response.json()["config"] == {**body, "nbd_port": 10814}
    assert_error(api.put(url, json={"nbd_port": 70000}, timeout=5), 400, "INVALID_REQUEST", "nbd_port")
    assert_error(api.put(url, json={}, timeout=5), 400, "INVALID_REQUEST", "nothing to update")

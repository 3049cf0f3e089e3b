"""The conversion and boot verification steps against the CloudStack emulator, quick: a conversion that fails (a
stand-in for the tool that writes the disk, then fails as virt-v2v-in-place does) is rolled back with the disks as
synced; the operator's skip; the Windows readiness warning; the boot check's answer rules against real sockets.

The real conversion and boot of the lab guest: tests/e2e/test_guest_failover_e2e.py.
"""
from __future__ import annotations

import socket
import threading

import pytest

from apps.failover import bootcheck
from apps.failover.models import FailoverJob
from tests.failover.conftest import assert_back_on_control_plane

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

FAILING_TOOL = """#!/bin/sh
# Writes over the boot disk named in the libvirt XML, then fails as virt-v2v-in-place does on a disk without an OS.
disk=$(grep -o 'file="[^"]*"' "$5" | head -n 1 | cut -d'"' -f2)
printf 'converted garbage' | dd of="$disk" bs=1 seek=512 conv=notrunc 2>/dev/null
echo "[   0.0] Setting up the source: -i libvirtxml $5"
echo "virt-v2v-in-place: error: inspection could not detect the source guest (or physical machine)."
exit 1
"""


def start_test(api, vm, django_capture_on_commit_callbacks, **extra):
    body = {"vm_id": vm.context.vm_id, "vm_name": vm.context.vm_name, "test_duration": "2h", **extra}
    with django_capture_on_commit_callbacks(execute=True):
        return api.post("/api/v1/failover/test", body, format="json")


def test_a_failed_conversion_fails_the_failover_and_rolls_back_to_the_synced_disks(
        operator_client, lab_vm, client, settings, tmp_path, django_capture_on_commit_callbacks):
    tool = tmp_path / "virt-v2v-in-place"
    tool.write_text(FAILING_TOOL)
    tool.chmod(0o755)
    settings.MP_FAILOVER_CONVERT = True
    settings.MP_VIRT_V2V_IN_PLACE = str(tool)
    response = start_test(operator_client, lab_vm, django_capture_on_commit_callbacks)
    assert response.status_code == 200, response.json()
    job = FailoverJob.objects.get()
    assert job.status == "failed" and job.error_code == "CONVERSION_FAILED", job.error_message
    assert "inspection could not detect the source guest" in job.error_message
    assert job.conversion["status"] == "failed" and "Setting up the source" in job.conversion["log"]
    assert len(job.conversion["disks"]) == 2 and job.destination_vm_id == ""
    # The tool wrote the boot disk before failing: the snapshot's revert put the synced bytes back.
    assert_back_on_control_plane(lab_vm, client)
    status = operator_client.get(f"/api/v1/failover/{job.job_id}/status").json()
    assert status["conversion"]["status"] == "failed"
    messages = [e["message"] for e in status["events"]]
    assert any("for the conversion" in m for m in messages) and any(m.startswith("reverted volume") for m in messages)


def test_a_missing_tool_is_a_clear_failure(operator_client, lab_vm, client, settings,
                                           django_capture_on_commit_callbacks):
    settings.MP_FAILOVER_CONVERT = True
    settings.MP_VIRT_V2V_IN_PLACE = "virt-v2v-in-place-not-here"
    start_test(operator_client, lab_vm, django_capture_on_commit_callbacks)
    job = FailoverJob.objects.get()
    assert job.status == "failed" and "is not installed on the control plane" in job.error_message
    assert "skip_conversion" in job.error_message
    assert_back_on_control_plane(lab_vm, client)


def test_the_operator_skips_the_conversion_and_an_unreachable_guest_is_reported(
        operator_client, lab_vm, settings, django_capture_on_commit_callbacks):
    settings.MP_FAILOVER_CONVERT = True
    settings.MP_VIRT_V2V_IN_PLACE = "virt-v2v-in-place-not-here"  # never called
    settings.MP_FAILOVER_BOOT_CHECK_TIMEOUT = 4
    start_test(operator_client, lab_vm, django_capture_on_commit_callbacks, custom_config={"skip_conversion": True})
    job = FailoverJob.objects.get()
    assert job.status == "completed", job.error_message
    assert job.conversion == {"status": "skipped", "reason": "skipped by the request (custom_config.skip_conversion)"}
    # The emulator's VM is a record (no guest runs): its address on the test network never answers.
    boot = job.boot_verification
    assert boot["status"] == "not_answering" and boot["booted"] is False and boot["last_lines"], boot
    assert boot["target"].endswith(":22") and boot["timeout"] == 4
    assert "Test VM running; the guest did not answer on" in job.current_step


def test_readiness_warns_for_a_windows_guest_without_virtio_win(viewer_client, lab_vm, settings):
    settings.MP_FAILOVER_CONVERT = True
    lab_vm.context.guest_os_id = "windows2019srv_64Guest"
    lab_vm.context.save(update_fields=["guest_os_id"])

    def guest_check():
        body = viewer_client.get(f"/api/v1/failover/{lab_vm.context.vm_id}/readiness",
                                 {"failover_type": "test"}).json()
        return body, next(c for c in body["validation_result"]["checks"] if c["check_name"] == "Guest Conversion")

    body, check = guest_check()
    assert check["status"] == "fail" and check["check_type"] == "warning" and "virtio-win" in check["message"]
    assert any("MP_VIRTIO_WIN" in a for a in body["required_actions"]) and body["is_valid"]
    settings.MP_VIRTIO_WIN = "/srv/virtio-win.iso"
    _, check = guest_check()
    assert check["status"] == "pass" and "virtio-win drivers configured" in check["message"]


def _server(behaviour):
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        with listener:
            conn, _ = listener.accept()
            with conn:
                behaviour(conn)

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def test_the_boot_check_needs_the_service_to_speak():
    port = _server(lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n"))
    answer = bootcheck.wait("127.0.0.1", port, 10)
    assert answer.answered and answer.greeting == "SSH-2.0-OpenSSH_9.2p1 Debian"
    # Accepted, then closed without a word: what a port forward does for a guest that is not up.
    port = _server(lambda conn: None)
    answer = bootcheck.wait("127.0.0.1", port, 2)
    assert not answer.answered and answer.last_lines


def test_the_boot_check_target_prefers_the_endpoint_detail():
    vm = {"details": {"bootCheckEndpoint": "127.0.0.1:2222"}, "nic": [{"ipaddress": "10.1.3.5", "isdefault": True}]}
    assert bootcheck.target(vm, 22) == ("127.0.0.1", 2222)
    assert bootcheck.target({"nic": [{"ipaddress": "10.1.3.5", "isdefault": True}]}, 22) == ("10.1.3.5", 22)
    assert bootcheck.target({"nic": []}, 22) is None

"""A VM arrives in CloudStack as itself, through the whole stack: vcsim -> agent discovery and replication ->
worker -> CloudStack emulator.

The vSphere VM has two NICs (the guest reports an address on each), EFI firmware with secure boot and a Windows
guest id. A test failover gives the test VM the boot type and OS type but new MACs (it runs beside the source); the
live failover after it also keeps both MACs and the Shared network's address. Everything is read back with
listVirtualMachines.
"""
import pytest

from apps.failover.models import FailoverJob, NetworkMapping
from apps.inventory.models import VMContext
from apps.replication.models import ReplicationJob
from apps.settings import cloudstack as cs
from apps.settings.models import GuestOsMapping
from tests.e2e.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]


def _wait(stack, model, job_id, done, timeout=180):
    logs = [stack.tmp / "worker.log", stack.tmp / "agent.log"]

    def finished():
        job = model.objects.get(job_id=job_id)
        return job if done(job) else None

    return wait_for(finished, timeout, f"job {job_id}", logs)


def test_test_then_live_failover_carry_macs_boot_and_os_type(stack, operator_client):
    from lab.vcsim import create_vm

    create_vm(stack.si, "efi-web", disks_mb=(64, 64), networks=("VM Network", "Backup Net"),
              guest_id="windows2019srv_64Guest", firmware="efi", secure_boot=True,
              guest_ips=("10.1.4.140", "192.168.60.4"), power_on=True)
    # A transactional test starts without the migration's seeded mappings: the one this VM needs.
    GuestOsMapping.objects.get_or_create(vmware_guest_id="windows2019srv_64Guest",
                                         defaults={"os_type_description": "Windows Server 2019 (64-bit)"})
    added = operator_client.post("/api/v1/discovery/add-vms", {"vm_names": ["efi-web"]}, format="json")
    assert added.status_code == 201, added.json()
    context = VMContext.objects.get(vm_name="efi-web")
    assert (context.firmware, context.secure_boot, context.guest_os_id) == ("efi", True, "windows2019srv_64Guest")
    source = {n.network_name: n for n in context.nics.all()}
    assert source["VM Network"].ip_addresses == ["10.1.4.140"]
    assert source["Backup Net"].ip_addresses == ["192.168.60.4"]
    source_macs = [source["VM Network"].mac_address.lower(), source["Backup Net"].mac_address.lower()]

    started = operator_client.post("/api/v1/replications", {"vm_name": "efi-web", "replication_type": "initial"},
                                   format="json")
    assert started.status_code == 202, started.json()
    sync = _wait(stack, ReplicationJob, started.json()["job_id"],
                 lambda j: j.status in ("completed", "failed", "cancelled"))
    assert sync.status == "completed", sync.error_message

    client = cs.CloudStackClient(stack.cs.url, stack.cs.api_key, stack.cs.secret_key, poll_interval=0.05)
    networks = {n["name"]: n for n in client.list_networks()}
    for source_name, live, test in (("VM Network", "shared-net", "test-failover-net"),
                                    ("Backup Net", "l2-net", "migration-net")):
        for name, is_test in ((live, False), (test, True)):
            NetworkMapping.objects.create(vm_context=context, source_network_name=source_name,
                                          destination_network_id=networks[name]["id"],
                                          destination_network_name=name, is_test_network=is_test)
    windows = next(t for t in client.list_os_types() if t["description"] == "Windows Server 2019 (64-bit)")

    response = operator_client.post("/api/v1/failover/test", {"vm_id": context.vm_id, "test_duration": "1h"},
                                    format="json")
    assert response.status_code == 200, response.json()
    test_job = _wait(stack, FailoverJob, response.json()["job_id"], lambda j: j.status in ("completed", "failed"))
    assert test_job.status == "completed", test_job.error_message
    [test_vm] = client.list_all("listVirtualMachines", id=test_job.destination_vm_id)
    assert [n["networkid"] for n in test_vm["nic"]] == [networks["test-failover-net"]["id"],
                                                        networks["migration-net"]["id"]]
    assert not {n["macaddress"] for n in test_vm["nic"]} & set(source_macs)
    assert (test_vm["boottype"], test_vm["bootmode"], test_vm["ostypeid"]) == ("UEFI", "secure", windows["id"])

    ended = operator_client.delete(f"/api/v1/failover/test/{test_job.job_id}")
    assert ended.status_code == 200, ended.json()
    _wait(stack, FailoverJob, test_job.job_id, lambda j: j.ended_at is not None and not j.occupies_vm)

    response = operator_client.post("/api/v1/failover/live", {"vm_id": context.vm_id, "power_off_source": True,
                                                              "final_sync": False}, format="json")
    assert response.status_code == 200, response.json()
    live_job = _wait(stack, FailoverJob, response.json()["job_id"], lambda j: j.status in ("completed", "failed"))
    assert live_job.status == "completed", live_job.error_message
    [live_vm] = client.list_all("listVirtualMachines", id=live_job.destination_vm_id)
    nics = {n["networkid"]: n for n in live_vm["nic"]}
    shared, l2 = nics[networks["shared-net"]["id"]], nics[networks["l2-net"]["id"]]
    assert [shared["macaddress"], l2["macaddress"]] == source_macs
    assert shared["ipaddress"] == "10.1.4.140" and shared["isdefault"]
    assert (live_vm["boottype"], live_vm["bootmode"], live_vm["ostypeid"]) == ("UEFI", "secure", windows["id"])
    assert live_vm["details"]["rootDiskController"] == "virtio" and live_vm["state"] == "Running"

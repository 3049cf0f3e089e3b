"""Failover readiness checks: real checks against the database and CloudStack (seed 003 "VM Validation").

Each check has a name, a type (critical or warning), a status, a message, its execution time (nanoseconds, as
the seed shows Go durations), details, and the actions an operator can take when it fails. A VM is ready when
every critical check passes. The facts they judge (sync, networks, volumes, active jobs) are in `readiness.py`.
"""
from __future__ import annotations

import time
from typing import Any

from apps.core.exceptions import ApplicationError
from apps.inventory.choices import VMContextStatus
from apps.inventory.models import VMContext
from apps.settings import cloudstack as cs
from apps.settings import volumes

from . import cloud, conf, readiness
from .checks import WEIGHTS, Check
from .choices import CheckStatus, CheckType, FailoverType
from .validation_guest import GuestChecks
from .validation_identity import IdentityChecks
from .validation_storage import StorageChecks


class Validator(IdentityChecks, StorageChecks, GuestChecks):
    """Runs every check for one VM and one failover type; CloudStack is asked once, lazily."""

    def __init__(self, vm_context: VMContext, failover_type: str = FailoverType.LIVE, *,
                 overrides: dict | None = None, exclude_job_id: str = "", custom_config: dict | None = None,
                 running_job=None):
        self.vm = vm_context
        # The job being run, when its runner validates again: the VM state it set itself is expected.
        self.running_job = running_job
        self.type = failover_type
        self.overrides = overrides or {}
        self.exclude_job_id = exclude_job_id or (running_job.job_id if running_job is not None else "")
        self.custom = custom_config or {}
        self.config = None
        self.client: cs.CloudStackClient | None = None
        self.zone_id: str | None = None
        self.oma_id: str | None = None
        self.networks: list[dict] | None = None
        self.cloud_error = ""
        self.checks: list[Check] = []
        self.plan: dict = {}

    def _run(self, name: str, check_type: str, func) -> Check:
        check = Check(name, check_type)
        started = time.monotonic_ns()
        try:
            func(check)
        except ApplicationError as exc:
            check.fail(exc.message, error_code=exc.error_code or check.error_code, http_status=exc.status_code)
        except cs.CloudStackError as exc:
            check.fail(f"CloudStack answered badly: {exc}", "Check CloudStack's state and retry",
                       error_code="OSSEA_API_ERROR", http_status=502)
        if not check.message:
            check.message = "OK"
        check.execution_time = time.monotonic_ns() - started
        self.checks.append(check)
        return check

    def _skip_without_cloud(self, check: Check) -> bool:
        if self.client is None:
            check.status = CheckStatus.SKIP
            check.message = f"Skipped: CloudStack is not usable ({self.cloud_error})"
            return True
        return False

    # -- checks --

    def check_vm(self, check: Check) -> None:
        disks = self.vm.disks.count()
        nics = self.vm.nics.count()
        check.details = {"vm_name": self.vm.vm_name, "context_id": self.vm.context_id, "disks": disks, "nics": nics,
                         "cpu_count": self.vm.cpu_count, "memory_mb": self.vm.memory_mb,
                         "power_state": self.vm.power_state or None}
        if not disks:
            check.fail(f"VM '{self.vm.vm_name}' has no disks in the inventory",
                       f"Discover VM '{self.vm.vm_name}' again so its disks are known (POST /api/v1/discovery/add-vms)",
                       error_code="VALIDATION_FAILED", http_status=400)
            return
        check.message = f"VM exists with {disks} disk(s) and {nics} NIC(s)"

    def check_state(self, check: Check) -> None:
        status = self.vm.current_status
        check.details = {"current_status": status}
        own_test = (self.running_job is not None and self.running_job.job_type == FailoverType.TEST
                    and status == VMContextStatus.TEST_FAILOVER)
        if status == VMContextStatus.READY_FOR_FAILOVER or own_test:
            check.message = "VM is ready for failover"
        elif status == VMContextStatus.FAILED_OVER:
            check.fail(f"VM '{self.vm.vm_name}' has already been failed over to CloudStack",
                       "Nothing to do: the VM runs in CloudStack", error_code="INVALID_STATE")
        elif status == VMContextStatus.TEST_FAILOVER:
            check.fail(f"VM '{self.vm.vm_name}' is in a test failover",
                       "End the running test failover (DELETE /api/v1/failover/test/{job_id} or "
                       f"POST /api/v1/failover/cleanup/{self.vm.vm_name})", error_code="ACTIVE_JOBS")
        elif status == VMContextStatus.REPLICATING:
            check.fail(f"VM '{self.vm.vm_name}' is replicating", "Wait for the replication to complete",
                       error_code="ACTIVE_JOBS")
        else:
            check.fail(f"VM '{self.vm.vm_name}' is '{status}', not ready for failover",
                       f"Complete a replication of VM '{self.vm.vm_name}' (POST /api/v1/replications)")

    def check_sync(self, check: Check) -> None:
        info = readiness.sync_info(self.vm)
        missing = [disk for disk, record in info["disks"].items() if record is None]
        check.details = {"job_id": info["replication_job_id"], "change_id": info["latest_change_id"],
                         "sync_time": info["last_sync_time"], "sync_age_seconds": info["sync_age_seconds"],
                         "disks": info["disks"]}
        if info["replication_job_id"] is None:
            check.fail("VM has no completed sync", f"Run a replication of VM '{self.vm.vm_name}' "
                       "(POST /api/v1/replications) and wait for it to complete")
        elif missing:
            check.fail(f"No stored change id for disk(s) {', '.join(missing)}",
                       f"Run an incremental replication of VM '{self.vm.vm_name}' so every disk has a change id")
        else:
            check.message = "VM has valid ChangeID from successful sync"

    def check_sync_age(self, check: Check) -> None:
        info = readiness.sync_info(self.vm)
        age = info["sync_age_seconds"]
        limit = conf.sync_warn_age()
        check.details = {"sync_age_seconds": age, "warn_after_seconds": limit}
        if age is None:
            check.fail("The VM has never been synced", f"Run a replication of VM '{self.vm.vm_name}'")
        elif age > limit:
            hours = age / 3600
            check.fail(f"The last sync is {hours:.1f} hours old; the failover VM gets the data of that time",
                       f"Run an incremental sync of VM '{self.vm.vm_name}' first" +
                       (" (a live failover's final sync also does this)" if self.type == FailoverType.LIVE else ""))
        else:
            check.message = f"The last sync is {age // 60} minute(s) old"

    def check_active_jobs(self, check: Check) -> None:
        info = readiness.active_jobs_info(self.vm, exclude_job_id=self.exclude_job_id)
        check.details = info
        actions = []
        for job in info["migration_jobs"]:
            actions.append(f"Wait for migration job {job['job_id']} to complete, or cancel it "
                           f"(DELETE /api/v1/replications/{job['job_id']})")
        for job in info["failover_jobs"]:
            if job["test_running"]:
                actions.append(f"End test failover {job['job_id']} (DELETE /api/v1/failover/test/{job['job_id']})")
            else:
                actions.append(f"Wait for failover job {job['job_id']} ({job['status']}) to finish")
        for job in info["failed_jobs_needing_cleanup"]:
            actions.append(f"Clean up what failed failover {job['job_id']} left behind "
                           f"(POST /api/v1/failover/{self.vm.vm_name}/cleanup-failed)")
        if info["migration_jobs"]:
            job = info["migration_jobs"][0]
            check.details = {**info, "active_job_id": job["job_id"], "job_status": job["status"]}
            check.fail("VM has active migration job in progress", *actions, error_code="ACTIVE_JOBS")
        elif info["failover_jobs"]:
            check.fail("VM has an active failover job", *actions, error_code="ACTIVE_JOBS")
        elif info["failed_jobs_needing_cleanup"]:
            check.fail("A failed failover of this VM left CloudStack resources behind", *actions,
                       error_code="CLEANUP_REQUIRED")
        else:
            check.message = "No active migration or failover jobs"

    def check_cloudstack(self, check: Check) -> None:
        try:
            self.config = cloud.config_for(self.vm)
        except ApplicationError as exc:
            self.cloud_error = exc.message
            check.fail(exc.message, "Configure CloudStack (POST /api/v1/ossea/config)",
                       error_code="OSSEA_NOT_CONFIGURED", http_status=503)
            return
        client = cloud.client_for(self.config)
        try:
            zone = client.find_zone(self.config.zone)
            self.oma_id = volumes.oma_vm_id(self.config, client)
            self.networks = client.list_networks(zone_id=zone["id"])
        except cs.CloudStackError as exc:
            self.cloud_error = str(exc)
            check.fail(f"CloudStack is not usable: {exc}",
                       f"Check CloudStack configuration '{self.config.name}' (POST /api/v1/settings/cloudstack/validate)",
                       error_code="OSSEA_API_ERROR", http_status=502)
            return
        self.client, self.zone_id = client, zone["id"]
        check.details = {"config": self.config.name, "api_url": self.config.api_url, "zone": zone.get("name"),
                         "zone_id": zone["id"], "oma_vm_id": self.oma_id}
        check.message = f"CloudStack reachable (zone '{zone.get('name')}')"

    def check_permissions(self, check: Check) -> None:
        """What the configured key may not do in a teardown (listCapabilities): said, not refused."""
        if self._skip_without_cloud(check):
            return
        missing = self.client.teardown_permissions_missing()
        check.details = {"missing": missing}
        if missing:
            check.fail("The CloudStack key of this configuration may not " + "; may not ".join(missing),
                       "Use an admin key, or have the CloudStack admin set the named setting for this account "
                       "(docs/cloudstack.md, \"Permissions\")", error_code="OSSEA_PERMISSIONS")
        else:
            check.message = "The CloudStack key may expunge and force-stop the VMs it tears down"

    def check_network_mapping(self, check: Check) -> None:
        resolved, unmapped = cloud.resolve_networks(self.vm, failover_type=self.type, overrides=self.overrides,
                                                    networks=self.networks)
        kind = "test" if self.type == FailoverType.TEST else "production"
        check.details = {"failover_type": self.type, "mapped": resolved, "unmapped": unmapped}
        self.plan["networks"] = resolved
        if unmapped:
            check.fail(f"{len(unmapped)} source network(s) have no {kind} network mapping: {', '.join(unmapped)}",
                       *[f"Create network mapping for '{name}' (POST /api/v1/network-mappings with "
                         f"is_test_network={'true' if self.type == FailoverType.TEST else 'false'})"
                         for name in unmapped],
                       error_code="NETWORK_MAPPING_MISSING", http_status=400)
        elif not resolved:
            check.message = "The VM has no NICs; the VM gets CloudStack's default network"
        else:
            check.message = f"All {len(resolved)} NIC(s) mapped to {kind} networks"

    def check_destination_networks(self, check: Check) -> None:
        if self._skip_without_cloud(check):
            return
        resolved = self.plan.get("networks", [])
        missing = []
        for nic in resolved:
            found = next((n for n in self.networks if n["id"] == nic["destination_network_id"]), None)
            if found is None:
                missing.append(nic)
            else:
                nic["destination_network_name"] = found.get("name", nic["destination_network_name"])
        check.details = {"networks": [{"id": n["destination_network_id"], "name": n["destination_network_name"]}
                                      for n in resolved]}
        if missing:
            check.fail("Mapped CloudStack network(s) do not exist: " + ", ".join(
                f"{n['destination_network_id']} (for '{n['source_network_name']}')" for n in missing),
                *[f"Map '{n['source_network_name']}' to an existing CloudStack network (PUT /api/v1/network-mappings/"
                  f"{self.vm.vm_id})" for n in missing], error_code="NETWORK_MAPPING_MISSING", http_status=400)
        else:
            check.message = "Every mapped network exists in CloudStack"

    def check_nic_layout(self, check: Check) -> None:
        """CloudStack gives a user VM at most one NIC per guest network: source NICs mapped to one network merge."""
        by_network: dict[str, list[dict]] = {}
        for nic in self.plan.get("networks", []):
            by_network.setdefault(nic["destination_network_id"], []).append(nic)
        shared = {network: nics for network, nics in by_network.items() if len(nics) > 1}
        check.details = {"source_nics": sum(len(nics) for nics in by_network.values()),
                         "destination_nics": len(by_network),
                         "shared_networks": [{"destination_network_id": network,
                                              "destination_network_name": nics[0]["destination_network_name"],
                                              "nics": [nic["nic"] for nic in nics]} for network, nics in shared.items()]}
        if not shared:
            check.message = "Every NIC gets its own CloudStack NIC"
            return
        merged = "; ".join(
            f"{', '.join(repr(nic['nic']) for nic in nics)} map to "
            f"'{nics[0]['destination_network_name'] or network}'" for network, nics in shared.items())
        check.fail(f"{merged}: CloudStack gives a VM one NIC per network, so the failover VM gets "
                   f"{len(by_network)} NIC(s) for {check.details['source_nics']}",
                   *[f"Map '{nic['source_network_name']}' to another CloudStack network if the VM needs its own NIC "
                     f"there (PUT /api/v1/network-mappings/{self.vm.vm_id})"
                     for nics in shared.values() for nic in nics[1:]])

    def check_volumes(self, check: Check) -> None:
        if self._skip_without_cloud(check):
            return
        info = readiness.volume_info(self.vm, client=self.client, oma_id=self.oma_id)
        check.details = info
        actions, problems = [], []
        for row in info["volumes"]:
            if row["volume_id"] is None:
                problems.append(f"{row['disk_id']} has no replica volume")
                actions.append(f"Run a replication of VM '{self.vm.vm_name}' to create the volume of {row['disk_id']}")
            elif row["cloudstack_state"] is None:
                problems.append(f"volume {row['volume_id']} of {row['disk_id']} is gone from CloudStack")
                actions.append(f"Run a replication of VM '{self.vm.vm_name}': it recreates the missing volume "
                               "(full sync)")
            elif row["attachment_status"] != "attached_to_oma":
                problems.append(f"volume {row['volume_id']} of {row['disk_id']} is {row['attachment_status']}"
                                + (f" (VM {row['attached_vm_id']})" if row["attached_vm_id"] else ""))
                actions.append(f"Attach volume {row['volume_id']} back to the control-plane VM {self.oma_id} "
                               "(run a replication, or clean up the failover that holds it)")
            elif not row["is_accessible"]:
                problems.append(f"volume {row['volume_id']} is {row['cloudstack_state']}, not Ready")
                actions.append(f"Check volume {row['volume_id']} in CloudStack")
            elif not row["is_ready_for_failover"]:
                problems.append(f"volume {row['volume_id']} is smaller than {row['disk_id']}")
                actions.append(f"Run a replication of VM '{self.vm.vm_name}' so the volume is resized")
        if problems:
            check.fail("Replica volumes not available: " + "; ".join(problems), *actions,
                       error_code="VOLUME_NOT_AVAILABLE")
        else:
            check.message = f"All {info['total_volumes']} replica volume(s) exist and are attached to the control plane"

    def check_compute(self, check: Check) -> None:
        if self._skip_without_cloud(check):
            return
        wanted = self.custom.get("service_offering_id") or self.config.service_offering_id
        try:
            compute = cloud.choose_offering(self.client.list_service_offerings(), self.vm, wanted_id=wanted)
            template = cloud.choose_template(self.client.list_templates(zone_id=self.zone_id),
                                             wanted_id=self.custom.get("template_id", ""))
        except cloud.PlanError as exc:
            check.fail(str(exc), "Create or choose a service offering that fits the VM's CPU and memory, and make sure "
                       "a ready template exists (custom_config.service_offering_id / template_id)",
                       error_code="VALIDATION_FAILED", http_status=400)
            return
        self.plan["compute"] = compute.as_plan()
        self.plan["template"] = {"id": template["id"], "name": template.get("name")}
        check.details = {**compute.as_plan(), "template_id": template["id"], "template_name": template.get("name"),
                         "vm_cpu_count": self.vm.cpu_count, "vm_memory_mb": self.vm.memory_mb}
        check.message = (f"Offering '{compute.offering.get('name')}' fits the VM ({self.vm.cpu_count} vCPU, "
                         f"{self.vm.memory_mb} MB)")

    def check_vm_name(self, check: Check) -> None:
        if self._skip_without_cloud(check):
            return
        name = cloud.live_vm_name(self.vm, self.custom)
        taken = [vm for vm in self.client.list_virtual_machines(zone_id=self.zone_id, name=name)
                 if vm.get("name", "").lower() == name.lower() and vm.get("state") not in ("Destroyed", "Expunging")]
        check.details = {"vm_name": name}
        if taken:
            check.fail(f"A CloudStack VM named '{name}' already exists ({taken[0]['id']}, {taken[0].get('state')})",
                       "Choose another name for the destination VM (custom_config.vm_name) or remove that VM",
                       error_code="VALIDATION_FAILED", http_status=409)
        else:
            check.message = f"The destination VM will be named '{name}'"

    # -- the whole run --

    def run(self) -> dict:
        started = time.monotonic_ns()
        self._run("VM Existence", CheckType.CRITICAL, self.check_vm)
        self._run("VM State", CheckType.CRITICAL, self.check_state)
        self._run("Sync Status", CheckType.CRITICAL, self.check_sync)
        self._run("Sync Age", CheckType.WARNING, self.check_sync_age)
        self._run("Active Jobs", CheckType.CRITICAL, self.check_active_jobs)
        self._run("CloudStack Connectivity", CheckType.CRITICAL, self.check_cloudstack)
        self._run("CloudStack Permissions", CheckType.WARNING, self.check_permissions)
        self._run("Network Mapping", CheckType.CRITICAL, self.check_network_mapping)
        self._run("Destination Networks", CheckType.CRITICAL, self.check_destination_networks)
        self._run("NIC Layout", CheckType.WARNING, self.check_nic_layout)
        self._run("Volume Status", CheckType.CRITICAL, self.check_volumes)
        self._run("Storage Mapping", CheckType.WARNING, self.check_storage)
        self._run("Compute Offering", CheckType.CRITICAL, self.check_compute)
        self._run("Guest Identity", CheckType.WARNING, self.check_identity)
        self._run("Guest Conversion", CheckType.WARNING, self.check_guest)
        if self.type == FailoverType.LIVE:
            self._run("Destination VM Name", CheckType.CRITICAL, self.check_vm_name)
        return self.result(time.monotonic_ns() - started)

    def result(self, elapsed_ns: int) -> dict:
        total = sum(WEIGHTS[c.check_type] for c in self.checks)
        passed = sum(WEIGHTS[c.check_type] for c in self.checks if c.status == CheckStatus.PASS)
        failed_critical = [c for c in self.checks if c.check_type == CheckType.CRITICAL and c.status != CheckStatus.PASS]
        failed_warning = [c for c in self.checks if c.check_type == CheckType.WARNING and c.status != CheckStatus.PASS]
        ready = not failed_critical
        actions: list[str] = []
        for check in failed_critical + failed_warning:
            for action in check.actions:
                if action not in actions:
                    actions.append(action)
        return {
            "vm_id": self.vm.vm_id, "vm_name": self.vm.vm_name, "failover_type": self.type,
            "is_ready": ready, "readiness_score": round(100.0 * passed / total, 1) if total else 0.0,
            "estimated_duration": estimate(self.type, self.vm) if ready else "Cannot estimate - validation failed",
            "checks": [c.as_dict() for c in self.checks],
            "warnings": [c.message for c in failed_warning],
            "errors": [c.message for c in failed_critical if c.status == CheckStatus.FAIL],
            "execution_time": elapsed_ns,
            "required_actions": actions,
        }

    def first_failure(self) -> Check | None:
        return next((c for c in self.checks if c.check_type == CheckType.CRITICAL and c.status == CheckStatus.FAIL),
                    None)


def estimate(failover_type: str, vm_context: VMContext) -> str:
    disks = vm_context.disks.count()
    if failover_type == FailoverType.TEST:
        return f"{3 + disks}-{8 + 2 * disks} minutes"
    return f"{5 + disks}-{10 + 2 * disks} minutes (plus the final sync)"


def validate(vm_context: VMContext, failover_type: str = FailoverType.LIVE, **kwargs: Any) -> tuple[dict, Validator]:
    validator = Validator(vm_context, failover_type, **kwargs)
    return validator.run(), validator

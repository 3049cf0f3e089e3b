"""The readiness check of what the failover VM arrives as (`identity.py`): kept MACs and addresses, boot, OS type.

A mixin of `validation.Validator`: it reads the validator's CloudStack client, zone, networks and plan.
"""
from __future__ import annotations

from . import cloud, identity
from .checks import Check


class IdentityChecks:
    def check_identity(self, check: Check) -> None:
        if self._skip_without_cloud(check):
            return
        resolved, _ = cloud.resolve_networks(self.vm, failover_type=self.type, overrides=self.overrides,
                                             networks=self.networks)
        decision = identity.plan(self.vm, resolved, self.networks, failover_type=self.type,
                                 custom_config=self.custom, os_types=self.client.list_os_types(),
                                 vms=self.client.list_virtual_machines(zone_id=self.zone_id))
        self.plan.update(decision.plan)
        nics = decision.plan["nics"]
        check.details = {**decision.plan, "warnings": decision.warnings}
        if decision.warnings:
            check.fail("; ".join(decision.warnings),
                       "Map the VM's guest OS (POST /api/v1/guest-os-mappings) or accept the template's OS type",
                       "Map the NIC to a Shared network whose range holds its address, or accept a new address")
            return
        kept = [f"{n['source_nic']}: {', '.join(v for v in (n['mac'], n['ip']) if v)}" for n in nics
                if n["mac"] or n["ip"]]
        os_type = decision.plan["os_type"].get("description", "")
        check.message = (f"Boot {decision.plan['boot']['boot_type']}/{decision.plan['boot']['boot_mode']}, OS type "
                         f"'{os_type}'" + (f", kept: {'; '.join(kept)}" if kept else ", no MAC or address kept"))

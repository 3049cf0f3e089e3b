"""Drift rules over collected changes: which field of which resource type is watched, and how severe a change is.

The seed's 24 built-in rules, named by the seed's fields; `COLUMN` says which collected column each reads
(CloudStack's VM state is the seed's `vm_state`, a volume's size is `size_gb`...). Subnet rules read a network's
addressing (a CloudStack network carries its subnet); a floating IP's `port_id` is its static-NAT VM, and CloudStack
has no router on it (that rule never fires). Two more rules watch deletions (`deleted`): a VM or a volume
removed in CloudStack behind the platform's back. Rules are rows (enable/disable persists); `ensure_rules` adds the
built-in ones the first time they are needed.
"""
from __future__ import annotations

from django.db.models import Q

from . import models
from .choices import ChangeAction, Severity

C, W, INFO = Severity.CRITICAL, Severity.WARNING, Severity.INFO
BUILTIN = (
    ("server", "flavor_id", "Server Flavor Change", "Detects when a server's flavor (size) is changed", W),
    ("server", "status", "Server Status Change", "Detects when a server's power status changes unexpectedly", C),
    ("server", "vm_state", "Server VM State Change", "Detects changes to the underlying VM state", W),
    ("server", "hypervisor_hostname", "Server Migration Detected",
     "Detects when a server is live-migrated to a different host", INFO),
    ("volume", "status", "Volume Status Change", "Detects when a volume's state changes", W),
    ("volume", "size", "Volume Resized", "Detects when a volume's size changes", W),
    ("volume", "volume_type", "Volume Type Change", "Detects when a volume's type changes", INFO),
    ("volume", "server_id", "Volume Attachment Change", "Detects when a volume is attached or detached", W),
    ("network", "admin_state_up", "Network State Change", "Detects when a network's state changes", W),
    ("network", "shared", "Network Sharing Change", "Detects when a network becomes shared or private", W),
    ("subnet", "gateway_ip", "Subnet Gateway Change", "Detects when a subnet's gateway changes", C),
    ("subnet", "cidr", "Subnet CIDR Change", "Detects when a subnet's address range changes", C),
    ("subnet", "enable_dhcp", "Subnet DHCP Change", "Detects when DHCP is turned on or off on a subnet", W),
    ("port", "device_id", "Port Device Change", "Detects when a port moves to another device", W),
    ("port", "mac_address", "Port MAC Change", "Detects when a port's MAC address changes", C),
    ("port", "status", "Port Status Change", "Detects when a port goes up or down", INFO),
    ("floating_ip", "port_id", "Floating IP Reassigned", "Detects when a floating IP moves to another port", W),
    ("floating_ip", "router_id", "Floating IP Router Change", "Detects when a floating IP's router changes", INFO),
    ("floating_ip", "status", "Floating IP Status Change", "Detects when a floating IP's status changes", INFO),
    ("security_group", "description", "Security Group Changed", "Detects when a security group's description changes",
     INFO),
    ("snapshot", "status", "Snapshot Status Change", "Detects when a snapshot's state changes", W),
    ("snapshot", "size", "Snapshot Size Change", "Detects when a snapshot's size changes", INFO),
    ("server", "deleted", "Server Deleted", "Detects when a server is deleted in CloudStack", C),
    ("volume", "deleted", "Volume Deleted", "Detects when a volume is deleted in CloudStack", W),
)
# (rule's resource type, rule's field) -> (collected resource type, collected column).
COLUMN = {
    ("server", "vm_state"): ("server", "state"),
    ("volume", "status"): ("volume", "state"),
    ("volume", "size"): ("volume", "size_gb"),
    ("network", "admin_state_up"): ("network", "state"),
    ("subnet", "gateway_ip"): ("network", "gateway_ip"),
    ("subnet", "cidr"): ("network", "cidr"),
    ("subnet", "enable_dhcp"): ("network", "enable_dhcp"),
    ("port", "status"): ("port", "state"),
    ("snapshot", "status"): ("snapshot", "state"),
    ("snapshot", "size"): ("snapshot", "size_gb"),
    ("floating_ip", "status"): ("floating_ip", "state"),
}


def ensure_rules() -> None:
    if models.DriftRule.objects.count() >= len(BUILTIN):
        return
    models.DriftRule.objects.bulk_create(
        [models.DriftRule(resource_type=t, field_name=f, rule_name=n, description=d, severity=s)
         for t, f, n, d, s in BUILTIN], ignore_conflicts=True)


def _text(value) -> str | None:
    return None if value is None else str(value)


def detect(collection: models.Collection) -> int:
    """Drift events for the run's changes that an enabled rule watches; how many were raised."""
    ensure_rules()
    watching: dict[tuple[str, str], list[tuple[models.DriftRule, str]]] = {}
    for rule in models.DriftRule.objects.filter(enabled=True):
        source_type, column = COLUMN.get((rule.resource_type, rule.field_name), (rule.resource_type, rule.field_name))
        watching.setdefault((source_type, column), []).append((rule, rule.resource_type))
    events = []
    changes = models.Change.objects.filter(collection=collection).filter(
        Q(action=ChangeAction.CHANGED) | Q(action=ChangeAction.DELETED))
    for change in changes:
        if change.action == ChangeAction.DELETED:
            found = [("deleted", rule, rtype, {"before": "present", "after": "deleted"})
                     for rule, rtype in watching.get((change.resource_type, "deleted"), [])]
        else:
            found = [(column, rule, rtype, values) for column, values in change.fields.items()
                     for rule, rtype in watching.get((change.resource_type, column), [])]
        for _column, rule, rtype, values in found:
            events.append(models.DriftEvent(
                rule=rule, change=change, resource_type=rtype, resource_id=change.resource_id,
                resource_name=change.resource_name, field_name=rule.field_name, old_value=_text(values["before"]),
                new_value=_text(values["after"]), severity=rule.severity, detected_at=change.detected_at,
                domain_name=change.domain_name, tenant_id=change.tenant_id, tenant_name=change.tenant_name))
    models.DriftEvent.objects.bulk_create(events, batch_size=500)
    return len(events)

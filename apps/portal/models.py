"""What the collector read from CloudStack (one table per kind), the changes it saw, and drift rules and events.

Each collected row keeps CloudStack's own JSON (`raw`) beside the typed columns the endpoints filter and sum on;
`tenant_id`/`tenant_name` are the owner as the seed's tenants: the CloudStack project when there is one, else the
account.
"""
from __future__ import annotations

from django.db import models

from apps.core.models import Named

from .choices import ChangeAction, CollectionStatus, Severity


class CloudRecord(models.Model):
    cloud_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255, blank=True, db_index=True)
    state = models.CharField(max_length=64, blank=True, db_index=True)
    domain_id = models.CharField(max_length=64, blank=True, db_index=True)
    domain_name = models.CharField(max_length=255, blank=True)
    account = models.CharField(max_length=255, blank=True)
    tenant_id = models.CharField(max_length=64, blank=True, db_index=True)
    tenant_name = models.CharField(max_length=255, blank=True)
    raw = models.JSONField(default=dict)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        abstract = True
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name or self.cloud_id


class Domain(CloudRecord):
    path = models.CharField(max_length=512, blank=True)
    parent_id = models.CharField(max_length=64, blank=True)


class Account(CloudRecord):
    role_type = models.CharField(max_length=32, blank=True)


class Project(CloudRecord):
    display_text = models.CharField(max_length=255, blank=True)


class Host(CloudRecord):
    cpu_count = models.IntegerField(default=0)
    cpu_used_percent = models.FloatField(default=0)
    cpu_allocated_percent = models.FloatField(default=0)
    memory_total_mb = models.BigIntegerField(default=0)
    memory_used_mb = models.BigIntegerField(default=0)
    memory_allocated_mb = models.BigIntegerField(default=0)
    disk_total_gb = models.BigIntegerField(default=0)
    disk_used_gb = models.BigIntegerField(default=0)
    ip_address = models.CharField(max_length=64, blank=True)


class ServiceOffering(CloudRecord):
    display_text = models.CharField(max_length=255, blank=True)
    vcpus = models.IntegerField(null=True)
    cpu_speed_mhz = models.IntegerField(null=True)
    ram_mb = models.IntegerField(null=True)
    customized = models.BooleanField(default=False)


class Template(CloudRecord):
    os_type = models.CharField(max_length=255, blank=True)
    size_gb = models.IntegerField(default=0)
    disk_format = models.CharField(max_length=32, blank=True)


class Server(CloudRecord):
    status = models.CharField(max_length=32, db_index=True)  # the seed's ACTIVE/SHUTOFF/ERROR/BUILD
    flavor_id = models.CharField(max_length=64, blank=True)
    flavor_name = models.CharField(max_length=255, blank=True)
    vcpus = models.IntegerField(default=0)
    ram_mb = models.IntegerField(default=0)
    image_id = models.CharField(max_length=64, blank=True)
    image_name = models.CharField(max_length=255, blank=True)
    hypervisor_id = models.CharField(max_length=64, blank=True, db_index=True)
    hypervisor_hostname = models.CharField(max_length=255, blank=True)
    ips = models.CharField(max_length=1024, blank=True)
    zone_name = models.CharField(max_length=255, blank=True)
    nics = models.JSONField(default=list)


class Volume(CloudRecord):
    size_gb = models.IntegerField(default=0)
    volume_type = models.CharField(max_length=32, blank=True)
    server_id = models.CharField(max_length=64, blank=True, db_index=True)
    server_name = models.CharField(max_length=255, blank=True)
    storage_pool = models.CharField(max_length=255, blank=True)
    disk_offering = models.CharField(max_length=255, blank=True)


class Snapshot(CloudRecord):
    size_gb = models.IntegerField(default=0)
    volume_id = models.CharField(max_length=64, blank=True, db_index=True)
    volume_name = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField(null=True, db_index=True)


class Network(CloudRecord):
    cidr = models.CharField(max_length=64, blank=True)
    gateway_ip = models.CharField(max_length=64, blank=True)
    netmask = models.CharField(max_length=64, blank=True)
    network_type = models.CharField(max_length=32, blank=True)
    shared = models.BooleanField(default=False)
    zone_name = models.CharField(max_length=255, blank=True)


class SecurityGroup(CloudRecord):
    description = models.CharField(max_length=1024, blank=True)
    rules = models.JSONField(default=list)
    vm_count = models.IntegerField(default=0)


class Port(CloudRecord):
    """A VM's NIC: the seed's port (device_id is the VM)."""

    device_id = models.CharField(max_length=64, blank=True, db_index=True)
    mac_address = models.CharField(max_length=32, blank=True)
    network_id = models.CharField(max_length=64, blank=True)
    ip_address = models.CharField(max_length=64, blank=True)


class FloatingIP(CloudRecord):
    """A CloudStack public IP address: a network's source NAT, or static NAT to a VM (the seed's floating IP)."""

    ip_address = models.CharField(max_length=64, db_index=True)
    network_id = models.CharField(max_length=64, blank=True)
    network_name = models.CharField(max_length=255, blank=True)
    is_source_nat = models.BooleanField(default=False)
    port_id = models.CharField(max_length=64, blank=True)  # the static-NAT VM: CloudStack binds the address to it
    server_name = models.CharField(max_length=255, blank=True)


class StoragePool(CloudRecord):
    total_gb = models.BigIntegerField(default=0)
    used_gb = models.BigIntegerField(default=0)
    allocated_gb = models.BigIntegerField(default=0)


class Collection(models.Model):
    """One collector run: when, how long, what it counted and changed, or why it failed."""

    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True)
    duration_ms = models.IntegerField(null=True)
    status = models.CharField(max_length=16, choices=CollectionStatus.choices, default=CollectionStatus.RUNNING)
    error = models.TextField(blank=True)
    counts = models.JSONField(default=dict)
    changes = models.IntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"collection {self.started_at:%Y-%m-%d %H:%M:%S} {self.status}"


class CloudEvent(models.Model):
    """One entry of CloudStack's own event log (`listEvents`): who did what in CloudStack, as CloudStack said it."""

    cloud_id = models.CharField(max_length=64, unique=True)
    collection = models.ForeignKey(Collection, on_delete=models.SET_NULL, related_name="events", null=True)
    type = models.CharField(max_length=64, db_index=True)  # CloudStack's: VM.STOP, VOLUME.DELETE...
    level = models.CharField(max_length=16, db_index=True)  # INFO, WARN, ERROR
    state = models.CharField(max_length=16)  # Created, Scheduled, Started, Completed
    description = models.TextField(blank=True)
    username = models.CharField(max_length=255, blank=True, db_index=True)
    account = models.CharField(max_length=255, blank=True)
    domain_id = models.CharField(max_length=64, blank=True)
    domain_name = models.CharField(max_length=255, blank=True)
    tenant_id = models.CharField(max_length=64, blank=True, db_index=True)
    tenant_name = models.CharField(max_length=255, blank=True)
    # The seed's resource type (server, volume...) and CloudStack's id, where the event names its resource.
    resource_type = models.CharField(max_length=32, blank=True, db_index=True)
    resource_id = models.CharField(max_length=64, blank=True, db_index=True)
    parent_id = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(db_index=True)
    raw = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.state} by {self.username}"


class Change(models.Model):
    """A resource created, changed (fields with before and after) or deleted (its last state kept), as collected."""

    # None: a change the portal itself made through CloudStack (an /admin/... write), recorded at once.
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="change_rows", null=True)
    user = models.CharField(max_length=150, blank=True)
    resource_type = models.CharField(max_length=32, db_index=True)
    resource_id = models.CharField(max_length=64, db_index=True)
    resource_name = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=16, choices=ChangeAction.choices)
    fields = models.JSONField(default=dict)  # {field: {"before": x, "after": y}}
    snapshot = models.JSONField(default=dict)  # the record as collected after the change (before, for deletions)
    domain_name = models.CharField(max_length=255, blank=True)
    tenant_id = models.CharField(max_length=64, blank=True, db_index=True)
    tenant_name = models.CharField(max_length=255, blank=True)
    detected_at = models.DateTimeField(db_index=True)
    change_hash = models.CharField(max_length=64, db_index=True)
    # The CloudStack event that made this change (its user and description), when the collector found one.
    event = models.ForeignKey(CloudEvent, on_delete=models.SET_NULL, related_name="changes", null=True)

    class Meta:
        ordering = ["-detected_at", "-id"]

    def __str__(self) -> str:
        return f"{self.resource_type} {self.resource_name or self.resource_id} {self.action}"


class DriftRule(Named, name_field="rule_name"):
    resource_type = models.CharField(max_length=32)
    field_name = models.CharField(max_length=64)
    rule_name = models.CharField(max_length=128)
    description = models.CharField(max_length=512)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    enabled = models.BooleanField(default=True)
    updated_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["resource_type", "field_name"], name="portal_drift_rule_unique")]


class DriftEvent(models.Model):
    rule = models.ForeignKey(DriftRule, on_delete=models.CASCADE, related_name="events")
    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="drift_events")
    resource_type = models.CharField(max_length=32, db_index=True)
    resource_id = models.CharField(max_length=64)
    resource_name = models.CharField(max_length=255, blank=True)
    field_name = models.CharField(max_length=64)
    old_value = models.CharField(max_length=1024, blank=True, null=True)
    new_value = models.CharField(max_length=1024, blank=True, null=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, db_index=True)
    detected_at = models.DateTimeField(db_index=True)
    acknowledged = models.BooleanField(default=False, db_index=True)
    acknowledged_by = models.CharField(max_length=150, blank=True, null=True)
    acknowledged_at = models.DateTimeField(null=True)
    domain_name = models.CharField(max_length=255, blank=True)
    tenant_id = models.CharField(max_length=64, blank=True, db_index=True)
    tenant_name = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]

    def __str__(self) -> str:
        return f"{self.rule_id}: {self.resource_name} {self.field_name}"


class DailyFigures(models.Model):
    """One row a day, rewritten by each collection that day: the trends' samples (VMs, volumes, storage, CPU)."""

    date = models.DateField(unique=True)
    vms = models.IntegerField(default=0)
    volumes = models.IntegerField(default=0)
    storage_used_gb = models.BigIntegerField(default=0)
    storage_total_gb = models.BigIntegerField(default=0)
    cpu_avg_percent = models.FloatField(default=0)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return str(self.date)

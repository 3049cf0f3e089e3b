"""Platform settings: CloudStack (OSSEA) configurations and VMware vCenter credentials."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from apps.core.fields import EncryptedTextField
from apps.core.models import Named, SlotHolder, TimeStampedModel

from .choices import CloudResourceKind, CloudResourceState


class OsseaConfig(Named, TimeStampedModel):
    """A CloudStack endpoint and where the platform lives in it (seed 001 "OSSEA Configurations Table")."""

    name = models.CharField(max_length=255, unique=True)
    api_url = models.CharField(max_length=500)
    api_key = models.CharField(max_length=500)
    secret_key = EncryptedTextField(help_text="Encrypted at rest; never returned by the API.")
    domain = models.CharField(max_length=255, default="/")
    zone = models.CharField(max_length=255)
    oma_vm_id = models.CharField(max_length=255, blank=True)
    is_active = models.BooleanField(default=True, db_index=True)
    # Resource choices made at setup (streamlined config); blank means "pick a fitting one".
    disk_offering_id = models.CharField(max_length=255, blank=True)
    service_offering_id = models.CharField(max_length=255, blank=True)
    network_id = models.CharField(max_length=255, blank=True)

    class Meta:
        db_table = "ossea_configs"
        ordering = ["id"]
        verbose_name = "CloudStack (OSSEA) configuration"


class VMwareCredential(TimeStampedModel, SlotHolder):
    name = models.CharField(max_length=255, unique=True)
    vcenter_host = models.CharField(max_length=255)
    username = models.CharField(max_length=255)
    password = EncryptedTextField(help_text="Encrypted at rest; never returned by the API.")
    datacenter = models.CharField(max_length=255)
    # Several agents: the one next to this vCenter discovers, copies and powers its VMs; empty: the default agent.
    agent = models.ForeignKey("enrollment.Appliance", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="vcenter_credentials",
                              help_text="The agent that reaches this vCenter; empty: the default agent")
    is_default = models.BooleanField(default=False)
    # True on the default row and NULL elsewhere: its unique index allows exactly one default (SlotHolder).
    default_slot = models.BooleanField(null=True, unique=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)

    slot_field = "default_slot"
    slot_fields = frozenset({"is_default"})

    class Meta:
        db_table = "vmware_credentials"
        ordering = ["name"]
        verbose_name = "VMware credentials"
        verbose_name_plural = "VMware credentials"

    def __str__(self) -> str:
        return f"{self.name} ({self.username}@{self.vcenter_host})"

    def slot_value(self) -> bool | None:
        return True if self.is_default else None


class CloudResource(TimeStampedModel):
    """Every CloudStack resource the platform creates, so rollback and the orphan sweep can find it."""

    ossea_config = models.ForeignKey(OsseaConfig, null=True, on_delete=models.SET_NULL, related_name="resources")
    kind = models.CharField(max_length=16, choices=CloudResourceKind.choices)
    resource_id = models.CharField(max_length=64, db_index=True)
    name = models.CharField(max_length=255, blank=True)
    owner = models.CharField(max_length=128, db_index=True, help_text="Job id that created it")
    parent_id = models.CharField(max_length=64, blank=True, help_text="e.g. the VM an attachment belongs to")
    state = models.CharField(max_length=16, choices=CloudResourceState.choices, default=CloudResourceState.CREATED, db_index=True)
    detail = models.JSONField(default=dict, blank=True)
    # Written before the wait (write-ahead): the CloudStack async job that creates it.
    cloudstack_job_id = models.CharField(max_length=64, blank=True)
    # The orphan sweep's last look: when, how often it failed to remove it, and why.
    checked_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        db_table = "cloud_resources"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.resource_id} ({self.state}, {self.owner})"


class GuestOsMapping(TimeStampedModel):
    """Which CloudStack OS type (listOsTypes) a VMware guest OS (`config.guestId`) becomes at failover.

    `os_type_id` pins one OS type; otherwise the OS type whose description is `os_type_description`
    is looked up in the CloudStack the VM fails over into. Seeded with a default mapping, editable.
    """

    vmware_guest_id = models.CharField(max_length=128, unique=True, help_text="VMware guestId, e.g. ubuntu64Guest")
    os_type_description = models.CharField(max_length=255, blank=True, help_text="CloudStack OS type, e.g. 'Ubuntu 22.04 LTS'")
    os_type_id = models.CharField(max_length=64, blank=True, help_text="A CloudStack OS type id; wins when set")

    class Meta:
        db_table = "guest_os_mappings"
        ordering = ["vmware_guest_id"]
        verbose_name = "guest OS mapping"

    def __str__(self) -> str:
        return f"{self.vmware_guest_id} -> {self.os_type_description or self.os_type_id}"


class StorageMapping(TimeStampedModel):
    """Where a replica volume goes in CloudStack: for a VMware datastore, or for one VM disk (which wins).

    `disk_offering_id` is createVolume's `diskofferingid` (blank: the configuration's default offering, else the
    customized one); `storage_id` is its `storageid`, a primary storage pool (CloudStack 4.23+; before that a pool
    is chosen when the volume is attached, so the offering's storage tags must select it). A mapping names a
    datastore, or a VM (`vm_id`, VMware's instance UUID as in the inventory) and one of its disks (`disk_id`).
    """

    ossea_config = models.ForeignKey(OsseaConfig, on_delete=models.CASCADE, related_name="storage_mappings")
    datastore = models.CharField(max_length=255, blank=True, help_text="VMware datastore name, e.g. datastore1")
    vm_id = models.CharField(max_length=64, blank=True, help_text="The VM (VMware instance UUID) of a disk mapping")
    disk_id = models.CharField(max_length=64, blank=True, help_text="The VM's disk, e.g. disk-2000")
    disk_offering_id = models.CharField(max_length=64, blank=True, help_text="createVolume diskofferingid")
    storage_id = models.CharField(max_length=64, blank=True, help_text="createVolume storageid (a storage pool)")

    class Meta:
        db_table = "storage_mappings"
        ordering = ["ossea_config_id", "datastore", "vm_id", "disk_id"]
        # A datastore row has no vm/disk and a disk row no datastore: one index makes both unique per configuration.
        unique_together = [("ossea_config", "datastore", "vm_id", "disk_id")]

    def problem(self) -> str:
        """Why this mapping cannot be saved ("" when it can): the API's 400 and the console form's error."""
        by_disk = bool(self.vm_id or self.disk_id)
        if bool(self.datastore) == by_disk:
            return "A storage mapping names a datastore, or a VM's disk (vm_id and disk_id): one of the two"
        if by_disk and not (self.vm_id and self.disk_id):
            return "A disk's storage mapping needs both vm_id and disk_id"
        if not (self.disk_offering_id or self.storage_id):
            return ("A storage mapping needs disk_offering_id (createVolume diskofferingid) or storage_id "
                    "(createVolume storageid)")
        return ""

    def clean(self) -> None:
        if self.problem():
            raise ValidationError(self.problem())

    def __str__(self) -> str:
        source = f"datastore {self.datastore}" if self.datastore else f"disk {self.disk_id} of VM {self.vm_id}"
        target = ", ".join(f"{k}={v}" for k, v in (("diskofferingid", self.disk_offering_id),
                                                    ("storageid", self.storage_id)) if v)
        return f"{source} -> {target}"

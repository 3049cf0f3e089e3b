"""The VM inventory: one VM context per source VM, owning its disks and NICs (seed 001 "VM Context API")."""
from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

from apps.core.models import Named, TimeStampedModel
from apps.core.utils import whole_gib

from .choices import VMContextStatus

# A VM's id (instance UUID or moref) becomes part of export, pid and log file names: letters, digits and . _ : -
# only, starting with a letter or digit, so no path separator, NUL or leading dot ever reaches a file name.
VM_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
# vSphere escapes / \ and % in the names it reports (%2f, %5c, %25): a raw one, or a control character, is not a VM's.
_NAME_REFUSED = re.compile(r"[/\\\x00-\x1f\x7f]")


def validate_vm_id(value: str) -> None:
    """Refuse a VM id that could not safely be part of a file name."""
    if not isinstance(value, str) or not VM_ID_PATTERN.fullmatch(value):
        raise ValidationError("A VM id is an instance UUID or moref: at most 64 letters, digits, '.', '_', ':' or '-', "
                              "starting with a letter or digit", code="invalid_vm_id")


def validate_vm_name(value: str) -> None:
    """Refuse a VM name vSphere could not have reported: a path separator, a control character, '.' or '..'."""
    if not isinstance(value, str) or _NAME_REFUSED.search(value) or value.strip() in ("", ".", ".."):
        raise ValidationError("A VM name has no '/', '\\' or control characters and is not '.' or '..' "
                              "(vSphere reports them escaped, e.g. %2f)", code="invalid_vm_name")


class VMContext(Named, TimeStampedModel, name_field="vm_name"):
    """Everything the platform knows about one source VM; the hub that jobs, volumes and mappings hang off."""

    context_id = models.CharField(max_length=128, unique=True)
    vm_name = models.CharField(max_length=255, unique=True, validators=[validate_vm_name])
    # VMware instance UUID: the seeds' `vm_id`.
    vm_id = models.CharField(max_length=64, unique=True, validators=[validate_vm_id])
    moref = models.CharField(max_length=64, blank=True)
    bios_uuid = models.CharField(max_length=64, blank=True)
    vm_path = models.CharField(max_length=1024)
    vcenter_host = models.CharField(max_length=255)
    datacenter = models.CharField(max_length=255)
    credential = models.ForeignKey("platform_settings.VMwareCredential", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="vm_contexts")
    ossea_config = models.ForeignKey("platform_settings.OsseaConfig", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="vm_contexts")
    power_state = models.CharField(max_length=32, blank=True)
    guest_os_id = models.CharField(max_length=128, blank=True)
    guest_os_name = models.CharField(max_length=255, blank=True)
    cpu_count = models.PositiveIntegerField(default=1)
    memory_mb = models.PositiveIntegerField(default=0)
    firmware = models.CharField(max_length=16, blank=True, help_text="vSphere config.firmware: bios or efi")
    secure_boot = models.BooleanField(default=False, help_text="vSphere config.bootOptions.efiSecureBootEnabled")
    current_status = models.CharField(max_length=32, choices=VMContextStatus.choices,
                                      default=VMContextStatus.DISCOVERED, db_index=True)
    total_jobs_run = models.PositiveIntegerField(default=0)
    successful_jobs = models.PositiveIntegerField(default=0)
    failed_jobs = models.PositiveIntegerField(default=0)
    last_successful_job_id = models.CharField(max_length=64, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_discovered_at = models.DateTimeField(null=True, blank=True)
    snapshots = models.JSONField(default=list, blank=True)
    # Set by the failover app while one of its jobs holds this VM's replica volumes (past its queued stage, or failed
    # with resources left behind): replication reads it here instead of reaching into failover's tables.
    held_by_failover = models.CharField(max_length=255, blank=True, default="",
                                        help_text="The failover holding the replica volumes, e.g. "
                                                  "'live failover <job id> (snapshotting)'; blank when none")

    class Meta:
        db_table = "vm_replication_contexts"
        ordering = ["vm_name"]
        verbose_name = "VM context"


class VMDisk(TimeStampedModel):
    vm_context = models.ForeignKey(VMContext, on_delete=models.CASCADE, related_name="disks")
    disk_key = models.IntegerField(help_text="vSphere device key, e.g. 2000")
    disk_id = models.CharField(max_length=64, help_text="Stable id used in API calls, e.g. disk-2000")
    label = models.CharField(max_length=255, blank=True)
    controller_key = models.IntegerField(null=True, blank=True)
    unit_number = models.IntegerField()
    capacity_bytes = models.BigIntegerField()
    datastore = models.CharField(max_length=255, blank=True)
    file_path = models.CharField(max_length=1024, blank=True)
    cbt_enabled = models.BooleanField(default=False)

    class Meta:
        db_table = "vm_disks"
        ordering = ["vm_context", "unit_number", "disk_key"]
        constraints = [
            models.UniqueConstraint(fields=["vm_context", "disk_key"], name="uniq_vm_disk_key"),
            models.UniqueConstraint(fields=["vm_context", "disk_id"], name="uniq_vm_disk_id"),
        ]

    def __str__(self) -> str:
        return f"{self.vm_context.vm_name}/{self.disk_id}"

    @property
    def size_gb(self) -> int:
        return whole_gib(self.capacity_bytes)


class VMNic(TimeStampedModel):
    vm_context = models.ForeignKey(VMContext, on_delete=models.CASCADE, related_name="nics")
    label = models.CharField(max_length=255)
    network_name = models.CharField(max_length=255, blank=True)
    mac_address = models.CharField(max_length=32, blank=True)
    adapter_type = models.CharField(max_length=64, blank=True)
    ip_addresses = models.JSONField(default=list, blank=True,
                                    help_text="The guest's addresses on this NIC (VMware Tools' guest.net)")

    class Meta:
        db_table = "vm_nics"
        ordering = ["vm_context", "label"]

    def __str__(self) -> str:
        return f"{self.vm_context.vm_name}/{self.label}"

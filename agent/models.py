"""Request and response models of the agent API (seed 002, extended where the flows need more)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
_JOB_ID_RE = re.compile(JOB_ID_PATTERN)


def valid_job_id(job_id: str) -> bool:
    return bool(_JOB_ID_RE.match(job_id))


class _Strict(BaseModel):
    # Unknown fields are refused: a misspelt "filtr" must not silently discover every VM.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class VCenterCredentials(_Strict):
    """vCenter to talk to. Username/password may be omitted to use the agent's configured account."""

    vcenter: str | None = Field(default=None, min_length=1, max_length=512)
    username: str | None = Field(default=None, min_length=1, max_length=256)
    password: SecretStr | None = None
    thumbprint: str | None = Field(default=None, max_length=200)
    datacenter: str | None = Field(default=None, max_length=256)


class DiscoverRequest(VCenterCredentials):
    filter: str | None = Field(default=None, max_length=256)


class TargetSpec(_Strict):
    """Where a disk is written: an NBD URI, or host/port/export name of the control plane's export."""

    nbd_uri: str | None = Field(default=None, max_length=1024)
    host: str | None = Field(default=None, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    export_name: str | None = Field(default=None, max_length=255)

    @model_validator(mode="after")
    def _one_form(self) -> TargetSpec:
        if self.nbd_uri:
            if not self.nbd_uri.startswith(("nbd://", "nbd+unix://", "nbds://")):
                raise ValueError("nbd_uri must be an nbd://, nbds:// or nbd+unix:// URI")
        elif not (self.host and self.port):
            raise ValueError("target needs nbd_uri, or host and port (and export_name)")
        return self

    def uri(self) -> str:
        if self.nbd_uri:
            return self.nbd_uri
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"nbd://{host}:{self.port}/{self.export_name or ''}"


class DiskTarget(_Strict):
    disk_id: str | None = Field(default=None, max_length=128)
    unit_number: int | None = Field(default=None, ge=0, le=1024)
    target: TargetSpec

    @field_validator("disk_id", mode="before")
    @classmethod
    def _key_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _named(self) -> DiskTarget:
        if self.disk_id is None and self.unit_number is None:
            raise ValueError("each disk needs disk_id or unit_number")
        return self


class VmRef(_Strict):
    path: str | None = Field(default=None, max_length=2048)
    id: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _named(self) -> VmRef:
        if not (self.path or self.id):
            raise ValueError("vm needs path or id")
        return self



def _vm_ref(vm: VmRef | str | None, path: str | None) -> VmRef:
    """The VM a request names: a VmRef as given, a string as a moref id ("vm-123", no slash) or an inventory path,
    else the request's path field."""
    if isinstance(vm, VmRef):
        return vm
    if isinstance(vm, str):
        text = vm.strip()
        return VmRef(id=text) if "/" not in text else VmRef(path=text)
    return VmRef(path=path)

class ReplicateRequest(VCenterCredentials):
    job_id: str = Field(pattern=JOB_ID_PATTERN)
    vm_paths: list[str] | None = None
    vm: VmRef | str | None = None
    replication_type: Literal["initial", "incremental"] = "incremental"
    # Seed 002's body names no disks: the agent then writes the VM's one disk to the NBD export of its runtime
    # configuration (PUT /api/v1/config), as that seed's control plane set it up before asking.
    disks: list[DiskTarget] = Field(default_factory=list, max_length=64)
    oma_url: str | None = Field(default=None, max_length=1024)
    power_off_source: bool = False
    # Bytes per second per disk copy, for copies over shared links; None uses the agent's configured cap.
    bandwidth_limit: int | None = Field(default=None, ge=1_000_000)

    @model_validator(mode="after")
    def _one_vm(self) -> ReplicateRequest:
        paths = [p for p in (self.vm_paths or []) if p]
        if self.vm is None and not paths:
            raise ValueError("name the VM with vm (path or id) or vm_paths")
        if len(paths) > 1:
            raise ValueError("one VM per replication job: vm_paths must hold a single path")
        if self.oma_url and not self.oma_url.startswith(("http://", "https://")):
            raise ValueError("oma_url must be an http(s) URL")
        names = [d.disk_id or f"disk-{d.unit_number}" for d in self.disks]
        if len(set(names)) != len(names):
            raise ValueError("each disk may be listed once")
        return self

    def vm_ref(self) -> VmRef:
        return _vm_ref(self.vm, (self.vm_paths or [""])[0])


class ReplicateResponse(BaseModel):
    job_id: str
    status: str
    vm_count: int
    started_at: str


class CleanupRequest(VCenterCredentials):
    job_id: str = Field(pattern=JOB_ID_PATTERN)
    action: Literal["delete_snapshot", "cleanup_all"]
    vm: str | None = Field(default=None, max_length=2048)


class SourceVmRequest(VCenterCredentials):
    """Names one source VM for a power change: by vm (path or moref id) or vm_path."""

    vm: VmRef | str | None = None
    vm_path: str | None = Field(default=None, max_length=2048)

    @model_validator(mode="after")
    def _named(self) -> SourceVmRequest:
        if self.vm is None and not self.vm_path:
            raise ValueError("name the VM with vm (path or id) or vm_path")
        return self

    def vm_ref(self) -> VmRef:
        return _vm_ref(self.vm, self.vm_path)


class PowerOffRequest(SourceVmRequest):
    """Shut the source VM down for a live failover: guest shutdown, hard power-off after the timeout."""

    timeout_seconds: float | None = Field(default=None, ge=0, le=3600)


class PowerOnRequest(SourceVmRequest):
    """Power the source VM on again: a failed live failover's rollback undoes its power-off."""


class ConfigUpdate(_Strict):
    nbd_port: int | None = Field(default=None, ge=1, le=65535)
    export_name: str | None = Field(default=None, max_length=255)
    target_device: str | None = Field(default=None, max_length=255)

    @model_validator(mode="after")
    def _something(self) -> ConfigUpdate:
        if self.nbd_port is None and self.export_name is None and self.target_device is None:
            raise ValueError("nothing to update: give nbd_port, export_name or target_device")
        return self

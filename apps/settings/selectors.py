"""Reads that reach outside: test a CloudStack configuration, test VMware credentials through the agent."""
from __future__ import annotations

from dataclasses import dataclass

from apps.core.exceptions import InvalidInput
from apps.core.registry import Health
from apps.enrollment.agent_client import AgentClient, VCenterLogin

from . import cloudstack_service, services
from .models import OsseaConfig, VMwareCredential


def default_credential() -> VMwareCredential | None:
    return VMwareCredential.objects.filter(is_default=True).first()


def vcenter_login(credential: VMwareCredential, *, datacenter: str = "") -> VCenterLogin:
    """The agent's vCenter login from stored credentials; `datacenter` stands in when the credentials name none."""
    return VCenterLogin(vcenter=credential.vcenter_host, username=credential.username, password=credential.password,
                        datacenter=credential.datacenter or datacenter)


def ossea_test_connection(payload: dict) -> dict:
    """The `test` action: a configuration given inline, or a stored one by id. Answers the connection details."""
    if "id" in payload and "configuration" not in payload:
        config = services.ossea_config_get(payload["id"])
        params = {"api_url": config.api_url, "api_key": config.api_key, "secret_key": config.secret_key,
                  "zone": config.zone}
    else:
        cfg = payload.get("configuration")
        if not isinstance(cfg, dict):
            raise InvalidInput("Invalid request: configuration: This field is required for action 'test'.")
        missing = [k for k in ("api_url", "api_key", "secret_key") if not cfg.get(k)]
        if missing:
            raise InvalidInput("Invalid request: " + "; ".join(f"configuration.{k}: This field is required." for k in missing))
        params = {k: cfg.get(k) for k in ("api_url", "api_key", "secret_key", "zone")}
    return cloudstack_service.connection_details(**params)


@dataclass(frozen=True)
class CredentialCheck:
    """VMware credentials the agent logged in with, and how many VMs it saw."""

    credential: VMwareCredential
    vm_count: int


def credential_test(*, credential: VMwareCredential) -> CredentialCheck:
    answer = AgentClient().discover(login=vcenter_login(credential), filter="")
    services.credential_mark_used(credential=credential)
    return CredentialCheck(credential=credential, vm_count=len(answer.get("vms", [])))


def health() -> Health:
    """For `GET /api/v1/debug/health`: whether an active CloudStack configuration exists."""
    configured = OsseaConfig.objects.filter(is_active=True).exists()
    return Health(components={"ossea_client": "configured" if configured else "not_configured"})

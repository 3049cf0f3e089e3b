"""Reads that reach outside: test a CloudStack configuration, test VMware credentials through the agent."""
from __future__ import annotations

from dataclasses import dataclass

from apps.core.registry import Health
from apps.enrollment.agent_client import AgentClient, VCenterLogin, agent_endpoint

from . import cloudstack_service, services
from .models import OsseaConfig, VMwareCredential


def default_credential() -> VMwareCredential | None:
    return VMwareCredential.objects.filter(is_default=True).first()


def vcenter_login(credential: VMwareCredential, *, datacenter: str = "") -> VCenterLogin:
    """The agent's vCenter login from stored credentials; `datacenter` stands in when the credentials name none."""
    agent = agent_endpoint(credential.agent) if credential.agent_id else None
    return VCenterLogin(vcenter=credential.vcenter_host, username=credential.username, password=credential.password,
                        datacenter=credential.datacenter or datacenter, agent=agent)


def ossea_test_connection(*, config_id: int | None = None, configuration: dict | None = None,
                          any_url: bool) -> dict:
    """The `test` action: a validated configuration given inline (operators only: it names any URL), or a stored
    one by id. Answers the connection details."""
    if configuration is None:
        config = services.ossea_config_get(config_id)
        params = {"api_url": config.api_url, "api_key": config.api_key, "secret_key": config.secret_key,
                  "zone": config.zone}
    else:
        target = cloudstack_service.Target(configuration, any_url=any_url)
        params = {"api_url": target.api_url, "api_key": target.api_key, "secret_key": target.secret_key,
                  "zone": configuration.get("zone")}
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


def active_ossea_config() -> OsseaConfig | None:
    """The CloudStack the platform works with (the newest active configuration), None when none is set up."""
    return OsseaConfig.objects.filter(is_active=True).order_by("-id").first()

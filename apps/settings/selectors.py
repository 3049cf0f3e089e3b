"""Reads that reach outside: test a CloudStack configuration, test VMware credentials through the agent."""
from __future__ import annotations

from dataclasses import dataclass

from apps.core.exceptions import InvalidInput

from . import services
from .models import VMwareCredential


def ossea_test_connection(payload: dict) -> dict:
    """The `test` action: a configuration given inline, or a stored one by id. Answers the connection details."""
    from . import cloudstack_service

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
    from apps.inventory.agent_client import AgentClient

    answer = AgentClient().discover(vcenter=credential.vcenter_host, username=credential.username,
                                    password=credential.password, datacenter=credential.datacenter,
                                    filter="")
    services.credential_mark_used(credential=credential)
    return CredentialCheck(credential=credential, vm_count=len(answer.get("vms", [])))

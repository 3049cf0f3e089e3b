"""The CloudStack client's tenancy and cloud operations: domains, accounts, projects, hosts, security groups,
resource limits, and the writes the operations portal makes (networks, service offerings, security groups).

A mixin of `CloudStackClient` on the same transport. Lists are paged (`list_all`) and ask for every owner's
records (`listall`), which needs the root admin's keys.
"""

from __future__ import annotations

from .errors import CloudStackAPIError
from .transport import CloudStackTransport


class _Lister:
    """A client method that returns every page of one list command, asked with these parameters. The class puts a
    plain function in its place under the attribute's name (as `cached_property` learns its name), so tracebacks
    and profiles name each list method."""

    def __init__(self, command: str, **params):
        self.command, self.params = command, params

    def __set_name__(self, owner: type, name: str) -> None:
        command, params = self.command, self.params

        def method(self: CloudStackTransport) -> list[dict]:
            return self.list_all(command, **params)

        method.__name__, method.__qualname__ = name, f"{owner.__qualname__}.{name}"
        setattr(owner, name, method)


class TenancyOperations(CloudStackTransport):
    def list_everywhere(self, command: str, **params) -> list[dict]:
        """A list command over the caller's resources and every project's: CloudStack lists a project's resources
        only when asked with projectid=-1 (ListProjectResourcesCriteria); a cloud that refuses -1 has no projects."""
        seen: dict[str, dict] = {}
        for item in self.list_all(command, listall=True, **params):
            seen[item["id"]] = item
        try:
            for item in self.list_all(command, listall=True, projectid=-1, **params):
                seen.setdefault(item["id"], item)
        except CloudStackAPIError:
            pass
        return list(seen.values())

    list_domains = _Lister("listDomains", listall=True)
    list_accounts = _Lister("listAccounts", listall=True)
    list_projects = _Lister("listProjects", listall=True)
    list_hosts = _Lister("listHosts", type="Routing")
    list_security_groups = _Lister("listSecurityGroups", listall=True)
    list_all_volumes = _Lister("listVolumes", listall=True)
    list_all_snapshots = _Lister("listSnapshots", listall=True)
    list_public_ip_addresses = _Lister("listPublicIpAddresses", listall=True)

    def list_resource_limits(self, *, account: str | None = None, domain_id: str | None = None,
                             project_id: str | None = None) -> list[dict]:
        return self.list_all("listResourceLimits", account=account, domainid=domain_id, projectid=project_id)

    # -- the portal's writes ------------------------------------------------------------------

    def create_network(self, *, name: str, zone_id: str, display_text: str | None = None,
                       network_offering_id: str | None = None) -> dict:
        return self.call("createNetwork", name=name, displaytext=display_text or name, zoneid=zone_id,
                         networkofferingid=network_offering_id)["network"]

    def delete_network(self, network_id: str) -> None:
        self.run_job("deleteNetwork", None, id=network_id)

    def create_service_offering(self, *, name: str, display_text: str, cpu_number: int, cpu_speed: int,
                                memory_mb: int) -> dict:
        return self.call("createServiceOffering", name=name, displaytext=display_text, cpunumber=cpu_number,
                         cpuspeed=cpu_speed, memory=memory_mb)["serviceoffering"]

    def delete_service_offering(self, offering_id: str) -> None:
        self.call("deleteServiceOffering", id=offering_id)

    def change_service_offering(self, vm_id: str, offering_id: str) -> dict:
        """A stopped VM's offering (CloudStack refuses a running VM's)."""
        return self.call("changeServiceForVirtualMachine", id=vm_id, serviceofferingid=offering_id)["virtualmachine"]

    def create_security_group(self, *, name: str, description: str = "", project_id: str | None = None) -> dict:
        return self.call("createSecurityGroup", name=name, description=description,
                         projectid=project_id)["securitygroup"]

    def delete_security_group(self, group_id: str) -> None:
        self.call("deleteSecurityGroup", id=group_id)

    def authorize_ingress(self, *, group_id: str, protocol: str, start_port: int | None, end_port: int | None,
                          cidr: str) -> dict:
        return self.run_job("authorizeSecurityGroupIngress", "securitygroup", securitygroupid=group_id,
                            protocol=protocol, startport=start_port, endport=end_port, cidrlist=cidr)

    def revoke_ingress(self, rule_id: str) -> None:
        self.run_job("revokeSecurityGroupIngress", None, id=rule_id)

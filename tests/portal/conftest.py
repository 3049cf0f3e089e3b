"""A CloudStack (the emulator) with several tenants, and the portal's collection of it."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from apps.settings.volumes import client_for


@dataclass
class Cloud:
    """What the test world made in CloudStack, by name."""

    client: object
    zone_id: str
    domains: dict = field(default_factory=dict)
    accounts: dict = field(default_factory=dict)
    projects: dict = field(default_factory=dict)
    vms: dict = field(default_factory=dict)
    volumes: dict = field(default_factory=dict)
    networks: dict = field(default_factory=dict)
    offerings: dict = field(default_factory=dict)

    def deploy(self, name: str, *, owner: dict, offering: str = "Small Instance", start: bool = True) -> dict:
        template = self.client.list_templates()[0]
        vm = self.client.run_job("deployVirtualMachine", "virtualmachine", zoneid=self.zone_id,
                                 serviceofferingid=self.offerings[offering]["id"], templateid=template["id"],
                                 name=name, startvm=start, **owner)
        self.vms[name] = vm
        return vm

    def volume(self, name: str, *, owner: dict, size_gb: int = 5) -> dict:
        offering = self.client.custom_disk_offering()
        volume = self.client.run_job("createVolume", "volume", name=name, zoneid=self.zone_id,
                                     diskofferingid=offering["id"], size=size_gb, **owner)
        self.volumes[name] = volume
        return volume


@pytest.fixture
def cloud(cs_config) -> Cloud:
    """Two domains, three accounts and a project; VMs, volumes, a network, a security group and a snapshot."""
    client = client_for(cs_config)
    world = Cloud(client=client, zone_id=client.find_zone("OSSEA-Zone")["id"])
    world.offerings = {o["name"]: o for o in client.list_service_offerings()}
    world.domains["ROOT"] = client.list_domains()[0]
    world.domains["Finance"] = client.call("createDomain", name="Finance")["domain"]
    for name, domain in (("acme", "ROOT"), ("globex", "ROOT"), ("ledger", "Finance")):
        world.accounts[name] = client.call("createAccount", username=name, account=name, password="x-Pass-123",
                                           email=f"{name}@example.com", firstname=name, lastname="Ops",
                                           accounttype=0, domainid=world.domains[domain]["id"])["account"]
    world.projects["payroll"] = client.run_job("createProject", "project", name="payroll",
                                               domainid=world.domains["Finance"]["id"], account="ledger")

    def of(account: str) -> dict:
        return {"account": account, "domainid": world.accounts[account]["domainid"]}

    world.deploy("acme-web-1", owner=of("acme"))
    world.deploy("acme-web-2", owner=of("acme"), offering="Medium Instance")
    world.deploy("acme-db-1", owner=of("acme"), start=False)
    world.deploy("globex-app-1", owner=of("globex"), offering="Large Instance")
    world.deploy("payroll-1", owner={"projectid": world.projects["payroll"]["id"]})
    world.volume("acme-data-1", owner=of("acme"), size_gb=10)
    world.volume("globex-data-1", owner=of("globex"), size_gb=20)
    world.volume("payroll-data-1", owner={"projectid": world.projects["payroll"]["id"]}, size_gb=3)
    world.networks["acme-net"] = client.create_network(name="acme-net", zone_id=world.zone_id)
    client.call("createSecurityGroup", name="web", description="HTTP and HTTPS", **of("acme"))
    root = next(v for v in client.list_all_volumes() if v.get("vmname") == "acme-web-1" and v["type"] == "ROOT")
    client.create_snapshot(root["id"], name="acme-web-1-daily")
    return world


@pytest.fixture
def collected(cloud):
    from apps.portal import collector

    run = collector.collect()
    assert run.status == "succeeded", run.error
    return cloud

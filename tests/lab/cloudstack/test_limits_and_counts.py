"""listAccounts and listProjects carry CloudStack's limit/total/available fields (ResourceLimitAndCountResponse):
limits and available as strings ("Unlimited" for -1 and for the root admin), primary storage in whole GiB from
the owner's volumes, snapshots counted on secondary storage; updateResourceLimit changes what they show."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_accounts_and_projects_show_their_storage_limits_and_use(api, world):
    root = next(d for d in api.listDomains()["domain"] if d["name"] == "ROOT")
    api.createAccount(username="acme", account="acme", password="x-Pass-123", email="a@example.com",
                      firstname="a", lastname="b", accounttype=0, domainid=root["id"])
    project = api.createProject(name="payroll", domainid=root["id"], account="acme")["project"]
    for owner, size in (({"account": "acme", "domainid": root["id"]}, 10), ({"projectid": project["id"]}, 3)):
        api.createVolume(name=f"v{size}", zoneid=world.zone["id"], diskofferingid=world.custom_disk["id"], size=size,
                         **owner)

    [acme] = api.listAccounts(name="acme", domainid=root["id"])["account"]
    assert (acme["primarystoragelimit"], acme["primarystoragetotal"], acme["primarystorageavailable"]) == \
        ("200", 10, "190")
    assert (acme["volumelimit"], acme["volumetotal"], acme["volumeavailable"]) == ("20", 1, "19")
    assert (acme["secondarystoragelimit"], acme["snapshottotal"]) == ("400", 0)
    [admin] = api.listAccounts(name="admin")["account"]
    assert admin["primarystoragelimit"] == "Unlimited" and admin["primarystorageavailable"] == "Unlimited"

    api.updateResourceLimit(resourcetype=10, max=12, projectid=project["id"])
    [shown] = api.listProjects(id=project["id"])["project"]
    assert (shown["primarystoragelimit"], shown["primarystoragetotal"], shown["primarystorageavailable"]) == \
        ("12", 3, "9")
    assert shown["volumetotal"] == 1

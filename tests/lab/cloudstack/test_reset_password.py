"""resetPasswordForVirtualMachine as UserVmManagerImpl.resetVMPassword answers: the template must be password
enabled (updateTemplate passwordenabled), the VM Stopped; the job's VM carries the new password."""

from __future__ import annotations

import pytest
from cs import CloudStackApiException

pytestmark = pytest.mark.integration


def test_reset_password_needs_a_password_enabled_template_and_a_stopped_vm(api):
    [vm] = api.listVirtualMachines(name="web-01")["virtualmachine"]
    with pytest.raises(CloudStackApiException) as info:
        api.resetPasswordForVirtualMachine(id=vm["id"])
    assert info.value.error["errortext"] == \
        "Fail to reset password for the virtual machine, the template is not password enabled"

    template = api.updateTemplate(id=vm["templateid"], passwordenabled="true")["template"]
    assert template["passwordenabled"] is True
    with pytest.raises(CloudStackApiException) as info:
        api.resetPasswordForVirtualMachine(id=vm["id"])
    assert info.value.error["errortext"] == "Vm web-01 should be stopped to do password reset"

    api.stopVirtualMachine(id=vm["id"])
    generated = api.resetPasswordForVirtualMachine(id=vm["id"])["virtualmachine"]["password"]
    chosen = api.resetPasswordForVirtualMachine(id=vm["id"], password="Chosen-1")["virtualmachine"]["password"]
    assert len(generated) >= 8 and chosen == "Chosen-1"
    [listed] = api.listVirtualMachines(id=vm["id"])["virtualmachine"]
    assert "password" not in listed  # CloudStack shows it only in the reset's answer

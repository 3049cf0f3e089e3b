"""Deploy an emulator VM the way the platform would, with the lab guest copied raw onto its volumes."""

from __future__ import annotations

from pathlib import Path

from lab.guest.reach import copy_onto_volumes


def deploy_guest(api, world, lab, root_image: Path, *, data_image: Path | None = None,
                 name: str = "guest", **details) -> dict:
    """Deploy a stopped VM with `details`, copy the images onto its volumes raw, start it.

    `boottype` (and `bootmode`, LEGACY unless given) go as deploy parameters, everything else as details[0].<key>.
    """
    params = {"name": name, "zoneid": world.zone["id"], "serviceofferingid": world.small_service["id"],
              "templateid": world.template["id"], "networkids": world.networks[1]["id"],
              "startvm": False}
    if "boottype" in details:
        params["boottype"] = details.pop("boottype")
        # CloudStack refuses UEFI without a mode; the lab guest is not signed for secure boot.
        params["bootmode"] = details.pop("bootmode", "LEGACY")
    if data_image is not None:
        params["diskofferingid"] = world.fixed_disk["id"]
    for index, (key, value) in enumerate(details.items()):
        params[f"details[{index}].{key}"] = value
    vm = api.deployVirtualMachine(**params)["virtualmachine"]
    copy_onto_volumes(api, lab, vm["id"], root_image, data_image)
    return api.startVirtualMachine(id=vm["id"])["virtualmachine"]

"""Accounts and global settings: what the caller may do (listCapabilities) and the settings an admin changes.

Two accounts exist: the root admin (the key the emulator always printed) and a plain user. The user key is held to
CloudStack's rules that matter for teardown: `destroyVirtualMachine expunge=true` needs
`allow.user.expunge.recover.vm` (default false), a forced stop needs `allow.user.force.stop.vm` (default true).
"""

from __future__ import annotations

from lab.cloudstack.errors import UNAUTHORIZED, UNKNOWN_COMMAND_TEXT, ApiError, invalid
from lab.cloudstack.registry import Params, command, list_response
from lab.cloudstack.state import ADMIN, CONFIG_DEFAULTS, LabState

# ApiErrorCode.ACCOUNT_ERROR: what a PermissionDeniedException answers with.
ACCOUNT_ERROR = 531
EXPUNGE_DENIED = "Account does not have permission for expunging."
FORCE_STOP_DENIED = "Account does not have the permission to force stop the vm."


def may_expunge(lab: LabState) -> bool:
    return lab.caller == ADMIN or lab.setting("allow.user.expunge.recover.vm")


def may_force_stop(lab: LabState) -> bool:
    return lab.caller == ADMIN or lab.setting("allow.user.force.stop.vm")


def denied(text: str) -> ApiError:
    return ApiError(ACCOUNT_ERROR, text, 4365)  # cserrorcode of PermissionDeniedException


def admin_only(lab: LabState) -> None:
    # A role without the command answers as if it did not exist (the API checker's answer).
    if lab.caller != ADMIN:
        raise ApiError(UNAUTHORIZED, UNKNOWN_COMMAND_TEXT)


@command("listCapabilities")
def list_capabilities(lab: LabState, p: Params) -> dict:
    admin = lab.caller == ADMIN
    return {"capability": {
        "cloudstackversion": lab.options.cloudstack_version, "apilimitinterval": 1, "apilimitmax": 0,
        "allowuserexpungerecovervm": may_expunge(lab), "allowuserforcestopvm": may_force_stop(lab),
        "allowuserviewdestroyedvm": admin, "allowusercreateprojects": True,
        "customdiskofferingminsize": 1, "customdiskofferingmaxsize": 1024,
    }}


@command("listConfigurations")
def list_configurations(lab: LabState, p: Params) -> dict:
    admin_only(lab)
    name = p.get("name")
    items = [{"name": key, "value": str(lab.data["config"].get(key, default)), "category": "Advanced",
              "scope": "account", "isdynamic": True}
             for key, default in CONFIG_DEFAULTS.items() if name in (None, key)]
    return list_response("configuration", items, p)


@command("updateConfiguration")
def update_configuration(lab: LabState, p: Params) -> dict:
    admin_only(lab)
    name = p.require("name")
    if name not in CONFIG_DEFAULTS:
        raise invalid(f"Configuration {name} does not exist")
    value = (p.get("value") or "").lower()
    if value not in ("true", "false"):
        raise invalid(f"Please enter either 'true' or 'false' for {name}")
    lab.data["config"][name] = value
    return {"configuration": {"name": name, "value": value, "category": "Advanced", "isdynamic": True}}

"""Writes for CloudStack configurations, VMware credentials, guest OS mappings and storage mappings."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.core.exceptions import InvalidInput, NotFound
from apps.core.utils import unique_or_conflict

from .models import GuestOsMapping, OsseaConfig, StorageMapping, VMwareCredential

OSSEA_FIELDS = ("name", "api_url", "api_key", "secret_key", "domain", "zone", "oma_vm_id", "is_active",
                "disk_offering_id", "service_offering_id", "network_id")
CREDENTIAL_FIELDS = ("name", "vcenter_host", "username", "password", "datacenter", "is_default", "agent")


def ossea_config_get(config_id) -> OsseaConfig:
    config = OsseaConfig.objects.filter(pk=config_id).first()
    if config is None:
        raise NotFound("Configuration not found", details=f"No OSSEA configuration found with ID: {config_id}")
    return config


def _save_unique(instance, *, what: str, **kwargs) -> None:
    with unique_or_conflict(f"{what} named '{instance.name}' already exists"):
        instance.save(**kwargs)


def ossea_config_create(*, data: dict) -> OsseaConfig:
    config = OsseaConfig(**{k: v for k, v in data.items() if k in OSSEA_FIELDS})
    _save_unique(config, what="A configuration")
    return config


def ossea_config_update(*, config: OsseaConfig, data: dict) -> OsseaConfig:
    changed = [k for k in OSSEA_FIELDS if k in data]
    for key in changed:
        setattr(config, key, data[key])
    if changed:
        _save_unique(config, what="A configuration", update_fields=[*changed, "updated_at"])
    return config


def ossea_config_delete(*, config: OsseaConfig) -> None:
    config.delete()


def active_ossea_config(config_id=None) -> OsseaConfig | None:
    if config_id is not None:
        return ossea_config_get(config_id)
    return OsseaConfig.objects.filter(is_active=True).order_by("id").first()


@transaction.atomic
def _named_agent(data: dict) -> dict:
    """The API names a credential's agent by its appliance id (`agent_appliance_id`, resolved by the serializer)."""
    if "agent_appliance_id" in data:
        data = {**data, "agent": data["agent_appliance_id"]}
    return data


def credential_create(*, data: dict) -> VMwareCredential:
    data = _named_agent(data)
    credential = VMwareCredential(**{k: v for k, v in data.items() if k in CREDENTIAL_FIELDS})
    first = not VMwareCredential.objects.exists()
    if credential.is_default or first:
        # The first credentials become the default so discovery works without an extra step.
        VMwareCredential.objects.select_for_update().filter(is_default=True).update(is_default=False, default_slot=None)
        credential.is_default = True
    _save_unique(credential, what="Credentials")
    return credential


@transaction.atomic
def credential_update(*, credential: VMwareCredential, data: dict) -> VMwareCredential:
    data = _named_agent(data)
    changed = [k for k in CREDENTIAL_FIELDS if k in data]
    if data.get("is_default") and not credential.is_default:
        VMwareCredential.objects.select_for_update().filter(is_default=True).update(is_default=False, default_slot=None)
    for key in changed:
        setattr(credential, key, data[key])
    if changed:
        _save_unique(credential, what="Credentials", update_fields=[*changed, "updated_at"])
    return credential


@transaction.atomic
def credential_set_default(*, credential: VMwareCredential) -> VMwareCredential:
    VMwareCredential.objects.select_for_update().exclude(pk=credential.pk).filter(is_default=True).update(
        is_default=False, default_slot=None)
    credential.is_default = True
    credential.save(update_fields=["is_default", "updated_at"])
    return credential


def credential_delete(*, credential: VMwareCredential) -> None:
    credential.delete()


def credential_default() -> VMwareCredential:
    credential = VMwareCredential.objects.filter(is_default=True).first()
    if credential is None:
        raise NotFound("No default VMware credentials", details="Create credentials or set one as default")
    return credential


def credential_get(credential_id) -> VMwareCredential:
    credential = VMwareCredential.objects.filter(pk=credential_id).first()
    if credential is None:
        raise NotFound(f"VMware credentials {credential_id} not found")
    return credential


def credential_for_vcenter(vcenter_host: str) -> VMwareCredential:
    """The credentials for one vCenter, the default ones first when several name it."""
    credential = VMwareCredential.objects.filter(vcenter_host=vcenter_host).order_by("-is_default").first()
    if credential is None:
        raise NotFound(f"No VMware credentials for vCenter '{vcenter_host}'")
    return credential


def credential_mark_used(*, credential: VMwareCredential) -> None:
    VMwareCredential.objects.filter(pk=credential.pk).update(last_used_at=timezone.now())


def guest_os_mapping_save(*, mapping: GuestOsMapping, data: dict) -> GuestOsMapping:
    for key, value in data.items():
        setattr(mapping, key, value)
    if not (mapping.os_type_description or mapping.os_type_id):
        raise InvalidInput("A guest OS mapping needs os_type_description or os_type_id")
    with unique_or_conflict(f"VMware guest OS '{mapping.vmware_guest_id}' is already mapped"):
        mapping.save()
    return mapping


def storage_mapping_save(*, mapping: StorageMapping, data: dict) -> StorageMapping:
    """A datastore's or one VM disk's target in CloudStack: a disk offering, a storage pool, or both."""
    for key, value in data.items():
        setattr(mapping, key, value)
    if mapping.problem():
        raise InvalidInput(mapping.problem())
    source = f"datastore '{mapping.datastore}'" if mapping.datastore else f"disk {mapping.disk_id} of {mapping.vm_id}"
    with unique_or_conflict(f"The {source} is already mapped in this CloudStack configuration"):
        mapping.save()
    return mapping

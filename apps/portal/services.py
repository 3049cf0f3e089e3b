"""The portal's writes to CloudStack (the seed's /admin/... resources): flavors (service offerings), networks,
security groups and their rules. Each goes through our client, then lands in the collected tables at once with its
history row (`collector.record_write`). CloudStack refusing is the caller's 400 (create) or 409 (delete, e.g. a
network with VMs) naming CloudStack's reason; CloudStack down is 502, not configured 503.
"""
from __future__ import annotations

from apps.core.exceptions import Conflict, InvalidInput, NotFound, ServiceUnavailable
from apps.settings import cloudstack as cs
from apps.settings import cloudstack_service
from apps.settings import selectors as settings_selectors
from apps.settings.volumes import client_for

from . import collector, models


def _target() -> tuple[object, cs.CloudStackClient]:
    config = settings_selectors.active_ossea_config()
    if config is None:
        raise ServiceUnavailable("CloudStack is not configured (POST /api/v1/ossea/config)")
    return config, client_for(config)


def _call(func, *args, refused=InvalidInput, **kwargs):
    try:
        return func(*args, **kwargs)
    except cs.CloudStackNotFoundError as exc:
        raise NotFound(f"CloudStack has no such resource: {exc}") from exc
    except cs.CloudStackAPIError as exc:
        if 400 <= exc.errorcode < 500 and exc.errorcode != 401:
            raise refused(f"CloudStack refused it: {exc.errortext}") from exc
        raise cloudstack_service.map_cloudstack_error(exc) from exc
    except cs.CloudStackError as exc:
        raise cloudstack_service.map_cloudstack_error(exc) from exc


def _known(model, cloud_id: str, what: str):
    row = model.objects.filter(cloud_id=cloud_id).first()
    if row is None:
        raise NotFound(f"{what} {cloud_id} not found")
    return row


def flavor_create(*, name: str, vcpus: int, ram_mb: int, cpu_speed_mhz: int, description: str, user: str) -> dict:
    _, client = _target()
    offering = _call(client.create_service_offering, name=name, display_text=description or name, cpu_number=vcpus,
                     cpu_speed=cpu_speed_mhz, memory_mb=ram_mb)
    collector.record_write("flavor", obj=offering, user=user)
    return offering


def _delete(model, cloud_id: str, what: str, *, remove: str, resource_type: str, user: str) -> None:
    """Delete a collected resource in CloudStack with the client's `remove` method and record it; a refusal (still
    in use) is a 409."""
    _known(model, cloud_id, what)
    _, client = _target()
    _call(getattr(client, remove), cloud_id, refused=Conflict)
    collector.record_write(resource_type, deleted_id=cloud_id, user=user)


def flavor_delete(*, flavor_id: str, user: str) -> None:
    _delete(models.ServiceOffering, flavor_id, "Flavor", remove="delete_service_offering", resource_type="flavor",
            user=user)


def network_create(*, name: str, description: str, user: str) -> dict:
    config, client = _target()
    zone = _call(client.find_zone, config.zone)
    network = _call(client.create_network, name=name, display_text=description or name, zone_id=zone["id"])
    collector.record_write("network", obj=network, user=user)
    return network


def network_delete(*, network_id: str, user: str) -> None:
    _delete(models.Network, network_id, "Network", remove="delete_network", resource_type="network", user=user)


def security_group_create(*, name: str, description: str, project_id: str | None, user: str) -> dict:
    if project_id:
        _known(models.Project, project_id, "Project")
    _, client = _target()
    group = _call(client.create_security_group, name=name, description=description, project_id=project_id or None)
    collector.record_write("security_group", obj=group, user=user)
    return group


def security_group_delete(*, group_id: str, user: str) -> None:
    _delete(models.SecurityGroup, group_id, "Security group", remove="delete_security_group",
            resource_type="security_group", user=user)


def security_group_rule_create(*, group_id: str, protocol: str, port_min: int | None, port_max: int | None,
                               cidr: str, user: str) -> dict:
    """An ingress rule; the group as CloudStack answers it (with the new rule) is stored."""
    before = _known(models.SecurityGroup, group_id, "Security group")
    known = {r.get("ruleid") for r in before.rules}
    _, client = _target()
    group = _call(client.authorize_ingress, group_id=group_id, protocol=protocol, start_port=port_min,
                  end_port=port_max, cidr=cidr)
    collector.record_write("security_group", obj=group, user=user)
    return next(r for r in group.get("ingressrule", []) if r.get("ruleid") not in known)


def security_group_rule_delete(*, rule_id: str, user: str) -> None:
    group = next((g for g in models.SecurityGroup.objects.all() if any(r.get("ruleid") == rule_id for r in g.rules)),
                 None)
    if group is None:
        raise NotFound(f"Security group rule {rule_id} not found")
    _, client = _target()
    _call(client.revoke_ingress, rule_id, refused=Conflict)
    remaining = [r for r in group.raw.get("ingressrule", []) if r.get("ruleid") != rule_id]
    collector.record_write("security_group", obj={**group.raw, "ingressrule": remaining}, user=user)

"""The CloudStack settings flows (seed 000 "CloudStack (OSSEA) Settings", "OSSEA Config"), over the client.

CloudStack's own errors become API errors naming the cause: bad keys 400, an unknown zone 400, a URL that is not a
CloudStack API or a host that does not answer 502, CloudStack not configured 503.

These flows call a URL someone typed (issue #13, no SSRF): only operators may give one that is not a stored
configuration (403), its host must not resolve to loopback or link-local/metadata addresses unless the settings allow
them (400), each call is bounded by MP_CLOUDSTACK_SETUP_TIMEOUT without retries, and a remote body that is not a
CloudStack API answer is never repeated (the client says what went wrong in its own words).
"""
from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from apps.core.exceptions import Forbidden, InvalidInput, NotFound, ServiceUnavailable, UpstreamError

from . import cloudstack as cs
from .models import OsseaConfig


def map_cloudstack_error(exc: Exception) -> Exception:
    message = str(exc)
    if isinstance(exc, cs.CloudStackAddressRefusedError):
        return InvalidInput(message, error_code="OSSEA_ADDRESS_REFUSED")
    if isinstance(exc, cs.CloudStackAuthError):
        return InvalidInput(f"CloudStack refused the API key or secret key: {message}", error_code="OSSEA_AUTH_FAILED")
    if isinstance(exc, cs.CloudStackBadResponseError):
        return UpstreamError(f"The URL did not answer like a CloudStack API: {message}", error_code="OSSEA_BAD_RESPONSE")
    if isinstance(exc, cs.CloudStackUnreachableError):
        return UpstreamError(f"CloudStack is unreachable: {message}", error_code="OSSEA_UNREACHABLE")
    if isinstance(exc, cs.OmaVmDetectionError):
        return InvalidInput(message, error_code="OMA_VM_NOT_FOUND")
    if isinstance(exc, cs.CloudStackNotFoundError):
        return NotFound(f"CloudStack: {message}", error_code="OSSEA_NOT_FOUND")
    return UpstreamError(f"CloudStack API error: {message}", error_code="OSSEA_API_ERROR")


def check_address(api_url: str) -> None:
    """Refuse (400) an API URL whose host resolves to an address the settings do not let the platform call."""
    call(cs.check_api_address, api_url, allow_loopback=settings.MP_CLOUDSTACK_ALLOW_LOOPBACK,
         allow_link_local=settings.MP_CLOUDSTACK_ALLOW_LINK_LOCAL)


def setup_client(api_url: str, api_key: str, secret_key: str) -> cs.CloudStackClient:
    """A client for the setup flows: the address checked, each call bounded by the setup timeout, no retries."""
    check_address(api_url)
    return cs.CloudStackClient(api_url, api_key, secret_key, timeout=settings.MP_CLOUDSTACK_SETUP_TIMEOUT, retries=0)


class Target:
    """Connection parameters from the request (inline keys), a stored config (config_id), or the active config.

    ``any_url``: whether the caller may give inline keys, i.e. make the platform call a URL of their choosing
    (operators and admins); others may only name a stored configuration.
    """

    def __init__(self, data: dict | None, *, any_url: bool):
        data = data or {}
        self.config: OsseaConfig | None = None
        inline = {k: data.get(k) for k in ("api_url", "api_key", "secret_key")}
        if any(inline.values()):
            if not any_url:
                raise Forbidden("Only operators may test a CloudStack URL that is not a stored configuration: "
                                "give config_id instead", error_code="OSSEA_URL_NOT_ALLOWED")
            missing = [k for k, v in inline.items() if not v]
            if missing:
                raise InvalidInput("Invalid request: " + "; ".join(f"{k}: This field is required." for k in missing))
            self.api_url, self.api_key, self.secret_key = inline["api_url"], inline["api_key"], inline["secret_key"]
            self.zone = data.get("zone") or None
            self.oma_vm_id = data.get("oma_vm_id") or None
            return
        config_id = data.get("config_id") or data.get("id")
        if config_id:
            try:
                config = OsseaConfig.objects.filter(pk=int(config_id)).first()
            except (TypeError, ValueError):
                raise InvalidInput("config_id must be an integer")
            if config is None:
                raise NotFound("Configuration not found", details=f"No OSSEA configuration found with ID: {config_id}")
        else:
            config = OsseaConfig.objects.filter(is_active=True).order_by("id").first()
            if config is None:
                raise ServiceUnavailable("CloudStack is not configured: give api_url/api_key/secret_key or create "
                                         "a configuration first", error_code="OSSEA_NOT_CONFIGURED")
        self.config = config
        self.api_url, self.api_key, self.secret_key = config.api_url, config.api_key, config.secret_key
        self.zone = data.get("zone") or config.zone
        self.oma_vm_id = config.oma_vm_id or None

    def client(self) -> cs.CloudStackClient:
        return setup_client(self.api_url, self.api_key, self.secret_key)


def call(func, *args, **kwargs) -> Any:
    try:
        return func(*args, **kwargs)
    except cs.CloudStackError as exc:
        raise map_cloudstack_error(exc) from exc


def connection_details(*, api_url: str, api_key: str, secret_key: str, zone: str | None = None) -> dict:
    """``cloudstack.test_connection``'s details; a zone that was asked for must exist."""
    check_address(api_url)
    details = call(cs.test_connection, api_url, api_key, secret_key, zone=zone or None,
                   timeout=settings.MP_CLOUDSTACK_SETUP_TIMEOUT)
    if zone and not details.get("zone_verified"):
        raise InvalidInput(f"Zone '{zone}' not found in CloudStack ({details['zones_found']} zone(s) visible)",
                           details=details, error_code="ZONE_NOT_FOUND")
    return details


def _zone_id(client: cs.CloudStackClient, zone: str | None) -> str | None:
    if not zone:
        return None
    try:
        return client.find_zone(zone)["id"]
    except cs.CloudStackError as exc:
        if isinstance(exc, (cs.CloudStackAuthError, cs.CloudStackUnreachableError, cs.CloudStackBadResponseError)):
            raise map_cloudstack_error(exc) from exc
        raise InvalidInput(f"Zone '{zone}' not found in CloudStack", error_code="ZONE_NOT_FOUND") from exc


def networks(target: Target) -> list[dict]:
    """CloudStack's network records (of the target's zone, when it names one)."""
    client = target.client()
    zone_id = _zone_id(client, target.zone)
    return call(client.list_networks, zone_id=zone_id)


def service_offerings(target: Target) -> list[dict]:
    """CloudStack's service offering records."""
    return call(target.client().list_service_offerings)


def offering_fits(offering: dict, *, cpus: int | None = None, memory_mb: int | None = None) -> bool | None:
    """Whether a service offering can run a VM of that size (a customized one always can); None when no size."""
    if not (cpus or memory_mb):
        return None
    return bool(offering.get("iscustomized")) or ((not cpus or (offering.get("cpunumber") or 0) >= cpus)
                                                  and (not memory_mb or (offering.get("memory") or 0) >= memory_mb))


def detect_oma_vm(target: Target) -> dict:
    """CloudStack's record of the control-plane VM."""
    return call(cs.detect_oma_vm, target.client(), vm_id=target.oma_vm_id)


def discover_all(target: Target) -> dict:
    client = target.client()
    zone = target.zone if target.zone and _zone_id(client, target.zone) else None
    return call(client.discover_all, zone=zone, oma_vm_id=target.oma_vm_id)


def validate(target: Target) -> dict:
    """Check a configuration end to end; every check says what to fix."""
    checks: list[dict] = []

    def check(name: str, func):
        started = time.monotonic()
        try:
            message, ok, details = func()
        except cs.CloudStackError as exc:
            message, ok, details = str(map_cloudstack_error(exc)), False, None
        except (InvalidInput, NotFound) as exc:
            message, ok, details = exc.message, False, None
        checks.append({"check_name": name, "status": "pass" if ok else "fail", "message": message,
                       "execution_time_ms": round((time.monotonic() - started) * 1000, 1), "details": details})
        return ok

    failed = {"success": True, "valid": False, "checks": checks,
              "message": "Configuration has problems: see the failing checks"}
    try:
        client = target.client()  # a refused address is a 400, before any check runs
    except UpstreamError as exc:
        # A host that does not resolve is what this check is for: a failed check, not a failed request.
        checks.append({"check_name": "API access", "status": "fail", "message": exc.message,
                       "execution_time_ms": 0.0, "details": None})
        return failed
    if not check("API access", lambda: (f"{len(client.list_zones())} zone(s) visible", True, None)):
        return failed
    check("Zone", lambda: (f"zone '{target.zone}' exists", True, {"zone_id": _zone_id(client, target.zone)})
          if target.zone else ("no zone configured", False, None))
    check("Control-plane VM", lambda: ("found " + (vm := cs.detect_oma_vm(client, vm_id=target.oma_vm_id))["name"],
                                       True, {"oma_vm_id": vm["id"]}))
    check("Customized disk offering", lambda: (f"'{(o := client.custom_disk_offering())['name']}' can size replica "
                                               "volumes", True, {"disk_offering_id": o["id"]}))
    config = target.config
    if config is not None and config.service_offering_id:
        check("Service offering", lambda: ("exists", any(o["id"] == config.service_offering_id
                                                         for o in client.list_service_offerings()), None))
    if config is not None and config.network_id:
        check("Network", lambda: ("exists", any(n["id"] == config.network_id for n in client.list_networks()), None))
    valid = all(c["status"] == "pass" for c in checks)
    return {"success": True, "valid": valid, "checks": checks,
            "message": "Configuration is valid" if valid else "Configuration has problems: see the failing checks"}
